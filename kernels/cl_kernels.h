/*
 * cl_kernels.h -- the public API of the kernels (kernels/, target
 * collide_kernels): choosing a compute back end and running the dense pass.
 * The back ends themselves sit behind kernels.h.
 */
#ifndef CL_KERNELS_H
#define CL_KERNELS_H

#include "cl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ compute back ends */

typedef struct cl_backend cl_backend;

/* name: "cpu", "cuda" or "auto" (CUDA only when a GPU is present). */
int cl_backend_open(const char *name, cl_backend **out, cl_error *err);
const char *cl_backend_name(const cl_backend *be);
void cl_backend_close(cl_backend *be);

/*
 * The dense pass: for n updates of one module (all d_out x d_in) and n_th
 * thresholds, resolve each task's tau, count active entries and the entries
 * active in both tasks of every pair, and collect l1, ||.||_F^2 and max|x|.
 * dW is formed tile by tile; no d_out x d_in matrix is ever held.
 */
int cl_dense_pass(cl_backend *be, const cl_lowrank *u, int n,
                  const cl_threshold *th, int n_th, cl_dense_result *out,
                  cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
