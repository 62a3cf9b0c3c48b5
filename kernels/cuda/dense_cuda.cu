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

static cudaError_t reserve(dbuf *b, size_t bytes)
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

static int alloc_result(cl_dense_result *r, int n, int n_th, int64_t entries, cl_error *err)
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

// The updates must share one shape, and the grid must fit it.
static int check_updates(const cl_lowrank *u, int n, int n_th, cl_error *err)
{
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
    return CL_OK;
}

// The host side's working memory of one dense pass.
struct host_work {
    ck_dtask *ht;                        // the tasks as the device sees them
    ck_hist *hh;                         // pass A's histograms (only if wanted)
    double *p1, *p2;                     // pass A's per-block partial sums
    unsigned *mb;                        // pass A's max |x| bits
    int *nq, *bins;                      // per task: boundary bins to collect, and which
    ck_boundary *bnd;                    // ... and where in them each threshold falls
    unsigned long long *off, *cap, *got; // pass B's offsets, capacities, counts
    float *tau;                          // pass C's thresholds ...
    int *incl;                           // ... inclusive or not
    unsigned long long *cnt;             // pass C's pair counts
    size_t ncnt;
};

static void host_free(host_work *h)
{
    free(h->ht), free(h->hh), free(h->p1), free(h->p2), free(h->mb), free(h->nq), free(h->bins);
    free(h->bnd), free(h->off), free(h->cap), free(h->got), free(h->tau), free(h->incl);
    free(h->cnt);
}

static int host_alloc(host_work *h, ck_dshape sh, int64_t per_task, int want_hist, cl_error *err)
{
    int n = sh.n, n_th = sh.n_th;
    memset(h, 0, sizeof *h);
    h->ht = (ck_dtask *)calloc((size_t)n, sizeof *h->ht);
    h->hh = want_hist ? (ck_hist *)malloc((size_t)n * sizeof *h->hh) : nullptr;
    h->p1 = (double *)malloc((size_t)n * (size_t)per_task * sizeof *h->p1);
    h->p2 = (double *)malloc((size_t)n * (size_t)per_task * sizeof *h->p2);
    h->mb = (unsigned *)malloc((size_t)n * sizeof *h->mb);
    h->nq = (int *)calloc((size_t)n, sizeof *h->nq);
    h->bins = (int *)calloc((size_t)n * CK_MAX_Q, sizeof *h->bins);
    h->bnd = (ck_boundary *)calloc((size_t)n * CK_MAX_Q, sizeof *h->bnd);
    h->off = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *h->off);
    h->cap = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *h->cap);
    h->got = (unsigned long long *)calloc((size_t)n * CK_MAX_Q, sizeof *h->got);
    h->tau = (float *)malloc((size_t)n_th * (size_t)n * sizeof *h->tau);
    h->incl = (int *)malloc((size_t)n_th * (size_t)n * sizeof *h->incl);
    h->ncnt = (size_t)n_th * (size_t)n * (size_t)n;
    h->cnt = (unsigned long long *)malloc(h->ncnt * sizeof *h->cnt);
    if (!h->ht || (want_hist && !h->hh) || !h->p1 || !h->p2 || !h->mb || !h->nq || !h->bins ||
        !h->bnd || !h->off || !h->cap || !h->got || !h->tau || !h->incl || !h->cnt)
        return cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
    return CL_OK;
}

// Every task's factors in one device buffer, and the task table beside.
static int upload_factors(cuda_ctx *c, const cl_lowrank *u, ck_dshape sh, host_work *h,
                          cl_error *err)
{
    int rc = CL_OK, n = sh.n;
    cudaStream_t s = c->stream;
    size_t fl = 0;
    {
        for (int t = 0; t < n; t++)
            fl += (size_t)(sh.d_out + sh.d_in) * (size_t)u[t].k;
        CU(reserve(&c->factors, fl * sizeof(float)));
        CU(reserve(&c->tasks, (size_t)n * sizeof(ck_dtask)));
        float *fp = ptr<float>(c->factors);
        for (int t = 0; t < n; t++) {
            size_t nb = (size_t)sh.d_out * (size_t)u[t].k, na = (size_t)u[t].k * (size_t)sh.d_in;
            CU(cudaMemcpyAsync(fp, u[t].B, nb * sizeof(float), cudaMemcpyHostToDevice, s));
            CU(cudaMemcpyAsync(fp + nb, u[t].A, na * sizeof(float), cudaMemcpyHostToDevice, s));
            h->ht[t].B = fp;
            h->ht[t].A = fp + nb;
            h->ht[t].k = u[t].k;
            h->ht[t].scale = (float)u[t].scale;
            fp += nb + na;
        }
        CU(cudaMemcpyAsync(c->tasks.p, h->ht, (size_t)n * sizeof *h->ht, cudaMemcpyHostToDevice,
                           s));
    }
    return CL_OK;
fail:
    return rc;
}

// Pass A on the device: statistics and histograms, back to the host.
static int pass_a_stats(cuda_ctx *c, ck_dshape sh, int64_t per_task, int want_hist,
                        host_work *h, cl_error *err)
{
    int rc = CL_OK, n = sh.n;
    cudaStream_t s = c->stream;
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
    CU(cudaMemcpyAsync(h->p1, c->part1.p, (size_t)n * (size_t)per_task * sizeof(double),
                       cudaMemcpyDeviceToHost, s));
    CU(cudaMemcpyAsync(h->p2, c->part2.p, (size_t)n * (size_t)per_task * sizeof(double),
                       cudaMemcpyDeviceToHost, s));
    CU(cudaMemcpyAsync(h->mb, c->maxbits.p, (size_t)n * sizeof(unsigned), cudaMemcpyDeviceToHost,
                       s));
    if (want_hist)
        CU(cudaMemcpyAsync(h->hh, c->hist.p, (size_t)n * sizeof(ck_hist), cudaMemcpyDeviceToHost,
                           s));
    CU(cudaStreamSynchronize(s));
    return CL_OK;
fail:
    return rc;
}

// On the host, from pass A: each task's sums (partial sums in block order:
// the same double every run) and max, the thresholds that need no values,
// and the boundary bin of each that does. Returns the most boundary bins of
// any task; *vmax the most values in one.
static int resolve_from_stats(const cl_threshold *th, ck_dshape sh, int64_t per_task,
                              int64_t entries, host_work *h, cl_dense_result *out, size_t *vmax)
{
    int n = sh.n, n_th = sh.n_th, nq_max = 0;
    *vmax = 0;
    for (int t = 0; t < n; t++) {
        double a = 0, b = 0;
        for (int64_t i = 0; i < per_task; i++) {
            a += h->p1[(size_t)t * (size_t)per_task + (size_t)i];
            b += h->p2[(size_t)t * (size_t)per_task + (size_t)i];
        }
        float m;
        memcpy(&m, &h->mb[t], sizeof m);
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
            ck_boundary b0 = ck_find_boundary(&th[q], &h->hh[t], entries);
            if (b0.bin < 0) {
                dt->tau = INFINITY;
                continue;
            }
            int at = t * CK_MAX_Q + h->nq[t];
            h->bnd[at] = b0;
            h->bins[at] = b0.bin;
            h->cap[at] = h->hh[t].count[b0.bin];
            *vmax = h->cap[at] > *vmax ? h->cap[at] : *vmax;
            h->nq[t]++;
        }
        nq_max = h->nq[t] > nq_max ? h->nq[t] : nq_max;
    }
    return nq_max;
}

// Pass B: the boundary bins' values, in rounds that fit the budget; each
// histogram threshold's tau from its bin's values sorted.
static int pass_b_boundaries(cuda_ctx *c, const cl_threshold *th, ck_dshape sh, size_t vmax,
                             host_work *h, cl_dense_result *out, cl_error *err)
{
    int rc = CL_OK, n = sh.n, n_th = sh.n_th;
    cudaStream_t s = c->stream;
    size_t nb = (size_t)n * CK_MAX_Q;
    float *vals = nullptr;
    float *tmp = (float *)malloc((vmax ? vmax : 1) * sizeof *tmp);
    if (!tmp) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
        goto fail;
    }
    CU(reserve(&c->nq, (size_t)n * sizeof(int)));
    CU(reserve(&c->bins, nb * sizeof(int)));
    CU(reserve(&c->offset, nb * sizeof(unsigned long long)));
    CU(reserve(&c->cap, nb * sizeof(unsigned long long)));
    CU(reserve(&c->got, nb * sizeof(unsigned long long)));
    CU(cudaMemcpyAsync(c->nq.p, h->nq, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, s));
    CU(cudaMemcpyAsync(c->bins.p, h->bins, nb * sizeof(int), cudaMemcpyHostToDevice, s));
    CU(cudaMemcpyAsync(c->cap.p, h->cap, nb * sizeof(unsigned long long), cudaMemcpyHostToDevice,
                       s));
    for (int t0 = 0; t0 < n;) {
        size_t total = 0;
        int t1 = t0;
        for (; t1 < n; t1++) {
            size_t need = 0;
            for (int q = 0; q < h->nq[t1]; q++)
                need += h->cap[t1 * CK_MAX_Q + q];
            if (t1 > t0 && total + need > COLLECT_BUDGET)
                break;
            for (int q = 0; q < h->nq[t1]; q++) {
                h->off[t1 * CK_MAX_Q + q] = total;
                total += h->cap[t1 * CK_MAX_Q + q];
            }
        }
        free(vals);
        vals = (float *)malloc((total ? total : 1) * sizeof *vals);
        if (!vals) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "dense pass: out of memory");
            goto fail;
        }
        CU(reserve(&c->vals, total * sizeof(float)));
        CU(cudaMemcpyAsync(c->offset.p, h->off, nb * sizeof(unsigned long long),
                           cudaMemcpyHostToDevice, s));
        CU(cudaMemsetAsync(c->got.p, 0, nb * sizeof(unsigned long long), s));
        CU(ck_cu_collect(s, ptr<ck_dtask>(c->tasks), sh, t0, t1, ptr<int>(c->nq),
                         ptr<int>(c->bins), ptr<unsigned long long>(c->offset),
                         ptr<unsigned long long>(c->cap), ptr<unsigned long long>(c->got),
                         ptr<float>(c->vals)));
        CU(cudaMemcpyAsync(h->got, c->got.p, nb * sizeof(unsigned long long),
                           cudaMemcpyDeviceToHost, s));
        CU(cudaMemcpyAsync(vals, c->vals.p, total * sizeof(float), cudaMemcpyDeviceToHost, s));
        CU(cudaStreamSynchronize(s));
        for (int t = t0; t < t1; t++)
            for (int q = 0, k = 0; q < n_th; q++) {
                if (!ck_needs_hist(&th[q]) || out->task[q * n + t].tau == INFINITY)
                    continue;
                int at = t * CK_MAX_Q + k++;
                if (h->got[at] != h->cap[at]) {
                    rc = cl_error_set(err, CL_ERR_NUMERIC,
                                      "cuda back end: bin %d holds %llu values in pass A, "
                                      "%llu in pass B", h->bins[at], h->cap[at], h->got[at]);
                    goto fail;
                }
                float *v = vals + h->off[at];
                ck_sort_desc(v, (size_t)h->cap[at], tmp);
                out->task[q * n + t].tau =
                    ck_resolve_tau(&th[q], &h->bnd[at], v, (size_t)h->cap[at]);
            }
        t0 = t1;
    }
fail:
    free(vals);
    free(tmp);
    return rc;
}

// Pass C: masks and pair counts, a slab of rows at a time; the counts fill
// the symmetric pair matrices and each task's active count.
static int pass_c_pairs(cuda_ctx *c, ck_dshape sh, host_work *h, cl_dense_result *out,
                        cl_error *err)
{
    int rc = CL_OK, n = sh.n, n_th = sh.n_th;
    cudaStream_t s = c->stream;
    for (int q = 0; q < n_th; q++)
        for (int t = 0; t < n; t++) {
            h->tau[q * n + t] = out->task[q * n + t].tau;
            h->incl[q * n + t] = out->task[q * n + t].inclusive;
        }
    {
        CU(reserve(&c->tau, (size_t)n_th * (size_t)n * sizeof(float)));
        CU(reserve(&c->incl, (size_t)n_th * (size_t)n * sizeof(int)));
        CU(reserve(&c->counts, h->ncnt * sizeof(unsigned long long)));
        CU(cudaMemcpyAsync(c->tau.p, h->tau, (size_t)n_th * (size_t)n * sizeof(float),
                           cudaMemcpyHostToDevice, s));
        CU(cudaMemcpyAsync(c->incl.p, h->incl, (size_t)n_th * (size_t)n * sizeof(int),
                           cudaMemcpyHostToDevice, s));
        CU(cudaMemsetAsync(c->counts.p, 0, h->ncnt * sizeof(unsigned long long), s));
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
        CU(cudaMemcpyAsync(h->cnt, c->counts.p, h->ncnt * sizeof(unsigned long long),
                           cudaMemcpyDeviceToHost, s));
        CU(cudaStreamSynchronize(s));
    }
    for (int q = 0; q < n_th; q++) {
        int64_t *cq = out->both + (size_t)q * (size_t)n * (size_t)n;
        const unsigned long long *k = h->cnt + (size_t)q * (size_t)n * (size_t)n;
        for (int t = 0; t < n; t++) {
            for (int v = t; v < n; v++)
                cq[t * n + v] = cq[v * n + t] = (int64_t)k[t * n + v];
            out->task[q * n + t].active = cq[t * n + t];
        }
    }
    return CL_OK;
fail:
    return rc;
}

static int dense_pass_cuda(void *vctx, const cl_lowrank *u, int n, const cl_threshold *th,
                           int n_th, cl_dense_result *out, cl_error *err)
{
    cuda_ctx *c = static_cast<cuda_ctx *>(vctx);
    memset(out, 0, sizeof *out);
    int rc = check_updates(u, n, n_th, err);
    if (rc)
        return rc;
    ck_dshape sh = {u[0].d_out, u[0].d_in, n, n_th, (int)((u[0].d_in + 63) / 64)};
    int64_t entries = sh.d_out * sh.d_in, per_task = ck_cu_stats_blocks(sh);
    int want_hist = 0;
    for (int q = 0; q < n_th; q++)
        want_hist |= ck_needs_hist(&th[q]);
    host_work h;
    size_t vmax = 0;
    if (!(rc = host_alloc(&h, sh, per_task, want_hist, err)) &&
        !(rc = upload_factors(c, u, sh, &h, err)) &&
        !(rc = pass_a_stats(c, sh, per_task, want_hist, &h, err)) &&
        !(rc = alloc_result(out, n, n_th, entries, err))) {
        if (resolve_from_stats(th, sh, per_task, entries, &h, out, &vmax))
            rc = pass_b_boundaries(c, th, sh, vmax, &h, out, err);
        if (!rc)
            rc = pass_c_pairs(c, sh, &h, out, err);
    }
    host_free(&h);
    if (rc)
        cl_dense_result_free(out);
    return rc;
}

static void close_cuda(void *vctx)
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
