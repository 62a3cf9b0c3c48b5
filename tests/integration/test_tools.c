/*
 * test_tools.c -- every tool run on a synthetic store, its JSON parsed back
 * and checked against values this test computes itself from the store's
 * factors the plain dense way (tests/dense_ref.h); CSV agrees with JSON;
 * usage errors exit 2 and input errors 1 with a message naming the file.
 *
 * usage: test_tools BINDIR
 */
#include "../check.h"
#include "../dense_ref.h"
#include "collide.h"

#include <jansson.h>
#include <lapacke.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char bindir[512], dir[256], store[300];

/* Run a command; capture stdout (and stderr into err). Returns exit status. */
static int run(const char *args, char **out, char **errout)
{
    char cmd[2048], ef[300];
    snprintf(ef, sizeof ef, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "%s/%s 2>%s", bindir, args, ef);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (errout) {
        FILE *f = fopen(ef, "r");
        char *e = calloc(1, 8192);
        if (f) {
            size_t r = fread(e, 1, 8191, f);
            e[r] = 0;
            fclose(f);
        }
        *errout = e;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static json_t *run_json(const char *args)
{
    char *out;
    int st = run(args, &out, NULL);
    CHECK(st == 0, "%s: exit %d", args, st);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    CHECK(j != NULL, "%s: JSON does not parse: %s", args, je.text);
    free(out);
    return j;
}

static json_t *table(json_t *j, const char *name)
{
    json_t *t = json_object_get(json_object_get(j, "tables"), name);
    CHECK(json_is_array(t), "table %s missing", name);
    return t;
}

static double num(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    if (json_is_null(v))
        return NAN;
    CHECK(json_is_number(v), "field %s is not a number", key);
    return json_number_value(v);
}

/* The store's updates at the task ends, read back, per module and task. */
enum { NT = 3, NM = 4 };
static cl_lowrank upd[NM][NT];

static void load_updates(void)
{
    cl_store *s;
    cl_error err;
    if (cl_store_open(store, &s, &err)) {
        CHECK(0, "%s", err.msg);
        exit(1);
    }
    for (int m = 0; m < NM; m++)
        for (int t = 0; t < NT; t++)
            CHECK(cl_store_read_adapter(s, m, cl_store_task_end(s, t), &upd[m][t], &err) == CL_OK,
                  "%s", err.msg);
    cl_store_close(s, NULL);
}

static void test_collision(void)
{
    char args[600];
    snprintf(args, sizeof args, "collide-collision --format json %s", store);
    json_t *j = run_json(args);
    json_t *pairs = table(j, "pairs");
    cl_threshold th;
    cl_error err;
    cl_threshold_parse(CL_THRESHOLD_DEFAULT, &th, &err);
    /* dense reference per module */
    double cr_sum[NT][NT] = {{0}};
    int64_t both[NT][NT] = {{0}}, entries = 0;
    for (int m = 0; m < NM; m++) {
        size_t N = (size_t)(upd[m][0].d_out * upd[m][0].d_in);
        unsigned char *mask[NT];
        for (int t = 0; t < NT; t++) {
            float *w = ref_form(&upd[m][t]);
            int inc;
            float tau = ref_tau(w, N, &th, &inc);
            mask[t] = ref_mask(w, N, tau, inc);
            free(w);
        }
        for (int a = 0; a < NT; a++)
            for (int b = 0; b < NT; b++) {
                int64_t c = 0;
                for (size_t e = 0; e < N; e++)
                    c += mask[a][e] & mask[b][e];
                both[a][b] += c;
                cr_sum[a][b] += (double)c / (double)N;
            }
        entries += (int64_t)N;
        for (int t = 0; t < NT; t++)
            free(mask[t]);
    }
    CHECK(json_array_size(pairs) == NT * (NT - 1) / 2, "pairs rows %zu", json_array_size(pairs));
    double acr = 0;
    size_t i;
    json_t *row;
    json_array_foreach(pairs, i, row) {
        int a = (int)num(row, "task_i"), b = (int)num(row, "task_j");
        CHECK(!strcmp(json_string_value(json_object_get(row, "threshold")), "energy:0.99"),
              "threshold stated");
        CHECK_NEAR(num(row, "collision_rate_mean"), cr_sum[a][b] / NM, 1e-12, 0, "CR mean");
        CHECK_NEAR(num(row, "collision_rate_pooled"), (double)both[a][b] / (double)entries, 1e-12, 0,
                   "CR pooled");
        CHECK(num(row, "both") == (double)both[a][b], "both count");
        double jac = (double)both[a][b] / (double)(both[a][a] + both[b][b] - both[a][b]);
        CHECK_NEAR(num(row, "jaccard_pooled"), jac, 1e-12, 0, "Jaccard pooled");
        acr += cr_sum[a][b] / NM;
    }
    json_t *sum = json_array_get(table(j, "summary"), 0);
    CHECK_NEAR(num(sum, "acr_mean"), acr / 3, 1e-12, 0, "ACR");
    CHECK(num(sum, "modules") == NM && num(sum, "tasks") == NT, "summary counts");
    json_decref(j);

    /* CSV holds the same rows as JSON */
    char *out;
    snprintf(args, sizeof args, "collide-collision --format csv %s", store);
    CHECK(run(args, &out, NULL) == 0, "csv run");
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 1 + NT * (NT - 1) / 2, "csv lines %d", lines);
    CHECK(!strncmp(out, "store,snapshot,threshold,task_i,task_j", 38), "csv header: %.60s", out);
    free(out);

    /* --snapshot all: one summary per snapshot; --sweep adds thresholds */
    snprintf(args, sizeof args, "collide-collision --format json --snapshot all --sweep %s", store);
    j = run_json(args);
    size_t rows = json_array_size(table(j, "summary"));
    CHECK(rows == 9 * 6, "snapshot all x sweep: %zu summary rows, expected 54", rows);
    json_decref(j);
    /* --per-module: per-module rows match the dense reference too */
    snprintf(args, sizeof args, "collide-collision --format json --per-module --module '*.v' %s",
             store);
    j = run_json(args);
    json_t *mp = table(j, "module_pairs");
    CHECK(json_array_size(mp) == 2 * 3, "module_pairs rows %zu", json_array_size(mp));
    json_decref(j);
}

static void test_ortho_subspace_sparsity(void)
{
    char args[600];
    snprintf(args, sizeof args, "collide-ortho --format json %s", store);
    json_t *j = run_json(args);
    size_t i;
    json_t *row;
    json_array_foreach(table(j, "pairs"), i, row) {
        int a = (int)num(row, "task_i"), b = (int)num(row, "task_j");
        double oo = 0, inner = 0, na = 0, nb = 0;
        for (int m = 0; m < NM; m++) {
            const cl_lowrank *x = &upd[m][a], *y = &upd[m][b];
            for (int p = 0; p < x->k; p++)
                for (int q = 0; q < y->k; q++) {
                    double d = 0;
                    for (int c = 0; c < x->d_in; c++)
                        d += (double)x->A[p * x->d_in + c] * y->A[q * y->d_in + c];
                    oo += d * d;
                }
            double *wa = ref_dense_d(x), *wb = ref_dense_d(y);
            for (int e = 0; e < x->d_out * x->d_in; e++) {
                inner += wa[e] * wb[e];
                na += wa[e] * wa[e];
                nb += wb[e] * wb[e];
            }
            free(wa), free(wb);
        }
        CHECK_NEAR(num(row, "oo_sum"), oo, 1e-9, 0, "OO summed over modules");
        CHECK_NEAR(num(row, "inner_sum"), inner, 1e-6, 1e-9 * sqrt(na * nb), "inner");
        CHECK_NEAR(num(row, "cosine_pooled"), inner / sqrt(na * nb), 1e-6, 1e-9, "cosine pooled");
    }
    json_decref(j);

    snprintf(args, sizeof args, "collide-subspace --format json %s", store);
    j = run_json(args);
    json_array_foreach(table(j, "tasks"), i, row) {
        int t = (int)num(row, "task");
        double nuc = 0, cnt = 0;
        for (int m = 0; m < NM; m++) {
            const cl_lowrank *x = t >= 0 ? &upd[m][t] : NULL;
            int64_t r = upd[m][0].d_out, c = upd[m][0].d_in;
            double *w = calloc((size_t)(r * c), sizeof *w);
            for (int q = 0; q < NT; q++) {
                if (x && q != t)
                    continue;
                double *wq = ref_dense_d(&upd[m][q]);
                for (int e = 0; e < r * c; e++)
                    w[e] += wq[e];
                free(wq);
            }
            double s[512];
            LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (int)r, (int)c, w, (int)c, s, NULL, (int)r, NULL,
                           (int)c);
            int mn = (int)(r < c ? r : c);
            for (int e = 0; e < mn; e++) {
                nuc += s[e];
                cnt += s[e] > 0.01 * s[0];
            }
            free(w);
        }
        CHECK_NEAR(num(row, "nuclear_mean"), nuc / NM, 1e-5, 0, "nuclear norm mean");
        CHECK_NEAR(num(row, "count_mean"), cnt / NM, 1e-12, 0, "subspace count mean");
    }
    CHECK(json_array_size(table(j, "tasks")) == NT + 1, "tasks + accumulated");
    json_decref(j);

    snprintf(args, sizeof args, "collide-sparsity --format json --threshold energy:0.9 %s", store);
    j = run_json(args);
    cl_threshold th;
    cl_error err;
    cl_threshold_parse("energy:0.9", &th, &err);
    json_array_foreach(table(j, "tasks"), i, row) {
        int t = (int)num(row, "task");
        double l1 = 0, sq = 0, dens = 0;
        for (int m = 0; m < NM; m++) {
            size_t N = (size_t)(upd[m][t].d_out * upd[m][t].d_in);
            float *w = ref_form(&upd[m][t]);
            int inc;
            float tau = ref_tau(w, N, &th, &inc);
            unsigned char *mk = ref_mask(w, N, tau, inc);
            int64_t a = 0;
            for (size_t e = 0; e < N; e++) {
                l1 += fabsf(w[e]);
                sq += (double)w[e] * w[e];
                a += mk[e];
            }
            dens += (double)a / (double)N;
            free(w), free(mk);
        }
        CHECK_NEAR(num(row, "l1"), l1, 1e-9, 0, "l1");
        CHECK_NEAR(num(row, "l2"), sqrt(sq), 1e-9, 0, "l2");
        CHECK_NEAR(num(row, "density_mean"), dens / NM, 1e-12, 0, "density");
    }
    json_decref(j);
}

static void test_forget_info_report(void)
{
    cl_store *s;
    cl_error err;
    cl_store_open(store, &s, &err);
    const double *R = cl_store_accuracy(s, CL_EVAL_GENERATE);
    double aa = (R[6] + R[7] + R[8]) / 3, bwt = ((R[6] - R[0]) + (R[7] - R[4])) / 2;
    double fm = ((fmax(R[0], R[3]) - R[6]) + (R[4] - R[7])) / 2;
    cl_store_close(s, NULL);
    char args[600];
    snprintf(args, sizeof args, "collide-forget --format json %s", store);
    json_t *j = run_json(args);
    json_t *sum = json_array_get(table(j, "summary"), 0);
    CHECK_NEAR(num(sum, "aa"), aa, 1e-12, 0, "AA");
    CHECK_NEAR(num(sum, "bwt"), bwt, 1e-12, 0, "BWT");
    CHECK_NEAR(num(sum, "forgetting_max"), fm, 1e-12, 0, "forgetting");
    CHECK(json_array_size(table(j, "matrix")) == 9, "matrix rows");
    json_decref(j);

    snprintf(args, sizeof args, "collide-info --format json %s", store);
    j = run_json(args);
    json_t *st = json_array_get(table(j, "store"), 0);
    CHECK(num(st, "tasks") == NT && num(st, "modules") == NM && num(st, "snapshots") == 9 &&
              num(st, "rank") == 4,
          "info counts");
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(table(j, "modules"), 1), "name")),
                  "layers.0.attn.v"),
          "module name");
    CHECK(json_array_size(table(j, "snapshots")) == 9, "snapshot rows");
    json_decref(j);

    snprintf(args, sizeof args, "collide-report --format json %s", store);
    j = run_json(args);
    const char *need[] = {"info.store", "collision.pairs", "collision.summary", "ortho.pairs",
                          "subspace.tasks", "sparsity.tasks", "forget.summary"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        table(j, need[i]);
    CHECK_NEAR(num(json_array_get(table(j, "forget.summary"), 0), "aa"), aa, 1e-12, 0, "report AA");
    json_decref(j);

    /* text output names its threshold and definitions */
    char *out;
    snprintf(args, sizeof args, "collide-report %s", store);
    CHECK(run(args, &out, NULL) == 0, "report text");
    CHECK_CONTAINS(out, "threshold energy:0.99");
    CHECK_CONTAINS(out, "Chaudhry");
    CHECK_CONTAINS(out, "ACR");
    free(out);
}

static void test_exit_codes(void)
{
    char args[600], *out, *e;
    struct {
        const char *args;
        int status;
        const char *msg;
    } cases[] = {
        {"collide-collision --threshold energy:2 S", 2, "must be in (0, 1]"},
        {"collide-collision --format xml S", 2, "expected text, csv or json"},
        {"collide-collision", 2, "no STORE given"},
        {"collide-collision --bogus S", 2, "unknown option"},
        {"collide-forget --threshold energy:0.9 S", 2, "does not apply"},
        {"collide-subspace --rank-tol 2 S", 2, "must be a number in [0, 1)"},
        {"collide-collision --snapshot 99 S", 1, "--snapshot 99"},
        {"collide-collision --module 'nomatch*' S", 1, "matches none"},
        {"collide-info /nonexistent/store.h5", 1, "/nonexistent/store.h5: No such file"},
        {"collide-collision --format csv --table nope S", 2, "no such table"},
        {"collide-synth --tasks 0 -o X", 2, "--tasks 0 out of range"},
        {"collide-synth --shape 12 -o X", 2, "expected DOUTxDIN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* S stands for the store, X for a scratch output */
        char a[600] = "";
        for (const char *c = cases[i].args; *c; c++) {
            size_t l = strlen(a);
            if (*c == 'S' && (c[1] == 0 || c[1] == ' ') && c[-1] == ' ')
                snprintf(a + l, sizeof a - l, "%s", store);
            else if (*c == 'X' && c[1] == 0 && c[-1] == ' ')
                snprintf(a + l, sizeof a - l, "%s/x.h5", dir);
            else
                a[l] = *c, a[l + 1] = 0;
        }
        snprintf(args, sizeof args, "%s", a);
        int st = run(args, &out, &e);
        CHECK(st == cases[i].status, "%s: exit %d, expected %d (%s)", args, st, cases[i].status, e);
        CHECK_CONTAINS(e, cases[i].msg);
        free(out);
        free(e);
    }
    /* a corrupt store: exit 1, message with the path; help exits 0 */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    FILE *f = fopen(bad, "w");
    fputs("junk", f);
    fclose(f);
    snprintf(args, sizeof args, "collide-report %s", bad);
    CHECK(run(args, &out, &e) == 1, "corrupt store exit");
    CHECK_CONTAINS(e, bad);
    free(out), free(e);
    const char *tools[] = {"collide-info", "collide-collision", "collide-subspace", "collide-ortho",
                           "collide-sparsity", "collide-forget", "collide-report", "collide-synth"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        snprintf(args, sizeof args, "%s --help", tools[i]);
        CHECK(run(args, &out, NULL) == 0, "%s --help", tools[i]);
        CHECK_CONTAINS(out, "usage:");
        free(out);
    }
    /* synth never leaves a half-written output: an existing file survives a failure */
    char keep[300];
    snprintf(keep, sizeof keep, "%s/keep.h5", dir);
    f = fopen(keep, "w");
    fputs("precious", f);
    fclose(f);
    snprintf(args, sizeof args, "collide-synth --shape 100000x4 -o %s", keep);
    CHECK(run(args, &out, &e) == 2, "synth out of range");
    free(out), free(e);
    f = fopen(keep, "r");
    char got[16] = "";
    CHECK(fgets(got, sizeof got, f) && !strcmp(got, "precious"), "output kept: %s", got);
    fclose(f);
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Issue 15: what a newcomer tripped over in the store-reading tools. */
static void test_newcomer(void)
{
    char args[1200], *out, *e;
    /* --per-module prints the per-module table in text, in every family and
     * in collide-report (before: silently nothing, or refused) */
    const char *fam[] = {"collide-collision", "collide-ortho", "collide-subspace",
                         "collide-sparsity", "collide-report"};
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        snprintf(args, sizeof args, "%s --per-module %s", fam[i], store);
        CHECK(run(args, &out, &e) == 0, "%s: %s", args, e);
        CHECK_CONTAINS(out, "per module");
        /* every module appears in the table (pairs: 3 per module) */
        CHECK(count_of(out, "layers.1.attn.v ") >= 3, "%s: module rows missing", args);
        snprintf(args, sizeof args, "%s %s", fam[i], store);
        free(out), free(e);
        CHECK(run(args, &out, &e) == 0, "%s", args);
        CHECK(!strstr(out, "per module"), "%s prints the per-module table unasked", args);
        free(out), free(e);
    }
    /* Jaccard and lift per task pair in text, the JSON's values */
    snprintf(args, sizeof args, "collide-collision --format json %s", store);
    json_t *j = run_json(args);
    json_t *p01 = json_array_get(table(j, "pairs"), 0);
    char jac[32], lift[32];
    snprintf(jac, sizeof jac, " %.3f", num(p01, "jaccard_mean"));
    snprintf(lift, sizeof lift, " %.3f", num(p01, "lift_mean"));
    json_decref(j);
    snprintf(args, sizeof args, "collide-collision %s", store);
    CHECK(run(args, &out, &e) == 0, "%s", args);
    const char *jm = strstr(out, "Jaccard index"), *lm = strstr(out, "lift CR_ij");
    CHECK(jm && lm, "collision text lacks the Jaccard or lift matrix");
    if (jm && lm) {
        CHECK(strstr(jm, jac) && strstr(jm, jac) < lm, "Jaccard %s not in its matrix", jac);
        CHECK(strstr(lm, lift) != NULL, "lift %s not in its matrix", lift);
    }
    free(out), free(e);
    /* one parser: --sweep LIST and --sweep=LIST agree; a repeated option is
     * refused; every tool has --version */
    char *a1, *a2;
    snprintf(args, sizeof args, "collide-collision --format csv --table summary --sweep 0.5,0.9 %s",
             store);
    CHECK(run(args, &a1, &e) == 0, "%s: %s", args, e);
    free(e);
    snprintf(args, sizeof args, "collide-collision --format csv --table summary --sweep=0.5,0.9 %s",
             store);
    CHECK(run(args, &a2, &e) == 0, "%s: %s", args, e);
    free(e);
    CHECK(!strcmp(a1, a2) && count_of(a1, "\n") == 4, "--sweep forms differ:\n%s\n%s", a1, a2);
    free(a1), free(a2);
    snprintf(args, sizeof args, "collide-collision --module 'layers.0.*' --module 'layers.1.*' %s",
             store);
    CHECK(run(args, &out, &e) == 2, "--module twice: not refused");
    CHECK_CONTAINS(e, "--module given twice");
    free(out), free(e);
    const char *all[] = {"collide-info",   "collide-collision", "collide-ortho",
                         "collide-subspace", "collide-sparsity", "collide-forget",
                         "collide-report", "collide-synth",     "collide-import",
                         "collide-export", "collide-plot",      "collide-train",
                         "collide-pretrain", "collide-reproduce"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        snprintf(args, sizeof args, "%s --version", all[i]);
        CHECK(run(args, &out, &e) == 0, "%s: exit not 0 (%s)", args, e);
        CHECK(!strncmp(out, all[i], strlen(all[i])) && strstr(out, cl_version()),
              "%s printed: %s", args, out);
        free(out), free(e);
    }
    /* synth and export: the overwrite policy, CSV of what was written */
    char syn[300], exd[300];
    snprintf(syn, sizeof syn, "%s/synth-again.h5", dir);
    snprintf(args, sizeof args, "collide-synth -o %s --tasks 2 --modules 2 --shape 8x8 --rank 2", syn);
    CHECK(run(args, NULL, NULL) == 0, "synth");
    struct stat s0, s1;
    stat(syn, &s0);
    CHECK(run(args, &out, &e) == 1 && strstr(e, "already exists"), "synth over a store: not refused");
    stat(syn, &s1);
    CHECK(s0.st_ino == s1.st_ino && s0.st_mtime == s1.st_mtime, "refused synth changed the store");
    free(out), free(e);
    snprintf(args, sizeof args,
             "collide-synth --force --format csv -o %s --tasks 2 --modules 2 --shape 8x8 --rank 2", syn);
    CHECK(run(args, &out, &e) == 0 && !strncmp(out, "store,tasks,modules", 19) &&
              count_of(out, "\n") == 2, "synth --force --format csv:\n%s", out);
    free(out), free(e);
    snprintf(exd, sizeof exd, "%s/exported", dir);
    snprintf(args, sizeof args, "collide-export --format csv %s -o %s", syn, exd);
    CHECK(run(args, &out, &e) == 0 && !strncmp(out, "task,dir,snapshot", 17) &&
              count_of(out, "\n") == 3, "export --format csv: %s\n%s", e, out);
    free(out), free(e);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/task2/adapter_config.json", exd);
    stat(cfg, &s0);
    snprintf(args, sizeof args, "collide-export %s -o %s", syn, exd);
    CHECK(run(args, &out, &e) == 1 && strstr(e, "task1/adapter_model.safetensors: already exists"),
          "export over an export: not refused: %s", e);
    stat(cfg, &s1);
    /* outputs are renamed into place: a rewrite would show as a new inode */
    CHECK(s0.st_ino == s1.st_ino && s0.st_mtime == s1.st_mtime,
          "a refused export wrote task2 before checking task1");
    free(out), free(e);
    snprintf(args, sizeof args, "collide-export --force %s -o %s", syn, exd);
    CHECK(run(args, &out, &e) == 0, "export --force: %s", e);
    free(out), free(e);
    /* the store lives in the output folder: never written over */
    char inside[400];
    snprintf(inside, sizeof inside, "%s/task1/adapter_model.safetensors", exd);
    snprintf(args, sizeof args, "collide-synth --force -o %s --tasks 2", inside);
    CHECK(run(args, NULL, NULL) == 0, "a store where an adapter was");
    snprintf(args, sizeof args, "collide-export --force %s -o %s", inside, exd);
    CHECK(run(args, &out, &e) == 1 && strstr(e, "is an input"), "export over its input: %s", e);
    free(out), free(e);
    /* a glob that matches nothing suggests the one that would */
    snprintf(args, sizeof args, "collide-collision --module attn.q %s", store);
    CHECK(run(args, &out, &e) == 1, "%s: not refused", args);
    CHECK_CONTAINS(e, "did you mean '*attn.q'");
    free(out), free(e);
    /* every input checked before any output: a missing second store prints
     * nothing for the first */
    snprintf(args, sizeof args, "collide-collision %s %s/missing.h5", store, dir);
    CHECK(run(args, &out, &e) == 1, "missing second store: exit");
    CHECK(out[0] == 0, "output printed before the bad input was found:\n%s", out);
    CHECK_CONTAINS(e, "missing.h5");
    free(out), free(e);
    snprintf(args, sizeof args, "collide-sparsity %s 0.5,0.9", store);
    CHECK(run(args, &out, &e) == 1 && out[0] == 0, "a stray value is a store: nothing printed");
    free(out), free(e);
    /* collide-info: the snapshot table, every module on request */
    snprintf(args, sizeof args, "collide-info %s", store);
    CHECK(run(args, &out, &e) == 0, "%s", args);
    CHECK_CONTAINS(out, "penalty_sparse");
    CHECK(count_of(out, "end_of_task") == 3 && count_of(out, "periodic") >= 6,
          "snapshot table incomplete:\n%s", out);
    CHECK_CONTAINS(out, "r 4  alpha");
    free(out), free(e);
    char wide[300];
    snprintf(wide, sizeof wide, "%s/wide.h5", dir);
    snprintf(args, sizeof args, "collide-synth -o %s --tasks 2 --modules 20 --shape 8x8 --rank 2",
             wide);
    CHECK(run(args, NULL, NULL) == 0, "synth 20 modules");
    snprintf(args, sizeof args, "collide-info %s", wide);
    CHECK(run(args, &out, &e) == 0, "%s", args);
    CHECK(strstr(out, "4 more (--all lists every one)") && !strstr(out, "layers.5.attn.q"),
          "20 modules: the cut is not said:\n%s", out);
    free(out), free(e);
    snprintf(args, sizeof args, "collide-info --all %s", wide);
    CHECK(run(args, &out, &e) == 0, "%s", args);
    for (int l = 0; l < 10; l++) {
        char m[32];
        snprintf(m, sizeof m, "layers.%d.attn.v", l);
        CHECK(strstr(out, m) != NULL, "--all: %s missing", m);
    }
    free(out), free(e);
    /* imported adapters with long names: names whole, "not recorded" for
     * what adapters do not carry, no forgetting block of NaN */
    char imp[300];
    snprintf(imp, sizeof imp, "%s/imp.h5", dir);
    snprintf(args, sizeof args,
             "collide-import --quiet -o %s --tasks justbautista__finance_lora,justbautista__fiqa_lora "
             "%s/gpt2/task1 %s/gpt2/task2",
             imp, COLLIDE_PEFT_FIXTURES, COLLIDE_PEFT_FIXTURES);
    CHECK(run(args, NULL, NULL) == 0, "import");
    const char *readers[] = {"collide-info", "collide-collision", "collide-sparsity",
                             "collide-subspace", "collide-forget", "collide-report"};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        snprintf(args, sizeof args, "%s %s", readers[i], imp);
        CHECK(run(args, &out, &e) == 0, "%s: %s", args, e);
        if (strcmp(readers[i], "collide-forget"))
            CHECK(strstr(out, "justbautista__finance_lora") && strstr(out, "justbautista__fiqa_lora"),
                  "%s cuts the task names:\n%s", readers[i], out);
        CHECK(!strstr(out, " nan") && !strstr(out, "nan%") && !strstr(out, "seed          0"),
              "%s prints nan or a made-up value:\n%s", readers[i], out);
        free(out), free(e);
    }
    snprintf(args, sizeof args, "collide-info %s", imp);
    CHECK(run(args, &out, &e) == 0, "info imported");
    CHECK(count_of(out, "not recorded") >= 3, "imported info:\n%s", out);
    free(out), free(e);
    /* one overwrite policy: an existing output is refused without --force
     * and kept byte for byte; an input is never written over */
    struct stat st0, st1;
    stat(imp, &st0);
    snprintf(args, sizeof args, "collide-import -o %s %s/gpt2/task1", imp, COLLIDE_PEFT_FIXTURES);
    CHECK(run(args, &out, &e) == 1, "import over an existing store: not refused");
    CHECK_CONTAINS(e, "already exists");
    stat(imp, &st1);
    CHECK(st0.st_ino == st1.st_ino && st0.st_mtime == st1.st_mtime, "existing store changed");
    free(out), free(e);
    snprintf(args, sizeof args, "collide-import --force --format csv -o %s %s/gpt2/task1", imp,
             COLLIDE_PEFT_FIXTURES);
    CHECK(run(args, &out, &e) == 0, "import --force: %s", e);
    CHECK(!strncmp(out, "name,source,slice,dtype,r,lora_alpha", 36) && count_of(out, "\n") == 2,
          "import --format csv:\n%s", out);
    free(out), free(e);
    char cp[700];
    snprintf(cp, sizeof cp, "cp -r %s/gpt2/task1 %s/adapter", COLLIDE_PEFT_FIXTURES, dir);
    CHECK(system(cp) == 0, "copy adapter");
    snprintf(args, sizeof args, "collide-import --force -o %s/adapter/adapter_model.safetensors %s/adapter",
             dir, dir);
    CHECK(run(args, &out, &e) == 1, "import over its own input: not refused");
    CHECK_CONTAINS(e, "is an input");
    free(out), free(e);
    /* the input is intact: it imports again */
    snprintf(args, sizeof args, "collide-import -o %s/again.h5 %s/adapter", dir, dir);
    CHECK(run(args, &out, &e) == 0, "the adapter survived: %s", e);
    free(out), free(e);
    /* the store above was replaced by one task: back to the pair */
    snprintf(args, sizeof args,
             "collide-import --force --quiet -o %s --tasks justbautista__finance_lora,"
             "justbautista__fiqa_lora %s/gpt2/task1 %s/gpt2/task2",
             imp, COLLIDE_PEFT_FIXTURES, COLLIDE_PEFT_FIXTURES);
    CHECK(run(args, NULL, NULL) == 0, "import again");
    /* per-task alpha as each adapter has it (rsLoRA included), and JSON's
     * nulls for what imported stores lack */
    char ll[300];
    snprintf(ll, sizeof ll, "%s/llama.h5", dir);
    snprintf(args, sizeof args, "collide-import --quiet -o %s %s/llama/task1 %s/llama/task2", ll,
             COLLIDE_PEFT_FIXTURES, COLLIDE_PEFT_FIXTURES);
    CHECK(run(args, NULL, NULL) == 0, "import llama");
    snprintf(args, sizeof args, "collide-info %s", ll);
    CHECK(run(args, &out, &e) == 0, "info llama");
    CHECK(strstr(out, "task1  ended at snapshot 0  r 4  alpha 8  scale 2\n") &&
              strstr(out, "task2  ended at snapshot 1  r 4  alpha 8  scale 4  rsLoRA\n"),
          "per-task r, alpha, scale:\n%s", out);
    free(out), free(e);
    snprintf(args, sizeof args, "collide-info --format json %s", ll);
    json_t *ij = run_json(args);
    json_t *srow = json_array_get(table(ij, "store"), 0);
    CHECK(json_is_null(json_object_get(srow, "seed")) &&
              json_is_null(json_object_get(srow, "lambda_sparse")) &&
              json_is_null(json_object_get(srow, "penalty_form")),
          "imported store: seed, lambda, penalty not null in JSON");
    json_t *t2 = json_array_get(table(ij, "tasks"), 1);
    CHECK(num(t2, "lora_alpha") == 8 && num(t2, "scale_max") == 4 && num(t2, "rank_min") == 4 &&
              json_is_null(json_object_get(t2, "lambda")),
          "per-task alpha/scale in JSON");
    json_decref(ij);
    snprintf(args, sizeof args, "collide-forget %s", imp);
    CHECK(run(args, &out, &e) == 0, "forget imported");
    CHECK(strstr(out, "no accuracy recorded") && !strstr(out, "AA "),
          "forgetting block without data:\n%s", out);
    free(out), free(e);
}

int main(int argc, char **argv)
{
    check_begin("test_tools");
    if (argc < 2) {
        fprintf(stderr, "usage: test_tools BINDIR\n");
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    snprintf(dir, sizeof dir, "/tmp/collide-test-tools-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(store, sizeof store, "%s/s.h5", dir);
    char args[600];
    snprintf(args, sizeof args,
             "collide-synth -o %s --tasks 3 --modules 4 --shape 48x40 --rank 4 --density 0.5 "
             "--overlap 0.3 --snapshots-per-task 2 --seed 5",
             store);
    CHECK(run(args, NULL, NULL) == 0, "synth");
    load_updates();
    test_collision();
    test_ortho_subspace_sparsity();
    test_forget_info_report();
    test_exit_codes();
    test_newcomer();
    for (int m = 0; m < NM; m++)
        for (int t = 0; t < NT; t++)
            cl_lowrank_free(&upd[m][t]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
