/*
 * check.h -- the few assertions collide's C tests use. Every check counts;
 * a failing check prints where and why and the test goes on, so one run
 * shows every failure. check_done() prints the one-line verdict and gives
 * the exit status.
 */
#ifndef COLLIDE_CHECK_H
#define COLLIDE_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct check_state {
    const char *name;
    long checks, failures;
    double worst_rel; /* largest relative difference seen by CHECK_NEAR */
} check_state;

static check_state check_g = {"test", 0, 0, 0};

static inline void check_begin(const char *name) { check_g.name = name; }

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        check_g.checks++;                                                       \
        if (!(cond)) {                                                          \
            check_g.failures++;                                                 \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* |a - b| <= atol + rtol * max(|a|, |b|); NaN equals NaN only when both are. */
static inline int check_near_(double a, double b, double rtol, double atol)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    double d = fabs(a - b), m = fmax(fabs(a), fabs(b));
    if (m > 0 && d / m > check_g.worst_rel && d > atol)
        check_g.worst_rel = d / m;
    return d <= atol + rtol * m;
}

#define CHECK_NEAR(a, b, rtol, atol, what)                                          \
    do {                                                                            \
        double a_ = (a), b_ = (b);                                                  \
        check_g.checks++;                                                           \
        if (!check_near_(a_, b_, rtol, atol)) {                                     \
            check_g.failures++;                                                     \
            fprintf(stderr, "%s:%d: FAIL: %s: %.17g vs %.17g (rtol %g, atol %g)\n", \
                    __FILE__, __LINE__, what, a_, b_, (double)(rtol), (double)(atol)); \
        }                                                                           \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                             \
    do {                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                 \
        check_g.checks++;                                                       \
        if (!h_ || !strstr(h_, n_)) {                                           \
            check_g.failures++;                                                 \
            fprintf(stderr, "%s:%d: FAIL: \"%s\" does not contain \"%s\"\n",    \
                    __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                \
        }                                                                       \
    } while (0)

static inline int check_done(void)
{
    printf("%s: %s: %ld checks, %ld failures, largest relative difference %.3g\n",
           check_g.name, check_g.failures ? "FAIL" : "PASS", check_g.checks, check_g.failures,
           check_g.worst_rel);
    return check_g.failures ? 1 : 0;
}

#endif
