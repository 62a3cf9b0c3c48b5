/*
 * store_write.c -- creating a store and appending snapshots.
 *
 * Crash safety rests on HDF5's single-writer/multiple-reader (SWMR) mode:
 * every object is created first, then SWMR writing starts, after which the
 * library flushes metadata in dependency order so that the file on disk is
 * always one a reader can open. On top of that, a snapshot counter is written
 * after each snapshot's data and flushed; readers trust only the snapshots it
 * covers. A writer killed at any point leaves a store that opens and reads.
 */

#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CL_STORE_PAGE 4096

/*
 * Disk space is reserved (posix_fallocate) before HDF5 is asked to write:
 * a full disk or a file-size limit is then met by the reservation, with
 * nothing written, instead of in the middle of HDF5's writes -- after which
 * libhdf5 1.10 can neither flush nor close the file cleanly. What a
 * reservation covers is a generous bound (HDF5 releases the unused tail
 * when the store is closed). Filesystems that cannot reserve go on
 * unprotected, with cl_store_poison as the backstop.
 */
#define RESERVE_SLACK ((int64_t)64 << 10)

static int reserve(const char *path, int fd, hid_t file, int64_t extra, const char *what,
                   cl_error *err)
{
    haddr_t eoa = 0;
    if (fd < 0 || H5Fget_eoa(file, &eoa) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return CL_OK;
    }
    off_t end = ((off_t)eoa + (off_t)extra + CL_STORE_PAGE - 1) / CL_STORE_PAGE * CL_STORE_PAGE;
    int e = posix_fallocate(fd, 0, end);
    if (e == ENOSPC || e == EFBIG || e == EDQUOT)
        return cl_error_set(err, CL_ERR_IO, "%s: %s: %s (reserving %lld bytes failed)", path,
                            what, strerror(e), (long long)extra);
    return CL_OK;
}

/* Bytes the objects written at creation may take. */
static int64_t layout_bytes(const cl_store_spec *sp)
{
    int64_t n = (int64_t)128 << 10, T = sp->n_tasks;
    n += 2 * sp->resume_bytes + 2 * T * T * 8 + T * 1024;
    n += (int64_t)sp->n_modules * (4 << 10); /* measured: about 1.7 KiB a module */
    for (int i = 0; i < sp->n_modules; i++)
        n += 2 * (int64_t)strlen(sp->module_names[i]);
    for (int t = 0; t < sp->n_tasks; t++)
        n += 2 * (int64_t)strlen(sp->task_names[t]);
    if (sp->meta.train_config)
        n += 2 * (int64_t)strlen(sp->meta.train_config);
    return n;
}

/* An open-file-description lock keeps a second writer (a resume started
 * while the first run still lives) away; HDF5 drops its own lock once SWMR
 * writing starts. */
static int take_writer_lock(cl_store *s, cl_error *err)
{
    s->lock_fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (s->lock_fd < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", s->path, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(s->lock_fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES)
            return cl_error_set(err, CL_ERR_IO,
                                "%s: another process is writing this store", s->path);
        /* Filesystems without locks: carry on unprotected. */
    }
    return CL_OK;
}

/* Copy the spec into the in-memory store so the writer answers the same
 * accessors as a reader. */
static int adopt_spec(cl_store *s, const cl_store_spec *sp, cl_error *err)
{
    const cl_run_meta *m = &sp->meta;
    s->T = sp->n_tasks;
    s->M = sp->n_modules;
    s->s_method = cl_strdup(m->method, err);
    s->s_rule = cl_strdup(m->scaling_rule ? m->scaling_rule : "alpha/r", err);
    s->s_penalty = cl_strdup(m->penalty_form ? m->penalty_form : "none", err);
    s->s_base = cl_strdup(m->base_model ? m->base_model : "", err);
    s->s_created = cl_strdup(m->created_by ? m->created_by : "", err);
    s->s_config = cl_strdup(m->train_config ? m->train_config : "", err);
    s->s_name = cl_strdup(m->name ? m->name : "", err);
    s->s_origin = cl_strdup(m->origin && m->origin[0] ? m->origin : cl_store_origin_of(m->method),
                            err);
    s->task_name = cl_alloc((size_t)s->T, sizeof(char *), err);
    s->task_data = cl_alloc((size_t)s->T, sizeof(char *), err);
    s->task_lambda = cl_alloc((size_t)s->T, sizeof(double), err);
    s->task_end = cl_alloc((size_t)s->T, sizeof(int64_t), err);
    for (int e = 0; e < CL_EVAL_COUNT; e++) {
        s->R[e] = cl_alloc((size_t)s->T * (size_t)s->T, sizeof(double), err);
        s->baseline[e] = cl_alloc((size_t)s->T, sizeof(double), err);
    }
    s->n_test = cl_alloc((size_t)s->T, sizeof(int64_t), err);
    s->n_labels = cl_alloc((size_t)s->T, sizeof(int64_t), err);
    s->task_alpha = cl_alloc((size_t)s->T, sizeof(double), err);
    s->task_rslora = cl_alloc((size_t)s->T, sizeof(int32_t), err);
    s->mod_name = cl_alloc((size_t)s->M, sizeof(char *), err);
    s->d_out = cl_alloc((size_t)s->M, sizeof(int64_t), err);
    s->d_in = cl_alloc((size_t)s->M, sizeof(int64_t), err);
    s->mrank = cl_alloc((size_t)s->M, sizeof(int32_t), err);
    s->dA = cl_alloc((size_t)s->M, sizeof(hid_t), err);
    s->dB = cl_alloc((size_t)s->M, sizeof(hid_t), err);
    if (!s->s_method || !s->s_rule || !s->s_penalty || !s->s_base || !s->s_created || !s->s_config ||
        !s->s_name || !s->s_origin ||
        !s->task_name || !s->task_data || !s->task_lambda || !s->task_end || !s->R[0] ||
        !s->R[1] || !s->baseline[0] || !s->baseline[1] || !s->n_test || !s->n_labels || !s->task_alpha || !s->task_rslora || !s->mod_name || !s->d_out || !s->d_in || !s->mrank || !s->dA ||
        !s->dB)
        return err->code;
    for (int t = 0; t < s->T; t++) {
        s->task_name[t] = cl_strdup(sp->task_names[t], err);
        s->task_data[t] = cl_strdup(sp->task_data && sp->task_data[t] ? sp->task_data[t] : "", err);
        if (!s->task_name[t] || !s->task_data[t])
            return err->code;
        s->task_lambda[t] = sp->task_lambda ? sp->task_lambda[t] : m->lambda_sparse;
        s->task_end[t] = -1;
        s->baseline[0][t] = s->baseline[1][t] = NAN;
        s->n_test[t] = sp->task_n_test ? sp->task_n_test[t] : 0;
        s->n_labels[t] = sp->task_n_labels ? sp->task_n_labels[t] : 0;
        s->task_alpha[t] = sp->task_alpha ? sp->task_alpha[t] : NAN;
        s->task_rslora[t] = sp->task_rslora ? sp->task_rslora[t] : -1;
    }
    for (int i = 0; i < s->T * s->T; i++)
        s->R[0][i] = s->R[1][i] = NAN;
    for (int i = 0; i < s->M; i++) {
        s->mod_name[i] = cl_strdup(sp->module_names[i], err);
        if (!s->mod_name[i])
            return err->code;
        s->d_out[i] = sp->d_out[i];
        s->d_in[i] = sp->d_in[i];
        s->mrank[i] = sp->rank[i];
        s->dA[i] = s->dB[i] = -1;
    }
    s->meta = *m;
    s->meta.method = s->s_method;
    s->meta.scaling_rule = s->s_rule;
    s->meta.penalty_form = s->s_penalty;
    s->meta.base_model = s->s_base;
    s->meta.created_by = s->s_created;
    s->meta.train_config = s->s_config;
    s->meta.name = s->s_name;
    s->meta.origin = s->s_origin;
    s->resume_bytes = sp->resume_bytes;
    s->version = CL_FORMAT_VERSION;
    return CL_OK;
}

static cl_store *store_new(const char *path, cl_error *err)
{
    cl_store *s = cl_alloc(1, sizeof *s, err);
    if (!s)
        return NULL;
    s->file = s->d_table = s->d_rank = s->d_scale = s->d_committed = -1;
    s->d_acc[0] = s->d_acc[1] = s->d_base[0] = s->d_base[1] = s->d_res_state = s->d_res_snap = -1;
    s->lock_fd = -1;
    s->path = cl_strdup(path, err);
    if (!s->path) {
        free(s);
        return NULL;
    }
    return s;
}

int cl_store_create(const char *path, const cl_store_spec *sp, cl_store **out,
                    cl_error *err)
{
    *out = NULL;
    int rc = cl_store_check_spec(path, sp, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0)
        return cl_error_set(err, CL_ERR_EXISTS, "%s: already exists; refusing to overwrite it",
                            path);
    cl_store *s = store_new(path, err);
    if (!s)
        return err->code;
    char *tmp = NULL;
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    rc = adopt_spec(s, sp, err);
    if (rc)
        goto fail;
    /* The file is built under a temporary name and linked to path only once
     * it is complete and in SWMR mode: a writer killed while creating it
     * leaves no half-made store behind. */
    size_t tl = strlen(path) + 16;
    tmp = cl_alloc(tl, 1, err);
    if (!tmp) {
        rc = err->code;
        goto fail;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: cannot create a file beside it: %s", path,
                          strerror(errno));
        goto fail;
    }
    close(fd);
    unlink(tmp);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* SWMR needs the latest file format (HDF5 >= 1.10 reads it). */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    /* Paged aggregation: no metadata block straddles a 4 KiB page. A write
     * that a kill interrupts stops at a page boundary (the kernel copies a
     * write page by page and checks for a fatal signal in between), so a
     * metadata block is written whole or not at all -- never half new, half
     * old with a checksum that fails (crash_test.py tears writes so). */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_file_space_strategy(fcpl, H5F_FSPACE_STRATEGY_PAGE, 0, 1);
    H5Pset_file_space_page_size(fcpl, CL_STORE_PAGE);
    s->file = H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (s->file < 0) {
        rc = cl_store_h5fail(err, CL_ERR_IO, path, "cannot create");
        goto fail;
    }
    s->writable = 1;
    fd = open(tmp, O_RDWR | O_CLOEXEC);
    rc = reserve(path, fd, s->file, layout_bytes(sp), "cannot create the store", err);
    if (fd >= 0)
        close(fd);
    if (rc) /* nothing written yet: the close below writes the empty file's few bytes */
        goto fail_unlink;
    rc = cl_store_create_layout(s, sp, err);
    if (rc)
        goto fail_unlink;
    if (H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0 || H5Fstart_swmr_write(s->file) < 0 ||
        H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0) {
        rc = cl_store_write_fail(s, err, "cannot start SWMR writing");
        goto fail_unlink;
    }
    /* link() refuses to replace an existing file, unlike rename(). */
    if (link(tmp, path) != 0) {
        int e = errno;
        rc = e == EEXIST ? cl_error_set(err, CL_ERR_EXISTS,
                                        "%s: already exists; refusing to overwrite it", path)
                         : cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", path, strerror(e));
        goto fail_unlink;
    }
    unlink(tmp);
    free(tmp);
    tmp = NULL;
    rc = take_writer_lock(s, err);
    if (rc)
        goto fail;
    cl_h5_quiet_end(&q);
    *out = s;
    return CL_OK;
fail_unlink:
    cl_store_free(s);
    unlink(tmp); /* ours: created above, never a user's file */
    free(tmp);
    cl_h5_quiet_end(&q);
    return rc;
fail:
    cl_store_free(s);
    free(tmp);
    cl_h5_quiet_end(&q);
    return rc;
}

/* Reopen for append: the reader validates everything; then the file is
 * reopened read-write, clearing the "open for writing" mark that a killed
 * writer leaves in the superblock (what h5clear -s does). */
int cl_store_open_append(const char *path, cl_store **out, cl_error *err)
{
    *out = NULL;
    cl_store *s;
    int rc = cl_store_open(path, &s, err);
    if (rc)
        return rc;
    if (s->version < CL_FORMAT_VERSION) {
        /* a format-1 store has no ranked accuracy to continue: read it, never grow it */
        rc = cl_error_set(err, CL_ERR_VERSION,
                          "%s: /@format_version: version %d stores are read but not appended to "
                          "(this collide writes version %d); start a new run",
                          path, s->version, CL_FORMAT_VERSION);
        cl_store_close(s, NULL);
        return rc;
    }
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    /* Datasets first: the file id goes last. */
    for (int m = 0; m < s->M; m++) {
        H5Dclose(s->dA[m]);
        H5Dclose(s->dB[m]);
        s->dA[m] = s->dB[m] = -1;
    }
    hid_t *ds[] = {&s->d_table, &s->d_rank, &s->d_scale, &s->d_committed, &s->d_acc[0],
                   &s->d_acc[1], &s->d_base[0], &s->d_base[1], &s->d_res_state, &s->d_res_snap};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        if (*ds[i] >= 0) {
            H5Dclose(*ds[i]);
            *ds[i] = -1;
        }
    H5Fclose(s->file);
    s->file = -1;
    rc = take_writer_lock(s, err);
    if (rc)
        goto fail;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hbool_t clear = 1;
    if (H5Pexist(fapl, "clear_status_flags") > 0)
        H5Pset(fapl, "clear_status_flags", &clear);
    /* A writer killed (or stopped by a full disk) after flushing a
     * superblock whose end-of-allocation covers data it never wrote leaves
     * a file shorter than the superblock says; HDF5 then refuses to open it
     * for writing ("truncated file"), as h5clear --increment would not. Skip
     * that check, as h5clear does: the EOA is moved past the end below, and
     * the reader above has already found every committed snapshot intact. */
    if (H5Pexist(fapl, "skip_eof_check") > 0)
        H5Pset(fapl, "skip_eof_check", &clear);
    /* In SWMR mode a metadata read whose checksum fails is retried with
     * doubling sleeps (store_read.c); bound it so that damage fails
     * promptly. H5Fstart_swmr_write would reset the bound to HDF5's 100
     * attempts (effectively for ever); opening in SWMR-write mode keeps it. */
    H5Pset_metadata_read_attempts(fapl, CL_SWMR_READ_ATTEMPTS);
    s->file = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
    H5Pclose(fapl);
    if (s->file < 0) {
        rc = cl_store_h5fail(err, CL_ERR_IO, path, "cannot reopen for writing");
        goto fail;
    }
    /* A killed SWMR writer can leave data referenced past the end-of-
     * allocation recorded in the superblock (a snapshot row being written).
     * Move the EOA past the file's end and past the largest chunk that may
     * have been allocated but not yet written, as h5clear --increment does,
     * so that rewriting that row and new allocations never overlap it. */
    hsize_t margin = 1 << 20;
    for (int m = 0; m < s->M; m++) {
        hsize_t a = (hsize_t)s->mrank[m] * (hsize_t)s->d_in[m] * 4;
        hsize_t b = (hsize_t)s->mrank[m] * (hsize_t)s->d_out[m] * 4;
        margin = a > margin ? a : margin;
        margin = b > margin ? b : margin;
    }
    if (H5Fincrement_filesize(s->file, 2 * margin) < 0) {
        rc = cl_store_write_fail(s, err, "cannot repair the end-of-allocation address");
        goto fail;
    }
    s->writable = 1;
    int bad = 0;
    for (int m = 0; m < s->M && !bad; m++) {
        char name[48];
        snprintf(name, sizeof name, "adapters/%06d/A", m);
        s->dA[m] = H5Dopen2(s->file, name, H5P_DEFAULT);
        snprintf(name, sizeof name, "adapters/%06d/B", m);
        s->dB[m] = H5Dopen2(s->file, name, H5P_DEFAULT);
        bad = s->dA[m] < 0 || s->dB[m] < 0;
    }
    s->d_table = H5Dopen2(s->file, P_TABLE, H5P_DEFAULT);
    s->d_rank = H5Dopen2(s->file, P_SNAP_RANK, H5P_DEFAULT);
    s->d_scale = H5Dopen2(s->file, P_SNAP_SCALE, H5P_DEFAULT);
    s->d_committed = H5Dopen2(s->file, P_COMMITTED, H5P_DEFAULT);
    s->d_acc[0] = H5Dopen2(s->file, P_ACCURACY, H5P_DEFAULT);
    s->d_acc[1] = H5Dopen2(s->file, P_ACCURACY_RANKED, H5P_DEFAULT);
    s->d_base[0] = H5Dopen2(s->file, P_TASK_BASE, H5P_DEFAULT);
    s->d_base[1] = H5Dopen2(s->file, P_TASK_BASE_RANKED, H5P_DEFAULT);
    if (s->resume_bytes > 0) {
        s->d_res_state = H5Dopen2(s->file, P_RESUME_STATE, H5P_DEFAULT);
        s->d_res_snap = H5Dopen2(s->file, P_RESUME_SNAP, H5P_DEFAULT);
        bad |= s->d_res_state < 0 || s->d_res_snap < 0;
    }
    bad |= s->d_table < 0 || s->d_rank < 0 || s->d_scale < 0 || s->d_committed < 0 ||
           s->d_acc[0] < 0 || s->d_acc[1] < 0 || s->d_base[0] < 0 || s->d_base[1] < 0;
    if (bad) {
        rc = cl_store_write_fail(s, err, "cannot reopen for writing");
        goto fail;
    }
    cl_h5_quiet_end(&q);
    *out = s;
    return CL_OK;
fail:
    cl_store_free(s);
    cl_h5_quiet_end(&q);
    return rc;
}

/* Write buf into row n of a dataset extendible along its first axis. */
static int write_row(hid_t d, hid_t mtype, int rank, const hsize_t *row_dims,
                     hsize_t n, const void *buf)
{
    hsize_t start[3] = {n, 0, 0}, count[3] = {1, 0, 0};
    for (int i = 1; i < rank; i++)
        count[i] = row_dims[i - 1];
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int ok = fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return ok ? 0 : -1;
}

/* Grow one dataset's snapshot axis to n rows, if it is shorter. After a
 * killed writer the datasets may differ in length; each is checked alone. */
static int extend_one(hid_t d, hsize_t n)
{
    hsize_t dims[3];
    hid_t sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    if (r < 1)
        return -1;
    if (dims[0] >= n)
        return 0;
    dims[0] = n;
    return H5Dset_extent(d, dims) < 0 ? -1 : 0;
}

/* Exactly n rows, so that a cleanly written store holds no padding rows. */
static int extend_to(cl_store *s, hsize_t n)
{
    if (extend_one(s->d_table, n) || extend_one(s->d_rank, n) || extend_one(s->d_scale, n))
        return -1;
    for (int m = 0; m < s->M; m++)
        if (extend_one(s->dA[m], n) || extend_one(s->dB[m], n))
            return -1;
    return 0;
}

int cl_store_append(cl_store *s, cl_snapshot_row *row, const float *const *A,
                    const float *const *B, const int32_t *rank,
                    const double *scale, const void *resume, int64_t resume_n,
                    cl_error *err)
{
    if (!s->writable)
        return cl_error_set(err, CL_ERR_ARG, "%s: store is not open for writing", s->path);
    int M = s->M;
    if (row->task < 0 || row->task >= s->T)
        return cl_error_set(err, CL_ERR_ARG, "%s: snapshot task %d out of range", s->path,
                            row->task);
    if (s->N > 0) {
        const cl_snapshot_row *last = &s->rows[s->N - 1];
        if (row->task < last->task || (row->task == last->task && last->kind == CL_SNAP_END_OF_TASK))
            return cl_error_set(err, CL_ERR_ARG,
                                "%s: snapshot of task %d after task %d %s", s->path, row->task,
                                last->task, row->task < last->task ? "" : "ended");
    }
    if (resume && resume_n != s->resume_bytes)
        return cl_error_set(err, CL_ERR_ARG, "%s: resume state is %lld bytes, store holds %lld",
                            s->path, (long long)resume_n, (long long)s->resume_bytes);
    for (int m = 0; m < M; m++) {
        if (rank[m] < 1 || rank[m] > s->mrank[m])
            return cl_error_set(err, CL_ERR_ARG, "%s: module %s: rank %d outside [1, %d]",
                                s->path, s->mod_name[m], rank[m], s->mrank[m]);
        if (!isfinite(scale[m]))
            return cl_error_set(err, CL_ERR_VALUE, "%s: module %s: scale is not finite",
                                s->path, s->mod_name[m]);
    }
    int rc = cl_store_reserve(s, s->N + 1, err);
    if (rc)
        return rc;
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    /* The snapshot's chunks, a table chunk, a chunk of ranks and scales,
     * and room for the metadata that index them. */
    int64_t bytes = RESERVE_SLACK + CL_TABLE_CHUNK * (int64_t)sizeof(cl_snapshot_row) +
                    16 * (int64_t)M * (int64_t)(sizeof(int32_t) + sizeof(double));
    for (int m = 0; m < M; m++)
        bytes += (int64_t)s->mrank[m] * (s->d_in[m] + s->d_out[m]) * 4;
    char what[96];
    snprintf(what, sizeof what, "no room for snapshot %lld (the %lld committed before it are kept)",
             (long long)s->N, (long long)s->N);
    rc = reserve(s->path, s->lock_fd, s->file, bytes, what, err);
    if (rc)
        goto out;
    hsize_t n = (hsize_t)s->N;
    row->id = s->N;
    if (extend_to(s, n + 1) < 0) {
        rc = cl_store_write_fail(s, err, "cannot extend the snapshot datasets");
        goto out;
    }
    float *pad = NULL;
    for (int m = 0; m < M; m++) {
        int r = s->mrank[m], k = rank[m];
        int64_t din = s->d_in[m], dout = s->d_out[m];
        const float *a = A[m], *b = B[m];
        if (k < r) {
            /* Stored rank is the module's largest: pad with zeros. */
            size_t need = (size_t)r * (size_t)(din > dout ? din : dout);
            float *p = realloc(pad, need * sizeof *p);
            if (!p) {
                rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", s->path);
                goto out_pad;
            }
            pad = p;
        }
        hsize_t da[2] = {(hsize_t)r, (hsize_t)din}, db[2] = {(hsize_t)dout, (hsize_t)r};
        if (k < r) {
            memset(pad, 0, (size_t)r * (size_t)din * sizeof *pad);
            memcpy(pad, a, (size_t)k * (size_t)din * sizeof *pad);
            a = pad;
        }
        if (write_row(s->dA[m], H5T_NATIVE_FLOAT, 3, da, n, a) < 0) {
            rc = cl_store_write_fail(s, err, "cannot write adapter A");
            goto out_pad;
        }
        if (k < r) {
            memset(pad, 0, (size_t)r * (size_t)dout * sizeof *pad);
            for (int64_t i = 0; i < dout; i++)
                memcpy(pad + i * r, b + i * k, (size_t)k * sizeof *pad);
            b = pad;
        }
        if (write_row(s->dB[m], H5T_NATIVE_FLOAT, 3, db, n, b) < 0) {
            rc = cl_store_write_fail(s, err, "cannot write adapter B");
            goto out_pad;
        }
    }
    hsize_t dm = (hsize_t)M, one = 1;
    hid_t mt = cl_table_mem_type();
    int bad = write_row(s->d_rank, H5T_NATIVE_INT32, 2, &dm, n, rank) < 0 ||
              write_row(s->d_scale, H5T_NATIVE_DOUBLE, 2, &dm, n, scale) < 0 ||
              write_row(s->d_table, mt, 1, &one, n, row) < 0;
    H5Tclose(mt);
    if (!bad && resume) {
        /* Two slots: the previous snapshot's state survives a torn write. */
        hsize_t start[2] = {n % 2, 0}, count[2] = {1, (hsize_t)resume_n};
        hid_t fs = H5Dget_space(s->d_res_state), ms = H5Screate_simple(2, count, NULL);
        bad = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Dwrite(s->d_res_state, H5T_NATIVE_UINT8, ms, fs, H5P_DEFAULT, resume) < 0;
        H5Sclose(ms);
        H5Sclose(fs);
        if (!bad) {
            hsize_t i = n % 2, c1 = 1;
            int64_t id = (int64_t)n;
            fs = H5Dget_space(s->d_res_snap);
            ms = H5Screate_simple(1, &c1, NULL);
            bad = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &i, NULL, &c1, NULL) < 0 ||
                  H5Dwrite(s->d_res_snap, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &id) < 0;
            H5Sclose(ms);
            H5Sclose(fs);
        }
    }
    if (bad || H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0) {
        rc = cl_store_write_fail(s, err, "cannot write the snapshot");
        goto out_pad;
    }
    /* The commit: only now do readers see the snapshot. */
    int64_t committed = s->N + 1;
    if (cl_h5_write_all(s->d_committed, H5T_NATIVE_INT64, &committed) < 0 ||
        H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0) {
        rc = cl_store_write_fail(s, err, "cannot commit the snapshot");
        goto out_pad;
    }
    s->rows[s->N] = *row;
    memcpy(s->snap_rank + (size_t)s->N * (size_t)M, rank, (size_t)M * sizeof *rank);
    memcpy(s->snap_scale + (size_t)s->N * (size_t)M, scale, (size_t)M * sizeof *scale);
    s->N++;
    if (row->kind == CL_SNAP_END_OF_TASK)
        s->task_end[row->task] = row->id;
out_pad:
    free(pad);
out:
    cl_h5_quiet_end(&q);
    return rc;
}

static int check_acc(const cl_store *s, const double *v, int n, const char *what,
                     cl_error *err)
{
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && !(v[i] >= 0 && v[i] <= 1))
            return cl_error_set(err, CL_ERR_VALUE, "%s: %s: value %g at %d outside [0, 1]",
                                s->path, what, v[i], i);
    return CL_OK;
}

int cl_store_write_accuracy_row(cl_store *s, cl_eval e, int after_task, const double *acc,
                                cl_error *err)
{
    static const char *const what[] = {"/" P_ACCURACY, "/" P_ACCURACY_RANKED};
    if (!s->writable)
        return cl_error_set(err, CL_ERR_ARG, "%s: store is not open for writing", s->path);
    if (after_task < 0 || after_task >= s->T)
        return cl_error_set(err, CL_ERR_ARG, "%s: accuracy row %d out of range", s->path,
                            after_task);
    int rc = check_acc(s, acc, s->T, what[e], err);
    if (rc)
        return rc;
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    hsize_t dT = (hsize_t)s->T;
    rc = reserve(s->path, s->lock_fd, s->file, RESERVE_SLACK, "no room for /accuracy", err);
    if (!rc && (write_row(s->d_acc[e], H5T_NATIVE_DOUBLE, 2, &dT, (hsize_t)after_task, acc) < 0 ||
                H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0))
        rc = cl_store_write_fail(s, err, e ? "cannot write /" P_ACCURACY_RANKED
                                           : "cannot write /" P_ACCURACY);
    if (!rc)
        memcpy(s->R[e] + (size_t)after_task * (size_t)s->T, acc, (size_t)s->T * sizeof *acc);
    cl_h5_quiet_end(&q);
    return rc;
}

int cl_store_write_baseline(cl_store *s, cl_eval e, const double *acc, cl_error *err)
{
    static const char *const what[] = {"/" P_TASK_BASE, "/" P_TASK_BASE_RANKED};
    if (!s->writable)
        return cl_error_set(err, CL_ERR_ARG, "%s: store is not open for writing", s->path);
    int rc = check_acc(s, acc, s->T, what[e], err);
    if (rc)
        return rc;
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    rc = reserve(s->path, s->lock_fd, s->file, RESERVE_SLACK, "no room for the baseline", err);
    if (!rc && (cl_h5_write_all(s->d_base[e], H5T_NATIVE_DOUBLE, acc) < 0 ||
                H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0))
        rc = cl_store_write_fail(s, err, e ? "cannot write /" P_TASK_BASE_RANKED
                                           : "cannot write /" P_TASK_BASE);
    if (!rc)
        memcpy(s->baseline[e], acc, (size_t)s->T * sizeof *acc);
    cl_h5_quiet_end(&q);
    return rc;
}
