/* backend.c -- choosing a compute back end and running the dense pass. */
#include "cl_alloc.h"
#include "kernels.h"

#include <stdio.h>
#include <string.h>

struct cl_backend {
    const ck_backend_ops *ops;
    void *ctx;
    char name[32];
};

int cl_backend_open(const char *name, cl_backend **out, cl_error *err)
{
    *out = NULL;
    if (!name)
        name = "auto";
    cl_backend *be = cl_alloc(1, sizeof *be, err);
    if (!be)
        return err->code;
    int rc;
    const char *isa = NULL;
    if (!strcmp(name, "cuda") || (!strcmp(name, "auto") && ck_cuda_available())) {
        rc = ck_cuda_open(&be->ops, &be->ctx, err);
        if (rc == CL_OK)
            snprintf(be->name, sizeof be->name, "cuda");
    } else if (!strcmp(name, "auto") || !strcmp(name, "cpu") || !strncmp(name, "cpu:", 4)) {
        const char *want = !strncmp(name, "cpu:", 4) ? name + 4 : NULL;
        rc = ck_cpu_open(0, want, &be->ops, &be->ctx, &isa, err);
        if (rc == CL_OK)
            snprintf(be->name, sizeof be->name, "cpu:%s", isa);
    } else {
        rc = cl_error_set(err, CL_ERR_ARG, "--device: unknown back end \"%s\" (cpu, cuda or auto)",
                          name);
    }
    if (rc) {
        free(be);
        return rc;
    }
    *out = be;
    return CL_OK;
}

const char *cl_backend_name(const cl_backend *be) { return be->name; }

void cl_backend_close(cl_backend *be)
{
    if (!be)
        return;
    if (be->ops)
        be->ops->close(be->ctx);
    free(be);
}

int cl_dense_pass(cl_backend *be, const cl_lowrank *u, int n, const cl_threshold *th, int n_th,
                  cl_dense_result *out, cl_error *err)
{
    return be->ops->dense_pass(be->ctx, u, n, th, n_th, out, err);
}
