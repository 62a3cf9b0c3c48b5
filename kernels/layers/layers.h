/*
 * layers.h -- the layer kernels of the LLaMA model (model/llama.c), forward
 * and backward, as pure functions in the manner of llm.c.
 *
 * Dimension letters, used everywhere below:
 *   N  tokens in the batch (B sequences x T positions, row-major [B][T])
 *   B, T  batch size and sequence length
 *   C  model width (hidden_size)
 *   H, Hkv, D  query heads, key/value heads, head dimension (C = H * D)
 *   F  MLP width (intermediate_size)
 *   V  vocabulary size
 * Matrices are row-major; a linear layer's weight is [out][in] as in PyTorch
 * (y = x W^T). Backward functions ACCUMULATE (+=) into weight gradients and
 * into dinp, so a caller zeroes gradients once per step.
 *
 * This is the CPU reference on OpenBLAS; a CUDA implementation would provide
 * the same functions.
 */
#ifndef CK_LAYERS_H
#define CK_LAYERS_H

#include <stdint.h>

/* out[N][Out] = inp[N][In] W[Out][In]^T (+ out when accumulate) */
void ck_matmul_forward(float *out, const float *inp, const float *W, int N, int In, int Out,
                       int accumulate);
/* dinp += dout W;  dW += dout^T inp (either may be NULL to skip) */
void ck_matmul_backward(float *dinp, float *dW, const float *dout, const float *inp,
                        const float *W, int N, int In, int Out);

/* out[n] = emb[tok[n]] */
void ck_embedding_forward(float *out, const int32_t *tok, const float *emb, int N, int C);
void ck_embedding_backward(float *demb, const float *dout, const int32_t *tok, int N, int C);

/* One thread pool: OpenBLAS single-threaded, products split over OpenMP.
 * Call once at the start of a program that trains or runs the model. */
void ck_blas_single_thread(void);

/* C = alpha op(A) op(B) + beta C, row-major; rows split across threads. */
void ck_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* out = x * rsqrt(mean(x^2) + eps) * w; rstd[n] saved for backward */
void ck_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps);
/* dinp += ...; dw += ... unless dw is NULL (a frozen norm) */
void ck_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, int N, int C);

/* Rotary embedding in place on x[N][nh][D], HF's convention: element i pairs
 * with i + D/2; angle = pos * theta^(-2i/D), pos = pos0 + n % T. */
void ck_rope_forward(float *x, int N, int T, int pos0, int nh, int D, float theta);
void ck_rope_backward(float *dx, int N, int T, int nh, int D, float theta);
/* The same with the D/2 inverse frequencies given (a scaled rope: linear,
 * llama3), angle = pos * inv_freq[i]. */
void ck_rope_forward_freq(float *x, int N, int T, int pos0, int nh, int D, const float *inv_freq);
void ck_rope_backward_freq(float *dx, int N, int T, int nh, int D, const float *inv_freq);

/* out[n][o] += b[o]; db[o] += sum over n of dout[n][o] */
void ck_bias_forward(float *out, const float *b, int N, int Out);
void ck_bias_backward(float *db, const float *dout, int N, int Out);

/* Causal grouped-query attention. q[N][H][D], k,v[N][Hkv][D] (rotated);
 * out[N][H][D]; att[B][H][T][T] holds the softmax probabilities. */
void ck_attention_forward(float *out, float *att, const float *q, const float *k,
                          const float *v, int B, int T, int H, int Hkv, int D);
/* dq (overwritten), dk, dv (overwritten) from dout. */
void ck_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int H, int Hkv, int D);

/* out = silu(gate) * up, all [N][F] */
void ck_swiglu_forward(float *out, const float *gate, const float *up, int NF);
void ck_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int NF);

/* Masked cross-entropy: loss = mean over n with mask[n] of -log softmax(logits[n])[target[n]].
 * On return logits holds dloss/dlogits (in place); returns the loss and the
 * number of counted positions in *count. */
double ck_crossentropy_fused(float *logits, const int32_t *target, const uint8_t *mask, int N,
                             int V, int *count);

/* Inverted dropout: x *= mask / (1 - p), mask drawn from seed (deterministic). */
void ck_dropout_forward(float *out, uint8_t *mask, const float *inp, int n, float p,
                        uint64_t seed);
void ck_dropout_backward(float *dinp, const float *dout, const uint8_t *mask, int n, float p);

#endif
