/*
 * bench_gen.c -- writes benchmark stores shaped like real continual-learning
 * runs, through the public store API.
 *
 *   bench_gen -o STORE --shape t5|llama [--tasks T] [--modules M] [--seed N]
 *
 *   t5     T5-large: 144 adapted 1024 x 1024 modules (q and v of the 24
 *          encoder self-attention, 24 decoder self-attention and 24
 *          cross-attention blocks), r = 8, alpha = 32; 15 tasks by default
 *   llama  LLaMA-7B: 64 adapted 4096 x 4096 modules (q_proj, v_proj of 32
 *          layers), r = 8, alpha = 16; 4 tasks by default
 *
 * What a trained adapter looks like, roughly: A keeps PEFT's Kaiming-uniform
 * initialisation, U(-1/sqrt(d_in), 1/sqrt(d_in)), plus a learned drift that
 * partly shares directions with the previous task (so tasks are neither
 * orthogonal nor identical); B, zero at initialisation, has learned a
 * decaying spectrum (column q scaled by (1+q)^-0.7) and heavy-tailed row
 * scales (log-normal: a few output channels carry most of the update). One
 * end-of-task snapshot per task. --modules M keeps the first M modules.
 */
#include "collide.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: bench_gen -o STORE --shape t5|llama [--tasks T] [--modules M] "
                    "[--seed N]\n");
    exit(2);
}

static int fail(const cl_error *err)
{
    fprintf(stderr, "bench_gen: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *shape = NULL;
    int tasks = 0, modules = 0;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc)
            shape = argv[++i];
        else if (!strcmp(argv[i], "--tasks") && i + 1 < argc)
            tasks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--modules") && i + 1 < argc)
            modules = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else
            usage();
    }
    if (!out || !shape)
        usage();
    int t5 = !strcmp(shape, "t5");
    if (!t5 && strcmp(shape, "llama"))
        usage();
    int M = t5 ? 144 : 64, T = tasks > 0 ? tasks : t5 ? 15 : 4, r = 8;
    int64_t d = t5 ? 1024 : 4096;
    double alpha = t5 ? 32 : 16;
    if (modules > 0 && modules < M)
        M = modules;

    char **names = calloc((size_t)M, sizeof *names), **tnames = calloc((size_t)T, sizeof *tnames);
    int64_t *dd = malloc((size_t)M * sizeof *dd);
    int32_t *rank = malloc((size_t)M * sizeof *rank);
    double *scale = malloc((size_t)M * sizeof *scale);
    for (int m = 0; m < M; m++) {
        names[m] = malloc(80);
        if (t5) {
            static const char *part[] = {"encoder.block.%d.layer.0.SelfAttention.%c",
                                         "decoder.block.%d.layer.0.SelfAttention.%c",
                                         "decoder.block.%d.layer.1.EncDecAttention.%c"};
            snprintf(names[m], 80, part[m / 48], m % 48 / 2, m % 2 ? 'v' : 'q');
        } else {
            snprintf(names[m], 80, "model.layers.%d.self_attn.%s", m / 2, m % 2 ? "v_proj" : "q_proj");
        }
        dd[m] = d;
        rank[m] = r;
        scale[m] = alpha / r;
    }
    for (int t = 0; t < T; t++) {
        tnames[t] = malloc(32);
        snprintf(tnames[t], 32, "task%02d", t + 1);
    }
    cl_store_spec spec = {
        .meta = {.method = "olora", .rank = r, .alpha = alpha, .scaling = alpha / r,
                 .scaling_rule = "alpha/r", .penalty_form = "paper", .lambda_orth = 0.5,
                 .seed = seed, .base_model = t5 ? "t5-large (benchmark shape)" : "llama-7b (benchmark shape)",
                 .created_by = "bench_gen"},
        .n_tasks = T, .task_names = (const char *const *)tnames, .n_modules = M,
        .module_names = (const char *const *)names, .d_out = dd, .d_in = dd, .rank = rank};
    cl_store *s;
    cl_error err;
    if (cl_store_create(out, &spec, &s, &err))
        return fail(&err);

    /* Per module: the previous task's drift (shared in part by the next). */
    size_t na = (size_t)r * (size_t)d, nb = (size_t)d * (size_t)r;
    float *A = malloc((size_t)M * na * sizeof *A), *B = malloc((size_t)M * nb * sizeof *B);
    float *drift = calloc((size_t)M * na, sizeof *drift);
    double *row = malloc((size_t)d * sizeof *row);
    const float **pa = malloc((size_t)M * sizeof *pa), **pb = malloc((size_t)M * sizeof *pb);
    cl_rng g;
    cl_rng_seed(&g, seed);
    double bound = 1.0 / sqrt((double)d);
    for (int t = 0; t < T; t++) {
        for (int m = 0; m < M; m++) {
            float *a = A + (size_t)m * na, *b = B + (size_t)m * nb, *dr = drift + (size_t)m * na;
            for (size_t i = 0; i < na; i++) {
                double fresh = cl_rng_normal(&g) * bound;
                dr[i] = (float)(t ? 0.6 * dr[i] + 0.8 * fresh : fresh);
                a[i] = (float)((2 * cl_rng_uniform(&g) - 1) * bound + 0.5 * dr[i]);
            }
            for (int64_t i = 0; i < d; i++)
                row[i] = exp(0.5 * cl_rng_normal(&g));
            for (int64_t i = 0; i < d; i++)
                for (int q = 0; q < r; q++)
                    b[(size_t)i * (size_t)r + (size_t)q] =
                        (float)(0.01 * row[i] * pow(1.0 + q, -0.7) * cl_rng_normal(&g));
            pa[m] = a;
            pb[m] = b;
        }
        cl_snapshot_row sr = {.task = t, .epoch = 0, .step = 1000 * (t + 1), .loss = 0.5,
                              .loss_task = 0.5, .wall_time = 60.0 * (t + 1),
                              .kind = CL_SNAP_END_OF_TASK};
        if (cl_store_append(s, &sr, pa, pb, rank, scale, NULL, 0, &err))
            return fail(&err);
    }
    double *acc = malloc((size_t)T * sizeof *acc);
    for (int i = 0; i < T; i++) {
        for (int j = 0; j < T; j++)
            acc[j] = j <= i ? 0.8 - 0.02 * (i - j) : 0.3;
        if (cl_store_write_accuracy_row(s, CL_EVAL_GENERATE, i, acc, &err))
            return fail(&err);
    }
    if (cl_store_close(s, &err))
        return fail(&err);
    printf("wrote %s: %s shape, %d tasks, %d modules of %lldx%lld, r=%d\n", out, shape, T, M,
           (long long)d, (long long)d, r);
    for (int m = 0; m < M; m++)
        free(names[m]);
    for (int t = 0; t < T; t++)
        free(tnames[t]);
    free(names), free(tnames), free(dd), free(rank), free(scale), free(A), free(B), free(drift);
    free(row), free(pa), free(pb), free(acc);
    return 0;
}
