/*
 * benchmark.h -- the continual-learning benchmark: the 15 tasks with their
 * family, instruction and data folder, the paper's six task orders, loading
 * splits (capped and sampled with a fixed seed, missing splits derived
 * deterministically, substitutions recorded), the built-in synthetic
 * benchmark, the prompt and the answer normalisation used for exact match.
 */
#ifndef CL_BENCHMARK_H
#define CL_BENCHMARK_H

#include "cl_core.h"

#include <stddef.h>

typedef struct cl_task_def {
    const char *name;        /* as in the orders: "agnews", "SST-2", ... */
    const char *family;      /* TC, SC, NLI, QQP, BoolQA, MultiRC, WiC, COPA */
    const char *dir;         /* under the benchmark root */
} cl_task_def;

const cl_task_def *cl_task_find(const char *name);
int cl_task_count(void);
/* For an unknown task name: "did you mean SST-2?" when the name matches one
 * but for case and punctuation, then the list of the 15 names. */
void cl_task_unknown_msg(const char *name, char *out, size_t n);
const cl_task_def *cl_task_at(int i);
/* The instruction of a family ("" for COPA, which has none upstream). */
const char *cl_family_instruction(const char *family);

/* Orders 1..6 of the paper: task names in training order. */
int cl_order_tasks(int order, const char *const **names, int *n);

typedef struct cl_example {
    char *text;
    int label;
} cl_example;

typedef struct cl_task_data {
    char name[32];           /* the task's name in the order                */
    char source[32];         /* the task whose data is used (== name unless substituted) */
    char family[16];
    const char *instruction;
    int n_labels;
    char **labels;
    cl_example *train, *test;
    int n_train, n_test;
    char note[256];          /* how the splits were formed                   */
} cl_task_data;

typedef struct cl_load_opts {
    int train_per_class;     /* cap per class on the training split          */
    int test_per_task;       /* cap on the test split                        */
    uint64_t seed;
} cl_load_opts;

/* Find the benchmark: opt (--data), then $COLLIDE_DATA, then
 * ../shared/datasets/CL_Benchmark from the working directory and from the
 * executable's folder. Returns CL_ERR_IO naming every place tried. */
int cl_bench_find_root(const char *opt, char *out, size_t n, cl_error *err);

/* Load task `name`, using the data of `source` (== name unless substituted). */
int cl_bench_load(const char *root, const char *name, const char *source,
                  const cl_load_opts *o, cl_task_data *out, cl_error *err);
void cl_task_data_free(cl_task_data *t);

/* The synthetic benchmark: task k of n, with a fraction `overlap` of each
 * class's keywords drawn from a pool all tasks share. */
typedef struct cl_synth_bench {
    int tasks;
    double overlap;
    uint64_t seed;
} cl_synth_bench;

int cl_synth_bench_load(const cl_synth_bench *sb, int k, const cl_load_opts *o,
                        cl_task_data *out, cl_error *err);
const char *cl_synth_bench_name(int k); /* "synth1", ... */

/* The prompt before the text, and after it (the paper's format):
 *   Task:<family>\nDataset:<source>\n<instruction>Option: <labels> \n   <text>   \nAnswer:
 */
int cl_prompt_prefix(const cl_task_data *t, char *out, size_t n);
#define CL_PROMPT_SUFFIX "\nAnswer:"

/* SQuAD-style normalisation: lower case, punctuation and articles removed,
 * whitespace collapsed. Writes at most n bytes (terminated). */
void cl_normalize_answer(const char *s, char *out, size_t n);

#endif
