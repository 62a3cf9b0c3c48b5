/* collision.c -- collision rate, Jaccard index and lift of a task pair
 * (docs/METRICS.md, section 2). The counts come from the dense pass. */
#include "metrics_internal.h"

#include <math.h>

cl_collision cl_collision_from_counts(int64_t both, int64_t active_i, int64_t active_j,
                                      int64_t entries)
{
    cl_collision c;
    double n = (double)entries;
    int64_t either = active_i + active_j - both;
    c.rate = entries > 0 ? (double)both / n : NAN;
    c.jaccard = either > 0 ? (double)both / (double)either : NAN;
    double di = (double)active_i / n, dj = (double)active_j / n;
    /* lift: 1 when the supports are independent, 0 when disjoint */
    c.lift = di > 0 && dj > 0 ? c.rate / (di * dj) : NAN;
    return c;
}
