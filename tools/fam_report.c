/* fam_report -- every family, each under its own table prefix. */
#include "families.h"

#include <stdio.h>

int fam_report(cli *c, cl_store *s, cl_error *err)
{
    /* Families reuse table names (each has a "summary"), so every family
     * writes under its own prefix: collision.summary, forget.tasks, ... */
    static const struct {
        const char *prefix;
        int (*fn)(cli *, cl_store *, cl_error *);
    } fam[] = {{"info.", fam_info},         {"collision.", fam_collision}, {"ortho.", fam_ortho},
               {"subspace.", fam_subspace}, {"sparsity.", fam_sparsity},   {"forget.", fam_forget}};
    if (cli_text(c))
        fprintf(c->out, "==================================================================\n"
                        "collide report\n");
    int rc = CL_OK;
    for (size_t i = 0; i < sizeof fam / sizeof fam[0] && !rc; i++) {
        c->prefix = fam[i].prefix;
        rc = fam[i].fn(c, s, err);
    }
    c->prefix = NULL;
    return rc;
}
