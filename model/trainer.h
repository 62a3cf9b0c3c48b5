/*
 * trainer.h -- the continual-learning protocol: learn a sequence of tasks
 * with LoRA on a base model (seqlora, inclora, olora, nlora, olora+nlora),
 * append every adapter snapshot to a store, evaluate every task after each
 * one, and resume an interrupted run exactly.
 */
#ifndef CL_TRAINER_H
#define CL_TRAINER_H

#include "collide.h"

#include <stdint.h>

#define CL_TRAIN_MAX_TASKS 64

typedef enum { CL_M_SEQLORA, CL_M_INCLORA, CL_M_OLORA, CL_M_NLORA, CL_M_BOTH } cl_method;

typedef struct cl_train_opts {
    /* data */
    char data_dir[1024];     /* "" when synthetic */
    int synthetic;
    double synth_overlap;
    int n_tasks;
    char task[CL_TRAIN_MAX_TASKS][32];
    char source[CL_TRAIN_MAX_TASKS][32]; /* == task unless substituted */
    int order;               /* 1..6, or 0 for --tasks */
    int train_per_class, test_per_task, max_len;
    uint64_t data_seed;
    /* model */
    char base_dir[1024];
    /* method */
    cl_method method;
    int penalty_code;        /* 0: paper form, 1: the released code's form,
                                -1: auto (code when every target is square;
                                resolved when the run starts) */
    double lambda[CL_TRAIN_MAX_TASKS]; /* N-LoRA lambda per task */
    double lambda_default;
    double lambda_orth, lambda_l2;
    int rank;
    double alpha, dropout;
    unsigned targets;        /* 1 << cl_proj */
    int epochs, batch;
    double lr;
    uint64_t seed;
    int snapshot_every;      /* steps; 0: only at task ends */
    int max_new;             /* generated tokens at evaluation */
    int progress;
    int replace;             /* an existing store at the path is removed, but only once
                                every setting has passed (--force); not stored */
} cl_train_opts;

void cl_train_defaults(cl_train_opts *o);

/* The task sequence, planned once for collide-train and collide-reproduce
 * (plan.c): the paper's ORDER (0: 1, or the synthetic benchmark's first four
 * with o->synthetic), or TASKS "a,b,c"; SUBSTITUTE "a=b,..." trains and tests
 * task a on task b's data; with auto_substitute, a task with no data under
 * o->data_dir takes yelp's, else agnews's (recorded in the store like a
 * --substitute); LAMBDA "X" or "task=X,..." sets N-LoRA's lambda. Fills
 * o->order, n_tasks, task, source, lambda_default and lambda; an error is
 * CL_ERR_ARG naming the option (an unknown task with the near miss and the
 * 15 names). o->synthetic and o->data_dir are read. */
typedef struct cl_task_plan {
    int order;
    const char *tasks, *substitute, *lambda;
    int auto_substitute;
} cl_task_plan;
int cl_train_plan(cl_train_opts *o, const cl_task_plan *p, cl_error *err);
const char *cl_method_name(cl_method m);
int cl_method_parse(const char *s, cl_method *m);

/* The settings as JSON (stored in the store) and back. */
char *cl_train_opts_json(const cl_train_opts *o);
int cl_train_opts_parse(const char *json, const char *name, cl_train_opts *o, cl_error *err);

typedef struct cl_train_summary {
    int tasks_done;
    int64_t steps, tokens;
    double seconds, tokens_per_s;
    double aa[CL_EVAL_COUNT];   /* per protocol (cl_eval) */
    int finished_before;        /* resume: the run was already finished; nothing
                                   was trained or written (the store is untouched) */
} cl_train_summary;

/* A new run into store (which must not exist). Every setting is checked
 * against the base and the data before the store is created; a run that
 * still fails before its first snapshot (I/O) removes the store it made. */
int cl_train_run(const cl_train_opts *o, const char *store, cl_train_summary *sum, cl_error *err);
/* Continue the run in store from its last complete snapshot. A finished run
 * (every task trained and evaluated) is left as it is, file and mtime: the
 * summary then comes from the store, with finished_before set. */
int cl_train_resume(const char *store, int progress, cl_train_summary *sum, cl_error *err);

#endif
