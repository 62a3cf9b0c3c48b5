/*
 * test_cuda.c -- the CUDA back end against the CPU back end on random
 * updates: every count and tau exactly equal, l1 and the sum of squares
 * within 1e-5 relative. Without a GPU (or without CUDA in the build) it
 * checks that "auto" falls back to the CPU and "cuda" fails with a clear
 * message, then exits 77, which ctest reports as skipped.
 */
#include "../check.h"
#include "../dense_ref.h"
#include "cl_kernels.h"

/* Random factors with exact zeros (sparse supports) and mixed ranks. */
static void rand_update(cl_lowrank *u, int64_t d_out, int64_t d_in, int k, double scale,
                        double zero_rows, cl_rng *g)
{
    ref_random(u, d_out, d_in, k, scale, g);
    for (int64_t i = 0; i < d_out; i++)
        if (cl_rng_uniform(g) < zero_rows)
            for (int q = 0; q < k; q++)
                u->B[i * k + q] = 0.0f;
}

static void compare(cl_backend *cpu, cl_backend *gpu, int64_t d_out, int64_t d_in, int n,
                    cl_rng *g)
{
    cl_lowrank u[6];
    for (int i = 0; i < n; i++)
        rand_update(&u[i], d_out, d_in, (int[]){8, 4, 16, 1, 8, 5}[i % 6], 0.25 * (i + 1),
                    i % 2 ? 0.5 : 0.0, g);
    const char *specs[] = {"energy:0.99", "energy:0.5", "top:0.1", "rel:0.05", "abs:0.01"};
    cl_threshold th[5];
    cl_error err;
    for (int q = 0; q < 5; q++)
        cl_threshold_parse(specs[q], &th[q], &err);
    cl_dense_result a, b;
    CHECK(cl_dense_pass(cpu, u, n, th, 5, &a, &err) == CL_OK, "cpu: %s", err.msg);
    int rc = cl_dense_pass(gpu, u, n, th, 5, &b, &err);
    CHECK(rc == CL_OK, "cuda: %s", err.msg);
    if (rc == CL_OK) {
        for (int q = 0; q < 5; q++)
            for (int i = 0; i < n; i++) {
                const cl_dense_task *x = &a.task[q * n + i], *y = &b.task[q * n + i];
                CHECK(x->tau == y->tau && x->inclusive == y->inclusive && x->active == y->active,
                      "%s %lldx%lld task %d: tau %.9g/%.9g active %lld/%lld", specs[q],
                      (long long)d_out, (long long)d_in, i, x->tau, y->tau, (long long)x->active,
                      (long long)y->active);
            }
        CHECK(!memcmp(a.both, b.both, sizeof(int64_t) * 5 * (size_t)(n * n)),
              "%lldx%lld: pair counts differ", (long long)d_out, (long long)d_in);
        for (int i = 0; i < n; i++) {
            CHECK(a.maxabs[i] == b.maxabs[i], "max %.9g vs %.9g", a.maxabs[i], b.maxabs[i]);
            CHECK_NEAR(b.l1[i], a.l1[i], 1e-5, 0, "l1");
            CHECK_NEAR(b.sumsq[i], a.sumsq[i], 1e-5, 0, "sum of squares");
        }
        cl_dense_result_free(&b);
    }
    cl_dense_result_free(&a);
    for (int i = 0; i < n; i++)
        cl_lowrank_free(&u[i]);
}

int main(void)
{
    check_begin("test_cuda");
    cl_backend *be;
    cl_error err;
    /* Whatever the machine: auto opens something, and names it. */
    CHECK(cl_backend_open("auto", &be, &err) == CL_OK, "%s", err.msg);
    char name[32];
    snprintf(name, sizeof name, "%s", cl_backend_name(be));
    cl_backend_close(be);
    int rc = cl_backend_open("cuda", &be, &err);
    if (rc != CL_OK) {
        /* no GPU (or no CUDA): auto must have picked the CPU, and the
         * message must say why cuda cannot be used */
        CHECK(!strncmp(name, "cpu", 3), "auto picked %s without a usable GPU", name);
        CHECK(rc == CL_ERR_UNSUPPORTED, "--device cuda: code %d", rc);
        CHECK_CONTAINS(err.msg, "cuda back end");
        if (check_g.failures)
            return check_done();
        printf("Skipped: no GPU (%s)\n", err.msg);
        return 77;
    }
    CHECK(!strncmp(name, "cuda", 4), "a GPU is present, yet auto picked %s", name);
    cl_backend *cpu;
    CHECK(cl_backend_open("cpu", &cpu, &err) == CL_OK, "%s", err.msg);
    cl_rng g;
    cl_rng_seed(&g, 77);
    int64_t shapes[][2] = {{1024, 1024}, {37, 29}, {513, 130}, {1, 1000}, {4096, 512}, {300, 4097}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        compare(cpu, be, shapes[s][0], shapes[s][1], s == 0 ? 6 : 3, &g);
    cl_backend_close(cpu);
    cl_backend_close(be);
    return check_done();
}
