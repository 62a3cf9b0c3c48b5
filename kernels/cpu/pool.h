/*
 * pool.h -- the dense pass's worker threads.
 *
 * A small fork-join pool owned by one CPU back end (no global state). Idle
 * workers sleep on a condition variable after a short spin: OpenMP's
 * default busy-wait kept spinning threads on the cores while the caller
 * read the next module from HDF5, and on a shared or virtualised machine
 * that stole the very cores the work needed (a 2-core VM ran the dense
 * pass 3x slower with two threads than with one). Work is handed out
 * through an atomic counter inside each job, so a thread that is
 * descheduled does not hold the others up.
 */
#ifndef CK_POOL_H
#define CK_POOL_H

typedef struct ck_pool ck_pool;

/* threads >= 1; the calling thread is thread 0, so threads - 1 are started.
 * Returns NULL when a thread cannot be started. */
ck_pool *ck_pool_create(int threads);
void ck_pool_destroy(ck_pool *p);
int ck_pool_threads(const ck_pool *p);
/* Run fn(arg, tid) on every thread, tid in [0, threads), and return when
 * all have finished. Not reentrant: one job at a time. */
void ck_pool_run(ck_pool *p, void (*fn)(void *arg, int tid), void *arg);

#endif
