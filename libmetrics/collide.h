/*
 * collide.h -- the public API of libmetrics.
 *
 * libmetrics reads and writes the collide adapter store (docs/FORMAT.md) and
 * computes the parameter-collision metrics of docs/METRICS.md on any low-rank
 * update dW = s * B * A, with B d_out x k and A k x d_in, both row-major.
 *
 * Conventions
 *   - Every function that can fail returns CL_OK (0) or a CL_ERR_* code and
 *     fills a caller-owned cl_error with "FILE: OBJECT: reason".
 *   - Nothing here keeps global mutable state; objects own their memory and
 *     are released with the matching *_free / *_close.
 *   - Every public symbol starts with cl_ (types, functions) or CL_ (macros).
 */
#ifndef COLLIDE_H
#define COLLIDE_H

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

/* ------------------------------------------------------ compute back ends */

typedef struct cl_backend cl_backend;

/* name: "cpu", "cuda" or "auto" (CUDA only when a GPU is present). */
int cl_backend_open(const char *name, cl_backend **out, cl_error *err);
const char *cl_backend_name(const cl_backend *be);
void cl_backend_close(cl_backend *be);

/*
 * The dense pass: for n updates of one module (all d_out x d_in) and n_th
 * thresholds, resolve each task's tau, count active entries and the entries
 * active in both tasks of every pair, and collect l1, ||.||_F^2 and max|x|.
 * dW is formed tile by tile; no d_out x d_in matrix is ever held.
 */
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

int cl_dense_pass(cl_backend *be, const cl_lowrank *u, int n,
                  const cl_threshold *th, int n_th, cl_dense_result *out,
                  cl_error *err);
void cl_dense_result_free(cl_dense_result *r);

/* ------------------------------------------------------------ the store */

typedef enum {
    CL_SNAP_PERIODIC = 0,
    CL_SNAP_END_OF_TASK = 1
} cl_snapshot_kind;

/* How a task's accuracy was measured. GENERATE: greedy generation, exact
 * match of the normalised answer (the paper's scorer). RANKED: the option
 * label whose tokens have the highest summed log-likelihood after the prompt
 * (the usual multiple-choice protocol). */
typedef enum {
    CL_EVAL_GENERATE = 0,
    CL_EVAL_RANKED = 1,
    CL_EVAL_COUNT = 2
} cl_eval;

const char *cl_eval_name(cl_eval e); /* "generation", "ranked" */
/* Binomial standard error of an accuracy p measured on n examples:
 * sqrt(p (1 - p) / n); NaN when n is unknown. */
double cl_acc_stderr(double p, int64_t n);

/* One row of /snapshots/table. */
typedef struct cl_snapshot_row {
    int64_t id;             /* equals the row index                          */
    int32_t task;           /* index into the task list                      */
    int32_t epoch;
    int64_t step;           /* global optimiser step                         */
    double loss;            /* total loss = task loss + penalties             */
    double loss_task;
    double penalty_orth;
    double penalty_l2;
    double penalty_sparse;
    double wall_time;       /* seconds since the run started                 */
    int32_t kind;           /* cl_snapshot_kind                              */
} cl_snapshot_row;

/* Run metadata: root attributes of the store. Strings never NULL on read. */
typedef struct cl_run_meta {
    const char *method;        /* seqlora inclora olora nlora olora+nlora
                                  imported synthetic                         */
    int rank;                  /* nominal LoRA rank r                        */
    double alpha;              /* lora_alpha                                 */
    double scaling;            /* nominal s                                  */
    const char *scaling_rule;  /* "alpha/r" or "alpha/sqrt(r)"               */
    const char *penalty_form;  /* "paper", "code" or "none"                  */
    double lambda_orth;        /* O-LoRA lambda1                             */
    double lambda_l2;          /* O-LoRA lambda2 (code form)                 */
    double lambda_sparse;      /* N-LoRA lambda (default; per task in tasks) */
    uint64_t seed;
    const char *base_model;    /* identity of the base model                 */
    const char *created_by;    /* tool and version                           */
    const char *train_config;  /* the trainer's settings as JSON ("" if none) */
} cl_run_meta;

typedef struct cl_store_spec {
    cl_run_meta meta;
    int n_tasks;
    const char *const *task_names;   /* training order                        */
    const double *task_lambda;       /* NULL: all meta.lambda_sparse          */
    const char *const *task_data;    /* NULL or "" each: own data; else the
                                        task whose data stood in              */
    int n_modules;
    const char *const *module_names;
    const int64_t *d_out;
    const int64_t *d_in;
    const int32_t *rank;             /* largest rank stored per module        */
    int64_t resume_bytes;            /* size of the resume slots; 0: none     */
    const int64_t *task_n_test;      /* NULL: unknown (0)                     */
    const int64_t *task_n_labels;    /* NULL: unknown (0)                     */
    const double *task_alpha;        /* optional: each task's lora_alpha and  */
    const int32_t *task_rslora;      /* use_rslora (imported adapters differ) */
} cl_store_spec;

typedef struct cl_store cl_store;

/* Writing. The store is created at path (refused if it exists, CL_ERR_EXISTS)
 * and stays readable after every committed snapshot, even if the writer is
 * killed: see docs/FORMAT.md. */
int cl_store_create(const char *path, const cl_store_spec *spec,
                    cl_store **out, cl_error *err);
/* Reopen an existing store to append (resume). */
int cl_store_open_append(const char *path, cl_store **out, cl_error *err);
/* Append one snapshot: per module m, A[m] (rank[m] x d_in) and B[m]
 * (d_out x rank[m]) with scale[m]; row->id is assigned. resume (resume_n
 * bytes, or NULL) is the writer's state after this snapshot: it is written
 * before the commit, so every committed snapshot has its state. The snapshot
 * is committed, flushed, on return. */
int cl_store_append(cl_store *s, cl_snapshot_row *row,
                    const float *const *A, const float *const *B,
                    const int32_t *rank, const double *scale,
                    const void *resume, int64_t resume_n, cl_error *err);
/* Accuracy rows and baselines, per evaluation protocol: the paper's greedy
 * generation with exact match, and ranked scoring (the option label with the
 * highest log-likelihood). Format 1 stores hold generation only. */
int cl_store_write_accuracy_row(cl_store *s, cl_eval e, int after_task,
                                const double *acc, cl_error *err);
int cl_store_write_baseline(cl_store *s, cl_eval e, const double *acc, cl_error *err);
/* The resume state stored with snapshot id (the last or the one before). */
int cl_store_read_resume(cl_store *s, int64_t snapshot, void *state,
                         int64_t n, cl_error *err);
int64_t cl_store_resume_bytes(const cl_store *s);

/* Reading. Every object is validated on open: a missing object, a wrong
 * shape or dtype, NaN/Inf, or a newer format version is an error naming the
 * file, the object and the reason. Only committed snapshots are visible. */
int cl_store_open(const char *path, cl_store **out, cl_error *err);
int cl_store_close(cl_store *s, cl_error *err);

const char *cl_store_path(const cl_store *s);
int cl_store_format_version(const cl_store *s);
const cl_run_meta *cl_store_meta(const cl_store *s);
int cl_store_n_tasks(const cl_store *s);
const char *cl_store_task_name(const cl_store *s, int t);
double cl_store_task_lambda(const cl_store *s, int t);
const char *cl_store_task_data(const cl_store *s, int t); /* "" when own */
int cl_store_n_modules(const cl_store *s);
const char *cl_store_module_name(const cl_store *s, int m);
int64_t cl_store_module_d_out(const cl_store *s, int m);
int64_t cl_store_module_d_in(const cl_store *s, int m);
int32_t cl_store_module_rank(const cl_store *s, int m);
int64_t cl_store_n_snapshots(const cl_store *s);
const cl_snapshot_row *cl_store_snapshot(const cl_store *s, int64_t id);
/* The rank and scale of module m's adapter at snapshot id (they may differ
 * per task and module in imported stores); 0 / NaN when out of range. */
int32_t cl_store_snapshot_rank(const cl_store *s, int64_t id, int m);
double cl_store_snapshot_scale(const cl_store *s, int64_t id, int m);
/* End-of-task snapshot of task t, or -1 if task t has not ended. */
int64_t cl_store_task_end(const cl_store *s, int t);
/* R (T x T, row-major, NaN where not evaluated) and baselines (T), per
 * protocol; a format 1 store's ranked ones are all NaN. */
const double *cl_store_accuracy(const cl_store *s, cl_eval e);
const double *cl_store_baseline(const cl_store *s, cl_eval e);
/* 1 when any entry of protocol e's R is evaluated. */
int cl_store_has_eval(const cl_store *s, cl_eval e);
/* Test examples behind task t's accuracies, and its number of labels
 * (chance = 1 / labels); 0 when unknown (format 1, imported). */
int64_t cl_store_task_n_test(const cl_store *s, int t);
int64_t cl_store_task_n_labels(const cl_store *s, int t);
/* Task t's lora_alpha and use_rslora where the store records them per task
 * (imported adapters): NaN / -1 when it does not. */
double cl_store_task_alpha(const cl_store *s, int t);
int cl_store_task_rslora(const cl_store *s, int t);

/* The adapter trained at snapshot id on module m, checked for NaN/Inf.
 * Allocates out->A and out->B; release with cl_lowrank_free. */
int cl_store_read_adapter(cl_store *s, int m, int64_t id, cl_lowrank *out,
                          cl_error *err);

/* ------------------------------------------------------------ views */

/*
 * A view is the set of task updates as they stood at one snapshot: each
 * ended task at its end-of-task snapshot, the task in training at the view's
 * snapshot. For seqlora, task t's update is the difference between its
 * snapshot and the end of task t-1 (a rank-2r pair).
 */
typedef struct cl_view {
    int64_t snapshot;
    int n;            /* tasks in the view, in training order */
    int *task;        /* [n] task index                        */
    int64_t *at;      /* [n] snapshot holding the adapter      */
    int64_t *prev;    /* [n] seqlora: snapshot subtracted, -1  */
} cl_view;

typedef struct cl_view_list {
    int n;
    cl_view *v;
} cl_view_list;

/* spec: "task-ends" (default), "last", "all" or a snapshot id. */
int cl_views_select(const cl_store *s, const char *spec, cl_view_list *out,
                    cl_error *err);
void cl_view_list_free(cl_view_list *l);
/* The update of view task i on module m. */
int cl_view_update(cl_store *s, const cl_view *v, int i, int m,
                   cl_lowrank *out, cl_error *err);

/* Modules whose names match glob (fnmatch), in store order. NULL: all. */
int cl_modules_select(const cl_store *s, const char *glob, int **idx, int *n,
                      cl_error *err);

/*
 * The shared walk: for each selected module, load every task update of the
 * view and call fn. Peak memory is one module of all tasks. fn returns CL_OK
 * or an error code (it fills err).
 */
typedef int (*cl_module_fn)(void *ctx, int module, const cl_lowrank *u,
                            int n, cl_error *err);
int cl_walk(cl_store *s, const cl_view *v, const int *modules, int n_modules,
            cl_module_fn fn, void *ctx, cl_error *err);

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

/* ------------------------------------------------------------ safetensors */

/* A bounds-checked safetensors reader (and writer), shared by the model
 * loader and the PEFT importer. Hostile input gives an error naming the file,
 * the tensor and the reason, never a crash. */
typedef enum {
    CL_ST_F64, CL_ST_F32, CL_ST_F16, CL_ST_BF16, CL_ST_I64, CL_ST_I32, CL_ST_I16,
    CL_ST_I8, CL_ST_U8, CL_ST_BOOL
} cl_st_dtype;

#define CL_ST_MAX_DIMS 8

typedef struct cl_st_tensor {
    char *name;
    cl_st_dtype dtype;
    int ndim;
    int64_t shape[CL_ST_MAX_DIMS];
    int64_t count;              /* elements */
    uint64_t begin, end;        /* byte range in the data buffer */
} cl_st_tensor;

typedef struct cl_safetensors cl_safetensors;

int cl_st_open(const char *path, cl_safetensors **out, cl_error *err);
/* Parse an in-memory file (buf must outlive the object); name is for messages. */
int cl_st_parse(const uint8_t *buf, size_t len, const char *name, cl_safetensors **out,
                cl_error *err);
void cl_st_close(cl_safetensors *st);
const char *cl_st_path(const cl_safetensors *st);
int cl_st_count(const cl_safetensors *st);
const cl_st_tensor *cl_st_get(const cl_safetensors *st, int i);
const cl_st_tensor *cl_st_find(const cl_safetensors *st, const char *name);
const char *cl_st_metadata(const cl_safetensors *st, const char *key);
const char *cl_st_dtype_name(cl_st_dtype d);
int cl_st_dtype_size(cl_st_dtype d);
/* F32, F16, BF16 or F64 converted to float32 into out[t->count]. */
int cl_st_read_f32(cl_safetensors *st, const cl_st_tensor *t, float *out, cl_error *err);
/* I32 or I64 (range-checked) into out[t->count]. */
int cl_st_read_i32(cl_safetensors *st, const cl_st_tensor *t, int32_t *out, cl_error *err);
float cl_half_to_float(uint16_t h);

typedef struct cl_st_write_tensor {
    const char *name;
    cl_st_dtype dtype;
    int ndim;
    int64_t shape[CL_ST_MAX_DIMS];
    const void *data;           /* little-endian elements, row-major */
} cl_st_write_tensor;

/* Write tensors in order (8-byte aligned data, written beside path and
 * renamed over it). meta: n_meta key/value pairs, or NULL. */
int cl_st_write(const char *path, const cl_st_write_tensor *t, int n,
                const char *const *meta, int n_meta, cl_error *err);

/* ------------------------------------------------- PEFT import and export */

/*
 * Adapters trained with Hugging Face PEFT (docs/IMPORT.md). An adapter
 * directory holds adapter_config.json and adapter_model.safetensors; the
 * tensors base_model.model.<module>.lora_A.weight (r x d_in) and
 * .lora_B.weight (d_out x r) become module <module> with dW = scale * B * A,
 * d_out x d_in in nn.Linear orientation whatever fan_in_fan_out says (PEFT
 * stores the factors the same way for GPT-2's Conv1D; only its merge
 * transposes). scale is PEFT's: lora_alpha / r, or lora_alpha / sqrt(r) with
 * use_rslora, after rank_pattern / alpha_pattern. A cumulative checkpoint of
 * the O-LoRA / N-LoRA code (earlier tasks concatenated along the rank in
 * lora_A / lora_B, the current one in loranew_A / loranew_B) holds one task
 * per r-slice.
 */

/* Something read but not imported (a non-LoRA tensor, a target that matches
 * no tensor, ...): reported, never dropped in silence. */
typedef void (*cl_peft_note_fn)(void *ctx, const char *file, const char *object,
                                const char *reason);

typedef struct cl_peft_module {
    const char *name;     /* module path, e.g. model.layers.0.self_attn.q_proj */
    int64_t d_out, d_in;
    int32_t rank;
    double alpha;         /* lora_alpha after alpha_pattern                     */
    double scale;         /* PEFT's scaling                                     */
} cl_peft_module;

/* What adapter_config.json says (PEFT's defaults where a key is missing) and
 * what the safetensors file holds. */
typedef struct cl_peft_info {
    const char *dir;
    const char *base_model;   /* base_model_name_or_path; "" when missing       */
    const char *task_type;    /* "" when missing                                */
    const char *dtype;        /* factor dtypes in the file, e.g. "BF16", "F16+F32" */
    int r;
    double alpha;             /* lora_alpha                                      */
    int use_rslora;
    int fan_in_fan_out;
    int cumulative;           /* an O-LoRA / N-LoRA cumulative checkpoint        */
    int n_tasks;              /* 1, or the tasks of a cumulative checkpoint      */
    int n_modules;
    int n_skipped;            /* tensors reported through the note callback      */
} cl_peft_info;

typedef struct cl_peft_adapter cl_peft_adapter;

/* Read and validate dir's config and safetensors header (no tensor data yet).
 * A pickle adapter_model.bin is refused with a message saying how to convert
 * it. note (may be NULL) hears about every tensor skipped. */
int cl_peft_open(const char *dir, cl_peft_note_fn note, void *ctx, cl_peft_adapter **out,
                 cl_error *err);
void cl_peft_close(cl_peft_adapter *a);
const cl_peft_info *cl_peft_get_info(const cl_peft_adapter *a);
/* Module m (natural order of names) of task t. */
const cl_peft_module *cl_peft_module_at(const cl_peft_adapter *a, int t, int m);
/* Task t's factors of module m as float32, checked for NaN/Inf: A rank x d_in,
 * B d_out x rank (row-major). */
int cl_peft_read(cl_peft_adapter *a, int t, int m, float *A, float *B, cl_error *err);

typedef struct cl_peft_import_spec {
    const char *const *task_names; /* NULL: from the directory names           */
    int n_task_names;              /* must equal the number of tasks            */
    const char *created_by;        /* NULL: "collide-import <version>"          */
    void (*progress)(void *ctx, int task, int n_tasks); /* NULL: none           */
    void *progress_ctx;
    cl_peft_note_fn note;          /* NULL: none; hears e.g. differing bases    */
    void *note_ctx;
} cl_peft_import_spec;

/* Write a store holding every task of the n adapters in training order, one
 * end-of-task snapshot each, method "imported". Module sets and shapes must
 * agree (the first mismatch is the error); ranks and scales may differ. The
 * store is written under a temporary name and renamed over path only once
 * complete, so a failure leaves path as it was. */
int cl_peft_import(const char *path, cl_peft_adapter *const *a, int n,
                   const cl_peft_import_spec *spec, cl_error *err);

typedef struct cl_peft_export_spec {
    const char *snapshot;  /* "task-ends" (NULL), "last" or a snapshot id      */
    const char *task_type; /* written as task_type; NULL: null                  */
    int fan_in_fan_out;    /* CL_PEFT_FIFO_*                                    */
    /* Called with every file path the export would write, before any is
     * written; nonzero (with err set) stops the export. NULL: none. */
    int (*check_output)(void *ctx, const char *path, cl_error *err);
    void *check_ctx;
} cl_peft_export_spec;

/* fan_in_fan_out of exported configs. AUTO (0): true when every module is
 * named like a GPT-2 Conv1D (c_attn, c_proj, c_fc); PEFT corrects a wrong
 * value itself, with a warning. */
enum { CL_PEFT_FIFO_AUTO = 0, CL_PEFT_FIFO_FALSE = 1, CL_PEFT_FIFO_TRUE = 2 };

/* One adapter directory written by cl_peft_export. */
typedef struct cl_peft_exported {
    char *task;
    char *dir;             /* <out_dir>/<task name>                             */
    int64_t snapshot;
    int n_modules;
    int r;
    double alpha;
    int use_rslora;
    int fan_in_fan_out;
    int n_rank_pattern, n_alpha_pattern;
    int inexact;           /* modules whose scale no lora_alpha reproduces
                              exactly (PEFT's scale is then within 1 ulp)        */
} cl_peft_exported;

/* Write one PEFT adapter directory per task of the view (F32 factors; every
 * file written atomically), loadable with PeftModel.from_pretrained. */
int cl_peft_export(cl_store *s, const char *out_dir, const cl_peft_export_spec *spec,
                   cl_peft_exported **out, int *n_out, cl_error *err);
void cl_peft_exported_free(cl_peft_exported *e, int n);

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
