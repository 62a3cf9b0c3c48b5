/*
 * plan.c -- the task sequence of a run, planned once for collide-train and
 * collide-reproduce (trainer.h, cl_train_plan): which tasks in which order,
 * whose data each one trains and tests on, and N-LoRA's lambda per task.
 */
#include "benchmark.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Is s a task of the synthetic benchmark (synth1..synth6)? */
static int synth_task(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, cl_synth_bench_name(i)))
            return 1;
    return 0;
}

/* Does the benchmark at root hold any split of task? */
static int has_data(const char *root, const char *task)
{
    const cl_task_def *d = cl_task_find(task);
    char p[2200];
    struct stat sb;
    static const char *files[] = {"train.json", "test.json", "dev.json"};
    for (int i = 0; d && i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s/%s", root, d->dir, files[i]);
        if (stat(p, &sb) == 0)
            return 1;
    }
    return 0;
}

/* Comma items of s (a copy the caller frees) into items; returns the count,
 * or -1 when there are more than max. */
static int split(const char *s, char **copy, char **items, int max)
{
    *copy = strdup(s);
    if (!*copy)
        return -1;
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(*copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return -1;
        items[n++] = t;
    }
    return n;
}

static int known(const cl_train_opts *o, const char *task, const char *opt, cl_error *err)
{
    if (o->synthetic ? synth_task(task) : cl_task_find(task) != NULL)
        return CL_OK;
    if (o->synthetic)
        return cl_error_set(err, CL_ERR_ARG, "%s: unknown task \"%s\" (the synthetic benchmark "
                                             "has synth1 to synth6)", opt, task);
    char m[512];
    cl_task_unknown_msg(task, m, sizeof m);
    return cl_error_set(err, CL_ERR_ARG, "%s: %s", opt, m);
}

/* The tasks: an order of the paper, a list, or the synthetic benchmark's
 * first four. */
static int plan_tasks(cl_train_opts *o, const cl_task_plan *p, cl_error *err)
{
    if (p->tasks && p->order)
        return cl_error_set(err, CL_ERR_ARG, "--order and --tasks exclude each other");
    if (p->order && o->synthetic)
        return cl_error_set(err, CL_ERR_ARG, "--order names the paper's orders of the real "
                                             "benchmark; with --synthetic give --tasks "
                                             "synth1,synth2,...");
    o->order = 0;
    if (p->tasks) {
        char *copy, *items[CL_TRAIN_MAX_TASKS];
        int n = split(p->tasks, &copy, items, CL_TRAIN_MAX_TASKS);
        if (n <= 0) {
            free(copy);
            return cl_error_set(err, CL_ERR_ARG, n ? "--tasks: more than %d tasks: %s"
                                                   : "--tasks names no task%.0d: %s",
                                CL_TRAIN_MAX_TASKS, p->tasks);
        }
        o->n_tasks = n;
        for (int i = 0; i < n; i++)
            snprintf(o->task[i], sizeof o->task[i], "%s", items[i]);
        free(copy);
    } else if (o->synthetic) {
        o->n_tasks = 4;
        for (int i = 0; i < 4; i++)
            snprintf(o->task[i], sizeof o->task[i], "%s", cl_synth_bench_name(i));
    } else {
        const char *const *names;
        o->order = p->order ? p->order : 1;
        cl_order_tasks(o->order, &names, &o->n_tasks);
        for (int i = 0; i < o->n_tasks; i++)
            snprintf(o->task[i], sizeof o->task[i], "%s", names[i]);
    }
    for (int i = 0; i < o->n_tasks; i++) {
        int rc = known(o, o->task[i], "--tasks", err);
        if (rc)
            return rc;
        memcpy(o->source[i], o->task[i], sizeof o->source[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(o->task[i], o->task[j]))
                return cl_error_set(err, CL_ERR_ARG, "--tasks: %s appears twice", o->task[i]);
    }
    return CL_OK;
}

/* Whose data each task uses: --substitute a=b, and (auto_substitute) a task
 * with no data in the benchmark takes yelp's, else agnews's. Both are
 * recorded in the store as the task's data. */
static int plan_sources(cl_train_opts *o, const cl_task_plan *p, cl_error *err)
{
    if (p->substitute) {
        char *copy, *items[CL_TRAIN_MAX_TASKS];
        int n = split(p->substitute, &copy, items, CL_TRAIN_MAX_TASKS);
        int rc = n < 0 ? cl_error_set(err, CL_ERR_ARG, "--substitute: too many: %s",
                                      p->substitute)
                       : CL_OK;
        for (int k = 0; k < n && !rc; k++) {
            char *eq = strchr(items[k], '=');
            if (!eq) {
                rc = cl_error_set(err, CL_ERR_ARG, "--substitute takes task=task: %s", items[k]);
                break;
            }
            *eq = 0;
            if ((rc = known(o, eq + 1, "--substitute", err)))
                break;
            int hit = 0;
            for (int i = 0; i < o->n_tasks; i++)
                if (!strcmp(o->task[i], items[k])) {
                    snprintf(o->source[i], sizeof o->source[i], "%s", eq + 1);
                    hit = 1;
                }
            if (!hit)
                rc = cl_error_set(err, CL_ERR_ARG, "--substitute: %s is not in the order",
                                  items[k]);
        }
        free(copy);
        if (rc)
            return rc;
    }
    if (p->auto_substitute && !o->synthetic)
        for (int i = 0; i < o->n_tasks; i++)
            if (!has_data(o->data_dir, o->source[i]))
                snprintf(o->source[i], sizeof o->source[i], "%s",
                         has_data(o->data_dir, "yelp") ? "yelp" : "agnews");
    return CL_OK;
}

/* N-LoRA's lambda: one value for every task, or task=value pairs. */
static int plan_lambda(cl_train_opts *o, const cl_task_plan *p, cl_error *err)
{
    if (!p->lambda) /* cl_train_defaults left every task at lambda_default */
        return CL_OK;
    char *copy, *items[CL_TRAIN_MAX_TASKS];
    int n = split(p->lambda, &copy, items, CL_TRAIN_MAX_TASKS);
    int rc = n < 0 ? cl_error_set(err, CL_ERR_ARG, "--lambda: too many: %s", p->lambda) : CL_OK;
    for (int k = 0; k < n && !rc; k++) {
        char *eq = strchr(items[k], '='), *end;
        const char *num = eq ? eq + 1 : items[k];
        double v = strtod(num, &end);
        if (end == num || *end || !(v >= 0 && v <= 1e6)) {
            rc = cl_error_set(err, CL_ERR_ARG, "--lambda must be a number in [0, 1e6]: %s", num);
            break;
        }
        if (!eq) {
            o->lambda_default = v;
            continue;
        }
        *eq = 0;
        int hit = 0;
        for (int i = 0; i < o->n_tasks; i++)
            if (!strcmp(o->task[i], items[k])) {
                o->lambda[i] = v;
                hit = 1;
            }
        if (!hit)
            rc = cl_error_set(err, CL_ERR_ARG, "--lambda: %s is not in the order", items[k]);
    }
    free(copy);
    return rc;
}

int cl_train_plan(cl_train_opts *o, const cl_task_plan *p, cl_error *err)
{
    int rc = plan_tasks(o, p, err);
    if (!rc)
        rc = plan_sources(o, p, err);
    if (!rc)
        rc = plan_lambda(o, p, err);
    return rc;
}
