/*
 * peft_import.c -- a store from PEFT adapters: every task of every adapter
 * directory, in training order, one end-of-task snapshot each.
 *
 * The adapters must adapt the same modules of the same base with the same
 * shapes (otherwise collisions between them mean nothing); ranks and scales
 * may differ per task and module, as the store keeps both per snapshot and
 * module (zero-padded up to the module's largest rank).
 */
#include "peft_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The first module set or shape that differs between adapter 0 and j.
 * Both lists are in cl_peft_name_cmp order, so one merge walk finds it. */
static int same_modules(cl_peft_adapter *const *a, int j, cl_error *err)
{
    const cl_peft_info *i0 = cl_peft_get_info(a[0]), *ij = cl_peft_get_info(a[j]);
    char bases[600] = "";
    if (strcmp(i0->base_model, ij->base_model))
        snprintf(bases, sizeof bases, " (and the bases differ: '%.250s' vs '%.250s')",
                 ij->base_model, i0->base_model);
    int M0 = i0->n_modules, Mj = ij->n_modules;
    for (int m = 0; m < M0 || m < Mj; m++) {
        const cl_peft_module *x = m < M0 ? cl_peft_module_at(a[0], 0, m) : NULL;
        const cl_peft_module *y = m < Mj ? cl_peft_module_at(a[j], 0, m) : NULL;
        int c = !x ? 1 : !y ? -1 : cl_peft_name_cmp(x->name, y->name);
        if (c > 0)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': not in %s (the first adapter); the adapters of "
                                "one store must adapt the same modules (--common-modules imports "
                                "those they share)%s",
                                ij->dir, y->name, i0->dir, bases);
        if (c < 0)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': missing, though %s (the first adapter) has "
                                "it; the adapters of one store must adapt the same modules "
                                "(--common-modules imports those they share)%s",
                                ij->dir, x->name, i0->dir, bases);
        if (x->d_out != y->d_out || x->d_in != y->d_in)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': %lld x %lld (d_out x d_in), but %lld x %lld in "
                                "%s (the first adapter)%s",
                                ij->dir, y->name, (long long)y->d_out, (long long)y->d_in,
                                (long long)x->d_out, (long long)x->d_in, i0->dir, bases);
    }
    return CL_OK;
}

/* With common_modules: the modules every adapter has (map[i][m], the index
 * in adapter i of store module m), each other module a note; shapes of the
 * shared ones must agree. Without: adapter 0's modules, which every other
 * adapter must have exactly (same_modules). */
static int module_map(cl_peft_adapter *const *a, int n, const cl_peft_import_spec *sp,
                      int **map, int *M_out, cl_error *err)
{
    int M0 = cl_peft_get_info(a[0])->n_modules, M = 0, rc = CL_OK;
    int common = sp && sp->common_modules;
    for (int i = 0; i < n; i++)
        if (!(map[i] = cl_alloc((size_t)M0, sizeof **map, err)))
            return err->code;
    if (!common) {
        for (int i = 1; i < n; i++)
            if ((rc = same_modules(a, i, err)))
                return rc;
        for (int i = 0; i < n; i++)
            for (int m = 0; m < M0; m++)
                map[i][m] = m;
        *M_out = M0;
        return CL_OK;
    }
    /* Both lists are in cl_peft_name_cmp order: one merge walk per adapter. */
    int *pos = cl_alloc((size_t)n, sizeof *pos, err);
    if (!pos)
        return err->code;
    for (int m0 = 0; m0 < M0 && !rc; m0++) {
        const cl_peft_module *x = cl_peft_module_at(a[0], 0, m0);
        int in_all = 1;
        for (int i = 1; i < n && in_all; i++) {
            int Mi = cl_peft_get_info(a[i])->n_modules;
            while (pos[i] < Mi && cl_peft_name_cmp(cl_peft_module_at(a[i], 0, pos[i])->name,
                                                   x->name) < 0)
                pos[i]++;
            in_all = pos[i] < Mi && !strcmp(cl_peft_module_at(a[i], 0, pos[i])->name, x->name);
        }
        if (!in_all)
            continue;
        for (int i = 0; i < n && !rc; i++) {
            const cl_peft_module *y = cl_peft_module_at(a[i], 0, i ? pos[i] : m0);
            if (y->d_out != x->d_out || y->d_in != x->d_in)
                rc = cl_error_set(err, CL_ERR_FORMAT,
                                  "%s: module '%s': %lld x %lld (d_out x d_in), but %lld x %lld "
                                  "in %s (the first adapter); shared modules must have one shape",
                                  cl_peft_get_info(a[i])->dir, y->name, (long long)y->d_out,
                                  (long long)y->d_in, (long long)x->d_out, (long long)x->d_in,
                                  cl_peft_get_info(a[0])->dir);
            map[i][M] = i ? pos[i] : m0;
        }
        M++;
    }
    free(pos);
    if (rc)
        return rc;
    if (M == 0)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s and the other adapters share no module; nothing to compare",
                            cl_peft_get_info(a[0])->dir);
    /* every module left out, named */
    for (int i = 0; i < n && sp->note; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int m = 0, k = 0; m < in->n_modules; m++) {
            if (k < M && map[i][k] == m) {
                k++;
                continue;
            }
            sp->note(sp->note_ctx, in->dir, cl_peft_module_at(a[i], 0, m)->name,
                     "not in every adapter; dropped (--common-modules)");
        }
    }
    *M_out = M;
    return CL_OK;
}

/* The last path component, without trailing slashes. */
static void base_name(const char *dir, char *buf, size_t n)
{
    size_t l = strlen(dir);
    while (l > 1 && dir[l - 1] == '/')
        l--;
    size_t s = l;
    while (s > 0 && dir[s - 1] != '/')
        s--;
    size_t len = l - s;
    if (len >= n)
        len = n - 1;
    memcpy(buf, dir + s, len);
    buf[len] = 0;
    if (!buf[0] || !strcmp(buf, ".") || !strcmp(buf, ".."))
        snprintf(buf, n, "adapter");
}

/* Task names: given, or the directory names (NAME-taskK for the tasks of a
 * cumulative checkpoint), made unique with a -2, -3, ... suffix. */
static int task_names(cl_peft_adapter *const *a, int n, int T, const cl_peft_import_spec *sp,
                      char **names, cl_error *err)
{
    if (sp && sp->task_names) {
        if (sp->n_task_names != T)
            return cl_error_set(err, CL_ERR_ARG, "%d task names given for %d tasks",
                                sp->n_task_names, T);
        for (int t = 0; t < T; t++) {
            if (!sp->task_names[t] || !sp->task_names[t][0])
                return cl_error_set(err, CL_ERR_ARG, "task %d: empty name", t + 1);
            for (int u = 0; u < t; u++)
                if (!strcmp(sp->task_names[t], sp->task_names[u]))
                    return cl_error_set(err, CL_ERR_ARG, "task name '%s' given twice",
                                        sp->task_names[t]);
            if (!(names[t] = cl_strdup(sp->task_names[t], err)))
                return err->code;
        }
        return CL_OK;
    }
    int t = 0;
    for (int i = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        char base[256];
        base_name(in->dir, base, sizeof base);
        for (int k = 0; k < in->n_tasks; k++, t++) {
            char name[300];
            if (in->cumulative)
                snprintf(name, sizeof name, "%s-task%d", base, k + 1);
            else
                snprintf(name, sizeof name, "%s", base);
            size_t l = strlen(name);
            for (int suffix = 2;; suffix++) {
                int taken = 0;
                for (int u = 0; u < t && !taken; u++)
                    taken = !strcmp(names[u], name);
                if (!taken)
                    break;
                snprintf(name + l, sizeof name - l, "-%d", suffix);
            }
            if (!(names[t] = cl_strdup(name, err)))
                return err->code;
        }
    }
    return CL_OK;
}

/* Every distinct value of the adapters' scaling rules: one rule, or "mixed"
 * (per-module scales in /snapshots/scale are then the truth). */
static const char *scaling_rule(cl_peft_adapter *const *a, int n)
{
    int rs = cl_peft_get_info(a[0])->use_rslora;
    for (int i = 1; i < n; i++)
        if (cl_peft_get_info(a[i])->use_rslora != rs)
            return "mixed";
    return rs ? "alpha/sqrt(r)" : "alpha/r";
}

typedef struct import_buf {
    int M;
    const char **names;
    int64_t *d_out, *d_in;
    int32_t *mrank, *rank;
    double *scale;
    float **A, **B;
} import_buf;

static void buf_free(import_buf *b)
{
    if (b->A)
        for (int m = 0; m < b->M; m++) {
            free(b->A[m]);
            free(b->B[m]);
        }
    free(b->names), free(b->d_out), free(b->d_in), free(b->mrank), free(b->rank);
    free(b->scale), free(b->A), free(b->B);
}

/* Module table of the store: shapes of adapter 0, rank = largest of any
 * task; factor buffers sized for it. */
static int buf_make(cl_peft_adapter *const *a, int n, int *const *map, int M, import_buf *b,
                    cl_error *err)
{
    b->M = M;
    b->names = cl_alloc((size_t)M, sizeof *b->names, err);
    b->d_out = cl_alloc((size_t)M, sizeof *b->d_out, err);
    b->d_in = cl_alloc((size_t)M, sizeof *b->d_in, err);
    b->mrank = cl_alloc((size_t)M, sizeof *b->mrank, err);
    b->rank = cl_alloc((size_t)M, sizeof *b->rank, err);
    b->scale = cl_alloc((size_t)M, sizeof *b->scale, err);
    b->A = cl_alloc((size_t)M, sizeof *b->A, err);
    b->B = cl_alloc((size_t)M, sizeof *b->B, err);
    if (!b->names || !b->d_out || !b->d_in || !b->mrank || !b->rank || !b->scale || !b->A ||
        !b->B)
        return err->code;
    for (int m = 0; m < M; m++) {
        const cl_peft_module *pm = cl_peft_module_at(a[0], 0, map[0][m]);
        b->names[m] = pm->name;
        b->d_out[m] = pm->d_out;
        b->d_in[m] = pm->d_in;
        for (int i = 0; i < n; i++)
            for (int t = 0; t < cl_peft_get_info(a[i])->n_tasks; t++) {
                int32_t k = cl_peft_module_at(a[i], t, map[i][m])->rank;
                b->mrank[m] = k > b->mrank[m] ? k : b->mrank[m];
            }
        b->A[m] = cl_alloc((size_t)b->mrank[m] * (size_t)pm->d_in, sizeof(float), err);
        b->B[m] = cl_alloc((size_t)pm->d_out * (size_t)b->mrank[m], sizeof(float), err);
        if (!b->A[m] || !b->B[m])
            return err->code;
    }
    return CL_OK;
}

/* Append one snapshot per task. */
static int write_tasks(cl_store *st, cl_peft_adapter *const *a, int n, int *const *map, int T,
                       import_buf *b, const cl_peft_import_spec *sp, cl_error *err)
{
    int t = 0, rc = CL_OK;
    for (int i = 0; i < n && !rc; i++)
        for (int k = 0; k < cl_peft_get_info(a[i])->n_tasks && !rc; k++, t++) {
            if (sp && sp->progress)
                sp->progress(sp->progress_ctx, t, T);
            for (int m = 0; m < b->M && !rc; m++) {
                const cl_peft_module *pm = cl_peft_module_at(a[i], k, map[i][m]);
                b->rank[m] = pm->rank;
                b->scale[m] = pm->scale;
                rc = cl_peft_read(a[i], k, map[i][m], b->A[m], b->B[m], err);
            }
            /* Not a training run: losses and times are not applicable. */
            cl_snapshot_row row = {.task = t, .epoch = 0, .step = 0, .loss = NAN,
                                   .loss_task = NAN, .penalty_orth = NAN, .penalty_l2 = NAN,
                                   .penalty_sparse = NAN, .wall_time = NAN,
                                   .kind = CL_SNAP_END_OF_TASK};
            if (!rc)
                rc = cl_store_append(st, &row, (const float *const *)b->A,
                                     (const float *const *)b->B, b->rank, b->scale, NULL, 0, err);
        }
    return rc;
}

/* The accuracy file's matrix for the store's task names; a note when it was
 * in percent. */
static int read_accuracy(const cl_peft_import_spec *sp, char **names, int T, double **R,
                         double **base, int *has_base, cl_error *err)
{
    *R = cl_alloc((size_t)T * (size_t)T, sizeof **R, err);
    *base = cl_alloc((size_t)T, sizeof **base, err);
    if (!*R || !*base)
        return err->code;
    int percent, rc = cl_accuracy_file_read(sp->accuracy_file, (const char *const *)names, T,
                                            *R, *base, has_base, &percent, err);
    if (!rc && percent && sp->note)
        sp->note(sp->note_ctx, sp->accuracy_file, "accuracy",
                 "values above 1: read as percentages and divided by 100");
    return rc;
}

int cl_peft_import(const char *path, cl_peft_adapter *const *a, int n,
                   const cl_peft_import_spec *sp, cl_error *err)
{
    if (n < 1)
        return cl_error_set(err, CL_ERR_ARG, "%s: no adapters to import", path);
    int T = 0, M = 0, rc = CL_OK, has_base = 0;
    for (int i = 0; i < n; i++)
        T += cl_peft_get_info(a[i])->n_tasks;
    if (sp && sp->labels && (rc = cl_run_labels_check(sp->labels, T, err)))
        return rc;
    int **map = cl_alloc((size_t)n, sizeof *map, err);
    char **names = cl_alloc((size_t)T, sizeof *names, err);
    double *t_alpha = NULL, *R = NULL, *base = NULL;
    int32_t *t_rs = NULL;
    import_buf b = {0};
    cl_atomic_file *af = NULL;
    cl_store *st = NULL;
    if (!names || !map) {
        rc = err->code;
        goto out;
    }
    if ((rc = module_map(a, n, sp, map, &M, err)))
        goto out;
    for (int i = 1; i < n; i++) {
        const char *b0 = cl_peft_get_info(a[0])->base_model, *bi = cl_peft_get_info(a[i])->base_model;
        if (strcmp(b0, bi) && sp && sp->note) {
            char why[600];
            snprintf(why, sizeof why,
                     "names base '%.250s', the first adapter '%.250s'; imported as one base since "
                     "every module and shape agrees",
                     bi, b0);
            sp->note(sp->note_ctx, cl_peft_get_info(a[i])->dir, "base_model_name_or_path", why);
        }
    }
    if ((rc = task_names(a, n, T, sp, names, err)) || (rc = buf_make(a, n, map, M, &b, err)))
        goto out;
    if (sp && sp->accuracy_file &&
        (rc = read_accuracy(sp, names, T, &R, &base, &has_base, err)))
        goto out;
    const cl_peft_info *i0 = cl_peft_get_info(a[0]);
    char created[128];
    snprintf(created, sizeof created, "collide-import %s", cl_version());
    /* each task's own lora_alpha and rule: they may differ between adapters */
    t_alpha = cl_alloc((size_t)T, sizeof *t_alpha, err);
    t_rs = cl_alloc((size_t)T, sizeof *t_rs, err);
    if (!t_alpha || !t_rs) {
        rc = err->code;
        goto out;
    }
    for (int i = 0, t = 0; i < n; i++) {
        const cl_peft_info *in = cl_peft_get_info(a[i]);
        for (int k = 0; k < in->n_tasks && t < T; k++, t++) {
            t_alpha[t] = in->alpha;
            t_rs[t] = in->use_rslora != 0;
        }
    }
    cl_store_spec spec = {
        .meta = {.method = "imported", .origin = "imported", .rank = i0->r, .alpha = i0->alpha,
                 .scaling = cl_peft_scale(i0->alpha, i0->r, i0->use_rslora),
                 .scaling_rule = scaling_rule(a, n), .penalty_form = "none",
                 .base_model = i0->base_model[0] ? i0->base_model : "unknown",
                 .created_by = sp && sp->created_by ? sp->created_by : created},
        .n_tasks = T, .task_names = (const char *const *)names, .n_modules = b.M,
        .module_names = b.names, .d_out = b.d_out, .d_in = b.d_in, .rank = b.mrank,
        .task_alpha = t_alpha, .task_rslora = t_rs};
    if (sp && sp->labels)
        cl_run_labels_apply(sp->labels, &spec.meta);
    /* Built under a temporary name, renamed over path once complete. */
    if ((rc = cl_atomic_open(path, 1, &af, err)) ||
        (rc = cl_store_create(cl_atomic_tmp_path(af), &spec, &st, err)))
        goto out;
    rc = write_tasks(st, a, n, map, T, &b, sp, err);
    cl_eval ev = sp ? sp->accuracy_eval : CL_EVAL_GENERATE;
    for (int t = 0; R && !rc && t < T; t++)
        rc = cl_store_write_accuracy_row(st, ev, t, R + (size_t)t * (size_t)T, err);
    if (!rc && has_base)
        rc = cl_store_write_baseline(st, ev, base, err);
    if (!rc) {
        rc = cl_store_close(st, err);
        st = NULL;
    }
    if (!rc) {
        rc = cl_atomic_commit(af, err);
        af = NULL;
    }
out:
    if (st)
        cl_store_close(st, NULL);
    if (af)
        cl_atomic_abort(af);
    for (int t = 0; names && t < T; t++)
        free(names[t]);
    for (int i = 0; map && i < n; i++)
        free(map[i]);
    free(map);
    free(names);
    free(t_alpha);
    free(t_rs);
    free(R);
    free(base);
    buf_free(&b);
    return rc;
}
