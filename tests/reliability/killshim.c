/*
 * killshim.c -- an LD_PRELOAD shim for the crash harness (crash_test.py): it
 * kills its own process with SIGKILL at an exact write to one file, so that a
 * kill point is reproducible to the byte instead of left to timing.
 *
 * Watched writes are pwrite/pwrite64/write calls on a descriptor whose path
 * (/proc/self/fd) starts with CLKILL_PATH: the store and the temporary names
 * it is built under. Environment:
 *
 *   CLKILL_PATH    absolute path prefix of the watched file (required)
 *   CLKILL_LOG     census: append "N OFFSET SIZE MICROSECONDS" for every watched
 *                  write (the time since the shim's first watched write)
 *   CLKILL_AT      the watched write (1-based) at which to kill
 *   CLKILL_MODE    torn   write N only up to its first page boundary, then
 *                         SIGKILL: what a kill during a write that spans pages
 *                         can leave (the kernel copies a write page by page and
 *                         stops between pages for a fatal signal; within one
 *                         page a write is all or nothing). A write inside one
 *                         page is not written at all.
 *                  before SIGKILL before write N (the file is exactly as it
 *                         was after write N-1: the same file a kill anywhere
 *                         between writes N-1 and N leaves)
 *                  delay  let write N complete, then SIGKILL after
 *                         CLKILL_DELAY_US microseconds -- or just before the
 *                         next watched write, if that comes first
 *   CLKILL_REPORT  delay mode: the file that learns which came first
 *                  ("timer" or "next-write")
 *
 * Without CLKILL_PATH the shim does nothing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);

static pwrite_fn real_pwrite, real_pwrite64;
static write_fn real_write;
static const char *watch, *log_path, *report_path;
static long kill_at;
static int mode; /* 0 torn, 1 before, 2 delay */
static long delay_us;
static atomic_long n_writes;
static atomic_int armed; /* delay mode: write N done, the timer runs */

static void init(void)
{
    static int done;
    if (done)
        return;
    real_pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    real_write = (write_fn)dlsym(RTLD_NEXT, "write");
    watch = getenv("CLKILL_PATH");
    log_path = getenv("CLKILL_LOG");
    report_path = getenv("CLKILL_REPORT");
    const char *at = getenv("CLKILL_AT"), *m = getenv("CLKILL_MODE"), *d = getenv("CLKILL_DELAY_US");
    kill_at = at ? atol(at) : 0;
    mode = !m || !strcmp(m, "torn") ? 0 : !strcmp(m, "before") ? 1 : 2;
    delay_us = d ? atol(d) : 0;
    if (watch && !*watch)
        watch = NULL;
    done = 1;
}

static int watched(int fd)
{
    if (!watch || fd < 0)
        return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return !strncmp(path, watch, strlen(watch));
}

static void note(const char *path, const char *text)
{
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        ssize_t r = real_write(fd, text, strlen(text));
        (void)r;
        close(fd);
    }
}

static void die(const char *why)
{
    note(report_path, why);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

static void *timer(void *arg)
{
    (void)arg;
    struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    die("timer\n");
    return NULL;
}

/* Called before every watched write; returns how many bytes to write
 * (size, or less for a torn write after which the caller dies). */
static size_t before_write(size_t size, off_t off, int *die_after)
{
    *die_after = 0;
    if (atomic_load(&armed))
        die("next-write\n");
    long n = atomic_fetch_add(&n_writes, 1) + 1;
    if (log_path) {
        static struct timespec t0;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (n == 1)
            t0 = t;
        long long us = (t.tv_sec - t0.tv_sec) * 1000000LL + (t.tv_nsec - t0.tv_nsec) / 1000;
        char line[128];
        snprintf(line, sizeof line, "%ld %lld %zu %lld\n", n, (long long)off, size, us);
        note(log_path, line);
    }
    if (kill_at && n == kill_at) {
        if (mode == 1)
            die("before\n");
        if (mode == 0) {
            *die_after = 1;
            long long page = 4096, cut = ((long long)off / page + 1) * page - (long long)off;
            return cut < (long long)size ? (size_t)cut : 0;
        }
        *die_after = 2; /* delay: arm the timer after the write */
    }
    return size;
}

static void after_write(int die_after)
{
    if (die_after == 1)
        die("torn\n");
    if (die_after == 2) {
        atomic_store(&armed, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, timer, NULL) != 0)
            die("timer\n");
    }
}

static ssize_t hooked_pwrite(pwrite_fn fn, int fd, const void *buf, size_t size, off_t off)
{
    init();
    if (!watched(fd))
        return fn(fd, buf, size, off);
    int d;
    size_t n = before_write(size, off, &d);
    ssize_t r = n || !d ? fn(fd, buf, n, off) : 0;
    after_write(d);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t size, off_t off)
{
    init();
    return hooked_pwrite(real_pwrite, fd, buf, size, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t size, off_t off)
{
    init();
    return hooked_pwrite(real_pwrite64, fd, buf, size, off);
}

ssize_t write(int fd, const void *buf, size_t size)
{
    init();
    if (!watched(fd))
        return real_write(fd, buf, size);
    int d;
    size_t n = before_write(size, lseek(fd, 0, SEEK_CUR), &d);
    ssize_t r = n || !d ? real_write(fd, buf, n) : 0;
    after_write(d);
    return r;
}
