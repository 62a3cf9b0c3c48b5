/*
 * test_plan.c -- the task sequence planned once (model/plan.c) for
 * collide-train and collide-reproduce: orders, lists, the synthetic tasks,
 * substitutions given and automatic, lambdas, and each refusal's message.
 */
#include "check.h"
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void touch(const char *dir, const char *file)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, dir);
    char *slash = strchr(p + strlen(root) + 1, '/');
    if (slash) { /* FAMILY/task */
        *slash = 0;
        mkdir(p, 0777);
        *slash = '/';
    }
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/%s", root, dir, file);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("[]", f);
        fclose(f);
    }
}

static int plan(cl_train_opts *o, int order, const char *tasks, const char *subst,
                const char *lambda, int autos, cl_error *err)
{
    cl_train_defaults(o);
    snprintf(o->data_dir, sizeof o->data_dir, "%s", root);
    const cl_task_plan p = {.order = order, .tasks = tasks, .substitute = subst,
                            .lambda = lambda, .auto_substitute = autos};
    return cl_train_plan(o, &p, err);
}

int main(void)
{
    check_begin("test_plan");
    snprintf(root, sizeof root, "/tmp/collide-plan-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    /* order 1 is dbpedia, amazon, yahoo, agnews: yahoo has no data here */
    touch("TC/dbpedia", "train.json");
    touch("SC/amazon", "test.json");
    touch("TC/agnews", "train.json");
    touch("SC/yelp", "train.json");
    cl_train_opts o;
    cl_error err;
    CHECK(plan(&o, 1, NULL, NULL, NULL, 0, &err) == CL_OK, "%s", err.msg);
    CHECK(o.order == 1 && o.n_tasks == 4 && !strcmp(o.task[2], "yahoo") &&
              !strcmp(o.source[2], "yahoo"),
          "order 1 without auto substitution: %d tasks, %s <- %s", o.n_tasks, o.task[2],
          o.source[2]);
    /* collide-reproduce's policy: the missing task takes yelp's data */
    CHECK(plan(&o, 1, NULL, NULL, NULL, 1, &err) == CL_OK, "%s", err.msg);
    CHECK(!strcmp(o.source[2], "yelp") && !strcmp(o.source[0], "dbpedia") &&
              !strcmp(o.source[3], "agnews"),
          "auto substitution: %s %s %s %s", o.source[0], o.source[1], o.source[2], o.source[3]);
    /* an explicit substitution, and order 0 meaning order 1 */
    CHECK(plan(&o, 0, NULL, "yahoo=yelp", NULL, 0, &err) == CL_OK, "%s", err.msg);
    CHECK(o.order == 1 && !strcmp(o.source[2], "yelp"), "--substitute yahoo=yelp");
    /* a list, with per-task and default lambdas */
    CHECK(plan(&o, 0, "agnews,SST-2", NULL, "0.2,SST-2=1.5", 0, &err) == CL_OK, "%s", err.msg);
    CHECK(o.order == 0 && o.n_tasks == 2 && o.lambda_default == 0.2 && isnan(o.lambda[0]) &&
              o.lambda[1] == 1.5,
          "lambdas: default %g, %g, %g", o.lambda_default, o.lambda[0], o.lambda[1]);
    /* the synthetic benchmark */
    cl_train_defaults(&o);
    o.synthetic = 1;
    const cl_task_plan syn = {0};
    CHECK(cl_train_plan(&o, &syn, &err) == CL_OK && o.n_tasks == 4 &&
              !strcmp(o.task[3], "synth4") && !strcmp(o.source[3], "synth4"),
          "synthetic: %d tasks", o.n_tasks);
    /* refusals name the option and the reason */
    struct {
        int order;
        const char *tasks, *subst, *lambda, *msg;
    } bad[] = {
        {0, "sst2", NULL, NULL, "--tasks: unknown task \"sst2\"; did you mean SST-2?"},
        {0, "agnews,yelp,agnews", NULL, NULL, "--tasks: agnews appears twice"},
        {2, "agnews", NULL, NULL, "--order and --tasks exclude each other"},
        {0, ",", NULL, NULL, "--tasks names no task"},
        {1, NULL, "yahoo", NULL, "--substitute takes task=task: yahoo"},
        {1, NULL, "imdb=yelp", NULL, "--substitute: imdb is not in the order"},
        {1, NULL, "yahoo=yelpp", NULL, "--substitute: unknown task \"yelpp\""},
        {1, NULL, NULL, "IMDB=0.3", "--lambda: IMDB is not in the order"},
        {1, NULL, NULL, "-1", "--lambda must be a number in [0, 1e6]: -1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = plan(&o, bad[i].order, bad[i].tasks, bad[i].subst, bad[i].lambda, 0, &err);
        CHECK(rc == CL_ERR_ARG && strstr(err.msg, bad[i].msg), "case %zu: %d %s", i, rc,
              rc ? err.msg : "accepted");
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        return 1;
    return check_done();
}
