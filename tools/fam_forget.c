/* fam_forget.c -- accuracy matrices, forgetting, BWT and FWT (docs/METRICS.md,
 * section 6), for each evaluation protocol the store holds. Each printed
 * number names its definition and protocol; every accuracy has its binomial
 * standard error beside it. The headline protocol (ranked when evaluated,
 * the paper's generation otherwise) comes first in every table, so that row
 * 0 of "summary" is what a figure shows. */
#include "families.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The protocols in print order: the headline first. */
static int protocols(const cl_store *s, cl_eval out[CL_EVAL_COUNT])
{
    int n = 0;
    if (cl_store_has_eval(s, CL_EVAL_RANKED))
        out[n++] = CL_EVAL_RANKED;
    out[n++] = CL_EVAL_GENERATE;
    return n;
}

static double chance_of(const cl_store *s, int t)
{
    int64_t k = cl_store_task_n_labels(s, t);
    return k > 0 ? 1.0 / (double)k : NAN;
}

/* "45.0±3.5" (percent), "-" when not evaluated. */
static void cell_text(char *buf, size_t n, double p, int64_t ntest)
{
    double se = cl_acc_stderr(p, ntest);
    if (isnan(p))
        snprintf(buf, n, "-");
    else if (isnan(se))
        snprintf(buf, n, "%.1f", 100 * p);
    else
        snprintf(buf, n, "%.1f±%.1f", 100 * p, 100 * se);
}

static void text_matrix(cli *c, const cl_store *s, const double *R)
{
    int T = cl_store_n_tasks(s), w = 10;
    for (int j = 0; j < T; j++) {
        int l = (int)strlen(cl_store_task_name(s, j));
        w = l > w ? l : w;
    }
    fprintf(c->out, "%*s", w + 2, "");
    for (int j = 0; j < T; j++)
        fprintf(c->out, " %*s", w, cl_store_task_name(s, j));
    fprintf(c->out, "\n  %-*s", w, "chance");
    for (int j = 0; j < T; j++) {
        char b[32];
        double ch = chance_of(s, j);
        snprintf(b, sizeof b, isnan(ch) ? "-" : "%.1f", 100 * ch); /* "-": not recorded */
        fprintf(c->out, " %*s", w, b);
    }
    fputc('\n', c->out);
    for (int i = 0; i < T; i++) {
        fprintf(c->out, "  %-*s", w, cl_store_task_name(s, i));
        for (int j = 0; j < T; j++) {
            char b[48];
            cell_text(b, sizeof b, R[i * T + j], cl_store_task_n_test(s, j));
            fprintf(c->out, " %*s", w, b);
        }
        fputc('\n', c->out);
    }
}

int fam_forget(cli *c, cl_store *s, cl_error *err)
{
    int T = cl_store_n_tasks(s);
    cl_eval prot[CL_EVAL_COUNT];
    int np = protocols(s, prot);
    static const char *mc[] = {"store", "protocol", "after_task:i", "after_name", "task:i",
                               "name", "accuracy:f", "stderr:f"};
    static const char *tc[] = {"store", "protocol", "task:i", "name", "labels:i", "chance:f",
                               "n_test:i", "baseline:f", "learned:f", "learned_stderr:f",
                               "final:f", "final_stderr:f", "forgetting_max:f",
                               "forgetting_first:f"};
    static const char *sc[] = {"store", "method", "protocol", "headline:i", "tasks:i",
                               "tasks_evaluated:i", "aa:f", "aa_stderr:f", "la:f", "chance_mean:f",
                               "bwt:f", "forgetting_max:f", "forgetting_first:f", "fwt:f"};
    cli_table *tm = cli_table_get(c, "matrix", mc, 8);
    cli_table *tt = cli_table_get(c, "tasks", tc, 14);
    cli_table *ts = cli_table_get(c, "summary", sc, 14);
    const char *path = cl_store_path(s);
    cl_forgetting f[CL_EVAL_COUNT];
    for (int k = 0; k < np; k++) {
        int rc = cl_forgetting_compute(cl_store_accuracy(s, prot[k]), cl_store_baseline(s, prot[k]),
                                       T, &f[k], err);
        if (rc)
            return rc;
    }
    double chance_sum = 0;
    int chance_n = 0;
    for (int j = 0; j < T; j++)
        if (!isnan(chance_of(s, j)))
            chance_sum += chance_of(s, j), chance_n++;
    for (int k = 0; k < np; k++) {
        const char *pn = cl_eval_name(prot[k]);
        const double *R = cl_store_accuracy(s, prot[k]), *b = cl_store_baseline(s, prot[k]);
        int n = f[k].tasks;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                cli_row_begin(tm);
                cli_cell_s(tm, path);
                cli_cell_s(tm, pn);
                cli_cell_i(tm, i);
                cli_cell_s(tm, cl_store_task_name(s, i));
                cli_cell_i(tm, j);
                cli_cell_s(tm, cl_store_task_name(s, j));
                cli_cell_f(tm, R[i * T + j]);
                cli_cell_f(tm, cl_acc_stderr(R[i * T + j], cl_store_task_n_test(s, j)));
            }
        for (int j = 0; j < T; j++) {
            int64_t nt = cl_store_task_n_test(s, j);
            double fin = n > 0 && j < n ? R[(n - 1) * T + j] : NAN;
            cli_row_begin(tt);
            cli_cell_s(tt, path);
            cli_cell_s(tt, pn);
            cli_cell_i(tt, j);
            cli_cell_s(tt, cl_store_task_name(s, j));
            cli_cell_i(tt, cl_store_task_n_labels(s, j));
            cli_cell_f(tt, chance_of(s, j));
            cli_cell_i(tt, nt);
            cli_cell_f(tt, b[j]);
            cli_cell_f(tt, R[j * T + j]);
            cli_cell_f(tt, cl_acc_stderr(R[j * T + j], nt));
            cli_cell_f(tt, fin);
            cli_cell_f(tt, cl_acc_stderr(fin, nt));
            cli_cell_f(tt, cl_forgetting_task(R, T, n, j));
            cli_cell_f(tt, n > 0 && j < n - 1 ? R[j * T + j] - R[(n - 1) * T + j] : NAN);
        }
        /* AA's standard error: the tasks' test sets are independent samples */
        double var = 0;
        int known = n > 0;
        for (int j = 0; j < n; j++) {
            double se = cl_acc_stderr(R[(n - 1) * T + j], cl_store_task_n_test(s, j));
            known &= !isnan(se);
            var += se * se;
        }
        cli_row_begin(ts);
        cli_cell_s(ts, path);
        cli_cell_s(ts, cl_store_meta(s)->method);
        cli_cell_s(ts, pn);
        cli_cell_i(ts, k == 0);
        cli_cell_i(ts, T);
        cli_cell_i(ts, n);
        cli_cell_f(ts, f[k].aa);
        cli_cell_f(ts, known ? sqrt(var) / n : NAN);
        cli_cell_f(ts, f[k].la);
        cli_cell_f(ts, chance_n == T ? chance_sum / T : NAN);
        cli_cell_f(ts, f[k].bwt);
        cli_cell_f(ts, f[k].forget_max);
        cli_cell_f(ts, f[k].forget_first);
        cli_cell_f(ts, f[k].fwt);
    }
    if (!cli_text(c))
        return CL_OK;
    if (!cl_store_has_eval(s, CL_EVAL_GENERATE) && !cl_store_has_eval(s, CL_EVAL_RANKED)) {
        fprintf(c->out, "\n== %s  [%s]\nforgetting   no accuracy recorded in this store (%s): "
                        "nothing to compute\n",
                path, cl_store_meta(s)->method,
                cli_imported(s)
                    ? "imported adapters carry none; collide-train evaluates as it trains"
                    : "no task was evaluated");
        return CL_OK;
    }
    fprintf(c->out, "\n== %s  [%s]\nforgetting   %d of %d tasks evaluated; headline protocol: %s\n",
            path, cl_store_meta(s)->method, f[0].tasks, T, cl_eval_name(prot[0]));
    for (int k = 0; k < np; k++) {
        const double *b = cl_store_baseline(s, prot[k]);
        fprintf(c->out,
                "\n  protocol %s%s: %s\n"
                "  accuracy R[i][j] (%%, ± binomial standard error): row i = after training "
                "task i, column j = task evaluated\n",
                cl_eval_name(prot[k]), k == 0 ? " (headline)" : "",
                prot[k] == CL_EVAL_RANKED
                    ? "the option label with the highest log-likelihood after the prompt"
                    : "greedy generation, exact match of the normalised answer (the paper's)");
        text_matrix(c, s, cl_store_accuracy(s, prot[k]));
        fprintf(c->out, "  baseline (before any training, for FWT):");
        for (int j = 0; j < T; j++)
            fprintf(c->out, isnan(b[j]) ? " -" : " %.1f", 100 * b[j]);
        char v[6][16];
        const double x[6] = {f[k].aa, f[k].la, f[k].bwt, f[k].forget_max, f[k].forget_first,
                             f[k].fwt};
        for (int q = 0; q < 6; q++) /* "-" where the store has too few rows */
            snprintf(v[q], sizeof v[q], isnan(x[q]) ? "-" : "%.2f%%", 100 * x[q]);
        fprintf(c->out,
                "\n"
                "  AA       %8s  average accuracy: mean of the last row over the %d tasks seen\n"
                "  LA       %8s  learning accuracy: mean of the diagonal R[j][j]\n"
                "  BWT      %8s  backward transfer: mean_{j<T-1} R[T-1][j] - R[j][j]\n"
                "  F_max    %8s  forgetting: mean_{j<T-1} max_{j<=i<T-1} R[i][j] - R[T-1][j]"
                " (Chaudhry et al. 2018)\n"
                "  F_first  %8s  forgetting: mean_{j<T-1} R[j][j] - R[T-1][j]\n"
                "  FWT      %8s  forward transfer: mean_{j>0} R[j-1][j] - baseline[j]"
                " (Lopez-Paz and Ranzato 2017)\n",
                v[0], f[k].tasks, v[1], v[2], v[3], v[4], v[5]);
        if (chance_n == T)
            fprintf(c->out, "  chance   %7.2f%%  mean over tasks of 1 / labels\n",
                    100 * chance_sum / T);
    }
    return CL_OK;
}
