/*
 * fuzz_dataset.c -- libFuzzer target for the benchmark loader: the input is
 * cut into labels.json, train.json and test.json at lines "===" (missing
 * parts are left out), written as one task's folder (TC/agnews), and loaded
 * as collide-train --data loads it. Every failure must name a file; every
 * success must hold examples with texts and labels from labels.json, and the
 * prompt and answer normalisation must take them.
 */
#include "benchmark.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256], dir[320];

static void cleanup(void)
{
    const char *f[] = {"labels.json", "train.json", "test.json", "dev.json"};
    char p[400];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, f[i]);
        unlink(p);
    }
    rmdir(dir);
    snprintf(p, sizeof p, "%s/TC", root);
    rmdir(p);
    rmdir(root);
}

static void init(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof root, "%s/collide-fuzz-data-%d", base, (int)getpid());
    char p[300];
    snprintf(p, sizeof p, "%s/TC", root);
    snprintf(dir, sizeof dir, "%s/TC/agnews", root);
    if ((mkdir(root, 0700) && access(root, F_OK)) || (mkdir(p, 0700) && access(p, F_OK)) ||
        (mkdir(dir, 0700) && access(dir, F_OK)))
        abort();
    atexit(cleanup);
}

static void put(const char *name, const uint8_t *d, size_t n, int present)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!present) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
        abort();
}

static const uint8_t *find(const uint8_t *d, size_t n, size_t *at)
{
    static const char sep[] = "\n===\n";
    for (size_t i = 0; i + 5 <= n; i++)
        if (!memcmp(d + i, sep, 5)) {
            *at = i;
            return d + i + 5;
        }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0])
        init();
    const uint8_t *part[3] = {data, NULL, NULL};
    size_t len[3] = {size, 0, 0};
    for (int k = 0; k < 2 && part[k]; k++) {
        size_t at;
        const uint8_t *next = find(part[k], len[k], &at);
        if (next) {
            part[k + 1] = next;
            len[k + 1] = len[k] - at - 5;
            len[k] = at;
        }
    }
    put("labels.json", part[0], len[0], 1);
    put("train.json", part[1], len[1], part[1] != NULL);
    put("test.json", part[2], len[2], part[2] != NULL);
    cl_load_opts o = {.train_per_class = 3, .test_per_task = 5, .seed = 1};
    cl_task_data t;
    cl_error err;
    if (cl_bench_load(root, "agnews", "agnews", &o, &t, &err) != CL_OK) {
        if (!strstr(err.msg, dir) && !strstr(err.msg, "agnews"))
            abort(); /* a failure names the file (or the task) */
        return 0;
    }
    if (t.n_labels < 2 || t.n_train < 1 || t.n_test < 1 || t.n_test > 5)
        abort();
    char prompt[4096], norm[1024];
    cl_prompt_prefix(&t, prompt, sizeof prompt);
    for (int i = 0; i < t.n_train + t.n_test; i++) {
        const cl_example *e = i < t.n_train ? &t.train[i] : &t.test[i - t.n_train];
        if (!e->text || e->label < 0 || e->label >= t.n_labels)
            abort();
        cl_normalize_answer(e->text, norm, sizeof norm);
    }
    for (int i = 0; i < t.n_labels; i++)
        cl_normalize_answer(t.labels[i], norm, sizeof norm);
    cl_task_data_free(&t);
    return 0;
}
