/* collide-summary -- one row per store: the paper's table (docs/METRICS.md,
 * section 7). Every number is cl_store_summary's, so it equals the family
 * tool's (collide-forget, collide-collision,
 * collide-ortho, collide-subspace); this main only lays the rows out. */
#include "cli.h"
#include "cl_tex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROG "collide-summary"

/* One store's row: its labels and a summary per threshold. */
typedef struct srow {
    const char *store, *name, *method, *origin;
    double lambda_orth, lambda_sparse; /* NaN: not the method's, or not recorded */
    int tasks;
    int protocol;                      /* the headline cl_eval, -1: no accuracy */
    cl_summary *sm;                    /* [n_th] */
} srow;

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The headline protocol, as collide-forget's: ranked where evaluated, the
 * paper's generation otherwise; -1 when the store holds no accuracy. */
static int headline(const cl_store *s)
{
    return cl_store_has_eval(s, CL_EVAL_RANKED)     ? CL_EVAL_RANKED
           : cl_store_has_eval(s, CL_EVAL_GENERATE) ? CL_EVAL_GENERATE
                                                    : -1;
}

/* The method's lambdas: nlora N-LoRA's, olora O-LoRA's lambda1, olora+nlora
 * both; none for other methods or where the store records none (imported
 * without labels; synthetic stores, whose method is only a name). */
static void lambdas(const cl_store *s, double *orth, double *sparse)
{
    const cl_run_meta *m = cl_store_meta(s);
    *orth = *sparse = NAN;
    if (!cli_lambda_recorded(s) || !strcmp(m->origin, "synthetic"))
        return;
    if (!strcmp(m->method, "nlora") || !strcmp(m->method, "olora+nlora"))
        *sparse = m->lambda_sparse;
    if (!strcmp(m->method, "olora") || !strcmp(m->method, "olora+nlora"))
        *orth = m->lambda_orth;
}

static int summarise(cli *c, cl_store *s, srow *r, cl_error *err)
{
    const cl_run_meta *m = cl_store_meta(s);
    r->store = cl_store_path(s);
    r->name = m->name[0] ? m->name : basename_of(r->store);
    r->method = m->method;
    r->origin = m->origin;
    lambdas(s, &r->lambda_orth, &r->lambda_sparse);
    r->protocol = headline(s);
    r->sm = calloc((size_t)c->n_th, sizeof *r->sm);
    if (!r->sm)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int q = 0; q < c->n_th; q++) {
        char th[48];
        cl_threshold_format(&c->th[q], th, sizeof th);
        cli_progress(c, "%s: %s: threshold %s (%d of %d)", PROG, r->store, th, q + 1, c->n_th);
        int rc = cl_store_summary(s, NULL, &c->th[q], cli_backend(c), &r->sm[q], err);
        if (rc)
            return rc;
    }
    r->tasks = r->sm[0].tasks;
    return CL_OK;
}

/* ------------------------------------------------------------ the table */

static const cl_forgetting *forgetting(const srow *r)
{
    return r->protocol < 0 ? NULL : &r->sm[0].forgetting[r->protocol];
}

/* "acr_energy_0.99": a column name with no ':' (cli_table_get's type mark). */
static void th_col(char *buf, size_t n, const char *what, const cl_threshold *th, const char *type)
{
    char t[48];
    cl_threshold_format(th, t, sizeof t);
    for (char *p = t; *p; p++)
        if (*p == ':')
            *p = '_';
    snprintf(buf, n, "%s_%s%s", what, t, type);
}

static void add_rows(cli *c, const srow *rows, int n)
{
    enum { FIXED = 12 };
    static const char *fixed[FIXED] = {"store",  "name",          "method",   "origin",
                                       "lambda_orth:f", "lambda_sparse:f", "tasks:i",
                                       "protocol", "aa:f", "bwt:f", "forgetting_max:f", "oo:f"};
    char names[2 * CLI_MAX_TH + 1][80];
    const char *cols[FIXED + 2 * CLI_MAX_TH + 1];
    int nc = 0;
    for (int i = 0; i < FIXED - 1; i++)
        cols[nc++] = fixed[i];
    for (int q = 0; q < c->n_th; q++) {
        th_col(names[q], sizeof names[q], "acr", &c->th[q], ":f");
        cols[nc++] = names[q];
    }
    cols[nc++] = fixed[FIXED - 1];
    cols[nc++] = "nuclear_mean:f";
    for (int q = 0; q < c->n_th; q++) {
        th_col(names[c->n_th + q], sizeof names[0], "density", &c->th[q], ":f");
        cols[nc++] = names[c->n_th + q];
    }
    cli_table *t = cli_table_get(c, "summary", cols, nc);
    for (int i = 0; i < n; i++) {
        const srow *r = &rows[i];
        const cl_forgetting *f = forgetting(r);
        cli_row_begin(t);
        cli_cell_s(t, r->store);
        cli_cell_s(t, r->name);
        cli_cell_s(t, r->method);
        cli_cell_s(t, r->origin);
        cli_cell_f(t, r->lambda_orth);
        cli_cell_f(t, r->lambda_sparse);
        cli_cell_i(t, r->tasks);
        if (f) {
            cli_cell_s(t, cl_eval_name((cl_eval)r->protocol));
            cli_cell_f(t, f->aa);
            cli_cell_f(t, f->bwt);
            cli_cell_f(t, f->forget_max);
        } else {
            for (int k = 0; k < 4; k++)
                cli_cell_none(t);
        }
        for (int q = 0; q < c->n_th; q++)
            cli_cell_f(t, r->sm[q].acr_mean);
        cli_cell_f(t, r->sm[0].oo_total);
        cli_cell_f(t, r->sm[0].nuclear_mean);
        for (int q = 0; q < c->n_th; q++)
            cli_cell_f(t, r->sm[q].density_mean);
    }
}

/* ------------------------------------------------------------ text */

/* Columns of characters, not bytes: names and headers may hold UTF-8. */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void pad(FILE *f, const char *s, int w, int right)
{
    int k = w - width(s);
    if (right)
        fprintf(f, "%*s%s", k > 0 ? k : 0, "", s);
    else
        fprintf(f, "%s%*s", s, k > 0 ? k : 0, "");
}

static void fmt_real(char *buf, size_t n, const char *fmt, double v, double mul)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, fmt, v * mul);
}

static void fmt_lambda(char *buf, size_t n, const srow *r)
{
    int so = !isnan(r->lambda_orth), ss = !isnan(r->lambda_sparse);
    if (so && ss)
        snprintf(buf, n, "%g / %g", r->lambda_sparse, r->lambda_orth);
    else if (ss || so)
        snprintf(buf, n, "%g", ss ? r->lambda_sparse : r->lambda_orth);
    else
        snprintf(buf, n, "-");
}

/* The cells of one row as text (percent as collide-report prints them). */
enum { CELL = 64 };
static int text_cells(const cli *c, const srow *r, char (*cell)[CELL])
{
    const cl_forgetting *f = forgetting(r);
    int k = 0;
    snprintf(cell[k++], CELL, "%s", r->name);
    snprintf(cell[k++], CELL, "%s", r->method);
    fmt_lambda(cell[k++], CELL, r);
    snprintf(cell[k++], CELL, "%d", r->tasks);
    const double fv[3] = {f ? f->aa : NAN, f ? f->bwt : NAN, f ? f->forget_max : NAN};
    for (int i = 0; i < 3; i++) {
        if (f)
            fmt_real(cell[k], CELL, "%.2f%%", fv[i], 100);
        else
            snprintf(cell[k], CELL, "not recorded");
        k++;
    }
    for (int q = 0; q < c->n_th; q++)
        fmt_real(cell[k++], CELL, "%.3f%%", r->sm[q].acr_mean, 100); /* NaN: no pair */
    fmt_real(cell[k++], CELL, "%.6g", r->sm[0].oo_total, 1);
    fmt_real(cell[k++], CELL, "%.5g", r->sm[0].nuclear_mean, 1);
    for (int q = 0; q < c->n_th; q++)
        fmt_real(cell[k++], CELL, "%.3f%%", r->sm[q].density_mean, 100);
    snprintf(cell[k++], CELL, "%s", r->store);
    return k;
}

static void print_text(cli *c, const srow *rows, int n)
{
    FILE *f = c->out;
    int nc = 10 + 2 * c->n_th; /* 7 + ACRs + OO, nuclear + densities + store */
    char(*head)[CELL] = calloc((size_t)nc, sizeof *head);
    char(*cells)[CELL] = calloc((size_t)nc * (size_t)(n ? n : 1), sizeof *cells);
    int *w = calloc((size_t)nc, sizeof *w);
    if (!head || !cells || !w) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        exit(CLI_EXIT_FAIL);
    }
    static const char *h1[] = {"name", "method", "λ", "tasks", "AA", "BWT", "F_max"};
    int k = 0;
    for (int i = 0; i < 7; i++)
        snprintf(head[k++], CELL, "%s", h1[i]);
    char th[48];
    for (int q = 0; q < c->n_th; q++) {
        cl_threshold_format(&c->th[q], th, sizeof th);
        snprintf(head[k++], CELL, "ACR %s", th);
    }
    snprintf(head[k++], CELL, "OO");
    snprintf(head[k++], CELL, "nuclear");
    for (int q = 0; q < c->n_th; q++) {
        cl_threshold_format(&c->th[q], th, sizeof th);
        snprintf(head[k++], CELL, "density %s", th);
    }
    snprintf(head[k++], CELL, "store");
    for (int i = 0; i < nc; i++)
        w[i] = width(head[i]);
    for (int r = 0; r < n; r++) {
        text_cells(c, &rows[r], cells + (size_t)r * (size_t)nc);
        for (int i = 0; i < nc; i++) {
            int l = width(cells[(size_t)r * (size_t)nc + (size_t)i]);
            w[i] = l > w[i] ? l : w[i];
        }
    }
    fprintf(f, "collide summary   %d store%s; one row per store, its last task-end snapshot\n",
            n, n == 1 ? "" : "s");
    for (int r = -1; r < n; r++) {
        fputs(" ", f);
        for (int i = 0; i < nc; i++) {
            const char *x = r < 0 ? head[i] : cells[(size_t)r * (size_t)nc + (size_t)i];
            fputs(" ", f);
            /* text left (name, method, store), numbers right */
            if (i == nc - 1)
                fputs(x, f);
            else
                pad(f, x, w[i], i >= 2);
        }
        fputc('\n', f);
    }
    fputs("  AA, BWT, F_max: collide-forget's, headline protocol (ranked where evaluated, else "
          "generation).\n"
          "  ACR: mean collision rate over task pairs (collide-collision); OO: O-LoRA's overlap,\n"
          "  summed over pairs and modules (collide-ortho); nuclear: ||dW_t||_*, mean over tasks\n"
          "  and modules (collide-subspace); density: active fraction, mean over tasks and "
          "modules.\n"
          "  λ: nlora N-LoRA's, olora O-LoRA's λ1, olora+nlora both (N-LoRA / O-LoRA).\n",
          f);
    free(head);
    free(cells);
    free(w);
}

/* ------------------------------------------------------------ LaTeX */

static const char *tx(const char *text)
{
    static char ring[4][1024];
    static int next;
    char *b = ring[next++ % 4];
    cl_tex_escape(text, b, sizeof ring[0]);
    return b;
}

/* " & 12.34", a minus sign as math ("$-$0.50"), "--" for NaN. */
static void tex_real(FILE *f, const char *fmt, double v, double mul)
{
    if (isnan(v)) {
        fputs(" & --", f);
        return;
    }
    fputs(signbit(v) && v != 0 ? " & $-$" : " & ", f);
    fprintf(f, fmt, fabs(v) * mul);
}

/* A complete document in base LaTeX (booktabs' rules when it is
 * installed, \hline otherwise): pdflatex FILE. */
static void print_latex(cli *c, const srow *rows, int n)
{
    FILE *f = c->out;
    char th[48];
    fputs("\\documentclass[10pt]{article}\n\\usepackage{graphicx}\n"
          "\\IfFileExists{booktabs.sty}{\\usepackage{booktabs}}{%\n"
          "  \\newcommand{\\toprule}{\\hline\\hline}\\newcommand{\\midrule}{\\hline}%\n"
          "  \\newcommand{\\bottomrule}{\\hline\\hline}}\n"
          "\\begin{document}\n\n"
          "% collide-summary: one row per store (docs/METRICS.md)\n"
          "\\begin{table}[t]\\centering\\small\n\\resizebox{\\textwidth}{!}{%\n"
          "\\begin{tabular}{ll",
          f);
    for (int i = 0; i < 7 + 2 * c->n_th; i++)
        fputc('r', f);
    fputs("}\n\\toprule\nRun & Method & $\\lambda$ & Tasks & AA (\\%) & BWT (\\%) & "
          "$F_{\\max}$ (\\%)",
          f);
    for (int q = 0; q < c->n_th; q++) {
        cl_threshold_format(&c->th[q], th, sizeof th);
        fprintf(f, " & ACR %s (\\%%)", tx(th));
    }
    fputs(" & OO & $\\|\\Delta W_t\\|_*$", f);
    for (int q = 0; q < c->n_th; q++) {
        cl_threshold_format(&c->th[q], th, sizeof th);
        fprintf(f, " & Density %s (\\%%)", tx(th));
    }
    fputs(" \\\\\n\\midrule\n", f);
    for (int i = 0; i < n; i++) {
        const srow *r = &rows[i];
        const cl_forgetting *fg = forgetting(r);
        char lam[64];
        fmt_lambda(lam, sizeof lam, r);
        fprintf(f, "%s & %s & %s & %d", tx(r->name), tx(r->method),
                strcmp(lam, "-") ? tx(lam) : "--", r->tasks);
        tex_real(f, "%.2f", fg ? fg->aa : NAN, 100);
        tex_real(f, "%.2f", fg ? fg->bwt : NAN, 100);
        tex_real(f, "%.2f", fg ? fg->forget_max : NAN, 100);
        for (int q = 0; q < c->n_th; q++)
            tex_real(f, "%.3f", r->sm[q].acr_mean, 100);
        tex_real(f, "%.4g", r->sm[0].oo_total, 1);
        tex_real(f, "%.4g", r->sm[0].nuclear_mean, 1);
        for (int q = 0; q < c->n_th; q++)
            tex_real(f, "%.3f", r->sm[q].density_mean, 100);
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}}\n"
          "\\caption{One row per run, at its last task-end snapshot. AA, BWT and $F_{\\max}$ under "
          "the headline protocol (ranked scoring where evaluated, else generation); ACR the mean "
          "collision rate over task pairs; OO O-LoRA's overlap $\\sum_{i<j} \\|A_i A_j^T\\|_F^2$ "
          "summed over modules; $\\|\\Delta W_t\\|_*$ the nuclear norm, mean over tasks and "
          "modules; density the active fraction, mean over tasks and modules. $\\lambda$: "
          "N-LoRA's (nlora), O-LoRA's $\\lambda_1$ (olora), both for olora+nlora (N-LoRA / "
          "O-LoRA). --: not recorded.}\n"
          "\\end{table}\n\n\\end{document}\n",
          f);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        PROG,
        "One row per store: the paper's table. Name, method, lambda, tasks, AA, BWT and\n"
        "F_max (collide-forget's, headline protocol), ACR at each --threshold\n"
        "(collide-collision's), OO (collide-ortho's), the mean nuclear norm per task\n"
        "(collide-subspace's) and density at each --threshold, at each store's last\n"
        "task-end snapshot over all its modules.",
        "--threshold may be given several times: one ACR and one density column each.\n"
        "--format latex prints a complete LaTeX document (pdflatex FILE) holding the table;\n"
        "CSV and JSON the table \"summary\", what a store does not record empty / null.\n"
        "Every store is opened and summarised before anything is printed.\n"
        "See docs/METRICS.md, section 7.",
        CLI_OPT_THRESHOLD | CLI_OPT_MULTI_THRESHOLD | CLI_OPT_DEVICE | CLI_OPT_LATEX, "summary"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    cl_store **s = calloc((size_t)c.n_stores, sizeof *s);
    srow *rows = calloc((size_t)c.n_stores, sizeof *rows);
    if (!s || !rows) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return CLI_EXIT_FAIL;
    }
    cl_error err;
    int rc = CL_OK;
    /* every store opens before any is summarised, and all are summarised
     * before anything is printed */
    for (int i = 0; i < c.n_stores && !rc; i++) {
        cli_progress(&c, "%s: opening %s", PROG, c.stores[i]);
        rc = cl_store_open(c.stores[i], &s[i], &err);
    }
    for (int i = 0; i < c.n_stores && !rc; i++)
        rc = summarise(&c, s[i], &rows[i], &err);
    int status = CLI_EXIT_OK;
    if (rc) {
        status = cli_fail(&c, &err);
    } else {
        cli_progress_done(&c);
        add_rows(&c, rows, c.n_stores);
        if (c.format == CLI_TEXT)
            print_text(&c, rows, c.n_stores);
        else if (c.format == CLI_LATEX)
            print_latex(&c, rows, c.n_stores);
    }
    status = cli_finish(&c, status);
    for (int i = 0; i < c.n_stores; i++) {
        if (s[i])
            cl_store_close(s[i], NULL);
        free(rows[i].sm);
    }
    free(s);
    free(rows);
    return status;
}
