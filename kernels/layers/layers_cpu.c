/*
 * layers_cpu.c -- CPU reference of the layer kernels (layers.h): OpenBLAS
 * sgemm for every matrix product, plain loops with OpenMP for the rest.
 */
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

/*
 * Matrix products split their output rows across the OpenMP threads, each
 * calling a single-threaded sgemm: the model then runs on one thread pool.
 * (OpenBLAS's own threads and OpenMP's spinning workers fight for the same
 * cores otherwise; the trainer sets OpenBLAS to one thread.)
 */
void ck_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    double flops = 2.0 * M * N * (double)K;
    int nt = flops < 2e6 ? 1 : omp_get_max_threads();
    if (nt > M)
        nt = M;
    if (nt <= 1) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        int r0 = (int)((int64_t)M * t / nt), r1 = (int)((int64_t)M * (t + 1) / nt);
        /* rows r0..r1 of C come from rows of A, or columns when A is transposed */
        const float *a = transA ? A + r0 : A + (size_t)r0 * lda;
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans, r1 - r0, N, K, alpha, a, lda, B, ldb, beta,
                    C + (size_t)r0 * ldc, ldc);
    }
}

void ck_matmul_forward(float *out, const float *inp, const float *W, int N, int In, int Out,
                       int accumulate)
{
    ck_gemm(0, 1, N, Out, In, 1.0f, inp, In, W, In, accumulate ? 1.0f : 0.0f, out, Out);
}

void ck_matmul_backward(float *dinp, float *dW, const float *dout, const float *inp,
                        const float *W, int N, int In, int Out)
{
    if (dinp)
        ck_gemm(0, 0, N, In, Out, 1.0f, dout, Out, W, In, 1.0f, dinp, In);
    if (dW)
        ck_gemm(1, 0, Out, In, N, 1.0f, dout, Out, inp, In, 1.0f, dW, In);
}

void ck_embedding_forward(float *out, const int32_t *tok, const float *emb, int N, int C)
{
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, emb + (size_t)tok[n] * C, (size_t)C * sizeof *out);
}

void ck_embedding_backward(float *demb, const float *dout, const int32_t *tok, int N, int C)
{
    /* sequential: two positions may share a token */
    for (int n = 0; n < N; n++) {
        float *d = demb + (size_t)tok[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            d[c] += g[c];
    }
}

void ck_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps)
{
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float ss = 0;
        for (int c = 0; c < C; c++)
            ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int c = 0; c < C; c++)
            o[c] = x[c] * r * w[c];
        rstd[n] = r;
    }
}

void ck_blas_single_thread(void) { openblas_set_num_threads(1); }

void ck_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, int N, int C)
{
    /* y_c = x_c r w_c, r = (mean x^2 + eps)^-1/2:
     * dx_c = r (dy_c w_c) - x_c r^3 / C * sum_j dy_j w_j x_j */
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C, r = rstd[n], dot = 0;
        for (int c = 0; c < C; c++)
            dot += dy[c] * w[c] * x[c];
        if (dw)
            for (int c = 0; c < C; c++)
                dw[c] += dy[c] * x[c] * r;
        float k = dot * r * r * r / C;
        for (int c = 0; c < C; c++)
            dx[c] += r * dy[c] * w[c] - x[c] * k;
    }
}

/* Rotation of x[N][nh][D] by pos * inv_freq[i] for the pairs (i, i + D/2);
 * the angle's product and its cos/sin in float32, as transformers does. */
static void rope_apply(float *x, int N, int T, int pos0, int nh, int D, const float *inv_freq,
                       float dir)
{
    int h2 = D / 2;
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        int pos = pos0 + n % T;
        for (int i = 0; i < h2; i++) {
            float a0 = (float)pos * inv_freq[i];
            float c = cosf(a0), s = sinf(a0) * dir;
            for (int h = 0; h < nh; h++) {
                float *v = x + ((size_t)n * nh + h) * D;
                float a = v[i], b = v[i + h2];
                v[i] = a * c - b * s;
                v[i + h2] = b * c + a * s;
            }
        }
    }
}

/* theta^(-2i/D) as HF computes inv_freq: in float32. D/2 is at most a few
 * thousand; the table lives on the heap only when it is large. */
static void rope_theta_apply(float *x, int N, int T, int pos0, int nh, int D, float theta,
                             float dir)
{
    float small[256], *inv = D / 2 <= 256 ? small : malloc((size_t)(D / 2) * sizeof *inv);
    if (!inv)
        abort();
    for (int i = 0; i < D / 2; i++)
        inv[i] = 1.0f / powf(theta, (float)(2 * i) / (float)D);
    rope_apply(x, N, T, pos0, nh, D, inv, dir);
    if (inv != small)
        free(inv);
}

void ck_rope_forward(float *x, int N, int T, int pos0, int nh, int D, float theta)
{
    rope_theta_apply(x, N, T, pos0, nh, D, theta, 1.0f);
}

/* The rotation is orthogonal: its backward is the rotation by -angle. */
void ck_rope_backward(float *dx, int N, int T, int nh, int D, float theta)
{
    rope_theta_apply(dx, N, T, 0, nh, D, theta, -1.0f);
}

void ck_rope_forward_freq(float *x, int N, int T, int pos0, int nh, int D, const float *inv_freq)
{
    rope_apply(x, N, T, pos0, nh, D, inv_freq, 1.0f);
}

void ck_rope_backward_freq(float *dx, int N, int T, int nh, int D, const float *inv_freq)
{
    rope_apply(dx, N, T, 0, nh, D, inv_freq, -1.0f);
}

void ck_bias_forward(float *out, const float *b, int N, int Out)
{
#pragma omp parallel for
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Out; o++)
            out[(size_t)n * Out + o] += b[o];
}

void ck_bias_backward(float *db, const float *dout, int N, int Out)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Out; o++)
            db[o] += dout[(size_t)n * Out + o];
}

/*
 * Attention per (sequence, head) with sgemm: S = Q K^T / sqrt(D), a causal
 * softmax row by row, O = P V. Query head h reads key/value head h / group.
 * Rows of one head are strided by H*D (or Hkv*D) in the [N][heads][D]
 * layout, which sgemm takes as the leading dimension.
 */
void ck_attention_forward(float *out, float *att, const float *q, const float *k,
                          const float *v, int B, int T, int H, int Hkv, int D)
{
    float scale = 1.0f / sqrtf((float)D);
    int group = H / Hkv;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / group;
            float *P = att + ((size_t)b * H + h) * T * T;
            const float *qb = q + (size_t)b * T * H * D + (size_t)h * D;
            const float *kb = k + (size_t)b * T * Hkv * D + (size_t)kh * D;
            const float *vb = v + (size_t)b * T * Hkv * D + (size_t)kh * D;
            float *ob = out + (size_t)b * T * H * D + (size_t)h * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qb, H * D, kb,
                        Hkv * D, 0.0f, P, T);
            for (int t = 0; t < T; t++) {
                float *row = P + (size_t)t * T, mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++)
                    mx = row[s] > mx ? row[s] : mx;
                for (int s = 0; s <= t; s++) {
                    row[s] = expf(row[s] - mx);
                    sum += row[s];
                }
                float inv = 1.0f / sum;
                for (int s = 0; s <= t; s++)
                    row[s] *= inv;
                for (int s = t + 1; s < T; s++) /* the causal mask */
                    row[s] = 0;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, P, T, vb,
                        Hkv * D, 0.0f, ob, H * D);
        }
}

void ck_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *att, const float *q, const float *k, const float *v,
                           int B, int T, int H, int Hkv, int D)
{
    float scale = 1.0f / sqrtf((float)D);
    int group = H / Hkv;
    memset(dk, 0, (size_t)B * T * Hkv * D * sizeof *dk);
    memset(dv, 0, (size_t)B * T * Hkv * D * sizeof *dv);
    /* Parallel over (sequence, kv head): the query heads of a group add into
     * the same dk/dv rows, so they stay in one thread. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int kh = 0; kh < Hkv; kh++) {
            float *dP = malloc((size_t)T * T * sizeof *dP);
            const float *kb = k + (size_t)b * T * Hkv * D + (size_t)kh * D;
            const float *vb = v + (size_t)b * T * Hkv * D + (size_t)kh * D;
            float *dkb = dk + (size_t)b * T * Hkv * D + (size_t)kh * D;
            float *dvb = dv + (size_t)b * T * Hkv * D + (size_t)kh * D;
            for (int h = kh * group; h < (kh + 1) * group; h++) {
                const float *P = att + ((size_t)b * H + h) * T * T;
                const float *qb = q + (size_t)b * T * H * D + (size_t)h * D;
                const float *dob = dout + (size_t)b * T * H * D + (size_t)h * D;
                float *dqb = dq + (size_t)b * T * H * D + (size_t)h * D;
                /* dV += P^T dO;  dP = dO V^T */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, P, T, dob,
                            H * D, 1.0f, dvb, Hkv * D);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dob, H * D,
                            vb, Hkv * D, 0.0f, dP, T);
                /* dS = P (dP - sum_s P dP), scaled for the 1/sqrt(D) */
                for (int t = 0; t < T; t++) {
                    const float *pr = P + (size_t)t * T;
                    float *dr = dP + (size_t)t * T, dot = 0;
                    for (int s = 0; s <= t; s++)
                        dot += pr[s] * dr[s];
                    for (int s = 0; s <= t; s++)
                        dr[s] = pr[s] * (dr[s] - dot) * scale;
                    for (int s = t + 1; s < T; s++)
                        dr[s] = 0;
                }
                /* dQ = dS K;  dK += dS^T Q */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dP, T, kb,
                            Hkv * D, 0.0f, dqb, H * D);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dP, T, qb,
                            H * D, 1.0f, dkb, Hkv * D);
            }
            free(dP);
        }
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void ck_swiglu_forward(float *out, const float *gate, const float *up, int NF)
{
#pragma omp parallel for
    for (int i = 0; i < NF; i++) {
        float g = gate[i];
        out[i] = g * sigmoidf(g) * up[i];
    }
}

void ck_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int NF)
{
#pragma omp parallel for
    for (int i = 0; i < NF; i++) {
        float g = gate[i], sg = sigmoidf(g);
        dup[i] = dout[i] * g * sg;
        dgate[i] = dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    }
}

double ck_crossentropy_fused(float *logits, const int32_t *target, const uint8_t *mask, int N,
                             int V, int *count)
{
    int cnt = 0;
    for (int n = 0; n < N; n++)
        cnt += mask[n] != 0;
    *count = cnt;
    double loss = 0;
    float inv = cnt ? 1.0f / (float)cnt : 0.0f;
#pragma omp parallel for reduction(+ : loss)
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * V;
        if (!mask[n]) {
            memset(l, 0, (size_t)V * sizeof *l);
            continue;
        }
        float mx = -INFINITY;
        for (int i = 0; i < V; i++)
            mx = l[i] > mx ? l[i] : mx;
        double sum = 0;
        for (int i = 0; i < V; i++) {
            l[i] = expf(l[i] - mx);
            sum += l[i];
        }
        float is = (float)(1.0 / sum);
        loss += -log((double)l[target[n]] * is);
        for (int i = 0; i < V; i++)
            l[i] = l[i] * is * inv;
        l[target[n]] -= inv;
    }
    return cnt ? loss / cnt : 0.0;
}

/* splitmix64 of (seed, index): each element's mask is independent of the
 * order and of threads. */
static inline uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void ck_dropout_forward(float *out, uint8_t *mask, const float *inp, int n, float p,
                        uint64_t seed)
{
    float keep = 1.0f / (1.0f - p);
    uint64_t thr = (uint64_t)((double)p * 18446744073709551616.0);
    for (int i = 0; i < n; i++) {
        mask[i] = mix(seed ^ (uint64_t)i * 0xd1b54a32d192ed03ull) >= thr;
        out[i] = mask[i] ? inp[i] * keep : 0.0f;
    }
}

void ck_dropout_backward(float *dinp, const float *dout, const uint8_t *mask, int n, float p)
{
    float keep = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++)
        dinp[i] += mask[i] ? dout[i] * keep : 0.0f;
}
