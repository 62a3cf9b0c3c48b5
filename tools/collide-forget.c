/* collide-forget -- forgetting from the accuracy matrix. */
#include "families.h"

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-forget",
        "Forgetting from the accuracy matrix R (R[i][j] = accuracy on task j after training\n"
        "task i): AA, learning accuracy, BWT, forgetting in both published definitions, FWT.",
        "Tables: summary, tasks, matrix. See docs/METRICS.md, section 6.", 0, "summary"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, fam_forget);
}
