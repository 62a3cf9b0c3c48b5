/* collide-plot -- draw the figures of a continual-learning run from its
 * adapter stores (docs/FIGURES.md). The figures live in plot_*.c. */
#include "plot.h"

#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    plot_opts o;
    plot_args_parse(&o, argc, argv);
    /* every output is checked before any is written */
    if (plot_outputs_check(&o))
        return CLI_EXIT_FAIL;
    struct stat st;
    int existed = stat(o.outdir, &st) == 0;
    cl_error err;
    if (plot_outdir_create(o.outdir, &err)) {
        fprintf(stderr, "collide-plot: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    plot_run r;
    plot_run_init(&r, &o);
    int rc = o.fig->run(&r, &err);
    cli_progress_done(&r.c);
    if (rc)
        fprintf(stderr, "collide-plot: %s\n", err.msg);
    if (rc && !existed && r.n_files == 0)
        rmdir(o.outdir); /* a failed call leaves no empty folder of its own */
    int status = rc ? CLI_EXIT_FAIL : r.no_image ? PLOT_EXIT_NO_IMAGE : CLI_EXIT_OK;
    plot_report(&r, status);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "collide-plot: writing the output failed\n");
        status = CLI_EXIT_FAIL;
    }
    plot_run_free(&r);
    return status;
}
