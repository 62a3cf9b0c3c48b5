/*
 * lora.c -- LoRA on the model's projections: y = W x + s B (A x~), x~ the
 * dropped-out input. Each adapted projection keeps its frozen adapters
 * (earlier tasks, concatenated along the rank as the O-LoRA/N-LoRA code
 * does, with their scales folded into B) and one trainable adapter.
 */
#include "llama_internal.h"

#include <math.h>
#include <string.h>

static const char *hf_names[CL_PROJ_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                              "gate_proj", "up_proj", "down_proj"};
static const char *short_names[CL_PROJ_COUNT] = {"attn.q", "attn.k", "attn.v", "attn.o",
                                                 "mlp.gate", "mlp.up", "mlp.down"};

const char *cl_proj_hf_name(cl_proj p) { return hf_names[p]; }
const char *cl_proj_short(cl_proj p) { return short_names[p]; }

int cl_proj_parse(const char *s, cl_proj *out)
{
    static const char *bare[CL_PROJ_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};
    for (int i = 0; i < CL_PROJ_COUNT; i++)
        if (!strcmp(s, bare[i]) || !strcmp(s, hf_names[i]) || !strcmp(s, short_names[i])) {
            *out = (cl_proj)i;
            return 0;
        }
    return -1;
}

static void dims_of(const cl_llama_config *c, cl_proj p, int *d_in, int *d_out)
{
    int C = c->hidden_size, F = c->intermediate_size;
    int QD = c->num_heads * c->head_dim, KD = c->num_kv_heads * c->head_dim;
    switch (p) {
    case CL_PROJ_Q: *d_in = C; *d_out = QD; break;
    case CL_PROJ_K: case CL_PROJ_V: *d_in = C; *d_out = KD; break;
    case CL_PROJ_O: *d_in = QD; *d_out = C; break;
    case CL_PROJ_GATE: case CL_PROJ_UP: *d_in = C; *d_out = F; break;
    default: *d_in = F; *d_out = C; break;
    }
}

int cl_llama_lora_count(const cl_llama *m) { return m->n_lora; }
cl_lora_slot *cl_llama_lora_slot(cl_llama *m, int i) { return &m->lora[i]; }
void cl_llama_lora_set_dropout(cl_llama *m, float p) { m->lora_dropout = p; }

cl_lora_slot *cl_llama_lora_find(cl_llama *m, int layer, cl_proj p)
{
    if (layer < 0 || layer >= m->c.num_layers || p >= CL_PROJ_COUNT)
        return NULL;
    return m->slot_of[layer * CL_PROJ_COUNT + p];
}

int cl_llama_lora_max_rank(const cl_llama *m)
{
    int r = 0;
    for (int i = 0; i < m->n_lora; i++) {
        r = m->lora[i].r > r ? m->lora[i].r : r;
        r = m->lora[i].r_frozen > r ? m->lora[i].r_frozen : r;
    }
    return r;
}

/* The slot for (layer, p), created empty if needed. The slot array only
 * grows through here; slot_of is rebuilt after a move. */
static cl_lora_slot *slot_get(cl_llama *m, int layer, cl_proj p, cl_error *err)
{
    cl_lora_slot *s = cl_llama_lora_find(m, layer, p);
    if (s)
        return s;
    cl_lora_slot *n = realloc(m->lora, (size_t)(m->n_lora + 1) * sizeof *n);
    lora_act *na = realloc(m->lact, (size_t)(m->n_lora + 1) * sizeof *na);
    if (!n || !na) {
        if (n)
            m->lora = n;
        if (na)
            m->lact = na;
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->lora = n;
    m->lact = na;
    s = &m->lora[m->n_lora];
    memset(s, 0, sizeof *s);
    memset(&m->lact[m->n_lora], 0, sizeof m->lact[0]);
    s->layer = layer;
    s->proj = p;
    dims_of(&m->c, p, &s->d_in, &s->d_out);
    m->n_lora++;
    for (int i = 0; i < m->n_lora; i++)
        m->slot_of[m->lora[i].layer * CL_PROJ_COUNT + m->lora[i].proj] = &m->lora[i];
    return s;
}

/* Append r columns of B2 (d_out x r, times scale) to B (d_out x rb). */
static float *append_cols(const float *B, int rb, const float *B2, int r, float scale, int d_out)
{
    float *o = malloc((size_t)d_out * (size_t)(rb + r) * sizeof *o);
    if (!o)
        return NULL;
    for (int i = 0; i < d_out; i++) {
        for (int j = 0; j < rb; j++)
            o[(size_t)i * (rb + r) + j] = B[(size_t)i * rb + j];
        for (int j = 0; j < r; j++)
            o[(size_t)i * (rb + r) + rb + j] = scale * B2[(size_t)i * r + j];
    }
    return o;
}

static int freeze(cl_lora_slot *s, cl_error *err)
{
    if (s->r == 0)
        return CL_OK;
    float *A = malloc((size_t)(s->r_frozen + s->r) * (size_t)s->d_in * sizeof *A);
    float *B = append_cols(s->B_frozen, s->r_frozen, s->B, s->r, s->scale, s->d_out);
    if (!A || !B) {
        free(A);
        free(B);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (s->r_frozen)
        memcpy(A, s->A_frozen, (size_t)s->r_frozen * (size_t)s->d_in * sizeof *A);
    memcpy(A + (size_t)s->r_frozen * (size_t)s->d_in, s->A, (size_t)s->r * (size_t)s->d_in * sizeof *A);
    free(s->A_frozen);
    free(s->B_frozen);
    free(s->A);
    free(s->B);
    free(s->dA);
    free(s->dB);
    s->A = s->B = s->dA = s->dB = NULL;
    s->A_frozen = A;
    s->B_frozen = B;
    s->r_frozen += s->r;
    s->r = 0;
    return CL_OK;
}

int cl_llama_lora_new_task(cl_llama *m, unsigned proj_mask, int r, float alpha, uint64_t seed,
                           cl_error *err)
{
    if (r < 1 || r > 4096 || !(alpha > 0))
        return cl_error_set(err, CL_ERR_ARG, "LoRA rank %d / alpha %g out of range", r, alpha);
    cl_rng g;
    cl_rng_seed(&g, seed);
    for (int l = 0; l < m->c.num_layers; l++)
        for (int p = 0; p < CL_PROJ_COUNT; p++) {
            if (!(proj_mask & (1u << p)))
                continue;
            cl_lora_slot *s = slot_get(m, l, (cl_proj)p, err);
            if (!s)
                return err->code;
            int rc = freeze(s, err);
            if (rc)
                return rc;
            s->r = r;
            s->scale = alpha / (float)r;
            s->A = malloc((size_t)r * (size_t)s->d_in * sizeof(float));
            s->B = calloc((size_t)s->d_out * (size_t)r, sizeof(float));
            s->dA = calloc((size_t)r * (size_t)s->d_in, sizeof(float));
            s->dB = calloc((size_t)s->d_out * (size_t)r, sizeof(float));
            if (!s->A || !s->B || !s->dA || !s->dB)
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            /* PEFT: kaiming_uniform_(a = sqrt 5) on A, i.e. U(-1/sqrt(d_in), 1/sqrt(d_in)) */
            float bound = 1.0f / sqrtf((float)s->d_in);
            for (size_t i = 0; i < (size_t)r * (size_t)s->d_in; i++)
                s->A[i] = (float)((2.0 * cl_rng_uniform(&g) - 1.0) * bound);
        }
    return m->lora_N ? cl_llama_lora_prepare(m, m->lora_N, err) : CL_OK;
}

int cl_llama_lora_add_frozen(cl_llama *m, int layer, cl_proj p, int r, const float *A,
                             const float *B, float scale, cl_error *err)
{
    if (layer < 0 || layer >= m->c.num_layers || p >= CL_PROJ_COUNT || r < 1)
        return cl_error_set(err, CL_ERR_ARG, "LoRA slot %d/%d rank %d out of range", layer, p, r);
    cl_lora_slot *s = slot_get(m, layer, p, err);
    if (!s)
        return err->code;
    float *nA = malloc((size_t)(s->r_frozen + r) * (size_t)s->d_in * sizeof *nA);
    float *nB = append_cols(s->B_frozen, s->r_frozen, B, r, scale, s->d_out);
    if (!nA || !nB) {
        free(nA);
        free(nB);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (s->r_frozen)
        memcpy(nA, s->A_frozen, (size_t)s->r_frozen * (size_t)s->d_in * sizeof *nA);
    memcpy(nA + (size_t)s->r_frozen * (size_t)s->d_in, A, (size_t)r * (size_t)s->d_in * sizeof *nA);
    free(s->A_frozen);
    free(s->B_frozen);
    s->A_frozen = nA;
    s->B_frozen = nB;
    s->r_frozen += r;
    return m->lora_N ? cl_llama_lora_prepare(m, m->lora_N, err) : CL_OK;
}

int cl_llama_lora_prepare(cl_llama *m, int N, cl_error *err)
{
    int R = cl_llama_lora_max_rank(m), Dm = 1;
    for (int i = 0; i < m->n_lora; i++) {
        lora_act *a = &m->lact[i];
        cl_lora_slot *s = &m->lora[i];
        Dm = s->d_in > Dm ? s->d_in : Dm;
        free(a->xd);
        free(a->mask);
        free(a->hs);
        a->xd = malloc((size_t)N * (size_t)s->d_in * sizeof *a->xd);
        a->mask = malloc((size_t)N * (size_t)s->d_in);
        a->hs = malloc((size_t)N * (size_t)(s->r ? s->r : 1) * sizeof *a->hs);
        if (!a->xd || !a->mask || !a->hs)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory for LoRA activations");
    }
    free(m->lora_tmp);
    free(m->lora_dx);
    m->lora_tmp = malloc((size_t)N * (size_t)(R ? R : 1) * sizeof(float));
    m->lora_dx = malloc((size_t)N * (size_t)Dm * sizeof(float));
    if (!m->lora_tmp || !m->lora_dx)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for LoRA scratch");
    m->lora_N = N;
    return CL_OK;
}

void cl_llama_lora_forward(cl_llama *m, cl_lora_slot *s, float *out, const float *inp, int N,
                           int training, uint64_t seed)
{
    lora_act *a = &m->lact[s - m->lora];
    const float *x = inp;
    if (training && m->lora_dropout > 0) {
        ck_dropout_forward(a->xd, a->mask, inp, N * s->d_in, m->lora_dropout, seed);
        x = a->xd;
    }
    a->xin = x;
    if (s->r_frozen) {
        /* out += (x A_f^T) B_f^T, scales already in B_f */
        ck_gemm(0, 1, N, s->r_frozen, s->d_in, 1.0f, x, s->d_in, s->A_frozen, s->d_in, 0.0f,
                m->lora_tmp, s->r_frozen);
        ck_gemm(0, 1, N, s->d_out, s->r_frozen, 1.0f, m->lora_tmp, s->r_frozen, s->B_frozen,
                s->r_frozen, 1.0f, out, s->d_out);
    }
    if (s->r) {
        /* hs = s (x A^T) is kept: it is what dB needs */
        ck_gemm(0, 1, N, s->r, s->d_in, s->scale, x, s->d_in, s->A, s->d_in, 0.0f, a->hs, s->r);
        ck_gemm(0, 1, N, s->d_out, s->r, 1.0f, a->hs, s->r, s->B, s->r, 1.0f, out, s->d_out);
    }
}

void cl_llama_lora_backward(cl_llama *m, cl_lora_slot *s, float *dinp, const float *dout,
                            const float *inp, int N)
{
    (void)inp;
    lora_act *a = &m->lact[s - m->lora];
    int dropped = a->xin != inp;
    /* gradient w.r.t. the branch input x~, then through dropout; dinp NULL:
     * only dA and dB are wanted */
    float *dx = dropped && dinp ? m->lora_dx : dinp;
    if (dropped && dx)
        memset(dx, 0, (size_t)N * (size_t)s->d_in * sizeof *dx);
    if (s->r_frozen && dx) {
        ck_gemm(0, 0, N, s->r_frozen, s->d_out, 1.0f, dout, s->d_out, s->B_frozen, s->r_frozen,
                0.0f, m->lora_tmp, s->r_frozen);
        ck_gemm(0, 0, N, s->d_in, s->r_frozen, 1.0f, m->lora_tmp, s->r_frozen, s->A_frozen,
                s->d_in, 1.0f, dx, s->d_in);
    }
    if (s->r) {
        /* dB += dout^T hs;  u = s dout B;  dA += u^T x~;  dx~ += u A */
        ck_gemm(1, 0, s->d_out, s->r, N, 1.0f, dout, s->d_out, a->hs, s->r, 1.0f, s->dB, s->r);
        ck_gemm(0, 0, N, s->r, s->d_out, s->scale, dout, s->d_out, s->B, s->r, 0.0f, m->lora_tmp,
                s->r);
        ck_gemm(1, 0, s->r, s->d_in, N, 1.0f, m->lora_tmp, s->r, a->xin, s->d_in, 1.0f, s->dA,
                s->d_in);
        if (dx)
            ck_gemm(0, 0, N, s->d_in, s->r, 1.0f, m->lora_tmp, s->r, s->A, s->d_in, 1.0f, dx,
                    s->d_in);
    }
    if (dropped && dx)
        ck_dropout_backward(dinp, dx, a->mask, N * s->d_in, m->lora_dropout);
}

void cl_llama_lora_zero_grad(cl_llama *m)
{
    for (int i = 0; i < m->n_lora; i++) {
        cl_lora_slot *s = &m->lora[i];
        if (s->r) {
            memset(s->dA, 0, (size_t)s->r * (size_t)s->d_in * sizeof *s->dA);
            memset(s->dB, 0, (size_t)s->d_out * (size_t)s->r * sizeof *s->dB);
        }
    }
}

void cl_llama_lora_free_all(cl_llama *m)
{
    for (int i = 0; i < m->n_lora; i++) {
        cl_lora_slot *s = &m->lora[i];
        free(s->A_frozen), free(s->B_frozen), free(s->A), free(s->B), free(s->dA), free(s->dB);
        free(m->lact[i].xd), free(m->lact[i].mask), free(m->lact[i].hs);
    }
    free(m->lora);
    free(m->lact);
    free(m->lora_tmp);
    free(m->lora_dx);
    m->lora = NULL;
    m->lact = NULL;
    m->lora_tmp = m->lora_dx = NULL;
    m->n_lora = 0;
    memset(m->slot_of, 0, sizeof m->slot_of);
}

void cl_llama_lora_free(cl_llama *m)
{
    int N = m->lora_N;
    cl_llama_lora_free_all(m);
    m->lora_N = N; /* the next adapters get buffers of the prepared size */
}
