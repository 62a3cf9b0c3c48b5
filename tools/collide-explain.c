/* collide-explain -- does parameter collision predict forgetting? For every
 * ordered task pair of each store, the forgetting of the earlier task that
 * learning the later one caused, beside the pair's interference measures;
 * then each measure's correlation with forgetting, per store and over all
 * stores (docs/METRICS.md, section 8). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROG "collide-explain"

typedef struct xopts {
    int reps, perms;
    uint64_t seed;
} xopts;

enum { O_REPS = CLI_KEY_TOOL, O_PERMS, O_SEED };

static void on_extra(void *ctx, int key, const char *arg)
{
    xopts *o = ctx;
    if (key == O_REPS)
        o->reps = (int)cli_whole(PROG, "--reps", arg, 0, 1000000);
    else if (key == O_PERMS)
        o->perms = (int)cli_whole(PROG, "--perms", arg, 0, 1000000);
    else
        o->seed = (uint64_t)cli_whole(PROG, "--seed", arg, 0, 2147483647L);
}

/* The correlations asked of each measure. */
static const struct {
    int kind;
    const char *name;
} kinds[] = {{CL_CORR_SPEARMAN, "spearman"},
             {CL_CORR_PEARSON, "pearson"},
             {CL_CORR_PARTIAL_SPEARMAN, "partial_spearman"}};
enum { N_KINDS = 3 };

static const char *protocol_name(int ev) { return cl_eval_name((cl_eval)ev); }

/* Protocols with at least one pair's forgetting, the headline (ranked) first. */
static int protocols(const cl_explain *const *e, int n_e, int *out)
{
    static const int order[] = {CL_EVAL_RANKED, CL_EVAL_GENERATE};
    int n = 0;
    for (int k = 0; k < 2; k++) {
        int any = 0;
        for (int i = 0; i < n_e && !any; i++)
            for (int p = 0; p < e[i]->pairs && !any; p++)
                any = !isnan(e[i]->pair[p].forgetting[order[k]]);
        if (any)
            out[n++] = order[k];
    }
    return n;
}

static void measure_label(const cli *c, int k, int q, char *buf, size_t n)
{
    if (cl_explain_thresholded(k)) {
        char th[48];
        cl_threshold_format(&c->th[q], th, sizeof th);
        snprintf(buf, n, "%s %s", cl_explain_measure_name(k), th);
    } else {
        snprintf(buf, n, "%s", cl_explain_measure_name(k));
    }
}

static void pair_rows(cli *c, cl_store *s, const cl_explain *e)
{
    static const char *cols[] = {
        "store", "threshold", "task_i:i", "task_j:i", "name_i", "name_j",
        "forgetting_ranked:f", "forgetting_generation:f", "collision_rate:f", "jaccard:f",
        "overlap_energy:f", "cosine:f", "oo:f", "angle_sim:f", "rowspace_share:f", "norm_i:f",
        "norm_j:f", "cum_share_j:f"};
    cli_table *t = cli_table_get(c, "pairs", cols, 18);
    for (int q = 0; q < e->n_th; q++)
        for (int p = 0; p < e->pairs; p++) {
            const cl_explain_pair *x = &e->pair[p];
            cli_row_begin(t);
            cli_cell_s(t, cl_store_path(s));
            cli_cell_threshold(t, &e->th[q]);
            cli_cell_i(t, x->i);
            cli_cell_i(t, x->j);
            cli_cell_s(t, cl_store_task_name(s, x->i));
            cli_cell_s(t, cl_store_task_name(s, x->j));
            cli_cell_f(t, x->forgetting[CL_EVAL_RANKED]);
            cli_cell_f(t, x->forgetting[CL_EVAL_GENERATE]);
            cli_cell_f(t, x->collision[q]);
            cli_cell_f(t, x->jaccard[q]);
            cli_cell_f(t, x->m.overlap_energy);
            cli_cell_f(t, x->m.cosine);
            cli_cell_f(t, x->m.oo);
            cli_cell_f(t, x->m.angle_sim);
            cli_cell_f(t, x->m.rowspace_share);
            cli_cell_f(t, x->m.norm_i);
            cli_cell_f(t, x->m.norm_j);
            cli_cell_f(t, e->cum_share[x->b]);
        }
}

static void module_rows(cli *c, cl_store *s, const cl_explain *e)
{
    static const char *cols[] = {"store", "threshold", "module", "task_i:i", "task_j:i",
                                 "collision_rate:f", "jaccard:f", "overlap_energy:f", "cosine:f",
                                 "oo:f", "angle_sim:f", "rowspace_share:f", "norm_i:f",
                                 "norm_j:f"};
    cli_table *t = cli_table_get(c, "module_pairs", cols, 14);
    size_t P = (size_t)e->pairs, Q = (size_t)e->n_th;
    for (int q = 0; q < e->n_th; q++)
        for (int mi = 0; mi < e->modules; mi++)
            for (int p = 0; p < e->pairs; p++) {
                size_t mp = (size_t)mi * P + (size_t)p;
                const cl_pair_measures *m = &e->mod_m[mp];
                cli_row_begin(t);
                cli_cell_s(t, cl_store_path(s));
                cli_cell_threshold(t, &e->th[q]);
                cli_cell_s(t, cl_store_module_name(s, e->module[mi]));
                cli_cell_i(t, e->pair[p].i);
                cli_cell_i(t, e->pair[p].j);
                cli_cell_f(t, e->mod_collision[mp * Q + (size_t)q]);
                cli_cell_f(t, e->mod_jaccard[mp * Q + (size_t)q]);
                cli_cell_f(t, m->overlap_energy);
                cli_cell_f(t, m->cosine);
                cli_cell_f(t, m->oo);
                cli_cell_f(t, m->angle_sim);
                cli_cell_f(t, m->rowspace_share);
                cli_cell_f(t, m->norm_i);
                cli_cell_f(t, m->norm_j);
            }
}

/* Every measure against forgetting over the pairs of e[0..n_e), each
 * protocol: rows of "correlations" and, in text, the table and one
 * sentence per measure. */
static int correlate(cli *c, const xopts *o, const char *scope, const cl_explain *const *e,
                     int n_e, cl_error *err)
{
    static const char *cols[] = {"scope", "protocol", "measure", "threshold", "kind",
                                 "r:f", "lo:f", "hi:f", "p:f", "n:i"};
    cli_table *t = cli_table_get(c, "correlations", cols, 10);
    int ev[2], n_ev = protocols(e, n_e, ev);
    if (n_ev == 0) {
        if (cli_text(c))
            fprintf(c->out, "  no forgetting to explain: %s records no accuracy (collide-train "
                            "records it; collide-import --accuracy FILE for imported runs)\n",
                    scope);
        return CL_OK;
    }
    /* one sentence per measure and threshold, from the statistics just computed */
    enum { MAX_LINES = CL_EX_COUNT * CLI_MAX_TH };
    char lines[MAX_LINES][640];
    for (int a = 0; a < n_ev; a++) {
        int n_lines = 0;
        if (cli_text(c))
            fprintf(c->out,
                    "  forgetting (%s scoring) against each measure: Spearman r [95%% bootstrap "
                    "interval] permutation p; Pearson r; partial Spearman given ||dW_j||_F\n"
                    "    %-28s %25s %8s %6s %25s %8s %5s\n",
                    protocol_name(ev[a]), "measure", "spearman [lo, hi]", "p", "pearson",
                    "partial [lo, hi]", "p", "pairs");
        for (int k = 0; k < CL_EX_COUNT; k++)
            for (int q = 0; q < (cl_explain_thresholded(k) ? c->n_th : 1); q++) {
                cl_corr_stat st[N_KINDS];
                for (int i = 0; i < N_KINDS; i++) {
                    int rc = cl_explain_corr(e, n_e, k, q, (cl_eval)ev[a], kinds[i].kind, o->reps,
                                             o->perms, o->seed, &st[i], err);
                    if (rc)
                        return rc;
                    cli_row_begin(t);
                    cli_cell_s(t, scope);
                    cli_cell_s(t, protocol_name(ev[a]));
                    cli_cell_s(t, cl_explain_measure_name(k));
                    if (cl_explain_thresholded(k))
                        cli_cell_threshold(t, &c->th[q]);
                    else
                        cli_cell_none(t);
                    cli_cell_s(t, kinds[i].name);
                    cli_cell_f(t, st[i].r);
                    cli_cell_f(t, st[i].lo);
                    cli_cell_f(t, st[i].hi);
                    cli_cell_f(t, st[i].p);
                    cli_cell_i(t, st[i].n);
                }
                if (!cli_text(c))
                    continue;
                char label[96], sp[64], pp[64];
                measure_label(c, k, q, label, sizeof label);
                snprintf(sp, sizeof sp, isnan(st[0].r) ? "-" : "%.2f [%.2f, %.2f]", st[0].r,
                         st[0].lo, st[0].hi);
                snprintf(pp, sizeof pp, isnan(st[2].r) ? "-" : "%.2f [%.2f, %.2f]", st[2].r,
                         st[2].lo, st[2].hi);
                char p0[16], p2[16], r1[16];
                snprintf(p0, sizeof p0, isnan(st[0].p) ? "-" : "%.3g", st[0].p);
                snprintf(p2, sizeof p2, isnan(st[2].p) ? "-" : "%.3g", st[2].p);
                snprintf(r1, sizeof r1, isnan(st[1].r) ? "-" : "%.2f", st[1].r);
                fprintf(c->out, "    %-28s %25s %8s %6s %25s %8s %5d\n", label, sp, p0, r1, pp,
                        p2, st[0].n);
                if (n_lines < MAX_LINES)
                    cl_explain_verdict(label, &st[0], &st[2], lines[n_lines++], sizeof lines[0]);
            }
        if (!cli_text(c))
            continue;
        fprintf(c->out, "  what the pairs say (%s scoring):\n", protocol_name(ev[a]));
        for (int i = 0; i < n_lines; i++)
            fprintf(c->out, "  - %s\n", lines[i]);
    }
    return CL_OK;
}

static void print_pairs(cli *c, cl_store *s, const cl_explain *e)
{
    char th[48];
    cl_threshold_format(&e->th[0], th, sizeof th);
    int w = 8;
    for (int p = 0; p < e->pairs; p++) {
        int l = (int)(strlen(cl_store_task_name(s, e->pair[p].i)) +
                      strlen(cl_store_task_name(s, e->pair[p].j)) + 4);
        w = l > w ? l : w;
    }
    fprintf(c->out,
            "  %d task pairs, %d modules; forgetting F = R[j-1][i] - R[j][i] (points); CR and "
            "Jaccard at %s; the rest from the factors (mean over modules; ||dW_j|| over all)\n",
            e->pairs, e->modules, th);
    fprintf(c->out, "    %-*s %8s %8s %8s %7s %8s %7s %9s %7s %7s %9s\n", w, "i -> j", "F ranked",
            "F gen", "CR %", "Jaccard", "overlap", "cosine", "OO", "angle", "share", "||dW_j||");
    for (int p = 0; p < e->pairs; p++) {
        const cl_explain_pair *x = &e->pair[p];
        char pair[256], fr[16], fg[16];
        snprintf(pair, sizeof pair, "%s -> %s", cl_store_task_name(s, x->i),
                 cl_store_task_name(s, x->j));
        snprintf(fr, sizeof fr, isnan(x->forgetting[CL_EVAL_RANKED]) ? "-" : "%.1f",
                 100 * x->forgetting[CL_EVAL_RANKED]);
        snprintf(fg, sizeof fg, isnan(x->forgetting[CL_EVAL_GENERATE]) ? "-" : "%.1f",
                 100 * x->forgetting[CL_EVAL_GENERATE]);
        fprintf(c->out, "    %-*s %8s %8s %8.3f %7.3f %8.4f %7.3f %9.3g %7.3f %7.3f %9.4g\n", w,
                pair, fr, fg, 100 * x->collision[0], x->jaccard[0], x->m.overlap_energy,
                x->m.cosine, x->m.oo, x->m.angle_sim, x->m.rowspace_share, x->m.norm_j);
    }
}

int main(int argc, char **argv)
{
    xopts o = {.reps = 1000, .perms = 1000, .seed = 1};
    static const cli_opt extra[] = {
        {"reps", O_REPS, "N", 0, "bootstrap resamples of the pairs (default 1000)"},
        {"perms", O_PERMS, "N", 0, "permutations for the p-value (default 1000)"},
        {"seed", O_SEED, "N", 0, "seed of the resampling (default 1): the same seed, the\n"
                                 "same intervals and p-values"},
        {0}};
    static const cli_tool tool = {
        PROG,
        "Does parameter collision predict forgetting? For every ordered task pair (i\n"
        "learned before j) of each store's task-ends view: the forgetting of task i that\n"
        "learning task j caused, R[j-1][i] - R[j][i], under each stored accuracy protocol,\n"
        "beside the pair's interference: collision rate and Jaccard at each --threshold,\n"
        "the overlap energy sum|dW_i o dW_j| / (||dW_i|| ||dW_j||), the Frobenius cosine,\n"
        "O-LoRA's OO, the principal-angle similarity and the share of dW_j's energy in the\n"
        "row space of A_i, per module (--per-module) and over all modules. Then each\n"
        "measure's Spearman and Pearson correlation with forgetting, with a bootstrap 95%\n"
        "interval over pairs and a permutation p-value, and the partial Spearman given the\n"
        "later update's size ||dW_j||_F: per store and, with several stores, over all.",
        "Pairs share tasks, so they are not independent: read the intervals and p-values as\n"
        "descriptive (docs/METRICS.md, section 8, also for the rules of the sentences).\n"
        "Tables: pairs, module_pairs (--per-module), correlations.",
        CLI_OPT_THRESHOLD | CLI_OPT_MULTI_THRESHOLD | CLI_OPT_MODULE | CLI_OPT_PER_MODULE |
            CLI_OPT_DEVICE,
        "correlations"};
    cli c;
    cli_init_with(&c, &tool, extra, on_extra, &o, argc, argv);
    cl_store **s = calloc((size_t)c.n_stores, sizeof *s);
    cl_explain *e = calloc((size_t)c.n_stores, sizeof *e);
    const cl_explain **ep = calloc((size_t)c.n_stores, sizeof *ep);
    if (!s || !e || !ep) {
        fprintf(stderr, PROG ": out of memory\n");
        return CLI_EXIT_FAIL;
    }
    cl_error err;
    int rc = CL_OK;
    /* every store opened and explained before anything is printed */
    for (int i = 0; i < c.n_stores && !rc; i++) {
        cli_progress(&c, PROG ": opening %s", c.stores[i]);
        rc = cl_store_open(c.stores[i], &s[i], &err);
    }
    for (int i = 0; i < c.n_stores && !rc; i++) {
        int *mods = NULL, nm = 0;
        cli_progress(&c, PROG ": %s (%d of %d)", c.stores[i], i + 1, c.n_stores);
        rc = cl_modules_select(s[i], c.module, &mods, &nm, &err);
        if (!rc)
            rc = cl_explain_store(s[i], cli_backend(&c), c.th, c.n_th, mods, nm, &e[i], &err);
        free(mods);
        ep[i] = &e[i];
    }
    int status = CLI_EXIT_OK;
    cli_progress_done(&c);
    for (int i = 0; i < c.n_stores && !rc; i++) {
        pair_rows(&c, s[i], &e[i]);
        int mfrom = cli_table_mark(&c, "module_pairs");
        if (c.per_module)
            module_rows(&c, s[i], &e[i]);
        if (cli_text(&c)) {
            const cl_run_meta *m = cl_store_meta(s[i]);
            fprintf(c.out, "%s== %s  [%s%s%s]\n", i ? "\n" : "", c.stores[i], m->method,
                    m->name[0] ? ", " : "", m->name);
            if (e[i].pairs == 0)
                fprintf(c.out, "  one task: no pair\n");
            else
                print_pairs(&c, s[i], &e[i]);
            if (c.per_module && e[i].pairs > 0) {
                static const char *cols[] = {"threshold", "module", "task_i", "task_j",
                                             "collision_rate", "jaccard", "overlap_energy",
                                             "cosine", "oo", "angle_sim", "rowspace_share",
                                             "norm_j"};
                fprintf(c.out, "  per module:\n");
                cli_text_rows(&c, "module_pairs", mfrom, cols, 12);
            }
        }
        rc = correlate(&c, &o, c.stores[i], &ep[i], 1, &err);
    }
    if (!rc && c.n_stores > 1) {
        if (cli_text(&c))
            fprintf(c.out, "\n== all %d stores, their pairs pooled\n", c.n_stores);
        rc = correlate(&c, &o, "all", ep, c.n_stores, &err);
    }
    if (rc)
        status = cli_fail(&c, &err);
    status = cli_finish(&c, status);
    for (int i = 0; i < c.n_stores; i++) {
        cl_explain_free(&e[i]);
        if (s[i])
            cl_store_close(s[i], NULL);
    }
    free(s);
    free(e);
    free(ep);
    return status;
}
