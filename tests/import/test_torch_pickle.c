/*
 * test_torch_pickle.c -- torch.save checkpoints (adapter_model.bin) read by
 * libmetrics/peft/torch_pickle.c against their safetensors twins
 * (tests/fixtures/peft/torch, made by make_torch.py): identical factors bit
 * for bit; old PEFT's MergedLinear dW against F.conv1d + zero padding; both
 * files in one directory; every hostile file refused with its words; the
 * million-opcode bombs (written here); and collide-import of a .bin
 * directory giving the same collide-collision --format json as its twin.
 *
 * usage: test_torch_pickle BINDIR
 */
#include "peft_test.h"

#include <sys/wait.h>

#define TORCH COLLIDE_FIXTURES "/torch"

static char bindir[512];

static cl_peft_adapter *open_ok(const char *path, notes *nt)
{
    cl_peft_adapter *a = NULL;
    cl_error err = {0};
    int rc = cl_peft_open(path, nt ? note_count : NULL, nt, &a, &err);
    CHECK(rc == CL_OK, "%s: %s", path, err.msg);
    return rc == CL_OK ? a : NULL;
}

/* Every task and module of a and b: same shapes, scales, factors bit for bit. */
static void same_adapters(cl_peft_adapter *a, cl_peft_adapter *b, const char *what)
{
    const cl_peft_info *ia = cl_peft_get_info(a), *ib = cl_peft_get_info(b);
    CHECK(ia->n_tasks == ib->n_tasks && ia->n_modules == ib->n_modules, "%s: tasks/modules", what);
    CHECK(!strcmp(ia->dtype, ib->dtype), "%s: dtype %s vs %s", what, ia->dtype, ib->dtype);
    CHECK(ia->cumulative == ib->cumulative, "%s: cumulative", what);
    for (int t = 0; t < ia->n_tasks && t < ib->n_tasks; t++)
        for (int m = 0; m < ia->n_modules && m < ib->n_modules; m++) {
            const cl_peft_module *x = cl_peft_module_at(a, t, m), *y = cl_peft_module_at(b, t, m);
            CHECK(!strcmp(x->name, y->name) && x->d_out == y->d_out && x->d_in == y->d_in &&
                      x->rank == y->rank && x->scale == y->scale,
                  "%s: module %d of task %d: %s vs %s", what, m, t, x->name, y->name);
            size_t na = (size_t)x->rank * (size_t)x->d_in, nb = (size_t)x->d_out * (size_t)x->rank;
            float *A1 = calloc(na, 4), *B1 = calloc(nb, 4), *A2 = calloc(na, 4),
                  *B2 = calloc(nb, 4);
            cl_error err;
            CHECK(cl_peft_read(a, t, m, A1, B1, &err) == CL_OK, "%s: read: %s", what, err.msg);
            CHECK(cl_peft_read(b, t, m, A2, B2, &err) == CL_OK, "%s: read: %s", what, err.msg);
            CHECK(!memcmp(A1, A2, na * 4) && !memcmp(B1, B2, nb * 4),
                  "%s: %s task %d: factors differ", what, x->name, t);
            free(A1);
            free(B1);
            free(A2);
            free(B2);
        }
}

static void test_twins(void)
{
    static const char *const names[] = {"f32",    "f16",    "bf16",  "archive", "shared",
                                        "strided", "olora", "legacy", "zip64",  "merged_qkv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char pb[600], ps[600], pf[600];
        snprintf(pb, sizeof pb, TORCH "/%s/bin", names[i]);
        snprintf(ps, sizeof ps, TORCH "/%s/st", names[i]);
        snprintf(pf, sizeof pf, TORCH "/%s/bin/adapter_model.bin", names[i]);
        cl_peft_adapter *b = open_ok(pb, NULL), *s = open_ok(ps, NULL), *f = open_ok(pf, NULL);
        if (b && s)
            same_adapters(b, s, names[i]);
        if (f && s) /* a path to the .bin works like a path to the .safetensors */
            same_adapters(f, s, pf);
        if (!strcmp(names[i], "olora") && b)
            CHECK(cl_peft_get_info(b)->n_tasks == 3 && cl_peft_get_info(b)->cumulative,
                  "olora: 3 tasks");
        if (!strcmp(names[i], "f16") && b)
            CHECK(!strcmp(cl_peft_get_info(b)->dtype, "F16"), "f16 dtype");
        if (!strcmp(names[i], "bf16") && b)
            CHECK(!strcmp(cl_peft_get_info(b)->dtype, "BF16"), "bf16 dtype");
        cl_peft_close(b);
        cl_peft_close(s);
        cl_peft_close(f);
    }
}

/* The MergedLinear dW: scale * B * A against make_torch.py's F.conv1d. */
static void test_merged(void)
{
    cl_peft_adapter *a = open_ok(TORCH "/merged_qkv/bin", NULL);
    cl_safetensors *ex = NULL;
    cl_error err;
    CHECK(cl_st_open(TORCH "/merged_qkv/expected_delta.safetensors", &ex, &err) == CL_OK, "%s",
          err.msg);
    json_t *ej = load_json(TORCH "/merged_qkv/expected.json");
    if (!a || !ex || !ej)
        return;
    const cl_peft_info *info = cl_peft_get_info(a);
    CHECK(info->n_modules == 2 && info->n_tasks == 1, "merged: 2 modules");
    for (int m = 0; m < info->n_modules; m++) {
        const cl_peft_module *pm = cl_peft_module_at(a, 0, m);
        CHECK(pm->rank == 4 && pm->d_out == 48 && pm->d_in == 16 && pm->scale == 4.0,
              "%s: rank %d d_out %lld scale %g", pm->name, pm->rank, (long long)pm->d_out,
              pm->scale);
        float *A = calloc((size_t)pm->rank * pm->d_in, 4), *B = calloc((size_t)pm->d_out * pm->rank, 4);
        float *E = calloc((size_t)pm->d_out * pm->d_in, 4);
        CHECK(cl_peft_read(a, 0, m, A, B, &err) == CL_OK, "%s", err.msg);
        const cl_st_tensor *et = cl_st_find(ex, pm->name);
        CHECK(et && cl_st_read_f32(ex, et, E, &err) == CL_OK, "expected %s", pm->name);
        double fro = 0, worst = 0;
        for (int64_t i = 0; i < pm->d_out; i++)
            for (int64_t j = 0; j < pm->d_in; j++) {
                double s = 0;
                for (int k = 0; k < pm->rank; k++)
                    s += (double)B[i * pm->rank + k] * A[k * pm->d_in + j];
                s *= pm->scale;
                fro += s * s;
                double d = fabs(s - E[i * pm->d_in + j]);
                if (d > worst)
                    worst = d;
                /* rows of the disabled middle part are exactly zero */
                if (i >= 16 && i < 32)
                    CHECK(s == 0, "%s: row %lld not zero", pm->name, (long long)i);
            }
        CHECK(worst < 1e-5, "%s: dW differs from F.conv1d by %g", pm->name, worst);
        json_t *em = json_object_get(json_object_get(ej, "modules"), pm->name);
        CHECK(em != NULL, "expected.json: %s", pm->name);
        CHECK_NEAR(sqrt(fro), json_number_value(json_object_get(em, "frobenius")), 1e-6, 0,
                   "merged Frobenius norm");
        free(A);
        free(B);
        free(E);
    }
    json_decref(ej);
    cl_st_close(ex);
    cl_peft_close(a);
    /* 3-D lora_B without enable_lora, and enable_lora against wrong shapes */
    scratch_begin("merged");
    char d[600], p[700], cfg[4096];
    json_t *c = load_json(TORCH "/merged_qkv/bin/adapter_config.json");
    const char *variants[][2] = {{"no-enable", "enable_lora"}, {"four-parts", "MergedLinear"}};
    for (int v = 0; v < 2; v++) {
        in_scratch(d, sizeof d, variants[v][0]);
        mkdir(d, 0755);
        json_t *cc = json_deep_copy(c);
        if (v == 0)
            json_object_del(cc, "enable_lora");
        else
            json_object_set_new(cc, "enable_lora", json_pack("[bbbb]", 1, 0, 1, 1));
        char *js = json_dumps(cc, 0);
        snprintf(cfg, sizeof cfg, "%s", js);
        free(js);
        json_decref(cc);
        write_text(path_join(p, sizeof p, d, "adapter_config.json"), cfg);
        snprintf(p, sizeof p, "cp %s/merged_qkv/bin/adapter_model.bin %s/", TORCH, d);
        CHECK(system(p) == 0, "cp");
        cl_peft_adapter *x = NULL;
        CHECK(cl_peft_open(d, NULL, NULL, &x, &err) != CL_OK, "%s accepted", d);
        CHECK_CONTAINS(err.msg, "adapter_model.bin");
        CHECK_CONTAINS(err.msg, variants[v][1]);
        CHECK_CONTAINS(err.msg, "c_attn");
        cl_peft_close(x);
    }
    json_decref(c);
    scratch_end();
}

static void test_both(void)
{
    notes nt = {0};
    cl_peft_adapter *a = open_ok(TORCH "/both", &nt), *s = open_ok(TORCH "/f32/st", NULL);
    CHECK(notes_have(&nt, TORCH "/both/adapter_model.bin"), "note names the .bin");
    CHECK(notes_have(&nt, TORCH "/both/adapter_model.safetensors"), "note names the safetensors");
    if (a && s)
        same_adapters(a, s, "both: the safetensors is read");
    cl_peft_close(a);
    cl_peft_close(s);
}

static void test_hostile(void)
{
    json_t *cases = load_json(TORCH "/hostile/cases.json"), *c;
    size_t i;
    int n = 0;
    json_array_foreach(cases, i, c) {
        char p[700];
        snprintf(p, sizeof p, TORCH "/hostile/%s", json_string_value(json_object_get(c, "file")));
        cl_peft_adapter *a = NULL;
        cl_error err = {0};
        int rc = cl_peft_open(p, NULL, NULL, &a, &err);
        CHECK(rc != CL_OK, "%s accepted", p);
        CHECK_CONTAINS(err.msg, p);
        json_t *nd;
        size_t k;
        json_array_foreach(json_object_get(c, "needles"), k, nd)
            CHECK_CONTAINS(err.msg, json_string_value(nd));
        cl_peft_close(a);
        n++;
    }
    CHECK(n >= 25, "%d hostile cases", n);
    json_decref(cases);
}

/* Bombs of a million opcodes, after the legacy format's first three
 * pickles (magic number, protocol 1001, an empty sys_info). */
static void test_bombs(void)
{
    static const unsigned char head[] = {
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
        0x80, 0x02, 'M', 0xe9, 0x03, '.', 0x80, 0x02, '}', '.'};
    const size_t N = 1000000;
    struct {
        const char *name, *needle;
    } bombs[] = {{"marks", "MARKs nested deeper"},
                 {"lists", "stack deeper"},
                 {"tuples", "holds a tuple, not a dict"},
                 {"self", "holds a list, not a dict"}};
    scratch_begin("bombs");
    char cfgsrc[700];
    snprintf(cfgsrc, sizeof cfgsrc, "cp %s/f32/bin/adapter_config.json %s/", TORCH, scratch);
    CHECK(system(cfgsrc) == 0, "cp config");
    unsigned char *b = malloc(sizeof head + 2 * N + 16);
    for (int k = 0; k < 4; k++) {
        size_t n = sizeof head;
        memcpy(b, head, n);
        b[n++] = 0x80;
        b[n++] = 0x02;
        if (k == 0) {
            memset(b + n, '(', N);
            n += N;
        } else if (k == 1) {
            memset(b + n, ']', N);
            n += N;
            memset(b + n, 'a', N - 1);
            n += N - 1;
        } else if (k == 2) {
            b[n++] = ']';
            memset(b + n, 0x85, N);
            n += N;
        } else {
            memcpy(b + n, "]q\x00h\x00" "a", 6);
            n += 6;
        }
        memcpy(b + n, ".\x80\x02].", 5); /* then an empty storage-key list */
        n += 5;
        char p[700];
        snprintf(p, sizeof p, "%s/%s.bin", scratch, bombs[k].name);
        write_bytes(p, b, n);
        cl_peft_adapter *a = NULL;
        cl_error err = {0};
        CHECK(cl_peft_open(p, NULL, NULL, &a, &err) != CL_OK, "%s accepted", p);
        CHECK_CONTAINS(err.msg, p);
        CHECK_CONTAINS(err.msg, bombs[k].needle);
        cl_peft_close(a);
    }
    free(b);
    scratch_end();
}

/* BINDIR/args; stdout into *out (peft_test.h's tool_run). */
static int run(const char *args, char **out)
{
    return tool_run(bindir, args, out, NULL);
}

/* The tools: a .bin import gives the same collisions as its twin's. */
static void test_tools(void)
{
    scratch_begin("torchtools");
    const char *sets[][3] = {{"olora", NULL, NULL}, {"f32", "shared", "strided"}};
    for (int s = 0; s < 2; s++) {
        char *json[2] = {NULL, NULL};
        for (int v = 0; v < 2; v++) {
            const char *sub = v ? "st" : "bin";
            char store[600], args[4096];
            snprintf(store, sizeof store, "%s/s%d_%s.h5", scratch, s, v ? "st" : "pk");
            int n = snprintf(args, sizeof args, "collide-import -o %s", store);
            for (int k = 0; k < 3 && sets[s][k]; k++)
                n += snprintf(args + n, sizeof args - (size_t)n, " %s/%s/%s", TORCH, sets[s][k],
                              sub);
            if (!sets[s][1])
                n += snprintf(args + n, sizeof args - (size_t)n, " --tasks t1,t2,t3");
            else
                n += snprintf(args + n, sizeof args - (size_t)n, " --tasks a,b,c");
            CHECK(run(args, NULL) == 0, "%s", args);
            snprintf(args, sizeof args, "collide-collision --format json --per-module %s", store);
            CHECK(run(args, &json[v]) == 0, "%s", args);
        }
        /* the store paths differ; everything else must not */
        json_error_t je;
        json_t *j0 = json_loads(json[0], 0, &je), *j1 = json_loads(json[1], 0, &je);
        CHECK(j0 && j1, "collision json parses");
        if (j0 && j1) {
            json_t *t0 = json_object_get(j0, "tables"), *t1 = json_object_get(j1, "tables");
            char *a = json_dumps(t0, JSON_SORT_KEYS), *b = json_dumps(t1, JSON_SORT_KEYS);
            /* drop the store's own path from each */
            char st0[600], st1[600];
            snprintf(st0, sizeof st0, "%s/s%d_pk.h5", scratch, s);
            snprintf(st1, sizeof st1, "%s/s%d_st.h5", scratch, s);
            for (char *q; (q = strstr(a, st0));)
                memset(q, '_', strlen(st0));
            for (char *q; (q = strstr(b, st1));)
                memset(q, '_', strlen(st1));
            CHECK(strlen(a) == strlen(b) && !strcmp(a, b), "set %d: collisions differ:\n%s\n%s", s,
                  a, b);
            CHECK(strlen(a) > 100, "set %d: collision tables present", s);
            free(a);
            free(b);
        }
        json_decref(j0);
        json_decref(j1);
        free(json[0]);
        free(json[1]);
    }
    scratch_end();
}

int main(int argc, char **argv)
{
    check_begin("test_torch_pickle");
    snprintf(bindir, sizeof bindir, "%s", argc > 1 ? argv[1] : "bin");
    test_twins();
    test_merged();
    test_both();
    test_hostile();
    test_bombs();
    if (argc > 1)
        test_tools();
    return check_done();
}
