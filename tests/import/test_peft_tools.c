/*
 * test_peft_tools.c -- collide-import and collide-export as a user runs
 * them: exit status and messages, --format json, the metric tools on
 * imported stores against the numpy values of metrics.json, export ->
 * import through the tools, and a failed run leaving the output alone.
 *
 * usage: test_peft_tools BINDIR
 */
#include "peft_test.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

static char bindir[512];

/* BINDIR/args (peft_test.h's tool_run). */
static int run(const char *args, char **out, char **errout)
{
    return tool_run(bindir, args, out, errout);
}

static json_t *run_json(const char *args)
{
    char *out, *err;
    int st = run(args, &out, &err);
    CHECK(st == 0, "%s: exit %d: %s", args, st, err);
    CHECK(err[0] == 0, "%s: stderr not empty without a terminal: %s", args, err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    CHECK(j != NULL, "%s: JSON does not parse: %s", args, je.text);
    free(out);
    free(err);
    return j;
}

/* Exit status and a phrase of stderr. */
static void expect(const char *args, int status, const char *phrase)
{
    char *err;
    int st = run(args, NULL, &err);
    CHECK(st == status, "%s: exit %d, expected %d (%s)", args, st, status, err);
    CHECK_CONTAINS(err, phrase);
    free(err);
}

static void test_usage(void)
{
    char *out, args[2048], f1[600], f2[600], p[600];
    CHECK(run("collide-import --help", &out, NULL) == 0, "import --help");
    CHECK_CONTAINS(out, "usage: collide-import -o STORE");
    free(out);
    CHECK(run("collide-export --help", &out, NULL) == 0, "export --help");
    CHECK_CONTAINS(out, "usage: collide-export STORE -o DIR");
    free(out);
    fixture(f1, sizeof f1, "llama/task1");
    fixture(f2, sizeof f2, "llama/task2");
    expect("collide-import", 2, "-o STORE is required");
    snprintf(args, sizeof args, "collide-import -o %s", in_scratch(p, sizeof p, "u.h5"));
    expect(args, 2, "no ADAPTER given");
    snprintf(args, sizeof args, "collide-import -o %s --format xml %s", p, f1);
    expect(args, 2, "--format \"xml\": expected text, csv or json");
    snprintf(args, sizeof args, "collide-import -o %s --bogus %s", p, f1);
    expect(args, 2, "unknown option '--bogus'");
    snprintf(args, sizeof args, "collide-import -o %s --tasks only %s %s", p, f1, f2);
    expect(args, 2, "--tasks gives 1 name, but the adapters hold 2 tasks");
    snprintf(args, sizeof args, "collide-import -o %s --tasks a,a %s %s", p, f1, f2);
    expect(args, 2, "task name 'a' given twice");
    CHECK(access(p, F_OK) != 0, "a usage error wrote a store");
    expect("collide-export", 2, "no STORE given");
    snprintf(args, sizeof args, "collide-export %s", p);
    expect(args, 2, "-o DIR is required");
    snprintf(args, sizeof args, "collide-export %s %s -o x", p, p);
    expect(args, 2, "unexpected argument");
    snprintf(args, sizeof args, "collide-export %s -o x --fan-in-fan-out maybe", p);
    expect(args, 2, "--fan-in-fan-out: expected auto, true or false: maybe");
}

static void test_bad_input(void)
{
    char args[2048], p[600], f1[600], f2[600], d[600], store[600];
    in_scratch(store, sizeof store, "bad.h5");
    snprintf(args, sizeof args, "collide-import -o %s /nonexistent/adapter", store);
    expect(args, 1, "collide-import: /nonexistent/adapter: No such file");
    in_scratch(d, sizeof d, "pickle");
    make_adapter(d, "{\"r\": 2}", NULL, 0);
    path_join(p, sizeof p, d, "adapter_model.bin");
    write_text(p, "pickle");
    snprintf(args, sizeof args, "collide-import -o %s %s", store, d);
    /* read without torch now (tests/import/test_torch_pickle.c): a file that
     * is no checkpoint is refused by name */
    expect(args, 1, "pickle/adapter_model.bin: not a torch.save checkpoint");
    fixture(f1, sizeof f1, "llama/task1");
    fixture(f2, sizeof f2, "gpt2/task1");
    snprintf(args, sizeof args, "collide-import -o %s %s %s", store, f1, f2);
    /* natural order puts llama's model.layers.* first: gpt2 lacks it */
    expect(args, 1, "gpt2/task1: module 'model.layers.0.self_attn.q_proj': missing, though");
    CHECK(access(store, F_OK) != 0, "a failed import wrote a store");
    /* an existing output is refused unasked; a failed run with --force
     * leaves it as it was */
    write_text(store, "precious");
    expect(args, 1, "already exists; refusing to overwrite it (--force replaces it)");
    snprintf(args, sizeof args, "collide-import --force -o %s %s %s", store, f1, f2);
    expect(args, 1, "missing, though");
    FILE *f = fopen(store, "r");
    char buf[32] = {0};
    CHECK(f && fgets(buf, sizeof buf, f) && !strcmp(buf, "precious"), "output clobbered");
    if (f)
        fclose(f);
    snprintf(args, sizeof args, "collide-export %s -o %s", store, in_scratch(p, sizeof p, "x"));
    expect(args, 1, "bad.h5");
    unlink(store);
}

/* One store per family through the tool, checked against expected.json
 * shapes and metrics.json values through the metric tools. */
static void test_family(const char *family, const char *const *tasks, int T)
{
    char args[4096], store[600], p[600], rel[128];
    snprintf(rel, sizeof rel, "%s-tool.h5", family);
    in_scratch(store, sizeof store, rel);
    int k = snprintf(args, sizeof args, "collide-import --format json -o %s", store);
    for (int t = 0; t < T; t++) {
        snprintf(rel, sizeof rel, "%s/%s", family, tasks[t]);
        k += snprintf(args + k, sizeof args - (size_t)k, " %s", fixture(p, sizeof p, rel));
    }
    json_t *j = run_json(args);
    json_t *tabs = json_object_get(j, "tables");
    json_t *jt = json_object_get(tabs, "tasks"), *jm = json_object_get(tabs, "modules");
    CHECK(json_array_size(jt) == (size_t)T && json_array_size(json_object_get(tabs, "notes")) == 0,
          "%s: %zu tasks", family, json_array_size(jt));
    for (int t = 0; t < T && t < (int)json_array_size(jt); t++)
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(jt, t), "name")), tasks[t]),
              "%s: task %d name", family, t);
    snprintf(rel, sizeof rel, "%s/metrics.json", family);
    json_t *mj = load_json(fixture(p, sizeof p, rel));
    CHECK(json_array_size(jm) == json_array_size(json_object_get(mj, "modules")), "%s: modules", family);
    if (!strcmp(family, "llama")) { /* GQA: v_proj is 16 x 32 */
        json_t *v = json_array_get(jm, 1);
        CHECK(!strcmp(json_string_value(json_object_get(v, "name")), "model.layers.0.self_attn.v_proj") &&
                  json_integer_value(json_object_get(v, "d_out")) == 16 &&
                  json_integer_value(json_object_get(v, "d_in")) == 32,
              "llama v_proj shape");
        CHECK(json_integer_value(json_object_get(json_array_get(jt, 1), "use_rslora")) == 1, "llama task2 rsLoRA");
    }
    json_decref(j);
    /* collisions per module and threshold: exact counts */
    const char *modes[2] = {"energy:0.99", "rel:0.1"};
    for (int q = 0; q < 2; q++) {
        snprintf(args, sizeof args, "collide-collision --format json --per-module --threshold %s %s",
                 modes[q], store);
        j = run_json(args);
        json_t *rows = json_object_get(json_object_get(j, "tables"), "module_pairs"), *row;
        size_t i;
        int seen = 0;
        json_array_foreach(rows, i, row) {
            const char *ni = json_string_value(json_object_get(row, "name_i"));
            const char *nj = json_string_value(json_object_get(row, "name_j"));
            const char *mod = json_string_value(json_object_get(row, "module"));
            char key[128];
            snprintf(key, sizeof key, "%s|%s", ni, nj);
            json_t *e = json_object_get(json_object_get(json_object_get(json_object_get(
                                            json_object_get(mj, "pairs"), key), "modules"), mod),
                                        modes[q]);
            CHECK(e && json_integer_value(json_object_get(row, "both")) ==
                           json_integer_value(json_object_get(e, "and")),
                  "%s %s %s: both", family, key, mod);
            CHECK_NEAR(json_number_value(json_object_get(row, "collision_rate")),
                       json_number_value(json_object_get(e, "collision_rate")), 1e-15, 0, "CR");
            seen++;
        }
        CHECK(seen == (int)json_array_size(json_object_get(mj, "modules")) * T * (T - 1) / 2,
              "%s: %d module pairs", family, seen);
        json_decref(j);
    }
    /* O-LoRA overlap summed over modules */
    snprintf(args, sizeof args, "collide-ortho --format json %s", store);
    j = run_json(args);
    json_t *pr = json_array_get(json_object_get(json_object_get(j, "tables"), "pairs"), 0);
    snprintf(rel, sizeof rel, "%s|%s", tasks[0], tasks[1]);
    CHECK_NEAR(json_number_value(json_object_get(pr, "oo_sum")),
               json_number_value(json_object_get(
                   json_object_get(json_object_get(json_object_get(mj, "pairs"), rel), "aggregate"),
                   "sum_oo")),
               1e-9, 0, "oo sum");
    json_decref(j);
    /* nuclear norm, mean over modules */
    snprintf(args, sizeof args, "collide-subspace --format json %s", store);
    j = run_json(args);
    json_t *rows = json_object_get(json_object_get(j, "tables"), "tasks"), *row;
    size_t i;
    int tasks_seen = 0;
    json_array_foreach(rows, i, row) {
        const char *name = json_string_value(json_object_get(row, "name"));
        if (json_integer_value(json_object_get(row, "task")) < 0)
            continue; /* the accumulated update: not in metrics.json */
        tasks_seen++;
        CHECK_NEAR(json_number_value(json_object_get(row, "nuclear_mean")),
                   json_number_value(json_object_get(
                       json_object_get(json_object_get(mj, "aggregate"), "mean_nuclear"), name)),
                   1e-5, 0, "mean nuclear");
    }
    CHECK(tasks_seen == T, "%s: nuclear norms of %d tasks", family, tasks_seen);
    json_decref(j);
    json_decref(mj);
    /* export, import again under the same names: the same store */
    char out[600], again[600];
    snprintf(rel, sizeof rel, "%s-tool-export", family);
    in_scratch(out, sizeof out, rel);
    snprintf(rel, sizeof rel, "%s-tool-again.h5", family);
    in_scratch(again, sizeof again, rel);
    snprintf(args, sizeof args, "collide-export --format json %s -o %s", store, out);
    j = run_json(args);
    json_t *ad = json_object_get(json_object_get(j, "tables"), "adapters");
    CHECK(json_array_size(ad) == (size_t)T, "%s: %zu exported", family, json_array_size(ad));
    k = snprintf(args, sizeof args, "collide-import --quiet -o %s", again);
    for (size_t a = 0; a < json_array_size(ad); a++)
        k += snprintf(args + k, sizeof args - (size_t)k, " %s",
                      json_string_value(json_object_get(json_array_get(ad, a), "dir")));
    json_decref(j);
    char *txt;
    CHECK(run(args, &txt, NULL) == 0, "%s", args);
    CHECK_CONTAINS(txt, "wrote ");
    free(txt);
    same_stores(store, again, family);
}

/* Skipped tensors: a note on stderr each, listed in the JSON. */
static void test_notes(void)
{
    char d[600], store[600], args[2048];
    in_scratch(d, sizeof d, "classifier");
    mk_tensor t[] = {{"base_model.model.enc.0.query.lora_A.weight", CL_ST_F32, 2, {2, 6}},
                     {"base_model.model.enc.0.query.lora_B.weight", CL_ST_F32, 2, {6, 2}},
                     {"base_model.model.classifier.weight", CL_ST_F32, 2, {2, 6}},
                     {"base_model.model.classifier.bias", CL_ST_F32, 1, {2}}};
    make_adapter(d, "{\"r\": 2, \"modules_to_save\": [\"classifier\"], \"task_type\": \"SEQ_CLS\"}", t, 4);
    in_scratch(store, sizeof store, "classifier.h5");
    char *out, *err;
    snprintf(args, sizeof args, "collide-import -o %s --format json %s", store, d);
    CHECK(run(args, &out, &err) == 0, "%s", err);
    CHECK_CONTAINS(err, "collide-import: note: ");
    CHECK_CONTAINS(err, "classifier/adapter_model.safetensors: base_model.model.classifier.bias: full "
                        "tensor of modules_to_save entry 'classifier'");
    json_t *j = json_loads(out, 0, NULL);
    json_t *tabs = json_object_get(j, "tables");
    CHECK(json_array_size(json_object_get(tabs, "notes")) == 2 &&
              json_integer_value(json_object_get(json_array_get(json_object_get(tabs, "tasks"), 0), "skipped")) == 2 &&
              json_array_size(json_object_get(tabs, "modules")) == 1,
          "notes in JSON");
    json_decref(j);
    free(out), free(err);
    snprintf(args, sizeof args, "collide-import --force -o %s %s", store, d);
    CHECK(run(args, &out, NULL) == 0, "text");
    CHECK_CONTAINS(out, "skipped 2 tensors that are not LoRA factors");
    free(out);
}


/* Bytes of a file, for "left as it was". */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "%s: cannot open", path);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static json_t *table_row(json_t *j, const char *table, size_t row)
{
    return json_array_get(json_object_get(json_object_get(j, "tables"), table), row);
}

static double num_at(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

/* --method, --lambda, --name and --accuracy on import: stored as a trained
 * store stores them, read back by collide-info and collide-forget. */
static void test_labels(void)
{
    char t1[600], t2[600], acc[600], store[600], args[4096];
    fixture(t1, sizeof t1, "llama/task1");
    fixture(t2, sizeof t2, "llama/task2");
    in_scratch(acc, sizeof acc, "acc.csv");
    /* percent, as the O-LoRA logs print; rows and columns by name, any order */
    write_text(acc, "# after each task, exact match on every task\n"
                    "after,task2,task1\nbaseline,5,10\ntask2,70,80.5\ntask1,,90\n");
    in_scratch(store, sizeof store, "labelled.h5");
    snprintf(args, sizeof args,
             "collide-import -o %s %s %s --method nlora --lambda 0.4 --name 'N-LoRA seed 1' "
             "--accuracy %s",
             store, t1, t2, acc);
    char *out, *err;
    CHECK(run(args, &out, &err) == 0, "%s: %s", args, err);
    CHECK_CONTAINS(out, "labels: method nlora, name N-LoRA seed 1");
    CHECK_CONTAINS(err, "read as percentages and divided by 100");
    free(out), free(err);
    snprintf(args, sizeof args, "collide-info %s --format json", store);
    json_t *j = run_json(args);
    json_t *r = table_row(j, "store", 0);
    CHECK(!strcmp(json_string_value(json_object_get(r, "method")), "nlora") &&
              !strcmp(json_string_value(json_object_get(r, "name")), "N-LoRA seed 1") &&
              !strcmp(json_string_value(json_object_get(r, "origin")), "imported") &&
              num_at(r, "lambda_sparse") == 0.4 &&
              json_is_null(json_object_get(r, "seed")),
          "collide-info: method, name, origin, lambda of a labelled import");
    CHECK(num_at(table_row(j, "tasks", 1), "lambda") == 0.4, "per-task lambda");
    json_decref(j);
    snprintf(args, sizeof args, "collide-forget %s --format json", store);
    j = run_json(args);
    r = table_row(j, "summary", 0);
    /* R = [[0.90, -], [0.805, 0.70]]: AA = 0.7525, BWT = 0.805 - 0.90 */
    CHECK(fabs(num_at(r, "aa") - 0.7525) < 1e-12 && fabs(num_at(r, "bwt") + 0.095) < 1e-12 &&
              fabs(num_at(r, "forgetting_max") - 0.095) < 1e-12,
          "AA %g BWT %g F_max %g from the accuracy file", num_at(r, "aa"), num_at(r, "bwt"),
          num_at(r, "forgetting_max"));
    json_decref(j);

    /* labels are checked before anything is written */
    static const struct {
        const char *opts, *phrase;
        int status;
    } bad[] = {
        {"--method nlora", "give the N-LoRA lambda the run used (--lambda)", 2},
        {"--method olora", "give the O-LoRA lambda1 the run used (--lambda-orth", 2},
        {"--method 'o lora'", "only letters, digits and + - _ .", 2},
        {"--method synthetic", "reserved for collide-synth", 2},
        {"--lambda -1", "--lambda must be a number", 2},
        {"--accuracy-protocol exact", "--accuracy-protocol must be generation or ranked", 2},
        {"--accuracy /nonexistent/acc.csv", "/nonexistent/acc.csv: No such file", 1},
    };
    char fresh[600];
    in_scratch(fresh, sizeof fresh, "never.h5");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "collide-import -o %s %s %s %s", fresh, t1, t2, bad[i].opts);
        expect(args, bad[i].status, bad[i].phrase);
        CHECK(access(fresh, F_OK) != 0, "%s: wrote the store", bad[i].opts);
    }
    static const struct {
        const char *text, *phrase;
    } bad_files[] = {
        {"task,task1,task2\n", "the header must start with 'after'"},
        {"after,task1,sst2\n", "'sst2' is not a task of the store (task1, task2)"},
        {"after,task1,task2\ntask1,0.9,x\n", "line 2: 'x' is not a number"},
        {"after,task1,task2\ntask1,0.9\ntask1,0.8\n", "row 'task1' given twice"},
        {"after,task1,task2\ntask1,190,\n", "accuracy 190 outside [0, 100]"},
        {"after,task1,task2\n", "no accuracy given"},
        {"{\"tasks\": [\"task1\"], \"accuracy\": [[0.9]], \"protocol\": 1}",
         "key 'protocol' unknown"},
        {"{\"tasks\": [\"task1\", \"task2\"], \"accuracy\": [[0.9, \"a\"], [0.1, 0.2]]}",
         "accuracy[0][1]: expected a number, found a string"},
    };
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        write_text(acc, bad_files[i].text);
        snprintf(args, sizeof args, "collide-import -o %s %s %s --accuracy %s", fresh, t1, t2,
                 acc);
        expect(args, 1, bad_files[i].phrase);
        CHECK(access(fresh, F_OK) != 0, "bad accuracy file %zu: wrote the store", i);
    }
    /* the accuracy file is an input: never the output */
    snprintf(args, sizeof args, "collide-import -o %s %s --accuracy %s --force", acc, t1, acc);
    expect(args, 1, "is an input");
}

/* --annotate: the same labels set on an existing store, on a copy renamed
 * over it; refused where they would rewrite a trainer's record. */
static void test_annotate(void)
{
    char t1[600], t2[600], acc[600], store[600], args[4096];
    fixture(t1, sizeof t1, "llama/task1");
    fixture(t2, sizeof t2, "llama/task2");
    in_scratch(store, sizeof store, "annotate.h5");
    snprintf(args, sizeof args, "collide-import -o %s %s %s", store, t1, t2);
    CHECK(run(args, NULL, NULL) == 0, "import");
    in_scratch(acc, sizeof acc, "acc.json");
    write_text(acc, "{\"tasks\": [\"task2\", \"task1\"],\n"
                    " \"accuracy\": [[0.5, 0.6], [null, 0.95]]}\n");
    snprintf(args, sizeof args,
             "collide-import --annotate %s --method olora --lambda-orth 0.5 --accuracy %s "
             "--format json",
             store, acc);
    json_t *j = run_json(args);
    json_t *r = table_row(j, "store", 0);
    CHECK(!strcmp(json_string_value(json_object_get(r, "method")), "olora") &&
              num_at(r, "lambda_orth") == 0.5 && num_at(r, "accuracy_rows") == 2,
          "annotate: method, lambda_orth, rows");
    json_decref(j);
    snprintf(args, sizeof args, "collide-forget %s --format json", store);
    j = run_json(args);
    r = table_row(j, "summary", 0);
    CHECK(fabs(num_at(r, "aa") - 0.55) < 1e-12 && fabs(num_at(r, "la") - 0.725) < 1e-12,
          "annotated accuracy: AA %g LA %g", num_at(r, "aa"), num_at(r, "la"));
    json_decref(j);
    /* a refused annotation leaves the store byte for byte */
    size_t n0, n1;
    char *before = slurp(store, &n0);
    snprintf(args, sizeof args, "collide-import --annotate %s --method nlora", store);
    expect(args, 2, "give the N-LoRA lambda the run used");
    write_text(acc, "after,task1,nope\n");
    snprintf(args, sizeof args, "collide-import --annotate %s --accuracy %s", store, acc);
    expect(args, 1, "'nope' is not a task of the store");
    snprintf(args, sizeof args, "collide-import --annotate %s", store);
    expect(args, 2, "nothing to set");
    snprintf(args, sizeof args, "collide-import --annotate %s --name x -o y.h5", store);
    expect(args, 2, "--annotate STORE takes labels only");
    char *after = slurp(store, &n1);
    CHECK(n0 == n1 && !memcmp(before, after, n0), "refused annotations changed the store");
    free(before), free(after);
    /* the name alone, then removed */
    snprintf(args, sizeof args, "collide-import --annotate %s --name 'O-LoRA run 2'", store);
    CHECK(run(args, NULL, NULL) == 0, "name");
    snprintf(args, sizeof args, "collide-info %s --format json", store);
    j = run_json(args);
    CHECK(!strcmp(json_string_value(json_object_get(table_row(j, "store", 0), "name")),
                  "O-LoRA run 2"),
          "name set");
    json_decref(j);
    /* a trained (here: synthetic) store keeps its method */
    char syn[600];
    in_scratch(syn, sizeof syn, "synth.h5");
    snprintf(args, sizeof args, "collide-synth -o %s --tasks 2 --modules 1 --shape 8x8 --method nlora",
             syn);
    CHECK(run(args, NULL, NULL) == 0, "synth");
    snprintf(args, sizeof args, "collide-import --annotate %s --method olora --lambda-orth 1",
             syn);
    expect(args, 2, "a collide-synth store; its method is what collide-synth --method gave");
}

/* Different target_modules: refused with the way out, then imported with
 * --common-modules, each module dropped named. */
static void test_common_modules(void)
{
    char d1[600], d2[600], store[600], args[4096];
    in_scratch(d1, sizeof d1, "qv");
    in_scratch(d2, sizeof d2, "qkv");
    mk_tensor t1[] = {{"base_model.model.l.0.q_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.l.0.q_proj.lora_B.weight", CL_ST_F32, 2, {8, 2}},
                      {"base_model.model.l.0.v_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.l.0.v_proj.lora_B.weight", CL_ST_F32, 2, {4, 2}}};
    mk_tensor t2[] = {{"base_model.model.l.0.k_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.l.0.k_proj.lora_B.weight", CL_ST_F32, 2, {4, 2}},
                      {"base_model.model.l.0.q_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.l.0.q_proj.lora_B.weight", CL_ST_F32, 2, {8, 2}}};
    make_adapter(d1, "{\"r\": 2}", t1, 4);
    make_adapter(d2, "{\"r\": 2}", t2, 4);
    in_scratch(store, sizeof store, "common.h5");
    snprintf(args, sizeof args, "collide-import -o %s %s %s", store, d1, d2);
    expect(args, 1, "--common-modules imports those they share");
    snprintf(args, sizeof args, "collide-import -o %s %s %s --common-modules --format json", store,
             d1, d2);
    char *out, *err;
    CHECK(run(args, &out, &err) == 0, "%s", err);
    CHECK_CONTAINS(err, "qv: l.0.v_proj: not in every adapter; dropped (--common-modules)");
    CHECK_CONTAINS(err, "qkv: l.0.k_proj: not in every adapter; dropped (--common-modules)");
    json_t *j = json_loads(out, 0, NULL);
    json_t *mods = json_object_get(json_object_get(j, "tables"), "modules");
    CHECK(json_array_size(mods) == 1 &&
              !strcmp(json_string_value(json_object_get(json_array_get(mods, 0), "name")),
                      "l.0.q_proj"),
          "one shared module");
    json_decref(j);
    free(out), free(err);
    /* the shared module holds each adapter's own factors: ΔW of task 2 is
     * its q_proj, not its k_proj (same values as mk_value gives both) */
    snprintf(args, sizeof args, "collide-sparsity %s --format json", store);
    j = run_json(args);
    CHECK(json_array_size(json_object_get(json_object_get(j, "tables"), "tasks")) >= 2,
          "sparsity of the common store");
    json_decref(j);
    /* shared modules of different shapes are not comparable */
    mk_tensor t3[] = {{"base_model.model.l.0.q_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.l.0.q_proj.lora_B.weight", CL_ST_F32, 2, {6, 2}}};
    char d3[600];
    in_scratch(d3, sizeof d3, "q6");
    make_adapter(d3, "{\"r\": 2}", t3, 2);
    snprintf(args, sizeof args, "collide-import -o %s %s %s --common-modules --force", store, d1,
             d3);
    expect(args, 1, "shared modules must have one shape");
    mk_tensor t4[] = {{"base_model.model.x.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                      {"base_model.model.x.lora_B.weight", CL_ST_F32, 2, {6, 2}}};
    in_scratch(d3, sizeof d3, "x");
    make_adapter(d3, "{\"r\": 2}", t4, 2);
    snprintf(args, sizeof args, "collide-import -o %s %s %s --common-modules --force", store, d1,
             d3);
    expect(args, 1, "share no module");
}

/* PEFT's save of several adapters: the top one, then the subfolders. */
static void test_multi_adapter(void)
{
    char top[600], sub[700], store[600], args[4096];
    in_scratch(top, sizeof top, "multi");
    mk_tensor t[] = {{"base_model.model.l.0.q_proj.lora_A.weight", CL_ST_F32, 2, {2, 8}},
                     {"base_model.model.l.0.q_proj.lora_B.weight", CL_ST_F32, 2, {8, 2}}};
    make_adapter(top, "{\"r\": 2}", t, 2);
    static const char *const subs[] = {"task10", "task2"};
    for (int i = 0; i < 2; i++) {
        path_join(sub, sizeof sub, top, subs[i]);
        make_adapter(sub, "{\"r\": 2}", t, 2);
    }
    in_scratch(store, sizeof store, "multi.h5");
    snprintf(args, sizeof args, "collide-import -o %s %s --format json", store, top);
    char *out, *err;
    CHECK(run(args, &out, &err) == 0, "%s", err);
    CHECK_CONTAINS(err, "multi: adapters: holds 3 adapters; imported as 3 tasks in this order: "
                        "(top) task2 task10");
    json_t *j = json_loads(out, 0, NULL);
    json_t *tasks = json_object_get(json_object_get(j, "tables"), "tasks");
    CHECK(json_array_size(tasks) == 3 &&
              !strcmp(json_string_value(json_object_get(json_array_get(tasks, 0), "name")),
                      "multi") &&
              !strcmp(json_string_value(json_object_get(json_array_get(tasks, 1), "name")),
                      "task2") &&
              !strcmp(json_string_value(json_object_get(json_array_get(tasks, 2), "name")),
                      "task10"),
          "three tasks in order");
    json_decref(j);
    free(out), free(err);
}

int main(int argc, char **argv)
{
    check_begin("test_peft_tools");
    if (argc < 2) {
        fprintf(stderr, "usage: test_peft_tools BINDIR\n");
        return 2;
    }
    snprintf(bindir, sizeof bindir, "%s", argv[1]);
    scratch_begin("peft-tools");
    test_usage();
    test_bad_input();
    test_family("llama", (const char *const[]){"task1", "task2"}, 2);
    test_family("gpt2", (const char *const[]){"task1", "task2"}, 2);
    test_family("t5", (const char *const[]){"task1", "task2"}, 2);
    test_family("t5_olora", (const char *const[]){"task1", "task2", "task3"}, 3);
    test_notes();
    test_labels();
    test_annotate();
    test_common_modules();
    test_multi_adapter();
    scratch_end();
    return check_done();
}
