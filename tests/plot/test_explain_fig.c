/*
 * test_explain_fig.c -- collide-plot explain, run as a user runs it:
 * forgetting against each interference measure, one point per ordered task
 * pair of every store.
 *
 * Two collide-synth stores of different methods (nlora, 5 tasks; olora, 4
 * tasks), each with a generation accuracy matrix:
 *  - the CSV has T(T-1)/2 pair rows per store, in the store's method and
 *    colour, and one panel row per measure;
 *  - each pair's forgetting is R[j-1][i] - R[j][i] of collide-forget's
 *    matrix table;
 *  - each pair's measures are collide-explain's (table pairs) for the same
 *    pair;
 *  - each panel's pooled Spearman r, interval, p and n are collide-explain's
 *    correlations row (scope "all"; with one store, the store's scope), and
 *    its title states them;
 *  - an imported store (no accuracy) adds rows with no forgetting, and
 *    alone is refused (exit 1, naming it and what is missing, nothing
 *    written); options the figure does not take are refused (exit 2);
 *  - with gnuplot, the PNG is drawn and gnuplot prints nothing.
 *
 * usage: test_explain_fig BINDIR WORKDIR FIXTURES
 * Without gnuplot the data checks run and the image is skipped (said).
 */
#include "../check.h"

#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char bindir[512], work[512], fixtures[512];

#include "plot_test.h"

/* ------------------------------------------------------------ the checks */

static const char *const measures[] = {"collision_rate", "jaccard", "overlap_energy", "cosine",
                                       "oo", "angle_sim", "rowspace_share", "norm_j"};
enum { N_MEASURES = 8 };

/* collide-plot explain STORES into WORK/SUB, data only; the CSV loaded. */
static int draw(const char *stores, const char *sub, int data_only, csv *c, char **err)
{
    char args[4096], path[1200];
    snprintf(args, sizeof args, "collide-plot explain %s -o %s/%s --force --quiet%s", stores,
             work, sub, data_only ? " --data-only" : "");
    int st = run("", args, NULL, err);
    snprintf(path, sizeof path, "%s/%s/explain.csv", work, sub);
    if (st == 0)
        CHECK(csv_load(path, c) == 0, "%s: no CSV", path);
    else
        memset(c, 0, sizeof *c);
    return st;
}

/* Store path's R (generation) from collide-forget: R[i * T + j]. */
static void accuracy(const char *path, int T, double *R)
{
    char args[1200];
    snprintf(args, sizeof args, "collide-forget --format json %s", path);
    json_t *j = run_json(args);
    for (int k = 0; k < T * T; k++)
        R[k] = NAN;
    json_t *t = table(j, "matrix"), *row;
    size_t i;
    json_array_foreach(t, i, row)
    {
        if (strcmp(str(row, "protocol"), "generation"))
            continue;
        int a = (int)num(row, "after_task"), b = (int)num(row, "task");
        if (a >= 0 && a < T && b >= 0 && b < T)
            R[a * T + b] = num(row, "accuracy");
    }
    json_decref(j);
}

/* The pair rows of the CSV against collide-forget and collide-explain. */
static void check_pairs(const csv *c, char *const *paths, const int *tasks, const char *const *method,
                        int n)
{
    char args[4096] = "collide-explain --format json";
    for (int s = 0; s < n; s++)
        snprintf(args + strlen(args), sizeof args - strlen(args), " %s", paths[s]);
    json_t *ex = run_json(args);
    json_t *pairs = table(ex, "pairs");
    for (int s = 0; s < n; s++) {
        int T = tasks[s], rows = 0, matched = 0;
        double *R = malloc((size_t)(T * T) * sizeof *R);
        accuracy(paths[s], T, R);
        for (int r = 0; r < c->nrows; r++) {
            if (strcmp(cs(c, r, "part"), "pair") || strcmp(cs(c, r, "store"), paths[s]))
                continue;
            rows++;
            int i = (int)cf(c, r, "task_i"), j = (int)cf(c, r, "task_j");
            CHECK(i >= 0 && i < j && j < T, "%s: pair %d,%d", paths[s], i, j);
            if (!(i >= 0 && i < j && j < T))
                continue;
            CHECK(!strcmp(cs(c, r, "method"), method[s]), "method %s", cs(c, r, "method"));
            CHECK(!strcmp(cs(c, r, "protocol"), "generation"), "protocol %s",
                  cs(c, r, "protocol"));
            CHECK_NEAR(cf(c, r, "forgetting"), R[(j - 1) * T + i] - R[j * T + i], 1e-12, 1e-15,
                       "forgetting R[j-1][i] - R[j][i]");
            json_t *row;
            size_t k;
            json_array_foreach(pairs, k, row)
            {
                if (strcmp(str(row, "store"), paths[s]) || (int)num(row, "task_i") != i ||
                    (int)num(row, "task_j") != j)
                    continue;
                matched++;
                CHECK_NEAR(cf(c, r, "forgetting"), num(row, "forgetting_generation"), 1e-12,
                           0, "forgetting as collide-explain");
                for (int m = 0; m < N_MEASURES; m++)
                    CHECK_NEAR(cf(c, r, measures[m]), num(row, measures[m]), 1e-12, 1e-300,
                               measures[m]);
            }
        }
        CHECK(rows == T * (T - 1) / 2, "%s: %d pair rows, expected %d", paths[s], rows,
              T * (T - 1) / 2);
        CHECK(matched == rows, "%s: %d of %d pairs in collide-explain's table", paths[s],
              matched, rows);
        free(R);
    }
    json_decref(ex);
}

/* The panel rows against collide-explain's correlations for SCOPE. */
static void check_panels(const csv *c, char *const *paths, int n, const char *scope)
{
    char args[4096] = "collide-explain --format json";
    for (int s = 0; s < n; s++)
        snprintf(args + strlen(args), sizeof args - strlen(args), " %s", paths[s]);
    json_t *ex = run_json(args);
    json_t *corr = table(ex, "correlations");
    int panels = 0;
    for (int r = 0; r < c->nrows; r++) {
        if (strcmp(cs(c, r, "part"), "panel"))
            continue;
        panels++;
        const char *meas = cs(c, r, "measure");
        CHECK((int)cf(c, r, "panel") == panels, "panel %d in order", panels);
        CHECK(panels <= N_MEASURES && !strcmp(meas, measures[panels - 1]), "panel %d is %s",
              panels, meas);
        json_t *row;
        size_t k;
        int found = 0;
        json_array_foreach(corr, k, row)
        {
            if (strcmp(str(row, "scope"), scope) || strcmp(str(row, "protocol"), "generation") ||
                strcmp(str(row, "measure"), meas) || strcmp(str(row, "kind"), "spearman"))
                continue;
            found++;
            CHECK_NEAR(cf(c, r, "spearman"), num(row, "r"), 1e-12, 0, "Spearman r");
            CHECK_NEAR(cf(c, r, "lo"), num(row, "lo"), 1e-12, 0, "interval low");
            CHECK_NEAR(cf(c, r, "hi"), num(row, "hi"), 1e-12, 0, "interval high");
            CHECK_NEAR(cf(c, r, "p"), num(row, "p"), 1e-12, 0, "permutation p");
            CHECK((int)cf(c, r, "n") == (int)num(row, "n"), "%s: n %d vs %d", meas,
                  (int)cf(c, r, "n"), (int)num(row, "n"));
            /* the title states the same numbers */
            char want[128];
            snprintf(want, sizeof want, "Spearman %.2f [%.2f, %.2f], p %.2g, %d pairs",
                     num(row, "r"), num(row, "lo"), num(row, "hi"), num(row, "p"),
                     (int)num(row, "n"));
            CHECK_CONTAINS(cs(c, r, "title"), want);
        }
        CHECK(found == 1, "%s: %d correlations rows for scope %s", meas, found, scope);
    }
    CHECK(panels == N_MEASURES, "%d panel rows, expected %d", panels, N_MEASURES);
    for (int r = 0; r < c->nrows; r++)
        if (!strcmp(cs(c, r, "part"), "panel") && !strcmp(cs(c, r, "measure"), "collision_rate"))
            CHECK_CONTAINS(cs(c, r, "title"), "collision rate (energy:0.99): Spearman");
    json_decref(ex);
}

static int have_gnuplot(void) { return system("gnuplot --version >/dev/null 2>&1") == 0; }

int main(int argc, char **argv)
{
    check_begin("test_explain_fig");
    if (argc != 4) {
        fprintf(stderr, "usage: test_explain_fig BINDIR WORKDIR FIXTURES\n");
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    snprintf(fixtures, sizeof fixtures, "%s", argv[3]);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", work, work);
    if (system(cmd))
        return 1;

    /* two stores, two methods */
    char n_store[700], o_store[700], imported[700];
    snprintf(n_store, sizeof n_store, "%s/nlora.h5", work);
    snprintf(o_store, sizeof o_store, "%s/olora.h5", work);
    snprintf(cmd, sizeof cmd, "collide-synth --quiet -o %s --method nlora --tasks 5 --modules 3 "
             "--shape 48x40 --density 0.3 --seed 3", n_store);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "collide-synth --quiet -o %s --method olora --tasks 4 --modules 3 "
             "--shape 48x40 --overlap 0.2 --forgetting 0.1 --seed 4", o_store);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    char *paths[2] = {n_store, o_store};
    static const int tasks[2] = {5, 4};
    static const char *const method[2] = {"nlora", "olora"};

    /* both stores: 10 + 6 pairs, pooled */
    csv c;
    char stores[2000], *err = NULL;
    snprintf(stores, sizeof stores, "%s %s", n_store, o_store);
    CHECK(draw(stores, "two", 1, &c, NULL) == 0, "explain on two stores");
    CHECK(c.nrows == 10 + 6 + N_MEASURES, "%d rows, expected 10 + 6 pairs and %d panels",
          c.nrows, N_MEASURES);
    check_pairs(&c, paths, tasks, method, 2);
    check_panels(&c, paths, 2, "all");
    for (int r = 0; r < c.nrows; r++)
        if (!strcmp(cs(&c, r, "part"), "pair"))
            CHECK(!strcmp(cs(&c, r, "colour"), !strcmp(cs(&c, r, "method"), "nlora") ? "#D55E00"
                                                                                    : "#009E73"),
                  "colour %s of %s", cs(&c, r, "colour"), cs(&c, r, "method"));
    csv_free(&c);

    /* one store: its own scope */
    CHECK(draw(o_store, "one", 1, &c, NULL) == 0, "explain on one store");
    check_pairs(&c, paths + 1, tasks + 1, method + 1, 1);
    check_panels(&c, paths + 1, 1, o_store);
    csv_free(&c);

    /* an imported store: no accuracy, so no forgetting; alone, refused */
    snprintf(imported, sizeof imported, "%s/imported.h5", work);
    snprintf(cmd, sizeof cmd, "collide-import --quiet -o %s %s/peft/llama/task1 "
             "%s/peft/llama/task2", imported, fixtures, fixtures);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(stores, sizeof stores, "%s %s", imported, o_store);
    CHECK(draw(stores, "mixed", 1, &c, NULL) == 0, "explain with an imported store");
    int imp_rows = 0, imp_forgetting = 0;
    for (int r = 0; r < c.nrows; r++)
        if (!strcmp(cs(&c, r, "store"), imported)) {
            imp_rows++;
            imp_forgetting += !isnan(cf(&c, r, "forgetting"));
        }
    CHECK(imp_rows == 1 && imp_forgetting == 0, "imported: %d rows, %d with forgetting",
          imp_rows, imp_forgetting);
    for (int r = 0; r < c.nrows; r++)
        if (!strcmp(cs(&c, r, "part"), "panel"))
            CHECK((int)cf(&c, r, "n") == 6, "%s: %d pairs pooled, the olora store's 6",
                  cs(&c, r, "measure"), (int)cf(&c, r, "n"));
    csv_free(&c);
    char dir[800];
    snprintf(dir, sizeof dir, "%s/refused", work);
    CHECK(draw(imported, "refused", 1, &c, &err) == 1, "explain on an imported store: exit 1");
    CHECK_CONTAINS(err, imported);
    CHECK_CONTAINS(err, "no accuracy");
    CHECK(access(dir, F_OK) != 0, "%s was created", dir);
    free(err);

    /* one task: no pair, no figure */
    char one[700];
    snprintf(one, sizeof one, "%s/one.h5", work);
    snprintf(cmd, sizeof cmd, "collide-synth --quiet -o %s --tasks 1 --modules 2 --shape 16x16",
             one);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    err = NULL;
    CHECK(draw(one, "one-task", 1, &c, &err) == 1, "explain on one task: exit 1");
    CHECK_CONTAINS(err, one);
    CHECK_CONTAINS(err, "no task pair");
    free(err);

    /* --module: the modules averaged over, as collide-explain's */
    snprintf(cmd, sizeof cmd, "collide-plot explain --module 'layers.0.*' %s -o %s/module "
             "--data-only --quiet", o_store, work);
    CHECK(run("", cmd, NULL, NULL) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "%s/module/explain.csv", work);
    CHECK(csv_load(cmd, &c) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "collide-explain --format json --module 'layers.0.*' %s", o_store);
    json_t *ex = run_json(cmd);
    json_t *row = json_array_get(table(ex, "pairs"), 0);
    CHECK(c.nrows > 0 && !strcmp(cs(&c, 0, "part"), "pair"), "a pair row first");
    if (c.nrows > 0)
        for (int m = 0; m < N_MEASURES; m++)
            CHECK_NEAR(cf(&c, 0, measures[m]), num(row, measures[m]), 1e-12, 1e-300,
                       measures[m]);
    json_decref(ex);
    csv_free(&c);

    /* listed in --help */
    char *out = NULL;
    CHECK(run("", "collide-plot --help", &out, NULL) == 0, "--help exits 0");
    CHECK_CONTAINS(out, "explain");
    free(out);

    /* options it does not take */
    snprintf(cmd, sizeof cmd, "collide-plot explain --snapshot last %s -o %s/bad", o_store, work);
    CHECK(run("", cmd, NULL, NULL) == 2, "--snapshot: exit 2");
    snprintf(cmd, sizeof cmd, "collide-plot explain --labels none %s -o %s/bad", o_store, work);
    CHECK(run("", cmd, NULL, NULL) == 2, "--labels: exit 2");

    /* the image */
    if (have_gnuplot()) {
        snprintf(stores, sizeof stores, "%s %s", n_store, o_store);
        err = NULL;
        CHECK(draw(stores, "image", 0, &c, &err) == 0, "explain with an image");
        CHECK(err && !err[0], "gnuplot printed: %s", err ? err : "");
        free(err);
        csv_free(&c);
        char png[900];
        struct stat sb;
        snprintf(png, sizeof png, "%s/image/explain.png", work);
        CHECK(stat(png, &sb) == 0 && sb.st_size > 8192, "%s: no image", png);
    } else {
        printf("test_explain_fig: gnuplot not found: the image is not checked\n");
    }
    return check_done();
}
