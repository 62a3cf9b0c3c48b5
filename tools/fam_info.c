/* fam_info.c -- what a store holds: run metadata, tasks, modules and the
 * snapshot table. */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fam_info(cli *c, cl_store *s, cl_error *err)
{
    (void)err;
    const cl_run_meta *m = cl_store_meta(s);
    const char *path = cl_store_path(s);
    int T = cl_store_n_tasks(s), M = cl_store_n_modules(s);
    int64_t N = cl_store_n_snapshots(s);
    static const char *rc[] = {"store", "format_version:i", "method", "rank:i", "alpha:f",
                               "scaling:f", "scaling_rule", "penalty_form", "lambda_orth:f",
                               "lambda_l2:f", "lambda_sparse:f", "seed:i", "base_model",
                               "created_by", "tasks:i", "modules:i", "snapshots:i", "parameters:i"};
    static const char *tc[] = {"store", "task:i", "name", "data", "lambda:f", "end_snapshot:i",
                               "baseline:f"};
    static const char *mc[] = {"store", "module:i", "name", "d_out:i", "d_in:i", "rank:i"};
    static const char *sc[] = {"store", "id:i", "task:i", "name", "kind", "epoch:i", "step:i",
                               "loss:f", "loss_task:f", "penalty_orth:f", "penalty_l2:f",
                               "penalty_sparse:f", "wall_time:f"};
    int64_t params = 0;
    for (int i = 0; i < M; i++)
        params += (int64_t)cl_store_module_rank(s, i) *
                  (cl_store_module_d_out(s, i) + cl_store_module_d_in(s, i));
    cli_table *t = cli_table_get(c, "store", rc, 18);
    cli_row_begin(t);
    cli_cell_s(t, path);
    cli_cell_i(t, cl_store_format_version(s));
    cli_cell_s(t, m->method);
    cli_cell_i(t, m->rank);
    cli_cell_f(t, m->alpha);
    cli_cell_f(t, m->scaling);
    cli_cell_s(t, m->scaling_rule);
    cli_cell_s(t, m->penalty_form);
    cli_cell_f(t, m->lambda_orth);
    cli_cell_f(t, m->lambda_l2);
    cli_cell_f(t, m->lambda_sparse);
    cli_cell_i(t, (int64_t)m->seed);
    cli_cell_s(t, m->base_model);
    cli_cell_s(t, m->created_by);
    cli_cell_i(t, T);
    cli_cell_i(t, M);
    cli_cell_i(t, N);
    cli_cell_i(t, params);
    t = cli_table_get(c, "tasks", tc, 7);
    for (int i = 0; i < T; i++) {
        cli_row_begin(t);
        cli_cell_s(t, path);
        cli_cell_i(t, i);
        cli_cell_s(t, cl_store_task_name(s, i));
        cli_cell_s(t, cl_store_task_data(s, i));
        cli_cell_f(t, cl_store_task_lambda(s, i));
        cli_cell_i(t, cl_store_task_end(s, i));
        cli_cell_f(t, cl_store_baseline(s, CL_EVAL_GENERATE)[i]);
    }
    t = cli_table_get(c, "modules", mc, 6);
    for (int i = 0; i < M; i++) {
        cli_row_begin(t);
        cli_cell_s(t, path);
        cli_cell_i(t, i);
        cli_cell_s(t, cl_store_module_name(s, i));
        cli_cell_i(t, cl_store_module_d_out(s, i));
        cli_cell_i(t, cl_store_module_d_in(s, i));
        cli_cell_i(t, cl_store_module_rank(s, i));
    }
    t = cli_table_get(c, "snapshots", sc, 13);
    for (int64_t i = 0; i < N; i++) {
        const cl_snapshot_row *w = cl_store_snapshot(s, i);
        cli_row_begin(t);
        cli_cell_s(t, path);
        cli_cell_i(t, w->id);
        cli_cell_i(t, w->task);
        cli_cell_s(t, cl_store_task_name(s, w->task));
        cli_cell_s(t, w->kind == CL_SNAP_END_OF_TASK ? "end_of_task" : "periodic");
        cli_cell_i(t, w->epoch);
        cli_cell_i(t, w->step);
        cli_cell_f(t, w->loss);
        cli_cell_f(t, w->loss_task);
        cli_cell_f(t, w->penalty_orth);
        cli_cell_f(t, w->penalty_l2);
        cli_cell_f(t, w->penalty_sparse);
        cli_cell_f(t, w->wall_time);
    }
    if (!cli_text(c))
        return CL_OK;
    FILE *f = c->out;
    fprintf(f, "%s\n  format        collide-store v%d\n  method        %s\n  base model    %s\n",
            path, cl_store_format_version(s), m->method, m->base_model[0] ? m->base_model : "-");
    fprintf(f, "  LoRA          r=%d alpha=%g scaling=%g (%s)\n", m->rank, m->alpha, m->scaling,
            m->scaling_rule);
    fprintf(f, "  penalty       %s  lambda_orth=%g lambda_l2=%g lambda_sparse=%g\n", m->penalty_form,
            m->lambda_orth, m->lambda_l2, m->lambda_sparse);
    fprintf(f, "  seed          %llu\n  created by    %s\n", (unsigned long long)m->seed,
            m->created_by);
    fprintf(f, "  tasks (%d, in training order):\n", T);
    for (int i = 0; i < T; i++) {
        const char *d = cl_store_task_data(s, i);
        int64_t e = cl_store_task_end(s, i);
        fprintf(f, "    %2d %-16s lambda=%-6g %s", i, cl_store_task_name(s, i),
                cl_store_task_lambda(s, i), e >= 0 ? "ended at snapshot " : "not ended");
        if (e >= 0)
            fprintf(f, "%lld", (long long)e);
        if (d[0])
            fprintf(f, "  (data of %s stood in)", d);
        fputc('\n', f);
    }
    fprintf(f, "  modules (%d), %lld LoRA parameters per snapshot:\n", M, (long long)params);
    for (int i = 0; i < M; i++) {
        if (M > 12 && i == 6) {
            fprintf(f, "    ... %d more ...\n", M - 12);
            i = M - 6;
        }
        fprintf(f, "    %-40s %6lld x %-6lld r=%d\n", cl_store_module_name(s, i),
                (long long)cl_store_module_d_out(s, i), (long long)cl_store_module_d_in(s, i),
                cl_store_module_rank(s, i));
    }
    int periodic = 0;
    for (int64_t i = 0; i < N; i++)
        periodic += cl_store_snapshot(s, i)->kind == CL_SNAP_PERIODIC;
    fprintf(f, "  snapshots     %lld committed (%d periodic, %lld end of task)\n", (long long)N,
            periodic, (long long)(N - periodic));
    if (N > 0) {
        const cl_snapshot_row *w = cl_store_snapshot(s, N - 1);
        fprintf(f, "  last          id %lld, task %s, step %lld, loss %.4g, %.1f s\n",
                (long long)w->id, cl_store_task_name(s, w->task), (long long)w->step, w->loss,
                w->wall_time);
    }
    return CL_OK;
}
