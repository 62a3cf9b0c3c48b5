/*
 * cl_core.h -- collide's base library (core/, target collide_core): errors,
 * the value types every library passes around (low-rank pairs, thresholds,
 * the dense pass's results), the random number generator and atomic file
 * replacement. It depends on nothing else of collide's; the kernels, the
 * store, the PEFT code, the metrics, the datasets and the model stand on it.
 *
 * Conventions (every cl_ library follows them)
 *   - Every function that can fail returns CL_OK (0) or a CL_ERR_* code and
 *     fills a caller-owned cl_error with "FILE: OBJECT: reason".
 *   - Nothing here keeps global mutable state; objects own their memory and
 *     are released with the matching *_free / *_close.
 *   - Every public symbol starts with cl_ (types, functions) or CL_ (macros).
 */
#ifndef CL_CORE_H
#define CL_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

enum {
    CL_OK = 0,
    CL_ERR_IO,          /* missing, unreadable or unwritable file           */
    CL_ERR_FORMAT,      /* malformed input: missing object, shape, dtype     */
    CL_ERR_VERSION,     /* written by a newer collide                        */
    CL_ERR_VALUE,       /* NaN/Inf or a value out of its range               */
    CL_ERR_ARG,         /* a caller or user argument is invalid              */
    CL_ERR_NOMEM,
    CL_ERR_NUMERIC,     /* a LAPACK routine failed                           */
    CL_ERR_UNSUPPORTED, /* valid, but not something collide handles          */
    CL_ERR_EXISTS       /* output exists and would be overwritten            */
};

typedef struct cl_error {
    int code;
    char msg[1024];
} cl_error;

const char *cl_strerror(int code);
/* Fill err and return code; msg is a printf format. */
int cl_error_set(cl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the message already in err: "what: <old message>". */
void cl_error_prefix(cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --------------------------------------------------------- low-rank pairs */

/* dW = scale * B * A. B: d_out x k, A: k x d_in, row-major float32. */
typedef struct cl_lowrank {
    int64_t d_out, d_in;
    int k;
    float *B;
    float *A;
    double scale;
} cl_lowrank;

void cl_lowrank_free(cl_lowrank *u);
/* Sum of updates as one pair: [s1*B1 ... sn*Bn] * [A1; ...; An], scale 1. */
int cl_lowrank_stack(const cl_lowrank *u, int n, cl_lowrank *out, cl_error *err);

/* ------------------------------------------------------------- thresholds */

typedef enum {
    CL_TH_ABS = 0,   /* active: |x| >  value                                 */
    CL_TH_REL,       /* active: |x| >  value * max|dW|                       */
    CL_TH_ENERGY,    /* active: the fewest largest entries holding value of
                        ||dW||_F^2 (|x| >= tau)                              */
    CL_TH_TOP        /* active: the largest value fraction of entries         */
} cl_threshold_mode;

typedef struct cl_threshold {
    cl_threshold_mode mode;
    double value;
} cl_threshold;

#define CL_THRESHOLD_DEFAULT "energy:0.99"

int cl_threshold_parse(const char *text, cl_threshold *out, cl_error *err);
/* "energy:0.99"; buf of 48 bytes is enough. */
void cl_threshold_format(const cl_threshold *t, char *buf, size_t n);

/* ------------------------------------------------------- dense-pass results */

/* What the dense pass (cl_dense_pass, cl_kernels.h) finds for n updates of
 * one module and n_th thresholds. */
typedef struct cl_dense_task {
    float tau;          /* per threshold: the resolved threshold              */
    int inclusive;      /* 1: active is |x| >= tau, 0: |x| > tau              */
    int64_t active;     /* per threshold: active entries                      */
} cl_dense_task;

typedef struct cl_dense_result {
    int n, n_th;
    int64_t entries;    /* d_out * d_in                                       */
    double *l1;         /* [n]                                                */
    double *sumsq;      /* [n]                                                */
    double *maxabs;     /* [n]                                                */
    cl_dense_task *task;/* [n_th * n]                                         */
    int64_t *both;      /* [n_th * n * n], symmetric, diagonal = active       */
} cl_dense_result;

void cl_dense_result_free(cl_dense_result *r);

/* ------------------------------------------------------------ utilities */

/* xoshiro256** seeded through splitmix64: small, fast, and its whole state
 * is the struct, so a run can save and restore it exactly. */
typedef struct cl_rng {
    uint64_t s[4];
} cl_rng;

void cl_rng_seed(cl_rng *r, uint64_t seed);
uint64_t cl_rng_next(cl_rng *r);
double cl_rng_uniform(cl_rng *r);          /* [0, 1)                     */
double cl_rng_normal(cl_rng *r);           /* N(0, 1), no cached state    */
uint64_t cl_rng_below(cl_rng *r, uint64_t n); /* uniform in [0, n)        */

/* Write to a temporary name beside path, then rename over path: a failure
 * never leaves path truncated or overwritten. */
typedef struct cl_atomic_file cl_atomic_file;
/* by_name = 0: the file is opened for stdio (cl_atomic_fp); by_name = 1: the
 * temporary name does not exist yet and the caller creates it (HDF5). */
int cl_atomic_open(const char *path, int by_name, cl_atomic_file **out,
                   cl_error *err);
const char *cl_atomic_tmp_path(const cl_atomic_file *f);
void *cl_atomic_fp(cl_atomic_file *f); /* FILE * */
int cl_atomic_commit(cl_atomic_file *f, cl_error *err);
void cl_atomic_abort(cl_atomic_file *f);

const char *cl_version(void);

#ifdef __cplusplus
}
#endif
#endif
