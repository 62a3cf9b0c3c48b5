/* collide-collision -- parameter collisions between task updates. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-collision",
        "Parameter collisions between the tasks' updates dW = s B A: collision rate, Jaccard\n"
        "index and lift for every task pair, and their average (ACR).",
        "An entry of dW is active when it passes the threshold, resolved per task and module.\n"
        "CR_ij = |active_i AND active_j| / (d_out d_in). Aggregates: *_mean averages the\n"
        "per-module values, *_pooled counts over all modules' entries together.\n"
        "Tables: pairs, tasks, summary; with --per-module also module_pairs, module_tasks.\n"
        "See docs/METRICS.md, section 2.",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_THRESHOLD | CLI_OPT_DEVICE |
            CLI_OPT_PER_MODULE | CLI_OPT_SWEEP,
        "pairs"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_collision);
}
