/*
 * test_peft_import.c -- importing the PEFT fixtures (tests/fixtures/peft,
 * written by tests/ref/peft_reference.py with PEFT itself) and checking what
 * collide makes of them against what PEFT and numpy say:
 *
 *   - per adapter: ranks, scalings (bit for bit, after rsLoRA and the
 *     patterns), shapes, and dW = s * B * A against PEFT's get_delta_weight
 *     (expected_delta) and against collide's formation (collide_delta, bit
 *     for bit);
 *   - per family, through a store: every metric of metrics.json (counts and
 *     thresholds exactly, floats within stated tolerances);
 *   - the O-LoRA cumulative checkpoints split into the per-task adapters;
 *   - export then import gives the same store bit for bit.
 */
#include "peft_test.h"

#include "dense_ref.h"

#include <float.h>

static const char *const ADAPTERS[] = {"llama/task1", "llama/task1_f16", "llama/task2",
                                       "gpt2/task1",  "gpt2/task2",      "t5/task1",
                                       "t5/task2",    "t5_olora/task1",  "t5_olora/task2",
                                       "t5_olora/task3"};
enum { N_ADAPTERS = sizeof ADAPTERS / sizeof ADAPTERS[0] };

/* A tensor of a safetensors file as float32 (NULL when missing). */
static float *read_tensor(const char *path, const char *key, int64_t *rows, int64_t *cols)
{
    cl_safetensors *st;
    cl_error err;
    if (cl_st_open(path, &st, &err)) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    const cl_st_tensor *t = cl_st_find(st, key);
    float *v = NULL;
    if (t && t->ndim == 2) {
        *rows = t->shape[0];
        *cols = t->shape[1];
        v = malloc((size_t)t->count * sizeof *v);
        CHECK(cl_st_read_f32(st, t, v, &err) == CL_OK, "%s", err.msg);
    }
    CHECK(v != NULL, "%s: no 2-D tensor %s", path, key);
    cl_st_close(st);
    return v;
}

static double worst_vs_peft = 0; /* max |collide dW - PEFT dW| / max |PEFT dW| */
static long bitwise_modules = 0;

/* One adapter: config values, factors and dW against the fixture. */
static void check_adapter(const char *rel)
{
    char dir[600], p[700];
    fixture(dir, sizeof dir, rel);
    path_join(p, sizeof p, dir, "expected.json");
    json_t *exp = load_json(p);
    if (!exp)
        return;
    notes nt = {0};
    cl_peft_adapter *a;
    cl_error err;
    if (cl_peft_open(dir, note_count, &nt, &a, &err)) {
        CHECK(0, "%s", err.msg);
        json_decref(exp);
        return;
    }
    const cl_peft_info *in = cl_peft_get_info(a);
    json_t *mods = json_object_get(exp, "modules");
    CHECK(nt.n == 0, "%s: %d notes, first: %s", rel, nt.n, nt.last[0]);
    CHECK(in->n_tasks == 1 && !in->cumulative, "%s: one plain task", rel);
    CHECK(in->n_modules == (int)json_integer_value(json_object_get(exp, "module_count")) &&
              (size_t)in->n_modules == json_object_size(mods),
          "%s: %d modules", rel, in->n_modules);
    CHECK(!strcmp(in->dtype, json_string_value(json_array_get(json_object_get(exp, "file_dtype"), 0))),
          "%s: dtype %s", rel, in->dtype);
    json_t *cfg = json_object_get(exp, "config");
    CHECK(in->fan_in_fan_out == json_is_true(json_object_get(cfg, "fan_in_fan_out")) &&
              in->use_rslora == json_is_true(json_object_get(cfg, "use_rslora")) &&
              in->r == (int)json_integer_value(json_object_get(cfg, "r")),
          "%s: config flags", rel);
    char ed[700], cd[700], ad[700];
    path_join(ed, sizeof ed, dir, "expected_delta.safetensors");
    path_join(cd, sizeof cd, dir, "collide_delta.safetensors");
    path_join(ad, sizeof ad, dir, "adapter_model.safetensors");
    for (int m = 0; m < in->n_modules; m++) {
        const cl_peft_module *pm = cl_peft_module_at(a, 0, m);
        json_t *e = json_object_get(mods, pm->name);
        CHECK(e != NULL, "%s: module %s not in expected.json", rel, pm->name);
        if (!e)
            continue;
        /* PEFT's layer.r and layer.scaling, as Python doubles: bit for bit */
        double want = json_real_value(json_object_get(e, "scaling"));
        CHECK(pm->rank == json_integer_value(json_object_get(e, "r")), "%s %s: rank %d", rel,
              pm->name, pm->rank);
        CHECK(!memcmp(&pm->scale, &want, sizeof want), "%s %s: scale %.17g, PEFT %.17g", rel,
              pm->name, pm->scale, want);
        CHECK(pm->d_out == json_integer_value(json_object_get(e, "d_out")) &&
                  pm->d_in == json_integer_value(json_object_get(e, "d_in")),
              "%s %s: shape", rel, pm->name);
        cl_lowrank u = {.d_out = pm->d_out, .d_in = pm->d_in, .k = pm->rank, .scale = pm->scale};
        u.A = malloc((size_t)u.k * (size_t)u.d_in * sizeof(float));
        u.B = malloc((size_t)u.d_out * (size_t)u.k * sizeof(float));
        CHECK(cl_peft_read(a, 0, m, u.A, u.B, &err) == CL_OK, "%s", err.msg);
        /* the factors are the file's values, exactly (16-bit upcasts) */
        int64_t r1, c1, r2, c2;
        float *fa = read_tensor(ad, json_string_value(json_object_get(e, "lora_A_key")), &r1, &c1);
        float *fb = read_tensor(ad, json_string_value(json_object_get(e, "lora_B_key")), &r2, &c2);
        CHECK(fa && fb && r1 == u.k && c1 == u.d_in && r2 == u.d_out && c2 == u.k &&
                  !memcmp(fa, u.A, (size_t)(r1 * c1) * sizeof(float)) &&
                  !memcmp(fb, u.B, (size_t)(r2 * c2) * sizeof(float)),
              "%s %s: factors differ from the file", rel, pm->name);
        free(fa), free(fb);
        /* dW: d_out x d_in (nn.Linear orientation, also for GPT-2 Conv1D) */
        float *w = ref_form(&u);
        int64_t er, ec, cr, cc;
        float *pe = read_tensor(ed, pm->name, &er, &ec);
        float *co = read_tensor(cd, pm->name, &cr, &cc);
        if (pe && co && er == u.d_out && ec == u.d_in && cr == er && cc == ec) {
            size_t n = (size_t)(er * ec);
            double dmax = 0, emax = 0;
            for (size_t i = 0; i < n; i++) {
                dmax = fmax(dmax, fabs((double)w[i] - pe[i]));
                emax = fmax(emax, fabs((double)pe[i]));
            }
            CHECK(emax > 0, "%s %s: PEFT's delta is zero (fixture trained?)", rel, pm->name);
            CHECK(dmax <= 1e-6 * emax, "%s %s: max |dW - PEFT| = %g (max |PEFT| %g)", rel, pm->name,
                  dmax, emax);
            worst_vs_peft = fmax(worst_vs_peft, dmax / emax);
            int same = !memcmp(w, co, n * sizeof *w);
            CHECK(same, "%s %s: dW is not bit-identical to collide_delta", rel, pm->name);
            bitwise_modules += same;
        } else {
            CHECK(0, "%s %s: delta shapes %lld x %lld, %lld x %lld, expected %lld x %lld", rel,
                  pm->name, (long long)er, (long long)ec, (long long)cr, (long long)cc,
                  (long long)u.d_out, (long long)u.d_in);
        }
        free(pe), free(co), free(w);
        cl_lowrank_free(&u);
    }
    cl_peft_close(a);
    json_decref(exp);
}

/* ---------------------------------------------------------------- metrics */

typedef struct worst {
    double exact, factors, dense;
} worst;
static worst wm;

static void near(double got, double want, double rtol, double atol, double *w, const char *what,
                 const char *mod)
{
    double d = fabs(got - want), m = fmax(fabs(got), fabs(want));
    if (m > 0 && d > atol)
        *w = fmax(*w, d / m);
    check_g.checks++;
    if (!(d <= atol + rtol * m)) {
        check_g.failures++;
        fprintf(stderr, "FAIL: %s %s: %.17g vs numpy %.17g\n", mod, what, got, want);
    }
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* One family's store against its metrics.json. Tolerances: counts,
 * thresholds and sums over the dense float32 dW exact or to 1e-9; oo and
 * the subspace similarities come from the factors in double (1e-9); the
 * spectra, AWOM and cosine to 1e-5, since numpy takes them from dW rounded
 * to float32 and collide from the exact factors. */
static void check_metrics(const char *family, const char *const *tasks, int T)
{
    char p[600], dirs[4][600], store[600];
    const char *dp[4];
    for (int t = 0; t < T; t++) {
        snprintf(p, sizeof p, "%s/%s", family, tasks[t]);
        fixture(dirs[t], sizeof dirs[t], p);
        dp[t] = dirs[t];
    }
    char rel[64];
    path_join(rel, sizeof rel, family, "metrics.json");
    json_t *mj = load_json(fixture(p, sizeof p, rel));
    snprintf(p, sizeof p, "%s.h5", family);
    in_scratch(store, sizeof store, p);
    cl_error err;
    if (!mj || import_dirs(store, dp, T, NULL, &err)) {
        CHECK(0, "%s: %s", family, err.msg);
        json_decref(mj);
        return;
    }
    cl_store *s;
    cl_backend *be;
    CHECK(cl_store_open(store, &s, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_backend_open("cpu", &be, &err) == CL_OK, "%s", err.msg);
    json_t *mods = json_object_get(mj, "modules"), *pt = json_object_get(mj, "per_task");
    int M = cl_store_n_modules(s);
    CHECK(M == (int)json_array_size(mods), "%s: %d modules, metrics.json %zu", family, M,
          json_array_size(mods));
    CHECK(!strcmp(cl_store_meta(s)->method, "imported") && cl_store_n_snapshots(s) == T,
          "%s: method and snapshots", family);
    cl_threshold th[2];
    cl_threshold_parse("energy:0.99", &th[0], &err);
    cl_threshold_parse("rel:0.1", &th[1], &err);
    const char *modes[2] = {"energy:0.99", "rel:0.1"};
    double sum_oo[4][4] = {{0}}, cr_sum[4][4][2] = {{{0}}}, nuc_sum[4] = {0};
    for (int m = 0; m < M; m++) {
        const char *name = cl_store_module_name(s, m);
        cl_lowrank u[4];
        for (int t = 0; t < T; t++) {
            CHECK(!strcmp(cl_store_task_name(s, t), tasks[t]), "task name %s", cl_store_task_name(s, t));
            CHECK(cl_store_read_adapter(s, m, cl_store_task_end(s, t), &u[t], &err) == CL_OK, "%s",
                  err.msg);
        }
        cl_dense_result dr;
        if (cl_dense_pass(be, u, T, th, 2, &dr, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        cl_ortho *o = calloc((size_t)(T * T), sizeof *o);
        CHECK(cl_ortho_module(u, T, o, &err) == CL_OK, "%s", err.msg);
        for (int t = 0; t < T; t++) {
            json_t *e = json_object_get(json_object_get(pt, tasks[t]), name);
            CHECK(e != NULL, "%s: %s/%s missing from metrics.json", family, tasks[t], name);
            if (!e)
                continue;
            cl_sparsity sp = cl_sparsity_from_sums(dr.l1[t], dr.sumsq[t], dr.entries);
            near(sp.l1, json_real_value(json_object_get(e, "l1")), 1e-9, 0, &wm.exact, "l1", name);
            near(sp.hoyer, json_real_value(json_object_get(e, "hoyer")), 1e-9, 0, &wm.exact, "hoyer",
                 name);
            for (int q = 0; q < 2; q++) {
                json_t *te = json_object_get(json_object_get(e, "thresholds"), modes[q]);
                const cl_dense_task *dt = &dr.task[q * T + t];
                char bits[16];
                snprintf(bits, sizeof bits, "0x%08x", f32_bits(dt->tau));
                CHECK(dt->active == json_integer_value(json_object_get(te, "active")),
                      "%s %s %s: %lld active, numpy %lld", tasks[t], name, modes[q],
                      (long long)dt->active, (long long)json_integer_value(json_object_get(te, "active")));
                CHECK(!strcmp(bits, json_string_value(json_object_get(te, "tau_bits"))),
                      "%s %s %s: tau %s, numpy %s", tasks[t], name, modes[q], bits,
                      json_string_value(json_object_get(te, "tau_bits")));
            }
            cl_spectrum sv;
            if (cl_spectrum_compute(&u[t], CL_RANK_TOL_DEFAULT, &sv, &err) == CL_OK) {
                near(sv.nuclear, json_real_value(json_object_get(e, "nuclear")), 1e-5, 0, &wm.dense,
                     "nuclear", name);
                near(sv.frobenius, json_real_value(json_object_get(e, "frobenius")), 1e-5, 0,
                     &wm.dense, "frobenius", name);
                near(sv.spectral, json_real_value(json_object_get(e, "spectral")), 1e-5, 0, &wm.dense,
                     "spectral", name);
                CHECK(sv.count == json_integer_value(json_object_get(e, "count")), "%s %s: count %d",
                      tasks[t], name, sv.count);
                nuc_sum[t] += sv.nuclear;
                cl_spectrum_free(&sv);
            } else {
                CHECK(0, "%s", err.msg);
            }
        }
        for (int i = 0; i < T; i++)
            for (int j = i + 1; j < T; j++) {
                char key[64];
                snprintf(key, sizeof key, "%s|%s", tasks[i], tasks[j]);
                json_t *e = json_object_get(
                    json_object_get(json_object_get(json_object_get(mj, "pairs"), key), "modules"), name);
                CHECK(e != NULL, "%s: pair %s %s missing", family, key, name);
                if (!e)
                    continue;
                for (int q = 0; q < 2; q++) {
                    json_t *pe = json_object_get(e, modes[q]);
                    int64_t both = dr.both[(size_t)q * T * T + (size_t)i * T + j];
                    int64_t ai = dr.task[q * T + i].active, aj = dr.task[q * T + j].active;
                    CHECK(both == json_integer_value(json_object_get(pe, "and")) &&
                              ai + aj - both == json_integer_value(json_object_get(pe, "or")),
                          "%s %s %s: and/or %lld/%lld", key, name, modes[q], (long long)both,
                          (long long)(ai + aj - both));
                    cl_collision c = cl_collision_from_counts(both, ai, aj, dr.entries);
                    near(c.rate, json_real_value(json_object_get(pe, "collision_rate")), 1e-15, 0,
                         &wm.exact, "collision_rate", name);
                    near(c.jaccard, json_real_value(json_object_get(pe, "jaccard")), 1e-15, 0,
                         &wm.exact, "jaccard", name);
                    cr_sum[i][j][q] += c.rate;
                }
                const cl_ortho *x = &o[i * T + j];
                near(x->oo, json_real_value(json_object_get(e, "oo")), 1e-9, 0, &wm.factors, "oo", name);
                near(x->sim_a, json_real_value(json_object_get(e, "sim_a")), 1e-9, 0, &wm.factors,
                     "sim_a", name);
                near(x->sim_b, json_real_value(json_object_get(e, "sim_b")), 1e-9, 0, &wm.factors,
                     "sim_b", name);
                near(x->awom, json_real_value(json_object_get(e, "awom")), 1e-5, 0, &wm.dense, "awom",
                     name);
                near(x->cosine, json_real_value(json_object_get(e, "cosine")), 1e-5, 1e-7, &wm.dense,
                     "cosine", name);
                sum_oo[i][j] += x->oo;
            }
        free(o);
        cl_dense_result_free(&dr);
        for (int t = 0; t < T; t++)
            cl_lowrank_free(&u[t]);
    }
    /* the aggregates of metrics.json */
    for (int i = 0; i < T; i++) {
        json_t *mn = json_object_get(json_object_get(json_object_get(mj, "aggregate"), "mean_nuclear"),
                                     tasks[i]);
        near(nuc_sum[i] / M, json_real_value(mn), 1e-5, 0, &wm.dense, "mean nuclear", tasks[i]);
        for (int j = i + 1; j < T; j++) {
            char key[64];
            snprintf(key, sizeof key, "%s|%s", tasks[i], tasks[j]);
            json_t *ag = json_object_get(json_object_get(json_object_get(mj, "pairs"), key), "aggregate");
            near(sum_oo[i][j], json_real_value(json_object_get(ag, "sum_oo")), 1e-9, 0, &wm.factors,
                 "sum oo", key);
            for (int q = 0; q < 2; q++)
                near(cr_sum[i][j][q] / M,
                     json_real_value(json_object_get(json_object_get(ag, "mean_collision_rate"), modes[q])),
                     1e-12, 0, &wm.exact, "mean collision rate", key);
        }
    }
    cl_backend_close(be);
    cl_store_close(s, NULL);
    json_decref(mj);
}

/* ------------------------------------------------------------- O-LoRA */

/* Both cumulative layouts split into exactly the three per-task adapters. */
static void test_olora_split(void)
{
    const char *layouts[2] = {"t5_olora/cumulative", "t5_olora/cumulative_concat"};
    cl_peft_adapter *task[3];
    cl_error err;
    char p[600], rel[64];
    for (int t = 0; t < 3; t++) {
        snprintf(rel, sizeof rel, "t5_olora/task%d", t + 1);
        CHECK(cl_peft_open(fixture(p, sizeof p, rel), NULL, NULL, &task[t], &err) == CL_OK, "%s",
              err.msg);
    }
    for (int l = 0; l < 2; l++) {
        cl_peft_adapter *c;
        notes nt = {0};
        if (cl_peft_open(fixture(p, sizeof p, layouts[l]), note_count, &nt, &c, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        const cl_peft_info *in = cl_peft_get_info(c);
        CHECK(in->cumulative && in->n_tasks == 3 && in->n_modules == 12 && nt.n == 0,
              "%s: cumulative %d, %d tasks, %d modules, %d notes", layouts[l], in->cumulative,
              in->n_tasks, in->n_modules, nt.n);
        long bad = 0;
        for (int t = 0; t < 3 && in->n_tasks == 3; t++)
            for (int m = 0; m < in->n_modules; m++) {
                const cl_peft_module *x = cl_peft_module_at(c, t, m), *y = cl_peft_module_at(task[t], 0, m);
                size_t na = (size_t)x->rank * (size_t)x->d_in, nb = (size_t)x->d_out * (size_t)x->rank;
                float *a1 = malloc(na * 4), *b1 = malloc(nb * 4), *a2 = malloc(na * 4), *b2 = malloc(nb * 4);
                int ok = !strcmp(x->name, y->name) && x->rank == 4 && y->rank == 4 && x->scale == 2.0 &&
                         x->scale == y->scale && x->d_out == y->d_out && x->d_in == y->d_in &&
                         !cl_peft_read(c, t, m, a1, b1, &err) && !cl_peft_read(task[t], 0, m, a2, b2, &err) &&
                         !memcmp(a1, a2, na * 4) && !memcmp(b1, b2, nb * 4);
                bad += !ok;
                free(a1), free(b1), free(a2), free(b2);
            }
        CHECK(bad == 0, "%s: %ld task-module slices differ from the per-task adapters", layouts[l], bad);
        /* through a store, with and without names */
        char store[600];
        in_scratch(store, sizeof store, l ? "concat.h5" : "cumulative.h5");
        cl_peft_import_spec sp = {0};
        CHECK(cl_peft_import(store, &c, 1, &sp, &err) == CL_OK, "%s", err.msg);
        cl_store *s;
        if (cl_store_open(store, &s, &err) == CL_OK) {
            char want[64];
            snprintf(want, sizeof want, "%s-task3", l ? "cumulative_concat" : "cumulative");
            CHECK(cl_store_n_tasks(s) == 3 && !strcmp(cl_store_task_name(s, 2), want),
                  "store tasks: %s", cl_store_task_name(s, 2));
            cl_store_close(s, NULL);
        }
        cl_peft_close(c);
    }
    /* the per-task adapters in a store equal the cumulative one's */
    char s1[600], s2[600], d[3][600];
    const char *dp[3];
    for (int t = 0; t < 3; t++) {
        snprintf(rel, sizeof rel, "t5_olora/task%d", t + 1);
        fixture(d[t], sizeof d[t], rel);
        dp[t] = d[t];
    }
    const char *names[3] = {"task1", "task2", "task3"};
    CHECK(import_dirs(in_scratch(s1, sizeof s1, "seq.h5"), dp, 3, NULL, &err) == CL_OK, "%s", err.msg);
    const char *cum[1] = {fixture(d[0], sizeof d[0], "t5_olora/cumulative")};
    cl_peft_adapter *c;
    if (cl_peft_open(cum[0], NULL, NULL, &c, &err) == CL_OK) {
        cl_peft_import_spec sp = {.task_names = names, .n_task_names = 3};
        CHECK(cl_peft_import(in_scratch(s2, sizeof s2, "cum_named.h5"), &c, 1, &sp, &err) == CL_OK,
              "%s", err.msg);
        cl_peft_close(c);
        /* the cumulative fixture names its base "t5/base", the tasks the full path */
        same_stores_base(s1, s2, "per-task vs cumulative store", 0);
    }
    for (int t = 0; t < 3; t++)
        cl_peft_close(task[t]);
}

/* --------------------------------------------------------------- export */

/* Import, export, import again: the same store bit for bit. */
static void test_export_roundtrip(const char *family, const char *t1, const char *t2)
{
    char p[600], d1[600], d2[600], s1[600], s2[600], out[600], rel[64];
    snprintf(rel, sizeof rel, "%s/%s", family, t1);
    fixture(d1, sizeof d1, rel);
    snprintf(rel, sizeof rel, "%s/%s", family, t2);
    fixture(d2, sizeof d2, rel);
    snprintf(p, sizeof p, "%s-orig.h5", family);
    in_scratch(s1, sizeof s1, p);
    snprintf(p, sizeof p, "%s-again.h5", family);
    in_scratch(s2, sizeof s2, p);
    snprintf(p, sizeof p, "%s-export", family);
    in_scratch(out, sizeof out, p);
    cl_error err;
    if (import_dirs(s1, (const char *const[]){d1, d2}, 2, NULL, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    cl_store *s;
    cl_peft_exported *e = NULL;
    int n = 0;
    CHECK(cl_store_open(s1, &s, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_peft_export(s, out, NULL, &e, &n, &err) == CL_OK, "%s", err.msg);
    cl_store_close(s, NULL);
    CHECK(n == 2, "%s: %d adapters exported", family, n);
    if (n != 2) {
        cl_peft_exported_free(e, n);
        return;
    }
    for (int i = 0; i < n; i++)
        CHECK(e[i].inexact == 0 && e[i].snapshot == i, "%s: export %d inexact %d", family, i,
              e[i].inexact);
    if (!strcmp(family, "t5")) { /* task2 needs one rank and one alpha override */
        CHECK(e[1].r == 4 && e[1].alpha == 8 && e[1].n_rank_pattern == 1 && e[1].n_alpha_pattern == 1,
              "t5 task2 plan: r %d alpha %g, %d/%d patterns", e[1].r, e[1].alpha, e[1].n_rank_pattern,
              e[1].n_alpha_pattern);
        path_join(p, sizeof p, e[1].dir, "adapter_config.json");
        json_t *c = load_json(p);
        json_t *rp = json_object_get(c, "rank_pattern"), *ap = json_object_get(c, "alpha_pattern");
        CHECK(json_integer_value(json_object_get(rp, "decoder\\.block\\.0\\.layer\\.1\\.EncDecAttention\\.q")) == 3 &&
                  json_integer_value(json_object_get(ap, "encoder\\.block\\.1\\.layer\\.0\\.SelfAttention\\.v")) == 20 &&
                  json_array_size(json_object_get(c, "target_modules")) == 12 &&
                  !strcmp(json_string_value(json_object_get(c, "peft_type")), "LORA") &&
                  json_is_false(json_object_get(c, "use_rslora")) &&
                  !strcmp(json_string_value(json_object_get(c, "base_model_name_or_path")),
                          "tests/fixtures/peft/t5/base"),
              "t5 task2 config");
        json_decref(c);
    }
    if (!strcmp(family, "gpt2"))
        CHECK(e[0].fan_in_fan_out == 1, "gpt2: fan_in_fan_out exported");
    if (!strcmp(family, "llama")) /* rsLoRA scale 4 at r 4: alpha 16 under alpha/r, or 8 rsLoRA */
        CHECK(e[1].use_rslora ? e[1].alpha == 8 : e[1].alpha == 16, "llama task2: alpha %g", e[1].alpha);
    CHECK(import_dirs(s2, (const char *const[]){e[0].dir, e[1].dir}, 2, NULL, &err) == CL_OK, "%s",
          err.msg);
    same_stores(s1, s2, family);
    cl_peft_exported_free(e, n);
}

/* Arbitrary scales and ranks, under either scaling rule: the exporter's
 * lora_alpha gives each back bit for bit, or the export says it could not
 * (about 6% of random doubles need the search past alpha = s * r). */
static void test_export_scales(int rslora)
{
    enum { M = 400, KMAX = 64 };
    char store[600], out[600], again[600];
    in_scratch(store, sizeof store, rslora ? "scales-rs.h5" : "scales.h5");
    in_scratch(out, sizeof out, rslora ? "scales-rs-export" : "scales-export");
    in_scratch(again, sizeof again, rslora ? "scales-rs-again.h5" : "scales-again.h5");
    static char names[M][32];
    const char *np[M];
    int64_t dout[M], din[M];
    int32_t rank[M], k[M];
    double scale[M];
    static float a[KMAX * 3], b[2 * KMAX];
    const float *pa[M], *pb[M];
    cl_rng g;
    cl_rng_seed(&g, 7 + (uint64_t)rslora);
    for (int m = 0; m < M; m++) {
        snprintf(names[m], sizeof names[m], "layers.%d.proj", m);
        np[m] = names[m];
        dout[m] = 2;
        din[m] = 3;
        rank[m] = KMAX;
        k[m] = 1 + (int)cl_rng_below(&g, KMAX);
        /* a quarter follow the rule with lora_alpha 8, the rest arbitrary */
        scale[m] = m % 4 ? 10 * cl_rng_uniform(&g) : 8 / (rslora ? sqrt(k[m]) : k[m]);
        pa[m] = a;
        pb[m] = b;
    }
    for (int i = 0; i < KMAX * 3; i++)
        a[i] = (float)(i % 7 + 1) / 8;
    for (int i = 0; i < 2 * KMAX; i++)
        b[i] = (float)(i % 9 - 4) / 4;
    cl_store_spec sp = {.meta = {.method = "inclora", .rank = 4, .alpha = 8, .scaling = 2,
                                 .scaling_rule = rslora ? "alpha/sqrt(r)" : "alpha/r",
                                 .base_model = "unit-test"},
                        .n_tasks = 1, .task_names = (const char *const[]){"only"},
                        .n_modules = M, .module_names = np, .d_out = dout, .d_in = din, .rank = rank};
    cl_store *s;
    cl_error err;
    if (cl_store_create(store, &sp, &s, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    cl_snapshot_row row = {.task = 0, .kind = CL_SNAP_END_OF_TASK};
    CHECK(cl_store_append(s, &row, pa, pb, k, scale, NULL, 0, &err) == CL_OK, "%s", err.msg);
    cl_store_close(s, NULL);
    CHECK(cl_store_open(store, &s, &err) == CL_OK, "%s", err.msg);
    cl_peft_exported *e = NULL;
    int n = 0;
    cl_peft_export_spec es = {.snapshot = "last", .fan_in_fan_out = CL_PEFT_FIFO_FALSE};
    CHECK(cl_peft_export(s, out, &es, &e, &n, &err) == CL_OK && n == 1, "%s", err.msg);
    cl_store_close(s, NULL);
    if (n != 1)
        return;
    printf("export_scales (%s): %d modules, r %d, lora_alpha %g, %d rank and %d alpha overrides, "
           "%d inexact\n",
           rslora ? "rsLoRA" : "alpha/r", M, e[0].r, e[0].alpha, e[0].n_rank_pattern,
           e[0].n_alpha_pattern, e[0].inexact);
    CHECK(e[0].fan_in_fan_out == 0 && e[0].use_rslora == rslora && e[0].alpha == 8 &&
              e[0].n_alpha_pattern >= M / 2 && e[0].n_alpha_pattern < M,
          "rule %d alpha %g, %d overrides", e[0].use_rslora, e[0].alpha, e[0].n_alpha_pattern);
    CHECK(import_dirs(again, (const char *const[]){e[0].dir}, 1, NULL, &err) == CL_OK, "%s", err.msg);
    cl_store *s2;
    int changed = 0, far = 0;
    if (cl_store_open(again, &s2, &err) == CL_OK) {
        for (int m = 0; m < M; m++) {
            cl_lowrank u;
            if (cl_store_read_adapter(s2, m, 0, &u, &err)) {
                CHECK(0, "%s", err.msg);
                continue;
            }
            CHECK(u.k == k[m], "rank %d vs %d", u.k, k[m]);
            changed += u.scale != scale[m];
            far += u.scale != scale[m] && u.scale != nextafter(scale[m], INFINITY) &&
                   u.scale != nextafter(scale[m], -INFINITY);
            cl_lowrank_free(&u);
        }
        cl_store_close(s2, NULL);
    }
    CHECK(changed == e[0].inexact, "%d scales changed, export reported %d", changed, e[0].inexact);
    CHECK(far == 0, "%d scales moved by more than one ulp", far);
    cl_peft_exported_free(e, n);
}

/* Which adapters a view exports; "all" is refused. */
static void test_export_views(void)
{
    char store[600], out[600];
    in_scratch(store, sizeof store, "synth.h5");
    cl_synth_spec sp;
    cl_synth_defaults(&sp);
    sp.tasks = 3;
    sp.modules = 2;
    sp.d_out = sp.d_in = 8;
    sp.rank = 2;
    sp.snapshots_per_task = 1;
    cl_error err;
    CHECK(cl_synth_write(store, &sp, &err) == CL_OK, "%s", err.msg);
    cl_store *s;
    if (cl_store_open(store, &s, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    struct {
        const char *spec;
        int n;
        int64_t last;
    } views[] = {{"task-ends", 3, 5}, {"last", 3, 5}, {"2", 2, 2}, {"0", 1, 0}};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        cl_peft_exported *e = NULL;
        int n = 0;
        snprintf(out, sizeof out, "%s/view%zu", scratch, i);
        cl_peft_export_spec es = {.snapshot = views[i].spec, .task_type = "CAUSAL_LM"};
        CHECK(cl_peft_export(s, out, &es, &e, &n, &err) == CL_OK, "%s", err.msg);
        CHECK(n == views[i].n && n > 0 && e[n - 1].snapshot == views[i].last,
              "--snapshot %s: %d adapters, last at %lld", views[i].spec, n,
              n ? (long long)e[n - 1].snapshot : -1LL);
        if (n > 0) {
            char p[700];
            path_join(p, sizeof p, e[0].dir, "adapter_config.json");
            json_t *c = load_json(p);
            CHECK(!strcmp(json_string_value(json_object_get(c, "task_type")), "CAUSAL_LM") &&
                      json_is_false(json_object_get(c, "fan_in_fan_out")),
                  "task_type and fan_in_fan_out written");
            json_decref(c);
        }
        cl_peft_exported_free(e, n);
    }
    cl_peft_exported *e = NULL;
    int n = 0;
    cl_peft_export_spec es = {.snapshot = "all"};
    CHECK(cl_peft_export(s, out, &es, &e, &n, &err) == CL_ERR_ARG && n == 0, "all refused");
    CHECK_CONTAINS(err.msg, "one adapter per task");
    es.snapshot = "99";
    CHECK(cl_peft_export(s, out, &es, &e, &n, &err) == CL_ERR_ARG, "bad id refused");
    cl_store_close(s, NULL);
    /* task names that are not safe directory names */
    char f1[600], named[600];
    fixture(f1, sizeof f1, "llama/task1");
    const char *names[3] = {"../up", ".hidden", "_.hidden"};
    if (import_dirs(in_scratch(named, sizeof named, "named.h5"), (const char *const[]){f1, f1, f1}, 3,
                    names, &err) == CL_OK &&
        cl_store_open(named, &s, &err) == CL_OK) {
        in_scratch(out, sizeof out, "named-export");
        CHECK(cl_peft_export(s, out, NULL, &e, &n, &err) == CL_OK && n == 3, "%s", err.msg);
        const char *want[3] = {"/named-export/_._up", "/named-export/_hidden", "/named-export/_.hidden"};
        for (int i = 0; i < n && i < 3; i++)
            CHECK(strstr(e[i].dir, want[i]) && !strcmp(e[i].task, names[i]), "dir %s for task %s",
                  e[i].dir, e[i].task);
        cl_peft_exported_free(e, n);
        cl_store_close(s, NULL);
    } else {
        CHECK(0, "%s", err.msg);
    }
}

int main(void)
{
    check_begin("test_peft_import");
    scratch_begin("peft-import");
    for (int i = 0; i < N_ADAPTERS; i++)
        check_adapter(ADAPTERS[i]);
    printf("dW vs PEFT: max |collide - PEFT| / max |PEFT| = %.3g over %d adapters; %ld modules "
           "bit-identical to collide_delta\n",
           worst_vs_peft, N_ADAPTERS, bitwise_modules);
    check_metrics("llama", (const char *const[]){"task1", "task2"}, 2);
    check_metrics("gpt2", (const char *const[]){"task1", "task2"}, 2);
    check_metrics("t5", (const char *const[]){"task1", "task2"}, 2);
    check_metrics("t5_olora", (const char *const[]){"task1", "task2", "task3"}, 3);
    printf("metrics vs numpy: worst relative difference %.3g (exact sums), %.3g (from factors), "
           "%.3g (numpy from float32 dW)\n",
           wm.exact, wm.factors, wm.dense);
    test_olora_split();
    test_export_roundtrip("llama", "task1", "task2");
    test_export_roundtrip("gpt2", "task1", "task2");
    test_export_roundtrip("t5", "task1", "task2");
    test_export_roundtrip("llama", "task1_f16", "task2");
    test_export_scales(0);
    test_export_scales(1);
    test_export_views();
    scratch_end();
    return check_done();
}
