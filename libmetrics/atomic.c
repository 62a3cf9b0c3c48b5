/*
 * atomic.c -- outputs are written under a temporary name beside the target
 * and renamed over it only once complete, so a failed run never truncates or
 * overwrites what the user already had.
 */
#include "cl_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct cl_atomic_file {
    char *path;
    char *tmp;
    FILE *fp;
};

int cl_atomic_open(const char *path, int by_name, cl_atomic_file **out,
                   cl_error *err)
{
    *out = NULL;
    cl_atomic_file *f = cl_alloc(1, sizeof *f, err);
    if (!f)
        return err->code;
    size_t n = strlen(path) + 16;
    f->path = cl_strdup(path, err);
    f->tmp = cl_alloc(n, 1, err);
    if (!f->path || !f->tmp)
        goto fail;
    snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                     path, strerror(errno));
        goto fail;
    }
    if (by_name) {
        /* The caller's library creates the file itself (HDF5 refuses to
         * adopt an existing empty file in exclusive mode). */
        close(fd);
        unlink(f->tmp);
    } else {
        f->fp = fdopen(fd, "w");
        if (!f->fp) {
            close(fd);
            unlink(f->tmp);
            cl_error_set(err, CL_ERR_IO, "%s: %s", f->tmp, strerror(errno));
            goto fail;
        }
    }
    *out = f;
    return CL_OK;
fail:
    free(f->path);
    free(f->tmp);
    free(f);
    return err->code;
}

const char *cl_atomic_tmp_path(const cl_atomic_file *f) { return f->tmp; }
void *cl_atomic_fp(cl_atomic_file *f) { return f->fp; }

static void atomic_free(cl_atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

int cl_atomic_commit(cl_atomic_file *f, cl_error *err)
{
    int rc = CL_OK;
    if (f->fp) {
        int bad = fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0;
        int e = errno;
        if (fclose(f->fp) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        f->fp = NULL;
        if (bad) {
            rc = cl_error_set(err, CL_ERR_IO, "%s: write failed: %s", f->path, strerror(e));
            unlink(f->tmp);
            atomic_free(f);
            return rc;
        }
    }
    if (rename(f->tmp, f->path) != 0) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: cannot rename %s over it: %s", f->path,
                          f->tmp, strerror(errno));
        unlink(f->tmp);
    }
    atomic_free(f);
    return rc;
}

void cl_atomic_abort(cl_atomic_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    unlink(f->tmp);
    atomic_free(f);
}
