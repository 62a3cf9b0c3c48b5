/*
 * test_plot.c -- collide-plot run as a user runs it, on small synthetic
 * stores: every figure's CSV is parsed and checked against what the metric
 * tools print for the same stores (--format json), every PNG is checked to be
 * a real image of a sensible size; then the paths without gnuplot, with bad
 * usage and with bad input.
 * (Issue 15's figure defects are test_plot_defects.c's.)
 *
 * usage: test_plot BINDIR WORKDIR FIXTURES (tests/fixtures, for PEFT
 * adapters to import)
 * Without gnuplot on PATH the data checks still run (collide-plot then exits
 * 3); the test then reports Skipped (77) instead of passing, saying why.
 */
#include "../check.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char bindir[512], work[256], store[4][300], fixtures[512];

static int have_gnuplot;

#include "plot_figs.h"

/* ------------------------------------------------------------ figures */

static void test_forgetting_sparsity(void)
{
    char args[2000];
    snprintf(args, sizeof args, "%s %s %s", store[0], store[1], store[2]);
    csv c = plot("forgetting-sparsity", args, "fs");
    CHECK(c.nrows == 3, "forgetting-sparsity: %d rows, one per store", c.nrows);
    for (int r = 0; r < c.nrows && r < 3; r++) {
        char a[2400];
        CHECK(!strcmp(cs(&c, r, "store"), store[r]), "row %d is store %s", r, cs(&c, r, "store"));
        snprintf(a, sizeof a, "collide-sparsity --threshold energy:0.99 --format json %s", store[r]);
        json_t *sp = run_json(a);
        json_t *tasks = table(sp, "tasks"), *row;
        double dens = 0, hoy = 0;
        size_t i;
        json_array_foreach(tasks, i, row) {
            dens += num(row, "density_mean");
            hoy += num(row, "hoyer_mean");
        }
        size_t nt = json_array_size(tasks);
        CHECK_NEAR(cf(&c, r, "density"), dens / (double)nt, 1e-12, 0, "density");
        CHECK_NEAR(cf(&c, r, "hoyer"), hoy / (double)nt, 1e-12, 0, "hoyer");
        CHECK_NEAR(cf(&c, r, "x"), dens / (double)nt, 1e-12, 0, "x = density");
        CHECK(cf(&c, r, "tasks") == (double)nt, "tasks");
        CHECK(!strcmp(cs(&c, r, "threshold"), "energy:0.99"), "threshold stated");
        snprintf(a, sizeof a, "collide-forget --format json %s", store[r]);
        json_t *fg = run_json(a);
        json_t *s = json_array_get(table(fg, "summary"), 0);
        CHECK_NEAR(cf(&c, r, "forgetting_max"), num(s, "forgetting_max"), 1e-15, 0, "F_max");
        CHECK_NEAR(cf(&c, r, "y"), num(s, "forgetting_max"), 1e-15, 0, "y = F_max");
        CHECK_NEAR(cf(&c, r, "bwt"), num(s, "bwt"), 1e-15, 0, "BWT");
        CHECK_NEAR(cf(&c, r, "aa"), num(s, "aa"), 1e-15, 0, "AA");
        CHECK(!strcmp(cs(&c, r, "method"), str(s, "method")), "method");
        json_decref(sp), json_decref(fg);
    }
    /* nlora's lambda labels the point; a method without one has no label */
    CHECK(!strcmp(cs(&c, 0, "label"), "λ=0") && cf(&c, 0, "lambda") == 0, "nlora label %s",
          cs(&c, 0, "label"));
    CHECK(!strcmp(cs(&c, 2, "label"), "") && isnan(cf(&c, 2, "lambda")), "synthetic: no label");
    for (int r = 0; r < c.nrows; r++)
        CHECK(cf(&c, r, "label_pos") >= 1 && cf(&c, r, "label_pos") <= 16, "label_pos");
    /* the other axes */
    char again[2100];
    snprintf(again, sizeof again, "--force %s", args);
    csv d = plot("forgetting-sparsity", again, "fs"); /* the files replaced in place */
    CHECK(d.nrows == 3, "forgetting-sparsity again: %d rows", d.nrows);
    csv_free(&d);
    snprintf(args, sizeof args, "--x hoyer --y bwt --labels store %s %s", store[0], store[1]);
    d = plot("forgetting-sparsity", args, "fs3");
    for (int r = 0; r < d.nrows && r < c.nrows; r++) {
        CHECK(cf(&d, r, "x") == cf(&c, r, "hoyer"), "--x hoyer");
        CHECK(cf(&d, r, "y") == cf(&c, r, "bwt"), "--y bwt");
        CHECK(strstr(store[r], cs(&d, r, "label")) != NULL, "--labels store: %s",
              cs(&d, r, "label"));
    }
    csv_free(&d);
    csv_free(&c);
}

static void test_collision_orthogonality(void)
{
    char args[2000];
    snprintf(args, sizeof args, "%s %s %s", store[0], store[1], store[2]);
    csv c = plot("collision-orthogonality", args, "co");
    CHECK(c.nrows == 3, "collision-orthogonality: %d rows", c.nrows);
    for (int r = 0; r < c.nrows && r < 3; r++) {
        char a[2400];
        snprintf(a, sizeof a, "collide-ortho --format json %s", store[r]);
        json_t *o = run_json(a);
        json_t *s = json_array_get(table(o, "summary"), 0);
        CHECK_NEAR(cf(&c, r, "oo_pair_mean"), num(s, "oo_pair_mean"), 1e-15, 0, "OO pair mean");
        CHECK_NEAR(cf(&c, r, "oo_total"), num(s, "oo_total"), 1e-15, 0, "OO total");
        snprintf(a, sizeof a, "collide-collision --format json %s", store[r]);
        json_t *k = run_json(a);
        s = json_array_get(table(k, "summary"), 0);
        CHECK_NEAR(cf(&c, r, "acr_mean"), num(s, "acr_mean"), 1e-15, 0, "ACR");
        CHECK_NEAR(cf(&c, r, "density_mean"), num(s, "density_mean"), 1e-15, 0, "density");
        json_decref(o), json_decref(k);
    }
    csv_free(&c);
}

/* The collision map's file holds the excerpt's rows, then the heat map's
 * (tests/plot/test_cluster.c checks those): keep the rows of one part. */
static void keep_part(csv *c, const char *part)
{
    int j = col(c, "part"), kept = 0;
    CHECK(j >= 0, "collision-map: no part column");
    for (int r = 0; j >= 0 && r < c->nrows; r++) {
        char **row = c->cells + (long)r * c->ncols;
        if (strcmp(row[j], part)) {
            for (int q = 0; q < c->ncols; q++)
                free(row[q]);
            continue;
        }
        memmove(c->cells + (long)kept * c->ncols, row, (size_t)c->ncols * sizeof *row);
        kept++;
    }
    if (j >= 0)
        c->nrows = kept;
}

/* The whole module as the excerpt: its counts must be collide-collision's;
 * the default excerpt must be the busiest block of the aligned grid. */
static void test_collision_map(void)
{
    char args[2000], a[2400];
    const char *mod = "layers.1.attn.v";
    snprintf(args, sizeof args, "--module %s --pair 0,2 --excerpt 64x64 %s", mod, store[0]);
    csv c = plot("collision-map", args, "cm");
    keep_part(&c, "excerpt");
    CHECK(c.nrows == 64 * 64, "collision-map: %d rows for a 64x64 excerpt", c.nrows);
    snprintf(a, sizeof a, "collide-collision --per-module --module %s --format json %s", mod,
             store[0]);
    json_t *k = run_json(a);
    double dens[3] = {NAN, NAN, NAN}, tau[3] = {NAN, NAN, NAN}, cr = NAN;
    size_t i;
    json_t *row;
    json_array_foreach(table(k, "module_tasks"), i, row) {
        int t = (int)num(row, "task");
        if (t >= 0 && t < 3) {
            dens[t] = num(row, "density");
            tau[t] = num(row, "tau");
        }
    }
    json_array_foreach(table(k, "module_pairs"), i, row)
        if (num(row, "task_i") == 0 && num(row, "task_j") == 2)
            cr = num(row, "collision_rate");
    long ai = 0, aj = 0, both = 0, wrong = 0;
    static unsigned char act[64][64];
    for (int r = 0; r < c.nrows; r++) {
        int x = (int)cf(&c, r, "active_i"), y = (int)cf(&c, r, "active_j");
        int z = (int)cf(&c, r, "collision");
        ai += x, aj += y, both += z;
        wrong += z != (x & y);
        /* energy thresholds are inclusive: active when |value| >= tau */
        wrong += x != (fabs(cf(&c, r, "value_i")) >= tau[0]);
        wrong += y != (fabs(cf(&c, r, "value_j")) >= tau[2]);
        int row_ = (int)cf(&c, r, "row"), col_ = (int)cf(&c, r, "col");
        if (row_ >= 0 && row_ < 64 && col_ >= 0 && col_ < 64)
            act[row_][col_] = (unsigned char)(x | y);
        CHECK(!strcmp(cs(&c, r, "module"), mod), "module");
    }
    CHECK(wrong == 0, "collision-map: %ld cells disagree with their values and tau", wrong);
    CHECK_NEAR((double)ai / 4096, dens[0], 1e-15, 0, "density of task 0 over the module");
    CHECK_NEAR((double)aj / 4096, dens[2], 1e-15, 0, "density of task 2 over the module");
    CHECK_NEAR((double)both / 4096, cr, 1e-15, 0, "collision rate over the module");
    CHECK(both > 0 && both < ai, "a map with some collisions (%ld of %ld)", both, ai);
    /* default 48x48: the aligned grid cell with the most active entries
     * (ties: the first), moved in to fit */
    long best = -1;
    int br = 0, bc = 0;
    for (int gr = 0; gr < 2; gr++)
        for (int gc = 0; gc < 2; gc++) {
            long cnt = 0;
            for (int r = gr * 48; r < gr * 48 + 48 && r < 64; r++)
                for (int q = gc * 48; q < gc * 48 + 48 && q < 64; q++)
                    cnt += act[r][q];
            if (cnt > best)
                best = cnt, br = gr ? 16 : 0, bc = gc ? 16 : 0;
        }
    csv_free(&c);
    snprintf(args, sizeof args, "--module %s --pair 0,2 %s", mod, store[0]);
    c = plot("collision-map", args, "cm2");
    keep_part(&c, "excerpt");
    CHECK(c.nrows == 48 * 48, "collision-map: %d rows for the default excerpt", c.nrows);
    CHECK(c.nrows > 0 && cf(&c, 0, "row") == br && cf(&c, 0, "col") == bc,
          "default excerpt at %g,%g, expected %d,%d", cf(&c, 0, "row"), cf(&c, 0, "col"), br, bc);
    csv_free(&c);
    json_decref(k);
}

static void test_nuclear_norm(void)
{
    char args[2000];
    snprintf(args, sizeof args, "%s %s", store[0], store[2]);
    csv c = plot("nuclear-norm", args, "nn");
    CHECK(c.nrows == 4 + 2, "nuclear-norm: %d rows, one per module", c.nrows);
    int r = 0;
    for (int s = 0; s < 3; s += 2) {
        char a[2400];
        snprintf(a, sizeof a, "collide-subspace --per-module --format json %s", store[s]);
        json_t *j = run_json(a);
        size_t i;
        json_t *row;
        double sum = 0;
        int n = 0, first = r;
        json_array_foreach(table(j, "module_tasks"), i, row) {
            if (num(row, "task") != -1) /* the accumulated update */
                continue;
            CHECK(r < c.nrows && !strcmp(cs(&c, r, "module"), str(row, "module")), "module order");
            CHECK_NEAR(cf(&c, r, "nuclear"), num(row, "nuclear"), 1e-15, 0, "nuclear norm");
            CHECK(cf(&c, r, "module_index") == n && cf(&c, r, "panel") == s / 2 + 1, "indices");
            sum += num(row, "nuclear");
            n++, r++;
        }
        for (int q = first; q < r; q++)
            CHECK_NEAR(cf(&c, q, "nuclear_mean"), sum / n, 1e-12, 0, "mean");
        json_decref(j);
    }
    csv_free(&c);
    /* one task's update */
    snprintf(args, sizeof args, "--task 1 %s", store[0]);
    c = plot("nuclear-norm", args, "nn2");
    CHECK(c.nrows == 4 && !strcmp(cs(&c, 0, "update"), "task2"), "--task 1: %s",
          c.nrows ? cs(&c, 0, "update") : "");
    csv_free(&c);
}

static void test_accuracy_matrix(void)
{
    char args[2000];
    snprintf(args, sizeof args, "%s %s", store[1], store[2]);
    csv c = plot("accuracy-matrix", args, "am");
    CHECK(c.nrows == 9 + 16, "accuracy-matrix: %d rows (T x T per store)", c.nrows);
    int r = 0;
    for (int s = 1; s < 3; s++) {
        char a[2400];
        snprintf(a, sizeof a, "collide-forget --format json %s", store[s]);
        json_t *j = run_json(a);
        size_t i;
        json_t *row;
        json_array_foreach(table(j, "matrix"), i, row) {
            CHECK(r < c.nrows && cf(&c, r, "after_task") == num(row, "after_task") &&
                      cf(&c, r, "task") == num(row, "task"),
                  "cell order");
            CHECK_NEAR(cf(&c, r, "accuracy"), num(row, "accuracy"), 0, 0, "accuracy");
            r++;
        }
        json_decref(j);
    }
    csv_free(&c);
}

static void test_threshold_sweep(void)
{
    char args[2000], a[2400];
    snprintf(args, sizeof args, "%s %s", store[0], store[1]);
    csv c = plot("threshold-sweep", args, "ts");
    CHECK(c.nrows == 12, "threshold-sweep: %d rows (6 values x 2 stores)", c.nrows);
    int r = 0;
    for (int s = 0; s < 2; s++) {
        snprintf(a, sizeof a, "collide-collision --sweep --format json %s", store[s]);
        json_t *j = run_json(a);
        json_t *sum = table(j, "summary");
        double prev = -1;
        for (int q = 0; q < 6 && r < c.nrows; q++, r++) {
            CHECK(cf(&c, r, "value") > prev, "values increase along a line");
            prev = cf(&c, r, "value");
            int found = 0;
            size_t i;
            json_t *row;
            json_array_foreach(sum, i, row)
                if (!strcmp(str(row, "threshold"), cs(&c, r, "threshold"))) {
                    found = 1;
                    CHECK_NEAR(cf(&c, r, "acr_mean"), num(row, "acr_mean"), 1e-15, 0, "ACR");
                    CHECK_NEAR(cf(&c, r, "density_mean"), num(row, "density_mean"), 1e-15, 0,
                               "density");
                }
            CHECK(found, "threshold %s not in collide-collision --sweep", cs(&c, r, "threshold"));
            CHECK(cf(&c, r, "stated") == !strcmp(cs(&c, r, "threshold"), "energy:0.99"), "stated");
        }
        json_decref(j);
    }
    csv_free(&c);
    snprintf(args, sizeof args, "--threshold rel:0.05 --sweep 0.01,0.2 %s", store[0]);
    c = plot("threshold-sweep", args, "ts2");
    CHECK(c.nrows == 3 && !strcmp(cs(&c, 0, "threshold"), "rel:0.01") &&
              !strcmp(cs(&c, 2, "threshold"), "rel:0.2"),
          "--sweep: the stated value and the list, sorted");
    csv_free(&c);
}

static void test_spectra(void)
{
    char args[2000], a[2400];
    snprintf(args, sizeof args, "%s", store[2]);
    csv c = plot("spectra", args, "sp");
    snprintf(a, sizeof a, "collide-subspace --format json %s", store[2]);
    json_t *j = run_json(a);
    json_t *t = table(j, "spectra");
    CHECK(c.nrows == (int)json_array_size(t), "spectra: %d rows, the tool %zu", c.nrows,
          json_array_size(t));
    size_t i;
    json_t *row;
    json_array_foreach(t, i, row) {
        if ((int)i >= c.nrows)
            break;
        CHECK(cf(&c, (int)i, "task") == num(row, "task") &&
                  cf(&c, (int)i, "index") == num(row, "index") + 1,
              "row %zu: task and index", i);
        CHECK_NEAR(cf(&c, (int)i, "sigma"), num(row, "sigma"), 1e-15, 0, "sigma");
    }
    csv_free(&c);
    json_decref(j);
}

static void test_training(void)
{
    char args[2000], a[2400];
    snprintf(args, sizeof args, "%s %s", store[0], store[1]);
    csv c = plot("training", args, "tr");
    int r = 0;
    for (int s = 0; s < 2; s++) {
        snprintf(a, sizeof a, "collide-info --format json %s", store[s]);
        json_t *j = run_json(a);
        size_t i;
        json_t *row;
        json_array_foreach(table(j, "snapshots"), i, row) {
            CHECK(r < c.nrows && cf(&c, r, "id") == num(row, "id") &&
                      cf(&c, r, "step") == num(row, "step"),
                  "snapshot order");
            CHECK_NEAR(cf(&c, r, "loss"), num(row, "loss"), 1e-15, 0, "loss");
            CHECK_NEAR(cf(&c, r, "loss_task"), num(row, "loss_task"), 1e-15, 0, "task loss");
            CHECK(!strcmp(cs(&c, r, "kind"), str(row, "kind")), "kind");
            r++;
        }
        json_decref(j);
    }
    CHECK(r == c.nrows, "training: %d rows, the snapshot tables %d", c.nrows, r);
    csv_free(&c);
}

static void test_history(void)
{
    char args[2000], a[2400];
    snprintf(args, sizeof args, "%s", store[0]);
    csv c = plot("history", args, "hi");
    snprintf(a, sizeof a, "collide-collision --snapshot all --format json %s", store[0]);
    json_t *j = run_json(a);
    json_t *pairs = table(j, "pairs"), *tasks = table(j, "tasks");
    int ncr = 0, nd = 0, matched = 0;
    int ends = 0;
    for (int r = 0; r < c.nrows; r++) {
        if (!strcmp(cs(&c, r, "quantity"), "task_end")) { /* where a label sits */
            ends++;
            continue;
        }
        int cr = !strcmp(cs(&c, r, "quantity"), "collision_rate");
        ncr += cr;
        nd += !cr;
        size_t i;
        json_t *row;
        json_array_foreach(cr ? pairs : tasks, i, row) {
            if (num(row, "snapshot") != cf(&c, r, "snapshot"))
                continue;
            if (cr && num(row, "task_i") == cf(&c, r, "task_i") &&
                num(row, "task_j") == cf(&c, r, "task_j")) {
                CHECK_NEAR(cf(&c, r, "value"), num(row, "collision_rate_mean"), 1e-15, 0, "CR");
                matched++;
            }
            if (!cr && num(row, "task") == cf(&c, r, "task_i")) {
                CHECK_NEAR(cf(&c, r, "value"), num(row, "density_mean"), 1e-15, 0, "density");
                matched++;
            }
        }
    }
    CHECK(ncr == (int)json_array_size(pairs), "history: %d collision rows, the tool %zu", ncr,
          json_array_size(pairs));
    CHECK(nd == (int)json_array_size(tasks), "history: %d density rows, the tool %zu", nd,
          json_array_size(tasks));
    CHECK(ends == 3, "history: %d task_end rows, one per task", ends);
    CHECK(matched + ends == c.nrows, "history: %d of %d rows matched", matched, c.nrows);
    /* one line's rows follow each other in snapshot order (gnuplot joins them) */
    for (int r = 1; r < c.nrows; r++)
        if (!strcmp(cs(&c, r, "quantity"), cs(&c, r - 1, "quantity")) &&
            cf(&c, r, "series") == cf(&c, r - 1, "series"))
            CHECK(cf(&c, r, "snapshot") > cf(&c, r - 1, "snapshot"), "row %d out of order", r);
    csv_free(&c);
    json_decref(j);
}

/* ------------------------------------------------------------ the edges */

/* One task: no pair, no forgetting. Every figure with something to draw
 * still draws (saying what is undefined) without a word from gnuplot, and
 * its CSV holds NaN; the scatter figures have no point at all, so they say
 * which store lacks what, exit 1 and write nothing. */
static void test_single_task(void)
{
    static const struct {
        const char *fig;
        int rows;
    } f[] = {{"forgetting-sparsity", 0}, {"collision-orthogonality", 0}, {"accuracy-matrix", 1},
             {"nuclear-norm", 2},        {"training", 3},                 {"history", 4},
             {"threshold-sweep", 6},     {"spectra", -1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "one-%s", f[i].fig);
        if (f[i].rows == 0) {
            char cmd[2400], *err, dir[600];
            snprintf(dir, sizeof dir, "%s/%s", work, sub);
            snprintf(cmd, sizeof cmd, "collide-plot %s %s -o %s", f[i].fig, store[3], dir);
            int st = run("", cmd, NULL, &err);
            CHECK(st == 1, "%s on one task: exit %d, expected 1 (no point)", f[i].fig, st);
            CHECK_CONTAINS(err, store[3]);
            CHECK_CONTAINS(err, "two");
            CHECK(access(dir, F_OK) != 0, "%s: %s written without data", f[i].fig, dir);
            free(err);
            continue;
        }
        csv c = plot(f[i].fig, store[3], sub);
        CHECK(f[i].rows < 0 ? c.nrows > 0 : c.nrows == f[i].rows, "%s on one task: %d rows",
              f[i].fig, c.nrows);
        csv_free(&c);
    }
}

static void test_no_gnuplot(void)
{
    char cmd[2400], path[1400];
    char *out, *err;
    /* an override naming nothing, then a PATH without gnuplot */
    static const char *envs[] = {"COLLIDE_GNUPLOT=/nonexistent", "PATH=/nonexistent"};
    for (int e = 0; e < 2; e++) {
        snprintf(cmd, sizeof cmd, "collide-plot accuracy-matrix %s -o %s/nog%d", store[2], work, e);
        int st = run(envs[e], cmd, &out, &err);
        CHECK(st == 3, "%s %s: exit %d, expected 3", envs[e], cmd, st);
        CHECK_CONTAINS(err, "gnuplot");
        CHECK_CONTAINS(err, "data files are written");
        if (e == 1)
            CHECK_CONTAINS(err, "apt-get install gnuplot-nox");
        snprintf(path, sizeof path, "%s/nog%d/accuracy-matrix.csv", work, e);
        csv c;
        CHECK(csv_load(path, &c) == 0 && c.nrows == 16, "%s: the CSV is written", path);
        csv_free(&c);
        snprintf(path, sizeof path, "%s/nog%d/accuracy-matrix.png", work, e);
        CHECK(access(path, F_OK) != 0, "%s: no image expected", path);
        free(out), free(err);
    }
    snprintf(cmd, sizeof cmd, "collide-plot spectra --data-only %s -o %s/data", store[2], work);
    CHECK(run("COLLIDE_GNUPLOT=/nonexistent", cmd, NULL, NULL) == 0, "--data-only exits 0");
}

static void test_formats(void)
{
    if (!have_gnuplot)
        return;
    char cmd[2400], path[1400];
    snprintf(cmd, sizeof cmd, "collide-plot spectra --svg --pdf %s -o %s/fmt", store[2], work);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(path, sizeof path, "%s/fmt/spectra.svg", work);
    char *svg = slurp(path, NULL);
    CHECK_CONTAINS(svg, "<svg");
    free(svg);
    snprintf(path, sizeof path, "%s/fmt/spectra.pdf", work);
    char *pdf = slurp(path, NULL);
    CHECK(pdf && !strncmp(pdf, "%PDF", 4), "%s: not a PDF", path);
    free(pdf);
}

int main(int argc, char **argv)
{
    int rc = plot_setup("test_plot", argc, argv);
    if (rc)
        return rc;
    test_forgetting_sparsity();
    test_collision_orthogonality();
    test_collision_map();
    test_nuclear_norm();
    test_accuracy_matrix();
    test_threshold_sweep();
    test_spectra();
    test_training();
    test_history();
    test_single_task();
    test_no_gnuplot();
    test_formats();
    return plot_done("test_plot");
}
