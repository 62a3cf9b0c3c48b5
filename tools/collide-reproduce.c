/* collide-reproduce -- the paper's experiments and tables, with ours beside. */
#include "benchmark.h"
#include "cli.h"
#include "families.h"
#include "layers.h"
#include "llama.h"
#include "plot.h"
#include "pretrain.h"
#include "reproduce.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-reproduce";



static const char *SUMMARY =
    "Run the paper's experiments with collide-train and write the paper's tables with our\n"
    "numbers beside the published ones (DIR/tables.md, DIR/tables.tex), the stores\n"
    "(DIR/stores/), a full report of each (DIR/report.txt) and the figures (DIR/figures/).";

static const char *DETAILS =
    "Running again continues: finished runs are kept, unfinished ones resumed task by task,\n"
    "and the tables, report and figures are written anew. A DIR that exists, is not empty\n"
    "and holds no stores/ folder (so not an earlier run's) is refused unless --force.";

enum { O_QUICK = 256, O_DATA, O_SYN, O_BASE, O_TPC, O_TPT, O_EPOCHS, O_LR, O_MAXLEN, O_TARGETS,
       O_TH, O_SWEEP_TPC };

static const cli_opt options[] = {
    {"quick", O_QUICK, NULL, 0,
     "the small experiment (the main job) on order 1 of the real\n"
     "data when found (yahoo's missing data replaced and recorded),\n"
     "the synthetic benchmark otherwise: inclora, olora and nlora at\n"
     "their defaults, and an N-LoRA lambda sweep at smaller caps. On\n"
     "the real data its caps are 150 examples a class, 2 epochs and\n"
     "inputs of 128 tokens (options given win). Without --quick:\n"
     "seqlora, inclora, olora and nlora on orders 1-6, and the sweep."},
    {"output", 'o', "DIR", 0, "where everything goes (required)"},
    {"data", O_DATA, "DIR", 0, "the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
                               "../shared/datasets/CL_Benchmark)"},
    {"synthetic", O_SYN, NULL, 0, "the synthetic benchmark even when real data is found"},
    {"base", O_BASE, "DIR", 0,
     "the base model (default: on the real data the committed\n"
     "model/base of the checkout collide was built from, whatever\n"
     "the working directory, else DIR/base; on the synthetic\n"
     "DIR/base-synthetic; pretrained on first use; stderr says which)"},
    {"train-per-class", O_TPC, "N", 0, "training examples a class (collide-train's default)"},
    {"test-per-task", O_TPT, "N", 0, "test examples a task (collide-train's default)"},
    {"epochs", O_EPOCHS, "N", 0, "epochs a task (collide-train's default)"},
    {"lr", O_LR, "X", 0, "learning rate (collide-train's default)"},
    {"max-len", O_MAXLEN, "N", 0, "tokens an example (collide-train's default)"},
    {"targets", O_TARGETS, "q,v", 0, "projections to adapt (collide-train's default)"},
    {"sweep-train-per-class", O_SWEEP_TPC, "N", 0,
     "the N-LoRA lambda sweep's cap (default 100 on the real data,\n"
     "with 100 test examples a task; 150 on the synthetic; at most\n"
     "the runs' own)"},
    {"threshold", O_TH, "M:V", 0,
     "scale-free threshold for the tables (default energy:0.99); an\n"
     "absolute one is derived from the IncLoRA run and shown beside"},
    {0}};

typedef struct args {
    cl_repro_opts o;
    const char *data, *base, *th_text, *out;
    int set_tpc, set_epochs, set_maxlen;
} args;

static void on_opt(void *ctx, int key, const char *arg)
{
    args *a = ctx;
    cl_repro_opts *o = &a->o;
    switch (key) {
    case 'o': a->out = arg; break;
    case O_QUICK: o->quick = 1; break;
    case O_DATA: a->data = arg; break;
    case O_SYN: o->train.synthetic = 1; break;
    case O_BASE: a->base = arg; break;
    case O_TPC:
        o->train.train_per_class = (int)cli_whole(PROG, "--train-per-class", arg, 1, 100000);
        a->set_tpc = 1;
        break;
    case O_TPT:
        o->train.test_per_task = (int)cli_whole(PROG, "--test-per-task", arg, 1, 1000000);
        break;
    case O_EPOCHS:
        o->train.epochs = (int)cli_whole(PROG, "--epochs", arg, 1, 1000);
        a->set_epochs = 1;
        break;
    case O_LR: {
        char *end;
        o->train.lr = strtod(arg, &end);
        if (end == arg || *end || !(o->train.lr > 0 && o->train.lr < 1))
            cli_usage_error(PROG, "--lr must be in (0, 1)", arg);
        break;
    }
    case O_MAXLEN:
        o->train.max_len = (int)cli_whole(PROG, "--max-len", arg, 16, 8192);
        a->set_maxlen = 1;
        break;
    case O_TARGETS: {
        char *copy = strdup(arg), *save = NULL;
        o->train.targets = 0;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            cl_proj p;
            if (cl_proj_parse(t, &p))
                cli_usage_error(PROG, "--targets: unknown projection", t);
            o->train.targets |= 1u << p;
        }
        free(copy);
        if (!o->train.targets)
            cli_usage_error(PROG, "--targets is empty", arg);
        break;
    }
    case O_TH: a->th_text = arg; break;
    case O_SWEEP_TPC:
        o->sweep_train_per_class = (int)cli_whole(PROG, "--sweep-train-per-class", arg, 1, 100000);
        break;
    }
}

/* DIR is ours when missing, empty, or an earlier run's (it has stores/). */
static int foreign_dir(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/stores", dir);
    if (access(p, F_OK) == 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n > 0;
}




/* The full text report of every finished store, into DIR/report.txt. */
static int write_report(const cl_repro_opts *o, cl_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/report.txt", o->dir);
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (rc)
        return rc;
    cli c;
    cli_init_defaults(&c, "collide-reproduce", cl_atomic_fp(af));
    for (int i = 0; i < o->n_runs && !rc; i++) {
        cl_store *s;
        if (access(o->runs[i].store, F_OK) != 0)
            continue;
        if ((rc = cl_store_open(o->runs[i].store, &s, err)))
            break;
        rc = fam_report(&c, s, err);
        cl_store_close(s, NULL);
    }
    c.format = CLI_TEXT;
    cli_finish(&c, 0);
    if (rc) {
        cl_atomic_abort(af);
        return rc;
    }
    return cl_atomic_commit(af, err);
}

/* Figures 1 to 5 of collide-plot into DIR/figures: forgetting against
 * density (every run, the sweep included) at the absolute threshold and at
 * th, two panels; the collision map and nuclear norms of the O-LoRA and
 * N-LoRA runs side by side; collision against orthogonality of every run;
 * the accuracy matrices (both protocols) of the three default runs. */
static int draw_figures(const cl_repro_opts *o, const cl_threshold *th, double abs_eps,
                        int *no_image, cl_error *err)
{
    char *stores[CL_REPRO_MAX_RUNS], *pair[2], *main3[CL_REPRO_MAX_RUNS];
    int n = 0, np = 0, n3 = 0;
    for (int i = 0; i < o->n_runs; i++) {
        if (cl_repro_store_state(o->runs[i].store) != 1)
            continue;
        stores[n++] = (char *)o->runs[i].store;
        if (!o->runs[i].sweep)
            main3[n3++] = (char *)o->runs[i].store;
        if ((o->runs[i].method == CL_M_OLORA || o->runs[i].method == CL_M_NLORA) && np < 2 &&
            !o->runs[i].sweep)
            pair[np++] = (char *)o->runs[i].store;
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/figures", o->dir);
    static const char *figs[] = {"forgetting-sparsity", "collision-map", "nuclear-norm",
                                 "collision-orthogonality", "accuracy-matrix", "explain"};
    enum { N_FIGS = sizeof figs / sizeof figs[0] };
    cl_threshold abs_th = {.mode = CL_TH_ABS, .value = abs_eps};
    *no_image = 0;
    for (int k = 0; k < N_FIGS; k++) {
        const char *why = NULL;
        int pairwise = k == 1 || k == 2;
        char **list = pairwise && np == 2 ? pair : k == 4 ? main3 : stores;
        int nl = pairwise && np == 2 ? 2 : k == 4 ? n3 : n;
        int rc = k == 0 && !isnan(abs_eps)
                     ? plot_draw2(figs[k], list, nl, dir, &abs_th, th, &why, err)
                     : plot_draw(figs[k], list, nl, dir, th, &why, err);
        if (rc)
            return rc;
        if (why) {
            *no_image = 1;
            fprintf(stderr, "collide-reproduce: %s: no image (%s); its data file is written\n",
                    figs[k], why);
        }
    }
    return CL_OK;
}

int main(int argc, char **argv)
{
    ck_blas_single_thread();
    cl_repro_opts o;
    memset(&o, 0, sizeof o);
    cl_train_defaults(&o.train);
    args A = {.o = o, .th_text = CL_THRESHOLD_DEFAULT};
    const cli_spec spec = {.name = PROG,
                           .synopsis = "[--quick] -o DIR [options]",
                           .summary = SUMMARY,
                           .details = DETAILS,
                           .opts = options,
                           .common = CLI_C_FORCE,
                           .formats = "the files written (table files)",
                           .min_args = 0,
                           .max_args = 0,
                           .exit_note = "3 everything written but the images\n"
                                        "(gnuplot missing: apt-get install gnuplot-nox)"};
    cli_args ca;
    cli_parse(&spec, argc, argv, on_opt, &A, &ca);
    o = A.o;
    const char *data = A.data, *base = A.base, *th_text = A.th_text, *out = A.out;
    int quiet = ca.quiet, set_tpc = A.set_tpc, set_epochs = A.set_epochs;
    int set_maxlen = A.set_maxlen;
    if (!out)
        cli_usage_error(PROG, "-o DIR is required", NULL);
    cl_threshold th;
    cl_error err;
    if (cl_threshold_parse(th_text, &th, &err))
        cli_usage_error(PROG, err.msg, NULL);
    if (foreign_dir(out) && !ca.force) {
        fprintf(stderr, "collide-reproduce: %s: exists, is not empty and holds no earlier run "
                        "(no stores/); refusing to write into it (--force does)\n", out);
        return 1;
    }
    snprintf(o.dir, sizeof o.dir, "%s", out);
    o.progress = ca.progress;
    /* real data when found, the synthetic benchmark otherwise */
    if (!o.train.synthetic &&
        cl_bench_find_root(data, o.train.data_dir, sizeof o.train.data_dir, &err) != CL_OK) {
        if (data) {
            fprintf(stderr, "collide-reproduce: %s\n", err.msg);
            return 1;
        }
        if (o.progress)
            fprintf(stderr, "collide-reproduce: no benchmark data found; using the synthetic "
                            "benchmark\n");
        o.train.synthetic = 1;
    }
    if (o.train.synthetic)
        o.train.data_dir[0] = 0;
    /* --quick on the real data: the caps that fit 15 minutes on 2 cores and
     * still learn every task of order 1 (docs/RESULTS.md); options given win */
    if (o.quick && !o.train.synthetic) {
        if (!set_tpc)
            o.train.train_per_class = 150;
        if (!set_epochs)
            o.train.epochs = 2;
        if (!set_maxlen)
            o.train.max_len = 128;
    }
    /* the sweep's smaller caps: 100 a class and 100 test examples on the real
     * data, 150 a class on the synthetic; never more than the runs' own */
    if (!o.sweep_train_per_class)
        o.sweep_train_per_class = o.train.synthetic ? 150 : 100;
    if (o.sweep_train_per_class > o.train.train_per_class)
        o.sweep_train_per_class = o.train.train_per_class;
    o.sweep_test_per_task = o.train.synthetic ? o.train.test_per_task : 100;
    if (o.sweep_test_per_task > o.train.test_per_task)
        o.sweep_test_per_task = o.train.test_per_task;
    int rc = cl_repro_plan(&o, &err);
    /* the base: the one given (pretrained into it when it holds none), or the
     * committed one wherever this is run from, or DIR/base(-synthetic);
     * stderr says which, and always when one is to be pretrained */
    if (!rc && base) {
        snprintf(o.train.base_dir, sizeof o.train.base_dir, "%s", base);
        char cfg[4200];
        snprintf(cfg, sizeof cfg, "%s/config.json", base);
        if (!cl_pretrain_is_done(base) && access(cfg, F_OK) != 0) {
            cl_pretrain_opts po;
            cl_pretrain_defaults(&po, o.train.synthetic);
            double min = cl_pretrain_minutes(o.train.synthetic);
            fprintf(stderr, "collide-reproduce: no base at --base %s: pretraining one there "
                            "first (%d steps, about %.*f minutes on 2 cores)\n",
                    base, po.max_steps, min < 10 ? 1 : 0, min);
            rc = cl_pretrain_ensure(o.train.base_dir, o.train.data_dir, o.train.synthetic,
                                    o.progress, &err);
        }
    } else if (!rc) {
        rc = cl_pretrain_default_base(PROG, o.dir, o.train.data_dir, o.train.synthetic, quiet,
                                      o.progress, o.train.base_dir, sizeof o.train.base_dir, &err);
    }
    if (!rc)
        rc = cl_repro_train(&o, &err);
    double abs_eps = NAN;
    if (!rc)
        rc = cl_repro_tables(&o, &th, &abs_eps, &err);
    if (!rc)
        rc = write_report(&o, &err);
    int no_image = 0;
    if (!rc)
        rc = draw_figures(&o, &th, abs_eps, &no_image, &err);
    if (rc) {
        fprintf(stderr, "collide-reproduce: %s\n", err.msg);
        return 1;
    }
    cli c;
    cli_init_defaults(&c, PROG, stdout);
    c.format = ca.format;
    c.primary = "files";
    static const char *cols[] = {"path", "what"};
    cli_table *t = cli_table_get(&c, "files", cols, 2);
    static const char *what[][2] = {{"tables.md", "the paper's tables, ours beside"},
                                    {"tables.tex", "the same, LaTeX"},
                                    {"claims.json", "each claim's verdict"},
                                    {"report.txt", "every metric of every store"},
                                    {"figures", "figures 1-5 and explain: PNG and CSV"},
                                    {"stores", "the stores"}};
    for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", o.dir, what[i][0]);
        cli_row_begin(t);
        cli_cell_s(t, p);
        cli_cell_s(t, what[i][1]);
    }
    if (cli_text(&c))
        printf("collide-reproduce: wrote\n  %s/tables.md and %s/tables.tex  (the paper's tables, ours beside)\n"
               "  %s/report.txt                  (every metric of every store)\n"
               "  %s/figures/                    (figures 1-5 and explain: PNG and CSV)\n"
               "  %s/stores/                     (%d stores)\n",
               o.dir, o.dir, o.dir, o.dir, o.dir, o.n_runs);
    int st = cli_finish(&c, CLI_EXIT_OK);
    if (st)
        return st;
    return no_image ? PLOT_EXIT_NO_IMAGE : 0;
}
