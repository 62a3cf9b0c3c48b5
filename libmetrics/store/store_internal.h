/*
 * store_internal.h -- the in-memory form of an open store, shared by the
 * reader (store_read.c) and the writer (store_write.c). The on-disk layout
 * is documented in docs/FORMAT.md; the names below are its object paths.
 */
#ifndef CL_STORE_INTERNAL_H
#define CL_STORE_INTERNAL_H

#include "h5util.h"

#define CL_FORMAT_NAME "collide-store"
#define CL_FORMAT_VERSION 2 /* 2: ranked accuracy, test and label counts */

/* Metadata read attempts in SWMR mode (HDF5's default, 100, sleeps 2^k ns
 * before attempt k: a damaged checksum would stall a reader for ever). */
#define CL_SWMR_READ_ATTEMPTS 24

#define P_TASK_NAME "tasks/name"
#define P_TASK_LAMBDA "tasks/lambda"
#define P_TASK_DATA "tasks/data"
#define P_TASK_BASE "tasks/baseline"
#define P_ACCURACY "accuracy"
#define P_ACCURACY_RANKED "accuracy_ranked"  /* format 2 */
#define P_TASK_BASE_RANKED "tasks/baseline_ranked" /* format 2 */
#define P_TASK_NTEST "tasks/n_test"        /* format 2 */
#define P_TASK_NLABELS "tasks/n_labels"    /* format 2 */
#define P_TASK_ALPHA "tasks/lora_alpha"    /* optional: per-task alpha ...     */
#define P_TASK_RSLORA "tasks/use_rslora"   /* ... and rule (imported stores)  */
#define P_MOD_NAME "modules/name"
#define P_MOD_DOUT "modules/d_out"
#define P_MOD_DIN "modules/d_in"
#define P_MOD_RANK "modules/rank"
#define P_TABLE "snapshots/table"
#define P_SNAP_RANK "snapshots/rank"
#define P_SNAP_SCALE "snapshots/scale"
#define P_COMMITTED "snapshots/committed"
#define P_RESUME_STATE "resume/state"
#define P_RESUME_SNAP "resume/snapshot"

struct cl_store {
    char *path;
    hid_t file;
    int writable;
    int poisoned;           /* writer: a write failed; nothing more reaches the file */
    int64_t trim_to;        /* writer, closing: the end of the file once closed */
    int lock_fd;            /* writer: OFD lock against a second writer */
    int version;

    cl_run_meta meta;
    char *s_method, *s_rule, *s_penalty, *s_base, *s_created, *s_config, *s_name, *s_origin;

    int T;
    char **task_name;
    double *task_lambda;
    char **task_data;

    int M;
    char **mod_name;
    int64_t *d_out, *d_in;
    int32_t *mrank;

    int64_t N, cap;         /* committed snapshots; allocated rows */
    cl_snapshot_row *rows;
    int32_t *snap_rank;     /* [cap * M] */
    double *snap_scale;     /* [cap * M] */
    int64_t *task_end;      /* [T] */

    double *R[CL_EVAL_COUNT], *baseline[CL_EVAL_COUNT]; /* per protocol */
    int64_t *n_test, *n_labels; /* per task; 0: unknown (format 1) */
    double *task_alpha;         /* per task; NaN: not recorded */
    int32_t *task_rslora;       /* per task; -1: not recorded */

    hid_t *dA, *dB;         /* per module */
    hid_t d_table, d_rank, d_scale, d_committed, d_acc[CL_EVAL_COUNT], d_base[CL_EVAL_COUNT];
    hid_t d_res_state, d_res_snap;
    int64_t resume_bytes;
};

/* Memory and file types of the snapshot table (compound). */
hid_t cl_table_mem_type(void);
hid_t cl_table_file_type(void);

void cl_store_free(cl_store *s);
/* After a failed write: stop every further write to the file (store_common.c). */
void cl_store_poison(cl_store *s);
/* Grow rows/snap_rank/snap_scale to hold at least n rows. */
int cl_store_reserve(cl_store *s, int64_t n, cl_error *err);
/* Recompute task_end[] from the rows. */
void cl_store_index_tasks(cl_store *s);

/* Writing (store_write.c, store_layout.c). Snapshot-table rows per chunk. */
#define CL_TABLE_CHUNK 256
/* "PATH: WHAT: <HDF5's innermost reason>" into err; returns code. */
int cl_store_h5fail(cl_error *err, int code, const char *path, const char *what);
/* A write to s failed: report it, and let nothing more reach the file. */
int cl_store_write_fail(cl_store *s, cl_error *err, const char *what);
int cl_store_check_spec(const char *path, const cl_store_spec *sp, cl_error *err);
/* Objects that are written once at creation. */
int cl_store_create_layout(cl_store *s, const cl_store_spec *sp, cl_error *err);

/* The store read and checked in this process (store_read.c), without the
 * throw-away child that cl_store_open runs first (store_open.c). */
int cl_store_open_direct(const char *path, cl_store **out, cl_error *err);

/* The origin a store without /@origin has: "imported" and "synthetic" stores
 * were named by their method before the attribute existed. */
const char *cl_store_origin_of(const char *method);

#endif
