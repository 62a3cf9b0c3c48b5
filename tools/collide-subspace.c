/* collide-subspace -- spectra and subspace counts of task updates. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-subspace",
        "Singular values of each task's update and of the accumulated update sum_t dW_t:\n"
        "nuclear, Frobenius and spectral norms, subspace count, entropy and stable rank.",
        "Computed from QR of the factors and the SVD of an r x r core, never a full SVD.\n"
        "Tables: tasks, spectra; with --per-module also module_tasks and per-module spectra.\n"
        "Task -1 / '(accumulated)' is the sum of all tasks' updates.\n"
        "See docs/METRICS.md, section 4.",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_PER_MODULE | CLI_OPT_RANK_TOL, "tasks"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_subspace);
}
