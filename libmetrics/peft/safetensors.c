/*
 * safetensors.c -- a reader and writer of the safetensors format, written
 * for hostile input: the header length is bounded, the JSON is validated
 * (objects only, no duplicate names), every offset lies inside the file and
 * no two tensors overlap, shape x dtype size equals the byte range, and no
 * product of sizes can overflow. Shared by the model loader and the PEFT
 * importer.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}, NAME: {"dtype": D, "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the data buffer; offsets are relative to its start.
 */
#include "cl_alloc.h"
#include "cl_peft.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20) /* as the reference implementation */

struct cl_safetensors {
    char *path;
    int fd;                /* -1 for an in-memory buffer */
    const uint8_t *mem;
    uint64_t data_start, data_size;
    int n;
    cl_st_tensor *t;
    int n_meta;
    char **meta_key, **meta_val;
};

static const struct {
    const char *name;
    int size;
} dtypes[] = {[CL_ST_F64] = {"F64", 8}, [CL_ST_F32] = {"F32", 4},  [CL_ST_F16] = {"F16", 2},
              [CL_ST_BF16] = {"BF16", 2}, [CL_ST_I64] = {"I64", 8}, [CL_ST_I32] = {"I32", 4},
              [CL_ST_I16] = {"I16", 2}, [CL_ST_I8] = {"I8", 1},    [CL_ST_U8] = {"U8", 1},
              [CL_ST_BOOL] = {"BOOL", 1}};

const char *cl_st_dtype_name(cl_st_dtype d) { return dtypes[d].name; }
int cl_st_dtype_size(cl_st_dtype d) { return dtypes[d].size; }

static int dtype_of(const char *s)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].name && !strcmp(s, dtypes[i].name))
            return (int)i;
    return -1;
}

void cl_st_close(cl_safetensors *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    for (int i = 0; i < st->n; i++)
        free(st->t[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_key[i]);
        free(st->meta_val[i]);
    }
    free(st->meta_key);
    free(st->meta_val);
    free(st->t);
    free(st->path);
    free(st);
}

static int by_begin(const void *a, const void *b)
{
    const cl_st_tensor *x = *(cl_st_tensor *const *)a, *y = *(cl_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* The header's "__metadata__" object: string values only. */
static int parse_metadata(cl_safetensors *st, json_t *val, cl_error *err)
{
    const char *p = st->path;
    if (!json_is_object(val))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: __metadata__: not an object", p);
    size_t nm = json_object_size(val);
    st->meta_key = cl_alloc(nm, sizeof(char *), err);
    st->meta_val = cl_alloc(nm, sizeof(char *), err);
    if (!st->meta_key || !st->meta_val)
        return err->code;
    const char *mk;
    json_t *mv;
    json_object_foreach(val, mk, mv) {
        if (!json_is_string(mv))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: __metadata__.%s: not a string", p, mk);
        st->meta_key[st->n_meta] = cl_strdup(mk, err);
        st->meta_val[st->n_meta] = cl_strdup(json_string_value(mv), err);
        if (!st->meta_key[st->n_meta] || !st->meta_val[st->n_meta])
            return err->code;
        st->n_meta++;
    }
    return CL_OK;
}

/* One tensor's entry, into t: dtype, shape (no overflow), data_offsets
 * inside the data buffer and spanning exactly shape x dtype size. */
static int parse_tensor(const cl_safetensors *st, const char *key, json_t *val,
                        cl_st_tensor *t, cl_error *err)
{
    const char *p = st->path;
    if (!key[0])
        return cl_error_set(err, CL_ERR_FORMAT, "%s: header: a tensor has an empty name", p);
    if (!json_is_object(val))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': entry is not an object", p, key);
    json_t *dt = json_object_get(val, "dtype"), *sh = json_object_get(val, "shape"),
           *off = json_object_get(val, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': needs string dtype, array shape and data_offsets",
                            p, key);
    int d = dtype_of(json_string_value(dt));
    if (d < 0)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'", p, key,
                            json_string_value(dt));
    t->dtype = (cl_st_dtype)d;
    size_t nd = json_array_size(sh);
    if (nd > CL_ST_MAX_DIMS)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", p,
                            key, nd, CL_ST_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t count = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *x = json_array_get(sh, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a "
                                "non-negative integer", p, key, i);
        uint64_t v = (uint64_t)json_integer_value(x);
        t->shape[i] = (int64_t)v;
        if (v && count > UINT64_MAX / v)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': shape overflows", p, key);
        count *= v;
    }
    if (json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)) ||
        json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < 0)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets must be two non-negative integers", p,
                            key);
    t->begin = (uint64_t)json_integer_value(json_array_get(off, 0));
    t->end = (uint64_t)json_integer_value(json_array_get(off, 1));
    if (t->begin > t->end)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu]: begin is after end", p,
                            key, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > st->data_size)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu-byte "
                            "data buffer",
                            p, key, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)st->data_size);
    if (count > UINT64_MAX / (uint64_t)dtypes[d].size ||
        count * (uint64_t)dtypes[d].size != t->end - t->begin)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': shape x %s size is %llu bytes, data_offsets span "
                            "%llu",
                            p, key, dtypes[d].name,
                            (unsigned long long)(count <= UINT64_MAX / (uint64_t)dtypes[d].size
                                                     ? count * (uint64_t)dtypes[d].size
                                                     : UINT64_MAX),
                            (unsigned long long)(t->end - t->begin));
    t->count = (int64_t)count;
    t->name = cl_strdup(key, err);
    return t->name ? CL_OK : err->code;
}

/* No two tensors may share bytes. */
static int check_overlaps(const cl_safetensors *st, cl_error *err)
{
    if (st->n < 2)
        return CL_OK;
    cl_st_tensor **s = cl_alloc((size_t)st->n, sizeof *s, err);
    if (!s)
        return err->code;
    for (int i = 0; i < st->n; i++)
        s[i] = &st->t[i];
    qsort(s, (size_t)st->n, sizeof *s, by_begin);
    /* Compare with the furthest-reaching tensor so far, not just the
     * previous one: an empty tensor between two others must not hide
     * their overlap. Empty tensors occupy no bytes. */
    const cl_st_tensor *reach = NULL;
    int rc = CL_OK;
    for (int i = 0; i < st->n && rc == CL_OK; i++) {
        if (s[i]->end == s[i]->begin)
            continue;
        if (reach && s[i]->begin < reach->end)
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                              "[%llu, %llu]",
                              st->path, s[i]->name, (unsigned long long)s[i]->begin,
                              (unsigned long long)s[i]->end, reach->name,
                              (unsigned long long)reach->begin, (unsigned long long)reach->end);
        if (!reach || s[i]->end > reach->end)
            reach = s[i];
    }
    free(s);
    return rc;
}

/* Parse and validate the JSON header (len bytes at h). */
static int parse_header(cl_safetensors *st, const char *h, size_t len, cl_error *err)
{
    const char *p = st->path;
    if (len == 0 || h[0] != '{')
        return cl_error_set(err, CL_ERR_FORMAT, "%s: header: does not start with a JSON object", p);
    for (size_t i = 0; i < len; i++)
        if (h[i] == 0)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: header: contains a NUL byte at %zu", p, i);
    json_error_t je;
    json_t *root = json_loadb(h, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: header: invalid JSON at byte %d: %s", p,
                            je.position, je.text);
    int rc = CL_OK;
    if (!json_is_object(root)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: header: not a JSON object", p);
        goto out;
    }
    st->t = cl_alloc(json_object_size(root), sizeof *st->t, err);
    if (!st->t) {
        rc = err->code;
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__"))
            rc = parse_metadata(st, val, err);
        else if (!(rc = parse_tensor(st, key, val, &st->t[st->n], err)))
            st->n++;
        if (rc)
            goto out;
    }
    rc = check_overlaps(st, err);
out:
    json_decref(root);
    return rc;
}

static cl_safetensors *st_new(const char *path, cl_error *err)
{
    cl_safetensors *st = cl_alloc(1, sizeof *st, err);
    if (!st)
        return NULL;
    st->fd = -1;
    st->path = cl_strdup(path, err);
    if (!st->path) {
        free(st);
        return NULL;
    }
    return st;
}

static uint64_t le64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* Common checks on the 8-byte length against the total size. */
static int check_len(const char *path, uint64_t n, uint64_t size, cl_error *err)
{
    if (size < 8)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: %llu bytes, too short for a safetensors file (8-byte header "
                            "length)",
                            path, (unsigned long long)size);
    if (n > ST_MAX_HEADER)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                            path, (unsigned long long)n, ST_MAX_HEADER);
    if (n > size - 8)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: header length %llu runs past the end of the %llu-byte file", path,
                            (unsigned long long)n, (unsigned long long)size);
    return CL_OK;
}

int cl_st_parse(const uint8_t *buf, size_t len, const char *name, cl_safetensors **out,
                cl_error *err)
{
    *out = NULL;
    uint64_t n = len >= 8 ? le64(buf) : 0;
    int rc = check_len(name, n, len, err);
    if (rc)
        return rc;
    cl_safetensors *st = st_new(name, err);
    if (!st)
        return err->code;
    st->mem = buf;
    st->data_start = 8 + n;
    st->data_size = len - 8 - n;
    rc = parse_header(st, (const char *)buf + 8, (size_t)n, err);
    if (rc) {
        cl_st_close(st);
        return rc;
    }
    *out = st;
    return CL_OK;
}

int cl_st_open(const char *path, cl_safetensors **out, cl_error *err)
{
    *out = NULL;
    cl_safetensors *st = st_new(path, err);
    if (!st)
        return err->code;
    int rc = CL_OK;
    char *h = NULL;
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (st->fd < 0 || fstat(st->fd, &sb) != 0) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint8_t lb[8];
    uint64_t size = (uint64_t)sb.st_size;
    if (size >= 8 && pread(st->fd, lb, 8, 0) != 8) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: cannot read the header length", path);
        goto fail;
    }
    uint64_t n = size >= 8 ? le64(lb) : 0;
    if ((rc = check_len(path, n, size, err)))
        goto fail;
    h = cl_alloc((size_t)n + 1, 1, err);
    if (!h) {
        rc = err->code;
        goto fail;
    }
    if (n && pread(st->fd, h, (size_t)n, 8) != (ssize_t)n) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: cannot read the %llu-byte header", path,
                          (unsigned long long)n);
        goto fail;
    }
    st->data_start = 8 + n;
    st->data_size = size - 8 - n;
    if ((rc = parse_header(st, h, (size_t)n, err)))
        goto fail;
    free(h);
    *out = st;
    return CL_OK;
fail:
    free(h);
    cl_st_close(st);
    return rc;
}

int cl_st_count(const cl_safetensors *st) { return st->n; }
const cl_st_tensor *cl_st_get(const cl_safetensors *st, int i) { return &st->t[i]; }
const char *cl_st_path(const cl_safetensors *st) { return st->path; }

int cl_st_file_offset(const cl_safetensors *st, const cl_st_tensor *t, uint64_t *offset)
{
    *offset = st->data_start + t->begin;
    return st->mem ? -1 : st->fd;
}

const cl_st_tensor *cl_st_find(const cl_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name))
            return &st->t[i];
    return NULL;
}

const char *cl_st_metadata(const cl_safetensors *st, const char *key)
{
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_key[i], key))
            return st->meta_val[i];
    return NULL;
}

/* IEEE half to single, subnormals, infinities and NaN included. */
float cl_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Raw bytes of a tensor into buf (t->end - t->begin bytes). */
static int read_raw(cl_safetensors *st, const cl_st_tensor *t, void *buf, cl_error *err)
{
    size_t n = (size_t)(t->end - t->begin);
    if (st->mem) {
        memcpy(buf, st->mem + st->data_start + t->begin, n);
        return CL_OK;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(st->fd, (char *)buf + done, n - done,
                          (off_t)(st->data_start + t->begin + done));
        if (r <= 0)
            return cl_error_set(err, CL_ERR_IO, "%s: tensor '%s': %s", st->path, t->name,
                                r == 0 ? "file shorter than its header says (truncated?)"
                                       : strerror(errno));
        done += (size_t)r;
    }
    return CL_OK;
}

int cl_st_read_f32(cl_safetensors *st, const cl_st_tensor *t, float *out, cl_error *err)
{
    size_t n = (size_t)t->count, bytes = (size_t)(t->end - t->begin);
    if (t->dtype != CL_ST_F32 && t->dtype != CL_ST_F16 && t->dtype != CL_ST_BF16 &&
        t->dtype != CL_ST_F64)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not a float",
                            st->path, t->name, dtypes[t->dtype].name);
    if (t->dtype == CL_ST_F32)
        return read_raw(st, t, out, err);
    uint8_t *raw = cl_alloc(bytes ? bytes : 1, 1, err);
    if (!raw)
        return err->code;
    int rc = read_raw(st, t, raw, err);
    for (size_t i = 0; i < n && rc == CL_OK; i++) {
        if (t->dtype == CL_ST_F16) {
            out[i] = cl_half_to_float((uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8));
        } else if (t->dtype == CL_ST_BF16) {
            uint32_t u = (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8) << 16;
            memcpy(&out[i], &u, sizeof u);
        } else {
            double d;
            memcpy(&d, raw + 8 * i, sizeof d);
            out[i] = (float)d;
        }
    }
    free(raw);
    return rc;
}

int cl_st_read_i32(cl_safetensors *st, const cl_st_tensor *t, int32_t *out, cl_error *err)
{
    if (t->dtype == CL_ST_I32)
        return read_raw(st, t, out, err);
    if (t->dtype != CL_ST_I64)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not I32 or I64",
                            st->path, t->name, dtypes[t->dtype].name);
    int64_t *raw = cl_alloc((size_t)t->count ? (size_t)t->count : 1, sizeof *raw, err);
    if (!raw)
        return err->code;
    int rc = read_raw(st, t, raw, err);
    for (int64_t i = 0; i < t->count && rc == CL_OK; i++) {
        if (raw[i] < INT32_MIN || raw[i] > INT32_MAX)
            rc = cl_error_set(err, CL_ERR_VALUE, "%s: tensor '%s': value %lld out of int32 range",
                              st->path, t->name, (long long)raw[i]);
        else
            out[i] = (int32_t)raw[i];
    }
    free(raw);
    return rc;
}

/* ---------------------------------------------------------------- writing */

/* Bytes of one tensor to write, or an error for a shape no reader would
 * accept (negative, too many dimensions, overflowing). */
static int write_size(const char *path, const cl_st_write_tensor *t, uint64_t *bytes,
                      cl_error *err)
{
    if (!t->name || !t->name[0] || !strcmp(t->name, "__metadata__"))
        return cl_error_set(err, CL_ERR_ARG, "%s: tensor name '%s' is not allowed", path,
                            t->name ? t->name : "(null)");
    if ((unsigned)t->dtype >= sizeof dtypes / sizeof dtypes[0])
        return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': unknown dtype %d", path, t->name,
                            (int)t->dtype);
    if (t->ndim < 0 || t->ndim > CL_ST_MAX_DIMS)
        return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': %d dimensions", path, t->name,
                            t->ndim);
    uint64_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': negative shape", path,
                                t->name);
        uint64_t v = (uint64_t)t->shape[d];
        if (v && count > (uint64_t)INT64_MAX / v)
            return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': shape overflows", path,
                                t->name);
        count *= v;
    }
    uint64_t size = (uint64_t)dtypes[t->dtype].size;
    if (count > (uint64_t)INT64_MAX / size)
        return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': shape overflows", path, t->name);
    *bytes = count * size;
    if (*bytes && !t->data)
        return cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': no data", path, t->name);
    return CL_OK;
}

int cl_st_write(const char *path, const cl_st_write_tensor *t, int n, const char *const *meta,
                int n_meta, cl_error *err)
{
    if (n < 0 || n_meta < 0 || (n_meta > 0 && !meta))
        return cl_error_set(err, CL_ERR_ARG, "%s: invalid tensor or metadata count", path);
    uint64_t *bytes = cl_alloc((size_t)n, sizeof *bytes, err);
    if (!bytes)
        return err->code;
    json_t *root = json_object();
    int rc = CL_OK;
    if (!root) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: cannot format the header", path);
        goto out;
    }
    if (n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m)) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "%s: cannot format the header", path);
            goto out;
        }
        for (int i = 0; i < n_meta; i++) {
            /* json_string is NULL for invalid UTF-8: refused, never dropped. */
            json_t *v = meta[2 * i] && meta[2 * i + 1] ? json_string(meta[2 * i + 1]) : NULL;
            if (!v || json_object_set_new(m, meta[2 * i], v)) {
                rc = cl_error_set(err, CL_ERR_ARG, "%s: __metadata__ entry %d is not valid UTF-8",
                                  path, i);
                goto out;
            }
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        if ((rc = write_size(path, &t[i], &bytes[i], err)))
            goto out;
        if (json_object_get(root, t[i].name)) {
            rc = cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s' twice", path, t[i].name);
            goto out;
        }
        json_t *sh = json_array();
        for (int d = 0; d < t[i].ndim; d++)
            json_array_append_new(sh, json_integer(t[i].shape[d]));
        if (off > (uint64_t)INT64_MAX - bytes[i]) {
            json_decref(sh);
            rc = cl_error_set(err, CL_ERR_ARG, "%s: data exceeds 2^63 bytes", path);
            goto out;
        }
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtypes[t[i].dtype].name, "shape", sh,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + bytes[i]));
        if (!e || json_object_set_new(root, t[i].name, e)) {
            rc = cl_error_set(err, CL_ERR_ARG, "%s: tensor '%s': name is not valid UTF-8", path,
                              t[i].name);
            goto out;
        }
        off += bytes[i];
    }
    char *h = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!h) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: cannot format the header", path);
        goto out;
    }
    size_t hl = strlen(h), padded = (hl + 7) / 8 * 8; /* 8-byte aligned data, as PyTorch writes */
    cl_atomic_file *af;
    if ((rc = cl_atomic_open(path, 0, &af, err))) {
        free(h);
        goto out;
    }
    FILE *fp = cl_atomic_fp(af);
    uint8_t lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(lb, 1, 8, fp);
    fwrite(h, 1, hl, fp);
    for (size_t i = hl; i < padded; i++)
        fputc(' ', fp);
    free(h);
    for (int i = 0; i < n; i++)
        if (bytes[i])
            fwrite(t[i].data, 1, (size_t)bytes[i], fp);
    rc = cl_atomic_commit(af, err); /* checks every write above */
out:
    json_decref(root);
    free(bytes);
    return rc;
}
