/* collide-synth -- write a synthetic adapter store. */
#include "collide.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: collide-synth -o STORE [options]\n"
    "\n"
    "Write a synthetic adapter store with controllable tasks, modules, shapes, density and\n"
    "overlap, plus an accuracy matrix: for demos and tests.\n"
    "\n"
    "options:\n"
    "  -o, --output STORE        the store to write (replaced only once complete)\n"
    "  --tasks T                 tasks (default 4)\n"
    "  --modules M               modules, named layers.L.attn.{q,v} (default 8)\n"
    "  --shape DOUTxDIN          module shape (default 256x256)\n"
    "  --rank R                  LoRA rank (default 8)\n"
    "  --alpha A                 LoRA alpha; scale = alpha / r (default 16)\n"
    "  --density P               fraction of dW's entries each task touches (default 1)\n"
    "  --overlap Q               fraction of a task's rows and columns shared by all tasks\n"
    "                            (default 0.5)\n"
    "  --subspace-overlap S      fraction of A's row space shared by all tasks (default 0)\n"
    "  --snapshots-per-task K    periodic snapshots before each task's end (default 2)\n"
    "  --forgetting F            accuracy lost per later task (default 0.05)\n"
    "  --method NAME             method recorded in the store (default synthetic)\n"
    "  --seed N                  random seed (default 1)\n"
    "  --format F                text (default) or json: what was written\n"
    "  -h, --help                this help\n"
    "\n"
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
    "entries (the default energy:0.99) counts fewer collisions than the supports.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";

static void bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "collide-synth: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'collide-synth --help'.\n");
    exit(2);
}

static double num(const char *opt, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: \"%%s\" is not a number", opt);
        bad(msg, s);
    }
    return v;
}

static int integer(const char *opt, const char *s)
{
    double v = num(opt, s);
    if (v != floor(v) || fabs(v) > 1e9) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: \"%%s\" is not a whole number", opt);
        bad(msg, s);
    }
    return (int)v;
}

/* The expected collision rate of two tasks at their supports, for the
 * generator in libmetrics/synth.c (the formula of --help): the shared pool
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

int main(int argc, char **argv)
{
    cl_synth_spec sp;
    cl_synth_defaults(&sp);
    const char *out = NULL;
    int json = 0;
    enum { O_TASKS = 256, O_MODS, O_SHAPE, O_RANK, O_ALPHA, O_DENS, O_OVER, O_SOVER, O_SNAP,
           O_FORGET, O_METHOD, O_SEED, O_FMT };
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'},   {"tasks", required_argument, 0, O_TASKS},
        {"modules", required_argument, 0, O_MODS}, {"shape", required_argument, 0, O_SHAPE},
        {"rank", required_argument, 0, O_RANK},  {"alpha", required_argument, 0, O_ALPHA},
        {"density", required_argument, 0, O_DENS}, {"overlap", required_argument, 0, O_OVER},
        {"subspace-overlap", required_argument, 0, O_SOVER},
        {"snapshots-per-task", required_argument, 0, O_SNAP},
        {"forgetting", required_argument, 0, O_FORGET}, {"method", required_argument, 0, O_METHOD},
        {"seed", required_argument, 0, O_SEED},  {"format", required_argument, 0, O_FMT},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (o) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'o': out = optarg; break;
        case O_TASKS: sp.tasks = integer("--tasks", optarg); break;
        case O_MODS: sp.modules = integer("--modules", optarg); break;
        case O_SHAPE: {
            long long a, b;
            char x;
            if (sscanf(optarg, "%lld%c%lld", &a, &x, &b) != 3 || (x != 'x' && x != 'X'))
                bad("--shape \"%s\": expected DOUTxDIN, e.g. 1024x1024", optarg);
            sp.d_out = a;
            sp.d_in = b;
            break;
        }
        case O_RANK: sp.rank = integer("--rank", optarg); break;
        case O_ALPHA: sp.alpha = num("--alpha", optarg); break;
        case O_DENS: sp.density = num("--density", optarg); break;
        case O_OVER: sp.overlap = num("--overlap", optarg); break;
        case O_SOVER: sp.subspace_overlap = num("--subspace-overlap", optarg); break;
        case O_SNAP: sp.snapshots_per_task = integer("--snapshots-per-task", optarg); break;
        case O_FORGET: sp.forgetting = num("--forgetting", optarg); break;
        case O_METHOD: sp.method = optarg; break;
        case O_SEED: {
            char *end;
            sp.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end)
                bad("--seed \"%s\": expected a non-negative whole number", optarg);
            break;
        }
        case O_FMT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (strcmp(optarg, "text")) bad("--format \"%s\": expected text or json", optarg);
            break;
        default: bad("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad("unexpected argument '%s'", argv[optind]);
    if (!out)
        bad("%s", "-o STORE is required");
    cl_error err;
    if (cl_synth_write(out, &sp, &err)) {
        fprintf(stderr, "collide-synth: %s\n", err.msg);
        return err.code == CL_ERR_ARG ? 2 : 1;
    }
    int64_t snaps = (int64_t)sp.tasks * (sp.snapshots_per_task + 1);
    double ecr = expected_collision(&sp);
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:f, s:f, s:f, s:I, s:I, s:f}",
                              "tool", "collide-synth", "store", out, "tasks", sp.tasks, "modules",
                              sp.modules, "d_out", (json_int_t)sp.d_out, "d_in",
                              (json_int_t)sp.d_in, "rank", sp.rank, "density", sp.density,
                              "overlap", sp.overlap, "subspace_overlap", sp.subspace_overlap,
                              "snapshots", (json_int_t)snaps, "seed", (json_int_t)sp.seed,
                              "expected_collision_rate", ecr);
        json_dumpf(j, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        printf("wrote %s: %d tasks, %d modules of %lldx%lld, rank %d, density %g, overlap %g, "
               "%lld snapshots\n",
               out, sp.tasks, sp.modules, (long long)sp.d_out, (long long)sp.d_in, sp.rank,
               sp.density, sp.overlap, (long long)snaps);
        printf("expected collision rate of two tasks at their supports (abs:0): %.6g\n", ecr);
    }
    return 0;
}
