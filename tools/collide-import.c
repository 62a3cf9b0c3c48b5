/* collide-import -- a store from PEFT adapters (docs/IMPORT.md). */
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "collide-import"

static const char *SUMMARY =
    "Import LoRA adapters trained with Hugging Face PEFT (or the O-LoRA / N-LoRA code) into a\n"
    "collide store, one task per adapter in the order given (training order), so that every\n"
    "collide tool can audit them.\n"
    "\n"
    "Each ADAPTER is a PEFT adapter directory: adapter_config.json + adapter_model.safetensors.\n"
    "F32, F16 and BF16 are read (stored as F32). An O-LoRA / N-LoRA cumulative checkpoint\n"
    "(earlier tasks in lora_A/lora_B, the current one in loranew_A/loranew_B) gives one task\n"
    "per r-slice. Tensors that are not LoRA factors (modules_to_save, ...) are reported on\n"
    "stderr and skipped. A pickle adapter_model.bin is refused, with the command to convert it.";

static const char *DETAILS =
    "All adapters must adapt the same modules with the same shapes (the same base model);\n"
    "the first mismatch is reported. Ranks, alphas and rsLoRA may differ per task and module.\n"
    "An existing STORE is refused unless --force; an input is never written over.";

/* Notes go to stderr as they come, and into the JSON summary. */
typedef struct notes {
    json_t *list;
    int progress_shown;
} notes;

static void progress_end(notes *n)
{
    if (n->progress_shown) {
        fputs("\r\033[K", stderr);
        n->progress_shown = 0;
    }
}

static void on_note(void *ctx, const char *file, const char *object, const char *reason)
{
    notes *n = ctx;
    progress_end(n);
    fprintf(stderr, "collide-import: note: %s: %s: %s\n", file, object, reason);
    json_array_append_new(n->list,
                          json_pack("{s:s, s:s, s:s}", "file", file, "object", object, "reason",
                                    reason));
}

static void on_progress(void *ctx, int task, int n_tasks)
{
    notes *n = ctx;
    fprintf(stderr, "\r\033[Kcollide-import: writing task %d/%d", task + 1, n_tasks);
    n->progress_shown = 1;
}

/* --tasks a,b,c into a NULL-terminated list (pointers into a copy). */
static char **split_names(const char *s, int *n)
{
    char *copy = strdup(s);
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc((size_t)cap + 1, sizeof *v);
    if (!copy || !v) {
        fputs(PROG ": out of memory\n", stderr);
        exit(1);
    }
    *n = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = 0;
        v[(*n)++] = tok;
    }
    return v;
}

static void print_text(FILE *f, const char *out, cl_peft_adapter **a, int n,
                       const char *const *names, int skipped)
{
    int T = 0, w = 4;
    for (int i = 0; i < n; i++)
        T += cl_peft_get_info(a[i])->n_tasks;
    for (int t = 0; t < T; t++)
        w = (int)strlen(names[t]) > w ? (int)strlen(names[t]) : w;
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    fprintf(f, "wrote %s: %d task%s, %d modules, base %s\n", out, T, T == 1 ? "" : "s",
            i0->n_modules, i0->base_model[0] ? i0->base_model : "(not given)");
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++)
            fprintf(f, "  %-*s %s%s  %s  r %d  alpha %g  scale %s = %g%s\n", w, names[t], in->dir,
                    in->cumulative ? " (cumulative)" : "", in->dtype, in->r, in->alpha,
                    in->use_rslora ? "alpha/sqrt(r)" : "alpha/r",
                    in->use_rslora ? in->alpha / sqrt((double)in->r) : in->alpha / in->r,
                    in->fan_in_fan_out ? "  fan_in_fan_out" : "");
    }
    if (skipped)
        fprintf(f, "skipped %d tensor%s that %s not LoRA factors (see the notes on stderr)\n",
                skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
}

/* The tables behind --format csv and json: store, tasks, modules, notes. */
static void add_tables(cli *c, const char *out, cl_peft_adapter **a, int n,
                       const char *const *names, json_t *note_list)
{
    static const char *tc[] = {"name",         "source",         "slice:i",   "dtype",
                               "r:i",          "lora_alpha:f",   "use_rslora:i",
                               "fan_in_fan_out:i", "cumulative:i", "modules:i", "skipped:i",
                               "task_type"};
    static const char *mc[] = {"name", "d_out:i", "d_in:i", "rank:i"};
    static const char *sc[] = {"store", "base_model", "tasks:i", "modules:i"};
    static const char *nc[] = {"file", "object", "reason"};
    cli_table *tt = cli_table_get(c, "tasks", tc, 12);
    cli_table *tm = cli_table_get(c, "modules", mc, 4);
    cli_table *ts = cli_table_get(c, "store", sc, 4);
    cli_table *tn = cli_table_get(c, "notes", nc, 3);
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++) {
            cli_row_begin(tt);
            cli_cell_s(tt, names[t]);
            cli_cell_s(tt, in->dir);
            cli_cell_i(tt, k);
            cli_cell_s(tt, in->dtype);
            cli_cell_i(tt, in->r);
            cli_cell_f(tt, in->alpha);
            cli_cell_i(tt, in->use_rslora);
            cli_cell_i(tt, in->fan_in_fan_out);
            cli_cell_i(tt, in->cumulative);
            cli_cell_i(tt, in->n_modules);
            cli_cell_i(tt, in->n_skipped);
            cli_cell_s(tt, in->task_type);
        }
    }
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    for (int m = 0; m < i0->n_modules; m++) {
        int32_t rank = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < cl_peft_get_info(a[i])->n_tasks; k++)
                if (cl_peft_module_at(a[i], k, m)->rank > rank)
                    rank = cl_peft_module_at(a[i], k, m)->rank;
        const cl_peft_module *pm = cl_peft_module_at(a[0], 0, m);
        cli_row_begin(tm);
        cli_cell_s(tm, pm->name);
        cli_cell_i(tm, pm->d_out);
        cli_cell_i(tm, pm->d_in);
        cli_cell_i(tm, rank);
    }
    cli_row_begin(ts);
    cli_cell_s(ts, out);
    cli_cell_s(ts, i0->base_model);
    cli_cell_i(ts, t);
    cli_cell_i(ts, i0->n_modules);
    for (size_t i = 0; i < json_array_size(note_list); i++) {
        json_t *o = json_array_get(note_list, i);
        cli_row_begin(tn);
        cli_cell_s(tn, json_string_value(json_object_get(o, "file")));
        cli_cell_s(tn, json_string_value(json_object_get(o, "object")));
        cli_cell_s(tn, json_string_value(json_object_get(o, "reason")));
    }
}

typedef struct opts {
    const char *out, *task_arg;
} opts;

static void on_opt(void *ctx, int key, const char *arg)
{
    opts *o = ctx;
    if (key == 'o')
        o->out = arg;
    else
        o->task_arg = arg;
}

int main(int argc, char **argv)
{
    static const cli_opt options[] = {
        {"output", 'o', "STORE", 0, "the store to write (required; written under a temporary\n"
                                    "name and renamed once complete)"},
        {"tasks", 256, "A,B,...", 0, "task names, one per task (default: the directory names)"},
        {0}};
    static const cli_spec spec = {.name = PROG,
                                  .synopsis = "-o STORE [options] ADAPTER...",
                                  .summary = NULL,
                                  .details = NULL,
                                  .opts = options,
                                  .common = CLI_C_FORCE | CLI_C_TABLE,
                                  .formats = "what was imported (tables store, tasks,\n"
                                             "modules, notes)",
                                  .primary = "tasks",
                                  .min_args = 0, /* -o is asked for first */
                                  .max_args = -1,
                                  .args_name = "ADAPTER"};
    cli_spec sp = spec;
    sp.summary = SUMMARY;
    sp.details = DETAILS;
    opts o = {0};
    cli_args ca;
    cli_parse(&sp, argc, argv, on_opt, &o, &ca);
    if (!o.out || !o.out[0])
        cli_usage_error(PROG, "-o STORE is required", NULL);
    if (ca.n_args == 0)
        cli_usage_error(PROG, "no ADAPTER given", NULL);
    if (cli_output_check(PROG, o.out, ca.force, (const char *const *)ca.args, ca.n_args))
        return CLI_EXIT_FAIL;
    int n = ca.n_args, n_names = 0, status = 0;
    char **names = o.task_arg ? split_names(o.task_arg, &n_names) : NULL;
    notes nt = {.list = json_array()};
    int progress = ca.progress;
    cl_peft_adapter **a = calloc((size_t)n, sizeof *a);
    cl_error err;
    if (!a) {
        fputs(PROG ": out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    int report = 0; /* err holds a message to print */
    for (int i = 0; i < n && !status; i++) {
        if (progress) {
            fprintf(stderr, "\r\033[K" PROG ": reading %d/%d %s", i + 1, n, ca.args[i]);
            nt.progress_shown = 1;
        }
        if (cl_peft_open(ca.args[i], on_note, &nt, &a[i], &err))
            status = report = 1;
    }
    int T = 0;
    for (int i = 0; i < n && !status; i++)
        T += cl_peft_get_info(a[i])->n_tasks;
    if (!status && names && n_names != T) {
        progress_end(&nt);
        fprintf(stderr,
                PROG ": --tasks gives %d name%s, but the adapters hold %d task%s\n"
                     "Try '" PROG " --help'.\n",
                n_names, n_names == 1 ? "" : "s", T, T == 1 ? "" : "s");
        status = 2;
    }
    char **final = NULL;
    if (!status) {
        cl_peft_import_spec is = {.task_names = (const char *const *)names,
                                  .n_task_names = n_names,
                                  .progress = progress ? on_progress : NULL,
                                  .progress_ctx = &nt,
                                  .note = on_note,
                                  .note_ctx = &nt};
        if (cl_peft_import(o.out, a, n, &is, &err)) {
            status = err.code == CL_ERR_ARG ? 2 : 1;
            report = 1;
        }
    }
    progress_end(&nt);
    if (report)
        fprintf(stderr, PROG ": %s\n", err.msg);
    if (!status) {
        /* the names the store holds (defaults are made there) */
        cl_store *s;
        if (cl_store_open_with(o.out, CL_STORE_NO_CHILD, &s, &err)) { /* just written */
            fprintf(stderr, PROG ": %s\n", err.msg);
            status = 1;
        } else {
            final = calloc((size_t)T, sizeof *final);
            for (int t = 0; final && t < T; t++)
                final[t] = strdup(cl_store_task_name(s, t));
            cl_store_close(s, NULL);
            int skipped = 0;
            for (int i = 0; i < n; i++)
                skipped += cl_peft_get_info(a[i])->n_skipped;
            cli c;
            cli_init_defaults(&c, PROG, stdout);
            c.format = ca.format;
            c.table = ca.table;
            c.primary = "tasks";
            add_tables(&c, o.out, a, n, (const char *const *)final, nt.list);
            if (ca.format == CLI_TEXT)
                print_text(stdout, o.out, a, n, (const char *const *)final, skipped);
            status = cli_finish(&c, CLI_EXIT_OK);
        }
    }
    for (int i = 0; i < n; i++)
        cl_peft_close(a[i]);
    for (int t = 0; final && t < T; t++)
        free(final[t]);
    free(final);
    free(a);
    if (names)
        free(names[0]);
    free(names);
    json_decref(nt.list);
    return status;
}
