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
    double nuclear_mean;  /* mean over tasks and modules (the paper's Figure 3)   */
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

#ifdef __cplusplus
}
#endif
#endif
