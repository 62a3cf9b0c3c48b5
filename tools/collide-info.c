/* collide-info -- what a store holds. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-info", "Show what an adapter store holds: run metadata, tasks, modules, snapshots.",
        "Tables (--format csv --table NAME): store, tasks, modules, snapshots. Text lists\n"
        "up to 16 modules and 24 snapshots, the first and last ones (--all: every one).\n"
        "What a store does not record (an imported adapter's seed, lambda, losses) reads\n"
        "\"not recorded\"; in CSV and JSON it is an empty field / null.",
        CLI_OPT_ALL, "store"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_info);
}
