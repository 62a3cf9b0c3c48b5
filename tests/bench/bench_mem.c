/*
 * bench_mem.c -- the memory of loading a base from a folder in the Hugging
 * Face layout and of one LoRA training step on it (q and v, r 8): peak
 * resident set (VmHWM, what getrusage's ru_maxrss reports) and the resident
 * set split into anonymous memory (private copies) and file pages (the page
 * cache, mapped), after loading and after one forward and backward. Prints
 * one JSON object; tests/bench/mem.sh runs PyTorch on the same folder.
 *
 * usage: bench_mem DIR BATCH SEQ
 */
#include "llama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* kB of a /proc/self/status field, or -1. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static void stage(const char *name, double secs, int last)
{
    printf("\"%s\": {\"seconds\": %.2f, \"peak_rss_mb\": %.1f, \"rss_anon_mb\": %.1f, "
           "\"rss_file_mb\": %.1f}%s",
           name, secs, status_kb("VmHWM") / 1024.0, status_kb("RssAnon") / 1024.0,
           status_kb("RssFile") / 1024.0, last ? "" : ", ");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_mem DIR BATCH SEQ\n");
        return 2;
    }
    int B = atoi(argv[2]), T = atoi(argv[3]);
    cl_llama *m;
    cl_error err;
    double t0 = now();
    if (cl_llama_load(argv[1], &m, &err)) {
        fprintf(stderr, "bench_mem: %s\n", err.msg);
        return 1;
    }
    double t1 = now();
    printf("{\"impl\": \"collide\", \"params\": %zu, ", cl_llama_num_params(m));
    stage("load", t1 - t0, 0);
    fflush(stdout);
    const cl_llama_config *c = cl_llama_cfg(m);
    if (cl_llama_lora_new_task(m, (1u << CL_PROJ_Q) | (1u << CL_PROJ_V), 8, 32, 1, &err) ||
        cl_llama_prepare(m, B, T, 0, &err)) {
        fprintf(stderr, "bench_mem: %s\n", err.msg);
        return 1;
    }
    int32_t *x = malloc(sizeof *x * (size_t)(B * T)), *y = malloc(sizeof *y * (size_t)(B * T));
    uint8_t *mask = malloc((size_t)(B * T));
    for (int i = 0; i < B * T; i++) {
        x[i] = (int32_t)((i * 7919u + 13) % (unsigned)c->vocab_size);
        y[i] = (int32_t)((i * 104729u + 5) % (unsigned)c->vocab_size);
        mask[i] = 1;
    }
    double loss = cl_llama_forward(m, x, y, mask, 1, 0);
    cl_llama_backward(m);
    double t2 = now();
    stage("step", t2 - t1, 1);
    printf(", \"loss\": %.4f}\n", loss);
    free(x), free(y), free(mask);
    cl_llama_free(m);
    return 0;
}
