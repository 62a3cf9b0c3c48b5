/* collide-synth -- write a synthetic adapter store. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "collide-synth"

static const char *DETAILS =
    "Task t's update is supported on a block of k_r rows x k_c columns (the stripes of a\n"
    "sparse low-rank product), with a = sqrt(density), k_r = max(1, round(a d_out)), k_c =\n"
    "max(1, round(a d_in)): each task's density is k_r k_c / (d_out d_in). Of a task's rows,\n"
    "s_r = round(overlap k_r) are a pool shared by all tasks, drawn once per module; the\n"
    "other K_r = k_r - s_r are drawn at random from the N_r = d_out - s_r rows outside the\n"
    "pool, independently for each task (columns alike; --seed changes every draw). So the\n"
    "expected collision rate of two tasks at their supports (collide-collision --threshold\n"
    "abs:0) is exactly\n"
    "  E[CR] = (s_r + K_r^2 / N_r) (s_c + K_c^2 / N_c) / (d_out d_in)\n"
    "        ~ (overlap a + ((1 - overlap) a)^2 / (1 - overlap a))^2,\n"
    "density^2 at overlap 0 (independent supports) and density at overlap 1; the\n"
    "output prints it. Measured rates scatter around it by the hypergeometric spread of\n"
    "the private draws, less with more modules and tasks. A threshold that drops small\n"
    "entries (the default energy:0.99) counts fewer collisions than the supports.";

static double num(const char *opt, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        cli_usage_errorf(PROG, "%s: \"%s\" is not a number", opt, s);
    }
    return v;
}

static int integer(const char *opt, const char *s)
{
    double v = num(opt, s);
    if (v != floor(v) || fabs(v) > 1e9) {
        cli_usage_errorf(PROG, "%s: \"%s\" is not a whole number", opt, s);
    }
    return (int)v;
}

/* The expected collision rate of two tasks at their supports, for the
 * generator in libmetrics/metrics/synth.c (the formula of --help): the shared pool
 * plus the mean of a hypergeometric overlap of the private draws, rows times
 * columns. */
static double side_overlap(int64_t d, double density, double overlap)
{
    int64_t k = (int64_t)llround(sqrt(density) * (double)d);
    k = k < 1 ? 1 : k;
    int64_t s = (int64_t)llround(overlap * (double)k), K = k - s, N = d - s;
    return (double)s + (N > 0 ? (double)K * (double)K / (double)N : 0.0);
}

static double expected_collision(const cl_synth_spec *sp)
{
    return side_overlap(sp->d_out, sp->density, sp->overlap) *
           side_overlap(sp->d_in, sp->density, sp->overlap) / ((double)sp->d_out * (double)sp->d_in);
}

enum { O_TASKS = 256, O_MODS, O_SHAPE, O_RANK, O_ALPHA, O_DENS, O_OVER, O_SOVER, O_SNAP,
       O_FORGET, O_METHOD, O_SEED };

static const cli_opt options[] = {
    {"output", 'o', "STORE", 0, "the store to write (required; replaced only once complete)"},
    {"tasks", O_TASKS, "T", 0, "tasks (default 4)"},
    {"modules", O_MODS, "M", 0, "modules, named layers.L.attn.{q,v} (default 8)"},
    {"shape", O_SHAPE, "DOUTxDIN", 0, "module shape (default 256x256)"},
    {"rank", O_RANK, "R", 0, "LoRA rank (default 8)"},
    {"alpha", O_ALPHA, "A", 0, "LoRA alpha; scale = alpha / r (default 16)"},
    {"density", O_DENS, "P", 0, "fraction of dW's entries each task touches (default 1)"},
    {"overlap", O_OVER, "Q", 0, "fraction of a task's rows and columns shared by all tasks\n"
                                "(default 0.5)"},
    {"subspace-overlap", O_SOVER, "S", 0, "fraction of A's row space shared by all tasks\n"
                                          "(default 0)"},
    {"snapshots-per-task", O_SNAP, "K", 0, "periodic snapshots before each task's end\n"
                                           "(default 2)"},
    {"forgetting", O_FORGET, "F", 0, "accuracy lost per later task (default 0.05)"},
    {"method", O_METHOD, "NAME", 0, "method recorded in the store (default synthetic)"},
    {"seed", O_SEED, "N", 0, "random seed (default 1)"},
    {0}};

typedef struct opts {
    cl_synth_spec sp;
    const char *out;
} opts;

static void on_opt(void *ctx, int key, const char *arg)
{
    opts *o = ctx;
    cl_synth_spec *sp = &o->sp;
    switch (key) {
    case 'o': o->out = arg; break;
    case O_TASKS: sp->tasks = integer("--tasks", arg); break;
    case O_MODS: sp->modules = integer("--modules", arg); break;
    case O_SHAPE: {
        long long a, b;
        char x, extra;
        if (sscanf(arg, "%lld%c%lld%c", &a, &x, &b, &extra) != 3 || (x != 'x' && x != 'X'))
            cli_usage_errorf(PROG, "--shape \"%s\": expected DOUTxDIN, e.g. 1024x1024", arg);
        sp->d_out = a;
        sp->d_in = b;
        break;
    }
    case O_RANK: sp->rank = integer("--rank", arg); break;
    case O_ALPHA: sp->alpha = num("--alpha", arg); break;
    case O_DENS: sp->density = num("--density", arg); break;
    case O_OVER: sp->overlap = num("--overlap", arg); break;
    case O_SOVER: sp->subspace_overlap = num("--subspace-overlap", arg); break;
    case O_SNAP: sp->snapshots_per_task = integer("--snapshots-per-task", arg); break;
    case O_FORGET: sp->forgetting = num("--forgetting", arg); break;
    case O_METHOD: sp->method = arg; break;
    case O_SEED: {
        char *end;
        sp->seed = strtoull(arg, &end, 10);
        if (end == arg || *end || arg[0] == '-')
            cli_usage_errorf(PROG, "--seed \"%s\": expected a non-negative whole number", arg);
        break;
    }
    }
}

int main(int argc, char **argv)
{
    opts o = {0};
    cl_synth_defaults(&o.sp);
    const cli_spec spec = {.name = PROG,
                           .synopsis = "-o STORE [options]",
                           .summary = "Write a synthetic adapter store with controllable tasks, "
                                      "modules, shapes, density and\noverlap, plus an accuracy "
                                      "matrix: for demos and tests.",
                           .details = DETAILS,
                           .opts = options,
                           .common = CLI_C_FORCE,
                           .formats = "what was written, with the expected\ncollision rate",
                           .min_args = 0,
                           .max_args = 0};
    cli_args ca;
    cli_parse(&spec, argc, argv, on_opt, &o, &ca);
    cl_synth_spec sp = o.sp;
    if (!o.out)
        cli_usage_errorf(PROG, "-o STORE is required");
    cl_error err;
    if (cl_synth_check(&sp, o.out, &err)) { /* bad usage before an existing output */
        fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (cli_output_check(PROG, o.out, ca.force, NULL, 0))
        return CLI_EXIT_FAIL;
    if (cl_synth_write(o.out, &sp, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return err.code == CL_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    int64_t snaps = (int64_t)sp.tasks * (sp.snapshots_per_task + 1);
    double ecr = expected_collision(&sp);
    cli c;
    cli_init_defaults(&c, PROG, stdout);
    c.format = ca.format;
    c.primary = "store";
    static const char *cols[] = {"store",   "tasks:i",   "modules:i",          "d_out:i",
                                 "d_in:i",  "rank:i",    "density:f",          "overlap:f",
                                 "subspace_overlap:f",   "snapshots:i",        "seed:i",
                                 "expected_collision_rate:f"};
    cli_table *t = cli_table_get(&c, "store", cols, 12);
    cli_row_begin(t);
    cli_cell_s(t, o.out);
    cli_cell_i(t, sp.tasks);
    cli_cell_i(t, sp.modules);
    cli_cell_i(t, sp.d_out);
    cli_cell_i(t, sp.d_in);
    cli_cell_i(t, sp.rank);
    cli_cell_f(t, sp.density);
    cli_cell_f(t, sp.overlap);
    cli_cell_f(t, sp.subspace_overlap);
    cli_cell_i(t, (int64_t)snaps);
    cli_cell_i(t, (int64_t)sp.seed);
    cli_cell_f(t, ecr);
    if (ca.format == CLI_TEXT) {
        printf("wrote %s: %d tasks, %d modules of %lldx%lld, rank %d, density %g, overlap %g, "
               "%lld snapshots\n",
               o.out, sp.tasks, sp.modules, (long long)sp.d_out, (long long)sp.d_in, sp.rank,
               sp.density, sp.overlap, (long long)snaps);
        printf("expected collision rate of two tasks at their supports (abs:0): %.6g\n", ecr);
    }
    return cli_finish(&c, CLI_EXIT_OK);
}
