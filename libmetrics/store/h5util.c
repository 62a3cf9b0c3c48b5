/* h5util.c -- see h5util.h. */
#include "h5util.h"

#include <stddef.h>
#include <string.h>

void cl_h5_quiet_begin(cl_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void cl_h5_quiet_end(const cl_h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct { char *buf; size_t n; int found; } reason_ctx;

static herr_t reason_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    reason_ctx *c = data;
    if (!c->found && e->desc && e->desc[0]) {
        /* The file drivers' messages run to several lines ("file write
         * failed: time = <date>\n, filename = ..., errno = 27, error message
         * = 'File too large', buf = ..."): keep what failed and why. */
        const char *why = strstr(e->desc, "error message = '"), *colon = strchr(e->desc, ':');
        if (why && colon) {
            why += strlen("error message = '");
            const char *end = strchr(why, '\'');
            snprintf(c->buf, c->n, "%.*s: %.*s", (int)(colon - e->desc), e->desc,
                     (int)(end ? end - why : (ptrdiff_t)strlen(why)), why);
        } else {
            snprintf(c->buf, c->n, "%s", e->desc);
        }
        c->found = 1;
    }
    return 0;
}

void cl_h5_reason(char *buf, size_t n)
{
    reason_ctx c = {buf, n, 0};
    buf[0] = 0;
    /* Upward: the first entry is where the failure began. */
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_walk, &c);
    H5Eclear2(H5E_DEFAULT);
}

hid_t cl_h5_utf8_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                      const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int ok = a >= 0 && H5Awrite(a, mtype, v) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return ok ? 0 : -1;
}

int cl_h5_attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = cl_h5_utf8_type();
    int rc = attr_write(obj, name, t, t, &value);
    H5Tclose(t);
    return rc;
}

int cl_h5_attr_write_i64(hid_t obj, const char *name, int64_t v)
{
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int cl_h5_attr_write_u64(hid_t obj, const char *name, uint64_t v)
{
    return attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

int cl_h5_attr_write_f64(hid_t obj, const char *name, double v)
{
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

const char *cl_h5_class_name(H5T_class_t c, size_t size)
{
    static const char *ints[] = {"int8", "int16", "?", "int32", "?", "?", "?", "int64"};
    switch (c) {
    case H5T_INTEGER: return size >= 1 && size <= 8 ? ints[size - 1] : "integer";
    case H5T_FLOAT: return size == 2 ? "float16" : size == 4 ? "float32" : size == 8 ? "float64" : "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    case H5T_VLEN: return "vlen";
    default: return "unknown type";
    }
}

/* Strings are UTF-8 (docs/FORMAT.md): a damaged or foreign byte sequence
 * is refused where it is read, not passed on to JSON and CSV output (jansson
 * drops a string that is not UTF-8 without a word). */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return 0;
        unsigned cp = n ? *p & (0x3f >> n) : *p;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* Open attribute name on obj and check it is a scalar of class cls. */
static hid_t attr_open(hid_t obj, const char *path, const char *name,
                       H5T_class_t cls, cl_error *err)
{
    if (H5Aexists(obj, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: attribute missing", path, name);
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: cannot open attribute: %s", path, name, r);
        return -1;
    }
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    int npts = (int)H5Sget_simple_extent_npoints(sp);
    H5Tclose(t);
    H5Sclose(sp);
    if (c != cls) {
        cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: expected %s, found %s", path, name,
                     cl_h5_class_name(cls, cls == H5T_STRING ? 0 : 8), cl_h5_class_name(c, sz));
        H5Aclose(a);
        return -1;
    }
    if (npts != 1) {
        cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: expected a scalar, found %d values", path,
                     name, npts);
        H5Aclose(a);
        return -1;
    }
    return a;
}

int cl_h5_attr_read_str(hid_t obj, const char *path, const char *name,
                        char **value, cl_error *err)
{
    *value = NULL;
    hid_t a = attr_open(obj, path, name, H5T_STRING, err);
    if (a < 0)
        return err->code;
    hid_t ft = H5Aget_type(a);
    int rc = CL_OK;
    if (H5Tis_variable_str(ft) > 0) {
        hid_t t = cl_h5_utf8_type();
        char *s = NULL;
        if (H5Aread(a, t, &s) < 0 || !s) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: unreadable string", path, name);
        } else {
            *value = cl_strdup(s, err);
            if (!*value)
                rc = err->code;
            H5free_memory(s);
        }
        H5Tclose(t);
    } else {
        /* Fixed-length strings (as some writers produce) are read too. */
        size_t n = H5Tget_size(ft);
        char *s = cl_alloc(n + 1, 1, err);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, n + 1);
        if (!s)
            rc = err->code;
        else if (H5Aread(a, t, s) < 0)
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: unreadable string", path, name);
        H5Tclose(t);
        if (rc == CL_OK)
            *value = s;
        else
            free(s);
    }
    H5Tclose(ft);
    H5Aclose(a);
    if (rc == CL_OK && !utf8_ok(*value)) {
        free(*value);
        *value = NULL;
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: not valid UTF-8", path, name);
    }
    return rc;
}

static int attr_read_num(hid_t obj, const char *path, const char *name,
                         H5T_class_t cls, hid_t mtype, void *v, cl_error *err)
{
    hid_t a = attr_open(obj, path, name, cls, err);
    if (a < 0)
        return err->code;
    int rc = CL_OK;
    if (H5Aread(a, mtype, v) < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@%s: unreadable: %s", path, name, r);
    }
    H5Aclose(a);
    return rc;
}

int cl_h5_attr_read_i64(hid_t obj, const char *path, const char *name,
                        int64_t *v, cl_error *err)
{
    return attr_read_num(obj, path, name, H5T_INTEGER, H5T_NATIVE_INT64, v, err);
}

int cl_h5_attr_read_u64(hid_t obj, const char *path, const char *name,
                        uint64_t *v, cl_error *err)
{
    return attr_read_num(obj, path, name, H5T_INTEGER, H5T_NATIVE_UINT64, v, err);
}

int cl_h5_attr_read_f64(hid_t obj, const char *path, const char *name,
                        double *v, cl_error *err)
{
    return attr_read_num(obj, path, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, v, err);
}

int cl_h5_write_strings(hid_t loc, const char *name, const char *const *s, int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t t = cl_h5_utf8_type();
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = d >= 0 && (n == 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return ok ? 0 : -1;
}

int cl_h5_open_checked(hid_t loc, const char *path, const char *name,
                       H5T_class_t cls, size_t size, int rank, hsize_t *dims,
                       hid_t *out, cl_error *err)
{
    *out = -1;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: object missing", path, name);
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: not a readable dataset: %s", path,
                            name, r);
    }
    hid_t t = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    int var = c == H5T_STRING && H5Tis_variable_str(t) > 0;
    H5Tclose(t);
    int rc = CL_OK;
    if (c != cls || (size && sz != size) || (cls == H5T_STRING && !var)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected %s, found %s%s", path, name,
                          cls == H5T_STRING ? "variable-length string" : cl_h5_class_name(cls, size),
                          cl_h5_class_name(c, sz),
                          c == H5T_STRING && !var ? " of fixed length" : "");
    } else {
        hid_t sp = H5Dget_space(d);
        int r = H5Sget_simple_extent_ndims(sp);
        if (r != rank) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected %d dimension%s, found %d",
                              path, name, rank, rank == 1 ? "" : "s", r);
        } else if (rank > 0) {
            H5Sget_simple_extent_dims(sp, dims, NULL);
        }
        H5Sclose(sp);
    }
    if (rc != CL_OK) {
        H5Dclose(d);
        return rc;
    }
    *out = d;
    return CL_OK;
}

int cl_h5_read_strings(hid_t loc, const char *path, const char *name, int n,
                       char ***out, cl_error *err)
{
    *out = NULL;
    hsize_t dim;
    hid_t d;
    int rc = cl_h5_open_checked(loc, path, name, H5T_STRING, 0, 1, &dim, &d, err);
    if (rc)
        return rc;
    if (dim != (hsize_t)n) {
        H5Dclose(d);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected %d entries, found %llu", path,
                            name, n, (unsigned long long)dim);
    }
    char **raw = cl_alloc((size_t)n, sizeof *raw, err);
    char **s = cl_alloc((size_t)n, sizeof *s, err);
    hid_t t = cl_h5_utf8_type();
    if (!raw || !s) {
        rc = err->code;
    } else if (n > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
        char r[256];
        cl_h5_reason(r, sizeof r);
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: unreadable: %s", path, name, r);
    } else {
        for (int i = 0; i < n && rc == CL_OK; i++) {
            s[i] = cl_strdup(raw[i] ? raw[i] : "", err);
            if (!s[i])
                rc = err->code;
            else if (!utf8_ok(s[i]))
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: entry %d is not valid UTF-8", path,
                                  name, i);
        }
        hid_t sp = H5Dget_space(d);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
        H5Sclose(sp);
    }
    H5Tclose(t);
    H5Dclose(d);
    free(raw);
    if (rc != CL_OK) {
        if (s)
            for (int i = 0; i < n; i++)
                free(s[i]);
        free(s);
        return rc;
    }
    *out = s;
    return CL_OK;
}

int cl_h5_write_all(hid_t d, hid_t mtype, const void *buf)
{
    return H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0 ? -1 : 0;
}
