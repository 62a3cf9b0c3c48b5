/* cuda_stub.c -- built instead of kernels/cuda when nvcc is not found. */
#include "kernels.h"

int ck_cuda_available(void) { return 0; }

int ck_cuda_open(const ck_backend_ops **ops, void **ctx, cl_error *err)
{
    *ops = NULL;
    *ctx = NULL;
    return cl_error_set(err, CL_ERR_UNSUPPORTED,
                        "cuda back end: this collide was built without CUDA (nvcc not found)");
}
