/*
 * atomic.c -- outputs are written under a temporary name beside the target
 * and renamed over it only once complete, so a failed run never truncates or
 * overwrites what the user already had.
 */
#include "cl_alloc.h"

#include <errno.h>
#include <fcntl.h>
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
    int fd = -1, made = 0;
    for (int tries = 0; !made && tries < 16; tries++) {
        snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
        int t = mkstemp(f->tmp);
        if (t < 0)
            break;
        /* mkstemp makes the file 0600 whatever the umask, so the output
         * would be readable by its owner only: the unique name is kept and
         * the file made again with 0666, which the umask trims as for any
         * file (by_name: the caller's library makes it so). */
        close(t);
        unlink(f->tmp);
        if (by_name) {
            made = 1;
        } else {
            fd = open(f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            made = fd >= 0;
            if (!made && errno != EEXIST)
                break;
        }
    }
    if (!made) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                     path, strerror(errno));
        goto fail;
    }
    if (by_name) {
        /* The caller's library creates the file itself (HDF5 refuses to
         * adopt an existing empty file in exclusive mode). */
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
