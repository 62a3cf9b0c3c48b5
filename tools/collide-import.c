/* collide-import -- a store from PEFT adapters (docs/IMPORT.md). */
#include "collide.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE =
    "usage: collide-import -o STORE [options] ADAPTER...\n"
    "\n"
    "Import LoRA adapters trained with Hugging Face PEFT (or the O-LoRA / N-LoRA code) into a\n"
    "collide store, one task per adapter in the order given (training order), so that every\n"
    "collide tool can audit them.\n"
    "\n"
    "Each ADAPTER is a PEFT adapter directory: adapter_config.json + adapter_model.safetensors.\n"
    "F32, F16 and BF16 are read (stored as F32). An O-LoRA / N-LoRA cumulative checkpoint\n"
    "(earlier tasks in lora_A/lora_B, the current one in loranew_A/loranew_B) gives one task\n"
    "per r-slice. Tensors that are not LoRA factors (modules_to_save, ...) are reported on\n"
    "stderr and skipped. A pickle adapter_model.bin is refused, with the command to convert it.\n"
    "\n"
    "options:\n"
    "  -o, --output STORE   the store to write (replaced only once complete)\n"
    "  --tasks A,B,...      task names, one per task (default: the directory names)\n"
    "  --format F           text (default) or json: what was imported\n"
    "  --quiet              no progress on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "All adapters must adapt the same modules with the same shapes (the same base model);\n"
    "the first mismatch is reported. Ranks, alphas and rsLoRA may differ per task and module.\n"
    "\n"
    "Exit status: 0 success, 1 bad input (the message names the file, the object and the\n"
    "reason), 2 bad usage.\n";

static void bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "collide-import: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'collide-import --help'.\n");
    exit(2);
}

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
    if (!copy || !v)
        bad("%s", "out of memory");
    *n = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = 0;
        v[(*n)++] = tok;
    }
    return v;
}

static void print_text(const char *out, cl_peft_adapter **a, int n, const char *const *names,
                       int skipped)
{
    int T = 0;
    for (int i = 0; i < n; i++)
        T += cl_peft_get_info(a[i])->n_tasks;
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    printf("wrote %s: %d task%s, %d modules, base %s\n", out, T, T == 1 ? "" : "s",
           i0->n_modules, i0->base_model[0] ? i0->base_model : "(not given)");
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++)
            printf("  %-16s %s%s  %s  r %d  alpha %g  scale %s = %g%s\n", names[t], in->dir,
                   in->cumulative ? " (cumulative)" : "", in->dtype, in->r, in->alpha,
                   in->use_rslora ? "alpha/sqrt(r)" : "alpha/r",
                   in->use_rslora ? in->alpha / sqrt((double)in->r) : in->alpha / in->r,
                   in->fan_in_fan_out ? "  fan_in_fan_out" : "");
    }
    if (skipped)
        printf("skipped %d tensor%s that %s not LoRA factors (see the notes on stderr)\n", skipped,
               skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
}

static void print_json(const char *out, cl_peft_adapter **a, int n, const char *const *names,
                       json_t *note_list)
{
    json_t *tasks = json_array(), *mods = json_array();
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks; k++, t++)
            json_array_append_new(
                tasks, json_pack("{s:s, s:s, s:i, s:s, s:i, s:f, s:b, s:b, s:b, s:i, s:i, s:s}",
                                 "name", names[t], "source", in->dir, "slice", k, "dtype",
                                 in->dtype, "r", in->r, "lora_alpha", in->alpha, "use_rslora",
                                 in->use_rslora, "fan_in_fan_out", in->fan_in_fan_out,
                                 "cumulative", in->cumulative, "modules", in->n_modules,
                                 "skipped", in->n_skipped, "task_type", in->task_type));
    }
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    for (int m = 0; m < i0->n_modules; m++) {
        int32_t rank = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < cl_peft_get_info(a[i])->n_tasks; k++)
                if (cl_peft_module_at(a[i], k, m)->rank > rank)
                    rank = cl_peft_module_at(a[i], k, m)->rank;
        const cl_peft_module *pm = cl_peft_module_at(a[0], 0, m);
        json_array_append_new(mods, json_pack("{s:s, s:I, s:I, s:i}", "name", pm->name, "d_out",
                                              (json_int_t)pm->d_out, "d_in", (json_int_t)pm->d_in,
                                              "rank", rank));
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:O}", "tool", "collide-import",
                          "collide_version", cl_version(), "store", out, "base_model",
                          i0->base_model, "tasks", tasks, "modules", mods, "notes", note_list);
    json_dumpf(j, stdout, JSON_INDENT(1));
    fputc('\n', stdout);
    json_decref(j);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *task_arg = NULL;
    int json = 0, quiet = 0;
    enum { O_TASKS = 256, O_FMT, O_QUIET };
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"tasks", required_argument, 0, O_TASKS},
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
        case O_TASKS: task_arg = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_FMT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (strcmp(optarg, "text")) bad("--format \"%s\": expected text or json", optarg);
            break;
        default: bad("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!out || !out[0])
        bad("%s", "-o STORE is required");
    if (optind >= argc)
        bad("%s", "no ADAPTER given");
    int n = argc - optind, n_names = 0, status = 0;
    char **names = task_arg ? split_names(task_arg, &n_names) : NULL;
    notes nt = {.list = json_array()};
    int progress = !quiet && isatty(2);
    cl_peft_adapter **a = calloc((size_t)n, sizeof *a);
    cl_error err;
    if (!a)
        bad("%s", "out of memory");
    int report = 0; /* err holds a message to print */
    for (int i = 0; i < n && !status; i++) {
        if (progress) {
            fprintf(stderr, "\r\033[Kcollide-import: reading %d/%d %s", i + 1, n, argv[optind + i]);
            nt.progress_shown = 1;
        }
        if (cl_peft_open(argv[optind + i], on_note, &nt, &a[i], &err))
            status = report = 1;
    }
    int T = 0;
    for (int i = 0; i < n && !status; i++)
        T += cl_peft_get_info(a[i])->n_tasks;
    if (!status && names && n_names != T) {
        progress_end(&nt);
        fprintf(stderr,
                "collide-import: --tasks gives %d name%s, but the adapters hold %d task%s\n"
                "Try 'collide-import --help'.\n",
                n_names, n_names == 1 ? "" : "s", T, T == 1 ? "" : "s");
        status = 2;
    }
    char **final = NULL;
    if (!status) {
        cl_peft_import_spec sp = {.task_names = (const char *const *)names,
                                  .n_task_names = n_names,
                                  .progress = progress ? on_progress : NULL, .progress_ctx = &nt,
                                  .note = on_note, .note_ctx = &nt};
        if (cl_peft_import(out, a, n, &sp, &err)) {
            status = err.code == CL_ERR_ARG ? 2 : 1;
            report = 1;
        }
    }
    progress_end(&nt);
    if (report)
        fprintf(stderr, "collide-import: %s\n", err.msg);
    if (!status) {
        /* the names the store holds (defaults are made there) */
        cl_store *s;
        if (cl_store_open(out, &s, &err)) {
            fprintf(stderr, "collide-import: %s\n", err.msg);
            status = 1;
        } else {
            final = calloc((size_t)T, sizeof *final);
            for (int t = 0; final && t < T; t++)
                final[t] = strdup(cl_store_task_name(s, t));
            cl_store_close(s, NULL);
            int skipped = 0;
            for (int i = 0; i < n; i++)
                skipped += cl_peft_get_info(a[i])->n_skipped;
            if (json)
                print_json(out, a, n, (const char *const *)final, nt.list);
            else
                print_text(out, a, n, (const char *const *)final, skipped);
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
