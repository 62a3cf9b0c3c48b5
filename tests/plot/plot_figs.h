/*
 * plot_figs.h -- what test_plot and test_plot_defects share: the small
 * synthetic stores both draw from, and running a figure with its report,
 * CSV and images checked. The test defines bindir, work, fixtures, store[4]
 * and have_gnuplot before including this.
 */
#ifndef COLLIDE_PLOT_FIGS_H
#define COLLIDE_PLOT_FIGS_H

#include "plot_test.h"

#include <stdint.h>

/* ------------------------------------------------------------ images */

static inline uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A valid PNG: signature, IHDR first with a sensible size, IEND at the end,
 * and more than a few KB (an empty canvas compresses to less). */
static inline void check_png(const char *path, json_t *entry)
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

static inline void check_no_temp(const char *dir)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q '\\.tmp\\.'", dir);
    CHECK(system(cmd) != 0, "%s: a temporary file was left behind", dir);
}

/* Run a figure; check the report, the CSV's row count and every image.
 * Returns the CSV. */
static inline csv plot(const char *fig, const char *args, const char *sub)
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

/* The arguments, the scratch folder and the four stores: sparse nlora,
 * dense olora, a 4-task non-square one and a single task. Returns 0, or
 * the exit status to leave with. */
static inline int plot_setup(const char *name, int argc, char **argv)
{
    check_begin(name);
    if (argc != 4) {
        fprintf(stderr, "usage: %s BINDIR WORKDIR FIXTURES\n", name);
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    snprintf(fixtures, sizeof fixtures, "%s", argv[3]);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s: cannot make %s\n", name, work);
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
            return check_done(); /* non-zero: a check failed */
    }
    return 0;
}

/* The verdict: Skipped (77) when every data check passed but gnuplot was
 * missing, so that the image checks did not run. */
static inline int plot_done(const char *name)
{
    int rc = check_done();
    if (rc == 0 && !have_gnuplot) {
        printf("%s: gnuplot is not installed (apt-get install gnuplot-nox): every data "
               "check passed, the image checks did not run\n", name);
        return 77;
    }
    return rc;
}

#endif
