/*
 * bench_dump.c -- writes dW of one module and task, formed in collide's
 * canonical arithmetic (kernels/kernels.h), as raw float32, so that the
 * benchmark can check bit for bit whether numpy's B @ A (OpenBLAS sgemm)
 * forms the same values.
 *
 *   bench_dump STORE MODULE_INDEX SNAPSHOT OUT.f32
 */
#include "../dense_ref.h"
#include "collide.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_dump STORE MODULE_INDEX SNAPSHOT OUT.f32\n");
        return 2;
    }
    cl_store *s;
    cl_error err;
    cl_lowrank u;
    if (cl_store_open(argv[1], &s, &err) ||
        cl_store_read_adapter(s, atoi(argv[2]), atoll(argv[3]), &u, &err)) {
        fprintf(stderr, "bench_dump: %s\n", err.msg);
        return 1;
    }
    float *w = ref_form(&u);
    size_t n = (size_t)u.d_out * (size_t)u.d_in;
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(w, sizeof *w, n, f) != n || fclose(f)) {
        fprintf(stderr, "bench_dump: %s: cannot write\n", argv[4]);
        return 1;
    }
    free(w);
    cl_lowrank_free(&u);
    cl_store_close(s, NULL);
    return 0;
}
