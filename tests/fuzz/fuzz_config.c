/*
 * fuzz_config.c -- libFuzzer target for config.json (cl_llama_config_parse):
 * any bytes are rejected with a message naming the file, or give a config
 * whose every field is in the range the parser promises and which passes
 * cl_llama_config_check.
 */
#include "llama.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_llama_config c;
    cl_error err;
    if (cl_llama_config_parse((const char *)data, size, "config.json", &c, &err) != CL_OK) {
        if (!strstr(err.msg, "config.json"))
            abort();
        return 0;
    }
    if (c.vocab_size < 2 || c.hidden_size < 2 || c.intermediate_size < 1 || c.num_layers < 1 ||
        c.num_heads < 1 || c.num_kv_heads < 1 || c.num_heads % c.num_kv_heads || c.head_dim < 2 ||
        c.head_dim % 2 || c.max_position < 1 || !(c.rms_norm_eps > 0) || !isfinite(c.rope_theta) ||
        !(c.rope_theta >= 1) || c.eos_token_id >= c.vocab_size || c.bos_token_id >= c.vocab_size ||
        c.pad_token_id >= c.vocab_size)
        abort();
    if (cl_llama_config_check(&c, "config.json", &err) != CL_OK)
        abort(); /* what parse accepts, check accepts */
    return 0;
}
