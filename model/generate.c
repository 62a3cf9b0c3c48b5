/*
 * generate.c -- greedy decoding. The prompt goes through the batched forward
 * once (its keys and values fill the cache); each new token then costs one
 * position, attending to the cache.
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
        ck_rope_forward(q, 1, 1, pos, H, D, c->rope_theta);
        ck_rope_forward(kc + (size_t)pos * KD, 1, 1, pos, Hkv, D, c->rope_theta);
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

int cl_llama_generate(cl_llama *m, const int32_t *prompt, int n_prompt, int max_new, int eos,
                      int32_t *out, cl_error *err)
{
    const cl_llama_config *c = &m->c;
    int cap = n_prompt + max_new;
    if (n_prompt < 1 || max_new < 0 || n_prompt > m->T || m->B * m->T < n_prompt)
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
        if (!m->kv)
            return cl_error_set(err, CL_ERR_NOMEM, "generate: out of memory");
        m->kv_T = (int)need;
    }
    float *ck = m->kv, *cv = ck + (size_t)L * cap * KD, *buf = cv + (size_t)L * cap * KD;
    float *logits = buf + 3 * (size_t)C + 2 * (size_t)QD + 2 * (size_t)F + (size_t)cap;
    /* prefill: one batched forward; its keys and values become the cache */
    cl_llama_forward_bt(m, 1, n_prompt, prompt, NULL, NULL, 0, 0);
    for (int l = 0; l < L; l++) {
        memcpy(ck + (size_t)l * cap * KD, m->a.k + (size_t)l * n_prompt * KD,
               (size_t)n_prompt * KD * sizeof(float));
        memcpy(cv + (size_t)l * cap * KD, m->a.v + (size_t)l * n_prompt * KD,
               (size_t)n_prompt * KD * sizeof(float));
    }
    int tok = argmax(m->a.logits + (size_t)(n_prompt - 1) * c->vocab_size, c->vocab_size);
    int n = 0;
    for (int pos = n_prompt; n < max_new; pos++) {
        if (tok == eos)
            break;
        out[n++] = tok;
        if (n == max_new)
            break;
        decode_step(m, tok, pos, ck, cv, cap, buf, logits);
        tok = argmax(logits, c->vocab_size);
    }
    return n;
}
