/*
 * llama_internal.h -- the model's private state, shared by llama.c, lora.c
 * and generate.c.
 */
#ifndef CL_LLAMA_INTERNAL_H
#define CL_LLAMA_INTERNAL_H

#include "llama.h"
#include "layers.h"

#include <stdlib.h>

/* Weight kinds, in the order they sit in the parameter buffer; the biases
 * (empty unless the config has them) come last, so that a model without
 * them lays out its buffer as before. */
enum { W_EMBED, W_LN1, W_Q, W_K, W_V, W_O, W_LN2, W_G, W_U, W_D, W_LNF, W_HEAD, W_BQ, W_BK,
       W_BV, W_BO, NW };

static inline cl_proj proj_of_kind(int k)
{
    static const cl_proj p[NW] = {CL_PROJ_COUNT, CL_PROJ_COUNT, CL_PROJ_Q, CL_PROJ_K, CL_PROJ_V,
                                  CL_PROJ_O, CL_PROJ_COUNT, CL_PROJ_GATE, CL_PROJ_UP,
                                  CL_PROJ_DOWN, CL_PROJ_COUNT, CL_PROJ_COUNT, CL_PROJ_COUNT,
                                  CL_PROJ_COUNT, CL_PROJ_COUNT, CL_PROJ_COUNT};
    return p[k];
}

/* Activations kept for backward, each [L]-major where per layer. */
typedef struct acts {
    float *resid;   /* (L+1) x N x C: input of each layer, then the output */
    float *ln1, *rstd1, *q, *k, *v, *att, *atty, *mid, *ln2, *rstd2, *gate, *up, *act;
    float *lnf, *rstdf, *logits;
} acts;

/* Per-slot LoRA activations. */
typedef struct lora_act {
    float *xd;          /* dropped-out input, N x d_in (training with dropout) */
    uint8_t *mask;      /* its dropout mask                                   */
    float *hs;          /* scale * (x A^T), N x r                             */
    const float *xin;   /* what the branch saw: xd or the layer input         */
} lora_act;

struct cl_llama {
    cl_llama_config c;
    float *inv_freq;        /* D/2 rotary inverse frequencies (rope_type applied) */
    size_t n_params;
    float *params, *grads;  /* params NULL while the base is mapped (map) */
    /* A base loaded from float32 safetensors: one reserved region, each
     * weight kind at an offset with the page offset its file data has, the
     * tensors' whole pages mapped from the files (read-only, MAP_PRIVATE),
     * the rest copied in. Unmapped (copied into params) before anything
     * writes the base; see cl_llama_load. */
    void *map;
    size_t map_len, mapped_bytes;
    cl_llama_weights w, g;
    /* activations */
    int B, T, train_base, fB, fT, loss_count;
    const int32_t *tokens;
    float *act_mem, *scratch;
    acts a;
    /* LoRA */
    int n_lora;
    cl_lora_slot *lora;
    lora_act *lact;
    cl_lora_slot *slot_of[1024 * CL_PROJ_COUNT]; /* [layer][proj] -> slot or NULL */
    float lora_dropout;
    int lora_N;             /* tokens the LoRA buffers hold */
    float *lora_tmp, *lora_dx;
    /* generation */
    float *kv;
    int kv_T;
};

/* The rotary embedding and the projection biases of layer l, for every
 * path that computes attention (the batched forward, the decode step):
 * rotate x[N][nh][D] at positions pos0 + n % T with the model's frequencies;
 * add the bias of q, k, v or o (CL_PROJ_*) of layer l to out[N][..] if the
 * model has one. */
static inline void cl_llama_rope(const cl_llama *m, float *x, int N, int T, int pos0, int nh)
{
    ck_rope_forward_freq(x, N, T, pos0, nh, m->c.head_dim, m->inv_freq);
}

static inline void cl_llama_add_bias(const cl_llama *m, float *out, cl_proj p, int l, int N)
{
    const cl_llama_config *c = &m->c;
    int QD = c->num_heads * c->head_dim, KD = c->num_kv_heads * c->head_dim;
    if (p == CL_PROJ_Q && m->w.bq)
        ck_bias_forward(out, m->w.bq + (size_t)l * QD, N, QD);
    else if (p == CL_PROJ_K && m->w.bk)
        ck_bias_forward(out, m->w.bk + (size_t)l * KD, N, KD);
    else if (p == CL_PROJ_V && m->w.bv)
        ck_bias_forward(out, m->w.bv + (size_t)l * KD, N, KD);
    else if (p == CL_PROJ_O && m->w.bo)
        ck_bias_forward(out, m->w.bo + (size_t)l * c->hidden_size, N, c->hidden_size);
}

/* lora.c */
int cl_llama_lora_prepare(cl_llama *m, int N, cl_error *err);
int cl_llama_lora_max_rank(const cl_llama *m);
void cl_llama_lora_forward(cl_llama *m, cl_lora_slot *s, float *out, const float *inp, int N,
                           int training, uint64_t seed);
void cl_llama_lora_backward(cl_llama *m, cl_lora_slot *s, float *dinp, const float *dout,
                            const float *inp, int N);
void cl_llama_lora_zero_grad(cl_llama *m);
void cl_llama_lora_free_all(cl_llama *m);

/* What llama.c (the model) and llama_hf.c (the HF layout) share. */
/* Float counts of every weight kind, all layers together (0: absent). */
void cl_llama_weight_sizes(const cl_llama_config *c, size_t sz[NW]);
/* The weights' pointers in weight-kind order. */
void cl_llama_weight_fields(cl_llama_weights *w, float **p[NW]);
/* 1 for a kind with one tensor per layer (not the embedding, final norm, head). */
int cl_llama_per_layer(int k);
/* Layer l's tensor of kind k (per: one layer's floats). */
float *cl_llama_slot(cl_llama_weights *w, int k, int l, size_t per);
/* A model of config c, its parameters allocated (with_params) or not. */
cl_llama *cl_llama_alloc(const cl_llama_config *c, int with_params, cl_error *err);

#endif
