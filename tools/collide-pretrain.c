/* collide-pretrain -- train the embedded base from scratch. */
#include "benchmark.h"
#include "cli.h"
#include "layers.h"
#include "pretrain.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-pretrain";

static const char *USAGE =
    "usage: collide-pretrain -o DIR [options]\n"
    "\n"
    "Train a small LLaMA-architecture base from scratch, as a language model on the unlabeled\n"
    "training-split text of the continual-learning benchmark (labels never seen; no example\n"
    "that any test split may use), or of the built-in synthetic benchmark. Writes DIR in the\n"
    "Hugging Face layout: config.json, model.safetensors, tokenizer.json, and pretrain.json\n"
    "(written last). A finished DIR is reused unless --force.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR     where the base goes (required)\n"
    "  --data DIR           the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
    "                       ../shared/datasets/CL_Benchmark)\n"
    "  --synthetic          train on the synthetic benchmark's text instead\n"
    "  --vocab N            tokenizer vocabulary (default 4096)\n"
    "  --dim N --layers N --heads N --kv-heads N --ffn N\n"
    "                       model shape (default 128, 4, 4, 4, 384; --synthetic: 64, 2,\n"
    "                       2, 2, 192)\n"
    "  --seq N --batch N    window length and batch (default 128, 16)\n"
    "  --steps N            optimiser steps (default 6000: five passes over the benchmark's\n"
    "                       text, about 22 minutes on 2 cores, the committed model/base;\n"
    "                       --synthetic: 3000, about 2.5 minutes); a fixed count, so the\n"
    "                       base is the same everywhere\n"
    "  --seconds S          a time budget instead of --steps (the base then depends on\n"
    "                       the machine's speed)\n"
    "  --lr X               peak learning rate (default 5e-3; --synthetic: 1e-2)\n"
    "  --seed N             model seed (default 1)\n"
    "  --max-text MB        corpus cap (default 8)\n"
    "  --force              train again even if DIR holds a finished base\n"
    "  --format F           text (default) or json summary on stdout\n"
    "  --quiet              no progress on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 success (or reuse), 1 failure, 2 bad usage.\n";




int main(int argc, char **argv)
{
    ck_blas_single_thread(); /* one thread pool (kernels/layers/layers.h) */
    cl_pretrain_opts o;
    /* the defaults depend on the corpus: --synthetic first, whatever its place */
    int syn_first = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        syn_first |= !strcmp(argv[i], "--synthetic");
    cl_pretrain_defaults(&o, syn_first);
    const char *out = NULL, *data = NULL;
    int synthetic = 0, force = 0, json = 0, quiet = 0;
    enum { O_DATA = 256, O_SYN, O_VOCAB, O_DIM, O_LAYERS, O_HEADS, O_KV, O_FFN, O_SEQ, O_BATCH,
           O_SEC, O_STEPS, O_LR, O_SEED, O_MAXT, O_FORCE, O_FMT, O_QUIET };
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'}, {"data", required_argument, 0, O_DATA},
        {"synthetic", no_argument, 0, O_SYN},  {"vocab", required_argument, 0, O_VOCAB},
        {"dim", required_argument, 0, O_DIM},  {"layers", required_argument, 0, O_LAYERS},
        {"heads", required_argument, 0, O_HEADS}, {"kv-heads", required_argument, 0, O_KV},
        {"ffn", required_argument, 0, O_FFN},  {"seq", required_argument, 0, O_SEQ},
        {"batch", required_argument, 0, O_BATCH}, {"seconds", required_argument, 0, O_SEC},
        {"steps", required_argument, 0, O_STEPS}, {"lr", required_argument, 0, O_LR},
        {"seed", required_argument, 0, O_SEED}, {"max-text", required_argument, 0, O_MAXT},
        {"force", no_argument, 0, O_FORCE},    {"format", required_argument, 0, O_FMT},
        {"quiet", no_argument, 0, O_QUIET},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    opterr = 0;
    int opt, heads_set = 0;
    while ((opt = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'o': out = optarg; break;
        case O_DATA: data = optarg; break;
        case O_SYN: synthetic = 1; break;
        case O_VOCAB: o.vocab_size = (int)cli_whole(PROG, "--vocab", optarg, 300, 1 << 18); break;
        case O_DIM: o.model.hidden_size = (int)cli_whole(PROG, "--dim", optarg, 8, 8192); break;
        case O_LAYERS: o.model.num_layers = (int)cli_whole(PROG, "--layers", optarg, 1, 128); break;
        case O_HEADS:
            o.model.num_heads = (int)cli_whole(PROG, "--heads", optarg, 1, 128); heads_set = 1;
            break;
        case O_KV: o.model.num_kv_heads = (int)cli_whole(PROG, "--kv-heads", optarg, 1, 128); break;
        case O_FFN:
            o.model.intermediate_size = (int)cli_whole(PROG, "--ffn", optarg, 8, 65536);
            break;
        case O_SEQ: o.seq = (int)cli_whole(PROG, "--seq", optarg, 8, 4096); break;
        case O_BATCH: o.batch = (int)cli_whole(PROG, "--batch", optarg, 1, 4096); break;
        case O_SEC:
            o.seconds = cli_real(PROG, "--seconds", optarg, 0.1, 1e7), o.max_steps = 0;
            break;
        case O_STEPS:
            o.max_steps = (int)cli_whole(PROG, "--steps", optarg, 1, 100000000), o.seconds = 0;
            break;
        case O_LR: o.lr = (float)cli_real(PROG, "--lr", optarg, 1e-7, 1); break;
        case O_SEED: o.seed = (uint64_t)cli_whole(PROG, "--seed", optarg, 0, 1L << 62); break;
        case O_MAXT:
            o.max_text_bytes = (size_t)(cli_real(PROG,
                                                 "--max-text", optarg, 0.01, 4096) * (1 << 20));
            break;
        case O_FORCE: force = 1; break;
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
    if (!out)
        cli_usage_error(PROG, "-o DIR is required", NULL);
    (void)heads_set;
    if (o.model.hidden_size % o.model.num_heads)
        cli_usage_error(PROG, "--dim must be a multiple of --heads", NULL);
    o.model.head_dim = o.model.hidden_size / o.model.num_heads;
    if (o.model.num_heads % o.model.num_kv_heads)
        cli_usage_error(PROG, "--heads must be a multiple of --kv-heads", NULL);
    o.model.max_position = o.seq > 256 ? o.seq : 256;
    o.progress = !quiet && isatty(2);
    if (!force && cl_pretrain_is_done(out)) {
        if (json)
            printf("{\"tool\": \"collide-pretrain\", \"base\": \"%s\", \"reused\": true}\n", out);
        else
            printf("reusing the finished base in %s (--force trains again)\n", out);
        return 0;
    }
    cl_pretrain_corpus c;
    cl_error err;
    int rc = cl_pretrain_gather(data, synthetic, o.progress, &c, &err);
    cl_pretrain_result r;
    if (!rc)
        rc = cl_pretrain(c.text, c.len, c.n, out, c.desc, &o, &r, &err);
    cl_pretrain_corpus_free(&c);
    if (rc) {
        fprintf(stderr, "collide-pretrain: %s\n", err.msg);
        return rc == CL_ERR_ARG ? 2 : 1;
    }
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:b, s:i, s:I, s:f, s:f, s:f, s:f, s:f}", "tool",
                              "collide-pretrain", "base", out, "reused", 0, "steps", r.steps,
                              "tokens_seen", (json_int_t)r.tokens_seen, "tokens_per_s",
                              r.tokens_per_s, "unigram_entropy", r.unigram_entropy, "first_loss",
                              r.first_loss, "final_loss", r.final_loss, "heldout_loss",
                              r.heldout_loss);
        json_dumpf(j, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(j);
    } else {
        printf("wrote %s: %d steps, %.2f M tokens at %.0f tokens/s in %.0f s\n"
               "  loss %.3f -> %.3f (held-out %.3f) nats/token; unigram entropy %.3f\n",
               out, r.steps, r.tokens_seen / 1e6, r.tokens_per_s, r.seconds, r.first_loss,
               r.final_loss, r.heldout_loss, r.unigram_entropy);
    }
    return 0;
}
