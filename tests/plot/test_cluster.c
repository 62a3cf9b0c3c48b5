/*
 * test_cluster.c -- the collision map's heat map: its clustering on closed
 * forms, then the whole figure on a store whose collision matrix is known
 * exactly.
 *
 * 1. plot_cluster (average linkage, tools/plot_collmap.c) on distance
 *    matrices whose merges are worked out by hand: three blocks of three
 *    interleaved items; a case where average and single linkage part ways,
 *    with a tie decided by the rule (smallest items first); ties everywhere;
 *    NaN distances; one and two items.
 * 2. A store written here through the public API: 9 tasks in three clusters
 *    interleaved in training order (task t in cluster t % 3), each ΔW rank
 *    one with B and A indicator vectors, so ΔW = s on a block of rows x
 *    columns and 0 elsewhere, and `--threshold abs:0.5` makes the block the
 *    active set. Every collision rate and Jaccard index is then a ratio of
 *    block overlaps, and the clustered order and merge heights are known.
 *    collide-plot collision-map's CSV must hold exactly those, in cluster
 *    order (auto, the store being "imported", and --order cluster) and in
 *    training order (--order training); the PNG is drawn when gnuplot is
 *    there.
 *
 * usage: test_cluster BINDIR WORKDIR
 */
#include "../check.h"
#include "plot.h"

#include <sys/stat.h>
#include <sys/wait.h>

static char bindir[512], work[512];

/* ------------------------------------------------------------ 1. closed forms */

static void check_order(const int *got, const int *want, int n, const char *what)
{
    int same = 1;
    for (int i = 0; i < n; i++)
        same &= got[i] == want[i];
    char g[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(g + strlen(g), sizeof g - strlen(g), "%d ", got[i]);
    CHECK(same, "%s: order %s", what, g);
}

/* Blocks A = {0,3,6}, B = {1,4,7}, C = {2,5,8}: 0 within a block, A-C 2/3,
 * A-B and B-C 1. Six merges at 0 (pairs in index order), then A with C,
 * then B: leaves 0 3 6 2 5 8 1 4 7. */
static void test_blocks(void)
{
    enum { N = 9 };
    double d[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int a = i % 3, b = j % 3;
            d[i * N + j] = a == b ? 0 : (a + b == 2 && a != b) ? 2.0 / 3 : 1;
        }
    int order[N];
    plot_merge m[N - 1];
    CHECK(plot_cluster(N, d, order, m) == 0, "plot_cluster failed");
    static const int want[N] = {0, 3, 6, 2, 5, 8, 1, 4, 7};
    check_order(order, want, N, "blocks");
    for (int k = 0; k < 6; k++)
        CHECK_NEAR(m[k].height, 0, 0, 0, "merges within a block at 0");
    /* merge order: (0,3) (0,6) (1,4) (1,7) (2,5) (2,8) */
    static const int left[6] = {0, 0, 1, 1, 2, 2}, right[6] = {3, 6, 4, 7, 5, 8};
    for (int k = 0; k < 6; k++)
        CHECK(m[k].item_left == left[k] && m[k].item_right == right[k],
              "merge %d joins %d and %d, expected %d and %d", k, m[k].item_left, m[k].item_right,
              left[k], right[k]);
    CHECK_NEAR(m[6].height, 2.0 / 3, 1e-15, 0, "A with C");
    CHECK(m[6].item_left == 0 && m[6].item_right == 2 && m[6].size == 6, "A left of C");
    CHECK_NEAR(m[7].height, 1, 1e-15, 0, "then B");
    CHECK(m[7].size == 9 && m[7].item_left == 0 && m[7].item_right == 1, "AC left of B");
    /* x: A's leaves at 0..2, C's at 3..5, B's at 6..8; (0,3) at 0 and 1, its
     * merge with 6 at 0.5 and 2: A at 1.25, likewise C at 4.25 and B at 7.25
     * (a cluster sits between its two children), AC at 2.75 */
    CHECK_NEAR(m[0].x_left, 0, 0, 0, "x of leaf 0");
    CHECK_NEAR(m[0].x_right, 1, 0, 0, "x of leaf 3");
    CHECK_NEAR(m[1].x_left, 0.5, 0, 0, "x of {0,3}");
    CHECK_NEAR(m[1].x_right, 2, 0, 0, "x of leaf 6");
    CHECK_NEAR(m[6].x_left, 1.25, 0, 0, "x of A");
    CHECK_NEAR(m[6].x_right, 4.25, 0, 0, "x of C");
    CHECK_NEAR(m[6].h_left, 0, 0, 0, "A's height");
    CHECK_NEAR(m[7].x_left, 2.75, 0, 0, "x of AC");
    CHECK_NEAR(m[7].x_right, 7.25, 0, 0, "x of B");
    CHECK_NEAR(m[7].h_left, 2.0 / 3, 1e-15, 0, "AC's height");
}

/* d01 = 1, d12 = 1.5, d02 = 3, item 3 at 2 from everything. Average
 * linkage: {0,1} at 1; then d({0,1},2) = 2.25 but d({0,1},3) = d(2,3) = 2,
 * a tie, to the pair with the smaller items: {0,1} with 3; then 2 at
 * (2.25 + 2.25 + 2) / 3 = 13/6. Leaves 0 1 3 2. (Single linkage would
 * merge 2 second, at 1.5: 0 1 2 3.) */
static void test_average_not_single(void)
{
    double d[16] = {0, 1, 3, 2, 1, 0, 1.5, 2, 3, 1.5, 0, 2, 2, 2, 2, 0};
    int order[4];
    plot_merge m[3];
    plot_cluster(4, d, order, m);
    static const int want[4] = {0, 1, 3, 2};
    check_order(order, want, 4, "average linkage");
    CHECK_NEAR(m[0].height, 1, 0, 0, "first merge");
    CHECK_NEAR(m[1].height, 2, 0, 0, "second merge (a tie, decided by index)");
    CHECK(m[1].item_left == 0 && m[1].item_right == 3, "second merge joins %d and %d",
          m[1].item_left, m[1].item_right);
    CHECK_NEAR(m[2].height, 13.0 / 6, 1e-15, 0, "third merge");
    /* the same distances with items renamed give the same tree, renamed */
    double e[16];
    static const int perm[4] = {2, 0, 3, 1}; /* new i is old perm[i] */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            e[i * 4 + j] = d[perm[i] * 4 + perm[j]];
    plot_cluster(4, e, order, m);
    /* old 0,1 = new 1,3; old 3 = new 2; old 2 = new 0. {1,3} at 1, then
     * d({1,3},2) = 2 = d(0,2): pairs (0,2) and (1,2): (0,2) first, at 2;
     * then the two at the mean of 2.25, 2.25 (0 to 1, 3) and 2, 2 (2 to
     * 1, 3): 2.125. Leaves 0 2 1 3. */
    static const int want2[4] = {0, 2, 1, 3};
    check_order(order, want2, 4, "renamed");
    CHECK_NEAR(m[1].height, 2, 0, 0, "renamed: second merge");
    CHECK_NEAR(m[2].height, 2.125, 1e-15, 0, "renamed: third merge");
}

static void test_small_cases(void)
{
    int order[5];
    plot_merge m[4];
    double one = 0;
    CHECK(plot_cluster(1, &one, order, m) == 0 && order[0] == 0, "one item");
    double two[4] = {0, NAN, NAN, 0}; /* NaN reads as 1 */
    plot_cluster(2, two, order, m);
    CHECK(order[0] == 0 && order[1] == 1, "two items");
    CHECK_NEAR(m[0].height, 1, 0, 0, "NaN distance as 1");
    double same[25];
    for (int i = 0; i < 25; i++)
        same[i] = 0.5;
    plot_cluster(5, same, order, NULL); /* every distance tied: index order */
    static const int want[5] = {0, 1, 2, 3, 4};
    check_order(order, want, 5, "all tied");
}

/* ------------------------------------------------------------ 2. a store */

enum { T = 9, D = 64 };

/* Cluster c's block of rows and columns: A rows 0-31, cols 0-31; B rows
 * 48-63, cols 32-63; C rows 16-47, cols 0-31 (half of A's block). */
static void block(int c, int *r0, int *r1, int *c0, int *c1)
{
    static const int b[3][4] = {{0, 32, 0, 32}, {48, 64, 32, 64}, {16, 48, 0, 32}};
    *r0 = b[c][0], *r1 = b[c][1], *c0 = b[c][2], *c1 = b[c][3];
}

static int overlap(int a0, int a1, int b0, int b1)
{
    int lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* |block_a AND block_b| in entries. */
static double common(int a, int b)
{
    int ar0, ar1, ac0, ac1, br0, br1, bc0, bc1;
    block(a, &ar0, &ar1, &ac0, &ac1);
    block(b, &br0, &br1, &bc0, &bc1);
    return (double)overlap(ar0, ar1, br0, br1) * overlap(ac0, ac1, bc0, bc1);
}

static int write_store(const char *path)
{
    char *tn[T], *mn[1] = {"layers.0.attn.q"};
    int64_t d[1] = {D};
    int32_t rank[1] = {1};
    double scale[1] = {2};
    for (int t = 0; t < T; t++) {
        tn[t] = malloc(32);
        snprintf(tn[t], 32, "task-%c%d", "ABC"[t % 3], t);
    }
    cl_store_spec spec = {
        .meta = {.method = "imported", .rank = 1, .alpha = 2, .scaling = 2,
                 .scaling_rule = "alpha/r", .penalty_form = "none", .base_model = "test",
                 .created_by = "test_cluster"},
        .n_tasks = T, .task_names = (const char *const *)tn, .n_modules = 1,
        .module_names = (const char *const *)mn, .d_out = d, .d_in = d, .rank = rank};
    cl_store *s;
    cl_error err;
    int rc = cl_store_create(path, &spec, &s, &err);
    for (int t = 0; !rc && t < T; t++) {
        float A[D] = {0}, B[D] = {0};
        int r0, r1, c0, c1;
        block(t % 3, &r0, &r1, &c0, &c1);
        for (int i = r0; i < r1; i++)
            B[i] = 1;
        for (int j = c0; j < c1; j++)
            A[j] = 1;
        const float *pa[1] = {A}, *pb[1] = {B};
        cl_snapshot_row sr = {.task = t, .step = t + 1, .loss = NAN, .loss_task = NAN,
                              .wall_time = NAN, .kind = CL_SNAP_END_OF_TASK};
        rc = cl_store_append(s, &sr, pa, pb, rank, scale, NULL, 0, &err);
    }
    if (!rc)
        rc = cl_store_close(s, &err);
    if (rc)
        fprintf(stderr, "test_cluster: %s\n", err.msg);
    for (int t = 0; t < T; t++)
        free(tn[t]);
    return rc;
}

/* A small CSV reader (the tools' fields hold no commas or quotes here). */
typedef struct table {
    int ncols, nrows;
    char *cols[64];
    char **cells;
} table;

static int read_csv(const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    int cap = 0;
    for (int first = 1; fgets(line, sizeof line, f); first = 0) {
        line[strcspn(line, "\r\n")] = 0;
        char *fields[64];
        int n = 0;
        for (char *p = line;; ) {
            char *c = strchr(p, ',');
            if (n < 64)
                fields[n++] = p;
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        if (first) {
            t->ncols = n;
            for (int i = 0; i < n; i++)
                t->cols[i] = strdup(fields[i]);
            continue;
        }
        if (t->nrows == cap)
            t->cells = realloc(t->cells, (size_t)(cap = cap ? 2 * cap : 256) * 64 * sizeof(char *));
        for (int i = 0; i < t->ncols; i++)
            t->cells[(size_t)t->nrows * 64 + (size_t)i] = strdup(i < n ? fields[i] : "");
        t->nrows++;
    }
    fclose(f);
    return 0;
}

static void free_csv(table *t)
{
    for (int r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++)
            free(t->cells[(size_t)r * 64 + (size_t)i]);
    for (int i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cells);
}

static const char *cell(const table *t, int r, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i], name))
            return t->cells[(size_t)r * 64 + (size_t)i];
    return "";
}

static double num(const table *t, int r, const char *name)
{
    const char *s = cell(t, r, name);
    return s[0] ? strtod(s, NULL) : NAN;
}

static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/%s >%s/out.txt 2>%s/err.txt", bindir, args, work, work);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The heat map of the store under ORDER (NULL: the default), checked
 * against the closed form: WANT is the expected display order. */
static void check_figure(const char *store, const char *order, const int *want, int dendro,
                         int image)
{
    char args[2048], csv[1024];
    const char *name = order ? order : "auto";
    snprintf(args, sizeof args,
             "collide-plot collision-map --threshold abs:0.5 --pair 0,1 %s%s %s -o %s --name %s "
             "--force --quiet%s",
             order ? "--order " : "", order ? order : "", store, work, name,
             image ? "" : " --data-only");
    int st = run(args);
    CHECK(st == 0, "%s: exit %d", args, st);
    snprintf(csv, sizeof csv, "%s/%s.csv", work, name);
    table t;
    CHECK(read_csv(csv, &t) == 0, "%s: no CSV", csv);
    int cells = 0, merges = 0, wrong = 0, order_seen[T];
    for (int i = 0; i < T; i++)
        order_seen[i] = -1;
    double heights[T];
    for (int r = 0; r < t.nrows; r++) {
        const char *part = cell(&t, r, "part");
        if (!strcmp(part, "matrix")) {
            int ti = (int)num(&t, r, "task_i"), tj = (int)num(&t, r, "task_j");
            int pi = (int)num(&t, r, "pos_i"), pj = (int)num(&t, r, "pos_j");
            cells++;
            if (pi == pj)
                order_seen[pi] = ti;
            wrong += ti < 0 || ti >= T || tj < 0 || tj >= T || pi < 0 || pi >= T || pj < 0 || pj >= T;
            if (wrong)
                continue;
            wrong += want[pi] != ti || want[pj] != tj;
            double c = common(ti % 3, tj % 3);
            double ai = common(ti % 3, ti % 3), aj = common(tj % 3, tj % 3);
            CHECK_NEAR(num(&t, r, "collision_rate"), c / (D * D), 1e-15, 0, "collision rate");
            if (ti != tj)
                CHECK_NEAR(num(&t, r, "jaccard"), c / (ai + aj - c), 1e-15, 0, "Jaccard");
            CHECK(!strcmp(cell(&t, r, "order"), dendro ? "cluster" : "training"), "order column");
        } else if (!strcmp(part, "merge")) {
            if (merges < T)
                heights[merges] = num(&t, r, "height");
            merges++;
        }
    }
    CHECK(cells == T * T, "%s: %d cells, expected %d", name, cells, T * T);
    CHECK(wrong == 0, "%s: %d cells out of place", name, wrong);
    check_order(order_seen, want, T, name);
    CHECK(merges == (dendro ? T - 1 : 0), "%s: %d merges", name, merges);
    if (dendro && merges == T - 1) {
        /* within clusters 0; A with C at 1 - J(A,C) = 1 - 512/1536; the
         * rest at the mean of 1 - J over every pair (B is disjoint: 1) */
        for (int k = 0; k < 6; k++)
            CHECK_NEAR(heights[k], 0, 0, 0, "within a cluster");
        CHECK_NEAR(heights[6], 1 - 512.0 / 1536, 1e-15, 0, "A with C");
        CHECK_NEAR(heights[7], 1, 1e-15, 0, "then B");
    }
    free_csv(&t);
    if (image) {
        char png[1024];
        struct stat sb;
        snprintf(png, sizeof png, "%s/%s.png", work, name);
        CHECK(stat(png, &sb) == 0 && sb.st_size > 8192, "%s: no image", png);
    }
}

static int have_gnuplot(void)
{
    return system("gnuplot --version >/dev/null 2>&1") == 0;
}

int main(int argc, char **argv)
{
    check_begin("test_cluster");
    if (argc != 3) {
        fprintf(stderr, "usage: test_cluster BINDIR WORKDIR\n");
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", work);
    if (system(cmd))
        return 1;
    test_blocks();
    test_average_not_single();
    test_small_cases();

    char store[1024];
    snprintf(store, sizeof store, "%s/blocks.h5", work);
    remove(store);
    CHECK(write_store(store) == 0, "writing %s", store);
    static const int cluster[T] = {0, 3, 6, 2, 5, 8, 1, 4, 7};
    static const int training[T] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    int img = have_gnuplot();
    check_figure(store, NULL, cluster, 1, img); /* imported: auto clusters */
    check_figure(store, "cluster", cluster, 1, 0);
    check_figure(store, "training", training, 0, img);
    /* --order belongs to the collision map */
    snprintf(cmd, sizeof cmd, "collide-plot nuclear-norm --order cluster %s -o %s", store, work);
    CHECK(run(cmd) == 2, "--order on another figure: exit 2");
    snprintf(cmd, sizeof cmd, "collide-plot collision-map --order tree %s -o %s", store, work);
    CHECK(run(cmd) == 2, "--order tree: exit 2");
    return check_done();
}
