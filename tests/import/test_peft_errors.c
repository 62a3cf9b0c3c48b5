/*
 * test_peft_errors.c -- every bad PEFT input with the message it must give
 * (file, object, reason), PEFT's defaults for missing keys, the pattern
 * matching, skipped tensors reported, mismatched adapters, the pickle
 * refusal, and an import that fails leaving the old output untouched.
 */
#include "peft_test.h"

#include <dirent.h>

#define KEY(m, part) "base_model.model." m "." part ".weight"

/* One module m.0.q with rank 2: A 2 x 3, B 4 x 2. */
static const mk_tensor ONE[] = {{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {2, 3}},
                                {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 2}}};

static int open_dir(const char *dir, notes *nt, cl_peft_adapter **a, cl_error *err)
{
    *a = NULL;
    return cl_peft_open(dir, nt ? note_count : NULL, nt, a, err);
}

/* adapter_config.json cases: the code and what the message must say. */
static void test_config_errors(void)
{
    struct {
        const char *config;
        int code;
        const char *msg;
    } cases[] = {
        {"{", CL_ERR_FORMAT, "adapter_config.json: invalid JSON at line 1"},
        {"[1]", CL_ERR_FORMAT, "adapter_config.json: expected a JSON object, found an array"},
        {"{\"r\": 2, \"r\": 2}", CL_ERR_FORMAT, "duplicate object key"},
        {"{\"r\": \"2\"}", CL_ERR_FORMAT, "adapter_config.json: r: expected an integer, found a string"},
        {"{\"r\": 0}", CL_ERR_VALUE, "adapter_config.json: r: 0 out of range [1, 65536]"},
        {"{\"r\": 2.5}", CL_ERR_FORMAT, "r: expected an integer, found a number"},
        {"{\"r\": 1e300}", CL_ERR_VALUE, "r: 1.0000000000000001e+300 out of range"},
        {"{\"r\": 2, \"lora_alpha\": \"x\"}", CL_ERR_FORMAT, "lora_alpha: expected a number, found a string"},
        {"{\"r\": 2, \"use_rslora\": \"yes\"}", CL_ERR_FORMAT,
         "use_rslora: expected true or false, found a string"},
        {"{\"r\": 2, \"fan_in_fan_out\": 1}", CL_ERR_FORMAT, "fan_in_fan_out: expected true or false"},
        {"{\"r\": 2, \"rank_pattern\": []}", CL_ERR_FORMAT, "rank_pattern: expected an object, found an array"},
        {"{\"r\": 2, \"rank_pattern\": {\"q\": \"3\"}}", CL_ERR_FORMAT,
         "rank_pattern['q']: expected an integer, found a string"},
        {"{\"r\": 2, \"rank_pattern\": {\"q\": 0}}", CL_ERR_VALUE, "rank_pattern['q']: 0 out of range"},
        {"{\"r\": 2, \"alpha_pattern\": {\"q\": null}}", CL_ERR_FORMAT,
         "alpha_pattern['q']: expected a number, found null"},
        {"{\"r\": 2, \"rank_pattern\": {\"(?:q)\": 2}}", CL_ERR_UNSUPPORTED,
         "rank_pattern['(?:q)']: uses a (?...) group, which Python's re and POSIX regcomp"},
        {"{\"r\": 2, \"rank_pattern\": {\"m\\\\.\\\\d\\\\.q\": 2}}", CL_ERR_UNSUPPORTED,
         "uses an escape such as \\d"},
        {"{\"r\": 2, \"rank_pattern\": {\"m[\\\\.]q\": 2}}", CL_ERR_UNSUPPORTED,
         "uses a backslash inside [...]"},
        {"{\"r\": 2, \"rank_pattern\": {\"m\\\\.[[:digit:]]\\\\.q\": 2}}", CL_ERR_UNSUPPORTED,
         "uses a POSIX class such as [:digit:]"},
        {"{\"r\": 2, \"alpha_pattern\": {\"m.*?q\": 2}}", CL_ERR_UNSUPPORTED,
         "uses a lazy or possessive quantifier"},
        {"{\"r\": 2, \"rank_pattern\": {\"m(\": 2}}", CL_ERR_UNSUPPORTED,
         "rank_pattern['m(']: not a POSIX extended regular expression"},
        {"{\"r\": 2, \"alpha_pattern\": {\"a{2}{2}{2}\": 2}}", CL_ERR_VALUE,
         "more than two {m,n} repetitions"},
        {"{\"r\": 2, \"rank_pattern\": {\"\": 2}}", CL_ERR_VALUE, "rank_pattern['']: key is empty"},
        {"{\"r\": 2, \"peft_type\": \"PREFIX_TUNING\"}", CL_ERR_UNSUPPORTED,
         "peft_type: 'PREFIX_TUNING' adapters are not imported (only LORA)"},
        {"{\"r\": 2, \"use_dora\": true}", CL_ERR_UNSUPPORTED, "use_dora: DoRA adapters are not imported"},
        {"{\"r\": 2, \"target_modules\": 5}", CL_ERR_FORMAT,
         "target_modules: expected a list of strings, a string or null, found an integer"},
        {"{\"r\": 2, \"target_modules\": [\"q\", 5]}", CL_ERR_FORMAT,
         "target_modules[1]: expected a string, found an integer"},
        {"{\"r\": 2, \"modules_to_save\": {}}", CL_ERR_FORMAT, "modules_to_save: expected a list"},
        {"{\"r\": 2, \"base_model_name_or_path\": 7}", CL_ERR_FORMAT,
         "base_model_name_or_path: expected a string, found an integer"},
        {"{\"r\": 2, \"r_sum\": -1}", CL_ERR_VALUE, "r_sum: -1 out of range"},
        /* a valid config that disagrees with the tensors */
        {"{}", CL_ERR_FORMAT, "module 'm.0.q': lora_A has 2 rows, but"},
        {"{\"r\": 3}", CL_ERR_FORMAT, "adapter_config.json gives r = 3 for it"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char d[600];
        snprintf(d, sizeof d, "%s/cfg%zu", scratch, i);
        make_adapter(d, cases[i].config, ONE, 2);
        cl_peft_adapter *a;
        cl_error err;
        int rc = open_dir(d, NULL, &a, &err);
        CHECK(rc == cases[i].code, "config %s: code %d (%s), expected %d", cases[i].config, rc,
              rc ? err.msg : "opened", cases[i].code);
        if (rc) {
            CHECK_CONTAINS(err.msg, d);
            CHECK_CONTAINS(err.msg, cases[i].msg);
        }
        cl_peft_close(a);
    }
    /* no config at all; a config too big to be one */
    char d[600], p[700];
    in_scratch(d, sizeof d, "nocfg");
    make_adapter(d, NULL, ONE, 2);
    cl_peft_adapter *a;
    cl_error err;
    CHECK(open_dir(d, NULL, &a, &err) == CL_ERR_IO, "missing config");
    CHECK_CONTAINS(err.msg, "nocfg/adapter_config.json: No such file");
    path_join(p, sizeof p, d, "adapter_config.json");
    write_text(p, "{\"r\": 2}");
    CHECK(truncate(p, 17 << 20) == 0, "grow config");
    CHECK(open_dir(d, NULL, &a, &err) == CL_ERR_FORMAT, "huge config");
    CHECK_CONTAINS(err.msg, "more than the 16777216-byte limit");
}

/* Missing keys take PEFT's defaults: r 8, lora_alpha 8, no rsLoRA; older
 * configs (no use_rslora, use_dora, peft_version) import. */
static void test_defaults(void)
{
    char d[600], store[600];
    in_scratch(d, sizeof d, "defaults");
    mk_tensor t[] = {{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {8, 3}},
                     {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 8}}};
    make_adapter(d, "{}", t, 2);
    cl_peft_adapter *a;
    cl_error err;
    if (open_dir(d, NULL, &a, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const cl_peft_info *in = cl_peft_get_info(a);
    const cl_peft_module *m = cl_peft_module_at(a, 0, 0);
    CHECK(in->r == 8 && in->alpha == 8 && !in->use_rslora && !in->fan_in_fan_out &&
              !strcmp(in->base_model, "") && !strcmp(in->task_type, "") && m->scale == 1.0,
          "defaults: r %d alpha %g scale %g", in->r, in->alpha, m->scale);
    CHECK(cl_peft_import(in_scratch(store, sizeof store, "defaults.h5"), &a, 1, NULL, &err) == CL_OK,
          "%s", err.msg);
    cl_peft_close(a);
    cl_store *s;
    if (cl_store_open(store, &s, &err) == CL_OK) {
        CHECK(!strcmp(cl_store_meta(s)->base_model, "unknown") &&
                  !strcmp(cl_store_task_name(s, 0), "defaults") &&
                  !strcmp(cl_store_meta(s)->scaling_rule, "alpha/r"),
              "store of a default config");
        cl_store_close(s, NULL);
    }
}

/* Tensor-level errors: pairs, ranks, shapes, dtypes, values. */
static void test_tensor_errors(void)
{
    struct {
        mk_tensor t[4];
        int n;
        const char *config;
        int code;
        const char *msg;
        int at_read;
    } cases[] = {
        {{ONE[0]}, 1, "{\"r\": 2}", CL_ERR_FORMAT, "module 'm.0.q': lora_A without lora_B", 0},
        {{ONE[1]}, 1, "{\"r\": 2}", CL_ERR_FORMAT, "module 'm.0.q': lora_B without lora_A", 0},
        {{ONE[0], {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 3}}}, 2, "{\"r\": 2}", CL_ERR_FORMAT,
         "lora_A has 2 rows but lora_B has 3 columns", 0},
        {{{KEY("m.0.q", "lora_A"), CL_ST_F32, 3, {2, 3, 1}}, ONE[1]}, 2, "{\"r\": 2}", CL_ERR_FORMAT,
         "tensor 'base_model.model.m.0.q.lora_A.weight': 3 dimensions, expected 2", 0},
        {{{KEY("m.0.q", "lora_A"), CL_ST_I32, 2, {2, 3}}, ONE[1]}, 2, "{\"r\": 2}", CL_ERR_UNSUPPORTED,
         "dtype I32, expected F32, F16, BF16 or F64", 0},
        {{{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {2, 0}}, ONE[1]}, 2, "{\"r\": 2}", CL_ERR_VALUE,
         "shape out of range", 0},
        {{{"base_model.model.classifier.weight", CL_ST_F32, 2, {2, 3}}}, 1, "{\"r\": 2}", CL_ERR_FORMAT,
         "no LoRA factors", 0},
        {{{".lora_A.weight", CL_ST_F32, 2, {2, 3}}}, 1, "{\"r\": 2}", CL_ERR_FORMAT,
         "tensor '.lora_A.weight': no module name before lora_A.weight", 0},
        {{ONE[0], ONE[1], {"m.0.q.lora_A.weight", CL_ST_F32, 2, {2, 3}}}, 3, "{\"r\": 2}", CL_ERR_FORMAT,
         "module 'm.0.q': two lora_A tensors", 0},
        /* O-LoRA layout: 6 rows are not a whole number of rank-4 tasks */
        {{{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {6, 3}}, {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 6}}},
         2, "{\"r\": 4, \"r_sum\": 6}", CL_ERR_FORMAT, "lora_A has 6 rows, not a multiple of r = 4", 0},
        {{{KEY("m.0.q", "loranew_A"), CL_ST_F32, 2, {3, 3}}, {KEY("m.0.q", "loranew_B"), CL_ST_F32, 2, {4, 3}}},
         2, "{\"r\": 4}", CL_ERR_FORMAT, "loranew_A has 3 rows, but", 0},
        {{{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {4, 3}}, {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 4}},
          {KEY("m.1.q", "lora_A"), CL_ST_F32, 2, {8, 3}}, {KEY("m.1.q", "lora_B"), CL_ST_F32, 2, {4, 8}}},
         4, "{\"r\": 4, \"r_sum\": 4}", CL_ERR_FORMAT, "module 'm.1.q': holds 2 tasks, but module 'm.0.q' holds 1", 0},
        {{{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {2, 3}}, {KEY("m.0.q", "loranew_B"), CL_ST_F32, 2, {4, 2}},
          ONE[1]}, 3, "{\"r\": 2}", CL_ERR_FORMAT, "loranew_B without loranew_A", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char d[600];
        snprintf(d, sizeof d, "%s/tensors%zu", scratch, i);
        make_adapter(d, cases[i].config, cases[i].t, cases[i].n);
        cl_peft_adapter *a;
        cl_error err;
        int rc = open_dir(d, NULL, &a, &err);
        CHECK(rc == cases[i].code, "tensor case %zu: code %d (%s), expected %d", i, rc,
              rc ? err.msg : "opened", cases[i].code);
        if (rc) {
            CHECK_CONTAINS(err.msg, d);
            CHECK_CONTAINS(err.msg, cases[i].msg);
        }
        cl_peft_close(a);
    }
}

/* NaN and Inf are refused when the factors are read, naming the element. */
static void test_non_finite(void)
{
    for (int kind = 0; kind < 2; kind++) {
        char d[600], p[700];
        snprintf(d, sizeof d, "%s/nonfinite%d", scratch, kind);
        mkdir(d, 0777);
        path_join(p, sizeof p, d, "adapter_config.json");
        write_text(p, "{\"r\": 2}");
        float A[6] = {1, 2, 3, 4, 5, 6}, B[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        if (kind == 0)
            B[2] = NAN; /* B[1, 0] */
        else
            A[4] = INFINITY; /* A[1, 1] */
        cl_st_write_tensor w[2] = {{KEY("m.0.q", "lora_A"), CL_ST_F32, 2, {2, 3}, A},
                                   {KEY("m.0.q", "lora_B"), CL_ST_F32, 2, {4, 2}, B}};
        cl_error err;
        path_join(p, sizeof p, d, "adapter_model.safetensors");
        CHECK(cl_st_write(p, w, 2, NULL, 0, &err) == CL_OK, "%s", err.msg);
        cl_peft_adapter *a;
        if (open_dir(d, NULL, &a, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        char store[600];
        snprintf(store, sizeof store, "%s/nonfinite%d.h5", scratch, kind);
        CHECK(cl_peft_import(store, &a, 1, NULL, &err) == CL_ERR_VALUE, "non-finite imported");
        CHECK_CONTAINS(err.msg, kind ? "lora_A.weight': element [1, 1] is Inf"
                                     : "lora_B.weight': element [1, 0] is NaN");
        CHECK(access(store, F_OK) != 0, "a failed import left %s", store);
        cl_peft_close(a);
    }
}

/* Non-LoRA tensors are reported and skipped, never paired; targets that
 * match nothing are reported. */
static void test_skipped(void)
{
    char d[600];
    in_scratch(d, sizeof d, "skipped");
    mk_tensor t[] = {ONE[0],
                     ONE[1],
                     {"base_model.model.classifier.weight", CL_ST_F32, 2, {2, 3}},
                     {"base_model.model.classifier.bias", CL_ST_F32, 1, {2}},
                     {"base_model.model.m.0.q.lora_B.bias", CL_ST_F32, 1, {4}},
                     {"base_model.model.embed.lora_embedding_A", CL_ST_F32, 2, {2, 5}},
                     {"base_model.model.m.0.q.lora_magnitude_vector", CL_ST_F32, 1, {4}},
                     {"base_model.model.m.0.q.lora_A.default.weight", CL_ST_F32, 2, {2, 3}},
                     {"base_model.model.norm.weight", CL_ST_F32, 1, {3}}};
    make_adapter(d,
                 "{\"r\": 2, \"modules_to_save\": [\"classifier\", \"score\"], "
                 "\"target_modules\": [\"q\", \"V\"]}",
                 t, 9);
    notes nt = {0};
    cl_peft_adapter *a;
    cl_error err;
    if (open_dir(d, &nt, &a, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const cl_peft_info *in = cl_peft_get_info(a);
    CHECK(in->n_modules == 1 && in->n_skipped == 7 && nt.n == 8, "%d modules, %d skipped, %d notes",
          in->n_modules, in->n_skipped, nt.n);
    const char *want[] = {
        "classifier.weight: full tensor of modules_to_save entry 'classifier', not a LoRA factor; skipped",
        "classifier.bias: full tensor of modules_to_save entry 'classifier'",
        "lora_B.bias: LoRA bias (lora_bias): not part of dW = s * B * A; skipped",
        "lora_embedding_A: embedding LoRA (lora_embedding_A/B) is not imported; skipped",
        "lora_magnitude_vector: DoRA magnitude vector: not imported; skipped",
        "lora_A.default.weight: LoRA factor under an unexpected name",
        "norm.weight: not a LoRA factor (no lora_A/lora_B in its name); skipped",
        "adapter_config.json: target_modules: entry 'V' matches no module with tensors"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(notes_have(&nt, want[i]), "no note \"%s\"", want[i]);
    CHECK(notes_have(&nt, "skipped/adapter_model.safetensors: base_model.model.classifier"),
          "notes name the file");
    cl_peft_close(a);
}

/* rank_pattern / alpha_pattern: PEFT's re.match(rf"(.*\.)?({key})$", name),
 * first matching key wins; rsLoRA divides by sqrt(r). */
static void test_patterns(void)
{
    const char *names[4] = {"enc.0.q", "enc.0.xq", "enc.1.q", "dec.0.q"};
    int ranks[4] = {2, 4, 3, 3};
    double alpha[4] = {6, 8, 12, 6};
    mk_tensor t[8];
    char keys[8][64];
    for (int m = 0; m < 4; m++) {
        snprintf(keys[2 * m], 64, "base_model.model.%s.lora_A.weight", names[m]);
        snprintf(keys[2 * m + 1], 64, "base_model.model.%s.lora_B.weight", names[m]);
        t[2 * m] = (mk_tensor){keys[2 * m], CL_ST_F32, 2, {ranks[m], 5}};
        t[2 * m + 1] = (mk_tensor){keys[2 * m + 1], CL_ST_F32, 2, {6, ranks[m]}};
    }
    for (int rs = 0; rs < 2; rs++) {
        char d[600], cfg[512];
        snprintf(d, sizeof d, "%s/patterns%d", scratch, rs);
        snprintf(cfg, sizeof cfg,
                 "{\"r\": 4, \"lora_alpha\": 8, \"use_rslora\": %s, "
                 "\"rank_pattern\": {\"enc\\\\.0\\\\.q\": 2, \"q\": 3}, "
                 "\"alpha_pattern\": {\"1\\\\.q\": 12, \"(enc|dec)\\\\.0\\\\.q\": 6, \"q\": 100}}",
                 rs ? "true" : "false");
        make_adapter(d, cfg, t, 8);
        cl_peft_adapter *a;
        cl_error err;
        if (open_dir(d, NULL, &a, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        /* natural order: dec.0.q, enc.0.q, enc.0.xq, enc.1.q */
        const int order[4] = {3, 0, 1, 2};
        for (int i = 0; i < 4; i++) {
            const cl_peft_module *m = cl_peft_module_at(a, 0, i);
            int w = order[i];
            double s = rs ? alpha[w] / sqrt(ranks[w]) : alpha[w] / ranks[w];
            CHECK(!strcmp(m->name, names[w]) && m->rank == ranks[w] && m->alpha == alpha[w] &&
                      m->scale == s,
                  "rslora %d: %s rank %d alpha %g scale %.17g (want %s %d %g %.17g)", rs, m->name,
                  m->rank, m->alpha, m->scale, names[w], ranks[w], alpha[w], s);
        }
        cl_peft_close(a);
    }
}

/* Adapters of one store must adapt the same modules with the same shapes;
 * the first mismatch is the error and nothing is written. */
static void test_mismatch(void)
{
    char base[600], f1[600], f2[600], store[600];
    in_scratch(store, sizeof store, "mismatch.h5");
    fixture(f1, sizeof f1, "llama/task1");
    fixture(f2, sizeof f2, "t5/task1");
    cl_error err;
    CHECK(import_dirs(store, (const char *const[]){f1, f2}, 2, NULL, &err) == CL_ERR_FORMAT,
          "llama + t5 imported");
    CHECK_CONTAINS(err.msg, "t5/task1: module 'decoder.block.0.layer.0.SelfAttention.q': not in ");
    CHECK_CONTAINS(err.msg, "llama/task1 (the first adapter)");
    CHECK_CONTAINS(err.msg, "the bases differ: 'tests/fixtures/peft/t5/base' vs 'tests/fixtures/peft/llama/base'");
    /* hand-made: a missing module, an extra one, a different shape */
    mk_tensor two[] = {ONE[0], ONE[1], {KEY("m.1.q", "lora_A"), CL_ST_F32, 2, {2, 3}},
                       {KEY("m.1.q", "lora_B"), CL_ST_F32, 2, {4, 2}}};
    mk_tensor shape[] = {ONE[0], ONE[1], {KEY("m.1.q", "lora_A"), CL_ST_F32, 2, {2, 3}},
                         {KEY("m.1.q", "lora_B"), CL_ST_F32, 2, {5, 2}}};
    mk_tensor other[] = {ONE[0], ONE[1], {KEY("m.1.k", "lora_A"), CL_ST_F32, 2, {2, 3}},
                         {KEY("m.1.k", "lora_B"), CL_ST_F32, 2, {4, 2}}};
    const char *cfg = "{\"r\": 2, \"base_model_name_or_path\": \"tiny\"}";
    char d1[600], d2[600], d3[600], d4[600];
    make_adapter(in_scratch(base, sizeof base, "two"), cfg, two, 4);
    make_adapter(in_scratch(d1, sizeof d1, "one"), cfg, ONE, 2);
    make_adapter(in_scratch(d2, sizeof d2, "shape"), cfg, shape, 4);
    make_adapter(in_scratch(d3, sizeof d3, "other"), cfg, other, 4);
    make_adapter(in_scratch(d4, sizeof d4, "twin"), "{\"r\": 2, \"base_model_name_or_path\": \"tiny-v2\"}",
                 two, 4);
    struct {
        const char *a, *b, *msg;
    } cases[] = {
        {base, d1, "one: module 'm.1.q': missing, though "},
        {d1, base, "two: module 'm.1.q': not in "},
        {base, d2, "shape: module 'm.1.q': 5 x 3 (d_out x d_in), but 4 x 3 in "},
        {base, d3, "other: module 'm.1.k': not in "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(import_dirs(store, (const char *const[]){cases[i].a, cases[i].b}, 2, NULL, &err) ==
                  CL_ERR_FORMAT,
              "mismatch %zu imported", i);
        CHECK_CONTAINS(err.msg, cases[i].msg);
        CHECK(!strstr(err.msg, "bases differ"), "same bases named as different");
        CHECK(access(store, F_OK) != 0, "mismatch %zu left a store", i);
    }
    /* the same modules under another base name: imported, with a note */
    cl_peft_adapter *a[2] = {0};
    notes nt = {0};
    CHECK(cl_peft_open(base, NULL, NULL, &a[0], &err) == CL_OK && cl_peft_open(d4, NULL, NULL, &a[1], &err) == CL_OK,
          "%s", err.msg);
    cl_peft_import_spec sp = {.note = note_count, .note_ctx = &nt};
    CHECK(cl_peft_import(store, a, 2, &sp, &err) == CL_OK, "%s", err.msg);
    CHECK(nt.n == 1 && notes_have(&nt, "twin: base_model_name_or_path: names base 'tiny-v2', the first adapter 'tiny'"),
          "base note: %s", nt.last[0]);
    /* task names: given (count checked, no repeats) and defaults made unique */
    const char *n3[3] = {"a", "b", "c"}, *dup[2] = {"a", "a"};
    sp = (cl_peft_import_spec){.task_names = n3, .n_task_names = 3};
    CHECK(cl_peft_import(store, a, 2, &sp, &err) == CL_ERR_ARG, "3 names for 2 tasks");
    CHECK_CONTAINS(err.msg, "3 task names given for 2 tasks");
    sp = (cl_peft_import_spec){.task_names = dup, .n_task_names = 2};
    CHECK(cl_peft_import(store, a, 2, &sp, &err) == CL_ERR_ARG, "repeated names");
    CHECK_CONTAINS(err.msg, "task name 'a' given twice");
    cl_peft_adapter *same[2] = {a[0], a[0]};
    CHECK(cl_peft_import(store, same, 2, NULL, &err) == CL_OK, "%s", err.msg);
    cl_store *s;
    if (cl_store_open(store, &s, &err) == CL_OK) {
        CHECK(!strcmp(cl_store_task_name(s, 0), "two") && !strcmp(cl_store_task_name(s, 1), "two-2"),
              "unique default names: %s %s", cl_store_task_name(s, 0), cl_store_task_name(s, 1));
        cl_store_close(s, NULL);
    }
    cl_peft_close(a[0]);
    cl_peft_close(a[1]);
}

/* Pickles are refused with the conversion command; no weights at all is
 * an I/O error naming what is missing. */
static void test_pickle(void)
{
    char d[600], p[700];
    in_scratch(d, sizeof d, "pickle");
    make_adapter(d, "{\"r\": 2}", NULL, 0);
    path_join(p, sizeof p, d, "adapter_model.bin");
    write_text(p, "\x80\x02}q\x00.");
    const char *paths[2] = {d, p};
    for (int i = 0; i < 2; i++) {
        cl_peft_adapter *a;
        cl_error err;
        /* read without torch now (test_torch_pickle.c); a bare pickle is
         * no torch.save checkpoint and is refused as such */
        CHECK(open_dir(paths[i], NULL, &a, &err) == CL_ERR_FORMAT, "pickle %d accepted", i);
        CHECK_CONTAINS(err.msg, "pickle/adapter_model.bin: a pickle without torch's legacy magic "
                                "number: not a torch.save checkpoint");
    }
    unlink(p);
    cl_peft_adapter *a;
    cl_error err;
    CHECK(open_dir(d, NULL, &a, &err) == CL_ERR_IO, "no weights");
    CHECK_CONTAINS(err.msg, "pickle: no adapter_model.safetensors");
    CHECK(open_dir("/nonexistent/adapter", NULL, &a, &err) == CL_ERR_IO, "missing dir");
    CHECK_CONTAINS(err.msg, "/nonexistent/adapter: No such file");
    /* a damaged safetensors file: the reader's message, naming the file */
    path_join(p, sizeof p, d, "adapter_model.safetensors");
    write_bytes(p, "\x10\0\0\0\0\0\0\0{\"a\": 1}", 16);
    CHECK(open_dir(d, NULL, &a, &err) == CL_ERR_FORMAT, "damaged weights");
    CHECK_CONTAINS(err.msg, "pickle/adapter_model.safetensors: header length 16 runs past the end");
}

/* A failed import leaves the existing output as it was and no temporary
 * file behind; a successful one replaces it. */
static void test_atomic(void)
{
    char out[600], f1[600], f2[600];
    in_scratch(out, sizeof out, "atomic");
    mkdir(out, 0777);
    char store[700];
    path_join(store, sizeof store, out, "keep.h5");
    write_text(store, "precious");
    fixture(f1, sizeof f1, "llama/task1");
    fixture(f2, sizeof f2, "gpt2/task1");
    cl_error err;
    CHECK(import_dirs(store, (const char *const[]){f1, f2}, 2, NULL, &err) == CL_ERR_FORMAT,
          "mismatch imported");
    char buf[64] = {0};
    FILE *f = fopen(store, "r");
    CHECK(f && fgets(buf, sizeof buf, f) && !strcmp(buf, "precious"), "output clobbered: %s", buf);
    if (f)
        fclose(f);
    /* fail late, while writing: a NaN in the second adapter */
    char bad[600], p[700];
    in_scratch(bad, sizeof bad, "late");
    mkdir(bad, 0777);
    path_join(p, sizeof p, bad, "adapter_config.json");
    write_text(p, "{\"r\": 4, \"base_model_name_or_path\": \"tests/fixtures/peft/llama/base\"}");
    cl_safetensors *st;
    char src[700];
    path_join(src, sizeof src, f1, "adapter_model.safetensors");
    if (cl_st_open(src, &st, &err) == CL_OK) {
        int n = cl_st_count(st);
        cl_st_write_tensor w[8];
        float *v[8];
        for (int i = 0; i < n && i < 8; i++) {
            const cl_st_tensor *t = cl_st_get(st, i);
            v[i] = malloc((size_t)t->count * sizeof(float));
            cl_st_read_f32(st, t, v[i], &err);
            if (i == n - 1)
                v[i][t->count - 1] = NAN;
            w[i] = (cl_st_write_tensor){t->name, CL_ST_F32, 2, {t->shape[0], t->shape[1]}, v[i]};
        }
        path_join(p, sizeof p, bad, "adapter_model.safetensors");
        CHECK(cl_st_write(p, w, n, NULL, 0, &err) == CL_OK, "%s", err.msg);
        for (int i = 0; i < n && i < 8; i++)
            free(v[i]);
        cl_st_close(st);
    }
    CHECK(import_dirs(store, (const char *const[]){f1, bad}, 2, NULL, &err) == CL_ERR_VALUE,
          "NaN imported");
    CHECK_CONTAINS(err.msg, "is NaN");
    f = fopen(store, "r");
    CHECK(f && fgets(buf, sizeof buf, f) && !strcmp(buf, "precious"), "output clobbered late");
    if (f)
        fclose(f);
    DIR *dd = opendir(out);
    int files = 0;
    for (struct dirent *e; dd && (e = readdir(dd));)
        files += e->d_name[0] != '.';
    if (dd)
        closedir(dd);
    CHECK(files == 1, "%d files in %s (temporary files left?)", files, out);
    CHECK(import_dirs(store, (const char *const[]){f1}, 1, NULL, &err) == CL_OK, "%s", err.msg);
    cl_store *s = NULL;
    CHECK(cl_store_open(store, &s, &err) == CL_OK, "replaced store does not open: %s", err.msg);
    if (s)
        cl_store_close(s, NULL);
}

int main(void)
{
    check_begin("test_peft_errors");
    scratch_begin("peft-errors");
    test_config_errors();
    test_defaults();
    test_tensor_errors();
    test_non_finite();
    test_skipped();
    test_patterns();
    test_mismatch();
    test_pickle();
    test_atomic();
    scratch_end();
    return check_done();
}
