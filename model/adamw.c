/* adamw.c -- AdamW (Loshchilov and Hutter) with bias correction, the
 * weight decay decoupled from the gradient as PyTorch's AdamW does. */
#include "llama.h"

#include <math.h>
#include <stdlib.h>

int cl_adamw_init(cl_adamw *o, size_t n, float lr, float wd, cl_error *err)
{
    o->lr = lr;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = wd;
    o->t = 0;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || !o->v) {
        cl_adamw_free(o);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for AdamW state (%zu)", n);
    }
    return CL_OK;
}

void cl_adamw_free(cl_adamw *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void cl_adamw_tick(cl_adamw *o) { o->t++; }

void cl_adamw_step_block(cl_adamw *o, size_t offset, float *params, const float *grads, size_t n,
                         float weight_decay)
{
    /* call cl_adamw_tick once per step, before the blocks */
    float b1c = 1.0f - powf(o->beta1, (float)o->t), b2c = 1.0f - powf(o->beta2, (float)o->t);
    float *m = o->m + offset, *v = o->v + offset;
    /* element-wise, so threads change nothing in the result; below some
     * 64 Ki parameters (LoRA blocks) the fork costs more than it saves */
#pragma omp parallel for schedule(static) if (n >= (1u << 16))
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * g;
        v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * g * g;
        float mh = m[i] / b1c, vh = v[i] / b2c;
        params[i] -= o->lr * (mh / (sqrtf(vh) + o->eps) + weight_decay * params[i]);
    }
}
