// dense_cuda.cu -- placeholder until the kernels issue: reports the GPU only.
#include <cuda_runtime.h>
extern "C" {
#include "kernels.h"
}
extern "C" int ck_cuda_available(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}
extern "C" int ck_cuda_open(const ck_backend_ops **ops, void **ctx, cl_error *err)
{
    *ops = 0;
    *ctx = 0;
    return cl_error_set(err, CL_ERR_UNSUPPORTED, "cuda back end: not built yet");
}
