/*
 * store_labels.c -- what a run is, said after the fact: the method, lambda,
 * name and accuracy matrix of adapters trained elsewhere (docs/IMPORT.md,
 * "Labels"). collide-import writes them into a new store; --annotate
 * rewrites them in an existing one, on a copy renamed over the original once
 * complete, so a failure leaves the store as it was.
 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cl_run_labels_init(cl_run_labels *l)
{
    memset(l, 0, sizeof *l);
    l->lambda_sparse = l->lambda_orth = NAN;
    l->eval = CL_EVAL_GENERATE;
}

int cl_run_labels_empty(const cl_run_labels *l)
{
    return !l->method && !l->name && isnan(l->lambda_sparse) && isnan(l->lambda_orth) &&
           !l->accuracy && !l->baseline;
}

/* A method label: one of collide's methods, or another method's name
 * (InfLoRA, MoELoRA, ...) that figures show as given. "synthetic" names
 * collide-synth's stores only. */
int cl_run_labels_check(const cl_run_labels *l, int T, cl_error *err)
{
    if (l->method) {
        size_t n = strlen(l->method);
        if (n == 0 || n > 64)
            return cl_error_set(err, CL_ERR_ARG, "method label: 1 to 64 characters, not %zu", n);
        for (size_t i = 0; i < n; i++) {
            char c = l->method[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-' || c == '_' || c == '.'))
                return cl_error_set(err, CL_ERR_ARG,
                                    "method label '%s': only letters, digits and + - _ . (e.g. "
                                    "olora, nlora, inclora, olora+nlora)",
                                    l->method);
        }
        if (!strcmp(l->method, "synthetic"))
            return cl_error_set(err, CL_ERR_ARG,
                                "method label 'synthetic' is reserved for collide-synth's stores");
        /* a method with a lambda is not plotted against others without it */
        int sparse = !strcmp(l->method, "nlora") || !strcmp(l->method, "olora+nlora");
        int orth = !strcmp(l->method, "olora") || !strcmp(l->method, "olora+nlora");
        if (sparse && isnan(l->lambda_sparse))
            return cl_error_set(err, CL_ERR_ARG,
                                "method %s: give the N-LoRA lambda the run used (--lambda)",
                                l->method);
        if (orth && isnan(l->lambda_orth))
            return cl_error_set(err, CL_ERR_ARG,
                                "method %s: give the O-LoRA lambda1 the run used (--lambda-orth; "
                                "the O-LoRA code's default is 0.5)",
                                l->method);
    }
    if (l->name && strlen(l->name) > 200)
        return cl_error_set(err, CL_ERR_ARG, "run name: at most 200 characters");
    const double lam[2] = {l->lambda_sparse, l->lambda_orth};
    static const char *const lname[2] = {"lambda (N-LoRA)", "lambda_orth (O-LoRA)"};
    for (int i = 0; i < 2; i++)
        if (!isnan(lam[i]) && !(isfinite(lam[i]) && lam[i] >= 0))
            return cl_error_set(err, CL_ERR_ARG, "%s: %g; must be finite and >= 0", lname[i],
                                lam[i]);
    if (l->eval != CL_EVAL_GENERATE && l->eval != CL_EVAL_RANKED)
        return cl_error_set(err, CL_ERR_ARG, "accuracy protocol %d unknown", (int)l->eval);
    for (int i = 0; l->accuracy && i < T * T; i++)
        if (!isnan(l->accuracy[i]) && !(l->accuracy[i] >= 0 && l->accuracy[i] <= 1))
            return cl_error_set(err, CL_ERR_ARG, "accuracy after task %d on task %d: %g outside "
                                "[0, 1]", i / T + 1, i % T + 1, l->accuracy[i]);
    for (int i = 0; l->baseline && i < T; i++)
        if (!isnan(l->baseline[i]) && !(l->baseline[i] >= 0 && l->baseline[i] <= 1))
            return cl_error_set(err, CL_ERR_ARG, "baseline of task %d: %g outside [0, 1]", i + 1,
                                l->baseline[i]);
    return CL_OK;
}

void cl_run_labels_apply(const cl_run_labels *l, cl_run_meta *m)
{
    if (l->method)
        m->method = l->method;
    if (l->name)
        m->name = l->name;
    if (!isnan(l->lambda_sparse))
        m->lambda_sparse = l->lambda_sparse;
    if (!isnan(l->lambda_orth))
        m->lambda_orth = l->lambda_orth;
}

/* Replace a root attribute (HDF5 creates, it does not overwrite). */
static int set_attr_str(hid_t f, const char *name, const char *v)
{
    if (H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0)
        return -1;
    return v[0] ? cl_h5_attr_write_str(f, name, v) : 0; /* "" removes */
}

static int set_attr_f64(hid_t f, const char *name, double v)
{
    if (H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0)
        return -1;
    return cl_h5_attr_write_f64(f, name, v);
}

static int write_dataset(hid_t f, const char *name, const double *v)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    int rc = d < 0 ? -1 : cl_h5_write_all(d, H5T_NATIVE_DOUBLE, v);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* Write the labels into the (copied, closed) file at tmp. */
static int write_labels(const char *path, const char *tmp, const cl_run_labels *l, int T,
                        cl_error *err)
{
    cl_h5_quiet q;
    cl_h5_quiet_begin(&q);
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    int bad = f < 0;
    double *lam = NULL;
    if (!bad && l->method)
        bad = set_attr_str(f, "method", l->method) < 0;
    if (!bad && l->name)
        bad = set_attr_str(f, "name", l->name) < 0;
    if (!bad && !isnan(l->lambda_orth))
        bad = set_attr_f64(f, "lambda_orth", l->lambda_orth) < 0;
    if (!bad && !isnan(l->lambda_sparse)) {
        /* one lambda for the run: every task's entry too */
        lam = cl_alloc((size_t)T, sizeof *lam, err);
        for (int t = 0; lam && t < T; t++)
            lam[t] = l->lambda_sparse;
        bad = !lam || set_attr_f64(f, "lambda_sparse", l->lambda_sparse) < 0 ||
              write_dataset(f, P_TASK_LAMBDA, lam) < 0;
    }
    if (!bad && l->accuracy)
        bad = write_dataset(f, l->eval == CL_EVAL_RANKED ? P_ACCURACY_RANKED : P_ACCURACY,
                            l->accuracy) < 0;
    if (!bad && l->baseline)
        bad = write_dataset(f, l->eval == CL_EVAL_RANKED ? P_TASK_BASE_RANKED : P_TASK_BASE,
                            l->baseline) < 0;
    if (f >= 0 && H5Fclose(f) < 0)
        bad = 1;
    free(lam);
    cl_h5_quiet_end(&q);
    if (bad)
        return cl_store_h5fail(err, CL_ERR_IO, path, "cannot write the labels");
    return CL_OK;
}

static int copy_file(const char *from, const char *to, cl_error *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = CL_OK;
    if (in < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", from, strerror(errno));
    struct stat sb;
    /* the copy keeps the original's permissions */
    out = fstat(in, &sb) ? -1
                         : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sb.st_mode & 0777);
    if (out < 0) {
        rc = cl_error_set(err, CL_ERR_IO, "%s: %s", to, strerror(errno));
        goto done;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_error_set(err, CL_ERR_IO, "%s: %s", from, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t o = 0; o < n;) {
            ssize_t w = write(out, buf + o, (size_t)(n - o));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = cl_error_set(err, CL_ERR_IO, "%s: %s", to, strerror(errno));
                goto done;
            }
            o += w;
        }
    }
done:
    close(in);
    if (out >= 0 && close(out) != 0 && !rc)
        rc = cl_error_set(err, CL_ERR_IO, "%s: %s", to, strerror(errno));
    return rc;
}

int cl_store_annotate(const char *path, const cl_run_labels *l, cl_error *err)
{
    if (cl_run_labels_empty(l))
        return cl_error_set(err, CL_ERR_ARG, "%s: nothing to annotate", path);
    cl_store *s;
    int rc = cl_store_open(path, &s, err);
    if (rc)
        return rc;
    int T = s->T;
    if (!strcmp(s->meta.origin, "trained") &&
        (l->method || !isnan(l->lambda_sparse) || !isnan(l->lambda_orth) || l->accuracy ||
         l->baseline))
        rc = cl_error_set(err, CL_ERR_ARG,
                          "%s: written by collide-train, whose method, lambdas and accuracies "
                          "are the trainer's own record; only the run's name can be set",
                          path);
    else if (!strcmp(s->meta.origin, "synthetic") && l->method)
        rc = cl_error_set(err, CL_ERR_ARG, "%s: a collide-synth store; its method is "
                          "what collide-synth --method gave", path);
    else if (s->version < CL_FORMAT_VERSION && l->eval == CL_EVAL_RANKED &&
             (l->accuracy || l->baseline))
        rc = cl_error_set(err, CL_ERR_VERSION, "%s: a version %d store has no ranked accuracy",
                          path, s->version);
    if (!rc)
        rc = cl_run_labels_check(l, T, err);
    cl_store_close(s, NULL);
    if (rc)
        return rc;
    /* A writer holding the store (a run in progress) would race the copy. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0 && (errno == EAGAIN || errno == EACCES)) {
        close(fd);
        return cl_error_set(err, CL_ERR_IO, "%s: another process is writing this store", path);
    }
    cl_atomic_file *af = NULL;
    if (!(rc = cl_atomic_open(path, 1, &af, err)) &&
        !(rc = copy_file(path, cl_atomic_tmp_path(af), err)) &&
        !(rc = write_labels(path, cl_atomic_tmp_path(af), l, T, err))) {
        /* the copy must read back as a store before it replaces the original */
        cl_store *chk;
        if (!(rc = cl_store_open_with(cl_atomic_tmp_path(af), CL_STORE_NO_CHILD, &chk, err)))
            rc = cl_store_close(chk, err);
    }
    if (!rc) {
        rc = cl_atomic_commit(af, err);
        af = NULL;
    }
    if (af)
        cl_atomic_abort(af);
    close(fd);
    return rc;
}
