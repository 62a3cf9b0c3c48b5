/*
 * cl_json.h -- reading fields of a JSON object (jansson) as untrusted input,
 * for the files of collide's libraries that read JSON written elsewhere
 * (adapter_config.json). Every failure names the file, the key and the
 * reason: "FILE: KEY: expected an integer, found a string". A key that is
 * missing or null takes the caller's default. Not part of the public API:
 * collide.h does not include it.
 */
#ifndef CL_JSON_H
#define CL_JSON_H

#include "cl_core.h"

#include <jansson.h>

/* "an object", "an array", "a string", "an integer", "a number",
 * "a boolean" or "null": what a value is, for messages. */
const char *cl_json_kind(const json_t *v);

/* v as an integer in [lo, hi]; a real with an integral value is accepted,
 * as Python's int() of it would be. what names the value in messages. */
int cl_json_int(const char *file, const char *what, const json_t *v, int64_t lo, int64_t hi,
                int64_t *out, cl_error *err);
/* v as a finite number. */
int cl_json_num(const char *file, const char *what, const json_t *v, double *out,
                cl_error *err);

/* obj[key] as an integer in [lo, hi]; missing or null gives def. */
int cl_json_get_int(const char *file, const json_t *obj, const char *key, int64_t def,
                    int64_t lo, int64_t hi, int64_t *out, cl_error *err);
/* obj[key] as true or false; missing or null gives def. */
int cl_json_get_bool(const char *file, const json_t *obj, const char *key, int def, int *out,
                     cl_error *err);
/* obj[key] as a newly allocated string; missing or null gives "". */
int cl_json_get_str(const char *file, const json_t *obj, const char *key, char **out,
                    cl_error *err);
/* obj[key] as a list of at most max strings, newly allocated; a plain
 * string or null leaves the list empty (*n = 0, *out = NULL). On failure
 * *out holds the *n strings read so far (NULL-padded after them). */
int cl_json_get_strings(const char *file, const json_t *obj, const char *key, size_t max,
                        char ***out, int *n, cl_error *err);

#endif
