/* collide-import -- a store from PEFT adapters (docs/IMPORT.md). */
#include "cli.h"

#include <errno.h>
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
    "Each ADAPTER is a PEFT adapter directory: adapter_config.json + adapter_model.safetensors,\n"
    "or adapter_model.bin as torch.save writes it (read without Python; nothing in it is run:\n"
    "anything but tensors is refused). F32, F16 and BF16 are read (stored as F32). An O-LoRA / N-LoRA cumulative checkpoint\n"
    "(earlier tasks in lora_A/lora_B, the current one in loranew_A/loranew_B) gives one task\n"
    "per r-slice. Tensors that are not LoRA factors (modules_to_save, ...) are reported on\n"
    "stderr and skipped. Old PEFT merged-qkv adapters (enable_lora) import as their exact dW.\n"
    "A folder holding several adapters (PEFT's save of several adapters:\n"
    "the default one on top, the others in subfolders) gives one task per adapter, the top one\n"
    "first, then the subfolders in name order.\n"
    "\n"
    "Labels say what the run was, so that figures and tables treat it like a trained one:\n"
    "--method, --lambda, --name and --accuracy (docs/IMPORT.md, \"Labels\"). With --annotate\n"
    "STORE they are set on an existing store instead (rewritten on a copy, renamed over it).";

static const char *DETAILS =
    "All adapters must adapt the same modules with the same shapes (the same base model);\n"
    "the first mismatch is reported, unless --common-modules keeps the modules they all share\n"
    "(each one dropped is a note). Ranks, alphas and rsLoRA may differ per task and module.\n"
    "An existing STORE is refused unless --force; an input is never written over.\n"
    "\n"
    "An accuracy FILE is CSV (header 'after,TASK,...', then one row per task trained, named,\n"
    "and optionally a 'baseline' row) or JSON ({\"tasks\": [...], \"accuracy\": [[...]],\n"
    "\"baseline\": [...]}); empty cells or null are not evaluated; fractions, or percentages\n"
    "when a value exceeds 1.";

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

static void print_text(FILE *f, cl_store *s, cl_peft_adapter **a, int n, int skipped)
{
    int T = cl_store_n_tasks(s), w = 4;
    const cl_run_meta *m = cl_store_meta(s);
    for (int t = 0; t < T; t++)
        w = (int)strlen(cl_store_task_name(s, t)) > w ? (int)strlen(cl_store_task_name(s, t)) : w;
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    fprintf(f, "wrote %s: %d task%s, %d modules, base %s\n", cl_store_path(s), T,
            T == 1 ? "" : "s", cl_store_n_modules(s),
            i0->base_model[0] ? i0->base_model : "(not given)");
    if (strcmp(m->method, "imported") || m->name[0])
        fprintf(f, "  labels: method %s%s%s\n", m->method, m->name[0] ? ", name " : "",
                m->name);
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++)
            fprintf(f, "  %-*s %s%s  %s  r %d  alpha %g  scale %s = %g%s\n", w,
                    cl_store_task_name(s, t), in->dir, in->cumulative ? " (cumulative)" : "",
                    in->dtype, in->r, in->alpha, in->use_rslora ? "alpha/sqrt(r)" : "alpha/r",
                    in->use_rslora ? in->alpha / sqrt((double)in->r) : in->alpha / in->r,
                    in->fan_in_fan_out ? "  fan_in_fan_out" : "");
    }
    for (int e = 0; e < CL_EVAL_COUNT; e++)
        if (cl_store_has_eval(s, (cl_eval)e))
            fprintf(f, "  accuracy (%s) recorded\n", cl_eval_name((cl_eval)e));
    if (skipped)
        fprintf(f, "skipped %d tensor%s that %s not LoRA factors (see the notes on stderr)\n",
                skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
}

/* The tables behind --format csv and json: store, tasks, modules, notes. */
static void add_tables(cli *c, cl_store *s, cl_peft_adapter **a, int n, json_t *note_list)
{
    static const char *tc[] = {"name",         "source",         "slice:i",   "dtype",
                               "r:i",          "lora_alpha:f",   "use_rslora:i",
                               "fan_in_fan_out:i", "cumulative:i", "modules:i", "skipped:i",
                               "task_type"};
    static const char *mc[] = {"name", "d_out:i", "d_in:i", "rank:i"};
    static const char *sc[] = {"store", "base_model", "tasks:i", "modules:i", "method", "name"};
    static const char *nc[] = {"file", "object", "reason"};
    cli_table *tt = cli_table_get(c, "tasks", tc, 12);
    cli_table *tm = cli_table_get(c, "modules", mc, 4);
    cli_table *ts = cli_table_get(c, "store", sc, 6);
    cli_table *tn = cli_table_get(c, "notes", nc, 3);
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++) {
            cli_row_begin(tt);
            cli_cell_s(tt, cl_store_task_name(s, t));
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
    for (int m = 0; m < cl_store_n_modules(s); m++) {
        cli_row_begin(tm);
        cli_cell_s(tm, cl_store_module_name(s, m));
        cli_cell_i(tm, cl_store_module_d_out(s, m));
        cli_cell_i(tm, cl_store_module_d_in(s, m));
        cli_cell_i(tm, cl_store_module_rank(s, m));
    }
    cli_row_begin(ts);
    cli_cell_s(ts, cl_store_path(s));
    cli_cell_s(ts, cl_peft_get_info(a[0])->base_model);
    cli_cell_i(ts, t);
    cli_cell_i(ts, cl_store_n_modules(s));
    cli_cell_s(ts, cl_store_meta(s)->method);
    cli_cell_s(ts, cl_store_meta(s)->name);
    for (size_t i = 0; i < json_array_size(note_list); i++) {
        json_t *o = json_array_get(note_list, i);
        cli_row_begin(tn);
        cli_cell_s(tn, json_string_value(json_object_get(o, "file")));
        cli_cell_s(tn, json_string_value(json_object_get(o, "object")));
        cli_cell_s(tn, json_string_value(json_object_get(o, "reason")));
    }
}

typedef struct opts {
    const char *out, *task_arg, *annotate, *accuracy;
    cl_run_labels labels;
    int common;
} opts;

enum { O_TASKS = 256, O_METHOD, O_LAMBDA, O_LAMBDA_ORTH, O_NAME, O_ACCURACY, O_PROTOCOL,
       O_COMMON, O_ANNOTATE };

static void on_opt(void *ctx, int key, const char *arg)
{
    opts *o = ctx;
    switch (key) {
    case 'o': o->out = arg; break;
    case O_TASKS: o->task_arg = arg; break;
    case O_METHOD: o->labels.method = arg; break;
    case O_LAMBDA: o->labels.lambda_sparse = cli_real(PROG, "--lambda", arg, 0, 1e30); break;
    case O_LAMBDA_ORTH:
        o->labels.lambda_orth = cli_real(PROG, "--lambda-orth", arg, 0, 1e30);
        break;
    case O_NAME: o->labels.name = arg; break;
    case O_ACCURACY: o->accuracy = arg; break;
    case O_PROTOCOL:
        if (!strcmp(arg, "generation"))
            o->labels.eval = CL_EVAL_GENERATE;
        else if (!strcmp(arg, "ranked"))
            o->labels.eval = CL_EVAL_RANKED;
        else
            cli_usage_error(PROG, "--accuracy-protocol must be generation or ranked", arg);
        break;
    case O_COMMON: o->common = 1; break;
    case O_ANNOTATE: o->annotate = arg; break;
    }
}

/* --annotate STORE: the labels (and accuracy file) written into it. */
static int annotate(const opts *o, const cli_args *ca)
{
    cl_error err;
    cl_store *s;
    if (cl_store_open(o->annotate, &s, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    int T = cl_store_n_tasks(s), has_base = 0, percent = 0, rc = 0;
    const char **names = calloc((size_t)T, sizeof *names);
    double *R = calloc((size_t)T * (size_t)T, sizeof *R), *base = calloc((size_t)T, sizeof *base);
    cl_run_labels l = o->labels;
    if (!names || !R || !base)
        rc = cl_error_set(&err, CL_ERR_NOMEM, "out of memory");
    for (int t = 0; !rc && t < T; t++)
        names[t] = cl_store_task_name(s, t);
    if (!rc && o->accuracy &&
        !(rc = cl_accuracy_file_read(o->accuracy, names, T, R, base, &has_base, &percent, &err))) {
        l.accuracy = R;
        l.baseline = has_base ? base : NULL;
        if (percent)
            fprintf(stderr, PROG ": note: %s: accuracy: values above 1: read as percentages and "
                            "divided by 100\n", o->accuracy);
    }
    cl_store_close(s, NULL);
    if (!rc)
        rc = cl_store_annotate(o->annotate, &l, &err);
    int status = rc ? (err.code == CL_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL) : CLI_EXIT_OK;
    if (rc)
        fprintf(stderr, PROG ": %s\n", err.msg);
    else if (!cl_store_open_with(o->annotate, CL_STORE_NO_CHILD, &s, &err)) {
        static const char *cols[] = {"store", "name", "method", "origin", "lambda_sparse:f",
                                     "lambda_orth:f", "accuracy_rows:i"};
        cli c;
        cli_init_defaults(&c, PROG, stdout);
        c.format = ca->format;
        c.table = ca->table;
        c.primary = "store";
        const cl_run_meta *m = cl_store_meta(s);
        int rows = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++)
                if (!isnan(cl_store_accuracy(s, l.eval)[i * T + j])) {
                    rows++;
                    break;
                }
        cli_table *t = cli_table_get(&c, "store", cols, 7);
        cli_row_begin(t);
        cli_cell_s(t, o->annotate);
        cli_cell_s(t, m->name);
        cli_cell_s(t, m->method);
        cli_cell_s(t, m->origin);
        cli_cell_f(t, m->lambda_sparse);
        cli_cell_f(t, m->lambda_orth);
        cli_cell_i(t, rows);
        if (ca->format == CLI_TEXT)
            fprintf(stdout, "annotated %s: method %s%s%s, %d accuracy row%s (%s)\n",
                    o->annotate, m->method, m->name[0] ? ", name " : "", m->name, rows,
                    rows == 1 ? "" : "s", cl_eval_name(l.eval));
        cl_store_close(s, NULL);
        status = cli_finish(&c, CLI_EXIT_OK);
    } else {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = CLI_EXIT_FAIL;
    }
    free(names);
    free(R);
    free(base);
    return status;
}

/* Every ADAPTER argument as the adapters it holds (cl_peft_find). */
static char **expand_args(const cli_args *ca, int *n_out, notes *nt)
{
    char **all = NULL;
    int n = 0;
    for (int i = 0; i < ca->n_args; i++) {
        char **p;
        int k;
        cl_error err;
        if (cl_peft_find(ca->args[i], &p, &k, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            exit(CLI_EXIT_FAIL);
        }
        char **g = realloc(all, (size_t)(n + k) * sizeof *all);
        if (!g) {
            fputs(PROG ": out of memory\n", stderr);
            exit(CLI_EXIT_FAIL);
        }
        all = g;
        memcpy(all + n, p, (size_t)k * sizeof *p);
        free(p);
        if (k > 1) {
            char why[512];
            int len = snprintf(why, sizeof why, "holds %d adapters; imported as %d tasks in this "
                               "order:", k, k);
            for (int j = 0; j < k && len < (int)sizeof why - 40; j++)
                len += snprintf(why + len, sizeof why - (size_t)len, " %s",
                                j == 0 && !strcmp(all[n], ca->args[i]) ? "(top)"
                                : strrchr(all[n + j], '/') ? strrchr(all[n + j], '/') + 1
                                                           : all[n + j]);
            on_note(nt, ca->args[i], "adapters", why);
        }
        n += k;
    }
    *n_out = n;
    return all;
}

int main(int argc, char **argv)
{
    static const cli_opt options[] = {
        {"output", 'o', "STORE", 0, "the store to write (required; written under a temporary\n"
                                    "name and renamed once complete)"},
        {"tasks", O_TASKS, "A,B,...", 0, "task names, one per task (default: the directory names)"},
        {"method", O_METHOD, "NAME", 0, "the method that trained them: olora, nlora, inclora,\n"
                                        "olora+nlora, seqlora or another name (default: imported)"},
        {"lambda", O_LAMBDA, "X", 0, "the N-LoRA lambda of the run (nlora, olora+nlora)"},
        {"lambda-orth", O_LAMBDA_ORTH, "X", 0, "the O-LoRA lambda1 of the run (olora, olora+nlora)"},
        {"name", O_NAME, "TEXT", 0, "the run's label in tables and figures (default: the\n"
                                    "store's file name)"},
        {"accuracy", O_ACCURACY, "FILE", 0, "the accuracy matrix, CSV or JSON (see below)"},
        {"accuracy-protocol", O_PROTOCOL, "P", 0, "what FILE measured: generation (exact match of\n"
                                                  "generated answers, the O-LoRA code's; default) or\n"
                                                  "ranked"},
        {"common-modules", O_COMMON, NULL, 0, "import the modules every adapter has; list those\n"
                                              "dropped"},
        {"annotate", O_ANNOTATE, "STORE", 0, "set the labels above on an existing store (no\n"
                                             "ADAPTER, no -o)"},
        {0}};
    static const cli_spec spec = {.name = PROG,
                                  .synopsis = "-o STORE [options] ADAPTER...\n"
                                              "       collide-import --annotate STORE [labels]",
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
    cl_run_labels_init(&o.labels);
    cli_args ca;
    cli_parse(&sp, argc, argv, on_opt, &o, &ca);
    if (o.annotate) {
        if (o.out || ca.n_args || o.task_arg || o.common)
            cli_usage_error(PROG, "--annotate STORE takes labels only (no -o, ADAPTER, --tasks "
                                  "or --common-modules)", NULL);
        if (cl_run_labels_empty(&o.labels) && !o.accuracy)
            cli_usage_error(PROG, "--annotate: nothing to set (--method, --lambda, "
                                  "--lambda-orth, --name, --accuracy)", NULL);
        return annotate(&o, &ca);
    }
    if (!o.out || !o.out[0])
        cli_usage_error(PROG, "-o STORE is required", NULL);
    if (ca.n_args == 0)
        cli_usage_error(PROG, "no ADAPTER given", NULL);
    {
        cl_error lerr;
        if (cl_run_labels_check(&o.labels, 0, &lerr))
            cli_usage_error(PROG, lerr.msg, NULL);
    }
    if (o.accuracy && access(o.accuracy, R_OK) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", o.accuracy, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    /* every input, the accuracy file included, is never the output */
    const char **inputs = calloc((size_t)ca.n_args + 1, sizeof *inputs);
    if (!inputs) {
        fputs(PROG ": out of memory\n", stderr);
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < ca.n_args; i++)
        inputs[i] = ca.args[i];
    if (o.accuracy)
        inputs[ca.n_args] = o.accuracy;
    int refused = cli_output_check(PROG, o.out, ca.force, inputs, ca.n_args + (o.accuracy != 0));
    free(inputs);
    if (refused)
        return CLI_EXIT_FAIL;
    notes nt = {.list = json_array()};
    int n = 0, n_names = 0, status = 0;
    char **paths = expand_args(&ca, &n, &nt);
    char **names = o.task_arg ? split_names(o.task_arg, &n_names) : NULL;
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
            fprintf(stderr, "\r\033[K" PROG ": reading %d/%d %s", i + 1, n, paths[i]);
            nt.progress_shown = 1;
        }
        if (cl_peft_open(paths[i], on_note, &nt, &a[i], &err))
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
    if (!status) {
        cl_peft_import_spec is = {.task_names = (const char *const *)names,
                                  .n_task_names = n_names,
                                  .progress = progress ? on_progress : NULL,
                                  .progress_ctx = &nt,
                                  .note = on_note,
                                  .note_ctx = &nt,
                                  .labels = &o.labels,
                                  .accuracy_file = o.accuracy,
                                  .accuracy_eval = o.labels.eval,
                                  .common_modules = o.common};
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
            int skipped = 0;
            for (int i = 0; i < n; i++)
                skipped += cl_peft_get_info(a[i])->n_skipped;
            cli c;
            cli_init_defaults(&c, PROG, stdout);
            c.format = ca.format;
            c.table = ca.table;
            c.primary = "tasks";
            add_tables(&c, s, a, n, nt.list);
            if (ca.format == CLI_TEXT)
                print_text(stdout, s, a, n, skipped);
            cl_store_close(s, NULL);
            status = cli_finish(&c, CLI_EXIT_OK);
        }
    }
    for (int i = 0; i < n; i++)
        cl_peft_close(a[i]);
    cl_peft_paths_free(paths, n);
    free(a);
    if (names)
        free(names[0]);
    free(names);
    json_decref(nt.list);
    return status;
}
