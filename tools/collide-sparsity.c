/* collide-sparsity -- how sparse each task's update is. */
#include "families.h"

#include <string.h>

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-sparsity",
        "Sparsity of each task's update: l1 norm, l1/l2, Hoyer sparsity and the density\n"
        "(active fraction) under each threshold.",
        "--threshold may be given several times; without it, densities are reported under\n"
        "energy:0.99, energy:0.9, rel:0.01 and rel:0.1 (abs needs a scale of the model's\n"
        "own). Tables: tasks; with --per-module also module_tasks.\n"
        "See docs/METRICS.md, section 5.",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_THRESHOLD | CLI_OPT_MULTI_THRESHOLD |
            CLI_OPT_DEVICE | CLI_OPT_PER_MODULE,
        "tasks"};
    int given = 0;
    for (int i = 1; i < argc; i++)
        given |= !strncmp(argv[i], "--threshold", 11);
    cli c;
    cli_init(&c, &tool, argc, argv);
    if (!given) {
        static const char *def[] = {"energy:0.99", "energy:0.9", "rel:0.01", "rel:0.1"};
        cl_error err;
        for (int i = 0; i < 4; i++)
            cl_threshold_parse(def[i], &c.th[i], &err);
        c.n_th = 4;
    }
    return cli_run(&c, fam_sparsity);
}
