/*
 * test_plot.c -- collide-plot run as a user runs it, on small synthetic
 * stores: every figure's CSV is parsed and checked against what the metric
 * tools print for the same stores (--format json), every PNG is checked to be
 * a real image of a sensible size; then the paths without gnuplot, with bad
 * usage and with bad input.
 *
 * Then issue 15's figure defects, each with a check that failed before its
 * fix: label boxes that never overlap, one colour per method in every
 * figure, shared y axes, grey unevaluated cells, no figure without data,
 * task-end labels on separate rows, titles and keys that fit (checked on
 * the decoded PNG), --name, --force and input protection, --format csv.
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
#include <zlib.h>

static char bindir[512], work[256], store[4][300], fixtures[512];

#include "plot_test.h"
static int have_gnuplot;

/* ------------------------------------------------------------ images */

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A valid PNG: signature, IHDR first with a sensible size, IEND at the end,
 * and more than a few KB (an empty canvas compresses to less). */
static void check_png(const char *path, json_t *entry)
{
    size_t n;
    unsigned char *b = (unsigned char *)slurp(path, &n);
    CHECK(b != NULL, "%s: missing", path);
    if (!b)
        return;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(n > 33 && !memcmp(b, sig, 8), "%s: not a PNG signature", path);
    if (n > 33 && !memcmp(b, sig, 8)) {
        CHECK(be32(b + 8) == 13 && !memcmp(b + 12, "IHDR", 4), "%s: IHDR is not first", path);
        uint32_t w = be32(b + 16), h = be32(b + 20);
        CHECK(w >= 600 && w <= 4000 && h >= 400 && h <= 6000, "%s: %u x %u pixels", path, w, h);
        CHECK(b[24] == 8, "%s: bit depth %d", path, b[24]);
        CHECK(n > 12 && !memcmp(b + n - 8, "IEND", 4), "%s: no IEND at the end", path);
        CHECK(num(entry, "width") == w && num(entry, "height") == h,
              "%s: the report says %g x %g, the file %u x %u", path, num(entry, "width"),
              num(entry, "height"), w, h);
    }
    CHECK(n > 8000, "%s: only %zu bytes", path, n);
    free(b);
}

static void check_no_temp(const char *dir)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q '\\.tmp\\.'", dir);
    CHECK(system(cmd) != 0, "%s: a temporary file was left behind", dir);
}

/* Run a figure; check the report, the CSV's row count and every image.
 * Returns the CSV. */
static csv plot(const char *fig, const char *args, const char *sub)
{
    char dir[1200], cmd[4096], path[1400];
    snprintf(dir, sizeof dir, "%s/%s", work, sub);
    snprintf(cmd, sizeof cmd, "collide-plot %s --format json %s -o %s", fig, args, dir);
    char *out, *err;
    int st = run("", cmd, &out, &err);
    int want = have_gnuplot ? 0 : 3;
    CHECK(st == want, "%s: exit %d, expected %d: %s", cmd, st, want, err ? err : "");
    if (have_gnuplot)
        CHECK(err && !strstr(err, "gnuplot"), "%s: gnuplot said something: %s", cmd, err);
    json_error_t je;
    json_t *j = json_loads(out ? out : "", 0, &je);
    CHECK(j != NULL, "%s: report does not parse: %s", cmd, je.text);
    csv c = {0};
    snprintf(path, sizeof path, "%s/%s.csv", dir, fig);
    CHECK(csv_load(path, &c) == 0, "%s: no CSV", path);
    size_t i;
    json_t *e;
    int images = 0;
    json_array_foreach(json_object_get(json_object_get(j, "tables"), "files"), i, e) {
        const char *fmt = str(e, "format"), *p = str(e, "path");
        if (!strcmp(fmt, "csv")) {
            CHECK(!strcmp(p, path), "report names %s, expected %s", p, path);
            CHECK(num(e, "rows") == c.nrows, "%s: report says %g rows, the file has %d", p,
                  num(e, "rows"), c.nrows);
        } else if (!strcmp(fmt, "png")) {
            images++;
            check_png(p, e);
        }
    }
    CHECK(images == have_gnuplot, "%s: %d PNG images reported", fig, images);
    check_no_temp(dir);
    json_decref(j);
    free(out), free(err);
    return c;
}

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

/* ------------------------------------------------------------ issue 15 */

/* A PNG decoded to 8-bit RGB (colour types 2 and 6, bit depth 8: what
 * gnuplot's pngcairo writes), for checks on what the image shows. */
typedef struct image {
    int w, h;
    unsigned char *rgb; /* w * h * 3 */
} image;

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static int png_load(const char *path, image *im)
{
    size_t n, zn = 0;
    unsigned char *b = (unsigned char *)slurp(path, &n), *z = NULL;
    memset(im, 0, sizeof *im);
    if (!b || n < 33 || be32(b + 8) != 13 || b[24] != 8 || (b[25] != 2 && b[25] != 6)) {
        free(b);
        return -1;
    }
    im->w = (int)be32(b + 16), im->h = (int)be32(b + 20);
    int bpp = b[25] == 6 ? 4 : 3;
    for (size_t off = 8; off + 12 <= n;) { /* the IDAT chunks, joined */
        uint32_t len = be32(b + off);
        if (off + 12 + len > n)
            break;
        if (!memcmp(b + off + 4, "IDAT", 4)) {
            z = realloc(z, zn + len);
            memcpy(z + zn, b + off + 8, len);
            zn += len;
        }
        off += 12 + len;
    }
    size_t stride = (size_t)im->w * bpp, raw_n = (stride + 1) * (size_t)im->h;
    uLongf got = (uLongf)raw_n;
    unsigned char *raw = malloc(raw_n);
    int ok = z && raw && uncompress(raw, &got, z, (uLong)zn) == Z_OK && got == raw_n;
    free(z), free(b);
    if (!ok) {
        free(raw);
        return -1;
    }
    im->rgb = malloc((size_t)im->w * im->h * 3);
    for (int y = 0; y < im->h; y++) { /* undo the filters in place */
        unsigned char *row = raw + (size_t)y * (stride + 1), *cur = row + 1;
        unsigned char *up = y ? raw + (size_t)(y - 1) * (stride + 1) + 1 : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? cur[i - bpp] : 0, u = up ? up[i] : 0;
            int c = up && i >= (size_t)bpp ? up[i - bpp] : 0, add = 0;
            switch (row[0]) {
            case 1: add = a; break;
            case 2: add = u; break;
            case 3: add = (a + u) / 2; break;
            case 4: add = paeth(a, u, c); break;
            }
            cur[i] = (unsigned char)(cur[i] + add);
        }
        for (int x = 0; x < im->w; x++)
            memcpy(im->rgb + ((size_t)y * im->w + x) * 3, cur + (size_t)x * bpp, 3);
    }
    free(raw);
    return 0;
}

static const unsigned char *px(const image *im, int x, int y)
{
    return im->rgb + ((size_t)y * im->w + x) * 3;
}

/* Pixels of exactly this colour ("#RRGGBB"). */
static long count_colour(const image *im, const char *hex)
{
    unsigned v = (unsigned)strtoul(hex + 1, NULL, 16);
    long n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            const unsigned char *p = px(im, x, y);
            n += p[0] == (v >> 16 & 255) && p[1] == (v >> 8 & 255) && p[2] == (v & 255);
        }
    return n;
}

/* Pixels that are not white within EDGE pixels of the left or right side:
 * text running off the image. */
static long ink_at_sides(const image *im, int edge)
{
    long n = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            if (x >= edge && x < im->w - edge)
                continue;
            const unsigned char *p = px(im, x, y);
            n += p[0] < 200 || p[1] < 200 || p[2] < 200;
        }
    return n;
}

/* The longest horizontal run of dark pixels: the x axis of the widest plot. */
static int longest_dark_run(const image *im)
{
    int best = 0;
    for (int y = 0; y < im->h; y++)
        for (int x = 0, run = 0; x < im->w; x++) {
            const unsigned char *p = px(im, x, y);
            run = p[0] < 110 && p[1] < 110 && p[2] < 110 ? run + 1 : 0;
            best = run > best ? run : best;
        }
    return best;
}

static int load_figure(const char *sub, const char *name, image *im)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/%s.png", work, sub, name);
    int rc = png_load(path, im);
    CHECK(rc == 0, "%s: not a PNG this test decodes", path);
    return rc;
}

/* Two label boxes x0 x1 y0 y1 overlap (touching is not overlapping). */
static int boxes_overlap(const double *a, const double *b)
{
    return fmin(a[1], b[1]) - fmax(a[0], b[0]) > 1e-12 && fmin(a[3], b[3]) - fmax(a[2], b[2]) > 1e-12;
}

/* 18: labels of points that coincide (the same store five times, and one
 * more) are placed apart, in both panels. */
static void test_label_overlap(void)
{
    char args[4000] = "--labels store --threshold abs:0.001 --threshold energy:0.99";
    for (int i = 0; i < 5; i++) {
        char copy[700], cmd[1500];
        snprintf(copy, sizeof copy, "%s/close%d.h5", work, i);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", store[0], copy);
        CHECK(system(cmd) == 0, "%s", cmd);
        snprintf(args + strlen(args), sizeof args - strlen(args), " %s", copy);
    }
    snprintf(args + strlen(args), sizeof args - strlen(args), " %s", store[1]);
    csv c = plot("forgetting-sparsity", args, "labels");
    CHECK(c.nrows == 6, "labels: %d rows", c.nrows);
    static const char *cols[2][4] = {{"label_x0", "label_x1", "label_y0", "label_y1"},
                                     {"label2_x0", "label2_x1", "label2_y0", "label2_y1"}};
    for (int panel = 0; panel < 2; panel++) {
        double box[8][4];
        int n = 0, bad = 0;
        for (int r = 0; r < c.nrows && r < 8; r++, n++)
            for (int q = 0; q < 4; q++)
                box[r][q] = cf(&c, r, cols[panel][q]);
        for (int i = 0; i < n; i++) {
            CHECK(!isnan(box[i][0]) && box[i][1] > box[i][0] && box[i][3] > box[i][2],
                  "panel %d: row %d has no label box", panel + 1, i);
            for (int j = 0; j < i; j++)
                bad += boxes_overlap(box[i], box[j]);
        }
        CHECK(bad == 0, "panel %d: %d pairs of labels overlap", panel + 1, bad);
    }
    csv_free(&c);
}

/* 22: one colour per recorded method in every figure, whatever the store
 * order; "N-LoRA" is nlora; a method outside the palette keeps one colour. */
static void test_palette(void)
{
    char nl[700], odd[700], cmd[2000];
    snprintf(nl, sizeof nl, "%s/spelled.h5", work);
    snprintf(odd, sizeof odd, "%s/odd.h5", work);
    snprintf(cmd, sizeof cmd, "collide-synth -o %s --method N-LoRA --tasks 3 --modules 2 "
                              "--shape 32x32 --density 0.3 --seed 8", nl);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "collide-synth -o %s --method mymethod --tasks 3 --modules 2 "
                              "--shape 32x32 --seed 9", odd);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    static const char *figs[] = {"forgetting-sparsity", "collision-orthogonality",
                                 "nuclear-norm", "threshold-sweep"};
    char seen[8][2][64];
    int nseen = 0, bad = 0;
    for (int f = 0; f < 4; f++) {
        char args[3000], sub[64];
        /* store order differs between figures: the colour must not follow it */
        if (f % 2)
            snprintf(args, sizeof args, "%s %s %s %s %s", odd, store[1], nl, store[0], store[2]);
        else
            snprintf(args, sizeof args, "%s %s %s %s %s", store[0], store[2], nl, store[1], odd);
        snprintf(sub, sizeof sub, "pal%d", f);
        csv c = plot(figs[f], args, sub);
        for (int r = 0; r < c.nrows; r++) {
            const char *m = cs(&c, r, "method"), *col = cs(&c, r, "colour");
            if (!strcmp(m, "N-LoRA"))
                m = "nlora"; /* spelled another way: the same method */
            int k = 0;
            while (k < nseen && strcmp(seen[k][0], m))
                k++;
            if (k == nseen && nseen < 8) {
                snprintf(seen[k][0], 64, "%s", m);
                snprintf(seen[k][1], 64, "%s", col);
                nseen++;
            }
            bad += k < nseen && strcmp(seen[k][1], col) != 0;
        }
        csv_free(&c);
    }
    CHECK(bad == 0, "%d rows give a method another colour than before", bad);
    CHECK(nseen == 4, "4 methods seen (nlora, olora, synthetic, mymethod), got %d", nseen);
    for (int i = 0; i < nseen; i++) {
        if (!strcmp(seen[i][0], "nlora"))
            CHECK(!strcmp(seen[i][1], "#D55E00"), "nlora is %s", seen[i][1]);
        if (!strcmp(seen[i][0], "olora"))
            CHECK(!strcmp(seen[i][1], "#009E73"), "olora is %s", seen[i][1]);
        CHECK(strlen(seen[i][1]) == 7 && seen[i][1][0] == '#', "%s: colour %s", seen[i][0],
              seen[i][1]);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(seen[i][1], seen[j][1]), "%s and %s share %s", seen[i][0], seen[j][0],
                  seen[i][1]);
    }
    if (!have_gnuplot)
        return;
    /* the images show them: nlora's bars and points in its colour */
    image im;
    for (int f = 0; f < 4; f += 2)
        if (load_figure(f ? "pal2" : "pal0", figs[f], &im) == 0) {
            CHECK(count_colour(&im, "#D55E00") > 100, "%s: nlora's colour not drawn", figs[f]);
            CHECK(count_colour(&im, "#009E73") > 100, "%s: olora's colour not drawn", figs[f]);
            free(im.rgb);
        }
}

/* 23: one y range for every panel by default, so stores compare;
 * --independent-axes gives each its own. */
static void test_shared_axes(void)
{
    static const struct {
        const char *fig, *value;
    } f[] = {{"nuclear-norm", "nuclear"}, {"spectra", "sigma"}};
    for (int i = 0; i < 2; i++) {
        char args[2000], sub[64];
        double top[2][2] = {{-1, -1}, {-1, -1}}, vmax[2] = {0, 0};
        for (int ind = 0; ind < 2; ind++) {
            snprintf(args, sizeof args, "%s%s %s", ind ? "--independent-axes " : "", store[0],
                     store[1]);
            snprintf(sub, sizeof sub, "axes%d%d", i, ind);
            csv c = plot(f[i].fig, args, sub);
            for (int r = 0; r < c.nrows; r++) {
                int p = (int)cf(&c, r, "panel") - 1;
                if (p < 0 || p > 1)
                    continue;
                double y = cf(&c, r, "y_max");
                CHECK(top[ind][p] < 0 || top[ind][p] == y, "%s: y_max differs within panel %d",
                      f[i].fig, p + 1);
                top[ind][p] = y;
                vmax[p] = fmax(vmax[p], cf(&c, r, f[i].value));
            }
            csv_free(&c);
        }
        CHECK(top[0][0] > 0 && top[0][0] == top[0][1], "%s: shared axes by default: %g, %g",
              f[i].fig, top[0][0], top[0][1]);
        CHECK(top[1][0] != top[1][1], "%s --independent-axes: the same range %g", f[i].fig,
              top[1][0]);
        for (int p = 0; p < 2; p++)
            CHECK(top[1][p] >= vmax[p] && top[1][p] < 2 * vmax[p], "%s: panel %d's own top %g, "
                  "its largest value %g", f[i].fig, p + 1, top[1][p], vmax[p]);
        CHECK(top[0][0] >= fmax(vmax[0], vmax[1]), "%s: the shared top covers both", f[i].fig);
    }
}

/* An imported store: no accuracies, no losses (imported adapters carry
 * none), long task names and a long file name. */
static void make_imported(char *path, size_t n)
{
    char cmd[3000];
    snprintf(path, n, "%s/an-imported-adapter-store-with-a-rather-long-file-name-to-draw.h5",
             work);
    snprintf(cmd, sizeof cmd, "collide-import --quiet -o %s --tasks 'dbpedia_14 ontology "
             "classification with a long name,amazon polarity reviews with a very long name' "
             "%s/peft/llama/task1 %s/peft/llama/task2", path, fixtures, fixtures);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
}

/* 24: cells never evaluated are grey, not white. */
static void test_grey_cells(const char *imported)
{
    char args[2000];
    snprintf(args, sizeof args, "%s %s", imported, store[2]);
    csv c = plot("accuracy-matrix", args, "grey");
    int unknown = 0;
    for (int r = 0; r < c.nrows; r++)
        unknown += isnan(cf(&c, r, "accuracy"));
    CHECK(unknown == 4, "the imported store's 4 cells are not evaluated: %d", unknown);
    csv_free(&c);
    image im;
    if (have_gnuplot && load_figure("grey", "accuracy-matrix", &im) == 0) {
        /* 4 cells of at least 48 x 48 pixels less their edges */
        long grey = count_colour(&im, "#BDBDBD");
        CHECK(grey > 4 * 40 * 40, "unevaluated cells: %ld grey pixels", grey);
        free(im.rgb);
    }
}

/* 25: a figure with nothing to draw names the store and what is missing,
 * exits 1 and writes nothing (not even its folder). */
static void test_no_data(const char *imported)
{
    static const char *figs[] = {"training", "accuracy-matrix"};
    static const char *what[] = {"training history", "accuracy"};
    for (int i = 0; i < 2; i++) {
        char cmd[2400], dir[600], *err;
        snprintf(dir, sizeof dir, "%s/nodata%d", work, i);
        snprintf(cmd, sizeof cmd, "collide-plot %s %s -o %s", figs[i], imported, dir);
        int st = run("", cmd, NULL, &err);
        CHECK(st == 1, "%s on an imported store: exit %d, expected 1", figs[i], st);
        CHECK_CONTAINS(err, imported);
        CHECK_CONTAINS(err, what[i]);
        CHECK(err && !strstr(err, "gnuplot"), "%s: gnuplot ran: %s", figs[i], err ? err : "");
        CHECK(access(dir, F_OK) != 0, "%s: %s was created", figs[i], dir);
        free(err);
    }
}

/* 21: task-end labels that would touch go on separate rows (the CSV's
 * task_end rows: value is the row); ends far apart share the first. */
static void test_task_end_rows(void)
{
    char many[700], cmd[1500], args[2000];
    snprintf(many, sizeof many, "%s/twelve.h5", work);
    snprintf(cmd, sizeof cmd, "collide-synth -o %s --tasks 12 --modules 1 --shape 16x16 "
                              "--snapshots-per-task 0 --seed 5", many);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(args, sizeof args, "%s %s", many, store[0]);
    csv c = plot("history", args, "ends");
    int ends = 0, prev_row = -1, prev_panel = 0, same = 0, spread = 0;
    for (int r = 0; r < c.nrows; r++) {
        if (strcmp(cs(&c, r, "quantity"), "task_end"))
            continue;
        int panel = (int)cf(&c, r, "panel"), row = (int)cf(&c, r, "value");
        ends++;
        if (panel == 1 && prev_panel == 1)
            same += row == prev_row; /* ends one snapshot apart */
        if (panel == 2)
            spread += row != 0;
        prev_row = row, prev_panel = panel;
    }
    CHECK(ends == 12 + 3, "history: %d task_end rows, expected 15", ends);
    CHECK(same == 0, "%d neighbouring task-end labels share a row", same);
    CHECK(spread == 0, "task ends far apart: %d labels left the first row", spread);
    csv_free(&c);
}

/* 19, 20: long names stay inside the image and leave the plot its room. */
static void test_long_names(const char *imported)
{
    csv c = plot("collision-map", imported, "longcm");
    csv_free(&c);
    c = plot("spectra", imported, "longsp");
    CHECK(c.nrows > 0 && strstr(cs(&c, 0, "name"), "with a long name") != NULL,
          "the CSV keeps the whole task name");
    csv_free(&c);
    if (!have_gnuplot)
        return;
    image im;
    if (load_figure("longcm", "collision-map", &im) == 0) {
        CHECK(ink_at_sides(&im, 3) == 0, "collision-map: %ld pixels of text at the image's sides",
              ink_at_sides(&im, 3));
        free(im.rgb);
    }
    if (load_figure("longsp", "spectra", &im) == 0) {
        int axis = longest_dark_run(&im);
        CHECK(axis > im.w * 7 / 10, "spectra: the plot is %d of %d pixels wide (the key "
              "squeezes it)", axis, im.w);
        free(im.rgb);
    }
}

/* 26: --name, --force, inputs never written over, every output checked
 * before any is written; --format csv. */
static void test_outputs(void)
{
    char dir[600], cmd[3000], path[1400], *out, *err;
    snprintf(dir, sizeof dir, "%s/outs", work);
    snprintf(cmd, sizeof cmd, "collide-plot spectra --name fig1 --format csv %s -o %s", store[2],
             dir);
    int st = run("", cmd, &out, NULL);
    CHECK(st == (have_gnuplot ? 0 : 3), "%s: exit %d", cmd, st);
    CHECK(out && !strncmp(out, "figure,format,path,rows,width,height\n", 37), "CSV report: %s",
          out ? out : "");
    char want[1500];
    snprintf(want, sizeof want, "spectra,csv,%s/fig1.csv,", dir);
    CHECK_CONTAINS(out, want);
    if (have_gnuplot) {
        snprintf(want, sizeof want, "spectra,png,%s/fig1.png,,", dir);
        CHECK_CONTAINS(out, want);
    }
    free(out);
    snprintf(path, sizeof path, "%s/spectra.csv", dir);
    CHECK(access(path, F_OK) != 0, "--name: %s written too", path);
    snprintf(path, sizeof path, "%s/fig1.csv", dir);
    struct stat before, after;
    CHECK(stat(path, &before) == 0, "--name: %s missing", path);
    /* a second call: refused, nothing touched */
    st = run("", cmd, NULL, &err);
    CHECK(st == 1, "an existing output without --force: exit %d", st);
    CHECK_CONTAINS(err, "--force");
    free(err);
    CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino &&
              after.st_mtime == before.st_mtime, "%s was replaced without --force", path);
    /* only the image exists: the CSV is not written either */
    snprintf(cmd, sizeof cmd, "rm -f %s/fig2.csv && touch %s/fig2.png", dir, dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "collide-plot spectra --name fig2 %s -o %s", store[2], dir);
    st = run("", cmd, NULL, NULL);
    snprintf(path, sizeof path, "%s/fig2.csv", dir);
    CHECK(st == 1 && access(path, F_OK) != 0, "fig2.png exists: exit %d, and the CSV %s", st,
          access(path, F_OK) ? "not written" : "written");
    snprintf(cmd, sizeof cmd, "collide-plot spectra --name fig2 --force %s -o %s", store[2], dir);
    st = run("", cmd, NULL, NULL);
    CHECK(st == (have_gnuplot ? 0 : 3) && access(path, F_OK) == 0, "--force: exit %d", st);
    /* an input store is never written over, --force or not */
    char in[700], keep[700];
    snprintf(in, sizeof in, "%s/input.png", dir);
    snprintf(keep, sizeof keep, "%s/input.keep", work);
    snprintf(cmd, sizeof cmd, "cp %s %s && cp %s %s", store[2], in, store[2], keep);
    CHECK(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "collide-plot spectra --name input --force %s -o %s", in, dir);
    st = run("", cmd, NULL, &err);
    CHECK(st == 1, "writing over the input: exit %d", st);
    CHECK_CONTAINS(err, "is an input");
    free(err);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", in, keep);
    CHECK(system(cmd) == 0, "the input store was changed");
    snprintf(path, sizeof path, "%s/input.csv", dir);
    CHECK(access(path, F_OK) != 0, "input protection: %s written", path);
    check_no_temp(dir);
}

static void test_usage_and_input(void)
{
    static const char *usage[] = {
        "collide-plot",                                     /* no figure */
        "collide-plot nonsense S -o D",                     /* not a figure */
        "collide-plot spectra S",                           /* no -o */
        "collide-plot spectra -o D",                        /* no store */
        "collide-plot spectra --x hoyer S -o D",            /* not this figure's */
        "collide-plot history --snapshot last S -o D",     /* history: every snapshot */
        "collide-plot collision-map --excerpt 4x S -o D",  /* malformed */
        "collide-plot collision-map --pair 1,1 S -o D",
        "collide-plot forgetting-sparsity --threshold energy:2 S -o D",
        "collide-plot threshold-sweep --sweep 0.5,x S -o D",
        "collide-plot spectra --format yaml S -o D",
        "collide-plot spectra --bogus S -o D",
        "collide-plot spectra --name ../up S -o D",          /* a folder in the name */
        "collide-plot spectra --name .hidden S -o D",
        "collide-plot accuracy-matrix --independent-axes S -o D",
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char *err;
        int st = run("", usage[i], NULL, &err);
        CHECK(st == 2, "%s: exit %d, expected 2", usage[i], st);
        CHECK_CONTAINS(err, "collide-plot: ");
        free(err);
    }
    char cmd[2400], *out, *err;
    CHECK(run("", "collide-plot --help", &out, NULL) == 0, "--help exits 0");
    CHECK_CONTAINS(out, "forgetting-sparsity");
    CHECK_CONTAINS(out, "Exit status");
    free(out);
    snprintf(cmd, sizeof cmd, "collide-plot spectra %s/missing.h5 -o %s/bad", work, work);
    CHECK(run("", cmd, NULL, &err) == 1, "a missing store exits 1");
    CHECK_CONTAINS(err, "missing.h5");
    free(err);
    snprintf(cmd, sizeof cmd, "collide-plot collision-map --pair 0,9 %s -o %s/bad", store[0], work);
    CHECK(run("", cmd, NULL, &err) == 1, "a pair outside the view exits 1");
    CHECK_CONTAINS(err, "task 9");
    free(err);
    snprintf(cmd, sizeof cmd, "collide-plot nuclear-norm --module 'nothing*' %s -o %s/bad",
             store[0], work);
    CHECK(run("", cmd, NULL, &err) == 1, "a glob matching nothing exits 1");
    CHECK_CONTAINS(err, "nothing*");
    free(err);
}

int main(int argc, char **argv)
{
    check_begin("test_plot");
    if (argc != 4) {
        fprintf(stderr, "usage: test_plot BINDIR WORKDIR FIXTURES\n");
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    snprintf(fixtures, sizeof fixtures, "%s", argv[3]);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_plot: cannot make %s\n", work);
        return 1;
    }
    have_gnuplot = system("gnuplot --version >/dev/null 2>&1") == 0;
    /* small stores: sparse nlora, dense olora, a 4-task non-square one, and
     * a single task */
    static const char *spec[4] = {
        "--method nlora --tasks 3 --modules 4 --shape 64x64 --density 0.25 --overlap 0.3 "
        "--forgetting 0.03 --seed 1",
        "--method olora --tasks 3 --modules 4 --shape 64x64 --density 1 --forgetting 0.08 "
        "--seed 2",
        "--tasks 4 --modules 2 --shape 96x80 --density 0.5 --seed 3",
        "--tasks 1 --modules 2 --shape 32x32 --seed 4"};
    for (int i = 0; i < 4; i++) {
        snprintf(store[i], sizeof store[i], "%s/store%d.h5", work, i);
        snprintf(cmd, sizeof cmd, "collide-synth -o %s %s", store[i], spec[i]);
        int st = run("", cmd, NULL, NULL);
        CHECK(st == 0, "%s: exit %d", cmd, st);
        if (st)
            return check_done();
    }
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
    test_usage_and_input();
    char imported[700];
    make_imported(imported, sizeof imported);
    test_label_overlap();
    test_palette();
    test_shared_axes();
    test_grey_cells(imported);
    test_no_data(imported);
    test_task_end_rows();
    test_long_names(imported);
    test_outputs();
    int rc = check_done();
    if (rc == 0 && !have_gnuplot) {
        printf("test_plot: gnuplot is not installed (apt-get install gnuplot-nox): every data "
               "check passed, the image checks did not run\n");
        return 77;
    }
    return rc;
}
