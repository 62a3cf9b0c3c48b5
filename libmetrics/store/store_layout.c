/*
 * store_layout.c -- what a new store holds before its first snapshot: the
 * spec checked, then every object created (metadata, tasks, modules, the
 * extendible snapshot datasets, the accuracy matrix, the resume slots).
 * store_write.c creates the file around it and appends snapshots.
 */

#include "store_internal.h"

#include <math.h>
#include <string.h>

int cl_store_check_spec(const char *path, const cl_store_spec *sp, cl_error *err)
{
    const cl_run_meta *m = &sp->meta;
    if (sp->n_tasks < 1 || sp->n_tasks > 100000)
        return cl_error_set(err, CL_ERR_ARG, "%s: task count %d out of range [1, 100000]",
                            path, sp->n_tasks);
    if (sp->n_modules < 1 || sp->n_modules > 1000000)
        return cl_error_set(err, CL_ERR_ARG, "%s: module count %d out of range", path,
                            sp->n_modules);
    if (!m->method || !m->method[0])
        return cl_error_set(err, CL_ERR_ARG, "%s: method missing", path);
    if (!(m->rank >= 1) || !isfinite(m->alpha) || !isfinite(m->scaling))
        return cl_error_set(err, CL_ERR_ARG, "%s: rank, alpha or scaling invalid", path);
    for (int t = 0; t < sp->n_tasks; t++) {
        if (!sp->task_names[t] || !sp->task_names[t][0])
            return cl_error_set(err, CL_ERR_ARG, "%s: task %d has no name", path, t);
        if (sp->task_lambda && !(sp->task_lambda[t] >= 0 && isfinite(sp->task_lambda[t])))
            return cl_error_set(err, CL_ERR_ARG, "%s: task %s: lambda must be finite and >= 0",
                                path, sp->task_names[t]);
    }
    for (int i = 0; i < sp->n_modules; i++) {
        if (!sp->module_names[i] || !sp->module_names[i][0])
            return cl_error_set(err, CL_ERR_ARG, "%s: module %d has no name", path, i);
        if (sp->d_out[i] < 1 || sp->d_in[i] < 1 || sp->rank[i] < 1 ||
            sp->d_out[i] > (1 << 24) || sp->d_in[i] > (1 << 24) || sp->rank[i] > 65536)
            return cl_error_set(err, CL_ERR_ARG,
                                "%s: module %s: shape %lld x %lld with rank %d out of range",
                                path, sp->module_names[i], (long long)sp->d_out[i],
                                (long long)sp->d_in[i], sp->rank[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(sp->module_names[i], sp->module_names[j]))
                return cl_error_set(err, CL_ERR_ARG, "%s: module name %s appears twice", path,
                                    sp->module_names[i]);
    }
    if (sp->resume_bytes < 0)
        return cl_error_set(err, CL_ERR_ARG, "%s: negative resume size", path);
    return CL_OK;
}

static hid_t make_dataset(hid_t loc, const char *name, hid_t type, int rank,
                          const hsize_t *dims, const hsize_t *maxdims,
                          const hsize_t *chunk)
{
    hid_t sp = H5Screate_simple(rank, dims, maxdims);
    hid_t dc = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk)
        H5Pset_chunk(dc, rank, chunk);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dc, H5P_DEFAULT);
    H5Pclose(dc);
    H5Sclose(sp);
    return d;
}

/* Objects that are written once at creation. */
int cl_store_create_layout(cl_store *s, const cl_store_spec *sp, cl_error *err)
{
    hid_t f = s->file;
    const cl_run_meta *m = &sp->meta;
    int T = sp->n_tasks, M = sp->n_modules;
    int bad = 0;
    bad |= cl_h5_attr_write_str(f, "format", CL_FORMAT_NAME);
    bad |= cl_h5_attr_write_i64(f, "format_version", CL_FORMAT_VERSION);
    bad |= cl_h5_attr_write_str(f, "method", m->method);
    bad |= cl_h5_attr_write_i64(f, "rank", m->rank);
    bad |= cl_h5_attr_write_f64(f, "alpha", m->alpha);
    bad |= cl_h5_attr_write_f64(f, "scaling", m->scaling);
    bad |= cl_h5_attr_write_str(f, "scaling_rule", m->scaling_rule ? m->scaling_rule : "alpha/r");
    bad |= cl_h5_attr_write_str(f, "penalty_form", m->penalty_form ? m->penalty_form : "none");
    bad |= cl_h5_attr_write_f64(f, "lambda_orth", m->lambda_orth);
    bad |= cl_h5_attr_write_f64(f, "lambda_l2", m->lambda_l2);
    bad |= cl_h5_attr_write_f64(f, "lambda_sparse", m->lambda_sparse);
    bad |= cl_h5_attr_write_u64(f, "seed", m->seed);
    bad |= cl_h5_attr_write_str(f, "base_model", m->base_model ? m->base_model : "");
    bad |= cl_h5_attr_write_str(f, "created_by", m->created_by ? m->created_by : "");
    if (m->train_config && m->train_config[0])
        bad |= cl_h5_attr_write_str(f, "train_config", m->train_config);
    if (m->name && m->name[0])
        bad |= cl_h5_attr_write_str(f, "name", m->name);
    bad |= cl_h5_attr_write_str(f, "origin", m->origin && m->origin[0]
                                                 ? m->origin
                                                 : cl_store_origin_of(m->method));
    if (bad)
        return cl_store_write_fail(s, err, "cannot write run attributes");

    hid_t g1 = H5Gcreate2(f, "tasks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g2 = H5Gcreate2(f, "modules", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g3 = H5Gcreate2(f, "snapshots", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g4 = H5Gcreate2(f, "adapters", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = g1 < 0 || g2 < 0 || g3 < 0 || g4 < 0;
    H5Gclose(g1);
    H5Gclose(g2);
    H5Gclose(g3);
    if (bad) {
        H5Gclose(g4);
        return cl_store_write_fail(s, err, "cannot create groups");
    }

    /* Tasks. */
    const char **data = cl_alloc((size_t)T, sizeof *data, err);
    double *lam = cl_alloc((size_t)T, sizeof *lam, err);
    double *nan = cl_alloc((size_t)T * (size_t)T, sizeof *nan, err);
    if (!data || !lam || !nan) {
        free(data), free(lam), free(nan);
        H5Gclose(g4);
        return err->code;
    }
    for (int t = 0; t < T; t++) {
        data[t] = sp->task_data && sp->task_data[t] ? sp->task_data[t] : "";
        lam[t] = sp->task_lambda ? sp->task_lambda[t] : m->lambda_sparse;
    }
    for (int i = 0; i < T * T; i++)
        nan[i] = NAN;
    bad |= cl_h5_write_strings(f, P_TASK_NAME, sp->task_names, T);
    bad |= cl_h5_write_strings(f, P_TASK_DATA, data, T);
    hsize_t dT = (hsize_t)T, dTT[2] = {(hsize_t)T, (hsize_t)T}, dM = (hsize_t)M;
    hid_t d = make_dataset(f, P_TASK_LAMBDA, H5T_IEEE_F64LE, 1, &dT, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_DOUBLE, lam);
    H5Dclose(d);
    static const char *const pbase[] = {P_TASK_BASE, P_TASK_BASE_RANKED};
    static const char *const pacc[] = {P_ACCURACY, P_ACCURACY_RANKED};
    for (int e = 0; e < CL_EVAL_COUNT; e++) {
        s->d_base[e] = make_dataset(f, pbase[e], H5T_IEEE_F64LE, 1, &dT, NULL, NULL);
        bad |= s->d_base[e] < 0 || cl_h5_write_all(s->d_base[e], H5T_NATIVE_DOUBLE, nan);
        s->d_acc[e] = make_dataset(f, pacc[e], H5T_IEEE_F64LE, 2, dTT, NULL, NULL);
        bad |= s->d_acc[e] < 0 || cl_h5_write_all(s->d_acc[e], H5T_NATIVE_DOUBLE, nan);
    }
    d = make_dataset(f, P_TASK_NTEST, H5T_STD_I64LE, 1, &dT, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT64, s->n_test);
    H5Dclose(d);
    d = make_dataset(f, P_TASK_NLABELS, H5T_STD_I64LE, 1, &dT, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT64, s->n_labels);
    H5Dclose(d);
    if (sp->task_alpha && sp->task_rslora) { /* optional: only imported stores */
        d = make_dataset(f, P_TASK_ALPHA, H5T_IEEE_F64LE, 1, &dT, NULL, NULL);
        bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_DOUBLE, s->task_alpha);
        H5Dclose(d);
        d = make_dataset(f, P_TASK_RSLORA, H5T_STD_I32LE, 1, &dT, NULL, NULL);
        bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT32, s->task_rslora);
        H5Dclose(d);
    }
    free(data);
    free(lam);
    free(nan);

    /* Modules. */
    bad |= cl_h5_write_strings(f, P_MOD_NAME, sp->module_names, M);
    d = make_dataset(f, P_MOD_DOUT, H5T_STD_I64LE, 1, &dM, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT64, sp->d_out);
    H5Dclose(d);
    d = make_dataset(f, P_MOD_DIN, H5T_STD_I64LE, 1, &dM, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT64, sp->d_in);
    H5Dclose(d);
    d = make_dataset(f, P_MOD_RANK, H5T_STD_I32LE, 1, &dM, NULL, NULL);
    bad |= d < 0 || cl_h5_write_all(d, H5T_NATIVE_INT32, sp->rank);
    H5Dclose(d);
    if (bad) {
        H5Gclose(g4);
        return cl_store_write_fail(s, err, "cannot write tasks and modules");
    }

    /* Snapshots: extendible along the snapshot axis. */
    hsize_t zero = 0, unl = H5S_UNLIMITED, tchunk = CL_TABLE_CHUNK;
    hid_t ft = cl_table_file_type();
    s->d_table = make_dataset(f, P_TABLE, ft, 1, &zero, &unl, &tchunk);
    H5Tclose(ft);
    hsize_t z2[2] = {0, dM}, mx2[2] = {H5S_UNLIMITED, dM}, ch2[2] = {16, dM};
    s->d_rank = make_dataset(f, P_SNAP_RANK, H5T_STD_I32LE, 2, z2, mx2, ch2);
    s->d_scale = make_dataset(f, P_SNAP_SCALE, H5T_IEEE_F64LE, 2, z2, mx2, ch2);
    s->d_committed = make_dataset(f, P_COMMITTED, H5T_STD_I64LE, 0, NULL, NULL, NULL);
    int64_t n0 = 0;
    bad = s->d_table < 0 || s->d_rank < 0 || s->d_scale < 0 || s->d_committed < 0 ||
          cl_h5_write_all(s->d_committed, H5T_NATIVE_INT64, &n0);
    if (bad) {
        H5Gclose(g4);
        return cl_store_write_fail(s, err, "cannot create the snapshot table");
    }

    /* Adapters: /adapters/NNNNNN/{A,B}, one chunk per snapshot. */
    for (int i = 0; i < M && !bad; i++) {
        char name[32];
        snprintf(name, sizeof name, "%06d", i);
        hid_t g = H5Gcreate2(g4, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t r = (hsize_t)sp->rank[i], din = (hsize_t)sp->d_in[i], dout = (hsize_t)sp->d_out[i];
        hsize_t za[3] = {0, r, din}, ma[3] = {H5S_UNLIMITED, r, din}, ca[3] = {1, r, din};
        hsize_t zb[3] = {0, dout, r}, mb[3] = {H5S_UNLIMITED, dout, r}, cb[3] = {1, dout, r};
        s->dA[i] = make_dataset(g, "A", H5T_IEEE_F32LE, 3, za, ma, ca);
        s->dB[i] = make_dataset(g, "B", H5T_IEEE_F32LE, 3, zb, mb, cb);
        bad = g < 0 || s->dA[i] < 0 || s->dB[i] < 0;
        if (g >= 0)
            H5Gclose(g);
    }
    H5Gclose(g4);
    if (bad)
        return cl_store_write_fail(s, err, "cannot create adapter datasets");

    if (sp->resume_bytes > 0) {
        hid_t g = H5Gcreate2(f, "resume", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
        hsize_t rs[2] = {2, (hsize_t)sp->resume_bytes}, two = 2;
        s->d_res_state = make_dataset(f, P_RESUME_STATE, H5T_STD_U8LE, 2, rs, NULL, NULL);
        s->d_res_snap = make_dataset(f, P_RESUME_SNAP, H5T_STD_I64LE, 1, &two, NULL, NULL);
        int64_t none[2] = {-1, -1};
        if (g < 0 || s->d_res_state < 0 || s->d_res_snap < 0 ||
            cl_h5_write_all(s->d_res_snap, H5T_NATIVE_INT64, none))
            return cl_store_write_fail(s, err, "cannot create the resume slots");
    }
    return CL_OK;
}
