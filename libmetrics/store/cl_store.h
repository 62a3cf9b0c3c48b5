/*
 * cl_store.h -- the adapter store (libmetrics/store/, target collide_store):
 * reading and writing the HDF5 store of docs/FORMAT.md, and the views of it
 * the metrics walk (which update stands for each task at a snapshot).
 */
#ifndef CL_STORE_H
#define CL_STORE_H

#include "cl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    const char *name;          /* the run's label in tables and figures ("":
                                  none; the tools then use the file name)    */
    const char *origin;        /* "trained", "imported" or "synthetic": who
                                  wrote the adapters (method may be a label
                                  an importer gave, e.g. "olora")            */
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
 * file, the object and the reason. Only committed snapshots are visible.
 *
 * cl_store_open FORKS A CHILD PROCESS on every call. libhdf5 does not
 * checksum all of a file's metadata and reads past its buffers (or loops)
 * on some damage, so the metadata is first read in a throw-away child
 * (fork(), no exec) that reports back through a pipe; this process reads
 * the file only if the child opened it, and a file that crashed the child,
 * or kept it busy 20 s, is refused as damaged (docs/GUARANTEES.md). What
 * the caller sees: fflush(NULL) before the fork (every stdio output stream
 * of the process is flushed); a child that shares the process's memory
 * image, has stdout and stderr on /dev/null, restores SIGALRM to its
 * default and leaves through _exit (no atexit handlers, no stdio flush);
 * the child reaped by waitpid on its own pid (a SIGCHLD handler sees it).
 * Where fork or pipe fails the file is read in-process only.
 *
 * cl_store_open_with(path, CL_STORE_NO_CHILD, ...) reads the file in this
 * process only, with the same checks and the same messages: for a file the
 * caller trusts (one it has just written itself), or a process that must
 * not fork (threads that may hold locks the child would need, a sandbox).
 * A damaged file may then crash or hang the caller. cl_store_open is
 * cl_store_open_with(path, 0, ...). Unknown flag bits are refused
 * (CL_ERR_ARG). */
enum { CL_STORE_NO_CHILD = 1u << 0 };
int cl_store_open(const char *path, cl_store **out, cl_error *err);
int cl_store_open_with(const char *path, unsigned flags, cl_store **out, cl_error *err);
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

/* ------------------------------------------------------------ labels */

/* What a run is, for adapters trained elsewhere (docs/IMPORT.md, "Labels"):
 * set by collide-import on a new store, or on an existing one by
 * cl_store_annotate. A NULL / NaN field is left as it is. */
typedef struct cl_run_labels {
    const char *method;      /* olora, nlora, inclora, ... or another name   */
    const char *name;        /* the run's label; "" removes it               */
    double lambda_sparse;    /* N-LoRA lambda (every task's too)             */
    double lambda_orth;      /* O-LoRA lambda1                               */
    const double *accuracy;  /* T x T, R[i][j] after task i on task j; NaN =
                                not evaluated                                */
    const double *baseline;  /* T                                            */
    cl_eval eval;            /* the protocol they were measured under        */
} cl_run_labels;

void cl_run_labels_init(cl_run_labels *l);
int cl_run_labels_empty(const cl_run_labels *l);
/* Labels fit for a store of T tasks: the method a name of letters, digits
 * and + - _ . (not "synthetic"), lambdas finite and >= 0, accuracies in
 * [0, 1] or NaN. */
int cl_run_labels_check(const cl_run_labels *l, int T, cl_error *err);
/* The set fields of l written over m (pointers are l's). */
void cl_run_labels_apply(const cl_run_labels *l, cl_run_meta *m);
/* Rewrite the labels of the store at path: the file is copied beside it,
 * changed, read back and renamed over path, so a failure leaves it as it
 * was. A collide-train store takes only a name (its method, lambdas and
 * accuracies are the trainer's record). */
int cl_store_annotate(const char *path, const cl_run_labels *l, cl_error *err);

/* An accuracy matrix for the T tasks named tasks[], from a CSV or JSON file
 * (docs/IMPORT.md, "Accuracy files"): R (T x T) and baseline (T), NaN where
 * not given. *percent: the file was in percent (a value above 1) and has
 * been divided by 100. */
int cl_accuracy_file_read(const char *file, const char *const *tasks, int T, double *R,
                          double *baseline, int *has_baseline, int *percent, cl_error *err);

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

#ifdef __cplusplus
}
#endif
#endif
