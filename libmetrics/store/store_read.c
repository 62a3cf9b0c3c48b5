/*
 * store_read.c -- opening a store and checking every object before use.
 *
 * A reader trusts nothing: each object is checked for presence, dtype and
 * shape, values for NaN/Inf and range, and the format version against the one
 * this build knows. Messages name the file, the object and the reason. Only
 * the snapshots covered by /snapshots/committed are visible.
 */
#include "store_internal.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int fmt_err(cl_error *err, const cl_store *s, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fmt_err(cl_error *err, const cl_store *s, const char *obj, const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return cl_error_set(err, CL_ERR_FORMAT, "%s: /%s: %s", s->path, obj, reason);
}

static int value_err(cl_error *err, const cl_store *s, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int value_err(cl_error *err, const cl_store *s, const char *obj, const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return cl_error_set(err, CL_ERR_VALUE, "%s: /%s: %s", s->path, obj, reason);
}

/* Open a file read-only; a store whose writer is still running, or was
 * killed, carries an "open for writing" mark that only an SWMR reader may
 * pass. */
static hid_t open_file(const char *path, cl_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno)), -1;
    if (!S_ISREG(st.st_mode))
        return cl_error_set(err, CL_ERR_IO, "%s: not a regular file", path), -1;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno)), -1;
    fclose(fp);
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: not an HDF5 file (no HDF5 signature; truncated or another format)",
                            path), -1;
    }
    /* A strong close degree: closing the file closes whatever a failed read
     * left open, so that HDF5 has nothing left to close at exit. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f >= 0) {
        H5Pclose(fapl);
        return f;
    }
    char first[256];
    cl_h5_reason(first, sizeof first);
    /* An SWMR reader retries a metadata read whose checksum fails (the
     * writer may be mid-flush), sleeping 2^k ns before attempt k: HDF5's
     * default of 100 attempts turns one damaged byte into a wait of
     * centuries. 24 attempts wait at most ~17 ms in all, ample for a live
     * writer's flush, and a damaged file fails promptly. */
    H5Pset_metadata_read_attempts(fapl, CL_SWMR_READ_ATTEMPTS);
    f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    H5Pclose(fapl);
    if (f >= 0)
        return f;
    char r[256];
    cl_h5_reason(r, sizeof r);
    cl_error_set(err, CL_ERR_FORMAT, "%s: cannot open as HDF5 (damaged or truncated): %s", path,
                 first[0] ? first : r);
    return -1;
}

/* A string attribute that older stores lack: def when absent. */
static int read_optional_str(hid_t f, const char *p, const char *name, const char *def,
                             char **out, cl_error *err)
{
    if (H5Aexists(f, name) > 0)
        return cl_h5_attr_read_str(f, p, name, out, err);
    H5Eclear2(H5E_DEFAULT);
    *out = cl_strdup(def, err);
    return *out ? CL_OK : err->code;
}

static int read_meta(cl_store *s, cl_error *err)
{
    hid_t f = s->file;
    const char *p = s->path;
    char *fmt = NULL;
    int64_t ver, rank;
    int rc = cl_h5_attr_read_str(f, p, "format", &fmt, err);
    if (rc)
    {
        if (err->code != CL_ERR_FORMAT)
            return rc;
        /* err->msg is both the reason and the destination: copy it first */
        char why[sizeof err->msg];
        size_t lp = strlen(p);
        const char *m = err->msg;
        if (!strncmp(m, p, lp) && m[lp] == ':' && m[lp + 1] == ' ')
            m += lp + 2;
        snprintf(why, sizeof why, "%s", m);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: not a collide store (%s)", p, why);
    }
    if (strcmp(fmt, CL_FORMAT_NAME) != 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@format: \"%s\" is not a collide store", p,
                          fmt);
        free(fmt);
        return rc;
    }
    free(fmt);
    if ((rc = cl_h5_attr_read_i64(f, p, "format_version", &ver, err)))
        return rc;
    if (ver > CL_FORMAT_VERSION)
        return cl_error_set(err, CL_ERR_VERSION,
                            "%s: /@format_version: version %lld is newer than this collide "
                            "reads (%d); upgrade collide",
                            p, (long long)ver, CL_FORMAT_VERSION);
    if (ver < 1)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /@format_version: invalid version %lld", p,
                            (long long)ver);
    s->version = (int)ver;
    cl_run_meta *m = &s->meta;
    if ((rc = cl_h5_attr_read_str(f, p, "method", &s->s_method, err)) ||
        (rc = cl_h5_attr_read_i64(f, p, "rank", &rank, err)) ||
        (rc = cl_h5_attr_read_f64(f, p, "alpha", &m->alpha, err)) ||
        (rc = cl_h5_attr_read_f64(f, p, "scaling", &m->scaling, err)) ||
        (rc = cl_h5_attr_read_str(f, p, "scaling_rule", &s->s_rule, err)) ||
        (rc = cl_h5_attr_read_str(f, p, "penalty_form", &s->s_penalty, err)) ||
        (rc = cl_h5_attr_read_f64(f, p, "lambda_orth", &m->lambda_orth, err)) ||
        (rc = cl_h5_attr_read_f64(f, p, "lambda_l2", &m->lambda_l2, err)) ||
        (rc = cl_h5_attr_read_f64(f, p, "lambda_sparse", &m->lambda_sparse, err)) ||
        (rc = cl_h5_attr_read_u64(f, p, "seed", &m->seed, err)) ||
        (rc = cl_h5_attr_read_str(f, p, "base_model", &s->s_base, err)) ||
        (rc = cl_h5_attr_read_str(f, p, "created_by", &s->s_created, err)))
        return rc;
    /* optional: written by collide-train */
    if ((rc = read_optional_str(f, p, "train_config", "", &s->s_config, err)))
        return rc;
    /* optional since collide 0.3: the run's label and who wrote it */
    if ((rc = read_optional_str(f, p, "name", "", &s->s_name, err)) ||
        (rc = read_optional_str(f, p, "origin", cl_store_origin_of(s->s_method), &s->s_origin,
                                err)))
        return rc;
    if (strcmp(s->s_origin, "trained") && strcmp(s->s_origin, "imported") &&
        strcmp(s->s_origin, "synthetic"))
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: /@origin: \"%s\" is not trained, imported or synthetic", p,
                            s->s_origin);
    if (rank < 1 || rank > 65536)
        return cl_error_set(err, CL_ERR_VALUE, "%s: /@rank: %lld out of range", p, (long long)rank);
    m->rank = (int)rank;
    const char *names[] = {"alpha", "scaling", "lambda_orth", "lambda_l2", "lambda_sparse"};
    double vals[] = {m->alpha, m->scaling, m->lambda_orth, m->lambda_l2, m->lambda_sparse};
    for (int i = 0; i < 5; i++)
        if (!isfinite(vals[i]))
            return cl_error_set(err, CL_ERR_VALUE, "%s: /@%s: not finite", p, names[i]);
    m->method = s->s_method;
    m->scaling_rule = s->s_rule;
    m->penalty_form = s->s_penalty;
    m->base_model = s->s_base;
    m->created_by = s->s_created;
    m->train_config = s->s_config;
    m->name = s->s_name;
    m->origin = s->s_origin;
    return CL_OK;
}

/* Read a whole numeric dataset of known shape. */
static int read_full(cl_store *s, const char *name, H5T_class_t cls, size_t size,
                     hid_t mtype, int rank, const hsize_t *want, void *buf,
                     hid_t *keep, cl_error *err)
{
    hsize_t dims[3];
    hid_t d;
    int rc = cl_h5_open_checked(s->file, s->path, name, cls, size, rank, dims, &d, err);
    if (rc)
        return rc;
    for (int i = 0; i < rank; i++)
        if (dims[i] != want[i]) {
            char got[64] = "", exp[64] = "";
            for (int j = 0; j < rank; j++) {
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", j ? " x " : "",
                         (unsigned long long)dims[j]);
                snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%llu", j ? " x " : "",
                         (unsigned long long)want[j]);
            }
            H5Dclose(d);
            return fmt_err(err, s, name, "shape %s, expected %s", got, exp);
        }
    if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        H5Dclose(d);
        return fmt_err(err, s, name, "unreadable: %s", r);
    }
    if (keep)
        *keep = d;
    else
        H5Dclose(d);
    return CL_OK;
}

static int read_tasks_modules(cl_store *s, cl_error *err)
{
    hsize_t dims[2];
    hid_t d;
    int rc = cl_h5_open_checked(s->file, s->path, P_TASK_NAME, H5T_STRING, 0, 1, dims, &d, err);
    if (rc)
        return rc;
    H5Dclose(d);
    if (dims[0] < 1 || dims[0] > 100000)
        return fmt_err(err, s, P_TASK_NAME, "%llu tasks, expected 1 to 100000",
                       (unsigned long long)dims[0]);
    s->T = (int)dims[0];
    rc = cl_h5_open_checked(s->file, s->path, P_MOD_NAME, H5T_STRING, 0, 1, dims, &d, err);
    if (rc)
        return rc;
    H5Dclose(d);
    if (dims[0] < 1 || dims[0] > 1000000)
        return fmt_err(err, s, P_MOD_NAME, "%llu modules, expected 1 to 1000000",
                       (unsigned long long)dims[0]);
    s->M = (int)dims[0];
    int T = s->T, M = s->M;
    s->task_lambda = cl_alloc((size_t)T, sizeof(double), err);
    s->task_end = cl_alloc((size_t)T, sizeof(int64_t), err);
    for (int e = 0; e < CL_EVAL_COUNT; e++) {
        s->R[e] = cl_alloc((size_t)T * (size_t)T, sizeof(double), err);
        s->baseline[e] = cl_alloc((size_t)T, sizeof(double), err);
    }
    s->n_test = cl_alloc((size_t)T, sizeof(int64_t), err);
    s->n_labels = cl_alloc((size_t)T, sizeof(int64_t), err);
    s->task_alpha = cl_alloc((size_t)T, sizeof(double), err);
    s->task_rslora = cl_alloc((size_t)T, sizeof(int32_t), err);
    s->d_out = cl_alloc((size_t)M, sizeof(int64_t), err);
    s->d_in = cl_alloc((size_t)M, sizeof(int64_t), err);
    s->mrank = cl_alloc((size_t)M, sizeof(int32_t), err);
    s->dA = cl_alloc((size_t)M, sizeof(hid_t), err);
    s->dB = cl_alloc((size_t)M, sizeof(hid_t), err);
    if (!s->task_lambda || !s->task_end || !s->R[0] || !s->R[1] || !s->baseline[0] ||
        !s->baseline[1] || !s->n_test || !s->n_labels || !s->task_alpha || !s->task_rslora || !s->d_out || !s->d_in ||
        !s->mrank || !s->dA || !s->dB)
        return err->code;
    for (int m = 0; m < M; m++)
        s->dA[m] = s->dB[m] = -1;
    hsize_t wT = (hsize_t)T, wTT[2] = {(hsize_t)T, (hsize_t)T}, wM = (hsize_t)M;
    if ((rc = cl_h5_read_strings(s->file, s->path, P_TASK_NAME, T, &s->task_name, err)) ||
        (rc = cl_h5_read_strings(s->file, s->path, P_TASK_DATA, T, &s->task_data, err)) ||
        (rc = cl_h5_read_strings(s->file, s->path, P_MOD_NAME, M, &s->mod_name, err)) ||
        (rc = read_full(s, P_TASK_LAMBDA, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 1, &wT,
                        s->task_lambda, NULL, err)) ||
        (rc = read_full(s, P_TASK_BASE, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 1, &wT,
                        s->baseline[CL_EVAL_GENERATE], NULL, err)) ||
        (rc = read_full(s, P_ACCURACY, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 2, wTT,
                        s->R[CL_EVAL_GENERATE], NULL, err)) ||
        (rc = read_full(s, P_MOD_DOUT, H5T_INTEGER, 0, H5T_NATIVE_INT64, 1, &wM, s->d_out,
                        NULL, err)) ||
        (rc = read_full(s, P_MOD_DIN, H5T_INTEGER, 0, H5T_NATIVE_INT64, 1, &wM, s->d_in, NULL,
                        err)) ||
        (rc = read_full(s, P_MOD_RANK, H5T_INTEGER, 0, H5T_NATIVE_INT32, 1, &wM, s->mrank,
                        NULL, err)))
        return rc;
    /* format 2: the ranked protocol and the counts behind each accuracy */
    if (s->version >= 2) {
        if ((rc = read_full(s, P_TASK_BASE_RANKED, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 1, &wT,
                            s->baseline[CL_EVAL_RANKED], NULL, err)) ||
            (rc = read_full(s, P_ACCURACY_RANKED, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 2, wTT,
                            s->R[CL_EVAL_RANKED], NULL, err)) ||
            (rc = read_full(s, P_TASK_NTEST, H5T_INTEGER, 0, H5T_NATIVE_INT64, 1, &wT, s->n_test,
                            NULL, err)) ||
            (rc = read_full(s, P_TASK_NLABELS, H5T_INTEGER, 0, H5T_NATIVE_INT64, 1, &wT,
                            s->n_labels, NULL, err)))
            return rc;
    } else {
        for (int t = 0; t < T; t++) {
            s->baseline[CL_EVAL_RANKED][t] = NAN;
            s->n_test[t] = s->n_labels[t] = 0;
        }
        for (int i = 0; i < T * T; i++)
            s->R[CL_EVAL_RANKED][i] = NAN;
    }
    /* optional, any version: per-task alpha and rule of imported adapters */
    for (int t = 0; t < T; t++) {
        s->task_alpha[t] = NAN;
        s->task_rslora[t] = -1;
    }
    if (H5Lexists(s->file, P_TASK_ALPHA, H5P_DEFAULT) > 0 &&
        H5Lexists(s->file, P_TASK_RSLORA, H5P_DEFAULT) > 0) {
        if ((rc = read_full(s, P_TASK_ALPHA, H5T_FLOAT, 0, H5T_NATIVE_DOUBLE, 1, &wT,
                            s->task_alpha, NULL, err)) ||
            (rc = read_full(s, P_TASK_RSLORA, H5T_INTEGER, 0, H5T_NATIVE_INT32, 1, &wT,
                            s->task_rslora, NULL, err)))
            return rc;
        for (int t = 0; t < T; t++) {
            if (!(s->task_alpha[t] > 0) || !isfinite(s->task_alpha[t]))
                return value_err(err, s, P_TASK_ALPHA, "entry %d (%s) is %g, expected > 0", t,
                                 s->task_name[t], s->task_alpha[t]);
            if (s->task_rslora[t] != 0 && s->task_rslora[t] != 1)
                return value_err(err, s, P_TASK_RSLORA, "entry %d (%s) is %d, expected 0 or 1",
                                 t, s->task_name[t], (int)s->task_rslora[t]);
        }
    }
    for (int t = 0; t < T; t++) {
        if (s->n_test[t] < 0 || s->n_test[t] > ((int64_t)1 << 40))
            return value_err(err, s, P_TASK_NTEST, "entry %d (%s) is %lld, expected >= 0", t,
                             s->task_name[t], (long long)s->n_test[t]);
        if (s->n_labels[t] < 0 || s->n_labels[t] > 1000000)
            return value_err(err, s, P_TASK_NLABELS, "entry %d (%s) is %lld, expected >= 0", t,
                             s->task_name[t], (long long)s->n_labels[t]);
    }
    for (int t = 0; t < T; t++) {
        if (!s->task_name[t][0])
            return fmt_err(err, s, P_TASK_NAME, "entry %d is empty", t);
        if (!(isfinite(s->task_lambda[t]) && s->task_lambda[t] >= 0))
            return value_err(err, s, P_TASK_LAMBDA, "entry %d (%s) is %g, expected finite >= 0",
                             t, s->task_name[t], s->task_lambda[t]);
        for (int e = 0; e < CL_EVAL_COUNT; e++) {
            double b = s->baseline[e][t];
            if (!isnan(b) && !(b >= 0 && b <= 1))
                return value_err(err, s, e ? P_TASK_BASE_RANKED : P_TASK_BASE,
                                 "entry %d (%s) is %g, expected [0, 1] or NaN", t,
                                 s->task_name[t], b);
        }
    }
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        for (int i = 0; i < T * T; i++)
            if (!isnan(s->R[e][i]) && !(s->R[e][i] >= 0 && s->R[e][i] <= 1))
                return value_err(err, s, e ? P_ACCURACY_RANKED : P_ACCURACY,
                                 "R[%d][%d] is %g, expected an accuracy in [0, 1] or NaN", i / T,
                                 i % T, s->R[e][i]);
    for (int m = 0; m < M; m++) {
        if (!s->mod_name[m][0])
            return fmt_err(err, s, P_MOD_NAME, "entry %d is empty", m);
        if (s->d_out[m] < 1 || s->d_in[m] < 1 || s->d_out[m] > (1 << 24) ||
            s->d_in[m] > (1 << 24))
            return value_err(err, s, "modules", "module %s: shape %lld x %lld out of range",
                             s->mod_name[m], (long long)s->d_out[m], (long long)s->d_in[m]);
        if (s->mrank[m] < 1 || s->mrank[m] > 65536)
            return value_err(err, s, P_MOD_RANK, "module %s: rank %d out of range",
                             s->mod_name[m], s->mrank[m]);
    }
    return CL_OK;
}

/* /snapshots/committed: how many rows are visible. */
static int read_committed(cl_store *s, int64_t *committed, cl_error *err)
{
    hsize_t dims[3];
    hid_t d;
    int rc = cl_h5_open_checked(s->file, s->path, P_COMMITTED, H5T_INTEGER, 0, 0, dims, &d, err);
    if (rc)
        return rc;
    herr_t r = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, committed);
    H5Dclose(d);
    if (r < 0)
        return fmt_err(err, s, P_COMMITTED, "unreadable");
    if (*committed < 0)
        return value_err(err, s, P_COMMITTED, "negative count %lld", (long long)*committed);
    return CL_OK;
}

/* The snapshot table's first committed rows, into s->rows (s->N of them). */
static int read_table(cl_store *s, int64_t committed, cl_error *err)
{
    /* Table: a compound whose members we need by name. */
    hsize_t dims[3];
    int rc = cl_h5_open_checked(s->file, s->path, P_TABLE, H5T_COMPOUND, 0, 1, dims, &s->d_table,
                                err);
    if (rc)
        return rc;
    if ((int64_t)dims[0] < committed)
        return fmt_err(err, s, P_TABLE, "%llu rows, fewer than the %lld committed",
                       (unsigned long long)dims[0], (long long)committed);
    hid_t ft = H5Dget_type(s->d_table);
    const char *need[] = {"id", "task", "epoch", "step", "loss", "loss_task", "penalty_orth",
                          "penalty_l2", "penalty_sparse", "wall_time", "kind"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (H5Tget_member_index(ft, need[i]) < 0) {
            H5Eclear2(H5E_DEFAULT);
            H5Tclose(ft);
            return fmt_err(err, s, P_TABLE, "member \"%s\" missing", need[i]);
        }
    H5Tclose(ft);
    rc = cl_store_reserve(s, committed > 0 ? committed : 1, err);
    if (rc)
        return rc;
    s->N = committed;
    if (committed > 0) {
        hsize_t start = 0, count = (hsize_t)committed;
        hid_t fs = H5Dget_space(s->d_table), ms = H5Screate_simple(1, &count, NULL);
        hid_t mt = cl_table_mem_type();
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        herr_t r = H5Dread(s->d_table, mt, ms, fs, H5P_DEFAULT, s->rows);
        H5Tclose(mt);
        H5Sclose(ms);
        H5Sclose(fs);
        if (r < 0) {
            char why[256];
            cl_h5_reason(why, sizeof why);
            return fmt_err(err, s, P_TABLE, "unreadable (member types do not convert?): %s", why);
        }
    }
    return CL_OK;
}

/* Each row: its id, a known task and kind, finite losses, and task order
 * (the end of a task last). */
static int check_rows(const cl_store *s, int64_t committed, cl_error *err)
{
    for (int64_t i = 0; i < committed; i++) {
        const cl_snapshot_row *w = &s->rows[i];
        if (w->id != i)
            return value_err(err, s, P_TABLE, "row %lld has id %lld", (long long)i,
                             (long long)w->id);
        if (w->task < 0 || w->task >= s->T)
            return value_err(err, s, P_TABLE, "row %lld: task %d out of range [0, %d)",
                             (long long)i, w->task, s->T);
        if (w->kind != CL_SNAP_PERIODIC && w->kind != CL_SNAP_END_OF_TASK)
            return value_err(err, s, P_TABLE, "row %lld: unknown kind %d", (long long)i, w->kind);
        double v[] = {w->loss, w->loss_task, w->penalty_orth, w->penalty_l2, w->penalty_sparse,
                      w->wall_time};
        for (int k = 0; k < 6; k++)
            if (isinf(v[k]))
                return value_err(err, s, P_TABLE, "row %lld: infinite loss or time",
                                 (long long)i);
        if (i > 0) {
            const cl_snapshot_row *p = &s->rows[i - 1];
            if (w->task < p->task || (w->task == p->task && p->kind == CL_SNAP_END_OF_TASK))
                return value_err(err, s, P_TABLE,
                                 "row %lld: task %d follows %s of task %d (snapshots must go "
                                 "in task order, the end of a task last)",
                                 (long long)i, w->task,
                                 p->kind == CL_SNAP_END_OF_TASK ? "the end" : "a snapshot",
                                 p->task);
        }
    }
    return CL_OK;
}

/* Per-snapshot ranks and scales: read, and each rank within its module's. */
static int read_ranks_scales(cl_store *s, int64_t committed, cl_error *err)
{
    int M = s->M;
    hsize_t dims[3];
    hsize_t want2[2] = {(hsize_t)committed, (hsize_t)M};
    const char *n2[] = {P_SNAP_RANK, P_SNAP_SCALE};
    H5T_class_t c2[] = {H5T_INTEGER, H5T_FLOAT};
    hid_t mt2[] = {H5T_NATIVE_INT32, H5T_NATIVE_DOUBLE};
    void *buf2[] = {s->snap_rank, s->snap_scale};
    hid_t *keep2[] = {&s->d_rank, &s->d_scale};
    for (int k = 0; k < 2; k++) {
        int rc = cl_h5_open_checked(s->file, s->path, n2[k], c2[k], 0, 2, dims, keep2[k], err);
        if (rc)
            return rc;
        if (dims[0] < want2[0] || dims[1] != want2[1])
            return fmt_err(err, s, n2[k], "shape %llu x %llu, expected %lld x %d",
                           (unsigned long long)dims[0], (unsigned long long)dims[1],
                           (long long)committed, M);
        if (committed == 0)
            continue;
        hsize_t start[2] = {0, 0};
        hid_t fs = H5Dget_space(*keep2[k]), ms = H5Screate_simple(2, want2, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, want2, NULL);
        herr_t r = H5Dread(*keep2[k], mt2[k], ms, fs, H5P_DEFAULT, buf2[k]);
        H5Sclose(ms);
        H5Sclose(fs);
        if (r < 0)
            return fmt_err(err, s, n2[k], "unreadable");
    }
    for (int64_t i = 0; i < committed; i++)
        for (int m = 0; m < M; m++) {
            int32_t k = s->snap_rank[i * M + m];
            double sc = s->snap_scale[i * M + m];
            if (k < 1 || k > s->mrank[m])
                return value_err(err, s, P_SNAP_RANK,
                                 "snapshot %lld, module %s: rank %d outside [1, %d]",
                                 (long long)i, s->mod_name[m], k, s->mrank[m]);
            if (!isfinite(sc))
                return value_err(err, s, P_SNAP_SCALE, "snapshot %lld, module %s: %g",
                                 (long long)i, s->mod_name[m], sc);
        }
    return CL_OK;
}

/* Adapter datasets: shapes now, values when read. */
static int open_adapters(cl_store *s, int64_t committed, cl_error *err)
{
    hsize_t dims[3];
    for (int m = 0; m < s->M; m++) {
        char a[48], b[48];
        snprintf(a, sizeof a, "adapters/%06d/A", m);
        snprintf(b, sizeof b, "adapters/%06d/B", m);
        int rc = cl_h5_open_checked(s->file, s->path, a, H5T_FLOAT, 4, 3, dims, &s->dA[m], err);
        if (rc)
            return rc;
        if ((int64_t)dims[0] < committed || dims[1] != (hsize_t)s->mrank[m] ||
            dims[2] != (hsize_t)s->d_in[m])
            return fmt_err(err, s, a,
                           "shape %llu x %llu x %llu, expected %lld x %d x %lld (module %s)",
                           (unsigned long long)dims[0], (unsigned long long)dims[1],
                           (unsigned long long)dims[2], (long long)committed, s->mrank[m],
                           (long long)s->d_in[m], s->mod_name[m]);
        rc = cl_h5_open_checked(s->file, s->path, b, H5T_FLOAT, 4, 3, dims, &s->dB[m], err);
        if (rc)
            return rc;
        if ((int64_t)dims[0] < committed || dims[1] != (hsize_t)s->d_out[m] ||
            dims[2] != (hsize_t)s->mrank[m])
            return fmt_err(err, s, b,
                           "shape %llu x %llu x %llu, expected %lld x %lld x %d (module %s)",
                           (unsigned long long)dims[0], (unsigned long long)dims[1],
                           (unsigned long long)dims[2], (long long)committed,
                           (long long)s->d_out[m], s->mrank[m], s->mod_name[m]);
    }
    return CL_OK;
}

/* Optional resume slots. */
static int open_resume(cl_store *s, cl_error *err)
{
    if (H5Lexists(s->file, "resume", H5P_DEFAULT) <= 0)
        return CL_OK;
    hsize_t dims[3];
    int rc = cl_h5_open_checked(s->file, s->path, P_RESUME_STATE, H5T_INTEGER, 1, 2, dims,
                                &s->d_res_state, err);
    if (rc)
        return rc;
    if (dims[0] != 2)
        return fmt_err(err, s, P_RESUME_STATE, "expected 2 slots, found %llu",
                       (unsigned long long)dims[0]);
    s->resume_bytes = (int64_t)dims[1];
    rc = cl_h5_open_checked(s->file, s->path, P_RESUME_SNAP, H5T_INTEGER, 8, 1, dims,
                            &s->d_res_snap, err);
    if (rc)
        return rc;
    if (dims[0] != 2)
        return fmt_err(err, s, P_RESUME_SNAP, "expected 2 entries, found %llu",
                       (unsigned long long)dims[0]);
    return CL_OK;
}

static int read_snapshots(cl_store *s, cl_error *err)
{
    int64_t committed;
    int rc;
    if ((rc = read_committed(s, &committed, err)) || (rc = read_table(s, committed, err)) ||
        (rc = check_rows(s, committed, err)))
        return rc;
    cl_store_index_tasks(s);
    if ((rc = read_ranks_scales(s, committed, err)) || (rc = open_adapters(s, committed, err)) ||
        (rc = open_resume(s, err)))
        return rc;
    H5Eclear2(H5E_DEFAULT);
    return CL_OK;
}

int cl_store_open_direct(const char *path, cl_store **out, cl_error *err)
{
    *out = NULL;
    cl_store *s = cl_alloc(1, sizeof *s, err);
    if (!s)
        return err->code;
    s->file = s->d_table = s->d_rank = s->d_scale = s->d_committed = -1;
    s->d_acc[0] = s->d_acc[1] = s->d_base[0] = s->d_base[1] = s->d_res_state = s->d_res_snap = -1;
    s->lock_fd = -1;
    s->path = cl_strdup(path, err);
    if (!s->path) {
        free(s);
        return err->code;
    }
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    int rc;
    s->file = open_file(path, err);
    if (s->file < 0) {
        rc = err->code;
        goto fail;
    }
    if ((rc = read_meta(s, err)) || (rc = read_tasks_modules(s, err)) ||
        (rc = read_snapshots(s, err)))
        goto fail;
    cl_h5_quiet_end(&q);
    *out = s;
    return CL_OK;
fail:
    cl_store_free(s);
    cl_h5_quiet_end(&q);
    return rc;
}

static int read_slab(cl_store *s, hid_t d, const char *obj, int64_t id, hsize_t n1,
                     hsize_t n2, float *buf, cl_error *err)
{
    hsize_t start[3] = {(hsize_t)id, 0, 0}, count[3] = {1, n1, n2};
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(3, count, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0)
        r = H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0) {
        char why[256];
        cl_h5_reason(why, sizeof why);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /%s: snapshot %lld unreadable: %s",
                            s->path, obj, (long long)id,
                            why[0] ? why : "damaged (its chunk index fails its checksum)");
    }
    return CL_OK;
}

int cl_store_read_adapter(cl_store *s, int m, int64_t id, cl_lowrank *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (m < 0 || m >= s->M || id < 0 || id >= s->N)
        return cl_error_set(err, CL_ERR_ARG, "%s: module %d, snapshot %lld out of range",
                            s->path, m, (long long)id);
    int r = s->mrank[m], k = s->snap_rank[id * s->M + m];
    int64_t din = s->d_in[m], dout = s->d_out[m];
    float *A = cl_alloc((size_t)r * (size_t)din, sizeof *A, err);
    float *B = cl_alloc((size_t)dout * (size_t)r, sizeof *B, err);
    if (!A || !B) {
        free(A);
        free(B);
        return err->code;
    }
    char oa[48], ob[48];
    snprintf(oa, sizeof oa, "adapters/%06d/A", m);
    snprintf(ob, sizeof ob, "adapters/%06d/B", m);
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    int rc = read_slab(s, s->dA[m], oa, id, (hsize_t)r, (hsize_t)din, A, err);
    if (!rc)
        rc = read_slab(s, s->dB[m], ob, id, (hsize_t)dout, (hsize_t)r, B, err);
    cl_h5_quiet_end(&q);
    if (rc) {
        free(A);
        free(B);
        return rc;
    }
    if (k < r) /* keep the first k columns of B */
        for (int64_t i = 0; i < dout; i++)
            memmove(B + i * k, B + i * r, (size_t)k * sizeof *B);
    size_t na = (size_t)k * (size_t)din, nb = (size_t)dout * (size_t)k;
    int rc2 = CL_OK;
    for (size_t i = 0; i < na && !rc2; i++)
        if (!isfinite(A[i]))
            rc2 = cl_error_set(err, CL_ERR_VALUE,
                               "%s: /%s: snapshot %lld (module %s): A[%zu][%zu] is %s", s->path,
                               oa, (long long)id, s->mod_name[m], i / (size_t)din,
                               i % (size_t)din, isnan(A[i]) ? "NaN" : "Inf");
    for (size_t i = 0; i < nb && !rc2; i++)
        if (!isfinite(B[i]))
            rc2 = cl_error_set(err, CL_ERR_VALUE,
                               "%s: /%s: snapshot %lld (module %s): B[%zu][%zu] is %s", s->path,
                               ob, (long long)id, s->mod_name[m], i / (size_t)k, i % (size_t)k,
                               isnan(B[i]) ? "NaN" : "Inf");
    if (rc2) {
        free(A);
        free(B);
        return rc2;
    }
    out->d_out = dout;
    out->d_in = din;
    out->k = k;
    out->A = A;
    out->B = B;
    out->scale = s->snap_scale[id * s->M + m];
    return CL_OK;
}

int cl_store_read_resume(cl_store *s, int64_t snapshot, void *state, int64_t n, cl_error *err)
{
    if (s->resume_bytes <= 0 || s->d_res_state < 0)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /resume: the store holds no resume state",
                            s->path);
    if (n != s->resume_bytes)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: /" P_RESUME_STATE ": %lld bytes, the reader expects %lld "
                            "(written by another collide version?)",
                            s->path, (long long)s->resume_bytes, (long long)n);
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    int64_t stamp[2];
    int rc = CL_OK;
    if (H5Dread(s->d_res_snap, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, stamp) < 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /" P_RESUME_SNAP ": unreadable", s->path);
        goto out;
    }
    int slot = stamp[0] == snapshot ? 0 : stamp[1] == snapshot ? 1 : -1;
    if (slot < 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT,
                          "%s: /" P_RESUME_SNAP ": no state for snapshot %lld (slots hold %lld, %lld)",
                          s->path, (long long)snapshot, (long long)stamp[0], (long long)stamp[1]);
        goto out;
    }
    hsize_t start[2] = {(hsize_t)slot, 0}, count[2] = {1, (hsize_t)n};
    hid_t fs = H5Dget_space(s->d_res_state), ms = H5Screate_simple(2, count, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0)
        r = H5Dread(s->d_res_state, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, state);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0)
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /" P_RESUME_STATE ": unreadable", s->path);
out:
    cl_h5_quiet_end(&q);
    return rc;
}
