/*
 * test_store.c -- the store: round trip of everything written, views and
 * seqlora differences, every bad-input case with its message, a writer
 * killed mid-run leaving a readable store, and opening without the
 * throw-away child (CL_STORE_NO_CHILD): the same store, the same refusals.
 */
#include "../check.h"
#include "../dense_ref.h"
#include "collide.h"

#include <hdf5.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

enum { T = 3, M = 2 };
static const char *tasks[T] = {"alpha", "beta", "gamma"};
static const char *mods[M] = {"layers.0.attn.q", "layers.0.mlp.up"};
static const int64_t dout[M] = {6, 10}, din[M] = {5, 4};
static const int32_t mrank[M] = {3, 2};

/* Snapshot j's factors are a function of (j, module, element): easy to check. */
static float val_a(int j, int m, int i) { return (float)(j * 100 + m * 10) + 0.25f * (float)i; }
static float val_b(int j, int m, int i) { return -(float)(j * 100 + m * 10) - 0.5f * (float)i; }

static int write_store(const char *p, const char *method, int n_snap, int resume_bytes,
                       cl_error *err)
{
    cl_store_spec sp = {
        .meta = {.method = method, .rank = 3, .alpha = 6, .scaling = 2, .scaling_rule = "alpha/r",
                 .penalty_form = "paper", .lambda_orth = 0.5, .lambda_l2 = 0.1,
                 .lambda_sparse = 0.4, .seed = 42, .base_model = "tiny-llama",
                 .created_by = "test_store"},
        .n_tasks = T, .task_names = tasks, .task_lambda = (double[]){0.4, 1.2, 0.4},
        .task_data = (const char *const[]){"", "yelp", ""}, .n_modules = M,
        .module_names = mods, .d_out = dout, .d_in = din, .rank = mrank,
        .resume_bytes = resume_bytes, .task_n_test = (int64_t[]){200, 50, 7},
        .task_n_labels = (int64_t[]){4, 14, 2}};
    cl_store *s;
    int rc = cl_store_create(p, &sp, &s, err);
    if (rc)
        return rc;
    /* tasks: alpha 0..1 (end at 1), beta 2..4 (end at 4), gamma 5.. */
    int task_of[] = {0, 0, 1, 1, 1, 2, 2};
    int end_of[] = {0, 1, 0, 0, 1, 0, 1};
    for (int j = 0; j < n_snap && !rc; j++) {
        float a[M][3 * 5], b[M][10 * 3];
        const float *pa[M], *pb[M];
        int32_t rk[M] = {3, j % 2 ? 1 : 2}; /* module 1 alternates rank */
        double sc[M] = {2.0, 1.5 + j};
        for (int m = 0; m < M; m++) {
            for (int i = 0; i < rk[m] * din[m]; i++)
                a[m][i] = val_a(j, m, i);
            for (int i = 0; i < dout[m] * rk[m]; i++)
                b[m][i] = val_b(j, m, i);
            pa[m] = a[m];
            pb[m] = b[m];
        }
        cl_snapshot_row row = {.task = task_of[j], .epoch = j, .step = 10 * j, .loss = 1.0 / (j + 1),
                               .loss_task = 0.9 / (j + 1), .penalty_orth = 0.01 * j,
                               .penalty_l2 = NAN, .penalty_sparse = 0.02 * j, .wall_time = 1.5 * j,
                               .kind = end_of[j] ? CL_SNAP_END_OF_TASK : CL_SNAP_PERIODIC};
        unsigned char state[64];
        memset(state, j + 1, sizeof state);
        rc = cl_store_append(s, &row, pa, pb, rk, sc, resume_bytes ? state : NULL, resume_bytes,
                             err);
        if (!rc && row.id != j)
            rc = cl_error_set(err, CL_ERR_ARG, "id %lld", (long long)row.id);
    }
    if (!rc) {
        double acc[T] = {0.9, 0.2, NAN}, base[T] = {0.1, 0.2, 0.3};
        double racc[T] = {0.95, 0.5, 0.25}, rbase[T] = {0.25, 0.5, 0.75};
        rc = cl_store_write_baseline(s, CL_EVAL_GENERATE, base, err);
        if (!rc)
            rc = cl_store_write_accuracy_row(s, CL_EVAL_GENERATE, 0, acc, err);
        if (!rc)
            rc = cl_store_write_baseline(s, CL_EVAL_RANKED, rbase, err);
        if (!rc)
            rc = cl_store_write_accuracy_row(s, CL_EVAL_RANKED, 0, racc, err);
    }
    int rc2 = cl_store_close(s, err);
    return rc ? rc : rc2;
}

static void test_round_trip(void)
{
    char p[300];
    path_in(p, sizeof p, "rt.h5");
    cl_error err;
    CHECK(write_store(p, "inclora", 7, 64, &err) == CL_OK, "%s", err.msg);
    cl_store *s;
    CHECK(cl_store_open(p, &s, &err) == CL_OK, "%s", err.msg);
    if (!s)
        return;
    const cl_run_meta *m = cl_store_meta(s);
    CHECK(!strcmp(m->method, "inclora") && m->rank == 3 && m->alpha == 6 && m->scaling == 2 &&
              !strcmp(m->penalty_form, "paper") && m->lambda_orth == 0.5 && m->seed == 42 &&
              !strcmp(m->base_model, "tiny-llama") && !strcmp(m->scaling_rule, "alpha/r"),
          "metadata");
    CHECK(cl_store_n_tasks(s) == T && cl_store_n_modules(s) == M && cl_store_n_snapshots(s) == 7,
          "counts");
    CHECK(!strcmp(cl_store_task_name(s, 2), "gamma") && !strcmp(cl_store_task_data(s, 1), "yelp") &&
              !strcmp(cl_store_task_data(s, 0), "") && cl_store_task_lambda(s, 1) == 1.2,
          "tasks");
    CHECK(!strcmp(cl_store_module_name(s, 1), "layers.0.mlp.up") && cl_store_module_d_out(s, 1) == 10 &&
              cl_store_module_d_in(s, 1) == 4 && cl_store_module_rank(s, 0) == 3,
          "modules");
    CHECK(cl_store_task_end(s, 0) == 1 && cl_store_task_end(s, 1) == 4 && cl_store_task_end(s, 2) == 6,
          "task ends %lld %lld %lld", (long long)cl_store_task_end(s, 0),
          (long long)cl_store_task_end(s, 1), (long long)cl_store_task_end(s, 2));
    const cl_snapshot_row *w = cl_store_snapshot(s, 3);
    CHECK(w->task == 1 && w->epoch == 3 && w->step == 30 && w->loss == 0.25 && isnan(w->penalty_l2) &&
              w->kind == CL_SNAP_PERIODIC && w->wall_time == 4.5,
          "row 3");
    const double *R = cl_store_accuracy(s, CL_EVAL_GENERATE), *b = cl_store_baseline(s, CL_EVAL_GENERATE);
    CHECK(R[0] == 0.9 && R[1] == 0.2 && isnan(R[2]) && isnan(R[3]) && b[2] == 0.3, "accuracy");
    const double *Rr = cl_store_accuracy(s, CL_EVAL_RANKED), *br = cl_store_baseline(s, CL_EVAL_RANKED);
    CHECK(Rr[0] == 0.95 && Rr[1] == 0.5 && Rr[2] == 0.25 && isnan(Rr[3]) && br[2] == 0.75,
          "ranked accuracy kept apart from generation");
    CHECK(cl_store_has_eval(s, CL_EVAL_RANKED) && cl_store_has_eval(s, CL_EVAL_GENERATE),
          "both protocols evaluated");
    CHECK(cl_store_task_n_test(s, 0) == 200 && cl_store_task_n_test(s, 2) == 7 &&
              cl_store_task_n_labels(s, 1) == 14,
          "test and label counts");
    /* binomial standard error, closed form: sqrt(0.9 * 0.1 / 200) */
    CHECK_NEAR(cl_acc_stderr(R[0], cl_store_task_n_test(s, 0)), sqrt(0.09 / 200), 1e-15, 0,
               "standard error");
    CHECK(isnan(cl_acc_stderr(0.5, 0)), "no standard error without a count");
    for (int j = 0; j < 7; j++)
        for (int mm = 0; mm < M; mm++) {
            cl_lowrank u;
            CHECK(cl_store_read_adapter(s, mm, j, &u, &err) == CL_OK, "%s", err.msg);
            int k = mm == 0 ? 3 : (j % 2 ? 1 : 2);
            CHECK(u.k == k && u.d_out == dout[mm] && u.d_in == din[mm], "shape");
            CHECK(u.scale == (mm == 0 ? 2.0 : 1.5 + j), "scale %g", u.scale);
            int bad = 0;
            for (int i = 0; i < k * din[mm]; i++)
                bad += u.A[i] != val_a(j, mm, i);
            for (int i = 0; i < dout[mm] * k; i++)
                bad += u.B[i] != val_b(j, mm, i);
            CHECK(bad == 0, "snapshot %d module %d: %d values differ", j, mm, bad);
            cl_lowrank_free(&u);
        }
    unsigned char st[64];
    CHECK(cl_store_read_resume(s, 6, st, 64, &err) == CL_OK && st[0] == 7 && st[63] == 7,
          "resume slot of 6: %s", err.msg);
    CHECK(cl_store_read_resume(s, 5, st, 64, &err) == CL_OK && st[10] == 6, "resume slot of 5");
    CHECK(cl_store_read_resume(s, 4, st, 64, &err) == CL_ERR_FORMAT, "slot of 4 overwritten");

    /* views */
    cl_view_list vl;
    CHECK(cl_views_select(s, "task-ends", &vl, &err) == CL_OK && vl.n == 1, "task-ends");
    CHECK(vl.v[0].snapshot == 6 && vl.v[0].n == 3 && vl.v[0].at[0] == 1 && vl.v[0].at[1] == 4 &&
              vl.v[0].at[2] == 6 && vl.v[0].prev[2] == -1,
          "task-ends view");
    cl_view_list_free(&vl);
    CHECK(cl_views_select(s, "all", &vl, &err) == CL_OK && vl.n == 7, "all");
    CHECK(vl.v[3].n == 2 && vl.v[3].at[0] == 1 && vl.v[3].at[1] == 3, "view at 3");
    CHECK(vl.v[0].n == 1 && vl.v[0].at[0] == 0, "view at 0");
    cl_view_list_free(&vl);
    CHECK(cl_views_select(s, "2", &vl, &err) == CL_OK && vl.n == 1 && vl.v[0].n == 2, "id 2");
    cl_view_list_free(&vl);
    CHECK(cl_views_select(s, "7", &vl, &err) == CL_ERR_ARG, "id out of range");
    CHECK_CONTAINS(err.msg, "snapshots 0 to 6");
    CHECK(cl_views_select(s, "later", &vl, &err) == CL_ERR_ARG, "bad spec");
    int *idx, n;
    CHECK(cl_modules_select(s, "*.mlp.*", &idx, &n, &err) == CL_OK && n == 1 && idx[0] == 1, "glob");
    free(idx);
    CHECK(cl_modules_select(s, "*.k", &idx, &n, &err) == CL_ERR_ARG, "glob matching nothing");
    CHECK_CONTAINS(err.msg, "matches none");
    cl_store_close(s, NULL);

    /* appending after reopening continues the same store */
    cl_store *wr;
    CHECK(cl_store_open_append(p, &wr, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_store_n_snapshots(wr) == 7, "reopened count");
    cl_store_close(wr, NULL);
    /* create refuses to overwrite */
    CHECK(write_store(p, "inclora", 1, 0, &err) == CL_ERR_EXISTS, "overwrite refused");
    CHECK_CONTAINS(err.msg, "refusing to overwrite");
}

/* seqlora: task t's update is its end minus the previous task's end. */
/* A format 1 store (no ranked accuracy, no counts), as collide 0.1 wrote it:
 * made from a version 2 store by removing what version 2 added. It reads,
 * with ranked accuracies NaN and counts unknown, and is not appended to. */
static void test_format1(void)
{
    char p[300];
    path_in(p, sizeof p, "v1.h5");
    cl_error err;
    CHECK(write_store(p, "inclora", 2, 64, &err) == CL_OK, "%s", err.msg);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    const char *added[] = {"accuracy_ranked", "tasks/baseline_ranked", "tasks/n_test",
                           "tasks/n_labels"};
    for (int i = 0; i < 4; i++)
        CHECK(H5Ldelete(f, added[i], H5P_DEFAULT) >= 0, "delete %s", added[i]);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t one = 1;
    CHECK(H5Awrite(a, H5T_NATIVE_INT64, &one) >= 0, "version 1");
    H5Aclose(a);
    H5Fclose(f);
    cl_store *s = NULL;
    CHECK(cl_store_open(p, &s, &err) == CL_OK, "a version 1 store reads: %s", err.msg);
    if (!s)
        return;
    CHECK(cl_store_format_version(s) == 1, "version %d", cl_store_format_version(s));
    CHECK(cl_store_accuracy(s, CL_EVAL_GENERATE)[0] == 0.9, "its accuracy");
    CHECK(isnan(cl_store_accuracy(s, CL_EVAL_RANKED)[0]) && !cl_store_has_eval(s, CL_EVAL_RANKED),
          "no ranked accuracy");
    CHECK(cl_store_task_n_test(s, 0) == 0 && cl_store_task_n_labels(s, 0) == 0, "counts unknown");
    cl_store_close(s, NULL);
    CHECK(cl_store_open_append(p, &s, &err) == CL_ERR_VERSION, "appending refused");
    CHECK_CONTAINS(err.msg, "version 1 stores are read but not appended to");
}

static void test_seqlora_difference(void)
{
    char p[300];
    path_in(p, sizeof p, "seq.h5");
    cl_error err;
    CHECK(write_store(p, "seqlora", 5, 0, &err) == CL_OK, "%s", err.msg);
    cl_store *s;
    if (cl_store_open(p, &s, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    cl_view_list vl;
    CHECK(cl_views_select(s, "last", &vl, &err) == CL_OK, "%s", err.msg);
    const cl_view *v = &vl.v[0];
    CHECK(v->n == 2 && v->at[1] == 4 && v->prev[1] == 1 && v->prev[0] == -1, "seqlora view");
    for (int mm = 0; mm < M; mm++) {
        cl_lowrank d, cur, prev;
        CHECK(cl_view_update(s, v, 1, mm, &d, &err) == CL_OK, "%s", err.msg);
        cl_store_read_adapter(s, mm, 4, &cur, &err);
        cl_store_read_adapter(s, mm, 1, &prev, &err);
        CHECK(d.k == cur.k + prev.k, "rank %d", d.k);
        double *wd = ref_dense_d(&d), *wc = ref_dense_d(&cur), *wp = ref_dense_d(&prev);
        double worst = 0;
        for (int i = 0; i < dout[mm] * din[mm]; i++)
            worst = fmax(worst, fabs(wd[i] - (wc[i] - wp[i])) / (1 + fabs(wc[i])));
        CHECK(worst < 1e-6, "module %d: difference off by %g", mm, worst);
        free(wd), free(wc), free(wp);
        cl_lowrank_free(&d), cl_lowrank_free(&cur), cl_lowrank_free(&prev);
    }
    cl_view_list_free(&vl);
    cl_store_close(s, NULL);
}

/* ---------------------------------------------------------- bad inputs */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

typedef void (*mutate_fn)(hid_t f);

static void m_delete(hid_t f, const char *name) { H5Ldelete(f, name, H5P_DEFAULT); }
static void m_no_table(hid_t f) { m_delete(f, "snapshots/table"); }
static void m_no_B(hid_t f) { m_delete(f, "adapters/000001/B"); }
static void m_no_modules(hid_t f) { m_delete(f, "modules/d_in"); }
static void m_no_attr(hid_t f) { H5Adelete(f, "method"); }

static void replace_dataset(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                            const void *data)
{
    H5Ldelete(f, name, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (data)
        H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
}

static void m_wrong_dtype_A(hid_t f)
{
    hsize_t dims[3] = {5, 3, 5};
    replace_dataset(f, "adapters/000000/A", H5T_NATIVE_DOUBLE, 3, dims, NULL);
}
static void m_int_A(hid_t f)
{
    hsize_t dims[3] = {5, 3, 5};
    replace_dataset(f, "adapters/000000/A", H5T_NATIVE_INT, 3, dims, NULL);
}
static void m_wrong_shape_B(hid_t f)
{
    hsize_t dims[3] = {5, 9, 2};
    replace_dataset(f, "adapters/000001/B", H5T_NATIVE_FLOAT, 3, dims, NULL);
}
static void m_short_A(hid_t f)
{
    hsize_t dims[3] = {2, 3, 5};
    replace_dataset(f, "adapters/000000/A", H5T_NATIVE_FLOAT, 3, dims, NULL);
}
static void m_acc_size(hid_t f)
{
    hsize_t dims[2] = {2, 2};
    double v[4] = {0.5, 0.5, 0.5, 0.5};
    replace_dataset(f, "accuracy", H5T_NATIVE_DOUBLE, 2, dims, v);
}
static void write_elem(hid_t f, const char *name, hid_t type, hsize_t idx, const void *v, int rank)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t c[3] = {1, 1, 1}, st[3] = {0, 0, 0};
    st[rank - 1] = idx;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, c, NULL);
    hid_t ms = H5Screate_simple(1, c, NULL);
    H5Dwrite(d, type, ms, fs, H5P_DEFAULT, v);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}
static void m_nan_A(hid_t f)
{
    float v = NAN;
    write_elem(f, "adapters/000000/A", H5T_NATIVE_FLOAT, 2, &v, 3);
}
static void m_inf_B(hid_t f)
{
    float v = INFINITY;
    write_elem(f, "adapters/000001/B", H5T_NATIVE_FLOAT, 0, &v, 3);
}
static void m_acc_range(hid_t f)
{
    double v = 1.5;
    write_elem(f, "accuracy", H5T_NATIVE_DOUBLE, 1, &v, 2);
}
static void m_acc_inf(hid_t f)
{
    double v = -INFINITY;
    write_elem(f, "accuracy", H5T_NATIVE_DOUBLE, 1, &v, 2);
}
static void m_newer(hid_t f)
{
    int64_t v = 99;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
}
static void m_not_collide(hid_t f)
{
    H5Adelete(f, "format");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = "something-else";
    H5Awrite(a, t, &v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}
static void m_committed_big(hid_t f)
{
    hid_t d = H5Dopen2(f, "snapshots/committed", H5P_DEFAULT);
    int64_t v = 50;
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
    H5Dclose(d);
}
static void m_bad_rank(hid_t f)
{
    int32_t v = 9;
    write_elem(f, "snapshots/rank", H5T_NATIVE_INT32, 1, &v, 2);
}
static void m_names_int(hid_t f)
{
    hsize_t d = 3;
    int v[3] = {1, 2, 3};
    replace_dataset(f, "tasks/name", H5T_NATIVE_INT, 1, &d, v);
}
static void m_dout_zero(hid_t f)
{
    int64_t v = 0;
    write_elem(f, "modules/d_out", H5T_NATIVE_INT64, 0, &v, 1);
}

static void test_bad_inputs(void)
{
    char good[300];
    path_in(good, sizeof good, "good.h5");
    cl_error err;
    CHECK(write_store(good, "inclora", 5, 0, &err) == CL_OK, "%s", err.msg);
    struct {
        const char *name;
        mutate_fn fn;
        int code;
        const char *object, *reason;
        int at_read; /* the error shows when the adapter is read */
    } cases[] = {
        {"missing table", m_no_table, CL_ERR_FORMAT, "snapshots/table", "object missing", 0},
        {"missing B", m_no_B, CL_ERR_FORMAT, "adapters/000001/B", "object missing", 0},
        {"missing d_in", m_no_modules, CL_ERR_FORMAT, "modules/d_in", "object missing", 0},
        {"missing attribute", m_no_attr, CL_ERR_FORMAT, "/@method", "attribute missing", 0},
        {"float64 A", m_wrong_dtype_A, CL_ERR_FORMAT, "adapters/000000/A", "expected float32, found float64", 0},
        {"int A", m_int_A, CL_ERR_FORMAT, "adapters/000000/A", "found int32", 0},
        {"B shape", m_wrong_shape_B, CL_ERR_FORMAT, "adapters/000001/B", "shape 5 x 9 x 2", 0},
        {"A too short", m_short_A, CL_ERR_FORMAT, "adapters/000000/A", "expected 5 x 3 x 5", 0},
        {"accuracy size", m_acc_size, CL_ERR_FORMAT, "/accuracy", "shape 2 x 2, expected 3 x 3", 0},
        {"accuracy > 1", m_acc_range, CL_ERR_VALUE, "/accuracy", "R[0][1] is 1.5", 0},
        {"accuracy -inf", m_acc_inf, CL_ERR_VALUE, "/accuracy", "is -inf", 0},
        {"NaN in A", m_nan_A, CL_ERR_VALUE, "adapters/000000/A", "is NaN", 1},
        {"Inf in B", m_inf_B, CL_ERR_VALUE, "adapters/000001/B", "is Inf", 1},
        {"newer version", m_newer, CL_ERR_VERSION, "/@format_version", "newer than this collide", 0},
        {"not a collide store", m_not_collide, CL_ERR_FORMAT, "/@format", "is not a collide store", 0},
        {"counter beyond rows", m_committed_big, CL_ERR_FORMAT, "snapshots/table", "fewer than the 50 committed", 0},
        {"snapshot rank", m_bad_rank, CL_ERR_VALUE, "snapshots/rank", "rank 9 outside [1, 2]", 0},
        {"names not strings", m_names_int, CL_ERR_FORMAT, "tasks/name", "expected variable-length string", 0},
        {"zero d_out", m_dout_zero, CL_ERR_VALUE, "modules", "shape 0 x 5", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[300];
        path_in(p, sizeof p, "bad.h5");
        copy_file(good, p);
        hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
        cases[i].fn(f);
        H5Fclose(f);
        cl_store *s = NULL;
        int rc = cl_store_open(p, &s, &err);
        if (cases[i].at_read && rc == CL_OK) {
            cl_lowrank u;
            int m = strstr(cases[i].object, "000001") ? 1 : 0;
            rc = cl_store_read_adapter(s, m, 0, &u, &err);
            cl_store_close(s, NULL);
        }
        CHECK(rc == cases[i].code, "%s: code %d (%s), expected %d", cases[i].name, rc,
              rc ? err.msg : "opened", cases[i].code);
        if (rc) {
            CHECK_CONTAINS(err.msg, p);
            CHECK_CONTAINS(err.msg, cases[i].object);
            CHECK_CONTAINS(err.msg, cases[i].reason);
        }
        unlink(p);
    }
    /* files that are not stores at all */
    char p[300];
    path_in(p, sizeof p, "text.h5");
    FILE *fp = fopen(p, "w");
    fputs("this is not HDF5\n", fp);
    fclose(fp);
    cl_store *s;
    CHECK(cl_store_open(p, &s, &err) == CL_ERR_FORMAT, "text file");
    CHECK_CONTAINS(err.msg, "not an HDF5 file");
    CHECK(cl_store_open("/nonexistent/x.h5", &s, &err) == CL_ERR_IO, "missing file");
    CHECK_CONTAINS(err.msg, "/nonexistent/x.h5: No such file");
    CHECK(cl_store_open(dir, &s, &err) == CL_ERR_IO, "directory");
    CHECK_CONTAINS(err.msg, "not a regular file");
    /* truncated at several lengths: an error, never a crash */
    FILE *g = fopen(good, "rb");
    fseek(g, 0, SEEK_END);
    long size = ftell(g);
    fclose(g);
    long cuts[] = {8, 100, 1000, size / 2, size - 100};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        path_in(p, sizeof p, "cut.h5");
        copy_file(good, p);
        if (truncate(p, cuts[i]) != 0)
            continue;
        int rc = cl_store_open(p, &s, &err);
        if (rc == CL_OK) { /* truncation may spare the metadata; reading must then fail or succeed */
            cl_lowrank u;
            for (int m = 0; m < M && rc == CL_OK; m++)
                for (int j = 0; j < 5 && rc == CL_OK; j++) {
                    rc = cl_store_read_adapter(s, m, j, &u, &err);
                    if (!rc)
                        cl_lowrank_free(&u);
                }
            cl_store_close(s, NULL);
        }
        CHECK(rc != CL_OK, "truncated to %ld of %ld bytes: read without error", cuts[i], size);
        if (rc)
            CHECK_CONTAINS(err.msg, p);
    }
    unlink(p);
}

/* A writer killed at random points: the store always opens, and holds
 * exactly the snapshots committed, each intact. */
static void test_killed_writer(void)
{
    for (int trial = 0; trial < 6; trial++) {
        char p[300];
        path_in(p, sizeof p, "killed.h5");
        unlink(p);
        int fds[2];
        if (pipe(fds) != 0)
            return;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            cl_store_spec sp = {
                .meta = {.method = "inclora", .rank = 4, .alpha = 8, .scaling = 2, .seed = 1},
                .n_tasks = 1, .task_names = (const char *const[]){"t"}, .n_modules = 1,
                .module_names = (const char *const[]){"m"}, .d_out = (int64_t[]){256},
                .d_in = (int64_t[]){256}, .rank = (int32_t[]){4}};
            cl_store *s;
            cl_error e;
            if (cl_store_create(p, &sp, &s, &e))
                _exit(3);
            float a[4 * 256], b[256 * 4];
            for (int j = 0;; j++) {
                for (int i = 0; i < 1024; i++)
                    a[i] = b[i] = (float)j;
                const float *pa[1] = {a}, *pb[1] = {b};
                cl_snapshot_row row = {.task = 0, .step = j, .kind = CL_SNAP_PERIODIC};
                if (cl_store_append(s, &row, pa, pb, (int32_t[]){4}, (double[]){2.0}, NULL, 0, &e))
                    _exit(4);
                if (j == 3 && write(fds[1], "x", 1) != 1)
                    _exit(5);
            }
        }
        close(fds[1]);
        char x;
        if (read(fds[0], &x, 1) != 1) {
            CHECK(0, "writer did not start");
            close(fds[0]);
            continue;
        }
        close(fds[0]);
        usleep(1000 * (1 + 7 * trial));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cl_store *s;
        cl_error err;
        int rc = cl_store_open(p, &s, &err);
        CHECK(rc == CL_OK, "trial %d: killed store does not open: %s", trial, err.msg);
        if (rc)
            continue;
        int64_t n = cl_store_n_snapshots(s);
        CHECK(n >= 4, "trial %d: %lld snapshots", trial, (long long)n);
        int bad = 0;
        for (int64_t j = 0; j < n; j++) {
            cl_lowrank u;
            if (cl_store_read_adapter(s, 0, j, &u, &err)) {
                bad++;
                continue;
            }
            for (int i = 0; i < 1024; i++)
                bad += u.A[i] != (float)j || u.B[i] != (float)j;
            cl_lowrank_free(&u);
        }
        CHECK(bad == 0, "trial %d: %d bad values", trial, bad);
        cl_store_close(s, NULL);
        /* and the writer's successor can reopen it and go on */
        cl_store *w;
        CHECK(cl_store_open_append(p, &w, &err) == CL_OK, "reopen for append: %s", err.msg);
        if (w) {
            float a[1024] = {0}, b[1024] = {0};
            const float *pa[1] = {a}, *pb[1] = {b};
            cl_snapshot_row row = {.task = 0, .step = 999, .kind = CL_SNAP_END_OF_TASK};
            CHECK(cl_store_append(w, &row, pa, pb, (int32_t[]){4}, (double[]){2.0}, NULL, 0,
                                  &err) == CL_OK && row.id == n,
                  "append after kill: %s", err.msg);
            cl_store_close(w, NULL);
            CHECK(cl_store_open(p, &s, &err) == CL_OK && cl_store_n_snapshots(s) == n + 1 &&
                      cl_store_task_end(s, 0) == n,
                  "after resume");
            cl_store_close(s, NULL);
        }
    }
}

/* Forks of this process, counted by a pthread_atfork handler. */
static int forks;
static void count_fork(void) { forks++; }

static int same_bits(const void *a, const void *b, size_t n) { return !memcmp(a, b, n); }
static int same_str(const char *a, const char *b) { return !strcmp(a, b); }

/* Everything cl_store exposes, equal bit for bit in a and b. */
static void check_same_store(cl_store *a, cl_store *b)
{
    const cl_run_meta *x = cl_store_meta(a), *y = cl_store_meta(b);
    CHECK(same_str(x->method, y->method) && x->rank == y->rank &&
              same_bits(&x->alpha, &y->alpha, sizeof x->alpha) &&
              same_bits(&x->scaling, &y->scaling, sizeof x->scaling) &&
              same_str(x->scaling_rule, y->scaling_rule) &&
              same_str(x->penalty_form, y->penalty_form) &&
              same_bits(&x->lambda_orth, &y->lambda_orth, sizeof x->lambda_orth) &&
              same_bits(&x->lambda_l2, &y->lambda_l2, sizeof x->lambda_l2) &&
              same_bits(&x->lambda_sparse, &y->lambda_sparse, sizeof x->lambda_sparse) &&
              x->seed == y->seed && same_str(x->base_model, y->base_model) &&
              same_str(x->created_by, y->created_by) &&
              same_str(x->train_config, y->train_config) &&
              cl_store_format_version(a) == cl_store_format_version(b),
          "no child: metadata");
    int nt = cl_store_n_tasks(a), nm = cl_store_n_modules(a);
    int64_t ns = cl_store_n_snapshots(a);
    CHECK(nt == cl_store_n_tasks(b) && nm == cl_store_n_modules(b) &&
              ns == cl_store_n_snapshots(b) && ns > 0,
          "no child: counts");
    if (nt != cl_store_n_tasks(b) || nm != cl_store_n_modules(b) || ns != cl_store_n_snapshots(b))
        return;
    for (int t = 0; t < nt; t++) {
        double la = cl_store_task_lambda(a, t), lb = cl_store_task_lambda(b, t);
        CHECK(same_str(cl_store_task_name(a, t), cl_store_task_name(b, t)) &&
                  same_str(cl_store_task_data(a, t), cl_store_task_data(b, t)) &&
                  same_bits(&la, &lb, sizeof la) &&
                  cl_store_task_end(a, t) == cl_store_task_end(b, t) &&
                  cl_store_task_n_test(a, t) == cl_store_task_n_test(b, t) &&
                  cl_store_task_n_labels(a, t) == cl_store_task_n_labels(b, t),
              "no child: task %d", t);
    }
    for (int m = 0; m < nm; m++)
        CHECK(same_str(cl_store_module_name(a, m), cl_store_module_name(b, m)) &&
                  cl_store_module_d_out(a, m) == cl_store_module_d_out(b, m) &&
                  cl_store_module_d_in(a, m) == cl_store_module_d_in(b, m) &&
                  cl_store_module_rank(a, m) == cl_store_module_rank(b, m),
              "no child: module %d", m);
    for (int64_t j = 0; j < ns; j++) {
        const cl_snapshot_row *p = cl_store_snapshot(a, j), *q = cl_store_snapshot(b, j);
        double dp[] = {p->loss, p->loss_task, p->penalty_orth, p->penalty_l2, p->penalty_sparse,
                       p->wall_time};
        double dq[] = {q->loss, q->loss_task, q->penalty_orth, q->penalty_l2, q->penalty_sparse,
                       q->wall_time};
        CHECK(p->id == q->id && p->task == q->task && p->epoch == q->epoch &&
                  p->step == q->step && p->kind == q->kind && same_bits(dp, dq, sizeof dp),
              "no child: row %lld", (long long)j);
        for (int m = 0; m < nm; m++) {
            cl_lowrank u, v;
            cl_error e1, e2;
            int r1 = cl_store_read_adapter(a, m, j, &u, &e1);
            int r2 = cl_store_read_adapter(b, m, j, &v, &e2);
            CHECK(r1 == CL_OK && r2 == CL_OK, "no child: adapter %d of %lld", m, (long long)j);
            if (r1 || r2) {
                if (!r1)
                    cl_lowrank_free(&u);
                if (!r2)
                    cl_lowrank_free(&v);
                continue;
            }
            CHECK(u.d_out == v.d_out && u.d_in == v.d_in && u.k == v.k &&
                      same_bits(&u.scale, &v.scale, sizeof u.scale) &&
                      same_bits(u.A, v.A, (size_t)u.k * (size_t)u.d_in * sizeof *u.A) &&
                      same_bits(u.B, v.B, (size_t)u.d_out * (size_t)u.k * sizeof *u.B),
                  "no child: adapter %d of snapshot %lld differs", m, (long long)j);
            cl_lowrank_free(&u);
            cl_lowrank_free(&v);
        }
    }
    for (int e = 0; e < CL_EVAL_COUNT; e++) {
        CHECK(cl_store_has_eval(a, (cl_eval)e) == cl_store_has_eval(b, (cl_eval)e),
              "no child: eval %d", e);
        const double *ra = cl_store_accuracy(a, (cl_eval)e), *rb = cl_store_accuracy(b, (cl_eval)e);
        const double *ba = cl_store_baseline(a, (cl_eval)e), *bb = cl_store_baseline(b, (cl_eval)e);
        CHECK((!ra && !rb) || (ra && rb && same_bits(ra, rb, (size_t)nt * (size_t)nt * sizeof *ra)),
              "no child: accuracy %d", e);
        CHECK((!ba && !bb) || (ba && bb && same_bits(ba, bb, (size_t)nt * sizeof *ba)),
              "no child: baseline %d", e);
    }
    int64_t rs = cl_store_resume_bytes(a);
    CHECK(rs == cl_store_resume_bytes(b), "no child: resume bytes");
    if (rs > 0 && rs <= 64) {
        unsigned char sa[64], sb[64];
        cl_error e1, e2;
        CHECK(cl_store_read_resume(a, ns - 1, sa, rs, &e1) == CL_OK &&
                  cl_store_read_resume(b, ns - 1, sb, rs, &e2) == CL_OK &&
                  same_bits(sa, sb, (size_t)rs),
              "no child: resume state");
    }
}

/* cl_store_open forks one throw-away child per call; CL_STORE_NO_CHILD
 * forks none and reads the same store, and refuses a bad one with the same
 * code and message. (That the child catches what crashes libhdf5, a
 * damaged global heap, is tests/reliability's: bad_inputs.py,
 * regressions.py.) */
static void test_open_without_child(void)
{
    CHECK(pthread_atfork(count_fork, NULL, NULL) == 0, "pthread_atfork");
    char p[300];
    path_in(p, sizeof p, "nochild.h5");
    cl_error err;
    CHECK(write_store(p, "olora", 7, 64, &err) == CL_OK, "%s", err.msg);
    cl_store *a = NULL, *b = NULL, *c = NULL;
    int f0 = forks;
    CHECK(cl_store_open(p, &a, &err) == CL_OK, "%s", err.msg);
    CHECK(forks == f0 + 1, "cl_store_open forked %d times, expected once", forks - f0);
    f0 = forks;
    CHECK(cl_store_open_with(p, 0, &c, &err) == CL_OK, "%s", err.msg);
    CHECK(forks == f0 + 1, "flags 0 forked %d times, expected once", forks - f0);
    f0 = forks;
    CHECK(cl_store_open_with(p, CL_STORE_NO_CHILD, &b, &err) == CL_OK, "%s", err.msg);
    CHECK(forks == f0, "CL_STORE_NO_CHILD forked %d times", forks - f0);
    if (a && b)
        check_same_store(a, b);
    if (c && b)
        check_same_store(c, b);
    cl_store_close(a, NULL);
    cl_store_close(b, NULL);
    cl_store_close(c, NULL);

    /* an unknown flag is refused, nothing opened */
    cl_store *s = (cl_store *)&err; /* not NULL: the call must clear it */
    CHECK(cl_store_open_with(p, 1u << 7, &s, &err) == CL_ERR_ARG && !s, "unknown flag");
    CHECK_CONTAINS(err.msg, "unknown flags 0x80");

    /* bad stores: the same refusal, child or not */
    struct {
        const char *name;
        mutate_fn fn;
    } cases[] = {{"missing table", m_no_table}, {"accuracy > 1", m_acc_range},
                 {"newer version", m_newer},     {"snapshot rank", m_bad_rank},
                 {"names not strings", m_names_int}, {"text file", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char q[300];
        path_in(q, sizeof q, "nochild_bad.h5");
        if (cases[i].fn) {
            copy_file(p, q);
            hid_t f = H5Fopen(q, H5F_ACC_RDWR, H5P_DEFAULT);
            cases[i].fn(f);
            H5Fclose(f);
        } else {
            FILE *fp = fopen(q, "w");
            fputs("this is not HDF5\n", fp);
            fclose(fp);
        }
        cl_error e1, e2;
        cl_store *s1 = NULL, *s2 = NULL;
        int r1 = cl_store_open(q, &s1, &e1);
        int r2 = cl_store_open_with(q, CL_STORE_NO_CHILD, &s2, &e2);
        CHECK(r1 != CL_OK && r1 == r2 && !s1 && !s2, "%s: code %d with the child, %d without",
              cases[i].name, r1, r2);
        if (r1 && r2)
            CHECK(!strcmp(e1.msg, e2.msg), "%s: '%s' with the child, '%s' without",
                  cases[i].name, e1.msg, e2.msg);
        cl_store_close(s1, NULL);
        cl_store_close(s2, NULL);
        unlink(q);
    }
    unlink(p);
}

int main(void)
{
    check_begin("test_store");
    snprintf(dir, sizeof dir, "/tmp/collide-test-store-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_round_trip();
    test_format1();
    test_seqlora_difference();
    test_bad_inputs();
    test_killed_writer();
    test_open_without_child();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
