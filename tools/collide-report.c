/* collide-report -- every metric family in one report. */
#include "families.h"

#include <stdio.h>

static int report(cli *c, cl_store *s, cl_error *err)
{
    static const struct {
        const char *prefix;
        int (*fn)(cli *, cl_store *, cl_error *);
    } fam[] = {{"info.", fam_info},         {"collision.", fam_collision}, {"ortho.", fam_ortho},
               {"subspace.", fam_subspace}, {"sparsity.", fam_sparsity},   {"forget.", fam_forget}};
    if (cli_text(c))
        fprintf(c->out, "==================================================================\n"
                        "collide report\n");
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        c->prefix = fam[i].prefix;
        int rc = fam[i].fn(c, s, err);
        if (rc)
            return rc;
    }
    c->prefix = NULL;
    return CL_OK;
}

int main(int argc, char **argv)
{
    static const cli_tool tool = {
        "collide-report",
        "Every metric family in one readable report: what the store holds, collisions,\n"
        "orthogonality, subspaces, sparsity and forgetting.",
        "JSON holds every family's tables, named family.table (collision.pairs, ...);\n"
        "CSV prints one of them (--table, default collision.summary).",
        CLI_OPT_SNAPSHOT | CLI_OPT_MODULE | CLI_OPT_THRESHOLD | CLI_OPT_DEVICE |
            CLI_OPT_RANK_TOL,
        "collision.summary"};
    cli c;
    cli_init(&c, &tool, argc, argv);
    return cli_run(&c, report);
}
