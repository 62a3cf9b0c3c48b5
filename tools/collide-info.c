/* collide-info -- what a store holds. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-info", "Show what an adapter store holds: run metadata, tasks, modules, snapshots.",
        "Tables (--format csv --table NAME): store, tasks, modules, snapshots.", 0, "store"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_info);
}
