/*
 * test_peft_train.c -- adapters trained by collide-train, written by
 * collide-export, against what PEFT makes of them (issue 15, item 2).
 *
 * usage: test_peft_train BINDIR [FIXTURE]
 *
 * FIXTURE (default tests/fixtures/peft/collide_train) was written by
 * tests/ref/collide_train_peft.py: the adapters collide-export wrote for a
 * short collide-train run on the committed base (model/base), the logits
 * transformers + PEFT computed with each loaded by PeftModel.from_pretrained,
 * and the training arguments. Without torch, this test checks:
 *
 *  1. the committed adapters: keys base_model.model.model.layers.N.
 *     self_attn.q_proj.lora_A.weight ... (the LlamaForCausalLM module paths),
 *     shapes, and adapter_config.json (target_modules, task_type CAUSAL_LM,
 *     lora_dropout, r, lora_alpha);
 *  2. collide's own logits with each adapter applied to model/base equal
 *     PEFT's within float32 tolerance, while the adapter moves them far more
 *     (so a wrong module, scale or task would fail), and the base's logits
 *     equal transformers';
 *  3. collide-train run again with the same arguments (OMP_NUM_THREADS=1)
 *     and exported: the same names and config, the same factors (bit for bit
 *     on the machine that made the fixture; a last-bit difference of another
 *     BLAS is allowed and reported), and again PEFT's logits.
 *
 * tests/import/roundtrip.py runs the reference script into a scratch folder
 * and this test on it, when torch and peft are installed.
 */
#include "check.h"
#include "llama.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

/* snprintf that fails the test, rather than truncating a path silently */
__attribute__((format(printf, 3, 4))) static void fmtbuf(char *buf, size_t size,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < size, "a path or command longer than %zu bytes", size);
}

#define LOGIT_RTOL 1e-4 /* of max |logit|: float32 sums over 4 layers */
#define EFFECT_MIN 100  /* the adapter's effect / the difference allowed */

static char bindir[1024], fixture[1024], srcdir[1024];
static json_t *ref_meta;
static cl_safetensors *ref;
static int T;
static int32_t ids[256];

/* What the training arguments say the export must hold. */
static struct {
    int rank;
    double alpha, dropout;
    unsigned targets; /* 1 << cl_proj */
} want;

static const char *arg_after(const char *flag)
{
    json_t *a = json_object_get(ref_meta, "train_args");
    for (size_t i = 0; i + 1 < json_array_size(a); i++)
        if (!strcmp(json_string_value(json_array_get(a, i)), flag))
            return json_string_value(json_array_get(a, i + 1));
    return NULL;
}

static float *read_tensor(cl_safetensors *st, const char *name, int64_t *count)
{
    const cl_st_tensor *t = cl_st_find(st, name);
    if (!t) {
        CHECK(0, "%s: tensor %s missing", cl_st_path(st), name);
        return NULL;
    }
    float *x = malloc((size_t)t->count * sizeof *x);
    cl_error err;
    if (!x || cl_st_read_f32(st, t, x, &err)) {
        CHECK(0, "%s: %s", name, x ? err.msg : "out of memory");
        free(x);
        return NULL;
    }
    if (count)
        *count = t->count;
    return x;
}

/* "base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight": layer,
 * projection and factor (0 = A, 1 = B); -1 when the key is not of that form
 * (the parent must be self_attn for q, k, v, o and mlp for the others). */
static int parse_key(const char *key, int *layer, cl_proj *p)
{
    static const char *pre = "base_model.model.model.layers.";
    if (strncmp(key, pre, strlen(pre)))
        return -1;
    const char *s = key + strlen(pre);
    char *end;
    long l = strtol(s, &end, 10);
    if (end == s || *end != '.' || l < 0 || l > 1000)
        return -1;
    char parent[32], proj[32], fac[8];
    if (sscanf(end + 1, "%31[a-z_].%31[a-z_].lora_%1[AB].weight", parent, proj, fac) != 3)
        return -1;
    char tail[128];
    fmtbuf(tail, sizeof tail, "%s.%s.lora_%s.weight", parent, proj, fac);
    if (strcmp(end + 1, tail) || !strstr(proj, "_proj") || cl_proj_parse(proj, p))
        return -1;
    int attn = *p <= CL_PROJ_O;
    if (strcmp(parent, attn ? "self_attn" : "mlp"))
        return -1;
    *layer = (int)l;
    return fac[0] == 'B';
}

/* The adapter of DIR applied to model/base, as collide computes it: its
 * logits on the fixture's input (NULL: the base alone). Also checks every
 * key, shape and the config against the training arguments. */
static float *collide_logits(const char *dir, int64_t *n_out)
{
    char p[1200];
    fmtbuf(p, sizeof p, "%s/model/base", srcdir);
    cl_llama *m;
    cl_error err;
    if (cl_llama_load(p, &m, &err)) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    const cl_llama_config *c = cl_llama_cfg(m);
    if (dir) {
        fmtbuf(p, sizeof p, "%s/adapter_config.json", dir);
        json_error_t je;
        json_t *cfg = json_load_file(p, 0, &je);
        CHECK(cfg, "%s: %s", p, je.text);
        if (!cfg) {
            cl_llama_free(m);
            return NULL;
        }
        int r = (int)json_integer_value(json_object_get(cfg, "r"));
        double alpha = json_number_value(json_object_get(cfg, "lora_alpha"));
        const char *tt = json_string_value(json_object_get(cfg, "task_type"));
        const char *pt = json_string_value(json_object_get(cfg, "peft_type"));
        const char *bm = json_string_value(json_object_get(cfg, "base_model_name_or_path"));
        CHECK(pt && !strcmp(pt, "LORA"), "%s: peft_type %s", p, pt ? pt : "null");
        CHECK(tt && !strcmp(tt, "CAUSAL_LM"), "%s: task_type %s", p, tt ? tt : "null");
        CHECK(r == want.rank && alpha == want.alpha, "%s: r %d lora_alpha %g, trained with %d, %g",
              p, r, alpha, want.rank, want.alpha);
        CHECK(json_number_value(json_object_get(cfg, "lora_dropout")) == want.dropout,
              "%s: lora_dropout %g, trained with %g", p,
              json_number_value(json_object_get(cfg, "lora_dropout")), want.dropout);
        CHECK(json_is_false(json_object_get(cfg, "use_rslora")) &&
                  json_is_false(json_object_get(cfg, "fan_in_fan_out")) &&
                  json_object_size(json_object_get(cfg, "rank_pattern")) == 0 &&
                  json_object_size(json_object_get(cfg, "alpha_pattern")) == 0,
              "%s: rsLoRA, fan_in_fan_out or patterns written", p);
        CHECK(bm && !strcmp(bm, "model/base"), "%s: base_model_name_or_path %s", p,
              bm ? bm : "null");
        /* target_modules: exactly the HF names of the trained projections */
        json_t *tm = json_object_get(cfg, "target_modules");
        unsigned got = 0;
        size_t i;
        json_t *v;
        json_array_foreach(tm, i, v)
        {
            cl_proj q;
            const char *s = json_string_value(v);
            int ok = s && !cl_proj_parse(s, &q) && !strcmp(s, cl_proj_hf_name(q));
            CHECK(ok, "%s: target_modules entry %s is not a LlamaForCausalLM projection", p,
                  s ? s : "?");
            if (ok)
                got |= 1u << q;
        }
        CHECK(got == want.targets && json_array_size(tm) == (size_t)__builtin_popcount(want.targets),
              "%s: target_modules %#x, trained %#x", p, got, want.targets);
        json_decref(cfg);

        fmtbuf(p, sizeof p, "%s/adapter_model.safetensors", dir);
        cl_safetensors *ad;
        if (cl_st_open(p, &ad, &err)) {
            CHECK(0, "%s", err.msg);
            cl_llama_free(m);
            return NULL;
        }
        int n_keys = cl_st_count(ad), added = 0;
        CHECK(n_keys == 2 * c->num_layers * __builtin_popcount(want.targets),
              "%s: %d tensors for %d layers x %d projections", p, n_keys, c->num_layers,
              __builtin_popcount(want.targets));
        for (int k = 0; k < n_keys; k++) {
            const char *key = cl_st_get(ad, k)->name;
            int l;
            cl_proj q;
            int f = parse_key(key, &l, &q);
            CHECK(f >= 0 && l < c->num_layers && ((want.targets >> q) & 1),
                  "%s: key %s is not a LoRA factor of a trained LlamaForCausalLM module", p, key);
            if (f != 0 || l >= c->num_layers)
                continue;
            char kb[300];
            fmtbuf(kb, sizeof kb, "%.*s.lora_B.weight", (int)(strlen(key) - strlen(".lora_A.weight")),
                     key);
            const cl_st_tensor *ta = cl_st_get(ad, k), *tb = cl_st_find(ad, kb);
            int HD = c->num_heads * c->head_dim, KD = c->num_kv_heads * c->head_dim;
            int C = c->hidden_size, F = c->intermediate_size;
            int din = q == CL_PROJ_O ? HD : q == CL_PROJ_DOWN ? F : C;
            int dout = q == CL_PROJ_Q ? HD : q <= CL_PROJ_V ? KD : q == CL_PROJ_O ? C
                       : q == CL_PROJ_DOWN ? C : F;
            CHECK(tb && ta->ndim == 2 && tb->ndim == 2 && ta->shape[0] == r && ta->shape[1] == din &&
                      tb->shape[0] == dout && tb->shape[1] == r,
                  "%s: %s shape, or its lora_B missing", p, key);
            if (!tb || ta->count != (int64_t)r * din || tb->count != (int64_t)dout * r)
                continue;
            float *A = read_tensor(ad, key, NULL), *B = read_tensor(ad, kb, NULL);
            if (A && B) {
                /* PEFT: scaling = lora_alpha / r */
                CHECK(cl_llama_lora_add_frozen(m, l, q, r, A, B, (float)(alpha / r), &err) == CL_OK,
                      "%s", err.msg);
                added++;
            }
            free(A), free(B);
        }
        CHECK(2 * added == n_keys, "%s: %d of %d modules applied", p, added, n_keys / 2);
        cl_st_close(ad);
    }
    float *out = NULL;
    if (cl_llama_prepare(m, 1, T, 0, &err)) {
        CHECK(0, "%s", err.msg);
    } else {
        cl_llama_forward(m, ids, NULL, NULL, 0, 0);
        *n_out = (int64_t)T * c->vocab_size;
        out = malloc((size_t)*n_out * sizeof *out);
        if (out)
            memcpy(out, cl_llama_logits(m), (size_t)*n_out * sizeof *out);
    }
    cl_llama_free(m);
    return out;
}

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double worst_logit_diff;

/* collide's logits with the adapter of DIR against PEFT's for task TASK;
 * the adapter must move PEFT's logits far more than they differ. */
static void compare_task(const char *what, const char *dir, const char *task, const float *base)
{
    char nm[200];
    fmtbuf(nm, sizeof nm, "logits.%s", task);
    int64_t n = 0, np = 0;
    float *peft = read_tensor(ref, nm, &np), *mine = collide_logits(dir, &n);
    if (peft && mine && base && n == np) {
        double d = max_diff(mine, peft, n), scale = max_abs(peft, n);
        double effect = max_diff(peft, base, n);
        worst_logit_diff = fmax(worst_logit_diff, d);
        CHECK(d <= LOGIT_RTOL * scale, "%s %s: collide's logits differ from PEFT's by %.3g (max |logit| %.3g)",
              what, task, d, scale);
        CHECK(effect >= EFFECT_MIN * LOGIT_RTOL * scale,
              "%s %s: the adapter moves the logits by only %.3g: the comparison cannot tell", what,
              task, effect);
        printf("%s %s: max |collide - PEFT| = %.3g (max |logit| %.3g; the adapter moves them by %.3g)\n",
               what, task, d, scale, effect);
    } else {
        CHECK(0, "%s %s: logits missing or of another size (%lld vs %lld)", what, task,
              (long long)n, (long long)np);
    }
    free(peft), free(mine);
}

/* Every factor of two exports: bit-identical is expected (a fixed seed, one
 * thread); returns the largest difference relative to max |factor|. */
static double compare_factors(const char *a_dir, const char *b_dir)
{
    char pa[1200], pb[1200];
    fmtbuf(pa, sizeof pa, "%s/adapter_model.safetensors", a_dir);
    fmtbuf(pb, sizeof pb, "%s/adapter_model.safetensors", b_dir);
    cl_safetensors *a, *b;
    cl_error err;
    double worst = 0;
    if (cl_st_open(pa, &a, &err)) {
        CHECK(0, "%s", err.msg);
        return INFINITY;
    }
    if (cl_st_open(pb, &b, &err)) {
        CHECK(0, "%s", err.msg);
        cl_st_close(a);
        return INFINITY;
    }
    CHECK(cl_st_count(a) == cl_st_count(b), "%s and %s: %d vs %d tensors", pa, pb, cl_st_count(a),
          cl_st_count(b));
    for (int i = 0; i < cl_st_count(a); i++) {
        const char *name = cl_st_get(a, i)->name;
        int64_t na = 0, nb = 0;
        float *x = read_tensor(a, name, &na), *y = cl_st_find(b, name) ? read_tensor(b, name, &nb) : NULL;
        CHECK(y && na == nb, "%s: %s missing or of another size in %s", pa, name, pb);
        if (x && y && na == nb) {
            double s = max_abs(x, na);
            worst = fmax(worst, s > 0 ? max_diff(x, y, na) / s : max_diff(x, y, na));
        }
        free(x), free(y);
    }
    cl_st_close(a), cl_st_close(b);
    return worst;
}

/* The naming rules on small hand-made stores: collide's names with a
 * train_config are mapped (target_modules the full paths when the layers do
 * not all carry the same projections), names that are not collide's are kept
 * even with a train_config, and without one nothing is mapped. */
static void export_rules(const char *tmp)
{
    static const char *const collide_names[] = {"layers.0.attn.q", "layers.1.attn.q", "layers.0.mlp.down"};
    static const char *const hf_paths[] = {"model.layers.0.self_attn.q_proj",
                                           "model.layers.1.self_attn.q_proj",
                                           "model.layers.0.mlp.down_proj"};
    static const char *const kept[] = {"layers.0.attn.q", "layers.1.attn.qq", "layers.0.mlp.down"};
    struct {
        const char *tag, *train_config;
        const char *const *names, *const *want;
        const char *task_type;
        double dropout;
    } cases[] = {
        {"mapped", "{\"dropout\": 0.25, \"method\": \"inclora\"}", collide_names, hf_paths, "CAUSAL_LM", 0.25},
        {"kept", "{\"dropout\": 0.25}", kept, kept, "CAUSAL_LM", 0.25},
        {"no-train-config", "", collide_names, collide_names, NULL, 0.0},
    };
    int64_t dout[3] = {4, 4, 4}, din[3] = {4, 4, 6};
    int32_t rank[3] = {1, 1, 1};
    double scale[3] = {2, 2, 2};
    float A[3][6] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {1, 1, 1, 1, 1, 1}}, B[3][4] = {{1, 0, 1, 0}, {0, 1, 0, 1}, {1, 1, 1, 1}};
    const float *pa[3] = {A[0], A[1], A[2]}, *pb[3] = {B[0], B[1], B[2]};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* "kept" is not collide's naming (attn.qq): no mapping, though its
         * train_config still makes it a collide-train (CAUSAL_LM) store */
        char store[600], out[600], p[800];
        fmtbuf(store, sizeof store, "%s/%s.h5", tmp, cases[c].tag);
        fmtbuf(out, sizeof out, "%s/%s", tmp, cases[c].tag);
        const char *task = "t1";
        cl_store_spec spec = {
            .meta = {.method = "inclora", .rank = 1, .alpha = 2, .scaling = 2, .scaling_rule = "alpha/r",
                     .penalty_form = "none", .seed = 1, .base_model = "model/base",
                     .created_by = "test_peft_train", .train_config = cases[c].train_config},
            .n_tasks = 1, .task_names = &task, .n_modules = 3, .module_names = cases[c].names,
            .d_out = dout, .d_in = din, .rank = rank};
        cl_store *st;
        cl_error err;
        cl_snapshot_row row = {.task = 0, .kind = CL_SNAP_END_OF_TASK, .loss = NAN, .loss_task = NAN};
        if (cl_store_create(store, &spec, &st, &err) ||
            cl_store_append(st, &row, pa, pb, rank, scale, NULL, 0, &err) || cl_store_close(st, &err)) {
            CHECK(0, "%s: %s", cases[c].tag, err.msg);
            continue;
        }
        if (cl_store_open(store, &st, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        cl_peft_exported *e = NULL;
        int n = 0;
        CHECK(cl_peft_export(st, out, NULL, &e, &n, &err) == CL_OK && n == 1, "%s: %s", cases[c].tag,
              err.msg);
        cl_peft_exported_free(e, n);
        cl_store_close(st, NULL);
        fmtbuf(p, sizeof p, "%s/t1/adapter_config.json", out);
        json_error_t je;
        json_t *cfg = json_load_file(p, 0, &je);
        CHECK(cfg, "%s: %s", p, je.text);
        if (!cfg)
            continue;
        json_t *tm = json_object_get(cfg, "target_modules");
        CHECK(json_array_size(tm) == 3, "%s: %zu target_modules", cases[c].tag, json_array_size(tm));
        for (int m = 0; m < 3 && m < (int)json_array_size(tm); m++) {
            const char *got = json_string_value(json_array_get(tm, (size_t)m));
            CHECK(got && !strcmp(got, cases[c].want[m]), "%s: target_modules[%d] %s, expected %s",
                  cases[c].tag, m, got ? got : "null", cases[c].want[m]);
        }
        const char *tt = json_string_value(json_object_get(cfg, "task_type"));
        CHECK(cases[c].task_type ? tt && !strcmp(tt, cases[c].task_type) : json_is_null(json_object_get(cfg, "task_type")),
              "%s: task_type %s", cases[c].tag, tt ? tt : "null");
        CHECK(json_number_value(json_object_get(cfg, "lora_dropout")) == cases[c].dropout,
              "%s: lora_dropout %g", cases[c].tag, json_number_value(json_object_get(cfg, "lora_dropout")));
        json_decref(cfg);
        fmtbuf(p, sizeof p, "%s/t1/adapter_model.safetensors", out);
        cl_safetensors *ad;
        if (cl_st_open(p, &ad, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        for (int m = 0; m < 3; m++) {
            char key[300];
            fmtbuf(key, sizeof key, "base_model.model.%s.lora_A.weight", cases[c].want[m]);
            CHECK(cl_st_find(ad, key), "%s: %s missing", cases[c].tag, key);
        }
        CHECK(cl_st_count(ad) == 6, "%s: %d tensors", cases[c].tag, cl_st_count(ad));
        cl_st_close(ad);
    }
}

static int sh(const char *cmd)
{
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
    check_begin("test_peft_train");
    if (argc < 2) {
        fprintf(stderr, "usage: test_peft_train BINDIR [FIXTURE]\n");
        return 2;
    }
    /* absolute: the training runs from the source directory */
    char *abs = realpath(argv[1], NULL);
    fmtbuf(bindir, sizeof bindir, "%s", abs ? abs : argv[1]);
    free(abs);
    fmtbuf(srcdir, sizeof srcdir, "%s", COLLIDE_SOURCE_DIR);
    if (argc > 2)
        fmtbuf(fixture, sizeof fixture, "%s", argv[2]);
    else
        fmtbuf(fixture, sizeof fixture, "%s/tests/fixtures/peft/collide_train", srcdir);
    char p[1200];
    fmtbuf(p, sizeof p, "%s/reference.json", fixture);
    json_error_t je;
    ref_meta = json_load_file(p, 0, &je);
    if (!ref_meta) {
        CHECK(0, "%s: %s", p, je.text);
        return check_done();
    }
    fmtbuf(p, sizeof p, "%s/reference.safetensors", fixture);
    cl_error err;
    if (cl_st_open(p, &ref, &err)) {
        CHECK(0, "%s", err.msg);
        return check_done();
    }
    const cl_st_tensor *ti = cl_st_find(ref, "input_ids");
    CHECK(ti && ti->ndim == 2 && ti->shape[0] == 1 && ti->count <= 256, "input_ids [1, T]");
    if (!ti || ti->count > 256)
        return check_done();
    T = (int)ti->count;
    cl_st_read_i32(ref, ti, ids, &err);

    /* the training arguments say what the export must hold */
    const char *rank = arg_after("--rank"), *alpha = arg_after("--alpha");
    const char *drop = arg_after("--dropout"), *targets = arg_after("--targets");
    CHECK(rank && alpha && drop && targets, "train_args without --rank, --alpha, --dropout, --targets");
    if (!rank || !alpha || !drop || !targets)
        return check_done();
    want.rank = atoi(rank);
    want.alpha = strtod(alpha, NULL);
    want.dropout = strtod(drop, NULL);
    char tl[200];
    fmtbuf(tl, sizeof tl, "%s", targets);
    for (char *s = strtok(tl, ","); s; s = strtok(NULL, ",")) {
        cl_proj q;
        CHECK(!cl_proj_parse(s, &q), "target %s", s);
        want.targets |= cl_proj_parse(s, &q) ? 0 : 1u << q;
    }
    CHECK(want.dropout > 0, "the fixture trains with a non-zero dropout, so that 0 would be caught");

    /* the base alone: collide against transformers */
    int64_t n = 0, nb = 0;
    float *base = collide_logits(NULL, &n), *hf_base = read_tensor(ref, "base_logits", &nb);
    if (base && hf_base && n == nb) {
        double d = max_diff(base, hf_base, n);
        CHECK(d <= LOGIT_RTOL * max_abs(hf_base, n), "base logits differ by %.3g", d);
        printf("base: max |collide - transformers| = %.3g\n", d);
    } else {
        CHECK(0, "base logits missing or of another size");
    }

    /* 1 and 2: the adapters as the fixture holds them */
    json_t *tasks = json_object_get(ref_meta, "tasks");
    CHECK(json_array_size(tasks) >= 2, "the fixture has at least two tasks");
    size_t i;
    json_t *v;
    json_array_foreach(tasks, i, v)
    {
        fmtbuf(p, sizeof p, "%s/adapters/%s", fixture, json_string_value(v));
        compare_task("fixture", p, json_string_value(v), base);
    }
    /* a task's adapter must not pass for another's */
    if (json_array_size(tasks) >= 2) {
        char nm[200];
        fmtbuf(p, sizeof p, "%s/adapters/%s", fixture, json_string_value(json_array_get(tasks, 0)));
        fmtbuf(nm, sizeof nm, "logits.%s", json_string_value(json_array_get(tasks, 1)));
        int64_t n1 = 0, n2 = 0;
        float *mine = collide_logits(p, &n1), *other = read_tensor(ref, nm, &n2);
        if (mine && other && n1 == n2)
            CHECK(max_diff(mine, other, n1) > 10 * LOGIT_RTOL * max_abs(other, n2),
                  "task 1's adapter matches task 2's logits: the test cannot tell tasks apart");
        free(mine), free(other);
    }

    /* 3: train and export again */
    char tmp[] = "/tmp/collide-test-peft-train-XXXXXX";
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    char cmd[4096];
    size_t len = 0;
    int w = snprintf(cmd, sizeof cmd,
                     "cd '%s' && OMP_NUM_THREADS=1 '%s/collide-train' -o '%s/run.h5' --base '%s' --quiet",
                     srcdir, bindir, tmp, json_string_value(json_object_get(ref_meta, "base")));
    len += w > 0 ? (size_t)w : 0;
    json_array_foreach(json_object_get(ref_meta, "train_args"), i, v)
    {
        w = len < sizeof cmd ? snprintf(cmd + len, sizeof cmd - len, " '%s'", json_string_value(v)) : 0;
        len += w > 0 ? (size_t)w : 0;
    }
    w = len < sizeof cmd ? snprintf(cmd + len, sizeof cmd - len, " > '%s/train.log' 2>&1", tmp) : 0;
    len += w > 0 ? (size_t)w : 0;
    CHECK(len < sizeof cmd, "training command longer than %zu bytes", sizeof cmd);
    int st = sh(cmd);
    CHECK(st == 0, "collide-train exited %d (%s/train.log)", st, tmp);
    fmtbuf(cmd, sizeof cmd, "'%s/collide-export' --quiet '%s/run.h5' -o '%s/out' > /dev/null", bindir,
             tmp, tmp);
    st = st ? st : sh(cmd);
    CHECK(st == 0, "collide-export exited %d", st);
    double worst_factor = 0;
    json_array_foreach(tasks, i, v)
    {
        const char *t = json_string_value(v);
        char fresh[1200], committed[1200];
        fmtbuf(fresh, sizeof fresh, "%s/out/%s", tmp, t);
        fmtbuf(committed, sizeof committed, "%s/adapters/%s", fixture, t);
        if (st)
            break;
        double d = compare_factors(committed, fresh);
        worst_factor = fmax(worst_factor, d);
        /* a different BLAS may round differently; training a few steps
         * keeps that near float32 precision */
        CHECK(d <= 1e-3, "%s: retrained factors differ from the fixture's by %.3g of max |factor|", t,
              d);
        compare_task("retrained", fresh, t, base);
        /* the configs are byte for byte the committed ones */
        char a[1300], b[1300];
        fmtbuf(a, sizeof a, "%s/adapter_config.json", committed);
        fmtbuf(b, sizeof b, "%s/adapter_config.json", fresh);
        fmtbuf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
        CHECK(sh(cmd) == 0, "%s differs from %s", b, a);
    }
    export_rules(tmp);
    if (!st)
        printf("retrained: factors %s the fixture's (max relative difference %.3g)\n",
               worst_factor == 0 ? "bit-identical to" : "close to", worst_factor);
    printf("worst max |collide - PEFT| over all logits: %.3g\n", worst_logit_diff);
    fmtbuf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (sh(cmd) != 0)
        fprintf(stderr, "test_peft_train: could not remove %s\n", tmp);
    free(base), free(hf_base);
    cl_st_close(ref);
    json_decref(ref_meta);
    return check_done();
}
