/*
 * benchmark.c -- loading the continual-learning benchmark (benchmark.h).
 * Every file is untrusted: malformed JSON, an empty list, a record without a
 * string sentence and label, or a label outside labels.json is an error
 * naming the file, the record and the reason.
 */
#include "benchmark.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const cl_task_def tasks[] = {
    {"agnews", "TC", "TC/agnews"},       {"dbpedia", "TC", "TC/dbpedia"},
    {"yahoo", "TC", "TC/yahoo"},         {"amazon", "SC", "SC/amazon"},
    {"yelp", "SC", "SC/yelp"},           {"IMDB", "SC", "SC/IMDB"},
    {"SST-2", "SC", "SC/SST-2"},         {"MNLI", "NLI", "NLI/MNLI"},
    {"CB", "NLI", "NLI/CB"},             {"RTE", "NLI", "NLI/RTE"},
    {"QQP", "QQP", "QQP/QQP"},           {"BoolQA", "BoolQA", "BoolQA/BoolQA"},
    {"MultiRC", "MultiRC", "MultiRC/MultiRC"}, {"WiC", "WiC", "WiC/WiC"},
    {"COPA", "COPA", "COPA/COPA"},
};

/* Verbatim from the O-LoRA/N-LoRA configs/instruction_config.json. */
static const struct {
    const char *family, *text;
} instructions[] = {
    {"NLI", "What is the logical relationship between the \"sentence 1\" and the \"sentence 2\"? "
            "Choose one from the option.\n"},
    {"QQP", "Whether the \"first sentence\" and the \"second sentence\" have the same meaning? "
            "Choose one from the option.\n"},
    {"SC", "What is the sentiment of the following paragraph? Choose one from the option.\n"},
    {"TC", "What is the topic of the following paragraph? Choose one from the option.\n"},
    {"BoolQA", "According to the following passage, is the question true or false? Choose one "
               "from the option.\n"},
    {"MultiRC", "According to the following passage and question, is the candidate answer true "
                "or false? Choose one from the option.\n"},
    {"WiC", "Given a word and two sentences, whether the word is used with the same sense in "
            "both sentence? Choose one from the option.\n"},
    {"COPA", ""},
};

static const char *order1[] = {"dbpedia", "amazon", "yahoo", "agnews"};
static const char *order2[] = {"dbpedia", "amazon", "agnews", "yahoo"};
static const char *order3[] = {"yahoo", "amazon", "agnews", "dbpedia"};
static const char *order4[] = {"MNLI", "CB", "WiC", "COPA", "QQP", "BoolQA", "RTE", "IMDB",
                               "yelp", "amazon", "SST-2", "dbpedia", "agnews", "MultiRC", "yahoo"};
static const char *order5[] = {"MultiRC", "BoolQA", "WiC", "MNLI", "CB", "COPA", "QQP", "RTE",
                               "IMDB", "SST-2", "dbpedia", "agnews", "yelp", "amazon", "yahoo"};
static const char *order6[] = {"yelp", "amazon", "MNLI", "CB", "COPA", "QQP", "RTE", "IMDB",
                               "SST-2", "dbpedia", "agnews", "yahoo", "MultiRC", "BoolQA", "WiC"};

const cl_task_def *cl_task_find(const char *name)
{
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        if (!strcmp(tasks[i].name, name))
            return &tasks[i];
    return NULL;
}

int cl_task_count(void) { return (int)(sizeof tasks / sizeof tasks[0]); }

/* Letters and digits only, lower case: "SST-2" and "sst2" compare equal. */
static void fold(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (isalnum((unsigned char)*s))
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = 0;
}

void cl_task_unknown_msg(const char *name, char *out, size_t n)
{
    char a[64], b[64];
    size_t k = 0;
    fold(name, a, sizeof a);
    const char *near = NULL;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0] && !near; i++) {
        fold(tasks[i].name, b, sizeof b);
        if (a[0] && !strcmp(a, b))
            near = tasks[i].name;
    }
    int w = snprintf(out, n, "unknown task \"%s\"%s%s%s; the %d tasks:", name,
                     near ? "; did you mean " : "", near ? near : "", near ? "?" : "",
                     cl_task_count());
    k = w > 0 && (size_t)w < n ? (size_t)w : n - 1;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0] && k + 1 < n; i++) {
        w = snprintf(out + k, n - k, " %s", tasks[i].name);
        k = w > 0 && (size_t)w < n - k ? k + (size_t)w : n - 1;
    }
}
const cl_task_def *cl_task_at(int i) { return &tasks[i]; }

const char *cl_family_instruction(const char *family)
{
    for (size_t i = 0; i < sizeof instructions / sizeof instructions[0]; i++)
        if (!strcmp(instructions[i].family, family))
            return instructions[i].text;
    return "";
}

int cl_order_tasks(int order, const char *const **names, int *n)
{
    static const char *const *o[] = {order1, order2, order3, order4, order5, order6};
    static const int len[] = {4, 4, 4, 15, 15, 15};
    if (order < 1 || order > 6)
        return -1;
    *names = o[order - 1];
    *n = len[order - 1];
    return 0;
}

/* ------------------------------------------------------------ finding it */

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cl_bench_find_root(const char *opt, char *out, size_t n, cl_error *err)
{
    char tried[1024] = "";
    const char *env = getenv("COLLIDE_DATA");
    if (opt) {
        if (is_dir(opt)) {
            snprintf(out, n, "%s", opt);
            return CL_OK;
        }
        return cl_error_set(err, CL_ERR_IO, "--data %s: not a directory", opt);
    }
    if (env && *env) {
        if (is_dir(env)) {
            snprintf(out, n, "%s", env);
            return CL_OK;
        }
        return cl_error_set(err, CL_ERR_IO, "COLLIDE_DATA=%s: not a directory", env);
    }
    const char *rel = "../shared/datasets/CL_Benchmark";
    if (is_dir(rel)) {
        snprintf(out, n, "%s", rel);
        return CL_OK;
    }
    snprintf(tried, sizeof tried, "%s", rel);
    /* beside the checkout the binary was built in: build/bin/../../../shared */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        for (int up = 0; up < 4; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = 0;
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s/%s", exe, "shared/datasets/CL_Benchmark");
            if (is_dir(cand)) {
                snprintf(out, n, "%s", cand);
                return CL_OK;
            }
            size_t t = strlen(tried);
            if (t + strlen(cand) + 3 < sizeof tried) {
                tried[t++] = ',';
                tried[t++] = ' ';
                memcpy(tried + t, cand, strlen(cand) + 1);
            }
        }
    }
    return cl_error_set(err, CL_ERR_IO,
                        "benchmark data not found (tried %s). Get the CL_Benchmark folder of the "
                        "O-LoRA repository (github.com/cmnfriend/O-LoRA, CL_Benchmark/) and pass "
                        "--data DIR or set COLLIDE_DATA; or use --synthetic",
                        tried);
}

/* ------------------------------------------------------------ loading */

void cl_task_data_free(cl_task_data *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_labels; i++)
        free(t->labels[i]);
    free(t->labels);
    for (int i = 0; i < t->n_train; i++)
        free(t->train[i].text);
    for (int i = 0; i < t->n_test; i++)
        free(t->test[i].text);
    free(t->train);
    free(t->test);
    memset(t, 0, sizeof *t);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int load_labels(const char *path, cl_task_data *t, cl_error *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return cl_error_set(err, exists(path) ? CL_ERR_FORMAT : CL_ERR_IO, "%s: %s", path,
                            exists(path) ? je.text : "missing");
    int rc = CL_OK;
    size_t n = json_is_array(j) ? json_array_size(j) : 0;
    if (n < 2 || n > 1000) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: expected a list of 2 to 1000 labels", path);
        goto out;
    }
    t->labels = calloc(n, sizeof *t->labels);
    if (!t->labels) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(j, i));
        if (!s || !*s) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: [%zu]: not a non-empty string", path, i);
            goto out;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(t->labels[k], s)) {
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: [%zu]: label \"%s\" repeated", path, i, s);
                goto out;
            }
        t->labels[i] = strdup(s);
        t->n_labels++;
    }
out:
    json_decref(j);
    return rc;
}

/* A split file: records with string sentence and a label from the set.
 * "-" is MNLI's mark for "the annotators did not agree" (131 of its 7600
 * test records): no answer can match it, so those records are left out and
 * counted in *dropped. Any other label outside the set is an error. */
static int load_split(const char *path, const cl_task_data *t, cl_example **out, int *n,
                      int *dropped, cl_error *err)
{
    *out = NULL;
    *n = 0;
    *dropped = 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, je.line,
                            je.text);
    int rc = CL_OK;
    if (!json_is_array(j)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: expected a list of {\"sentence\", \"label\"} records",
                          path);
        goto out;
    }
    size_t m = json_array_size(j);
    if (m == 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: the list is empty", path);
        goto out;
    }
    cl_example *e = calloc(m, sizeof *e);
    if (!e) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        json_t *r = json_array_get(j, i);
        const char *s = json_string_value(json_object_get(r, "sentence"));
        const char *l = json_string_value(json_object_get(r, "label"));
        if (!json_is_object(r) || !s || !l) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: record %zu: needs string \"sentence\" and \"label\"", path, i);
            break;
        }
        int label = -1;
        for (int k = 0; k < t->n_labels; k++)
            if (!strcmp(t->labels[k], l))
                label = k;
        if (label < 0 && !strcmp(l, "-")) {
            (*dropped)++;
            continue;
        }
        if (label < 0) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: record %zu: label \"%.60s\" is not in labels.json", path, i, l);
            break;
        }
        e[*n].text = strdup(s);
        e[*n].label = label;
        if (!e[*n].text) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    *out = e;
out:
    json_decref(j);
    return rc;
}

static void shuffle(cl_example *e, int n, cl_rng *g)
{
    for (int i = n - 1; i > 0; i--) {
        int k = (int)cl_rng_below(g, (uint64_t)i + 1);
        cl_example t = e[i];
        e[i] = e[k];
        e[k] = t;
    }
}

static void free_examples(cl_example *e, int n)
{
    for (int i = 0; i < n; i++)
        free(e[i].text);
    free(e);
}

/* Keep at most per_class of each label from pool (already shuffled). */
static int cap_per_class(cl_task_data *t, cl_example *pool, int n, int per_class, cl_error *err)
{
    int *seen = calloc((size_t)t->n_labels, sizeof *seen);
    t->train = calloc((size_t)(n ? n : 1), sizeof *t->train);
    if (!seen || !t->train) {
        free(seen);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (per_class <= 0 || seen[pool[i].label] < per_class) {
            seen[pool[i].label]++;
            t->train[t->n_train++] = pool[i];
        } else {
            free(pool[i].text);
        }
    }
    free(seen);
    free(pool);
    return CL_OK;
}

/* A seed per task, so each task's sampling is independent of the order. */
static uint64_t task_seed(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

int cl_bench_load(const char *root, const char *name, const char *source, const cl_load_opts *o,
                  cl_task_data *t, cl_error *err)
{
    memset(t, 0, sizeof *t);
    if (!source)
        source = name;
    const cl_task_def *d = cl_task_find(source);
    if (!d)
        return cl_error_set(err, CL_ERR_ARG, "task \"%s\": unknown (the benchmark's tasks are "
                            "agnews, dbpedia, yahoo, amazon, yelp, IMDB, SST-2, MNLI, CB, RTE, QQP, "
                            "BoolQA, MultiRC, WiC, COPA)", source);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->source, sizeof t->source, "%s", source);
    snprintf(t->family, sizeof t->family, "%s", d->family);
    t->instruction = cl_family_instruction(d->family);
    char dir[2048], p[2100];
    snprintf(dir, sizeof dir, "%s/%s", root, d->dir);
    snprintf(p, sizeof p, "%s/labels.json", dir);
    int rc = load_labels(p, t, err);
    if (rc)
        goto fail;
    char ptrain[2100], ptest[2100];
    snprintf(ptrain, sizeof ptrain, "%s/train.json", dir);
    snprintf(ptest, sizeof ptest, "%s/test.json", dir);
    if (!exists(ptest))
        snprintf(ptest, sizeof ptest, "%s/dev.json", dir);
    int have_train = exists(ptrain), have_test = exists(ptest);
    if (!have_train && !have_test) {
        rc = cl_error_set(err, CL_ERR_IO,
                          "task %s: no data in %s (train.json and test.json missing); map it to "
                          "another task with --substitute %s=TASK",
                          source, dir, name);
        goto fail;
    }
    cl_rng g;
    cl_rng_seed(&g, task_seed(o->seed, source));
    cl_example *a = NULL, *b = NULL;
    int na = 0, nb = 0, da = 0, db = 0;
    if (have_train && (rc = load_split(ptrain, t, &a, &na, &da, err)))
        goto fail_ab;
    if (have_test && (rc = load_split(ptest, t, &b, &nb, &db, err)))
        goto fail_ab;
    int want_test = o->test_per_task > 0 ? o->test_per_task : 1 << 30;
    if (have_train && have_test) {
        shuffle(b, nb, &g);
        int keep = nb < want_test ? nb : want_test;
        for (int i = keep; i < nb; i++)
            free(b[i].text);
        t->test = b;
        t->n_test = keep;
        shuffle(a, na, &g);
        snprintf(t->note, sizeof t->note, "train from train.json, test from %s",
                 strrchr(ptest, '/') + 1);
    } else if (have_train) {
        /* no test split: hold out from train, at most a fifth of it */
        shuffle(a, na, &g);
        int keep = want_test < na / 5 ? want_test : na / 5;
        if (keep < 1) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: too few records (%d) to hold out a test split",
                              ptrain, na);
            goto fail_ab;
        }
        t->test = a;
        t->n_test = keep;
        a = malloc((size_t)(na - keep) * sizeof *a);
        if (!a) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto fail_ab;
        }
        memcpy(a, t->test + keep, (size_t)(na - keep) * sizeof *a);
        na -= keep;
        snprintf(t->note, sizeof t->note,
                 "no test split: %d test examples held out from train.json (seeded), disjoint",
                 keep);
    } else {
        /* no train split: carve it from test, disjoint from the test kept */
        shuffle(b, nb, &g);
        int keep = want_test < nb / 2 ? want_test : nb / 2;
        t->test = b;
        t->n_test = keep;
        na = nb - keep;
        a = malloc((size_t)(na ? na : 1) * sizeof *a);
        if (!a) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto fail_ab;
        }
        memcpy(a, b + keep, (size_t)na * sizeof *a);
        snprintf(t->note, sizeof t->note,
                 "no train split: training examples carved from %s, disjoint from the %d kept for test",
                 strrchr(ptest, '/') + 1, keep);
    }
    rc = cap_per_class(t, a, na, o->train_per_class, err);
    if (rc)
        goto fail;
    if (t->n_train == 0 || t->n_test == 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "task %s: %d training and %d test examples", source,
                          t->n_train, t->n_test);
        goto fail;
    }
    if (da + db) {
        size_t l = strlen(t->note);
        snprintf(t->note + l, sizeof t->note - l, "; %d records labelled \"-\" (no consensus) "
                 "left out", da + db);
    }
    if (strcmp(name, source)) {
        size_t l = strlen(t->note);
        snprintf(t->note + l, sizeof t->note - l, "; data of %s stands in for %s", source, name);
    }
    return CL_OK;
fail_ab:
    if (a)
        free_examples(a, na);
    if (b && b != t->test)
        free_examples(b, nb);
fail:
    cl_task_data_free(t);
    return rc;
}

/* ------------------------------------------------------------ prompt */

int cl_prompt_prefix(const cl_task_data *t, char *out, size_t n)
{
    int w = snprintf(out, n, "Task:%s\nDataset:%s\n", t->family, t->source);
    if (t->instruction && *t->instruction) {
        w += snprintf(out + w, n > (size_t)w ? n - (size_t)w : 0, "%sOption: ", t->instruction);
        for (int i = 0; i < t->n_labels; i++)
            w += snprintf(out + w, n > (size_t)w ? n - (size_t)w : 0, "%s%s", i ? ", " : "",
                          t->labels[i]);
        w += snprintf(out + w, n > (size_t)w ? n - (size_t)w : 0, " \n");
    }
    return w;
}

void cl_normalize_answer(const char *s, char *out, size_t n)
{
    /* lower case, punctuation to nothing, articles dropped, spaces collapsed */
    char tmp[1024];
    size_t w = 0;
    for (; *s && w + 1 < sizeof tmp; s++) {
        unsigned char c = (unsigned char)*s;
        if (ispunct(c))
            continue;
        tmp[w++] = (char)tolower(c);
    }
    tmp[w] = 0;
    size_t o = 0;
    char *save = NULL;
    for (char *tok = strtok_r(tmp, " \t\n\r\f\v", &save); tok; tok = strtok_r(NULL, " \t\n\r\f\v", &save)) {
        if (!strcmp(tok, "a") || !strcmp(tok, "an") || !strcmp(tok, "the"))
            continue;
        int k = snprintf(out + o, n > o ? n - o : 0, "%s%s", o ? " " : "", tok);
        o += (size_t)k;
    }
    if (n)
        out[o < n ? o : n - 1] = 0;
}
