/* plot_report.c -- the output folder, and what collide-plot tells its
 * caller: the files written, as text or JSON, on stdout. */
#include "plot.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int plot_outdir_create(const char *dir, cl_error *err)
{
    char *p = strdup(dir);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    /* mkdir -p: each prefix in turn; an existing folder is fine */
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char keep = *s;
        *s = 0;
        if (mkdir(p, 0777) && errno != EEXIST) {
            int e = errno;
            cl_error_set(err, CL_ERR_IO, "%s: cannot create the folder: %s", p, strerror(e));
            free(p);
            return CL_ERR_IO;
        }
        *s = keep;
        if (!keep)
            break;
    }
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    if (!ok)
        return cl_error_set(err, CL_ERR_IO, "%s: not a folder", dir);
    return CL_OK;
}

int plot_outputs_check(const plot_opts *o)
{
    static const char *ext[] = {"csv", "png", "svg", "pdf"};
    int want[] = {1, !o->data_only, o->svg && !o->data_only, o->pdf && !o->data_only};
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        if (!want[i])
            continue;
        size_t n = strlen(o->outdir) + strlen(o->name) + 8;
        char *path = malloc(n);
        if (!path) {
            fputs("collide-plot: out of memory\n", stderr);
            return CLI_EXIT_FAIL;
        }
        snprintf(path, n, "%s/%s.%s", o->outdir, o->name, ext[i]);
        /* every file is checked, so one call names every obstacle */
        bad |= cli_output_check("collide-plot", path, o->force, (const char *const *)o->stores,
                                o->n_stores) != 0;
        free(path);
    }
    return bad ? CLI_EXIT_FAIL : 0;
}

/* --format csv: one row per file written, the fields of the JSON report. */
static void report_csv(const plot_run *r)
{
    fputs("figure,format,path,rows,width,height\n", stdout);
    for (int i = 0; i < r->n_files; i++) {
        const plot_file *f = &r->files[i];
        cli_fprint_csv_field(stdout, r->o->fig->name);
        fputc(',', stdout);
        cli_fprint_csv_field(stdout, f->format);
        fputc(',', stdout);
        cli_fprint_csv_field(stdout, f->path);
        if (!strcmp(f->format, "csv"))
            printf(",%lld", (long long)f->rows);
        else
            fputc(',', stdout);
        if (f->width > 0)
            printf(",%d,%d\n", f->width, f->height);
        else
            fputs(",,\n", stdout);
    }
}

void plot_report(const plot_run *r, int status)
{
    const plot_opts *o = r->o;
    if (o->report == PLOT_REPORT_CSV) {
        report_csv(r);
        return;
    }
    if (o->report == PLOT_REPORT_JSON) {
        json_t *root = json_object(), *files = json_array();
        json_object_set_new(root, "tool", json_string("collide-plot"));
        json_object_set_new(root, "collide_version", json_string(cl_version()));
        json_object_set_new(root, "figure", json_string(o->fig->name));
        json_object_set_new(root, "status", json_integer(status));
        json_object_set_new(root, "no_image",
                            r->no_image ? json_string(r->no_image) : json_null());
        for (int i = 0; i < r->n_files; i++) {
            const plot_file *f = &r->files[i];
            json_t *j = json_pack("{s:s, s:s}", "path", f->path, "format", f->format);
            if (!strcmp(f->format, "csv"))
                json_object_set_new(j, "rows", json_integer(f->rows));
            if (f->width > 0) {
                json_object_set_new(j, "width", json_integer(f->width));
                json_object_set_new(j, "height", json_integer(f->height));
            }
            json_array_append_new(files, j);
        }
        json_object_set_new(root, "files", files);
        json_dumpf(root, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
        json_decref(root);
        return;
    }
    for (int i = 0; i < r->n_files; i++) {
        const plot_file *f = &r->files[i];
        if (!strcmp(f->format, "csv"))
            printf("wrote %s (%lld rows)\n", f->path, (long long)f->rows);
        else if (f->width > 0)
            printf("wrote %s (%d x %d)\n", f->path, f->width, f->height);
        else
            printf("wrote %s\n", f->path);
    }
}
