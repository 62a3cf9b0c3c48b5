/*
 * reproduce.c -- plan, train and tabulate the paper's experiments
 * (reproduce.h). The tables put our numbers beside the published ones and
 * say plainly what differs in our setting.
 */
#include "reproduce.h"
#include "benchmark.h"
#include "llama.h"
#include "published.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int has_data(const char *root, const char *task)
{
    const cl_task_def *d = cl_task_find(task);
    char p[2200];
    struct stat sb;
    const char *files[] = {"train.json", "test.json", "dev.json"};
    for (int i = 0; d && i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s/%s", root, d->dir, files[i]);
        if (stat(p, &sb) == 0)
            return 1;
    }
    return 0;
}

/* The tasks of order k; a task without data takes yelp's (or agnews's)
 * data, and the substitution is recorded in the store. */
static void set_order(cl_train_opts *t, int order)
{
    t->order = order;
    if (order == 0) {
        t->n_tasks = 4;
        for (int i = 0; i < 4; i++) {
            snprintf(t->task[i], sizeof t->task[i], "%s", cl_synth_bench_name(i));
            memcpy(t->source[i], t->task[i], sizeof t->source[i]);
        }
        return;
    }
    const char *const *names;
    cl_order_tasks(order, &names, &t->n_tasks);
    for (int i = 0; i < t->n_tasks; i++) {
        snprintf(t->task[i], sizeof t->task[i], "%s", names[i]);
        const char *src = names[i];
        if (!has_data(t->data_dir, src))
            src = has_data(t->data_dir, "yelp") ? "yelp" : "agnews";
        snprintf(t->source[i], sizeof t->source[i], "%s", src);
    }
}

static void add_run(cl_repro_opts *o, cl_method m, int order, double lambda)
{
    cl_repro_run *r = &o->runs[o->n_runs++];
    r->method = m;
    r->order = order;
    r->lambda = lambda;
    char lam[32] = "";
    if (!isnan(lambda))
        snprintf(lam, sizeof lam, "-lambda%g", lambda);
    char ord[16];
    snprintf(ord, sizeof ord, order ? "order%d" : "synthetic", order);
    snprintf(r->store, sizeof r->store, "%s/stores/%s-%s%s.h5", o->dir, cl_method_name(m), ord, lam);
    for (char *p = r->store + strlen(o->dir); *p; p++)
        if (*p == '+')
            *p = '_'; /* olora+nlora: keep file names plain */
}

int cl_repro_plan(cl_repro_opts *o, cl_error *err)
{
    o->n_runs = 0;
    char p[1200];
    snprintf(p, sizeof p, "%s/stores", o->dir);
    if ((mkdir(o->dir, 0777) != 0 && errno != EEXIST) || (mkdir(p, 0777) != 0 && errno != EEXIST))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    int syn = o->train.synthetic;
    if (o->quick) {
        cl_method m[] = {CL_M_INCLORA, CL_M_OLORA, CL_M_NLORA};
        for (int i = 0; i < 3; i++)
            add_run(o, m[i], syn ? 0 : 1, NAN);
        return CL_OK;
    }
    cl_method m[] = {CL_M_SEQLORA, CL_M_INCLORA, CL_M_OLORA, CL_M_NLORA};
    int orders = syn ? 1 : 6;
    for (int k = 1; k <= orders; k++)
        for (int i = 0; i < 4; i++)
            add_run(o, m[i], syn ? 0 : k, NAN);
    /* the lambda sweep of figure 1: N-LoRA on the first order */
    double sweep[] = {0.05, 0.1, 1.2, 4.0};
    for (int i = 0; i < 4; i++)
        add_run(o, CL_M_NLORA, syn ? 0 : 1, sweep[i]);
    return CL_OK;
}

/* 1: finished (every row of R evaluated), 0: resumable, -1: absent. */
static int store_state(const char *path)
{
    if (access(path, F_OK) != 0)
        return -1;
    cl_store *s;
    cl_error err;
    if (cl_store_open(path, &s, &err))
        return 0;
    int T = cl_store_n_tasks(s);
    int done = !isnan(cl_store_accuracy(s)[(size_t)(T - 1) * T]);
    cl_store_close(s, NULL);
    return done;
}

int cl_repro_train(const cl_repro_opts *o, cl_error *err)
{
    for (int i = 0; i < o->n_runs; i++) {
        const cl_repro_run *r = &o->runs[i];
        int st = store_state(r->store);
        if (o->progress)
            fprintf(stderr, "collide-reproduce: run %d/%d: %s %s%s\n", i + 1, o->n_runs,
                    cl_method_name(r->method), r->store,
                    st == 1 ? " (done, kept)" : st == 0 ? " (resuming)" : "");
        if (st == 1)
            continue;
        cl_train_summary sum;
        int rc;
        if (st == 0) {
            rc = cl_train_resume(r->store, o->progress, &sum, err);
        } else {
            cl_train_opts t = o->train;
            t.method = r->method;
            set_order(&t, r->order);
            if (!isnan(r->lambda))
                t.lambda_default = r->lambda;
            t.progress = o->progress;
            rc = cl_train_run(&t, r->store, &sum, err);
        }
        if (rc)
            return rc;
    }
    return CL_OK;
}

/* ------------------------------------------------------------ tables */

typedef struct row {
    const cl_repro_run *run;
    cl_summary s;
    char tasks[512];
    char subst[256];
    int T;
} row;

static int summarise(const cl_repro_run *r, const cl_threshold *th, cl_backend *be, row *out,
                     cl_error *err)
{
    memset(out, 0, sizeof *out);
    out->run = r;
    cl_store *s;
    int rc = cl_store_open(r->store, &s, err);
    if (rc)
        return rc;
    rc = cl_store_summary(s, NULL, th, be, &out->s, err);
    out->T = cl_store_n_tasks(s);
    for (int t = 0; t < out->T; t++) {
        size_t l = strlen(out->tasks);
        snprintf(out->tasks + l, sizeof out->tasks - l, "%s%s", t ? " " : "", cl_store_task_name(s, t));
        const char *d = cl_store_task_data(s, t);
        if (d[0]) {
            l = strlen(out->subst);
            snprintf(out->subst + l, sizeof out->subst - l, "%s%s<-%s", l ? ", " : "",
                     cl_store_task_name(s, t), d);
        }
    }
    cl_store_close(s, NULL);
    return rc;
}

static const char *pretty(cl_method m)
{
    static const char *n[] = {"SeqLoRA", "IncLoRA", "O-LoRA", "N-LoRA", "O-LoRA+N-LoRA"};
    return n[m];
}

/* AA of (method, order) among our default-lambda runs, or NAN. */
static double our_aa(const row *rows, int n, cl_method m, int order)
{
    for (int i = 0; i < n; i++)
        if (rows[i].run->method == m && rows[i].run->order == order && isnan(rows[i].run->lambda))
            return 100 * rows[i].s.forgetting.aa;
    return NAN;
}

static void cell(FILE *f, double v, int tex)
{
    if (isnan(v))
        fputs(tex ? " & --" : " | –", f);
    else
        fprintf(f, tex ? " & %.1f" : " | %.1f", v);
}

static double avg3(const double *v)
{
    double s = 0;
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (!isnan(v[i]))
            s += v[i], n++;
    return n == 3 ? s / 3 : NAN;
}

static void accuracy_table(FILE *f, const row *rows, int n, const cl_repro_opts *o, int tex)
{
    if (tex)
        fputs("\\begin{table}[t]\\centering\\small\n\\begin{tabular}{llrrrr|rrrr}\n\\hline\n"
              "Method & Model & O1 & O2 & O3 & Std avg & O4 & O5 & O6 & Large avg \\\\\n\\hline\n",
              f);
    else
        fputs("| Method | Model | O1 | O2 | O3 | Std avg | O4 | O5 | O6 | Large avg |\n"
              "|---|---|---|---|---|---|---|---|---|---|\n",
              f);
    for (int i = 0; i < cl_published_acc_count(); i++) {
        const cl_published_acc *p = cl_published_acc_at(i);
        fprintf(f, tex ? "%s (published) & %s" : "| %s (published) | %s", p->method, p->model);
        for (int k = 0; k < 6; k++) {
            cell(f, p->order[k], tex);
            if (k == 2 || k == 5)
                cell(f, avg3(p->order + (k - 2)), tex);
        }
        fputs(tex ? " \\\\\n" : " |\n", f);
    }
    if (tex)
        fputs("\\hline\n", f);
    char model[128];
    /* a synthetic run sits in the O1 column: say so in the row itself */
    snprintf(model, sizeof model, "%s",
             o->train.synthetic ? "collide base, synthetic tasks" : "collide base");
    for (int m = CL_M_SEQLORA; m <= CL_M_BOTH; m++) {
        double v[6];
        int any = 0;
        for (int k = 0; k < 6; k++) {
            v[k] = our_aa(rows, n, (cl_method)m, o->train.synthetic ? 0 : k + 1);
            if (o->train.synthetic && k > 0)
                v[k] = NAN;
            any |= !isnan(v[k]);
        }
        if (!any)
            continue;
        fprintf(f, tex ? "%s (collide) & %s" : "| **%s (collide)** | %s", pretty((cl_method)m),
                model);
        for (int k = 0; k < 6; k++) {
            cell(f, v[k], tex);
            if (k == 2 || k == 5)
                cell(f, avg3(v + (k - 2)), tex);
        }
        fputs(tex ? " \\\\\n" : " |\n", f);
    }
    if (tex)
        fputs("\\hline\n\\end{tabular}\n\\caption{Average accuracy after the last task (\\%). "
              "Published rows: T5-large and LLaMA-7B; collide rows: the setting listed below.}\n"
              "\\end{table}\n",
              f);
}

static void geometry_table(FILE *f, const row *rows, int n, const cl_threshold *th, int tex)
{
    char ths[48];
    cl_threshold_format(th, ths, sizeof ths);
    if (tex)
        fputs("\\begin{table}[t]\\centering\\small\n\\begin{tabular}{llrrrr}\n\\hline\n"
              "Method & Run & Collision rate & Orthogonality (OO) & Nuclear norm & Density \\\\\n"
              "\\hline\n",
              f);
    else
        fputs("| Method | Run | Collision rate (ACR) | Orthogonality (OO) | Nuclear norm (mean) | "
              "Density |\n|---|---|---|---|---|---|\n",
              f);
    for (int i = 0; i < cl_published_geom_count(); i++) {
        const cl_published_geom *p = cl_published_geom_at(i);
        fprintf(f, tex ? "%s (published) & T5-large & %.1f\\%% & %.2f & %.2f & -- \\\\\n"
                       : "| %s (published) | T5-large | %.1f%% | %.2f | %.2f | – |\n",
                p->method, 100 * p->collision_rate, p->orthogonality, p->nuclear_mean);
    }
    if (tex)
        fputs("\\hline\n", f);
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        char run[64];
        snprintf(run, sizeof run, r->run->order ? "order %d" : "synthetic", r->run->order);
        if (!isnan(r->run->lambda))
            snprintf(run + strlen(run), sizeof run - strlen(run), ", lambda %g", r->run->lambda);
        fprintf(f, tex ? "%s (collide) & %s & %.1f\\%% & %.4g & %.4g & %.1f\\%% \\\\\n"
                       : "| **%s (collide)** | %s | %.1f%% | %.4g | %.4g | %.1f%% |\n",
                pretty(r->run->method), run, 100 * r->s.acr_mean, r->s.oo_pair_mean,
                r->s.nuclear_mean, 100 * r->s.density_mean);
    }
    if (tex)
        fprintf(f, "\\hline\n\\end{tabular}\n\\caption{Collision rate at %s (mean over task "
                   "pairs of the per-module rate), O-LoRA's overlap OO summed over modules and "
                   "averaged over task pairs, mean nuclear norm per module and task.}\n"
                   "\\end{table}\n",
                ths);
}

static void differences(FILE *f, const row *rows, int n, const cl_repro_opts *o,
                        const cl_threshold *th, int tex)
{
    const cl_train_opts *t = &o->train;
    char ths[48];
    cl_threshold_format(th, ths, sizeof ths);
    const char *li = tex ? "\\item " : "- ";
    fputs(tex ? "\\paragraph{What differs in our setting.}\n\\begin{itemize}\n"
              : "\n## What differs in our setting\n\n",
          f);
    fprintf(f, "%sModel: the collide base in %s (a small LLaMA-architecture model pretrained "
               "from scratch on the benchmark's unlabeled training text), not T5-large (770M) "
               "or LLaMA-7B.\n",
            li, t->base_dir);
    fprintf(f, "%sData: %s; at most %d training examples per class (the paper: 1000) and %d "
               "test examples per task (the paper: the full test sets).\n",
            li, t->synthetic ? "the built-in synthetic benchmark" : t->data_dir, t->train_per_class,
            t->test_per_task);
    for (int i = 0; i < n; i++)
        if (rows[i].subst[0]) {
            fprintf(f, "%sSubstitutions (missing data in this copy of the benchmark): %s.\n", li,
                    rows[i].subst);
            break;
        }
    if (!t->synthetic)
        fprintf(f, "%sSplits: a missing test split is held out from train (yelp, IMDB, MultiRC), "
                   "a missing train split is carved from test (dbpedia), disjoint and seeded.\n",
                li);
    fprintf(f, "%sTraining: LoRA r=%d, alpha=%g on %s; %d epochs per task, batch %d, constant "
               "lr %g (the paper: 10 epochs for N-LoRA, 1 for O-LoRA, on GPUs); inputs cut to %d "
               "tokens.\n",
            li, t->rank, t->alpha,
            t->targets == ((1u << CL_PROJ_Q) | (1u << CL_PROJ_V)) ? "q and v" : "the --targets given",
            t->epochs, t->batch, t->lr, t->max_len);
    fprintf(f, "%sPenalties: the %s form (docs/METRICS.md); O-LoRA lambda1 = %g, N-LoRA lambda = "
               "%g unless a run says otherwise.\n",
            li, t->penalty_code ? "released code's" : "paper's", t->lambda_orth, t->lambda_default);
    fprintf(f, "%sCollision threshold: %s, resolved per task and module (the paper does not state "
               "its threshold).\n",
            li, ths);
    fprintf(f, "%sAccuracy: AA is the mean of the per-task accuracies after the last task "
               "(greedy generation, exact match of the normalised answer); the paper's long-order "
               "numbers weight tasks by test-set size.\n",
            li);
    if (tex)
        fputs("\\end{itemize}\n", f);
}

static int write_file(const char *path, const row *rows, int n, const cl_repro_opts *o,
                      const cl_threshold *th, int tex, cl_error *err)
{
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (rc)
        return rc;
    FILE *f = cl_atomic_fp(af);
    if (!tex)
        fputs("# The paper's tables beside collide's\n\n"
              "Published numbers are kept with their source (datasets/published.c); ours come from "
              "the stores listed at the end. Our setting is much smaller than the paper's: read "
              "the comparison as a check of direction, not of level.\n\n"
              "## Average accuracy after the last task (AA, %)\n\n",
              f);
    accuracy_table(f, rows, n, o, tex);
    if (!tex)
        fputs("\n## Collision, orthogonality and nuclear norm\n\n", f);
    geometry_table(f, rows, n, th, tex);
    differences(f, rows, n, o, th, tex);
    if (!tex) {
        fputs("\n## Stores\n\n", f);
        for (int i = 0; i < n; i++)
            fprintf(f, "- `%s`: %s; tasks %s; AA %.1f%%, BWT %.1f%%, F_max %.1f%%\n",
                    rows[i].run->store, cl_method_name(rows[i].run->method), rows[i].tasks,
                    100 * rows[i].s.forgetting.aa, 100 * rows[i].s.forgetting.bwt,
                    100 * rows[i].s.forgetting.forget_max);
    }
    return cl_atomic_commit(af, err);
}

int cl_repro_tables(const cl_repro_opts *o, const cl_threshold *th, cl_error *err)
{
    row *rows = calloc((size_t)o->n_runs, sizeof *rows);
    if (!rows)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_backend *be;
    int rc = cl_backend_open("auto", &be, err);
    int n = 0;
    for (int i = 0; i < o->n_runs && !rc; i++)
        if (store_state(o->runs[i].store) == 1)
            rc = summarise(&o->runs[i], th, be, &rows[n++], err);
    char p[1200];
    if (!rc) {
        snprintf(p, sizeof p, "%s/tables.md", o->dir);
        rc = write_file(p, rows, n, o, th, 0, err);
    }
    if (!rc) {
        snprintf(p, sizeof p, "%s/tables.tex", o->dir);
        rc = write_file(p, rows, n, o, th, 1, err);
    }
    cl_backend_close(be);
    free(rows);
    return rc;
}
