/*
 * storecmp.c -- are two stores the same run? Compares every object of the
 * format -- metadata, tasks, modules, the snapshot table (all but wall
 * times), ranks, scales, every A and B bit for bit, R and the baselines --
 * and prints the first difference.
 *
 * usage: storecmp A.h5 B.h5      exit 0: same; 1: different; 2: unreadable
 */
#include "collide.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int same_d(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

#define DIFF(...)                                                                  \
    do {                                                                           \
        printf("storecmp: different: " __VA_ARGS__);                              \
        putchar('\n');                                                             \
        return 1;                                                                  \
    } while (0)

static int compare(cl_store *a, cl_store *b)
{
    const cl_run_meta *x = cl_store_meta(a), *y = cl_store_meta(b);
    if (strcmp(x->method, y->method) || x->rank != y->rank || x->alpha != y->alpha ||
        x->seed != y->seed || strcmp(x->train_config, y->train_config) ||
        strcmp(x->penalty_form, y->penalty_form) || strcmp(x->base_model, y->base_model))
        DIFF("run metadata");
    int T = cl_store_n_tasks(a), M = cl_store_n_modules(a);
    if (T != cl_store_n_tasks(b) || M != cl_store_n_modules(b))
        DIFF("task or module count");
    for (int t = 0; t < T; t++)
        if (strcmp(cl_store_task_name(a, t), cl_store_task_name(b, t)) ||
            strcmp(cl_store_task_data(a, t), cl_store_task_data(b, t)) ||
            !same_d(cl_store_task_lambda(a, t), cl_store_task_lambda(b, t)) ||
            !same_d(cl_store_baseline(a, CL_EVAL_GENERATE)[t], cl_store_baseline(b, CL_EVAL_GENERATE)[t]) ||
            !same_d(cl_store_baseline(a, CL_EVAL_RANKED)[t], cl_store_baseline(b, CL_EVAL_RANKED)[t]) ||
            cl_store_task_n_test(a, t) != cl_store_task_n_test(b, t) ||
            cl_store_task_n_labels(a, t) != cl_store_task_n_labels(b, t))
            DIFF("task %d", t);
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        for (int i = 0; i < T * T; i++)
            if (!same_d(cl_store_accuracy(a, (cl_eval)e)[i], cl_store_accuracy(b, (cl_eval)e)[i]))
                DIFF("%s accuracy R[%d][%d]: %g vs %g", cl_eval_name((cl_eval)e), i / T, i % T,
                     cl_store_accuracy(a, (cl_eval)e)[i], cl_store_accuracy(b, (cl_eval)e)[i]);
    int64_t N = cl_store_n_snapshots(a);
    if (N != cl_store_n_snapshots(b))
        DIFF("%lld vs %lld snapshots", (long long)N, (long long)cl_store_n_snapshots(b));
    for (int64_t s = 0; s < N; s++) {
        const cl_snapshot_row *p = cl_store_snapshot(a, s), *q = cl_store_snapshot(b, s);
        if (p->task != q->task || p->epoch != q->epoch || p->step != q->step || p->kind != q->kind ||
            !same_d(p->loss, q->loss) || !same_d(p->loss_task, q->loss_task) ||
            !same_d(p->penalty_orth, q->penalty_orth) || !same_d(p->penalty_l2, q->penalty_l2) ||
            !same_d(p->penalty_sparse, q->penalty_sparse))
            DIFF("snapshot %lld's table row (step %lld vs %lld, loss %.17g vs %.17g)",
                 (long long)s, (long long)p->step, (long long)q->step, p->loss, q->loss);
        for (int m = 0; m < M; m++) {
            cl_lowrank u, v;
            cl_error err;
            if (cl_store_read_adapter(a, m, s, &u, &err) || cl_store_read_adapter(b, m, s, &v, &err))
                DIFF("%s", err.msg);
            int eq = u.k == v.k && u.scale == v.scale &&
                     !memcmp(u.A, v.A, (size_t)u.k * (size_t)u.d_in * sizeof(float)) &&
                     !memcmp(u.B, v.B, (size_t)u.k * (size_t)u.d_out * sizeof(float));
            cl_lowrank_free(&u);
            cl_lowrank_free(&v);
            if (!eq)
                DIFF("snapshot %lld, module %s: factors differ", (long long)s,
                     cl_store_module_name(a, m));
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: storecmp A.h5 B.h5\n");
        return 2;
    }
    cl_store *a, *b;
    cl_error err;
    if (cl_store_open(argv[1], &a, &err) || cl_store_open(argv[2], &b, &err)) {
        fprintf(stderr, "storecmp: %s\n", err.msg);
        return 2;
    }
    int rc = compare(a, b);
    if (!rc)
        printf("storecmp: same: %lld snapshots, %d modules, every value equal\n",
               (long long)cl_store_n_snapshots(a), cl_store_n_modules(a));
    cl_store_close(a, NULL);
    cl_store_close(b, NULL);
    return rc;
}
