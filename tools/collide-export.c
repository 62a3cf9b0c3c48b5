/* collide-export -- one PEFT adapter directory per task of a store
 * (docs/IMPORT.md). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "collide-export"

static const char *SUMMARY =
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
    "module paths, with lora_dropout 0.";

static const char *DETAILS =
    "Each config holds r and lora_alpha shared by most modules, plus rank_pattern /\n"
    "alpha_pattern entries (full module paths) where a module's rank or scale differs; a\n"
    "store written by collide-train exports with use_rslora when it used rsLoRA. Every file\n"
    "the export would write is checked first: an existing one is refused unless --force, an\n"
    "input never written over; each is written under a temporary name and renamed once\n"
    "complete.";

enum { O_SNAP = 256, O_TTYPE, O_FIFO };

static const cli_opt options[] = {
    {"output", 'o', "DIR", 0, "where the adapter directories go (created if missing)"},
    {"snapshot", O_SNAP, "S", 0, "task-ends (default): each task at its end; last: the\n"
                                 "state at the last snapshot; ID: the state at snapshot ID"},
    {"task-type", O_TTYPE, "T", 0, "task_type written to the configs, e.g. CAUSAL_LM or\n"
                                   "SEQ_2_SEQ_LM (default: CAUSAL_LM for a collide-train\n"
                                   "store, else null, which PeftModel loads)"},
    {"fan-in-fan-out", O_FIFO, "W", 0, "auto (default: true when every module is a GPT-2\n"
                                       "Conv1D, c_attn / c_proj / c_fc), true or false"},
    {0}};

typedef struct opts {
    const char *out;
    cl_peft_export_spec sp;
    int force;
    const char *store;
} opts;

static void on_opt(void *ctx, int key, const char *arg)
{
    opts *o = ctx;
    switch (key) {
    case 'o': o->out = arg; break;
    case O_SNAP: o->sp.snapshot = arg; break;
    case O_TTYPE: o->sp.task_type = arg; break;
    case O_FIFO:
        if (!strcmp(arg, "auto")) o->sp.fan_in_fan_out = CL_PEFT_FIFO_AUTO;
        else if (!strcmp(arg, "true")) o->sp.fan_in_fan_out = CL_PEFT_FIFO_TRUE;
        else if (!strcmp(arg, "false")) o->sp.fan_in_fan_out = CL_PEFT_FIFO_FALSE;
        else cli_usage_error(PROG, "--fan-in-fan-out: expected auto, true or false", arg);
        break;
    }
}

/* The output policy, asked by the library for every file before any. */
static int check_output(void *ctx, const char *path, cl_error *err)
{
    const opts *o = ctx;
    char msg[sizeof err->msg];
    if (!cli_output_refusal(path, o->force, &o->store, 1, msg, sizeof msg))
        return CL_OK;
    return cl_error_set(err, CL_ERR_EXISTS, "%s", msg);
}

int main(int argc, char **argv)
{
    opts o = {.sp = {.snapshot = "task-ends", .fan_in_fan_out = CL_PEFT_FIFO_AUTO}};
    const cli_spec spec = {.name = PROG,
                           .synopsis = "STORE -o DIR [options]",
                           .summary = SUMMARY,
                           .details = DETAILS,
                           .opts = options,
                           .common = CLI_C_FORCE,
                           .formats = "what was written, an adapter a row",
                           .min_args = 1,
                           .max_args = 1,
                           .args_name = "STORE"};
    cli_args ca;
    cli_parse(&spec, argc, argv, on_opt, &o, &ca);
    o.store = ca.args[0];
    o.force = ca.force;
    if (!o.out || !o.out[0])
        cli_usage_error(PROG, "-o DIR is required", NULL);
    o.sp.check_output = check_output;
    o.sp.check_ctx = &o;
    if (ca.progress)
        fprintf(stderr, PROG ": reading %s\r", o.store);
    cl_error err;
    cl_store *s;
    if (cl_store_open(o.store, &s, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    cl_peft_exported *e;
    int n;
    int rc = cl_peft_export(s, o.out, &o.sp, &e, &n, &err);
    if (ca.progress)
        fputs("\r\033[K", stderr);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        cl_store_close(s, NULL);
        return rc == CL_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    cli c;
    cli_init_defaults(&c, PROG, stdout);
    c.format = ca.format;
    c.primary = "adapters";
    static const char *cols[] = {"task",         "dir",           "snapshot:i",     "modules:i",
                                 "r:i",          "lora_alpha:f",  "use_rslora:i",   "fan_in_fan_out:i",
                                 "rank_pattern:i", "alpha_pattern:i", "inexact_scales:i",
                                 "store",        "base_model"};
    cli_table *t = cli_table_get(&c, "adapters", cols, 13);
    int w = 4;
    for (int i = 0; i < n; i++) {
        w = (int)strlen(e[i].task) > w ? (int)strlen(e[i].task) : w;
        cli_row_begin(t);
        cli_cell_s(t, e[i].task);
        cli_cell_s(t, e[i].dir);
        cli_cell_i(t, e[i].snapshot);
        cli_cell_i(t, e[i].n_modules);
        cli_cell_i(t, e[i].r);
        cli_cell_f(t, e[i].alpha);
        cli_cell_i(t, e[i].use_rslora);
        cli_cell_i(t, e[i].fan_in_fan_out);
        cli_cell_i(t, e[i].n_rank_pattern);
        cli_cell_i(t, e[i].n_alpha_pattern);
        cli_cell_i(t, e[i].inexact);
        cli_cell_s(t, o.store);
        cli_cell_s(t, cl_store_meta(s)->base_model);
    }
    if (ca.format == CLI_TEXT) {
        printf("wrote %d adapter%s from %s (base %s)\n", n, n == 1 ? "" : "s", o.store,
               cl_store_meta(s)->base_model);
        for (int i = 0; i < n; i++)
            printf("  %-*s %s  snapshot %lld  %d modules  r %d  lora_alpha %g%s%s  "
                   "rank_pattern %d  alpha_pattern %d\n",
                   w, e[i].task, e[i].dir, (long long)e[i].snapshot, e[i].n_modules, e[i].r,
                   e[i].alpha, e[i].use_rslora ? "  use_rslora" : "",
                   e[i].fan_in_fan_out ? "  fan_in_fan_out" : "", e[i].n_rank_pattern,
                   e[i].n_alpha_pattern);
    }
    for (int i = 0; i < n; i++)
        if (e[i].inexact)
            fprintf(stderr,
                    PROG ": warning: %s: %d module%s whose scale no lora_alpha "
                         "reproduces exactly; PEFT's scale is within one double ulp\n",
                    e[i].dir, e[i].inexact, e[i].inexact == 1 ? "" : "s");
    cl_peft_exported_free(e, n);
    cl_store_close(s, NULL);
    return cli_finish(&c, CLI_EXIT_OK);
}
