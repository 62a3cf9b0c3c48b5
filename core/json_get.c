/*
 * json_get.c -- fields of a JSON object read as untrusted input: every key
 * of the expected JSON type and in range, every failure naming the file,
 * the key and the reason (cl_json.h).
 */
#include "cl_alloc.h"
#include "cl_json.h"

#include <math.h>

const char *cl_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int cl_json_int(const char *p, const char *what, const json_t *v, int64_t lo, int64_t hi,
                int64_t *out, cl_error *err)
{
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        d = json_real_value(v);
    else
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected an integer, found %s", p, what,
                            cl_json_kind(v));
    if (!(d >= (double)lo && d <= (double)hi))
        return cl_error_set(err, CL_ERR_VALUE, "%s: %s: %.17g out of range [%lld, %lld]", p, what,
                            d, (long long)lo, (long long)hi);
    *out = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
    return CL_OK;
}

int cl_json_num(const char *p, const char *what, const json_t *v, double *out, cl_error *err)
{
    if (!json_is_number(v))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected a number, found %s", p, what,
                            cl_json_kind(v));
    *out = json_number_value(v);
    if (!isfinite(*out))
        return cl_error_set(err, CL_ERR_VALUE, "%s: %s: not finite", p, what);
    return CL_OK;
}

int cl_json_get_int(const char *p, const json_t *root, const char *key, int64_t def,
                    int64_t lo, int64_t hi, int64_t *out, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = def;
    if (!v || json_is_null(v))
        return CL_OK;
    return cl_json_int(p, key, v, lo, hi, out, err);
}

int cl_json_get_bool(const char *p, const json_t *root, const char *key, int def, int *out,
                     cl_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = def;
    if (!v || json_is_null(v))
        return CL_OK;
    if (!json_is_boolean(v))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected true or false, found %s", p,
                            key, cl_json_kind(v));
    *out = json_is_true(v);
    return CL_OK;
}

int cl_json_get_str(const char *p, const json_t *root, const char *key, char **out,
                    cl_error *err)
{
    json_t *v = json_object_get(root, key);
    if (v && !json_is_null(v) && !json_is_string(v))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected a string, found %s", p, key,
                            cl_json_kind(v));
    *out = cl_strdup(v && json_is_string(v) ? json_string_value(v) : "", err);
    return *out ? CL_OK : err->code;
}

int cl_json_get_strings(const char *p, const json_t *root, const char *key, size_t max,
                        char ***out, int *n, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v) || json_is_string(v))
        return CL_OK;
    if (!json_is_array(v))
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: %s: expected a list of strings, a string or null, found %s", p,
                            key, cl_json_kind(v));
    size_t len = json_array_size(v);
    if (len > max)
        return cl_error_set(err, CL_ERR_VALUE, "%s: %s: %zu entries (at most %zu)", p, key, len,
                            max);
    *out = cl_alloc(len, sizeof **out, err);
    if (!*out)
        return err->code;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: %s[%zu]: expected a string, found %s",
                                p, key, i, cl_json_kind(e));
        (*out)[i] = cl_strdup(json_string_value(e), err);
        if (!(*out)[i])
            return err->code;
        *n = (int)i + 1;
    }
    return CL_OK;
}
