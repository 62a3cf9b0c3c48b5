/*
 * fuzz_store.c -- libFuzzer target for the store reader: any bytes, written
 * to a file, are opened as every collide tool opens a store, and every
 * adapter of every committed snapshot is read. The reader must never crash,
 * leak, hang or read outside its buffers (ASan/UBSan watch): a damaged store
 * is an error naming the file. cl_store_open first reads a store's metadata
 * in a throw-away child process (store_open.c), so a file that crashes
 * libhdf5 itself is refused, not fatal; such inputs are counted.
 *
 * HDF5 needs a path: the input goes to one file in /dev/shm (or $TMPDIR).
 * Seeds: a tiny store made by collide-synth when the test runs.
 */
#include "collide.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];
static long opened, refused, library_crashes;

static void report(void)
{
    fprintf(stderr, "fuzz_store: %ld opened, %ld refused (%ld crashed libhdf5 in the child)\n",
            opened, refused, library_crashes);
    unlink(path);
}

static void init(void)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/collide-fuzz-store-%d.h5", dir ? dir : "/tmp", (int)getpid());
    atexit(report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        init();
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    cl_store *s;
    cl_error err;
    if (cl_store_open(path, &s, &err) != CL_OK) {
        if (!strstr(err.msg, path)) /* every message names the file */
            abort();
        refused++;
        library_crashes += strstr(err.msg, "library crashed") != NULL;
        return 0;
    }
    opened++;
    int T = cl_store_n_tasks(s), M = cl_store_n_modules(s);
    int64_t N = cl_store_n_snapshots(s);
    if (T < 1 || M < 1 || N < 0)
        abort();
    for (int64_t id = 0; id < N && id < 64; id++) {
        const cl_snapshot_row *row = cl_store_snapshot(s, id);
        if (!row || row->id != id || row->task < 0 || row->task >= T)
            abort(); /* the reader promised to check these */
        for (int m = 0; m < M && m < 16; m++) {
            cl_lowrank u;
            if (cl_store_read_adapter(s, m, id, &u, &err) != CL_OK) {
                if (!strstr(err.msg, path))
                    abort();
                continue;
            }
            size_t na = (size_t)u.k * (size_t)u.d_in, nb = (size_t)u.d_out * (size_t)u.k;
            for (size_t i = 0; i < na; i++)
                if (!isfinite(u.A[i]))
                    abort(); /* a value the reader passed must be finite */
            for (size_t i = 0; i < nb; i++)
                if (!isfinite(u.B[i]))
                    abort();
            free(u.A);
            free(u.B);
        }
    }
    const double *R = cl_store_accuracy(s, CL_EVAL_GENERATE);
    for (int i = 0; i < T * T && i < 4096; i++)
        if (!isnan(R[i]) && !(R[i] >= 0 && R[i] <= 1))
            abort();
    cl_store_close(s, NULL);
    return 0;
}
