/*
 * cl_metrics.h -- the parameter-collision metrics (libmetrics/metrics/,
 * target collide_metrics) of docs/METRICS.md on any low-rank update
 * dW = s * B * A (B d_out x k, A k x d_in, both row-major): collision,
 * orthogonality, spectra, sparsity, forgetting, a store's summary, and the
 * synthetic store writer.
 */
#ifndef CL_METRICS_H
#define CL_METRICS_H

#include "cl_kernels.h"
#include "cl_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ metrics */

/* Collision of one pair from counts (docs/METRICS.md section 2). */
typedef struct cl_collision {
    double rate;       /* CR = both / entries                    */
    double jaccard;    /* both / either                          */
    double lift;       /* CR / (density_i * density_j)           */
} cl_collision;

cl_collision cl_collision_from_counts(int64_t both, int64_t active_i,
                                      int64_t active_j, int64_t entries);

/* Orthogonality of one pair (section 3). All from r x r products. */
typedef struct cl_ortho {
    double oo;        /* ||A_i A_j^T||_F^2                                   */
    double sim_a;     /* mean squared cosine of principal angles, rows of A  */
    double sim_b;     /* the same for the columns of B                       */
    double awom;      /* ||dW_i^T dW_j||_F^2                                 */
    double inner;     /* <dW_i, dW_j>_F                                      */
    double cosine;    /* inner / (||dW_i||_F ||dW_j||_F)                     */
} cl_ortho;

int cl_ortho_pair(const cl_lowrank *a, const cl_lowrank *b, cl_ortho *out,
                  cl_error *err);
/* Every pair of n updates of one module: out is n x n (diagonal included),
 * with each task's bases and Gram matrices computed once. */
int cl_ortho_module(const cl_lowrank *u, int n, cl_ortho *out, cl_error *err);
/* <dW_a, dW_b>_F from the factors. */
int cl_frobenius_inner(const cl_lowrank *a, const cl_lowrank *b, double *out,
                       cl_error *err);

/* Spectrum of dW from QR of the factors and the SVD of a k x k core
 * (section 4). */
typedef struct cl_spectrum {
    int k;              /* number of singular values (min(k, d_out, d_in)) */
    double *sigma;      /* [k], descending                                 */
    double nuclear, frobenius, spectral;
    int count;          /* sigma > rank_tol * sigma_1                      */
    double entropy_rank;/* exp(-sum p log p), p = sigma / sum sigma        */
    double stable_rank; /* ||.||_F^2 / sigma_1^2                           */
} cl_spectrum;

#define CL_RANK_TOL_DEFAULT 0.01

int cl_spectrum_compute(const cl_lowrank *u, double rank_tol,
                        cl_spectrum *out, cl_error *err);
void cl_spectrum_free(cl_spectrum *s);

/* Sparsity of one update from a dense pass (section 5). */
typedef struct cl_sparsity {
    double l1, l2;
    double l1_over_l2;
    double hoyer;       /* (sqrt(n) - l1/l2) / (sqrt(n) - 1), in [0,1] */
} cl_sparsity;

cl_sparsity cl_sparsity_from_sums(double l1, double sumsq, int64_t entries);

/* Forgetting from R (section 6). Rows not evaluated are NaN. */
typedef struct cl_forgetting {
    int tasks;           /* T' = rows evaluated                       */
    double aa;           /* mean of the last row over seen tasks      */
    double la;           /* mean of the diagonal                      */
    double bwt;          /* mean_j<T'-1 (R[T'-1][j] - R[j][j])        */
    double forget_max;   /* mean_j<T'-1 (max_{j<=i<T'-1} R[i][j] - R[T'-1][j]) */
    double forget_first; /* mean_j<T'-1 (R[j][j] - R[T'-1][j])        */
    double fwt;          /* mean_j>0 (R[j-1][j] - baseline[j])        */
} cl_forgetting;

int cl_forgetting_compute(const double *R, const double *baseline, int T,
                          cl_forgetting *out, cl_error *err);
/* Per-task forgetting of task j (max definition); NaN when undefined. */
double cl_forgetting_task(const double *R, int T, int tasks, int j);

/* ------------------------------------------------------------ over modules */

/* Each family's aggregates over the modules of one view (the "mean" and
 * "pooled" of docs/METRICS.md): _init for the view's tasks, _add once per
 * module in walk order with what the module's computation gave, _finish
 * once, _free (safe on a zeroed or failed accumulator, and again). The
 * tools and cl_store_summary print these and compute none of their own, so
 * a number is the same wherever it appears. Sums run over modules first
 * (per task or pair), then over tasks or pairs; a mean over modules divides
 * by the modules added. Fields under "finish" are allocated by _init and
 * filled by _finish. */

/* Density of each task under each threshold (sections 1 and 5; sparsity.c). */
typedef struct cl_density_acc {
    int tasks, n_th, modules;
    int64_t entries;      /* over modules                                        */
    int64_t *active;      /* [th][task] active entries over modules              */
    double *frac_sum;     /* [th][task] sum over modules of active / entries     */
    /* finish: */
    double *mean;         /* [th][task] frac_sum / modules                       */
    double *pooled;       /* [th][task] active / entries                         */
    double *task_mean;    /* [th] mean over tasks of mean (density_mean of the summaries) */
} cl_density_acc;

int cl_density_acc_init(cl_density_acc *a, int tasks, int n_th, cl_error *err);
int cl_density_acc_add(cl_density_acc *a, const cl_dense_result *r, cl_error *err);
void cl_density_acc_finish(cl_density_acc *a);
void cl_density_acc_free(cl_density_acc *a);

/* Collision of every task pair under each threshold (section 2; collision.c).
 * [th][i][j] arrays hold the whole T x T matrix, diagonal included. */
typedef struct cl_collision_acc {
    int tasks, n_th, pairs; /* pairs i<j                                         */
    cl_density_acc density; /* each task's activity; modules and entries         */
    double *rate_sum, *jaccard_sum, *lift_sum; /* [th][i][j] over modules        */
    int *jaccard_n, *lift_n;/* [th][i][j] modules where each is defined          */
    int64_t *both;          /* [th][i][j] entries active in both, over modules   */
    /* finish: */
    cl_collision *mean;     /* [th][i][j] means over modules (jaccard and lift over
                               those defining them; NaN where none does)         */
    cl_collision *pooled;   /* [th][i][j] from the counts over all modules       */
    double *acr_mean;       /* [th] mean of mean.rate over the pairs i<j (NaN: no pair) */
    double *acr_pooled;     /* [th] mean of pooled.rate over the pairs i<j       */
} cl_collision_acc;

int cl_collision_acc_init(cl_collision_acc *a, int tasks, int n_th, cl_error *err);
int cl_collision_acc_add(cl_collision_acc *a, const cl_dense_result *r, cl_error *err);
void cl_collision_acc_finish(cl_collision_acc *a);
void cl_collision_acc_free(cl_collision_acc *a);

/* Orthogonality of every task pair (section 3; ortho.c). add takes
 * cl_ortho_module's n x n result. */
typedef struct cl_ortho_acc {
    int tasks, modules, pairs;
    cl_ortho *sum;          /* [i][j] each field summed over the modules where it
                               is defined (not NaN)                              */
    int *defined;           /* [field][i][j] those modules' count, fields in
                               cl_ortho's order                                  */
    /* finish: */
    cl_ortho *mean;         /* [i][j] sum / defined (NaN where none)             */
    double *cosine_pooled;  /* [i][j] sum.inner_ij / sqrt(sum.inner_ii sum.inner_jj) */
    /* over the pairs i<j */
    double oo_total;        /* sum of sum.oo                                     */
    double oo_pair_mean;    /* oo_total / pairs (NaN: no pair)                   */
    double sim_a_mean, sim_b_mean; /* mean of mean.sim_a (sim_b) where defined   */
    double awom_total;      /* sum of sum.awom                                   */
    double abs_cosine_mean; /* mean of |cosine_pooled| where defined             */
} cl_ortho_acc;

int cl_ortho_acc_init(cl_ortho_acc *a, int tasks, cl_error *err);
int cl_ortho_acc_add(cl_ortho_acc *a, const cl_ortho *module, cl_error *err);
void cl_ortho_acc_finish(cl_ortho_acc *a);
void cl_ortho_acc_free(cl_ortho_acc *a);

/* Spectra of each task's update and, optionally, of the accumulated update
 * (section 4; subspace.c). Slot t < tasks is task t, slot `tasks` the
 * accumulated update. */
typedef struct cl_spectrum_sums {
    double nuclear, frobenius, spectral, count, entropy_rank, stable_rank;
} cl_spectrum_sums;

typedef struct cl_subspace_acc {
    int tasks, slots, modules; /* slots: tasks, + 1 with the accumulated update  */
    cl_spectrum_sums *sum;  /* [slot] over modules                               */
    double **sigma_sum;     /* [slot][index] the index-th singular value over modules */
    int **sigma_n;          /* [slot][index] modules with that many values       */
    int *width;             /* [slot] the longest spectrum added                 */
    /* finish: */
    cl_spectrum_sums *mean; /* [slot] sum / modules                              */
    double **sigma_mean;    /* [slot][index < width] sigma_sum / sigma_n          */
    double nuclear_task_mean; /* mean over tasks of mean.nuclear (the summaries'
                                 per-task nuclear_mean)                          */
} cl_subspace_acc;

int cl_subspace_acc_init(cl_subspace_acc *a, int tasks, int accumulated, cl_error *err);
/* One module: the spectra of its tasks' updates [tasks], and of their sum
 * (NULL unless initialised with accumulated). */
int cl_subspace_acc_add(cl_subspace_acc *a, const cl_spectrum *task, const cl_spectrum *acc,
                        cl_error *err);
void cl_subspace_acc_finish(cl_subspace_acc *a);
void cl_subspace_acc_free(cl_subspace_acc *a);

/* l1, l2 and Hoyer sparsity of each task (section 5; sparsity.c). Density:
 * cl_density_acc. */
typedef struct cl_sparsity_acc {
    int tasks, modules;
    int64_t entries;        /* over modules                                      */
    double *l1, *sumsq;     /* [task] over modules                               */
    double *hoyer_sum;      /* [task] over modules; a module without one (zero
                               update) counts 0                                  */
    /* finish: */
    cl_sparsity *pooled;    /* [task] all modules' entries as one vector         */
    double *hoyer_mean;     /* [task] hoyer_sum / modules                        */
    double hoyer_task_mean; /* mean over tasks of hoyer_mean                     */
} cl_sparsity_acc;

int cl_sparsity_acc_init(cl_sparsity_acc *a, int tasks, cl_error *err);
int cl_sparsity_acc_add(cl_sparsity_acc *a, const cl_dense_result *r, cl_error *err);
void cl_sparsity_acc_finish(cl_sparsity_acc *a);
void cl_sparsity_acc_free(cl_sparsity_acc *a);

/* ------------------------------------------------------------ summary */

/* A store's headline numbers at one view (the last of `snapshot`, default
 * task-ends): what the paper's tables and figures report. */
typedef struct cl_summary {
    int tasks, modules, pairs;
    cl_threshold threshold;
    double acr_mean;      /* mean over pairs i<j of the mean over modules of CR */
    double acr_pooled;    /* the same counted over all modules' entries          */
    double density_mean;  /* mean over tasks and modules                          */
    double oo_total;      /* sum over pairs i<j and modules of ||A_i A_j^T||_F^2  */
    double oo_pair_mean;  /* oo_total / pairs                                     */
    double nuclear_mean;  /* per task: mean over tasks and modules of ||dW_t||_* */
    double nuclear_accumulated; /* mean over modules of ||sum_t dW_t||_* (the
                                   nuclear-norm figure); the paper's Figure 3
                                   does not say which of the two it shows    */
    double hoyer_mean;
    double tau_median;    /* median over tasks and modules of the resolved threshold */
    cl_forgetting forgetting[CL_EVAL_COUNT]; /* per protocol (all NaN if not evaluated) */
} cl_summary;

int cl_store_summary(cl_store *s, const char *snapshot, const cl_threshold *th, cl_backend *be,
                     cl_summary *out, cl_error *err);

/* ------------------------------------------------------------ synthetic */

typedef struct cl_synth_spec {
    int tasks;
    int modules;          /* modules are layers.L.attn.{q,v}              */
    int64_t d_out, d_in;
    int rank;
    double alpha;
    double density;       /* target fraction of dW's support, (0,1]       */
    double overlap;       /* fraction of support shared between tasks     */
    double subspace_overlap; /* fraction of A's row space shared          */
    int snapshots_per_task;  /* periodic snapshots before each task end    */
    double forgetting;    /* accuracy lost per later task                 */
    const char *method;   /* recorded as the method                        */
    uint64_t seed;
} cl_synth_spec;

void cl_synth_defaults(cl_synth_spec *s);
/* The spec's ranges (CL_ERR_ARG naming the option), before any output. */
int cl_synth_check(const cl_synth_spec *spec, const char *path, cl_error *err);
int cl_synth_write(const char *path, const cl_synth_spec *spec, cl_error *err);

/* ------------------------------------------------------------ pair interference */

/* Pair interference (section 8; explain.c, stats.c): how a later task's
 * update meets an earlier one's on one module, and the statistics that
 * relate such per-pair measures to forgetting (collide-explain). */

/* How task j's update (j later) meets task i's, for one module. A ratio
 * whose denominator is 0 (a zero update) is NaN. */
typedef struct cl_pair_measures {
    double overlap_energy; /* sum |dW_i o dW_j| / (||dW_i||_F ||dW_j||_F), in [0, 1]     */
    double cosine;         /* <dW_i, dW_j>_F / (||dW_i||_F ||dW_j||_F) (cl_ortho.cosine)   */
    double oo;             /* O-LoRA's ||A_i A_j^T||_F^2 (cl_ortho.oo)                    */
    double angle_sim;      /* mean squared cosine of principal angles, rows of A
                              (cl_ortho.sim_a; NaN when an A is zero)                    */
    double rowspace_share; /* ||dW_j P_i||_F^2 / ||dW_j||_F^2, P_i the projector onto the
                              row span of A_i (0 when A_i = 0), in [0, 1]; the span's
                              rank cut: unit rows, SVD, sigma > 1e-5 sigma_max (explain.c) */
    double norm_i, norm_j; /* ||dW_i||_F, ||dW_j||_F                                     */
} cl_pair_measures;

/* Every ordered pair i < j of n updates of one module (all d_out x d_in):
 * out[i * n + j] (n x n; entries with i >= j untouched). cum_share (may be
 * NULL) gets, for each j, ||dW_j P_<j||_F^2 / ||dW_j||_F^2 with P_<j the
 * projector onto the span of the rows of A_0 .. A_{j-1}; NaN for j = 0 and
 * for a zero dW_j. All from the factors except overlap_energy, formed tile
 * by tile (no d_out x d_in matrix is held). The same on every run; another
 * BLAS thread count may change the last bit. */
int cl_pair_module(const cl_lowrank *u, int n, cl_pair_measures *out, double *cum_share,
                   cl_error *err);

/* Correlations of n paired values (stats.c). Every input must be finite: a
 * NaN or infinite entry makes the result NaN (nothing is dropped; the
 * caller filters). NaN also when n < 3 (partial: n < 4) or an input is
 * constant (partial: a residual is constant). Values are clamped to [-1, 1]. */
double cl_pearson(const double *x, const double *y, int n);
/* Pearson of the ranks; ties take the average of their ranks. */
double cl_spearman(const double *x, const double *y, int n);
/* Partial correlation of x and y given z: Pearson of the residuals of the
 * least-squares fits x ~ 1 + z and y ~ 1 + z; spearman = 1: of the ranks
 * of x, y and z. */
double cl_partial(const double *x, const double *y, const double *z, int n, int spearman);

enum {
    CL_CORR_PEARSON = 0,
    CL_CORR_SPEARMAN,
    CL_CORR_PARTIAL_SPEARMAN,  /* cl_partial(x, y, z, n, 1); z required */
    CL_CORR_PARTIAL_PEARSON    /* cl_partial(x, y, z, n, 0); z required */
};

typedef struct cl_corr_stat {
    double r;      /* the correlation of kind on all n values                      */
    double lo, hi; /* bootstrap 95% percentile interval (2.5% and 97.5% quantiles,
                      linear interpolation, over the resamples where r is defined)  */
    double p;      /* two-sided permutation p-value: (#{|r_perm| >= |r|} + 1) / (perms + 1) */
    int n;         /* values used                                                   */
    int reps_defined; /* bootstrap resamples where r was defined                    */
} cl_corr_stat;

/* r, its bootstrap interval (reps resamples of the n pairs with
 * replacement) and its permutation p-value (perms permutations of y; for
 * the partial kinds, of y's residuals given z, Freedman-Lane). Two
 * cl_rng streams seeded from seed (one for the bootstrap, one for the
 * permutations), single-threaded: the same arguments give the same
 * numbers on every run. NaN fields where undefined (r NaN: all NaN; reps
 * = 0: lo, hi NaN; perms = 0: p NaN). CL_ERR_ARG for a bad kind, n < 0,
 * reps or perms < 0, or a partial kind without z; CL_ERR_VALUE for a
 * non-finite input. */
int cl_corr_test(const double *x, const double *y, const double *z, int n, int kind, int reps,
                 int perms, uint64_t seed, cl_corr_stat *out, cl_error *err);

/* ------------------------------------------------------------ explain */

/* Forgetting against interference in one store (explain_store.c): every
 * ordered task pair of the task-ends view, i trained before j. */
enum {
    CL_EX_COLLISION = 0, /* collision rate, mean over modules (per threshold) */
    CL_EX_JACCARD,       /* Jaccard index, the same                            */
    CL_EX_OVERLAP,       /* cl_pair_measures' fields, mean over modules:       */
    CL_EX_COSINE,
    CL_EX_OO,
    CL_EX_ANGLE,
    CL_EX_SHARE,
    CL_EX_NORM,          /* ||dW_j||_F over all modules: the size of the update
                            that did the forgetting (the partial correlations'
                            control)                                           */
    CL_EX_COUNT
};
const char *cl_explain_measure_name(int k); /* "collision_rate", ... "norm_j" */
int cl_explain_thresholded(int k);          /* 1 for collision_rate, jaccard  */

typedef struct cl_explain_pair {
    int i, j;                           /* store task indices, i < j          */
    int a, b;                           /* their positions in the view        */
    double forgetting[CL_EVAL_COUNT];   /* R[j-1][i] - R[j][i] per protocol;
                                           NaN unless both were evaluated     */
    double *collision, *jaccard;        /* [n_th], mean over modules          */
    cl_pair_measures m;                 /* ratios: mean over the modules where
                                           defined; norms: over all modules   */
} cl_explain_pair;

typedef struct cl_explain {
    int tasks, pairs, modules, n_th;
    cl_threshold *th;                   /* [n_th]                             */
    int *module;                        /* [modules] store module indices     */
    cl_explain_pair *pair;              /* [pairs]: (0,1), (0,2), ..., (1,2), ... */
    cl_pair_measures *mod_m;            /* [module][pair]                     */
    double *mod_collision, *mod_jaccard;/* [module][pair][threshold]          */
    double *mod_cum_share;              /* [module][task]                     */
    double *cum_share;                  /* [view position]: mean over modules */
} cl_explain;

/* The pairs of s's task-ends view over the given modules (NULL: all). */
int cl_explain_store(cl_store *s, cl_backend *be, const cl_threshold *th, int n_th,
                     const int *modules, int n_modules, cl_explain *out, cl_error *err);
void cl_explain_free(cl_explain *e);
/* Measure k of pair p (threshold q where it has one). */
double cl_explain_value(const cl_explain *e, int p, int k, int q);
/* Measure k (threshold q) against forgetting under protocol ev, over the
 * pairs of n_e stores pooled, the pairs with every value finite; the
 * partial kinds control for norm_j (NaN for norm_j itself). */
int cl_explain_corr(const cl_explain *const *e, int n_e, int k, int q, cl_eval ev, int kind,
                    int reps, int perms, uint64_t seed, cl_corr_stat *out, cl_error *err);
/* One sentence on measure k by fixed rules (docs/METRICS.md section 8):
 * "too few pairs" below CL_EXPLAIN_MIN_PAIRS; evidence when the Spearman
 * p < 0.05 and its interval excludes 0, then whether the partial Spearman
 * given ||dW_j||_F (NULL or NaN: not asked) passes the same test; "no
 * evidence" otherwise. */
enum { CL_EXPLAIN_MIN_PAIRS = 6 };
void cl_explain_verdict(const char *measure, const cl_corr_stat *rho, const cl_corr_stat *partial,
                        char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
