/* collide-train -- learn a task sequence with LoRA, every snapshot stored. */
#include "benchmark.h"
#include "cli.h"
#include "layers.h"
#include "llama.h"
#include "pretrain.h"
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-train";

static const char *SUMMARY =
    "Learn a sequence of tasks with LoRA on a base model and write every adapter snapshot,\n"
    "the accuracy matrix and the baselines to STORE (docs/FORMAT.md).\n"
    "    collide-train --resume STORE   continues an interrupted run";

static const char *DETAILS =
    "After each task every task of the order is evaluated twice: ranked (the option label\n"
    "with the highest log-likelihood) and the paper's greedy generation, exact match of\n"
    "the normalised answer. With a fixed seed and OMP_NUM_THREADS=1 two runs give the same\n"
    "store, and a resumed run the same store as an uninterrupted one (wall times aside).\n"
    "Every option and input is checked before the store is created; an existing STORE is\n"
    "refused (continue it with --resume, or --force to train it again from scratch).";

enum { O_DATA = 256, O_SYN, O_SOV, O_ORDER, O_TASKS, O_SUBST, O_TPC, O_TPT, O_MAXLEN, O_BASE,
       O_METHOD, O_PEN, O_LAM, O_LORTH, O_LL2, O_RANK, O_ALPHA, O_DROP, O_TARGETS, O_EPOCHS,
       O_BATCH, O_LR, O_SEED, O_SNAP, O_MAXNEW, O_RESUME };

static const cli_opt options[] = {
    {"output", 'o', "STORE", 0, "the store to create (refused if it exists, unless --force)"},
    {"resume", O_RESUME, "STORE", 0,
     "continue an interrupted run from its last complete snapshot,\n"
     "with the settings stored in it (other options are refused); a\n"
     "finished run is left untouched (\"finished: ...; nothing to do\")"},
    {"data", O_DATA, "DIR", 0, "the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
                               "../shared/datasets/CL_Benchmark)"},
    {"synthetic", O_SYN, NULL, 0, "the built-in synthetic benchmark (tasks synth1..synth6)"},
    {"synthetic-overlap", O_SOV, "X", 0, "keyword overlap between synthetic tasks (default 0.3)"},
    {"order", O_ORDER, "N", 0, "the paper's order 1..6 (default 1; 4 synthetic tasks with\n"
                               "--synthetic)"},
    {"tasks", O_TASKS, "a,b,c", 0, "or these tasks, in this order"},
    {"substitute", O_SUBST, "a=b,...", 0,
     "train and test task a on task b's data (recorded in the store)"},
    {"train-per-class", O_TPC, "N", 0,
     "training examples per class (default 250; the paper used 1000)"},
    {"test-per-task", O_TPT, "N", 0, "test examples per task (default 200)"},
    {"max-len", O_MAXLEN, "N", 0, "tokens per example; longer texts are cut (default 192)"},
    {"base", O_BASE, "DIR", 0,
     "a base in the Hugging Face layout (default: the committed base\n"
     "model/base of the checkout collide was built from, whatever\n"
     "the working directory, else out/base; with --synthetic,\n"
     "out/base-synthetic; trained by collide-pretrain on first use;\n"
     "stderr says which, and when it will pretrain one)"},
    {"method", O_METHOD, "M", 0,
     "seqlora, inclora, olora, nlora or olora+nlora (default inclora)"},
    {"penalty", O_PEN, "F", 0,
     "auto (default), code or paper: which form of the penalties\n"
     "(docs/METRICS.md, \"the paper and its code disagree\"); auto\n"
     "is the released code's form, which produced the published\n"
     "numbers, when every target is square, the paper's otherwise"},
    {"lambda", O_LAM, "X|t=X,...", 0, "N-LoRA lambda, one value or per task (default 0.4)"},
    {"lambda-orth", O_LORTH, "X", 0, "O-LoRA lambda1 (default 0.5)"},
    {"lambda-l2", O_LL2, "X", 0, "O-LoRA lambda2, code form only (default 0)"},
    {"rank", O_RANK, "R", 0, "LoRA rank (default 8)"},
    {"alpha", O_ALPHA, "A", 0, "LoRA alpha (default 32)"},
    {"dropout", O_DROP, "P", 0, "LoRA dropout (default 0.1)"},
    {"targets", O_TARGETS, "q,k,v,o", 0,
     "projections to adapt: q k v o gate up down (default q,k,v,o;\n"
     "the papers used q,v, which learn nothing on the small bases)"},
    {"epochs", O_EPOCHS, "N", 0, "epochs per task (default 5)"},
    {"batch", O_BATCH, "N", 0, "batch size (default 8)"},
    {"lr", O_LR, "X", 0, "learning rate, constant (default 2e-3)"},
    {"seed", O_SEED, "N", 0, "random seed (default 1)"},
    {"snapshot-every", O_SNAP, "K", 0,
     "a snapshot every K steps, and one at each task end (default 25)"},
    {"max-new", O_MAXNEW, "N", 0, "tokens generated when evaluating (default 12)"},
    {0}};

typedef struct args {
    cl_train_opts o;
    const char *out, *resume, *data, *tasks, *subst, *lambda, *base;
    int order;
    const char *setting; /* the first training setting given (refused with --resume) */
} args;

/* Split a comma list into at most max items. */
static int split(char *s, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

static void on_opt(void *ctx, int key, const char *arg)
{
    args *a = ctx;
    cl_train_opts *o = &a->o;
    if (!a->setting && key != O_RESUME && key != 'o')
        for (const cli_opt *p = options; p->name; p++)
            if (p->key == key)
                a->setting = p->name;
    switch (key) {
    case 'o': a->out = arg; break;
    case O_DATA: a->data = arg; break;
    case O_SYN: o->synthetic = 1; break;
    case O_SOV: o->synth_overlap = cli_real(PROG, "--synthetic-overlap", arg, 0, 1); break;
    case O_ORDER: a->order = (int)cli_whole(PROG, "--order", arg, 1, 6); break;
    case O_TASKS: a->tasks = arg; break;
    case O_SUBST: a->subst = arg; break;
    case O_TPC: o->train_per_class = (int)cli_whole(PROG, "--train-per-class", arg, 1, 100000); break;
    case O_TPT: o->test_per_task = (int)cli_whole(PROG, "--test-per-task", arg, 1, 1000000); break;
    case O_MAXLEN: o->max_len = (int)cli_whole(PROG, "--max-len", arg, 16, 8192); break;
    case O_BASE: a->base = arg; break;
    case O_METHOD:
        if (cl_method_parse(arg, &o->method))
            cli_usage_error(PROG, "--method must be seqlora, inclora, olora, nlora or olora+nlora",
                            arg);
        break;
    case O_PEN:
        if (!strcmp(arg, "code")) o->penalty_code = 1;
        else if (!strcmp(arg, "paper")) o->penalty_code = 0;
        else if (!strcmp(arg, "auto")) o->penalty_code = -1;
        else cli_usage_error(PROG, "--penalty must be auto, code or paper", arg);
        break;
    case O_LAM: a->lambda = arg; break;
    case O_LORTH: o->lambda_orth = cli_real(PROG, "--lambda-orth", arg, 0, 1e6); break;
    case O_LL2: o->lambda_l2 = cli_real(PROG, "--lambda-l2", arg, 0, 1e6); break;
    case O_RANK: o->rank = (int)cli_whole(PROG, "--rank", arg, 1, 1024); break;
    case O_ALPHA: o->alpha = cli_real(PROG, "--alpha", arg, 1e-6, 1e6); break;
    case O_DROP: o->dropout = cli_real(PROG, "--dropout", arg, 0, 0.9); break;
    case O_TARGETS: {
        char *copy = strdup(arg), *items[16];
        int n = split(copy, items, 16);
        o->targets = 0;
        for (int i = 0; i < n; i++) {
            cl_proj p;
            if (cl_proj_parse(items[i], &p))
                cli_usage_error(PROG, "--targets: unknown projection (q k v o gate up down)",
                                items[i]);
            o->targets |= 1u << p;
        }
        free(copy);
        if (!o->targets)
            cli_usage_error(PROG, "--targets is empty", arg);
        break;
    }
    case O_EPOCHS: o->epochs = (int)cli_whole(PROG, "--epochs", arg, 1, 10000); break;
    case O_BATCH: o->batch = (int)cli_whole(PROG, "--batch", arg, 1, 4096); break;
    case O_LR: o->lr = cli_real(PROG, "--lr", arg, 1e-9, 1); break;
    case O_SEED: o->seed = (uint64_t)cli_whole(PROG, "--seed", arg, 0, 1L << 52); break;
    case O_SNAP: o->snapshot_every = (int)cli_whole(PROG, "--snapshot-every", arg, 0, 1 << 30); break;
    case O_MAXNEW: o->max_new = (int)cli_whole(PROG, "--max-new", arg, 1, 64); break;
    case O_RESUME: a->resume = arg; break;
    }
}

/* The summary on stdout: what was trained and the accuracy matrices, as the
 * tables summary (a row per protocol, the headline first) and accuracy. */
static void report(cli *c, cl_store *s, const char *store, const cl_train_summary *sum)
{
    static const cl_eval prot[] = {CL_EVAL_RANKED, CL_EVAL_GENERATE}; /* headline first */
    static const char *sc[] = {"store", "method", "protocol", "headline:i", "aa:f", "steps:i",
                               "seconds:f", "tokens_per_s:f", "finished_before:i"};
    static const char *ac[] = {"store", "protocol", "after_task:i", "after_name", "task:i", "name",
                               "accuracy:f", "stderr:f"};
    cli_table *ts = cli_table_get(c, "summary", sc, 9);
    cli_table *ta = cli_table_get(c, "accuracy", ac, 8);
    int T = cl_store_n_tasks(s);
    for (int e = 0; e < 2; e++) {
        const double *R = cl_store_accuracy(s, prot[e]);
        cli_row_begin(ts);
        cli_cell_s(ts, store);
        cli_cell_s(ts, cl_store_meta(s)->method);
        cli_cell_s(ts, cl_eval_name(prot[e]));
        cli_cell_i(ts, e == 0);
        cli_cell_f(ts, sum->aa[prot[e]]);
        cli_cell_i(ts, sum->steps);
        cli_cell_f(ts, sum->seconds);
        cli_cell_f(ts, sum->tokens_per_s);
        cli_cell_i(ts, sum->finished_before);
        for (int i = 0; i < T; i++)
            for (int k = 0; k < T; k++) {
                cli_row_begin(ta);
                cli_cell_s(ta, store);
                cli_cell_s(ta, cl_eval_name(prot[e]));
                cli_cell_i(ta, i);
                cli_cell_s(ta, cl_store_task_name(s, i));
                cli_cell_i(ta, k);
                cli_cell_s(ta, cl_store_task_name(s, k));
                cli_cell_f(ta, R[i * T + k]);
                cli_cell_f(ta, cl_acc_stderr(R[i * T + k], cl_store_task_n_test(s, k)));
            }
    }
    if (!cli_text(c))
        return;
    if (sum->finished_before)
        printf("%s [%s]: finished earlier (%lld steps); nothing trained or written now\n", store,
               cl_store_meta(s)->method, (long long)sum->steps);
    else
        printf("wrote %s [%s]: %lld steps, %.0f s, %.0f tokens/s\n", store,
               cl_store_meta(s)->method, (long long)sum->steps, sum->seconds, sum->tokens_per_s);
    int w = 11;
    for (int k = 0; k < T; k++)
        w = (int)strlen(cl_store_task_name(s, k)) > w ? (int)strlen(cl_store_task_name(s, k)) : w;
    for (int e = 0; e < 2; e++) {
        const double *R = cl_store_accuracy(s, prot[e]);
        printf("%s accuracy R[i][j] (%%, ± binomial standard error), row i = after task i%s:\n%-*s",
               cl_eval_name(prot[e]), e == 0 ? " (headline)" : "", w, "");
        for (int k = 0; k < T; k++)
            printf(" %*s", w, cl_store_task_name(s, k));
        printf("\n");
        for (int i = 0; i < T; i++) {
            printf("%-*s", w, cl_store_task_name(s, i));
            for (int k = 0; k < T; k++) {
                double p = R[i * T + k], se = cl_acc_stderr(p, cl_store_task_n_test(s, k));
                char cell[32];
                if (isnan(p))
                    snprintf(cell, sizeof cell, "-");
                else
                    snprintf(cell, sizeof cell, "%.1f±%.1f", 100 * p, 100 * se);
                /* ± is two bytes and one column */
                printf(" %*s", w + (isnan(p) ? 0 : 1), cell);
            }
            printf("\n");
        }
        printf("AA %.1f%% (%s, mean of the last row)\n", 100 * sum->aa[prot[e]],
               cl_eval_name(prot[e]));
    }
}

int main(int argc, char **argv)
{
    ck_blas_single_thread(); /* one thread pool (kernels/layers/layers.h) */
    args A = {0};
    cl_train_defaults(&A.o);
    const cli_spec spec = {.name = PROG,
                           .synopsis = "-o STORE [options]",
                           .summary = SUMMARY,
                           .details = DETAILS,
                           .opts = options,
                           .common = CLI_C_FORCE | CLI_C_TABLE,
                           .formats = "the summary (table summary, a row per\n"
                                      "protocol) and the accuracy matrices (table accuracy)",
                           .primary = "summary",
                           .min_args = 0,
                           .max_args = 0};
    cli_args ca;
    cli_parse(&spec, argc, argv, on_opt, &A, &ca);
    cl_train_opts o = A.o;
    const char *out = A.out, *resume = A.resume, *data = A.data, *tasks = A.tasks;
    const char *subst = A.subst, *lambda = A.lambda, *base = A.base, *setting = A.setting;
    int order = A.order, quiet = ca.quiet;
    o.progress = ca.progress;
    cl_error err;
    cl_train_summary sum;
    const char *store = resume ? resume : out;
    int rc;
    if (resume) {
        if (out)
            cli_usage_error(PROG, "--resume takes the store; -o does not apply", NULL);
        if (setting) {
            char what[96];
            snprintf(what, sizeof what, "--%s", setting);
            cli_usage_error(PROG, "--resume continues with the settings stored in the store; "
                            "this option does not apply (-o STORE --force starts it again with "
                            "other settings)", what);
        }
        rc = cl_train_resume(resume, o.progress, &sum, &err);
        if (!rc && sum.finished_before)
            fprintf(stderr, "collide-train: %s: finished: all %d tasks trained; nothing to do\n",
                    resume, sum.tasks_done);
    } else {
        if (!out)
            cli_usage_error(PROG, "-o STORE is required (or --resume STORE)", NULL);
        /* refused now, not after minutes of pretraining a base */
        if (access(out, F_OK) == 0 && !ca.force) {
            fprintf(stderr, "collide-train: %s: already exists; continue it with --resume %s, "
                            "or --force to train it again from scratch\n", out, out);
            return 1;
        }
        if (cli_output_check(PROG, out, ca.force, NULL, 0))
            return 1;
        /* the tasks, their data and lambdas: planned as collide-reproduce
         * plans them (model/plan.c), every name checked before anything */
        const cl_task_plan plan = {.order = order, .tasks = tasks, .substitute = subst,
                                   .lambda = lambda};
        if (cl_train_plan(&o, &plan, &err))
            cli_usage_error(PROG, err.msg, NULL);
        if (o.synthetic) {
            o.data_dir[0] = 0;
        } else if ((rc = cl_bench_find_root(data, o.data_dir, sizeof o.data_dir, &err))) {
            fprintf(stderr, "collide-train: %s\n", err.msg);
            return 1;
        }
        /* the base: the one given, or the committed one wherever this is run
         * from (said on stderr), or one pretrained into out/ (said first) */
        if (base) {
            snprintf(o.base_dir, sizeof o.base_dir, "%s", base);
        } else if ((rc = cl_pretrain_default_base(PROG, "out", o.synthetic ? NULL : o.data_dir,
                                                  o.synthetic, quiet, o.progress, o.base_dir,
                                                  sizeof o.base_dir, &err))) {
            fprintf(stderr, "collide-train: %s\n", err.msg);
            return 1;
        }
        o.replace = ca.force; /* removed by the trainer once every setting has passed */
        rc = cl_train_run(&o, out, &sum, &err);
    }
    if (rc) {
        fprintf(stderr, "collide-train: %s\n", err.msg);
        return rc == CL_ERR_ARG ? 2 : 1;
    }
    /* the accuracy matrix, from the store as written */
    cl_store *s;
    /* this process has just written (or checked) it: no throw-away child */
    if (cl_store_open_with(store, CL_STORE_NO_CHILD, &s, &err)) {
        fprintf(stderr, "collide-train: %s\n", err.msg);
        return 1;
    }
    cli c;
    cli_init_defaults(&c, PROG, stdout);
    c.format = ca.format;
    c.table = ca.table;
    c.primary = "summary";
    report(&c, s, store, &sum);
    cl_store_close(s, NULL);
    return cli_finish(&c, CLI_EXIT_OK);
}
