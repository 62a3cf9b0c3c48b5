/* fam_forget.c -- accuracy matrix, forgetting, BWT and FWT (docs/METRICS.md,
 * section 6). Each printed number names its definition. */
#include "families.h"

#include <math.h>
#include <stdlib.h>

int fam_forget(cli *c, cl_store *s, cl_error *err)
{
    int T = cl_store_n_tasks(s);
    const double *R = cl_store_accuracy(s), *b = cl_store_baseline(s);
    cl_forgetting f;
    int rc = cl_forgetting_compute(R, b, T, &f, err);
    if (rc)
        return rc;
    static const char *mc[] = {"store", "after_task:i", "after_name", "task:i", "name",
                               "accuracy:f"};
    static const char *tc[] = {"store", "task:i", "name", "baseline:f", "learned:f", "final:f",
                               "forgetting_max:f", "forgetting_first:f"};
    static const char *sc[] = {"store", "method", "tasks:i", "tasks_evaluated:i", "aa:f", "la:f",
                               "bwt:f", "forgetting_max:f", "forgetting_first:f", "fwt:f"};
    cli_table *tm = cli_table_get(c, "matrix", mc, 6);
    cli_table *tt = cli_table_get(c, "tasks", tc, 8);
    cli_table *ts = cli_table_get(c, "summary", sc, 10);
    const char *path = cl_store_path(s);
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            cli_row_begin(tm);
            cli_cell_s(tm, path);
            cli_cell_i(tm, i);
            cli_cell_s(tm, cl_store_task_name(s, i));
            cli_cell_i(tm, j);
            cli_cell_s(tm, cl_store_task_name(s, j));
            cli_cell_f(tm, R[i * T + j]);
        }
    int n = f.tasks;
    for (int j = 0; j < T; j++) {
        cli_row_begin(tt);
        cli_cell_s(tt, path);
        cli_cell_i(tt, j);
        cli_cell_s(tt, cl_store_task_name(s, j));
        cli_cell_f(tt, b[j]);
        cli_cell_f(tt, R[j * T + j]);
        cli_cell_f(tt, n > 0 && j < n ? R[(n - 1) * T + j] : NAN);
        cli_cell_f(tt, cl_forgetting_task(R, T, n, j));
        cli_cell_f(tt, n > 0 && j < n - 1 ? R[j * T + j] - R[(n - 1) * T + j] : NAN);
    }
    cli_row_begin(ts);
    cli_cell_s(ts, path);
    cli_cell_s(ts, cl_store_meta(s)->method);
    cli_cell_i(ts, T);
    cli_cell_i(ts, n);
    cli_cell_f(ts, f.aa);
    cli_cell_f(ts, f.la);
    cli_cell_f(ts, f.bwt);
    cli_cell_f(ts, f.forget_max);
    cli_cell_f(ts, f.forget_first);
    cli_cell_f(ts, f.fwt);
    if (cli_text(c)) {
        const char **names = malloc((size_t)T * sizeof *names);
        if (!names)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        for (int j = 0; j < T; j++)
            names[j] = cl_store_task_name(s, j);
        fprintf(c->out, "\n== %s  [%s]\nforgetting   %d of %d tasks evaluated\n", path,
                cl_store_meta(s)->method, n, T);
        cli_text_matrix(c, "  accuracy R[i][j] (%): row i = after training task i, column j = "
                           "task evaluated",
                        T, names, R, 100, "%.1f");
        fprintf(c->out, "  baseline (before any training, for FWT):");
        for (int j = 0; j < T; j++)
            fprintf(c->out, isnan(b[j]) ? " -" : " %.1f", 100 * b[j]);
        fprintf(c->out,
                "\n"
                "  AA       %7.2f%%  average accuracy: mean of the last row over the %d tasks seen\n"
                "  LA       %7.2f%%  learning accuracy: mean of the diagonal R[j][j]\n"
                "  BWT      %7.2f%%  backward transfer: mean_{j<T-1} R[T-1][j] - R[j][j]\n"
                "  F_max    %7.2f%%  forgetting: mean_{j<T-1} max_{j<=i<T-1} R[i][j] - R[T-1][j]"
                " (Chaudhry et al. 2018)\n"
                "  F_first  %7.2f%%  forgetting: mean_{j<T-1} R[j][j] - R[T-1][j]\n"
                "  FWT      %7.2f%%  forward transfer: mean_{j>0} R[j-1][j] - baseline[j]"
                " (Lopez-Paz and Ranzato 2017)\n",
                100 * f.aa, n, 100 * f.la, 100 * f.bwt, 100 * f.forget_max, 100 * f.forget_first,
                100 * f.fwt);
        free(names);
    }
    return CL_OK;
}
