/*
 * peft_find.c -- the adapters a path holds. PEFT's save_pretrained with
 * several adapters writes the "default" one at the top of the folder and
 * each other one in a subfolder named after it; a folder of adapter folders
 * is the same shape without the top one. Each becomes a task.
 */
#include "peft_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIND_MAX 100000

static int has_config(const char *dir)
{
    char p[4096];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s/%s", dir, PEFT_CONFIG) >= (int)sizeof p)
        return 0;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int name_cmp(const void *x, const void *y)
{
    return cl_peft_name_cmp(*(char *const *)x, *(char *const *)y);
}

void cl_peft_paths_free(char **p, int n)
{
    for (int i = 0; p && i < n; i++)
        free(p[i]);
    free(p);
}

int cl_peft_find(const char *path, char ***out, int *n_out, cl_error *err)
{
    *out = NULL;
    *n_out = 0;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
    struct stat sb;
    DIR *d = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
    char **subs = NULL;
    int n = 0, cap = 0, rc = CL_OK;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        if (snprintf(sub, sizeof sub, "%.*s/%s", (int)pl, path, e->d_name) >= (int)sizeof sub)
            continue;
        if (stat(sub, &sb) || !S_ISDIR(sb.st_mode) || !has_config(sub))
            continue;
        if (n == FIND_MAX) {
            rc = cl_error_set(err, CL_ERR_VALUE, "%s: more than %d adapter folders", path,
                              FIND_MAX);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **g = realloc(subs, (size_t)cap * sizeof *subs);
            if (!g) {
                rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                break;
            }
            subs = g;
        }
        if (!(subs[n] = cl_strdup(sub, err))) {
            rc = err->code;
            break;
        }
        n++;
    }
    if (d)
        closedir(d);
    if (rc) {
        cl_peft_paths_free(subs, n);
        return rc;
    }
    if (n > 1) /* qsort of a NULL array is undefined, even of 0 items */
        qsort(subs, (size_t)n, sizeof *subs, name_cmp);
    /* the top adapter (PEFT's "default") first; a path with no adapter
     * below it stays itself, for cl_peft_open to explain */
    int top = n == 0 || has_config(path);
    char **v = cl_alloc((size_t)(n + top), sizeof *v, err);
    if (!v || (top && !(v[0] = cl_strdup(path, err)))) {
        free(v);
        cl_peft_paths_free(subs, n);
        return err->code;
    }
    for (int i = 0; i < n; i++)
        v[top + i] = subs[i];
    free(subs);
    *out = v;
    *n_out = n + top;
    return CL_OK;
}
