/* collide-export -- one PEFT adapter directory per task of a store
 * (docs/IMPORT.md). */
#include "collide.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE =
    "usage: collide-export STORE -o DIR [options]\n"
    "\n"
    "Write each task's adapter as a Hugging Face PEFT adapter directory, DIR/<task>/ with\n"
    "adapter_config.json and adapter_model.safetensors (F32), loadable with\n"
    "PeftModel.from_pretrained on the store's base model. Importing the directories again\n"
    "with collide-import gives back the same factors, ranks and scales bit for bit.\n"
    "\n"
    "A store written by collide-train is exported for its base, a LlamaForCausalLM: its\n"
    "modules layers.N.attn.{q,k,v,o} and layers.N.mlp.{gate,up,down} are written as\n"
    "model.layers.N.self_attn.{q,k,v,o}_proj and model.layers.N.mlp.{gate,up,down}_proj\n"
    "(keys base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight ...),\n"
    "target_modules names the projections (q_proj, v_proj, ...), task_type is CAUSAL_LM and\n"
    "lora_dropout the training's. Other stores (imported from PEFT, synthetic) keep their\n"
    "module paths, with lora_dropout 0.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR          where the adapter directories go (created if missing)\n"
    "  --snapshot S              task-ends (default): each task at its end; last: the state\n"
    "                            at the last snapshot; ID: the state at snapshot ID\n"
    "  --task-type T             task_type written to the configs, e.g. CAUSAL_LM or\n"
    "                            SEQ_2_SEQ_LM (default: CAUSAL_LM for a collide-train\n"
    "                            store, else null, which PeftModel loads)\n"
    "  --fan-in-fan-out W        auto (default: true when every module is a GPT-2 Conv1D,\n"
    "                            c_attn / c_proj / c_fc), true or false\n"
    "  --format F                text (default) or json: what was written\n"
    "  --quiet                   no progress on stderr\n"
    "  -h, --help                this help\n"
    "\n"
    "Each config holds r and lora_alpha shared by most modules, plus rank_pattern /\n"
    "alpha_pattern entries (full module paths) where a module's rank or scale differs; a\n"
    "store written by collide-train exports with use_rslora when it used rsLoRA. Each file is\n"
    "written under a temporary name and renamed once complete.\n"
    "\n"
    "Exit status: 0 success, 1 bad input (the message names the file, the object and the\n"
    "reason), 2 bad usage.\n";

static void bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "collide-export: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'collide-export --help'.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *store = NULL;
    int json = 0, quiet = 0;
    cl_peft_export_spec sp = {.snapshot = "task-ends", .fan_in_fan_out = CL_PEFT_FIFO_AUTO};
    enum { O_SNAP = 256, O_TTYPE, O_FIFO, O_FMT, O_QUIET };
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"snapshot", required_argument, 0, O_SNAP},
                                       {"task-type", required_argument, 0, O_TTYPE},
                                       {"fan-in-fan-out", required_argument, 0, O_FIFO},
                                       {"format", required_argument, 0, O_FMT},
                                       {"quiet", no_argument, 0, O_QUIET},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (o) {
        case 'h': fputs(USAGE, stdout); return 0;
        case 'o': out = optarg; break;
        case O_SNAP: sp.snapshot = optarg; break;
        case O_TTYPE: sp.task_type = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_FIFO:
            if (!strcmp(optarg, "auto")) sp.fan_in_fan_out = CL_PEFT_FIFO_AUTO;
            else if (!strcmp(optarg, "true")) sp.fan_in_fan_out = CL_PEFT_FIFO_TRUE;
            else if (!strcmp(optarg, "false")) sp.fan_in_fan_out = CL_PEFT_FIFO_FALSE;
            else bad("--fan-in-fan-out \"%s\": expected auto, true or false", optarg);
            break;
        case O_FMT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (strcmp(optarg, "text")) bad("--format \"%s\": expected text or json", optarg);
            break;
        default: bad("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        bad("%s", "no STORE given");
    store = argv[optind];
    if (optind + 1 < argc)
        bad("unexpected argument '%s' (one STORE per run)", argv[optind + 1]);
    if (!out || !out[0])
        bad("%s", "-o DIR is required");
    if (!quiet && isatty(2))
        fprintf(stderr, "collide-export: reading %s\r", store);
    cl_error err;
    cl_store *s;
    if (cl_store_open(store, &s, &err)) {
        fprintf(stderr, "collide-export: %s\n", err.msg);
        return 1;
    }
    cl_peft_exported *e;
    int n;
    int rc = cl_peft_export(s, out, &sp, &e, &n, &err);
    if (!quiet && isatty(2))
        fputs("\r\033[K", stderr);
    if (rc) {
        fprintf(stderr, "collide-export: %s\n", err.msg);
        cl_store_close(s, NULL);
        return rc == CL_ERR_ARG ? 2 : 1;
    }
    if (json) {
        json_t *list = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:I, s:i, s:i, s:f, s:b, s:b, s:i, s:i, s:i}", "task",
                                e[i].task, "dir", e[i].dir, "snapshot", (json_int_t)e[i].snapshot,
                                "modules", e[i].n_modules, "r", e[i].r, "lora_alpha", e[i].alpha,
                                "use_rslora", e[i].use_rslora, "fan_in_fan_out",
                                e[i].fan_in_fan_out, "rank_pattern", e[i].n_rank_pattern,
                                "alpha_pattern", e[i].n_alpha_pattern, "inexact_scales",
                                e[i].inexact));
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "tool", "collide-export",
                              "collide_version", cl_version(), "store", store, "base_model",
                              cl_store_meta(s)->base_model, "dir", out, "adapters", list);
        json_dumpf(j, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        printf("wrote %d adapter%s from %s (base %s)\n", n, n == 1 ? "" : "s", store,
               cl_store_meta(s)->base_model);
        for (int i = 0; i < n; i++)
            printf("  %-16s %s  snapshot %lld  %d modules  r %d  lora_alpha %g%s%s  "
                   "rank_pattern %d  alpha_pattern %d\n",
                   e[i].task, e[i].dir, (long long)e[i].snapshot, e[i].n_modules, e[i].r,
                   e[i].alpha, e[i].use_rslora ? "  use_rslora" : "",
                   e[i].fan_in_fan_out ? "  fan_in_fan_out" : "", e[i].n_rank_pattern,
                   e[i].n_alpha_pattern);
    }
    for (int i = 0; i < n; i++)
        if (e[i].inexact)
            fprintf(stderr,
                    "collide-export: warning: %s: %d module%s whose scale no lora_alpha "
                    "reproduces exactly; PEFT's scale is within one double ulp\n",
                    e[i].dir, e[i].inexact, e[i].inexact == 1 ? "" : "s");
    cl_peft_exported_free(e, n);
    cl_store_close(s, NULL);
    return 0;
}
