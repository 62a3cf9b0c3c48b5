/*
 * llama.h -- a LLaMA-architecture decoder in C: token embedding, RMSNorm,
 * rotary embedding, multi-head attention with grouped-query attention,
 * SwiGLU MLP, tied or untied head; forward and backward in fp32; LoRA on any
 * set of projections with any number of frozen adapters plus one trainable;
 * AdamW; masked causal-LM cross-entropy. Stored in the Hugging Face layout
 * (config.json, model.safetensors with HF tensor names).
 *
 * The code reads top to bottom in model/llama.c; the layer kernels are in
 * kernels/layers. Dimension letters as in kernels/layers/layers.h.
 */
#ifndef CL_LLAMA_H
#define CL_LLAMA_H

#include "collide.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cl_llama_config {
    int vocab_size;       /* V */
    int hidden_size;      /* C */
    int intermediate_size;/* F */
    int num_layers;       /* L */
    int num_heads;        /* H */
    int num_kv_heads;     /* Hkv */
    int head_dim;         /* D */
    int max_position;
    float rms_norm_eps;
    float rope_theta;
    int tie_embeddings;
    int bos_token_id, eos_token_id, pad_token_id; /* -1 when absent */
    /* The family and its options; every zero is plain LLaMA, so a config
     * written as a designated initializer stays one. */
    int family;           /* cl_llama_family */
    int rope_type;        /* cl_rope_type */
    float rope_factor;    /* linear, llama3 */
    float rope_low_freq_factor, rope_high_freq_factor; /* llama3 */
    int rope_original_max_position;                    /* llama3 */
    int qkv_bias;         /* q_proj, k_proj, v_proj have biases (qwen2; llama attention_bias) */
    int o_bias;           /* o_proj has one too (llama attention_bias only) */
    int sliding_window;   /* 0: none; else sequences longer than it are refused */
} cl_llama_config;

/* model_type of config.json: the families that compute what LlamaForCausalLM
 * computes, up to biases (qwen2) and a sliding window (mistral). */
typedef enum { CL_FAMILY_LLAMA, CL_FAMILY_QWEN2, CL_FAMILY_MISTRAL } cl_llama_family;
const char *cl_llama_family_name(int family); /* "llama", "qwen2", "mistral" */

/* rope_parameters.rope_type (or rope_scaling.rope_type / .type) */
typedef enum { CL_ROPE_DEFAULT, CL_ROPE_LINEAR, CL_ROPE_LLAMA3 } cl_rope_type;

/* The D/2 rotary inverse frequencies of a config, as transformers computes
 * them (float32; rope_type applied). */
void cl_llama_rope_inv_freq(const cl_llama_config *c, float *inv_freq);

/* Parse and validate config.json (LlamaConfig field names; rope_theta at the
 * top level or in rope_parameters; model_type llama, qwen2 or mistral; rope
 * types default, linear and llama3). Anything else is refused with the file
 * and the key. */
int cl_llama_config_load(const char *path, cl_llama_config *c, cl_error *err);
int cl_llama_config_parse(const char *json, size_t len, const char *name, cl_llama_config *c,
                          cl_error *err);
int cl_llama_config_check(const cl_llama_config *c, const char *name, cl_error *err);
int cl_llama_config_save(const char *path, const cl_llama_config *c, cl_error *err);

/* The projections LoRA can adapt. */
typedef enum { CL_PROJ_Q, CL_PROJ_K, CL_PROJ_V, CL_PROJ_O, CL_PROJ_GATE, CL_PROJ_UP,
               CL_PROJ_DOWN, CL_PROJ_COUNT } cl_proj;

const char *cl_proj_hf_name(cl_proj p);   /* "q_proj" ... */
const char *cl_proj_short(cl_proj p);     /* "attn.q" ... "mlp.down" */
int cl_proj_parse(const char *s, cl_proj *out); /* "q", "q_proj", "attn.q" */

/* Parameter tensors: one allocation, pointers into it; per layer l the
 * weight of a kind is at ptr + l * (its size). */
typedef struct cl_llama_weights {
    float *embed;   /* V x C          */
    float *ln1;     /* L x C          */
    float *wq;      /* L x (H D) x C  */
    float *wk;      /* L x (Hkv D) x C */
    float *wv;      /* L x (Hkv D) x C */
    float *wo;      /* L x C x (H D)  */
    float *ln2;     /* L x C          */
    float *wg;      /* L x F x C      */
    float *wu;      /* L x F x C      */
    float *wd;      /* L x C x F      */
    float *lnf;     /* C              */
    float *head;    /* V x C, == embed when tied */
    float *bq;      /* L x (H D), NULL without qkv_bias */
    float *bk;      /* L x (Hkv D), NULL without qkv_bias */
    float *bv;      /* L x (Hkv D), NULL without qkv_bias */
    float *bo;      /* L x C, NULL without o_bias */
} cl_llama_weights;

/* One adapted projection: frozen adapters (concatenated along the rank,
 * scales folded into B) and the trainable one. */
typedef struct cl_lora_slot {
    int layer;
    cl_proj proj;
    int d_in, d_out;
    int r_frozen;
    float *A_frozen;   /* r_frozen x d_in            */
    float *B_frozen;   /* d_out x r_frozen, scaled    */
    int r;             /* trainable rank (0: none)     */
    float scale;
    float *A, *B;      /* r x d_in, d_out x r          */
    float *dA, *dB;
} cl_lora_slot;

typedef struct cl_llama cl_llama;

/* Random initialisation (normal, std init_std; norms 1) or from a checkpoint
 * directory in the HF layout. */
int cl_llama_create(const cl_llama_config *c, uint64_t seed, float init_std, cl_llama **out,
                    cl_error *err);
/* Loading maps the base rather than copying it where it can: the whole pages
 * of every float32 tensor whose page offset in the file matches its place
 * (as in files safetensors writes, where each layer's tensors have the same
 * sizes) are mapped from the file, read-only and private; F16, BF16 and F64
 * tensors are converted once into memory, and so are the pages a tensor
 * shares with another. Shapes and finiteness are checked either way. The
 * files must not be truncated or rewritten in place while the model lives
 * (cl_llama_save writes a new file and renames it, which is safe). The base
 * is copied into memory, and unmapped, when it is to be written: by
 * cl_llama_prepare with train_base, or cl_llama_param_mem. */
int cl_llama_load(const char *dir, cl_llama **out, cl_error *err);
/* Bytes of the base that are mapped from files (0 once copied). */
size_t cl_llama_mapped_bytes(const cl_llama *m);
/* Writes dir/config.json and dir/model.safetensors (each atomically). */
int cl_llama_save(const cl_llama *m, const char *dir, cl_error *err);
void cl_llama_free(cl_llama *m);

const cl_llama_config *cl_llama_cfg(const cl_llama *m);
cl_llama_weights *cl_llama_params(cl_llama *m);
cl_llama_weights *cl_llama_grads(cl_llama *m); /* NULL unless training the base */
size_t cl_llama_num_params(const cl_llama *m);
/* Every parameter, contiguous in the layout of cl_llama_weights; a mapped
 * base is copied into memory first (NULL if that fails). */
float *cl_llama_param_mem(cl_llama *m);
float *cl_llama_grad_mem(cl_llama *m);

/* ---- LoRA ---- */

/* Adapt projections (mask of 1 << cl_proj) in every layer: the current
 * trainable adapters, if any, become frozen and new ones of rank r start
 * (A Kaiming-uniform, B zero). */
int cl_llama_lora_new_task(cl_llama *m, unsigned proj_mask, int r, float alpha, uint64_t seed,
                           cl_error *err);
/* Load frozen adapters directly (for tests and resume). */
int cl_llama_lora_add_frozen(cl_llama *m, int layer, cl_proj p, int r, const float *A,
                             const float *B, float scale, cl_error *err);
int cl_llama_lora_count(const cl_llama *m);
/* Drop every adapter, frozen and trainable. */
void cl_llama_lora_free(cl_llama *m);
cl_lora_slot *cl_llama_lora_slot(cl_llama *m, int i);
cl_lora_slot *cl_llama_lora_find(cl_llama *m, int layer, cl_proj p);
void cl_llama_lora_set_dropout(cl_llama *m, float p);

/* ---- training ---- */

/* Allocate activations for batches of B x T and choose what is trained:
 * base = 1 trains every base weight (pretraining), 0 freezes it (LoRA). */
int cl_llama_prepare(cl_llama *m, int B, int T, int train_base, cl_error *err);
/* Forward: tokens and targets [B*T], mask[n] = 1 where the loss counts.
 * targets may be NULL (inference: logits only). training enables dropout.
 * Returns the mean loss over counted positions (0 when targets is NULL). */
double cl_llama_forward(cl_llama *m, const int32_t *tokens, const int32_t *targets,
                        const uint8_t *mask, int training, uint64_t dropout_seed);
/* The same for a batch of B x T within the prepared size (T may vary per
 * call, e.g. the longest sequence of a batch). */
double cl_llama_forward_bt(cl_llama *m, int B, int T, const int32_t *tokens,
                           const int32_t *targets, const uint8_t *mask, int training,
                           uint64_t dropout_seed);
/* Logits of the last forward ([B*T][V]); valid only after a forward with
 * targets == NULL (a forward with targets turns them into gradients). */
const float *cl_llama_logits(const cl_llama *m);
/* Backward of the last forward with targets: zeroes, then fills, every
 * gradient (base when training it, trainable LoRA always). */
void cl_llama_backward(cl_llama *m);
int cl_llama_loss_count(const cl_llama *m);

/* ---- inference ---- */

/* Greedy decoding with a key/value cache: feed prompt[n_prompt], then emit up
 * to max_new tokens, stopping after eos (not written). Returns tokens emitted. */
int cl_llama_generate(cl_llama *m, const int32_t *prompt, int n_prompt, int max_new, int eos,
                      int32_t *out, cl_error *err);
/* Ranked scoring: ll[j] = log p(opt[j] | prompt), the summed log-probability
 * of option j's n_opt[j] tokens after the prompt, for the k options. */
int cl_llama_score_options(cl_llama *m, const int32_t *prompt, int n_prompt,
                           const int32_t *const *opt, const int *n_opt, int k, double *ll,
                           cl_error *err);
/* Both at once, on one prefill of the prompt: ll[j] as above and, when out
 * is not NULL, the greedy generation into out. Returns the tokens generated,
 * or minus an error code. */
int cl_llama_evaluate(cl_llama *m, const int32_t *prompt, int n_prompt, int max_new, int eos,
                      int32_t *out, const int32_t *const *opt, const int *n_opt, int k,
                      double *ll, cl_error *err);

/* ---- AdamW over a set of parameter blocks ---- */

typedef struct cl_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    int64_t t;
    size_t n;          /* total parameters */
    float *m, *v;
} cl_adamw;

int cl_adamw_init(cl_adamw *o, size_t n, float lr, float wd, cl_error *err);
void cl_adamw_free(cl_adamw *o);
/* Update params[0..n) with grads; offset addresses this block's moments. */
void cl_adamw_step_block(cl_adamw *o, size_t offset, float *params, const float *grads,
                         size_t n, float weight_decay);
void cl_adamw_tick(cl_adamw *o);

#endif
