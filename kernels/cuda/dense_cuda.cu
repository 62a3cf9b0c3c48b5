// dense_cuda.cu -- the dense pass on a CUDA GPU: the host side.
//
// The same three passes as the CPU back end (kernels/cpu/dense_cpu.c), with
// the same results: pass A (statistics and the exact |x| histogram) and
// pass B (the boundary bins' values) run on the GPU, the thresholds are
// resolved on the host by the CPU's own code (kernels/select.c: the same
// histogram, the same sorted values, hence the same tau), and pass C forms
// bit masks and counts every pair with AND + popcount on the GPU, a slab of
// rows at a time. Every CUDA call is checked; a failure names the call.
#include "cuda_internal.h"

#include <math.h>
#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Boundary values collected at once (floats) and mask bytes per slab.
#define COLLECT_BUDGET ((size_t)1 << 27)
#define MASK_BUDGET ((size_t)1 << 28)

namespace {

// A device buffer that grows on demand and is kept between passes.
struct dbuf {
    void *p = nullptr;
    size_t size = 0;
};

struct cuda_ctx {
    int device;
    cudaStream_t stream;
    dbuf factors, tasks, hist, part1, part2, maxbits, nq, bins, offset, cap, got, vals, tau, incl,
        masks, counts;
};

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            rc = cl_error_set(err, e_ == cudaErrorMemoryAllocation ? CL_ERR_NOMEM : CL_ERR_NUMERIC, \
                              "cuda back end: %s: %s (%s:%d)", #call, cudaGetErrorString(e_),      \
                              __FILE__, __LINE__);                                                 \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

cudaError_t reserve(dbuf *b, size_t bytes)
{
    if (bytes <= b->size)
        return cudaSuccess;
    if (b->p) {
        cudaError_t e = cudaFree(b->p);
        b->p = nullptr;
        b->size = 0;
        if (e != cudaSuccess)
            return e;
    }
    bytes = bytes < 256 ? 256 : bytes;
    cudaError_t e = cudaMalloc(&b->p, bytes);
    if (e == cudaSuccess)
        b->size = bytes;
    return e;
}

template <typename T> T *ptr(const dbuf &b) { return static_cast<T *>(b.p); }

int alloc_result(cl_dense_result *r, int n, int n_th, int64_t entries, cl_error *err)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->n_th = n_th;
    r->entries = entries;
    r->l1 = (double *)calloc((size_t)n, sizeof(double));
    r->sumsq = (double *)calloc((size_t)n, sizeof(double));
    r->maxabs = (double *)calloc((size_t)n, sizeof(double));
    r->task = (cl_dense_task *)calloc((size_t)n * (size_t)n_th, sizeof(cl_dense_task));
    r->both = (int64_t *)calloc((size_t)n * (size_t)n * (size_t)n_th, sizeof(int64_t));
    if (!r->l1 || !r->sumsq || !r->maxabs || !r->task || !r->both)
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    return CL_OK;
}

int dense_pass_cuda(void *vctx, const cl_lowrank *u, int n, const cl_threshold *th, int n_th,
                    cl_dense_result *out, cl_error *err)
{
    cuda_ctx *c = static_cast<cuda_ctx *>(vctx);
    memset(out, 0, sizeof *out);
    if (n < 1 || n_th < 1)
        return cl_error_set(err, CL_ERR_ARG, "dense pass: no updates or no thresholds");
    if (n_th > CK_MAX_Q)
        return cl_error_set(err, CL_ERR_ARG, "dense pass: at most %d thresholds", CK_MAX_Q);
    for (int t = 0; t < n; t++)
        if (u[t].d_out != u[0].d_out || u[t].d_in != u[0].d_in || u[t].k < 1)
            return cl_error_set(err, CL_ERR_ARG, "dense pass: update %d is %lld x %lld rank %d, "
                                "update 0 is %lld x %lld", t, (long long)u[t].d_out,
                                (long long)u[t].d_in, u[t].k, (long long)u[0].d_out,
                                (long long)u[0].d_in);
    if (u[0].d_out > 65535 * (int64_t)CK_CU_ROWS || u[0].d_in > ((int64_t)1 << 31))
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "cuda back end: %lld x %lld is too large",
                            (long long)u[0].d_out, (long long)u[0].d_in);

    int rc = CL_OK;
    cudaStream_t s = c->stream;
    ck_dshape sh = {u[0].d_out, u[0].d_in, n, n_th, (int)((u[0].d_in + 63) / 64)};
    int64_t entries = sh.d_out * sh.d_in, per_task = ck_cu_stats_blocks(sh);
    int want_hist = 0;
    for (int q = 0; q < n_th; q++)
        want_hist |= ck_needs_hist(&th[q]);
    // host-side working memory
    ck_dtask *ht = (ck_dtask *)calloc((size_t)n, sizeof *ht);
    ck_hist *hh = want_hist ? (ck_hist *)malloc((size_t)n * sizeof *hh) : nullptr;
    double *p1 = (double *)malloc((size_t)n * (size_t)per_task * sizeof *p1);
    double *p2 = (double *)malloc((size_t)n * (size_t)per_task * sizeof *p2);
    unsigned *mb = (unsigned *)malloc((size_t)n * sizeof *mb);
    int *nq = (int *)calloc((size_t)n, sizeof *nq);
    int *bins = (int *)calloc((size_t)n * CK_MAX_Q, sizeof *bins);
    ck_boundary *bnd = (ck_boundary *)calloc((size_t)n * CK_MAX_Q, sizeof *bnd);
    unsigned long long *off = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *off);
    unsigned long long *cap = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *cap);
    unsigned long long *got = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *got);
    float *tau = (float *)malloc((size_t)n_th * (size_t)n * sizeof *tau);
    int *incl = (int *)malloc((size_t)n_th * (size_t)n * sizeof *incl);
    size_t ncnt = (size_t)n_th * (size_t)n * (size_t)n;
    unsigned long long *cnt = (unsigned long long *)malloc(ncnt * sizeof *cnt);
    float *vals = nullptr, *tmp = nullptr;
    size_t fl = 0;
    if (!ht || (want_hist && !hh) || !p1 || !p2 || !mb || !nq || !bins || !bnd || !off || !cap ||
        !got || !tau || !incl || !cnt) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
        goto fail;
    }
    rc = CL_OK;
    {
        // every task's factors in one device buffer
        for (int t = 0; t < n; t++)
            fl += (size_t)(sh.d_out + sh.d_in) * (size_t)u[t].k;
        CU(reserve(&c->factors, fl * sizeof(float)));
        CU(reserve(&c->tasks, (size_t)n * sizeof(ck_dtask)));
        float *fp = ptr<float>(c->factors);
        for (int t = 0; t < n; t++) {
            size_t nb = (size_t)sh.d_out * (size_t)u[t].k, na = (size_t)u[t].k * (size_t)sh.d_in;
            CU(cudaMemcpyAsync(fp, u[t].B, nb * sizeof(float), cudaMemcpyHostToDevice, s));
            CU(cudaMemcpyAsync(fp + nb, u[t].A, na * sizeof(float), cudaMemcpyHostToDevice, s));
            ht[t].B = fp;
            ht[t].A = fp + nb;
            ht[t].k = u[t].k;
            ht[t].scale = (float)u[t].scale;
            fp += nb + na;
        }
        CU(cudaMemcpyAsync(c->tasks.p, ht, (size_t)n * sizeof *ht, cudaMemcpyHostToDevice, s));

        // A: statistics and histograms
        CU(reserve(&c->part1, (size_t)n * (size_t)per_task * sizeof(double)));
        CU(reserve(&c->part2, (size_t)n * (size_t)per_task * sizeof(double)));
        CU(reserve(&c->maxbits, (size_t)n * sizeof(unsigned)));
        CU(cudaMemsetAsync(c->maxbits.p, 0, (size_t)n * sizeof(unsigned), s));
        if (want_hist) {
            CU(reserve(&c->hist, (size_t)n * sizeof(ck_hist)));
            CU(cudaMemsetAsync(c->hist.p, 0, (size_t)n * sizeof(ck_hist), s));
        }
        CU(ck_cu_stats(s, ptr<ck_dtask>(c->tasks), sh, want_hist, ptr<ck_hist>(c->hist),
                       ptr<double>(c->part1), ptr<double>(c->part2), ptr<unsigned>(c->maxbits)));
        CU(cudaMemcpyAsync(p1, c->part1.p, (size_t)n * (size_t)per_task * sizeof(double),
                           cudaMemcpyDeviceToHost, s));
        CU(cudaMemcpyAsync(p2, c->part2.p, (size_t)n * (size_t)per_task * sizeof(double),
                           cudaMemcpyDeviceToHost, s));
        CU(cudaMemcpyAsync(mb, c->maxbits.p, (size_t)n * sizeof(unsigned), cudaMemcpyDeviceToHost,
                           s));
        if (want_hist)
            CU(cudaMemcpyAsync(hh, c->hist.p, (size_t)n * sizeof(ck_hist), cudaMemcpyDeviceToHost,
                               s));
        CU(cudaStreamSynchronize(s));
    }
    if ((rc = alloc_result(out, n, n_th, entries, err)))
        goto fail;
    {
        // partial sums in block order: the same double every run
        int nq_max = 0;
        size_t vmax = 0;
        for (int t = 0; t < n; t++) {
            double a = 0, b = 0;
            for (int64_t i = 0; i < per_task; i++) {
                a += p1[(size_t)t * (size_t)per_task + (size_t)i];
                b += p2[(size_t)t * (size_t)per_task + (size_t)i];
            }
            float m;
            memcpy(&m, &mb[t], sizeof m);
            out->l1[t] = a;
            out->sumsq[t] = b;
            out->maxabs[t] = m;
            for (int q = 0; q < n_th; q++) {
                cl_dense_task *dt = &out->task[q * n + t];
                if (!ck_needs_hist(&th[q])) {
                    dt->tau = ck_simple_tau(&th[q], m, &dt->inclusive);
                    continue;
                }
                dt->inclusive = 1;
                ck_boundary b0 = ck_find_boundary(&th[q], &hh[t], entries);
                if (b0.bin < 0) {
                    dt->tau = INFINITY;
                    continue;
                }
                int at = t * CK_MAX_Q + nq[t];
                bnd[at] = b0;
                bins[at] = b0.bin;
                cap[at] = hh[t].count[b0.bin];
                vmax = cap[at] > vmax ? cap[at] : vmax;
                nq[t]++;
            }
            nq_max = nq[t] > nq_max ? nq[t] : nq_max;
        }

        // B: the boundary bins' values, in rounds that fit the budget
        if (nq_max) {
            tmp = (float *)malloc((vmax ? vmax : 1) * sizeof *tmp);
            if (!tmp) {
                rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
                goto fail;
            }
            size_t nb = (size_t)n * CK_MAX_Q;
            CU(reserve(&c->nq, (size_t)n * sizeof(int)));
            CU(reserve(&c->bins, nb * sizeof(int)));
            CU(reserve(&c->offset, nb * sizeof(unsigned long long)));
            CU(reserve(&c->cap, nb * sizeof(unsigned long long)));
            CU(reserve(&c->got, nb * sizeof(unsigned long long)));
            CU(cudaMemcpyAsync(c->nq.p, nq, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, s));
            CU(cudaMemcpyAsync(c->bins.p, bins, nb * sizeof(int), cudaMemcpyHostToDevice, s));
            CU(cudaMemcpyAsync(c->cap.p, cap, nb * sizeof(unsigned long long),
                               cudaMemcpyHostToDevice, s));
            for (int t0 = 0; t0 < n;) {
                size_t total = 0;
                int t1 = t0;
                for (; t1 < n; t1++) {
                    size_t need = 0;
                    for (int q = 0; q < nq[t1]; q++)
                        need += cap[t1 * CK_MAX_Q + q];
                    if (t1 > t0 && total + need > COLLECT_BUDGET)
                        break;
                    for (int q = 0; q < nq[t1]; q++) {
                        off[t1 * CK_MAX_Q + q] = total;
                        total += cap[t1 * CK_MAX_Q + q];
                    }
                }
                free(vals);
                vals = (float *)malloc((total ? total : 1) * sizeof *vals);
                if (!vals) {
                    rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
                    goto fail;
                }
                CU(reserve(&c->vals, total * sizeof(float)));
                CU(cudaMemcpyAsync(c->offset.p, off, nb * sizeof(unsigned long long),
                                   cudaMemcpyHostToDevice, s));
                CU(cudaMemsetAsync(c->got.p, 0, nb * sizeof(unsigned long long), s));
                CU(ck_cu_collect(s, ptr<ck_dtask>(c->tasks), sh, t0, t1, ptr<int>(c->nq),
                                 ptr<int>(c->bins), ptr<unsigned long long>(c->offset),
                                 ptr<unsigned long long>(c->cap), ptr<unsigned long long>(c->got),
                                 ptr<float>(c->vals)));
                CU(cudaMemcpyAsync(got, c->got.p, nb * sizeof(unsigned long long),
                                   cudaMemcpyDeviceToHost, s));
                CU(cudaMemcpyAsync(vals, c->vals.p, total * sizeof(float), cudaMemcpyDeviceToHost,
                                   s));
                CU(cudaStreamSynchronize(s));
                for (int t = t0; t < t1; t++)
                    for (int q = 0, k = 0; q < n_th; q++) {
                        if (!ck_needs_hist(&th[q]) || out->task[q * n + t].tau == INFINITY)
                            continue;
                        int at = t * CK_MAX_Q + k++;
                        if (got[at] != cap[at]) {
                            rc = cl_error_set(err, CL_ERR_NUMERIC,
                                              "cuda back end: bin %d holds %llu values in pass A, "
                                              "%llu in pass B", bins[at], cap[at], got[at]);
                            goto fail;
                        }
                        float *v = vals + off[at];
                        ck_sort_desc(v, (size_t)cap[at], tmp);
                        out->task[q * n + t].tau = ck_resolve_tau(&th[q], &bnd[at], v, (size_t)cap[at]);
                    }
                t0 = t1;
            }
        }

        // C: masks and pair counts, a slab of rows at a time
        for (int q = 0; q < n_th; q++)
            for (int t = 0; t < n; t++) {
                tau[q * n + t] = out->task[q * n + t].tau;
                incl[q * n + t] = out->task[q * n + t].inclusive;
            }
        CU(reserve(&c->tau, (size_t)n_th * (size_t)n * sizeof(float)));
        CU(reserve(&c->incl, (size_t)n_th * (size_t)n * sizeof(int)));
        CU(reserve(&c->counts, ncnt * sizeof(unsigned long long)));
        CU(cudaMemcpyAsync(c->tau.p, tau, (size_t)n_th * (size_t)n * sizeof(float),
                           cudaMemcpyHostToDevice, s));
        CU(cudaMemcpyAsync(c->incl.p, incl, (size_t)n_th * (size_t)n * sizeof(int),
                           cudaMemcpyHostToDevice, s));
        CU(cudaMemsetAsync(c->counts.p, 0, ncnt * sizeof(unsigned long long), s));
        size_t row_bytes = (size_t)n_th * (size_t)n * (size_t)sh.wpr * sizeof(unsigned long long);
        int64_t slab = (int64_t)(MASK_BUDGET / row_bytes);
        slab = slab < 1 ? 1 : slab > 65535 ? 65535 : slab;
        slab = slab < sh.d_out ? slab : sh.d_out;
        CU(reserve(&c->masks, (size_t)slab * row_bytes));
        for (int64_t r0 = 0; r0 < sh.d_out; r0 += slab) {
            int rows = (int)(sh.d_out - r0 < slab ? sh.d_out - r0 : slab);
            CU(ck_cu_bits(s, ptr<ck_dtask>(c->tasks), sh, r0, rows, ptr<float>(c->tau),
                          ptr<int>(c->incl), ptr<unsigned long long>(c->masks)));
            CU(ck_cu_pairs(s, sh, rows, ptr<unsigned long long>(c->masks),
                           ptr<unsigned long long>(c->counts)));
        }
        CU(cudaMemcpyAsync(cnt, c->counts.p, ncnt * sizeof(unsigned long long),
                           cudaMemcpyDeviceToHost, s));
        CU(cudaStreamSynchronize(s));
        for (int q = 0; q < n_th; q++) {
            int64_t *cq = out->both + (size_t)q * (size_t)n * (size_t)n;
            const unsigned long long *k = cnt + (size_t)q * (size_t)n * (size_t)n;
            for (int t = 0; t < n; t++) {
                for (int v = t; v < n; v++)
                    cq[t * n + v] = cq[v * n + t] = (int64_t)k[t * n + v];
                out->task[q * n + t].active = cq[t * n + t];
            }
        }
    }
fail:
    free(ht), free(hh), free(p1), free(p2), free(mb), free(nq), free(bins), free(bnd), free(off);
    free(cap), free(got), free(tau), free(incl), free(cnt), free(vals), free(tmp);
    if (rc)
        cl_dense_result_free(out);
    return rc;
}

void close_cuda(void *vctx)
{
    cuda_ctx *c = static_cast<cuda_ctx *>(vctx);
    if (!c)
        return;
    dbuf *all[] = {&c->factors, &c->tasks, &c->hist, &c->part1, &c->part2, &c->maxbits,
                   &c->nq, &c->bins, &c->offset, &c->cap, &c->got, &c->vals,
                   &c->tau, &c->incl, &c->masks, &c->counts};
    for (dbuf *b : all)
        if (b->p)
            cudaFree(b->p); // nothing to report to at close
    if (c->stream)
        cudaStreamDestroy(c->stream);
    delete c;
}

const ck_backend_ops cuda_ops = {"cuda", dense_pass_cuda, close_cuda};

} // namespace

extern "C" int ck_cuda_available(void)
{
    int n = 0;
    // No driver, no device, or a driver older than the runtime: all mean
    // "no usable GPU", quietly.
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError(); // clear the sticky error
        return 0;
    }
    return n > 0;
}

extern "C" int ck_cuda_open(const ck_backend_ops **ops, void **ctx, cl_error *err)
{
    *ops = nullptr;
    *ctx = nullptr;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "cuda back end: no usable CUDA GPU here (cudaGetDeviceCount: %s); "
                            "use --device cpu or auto",
                            e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
    }
    cuda_ctx *c = new (std::nothrow) cuda_ctx();
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "cuda back end: out of memory");
    int rc = CL_OK;
    c->device = 0;
    CU(cudaSetDevice(c->device));
    CU(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    *ops = &cuda_ops;
    *ctx = c;
    return CL_OK;
fail:
    close_cuda(c);
    return rc;
}
