/*
 * dense_cpu.h -- what the CPU dense pass's two files share: the job that
 * one call of the pass hands to the thread pool. dense_cpu.c runs passes A
 * and C; resolve_cpu.c turns the histograms into exact thresholds (pass B
 * and the sort).
 */
#ifndef CK_DENSE_CPU_H
#define CK_DENSE_CPU_H

#include "pool.h"
#include "tile.h"

/* Tiles per work item: enough work to hide the hand-out, small enough to
 * balance two threads on a 1024 x 1024 module. */
#define CK_CHUNK_TILES 8

typedef struct ck_cpu_ctx {
    const ck_cpu_fns *f;
    ck_pool *pool;
} ck_cpu_ctx;

typedef struct ck_geom {
    int64_t d_out, d_in;
    int tr, tc;           /* tile rows, columns                     */
    int64_t nrb, ncb;     /* row blocks, column blocks              */
    int64_t tiles;
} ck_geom;

/* Everything one dense pass shares between its jobs. */
typedef struct ck_job {
    const ck_cpu_ctx *c;
    ck_geom g;
    const cl_lowrank *u;
    int n, n_th, threads;
    const cl_threshold *th;
    cl_dense_result *out;
    float **apk;          /* [n] A packed in column panels (k x tc each)  */
    float *bufs;          /* [threads * CK_TILE_MAX]                      */
    int64_t next;         /* the work counter                             */
    int64_t items;
    /* pass A */
    int want_hist;
    ck_hist *hist;        /* [n]                                          */
    ck_tstats *ts;        /* [n * tiles]                                  */
    ck_lhist *lh;         /* [threads]                                    */
    /* pass B */
    int *nq;              /* [n] boundary bins per task                   */
    int (*bins)[CK_MAX_Q];
    ck_boundary (*bnd)[CK_MAX_Q];
    float *(*vals)[CK_MAX_Q];
    size_t (*got)[CK_MAX_Q];
    int t0, t1;           /* tasks of this round                          */
    int64_t *item0;       /* [n + 1] first item of each task this round   */
    float *stage;         /* [threads * nq_max * CK_TILE_MAX]             */
    int nq_max;
    int *sort_t, *sort_k, *sort_q; /* resolving: (task, bin, threshold)   */
    int sorts, bad;       /* bad: a sort whose count disagrees, or -1     */
    float *tmp;           /* [threads * tmp_n] radix sort scratch         */
    size_t tmp_n;
    /* pass C */
    float *tau;           /* [n_th * n]                                   */
    int *incl;            /* [n_th * n]                                   */
    uint64_t *masks;      /* [threads * n_th * n * tile words]            */
    int64_t *cnt;         /* [threads * n_th * n * n]                     */
} ck_job;

static inline int64_t ck_grab(ck_job *j) { return __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED); }

/* Tile x (row-block major) of task t. */
static inline ck_tile ck_tile_of(const ck_job *j, int t, int64_t x)
{
    const cl_lowrank *u = &j->u[t];
    int64_t rb = x / j->g.ncb, cb = x % j->g.ncb;
    int64_t r0 = rb * j->g.tr, c0 = cb * j->g.tc;
    ck_tile tl;
    tl.B = u->B + (size_t)r0 * (size_t)u->k;
    tl.A = j->apk[t] + (size_t)cb * (size_t)u->k * (size_t)j->g.tc;
    tl.lda = j->g.tc;
    tl.k = u->k;
    tl.nr = (int)(j->g.d_out - r0 < j->g.tr ? j->g.d_out - r0 : j->g.tr);
    tl.nc = (int)(j->g.d_in - c0 < j->g.tc ? j->g.d_in - c0 : j->g.tc);
    tl.scale = (float)u->scale;
    return tl;
}

/* resolve_cpu.c. After pass A: tau of every threshold (abs and rel from
 * max|x|; energy and top from the histogram and pass B). Fills err and
 * returns its code on failure. */
int ck_cpu_resolve(ck_job *j, cl_error *err);
void ck_cpu_resolve_free(ck_job *j);

#endif
