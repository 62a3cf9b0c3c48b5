/* sparsity.c -- l1, l1/l2 and Hoyer sparsity of an update (section 5). */
#include "metrics_internal.h"

#include <math.h>

cl_sparsity cl_sparsity_from_sums(double l1, double sumsq, int64_t entries)
{
    cl_sparsity s;
    s.l1 = l1;
    s.l2 = sqrt(sumsq);
    s.l1_over_l2 = s.l2 > 0 ? l1 / s.l2 : NAN;
    double rn = sqrt((double)entries);
    /* Hoyer (2004): 1 for a single non-zero entry, 0 when all are equal. */
    s.hoyer = s.l2 > 0 && entries > 1 ? (rn - s.l1_over_l2) / (rn - 1) : NAN;
    return s;
}
