/* error.c -- error codes and messages. */
#include "cl_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cl_strerror(int code)
{
    switch (code) {
    case CL_OK: return "ok";
    case CL_ERR_IO: return "input/output error";
    case CL_ERR_FORMAT: return "malformed input";
    case CL_ERR_VERSION: return "format version not supported";
    case CL_ERR_VALUE: return "invalid value";
    case CL_ERR_ARG: return "invalid argument";
    case CL_ERR_NOMEM: return "out of memory";
    case CL_ERR_NUMERIC: return "numerical routine failed";
    case CL_ERR_UNSUPPORTED: return "not supported";
    case CL_ERR_EXISTS: return "output exists";
    default: return "unknown error";
    }
}

int cl_error_set(cl_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void cl_error_prefix(cl_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A message too long for the buffer is cut, never overflowed. */
    size_t n = strlen(head);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t m = strlen(old);
    if (m > rest)
        m = rest;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = 0;
}

void *cl_alloc(size_t n, size_t size, cl_error *err)
{
    if (size && n > (size_t)-1 / size) {
        cl_error_set(err, CL_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        cl_error_set(err, CL_ERR_NOMEM, "out of memory allocating %zu bytes", n * size);
    return p;
}

char *cl_strdup(const char *s, cl_error *err)
{
    size_t n = strlen(s) + 1;
    char *p = cl_alloc(n, 1, err);
    if (p)
        memcpy(p, s, n);
    return p;
}

const char *cl_version(void)
{
    return COLLIDE_VERSION;
}
