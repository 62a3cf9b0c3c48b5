/* pool.c -- see pool.h. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define relax() _mm_pause()
#else
#define relax() ((void)0)
#endif

/* Spin this many rounds before sleeping: long enough to bridge the gaps
 * between the passes of one module, short next to reading a module. */
#define SPIN 4000

typedef struct worker {
    ck_pool *p;
    int tid;
    pthread_t th;
} worker;

struct ck_pool {
    int n;
    worker *w;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    void (*fn)(void *, int);
    void *arg;
    unsigned gen;     /* job number, bumped to start a job        */
    int running;      /* workers still in the current job         */
    int quit;
};

static unsigned load_gen(ck_pool *p) { return __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE); }

static void *work_loop(void *vw)
{
    worker *w = vw;
    ck_pool *p = w->p;
    unsigned seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN && load_gen(p) == seen; i++)
            relax();
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        void (*fn)(void *, int) = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->mu);
        fn(arg, w->tid);
        pthread_mutex_lock(&p->mu);
        if (__atomic_sub_fetch(&p->running, 1, __ATOMIC_ACQ_REL) == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

ck_pool *ck_pool_create(int threads)
{
    ck_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = threads < 1 ? 1 : threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->w = calloc((size_t)p->n, sizeof *p->w);
    if (!p->w) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < p->n; i++) {
        p->w[i].p = p;
        p->w[i].tid = i;
        if (pthread_create(&p->w[i].th, NULL, work_loop, &p->w[i])) {
            p->n = i; /* stop the ones started */
            ck_pool_destroy(p);
            return NULL;
        }
    }
    return p;
}

void ck_pool_destroy(ck_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->w[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->w);
    free(p);
}

int ck_pool_threads(const ck_pool *p) { return p->n; }

void ck_pool_run(ck_pool *p, void (*fn)(void *arg, int tid), void *arg)
{
    if (p->n == 1) {
        fn(arg, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    __atomic_store_n(&p->running, p->n - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0);
    /* Wait for the workers: spin a little (they usually finish together),
     * then sleep. */
    for (int i = 0; i < SPIN && __atomic_load_n(&p->running, __ATOMIC_ACQUIRE); i++)
        relax();
    pthread_mutex_lock(&p->mu);
    while (__atomic_load_n(&p->running, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
