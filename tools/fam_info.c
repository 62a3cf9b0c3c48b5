/* fam_info.c -- what a store holds: run metadata, tasks, modules and the
 * snapshot table. */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "4" or "4..8": a per-task quantity over the modules of snapshot id. */
static void span(char *buf, size_t n, double lo, double hi, const char *fmt)
{
    char a[24], b[24];
    snprintf(a, sizeof a, fmt, lo);
    snprintf(b, sizeof b, fmt, hi);
    if (!strcmp(a, b))
        snprintf(buf, n, "%s", a);
    else
        snprintf(buf, n, "%s..%s", a, b);
}

/* Task t's adapter at snapshot id over the modules: rank and scale ranges,
 * and lora_alpha: the store's record of it where it keeps one per task
 * (imported adapters may differ, rsLoRA included), else the store's scaling
 * rule undone. */
typedef struct task_lora {
    double rlo, rhi, slo, shi, alo, ahi;
} task_lora;

static int task_lora_of(const cl_store *s, int t, int64_t id, task_lora *x)
{
    const cl_run_meta *m = cl_store_meta(s);
    int M = cl_store_n_modules(s);
    double rec = cl_store_task_alpha(s, t);
    int rs = cl_store_task_rslora(s, t) >= 0 ? cl_store_task_rslora(s, t)
                                              : !strcmp(m->scaling_rule, "alpha/sqrt(r)");
    *x = (task_lora){INFINITY, -INFINITY, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int j = 0; j < M; j++) {
        double r = cl_store_snapshot_rank(s, id, j), sc = cl_store_snapshot_scale(s, id, j);
        if (r <= 0 || isnan(sc))
            continue;
        double al = sc * (rs ? sqrt(r) : r); /* the scaling rule, undone */
        x->rlo = fmin(x->rlo, r), x->rhi = fmax(x->rhi, r);
        x->slo = fmin(x->slo, sc), x->shi = fmax(x->shi, sc);
        x->alo = fmin(x->alo, al), x->ahi = fmax(x->ahi, al);
    }
    if (!isnan(rec)) /* the config's lora_alpha (alpha_pattern aside) */
        x->alo = x->ahi = rec;
    return x->rlo <= x->rhi;
}

static void task_lora_text(const cl_store *s, int t, int64_t id, char *buf, size_t n)
{
    task_lora x;
    if (!task_lora_of(s, t, id, &x)) {
        snprintf(buf, n, "no adapter");
        return;
    }
    char r[72], a[72], sc[72];
    span(r, sizeof r, x.rlo, x.rhi, "%g");
    span(a, sizeof a, x.alo, x.ahi, "%.4g");
    span(sc, sizeof sc, x.slo, x.shi, "%.4g");
    snprintf(buf, n, "r %s  alpha %s  scale %s%s", r, a, sc,
             cl_store_task_rslora(s, t) == 1 ? "  rsLoRA" : "");
}

static void print_text(cli *c, cl_store *s, int64_t params)
{
    const cl_run_meta *m = cl_store_meta(s);
    int T = cl_store_n_tasks(s), M = cl_store_n_modules(s), imp = cli_imported(s);
    int lam = cli_lambda_recorded(s);
    int64_t N = cl_store_n_snapshots(s);
    FILE *f = c->out;
    const char *nr = "not recorded";
    fprintf(f, "%s\n  format        collide-store v%d\n", cl_store_path(s),
            cl_store_format_version(s));
    if (m->name[0])
        fprintf(f, "  name          %s\n", m->name);
    fprintf(f, "  method        %s%s\n  base model    %s\n", m->method,
            imp && strcmp(m->method, "imported") ? "  (a label given on import)"
            : imp                                ? "  (adapters trained elsewhere)"
                                                 : "",
            m->base_model[0] ? m->base_model : nr);
    fprintf(f, "  LoRA          r=%d alpha=%g scaling=%g (%s)%s\n", m->rank, m->alpha, m->scaling,
            m->scaling_rule, imp ? "  (the first adapter's; per task below)" : "");
    if (imp && lam)
        fprintf(f, "  penalty       %s  lambda_orth=%g lambda_sparse=%g (labels)\n"
                   "  seed          %s\n", nr, m->lambda_orth, m->lambda_sparse, nr);
    else if (imp)
        fprintf(f, "  penalty       %s\n  seed          %s\n", nr, nr);
    else
        fprintf(f,
                "  penalty       %s  lambda_orth=%g lambda_l2=%g lambda_sparse=%g\n"
                "  seed          %llu\n",
                m->penalty_form, m->lambda_orth, m->lambda_l2, m->lambda_sparse,
                (unsigned long long)m->seed);
    fprintf(f, "  created by    %s\n", m->created_by);
    int w = 4;
    for (int i = 0; i < T; i++) {
        int l = (int)strlen(cl_store_task_name(s, i));
        w = l > w ? l : w;
    }
    fprintf(f, "  tasks (%d, in training order):\n", T);
    for (int i = 0; i < T; i++) {
        const char *d = cl_store_task_data(s, i);
        int64_t e = cl_store_task_end(s, i);
        fprintf(f, "    %2d %-*s", i, w, cl_store_task_name(s, i));
        if (lam)
            fprintf(f, "  lambda=%-6g", cl_store_task_lambda(s, i));
        if (e >= 0) {
            char lora[256];
            task_lora_text(s, i, e, lora, sizeof lora);
            fprintf(f, "  ended at snapshot %lld  %s", (long long)e, lora);
        } else {
            fprintf(f, "  not ended");
        }
        if (d[0])
            fprintf(f, "  (data of %s stood in)", d);
        fputc('\n', f);
    }
    fprintf(f, "  modules (%d), %lld LoRA parameters per snapshot:\n", M, (long long)params);
    static const char *mcols[] = {"module", "name", "d_out", "d_in", "rank"};
    int mend = cli_table_mark(c, "modules"), mfrom = mend - M, cut = !c->all && M > 16;
    cli_text_rows_cut(c, "modules", mfrom, cut ? mfrom + 8 : -1, cut ? mend - 8 : -1, mcols, 5);
    int periodic = 0;
    for (int64_t i = 0; i < N; i++)
        periodic += cl_store_snapshot(s, i)->kind == CL_SNAP_PERIODIC;
    fprintf(f, "  snapshots (%lld committed: %d periodic, %lld end of task):\n", (long long)N,
            periodic, (long long)(N - periodic));
    if (N > 0) {
        static const char *scols[] = {"id",   "task", "name",         "kind",         "epoch",
                                      "step", "loss", "penalty_orth", "penalty_sparse",
                                      "wall_time"};
        static const char *icols[] = {"id", "task", "name", "kind"};
        int end = cli_table_mark(c, "snapshots"), from = end - (int)N;
        int scut = !c->all && N > 24;
        cli_text_rows_cut(c, "snapshots", from, scut ? from + 10 : -1, scut ? end - 10 : -1,
                          imp ? icols : scols, imp ? 4 : 10);
        if (imp)
            fprintf(f, "    (losses and times: %s; imported adapters carry none)\n", nr);
    }
}

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
                               "created_by", "tasks:i", "modules:i", "snapshots:i", "parameters:i",
                               "name", "origin"};
    static const char *tc[] = {"store",      "task:i",     "name",          "data",
                               "lambda:f",   "end_snapshot:i", "baseline:f", "rank_min:i",
                               "rank_max:i", "lora_alpha:f", "scale_min:f",   "scale_max:f"};
    static const char *mc[] = {"store", "module:i", "name", "d_out:i", "d_in:i", "rank:i"};
    static const char *sc[] = {"store", "id:i", "task:i", "name", "kind", "epoch:i", "step:i",
                               "loss:f", "loss_task:f", "penalty_orth:f", "penalty_l2:f",
                               "penalty_sparse:f", "wall_time:f"};
    int64_t params = 0;
    for (int i = 0; i < M; i++)
        params += (int64_t)cl_store_module_rank(s, i) *
                  (cl_store_module_d_out(s, i) + cl_store_module_d_in(s, i));
    cli_table *t = cli_table_get(c, "store", rc, 20);
    cli_row_begin(t);
    cli_cell_s(t, path);
    cli_cell_i(t, cl_store_format_version(s));
    cli_cell_s(t, m->method);
    cli_cell_i(t, m->rank);
    cli_cell_f(t, m->alpha);
    cli_cell_f(t, m->scaling);
    cli_cell_s(t, m->scaling_rule);
    if (cli_imported(s)) { /* adapters trained elsewhere carry none of these */
        cli_cell_none(t);
        if (cli_lambda_recorded(s)) { /* but their labels may say */
            cli_cell_f(t, m->lambda_orth);
            cli_cell_none(t);
            cli_cell_f(t, m->lambda_sparse);
        } else {
            for (int k = 0; k < 3; k++)
                cli_cell_none(t);
        }
        cli_cell_none(t);
    } else {
        cli_cell_s(t, m->penalty_form);
        cli_cell_f(t, m->lambda_orth);
        cli_cell_f(t, m->lambda_l2);
        cli_cell_f(t, m->lambda_sparse);
        cli_cell_i(t, (int64_t)m->seed);
    }
    cli_cell_s(t, m->base_model);
    cli_cell_s(t, m->created_by);
    cli_cell_i(t, T);
    cli_cell_i(t, M);
    cli_cell_i(t, N);
    cli_cell_i(t, params);
    cli_cell_s(t, m->name);
    cli_cell_s(t, m->origin);
    t = cli_table_get(c, "tasks", tc, 12);
    for (int i = 0; i < T; i++) {
        cli_row_begin(t);
        cli_cell_s(t, path);
        cli_cell_i(t, i);
        cli_cell_s(t, cl_store_task_name(s, i));
        cli_cell_s(t, cl_store_task_data(s, i));
        if (!cli_lambda_recorded(s))
            cli_cell_none(t);
        else
            cli_cell_f(t, cl_store_task_lambda(s, i));
        cli_cell_i(t, cl_store_task_end(s, i));
        cli_cell_f(t, cl_store_baseline(s, CL_EVAL_GENERATE)[i]);
        task_lora x;
        if (cl_store_task_end(s, i) >= 0 && task_lora_of(s, i, cl_store_task_end(s, i), &x)) {
            cli_cell_i(t, (int64_t)x.rlo);
            cli_cell_i(t, (int64_t)x.rhi);
            if (x.alo == x.ahi)
                cli_cell_f(t, x.alo);
            else
                cli_cell_none(t); /* differs between modules: see scale */
            cli_cell_f(t, x.slo);
            cli_cell_f(t, x.shi);
        } else {
            for (int k = 0; k < 5; k++)
                cli_cell_none(t);
        }
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
    print_text(c, s, params);
    return CL_OK;
}
