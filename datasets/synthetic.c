/*
 * synthetic.c -- the built-in synthetic benchmark: text-classification tasks
 * made of pseudo-words, so that everything runs without the real data.
 *
 * Each class of each task has 12 keywords; a sentence mixes filler words
 * with a few keywords of its class. A fraction `overlap` of every class's
 * keywords comes from one pool that all tasks draw from, so that tasks share
 * features and interfere (0: disjoint vocabularies, 1: fully shared). The
 * label of a class is its first keyword, never shared: a word the text (and
 * so a base pretrained on it) knows, as real labels are.
 */
#include "benchmark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILLER 400
#define SHARED 96
#define KEYWORDS 12

static const int n_classes[6] = {4, 3, 4, 3, 4, 4};

const char *cl_synth_bench_name(int k)
{
    static const char *names[] = {"synth1", "synth2", "synth3", "synth4", "synth5", "synth6"};
    return k >= 0 && k < 6 ? names[k] : "synth";
}

/* A pronounceable pseudo-word for (space, index): deterministic. */
static void word(uint64_t seed, uint64_t space, uint64_t idx, char *out, size_t n)
{
    static const char *on[] = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "tr"};
    static const char *nu[] = {"a", "e", "i", "o", "u", "ai", "ou", "ei"};
    cl_rng g;
    cl_rng_seed(&g, seed ^ (space * 0x9e3779b97f4a7c15ull) ^ (idx * 0xc2b2ae3d27d4eb4full));
    int syl = 2 + (int)cl_rng_below(&g, 2);
    size_t w = 0;
    for (int s = 0; s < syl && w + 6 < n; s++)
        w += (size_t)snprintf(out + w, n - w, "%s%s", on[cl_rng_below(&g, 16)], nu[cl_rng_below(&g, 8)]);
    if (cl_rng_below(&g, 3) == 0 && w + 2 < n)
        out[w++] = "nrlsk"[cl_rng_below(&g, 5)];
    out[w] = 0;
}

/* Keyword q of class c of task k: from the shared pool with probability
 * overlap (decided per keyword, deterministically), else its own. */
static void keyword(const cl_synth_bench *sb, int k, int c, int q, char *out, size_t n)
{
    cl_rng g;
    cl_rng_seed(&g, sb->seed * 31 + (uint64_t)(k * 1000 + c * 50 + q));
    if (q > 0 && cl_rng_uniform(&g) < sb->overlap)
        word(sb->seed, 2, cl_rng_below(&g, SHARED), out, n);
    else
        word(sb->seed, 3, (uint64_t)(k * 10000 + c * 100 + q), out, n);
}

static char *sentence(const cl_synth_bench *sb, int k, int c, cl_rng *g)
{
    int len = 14 + (int)cl_rng_below(g, 24);
    size_t cap = (size_t)len * 16 + 8, w = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (int i = 0; i < len; i++) {
        char wd[32];
        if (cl_rng_uniform(g) < 0.22)
            keyword(sb, k, c, (int)cl_rng_below(g, KEYWORDS), wd, sizeof wd);
        else
            word(sb->seed, 1, cl_rng_below(g, FILLER), wd, sizeof wd);
        if (i == 0 && wd[0] >= 'a' && wd[0] <= 'z')
            wd[0] = (char)(wd[0] - 32);
        w += (size_t)snprintf(s + w, cap - w, "%s%s", i ? " " : "", wd);
        if (i + 1 < len && cl_rng_below(g, 9) == 0)
            w += (size_t)snprintf(s + w, cap - w, ",");
    }
    snprintf(s + w, cap - w, ".");
    return s;
}

int cl_synth_bench_load(const cl_synth_bench *sb, int k, const cl_load_opts *o, cl_task_data *t,
                        cl_error *err)
{
    memset(t, 0, sizeof *t);
    if (k < 0 || k >= 6 || sb->tasks < 1 || sb->tasks > 6)
        return cl_error_set(err, CL_ERR_ARG, "synthetic benchmark: task %d of %d (at most 6)", k + 1,
                            sb->tasks);
    if (!(sb->overlap >= 0 && sb->overlap <= 1))
        return cl_error_set(err, CL_ERR_ARG, "synthetic benchmark: overlap %g outside [0, 1]",
                            sb->overlap);
    snprintf(t->name, sizeof t->name, "%s", cl_synth_bench_name(k));
    snprintf(t->source, sizeof t->source, "%s", t->name);
    snprintf(t->family, sizeof t->family, "TC");
    t->instruction = cl_family_instruction("TC");
    t->n_labels = n_classes[k];
    t->labels = calloc((size_t)t->n_labels, sizeof *t->labels);
    int per_class = o->train_per_class > 0 ? o->train_per_class : 200;
    int n_test = o->test_per_task > 0 ? o->test_per_task : 100;
    t->train = calloc((size_t)(per_class * t->n_labels), sizeof *t->train);
    t->test = calloc((size_t)n_test, sizeof *t->test);
    if (!t->labels || !t->train || !t->test) {
        cl_task_data_free(t);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int c = 0; c < t->n_labels; c++) {
        char w[40];
        keyword(sb, k, c, 0, w, sizeof w - 4);
        for (int d = 0; d < c; d++) /* pseudo-words can collide: keep labels distinct */
            if (!strcmp(w, t->labels[d]))
                snprintf(w + strlen(w), 4, "%c", 'a' + c);
        t->labels[c] = strdup(w);
    }
    cl_rng g;
    cl_rng_seed(&g, sb->seed * 7919 + (uint64_t)k);
    for (int i = 0; i < per_class * t->n_labels; i++) {
        t->train[i].label = i % t->n_labels;
        t->train[i].text = sentence(sb, k, t->train[i].label, &g);
        t->n_train++;
    }
    for (int i = 0; i < n_test; i++) {
        t->test[i].label = (int)cl_rng_below(&g, (uint64_t)t->n_labels);
        t->test[i].text = sentence(sb, k, t->test[i].label, &g);
        t->n_test++;
    }
    snprintf(t->note, sizeof t->note, "synthetic, keyword overlap %.2f, seed %llu", sb->overlap,
             (unsigned long long)sb->seed);
    return CL_OK;
}
