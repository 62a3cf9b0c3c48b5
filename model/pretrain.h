/*
 * pretrain.h -- training the embedded base from scratch: a byte-level BPE
 * tokenizer and a small LLaMA language model on unlabeled text, written in
 * the Hugging Face layout (config.json, model.safetensors, tokenizer.json)
 * with a completion marker (pretrain.json) written last.
 */
#ifndef CL_PRETRAIN_H
#define CL_PRETRAIN_H

#include "llama.h"
#include "tokenizer.h"

typedef struct cl_pretrain_opts {
    int vocab_size;
    cl_llama_config model;     /* vocab_size is filled in from the tokenizer */
    int batch, seq;
    double seconds;            /* time budget for the optimiser steps        */
    int max_steps;             /* 0: until the time budget                    */
    float lr, weight_decay;
    uint64_t seed;
    int progress;              /* print progress to stderr                    */
    size_t max_text_bytes;     /* corpus cap                                  */
} cl_pretrain_opts;

/* The embedded base's settings; synthetic: the smaller shape that the
 * synthetic benchmark's text is learned with. */
void cl_pretrain_defaults(cl_pretrain_opts *o, int synthetic);

/* The real-data base trained with those defaults and committed: its place
 * inside the repository. The tools find it wherever they are run from
 * (cl_pretrain_committed_places). */
#define CL_COMMITTED_BASE "model/base"

typedef struct cl_pretrain_result {
    int steps;
    int64_t tokens_seen, corpus_tokens;
    double seconds, tokens_per_s;
    double unigram_entropy;    /* nats per token of the corpus              */
    double first_loss, final_loss, heldout_loss;
} cl_pretrain_result;

/* Train on texts and write the base into dir (built beside it and renamed
 * into place, so dir is never left half-written). */
int cl_pretrain(const char *const *texts, const size_t *lens, size_t n, const char *dir,
                const char *corpus_desc, const cl_pretrain_opts *o, cl_pretrain_result *r,
                cl_error *err);

/* The corpus: each task's training split (never an example a test split
 * may use), interleaved record by record so that a cap keeps every task. */
typedef struct cl_pretrain_corpus {
    const char **text;
    size_t *len, n;
    void *tasks;      /* cl_task_data[], owned */
    int n_tasks;
    char desc[1024];
} cl_pretrain_corpus;

/* data: the benchmark folder (NULL: the usual places); synthetic: the
 * built-in benchmark instead. */
int cl_pretrain_gather(const char *data, int synthetic, int verbose, cl_pretrain_corpus *c,
                       cl_error *err);
void cl_pretrain_corpus_free(cl_pretrain_corpus *c);

/* The base in dir, pretrained there with the defaults when it is not there
 * yet (on data's text, or the synthetic benchmark's). */
int cl_pretrain_ensure(const char *dir, const char *data, int synthetic, int progress,
                       cl_error *err);
/* About how long the defaults take to pretrain, in minutes on 2 cores. */
double cl_pretrain_minutes(int synthetic);

/* Where the committed base is looked for, in this order, each absolute and
 * listed once: the source tree this collide was built from (known at build
 * time), the checkout around the executable (ROOT/BUILD/bin/tool), and the
 * working directory. Returns how many (at most max). */
int cl_pretrain_committed_places(char places[][4096], int max);

/* The base a tool uses when none is given. Real data: the committed base
 * (the first finished one of the places above), else FALLBACK/base;
 * synthetic: FALLBACK/base-synthetic. */
typedef struct cl_base_plan {
    char dir[4096];      /* the base, absolute                                  */
    int found;           /* a finished base is there (else it is to be trained) */
    int committed;       /* it is the committed model/base                      */
    int steps;           /* its steps (found), or the defaults' (to be trained) */
    double minutes;      /* to be trained: about this long on 2 cores           */
    char tried[8192];    /* the committed base's places, "A or B or C"          */
} cl_base_plan;
void cl_pretrain_plan_base(int synthetic, const char *fallback_root, cl_base_plan *p);
/* The line that says which base and what happens ("base: DIR (committed, 6000
 * steps)", "no base at A or B: pretraining one into C first (...)"). */
void cl_pretrain_plan_line(const cl_base_plan *p, int synthetic, char *line, size_t n);
/* Plan, say it on stderr ("PROG: line"; unless quiet, and always when a base
 * is to be pretrained), then pretrain the fallback if needed. The base's
 * absolute path goes into dir. */
int cl_pretrain_default_base(const char *prog, const char *fallback_root, const char *data,
                             int synthetic, int quiet, int progress, char *dir, size_t n,
                             cl_error *err);

/* Is dir a finished base (its completion marker present and readable)? */
int cl_pretrain_is_done(const char *dir);

#endif
