/*
 * repro_explain.c -- the paper's title question asked of the reproduction's
 * own runs: over every ordered task pair of every run, does the pair's
 * interference predict the forgetting that learning the later task caused?
 * The numbers are collide-explain's (cl_explain_store, cl_explain_corr over
 * all runs' pairs pooled, the same defaults: 1000 resamples and
 * permutations, seed 1); the sentences are cl_explain_verdict's fixed rules.
 */
#include "repro_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EX_REPS 1000
#define EX_SEED 1

int cl_repro_explain_compute(const row *rows, int n, cl_backend *be, const cl_threshold *th,
                             int n_th, cl_explain *out, cl_error *err)
{
    int rc = CL_OK;
    for (int i = 0; i < n && !rc; i++) {
        cl_store *s;
        if (!(rc = cl_store_open(rows[i].run->store, &s, err))) {
            rc = cl_explain_store(s, be, th, n_th, NULL, 0, &out[i], err);
            cl_store_close(s, NULL);
        }
    }
    return rc;
}

/* The headline protocol of the pooled pairs: ranked where any pair has it. */
static cl_eval headline(const cl_explain *const *e, int n)
{
    for (int i = 0; i < n; i++)
        for (int p = 0; p < e[i]->pairs; p++)
            if (!isnan(e[i]->pair[p].forgetting[CL_EVAL_RANKED]))
                return CL_EVAL_RANKED;
    return CL_EVAL_GENERATE;
}

static void interval(char *buf, size_t n, const cl_corr_stat *s)
{
    if (isnan(s->r))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f [%.2f, %.2f]", s->r, s->lo, s->hi);
}

static void pvalue(char *buf, size_t n, double p)
{
    snprintf(buf, n, isnan(p) ? "-" : "%.3g", p);
}

int cl_repro_explain_section(FILE *f, const cl_explain *ex, int n, int tex, cl_error *err)
{
    if (n < 1 || ex[0].n_th < 1)
        return CL_OK;
    const cl_explain **e = calloc((size_t)n, sizeof *e);
    if (!e)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int pairs = 0;
    for (int i = 0; i < n; i++) {
        e[i] = &ex[i];
        pairs += ex[i].pairs;
    }
    cl_eval ev = headline(e, n);
    if (tex)
        fprintf(f, "\\paragraph{Does collision predict forgetting?} Over the %d ordered task pairs "
                   "of the %d runs, pooled: each pair's forgetting $R[j-1][i] - R[j][i]$ (%s "
                   "scoring) against its interference; Spearman with a bootstrap 95\\%% interval "
                   "and a permutation $p$, and the partial Spearman given the later update's "
                   "size $\\|\\Delta W_j\\|_F$ (collide-explain; pairs share tasks, so the "
                   "intervals are descriptive).\n\n\\begin{tabular}{lrrrrr}\n\\hline\n"
                   "Measure & Spearman & $p$ & partial & $p$ & pairs \\\\\n\\hline\n",
                pairs, n, cl_eval_name(ev));
    else
        fprintf(f, "\n## Does collision predict forgetting? (collide-explain)\n\n"
                   "The paper's title question asked of these runs: over the %d ordered task "
                   "pairs (i trained before j) of the %d runs, pooled, each pair's forgetting "
                   "R[j-1][i] − R[j][i] (%s scoring) against its interference measures "
                   "(docs/METRICS.md, section 8): Spearman with a bootstrap 95%% interval and a "
                   "permutation p, and the partial Spearman given the later update's size "
                   "‖ΔW_j‖_F, which tells \"less collision\" from \"a smaller update\". Pairs "
                   "share tasks, so read the intervals as descriptive. Per run: `collide-explain "
                   "out/stores/*.h5`.\n\n"
                   "| Measure | Spearman [95%% CI] | p | partial given ‖ΔW_j‖ [95%% CI] | p | "
                   "pairs |\n|---|---|---|---|---|---|\n",
                pairs, n, cl_eval_name(ev));
    int rc = CL_OK;
    char (*lines)[640] = calloc(CL_EX_COUNT * 8, sizeof *lines);
    int n_lines = 0;
    if (!lines)
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < CL_EX_COUNT && !rc; k++)
        for (int q = 0; q < (cl_explain_thresholded(k) ? ex[0].n_th : 1) && !rc; q++) {
            cl_corr_stat rho, part;
            rc = cl_explain_corr(e, n, k, q, ev, CL_CORR_SPEARMAN, EX_REPS, EX_REPS, EX_SEED,
                                 &rho, err);
            if (!rc)
                rc = cl_explain_corr(e, n, k, q, ev, CL_CORR_PARTIAL_SPEARMAN, EX_REPS, EX_REPS,
                                     EX_SEED, &part, err);
            if (rc)
                break;
            char label[96], a[64], b[64], pa[16], pb[16];
            if (cl_explain_thresholded(k)) {
                char th[48];
                cl_threshold_format(&ex[0].th[q], th, sizeof th);
                snprintf(label, sizeof label, "%s at %s", cl_explain_measure_name(k), th);
            } else {
                snprintf(label, sizeof label, "%s", cl_explain_measure_name(k));
            }
            interval(a, sizeof a, &rho);
            interval(b, sizeof b, &part);
            pvalue(pa, sizeof pa, rho.p);
            pvalue(pb, sizeof pb, part.p);
            if (tex)
                fprintf(f, "%s & %s & %s & %s & %s & %d \\\\\n", cl_repro_tx(label),
                        cl_repro_tx(a), pa, cl_repro_tx(b), pb, rho.n);
            else
                fprintf(f, "| %s | %s | %s | %s | %s | %d |\n", label, a, pa, b, pb, rho.n);
            cl_explain_verdict(label, &rho, &part, lines[n_lines++], sizeof lines[0]);
        }
    if (!rc) {
        fputs(tex ? "\\hline\n\\end{tabular}\n\n\\begin{itemize}\n" : "\nWhat the data shows:\n\n",
              f);
        for (int i = 0; i < n_lines; i++)
            if (tex)
                fprintf(f, "\\item %s\n", cl_repro_tx(lines[i]));
            else
                fprintf(f, "- %s\n", lines[i]);
        if (tex)
            fputs("\\end{itemize}\n", f);
    }
    free(lines);
    free(e);
    return rc;
}
