/*
 * test_gradcheck.c -- every layer's backward against central finite
 * differences on tiny shapes: embedding, RMSNorm, rotary, attention (with
 * grouped-query heads), SwiGLU, matmul, cross-entropy, and LoRA (with
 * dropout, frozen adapters and a trainable one) through the whole model.
 *
 * Each check contracts the layer's output with fixed random weights w, so
 * the scalar L = sum w * f(x) has dL/dout = w; analytic gradients from the
 * backward kernel are compared with (L(x + h) - L(x - h)) / 2h per element.
 */
#include "../check.h"
#include "layers.h"
#include "llama.h"

#include <string.h>

static cl_rng g;

static void fill(float *x, int n, float s)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(s * cl_rng_normal(&g));
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Compare an analytic gradient with finite differences of f over x. */
typedef double (*scalar_fn)(void *ctx);

static void fd_check(const char *what, scalar_fn f, void *ctx, float *x, const float *grad, int n,
                     float h, double tol)
{
    double worst = 0, gmax = 0;
    int at = -1;
    for (int i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    for (int i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double up = f(ctx);
        x[i] = keep - h;
        double down = f(ctx);
        x[i] = keep;
        double num = (up - down) / (2.0 * h);
        double e = fabs(num - grad[i]) / (gmax > 0 ? gmax : 1);
        if (e > worst) {
            worst = e;
            at = i;
        }
    }
    if (getenv("GRADCHECK_VERBOSE") && at >= 0)
        printf("    worst at %d: analytic %.6g\n", at, grad[at]);
    CHECK(worst < tol, "%s: finite differences differ by %.3g of max |grad| %.3g", what, worst,
          gmax);
    printf("  %-34s max |fd - analytic| / max|grad| = %.2e\n", what, worst);
}

/* ---- RMSNorm ---- */
enum { N = 6, C = 8 };
typedef struct { float x[N * C], w[C], out[N * C], rstd[N], wt[N * C]; } norm_ctx;
static double norm_f(void *p)
{
    norm_ctx *c = p;
    ck_rmsnorm_forward(c->out, c->rstd, c->x, c->w, N, C, 1e-5f);
    return dot(c->out, c->wt, N * C);
}
static void test_rmsnorm(void)
{
    norm_ctx c;
    fill(c.x, N * C, 1);
    fill(c.w, C, 1);
    fill(c.wt, N * C, 1);
    norm_f(&c);
    float dx[N * C] = {0}, dw[C] = {0};
    ck_rmsnorm_backward(dx, dw, c.wt, c.x, c.w, c.rstd, N, C);
    fd_check("rmsnorm dx", norm_f, &c, c.x, dx, N * C, 1e-2f, 2e-3);
    fd_check("rmsnorm dweight", norm_f, &c, c.w, dw, C, 1e-2f, 2e-3);
}

/* ---- rotary ---- */
typedef struct { float x[N * 2 * C], y[N * 2 * C], wt[N * 2 * C]; } rope_ctx;
static double rope_f(void *p)
{
    rope_ctx *c = p;
    memcpy(c->y, c->x, sizeof c->x);
    ck_rope_forward(c->y, N, 3, 0, 2, C, 100.0f); /* 2 sequences of 3, 2 heads */
    return dot(c->y, c->wt, N * 2 * C);
}
static void test_rope(void)
{
    rope_ctx c;
    fill(c.x, N * 2 * C, 1);
    fill(c.wt, N * 2 * C, 1);
    float dx[N * 2 * C];
    memcpy(dx, c.wt, sizeof dx);
    ck_rope_backward(dx, N, 3, 2, C, 100.0f);
    fd_check("rotary dx", rope_f, &c, c.x, dx, N * 2 * C, 1e-2f, 1e-3);
}

/* ---- attention, 2 sequences of 3, 4 query heads sharing 2 kv heads ---- */
enum { AB = 2, AT = 3, AH = 4, AK = 2, AD = 4 };
typedef struct {
    float q[AB * AT * AH * AD], k[AB * AT * AK * AD], v[AB * AT * AK * AD];
    float out[AB * AT * AH * AD], att[AB * AH * AT * AT], wt[AB * AT * AH * AD];
} att_ctx;
static double att_f(void *p)
{
    att_ctx *c = p;
    ck_attention_forward(c->out, c->att, c->q, c->k, c->v, AB, AT, AH, AK, AD);
    return dot(c->out, c->wt, AB * AT * AH * AD);
}
static void test_attention(void)
{
    att_ctx c;
    fill(c.q, AB * AT * AH * AD, 1);
    fill(c.k, AB * AT * AK * AD, 1);
    fill(c.v, AB * AT * AK * AD, 1);
    fill(c.wt, AB * AT * AH * AD, 1);
    att_f(&c);
    float dq[sizeof c.q / 4], dk[sizeof c.k / 4], dv[sizeof c.v / 4];
    ck_attention_backward(dq, dk, dv, c.wt, c.att, c.q, c.k, c.v, AB, AT, AH, AK, AD);
    fd_check("attention dq", att_f, &c, c.q, dq, AB * AT * AH * AD, 1e-2f, 2e-3);
    fd_check("attention dk (grouped heads)", att_f, &c, c.k, dk, AB * AT * AK * AD, 1e-2f, 2e-3);
    fd_check("attention dv (grouped heads)", att_f, &c, c.v, dv, AB * AT * AK * AD, 1e-2f, 2e-3);
}

/* ---- SwiGLU ---- */
typedef struct { float g[N * C], u[N * C], out[N * C], wt[N * C]; } glu_ctx;
static double glu_f(void *p)
{
    glu_ctx *c = p;
    ck_swiglu_forward(c->out, c->g, c->u, N * C);
    return dot(c->out, c->wt, N * C);
}
static void test_swiglu(void)
{
    glu_ctx c;
    fill(c.g, N * C, 2);
    fill(c.u, N * C, 1);
    fill(c.wt, N * C, 1);
    float dg[N * C], du[N * C];
    ck_swiglu_backward(dg, du, c.wt, c.g, c.u, N * C);
    fd_check("swiglu dgate", glu_f, &c, c.g, dg, N * C, 1e-2f, 2e-3);
    fd_check("swiglu dup", glu_f, &c, c.u, du, N * C, 1e-2f, 2e-3);
}

/* ---- matmul ---- */
enum { MI = 5, MO = 7 };
typedef struct { float x[N * MI], W[MO * MI], out[N * MO], wt[N * MO]; } mm_ctx;
static double mm_f(void *p)
{
    mm_ctx *c = p;
    ck_matmul_forward(c->out, c->x, c->W, N, MI, MO, 0);
    return dot(c->out, c->wt, N * MO);
}
static void test_matmul(void)
{
    mm_ctx c;
    fill(c.x, N * MI, 1);
    fill(c.W, MO * MI, 1);
    fill(c.wt, N * MO, 1);
    float dx[N * MI] = {0}, dW[MO * MI] = {0};
    ck_matmul_backward(dx, dW, c.wt, c.x, c.W, N, MI, MO);
    fd_check("matmul dx", mm_f, &c, c.x, dx, N * MI, 1e-2f, 1e-3);
    fd_check("matmul dW", mm_f, &c, c.W, dW, MO * MI, 1e-2f, 1e-3);
}

/* ---- embedding (a token repeats: gradients add) ---- */
enum { EV = 5 };
typedef struct { float emb[EV * C], out[N * C], wt[N * C]; int32_t tok[N]; } emb_ctx;
static double emb_f(void *p)
{
    emb_ctx *c = p;
    ck_embedding_forward(c->out, c->tok, c->emb, N, C);
    return dot(c->out, c->wt, N * C);
}
static void test_embedding(void)
{
    emb_ctx c = {.tok = {1, 3, 1, 0, 4, 1}};
    fill(c.emb, EV * C, 1);
    fill(c.wt, N * C, 1);
    float de[EV * C] = {0};
    ck_embedding_backward(de, c.wt, c.tok, N, C);
    fd_check("embedding dweight", emb_f, &c, c.emb, de, EV * C, 1e-2f, 1e-3);
}

/* ---- cross-entropy with a mask ---- */
enum { CV = 9 };
typedef struct { float logits[N * CV], work[N * CV]; int32_t tgt[N]; uint8_t mask[N]; } ce_ctx;
static double ce_f(void *p)
{
    ce_ctx *c = p;
    int cnt;
    memcpy(c->work, c->logits, sizeof c->work);
    return ck_crossentropy_fused(c->work, c->tgt, c->mask, N, CV, &cnt);
}
static void test_crossentropy(void)
{
    ce_ctx c = {.tgt = {1, 8, 0, 3, 3, 5}, .mask = {1, 0, 1, 1, 0, 1}};
    fill(c.logits, N * CV, 2);
    double loss = ce_f(&c);
    float grad[N * CV];
    memcpy(grad, c.work, sizeof grad);
    /* closed form on one row: loss = mean of -log softmax */
    double ref = 0;
    for (int n = 0; n < N; n++) {
        if (!c.mask[n])
            continue;
        double mx = -1e30, s = 0;
        for (int v = 0; v < CV; v++)
            mx = fmax(mx, c.logits[n * CV + v]);
        for (int v = 0; v < CV; v++)
            s += exp(c.logits[n * CV + v] - mx);
        ref += -(c.logits[n * CV + c.tgt[n]] - mx - log(s));
    }
    CHECK_NEAR(loss, ref / 4, 1e-6, 0, "cross-entropy value");
    fd_check("cross-entropy dlogits", ce_f, &c, c.logits, grad, N * CV, 1e-2f, 2e-3);
    for (int v = 0; v < CV; v++)
        CHECK(grad[1 * CV + v] == 0, "masked position has gradient");
}

/* ---- LoRA through the whole model: dropout, a frozen adapter, a trainable
 * one; also a few base weights of a fully trained model ---- */
typedef struct { cl_llama *m; int32_t tok[8], tgt[8]; uint8_t mask[8]; } model_ctx;
static double model_f(void *p)
{
    model_ctx *c = p;
    return cl_llama_forward(c->m, c->tok, c->tgt, c->mask, 1, 1234); /* same dropout mask */
}
static void test_lora_in_model(void)
{
    cl_llama_config cfg = {.vocab_size = 11, .hidden_size = 8, .intermediate_size = 12,
                           .num_layers = 2, .num_heads = 2, .num_kv_heads = 1, .head_dim = 4,
                           .max_position = 16, .rms_norm_eps = 1e-5f, .rope_theta = 10000.f,
                           .tie_embeddings = 1, .bos_token_id = -1, .eos_token_id = -1,
                           .pad_token_id = -1};
    model_ctx c = {.tok = {1, 4, 2, 9, 3, 3, 7, 0}, .tgt = {4, 2, 9, 3, 3, 7, 0, 5},
                   .mask = {0, 1, 1, 1, 1, 0, 1, 1}};
    cl_error err;
    CHECK(cl_llama_create(&cfg, 3, 0.5f, &c.m, &err) == CL_OK, "%s", err.msg);
    unsigned all = (1u << CL_PROJ_COUNT) - 1;
    /* task 1's adapter becomes frozen when task 2's starts */
    CHECK(cl_llama_lora_new_task(c.m, all, 2, 4.0f, 5, &err) == CL_OK, "%s", err.msg);
    for (int i = 0; i < cl_llama_lora_count(c.m); i++)
        fill(cl_llama_lora_slot(c.m, i)->B, cl_llama_lora_slot(c.m, i)->d_out * 2, 0.5f);
    CHECK(cl_llama_lora_new_task(c.m, all, 3, 6.0f, 6, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_llama_lora_slot(c.m, 0)->r_frozen == 2 && cl_llama_lora_slot(c.m, 0)->r == 3,
          "frozen rank");
    for (int i = 0; i < cl_llama_lora_count(c.m); i++)
        fill(cl_llama_lora_slot(c.m, i)->B, cl_llama_lora_slot(c.m, i)->d_out * 3, 0.5f);
    cl_llama_lora_set_dropout(c.m, 0.25f);
    CHECK(cl_llama_prepare(c.m, 2, 4, 0, &err) == CL_OK, "%s", err.msg);
    model_f(&c);
    cl_llama_backward(c.m);
    for (int i = 0; i < cl_llama_lora_count(c.m); i += 3) { /* a sample of slots */
        cl_lora_slot *s = cl_llama_lora_slot(c.m, i);
        float *dA = malloc(sizeof(float) * (size_t)(s->r * s->d_in));
        float *dB = malloc(sizeof(float) * (size_t)(s->d_out * s->r));
        memcpy(dA, s->dA, sizeof(float) * (size_t)(s->r * s->d_in));
        memcpy(dB, s->dB, sizeof(float) * (size_t)(s->d_out * s->r));
        char what[64];
        snprintf(what, sizeof what, "LoRA dA, layer %d %s", s->layer, cl_proj_short(s->proj));
        fd_check(what, model_f, &c, s->A, dA, s->r * s->d_in, 2e-3f, 2e-3);
        snprintf(what, sizeof what, "LoRA dB, layer %d %s", s->layer, cl_proj_short(s->proj));
        fd_check(what, model_f, &c, s->B, dB, s->d_out * s->r, 2e-3f, 2e-3);
        free(dA);
        free(dB);
    }
    cl_llama_free(c.m);
    /* the base itself, fully trained (pretraining) */
    CHECK(cl_llama_create(&cfg, 4, 0.5f, &c.m, &err) == CL_OK, "%s", err.msg);
    cl_llama_prepare(c.m, 2, 4, 1, &err);
    model_f(&c);
    cl_llama_backward(c.m);
    size_t n = cl_llama_num_params(c.m);
    float *grad = malloc(n * sizeof *grad);
    memcpy(grad, cl_llama_grad_mem(c.m), n * sizeof *grad);
    fd_check("full model, every parameter", model_f, &c, cl_llama_param_mem(c.m), grad, (int)n,
             2e-3f, 2e-3);
    free(grad);
    cl_llama_free(c.m);
}

int main(void)
{
    check_begin("test_gradcheck");
    cl_rng_seed(&g, 42);
    test_rmsnorm();
    test_rope();
    test_attention();
    test_swiglu();
    test_matmul();
    test_embedding();
    test_crossentropy();
    test_lora_in_model();
    return check_done();
}
