/*
 * view.c -- which adapters make up each task's update at a given snapshot,
 * and the shared walk over modules that every metric uses.
 */
#include "cl_alloc.h"
#include "cl_store.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static int is_seqlora(const cl_store *s)
{
    return !strcmp(cl_store_meta(s)->method, "seqlora");
}

/* The view at snapshot id: each task up to the snapshot's own task, at its
 * latest snapshot no later than id. */
static int view_at(const cl_store *s, int64_t id, cl_view *v, cl_error *err)
{
    memset(v, 0, sizeof *v);
    const cl_snapshot_row *w = cl_store_snapshot(s, id);
    int T = cl_store_n_tasks(s);
    v->snapshot = id;
    v->task = cl_alloc((size_t)T, sizeof *v->task, err);
    v->at = cl_alloc((size_t)T, sizeof *v->at, err);
    v->prev = cl_alloc((size_t)T, sizeof *v->prev, err);
    if (!v->task || !v->at || !v->prev)
        return err->code;
    int64_t *latest = cl_alloc((size_t)T, sizeof *latest, err);
    if (!latest)
        return err->code;
    for (int t = 0; t < T; t++)
        latest[t] = -1;
    for (int64_t i = 0; i <= id; i++)
        latest[cl_store_snapshot(s, i)->task] = i;
    int seq = is_seqlora(s);
    int64_t before = -1;
    for (int t = 0; t <= w->task; t++) {
        if (latest[t] < 0)
            continue; /* a task with no snapshot at all */
        v->task[v->n] = t;
        v->at[v->n] = latest[t];
        v->prev[v->n] = seq ? before : -1;
        before = latest[t];
        v->n++;
    }
    free(latest);
    return CL_OK;
}

void cl_view_list_free(cl_view_list *l)
{
    if (!l || !l->v)
        return;
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].task);
        free(l->v[i].at);
        free(l->v[i].prev);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cl_views_select(const cl_store *s, const char *spec, cl_view_list *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t N = cl_store_n_snapshots(s);
    if (!spec)
        spec = "task-ends";
    if (N == 0)
        return cl_error_set(err, CL_ERR_VALUE, "%s: /snapshots: the store holds no committed snapshot",
                            cl_store_path(s));
    int64_t first, last;
    if (!strcmp(spec, "all")) {
        first = 0;
        last = N - 1;
    } else if (!strcmp(spec, "last")) {
        first = last = N - 1;
    } else if (!strcmp(spec, "task-ends")) {
        last = -1;
        for (int t = 0; t < cl_store_n_tasks(s); t++)
            if (cl_store_task_end(s, t) > last)
                last = cl_store_task_end(s, t);
        if (last < 0)
            return cl_error_set(err, CL_ERR_VALUE,
                                "%s: /snapshots/table: no task has ended yet; use --snapshot last",
                                cl_store_path(s));
        first = last;
    } else {
        char *end;
        long long id = strtoll(spec, &end, 10);
        if (end == spec || *end)
            return cl_error_set(err, CL_ERR_ARG,
                                "--snapshot \"%s\": expected task-ends, last, all or a snapshot id",
                                spec);
        if (id < 0 || id >= N)
            return cl_error_set(err, CL_ERR_ARG, "%s: --snapshot %lld: the store holds snapshots 0 to %lld",
                                cl_store_path(s), id, (long long)(N - 1));
        first = last = id;
    }
    out->v = cl_alloc((size_t)(last - first + 1), sizeof *out->v, err);
    if (!out->v)
        return err->code;
    for (int64_t id = first; id <= last; id++) {
        int rc = view_at(s, id, &out->v[out->n], err);
        out->n++;
        if (rc) {
            cl_view_list_free(out);
            return rc;
        }
    }
    return CL_OK;
}

int cl_view_update(cl_store *s, const cl_view *v, int i, int m, cl_lowrank *out, cl_error *err)
{
    int rc = cl_store_read_adapter(s, m, v->at[i], out, err);
    if (rc || v->prev[i] < 0)
        return rc;
    /* seqlora: task t's update is the change since the end of task t-1,
     * the rank-2r pair [B_t, -B_p] [A_t; A_p]. */
    cl_lowrank p;
    rc = cl_store_read_adapter(s, m, v->prev[i], &p, err);
    if (rc) {
        cl_lowrank_free(out);
        return rc;
    }
    int k1 = out->k, k2 = p.k, K = k1 + k2;
    int64_t d_out = out->d_out, d_in = out->d_in;
    float *B = cl_alloc((size_t)d_out * (size_t)K, sizeof *B, err);
    float *A = cl_alloc((size_t)K * (size_t)d_in, sizeof *A, err);
    if (!A || !B) {
        free(A);
        free(B);
        cl_lowrank_free(out);
        cl_lowrank_free(&p);
        return err->code;
    }
    int same = out->scale == p.scale && out->scale != 0;
    float s1 = same ? 1.0f : (float)out->scale, s2 = same ? 1.0f : (float)p.scale;
    for (int64_t r = 0; r < d_out; r++) {
        for (int q = 0; q < k1; q++)
            B[r * K + q] = s1 * out->B[r * k1 + q];
        for (int q = 0; q < k2; q++)
            B[r * K + k1 + q] = -s2 * p.B[r * k2 + q];
    }
    memcpy(A, out->A, (size_t)k1 * (size_t)d_in * sizeof *A);
    memcpy(A + (size_t)k1 * (size_t)d_in, p.A, (size_t)k2 * (size_t)d_in * sizeof *A);
    double scale = same ? out->scale : 1.0;
    cl_lowrank_free(out);
    cl_lowrank_free(&p);
    out->k = K;
    out->A = A;
    out->B = B;
    out->scale = scale;
    return CL_OK;
}

/* A glob that matches nothing: suggest the glob that would ("q_proj" ->
 * "*q_proj"), else show what the names look like. */
static int no_module(const cl_store *s, const char *glob, cl_error *err)
{
    int M = cl_store_n_modules(s);
    char alt[2][256];
    snprintf(alt[0], sizeof alt[0], "*%s", glob);
    snprintf(alt[1], sizeof alt[1], "*%s*", glob);
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < M; m++)
            if (fnmatch(alt[k], cl_store_module_name(s, m), 0) == 0)
                return cl_error_set(err, CL_ERR_ARG,
                                    "%s: --module \"%s\" matches none of the %d modules; "
                                    "did you mean '%s'? (a glob matches the whole name, "
                                    "e.g. %s)",
                                    cl_store_path(s), glob, M, alt[k],
                                    cl_store_module_name(s, m));
    return cl_error_set(err, CL_ERR_ARG,
                        "%s: --module \"%s\" matches none of the %d modules (names such as "
                        "%s; collide-info lists them)",
                        cl_store_path(s), glob, M, M ? cl_store_module_name(s, 0) : "none");
}

int cl_modules_select(const cl_store *s, const char *glob, int **idx, int *n, cl_error *err)
{
    int M = cl_store_n_modules(s);
    *idx = cl_alloc((size_t)M, sizeof **idx, err);
    *n = 0;
    if (!*idx)
        return err->code;
    for (int m = 0; m < M; m++)
        if (!glob || fnmatch(glob, cl_store_module_name(s, m), 0) == 0)
            (*idx)[(*n)++] = m;
    if (*n == 0) {
        free(*idx);
        *idx = NULL;
        return no_module(s, glob, err);
    }
    return CL_OK;
}

int cl_walk(cl_store *s, const cl_view *v, const int *modules, int n_modules, cl_module_fn fn,
            void *ctx, cl_error *err)
{
    cl_lowrank *u = cl_alloc((size_t)(v->n ? v->n : 1), sizeof *u, err);
    if (!u)
        return err->code;
    int rc = CL_OK;
    for (int j = 0; j < n_modules && rc == CL_OK; j++) {
        int m = modules[j], got = 0;
        for (; got < v->n; got++)
            if ((rc = cl_view_update(s, v, got, m, &u[got], err)))
                break;
        if (rc == CL_OK)
            rc = fn(ctx, m, u, v->n, err);
        for (int i = 0; i < got; i++)
            cl_lowrank_free(&u[i]);
    }
    free(u);
    return rc;
}
