/*
 * relstore.c -- the reliability tests' window on a store.
 *
 *   relstore probe STORE
 *       Open STORE as every collide tool does, read every adapter of every
 *       committed snapshot (each checked for NaN/Inf by the reader), and
 *       print one JSON line: what was committed and what it implies about
 *       where a killed writer stopped (the phase), plus the extents of the
 *       snapshot datasets (rows beyond the counter: a snapshot being
 *       written) and the file offsets of the counter, the accuracy matrix
 *       and the baselines (the crash harness labels raw writes with them).
 *       Exit 0: it opened and read; 1: it did not (the message on stderr).
 *
 *   relstore mutate IN OUT MUTATION
 *       Copy IN to OUT and damage OUT in one named way (below), through
 *       HDF5 itself, for the bad-input catalogue (bad_inputs.py).
 *
 *   relstore leak
 *       Lose 64 bytes on purpose: valgrind_test.py's proof that memcheck, as
 *       it runs it, does fail a definite leak.
 *
 * usage errors exit 2.
 */
#include "collide.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ probe */

/* File offset of a contiguous dataset's data (-1 when not allocated). */
static long long data_offset(hid_t f, const char *name)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    haddr_t a = H5Dget_offset(d);
    H5Dclose(d);
    return a == HADDR_UNDEF ? -1 : (long long)a;
}

static long long extent0(hid_t f, const char *name)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[3] = {0, 0, 0};
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    return r >= 1 ? (long long)dims[0] : -1;
}

static int probe(const char *path)
{
    cl_store *s;
    cl_error err;
    if (cl_store_open(path, &s, &err)) {
        fprintf(stderr, "relstore: %s\n", err.msg);
        return 1;
    }
    int T = cl_store_n_tasks(s), M = cl_store_n_modules(s);
    int64_t N = cl_store_n_snapshots(s);
    long long values = 0;
    for (int64_t id = 0; id < N; id++)
        for (int m = 0; m < M; m++) {
            cl_lowrank u;
            if (cl_store_read_adapter(s, m, id, &u, &err)) {
                fprintf(stderr, "relstore: %s\n", err.msg);
                cl_store_close(s, NULL);
                return 1;
            }
            values += (long long)u.k * (u.d_in + u.d_out);
            cl_lowrank_free(&u);
        }
    const double *R = cl_store_accuracy(s, CL_EVAL_GENERATE), *base = cl_store_baseline(s, CL_EVAL_GENERATE);
    int rows_evaluated = 0, baseline = 0;
    for (int i = 0; i < T; i++) {
        int any = 0;
        for (int j = 0; j < T; j++)
            any |= !isnan(R[i * T + j]);
        rows_evaluated += any;
        baseline |= !isnan(base[i]);
    }
    const cl_snapshot_row *last = N ? cl_store_snapshot(s, N - 1) : NULL;
    int ends = 0;
    for (int t = 0; t < T; t++)
        ends += cl_store_task_end(s, t) >= 0;
    /* Where the writer was, from what it committed (crash_test.py). */
    const char *phase;
    if (!baseline && N == 0)
        phase = "baseline-evaluation";
    else if (last && last->kind == CL_SNAP_END_OF_TASK && rows_evaluated < ends)
        phase = "evaluation";
    else if (ends == T && rows_evaluated == T)
        phase = "finished";
    else
        phase = "training";
    printf("{\"store\": \"%s\", \"tasks\": %d, \"modules\": %d, \"committed\": %lld, "
           "\"tasks_ended\": %d, \"rows_evaluated\": %d, \"baseline\": %s, "
           "\"last_kind\": \"%s\", \"last_task\": %d, \"adapters_read\": %lld, "
           "\"values_read\": %lld, \"phase\": \"%s\"",
           path, T, M, (long long)N, ends, rows_evaluated, baseline ? "true" : "false",
           !last ? "none" : last->kind == CL_SNAP_END_OF_TASK ? "end_of_task" : "periodic",
           last ? last->task : -1, (long long)N * M, values, phase);
    cl_store_close(s, NULL);
    /* The raw layout, read with HDF5 directly (SWMR: the writer may have
     * been killed with the file open). */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (f < 0)
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        long long rows = extent0(f, "snapshots/table"), rows_a = extent0(f, "adapters/000000/A");
        printf(", \"table_rows\": %lld, \"adapter_rows\": %lld, \"torn_rows\": %lld", rows, rows_a,
               (rows > rows_a ? rows : rows_a) - (long long)N);
        printf(", \"offset_committed\": %lld, \"offset_accuracy\": %lld, \"offset_baseline\": %lld",
               data_offset(f, "snapshots/committed"), data_offset(f, "accuracy"),
               data_offset(f, "tasks/baseline"));
        H5Fclose(f);
    }
    printf("}\n");
    return 0;
}

/* ------------------------------------------------------------ mutate */

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int dims_of(hid_t f, const char *name, hsize_t *dims)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    return r;
}

/* Replace dataset name by a new one of the given type and shape, filled
 * with value (converted from double). */
static int replace(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                   double value)
{
    H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    int ok = d >= 0 && v;
    for (hssize_t i = 0; ok && i < n; i++)
        v[i] = value;
    if (ok && n > 0)
        ok = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    free(v);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    return ok ? 0 : -1;
}

/* Element idx (row-major over the whole dataset) set to value. */
static int set_elem(hid_t f, const char *name, long long idx, double value)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t fs = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t dims[8], at[8];
    H5Sget_simple_extent_dims(fs, dims, NULL);
    long long rest = idx;
    for (int i = rank - 1; i >= 0; i--) {
        at[i] = (hsize_t)(rest % (long long)dims[i]);
        rest /= (long long)dims[i];
    }
    int ok;
    if (rank == 0) {
        ok = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) >= 0;
    } else {
        hsize_t one = 1;
        hid_t ms = H5Screate_simple(1, &one, NULL);
        ok = H5Sselect_elements(fs, H5S_SELECT_SET, 1, at) >= 0 &&
             H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &value) >= 0;
        H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(d);
    return ok ? 0 : -1;
}

static int set_attr_i64(hid_t f, const char *name, long long v)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int ok = H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0;
    H5Aclose(a);
    return ok ? 0 : -1;
}

static int set_attr_str(hid_t f, const char *name, const char *v)
{
    H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, t, &v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return ok ? 0 : -1;
}

/* One string of a 1-D variable-length string dataset. */
static int set_string(hid_t f, const char *name, int idx, const char *v)
{
    hsize_t dims[1];
    if (dims_of(f, name, dims) != 1)
        return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t fs = H5Dget_space(d);
    hsize_t at = (hsize_t)idx, one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    int ok = H5Sselect_elements(fs, H5S_SELECT_SET, 1, &at) >= 0 &&
             H5Dwrite(d, t, ms, fs, H5P_DEFAULT, &v) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Tclose(t);
    H5Dclose(d);
    return ok ? 0 : -1;
}

/* One member of one row of the snapshot table. */
static int set_table(hid_t f, long long row, const char *member, long long v)
{
    hid_t d = H5Dopen2(f, "snapshots/table", H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(long long));
    H5Tinsert(mt, member, 0, H5T_NATIVE_LLONG);
    hid_t fs = H5Dget_space(d);
    hsize_t at = (hsize_t)row, one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    int ok = H5Sselect_elements(fs, H5S_SELECT_SET, 1, &at) >= 0 &&
             H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, &v) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Tclose(mt);
    H5Dclose(d);
    return ok ? 0 : -1;
}

/*
 * Mutations. Names say what is done; arguments follow colons.
 *   delete:OBJ                  the object is unlinked
 *   delete-attr:NAME            a root attribute is deleted
 *   retype:OBJ:float64|int32    the dataset re-created with that dtype, same shape
 *   reshape:OBJ                 the dataset's last dimension one larger
 *   shorten:OBJ                 the dataset's first dimension 1
 *   accuracy-size               /accuracy (T-1) x (T-1)
 *   set:OBJ:INDEX:VALUE         one element (row-major index; nan, inf, -inf, numbers)
 *   attr-int:NAME:VALUE         an integer root attribute
 *   attr-str:NAME:VALUE         a string root attribute ("\xff" for a byte 0xff)
 *   string:OBJ:INDEX:VALUE      one entry of a string dataset (same escape)
 *   table:ROW:MEMBER:VALUE      one member of one table row
 */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] == 'x' && r[2] && r[3]) {
            char hex[3] = {r[2], r[3], 0};
            *w++ = (char)strtol(hex, NULL, 16);
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

static int mutate(hid_t f, char *spec)
{
    char *arg[4] = {0};
    int n = 0;
    for (char *save = NULL, *t = strtok_r(spec, ":", &save); t && n < 4;
         t = strtok_r(NULL, ":", &save))
        arg[n++] = t;
    const char *what = arg[0];
    hsize_t dims[8];
    if (!strcmp(what, "delete") && n == 2)
        return H5Ldelete(f, arg[1], H5P_DEFAULT) < 0 ? -1 : 0;
    if (!strcmp(what, "delete-attr") && n == 2)
        return H5Adelete(f, arg[1]) < 0 ? -1 : 0;
    if (!strcmp(what, "retype") && n == 3) {
        int r = dims_of(f, arg[1], dims);
        hid_t t = !strcmp(arg[2], "float64") ? H5T_IEEE_F64LE : H5T_STD_I32LE;
        return r < 0 ? -1 : replace(f, arg[1], t, r, dims, 0.0);
    }
    if ((!strcmp(what, "reshape") || !strcmp(what, "shorten")) && n == 2) {
        int r = dims_of(f, arg[1], dims);
        if (r < 1)
            return -1;
        hid_t d = H5Dopen2(f, arg[1], H5P_DEFAULT), t = H5Dget_type(d);
        hid_t keep = H5Tcopy(t);
        H5Tclose(t);
        H5Dclose(d);
        if (what[0] == 'r')
            dims[r - 1]++;
        else
            dims[0] = 1;
        int rc = replace(f, arg[1], keep, r, dims, 0.0);
        H5Tclose(keep);
        return rc;
    }
    if (!strcmp(what, "accuracy-size") && n == 1) {
        if (dims_of(f, "accuracy", dims) != 2 || dims[0] < 2)
            return -1;
        dims[0]--, dims[1]--;
        return replace(f, "accuracy", H5T_IEEE_F64LE, 2, dims, 0.5);
    }
    if (!strcmp(what, "set") && n == 4)
        return set_elem(f, arg[1], atoll(arg[2]), strtod(arg[3], NULL));
    if (!strcmp(what, "attr-int") && n == 3)
        return set_attr_i64(f, arg[1], atoll(arg[2]));
    if (!strcmp(what, "attr-str") && n == 3) {
        unescape(arg[2]);
        return set_attr_str(f, arg[1], arg[2]);
    }
    if (!strcmp(what, "string") && n == 4) {
        unescape(arg[3]);
        return set_string(f, arg[1], atoi(arg[2]), arg[3]);
    }
    if (!strcmp(what, "table") && n == 4)
        return set_table(f, atoll(arg[1]), arg[2], atoll(arg[3]));
    fprintf(stderr, "relstore: unknown mutation or wrong arguments: %s\n", what);
    return -2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "leak")) {
        volatile char *p = malloc(64);
        if (p)
            p[0] = 1;
        p = NULL; /* the only pointer gone: a definite leak */
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "probe"))
        return probe(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "mutate")) {
        if (copy_file(argv[2], argv[3])) {
            fprintf(stderr, "relstore: cannot copy %s to %s\n", argv[2], argv[3]);
            return 1;
        }
        hid_t f = H5Fopen(argv[3], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) {
            fprintf(stderr, "relstore: %s: cannot open for writing\n", argv[3]);
            return 1;
        }
        char *spec = strdup(argv[4]);
        int rc = spec ? mutate(f, spec) : -1;
        free(spec);
        if (H5Fclose(f) < 0)
            rc = -1;
        if (rc) {
            fprintf(stderr, "relstore: mutation %s failed on %s\n", argv[4], argv[3]);
            return rc == -2 ? 2 : 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: relstore probe STORE\n"
                    "       relstore mutate IN OUT MUTATION\n"
                    "       relstore leak\n");
    return 2;
}
