/* store_common.c -- what the store's reader and writer share. */
#include "store_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static hid_t kind_type(hid_t base)
{
    hid_t e = H5Tenum_create(base);
    int32_t v = CL_SNAP_PERIODIC;
    H5Tenum_insert(e, "periodic", &v);
    v = CL_SNAP_END_OF_TASK;
    H5Tenum_insert(e, "end_of_task", &v);
    return e;
}

/* Fields in one table so the memory and file types cannot drift apart. */
#define TABLE_FIELDS(X)                                                   \
    X("id", id, H5T_NATIVE_INT64, H5T_STD_I64LE, 8)                       \
    X("task", task, H5T_NATIVE_INT32, H5T_STD_I32LE, 4)                   \
    X("epoch", epoch, H5T_NATIVE_INT32, H5T_STD_I32LE, 4)                 \
    X("step", step, H5T_NATIVE_INT64, H5T_STD_I64LE, 8)                   \
    X("loss", loss, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8)                 \
    X("loss_task", loss_task, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8)       \
    X("penalty_orth", penalty_orth, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8) \
    X("penalty_l2", penalty_l2, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8)     \
    X("penalty_sparse", penalty_sparse, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8) \
    X("wall_time", wall_time, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8)

hid_t cl_table_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(cl_snapshot_row));
#define MEM(name, field, mt, ft, sz) H5Tinsert(t, name, offsetof(cl_snapshot_row, field), mt);
    TABLE_FIELDS(MEM)
#undef MEM
    hid_t k = kind_type(H5T_NATIVE_INT32);
    H5Tinsert(t, "kind", offsetof(cl_snapshot_row, kind), k);
    H5Tclose(k);
    return t;
}

hid_t cl_table_file_type(void)
{
    size_t size = 0;
#define SZ(name, field, mt, ft, sz) size += sz;
    TABLE_FIELDS(SZ)
#undef SZ
    hid_t t = H5Tcreate(H5T_COMPOUND, size + 4);
    size_t off = 0;
#define FILE_(name, field, mt, ft, sz) H5Tinsert(t, name, off, ft); off += sz;
    TABLE_FIELDS(FILE_)
#undef FILE_
    hid_t k = kind_type(H5T_STD_I32LE);
    H5Tinsert(t, "kind", off, k);
    H5Tclose(k);
    return t;
}

static void free_strings(char **s, int n)
{
    if (s)
        for (int i = 0; i < n; i++)
            free(s[i]);
    free(s);
}

/*
 * A write failed (a full disk, an I/O error). HDF5 would go on flushing its
 * metadata cache -- on close at the latest -- and write metadata pointing at
 * data the failed write never put there: the store would no longer open
 * ("truncated file"), and closing such a file leaves libhdf5 1.10 to crash
 * at exit. So the library's descriptor is pointed at /dev/null: its later
 * writes go nowhere and succeed, and the file stays exactly as it was when
 * the write failed -- what a writer killed at that moment leaves, which the
 * commit protocol (docs/FORMAT.md) keeps readable, every committed snapshot
 * intact.
 */
void cl_store_poison(cl_store *s)
{
    if (!s || s->poisoned || s->file < 0)
        return;
    s->poisoned = 1;
    void *h = NULL;
    if (H5Fget_vfd_handle(s->file, H5P_DEFAULT, &h) < 0 || !h) {
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    int fd = *(int *)h, dn = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dn >= 0) {
        dup2(dn, fd);
        close(dn);
    }
}

void cl_store_free(cl_store *s)
{
    if (!s)
        return;
    if (s->dA)
        for (int m = 0; m < s->M; m++) {
            if (s->dA[m] > 0)
                H5Dclose(s->dA[m]);
            if (s->dB[m] > 0)
                H5Dclose(s->dB[m]);
        }
    hid_t ds[] = {s->d_table, s->d_rank, s->d_scale, s->d_committed, s->d_acc[0], s->d_acc[1],
                  s->d_base[0], s->d_base[1], s->d_res_state, s->d_res_snap};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        if (ds[i] > 0)
            H5Dclose(ds[i]);
    if (s->file > 0)
        H5Fclose(s->file);
    /* Space reserved ahead of writing (store_write.c) and never used. */
    struct stat sb;
    if (s->trim_to > 0 && s->lock_fd >= 0 && fstat(s->lock_fd, &sb) == 0 &&
        sb.st_size > s->trim_to) {
        int trimmed = ftruncate(s->lock_fd, (off_t)s->trim_to);
        (void)trimmed; /* if not, the zeros stay: the store reads the same */
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s->s_method);
    free(s->s_rule);
    free(s->s_penalty);
    free(s->s_base);
    free(s->s_created);
    free(s->s_config);
    free(s->s_name);
    free(s->s_origin);
    free_strings(s->task_name, s->T);
    free_strings(s->task_data, s->T);
    free(s->task_lambda);
    free_strings(s->mod_name, s->M);
    free(s->d_out);
    free(s->d_in);
    free(s->mrank);
    free(s->rows);
    free(s->snap_rank);
    free(s->snap_scale);
    free(s->task_end);
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        free(s->R[e]), free(s->baseline[e]);
    free(s->n_test);
    free(s->n_labels);
    free(s->task_alpha);
    free(s->task_rslora);
    free(s->dA);
    free(s->dB);
    free(s);
}

int cl_store_h5fail(cl_error *err, int code, const char *path, const char *what)
{
    char r[256];
    cl_h5_reason(r, sizeof r);
    return cl_error_set(err, code, "%s: %s%s%s", path, what, r[0] ? ": " : "", r);
}

int cl_store_write_fail(cl_store *s, cl_error *err, const char *what)
{
    int rc = cl_store_h5fail(err, CL_ERR_IO, s->path, what);
    cl_store_poison(s);
    return rc;
}

int cl_store_reserve(cl_store *s, int64_t n, cl_error *err)
{
    if (n <= s->cap)
        return CL_OK;
    int64_t cap = s->cap ? s->cap : 16;
    while (cap < n)
        cap *= 2;
    cl_snapshot_row *rows = realloc(s->rows, (size_t)cap * sizeof *rows);
    if (rows)
        s->rows = rows;
    int32_t *rk = realloc(s->snap_rank, (size_t)cap * (size_t)s->M * sizeof *rk);
    if (rk)
        s->snap_rank = rk;
    double *sc = realloc(s->snap_scale, (size_t)cap * (size_t)s->M * sizeof *sc);
    if (sc)
        s->snap_scale = sc;
    if (!rows || !rk || !sc)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory for %lld snapshots", s->path,
                            (long long)cap);
    s->cap = cap;
    return CL_OK;
}

void cl_store_index_tasks(cl_store *s)
{
    for (int t = 0; t < s->T; t++)
        s->task_end[t] = -1;
    for (int64_t i = 0; i < s->N; i++)
        if (s->rows[i].kind == CL_SNAP_END_OF_TASK)
            s->task_end[s->rows[i].task] = i;
}

/* ---------------------------------------------------------------- accessors */

const char *cl_store_path(const cl_store *s) { return s->path; }
int cl_store_format_version(const cl_store *s) { return s->version; }
const cl_run_meta *cl_store_meta(const cl_store *s) { return &s->meta; }
int cl_store_n_tasks(const cl_store *s) { return s->T; }
const char *cl_store_task_name(const cl_store *s, int t) { return s->task_name[t]; }
double cl_store_task_lambda(const cl_store *s, int t) { return s->task_lambda[t]; }
const char *cl_store_task_data(const cl_store *s, int t) { return s->task_data[t]; }
int cl_store_n_modules(const cl_store *s) { return s->M; }
const char *cl_store_module_name(const cl_store *s, int m) { return s->mod_name[m]; }
int64_t cl_store_module_d_out(const cl_store *s, int m) { return s->d_out[m]; }
int64_t cl_store_module_d_in(const cl_store *s, int m) { return s->d_in[m]; }
int32_t cl_store_module_rank(const cl_store *s, int m) { return s->mrank[m]; }
int64_t cl_store_n_snapshots(const cl_store *s) { return s->N; }
int64_t cl_store_resume_bytes(const cl_store *s) { return s->resume_bytes; }

const cl_snapshot_row *cl_store_snapshot(const cl_store *s, int64_t id)
{
    return id >= 0 && id < s->N ? &s->rows[id] : NULL;
}

int32_t cl_store_snapshot_rank(const cl_store *s, int64_t id, int m)
{
    return id >= 0 && id < s->N && m >= 0 && m < s->M ? s->snap_rank[id * s->M + m] : 0;
}

double cl_store_snapshot_scale(const cl_store *s, int64_t id, int m)
{
    return id >= 0 && id < s->N && m >= 0 && m < s->M ? s->snap_scale[id * s->M + m] : NAN;
}

int64_t cl_store_task_end(const cl_store *s, int t)
{
    return t >= 0 && t < s->T ? s->task_end[t] : -1;
}

const double *cl_store_accuracy(const cl_store *s, cl_eval e) { return s->R[e]; }
const double *cl_store_baseline(const cl_store *s, cl_eval e) { return s->baseline[e]; }
int64_t cl_store_task_n_test(const cl_store *s, int t) { return s->n_test[t]; }
int64_t cl_store_task_n_labels(const cl_store *s, int t) { return s->n_labels[t]; }
double cl_store_task_alpha(const cl_store *s, int t) { return s->task_alpha[t]; }
int cl_store_task_rslora(const cl_store *s, int t) { return s->task_rslora[t]; }

const char *cl_eval_name(cl_eval e)
{
    return e == CL_EVAL_RANKED ? "ranked" : "generation";
}

int cl_store_has_eval(const cl_store *s, cl_eval e)
{
    for (int i = 0; i < s->T * s->T; i++)
        if (!isnan(s->R[e][i]))
            return 1;
    return 0;
}

double cl_acc_stderr(double p, int64_t n)
{
    if (n <= 0 || isnan(p))
        return NAN;
    return sqrt(p * (1 - p) / (double)n);
}

int cl_store_close(cl_store *s, cl_error *err)
{
    if (!s)
        return CL_OK;
    int rc = CL_OK;
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    if (s->writable && s->poisoned) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: closed after a failed write; it holds the "
                          "snapshots committed before it", s->path);
    } else if (s->writable && s->file > 0 && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        rc = cl_error_set(err, CL_ERR_IO, "%s: flush on close failed: %s", s->path, r);
        cl_store_poison(s);
    } else if (s->writable && s->file > 0) {
        haddr_t eoa;
        if (H5Fget_eoa(s->file, &eoa) >= 0)
            s->trim_to = (int64_t)eoa;
        H5Eclear2(H5E_DEFAULT);
    }
    cl_store_free(s);
    cl_h5_quiet_end(&q);
    return rc;
}

const char *cl_store_origin_of(const char *method)
{
    if (method && !strcmp(method, "imported"))
        return "imported";
    if (method && !strcmp(method, "synthetic"))
        return "synthetic";
    return "trained";
}
