/*
 * reproduce.h -- the paper's experiments with collide: methods x orders with
 * the trainer (and a lambda sweep), then the paper's tables with our numbers
 * beside the published ones. Every run is a store, resumable task by task;
 * running again skips finished runs and resumes unfinished ones.
 */
#ifndef CL_REPRODUCE_H
#define CL_REPRODUCE_H

#include "trainer.h"

#define CL_REPRO_MAX_RUNS 64

typedef struct cl_repro_run {
    cl_method method;
    int order;              /* 1..6, 0: the synthetic tasks          */
    double lambda;          /* N-LoRA lambda (NAN: the default)      */
    char store[1200];
} cl_repro_run;

typedef struct cl_repro_opts {
    cl_train_opts train;    /* data, base and training settings     */
    int quick;
    int n_runs;
    cl_repro_run runs[CL_REPRO_MAX_RUNS];
    char dir[1024];
    int progress;
} cl_repro_opts;

/* Plan the runs: --quick: inclora, olora, nlora on one 4-task order (order 1
 * with yahoo's data substituted when it is missing; the synthetic tasks
 * without real data). Full: seqlora, inclora, olora, nlora on orders 1-6
 * and an N-LoRA lambda sweep on order 1. */
int cl_repro_plan(cl_repro_opts *o, cl_error *err);
/* Train (or resume, or skip) every planned run. */
int cl_repro_train(const cl_repro_opts *o, cl_error *err);
/* tables.md and tables.tex in o->dir, from the stores. */
int cl_repro_tables(const cl_repro_opts *o, const cl_threshold *th, cl_error *err);

#endif
