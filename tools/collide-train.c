/* collide-train -- learn a task sequence with LoRA, every snapshot stored. */
#include "benchmark.h"
#include "cli.h"
#include "layers.h"
#include "llama.h"
#include "pretrain.h"
#include "trainer.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-train";

static const char *USAGE =
    "usage: collide-train -o STORE [options]\n"
    "       collide-train --resume STORE\n"
    "\n"
    "Learn a sequence of tasks with LoRA on a base model and write every adapter snapshot,\n"
    "the accuracy matrix and the baselines to STORE (docs/FORMAT.md).\n"
    "\n"
    "data:\n"
    "  --data DIR             the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
    "                         ../shared/datasets/CL_Benchmark)\n"
    "  --synthetic            the built-in synthetic benchmark (tasks synth1..synth6)\n"
    "  --synthetic-overlap X  keyword overlap between synthetic tasks (default 0.3)\n"
    "  --order N              the paper's order 1..6 (default 1; 4 synthetic tasks with\n"
    "                         --synthetic)\n"
    "  --tasks a,b,c          or these tasks, in this order\n"
    "  --substitute a=b,...   train and test task a on task b's data (recorded in the store)\n"
    "  --train-per-class N    training examples per class (default 250; the paper used 1000)\n"
    "  --test-per-task N      test examples per task (default 200)\n"
    "  --max-len N            tokens per example; longer texts are cut (default 192)\n"
    "\n"
    "model and method:\n"
    "  --base DIR             a base in the Hugging Face layout (default: the committed base\n"
    "                         model/base of the checkout collide was built from, whatever\n"
    "                         the working directory, else out/base; with --synthetic,\n"
    "                         out/base-synthetic; trained by collide-pretrain on first use;\n"
    "                         stderr says which, and when it will pretrain one)\n"
    "  --method M             seqlora, inclora, olora, nlora or olora+nlora (default inclora)\n"
    "  --penalty F            auto (default), code or paper: which form of the penalties\n"
    "                         (docs/METRICS.md, \"the paper and its code disagree\"); auto\n"
    "                         is the released code's form, which produced the published\n"
    "                         numbers, when every target is square, the paper's otherwise\n"
    "  --lambda X | t=X,...   N-LoRA lambda, one value or per task (default 0.4)\n"
    "  --lambda-orth X        O-LoRA lambda1 (default 0.5)\n"
    "  --lambda-l2 X          O-LoRA lambda2, code form only (default 0)\n"
    "  --rank R --alpha A     LoRA rank and alpha (default 8, 32)\n"
    "  --dropout P            LoRA dropout (default 0.1)\n"
    "  --targets q,k,v,o      projections to adapt: q k v o gate up down (default q,k,v,o;\n"
    "                         the papers used q,v, which learn nothing on the small bases)\n"
    "  --epochs N --batch N --lr X   (default 5, 8, 2e-3; constant learning rate)\n"
    "  --seed N               (default 1)\n"
    "  --snapshot-every K     a snapshot every K steps, and one at each task end (default 25)\n"
    "  --max-new N            tokens generated when evaluating (default 12)\n"
    "\n"
    "  -o, --output STORE     the store to create (refused if it exists)\n"
    "  --resume STORE         continue an interrupted run from its last complete snapshot,\n"
    "                         with the settings stored in it (other options are refused); a\n"
    "                         finished run is left untouched (\"finished: ...; nothing to do\")\n"
    "  --format F             text (default) or json summary on stdout\n"
    "  --quiet                no progress on stderr\n"
    "  -h, --help             this help\n"
    "\n"
    "After each task every task of the order is evaluated (greedy generation, exact match of\n"
    "the normalised answer). With a fixed seed and OMP_NUM_THREADS=1 two runs give the same\n"
    "store, and a resumed run the same store as an uninterrupted one (wall times aside).\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";




/* Is s a task of the synthetic benchmark (synth1..synth6)? */
static int synth_task(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, cl_synth_bench_name(i)))
            return 1;
    return 0;
}

/* Split a comma list into at most max items. */
static int split(char *s, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    return n;
}

int main(int argc, char **argv)
{
    ck_blas_single_thread(); /* one thread pool (kernels/layers/layers.h) */
    cl_train_opts o;
    cl_train_defaults(&o);
    const char *out = NULL, *resume = NULL, *data = NULL, *tasks = NULL, *subst = NULL;
    const char *lambda = NULL, *base = NULL;
    int json = 0, quiet = 0, order = 0;
    enum { O_DATA = 256, O_SYN, O_SOV, O_ORDER, O_TASKS, O_SUBST, O_TPC, O_TPT, O_MAXLEN, O_BASE,
           O_METHOD, O_PEN, O_LAM, O_LORTH, O_LL2, O_RANK, O_ALPHA, O_DROP, O_TARGETS, O_EPOCHS,
           O_BATCH, O_LR, O_SEED, O_SNAP, O_MAXNEW, O_RESUME, O_FMT, O_QUIET };
    static const struct option lo[] = {
        {"data", required_argument, 0, O_DATA},      {"synthetic", no_argument, 0, O_SYN},
        {"synthetic-overlap", required_argument, 0, O_SOV},
        {"order", required_argument, 0, O_ORDER},    {"tasks", required_argument, 0, O_TASKS},
        {"substitute", required_argument, 0, O_SUBST},
        {"train-per-class", required_argument, 0, O_TPC},
        {"test-per-task", required_argument, 0, O_TPT}, {"max-len", required_argument, 0, O_MAXLEN},
        {"base", required_argument, 0, O_BASE},      {"method", required_argument, 0, O_METHOD},
        {"penalty", required_argument, 0, O_PEN},    {"lambda", required_argument, 0, O_LAM},
        {"lambda-orth", required_argument, 0, O_LORTH}, {"lambda-l2", required_argument, 0, O_LL2},
        {"rank", required_argument, 0, O_RANK},      {"alpha", required_argument, 0, O_ALPHA},
        {"dropout", required_argument, 0, O_DROP},   {"targets", required_argument, 0, O_TARGETS},
        {"epochs", required_argument, 0, O_EPOCHS},  {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},          {"seed", required_argument, 0, O_SEED},
        {"snapshot-every", required_argument, 0, O_SNAP},
        {"max-new", required_argument, 0, O_MAXNEW}, {"resume", required_argument, 0, O_RESUME},
        {"output", required_argument, 0, 'o'},       {"format", required_argument, 0, O_FMT},
        {"quiet", no_argument, 0, O_QUIET},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    opterr = 0;
    int c, li;
    const char *setting = NULL; /* the first training setting given (refused with --resume) */
    while ((li = -1, c = getopt_long(argc, argv, "o:h", lo, &li)) != -1) {
        if (!setting && li >= 0 && c != O_RESUME && c != O_QUIET && c != O_FMT && c != 'h')
            setting = lo[li].name;
        switch (c) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'o': out = optarg; break;
        case O_DATA: data = optarg; break;
        case O_SYN: o.synthetic = 1; break;
        case O_SOV: o.synth_overlap = cli_real(PROG, "--synthetic-overlap", optarg, 0, 1); break;
        case O_ORDER: order = (int)cli_whole(PROG, "--order", optarg, 1, 6); break;
        case O_TASKS: tasks = optarg; break;
        case O_SUBST: subst = optarg; break;
        case O_TPC:
            o.train_per_class = (int)cli_whole(PROG, "--train-per-class", optarg, 1, 100000);
            break;
        case O_TPT:
            o.test_per_task = (int)cli_whole(PROG, "--test-per-task", optarg, 1, 1000000);
            break;
        case O_MAXLEN: o.max_len = (int)cli_whole(PROG, "--max-len", optarg, 16, 8192); break;
        case O_BASE: base = optarg; break;
        case O_METHOD:
            if (cl_method_parse(optarg, &o.method))
                cli_usage_error(PROG,
                    "--method must be seqlora, inclora, olora, nlora or olora+nlora", optarg);
            break;
        case O_PEN:
            if (!strcmp(optarg, "code")) o.penalty_code = 1;
            else if (!strcmp(optarg, "paper")) o.penalty_code = 0;
            else if (!strcmp(optarg, "auto")) o.penalty_code = -1;
            else cli_usage_error(PROG, "--penalty must be auto, code or paper", optarg);
            break;
        case O_LAM: lambda = optarg; break;
        case O_LORTH: o.lambda_orth = cli_real(PROG, "--lambda-orth", optarg, 0, 1e6); break;
        case O_LL2: o.lambda_l2 = cli_real(PROG, "--lambda-l2", optarg, 0, 1e6); break;
        case O_RANK: o.rank = (int)cli_whole(PROG, "--rank", optarg, 1, 1024); break;
        case O_ALPHA: o.alpha = cli_real(PROG, "--alpha", optarg, 1e-6, 1e6); break;
        case O_DROP: o.dropout = cli_real(PROG, "--dropout", optarg, 0, 0.9); break;
        case O_TARGETS: {
            char *copy = strdup(optarg), *items[16];
            int n = split(copy, items, 16);
            o.targets = 0;
            for (int i = 0; i < n; i++) {
                cl_proj p;
                if (cl_proj_parse(items[i], &p))
                    cli_usage_error(PROG,
                        "--targets: unknown projection (q k v o gate up down)", items[i]);
                o.targets |= 1u << p;
            }
            free(copy);
            if (!o.targets)
                cli_usage_error(PROG, "--targets is empty", optarg);
            break;
        }
        case O_EPOCHS: o.epochs = (int)cli_whole(PROG, "--epochs", optarg, 1, 10000); break;
        case O_BATCH: o.batch = (int)cli_whole(PROG, "--batch", optarg, 1, 4096); break;
        case O_LR: o.lr = cli_real(PROG, "--lr", optarg, 1e-9, 1); break;
        case O_SEED: o.seed = (uint64_t)cli_whole(PROG, "--seed", optarg, 0, 1L << 52); break;
        case O_SNAP:
            o.snapshot_every = (int)cli_whole(PROG, "--snapshot-every", optarg, 0, 1 << 30);
            break;
        case O_MAXNEW: o.max_new = (int)cli_whole(PROG, "--max-new", optarg, 1, 64); break;
        case O_RESUME: resume = optarg; break;
        case O_FMT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (strcmp(optarg, "text"))
                cli_usage_error(PROG, "--format must be text or json", optarg);
            break;
        case O_QUIET: quiet = 1; break;
        default: cli_usage_error(PROG, "unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        cli_usage_error(PROG, "unexpected argument", argv[optind]);
    o.progress = !quiet && isatty(2);
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
                            "this option does not apply (remove the store to start again with "
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
        if (access(out, F_OK) == 0) {
            fprintf(stderr, "collide-train: %s: already exists; remove it or continue it with "
                            "--resume %s\n", out, out);
            return 1;
        }
        /* the tasks: an order, a list, or the synthetic benchmark */
        if (tasks && order)
            cli_usage_error(PROG, "--order and --tasks exclude each other", NULL);
        if (order && o.synthetic)
            cli_usage_error(PROG, "--order names the paper's orders of the real benchmark; with "
                            "--synthetic give --tasks synth1,synth2,...", NULL);
        if (tasks) {
            char *copy = strdup(tasks), *items[CL_TRAIN_MAX_TASKS + 1];
            o.n_tasks = split(copy, items, CL_TRAIN_MAX_TASKS + 1);
            if (o.n_tasks == 0 || o.n_tasks > CL_TRAIN_MAX_TASKS)
                cli_usage_error(PROG, o.n_tasks ? "--tasks: more than 64 tasks"
                                                : "--tasks names no task", tasks);
            for (int i = 0; i < o.n_tasks; i++)
                snprintf(o.task[i], sizeof o.task[i], "%s", items[i]);
            free(copy);
        } else if (o.synthetic) {
            o.n_tasks = 4;
            for (int i = 0; i < 4; i++)
                snprintf(o.task[i], sizeof o.task[i], "%s", cl_synth_bench_name(i));
        } else {
            const char *const *names;
            o.order = order ? order : 1;
            cl_order_tasks(o.order, &names, &o.n_tasks);
            for (int i = 0; i < o.n_tasks; i++)
                snprintf(o.task[i], sizeof o.task[i], "%s", names[i]);
        }
        for (int i = 0; i < o.n_tasks; i++) {
            memcpy(o.source[i], o.task[i], sizeof o.source[i]);
            if (!o.synthetic && !cl_task_find(o.task[i]))
                cli_usage_error(PROG,
                                "unknown task (see --help; the benchmark's 15 tasks)", o.task[i]);
            if (o.synthetic && !synth_task(o.task[i]))
                cli_usage_error(PROG, "unknown task (the synthetic benchmark has synth1 to "
                                "synth6)", o.task[i]);
            for (int j = 0; j < i; j++)
                if (!strcmp(o.task[i], o.task[j]))
                    cli_usage_error(PROG, "a task appears twice", o.task[i]);
        }
        if (subst) {
            char *copy = strdup(subst), *items[CL_TRAIN_MAX_TASKS];
            int n = split(copy, items, CL_TRAIN_MAX_TASKS);
            for (int k = 0; k < n; k++) {
                char *eq = strchr(items[k], '=');
                if (!eq)
                    cli_usage_error(PROG, "--substitute takes task=task", items[k]);
                *eq = 0;
                int hit = 0;
                for (int i = 0; i < o.n_tasks; i++)
                    if (!strcmp(o.task[i], items[k])) {
                        if (o.synthetic ? !synth_task(eq + 1) : !cl_task_find(eq + 1))
                            cli_usage_error(PROG, "--substitute: unknown task", eq + 1);
                        snprintf(o.source[i], sizeof o.source[i], "%s", eq + 1);
                        hit = 1;
                    }
                if (!hit)
                    cli_usage_error(PROG, "--substitute: the task is not in the order", items[k]);
            }
            free(copy);
        }
        if (lambda) { /* one value, or task=value pairs */
            char *copy = strdup(lambda), *items[CL_TRAIN_MAX_TASKS];
            int n = split(copy, items, CL_TRAIN_MAX_TASKS);
            for (int k = 0; k < n; k++) {
                char *eq = strchr(items[k], '=');
                if (!eq) {
                    o.lambda_default = cli_real(PROG, "--lambda", items[k], 0, 1e6);
                    continue;
                }
                *eq = 0;
                int hit = 0;
                for (int i = 0; i < o.n_tasks; i++)
                    if (!strcmp(o.task[i], items[k])) {
                        o.lambda[i] = cli_real(PROG, "--lambda", eq + 1, 0, 1e6);
                        hit = 1;
                    }
                if (!hit)
                    cli_usage_error(PROG, "--lambda: the task is not in the order", items[k]);
            }
            free(copy);
        }
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
        rc = cl_train_run(&o, out, &sum, &err);
    }
    if (rc) {
        fprintf(stderr, "collide-train: %s\n", err.msg);
        return rc == CL_ERR_ARG ? 2 : 1;
    }
    /* the accuracy matrix, from the store as written */
    cl_store *s;
    if (cl_store_open(store, &s, &err)) {
        fprintf(stderr, "collide-train: %s\n", err.msg);
        return 1;
    }
    int T = cl_store_n_tasks(s);
    static const cl_eval prot[] = {CL_EVAL_RANKED, CL_EVAL_GENERATE}; /* headline first */
    if (json) {
        json_t *j = json_object(), *names = json_array(), *acc = json_object(), *aa = json_object();
        for (int i = 0; i < T; i++)
            json_array_append_new(names, json_string(cl_store_task_name(s, i)));
        for (int e = 0; e < 2; e++) {
            const double *R = cl_store_accuracy(s, prot[e]);
            json_t *m = json_array();
            for (int i = 0; i < T; i++) {
                json_t *row = json_array();
                for (int k = 0; k < T; k++)
                    json_array_append_new(row, isnan(R[i * T + k]) ? json_null() : json_real(R[i * T + k]));
                json_array_append_new(m, row);
            }
            json_object_set_new(acc, cl_eval_name(prot[e]), m);
            json_object_set_new(aa, cl_eval_name(prot[e]), json_real(sum.aa[prot[e]]));
        }
        json_object_set_new(j, "tool", json_string("collide-train"));
        json_object_set_new(j, "store", json_string(store));
        json_object_set_new(j, "method", json_string(cl_store_meta(s)->method));
        json_object_set_new(j, "tasks", names);
        json_object_set_new(j, "headline_protocol", json_string(cl_eval_name(prot[0])));
        json_object_set_new(j, "accuracy", acc);
        json_object_set_new(j, "aa", aa);
        json_object_set_new(j, "steps", json_integer(sum.steps));
        json_object_set_new(j, "seconds", json_real(sum.seconds));
        json_object_set_new(j, "tokens_per_s", json_real(sum.tokens_per_s));
        json_object_set_new(j, "finished_before", json_boolean(sum.finished_before));
        json_dumpf(j, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(j);
    } else {
        if (sum.finished_before)
            printf("%s [%s]: finished earlier (%lld steps); nothing trained or written now\n",
                   store, cl_store_meta(s)->method, (long long)sum.steps);
        else
            printf("wrote %s [%s]: %lld steps, %.0f s, %.0f tokens/s\n", store,
                   cl_store_meta(s)->method, (long long)sum.steps, sum.seconds, sum.tokens_per_s);
        for (int e = 0; e < 2; e++) {
            const double *R = cl_store_accuracy(s, prot[e]);
            printf("%s accuracy R[i][j] (%%, ± binomial standard error), row i = after task i%s:"
                   "\n%-10s",
                   cl_eval_name(prot[e]), e == 0 ? " (headline)" : "", "");
            for (int k = 0; k < T; k++)
                printf(" %11.11s", cl_store_task_name(s, k));
            printf("\n");
            for (int i = 0; i < T; i++) {
                printf("%-10.10s", cl_store_task_name(s, i));
                for (int k = 0; k < T; k++) {
                    double p = R[i * T + k], se = cl_acc_stderr(p, cl_store_task_n_test(s, k));
                    char cell[32];
                    if (isnan(p))
                        snprintf(cell, sizeof cell, "-");
                    else
                        snprintf(cell, sizeof cell, "%.1f±%.1f", 100 * p, 100 * se);
                    printf(" %11s", cell);
                }
                printf("\n");
            }
            printf("AA %.1f%% (%s, mean of the last row)\n", 100 * sum.aa[prot[e]],
                   cl_eval_name(prot[e]));
        }
    }
    cl_store_close(s, NULL);
    return 0;
}
