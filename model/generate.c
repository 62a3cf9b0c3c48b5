/*
 * generate.c -- greedy decoding and ranked scoring of option labels. The
 * prompt goes through the batched forward once (its keys and values fill the
 * cache); each further token then costs one position, attending to the cache.
 */
#include "llama_internal.h"

#include <math.h>
#include <string.h>

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* One position at pos: x is the token's embedding; returns logits in out. */
static void decode_step(cl_llama *m, int32_t tok, int pos, float *cache_k, float *cache_v,
                        int cap, float *buf, float *logits)
{
    const cl_llama_config *c = &m->c;
    int C = c->hidden_size, F = c->intermediate_size, L = c->num_layers, H = c->num_heads;
    int Hkv = c->num_kv_heads, D = c->head_dim, QD = H * D, KD = Hkv * D, group = H / Hkv;
    float *x = buf, *ln = x + C, *q = ln + C, *att = q + QD, *o = att + QD, *g = o + C;
    float *u = g + F, *sc = u + F, rstd;
    memcpy(x, m->w.embed + (size_t)tok * C, (size_t)C * sizeof *x);
    float scale = 1.0f / sqrtf((float)D);
    for (int l = 0; l < L; l++) {
        float *kc = cache_k + (size_t)l * cap * KD, *vc = cache_v + (size_t)l * cap * KD;
        cl_lora_slot **slot = m->slot_of + l * CL_PROJ_COUNT;
        ck_rmsnorm_forward(ln, &rstd, x, m->w.ln1 + (size_t)l * C, 1, C, c->rms_norm_eps);
        ck_matmul_forward(q, ln, m->w.wq + (size_t)l * QD * C, 1, C, QD, 0);
        ck_matmul_forward(kc + (size_t)pos * KD, ln, m->w.wk + (size_t)l * KD * C, 1, C, KD, 0);
        ck_matmul_forward(vc + (size_t)pos * KD, ln, m->w.wv + (size_t)l * KD * C, 1, C, KD, 0);
        if (slot[CL_PROJ_Q])
            cl_llama_lora_forward(m, slot[CL_PROJ_Q], q, ln, 1, 0, 0);
        if (slot[CL_PROJ_K])
            cl_llama_lora_forward(m, slot[CL_PROJ_K], kc + (size_t)pos * KD, ln, 1, 0, 0);
        if (slot[CL_PROJ_V])
            cl_llama_lora_forward(m, slot[CL_PROJ_V], vc + (size_t)pos * KD, ln, 1, 0, 0);
        /* biases and rope as the batched forward applies them (qwen2, llama3 rope) */
        cl_llama_add_bias(m, q, CL_PROJ_Q, l, 1);
        cl_llama_add_bias(m, kc + (size_t)pos * KD, CL_PROJ_K, l, 1);
        cl_llama_add_bias(m, vc + (size_t)pos * KD, CL_PROJ_V, l, 1);
        cl_llama_rope(m, q, 1, 1, pos, H);
        cl_llama_rope(m, kc + (size_t)pos * KD, 1, 1, pos, Hkv);
        for (int h = 0; h < H; h++) {
            const float *qh = q + (size_t)h * D;
            int kh = h / group;
            float mx = -INFINITY, sum = 0;
            for (int s = 0; s <= pos; s++) {
                const float *ks = kc + (size_t)s * KD + (size_t)kh * D;
                float d = 0;
                for (int i = 0; i < D; i++)
                    d += qh[i] * ks[i];
                sc[s] = d * scale;
                mx = sc[s] > mx ? sc[s] : mx;
            }
            for (int s = 0; s <= pos; s++) {
                sc[s] = expf(sc[s] - mx);
                sum += sc[s];
            }
            float *ah = att + (size_t)h * D;
            memset(ah, 0, (size_t)D * sizeof *ah);
            for (int s = 0; s <= pos; s++) {
                const float *vs = vc + (size_t)s * KD + (size_t)kh * D;
                float p = sc[s] / sum;
                for (int i = 0; i < D; i++)
                    ah[i] += p * vs[i];
            }
        }
        ck_matmul_forward(o, att, m->w.wo + (size_t)l * C * QD, 1, QD, C, 0);
        if (slot[CL_PROJ_O])
            cl_llama_lora_forward(m, slot[CL_PROJ_O], o, att, 1, 0, 0);
        cl_llama_add_bias(m, o, CL_PROJ_O, l, 1);
        for (int i = 0; i < C; i++)
            x[i] += o[i];
        ck_rmsnorm_forward(ln, &rstd, x, m->w.ln2 + (size_t)l * C, 1, C, c->rms_norm_eps);
        ck_matmul_forward(g, ln, m->w.wg + (size_t)l * F * C, 1, C, F, 0);
        ck_matmul_forward(u, ln, m->w.wu + (size_t)l * F * C, 1, C, F, 0);
        if (slot[CL_PROJ_GATE])
            cl_llama_lora_forward(m, slot[CL_PROJ_GATE], g, ln, 1, 0, 0);
        if (slot[CL_PROJ_UP])
            cl_llama_lora_forward(m, slot[CL_PROJ_UP], u, ln, 1, 0, 0);
        ck_swiglu_forward(g, g, u, F);
        ck_matmul_forward(o, g, m->w.wd + (size_t)l * C * F, 1, F, C, 0);
        if (slot[CL_PROJ_DOWN])
            cl_llama_lora_forward(m, slot[CL_PROJ_DOWN], o, g, 1, 0, 0);
        for (int i = 0; i < C; i++)
            x[i] += o[i];
    }
    ck_rmsnorm_forward(ln, &rstd, x, m->w.lnf, 1, C, c->rms_norm_eps);
    ck_matmul_forward(logits, ln, m->w.head, 1, C, c->vocab_size, 0);
}

/* The prompt through the batched forward once, its keys and values copied
 * into a cache of cap positions; the buffers of decode_step after it. */
typedef struct kv_cache {
    float *k, *v, *buf, *logits;
    int cap;
} kv_cache;

static int prefill(cl_llama *m, const int32_t *prompt, int n_prompt, int cap, kv_cache *kc,
                   cl_error *err)
{
    const cl_llama_config *c = &m->c;
    if (n_prompt < 1 || cap < n_prompt || n_prompt > m->T || m->B * m->T < n_prompt)
        return cl_error_set(err, CL_ERR_ARG, "generate: prompt of %d tokens does not fit (T = %d)",
                            n_prompt, m->T);
    if (cap > c->max_position)
        return cl_error_set(err, CL_ERR_ARG, "generate: %d positions exceed the model's %d", cap,
                            c->max_position);
    int L = c->num_layers, KD = c->num_kv_heads * c->head_dim, C = c->hidden_size;
    int F = c->intermediate_size, QD = c->num_heads * c->head_dim;
    size_t need = 2 * (size_t)L * cap * KD + 3 * (size_t)C + 2 * (size_t)QD + 2 * (size_t)F +
                  (size_t)cap + (size_t)c->vocab_size;
    if (m->kv_T < (int)need) {
        free(m->kv);
        m->kv = malloc(need * sizeof(float));
        if (!m->kv) {
            m->kv_T = 0;
            return cl_error_set(err, CL_ERR_NOMEM, "generate: out of memory");
        }
        m->kv_T = (int)need;
    }
    kc->cap = cap;
    kc->k = m->kv;
    kc->v = kc->k + (size_t)L * cap * KD;
    kc->buf = kc->v + (size_t)L * cap * KD;
    kc->logits = kc->buf + 3 * (size_t)C + 2 * (size_t)QD + 2 * (size_t)F + (size_t)cap;
    cl_llama_forward_bt(m, 1, n_prompt, prompt, NULL, NULL, 0, 0);
    for (int l = 0; l < L; l++) {
        memcpy(kc->k + (size_t)l * cap * KD, m->a.k + (size_t)l * n_prompt * KD,
               (size_t)n_prompt * KD * sizeof(float));
        memcpy(kc->v + (size_t)l * cap * KD, m->a.v + (size_t)l * n_prompt * KD,
               (size_t)n_prompt * KD * sizeof(float));
    }
    return CL_OK;
}

/* log softmax(x)[t], in double for the sum over the vocabulary */
static double log_prob(const float *x, int n, int t)
{
    float mx = x[0];
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - mx);
    return (double)x[t] - mx - log(sum);
}

int cl_llama_evaluate(cl_llama *m, const int32_t *prompt, int n_prompt, int max_new, int eos,
                      int32_t *out, const int32_t *const *opt, const int *n_opt, int k,
                      double *ll, cl_error *err)
{
    const cl_llama_config *c = &m->c;
    int longest = 0;
    for (int j = 0; j < k; j++) {
        if (n_opt[j] < 1)
            return -cl_error_set(err, CL_ERR_ARG, "score: option %d is empty", j);
        for (int i = 0; i < n_opt[j]; i++)
            if (opt[j][i] < 0 || opt[j][i] >= c->vocab_size)
                return -cl_error_set(err, CL_ERR_ARG, "score: option %d: token %d out of range",
                                     j, opt[j][i]);
        longest = n_opt[j] > longest ? n_opt[j] : longest;
    }
    if (max_new < 0)
        return -cl_error_set(err, CL_ERR_ARG, "generate: max_new %d < 0", max_new);
    /* one prefill serves both: generation and every option overwrite the
     * cache after the prompt, one after the other */
    kv_cache kc;
    int cap = n_prompt + (max_new > longest ? max_new : longest);
    int rc = prefill(m, prompt, n_prompt, cap, &kc, err);
    if (rc)
        return -rc;
    const float *first = m->a.logits + (size_t)(n_prompt - 1) * c->vocab_size;
    for (int j = 0; j < k; j++) {
        double s = log_prob(first, c->vocab_size, opt[j][0]);
        for (int i = 1; i < n_opt[j]; i++) {
            decode_step(m, opt[j][i - 1], n_prompt + i - 1, kc.k, kc.v, kc.cap, kc.buf, kc.logits);
            s += log_prob(kc.logits, c->vocab_size, opt[j][i]);
        }
        ll[j] = s;
    }
    int n = 0;
    if (!out)
        return 0;
    int tok = argmax(first, c->vocab_size);
    for (int pos = n_prompt; n < max_new; pos++) {
        if (tok == eos)
            break;
        out[n++] = tok;
        if (n == max_new)
            break;
        decode_step(m, tok, pos, kc.k, kc.v, kc.cap, kc.buf, kc.logits);
        tok = argmax(kc.logits, c->vocab_size);
    }
    return n;
}

int cl_llama_generate(cl_llama *m, const int32_t *prompt, int n_prompt, int max_new, int eos,
                      int32_t *out, cl_error *err)
{
    return cl_llama_evaluate(m, prompt, n_prompt, max_new, eos, out, NULL, NULL, 0, NULL, err);
}

int cl_llama_score_options(cl_llama *m, const int32_t *prompt, int n_prompt,
                           const int32_t *const *opt, const int *n_opt, int k, double *ll,
                           cl_error *err)
{
    int rc = cl_llama_evaluate(m, prompt, n_prompt, 0, -1, NULL, opt, n_opt, k, ll, err);
    return rc < 0 ? -rc : CL_OK;
}
