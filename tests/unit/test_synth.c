/*
 * test_synth.c -- collide-synth's collision formula against what
 * collide-collision measures on its stores (issue 15, item 17).
 *
 * usage: test_synth BINDIR
 *
 * The generator (libmetrics/metrics/synth.c) gives task t rows R_t and columns C_t:
 * a shared pool of s = round(overlap k) plus k - s drawn without replacement
 * from the other d - s, per task, with k = max(1, round(sqrt(density) d)).
 * For two tasks the shared rows are s + X, X ~ Hypergeometric(N = d - s,
 * K = k - s, K draws), independently for rows and columns, so one module's
 * collision rate at the supports (--threshold abs:0) is
 *
 *   CR = (s_r + X_r)(s_c + X_c) / (d_out d_in),
 *   E[CR] = (s_r + K_r^2/N_r)(s_c + K_c^2/N_c) / n,
 *   Var[CR] = (E[Y_r^2] E[Y_c^2] - E[Y_r]^2 E[Y_c]^2) / n^2,  Y = s + X,
 *   Var[X] = K (K/N) (1 - K/N) (N - K)/(N - 1).
 *
 * Tolerance: modules draw independently, and two pairs (i,j), (i,k) are
 * uncorrelated (given R_i, the overlaps with R_j and R_k are independent and
 * their mean does not depend on R_i), so a pair's collision_rate_mean over M
 * modules has variance Var[CR]/M and the ACR over P pairs Var[CR]/(M P). The
 * test allows 5 standard deviations per pair and 4 for the ACR (plus 1e-12
 * for rounding): a correct generator fails that with probability below
 * about 1e-4 per setting even for the skewed small-count cases, and since
 * every draw is seeded the outcome is fixed. Where the variance is 0
 * (density 1, overlap 1) the rate must be exact.
 *
 * Also checked: each task's density is exactly k_r k_c / n and its support
 * is a k_r x k_c block holding the shared pool (read from the store), the
 * expected rate collide-synth prints is this formula, the same seed gives the
 * same store, and another seed other supports and other collision counts.
 */
#include "check.h"
#include "collide.h"

#include <jansson.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

static char bindir[1024], tmp[64];

__attribute__((format(printf, 3, 4))) static void fmtbuf(char *buf, size_t size, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < size, "a path or command longer than %zu bytes", size);
}

/* ------------------------------------------------------------ the formula */

typedef struct side {
    int64_t d, k, s, K, N;
    double ey, ey2; /* E[s + X], E[(s + X)^2] */
} side;

static side side_of(int64_t d, double density, double overlap)
{
    side o = {.d = d};
    o.k = (int64_t)llround(sqrt(density) * (double)d);
    o.k = o.k < 1 ? 1 : o.k;
    o.s = (int64_t)llround(overlap * (double)o.k);
    o.K = o.k - o.s;
    o.N = d - o.s;
    double ex = o.N > 0 ? (double)o.K * o.K / o.N : 0;
    double vx = o.N > 1 ? (double)o.K * ((double)o.K / o.N) * (1 - (double)o.K / o.N) *
                              (double)(o.N - o.K) / (double)(o.N - 1)
                        : 0;
    o.ey = o.s + ex;
    o.ey2 = vx + o.ey * o.ey;
    return o;
}

/* ------------------------------------------------------------ the tools */

static int sh(const char *cmd)
{
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* stdout of a command, or NULL */
static char *capture(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int st = pclose(f);
    if (buf)
        buf[n] = 0;
    if (st != 0) {
        CHECK(0, "'%s' exited with status %d", cmd, st);
        free(buf);
        return NULL;
    }
    return buf;
}

/* The value of CSV column COL in each data row (up to max), by header name. */
static int csv_column(const char *csv, const char *col, double *out, int max)
{
    char *copy = strdup(csv), *save = NULL;
    int idx = -1, n = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int c = 0;
        char *fs = NULL;
        if (idx < 0) {
            for (char *f = strtok_r(line, ",", &fs); f; f = strtok_r(NULL, ",", &fs), c++)
                if (!strcmp(f, col))
                    idx = c;
            if (idx < 0)
                break;
            continue;
        }
        for (char *f = strtok_r(line, ",", &fs); f; f = strtok_r(NULL, ",", &fs), c++)
            if (c == idx && n < max)
                out[n++] = strtod(f, NULL);
    }
    free(copy);
    CHECK(idx >= 0, "CSV without column %s", col);
    return n;
}

typedef struct setting {
    int tasks, modules;
    int64_t d_out, d_in;
    double density, overlap;
    unsigned seed;
} setting;

static void synth(const setting *s, const char *path, double *printed)
{
    char cmd[2048];
    fmtbuf(cmd, sizeof cmd,
           "'%s/collide-synth' -o '%s' --format json --tasks %d --modules %d --shape %lldx%lld "
           "--rank 4 --density %.17g --overlap %.17g --snapshots-per-task 0 --seed %u",
           bindir, path, s->tasks, s->modules, (long long)s->d_out, (long long)s->d_in, s->density,
           s->overlap, s->seed);
    char *o = capture(cmd);
    json_t *j = o ? json_loads(o, 0, NULL) : NULL;
    CHECK(j, "collide-synth --format json: %s", o ? o : "(failed)");
    json_t *row = json_array_get(json_object_get(json_object_get(j, "tables"), "store"), 0);
    *printed = row ? json_number_value(json_object_get(row, "expected_collision_rate")) : NAN;
    json_decref(j);
    free(o);
}

static char *collision_csv(const char *path, const char *table)
{
    char cmd[2048];
    fmtbuf(cmd, sizeof cmd,
           "'%s/collide-collision' --quiet --threshold abs:0 --format csv --table %s '%s'", bindir,
           table, path);
    return capture(cmd);
}

/* ------------------------------------------------------------ supports */

/* Row and column supports of task t (snapshot t) on module m. */
static int supports(cl_store *st, int m, int t, unsigned char *rows, unsigned char *cols,
                    int64_t *nr, int64_t *nc)
{
    cl_lowrank u;
    cl_error err;
    if (cl_store_read_adapter(st, m, t, &u, &err)) {
        CHECK(0, "%s", err.msg);
        return -1;
    }
    *nr = *nc = 0;
    for (int64_t i = 0; i < u.d_out; i++) {
        rows[i] = 0;
        for (int q = 0; q < u.k; q++)
            rows[i] |= u.B[i * u.k + q] != 0;
        *nr += rows[i];
    }
    for (int64_t j = 0; j < u.d_in; j++) {
        cols[j] = 0;
        for (int q = 0; q < u.k; q++)
            cols[j] |= u.A[(int64_t)q * u.d_in + j] != 0;
        *nc += cols[j];
    }
    cl_lowrank_free(&u);
    return 0;
}

/* Every task's support is a k_r x k_c block, and all tasks share at least
 * the pool. */
static void check_supports(const setting *s, const char *path)
{
    cl_store *st;
    cl_error err;
    if (cl_store_open(path, &st, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    side r = side_of(s->d_out, s->density, s->overlap), c = side_of(s->d_in, s->density, s->overlap);
    unsigned char *rows = malloc((size_t)s->d_out), *cols = malloc((size_t)s->d_in);
    int *all_r = malloc((size_t)s->d_out * sizeof *all_r), *all_c = malloc((size_t)s->d_in * sizeof *all_c);
    for (int m = 0; m < s->modules; m++) {
        memset(all_r, 0, (size_t)s->d_out * sizeof *all_r);
        memset(all_c, 0, (size_t)s->d_in * sizeof *all_c);
        for (int t = 0; t < s->tasks; t++) {
            int64_t nr, nc;
            if (supports(st, m, t, rows, cols, &nr, &nc))
                break;
            CHECK(nr == r.k && nc == c.k, "module %d task %d: support %lld x %lld, expected %lld x %lld",
                  m, t, (long long)nr, (long long)nc, (long long)r.k, (long long)c.k);
            for (int64_t i = 0; i < s->d_out; i++)
                all_r[i] += rows[i];
            for (int64_t j = 0; j < s->d_in; j++)
                all_c[j] += cols[j];
        }
        int64_t in_all_r = 0, in_all_c = 0;
        for (int64_t i = 0; i < s->d_out; i++)
            in_all_r += all_r[i] == s->tasks;
        for (int64_t j = 0; j < s->d_in; j++)
            in_all_c += all_c[j] == s->tasks;
        CHECK(in_all_r >= r.s && in_all_c >= c.s,
              "module %d: %lld rows and %lld columns in every task, the pool is %lld x %lld", m,
              (long long)in_all_r, (long long)in_all_c, (long long)r.s, (long long)c.s);
    }
    free(rows), free(cols), free(all_r), free(all_c);
    cl_store_close(st, NULL);
}

/* ------------------------------------------------------------ the checks */

static double worst_z;

static void check_setting(const setting *s, int idx)
{
    char path[600];
    fmtbuf(path, sizeof path, "%s/s%d.h5", tmp, idx);
    double printed;
    synth(s, path, &printed);
    side r = side_of(s->d_out, s->density, s->overlap), c = side_of(s->d_in, s->density, s->overlap);
    double n = (double)s->d_out * (double)s->d_in;
    double e = r.ey * c.ey / n;
    double var = fmax(0, r.ey2 * c.ey2 - r.ey * r.ey * c.ey * c.ey) / (n * n);
    int P = s->tasks * (s->tasks - 1) / 2;
    double sd_pair = sqrt(var / s->modules), sd_acr = sqrt(var / (s->modules * (double)P));
    CHECK_NEAR(printed, e, 1e-12, 0, "the expected collision rate collide-synth prints");

    char *pairs = collision_csv(path, "pairs"), *summary = collision_csv(path, "summary");
    char *tasks = collision_csv(path, "tasks");
    if (!pairs || !summary || !tasks) {
        free(pairs), free(summary), free(tasks);
        return;
    }
    double cr[1000], acr[2], dens[100];
    int np = csv_column(pairs, "collision_rate_mean", cr, 1000);
    CHECK(np == P, "%d pair rows for %d pairs", np, P);
    for (int i = 0; i < np; i++) {
        CHECK(fabs(cr[i] - e) <= 5 * sd_pair + 1e-12,
              "density %g overlap %g seed %u: pair %d collides on %.6g, formula %.6g +- %.3g", s->density,
              s->overlap, s->seed, i, cr[i], e, sd_pair);
        if (sd_pair > 0)
            worst_z = fmax(worst_z, fabs(cr[i] - e) / sd_pair);
    }
    CHECK(csv_column(summary, "acr_mean", acr, 2) == 1, "one summary row");
    CHECK(fabs(acr[0] - e) <= 4 * sd_acr + 1e-12,
          "density %g overlap %g seed %u: ACR %.6g, formula %.6g +- %.3g", s->density, s->overlap,
          s->seed, acr[0], e, sd_acr);
    int nt = csv_column(tasks, "density_mean", dens, 100);
    CHECK(nt == s->tasks, "%d task rows", nt);
    for (int t = 0; t < nt; t++)
        CHECK_NEAR(dens[t], (double)r.k * c.k / n, 1e-14, 0, "a task's density at abs:0");
    printf("%2d tasks %2d modules %lldx%lld density %-5g overlap %-4g seed %u: ACR %.6f, formula "
           "%.6f (sd %.2g, z %+.2f); old --help formula %.6f\n",
           s->tasks, s->modules, (long long)s->d_out, (long long)s->d_in, s->density, s->overlap,
           s->seed, acr[0], e, sd_acr, sd_acr > 0 ? (acr[0] - e) / sd_acr : 0.0,
           s->density * (s->overlap * s->overlap + (1 - s->overlap * s->overlap) * s->density));
    check_supports(s, path);
    free(pairs), free(summary), free(tasks);
}

/* The same seed: the same store; another seed: other supports and other
 * collision counts. */
static void check_seeds(void)
{
    setting s = {4, 4, 128, 96, 0.2, 0.3, 11};
    char a[600], b[600], c[600];
    double printed;
    fmtbuf(a, sizeof a, "%s/seed-a.h5", tmp);
    fmtbuf(b, sizeof b, "%s/seed-b.h5", tmp);
    fmtbuf(c, sizeof c, "%s/seed-c.h5", tmp);
    synth(&s, a, &printed);
    synth(&s, b, &printed);
    s.seed = 12;
    synth(&s, c, &printed);
    char *ca = collision_csv(a, "pairs"), *cb = collision_csv(b, "pairs"), *cc = collision_csv(c, "pairs");
    double xa[10], xb[10], xc[10];
    int na = ca ? csv_column(ca, "both", xa, 10) : 0, nb = cb ? csv_column(cb, "both", xb, 10) : 0;
    int nc = cc ? csv_column(cc, "both", xc, 10) : 0;
    CHECK(na == 6 && nb == 6 && nc == 6, "6 pairs each");
    int same_ab = na == nb, same_ac = na == nc;
    for (int i = 0; i < na && i < nb; i++)
        same_ab &= xa[i] == xb[i];
    for (int i = 0; i < na && i < nc; i++)
        same_ac &= xa[i] == xc[i];
    CHECK(same_ab, "the same seed gave other collision counts");
    CHECK(!same_ac, "seeds 11 and 12 gave the same collision counts in every pair");
    free(ca), free(cb), free(cc);

    /* the supports themselves, module by module */
    cl_store *sa, *sb, *sc;
    cl_error err;
    if (cl_store_open(a, &sa, &err) || cl_store_open(b, &sb, &err) || cl_store_open(c, &sc, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    unsigned char ra[128], ka[96], rb[128], kb[96], rc[128], kc[96];
    int diff_ab = 0, diff_ac = 0, cells = 0;
    for (int m = 0; m < s.modules; m++)
        for (int t = 0; t < s.tasks; t++) {
            int64_t x, y;
            if (supports(sa, m, t, ra, ka, &x, &y) || supports(sb, m, t, rb, kb, &x, &y) ||
                supports(sc, m, t, rc, kc, &x, &y))
                continue;
            cells++;
            diff_ab += memcmp(ra, rb, sizeof ra) || memcmp(ka, kb, sizeof ka);
            diff_ac += memcmp(ra, rc, sizeof ra) || memcmp(ka, kc, sizeof ka);
        }
    CHECK(cells == s.modules * s.tasks && diff_ab == 0, "the same seed: %d of %d supports differ",
          diff_ab, cells);
    CHECK(diff_ac == cells, "another seed: only %d of %d supports differ", diff_ac, cells);
    printf("seeds: the same seed gives the same %d supports; seeds 11 and 12 differ in %d of %d\n",
           cells, diff_ac, cells);
    cl_store_close(sa, NULL), cl_store_close(sb, NULL), cl_store_close(sc, NULL);
}

int main(int argc, char **argv)
{
    check_begin("test_synth");
    if (argc < 2) {
        fprintf(stderr, "usage: test_synth BINDIR\n");
        return 2;
    }
    fmtbuf(bindir, sizeof bindir, "%s", argv[1]);
    fmtbuf(tmp, sizeof tmp, "/tmp/collide-test-synth-XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    static const setting settings[] = {
        {4, 8, 256, 256, 0.1, 0.2, 1},   /* the issue's: --help promised 1.36% */
        {4, 8, 256, 256, 0.1, 0.2, 2},   /* another seed */
        {4, 8, 256, 256, 0.1, 0.0, 1},   /* independent supports: about density^2 */
        {5, 6, 96, 80, 0.25, 0.5, 3},    /* not square */
        {3, 4, 64, 64, 0.05, 0.3, 9},    /* small counts */
        {4, 16, 128, 128, 0.5, 0.0, 5},
        {3, 4, 64, 48, 1.0, 0.5, 2},     /* dense: every entry collides, exactly */
        {3, 4, 64, 48, 0.3, 1.0, 4},     /* one support: the rate is the density, exactly */
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        check_setting(&settings[i], (int)i);
    check_seeds();
    printf("largest |pair rate - formula| / its standard deviation: %.2f\n", worst_z);
    char cmd[200];
    fmtbuf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (sh(cmd) != 0)
        fprintf(stderr, "test_synth: could not remove %s\n", tmp);
    return check_done();
}
