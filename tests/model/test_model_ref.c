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

static void check_case(const char *name)
{
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/llama/%s", COLLIDE_SOURCE_DIR, name);
    snprintf(p, sizeof p, "%s/reference.safetensors", dir);
    cl_error err;
    if (cl_st_open(p, &ref, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    int32_t tok[256], tgt[256];
    uint8_t mask[256];
    int B, T;
    batch(tok, tgt, mask, &B, &T);

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
    /* full gradients by HF name */
    static const char *kinds[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                  "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                  "mlp.down_proj", "input_layernorm", "post_attention_layernorm"};
    cl_llama_weights *g = cl_llama_grads(m);
    size_t C = c->hidden_size, F = c->intermediate_size, QD = (size_t)c->num_heads * c->head_dim;
    size_t KD = (size_t)c->num_kv_heads * c->head_dim;
    size_t per[] = {QD * C, KD * C, KD * C, C * QD, F * C, F * C, C * F, C, C};
    float *base[] = {g->wq, g->wk, g->wv, g->wo, g->wg, g->wu, g->wd, g->ln1, g->ln2};
    double worst = 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int k = 0; k < 9; k++) {
            char nm[160];
            snprintf(nm, sizeof nm, "fullgrad.model.layers.%d.%s.weight", l, kinds[k]);
            float *r = tensor(nm, &n);
            if (!r)
                continue;
            CHECK(n == (int64_t)per[k], "%s size", nm);
            double e = rel_maxdiff(base[k] + (size_t)l * per[k], r, n);
            worst = fmax(worst, e);
            CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
            free(r);
        }
    float *r = tensor("fullgrad.model.embed_tokens.weight", &n);
    double e = rel_maxdiff(g->embed, r, n);
    CHECK(e < 1e-4, "%s: embedding gradient differs by %.3g", name, e);
    worst = fmax(worst, e);
    free(r);
    r = tensor("fullgrad.model.norm.weight", &n);
    e = rel_maxdiff(g->lnf, r, n);
    CHECK(e < 1e-4, "%s: final norm gradient differs by %.3g", name, e);
    worst = fmax(worst, e);
    free(r);
    if (!c->tie_embeddings) {
        r = tensor("fullgrad.lm_head.weight", &n);
        e = rel_maxdiff(g->head, r, n);
        CHECK(e < 1e-4, "%s: lm_head gradient differs by %.3g", name, e);
        worst = fmax(worst, e);
        free(r);
    }
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
    json_decref(cfg);
    CHECK(r_ == 4 && alpha == 8, "adapter config r %d alpha %g", r_, alpha);
    unsigned mask_qv = (1u << CL_PROJ_Q) | (1u << CL_PROJ_V);
    CHECK(cl_llama_lora_new_task(m, mask_qv, r_, (float)alpha, 1, &err) == CL_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/adapter/adapter_model.safetensors", dir);
    cl_safetensors *ad;
    CHECK(cl_st_open(p, &ad, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < cl_llama_lora_count(m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(m, i);
        char nm[200];
        snprintf(nm, sizeof nm, "base_model.model.model.layers.%d.self_attn.%s.lora_A.weight",
                 s->layer, cl_proj_hf_name(s->proj));
        const cl_st_tensor *t = cl_st_find(ad, nm);
        CHECK(t && t->count == (int64_t)s->r * s->d_in, "%s", nm);
        if (t)
            cl_st_read_f32(ad, t, s->A, &err);
        snprintf(nm, sizeof nm, "base_model.model.model.layers.%d.self_attn.%s.lora_B.weight",
                 s->layer, cl_proj_hf_name(s->proj));
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
        snprintf(nm, sizeof nm, "grad.model.layers.%d.self_attn.%s.lora_A", s->layer,
                 cl_proj_hf_name(s->proj));
        float *ga = tensor(nm, &n);
        e = ga ? rel_maxdiff(s->dA, ga, n) : 1;
        CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
        worst = fmax(worst, e);
        snprintf(nm, sizeof nm, "grad.model.layers.%d.self_attn.%s.lora_B", s->layer,
                 cl_proj_hf_name(s->proj));
        float *gb = tensor(nm, &n);
        e = gb ? rel_maxdiff(s->dB, gb, n) : 1;
        CHECK(e < 1e-4, "%s: %s differs by %.3g", name, nm, e);
        worst = fmax(worst, e);
        free(ga);
        free(gb);
    }
    printf("%s: LoRA gradients max relative difference %.3g\n", name, worst);
    free(lg);
    free(lo);
    cl_llama_free(m);
    cl_st_close(ref);
}

int main(void)
{
    check_begin("test_model_ref");
    check_case("gqa");
    check_case("tied");
    return check_done();
}
