/*
 * bench_train.c -- training throughput of collide's model: full training
 * (pretraining: every weight, AdamW) and LoRA fine-tuning (q and v, base
 * frozen), tokens per second, for a given shape and thread count. Prints one
 * JSON object; tests/bench/train.sh runs PyTorch on the same shapes
 * and prints the ratios.
 *
 * usage: bench_train DIM LAYERS HEADS FFN VOCAB BATCH SEQ STEPS [KV_HEADS [ROPE_THETA]]
 * (KV_HEADS defaults to HEADS, ROPE_THETA to 10000)
 */
#include "layers.h"
#include "llama.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int kv_heads_arg;
static float rope_theta_arg = 10000.f;

static double run(int dim, int layers, int heads, int ffn, int vocab, int B, int T, int steps,
                  int lora)
{
    cl_llama_config c = {.vocab_size = vocab, .hidden_size = dim, .intermediate_size = ffn,
                         .num_layers = layers, .num_heads = heads,
                         .num_kv_heads = kv_heads_arg ? kv_heads_arg : heads,
                         .head_dim = dim / heads, .max_position = T, .rms_norm_eps = 1e-5f,
                         .rope_theta = rope_theta_arg, .tie_embeddings = 1, .bos_token_id = -1,
                         .eos_token_id = -1, .pad_token_id = -1};
    cl_llama *m;
    cl_error err;
    if (cl_llama_create(&c, 1, 0.02f, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    if (lora)
        cl_llama_lora_new_task(m, (1u << CL_PROJ_Q) | (1u << CL_PROJ_V), 8, 32, 1, &err);
    cl_llama_prepare(m, B, T, !lora, &err);
    size_t n = 0;
    if (lora)
        for (int i = 0; i < cl_llama_lora_count(m); i++) {
            cl_lora_slot *s = cl_llama_lora_slot(m, i);
            n += (size_t)s->r * s->d_in + (size_t)s->d_out * s->r;
        }
    else
        n = cl_llama_num_params(m);
    cl_adamw o;
    cl_adamw_init(&o, n, 1e-3f, 0.0f, &err);
    int32_t *x = malloc(sizeof *x * (size_t)(B * T)), *y = malloc(sizeof *y * (size_t)(B * T));
    uint8_t *mask = malloc((size_t)(B * T));
    cl_rng g;
    cl_rng_seed(&g, 2);
    for (int i = 0; i < B * T; i++) {
        x[i] = (int32_t)cl_rng_below(&g, (uint64_t)vocab);
        y[i] = (int32_t)cl_rng_below(&g, (uint64_t)vocab);
        mask[i] = 1;
    }
    double t0 = 0;
    for (int s = 0; s < steps + 2; s++) {
        if (s == 2)
            t0 = now(); /* two warm-up steps */
        cl_llama_forward(m, x, y, mask, 1, (uint64_t)s);
        cl_llama_backward(m);
        cl_adamw_tick(&o);
        if (lora) {
            size_t off = 0;
            for (int i = 0; i < cl_llama_lora_count(m); i++) {
                cl_lora_slot *sl = cl_llama_lora_slot(m, i);
                size_t na = (size_t)sl->r * sl->d_in, nb = (size_t)sl->d_out * sl->r;
                cl_adamw_step_block(&o, off, sl->A, sl->dA, na, 0);
                cl_adamw_step_block(&o, off + na, sl->B, sl->dB, nb, 0);
                off += na + nb;
            }
        } else {
            cl_adamw_step_block(&o, 0, cl_llama_param_mem(m), cl_llama_grad_mem(m), n, 0);
        }
    }
    double tps = (double)steps * B * T / (now() - t0);
    cl_adamw_free(&o);
    cl_llama_free(m);
    free(x), free(y), free(mask);
    return tps;
}

int main(int argc, char **argv)
{
    if (argc < 9 || argc > 11) {
        fprintf(stderr, "usage: bench_train DIM LAYERS HEADS FFN VOCAB BATCH SEQ STEPS "
                        "[KV_HEADS [ROPE_THETA]]\n");
        return 2;
    }
    if (argc > 9)
        kv_heads_arg = atoi(argv[9]);
    if (argc > 10)
        rope_theta_arg = (float)atof(argv[10]);
    ck_blas_single_thread();
    int a[8];
    for (int i = 0; i < 8; i++)
        a[i] = atoi(argv[i + 1]);
    double full = run(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], 0);
    double lora = run(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], 1);
    printf("{\"impl\": \"collide\", \"threads\": %d, \"dim\": %d, \"layers\": %d, \"heads\": %d, "
           "\"kv_heads\": %d, \"ffn\": %d, \"vocab\": %d, \"batch\": %d, \"seq\": %d, "
           "\"full_tokens_per_s\": %.1f, \"lora_tokens_per_s\": %.1f}\n",
           omp_get_max_threads(), a[0], a[1], a[2], kv_heads_arg ? kv_heads_arg : a[2], a[3],
           a[4], a[5], a[6], full, lora);
    return 0;
}
