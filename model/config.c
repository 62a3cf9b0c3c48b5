/*
 * config.c -- config.json in Hugging Face's LlamaConfig field names, read as
 * untrusted input: every field's type and range is checked, unknown
 * architectures and unsupported features (rope scaling, biases, another
 * activation) are refused with the file, the key and the reason.
 */
#include "llama.h"
#include "cl_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Integer field (core's reader: a missing key is an error when required,
 * else def); bounds inclusive. */
static int get_int(json_t *root, const char *name, const char *key, int required, int def,
                   int lo, int hi, int *out, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    if (required && (!v || json_is_null(v)))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: missing", name, key);
    int64_t x;
    int rc = cl_json_get_int(name, root, key, def, lo, hi, &x, err);
    if (!rc)
        *out = (int)x;
    return rc;
}

/* Number field in [lo, hi]; missing or null gives def. */
static int get_num(json_t *root, const char *name, const char *key, double def, double lo,
                   double hi, double *out, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return CL_OK;
    }
    int rc = cl_json_num(name, key, v, out, err);
    if (!rc && !(*out >= lo && *out <= hi))
        rc = cl_error_set(err, CL_ERR_VALUE, "%s: %s: %g out of range [%g, %g]", name, key, *out,
                          lo, hi);
    return rc;
}

static int expect_false(json_t *root, const char *name, const char *key, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    if (v && !json_is_null(v) && !json_is_false(v))
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: %s: only false is supported", name, key);
    return CL_OK;
}

int cl_llama_config_check(const cl_llama_config *c, const char *name, cl_error *err)
{
    if (c->num_heads % c->num_kv_heads)
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                            name, c->num_heads, c->num_kv_heads);
    /* head_dim defaults to hidden_size / num_attention_heads: 0 when there
     * are more heads than dimensions (found by tests/fuzz/fuzz_config.c) */
    if (c->head_dim < 2)
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: head_dim %d (hidden_size %d / num_attention_heads %d): at least 2",
                            name, c->head_dim, c->hidden_size, c->num_heads);
    if (c->head_dim % 2)
        return cl_error_set(err, CL_ERR_VALUE, "%s: head_dim %d must be even (rotary pairs)", name,
                            c->head_dim);
    int ids[3] = {c->bos_token_id, c->eos_token_id, c->pad_token_id};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= c->vocab_size)
            return cl_error_set(err, CL_ERR_VALUE, "%s: token id %d >= vocab_size %d", name, ids[i],
                                c->vocab_size);
    /* parameters must fit comfortably in memory arithmetic */
    double params = (double)c->vocab_size * c->hidden_size * (c->tie_embeddings ? 1 : 2) +
                    (double)c->num_layers * ((double)c->hidden_size * c->head_dim *
                                                 (2.0 * c->num_heads + 2.0 * c->num_kv_heads) +
                                             3.0 * c->hidden_size * c->intermediate_size);
    if (params > 4e10)
        return cl_error_set(err, CL_ERR_VALUE, "%s: %.3g parameters is beyond what collide loads",
                            name, params);
    return CL_OK;
}

int cl_llama_config_parse(const char *text, size_t len, const char *name, cl_llama_config *c,
                          cl_error *err)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: invalid JSON at line %d: %s", name, je.line,
                            je.text);
    int rc = CL_OK;
    if (!json_is_object(root)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: not a JSON object", name);
        goto out;
    }
    json_t *mt = json_object_get(root, "model_type");
    if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), "llama") != 0)) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: model_type: \"%s\" is not llama", name,
                          json_is_string(mt) ? json_string_value(mt) : "?");
        goto out;
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0)) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: hidden_act: only silu is supported", name);
        goto out;
    }
    json_t *rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: rope_scaling: not supported", name);
        goto out;
    }
    if ((rc = expect_false(root, name, "attention_bias", err)) ||
        (rc = expect_false(root, name, "mlp_bias", err)))
        goto out;
    if ((rc = get_int(root, name, "vocab_size", 1, 0, 2, 1 << 22, &c->vocab_size, err)) ||
        (rc = get_int(root, name, "hidden_size", 1, 0, 2, 1 << 16, &c->hidden_size, err)) ||
        (rc = get_int(root, name, "intermediate_size", 1, 0, 1, 1 << 18, &c->intermediate_size,
                      err)) ||
        (rc = get_int(root, name, "num_hidden_layers", 1, 0, 1, 1024, &c->num_layers, err)) ||
        (rc = get_int(root, name, "num_attention_heads", 1, 0, 1, 1024, &c->num_heads, err)))
        goto out;
    if ((rc = get_int(root, name, "num_key_value_heads", 0, c->num_heads, 1, 1024,
                      &c->num_kv_heads, err)) ||
        (rc = get_int(root, name, "head_dim", 0, c->hidden_size / c->num_heads, 1, 4096,
                      &c->head_dim, err)) ||
        (rc = get_int(root, name, "max_position_embeddings", 0, 2048, 1, 1 << 22,
                      &c->max_position, err)) ||
        (rc = get_int(root, name, "bos_token_id", 0, -1, -1, 1 << 22, &c->bos_token_id, err)) ||
        (rc = get_int(root, name, "pad_token_id", 0, -1, -1, 1 << 22, &c->pad_token_id, err)))
        goto out;
    json_t *eos = json_object_get(root, "eos_token_id");
    if (json_is_array(eos)) /* some configs list several; the first is ours */
        eos = json_array_get(eos, 0);
    if (eos && !json_is_null(eos)) {
        if (!json_is_integer(eos) || json_integer_value(eos) < 0 ||
            json_integer_value(eos) > (1 << 22)) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: eos_token_id: not a token id", name);
            goto out;
        }
        c->eos_token_id = (int)json_integer_value(eos);
    } else {
        c->eos_token_id = -1;
    }
    double eps, theta;
    if ((rc = get_num(root, name, "rms_norm_eps", 1e-6, 1e-12, 1e-1, &eps, err)))
        goto out;
    /* transformers >= 5 writes rope_parameters.rope_theta; older versions
     * the top-level rope_theta */
    json_t *rp = json_object_get(root, "rope_parameters");
    if (rp && json_is_object(rp)) {
        json_t *ty = json_object_get(rp, "rope_type");
        if (ty && (!json_is_string(ty) || strcmp(json_string_value(ty), "default") != 0)) {
            rc = cl_error_set(err, CL_ERR_UNSUPPORTED,
                              "%s: rope_parameters.rope_type: only default is supported", name);
            goto out;
        }
        rc = get_num(rp, name, "rope_theta", 10000.0, 1.0, 1e12, &theta, err);
    } else {
        rc = get_num(root, name, "rope_theta", 10000.0, 1.0, 1e12, &theta, err);
    }
    if (rc)
        goto out;
    c->rms_norm_eps = (float)eps;
    c->rope_theta = (float)theta;
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: tie_word_embeddings: not a boolean", name);
        goto out;
    }
    c->tie_embeddings = tie ? json_is_true(tie) : 0;
    rc = cl_llama_config_check(c, name, err);
out:
    json_decref(root);
    return rc;
}

int cl_llama_config_load(const char *path, cl_llama_config *c, cl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* one byte more than the cap tells a full 64 KiB file from a larger one;
     * a read error (a directory: EISDIR) is not "too large" */
    char buf[(1 << 16) + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f), e = errno;
    fclose(f);
    if (bad)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    if (n > 1 << 16)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: larger than 64 KiB, not a config", path);
    return cl_llama_config_parse(buf, n, path, c, err);
}

int cl_llama_config_save(const char *path, const cl_llama_config *c, cl_error *err)
{
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(j, "model_type", json_string("llama"));
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "mlp_bias", json_false());
    json_object_set_new(j, "hidden_act", json_string("silu"));
    json_object_set_new(j, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(j, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(j, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->num_layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->num_heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->num_kv_heads));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_position));
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_norm_eps));
    /* both spellings, so that old and new transformers read it */
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "rope_parameters",
                        json_pack("{s:f, s:s}", "rope_theta", (double)c->rope_theta, "rope_type",
                                  "default"));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tie_embeddings));
    json_object_set_new(j, "bos_token_id",
                        c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
    json_object_set_new(j, "eos_token_id",
                        c->eos_token_id >= 0 ? json_integer(c->eos_token_id) : json_null());
    json_object_set_new(j, "pad_token_id",
                        c->pad_token_id >= 0 ? json_integer(c->pad_token_id) : json_null());
    json_object_set_new(j, "torch_dtype", json_string("float32"));
    json_object_set_new(j, "dtype", json_string("float32"));
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (!rc) {
        if (json_dumpf(j, cl_atomic_fp(af), JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            cl_atomic_abort(af);
            rc = cl_error_set(err, CL_ERR_IO, "%s: write failed", path);
        } else {
            fputc('\n', cl_atomic_fp(af));
            rc = cl_atomic_commit(af, err);
        }
    }
    json_decref(j);
    return rc;
}
