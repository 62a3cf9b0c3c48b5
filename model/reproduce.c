/*
 * reproduce.c -- plan, train and tabulate the paper's experiments
 * (reproduce.h). The tables put our numbers beside the published ones and
 * say plainly what differs in our setting.
 */
#include "reproduce.h"
#include "benchmark.h"
#include "llama.h"
#include "published.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const double cl_repro_sweep[CL_REPRO_SWEEP_N] = {0.005, 0.05, 1.6, 6.4};

static void add_run(cl_repro_opts *o, cl_method m, int order, double lambda, int sweep)
{
    cl_repro_run *r = &o->runs[o->n_runs++];
    r->method = m;
    r->order = order;
    r->lambda = lambda;
    r->sweep = sweep;
    r->train_per_class = sweep && o->sweep_train_per_class > 0 ? o->sweep_train_per_class
                                                               : o->train.train_per_class;
    r->test_per_task = sweep && o->sweep_test_per_task > 0 ? o->sweep_test_per_task
                                                           : o->train.test_per_task;
    char lam[32] = "";
    if (!isnan(lambda))
        snprintf(lam, sizeof lam, "-lambda%g", lambda);
    char ord[16];
    snprintf(ord, sizeof ord, order ? "order%d" : "synthetic", order);
    snprintf(r->store, sizeof r->store, "%s/stores/%s-%s%s.h5", o->dir, cl_method_name(m), ord, lam);
    for (char *p = r->store + strlen(o->dir); *p; p++)
        if (*p == '+')
            *p = '_'; /* olora+nlora: keep file names plain */
}

int cl_repro_plan(cl_repro_opts *o, cl_error *err)
{
    o->n_runs = 0;
    char p[1200];
    snprintf(p, sizeof p, "%s/stores", o->dir);
    if ((mkdir(o->dir, 0777) != 0 && errno != EEXIST) || (mkdir(p, 0777) != 0 && errno != EEXIST))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    int syn = o->train.synthetic;
    if (o->quick) {
        cl_method m[] = {CL_M_INCLORA, CL_M_OLORA, CL_M_NLORA};
        for (int i = 0; i < 3; i++)
            add_run(o, m[i], syn ? 0 : 1, NAN, 0);
    } else {
        cl_method m[] = {CL_M_SEQLORA, CL_M_INCLORA, CL_M_OLORA, CL_M_NLORA};
        int orders = syn ? 1 : 6;
        for (int k = 1; k <= orders; k++)
            for (int i = 0; i < 4; i++)
                add_run(o, m[i], syn ? 0 : k, NAN, 0);
    }
    /* the lambda sweep of figure 1: N-LoRA on the first order */
    for (int i = 0; i < CL_REPRO_SWEEP_N; i++)
        add_run(o, CL_M_NLORA, syn ? 0 : 1, cl_repro_sweep[i], 1);
    return CL_OK;
}

int cl_repro_store_state(const char *path)
{
    if (access(path, F_OK) != 0)
        return -1;
    cl_store *s;
    cl_error err;
    if (cl_store_open(path, &s, &err))
        return 0;
    int T = cl_store_n_tasks(s);
    int done = !isnan(cl_store_accuracy(s, CL_EVAL_GENERATE)[(size_t)(T - 1) * T]);
    cl_store_close(s, NULL);
    return done;
}

int cl_repro_train(const cl_repro_opts *o, cl_error *err)
{
    for (int i = 0; i < o->n_runs; i++) {
        const cl_repro_run *r = &o->runs[i];
        int st = cl_repro_store_state(r->store);
        if (o->progress)
            fprintf(stderr, "collide-reproduce: run %d/%d: %s %s%s\n", i + 1, o->n_runs,
                    cl_method_name(r->method), r->store,
                    st == 1 ? " (done, kept)" : st == 0 ? " (resuming)" : "");
        if (st == 1)
            continue;
        cl_train_summary sum;
        int rc;
        if (st == 0) {
            rc = cl_train_resume(r->store, o->progress, &sum, err);
        } else {
            cl_train_opts t = o->train;
            t.method = r->method;
            /* order r->order (0: the synthetic benchmark); a task without
             * data takes yelp's or agnews's, recorded (model/plan.c) */
            const cl_task_plan plan = {.order = r->order, .auto_substitute = 1};
            if ((rc = cl_train_plan(&t, &plan, err)))
                return rc;
            if (!isnan(r->lambda))
                t.lambda_default = r->lambda;
            t.train_per_class = r->train_per_class;
            t.test_per_task = r->test_per_task;
            t.progress = o->progress;
            rc = cl_train_run(&t, r->store, &sum, err);
        }
        if (rc)
            return rc;
    }
    return CL_OK;
}

