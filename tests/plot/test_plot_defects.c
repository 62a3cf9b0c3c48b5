/*
 * test_plot_defects.c -- issue 15's figure defects, each with a check that
 * failed before its fix: label boxes that never overlap, one colour per
 * method in every figure, shared y axes, grey unevaluated cells, no figure
 * without data, task-end labels on separate rows, titles and keys that fit
 * (checked on the decoded PNG), --name, --force and input protection,
 * --format csv. On the stores test_plot draws (plot_figs.h).
 *
 * usage: test_plot_defects BINDIR WORKDIR FIXTURES
 * Without gnuplot the data checks still run and the test reports Skipped (77).
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
static int have_gnuplot;

#include "plot_figs.h"

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
    int rc = plot_setup("test_plot_defects", argc, argv);
    if (rc)
        return rc;
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
    return plot_done("test_plot_defects");
}
