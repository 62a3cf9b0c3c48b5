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
    int sweep;              /* 1: a run of the lambda sweep          */
    int train_per_class;    /* the caps it trains and tests with     */
    int test_per_task;
    char store[1200];
} cl_repro_run;

/* The N-LoRA lambdas of the sweep beside the default (0.4): from "no visible
 * effect" to "update crushed" on the embedded base (docs/RESULTS.md). */
#define CL_REPRO_SWEEP_N 4
extern const double cl_repro_sweep[CL_REPRO_SWEEP_N];

typedef struct cl_repro_opts {
    cl_train_opts train;    /* data, base and training settings     */
    int quick;
    int sweep_train_per_class; /* the sweep's smaller caps (0: train's) */
    int sweep_test_per_task;
    int n_runs;
    cl_repro_run runs[CL_REPRO_MAX_RUNS];
    char dir[1024];
    int progress;
} cl_repro_opts;

/* Plan the runs: --quick: inclora, olora, nlora on one 4-task order (order 1
 * with yahoo's data substituted when it is missing; the synthetic tasks
 * without real data), and the N-LoRA lambda sweep on the same order with
 * the sweep's cap. Full: seqlora, inclora, olora, nlora on orders 1-6 and
 * the sweep on order 1. */
int cl_repro_plan(cl_repro_opts *o, cl_error *err);
/* Train (or resume, or skip) every planned run. */
int cl_repro_train(const cl_repro_opts *o, cl_error *err);
/* 1: finished (every row of R evaluated), 0: resumable, -1: absent. */
int cl_repro_store_state(const char *path);
/* tables.md, tables.tex and claims.json in o->dir, from the stores
 * (repro_tables.c). th: the scale-free threshold (energy:0.99 by default);
 * the absolute one is derived from the IncLoRA run (docs/RESULTS.md). The
 * absolute threshold used is returned in *abs_out (NAN if none). */
int cl_repro_tables(const cl_repro_opts *o, const cl_threshold *th, double *abs_out,
                    cl_error *err);

#endif
