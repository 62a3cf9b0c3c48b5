/*
 * config.c -- config.json in Hugging Face's field names, read as untrusted
 * input: every field's type and range is checked. Three model_types compute
 * what LlamaForCausalLM computes: llama (attention_bias: biases on q, k, v
 * AND o_proj, as transformers' LlamaAttention puts them), qwen2 (biases on q,
 * k, v only, always) and mistral (none); rope types default, linear and
 * llama3. Anything else (another model_type, rope type yarn, dynamic,
 * longrope..., partial rotary, mlp_bias, another activation, a sliding
 * window shorter than max_position_embeddings for the sequences used) is
 * refused with the file, the key and the reason.
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

static const char *const family_names[] = {"llama", "qwen2", "mistral"};

const char *cl_llama_family_name(int family)
{
    return family >= 0 && family < 3 ? family_names[family] : "?";
}

static const char *const rope_names[] = {"default", "linear", "llama3"};

/* transformers' inverse frequencies, in float32 as it computes them
 * (modeling_rope_utils.py: _compute_default_rope_parameters,
 * _compute_linear_scaling_rope_parameters, _compute_llama3_parameters). */
void cl_llama_rope_inv_freq(const cl_llama_config *c, float *inv)
{
    int D = c->head_dim;
    for (int i = 0; i < D / 2; i++)
        inv[i] = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)D);
    if (c->rope_type == CL_ROPE_LINEAR) {
        for (int i = 0; i < D / 2; i++)
            inv[i] /= c->rope_factor;
    } else if (c->rope_type == CL_ROPE_LLAMA3) {
        float factor = c->rope_factor, lo = c->rope_low_freq_factor;
        float hi = c->rope_high_freq_factor, old = (float)c->rope_original_max_position;
        float low_wavelen = old / lo, high_wavelen = old / hi;
        float span = (float)((double)hi - (double)lo);
        for (int i = 0; i < D / 2; i++) {
            /* torch's scalar / tensor is reciprocal(tensor) * scalar */
            float wavelen = (1.0f / inv[i]) * (float)(2 * M_PI);
            /* wavelen < high_wavelen: kept; > low_wavelen: divided by factor;
             * in between: interpolated */
            float f = wavelen > low_wavelen ? inv[i] / factor : inv[i];
            if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
                float smooth = ((1.0f / wavelen) * old - lo) / span;
                f = (1.0f - smooth) * f / factor + smooth * f;
            }
            inv[i] = f;
        }
    }
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
    if (c->family < 0 || c->family > CL_FAMILY_MISTRAL || c->rope_type < 0 ||
        c->rope_type > CL_ROPE_LLAMA3)
        return cl_error_set(err, CL_ERR_VALUE, "%s: family %d, rope type %d: unknown", name,
                            c->family, c->rope_type);
    if (c->rope_type != CL_ROPE_DEFAULT && !(c->rope_factor > 0))
        return cl_error_set(err, CL_ERR_VALUE, "%s: rope factor %g: must be positive", name,
                            c->rope_factor);
    if (c->rope_type == CL_ROPE_LLAMA3 &&
        !(c->rope_low_freq_factor > 0 && c->rope_low_freq_factor < c->rope_high_freq_factor &&
          c->rope_original_max_position > 0))
        return cl_error_set(err, CL_ERR_VALUE, "%s: llama3 rope parameters out of range", name);
    if (c->o_bias && !c->qkv_bias)
        return cl_error_set(err, CL_ERR_VALUE, "%s: an o_proj bias without q, k, v biases", name);
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

/* A rope object's type: rope_type, else type, else "default". */
static const char *type_of(const json_t *o)
{
    const json_t *t = json_object_get(o, "rope_type");
    if (!t || !json_is_string(t))
        t = json_object_get(o, "type");
    return t && json_is_string(t) ? json_string_value(t) : "default";
}

/* The rotary embedding: transformers >= 5 writes rope_parameters (rope_type,
 * rope_theta and the type's fields); older versions a top-level rope_theta
 * and rope_scaling ({"type" or "rope_type", "factor", ...}) or null. */
static int parse_rope(json_t *root, const char *name, cl_llama_config *c, double *theta,
                      cl_error *err)
{
    json_t *rp = json_object_get(root, "rope_parameters");
    const char *key = "rope_parameters";
    int rc;
    if (rp && !json_is_null(rp) && !json_is_object(rp))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: rope_parameters: not an object", name);
    if (!rp || json_is_null(rp)) {
        rp = json_object_get(root, "rope_scaling");
        key = "rope_scaling";
        if (rp && !json_is_null(rp) && !json_is_object(rp))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: rope_scaling: not an object", name);
        if (rp && json_is_null(rp))
            rp = NULL;
    }
    /* both written and disagreeing: which one transformers honours depends
     * on its version, so neither is guessed */
    json_t *rs = json_object_get(root, "rope_scaling");
    if (rp && !strcmp(key, "rope_parameters") && rs && json_is_object(rs)) {
        const char *a = type_of(rp), *b = type_of(rs);
        if (strcmp(a, b))
            return cl_error_set(err, CL_ERR_UNSUPPORTED,
                                "%s: rope_scaling: type \"%s\" but rope_parameters.rope_type "
                                "\"%s\"; the two disagree (refused rather than guessed)",
                                name, b, a);
    }
    json_t *th = rp ? json_object_get(rp, "rope_theta") : NULL;
    if ((rc = get_num(th ? rp : root, name, "rope_theta", 10000.0, 1.0, 1e12, theta, err)))
        return rc;
    c->rope_type = CL_ROPE_DEFAULT;
    if (!rp)
        return CL_OK;
    json_t *ty = json_object_get(rp, "rope_type");
    const char *tkey = "rope_type";
    if (!ty || json_is_null(ty)) {
        ty = json_object_get(rp, "type");
        tkey = "type";
    }
    if (ty && !json_is_null(ty)) {
        if (!json_is_string(ty))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: %s.%s: not a string", name, key, tkey);
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(json_string_value(ty), rope_names[i]) == 0)
                found = i;
        if (found < 0)
            return cl_error_set(err, CL_ERR_UNSUPPORTED,
                                "%s: %s.%s: \"%s\" is not supported (default, linear, llama3)",
                                name, key, tkey, json_string_value(ty));
        c->rope_type = found;
    }
    double prf;
    if ((rc = get_num(rp, name, "partial_rotary_factor", 1.0, 0.0, 1.0, &prf, err)))
        return rc;
    if (prf != 1.0)
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "%s: %s.partial_rotary_factor: %g is not supported (only 1)", name,
                            key, prf);
    if (c->rope_type == CL_ROPE_DEFAULT)
        return CL_OK;
    double f, lo, hi;
    json_t *fv = json_object_get(rp, "factor");
    if (!fv || json_is_null(fv))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s.factor: missing (rope_type %s)", name,
                            key, rope_names[c->rope_type]);
    if ((rc = get_num(rp, name, "factor", 1.0, 1e-6, 1e6, &f, err)))
        return rc;
    c->rope_factor = (float)f;
    if (c->rope_type == CL_ROPE_LINEAR)
        return CL_OK;
    static const char *need[] = {"low_freq_factor", "high_freq_factor",
                                 "original_max_position_embeddings"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(rp, need[i]);
        if (!v || json_is_null(v))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: %s.%s: missing (rope_type llama3)", name,
                                key, need[i]);
    }
    int omax = 0;
    if ((rc = get_num(rp, name, "low_freq_factor", 1.0, 1e-6, 1e6, &lo, err)) ||
        (rc = get_num(rp, name, "high_freq_factor", 4.0, 1e-6, 1e6, &hi, err)) ||
        (rc = get_int(rp, name, "original_max_position_embeddings", 1, 0, 1, 1 << 24, &omax,
                      err)))
        return rc;
    if (!(lo < hi))
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: %s: low_freq_factor %g must be below high_freq_factor %g", name,
                            key, lo, hi);
    c->rope_low_freq_factor = (float)lo;
    c->rope_high_freq_factor = (float)hi;
    c->rope_original_max_position = omax;
    return CL_OK;
}

/* A sliding window (mistral's sliding_window; qwen2's when use_sliding_window)
 * computes plain causal attention on sequences no longer than the window:
 * collide then caps max_position at the window, so that every longer sequence
 * is refused (cl_llama_prepare names the key). */
static int parse_window(json_t *root, const char *name, cl_llama_config *c, cl_error *err)
{
    c->sliding_window = 0;
    if (c->family == CL_FAMILY_LLAMA)
        return CL_OK;
    if (c->family == CL_FAMILY_QWEN2) {
        json_t *u = json_object_get(root, "use_sliding_window");
        if (u && !json_is_null(u) && !json_is_boolean(u))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: use_sliding_window: not a boolean", name);
        if (!u || !json_is_true(u))
            return CL_OK;
        /* some of its layers (layer_types) slide; all are capped alike */
    }
    json_t *w = json_object_get(root, "sliding_window");
    if (!w || json_is_null(w))
        return CL_OK;
    return get_int(root, name, "sliding_window", 0, 0, 1, 1 << 24, &c->sliding_window, err);
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
    c->family = -1;
    for (int i = 0; i < 3; i++)
        if (!mt || (json_is_string(mt) && strcmp(json_string_value(mt), family_names[i]) == 0)) {
            c->family = i;
            break;
        }
    if (c->family < 0) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED,
                          "%s: model_type: \"%s\" is not supported (llama, qwen2, mistral)", name,
                          json_is_string(mt) ? json_string_value(mt) : "?");
        goto out;
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0)) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: hidden_act: only silu is supported", name);
        goto out;
    }
    if ((rc = expect_false(root, name, "mlp_bias", err)))
        goto out;
    if (c->family == CL_FAMILY_LLAMA) {
        /* LlamaAttention: bias=attention_bias on q, k, v and o_proj alike */
        json_t *ab = json_object_get(root, "attention_bias");
        if (ab && !json_is_null(ab) && !json_is_boolean(ab)) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: attention_bias: not a boolean", name);
            goto out;
        }
        c->qkv_bias = c->o_bias = ab && json_is_true(ab);
    } else if (c->family == CL_FAMILY_QWEN2) {
        /* Qwen2Attention: bias=True on q, k, v, False on o, whatever the config */
        c->qkv_bias = 1;
    }
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
    if ((rc = parse_rope(root, name, c, &theta, err)) || (rc = parse_window(root, name, c, err)))
        goto out;
    c->rms_norm_eps = (float)eps;
    c->rope_theta = (float)theta;
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: tie_word_embeddings: not a boolean", name);
        goto out;
    }
    c->tie_embeddings = tie ? json_is_true(tie) : 0;
    if (c->sliding_window && c->sliding_window < c->max_position)
        c->max_position = c->sliding_window;
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
    static const char *arch[] = {"LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"};
    json_object_set_new(j, "architectures", json_pack("[s]", arch[c->family]));
    json_object_set_new(j, "model_type", json_string(family_names[c->family]));
    if (c->family == CL_FAMILY_LLAMA)
        json_object_set_new(j, "attention_bias", json_boolean(c->qkv_bias));
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
    json_t *rp = json_pack("{s:f, s:s}", "rope_theta", (double)c->rope_theta, "rope_type",
                           rope_names[c->rope_type]);
    if (c->rope_type != CL_ROPE_DEFAULT)
        json_object_set_new(rp, "factor", json_real(c->rope_factor));
    if (c->rope_type == CL_ROPE_LLAMA3) {
        json_object_set_new(rp, "low_freq_factor", json_real(c->rope_low_freq_factor));
        json_object_set_new(rp, "high_freq_factor", json_real(c->rope_high_freq_factor));
        json_object_set_new(rp, "original_max_position_embeddings",
                            json_integer(c->rope_original_max_position));
    }
    json_object_set_new(j, "rope_parameters", rp);
    if (c->family == CL_FAMILY_MISTRAL)
        json_object_set_new(j, "sliding_window",
                            c->sliding_window ? json_integer(c->sliding_window) : json_null());
    if (c->family == CL_FAMILY_QWEN2) {
        json_object_set_new(j, "use_sliding_window", json_boolean(c->sliding_window > 0));
        if (c->sliding_window)
            json_object_set_new(j, "sliding_window", json_integer(c->sliding_window));
    }
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
