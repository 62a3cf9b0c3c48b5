/* collide-plot -- draw the figures of a continual-learning run from its
 * adapter stores (docs/FIGURES.md). The figures live in plot_*.c. */
#include "plot.h"

int main(int argc, char **argv)
{
    plot_opts o;
    plot_args_parse(&o, argc, argv);
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
    int status = rc ? CLI_EXIT_FAIL : r.no_image ? PLOT_EXIT_NO_IMAGE : CLI_EXIT_OK;
    plot_report(&r, status);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "collide-plot: writing the output failed\n");
        status = CLI_EXIT_FAIL;
    }
    plot_run_free(&r);
    return status;
}
