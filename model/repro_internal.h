/*
 * repro_internal.h -- what the reproduction's tables (repro_tables.c) and its
 * claims (repro_claims.c) share: a run's summary row, a claim with its
 * verdict, and the helpers both use.
 */
#ifndef CL_REPRO_INTERNAL_H
#define CL_REPRO_INTERNAL_H

#include "reproduce.h"

#include <stdio.h>

typedef struct row {
    const cl_repro_run *run;
    cl_summary se, sa;          /* at the energy threshold, at the absolute one */
    double nuc_acc;             /* mean over modules of ||sum_t dW_t||_* (the
                                   accumulated update; se.nuclear_mean is the
                                   mean over tasks and modules of ||dW_t||_*) */
    double aa_se[CL_EVAL_COUNT];
    double chance;              /* mean over tasks of 1 / labels */
    char tasks[512];
    char subst[256];
    int T;
} row;

typedef struct claim {
    const char *claim;
    char published[64];
    char ours[384];
    double pub, val;       /* the compared numbers (ratio or difference) */
    const char *verdict;   /* holds | does not hold | not measurable here */
    char reason[320];
} claim;

#define HOLDS "holds"
#define FAILS "does not hold"
#define UNMEASURABLE "not measurable here"

/* The default-lambda run of method m on order k (0: synthetic), or NULL. */
const row *cl_repro_find_row(const row *rows, int n, cl_method m, int order);
/* text escaped for LaTeX, in one of a ring of 8 buffers (printf arguments) */
const char *cl_repro_tx(const char *text);

/* The headline claims of the paper on order `order`, each with its verdict
 * (docs/RESULTS.md's rules); returns how many (at most 8). */
int cl_repro_make_claims(const row *rows, int n, int order, double abs_eps, const char *ths,
                         claim *c);
/* The claims as a Markdown (tex 0) or LaTeX table. */
void cl_repro_claims_table(FILE *f, const claim *c, int n, int tex);
/* The claims as JSON at path (claims.json). */
int cl_repro_claims_json(const char *path, const claim *c, int n, double abs_eps,
                         const char *ths, cl_error *err);

/* The explain results of the n runs (out[n], freed by the caller with
 * cl_explain_free), at the given thresholds (repro_explain.c). */
int cl_repro_explain_compute(const row *rows, int n, cl_backend *be, const cl_threshold *th,
                             int n_th, cl_explain *out, cl_error *err);
/* "Does collision predict forgetting?": the pooled table and one sentence
 * per measure, Markdown (tex 0) or LaTeX. */
int cl_repro_explain_section(FILE *f, const cl_explain *ex, int n, int tex, cl_error *err);

#endif
