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

/* The files written as the table files (a row each: figure, format, path,
 * rows of a CSV, size of an image) and the run as the table run: --format
 * csv and json print them as every tool prints its tables. */
void plot_report(const plot_run *r, int status)
{
    const plot_opts *o = r->o;
    if (o->report != PLOT_REPORT_TEXT) {
        cli c;
        cli_init_defaults(&c, "collide-plot", stdout);
        c.format = o->report == PLOT_REPORT_JSON ? CLI_JSON : CLI_CSV;
        c.primary = "files";
        static const char *fc[] = {"figure", "format", "path", "rows:i", "width:i", "height:i"};
        static const char *rc[] = {"figure", "status:i", "no_image"};
        cli_table *tf = cli_table_get(&c, "files", fc, 6);
        cli_table *tr = cli_table_get(&c, "run", rc, 3);
        for (int i = 0; i < r->n_files; i++) {
            const plot_file *f = &r->files[i];
            cli_row_begin(tf);
            cli_cell_s(tf, o->fig->name);
            cli_cell_s(tf, f->format);
            cli_cell_s(tf, f->path);
            if (!strcmp(f->format, "csv"))
                cli_cell_i(tf, f->rows);
            else
                cli_cell_none(tf);
            if (f->width > 0) {
                cli_cell_i(tf, f->width);
                cli_cell_i(tf, f->height);
            } else {
                cli_cell_none(tf);
                cli_cell_none(tf);
            }
        }
        cli_row_begin(tr);
        cli_cell_s(tr, o->fig->name);
        cli_cell_i(tr, status);
        if (r->no_image)
            cli_cell_s(tr, r->no_image);
        else
            cli_cell_none(tr);
        cli_finish(&c, CLI_EXIT_OK);
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
