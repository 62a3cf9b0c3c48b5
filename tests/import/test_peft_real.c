/*
 * test_peft_real.c -- the eight adapters real users committed
 * (COLLIDE_SHARED/real-adapters, read in place, never copied): each imports
 * on its own with the modules, shapes, ranks, scales and skipped tensors
 * its README describes; the two same-base pairs (GPT-2, TinyLlama) import as
 * 2-task stores whose collision metrics are sane; export -> import keeps a
 * pair bit for bit. Without the folder the test says why and exits 77
 * (ctest: Skipped).
 */
#include "peft_test.h"

#ifndef COLLIDE_SHARED_DIR
#error "COLLIDE_SHARED_DIR must be defined"
#endif

static char root[600];

typedef struct real {
    const char *dir;
    const char *dtype;
    int modules, r;
    double alpha, scale;
    int skipped, notes, fifo;
    const char *first;       /* first module, natural order          */
    int64_t d_out, d_in;     /* of the first module                  */
    double max_b;            /* max |lora_B| over the file (numpy)   */
} real;

static const real REAL[] = {
    {"BK7195__deltacompression-poc__adapter", "F16", 24, 1, 32, 32, 0, 0, 0,
     "gpt_neox.layers.0.attention.query_key_value", 6144, 2048, 0.8394},
    {"Hareshjethani__BERT-GPT2-Multitask-Finetuning__root", "F32", 24, 8, 32, 4, 2, 2, 0,
     "bert.encoder.layer.0.attention.self.query", 768, 768, 3.519e-4},
    {"Muhammad-Ahmad092__Math-Riddle-Generator-with-Fine-Tuning__model", "F32", 36, 8, 16, 2, 0, 0, 1,
     "transformer.h.0.attn.c_attn", 2304, 768, 2.782e-3},
    {"Siddharth-magesh__flan-t5-base-MedicalQnA__results", "F32", 36, 16, 32, 2, 0, 1, 0,
     "decoder.block.0.layer.0.SelfAttention.q", 768, 768, 0.017},
    {"abrhaleyarefaine1997__gpt2-tigrinya-lora__root", "F32", 36, 8, 32, 4, 0, 0, 1,
     "transformer.h.0.attn.c_attn", 2304, 768, 0.05117},
    {"guilhermmeabreu__lab_08__root", "BF16", 24, 16, 32, 2, 0, 0, 0,
     "model.decoder.layers.0.self_attn.q_proj", 768, 768, 5.264e-4},
    {"justbautista__fine-tuning__emotion", "F32", 44, 4, 8, 2, 0, 0, 0,
     "model.layers.0.self_attn.q_proj", 2048, 2048, 0.0246},
    {"justbautista__fine-tuning__keywords", "F32", 44, 4, 8, 2, 0, 0, 0,
     "model.layers.0.self_attn.q_proj", 2048, 2048, 0.02303},
};
enum { N_REAL = sizeof REAL / sizeof REAL[0] };

/* Shapes by module kind, counted over the adapter. */
static int count_shape(cl_peft_adapter *a, const char *suffix, int64_t d_out, int64_t d_in)
{
    int n = 0, M = cl_peft_get_info(a)->n_modules;
    for (int m = 0; m < M; m++) {
        const cl_peft_module *pm = cl_peft_module_at(a, 0, m);
        size_t l = strlen(pm->name), s = strlen(suffix);
        if (l >= s && !strcmp(pm->name + l - s, suffix)) {
            n++;
            CHECK(pm->d_out == d_out && pm->d_in == d_in, "%s: %lld x %lld, expected %lld x %lld",
                  pm->name, (long long)pm->d_out, (long long)pm->d_in, (long long)d_out,
                  (long long)d_in);
        }
    }
    return n;
}

static void check_one(const real *w)
{
    char d[1200], store[600];
    path_join(d, sizeof d, root, w->dir);
    notes nt = {0};
    cl_peft_adapter *a;
    cl_error err;
    if (cl_peft_open(d, note_count, &nt, &a, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const cl_peft_info *in = cl_peft_get_info(a);
    CHECK(in->n_modules == w->modules && in->r == w->r && in->alpha == w->alpha &&
              !strcmp(in->dtype, w->dtype) && in->n_skipped == w->skipped && nt.n == w->notes &&
              in->fan_in_fan_out == w->fifo && in->n_tasks == 1,
          "%s: %d modules r %d alpha %g %s, %d skipped, %d notes", w->dir, in->n_modules, in->r,
          in->alpha, in->dtype, in->n_skipped, nt.n);
    const cl_peft_module *m0 = cl_peft_module_at(a, 0, 0);
    CHECK(!strcmp(m0->name, w->first) && m0->d_out == w->d_out && m0->d_in == w->d_in &&
              m0->rank == w->r && m0->scale == w->scale,
          "%s: first module %s %lld x %lld r %d scale %g", w->dir, m0->name, (long long)m0->d_out,
          (long long)m0->d_in, m0->rank, m0->scale);
    /* the factors: finite, B as large as numpy says (16-bit upcasts exact) */
    double max_b = 0;
    for (int m = 0; m < in->n_modules; m++) {
        const cl_peft_module *pm = cl_peft_module_at(a, 0, m);
        float *A = malloc((size_t)pm->rank * (size_t)pm->d_in * sizeof *A);
        float *B = malloc((size_t)pm->d_out * (size_t)pm->rank * sizeof *B);
        CHECK(cl_peft_read(a, 0, m, A, B, &err) == CL_OK, "%s", err.msg);
        for (int64_t i = 0; i < pm->d_out * pm->rank; i++)
            max_b = fmax(max_b, fabs(B[i]));
        free(A), free(B);
    }
    CHECK_NEAR(max_b, w->max_b, 1e-3, 0, w->dir);
    path_join(store, sizeof store, scratch, "one.h5");
    unlink(store);
    CHECK(cl_peft_import(store, &a, 1, NULL, &err) == CL_OK, "%s: %s", w->dir, err.msg);
    cl_store *s;
    if (cl_store_open(store, &s, &err) == CL_OK) {
        CHECK(cl_store_n_modules(s) == w->modules && !strcmp(cl_store_task_name(s, 0), w->dir) &&
                  !strcmp(cl_store_meta(s)->method, "imported") && cl_store_meta(s)->rank == w->r,
              "%s: store", w->dir);
        cl_store_close(s, NULL);
    }
    /* what the README says each one does */
    if (strstr(w->dir, "gpt2") || strstr(w->dir, "Math-Riddle")) {
        CHECK(count_shape(a, ".attn.c_attn", 2304, 768) == 12 &&
                  count_shape(a, ".attn.c_proj", 768, 768) == 12 &&
                  count_shape(a, ".mlp.c_proj", 768, 3072) == 12,
              "%s: GPT-2 Conv1D modules", w->dir);
    } else if (strstr(w->dir, "justbautista")) {
        CHECK(count_shape(a, ".q_proj", 2048, 2048) == 22 && count_shape(a, ".v_proj", 256, 2048) == 22,
              "%s: TinyLlama GQA", w->dir);
    } else if (strstr(w->dir, "flan-t5")) {
        CHECK(count_shape(a, ".SelfAttention.q", 768, 768) == 24 &&
                  count_shape(a, ".EncDecAttention.q", 768, 768) == 12,
              "flan-T5: q at three sites");
        CHECK(notes_have(&nt, "target_modules: entry 'V' matches no module"), "flan-T5 'V' note");
    } else if (strstr(w->dir, "BERT")) {
        CHECK(count_shape(a, ".query", 768, 768) == 12 && count_shape(a, ".value", 768, 768) == 12,
              "BERT modules");
        CHECK(notes_have(&nt, "base_model.model.classifier.weight: full tensor of modules_to_save") &&
                  notes_have(&nt, "base_model.model.classifier.bias: full tensor of modules_to_save"),
              "BERT classifier tensors reported");
    } else if (strstr(w->dir, "deltacompression")) {
        CHECK(count_shape(a, ".query_key_value", 3 * 2048, 2048) == 24, "GPT-NeoX fused QKV");
    }
    cl_peft_close(a);
}

/* A same-base pair as a 2-task store: collisions sane on the first layer's
 * modules; export -> import the same store. */
static void check_pair(const char *d1, const char *d2, int modules, const char *layer0)
{
    char p1[1200], p2[1200], store[600], out[600], again[600];
    path_join(p1, sizeof p1, root, d1);
    path_join(p2, sizeof p2, root, d2);
    path_join(store, sizeof store, scratch, "pair.h5");
    path_join(out, sizeof out, scratch, "pair-export");
    path_join(again, sizeof again, scratch, "pair-again.h5");
    unlink(store);
    unlink(again);
    cl_error err;
    if (import_dirs(store, (const char *const[]){p1, p2}, 2, NULL, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    cl_store *s;
    cl_backend *be;
    if (cl_store_open(store, &s, &err) || cl_backend_open("cpu", &be, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(cl_store_n_tasks(s) == 2 && cl_store_n_modules(s) == modules, "%s: %d modules", d1,
          cl_store_n_modules(s));
    cl_threshold th;
    cl_threshold_parse(CL_THRESHOLD_DEFAULT, &th, &err);
    int checked = 0;
    for (int m = 0; m < cl_store_n_modules(s); m++) {
        if (!strstr(cl_store_module_name(s, m), layer0))
            continue;
        cl_lowrank u[2];
        CHECK(cl_store_read_adapter(s, m, 0, &u[0], &err) == CL_OK &&
                  cl_store_read_adapter(s, m, 1, &u[1], &err) == CL_OK,
              "%s", err.msg);
        cl_dense_result r;
        if (cl_dense_pass(be, u, 2, &th, 1, &r, &err) == CL_OK) {
            double d0 = (double)r.task[0].active / (double)r.entries;
            double d1v = (double)r.task[1].active / (double)r.entries;
            cl_collision c = cl_collision_from_counts(r.both[1], r.task[0].active, r.task[1].active,
                                                      r.entries);
            printf("  %s: density %.3f / %.3f, collision rate %.3f, lift %.3f\n",
                   cl_store_module_name(s, m), d0, d1v, c.rate, c.lift);
            /* a dense trained update keeps most entries for 99% of its energy */
            CHECK(d0 > 0.3 && d0 < 1 && d1v > 0.3 && d1v < 1, "densities %g %g", d0, d1v);
            CHECK(c.rate > 0 && c.rate <= fmin(d0, d1v) && c.lift > 0.5 && c.lift < 2,
                  "collision %g lift %g", c.rate, c.lift);
            cl_dense_result_free(&r);
            checked++;
        } else {
            CHECK(0, "%s", err.msg);
        }
        cl_lowrank_free(&u[0]);
        cl_lowrank_free(&u[1]);
    }
    CHECK(checked > 0, "no module of %s", layer0);
    cl_peft_exported *e = NULL;
    int n = 0;
    CHECK(cl_peft_export(s, out, NULL, &e, &n, &err) == CL_OK && n == 2, "%s", err.msg);
    cl_backend_close(be);
    cl_store_close(s, NULL);
    if (n == 2) {
        CHECK(e[0].inexact == 0 && e[1].inexact == 0 && e[0].n_alpha_pattern == 0 &&
                  e[0].n_rank_pattern == 0,
              "plain configs exported");
        CHECK(import_dirs(again, (const char *const[]){e[0].dir, e[1].dir}, 2, NULL, &err) == CL_OK,
              "%s", err.msg);
        same_stores(store, again, d1);
    }
    cl_peft_exported_free(e, n);
}

int main(void)
{
    check_begin("test_peft_real");
    path_join(root, sizeof root, COLLIDE_SHARED_DIR, "real-adapters");
    struct stat sb;
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("test_peft_real: Skipped: %s does not exist (the real adapters live in ../shared "
               "beside the checkout; configure with -DCOLLIDE_SHARED=DIR to point elsewhere)\n",
               root);
        return 77;
    }
    scratch_begin("peft-real");
    for (int i = 0; i < N_REAL; i++)
        check_one(&REAL[i]);
    printf("GPT-2 pair (different users, tasks):\n");
    check_pair("abrhaleyarefaine1997__gpt2-tigrinya-lora__root",
               "Muhammad-Ahmad092__Math-Riddle-Generator-with-Fine-Tuning__model", 36, "h.0.");
    printf("TinyLlama pair (one user, two tasks):\n");
    check_pair("justbautista__fine-tuning__emotion", "justbautista__fine-tuning__keywords", 44,
               "layers.0.");
    scratch_end();
    return check_done();
}
