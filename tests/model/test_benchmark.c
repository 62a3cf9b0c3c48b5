/*
 * test_benchmark.c -- the benchmark loader, the prompt and the encoding, on a
 * small benchmark written here in the CL_Benchmark layout:
 *   - both splits: capped per class and per task, sampled with a fixed seed;
 *   - no test split: held out from train, disjoint, deterministic;
 *   - no train split: carved from test, disjoint from the test kept;
 *   - no data at all: an error naming the folder and --substitute;
 *   - substitution: task name kept, source's data used, recorded in the note;
 *   - MNLI's "-" (no consensus) left out and counted, other labels refused;
 *   - the paper's prompt, byte for byte; cutting from the text only;
 *   - the paper's orders; SQuAD-style answer normalisation.
 */
#include "benchmark.h"
#include "check.h"
#include "encode.h"
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* n records "<label> item <base+i> ..." cycling through the labels */
static void records(const char *rel, int base, int n, const char *const *labels, int nl)
{
    size_t cap = (size_t)n * 96 + 16, w = 0;
    char *s = malloc(cap);
    w += (size_t)snprintf(s + w, cap - w, "[");
    for (int i = 0; i < n; i++)
        w += (size_t)snprintf(s + w, cap - w, "%s{\"sentence\": \"%s item %d of the text\", "
                              "\"label\": \"%s\"}", i ? ",\n" : "", labels[i % nl], base + i,
                              labels[i % nl]);
    snprintf(s + w, cap - w, "]");
    put(rel, s);
    free(s);
}

static void mkdirs(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *q = p + strlen(root) + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(p, 0755);
            *q = '/';
        }
    mkdir(p, 0755);
}

static int item_of(const char *text) /* the number after "item" */
{
    const char *p = strstr(text, "item ");
    return p ? atoi(p + 5) : -1;
}

/* no example index appears in both splits */
static int disjoint(const cl_task_data *t)
{
    for (int i = 0; i < t->n_train; i++)
        for (int j = 0; j < t->n_test; j++)
            if (item_of(t->train[i].text) == item_of(t->test[j].text))
                return 0;
    return 1;
}

static int same_data(const cl_task_data *a, const cl_task_data *b)
{
    if (a->n_train != b->n_train || a->n_test != b->n_test)
        return 0;
    for (int i = 0; i < a->n_train; i++)
        if (strcmp(a->train[i].text, b->train[i].text) || a->train[i].label != b->train[i].label)
            return 0;
    for (int i = 0; i < a->n_test; i++)
        if (strcmp(a->test[i].text, b->test[i].text))
            return 0;
    return 1;
}

int main(void)
{
    check_begin("test_benchmark");
    snprintf(root, sizeof root, "/tmp/collide-bench-XXXXXX");
    if (!mkdtemp(root))
        return perror("mkdtemp"), 1;
    static const char *const ag[] = {"World", "Sports", "Business", "Sci/Tech"};
    static const char *const nli[] = {"entailment", "neutral", "contradiction"};
    mkdirs("TC/agnews");
    put("TC/agnews/labels.json", "[\"World\", \"Sports\", \"Business\", \"Sci/Tech\"]");
    records("TC/agnews/train.json", 0, 400, ag, 4);
    records("TC/agnews/test.json", 1000, 80, ag, 4);
    mkdirs("SC/yelp"); /* no test split */
    put("SC/yelp/labels.json", "[\"World\", \"Sports\", \"Business\", \"Sci/Tech\"]");
    records("SC/yelp/train.json", 0, 200, ag, 4);
    mkdirs("TC/dbpedia"); /* no train split */
    put("TC/dbpedia/labels.json", "[\"World\", \"Sports\", \"Business\", \"Sci/Tech\"]");
    records("TC/dbpedia/test.json", 0, 200, ag, 4);
    mkdirs("TC/yahoo"); /* nothing */
    put("TC/yahoo/labels.json", "[\"World\", \"Sports\"]");
    mkdirs("NLI/MNLI");
    put("NLI/MNLI/labels.json", "[\"entailment\", \"neutral\", \"contradiction\"]");
    records("NLI/MNLI/train.json", 0, 60, nli, 3);
    put("NLI/MNLI/test.json",
        "[{\"sentence\": \"a item 900\", \"label\": \"neutral\"},"
        " {\"sentence\": \"b item 901\", \"label\": \"-\"},"
        " {\"sentence\": \"c item 902\", \"label\": \"entailment\"},"
        " {\"sentence\": \"d item 903\", \"label\": \"-\"}]");
    mkdirs("NLI/RTE");
    put("NLI/RTE/labels.json", "[\"entailment\", \"not_entailment\"]");
    put("NLI/RTE/train.json", "[{\"sentence\": \"x item 1\", \"label\": \"entailment\"},"
                              " {\"sentence\": \"y item 2\", \"label\": \"maybe\"}]");

    /* an unknown task name: the near miss, then every name */
    char msg[512];
    cl_task_unknown_msg("sst2", msg, sizeof msg);
    CHECK(strstr(msg, "unknown task \"sst2\"; did you mean SST-2?") != NULL, "%s", msg);
    CHECK(strstr(msg, "the 15 tasks:") && strstr(msg, " agnews") && strstr(msg, " WiC"), "%s", msg);
    cl_task_unknown_msg("cola", msg, sizeof msg);
    CHECK(!strstr(msg, "did you mean") && strstr(msg, " yelp"), "%s", msg);
    char tiny[24];
    cl_task_unknown_msg("a-rather-long-name", tiny, sizeof tiny);
    CHECK(strlen(tiny) == sizeof tiny - 1, "cut to the buffer: %s", tiny);

    cl_error err;
    cl_load_opts lo = {.train_per_class = 30, .test_per_task = 50, .seed = 7};
    cl_task_data t, u;

    /* both splits: caps, labels, determinism, a new seed samples others */
    CHECK(cl_bench_load(root, "agnews", "agnews", &lo, &t, &err) == CL_OK, "%s", err.msg);
    CHECK(t.n_train == 120 && t.n_test == 50, "%d train, %d test", t.n_train, t.n_test);
    int per[4] = {0};
    for (int i = 0; i < t.n_train; i++) {
        per[t.train[i].label]++;
        CHECK(strstr(t.train[i].text, ag[t.train[i].label]) == t.train[i].text,
              "label %d kept with its text", t.train[i].label);
        CHECK(item_of(t.train[i].text) < 1000, "training example from train.json");
    }
    for (int i = 0; i < t.n_test; i++)
        CHECK(item_of(t.test[i].text) >= 1000, "test example from test.json");
    CHECK(per[0] == 30 && per[1] == 30 && per[2] == 30 && per[3] == 30, "30 per class");
    CHECK(!strcmp(t.family, "TC") && t.n_labels == 4 && !strcmp(t.labels[3], "Sci/Tech"),
          "family and labels");
    CHECK(cl_bench_load(root, "agnews", "agnews", &lo, &u, &err) == CL_OK, "%s", err.msg);
    CHECK(same_data(&t, &u), "same seed, same sample");
    cl_task_data_free(&u);
    cl_load_opts lo2 = lo;
    lo2.seed = 8;
    CHECK(cl_bench_load(root, "agnews", "agnews", &lo2, &u, &err) == CL_OK, "%s", err.msg);
    CHECK(!same_data(&t, &u), "another seed, another sample");
    cl_task_data_free(&u);

    /* the paper's prompt, byte for byte */
    char pre[1024];
    cl_prompt_prefix(&t, pre, sizeof pre);
    CHECK(!strcmp(pre, "Task:TC\nDataset:agnews\nWhat is the topic of the following paragraph? "
                       "Choose one from the option.\nOption: World, Sports, Business, Sci/Tech \n"),
          "prefix: [%s]", pre);
    CHECK(!strcmp(CL_PROMPT_SUFFIX, "\nAnswer:"), "suffix");

    /* encoding: the text is cut, never the instruction or the answer */
    const char *corpus[] = {pre, "World item 1 of the text Sports Business Sci/Tech Answer"};
    size_t lens[] = {strlen(corpus[0]), strlen(corpus[1])};
    cl_tokenizer *tok;
    CHECK(cl_tok_train(corpus, lens, 2, 300, &tok, &err) == CL_OK, "%s", err.msg);
    int32_t *ids = NULL;
    int np = 0, cap = 0, nt = 0;
    cl_tok_encode(tok, pre, strlen(pre), &ids, &np, &cap, &err);
    int nsuf = 0;
    int32_t *sids = NULL;
    int scap = 0;
    cl_tok_encode(tok, CL_PROMPT_SUFFIX, strlen(CL_PROMPT_SUFFIX), &sids, &nsuf, &scap, &err);
    cl_encoded_task e;
    int max_len = np + nsuf + 8 + 3;
    CHECK(cl_encode_task(tok, &t, max_len, &e, &err) == CL_OK, "%s", err.msg);
    CHECK(e.truncated > 0, "some texts cut (%d)", e.truncated);
    for (int i = 0; i < e.n_train; i++) {
        const cl_encoded *x = &e.train[i];
        CHECK(x->n_prompt + x->n_target <= max_len, "within --max-len");
        CHECK(!memcmp(x->ids, ids, (size_t)np * sizeof *ids), "instruction intact");
        CHECK(!memcmp(x->ids + x->n_prompt - nsuf, sids, (size_t)nsuf * sizeof *sids),
              "\\nAnswer: intact");
        char ans[64];
        size_t n = cl_tok_decode(tok, x->ids + x->n_prompt, x->n_target - 1, ans, sizeof ans);
        char want[64];
        snprintf(want, sizeof want, " %s", ag[x->label]);
        CHECK(n == strlen(want) && !strcmp(ans, want), "answer [%s] for [%s]", ans, want);
        CHECK(x->ids[x->n_prompt + x->n_target - 1] == cl_tok_eos(tok), "end-of-text last");
        nt += x->n_target;
    }
    cl_encoded_task_free(&e);
    CHECK(cl_encode_task(tok, &t, np + nsuf, &e, &err) == CL_ERR_ARG && strstr(err.msg, "--max-len"),
          "no room for the text: %s", err.msg);
    free(ids), free(sids);
    cl_tok_free(tok);
    cl_task_data_free(&t);

    /* no test split: held out from train, disjoint, at most a fifth */
    CHECK(cl_bench_load(root, "yelp", "yelp", &lo, &t, &err) == CL_OK, "%s", err.msg);
    CHECK(t.n_test == 40 && t.n_train == 120, "%d test (a fifth of 200), %d train", t.n_test,
          t.n_train);
    CHECK(disjoint(&t), "held-out test disjoint from train");
    CHECK(strstr(t.note, "held out") != NULL, "note: %s", t.note);
    CHECK(cl_bench_load(root, "yelp", "yelp", &lo, &u, &err) == CL_OK && same_data(&t, &u),
          "deterministic hold-out");
    cl_task_data_free(&u);
    cl_task_data_free(&t);

    /* no train split: carved from test, disjoint from the test kept */
    CHECK(cl_bench_load(root, "dbpedia", "dbpedia", &lo, &t, &err) == CL_OK, "%s", err.msg);
    CHECK(t.n_test == 50 && t.n_train == 120, "%d test, %d train", t.n_test, t.n_train);
    CHECK(disjoint(&t), "carved train disjoint from test");
    CHECK(strstr(t.note, "carved") != NULL, "note: %s", t.note);
    cl_task_data_free(&t);

    /* no data: an error naming the folder and the way out */
    CHECK(cl_bench_load(root, "yahoo", "yahoo", &lo, &t, &err) != CL_OK &&
              strstr(err.msg, "TC/yahoo") && strstr(err.msg, "--substitute yahoo="),
          "%s", err.msg);
    /* substituted: yahoo's name, yelp's data, recorded */
    CHECK(cl_bench_load(root, "yahoo", "yelp", &lo, &t, &err) == CL_OK, "%s", err.msg);
    CHECK(!strcmp(t.name, "yahoo") && !strcmp(t.source, "yelp"), "%s from %s", t.name, t.source);
    CHECK(strstr(t.note, "yelp stands in for yahoo") != NULL, "note: %s", t.note);
    CHECK(cl_bench_load(root, "yelp", "yelp", &lo, &u, &err) == CL_OK && same_data(&t, &u),
          "the substitute's data, sampled as its own");
    cl_task_data_free(&u);
    cl_task_data_free(&t);

    /* MNLI's "-": left out and counted; any other stray label: refused */
    CHECK(cl_bench_load(root, "MNLI", "MNLI", &lo, &t, &err) == CL_OK, "%s", err.msg);
    CHECK(t.n_test == 2, "%d test records (4 less the two \"-\")", t.n_test);
    CHECK(strstr(t.note, "2 records labelled \"-\"") != NULL, "note: %s", t.note);
    cl_task_data_free(&t);
    CHECK(cl_bench_load(root, "RTE", "RTE", &lo, &t, &err) == CL_ERR_FORMAT &&
              strstr(err.msg, "train.json: record 1: label \"maybe\" is not in labels.json"),
          "%s", err.msg);

    /* the paper's orders */
    const char *const *names;
    int n;
    CHECK(cl_order_tasks(1, &names, &n) == CL_OK && n == 4 && !strcmp(names[0], "dbpedia") &&
              !strcmp(names[2], "yahoo") && !strcmp(names[3], "agnews"),
          "order 1");
    CHECK(cl_order_tasks(3, &names, &n) == CL_OK && n == 4 && !strcmp(names[0], "yahoo") &&
              !strcmp(names[3], "dbpedia"),
          "order 3");
    CHECK(cl_order_tasks(4, &names, &n) == CL_OK && n == 15 && !strcmp(names[0], "MNLI") &&
              !strcmp(names[14], "yahoo"),
          "order 4");
    CHECK(cl_order_tasks(6, &names, &n) == CL_OK && n == 15 && !strcmp(names[0], "yelp") &&
              !strcmp(names[14], "WiC"),
          "order 6");
    CHECK(cl_order_tasks(7, &names, &n) != CL_OK, "no order 7");

    /* SQuAD-style normalisation, as the paper's scorer */
    static const char *const norm[][2] = {
        {" Sci/Tech", "scitech"}, {"The  World!", "world"}, {"an apple, a day", "apple day"},
        {"NOT_ENTAILMENT", "notentailment"}, {"  ", ""}, {"Theory", "theory"}};
    for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++) {
        char out[64];
        cl_normalize_answer(norm[i][0], out, sizeof out);
        CHECK(!strcmp(out, norm[i][1]), "[%s] -> [%s], want [%s]", norm[i][0], out, norm[i][1]);
    }

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
