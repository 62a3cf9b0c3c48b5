/*
 * cl_alloc.h -- allocation that reports through cl_error, for the files of
 * collide's libraries (core, kernels, store, PEFT, metrics). Not part of the
 * public API: collide.h does not include it.
 */
#ifndef CL_ALLOC_H
#define CL_ALLOC_H

#include "cl_core.h"

#include <stdlib.h>

/* Allocation that reports through err. n * size is checked for overflow. */
void *cl_alloc(size_t n, size_t size, cl_error *err);
char *cl_strdup(const char *s, cl_error *err);

#endif
