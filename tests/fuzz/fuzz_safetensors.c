/*
 * fuzz_safetensors.c -- libFuzzer target for the safetensors reader: parse
 * any bytes, then read every tensor the parse accepted. The reader must
 * never crash, leak or read outside the buffer (ASan/UBSan watch), and
 * whatever it accepts must satisfy the invariants checked below.
 */
#include "collide.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_safetensors *st;
    cl_error err;
    if (cl_st_parse(data, size, "fuzz", &st, &err) != CL_OK) {
        if (!strstr(err.msg, "fuzz")) /* every message names the input */
            abort();
        return 0;
    }
    for (int i = 0; i < cl_st_count(st); i++) {
        const cl_st_tensor *t = cl_st_get(st, i);
        uint64_t bytes = (uint64_t)t->count * (uint64_t)cl_st_dtype_size(t->dtype);
        /* accepted means: inside the buffer, sized by its shape, findable */
        if (t->begin > t->end || t->end > size || t->end - t->begin != bytes ||
            cl_st_find(st, t->name) != t)
            abort();
        size_t n = (size_t)t->count ? (size_t)t->count : 1;
        if (t->dtype == CL_ST_F32 || t->dtype == CL_ST_F16 || t->dtype == CL_ST_BF16 ||
            t->dtype == CL_ST_F64) {
            float *v = malloc(n * sizeof *v);
            if (v && cl_st_read_f32(st, t, v, &err) != CL_OK)
                abort(); /* an accepted float tensor always reads */
            free(v);
        } else if (t->dtype == CL_ST_I32 || t->dtype == CL_ST_I64) {
            int32_t *v = malloc(n * sizeof *v);
            if (v)
                (void)cl_st_read_i32(st, t, v, &err); /* I64 may be out of range */
            free(v);
        }
    }
    /* no two accepted tensors share a byte (quadratic: inputs are small) */
    for (int i = 0; i < cl_st_count(st) && i < 2000; i++)
        for (int j = i + 1; j < cl_st_count(st) && j < 2000; j++) {
            const cl_st_tensor *a = cl_st_get(st, i), *b = cl_st_get(st, j);
            if (a->begin < a->end && b->begin < b->end && a->begin < b->end && b->begin < a->end)
                abort();
        }
    (void)cl_st_metadata(st, "format");
    cl_st_close(st);
    return 0;
}
