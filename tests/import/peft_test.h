/*
 * peft_test.h -- what the PEFT import tests share: fixture paths, a scratch
 * directory, hand-made adapters, and comparing two stores bit for bit.
 */
#ifndef COLLIDE_PEFT_TEST_H
#define COLLIDE_PEFT_TEST_H

#include "check.h"

#include "collide.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef COLLIDE_FIXTURES
#error "COLLIDE_FIXTURES (tests/fixtures/peft) must be defined"
static inline void same_stores(const char *p1, const char *p2, const char *what)
{
    same_stores_base(p1, p2, what, 1);
}

#endif

static char scratch[256];

static inline void scratch_begin(const char *tag)
{
    snprintf(scratch, sizeof scratch, "/tmp/collide-%s-XXXXXX", tag);
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline void scratch_end(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
}

/* buf = scratch/name (or the fixture path) */
static inline const char *path_join(char *buf, size_t n, const char *dir, const char *name)
{
    int r = snprintf(buf, n, "%s/%s", dir, name);
    if (r < 0 || (size_t)r >= n) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        exit(1);
    }
    return buf;
}

static inline const char *in_scratch(char *buf, size_t n, const char *name)
{
    return path_join(buf, n, scratch, name);
}

static inline const char *fixture(char *buf, size_t n, const char *rel)
{
    return path_join(buf, n, COLLIDE_FIXTURES, rel);
}

static inline json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECK(j != NULL, "%s: %s", path, je.text);
    return j;
}

static inline void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(1);
    }
    fclose(f);
}

static inline void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* Notes heard from the importer. */
typedef struct notes {
    int n;
    char last[8][512];
} notes;

static inline void note_count(void *ctx, const char *file, const char *object, const char *reason)
{
    notes *nt = ctx;
    if (nt->n < 8)
        snprintf(nt->last[nt->n], sizeof nt->last[0], "%s: %s: %s", file, object, reason);
    nt->n++;
}

static inline int notes_have(const notes *nt, const char *needle)
{
    for (int i = 0; i < nt->n && i < 8; i++)
        if (strstr(nt->last[i], needle))
            return 1;
    return 0;
}

/* A hand-made tensor: values a function of (seed, index), never zero. */
typedef struct mk_tensor {
    const char *name;
    cl_st_dtype dtype;
    int ndim;
    int64_t shape[3];
} mk_tensor;

static inline float mk_value(int t, int64_t i)
{
    return (float)(0.01 * (t + 1)) * (float)((i * 37 + t * 11) % 23 - 11) + 0.003f;
}

/* dir/ with config text (NULL: none) and the tensors (n = 0: no file). */
static inline void make_adapter(const char *dir, const char *config, const mk_tensor *t, int n)
{
    mkdir(dir, 0777);
    char p[600];
    if (config) {
        path_join(p, sizeof p, dir, "adapter_config.json");
        write_text(p, config);
    }
    if (n == 0)
        return;
    cl_st_write_tensor w[16];
    void *data[16];
    for (int i = 0; i < n && i < 16; i++) {
        int64_t count = 1;
        for (int d = 0; d < t[i].ndim; d++)
            count *= t[i].shape[d];
        int size = cl_st_dtype_size(t[i].dtype);
        data[i] = calloc((size_t)(count ? count : 1), (size_t)size);
        for (int64_t e = 0; e < count; e++) {
            float v = mk_value(i, e);
            if (t[i].dtype == CL_ST_F32)
                ((float *)data[i])[e] = v;
            else if (t[i].dtype == CL_ST_I32)
                ((int32_t *)data[i])[e] = (int32_t)(v * 100);
            else if (t[i].dtype == CL_ST_BF16) {
                uint32_t u;
                memcpy(&u, &v, 4);
                ((uint16_t *)data[i])[e] = (uint16_t)(u >> 16);
            }
        }
        w[i] = (cl_st_write_tensor){t[i].name, t[i].dtype, t[i].ndim,
                                    {t[i].shape[0], t[i].shape[1], t[i].shape[2]}, data[i]};
    }
    path_join(p, sizeof p, dir, "adapter_model.safetensors");
    cl_error err;
    CHECK(cl_st_write(p, w, n, (const char *const[]){"format", "pt"}, 1, &err) == CL_OK, "%s",
          err.msg);
    for (int i = 0; i < n && i < 16; i++)
        free(data[i]);
}

/* Open each directory and import them into store; returns the code. */
static inline int import_dirs(const char *store, const char *const *dirs, int n,
                              const char *const *names, cl_error *err)
{
    cl_peft_adapter *a[16] = {0};
    int rc = CL_OK;
    for (int i = 0; i < n && !rc; i++)
        rc = cl_peft_open(dirs[i], NULL, NULL, &a[i], err);
    if (!rc) {
        cl_peft_import_spec sp = {.task_names = names, .n_task_names = names ? n : 0};
        rc = cl_peft_import(store, a, n, &sp, err);
    }
    for (int i = 0; i < n; i++)
        cl_peft_close(a[i]);
    return rc;
}

/* Two stores hold the same tasks, modules and end-of-task adapters, bit for
 * bit (factors, ranks, scales), and the same base unless told otherwise. */
static inline void same_stores_base(const char *p1, const char *p2, const char *what, int base)
{
    cl_store *a, *b;
    cl_error err;
    if (cl_store_open(p1, &a, &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        return;
    }
    if (cl_store_open(p2, &b, &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        cl_store_close(a, NULL);
        return;
    }
    int T = cl_store_n_tasks(a), M = cl_store_n_modules(a);
    CHECK(T == cl_store_n_tasks(b) && M == cl_store_n_modules(b), "%s: %d/%d tasks, %d/%d modules",
          what, T, cl_store_n_tasks(b), M, cl_store_n_modules(b));
    CHECK(!base || !strcmp(cl_store_meta(a)->base_model, cl_store_meta(b)->base_model),
          "%s: base %s vs %s", what, cl_store_meta(a)->base_model, cl_store_meta(b)->base_model);
    long differ = 0;
    for (int t = 0; t < T && t < cl_store_n_tasks(b); t++) {
        CHECK(!strcmp(cl_store_task_name(a, t), cl_store_task_name(b, t)), "%s: task %s vs %s", what,
              cl_store_task_name(a, t), cl_store_task_name(b, t));
        for (int m = 0; m < M && m < cl_store_n_modules(b); m++) {
            CHECK(!strcmp(cl_store_module_name(a, m), cl_store_module_name(b, m)) &&
                      cl_store_module_d_out(a, m) == cl_store_module_d_out(b, m) &&
                      cl_store_module_d_in(a, m) == cl_store_module_d_in(b, m),
                  "%s: module %s vs %s", what, cl_store_module_name(a, m),
                  cl_store_module_name(b, m));
            cl_lowrank x, y;
            if (cl_store_read_adapter(a, m, cl_store_task_end(a, t), &x, &err)) {
                CHECK(0, "%s", err.msg);
                continue;
            }
            if (cl_store_read_adapter(b, m, cl_store_task_end(b, t), &y, &err)) {
                CHECK(0, "%s", err.msg);
                cl_lowrank_free(&x);
                continue;
            }
            int same = x.k == y.k && x.d_out == y.d_out && x.d_in == y.d_in &&
                       !memcmp(&x.scale, &y.scale, sizeof x.scale);
            if (same)
                same = !memcmp(x.A, y.A, (size_t)x.k * (size_t)x.d_in * sizeof(float)) &&
                       !memcmp(x.B, y.B, (size_t)x.d_out * (size_t)x.k * sizeof(float));
            if (!same && differ++ < 3)
                fprintf(stderr, "%s: task %d module %s: k %d/%d scale %.17g/%.17g or factors differ\n",
                        what, t, cl_store_module_name(a, m), x.k, y.k, x.scale, y.scale);
            cl_lowrank_free(&x);
            cl_lowrank_free(&y);
        }
    }
    CHECK(differ == 0, "%s: %ld task-module adapters differ", what, differ);
    cl_store_close(a, NULL);
    cl_store_close(b, NULL);
}

static inline void same_stores(const char *p1, const char *p2, const char *what)
{
    same_stores_base(p1, p2, what, 1);
}

/* Run BINDIR/args (stderr through a file in the scratch folder); stdout into *out, stderr into *errout (both may be
 * NULL). Returns the exit status. */
static inline int tool_run(const char *bindir, const char *args, char **out, char **errout)
{
    char cmd[8192], ef[600];
    path_join(ef, sizeof ef, scratch, "stderr.txt");
    if (snprintf(cmd, sizeof cmd, "%s/%s 2>%s", bindir, args, ef) >= (int)sizeof cmd)
        return 126; /* a command this long is a test's mistake */
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    if (errout) {
        FILE *f = fopen(ef, "r");
        char *e = calloc(1, 1 << 16);
        if (f) {
            size_t r = fread(e, 1, (1 << 16) - 1, f);
            e[r] = 0;
            fclose(f);
        }
        *errout = e;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#endif
