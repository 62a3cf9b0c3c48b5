/* collide-report -- every metric family in one report. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-report",
        "Every metric family in one readable report: what the store holds, collisions,\n"
        "orthogonality, subspaces, sparsity and forgetting.",
        "JSON holds every family's tables, named family.table (collision.pairs, ...);\n"
        "CSV prints one of them (--table, default collision.summary).",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_THRESHOLD | CLI_OPT_DEVICE |
            CLI_OPT_RANK_TOL | CLI_OPT_PER_MODULE,
        "collision.summary"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_report);
}
