/*
 * families.h -- one function per metric family, shared by the family's own
 * tool (collide-collision, ...) and by collide-report, which runs them all.
 * Each adds rows to the tidy tables and, in text mode, prints its part.
 */
#ifndef COLLIDE_FAMILIES_H
#define COLLIDE_FAMILIES_H

#include "cli.h"

int fam_info(cli *c, cl_store *s, cl_error *err);
int fam_collision(cli *c, cl_store *s, cl_error *err);
int fam_ortho(cli *c, cl_store *s, cl_error *err);
int fam_subspace(cli *c, cl_store *s, cl_error *err);
int fam_sparsity(cli *c, cl_store *s, cl_error *err);
int fam_forget(cli *c, cl_store *s, cl_error *err);
/* All of the above, each family's tables named "family.table". */
int fam_report(cli *c, cl_store *s, cl_error *err);

#endif
