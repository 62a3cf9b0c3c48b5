/* collide-pretrain -- train the embedded base from scratch. */
#include "benchmark.h"
#include "cli.h"
#include "layers.h"
#include "pretrain.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char PROG[] = "collide-pretrain";

static const char *SUMMARY =
    "Train a small LLaMA-architecture base from scratch, as a language model on the unlabeled\n"
    "training-split text of the continual-learning benchmark (labels never seen; no example\n"
    "that any test split may use), or of the built-in synthetic benchmark. Writes DIR in the\n"
    "Hugging Face layout: config.json, model.safetensors, tokenizer.json, and pretrain.json\n"
    "(written last). A finished DIR is reused unless --force (which trains it again).";

enum { O_DATA = 256, O_SYN, O_VOCAB, O_DIM, O_LAYERS, O_HEADS, O_KV, O_FFN, O_SEQ, O_BATCH,
       O_SEC, O_STEPS, O_LR, O_SEED, O_MAXT };

static const cli_opt options[] = {
    {"output", 'o', "DIR", 0, "where the base goes (required)"},
    {"data", O_DATA, "DIR", 0, "the CL_Benchmark folder (default: $COLLIDE_DATA, then\n"
                               "../shared/datasets/CL_Benchmark)"},
    {"synthetic", O_SYN, NULL, 0, "train on the synthetic benchmark's text instead"},
    {"vocab", O_VOCAB, "N", 0, "tokenizer vocabulary (default 4096)"},
    {"dim", O_DIM, "N", 0, "model width (default 128; --synthetic: 64)"},
    {"layers", O_LAYERS, "N", 0, "layers (default 4; --synthetic: 2)"},
    {"heads", O_HEADS, "N", 0, "attention heads (default 4; --synthetic: 2)"},
    {"kv-heads", O_KV, "N", 0, "key/value heads (default 4; --synthetic: 2)"},
    {"ffn", O_FFN, "N", 0, "MLP width (default 384; --synthetic: 192)"},
    {"seq", O_SEQ, "N", 0, "window length (default 128)"},
    {"batch", O_BATCH, "N", 0, "batch (default 16)"},
    {"steps", O_STEPS, "N", 0, "optimiser steps (default 6000: five passes over the\n"
                               "benchmark's text, about 22 minutes on 2 cores, the\n"
                               "committed model/base; --synthetic: 3000, about 2.5\n"
                               "minutes); a fixed count, so the base is the same everywhere"},
    {"seconds", O_SEC, "S", 0, "a time budget instead of --steps (the base then depends on\n"
                               "the machine's speed)"},
    {"lr", O_LR, "X", 0, "peak learning rate (default 5e-3; --synthetic: 1e-2)"},
    {"seed", O_SEED, "N", 0, "model seed (default 1)"},
    {"max-text", O_MAXT, "MB", 0, "corpus cap (default 8)"},
    {0}};

typedef struct args {
    cl_pretrain_opts o;
    const char *out, *data;
    int synthetic;
    const char *setting; /* a training option given (ignored when a base is reused) */
} args;

static void on_opt(void *ctx, int key, const char *arg)
{
    args *a = ctx;
    cl_pretrain_opts *o = &a->o;
    if (!a->setting && key != 'o' && key != O_DATA && key != O_SYN)
        for (const cli_opt *p = options; p->name; p++)
            if (p->key == key)
                a->setting = p->name;
    switch (key) {
    case 'o': a->out = arg; break;
    case O_DATA: a->data = arg; break;
    case O_SYN: a->synthetic = 1; break;
    case O_VOCAB: o->vocab_size = (int)cli_whole(PROG, "--vocab", arg, 300, 1 << 18); break;
    case O_DIM: o->model.hidden_size = (int)cli_whole(PROG, "--dim", arg, 8, 8192); break;
    case O_LAYERS: o->model.num_layers = (int)cli_whole(PROG, "--layers", arg, 1, 128); break;
    case O_HEADS: o->model.num_heads = (int)cli_whole(PROG, "--heads", arg, 1, 128); break;
    case O_KV: o->model.num_kv_heads = (int)cli_whole(PROG, "--kv-heads", arg, 1, 128); break;
    case O_FFN: o->model.intermediate_size = (int)cli_whole(PROG, "--ffn", arg, 8, 65536); break;
    case O_SEQ: o->seq = (int)cli_whole(PROG, "--seq", arg, 8, 4096); break;
    case O_BATCH: o->batch = (int)cli_whole(PROG, "--batch", arg, 1, 4096); break;
    case O_SEC: o->seconds = cli_real(PROG, "--seconds", arg, 0.1, 1e7), o->max_steps = 0; break;
    case O_STEPS:
        o->max_steps = (int)cli_whole(PROG, "--steps", arg, 1, 100000000), o->seconds = 0;
        break;
    case O_LR: o->lr = (float)cli_real(PROG, "--lr", arg, 1e-7, 1); break;
    case O_SEED: o->seed = (uint64_t)cli_whole(PROG, "--seed", arg, 0, 1L << 62); break;
    case O_MAXT:
        o->max_text_bytes = (size_t)(cli_real(PROG, "--max-text", arg, 0.01, 4096) * (1 << 20));
        break;
    }
}

/* What was written (or reused), as the table base. */
static int report(const cli_args *ca, const char *out, int reused, const cl_pretrain_result *r)
{
    cli c;
    cli_init_defaults(&c, PROG, stdout);
    c.format = ca->format;
    c.primary = "base";
    static const char *cols[] = {"base",         "reused:i",       "steps:i",       "tokens_seen:i",
                                 "tokens_per_s:f", "seconds:f",    "unigram_entropy:f",
                                 "first_loss:f", "final_loss:f",   "heldout_loss:f"};
    cli_table *t = cli_table_get(&c, "base", cols, 10);
    cl_pretrain_result kept;
    if (reused) { /* what the finished base's pretrain.json says of it */
        char p[4200];
        snprintf(p, sizeof p, "%s/pretrain.json", out);
        json_t *j = json_load_file(p, 0, NULL);
        memset(&kept, 0, sizeof kept);
        kept.steps = (int)json_integer_value(json_object_get(j, "steps"));
        kept.tokens_seen = (int64_t)json_integer_value(json_object_get(j, "tokens_seen"));
        kept.tokens_per_s = json_number_value(json_object_get(j, "tokens_per_s"));
        kept.seconds = json_number_value(json_object_get(j, "seconds"));
        kept.unigram_entropy = json_number_value(json_object_get(j, "unigram_entropy"));
        kept.first_loss = json_number_value(json_object_get(j, "first_loss"));
        kept.final_loss = json_number_value(json_object_get(j, "final_loss"));
        kept.heldout_loss = json_number_value(json_object_get(j, "heldout_loss"));
        json_decref(j);
        r = &kept;
    }
    cli_row_begin(t);
    cli_cell_s(t, out);
    cli_cell_i(t, reused);
    cli_cell_i(t, r->steps);
    cli_cell_i(t, (int64_t)r->tokens_seen);
    cli_cell_f(t, r->tokens_per_s);
    cli_cell_f(t, r->seconds);
    cli_cell_f(t, r->unigram_entropy);
    cli_cell_f(t, r->first_loss);
    cli_cell_f(t, r->final_loss);
    cli_cell_f(t, r->heldout_loss);
    if (ca->format == CLI_TEXT) {
        if (reused)
            printf("reusing the finished base in %s (%d steps, held-out loss %.3f; --force "
                   "trains again)\n", out, r->steps, r->heldout_loss);
        else
            printf("wrote %s: %d steps, %.2f M tokens at %.0f tokens/s in %.0f s\n"
                   "  loss %.3f -> %.3f (held-out %.3f) nats/token; unigram entropy %.3f\n",
                   out, r->steps, r->tokens_seen / 1e6, r->tokens_per_s, r->seconds,
                   r->first_loss, r->final_loss, r->heldout_loss, r->unigram_entropy);
    }
    return cli_finish(&c, CLI_EXIT_OK);
}

int main(int argc, char **argv)
{
    ck_blas_single_thread(); /* one thread pool (kernels/layers/layers.h) */
    cl_pretrain_opts o;
    /* the defaults depend on the corpus: --synthetic first, whatever its place */
    int syn_first = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        syn_first |= !strcmp(argv[i], "--synthetic");
    cl_pretrain_defaults(&o, syn_first);
    args A = {.o = o};
    const cli_spec spec = {.name = PROG,
                           .synopsis = "-o DIR [options]",
                           .summary = SUMMARY,
                           .opts = options,
                           .common = CLI_C_FORCE,
                           .formats = "what was written (table base)",
                           .min_args = 0,
                           .max_args = 0};
    cli_args ca;
    cli_parse(&spec, argc, argv, on_opt, &A, &ca);
    o = A.o;
    const char *out = A.out, *data = A.data;
    int synthetic = A.synthetic, force = ca.force;
    if (!out)
        cli_usage_error(PROG, "-o DIR is required", NULL);
    if (o.model.hidden_size % o.model.num_heads)
        cli_usage_error(PROG, "--dim must be a multiple of --heads", NULL);
    o.model.head_dim = o.model.hidden_size / o.model.num_heads;
    if (o.model.num_heads % o.model.num_kv_heads)
        cli_usage_error(PROG, "--heads must be a multiple of --kv-heads", NULL);
    o.model.max_position = o.seq > 256 ? o.seq : 256;
    o.progress = ca.progress;
    if (data && cli_is_input(out, &data, 1)) {
        fprintf(stderr, "%s: %s: is the input --data %s; refusing to write there, --force or "
                        "not\n", PROG, out, data);
        return CLI_EXIT_FAIL;
    }
    if (!force && cl_pretrain_is_done(out)) {
        if (A.setting)
            fprintf(stderr, "%s: %s: a finished base: reused as it is; --%s and the other "
                            "settings are ignored (--force trains it again)\n", PROG, out,
                    A.setting);
        return report(&ca, out, 1, NULL);
    }
    if (!force && access(out, F_OK) == 0) {
        fprintf(stderr, "%s: %s: exists and is not a finished base; refusing to replace it "
                        "(--force does)\n", PROG, out);
        return CLI_EXIT_FAIL;
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
    return report(&ca, out, 0, &r);
}
