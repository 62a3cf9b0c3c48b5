/*
 * fuzz_pickle.c -- libFuzzer target for the torch.save reader
 * (libmetrics/peft/torch_pickle.c): any bytes as a checkpoint (zip or
 * legacy; the zip records' CRC-32 not checked, so that the fuzzer reaches the
 * pickle machine), then the in-memory safetensors file it produces through
 * cl_st_parse and every float tensor read. Nothing may crash, leak or read
 * outside the input (ASan/UBSan watch); every refusal names the input; what
 * the reader accepts the safetensors reader must accept too.
 */
#include "collide.h"
#include "peft_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    size_t len;
    cl_error err;
    if (cl_torch_parse(data, size, "fuzz", CL_TORCH_NO_CRC, &buf, &len, &err) != CL_OK) {
        if (!strstr(err.msg, "fuzz")) /* every message names the input */
            abort();
        return 0;
    }
    cl_safetensors *st;
    if (cl_st_parse(buf, len, "fuzz", &st, &err) != CL_OK) {
        /* only a name the safetensors header cannot hold may fail here */
        if (!strstr(err.msg, "fuzz") || !strstr(err.msg, "empty name"))
            abort();
        free(buf);
        return 0;
    }
    for (int i = 0; i < cl_st_count(st); i++) {
        const cl_st_tensor *t = cl_st_get(st, i);
        if (t->dtype != CL_ST_F32 && t->dtype != CL_ST_F16 && t->dtype != CL_ST_BF16 &&
            t->dtype != CL_ST_F64)
            continue;
        float *v = malloc(((size_t)t->count ? (size_t)t->count : 1) * sizeof *v);
        if (v && cl_st_read_f32(st, t, v, &err) != CL_OK)
            abort();
        free(v);
    }
    cl_st_close(st);
    free(buf);
    return 0;
}
