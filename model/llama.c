/*
 * llama.c -- the LLaMA model, top to bottom: sizes and allocation, the
 * forward pass, the backward pass (loading and saving in the Hugging Face
 * layout: llama_hf.c; greedy generation with a key/value cache: generate.c). LoRA lives in lora.c,
 * AdamW in adamw.c, the layer kernels in kernels/layers.
 */
#include "llama.h"
#include "llama_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ sizes */

void cl_llama_weight_sizes(const cl_llama_config *c, size_t sz[NW])
{
    size_t V = c->vocab_size, C = c->hidden_size, F = c->intermediate_size, L = c->num_layers;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)c->num_kv_heads * c->head_dim;
    sz[W_EMBED] = V * C;
    sz[W_LN1] = L * C;
    sz[W_Q] = L * QD * C;
    sz[W_K] = L * KD * C;
    sz[W_V] = L * KD * C;
    sz[W_O] = L * C * QD;
    sz[W_LN2] = L * C;
    sz[W_G] = L * F * C;
    sz[W_U] = L * F * C;
    sz[W_D] = L * C * F;
    sz[W_LNF] = C;
    sz[W_HEAD] = c->tie_embeddings ? 0 : V * C;
    sz[W_BQ] = c->qkv_bias ? L * QD : 0;
    sz[W_BK] = c->qkv_bias ? L * KD : 0;
    sz[W_BV] = c->qkv_bias ? L * KD : 0;
    sz[W_BO] = c->o_bias ? L * C : 0;
}

/* w's fields, in the order of the kinds (W_*). */
void cl_llama_weight_fields(cl_llama_weights *w, float **p[NW])
{
    float **f[NW] = {&w->embed, &w->ln1, &w->wq, &w->wk, &w->wv, &w->wo,
                     &w->ln2,   &w->wg,  &w->wu, &w->wd, &w->lnf, &w->head,
                     &w->bq,    &w->bk,  &w->bv, &w->bo};
    memcpy(p, f, sizeof f);
}

/* Point w's fields into mem, laid out in the order above. */
static void point_weights(const cl_llama_config *c, float *mem, cl_llama_weights *w)
{
    size_t sz[NW];
    cl_llama_weight_sizes(c, sz);
    float **p[NW];
    cl_llama_weight_fields(w, p);
    for (int i = 0; i < NW; i++) {
        *p[i] = sz[i] || i == W_HEAD ? mem : NULL;
        mem += sz[i];
    }
    if (c->tie_embeddings)
        w->head = w->embed;
}

int cl_llama_per_layer(int k)
{
    return k != W_EMBED && k != W_LNF && k != W_HEAD;
}

float *cl_llama_slot(cl_llama_weights *w, int k, int l, size_t per)
{
    float *base[NW] = {w->embed, w->ln1, w->wq, w->wk, w->wv, w->wo, w->ln2, w->wg,
                       w->wu,    w->wd,  w->lnf, w->head, w->bq, w->bk, w->bv, w->bo};
    return base[k] + (cl_llama_per_layer(k) ? (size_t)l * per : 0);
}

static size_t total_params(const cl_llama_config *c)
{
    size_t sz[NW], n = 0;
    cl_llama_weight_sizes(c, sz);
    for (int i = 0; i < NW; i++)
        n += sz[i];
    return n;
}

const cl_llama_config *cl_llama_cfg(const cl_llama *m) { return &m->c; }
cl_llama_weights *cl_llama_params(cl_llama *m) { return &m->w; }
cl_llama_weights *cl_llama_grads(cl_llama *m) { return m->grads ? &m->g : NULL; }
size_t cl_llama_num_params(const cl_llama *m) { return m->n_params; }
size_t cl_llama_mapped_bytes(const cl_llama *m) { return m->mapped_bytes; }
float *cl_llama_grad_mem(cl_llama *m) { return m->grads; }
int cl_llama_loss_count(const cl_llama *m) { return m->loss_count; }
const float *cl_llama_logits(const cl_llama *m) { return m->a.logits; }

/* ------------------------------------------------------------ creation */

/* The model; with_params, its parameters in one allocation (else the
 * loader places them). */
cl_llama *cl_llama_alloc(const cl_llama_config *c, int with_params, cl_error *err)
{
    cl_llama *m = calloc(1, sizeof *m);
    if (!m) {
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->c = *c;
    m->n_params = total_params(c);
    if (with_params) {
        m->params = calloc(m->n_params, sizeof(float));
        if (!m->params) {
            free(m);
            cl_error_set(err, CL_ERR_NOMEM, "out of memory for %zu parameters",
                         total_params(c));
            return NULL;
        }
        point_weights(c, m->params, &m->w);
    }
    m->inv_freq = malloc((size_t)(c->head_dim / 2) * sizeof(float));
    if (!m->inv_freq) {
        free(m->params);
        free(m);
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    cl_llama_rope_inv_freq(c, m->inv_freq);
    return m;
}

int cl_llama_create(const cl_llama_config *c, uint64_t seed, float init_std, cl_llama **out,
                    cl_error *err)
{
    *out = NULL;
    int rc = cl_llama_config_check(c, "config", err);
    if (rc)
        return rc;
    cl_llama *m = cl_llama_alloc(c, 1, err);
    if (!m)
        return err->code;
    cl_rng g;
    cl_rng_seed(&g, seed);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = (float)(init_std * cl_rng_normal(&g));
    /* norms start at one */
    size_t C = c->hidden_size;
    for (size_t i = 0; i < (size_t)c->num_layers * C; i++)
        m->w.ln1[i] = m->w.ln2[i] = 1.0f;
    for (size_t i = 0; i < C; i++)
        m->w.lnf[i] = 1.0f;
    /* GPT-2-style: the projections into the residual stream start smaller */
    float shrink = 1.0f / sqrtf(2.0f * (float)c->num_layers);
    size_t so = (size_t)c->num_layers * C * c->num_heads * c->head_dim;
    size_t sd = (size_t)c->num_layers * C * c->intermediate_size;
    for (size_t i = 0; i < so; i++)
        m->w.wo[i] *= shrink;
    for (size_t i = 0; i < sd; i++)
        m->w.wd[i] *= shrink;
    *out = m;
    return CL_OK;
}

void cl_llama_free(cl_llama *m)
{
    if (!m)
        return;
    cl_llama_lora_free_all(m);
    if (m->map)
        munmap(m->map, m->map_len);
    free(m->params);
    free(m->grads);
    free(m->act_mem);
    free(m->scratch);
    free(m->kv);
    free(m->inv_freq);
    free(m);
}

/* A mapped base copied into one allocation in the usual layout, the mapping
 * dropped: before anything writes the base, or wants it contiguous. */
static int unmap_base(cl_llama *m, cl_error *err)
{
    if (!m->map)
        return CL_OK;
    float *p = malloc(m->n_params ? m->n_params * sizeof(float) : 1);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for %zu parameters",
                            m->n_params);
    cl_llama_weights w = {0};
    point_weights(&m->c, p, &w);
    size_t sz[NW];
    cl_llama_weight_sizes(&m->c, sz);
    float **src[NW], **dst[NW];
    cl_llama_weight_fields(&m->w, src);
    cl_llama_weight_fields(&w, dst);
    for (int k = 0; k < NW; k++)
        if (sz[k])
            memcpy(*dst[k], *src[k], sz[k] * sizeof(float));
    munmap(m->map, m->map_len);
    m->map = NULL;
    m->map_len = m->mapped_bytes = 0;
    m->params = p;
    m->w = w;
    return CL_OK;
}

float *cl_llama_param_mem(cl_llama *m)
{
    cl_error err;
    return unmap_base(m, &err) ? NULL : m->params;
}

/* ------------------------------------------------------------ activations */

int cl_llama_prepare(cl_llama *m, int B, int T, int train_base, cl_error *err)
{
    const cl_llama_config *c = &m->c;
    if (c->sliding_window && T > c->sliding_window)
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "batch %d x %d: %s's sliding_window %d is shorter than the sequence; "
                            "collide computes full causal attention only", B, T,
                            cl_llama_family_name(c->family), c->sliding_window);
    if (B < 1 || T < 1 || T > c->max_position)
        return cl_error_set(err, CL_ERR_ARG, "batch %d x %d: T must be in [1, %d]", B, T,
                            c->max_position);
    size_t N = (size_t)B * T, C = c->hidden_size, F = c->intermediate_size, L = c->num_layers;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)c->num_kv_heads * c->head_dim;
    size_t V = c->vocab_size, H = c->num_heads;
    /* the activation table, named as the weights' table is (W_*) */
    enum { A_RESID, A_LN1, A_RSTD1, A_Q, A_K, A_V, A_ATT, A_ATTY, A_MID, A_LN2, A_RSTD2, A_GATE,
           A_UP, A_ACT, A_LNF, A_RSTDF, A_LOGITS, NA };
    size_t sizes[NA];
    float **ptr[NA];
    sizes[A_RESID] = (L + 1) * N * C, ptr[A_RESID] = &m->a.resid;
    sizes[A_LN1] = L * N * C, ptr[A_LN1] = &m->a.ln1;
    sizes[A_RSTD1] = L * N, ptr[A_RSTD1] = &m->a.rstd1;
    sizes[A_Q] = L * N * QD, ptr[A_Q] = &m->a.q;
    sizes[A_K] = L * N * KD, ptr[A_K] = &m->a.k;
    sizes[A_V] = L * N * KD, ptr[A_V] = &m->a.v;
    sizes[A_ATT] = L * (size_t)B * H * T * T, ptr[A_ATT] = &m->a.att;
    sizes[A_ATTY] = L * N * QD, ptr[A_ATTY] = &m->a.atty;
    sizes[A_MID] = L * N * C, ptr[A_MID] = &m->a.mid;
    sizes[A_LN2] = L * N * C, ptr[A_LN2] = &m->a.ln2;
    sizes[A_RSTD2] = L * N, ptr[A_RSTD2] = &m->a.rstd2;
    sizes[A_GATE] = L * N * F, ptr[A_GATE] = &m->a.gate;
    sizes[A_UP] = L * N * F, ptr[A_UP] = &m->a.up;
    sizes[A_ACT] = L * N * F, ptr[A_ACT] = &m->a.act;
    sizes[A_LNF] = N * C, ptr[A_LNF] = &m->a.lnf;
    sizes[A_RSTDF] = N, ptr[A_RSTDF] = &m->a.rstdf;
    sizes[A_LOGITS] = N * V, ptr[A_LOGITS] = &m->a.logits;
    size_t total = 0;
    for (int i = 0; i < NA; i++)
        total += sizes[i];
    free(m->act_mem);
    m->act_mem = calloc(total, sizeof(float));
    /* backward scratch: dresid, dx, dq, dk, dv, datt-out, dgate, dup, dact, lora u */
    size_t R = cl_llama_lora_max_rank(m);
    size_t scratch = 2 * N * C + N * QD + 2 * N * KD + N * QD + 3 * N * F + N * (R + 1) +
                     N * (F > C ? F : C) + N * (QD > C ? QD : C);
    free(m->scratch);
    m->scratch = calloc(scratch, sizeof(float));
    if (!m->act_mem || !m->scratch)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for activations of %d x %d", B, T);
    float *p = m->act_mem;
    for (int i = 0; i < NA; i++) {
        *ptr[i] = p;
        p += sizes[i];
    }
    m->B = B;
    m->T = T;
    m->train_base = train_base;
    if (train_base && unmap_base(m, err))
        return err->code;
    if (train_base && !m->grads) {
        m->grads = calloc(m->n_params, sizeof(float));
        if (!m->grads)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory for gradients");
        point_weights(c, m->grads, &m->g);
    }
    return cl_llama_lora_prepare(m, (int)N, err);
}

/* ------------------------------------------------------------ forward */

/* A linear layer of layer l, kind k, with its LoRA adapters:
 * out = inp W^T + LoRA(inp). */
static void linear_forward(cl_llama *m, float *out, const float *inp, int k, int l, int N, int In,
                           int Out, int training, uint64_t seed)
{
    size_t per = (size_t)In * Out;
    ck_matmul_forward(out, inp, cl_llama_slot(&m->w, k, l, per), N, In, Out, 0);
    cl_lora_slot *s = m->slot_of[l * CL_PROJ_COUNT + proj_of_kind(k)];
    if (s)
        cl_llama_lora_forward(m, s, out, inp, N, training, seed);
}

static void linear_backward(cl_llama *m, float *dinp, const float *dout, const float *inp, int k,
                            int l, int N, int In, int Out)
{
    size_t per = (size_t)In * Out;
    ck_matmul_backward(dinp, m->train_base ? cl_llama_slot(&m->g, k, l, per) : NULL, dout, inp,
                       cl_llama_slot(&m->w, k, l, per), N, In, Out);
    cl_lora_slot *s = m->slot_of[l * CL_PROJ_COUNT + proj_of_kind(k)];
    if (s)
        cl_llama_lora_backward(m, s, dinp, dout, inp, N);
}

double cl_llama_forward(cl_llama *m, const int32_t *tokens, const int32_t *targets,
                        const uint8_t *mask, int training, uint64_t seed)
{
    return cl_llama_forward_bt(m, m->B, m->T, tokens, targets, mask, training, seed);
}

double cl_llama_forward_bt(cl_llama *m, int B, int T, const int32_t *tokens,
                           const int32_t *targets, const uint8_t *mask, int training,
                           uint64_t seed)
{
    const cl_llama_config *c = &m->c;
    int N = B * T, C = c->hidden_size, F = c->intermediate_size, L = c->num_layers;
    int H = c->num_heads, Hkv = c->num_kv_heads, D = c->head_dim, V = c->vocab_size;
    int QD = H * D, KD = Hkv * D;
    acts *a = &m->a;
    m->fB = B;
    m->fT = T;
    m->tokens = tokens;
    ck_embedding_forward(a->resid, tokens, m->w.embed, N, C);
    for (int l = 0; l < L; l++) {
        float *x = a->resid + (size_t)l * N * C, *y = x + (size_t)N * C;
        float *ln1 = a->ln1 + (size_t)l * N * C, *ln2 = a->ln2 + (size_t)l * N * C;
        float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KD;
        float *v = a->v + (size_t)l * N * KD, *atty = a->atty + (size_t)l * N * QD;
        float *att = a->att + (size_t)l * B * H * T * T, *mid = a->mid + (size_t)l * N * C;
        float *gate = a->gate + (size_t)l * N * F, *up = a->up + (size_t)l * N * F;
        float *act = a->act + (size_t)l * N * F;
        uint64_t ls = seed + (uint64_t)l * 0x100000001b3ull;
        /* attention block */
        ck_rmsnorm_forward(ln1, a->rstd1 + (size_t)l * N, x, m->w.ln1 + (size_t)l * C, N, C,
                           c->rms_norm_eps);
        linear_forward(m, q, ln1, W_Q, l, N, C, QD, training, ls + 1);
        linear_forward(m, k, ln1, W_K, l, N, C, KD, training, ls + 2);
        linear_forward(m, v, ln1, W_V, l, N, C, KD, training, ls + 3);
        cl_llama_add_bias(m, q, CL_PROJ_Q, l, N);
        cl_llama_add_bias(m, k, CL_PROJ_K, l, N);
        cl_llama_add_bias(m, v, CL_PROJ_V, l, N);
        cl_llama_rope(m, q, N, T, 0, H);
        cl_llama_rope(m, k, N, T, 0, Hkv);
        ck_attention_forward(atty, att, q, k, v, B, T, H, Hkv, D);
        linear_forward(m, mid, atty, W_O, l, N, QD, C, training, ls + 4);
        cl_llama_add_bias(m, mid, CL_PROJ_O, l, N);
        for (size_t i = 0; i < (size_t)N * C; i++)
            mid[i] += x[i];
        /* MLP block */
        ck_rmsnorm_forward(ln2, a->rstd2 + (size_t)l * N, mid, m->w.ln2 + (size_t)l * C, N, C,
                           c->rms_norm_eps);
        linear_forward(m, gate, ln2, W_G, l, N, C, F, training, ls + 5);
        linear_forward(m, up, ln2, W_U, l, N, C, F, training, ls + 6);
        ck_swiglu_forward(act, gate, up, N * F);
        linear_forward(m, y, act, W_D, l, N, F, C, training, ls + 7);
        for (size_t i = 0; i < (size_t)N * C; i++)
            y[i] += mid[i];
    }
    ck_rmsnorm_forward(a->lnf, a->rstdf, a->resid + (size_t)L * N * C, m->w.lnf, N, C,
                       c->rms_norm_eps);
    ck_matmul_forward(a->logits, a->lnf, m->w.head, N, C, V, 0);
    m->loss_count = 0;
    if (!targets)
        return 0.0;
    /* the logits become dloss/dlogits, ready for backward */
    return ck_crossentropy_fused(a->logits, targets, mask, N, V, &m->loss_count);
}

/* ------------------------------------------------------------ backward */

void cl_llama_backward(cl_llama *m)
{
    const cl_llama_config *c = &m->c;
    int B = m->fB, T = m->fT, N = B * T, C = c->hidden_size, F = c->intermediate_size;
    int L = c->num_layers, H = c->num_heads, Hkv = c->num_kv_heads, D = c->head_dim;
    int V = c->vocab_size, QD = H * D, KD = Hkv * D;
    acts *a = &m->a;
    if (m->train_base)
        memset(m->grads, 0, m->n_params * sizeof(float));
    cl_llama_lora_zero_grad(m);
    float *dres = m->scratch, *dx = dres + (size_t)N * C, *dq = dx + (size_t)N * C;
    float *dk = dq + (size_t)N * QD, *dv = dk + (size_t)N * KD, *datty = dv + (size_t)N * KD;
    float *dgate = datty + (size_t)N * QD, *dup = dgate + (size_t)N * F, *dact = dup + (size_t)N * F;
    /* head and final norm */
    memset(dx, 0, (size_t)N * C * sizeof *dx);
    ck_matmul_backward(dx, m->train_base ? m->g.head : NULL, a->logits, a->lnf, m->w.head, N, C,
                       V);
    memset(dres, 0, (size_t)N * C * sizeof *dres);
    ck_rmsnorm_backward(dres, m->train_base ? m->g.lnf : NULL, dx, a->resid + (size_t)L * N * C,
                        m->w.lnf, a->rstdf, N, C);
    for (int l = L - 1; l >= 0; l--) {
        float *x = a->resid + (size_t)l * N * C;
        float *ln1 = a->ln1 + (size_t)l * N * C, *ln2 = a->ln2 + (size_t)l * N * C;
        float *q = a->q + (size_t)l * N * QD, *k = a->k + (size_t)l * N * KD;
        float *v = a->v + (size_t)l * N * KD, *atty = a->atty + (size_t)l * N * QD;
        float *att = a->att + (size_t)l * B * H * T * T, *mid = a->mid + (size_t)l * N * C;
        float *gate = a->gate + (size_t)l * N * F, *up = a->up + (size_t)l * N * F;
        float *act = a->act + (size_t)l * N * F;
        float *gln1 = m->train_base ? m->g.ln1 + (size_t)l * C : NULL;
        float *gln2 = m->train_base ? m->g.ln2 + (size_t)l * C : NULL;
        /* MLP block: y = mid + down(act); dres is dy and flows to dmid */
        memset(dact, 0, (size_t)N * F * sizeof *dact);
        linear_backward(m, dact, dres, act, W_D, l, N, F, C);
        ck_swiglu_backward(dgate, dup, dact, gate, up, N * F);
        memset(dx, 0, (size_t)N * C * sizeof *dx);
        linear_backward(m, dx, dgate, ln2, W_G, l, N, C, F);
        linear_backward(m, dx, dup, ln2, W_U, l, N, C, F);
        ck_rmsnorm_backward(dres, gln2, dx, mid, m->w.ln2 + (size_t)l * C,
                            a->rstd2 + (size_t)l * N, N, C);
        /* attention block: mid = x + o(atty); dres is dmid and flows to dx */
        memset(datty, 0, (size_t)N * QD * sizeof *datty);
        linear_backward(m, datty, dres, atty, W_O, l, N, QD, C);
        if (m->train_base && m->g.bo)
            ck_bias_backward(m->g.bo + (size_t)l * C, dres, N, C);
        ck_attention_backward(dq, dk, dv, datty, att, q, k, v, B, T, H, Hkv, D);
        ck_rope_backward_freq(dq, N, T, H, D, m->inv_freq);
        ck_rope_backward_freq(dk, N, T, Hkv, D, m->inv_freq);
        if (m->train_base && m->g.bq) {
            ck_bias_backward(m->g.bq + (size_t)l * QD, dq, N, QD);
            ck_bias_backward(m->g.bk + (size_t)l * KD, dk, N, KD);
            ck_bias_backward(m->g.bv + (size_t)l * KD, dv, N, KD);
        }
        /* with the base frozen nothing below layer 0's q, k, v needs a
         * gradient, so their input gradient is not computed */
        float *dln1 = m->train_base || l > 0 ? dx : NULL;
        if (dln1)
            memset(dln1, 0, (size_t)N * C * sizeof *dln1);
        linear_backward(m, dln1, dq, ln1, W_Q, l, N, C, QD);
        linear_backward(m, dln1, dk, ln1, W_K, l, N, C, KD);
        linear_backward(m, dln1, dv, ln1, W_V, l, N, C, KD);
        if (dln1)
            ck_rmsnorm_backward(dres, gln1, dln1, x, m->w.ln1 + (size_t)l * C,
                                a->rstd1 + (size_t)l * N, N, C);
    }
    if (m->train_base)
        ck_embedding_backward(m->g.embed, dres, m->tokens, N, C);
}
