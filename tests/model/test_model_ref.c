/*
 * test_model_ref.c -- collide's LLaMA against Hugging Face transformers and
 * PEFT: a tiny random model with grouped-query attention (and one with tied
 * embeddings), saved by save_pretrained, loaded here by collide's own
 * loader; logits, loss, LoRA gradients and full-model gradients must match
 * what PyTorch recorded (tests/ref/llama_reference.py writes the fixtures).
 */
#include "../check.h"
#include "llama.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cl_safetensors *ref;

static float *tensor(const char *name, int64_t *count)
{
    const cl_st_tensor *t = cl_st_find(ref, name);
    if (!t) {
        CHECK(0, "reference tensor %s missing", name);
        return NULL;
    }
    float *x = malloc((size_t)t->count * sizeof *x);
    cl_error err;
    CHECK(cl_st_read_f32(ref, t, x, &err) == CL_OK, "%s", err.msg);
    if (count)
        *count = t->count;
    return x;
}

/* max |a - b| relative to max |b|, the scale-aware comparison used below */
static double rel_maxdiff(const float *a, const float *b, int64_t n)
{
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return s > 0 ? d / s : d;
}

static void batch(int32_t *tok, int32_t *tgt, uint8_t *mask, int *B, int *T)
{
    const cl_st_tensor *ti = cl_st_find(ref, "input_ids"), *tl = cl_st_find(ref, "labels");
    *B = (int)ti->shape[0];
    *T = (int)ti->shape[1];
    int32_t lab[256];
    cl_error err;
    cl_st_read_i32(ref, ti, tok, &err);
    cl_st_read_i32(ref, tl, lab, &err);
    /* HF shifts inside the loss: logits[t] scores labels[t + 1] */
    for (int b = 0; b < *B; b++)
        for (int t = 0; t < *T; t++) {
            int i = b * *T + t, next = t + 1 < *T ? lab[i + 1] : -100;
            mask[i] = next != -100;
            tgt[i] = next != -100 ? next : 0;
        }
}

/* Case NAME's folder and its reference batch (ref open: the caller closes
 * it); -1 when the reference cannot be read. */
static int open_case(const char *name, char *dir, size_t n, int32_t *tok, int32_t *tgt,
                     uint8_t *mask, int *B, int *T)
{
    char p[600];
    cl_error err;
    snprintf(dir, n, "%s/tests/fixtures/llama/%s", COLLIDE_SOURCE_DIR, name);
    snprintf(p, sizeof p, "%s/reference.safetensors", dir);
    if (cl_st_open(p, &ref, &err)) {
        CHECK(0, "%s", err.msg);
        return -1;
    }
    batch(tok, tgt, mask, B, T);
    return 0;
}

static void check_case(const char *name)
{
    char dir[512], p[600];
    cl_error err;
    int32_t tok[256], tgt[256];
    uint8_t mask[256];
    int B, T;
    if (open_case(name, dir, sizeof dir, tok, tgt, mask, &B, &T))
        return;

    /* 1. the base model: logits, loss, every weight's gradient */
    snprintf(p, sizeof p, "%s/base", dir);
    cl_llama *m;
    if (cl_llama_load(p, &m, &err)) {
        CHECK(0, "%s", err.msg);
        cl_st_close(ref);
        return;
    }
    const cl_llama_config *c = cl_llama_cfg(m);
    int V = c->vocab_size;
    CHECK(cl_llama_prepare(m, B, T, 1, &err) == CL_OK, "%s", err.msg);
    cl_llama_forward(m, tok, NULL, NULL, 0, 0);
    int64_t n;
    float *bl = tensor("base_logits", &n);
    CHECK(n == (int64_t)B * T * V, "logit count");
    double d = rel_maxdiff(cl_llama_logits(m), bl, n);
    CHECK(d < 1e-5, "%s: base logits differ by %.3g (relative to max |logit|)", name, d);
    printf("%s: base logits max relative difference %.3g\n", name, d);
    float *blo = tensor("base_loss", NULL);
    double loss = cl_llama_forward(m, tok, tgt, mask, 0, 0);
    CHECK_NEAR(loss, blo[0], 1e-5, 0, "base loss");
    cl_llama_backward(m);
    /* full gradients by HF name: every fullgrad.* tensor of the reference
     * (the family fixtures leave out the embedding's and lm_head's) */
    static const char *kinds[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                  "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                  "mlp.gate_proj.weight",    "mlp.up_proj.weight",
                                  "mlp.down_proj.weight",    "input_layernorm.weight",
                                  "post_attention_layernorm.weight", "self_attn.q_proj.bias",
                                  "self_attn.k_proj.bias",   "self_attn.v_proj.bias",
                                  "self_attn.o_proj.bias"};
    cl_llama_weights *g = cl_llama_grads(m);
    size_t C = c->hidden_size, F = c->intermediate_size, QD = (size_t)c->num_heads * c->head_dim;
    size_t KD = (size_t)c->num_kv_heads * c->head_dim;
    size_t per[] = {QD * C, KD * C, KD * C, C * QD, F * C, F * C, C * F, C, C, QD, KD, KD, C};
    float *base[] = {g->wq, g->wk, g->wv, g->wo, g->wg, g->wu, g->wd, g->ln1, g->ln2,
                     g->bq, g->bk,  g->bv, g->bo};
    double worst = 0, e;
    int compared = 0, listed = 0;
    for (int i = 0; i < cl_st_count(ref); i++)
        listed += strncmp(cl_st_get(ref, i)->name, "fullgrad.", 9) == 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int k = 0; k < 13; k++) {
            char nm[160];
            snprintf(nm, sizeof nm, "fullgrad.model.layers.%d.%s", l, kinds[k]);
            if (!cl_st_find(ref, nm))
                continue;
            float *r = tensor(nm, &n);
            CHECK(base[k] != NULL, "%s: %s in the reference, but collide has no such weight",
                  name, nm);
            CHECK(n == (int64_t)per[k], "%s size", nm);
            if (!base[k] || n != (int64_t)per[k]) {
                free(r);
                continue;
            }
            e = rel_maxdiff(base[k] + (size_t)l * per[k], r, n);
            worst = fmax(worst, e);
            CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
            compared++;
            free(r);
        }
    const char *whole[] = {"fullgrad.model.embed_tokens.weight", "fullgrad.model.norm.weight",
                           "fullgrad.lm_head.weight"};
    float *wg[] = {g->embed, g->lnf, c->tie_embeddings ? NULL : g->head};
    for (int k = 0; k < 3; k++) {
        if (!cl_st_find(ref, whole[k]) || !wg[k])
            continue;
        float *r = tensor(whole[k], &n);
        e = rel_maxdiff(wg[k], r, n);
        CHECK(e < 1e-4, "%s: %s differs by %.3g", name, whole[k], e);
        worst = fmax(worst, e);
        compared++;
        free(r);
    }
    CHECK(compared == listed && compared > 0, "%s: %d of %d full gradients compared", name,
          compared, listed);
    printf("%s: full-model gradients max relative difference %.3g\n", name, worst);
    free(bl);
    free(blo);
    cl_llama_free(m);

    /* 2. with PEFT's LoRA on q_proj and v_proj: logits, loss, LoRA gradients */
    snprintf(p, sizeof p, "%s/base", dir);
    cl_llama_load(p, &m, &err);
    snprintf(p, sizeof p, "%s/adapter/adapter_config.json", dir);
    json_error_t je;
    json_t *cfg = json_load_file(p, 0, &je);
    int r_ = (int)json_integer_value(json_object_get(cfg, "r"));
    double alpha = json_number_value(json_object_get(cfg, "lora_alpha"));
    unsigned targets = 0;
    json_t *tm = json_object_get(cfg, "target_modules");
    for (size_t i = 0; i < json_array_size(tm); i++) {
        cl_proj pj;
        CHECK(cl_proj_parse(json_string_value(json_array_get(tm, i)), &pj) == CL_OK,
              "target %s", json_string_value(json_array_get(tm, i)));
        targets |= 1u << pj;
    }
    json_decref(cfg);
    CHECK(r_ == 4 && alpha == 8 && targets, "adapter config r %d alpha %g", r_, alpha);
    CHECK(cl_llama_lora_new_task(m, targets, r_, (float)alpha, 1, &err) == CL_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/adapter/adapter_model.safetensors", dir);
    cl_safetensors *ad;
    CHECK(cl_st_open(p, &ad, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < cl_llama_lora_count(m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(m, i);
        char nm[200];
        const char *blk = s->proj <= CL_PROJ_O ? "self_attn" : "mlp";
        snprintf(nm, sizeof nm, "base_model.model.model.layers.%d.%s.%s.lora_A.weight",
                 s->layer, blk, cl_proj_hf_name(s->proj));
        const cl_st_tensor *t = cl_st_find(ad, nm);
        CHECK(t && t->count == (int64_t)s->r * s->d_in, "%s", nm);
        if (t)
            cl_st_read_f32(ad, t, s->A, &err);
        snprintf(nm, sizeof nm, "base_model.model.model.layers.%d.%s.%s.lora_B.weight",
                 s->layer, blk, cl_proj_hf_name(s->proj));
        t = cl_st_find(ad, nm);
        CHECK(t && t->count == (int64_t)s->r * s->d_out, "%s", nm);
        if (t)
            cl_st_read_f32(ad, t, s->B, &err);
    }
    cl_st_close(ad);
    CHECK(cl_llama_prepare(m, B, T, 0, &err) == CL_OK, "%s", err.msg);
    cl_llama_forward(m, tok, NULL, NULL, 0, 0);
    float *lg = tensor("logits", &n);
    d = rel_maxdiff(cl_llama_logits(m), lg, n);
    CHECK(d < 1e-5, "%s: LoRA logits differ by %.3g", name, d);
    printf("%s: LoRA logits max relative difference %.3g\n", name, d);
    float *lo = tensor("loss", NULL);
    loss = cl_llama_forward(m, tok, tgt, mask, 0, 0);
    CHECK_NEAR(loss, lo[0], 1e-5, 0, "LoRA loss");
    printf("%s: loss %.7f vs transformers %.7f\n", name, loss, lo[0]);
    cl_llama_backward(m);
    worst = 0;
    for (int i = 0; i < cl_llama_lora_count(m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(m, i);
        char nm[200];
        const char *blk = s->proj <= CL_PROJ_O ? "self_attn" : "mlp";
        snprintf(nm, sizeof nm, "grad.model.layers.%d.%s.%s.lora_A", s->layer, blk,
                 cl_proj_hf_name(s->proj));
        float *ga = tensor(nm, &n);
        e = ga ? rel_maxdiff(s->dA, ga, n) : 1;
        CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
        worst = fmax(worst, e);
        snprintf(nm, sizeof nm, "grad.model.layers.%d.%s.%s.lora_B", s->layer, blk,
                 cl_proj_hf_name(s->proj));
        float *gb = tensor(nm, &n);
        e = gb ? rel_maxdiff(s->dB, gb, n) : 1;
        CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
        worst = fmax(worst, e);
        free(ga);
        free(gb);
    }
    int listed_lora = 0;
    for (int i = 0; i < cl_st_count(ref); i++)
        listed_lora += strncmp(cl_st_get(ref, i)->name, "grad.", 5) == 0;
    CHECK(listed_lora == 2 * cl_llama_lora_count(m), "%s: %d LoRA gradients in the reference, "
          "%d adapted projections", name, listed_lora, cl_llama_lora_count(m));
    printf("%s: LoRA gradients max relative difference %.3g\n", name, worst);
    free(lg);
    free(lo);
    cl_llama_free(m);
    cl_st_close(ref);
}

/* ---- the families' options, refusals and round trips ---- */

static int parse(const char *json, cl_llama_config *c, cl_error *err)
{
    return cl_llama_config_parse(json, strlen(json), "config.json", c, err);
}

#define BASE_CFG "\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 48, " \
                 "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, "

/* Refused by name: the file and the key in the message. */
static void refused(const char *json, const char *key)
{
    cl_llama_config c;
    cl_error err;
    int rc = parse(json, &c, &err);
    CHECK(rc != CL_OK, "accepted: %s", json);
    if (rc != CL_OK) {
        CHECK_CONTAINS(err.msg, "config.json");
        CHECK_CONTAINS(err.msg, key);
    }
}

static void check_configs(void)
{
    cl_llama_config c;
    cl_error err;
    /* what transformers refuses or collide does not compute, by name */
    refused("{" BASE_CFG "\"model_type\": \"gemma\"}", "model_type");
    refused("{" BASE_CFG "\"model_type\": \"mixtral\"}", "model_type");
    static const char *types[] = {"yarn", "dynamic", "longrope", "proportional"};
    for (int i = 0; i < 4; i++) {
        char j[512];
        snprintf(j, sizeof j,
                 "{" BASE_CFG "\"rope_parameters\": {\"rope_type\": \"%s\", \"factor\": 2, "
                 "\"rope_theta\": 10000}}", types[i]);
        refused(j, "rope_parameters.rope_type");
        snprintf(j, sizeof j, "{" BASE_CFG "\"rope_scaling\": {\"type\": \"%s\", \"factor\": 2}}",
                 types[i]);
        refused(j, "rope_scaling.type");
    }
    refused("{" BASE_CFG "\"rope_parameters\": {\"rope_type\": \"llama3\", \"factor\": 8, "
            "\"low_freq_factor\": 1, \"high_freq_factor\": 4}}",
            "original_max_position_embeddings");
    refused("{" BASE_CFG "\"rope_parameters\": {\"rope_type\": \"linear\"}}", "factor");
    refused("{" BASE_CFG "\"rope_parameters\": {\"rope_type\": \"default\", "
            "\"partial_rotary_factor\": 0.5}}", "partial_rotary_factor");
    refused("{" BASE_CFG "\"mlp_bias\": true}", "mlp_bias");
    refused("{" BASE_CFG "\"hidden_act\": \"gelu\"}", "hidden_act");
    refused("{" BASE_CFG "\"model_type\": \"llama\", \"attention_bias\": 1}", "attention_bias");

    /* the families' biases as transformers places them */
    CHECK(parse("{" BASE_CFG "\"attention_bias\": true}", &c, &err) == CL_OK, "%s", err.msg);
    CHECK(c.qkv_bias && c.o_bias && c.family == CL_FAMILY_LLAMA, "llama attention_bias");
    CHECK(parse("{" BASE_CFG "\"model_type\": \"qwen2\", \"attention_bias\": false}", &c, &err) ==
              CL_OK, "%s", err.msg);
    CHECK(c.qkv_bias && !c.o_bias && c.family == CL_FAMILY_QWEN2, "qwen2 biases");
    CHECK(parse("{" BASE_CFG "\"model_type\": \"mistral\", \"sliding_window\": null}", &c,
                &err) == CL_OK, "%s", err.msg);
    CHECK(!c.qkv_bias && !c.o_bias && c.sliding_window == 0, "mistral");

    /* the old spelling (rope_scaling + rope_theta) gives the new one's frequencies */
    cl_llama_config a, b;
    CHECK(parse("{" BASE_CFG "\"rope_theta\": 500000, \"rope_scaling\": {\"rope_type\": "
                "\"llama3\", \"factor\": 32, \"low_freq_factor\": 1, \"high_freq_factor\": 4, "
                "\"original_max_position_embeddings\": 64}}", &a, &err) == CL_OK, "%s", err.msg);
    CHECK(parse("{" BASE_CFG "\"rope_parameters\": {\"rope_type\": \"llama3\", \"factor\": 32, "
                "\"rope_theta\": 500000, \"low_freq_factor\": 1, \"high_freq_factor\": 4, "
                "\"original_max_position_embeddings\": 64}}", &b, &err) == CL_OK, "%s", err.msg);
    float fa[4], fb[4], fd[4];
    cl_llama_rope_inv_freq(&a, fa);
    cl_llama_rope_inv_freq(&b, fb);
    cl_llama_config d = b;
    d.rope_type = CL_ROPE_DEFAULT;
    cl_llama_rope_inv_freq(&d, fd);
    CHECK(memcmp(fa, fb, sizeof fa) == 0, "rope_scaling and rope_parameters agree");
    /* head_dim 8, theta 5e5: wavelengths 6.3, 169, 4.5e3, 1.1e5 against 16 and 64:
     * the first kept, the others divided by the factor */
    CHECK(fa[0] == fd[0] && fa[3] == fd[3] / 32.0f, "llama3 regimes %g %g", fa[0], fa[3]);

    /* a sliding window shorter than the sequence: refused by name when the
     * sequence is set; max_position capped at it */
    CHECK(parse("{" BASE_CFG "\"model_type\": \"mistral\", \"sliding_window\": 8, "
                "\"max_position_embeddings\": 64}", &c, &err) == CL_OK, "%s", err.msg);
    CHECK(c.sliding_window == 8 && c.max_position == 8, "window %d, positions %d",
          c.sliding_window, c.max_position);
    cl_llama *m;
    CHECK(cl_llama_create(&c, 1, 0.02f, &m, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_llama_prepare(m, 1, 12, 0, &err) != CL_OK, "a 12-token sequence past window 8");
    CHECK_CONTAINS(err.msg, "sliding_window");
    CHECK(cl_llama_prepare(m, 1, 8, 0, &err) == CL_OK, "%s", err.msg);
    cl_llama_free(m);
    CHECK(parse("{" BASE_CFG "\"model_type\": \"qwen2\", \"use_sliding_window\": true, "
                "\"sliding_window\": 16, \"max_position_embeddings\": 64}", &c, &err) == CL_OK,
          "%s", err.msg);
    CHECK(c.sliding_window == 16 && c.max_position == 16, "qwen2 window");
    CHECK(parse("{" BASE_CFG "\"model_type\": \"qwen2\", \"use_sliding_window\": false, "
                "\"sliding_window\": 16, \"max_position_embeddings\": 64}", &c, &err) == CL_OK,
          "%s", err.msg);
    CHECK(c.sliding_window == 0 && c.max_position == 64, "qwen2 without window");
}

/* A family's base saved by collide and loaded again: the same config and
 * parameters (biases, rope type and window included). */
static void check_roundtrip(const char *name)
{
    char dir[512], out[600];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/llama/%s/base", COLLIDE_SOURCE_DIR, name);
    snprintf(out, sizeof out, "/tmp/test_model_ref_%d_%s", (int)getpid(), name);
    cl_llama *a, *b;
    cl_error err;
    if (cl_llama_load(dir, &a, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(cl_llama_save(a, out, &err) == CL_OK, "%s", err.msg);
    if (cl_llama_load(out, &b, &err) == CL_OK) {
        const cl_llama_config *ca = cl_llama_cfg(a), *cb = cl_llama_cfg(b);
        CHECK(ca->family == cb->family && ca->rope_type == cb->rope_type &&
                  ca->rope_factor == cb->rope_factor && ca->qkv_bias == cb->qkv_bias &&
                  ca->o_bias == cb->o_bias && ca->sliding_window == cb->sliding_window &&
                  ca->rope_original_max_position == cb->rope_original_max_position &&
                  ca->head_dim == cb->head_dim && ca->tie_embeddings == cb->tie_embeddings,
              "%s: config round trip", name);
        CHECK(cl_llama_num_params(a) == cl_llama_num_params(b) &&
                  memcmp(cl_llama_param_mem(a), cl_llama_param_mem(b),
                         cl_llama_num_params(a) * sizeof(float)) == 0,
              "%s: parameters round trip", name);
        cl_llama_free(b);
    } else {
        CHECK(0, "%s", err.msg);
    }
    cl_llama_free(a);
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", out);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", out);
    unlink(p);
    rmdir(out);
}

/* The sharded fixture with a broken index: refused with the index and the tensor. */
static void check_index(void)
{
    char src[512], dir[600], p[800];
    snprintf(src, sizeof src, "%s/tests/fixtures/llama/mistral/base", COLLIDE_SOURCE_DIR);
    snprintf(dir, sizeof dir, "/tmp/test_model_ref_%d_index", (int)getpid());
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, src, dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    /* the embedding moved, in the index, to a shard that lacks it */
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"model.embed_tokens.weight\": \"model-0000[0-9]/"
             "\"model.embed_tokens.weight\": \"model-00004/' '%s/model.safetensors.index.json'",
             dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    cl_llama *m;
    cl_error err;
    CHECK(cl_llama_load(dir, &m, &err) != CL_OK, "a wrong index loads");
    CHECK_CONTAINS(err.msg, "model.safetensors.index.json");
    CHECK_CONTAINS(err.msg, "model.embed_tokens.weight");
    /* a file name that leaves the folder */
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"model-00004-of-00004.safetensors\"/\"..\\/x.safetensors\"/' "
             "'%s/model.safetensors.index.json'", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    CHECK(cl_llama_load(dir, &m, &err) != CL_OK, "an index leaving the folder loads");
    CHECK_CONTAINS(err.msg, "not a file name in the folder");
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    CHECK(system(p) == 0, "cleanup");
}

/* The decode path (prefill, then one position at a time with the key/value
 * cache: cl_llama_score_options, cl_llama_generate) against the batched
 * forward: log p(tokens[6..11] | tokens[0..5]) both ways. */
static void check_decode(const char *name)
{
    char dir[512], p[600];
    cl_error err;
    int32_t tok[256], tgt[256];
    uint8_t mask[256];
    int B, T;
    if (open_case(name, dir, sizeof dir, tok, tgt, mask, &B, &T))
        return;
    cl_st_close(ref);
    snprintf(p, sizeof p, "%s/base", dir);
    cl_llama *m;
    if (cl_llama_load(p, &m, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    int V = cl_llama_cfg(m)->vocab_size, P = 6;
    CHECK(cl_llama_prepare(m, 1, T, 0, &err) == CL_OK, "%s", err.msg);
    cl_llama_forward_bt(m, 1, T, tok, NULL, NULL, 0, 0);
    const float *lg = cl_llama_logits(m);
    double want = 0;
    for (int t = P; t < T; t++) {
        const float *x = lg + (size_t)(t - 1) * V;
        double mx = x[0], sum = 0;
        for (int i = 1; i < V; i++)
            mx = fmax(mx, x[i]);
        for (int i = 0; i < V; i++)
            sum += exp(x[i] - mx);
        want += x[tok[t]] - mx - log(sum);
    }
    const int32_t *opt[1] = {tok + P};
    int nopt[1] = {T - P};
    double ll;
    CHECK(cl_llama_score_options(m, tok, P, opt, nopt, 1, &ll, &err) == CL_OK, "%s", err.msg);
    CHECK_NEAR(ll, want, 1e-5, 1e-5, "decode path vs batched forward");
    printf("%s: decode path log-likelihood %.7f, batched forward %.7f\n", name, ll, want);
    cl_llama_free(m);
}

int main(void)
{
    check_begin("test_model_ref");
    check_case("gqa");
    check_case("tied");
    /* the family fixtures of tests/ref/llama_families.py */
    check_case("llama3");     /* llama3 rope, GQA, explicit head_dim 12, untied, F32 */
    check_case("llama_bias"); /* attention_bias on q, k, v, o; linear rope; tied */
    check_case("qwen2");      /* q, k, v biases; tied; F16 */
    check_case("mistral");    /* sliding_window 4096; BF16, sharded with an index */
    check_configs();
    check_roundtrip("llama_bias");
    check_roundtrip("qwen2");
    check_roundtrip("mistral");
    check_index();
    /* the one-token decode step of evaluation against the batched forward */
    static const char *decode_ok[] = {"gqa", "tied", "mistral", "llama3", "llama_bias", "qwen2"};
    for (int i = 0; i < 6; i++)
        check_decode(decode_ok[i]);
    return check_done();
}
