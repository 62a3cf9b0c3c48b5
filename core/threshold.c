/* threshold.c -- parsing and printing threshold specifications. */
#include "cl_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode_names[] = {"abs", "rel", "energy", "top"};

int cl_threshold_parse(const char *text, cl_threshold *out, cl_error *err)
{
    const char *colon = strchr(text, ':');
    if (!colon)
        return cl_error_set(err, CL_ERR_ARG,
                            "threshold \"%s\": expected MODE:VALUE, e.g. energy:0.99", text);
    size_t n = (size_t)(colon - text);
    int mode = -1;
    for (int i = 0; i < 4; i++)
        if (strlen(mode_names[i]) == n && !strncmp(text, mode_names[i], n))
            mode = i;
    if (mode < 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "threshold \"%s\": unknown mode (abs, rel, energy or top)", text);
    char *end;
    double v = strtod(colon + 1, &end);
    if (end == colon + 1 || *end || !isfinite(v))
        return cl_error_set(err, CL_ERR_ARG, "threshold \"%s\": \"%s\" is not a number", text,
                            colon + 1);
    int ok = mode == CL_TH_ABS ? v >= 0 : mode == CL_TH_REL ? v >= 0 && v <= 1 : v > 0 && v <= 1;
    if (!ok)
        return cl_error_set(err, CL_ERR_ARG, "threshold \"%s\": %s must be %s", text,
                            mode_names[mode],
                            mode == CL_TH_ABS ? ">= 0" : mode == CL_TH_REL ? "in [0, 1]" : "in (0, 1]");
    out->mode = (cl_threshold_mode)mode;
    out->value = v;
    return CL_OK;
}

void cl_threshold_format(const cl_threshold *t, char *buf, size_t n)
{
    int m = (int)t->mode;
    snprintf(buf, n, "%s:%.10g", m >= 0 && m < 4 ? mode_names[m] : "?", t->value);
}
