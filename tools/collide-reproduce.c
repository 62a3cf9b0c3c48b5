/* collide-reproduce -- the paper's experiments and tables, with ours beside. */
#include "benchmark.h"
#include "cli.h"
#include "families.h"
#include "layers.h"
#include "llama.h"
#include "plot.h"
#include "pretrain.h"
#include "reproduce.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-reproduce";



static const char *USAGE =
    "usage: collide-reproduce [--quick] -o DIR [options]\n"
    "\n"
    "Run the paper's experiments with collide-train and write the paper's tables with our\n"
    "numbers beside the published ones (DIR/tables.md, DIR/tables.tex), the stores\n"
    "(DIR/stores/), a full report of each (DIR/report.txt) and the figures (DIR/figures/).\n"
    "\n"
    "  --quick              the small experiment (the main job) on order 1 of the real\n"
    "                       data when found (yahoo's missing data replaced and recorded),\n"
    "                       the synthetic benchmark otherwise: inclora, olora and nlora at\n"
    "                       their defaults, and an N-LoRA lambda sweep at smaller caps. On\n"
    "                       the real data its caps are 150 examples a class, 2 epochs and\n"
    "                       inputs of 128 tokens (options given win). Without --quick:\n"
    "                       seqlora, inclora, olora and nlora on orders 1-6, and the sweep.\n"
    "  -o, --output DIR     where everything goes (required)\n"
    "  --data DIR           the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
    "                       ../shared/datasets/CL_Benchmark)\n"
    "  --synthetic          the synthetic benchmark even when real data is found\n"
    "  --base DIR           the base model (default: on the real data the committed\n"
    "                       model/base of the checkout collide was built from, whatever\n"
    "                       the working directory, else DIR/base; on the synthetic\n"
    "                       DIR/base-synthetic; pretrained on first use; stderr says which)\n"
    "  --train-per-class N --test-per-task N --epochs N --lr X --max-len N --targets q,v\n"
    "                       training settings (collide-train's defaults otherwise)\n"
    "  --sweep-train-per-class N\n"
    "                       the N-LoRA lambda sweep's cap (default 100 on the real data,\n"
    "                       with 100 test examples a task; 150 on the synthetic; at most\n"
    "                       the runs' own)\n"
    "  --threshold M:V      scale-free threshold for the tables (default energy:0.99); an\n"
    "                       absolute one is derived from the IncLoRA run and shown beside\n"
    "  --quiet              no progress on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Running again continues: finished runs are kept, unfinished ones resumed task by task.\n"
    "Exit status: 0 success, 1 failure, 2 bad usage, 3 everything written but the images\n"
    "(gnuplot missing: apt-get install gnuplot-nox).\n";



/* The full text report of every finished store, into DIR/report.txt. */
static int write_report(const cl_repro_opts *o, cl_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/report.txt", o->dir);
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (rc)
        return rc;
    cli c;
    cli_init_defaults(&c, "collide-reproduce", cl_atomic_fp(af));
    for (int i = 0; i < o->n_runs && !rc; i++) {
        cl_store *s;
        if (access(o->runs[i].store, F_OK) != 0)
            continue;
        if ((rc = cl_store_open(o->runs[i].store, &s, err)))
            break;
        rc = fam_report(&c, s, err);
        cl_store_close(s, NULL);
    }
    c.format = CLI_TEXT;
    cli_finish(&c, 0);
    if (rc) {
        cl_atomic_abort(af);
        return rc;
    }
    return cl_atomic_commit(af, err);
}

/* Figures 1 to 5 of collide-plot into DIR/figures: forgetting against
 * density (every run, the sweep included) at the absolute threshold and at
 * th, two panels; the collision map and nuclear norms of the O-LoRA and
 * N-LoRA runs side by side; collision against orthogonality of every run;
 * the accuracy matrices (both protocols) of the three default runs. */
static int draw_figures(const cl_repro_opts *o, const cl_threshold *th, double abs_eps,
                        int *no_image, cl_error *err)
{
    char *stores[CL_REPRO_MAX_RUNS], *pair[2], *main3[CL_REPRO_MAX_RUNS];
    int n = 0, np = 0, n3 = 0;
    for (int i = 0; i < o->n_runs; i++) {
        if (cl_repro_store_state(o->runs[i].store) != 1)
            continue;
        stores[n++] = (char *)o->runs[i].store;
        if (!o->runs[i].sweep)
            main3[n3++] = (char *)o->runs[i].store;
        if ((o->runs[i].method == CL_M_OLORA || o->runs[i].method == CL_M_NLORA) && np < 2 &&
            !o->runs[i].sweep)
            pair[np++] = (char *)o->runs[i].store;
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/figures", o->dir);
    static const char *figs[] = {"forgetting-sparsity", "collision-map", "nuclear-norm",
                                 "collision-orthogonality", "accuracy-matrix"};
    cl_threshold abs_th = {.mode = CL_TH_ABS, .value = abs_eps};
    *no_image = 0;
    for (int k = 0; k < 5; k++) {
        const char *why = NULL;
        int pairwise = k == 1 || k == 2;
        char **list = pairwise && np == 2 ? pair : k == 4 ? main3 : stores;
        int nl = pairwise && np == 2 ? 2 : k == 4 ? n3 : n;
        int rc = k == 0 && !isnan(abs_eps)
                     ? plot_draw2(figs[k], list, nl, dir, &abs_th, th, &why, err)
                     : plot_draw(figs[k], list, nl, dir, th, &why, err);
        if (rc)
            return rc;
        if (why) {
            *no_image = 1;
            fprintf(stderr, "collide-reproduce: %s: no image (%s); its data file is written\n",
                    figs[k], why);
        }
    }
    return CL_OK;
}

int main(int argc, char **argv)
{
    ck_blas_single_thread();
    cl_repro_opts o;
    memset(&o, 0, sizeof o);
    cl_train_defaults(&o.train);
    const char *data = NULL, *base = NULL, *th_text = CL_THRESHOLD_DEFAULT;
    int quiet = 0, set_tpc = 0, set_epochs = 0, set_maxlen = 0;
    enum { O_QUICK = 256, O_DATA, O_SYN, O_BASE, O_TPC, O_TPT, O_EPOCHS, O_LR, O_MAXLEN,
           O_TARGETS, O_TH, O_QUIET, O_SWEEP_TPC };
    static const struct option lo[] = {
        {"quick", no_argument, 0, O_QUICK},      {"output", required_argument, 0, 'o'},
        {"data", required_argument, 0, O_DATA},  {"synthetic", no_argument, 0, O_SYN},
        {"base", required_argument, 0, O_BASE},  {"train-per-class", required_argument, 0, O_TPC},
        {"test-per-task", required_argument, 0, O_TPT},
        {"epochs", required_argument, 0, O_EPOCHS}, {"lr", required_argument, 0, O_LR},
        {"max-len", required_argument, 0, O_MAXLEN}, {"targets", required_argument, 0, O_TARGETS},
        {"threshold", required_argument, 0, O_TH}, {"quiet", no_argument, 0, O_QUIET},
        {"sweep-train-per-class", required_argument, 0, O_SWEEP_TPC},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    opterr = 0;
    int c;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'o': out = optarg; break;
        case O_QUICK: o.quick = 1; break;
        case O_DATA: data = optarg; break;
        case O_SYN: o.train.synthetic = 1; break;
        case O_BASE: base = optarg; break;
        case O_TPC:
            o.train.train_per_class = (int)cli_whole(PROG, "--train-per-class", optarg, 1, 100000);
            set_tpc = 1;
            break;
        case O_TPT:
            o.train.test_per_task = (int)cli_whole(PROG, "--test-per-task", optarg, 1, 1000000);
            break;
        case O_EPOCHS:
            o.train.epochs = (int)cli_whole(PROG, "--epochs", optarg, 1, 1000);
            set_epochs = 1;
            break;
        case O_LR: {
            char *end;
            o.train.lr = strtod(optarg, &end);
            if (end == optarg || *end || !(o.train.lr > 0 && o.train.lr < 1))
                cli_usage_error(PROG, "--lr must be in (0, 1)", optarg);
            break;
        }
        case O_MAXLEN:
            o.train.max_len = (int)cli_whole(PROG, "--max-len", optarg, 16, 8192);
            set_maxlen = 1;
            break;
        case O_TARGETS: {
            char *copy = strdup(optarg), *save = NULL;
            o.train.targets = 0;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                cl_proj p;
                if (cl_proj_parse(t, &p))
                    cli_usage_error(PROG, "--targets: unknown projection", t);
                o.train.targets |= 1u << p;
            }
            free(copy);
            break;
        }
        case O_TH: th_text = optarg; break;
        case O_SWEEP_TPC:
            o.sweep_train_per_class =
                (int)cli_whole(PROG, "--sweep-train-per-class", optarg, 1, 100000);
            break;
        case O_QUIET: quiet = 1; break;
        default: cli_usage_error(PROG, "unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        cli_usage_error(PROG, "unexpected argument", argv[optind]);
    if (!out)
        cli_usage_error(PROG, "-o DIR is required", NULL);
    cl_threshold th;
    cl_error err;
    if (cl_threshold_parse(th_text, &th, &err))
        cli_usage_error(PROG, err.msg, NULL);
    snprintf(o.dir, sizeof o.dir, "%s", out);
    o.progress = !quiet && isatty(2);
    /* real data when found, the synthetic benchmark otherwise */
    if (!o.train.synthetic &&
        cl_bench_find_root(data, o.train.data_dir, sizeof o.train.data_dir, &err) != CL_OK) {
        if (data) {
            fprintf(stderr, "collide-reproduce: %s\n", err.msg);
            return 1;
        }
        if (o.progress)
            fprintf(stderr, "collide-reproduce: no benchmark data found; using the synthetic "
                            "benchmark\n");
        o.train.synthetic = 1;
    }
    if (o.train.synthetic)
        o.train.data_dir[0] = 0;
    /* --quick on the real data: the caps that fit 15 minutes on 2 cores and
     * still learn every task of order 1 (docs/RESULTS.md); options given win */
    if (o.quick && !o.train.synthetic) {
        if (!set_tpc)
            o.train.train_per_class = 150;
        if (!set_epochs)
            o.train.epochs = 2;
        if (!set_maxlen)
            o.train.max_len = 128;
    }
    /* the sweep's smaller caps: 100 a class and 100 test examples on the real
     * data, 150 a class on the synthetic; never more than the runs' own */
    if (!o.sweep_train_per_class)
        o.sweep_train_per_class = o.train.synthetic ? 150 : 100;
    if (o.sweep_train_per_class > o.train.train_per_class)
        o.sweep_train_per_class = o.train.train_per_class;
    o.sweep_test_per_task = o.train.synthetic ? o.train.test_per_task : 100;
    if (o.sweep_test_per_task > o.train.test_per_task)
        o.sweep_test_per_task = o.train.test_per_task;
    int rc = cl_repro_plan(&o, &err);
    /* the base: the one given (pretrained into it when it holds none), or the
     * committed one wherever this is run from, or DIR/base(-synthetic);
     * stderr says which, and always when one is to be pretrained */
    if (!rc && base) {
        snprintf(o.train.base_dir, sizeof o.train.base_dir, "%s", base);
        char cfg[4200];
        snprintf(cfg, sizeof cfg, "%s/config.json", base);
        if (!cl_pretrain_is_done(base) && access(cfg, F_OK) != 0) {
            cl_pretrain_opts po;
            cl_pretrain_defaults(&po, o.train.synthetic);
            double min = cl_pretrain_minutes(o.train.synthetic);
            fprintf(stderr, "collide-reproduce: no base at --base %s: pretraining one there "
                            "first (%d steps, about %.*f minutes on 2 cores)\n",
                    base, po.max_steps, min < 10 ? 1 : 0, min);
            rc = cl_pretrain_ensure(o.train.base_dir, o.train.data_dir, o.train.synthetic,
                                    o.progress, &err);
        }
    } else if (!rc) {
        rc = cl_pretrain_default_base(PROG, o.dir, o.train.data_dir, o.train.synthetic, quiet,
                                      o.progress, o.train.base_dir, sizeof o.train.base_dir, &err);
    }
    if (!rc)
        rc = cl_repro_train(&o, &err);
    double abs_eps = NAN;
    if (!rc)
        rc = cl_repro_tables(&o, &th, &abs_eps, &err);
    if (!rc)
        rc = write_report(&o, &err);
    int no_image = 0;
    if (!rc)
        rc = draw_figures(&o, &th, abs_eps, &no_image, &err);
    if (rc) {
        fprintf(stderr, "collide-reproduce: %s\n", err.msg);
        return 1;
    }
    printf("collide-reproduce: wrote\n  %s/tables.md and %s/tables.tex  (the paper's tables, ours beside)\n"
           "  %s/report.txt                  (every metric of every store)\n"
           "  %s/figures/                    (figures 1-5: PNG and CSV)\n"
           "  %s/stores/                     (%d stores)\n",
           o.dir, o.dir, o.dir, o.dir, o.dir, o.n_runs);
    return no_image ? PLOT_EXIT_NO_IMAGE : 0;
}
