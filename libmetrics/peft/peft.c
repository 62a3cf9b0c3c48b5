/*
 * peft.c -- reading one PEFT adapter directory: its config, the mapping of
 * tensor names to modules, and the split of an O-LoRA / N-LoRA cumulative
 * checkpoint into per-task adapters (docs/IMPORT.md).
 *
 * Orientation. PEFT saves lora_A as nn.Linear(d_in, r).weight = [r, d_in]
 * and lora_B as nn.Linear(r, d_out).weight = [d_out, r] for every layer
 * type, GPT-2's Conv1D included (fan_in_fan_out only transposes the merged
 * update into Conv1D's [d_in, d_out] weight). So collide keeps the factors
 * as stored and dW = s * B * A is always d_out x d_in, nn.Linear's layout:
 * for a Conv1D module it is the transpose of the weight's own layout, which
 * changes no metric (collisions, norms and spectra are transpose-invariant
 * as long as every task is read the same way).
 *
 * Fused projections (GPT-NeoX query_key_value, GPT-2 c_attn) are one module
 * with d_out = 3 x hidden, as PEFT adapts them: one A and one B. Old PEFT's
 * MergedLinear (config enable_lora, e.g. [true, false, true] for GPT-2's
 * c_attn) adapts only some parts: lora_A is [r*G, d_in] for the G enabled
 * parts and lora_B a grouped Conv1d weight [out_per*G, r, 1], out_per =
 * d_out / len(enable_lora); dW = zero_pad(conv1d(A, B, groups=G)), i.e. the
 * g-th enabled part's rows get B_g A_g. It is imported as that exact dW: one
 * module of rank r*G, A as stored and B placed block by block into a
 * d_out x r*G matrix (zeros elsewhere), scaled by lora_alpha / r.
 *
 * Weights. adapter_model.safetensors is read; a directory holding only
 * adapter_model.bin (a torch.save checkpoint) is read through
 * torch_pickle.c, which rebuilds its tensors without running anything from
 * the file and hands an in-memory safetensors file to cl_st_parse, so every
 * later check and message is the same (naming the .bin). With both files
 * the safetensors one is read, as PEFT does, and a note says so.
 */
#include "peft_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* What a tensor is to the importer. */
enum { K_A, K_B, K_NEW_A, K_NEW_B, K_N };
static const char *const kind_suffix[K_N] = {".lora_A.weight", ".lora_B.weight",
                                             ".loranew_A.weight", ".loranew_B.weight"};
static const char *const kind_name[K_N] = {"lora_A", "lora_B", "loranew_A", "loranew_B"};

typedef struct peft_entry {
    char *module;
    int kind;
    int tensor; /* index in the safetensors file */
} peft_entry;

typedef struct peft_mod {
    char *name;
    int tensor[K_N]; /* -1 when absent */
    int64_t d_out, d_in;
    int64_t old_rank; /* rows of lora_A (cumulative checkpoints: earlier tasks) */
    int groups;       /* MergedLinear: enabled parts G (0: a plain module)      */
    int64_t out_per;  /* MergedLinear: rows of d_out per part                   */
} peft_mod;

struct cl_peft_adapter {
    cl_peft_info info;
    peft_config cfg;
    char *dir, *st_path, *dtype;
    cl_safetensors *st;
    int pickle;           /* st_path is a torch.save checkpoint             */
    uint8_t *st_buf;      /* its tensors as an in-memory safetensors file   */
    size_t st_len;
    int M, T;
    peft_mod *mods;       /* M                                            */
    cl_peft_module *tm;   /* T x M: what each task holds                  */
    int *src;             /* T x M: K_A (lora pair) or K_NEW_A (loranew)  */
    int64_t *off;         /* T x M: first rank row of the task in the pair */
};

static char *join(const char *dir, const char *name, cl_error *err)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = cl_alloc(n, 1, err);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !memcmp(s + a - b, suf, b);
}

void cl_peft_close(cl_peft_adapter *a)
{
    if (!a)
        return;
    cl_peft_config_free(&a->cfg);
    cl_st_close(a->st);
    free(a->st_buf); /* after the reader that points into it */
    if (a->mods)
        for (int m = 0; m < a->M; m++)
            free(a->mods[m].name);
    free(a->mods);
    free(a->tm);
    free(a->src);
    free(a->off);
    free(a->dir);
    free(a->st_path);
    free(a->dtype);
    free(a);
}

const cl_peft_info *cl_peft_get_info(const cl_peft_adapter *a) { return &a->info; }

const cl_peft_module *cl_peft_module_at(const cl_peft_adapter *a, int t, int m)
{
    return &a->tm[(size_t)t * (size_t)a->M + (size_t)m];
}

/* Locate the config and the weights: dir is an adapter directory (or the
 * .safetensors / .bin file inside one). */
static int find_files(cl_peft_adapter *a, const char *path, cl_peft_note_fn note, void *ctx,
                      cl_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        const char *slash = strrchr(path, '/');
        size_t dl = slash ? (size_t)(slash - path) : 1;
        a->dir = cl_alloc(dl + 1, 1, err);
        if (!a->dir)
            return err->code;
        memcpy(a->dir, slash ? path : ".", dl);
        a->pickle = ends_with(path, ".bin");
        if (!a->pickle && !ends_with(path, ".safetensors"))
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: not a PEFT adapter directory (adapter_config.json and "
                                "adapter_model.safetensors or adapter_model.bin) nor its "
                                ".safetensors or .bin file",
                                path);
        a->st_path = cl_strdup(path, err);
        return a->st_path ? CL_OK : err->code;
    }
    if (!S_ISDIR(sb.st_mode))
        return cl_error_set(err, CL_ERR_IO, "%s: not a directory", path);
    a->dir = cl_strdup(path, err);
    if (!a->dir)
        return err->code;
    for (size_t l = strlen(a->dir); l > 1 && a->dir[l - 1] == '/'; l--)
        a->dir[l - 1] = 0; /* "dir/" names files as "dir/x", not "dir//x" */
    a->st_path = join(a->dir, PEFT_WEIGHTS, err);
    if (!a->st_path)
        return err->code;
    char *bin = join(a->dir, PEFT_PICKLE, err);
    if (!bin)
        return err->code;
    int rc = CL_OK;
    if (is_file(a->st_path)) {
        if (is_file(bin) && note) {
            char why[600];
            snprintf(why, sizeof why, "not read: %.500s beside it is read instead, as PEFT does",
                     a->st_path);
            note(ctx, bin, "torch.save checkpoint", why);
        }
    } else if (is_file(bin)) {
        free(a->st_path);
        a->st_path = bin;
        a->pickle = 1;
        bin = NULL;
    } else {
        rc = cl_error_set(err, CL_ERR_IO,
                          "%s: no %s nor %s (a PEFT adapter directory holds %s and one of them)",
                          path, PEFT_WEIGHTS, PEFT_PICKLE, PEFT_CONFIG);
    }
    free(bin);
    return rc;
}

/* Why a tensor that is not a LoRA factor is skipped. */
static void skip_reason(const peft_config *c, const char *key, const char *mod, char *buf,
                        size_t n)
{
    if (ends_with(key, ".lora_A.bias") || ends_with(key, ".lora_B.bias")) {
        snprintf(buf, n, "LoRA bias (lora_bias): not part of dW = s * B * A; skipped");
        return;
    }
    if (strstr(key, "lora_embedding_")) {
        snprintf(buf, n, "embedding LoRA (lora_embedding_A/B) is not imported; skipped");
        return;
    }
    if (strstr(key, "lora_magnitude_vector")) {
        snprintf(buf, n, "DoRA magnitude vector: not imported; skipped");
        return;
    }
    if (strstr(key, ".lora_A.") || strstr(key, ".lora_B.")) {
        snprintf(buf, n, "LoRA factor under an unexpected name (expected <module>.lora_A.weight "
                         "or .lora_B.weight); skipped");
        return;
    }
    /* modules_to_save: PEFT saves the module's full trained weights under its
     * own path (base_model.model.classifier.weight). */
    for (int i = 0; i < c->n_to_save; i++) {
        const char *e = c->to_save[i];
        size_t el = strlen(e);
        for (const char *p = strstr(mod, e); p; p = strstr(p + 1, e))
            if ((p == mod || p[-1] == '.') && (p[el] == '.' || p[el] == 0)) {
                snprintf(buf, n,
                         "full tensor of modules_to_save entry '%s', not a LoRA factor; skipped",
                         e);
                return;
            }
    }
    snprintf(buf, n, "not a LoRA factor (no lora_A/lora_B in its name); skipped");
}

static int entry_cmp(const void *x, const void *y)
{
    const peft_entry *a = x, *b = y;
    int c = cl_peft_name_cmp(a->module, b->module);
    return c ? c : a->kind - b->kind;
}

/* Sort every tensor into a LoRA factor of a module or a skipped tensor. */
static int classify(cl_peft_adapter *a, cl_peft_note_fn note, void *ctx, peft_entry **out,
                    int *n_out, cl_error *err)
{
    int n = cl_st_count(a->st), k = 0;
    peft_entry *e = cl_alloc((size_t)n, sizeof *e, err);
    *out = e;
    *n_out = 0;
    if (!e)
        return err->code;
    for (int i = 0; i < n; i++) {
        const char *key = cl_st_get(a->st, i)->name;
        const char *rest = strncmp(key, PEFT_PREFIX, strlen(PEFT_PREFIX)) ? key
                                                                          : key + strlen(PEFT_PREFIX);
        int kind = -1;
        for (int j = 0; j < K_N && kind < 0; j++)
            if (ends_with(rest, kind_suffix[j]))
                kind = j;
        if (kind < 0) {
            char why[256];
            skip_reason(&a->cfg, key, rest, why, sizeof why);
            a->info.n_skipped++;
            if (note)
                note(ctx, a->st_path, key, why);
            continue;
        }
        size_t ml = strlen(rest) - strlen(kind_suffix[kind]);
        if (ml == 0)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': no module name before %s",
                                a->st_path, key, kind_suffix[kind] + 1);
        e[k].module = cl_alloc(ml + 1, 1, err);
        if (!e[k].module)
            return err->code;
        memcpy(e[k].module, rest, ml);
        e[k].kind = kind;
        e[k].tensor = i;
        *n_out = ++k;
    }
    qsort(e, (size_t)k, sizeof *e, entry_cmp);
    return CL_OK;
}

/* A factor tensor: 2-D (3-D: a MergedLinear lora_B), floating point. */
static int check_factor(const cl_peft_adapter *a, const cl_st_tensor *t, int ndim,
                        cl_error *err)
{
    if (t->ndim == 3 && ndim == 2 && !a->cfg.enable_lora && ends_with(t->name, ".lora_B.weight"))
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': 3 dimensions (%lld x %lld x %lld), like old PEFT's "
                            "MergedLinear lora_B (a grouped Conv1d weight), but %s has no "
                            "enable_lora",
                            a->st_path, t->name, (long long)t->shape[0], (long long)t->shape[1],
                            (long long)t->shape[2], a->cfg.path);
    if (t->ndim != ndim)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': %d dimensions, expected %d",
                            a->st_path, t->name, t->ndim, ndim);
    if (t->dtype != CL_ST_F32 && t->dtype != CL_ST_F16 && t->dtype != CL_ST_BF16 &&
        t->dtype != CL_ST_F64)
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "%s: tensor '%s': dtype %s, expected F32, F16, BF16 or F64",
                            a->st_path, t->name, cl_st_dtype_name(t->dtype));
    return CL_OK;
}

/* A MergedLinear pair (enable_lora): lora_A [r*G, d_in], lora_B
 * [out_per*G, r, 1]; *dout = out_per * len(enable_lora). */
static int check_merged(cl_peft_adapter *a, peft_mod *m, const cl_st_tensor *A,
                        const cl_st_tensor *B, int cumulative, int64_t *dout, cl_error *err)
{
    const char *p = a->st_path;
    int r, G = 0, L = a->cfg.n_enable_lora;
    double alpha;
    cl_peft_config_module(&a->cfg, m->name, &r, &alpha);
    for (int i = 0; i < L; i++)
        G += a->cfg.enable_lora[i];
    if (cumulative)
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "%s: module '%s': a MergedLinear (enable_lora) lora_B in a cumulative "
                            "(O-LoRA) checkpoint is not supported",
                            p, m->name);
    if (B->shape[2] != 1 || B->shape[1] != r || B->shape[0] < G || B->shape[0] % G ||
        A->shape[0] != (int64_t)r * G)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: module '%s': MergedLinear with enable_lora of %d parts (%d "
                            "enabled) and r = %d expects lora_A [%d, d_in] and lora_B "
                            "[out_per*%d, %d, 1]; found lora_A [%lld, %lld] and lora_B [%lld, "
                            "%lld, %lld]",
                            p, m->name, L, G, r, r * G, G, r, (long long)A->shape[0],
                            (long long)A->shape[1], (long long)B->shape[0],
                            (long long)B->shape[1], (long long)B->shape[2]);
    m->groups = G;
    m->out_per = B->shape[0] / G;
    if (m->out_per > PEFT_MAX_DIM / L)
        return cl_error_set(err, CL_ERR_VALUE, "%s: module '%s': d_out of %lld x %d out of range",
                            p, m->name, (long long)m->out_per, L);
    *dout = m->out_per * L;
    return CL_OK;
}

/* One module's tensors: pairs present, shapes consistent. */
static int check_module(cl_peft_adapter *a, peft_mod *m, int cumulative, cl_error *err)
{
    const char *p = a->st_path;
    int has_old = m->tensor[K_A] >= 0 || m->tensor[K_B] >= 0;
    for (int pair = 0; pair < K_N; pair += 2) {
        if ((m->tensor[pair] >= 0) != (m->tensor[pair + 1] >= 0))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: module '%s': %s without %s", p, m->name,
                                kind_name[m->tensor[pair] >= 0 ? pair : pair + 1],
                                kind_name[m->tensor[pair] >= 0 ? pair + 1 : pair]);
    }
    if (!cumulative && !has_old)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: module '%s': no lora_A / lora_B", p,
                            m->name);
    m->d_out = m->d_in = -1;
    for (int pair = 0; pair < K_N; pair += 2) {
        if (m->tensor[pair] < 0)
            continue;
        const cl_st_tensor *A = cl_st_get(a->st, m->tensor[pair]);
        const cl_st_tensor *B = cl_st_get(a->st, m->tensor[pair + 1]);
        int merged = pair == K_A && B->ndim == 3 && a->cfg.enable_lora;
        int rc = check_factor(a, A, 2, err);
        if (rc || (rc = check_factor(a, B, merged ? 3 : 2, err)))
            return rc;
        int64_t dout = B->shape[0];
        if (merged && (rc = check_merged(a, m, A, B, cumulative, &dout, err)))
            return rc;
        if (!merged && A->shape[0] != B->shape[1])
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': %s has %lld rows but %s has %lld columns (the "
                                "rank must agree)",
                                p, m->name, kind_name[pair], (long long)A->shape[0],
                                kind_name[pair + 1], (long long)B->shape[1]);
        int64_t din = A->shape[1];
        if (din < 1 || dout < 1 || din > PEFT_MAX_DIM || dout > PEFT_MAX_DIM ||
            A->shape[0] > (int64_t)PEFT_MAX_RANK * 4096)
            return cl_error_set(err, CL_ERR_VALUE,
                                "%s: module '%s': %s %lld x %lld and %s %lld x %lld: shape out of "
                                "range (d_out, d_in in [1, %d])",
                                p, m->name, kind_name[pair], (long long)A->shape[0],
                                (long long)din, kind_name[pair + 1], (long long)dout,
                                (long long)B->shape[1], PEFT_MAX_DIM);
        if (m->d_in >= 0 && (m->d_in != din || m->d_out != dout))
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': loranew is %lld x %lld (d_out x d_in) but lora "
                                "is %lld x %lld",
                                p, m->name, (long long)dout, (long long)din, (long long)m->d_out,
                                (long long)m->d_in);
        m->d_in = din;
        m->d_out = dout;
        if (pair == K_A)
            m->old_rank = A->shape[0];
    }
    if (!has_old)
        m->old_rank = 0;
    return CL_OK;
}

/* Group the sorted entries into modules. */
static int build_modules(cl_peft_adapter *a, peft_entry *e, int n, int *cumulative,
                         cl_error *err)
{
    int M = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(e[i].module, e[i - 1].module))
            M++;
    if (M == 0)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: no LoRA factors (tensors named <module>.lora_A.weight and "
                            "<module>.lora_B.weight)",
                            a->st_path);
    a->mods = cl_alloc((size_t)M, sizeof *a->mods, err);
    if (!a->mods)
        return err->code;
    *cumulative = a->cfg.has_r_sum;
    int m = -1;
    for (int i = 0; i < n; i++) {
        if (m < 0 || strcmp(e[i].module, a->mods[m].name)) {
            m++;
            a->mods[m].name = e[i].module;
            e[i].module = NULL; /* owned by the module now */
            for (int k = 0; k < K_N; k++)
                a->mods[m].tensor[k] = -1;
            a->M = m + 1;
        }
        peft_mod *pm = &a->mods[m];
        if (pm->tensor[e[i].kind] >= 0)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: module '%s': two %s tensors ('%s' and "
                                "'%s')",
                                a->st_path, pm->name, kind_name[e[i].kind],
                                cl_st_get(a->st, pm->tensor[e[i].kind])->name,
                                cl_st_get(a->st, e[i].tensor)->name);
        pm->tensor[e[i].kind] = e[i].tensor;
        if (e[i].kind >= K_NEW_A)
            *cumulative = 1;
    }
    return CL_OK;
}

/*
 * Tasks and per-task modules. A plain adapter is one task whose lora_A has
 * r rows (r after rank_pattern). A cumulative checkpoint of the O-LoRA fork
 * holds the earlier tasks concatenated along the rank in lora_A / lora_B
 * (r rows each, in training order) and, when saved with save_loranew, the
 * current task in loranew_A / loranew_B; the fork scales every slice by
 * lora_alpha / r.
 */
static int build_tasks(cl_peft_adapter *a, int cumulative, cl_peft_note_fn note, void *ctx,
                       cl_error *err)
{
    const char *p = a->st_path;
    int T = -1;
    for (int m = 0; m < a->M; m++) {
        peft_mod *pm = &a->mods[m];
        int r;
        double alpha;
        cl_peft_config_module(&a->cfg, pm->name, &r, &alpha);
        int tm;
        if (!cumulative) {
            if (pm->groups && pm->old_rank == (int64_t)r * pm->groups) {
                /* checked in check_merged */
            } else if (pm->old_rank != r)
                return cl_error_set(err, CL_ERR_FORMAT,
                                    "%s: module '%s': lora_A has %lld rows, but %s gives r = %d "
                                    "for it%s",
                                    p, pm->name, (long long)pm->old_rank, a->cfg.path, r,
                                    a->cfg.n_rank_pat ? " (after rank_pattern)" : "");
            tm = 1;
        } else {
            if (pm->old_rank % r)
                return cl_error_set(err, CL_ERR_FORMAT,
                                    "%s: module '%s': lora_A has %lld rows, not a multiple of r = "
                                    "%d (O-LoRA cumulative layout: r rows per earlier task)",
                                    p, pm->name, (long long)pm->old_rank, r);
            int has_new = pm->tensor[K_NEW_A] >= 0;
            if (has_new && cl_st_get(a->st, pm->tensor[K_NEW_A])->shape[0] != r)
                return cl_error_set(err, CL_ERR_FORMAT,
                                    "%s: module '%s': loranew_A has %lld rows, but %s gives r = "
                                    "%d",
                                    p, pm->name,
                                    (long long)cl_st_get(a->st, pm->tensor[K_NEW_A])->shape[0],
                                    a->cfg.path, r);
            int64_t t64 = pm->old_rank / r + has_new;
            if (t64 < 1 || t64 > 100000)
                return cl_error_set(err, CL_ERR_FORMAT, "%s: module '%s': %lld tasks", p,
                                    pm->name, (long long)t64);
            tm = (int)t64;
            if (a->cfg.has_r_sum && a->cfg.r_sum != pm->old_rank && note && m == 0) {
                char why[160];
                snprintf(why, sizeof why,
                         "r_sum is %lld but lora_A has %lld rows; the tensors are what is split",
                         (long long)a->cfg.r_sum, (long long)pm->old_rank);
                note(ctx, a->cfg.path, "r_sum", why);
            }
        }
        if (T >= 0 && tm != T)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: module '%s': holds %d tasks, but module '%s' holds %d", p,
                                pm->name, tm, a->mods[0].name, T);
        T = tm;
    }
    a->T = T;
    size_t n = (size_t)T * (size_t)a->M;
    a->tm = cl_alloc(n, sizeof *a->tm, err);
    a->src = cl_alloc(n, sizeof *a->src, err);
    a->off = cl_alloc(n, sizeof *a->off, err);
    if (!a->tm || !a->src || !a->off)
        return err->code;
    for (int m = 0; m < a->M; m++) {
        peft_mod *pm = &a->mods[m];
        int r;
        double alpha;
        cl_peft_config_module(&a->cfg, pm->name, &r, &alpha);
        int n_old = (int)(pm->old_rank / r);
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)t * (size_t)a->M + (size_t)m;
            a->tm[i] = (cl_peft_module){.name = pm->name, .d_out = pm->d_out, .d_in = pm->d_in,
                                        .rank = pm->groups ? r * pm->groups : r, .alpha = alpha,
                                        .scale = cl_peft_scale(alpha, r, a->cfg.use_rslora)};
            a->src[i] = t < n_old || pm->groups ? K_A : K_NEW_A;
            a->off[i] = t < n_old ? (int64_t)t * r : 0;
        }
    }
    return CL_OK;
}

/* target_modules entries that name no module with tensors (flan-T5's "V"):
 * PEFT matches a list entry as the whole name or its last dotted part(s). */
static void note_unmatched_targets(const cl_peft_adapter *a, cl_peft_note_fn note, void *ctx)
{
    if (!note)
        return;
    for (int i = 0; i < a->cfg.n_targets; i++) {
        const char *t = a->cfg.targets[i];
        size_t tl = strlen(t);
        int hit = 0;
        for (int m = 0; m < a->M && !hit; m++) {
            const char *n = a->mods[m].name;
            size_t nl = strlen(n);
            hit = !strcmp(n, t) || (nl > tl && n[nl - tl - 1] == '.' && !strcmp(n + nl - tl, t));
        }
        if (!hit) {
            char why[400];
            snprintf(why, sizeof why,
                     "entry '%.200s' matches no module with tensors (PEFT compares names "
                     "case-sensitively); nothing imported for it",
                     t);
            note(ctx, a->cfg.path, "target_modules", why);
        }
    }
}

/* "BF16", or "F16+F32" when the factors mix dtypes. */
static int factor_dtypes(cl_peft_adapter *a, cl_error *err)
{
    int seen[CL_ST_BOOL + 1] = {0};
    for (int m = 0; m < a->M; m++)
        for (int k = 0; k < K_N; k++)
            if (a->mods[m].tensor[k] >= 0)
                seen[cl_st_get(a->st, a->mods[m].tensor[k])->dtype] = 1;
    a->dtype = cl_alloc(64, 1, err);
    if (!a->dtype)
        return err->code;
    static const cl_st_dtype order[] = {CL_ST_BF16, CL_ST_F16, CL_ST_F32, CL_ST_F64};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (seen[order[i]]) {
            if (a->dtype[0])
                strcat(a->dtype, "+");
            strcat(a->dtype, cl_st_dtype_name(order[i]));
        }
    return CL_OK;
}

int cl_peft_open(const char *dir, cl_peft_note_fn note, void *ctx, cl_peft_adapter **out,
                 cl_error *err)
{
    *out = NULL;
    cl_peft_adapter *a = cl_alloc(1, sizeof *a, err);
    if (!a)
        return err->code;
    peft_entry *e = NULL;
    int ne = 0, cumulative = 0;
    char *cfg_path = NULL;
    int rc = find_files(a, dir, note, ctx, err);
    if (!rc) {
        cfg_path = join(a->dir, PEFT_CONFIG, err);
        rc = cfg_path ? cl_peft_config_read(cfg_path, &a->cfg, err) : err->code;
    }
    if (!rc && a->pickle) {
        rc = cl_torch_read(a->st_path, &a->st_buf, &a->st_len, err);
        if (!rc)
            rc = cl_st_parse(a->st_buf, a->st_len, a->st_path, &a->st, err);
    } else if (!rc) {
        rc = cl_st_open(a->st_path, &a->st, err);
    }
    if (!rc)
        rc = classify(a, note, ctx, &e, &ne, err);
    if (!rc)
        rc = build_modules(a, e, ne, &cumulative, err);
    for (int m = 0; !rc && m < a->M; m++)
        rc = check_module(a, &a->mods[m], cumulative, err);
    if (!rc)
        rc = build_tasks(a, cumulative, note, ctx, err);
    if (!rc)
        rc = factor_dtypes(a, err);
    free(cfg_path);
    for (int i = 0; i < ne; i++)
        free(e[i].module);
    free(e);
    if (rc) {
        cl_peft_close(a);
        return rc;
    }
    note_unmatched_targets(a, note, ctx);
    a->info.dir = a->dir;
    a->info.base_model = a->cfg.base_model;
    a->info.task_type = a->cfg.task_type;
    a->info.dtype = a->dtype;
    a->info.r = a->cfg.r;
    a->info.alpha = a->cfg.alpha;
    a->info.use_rslora = a->cfg.use_rslora;
    a->info.fan_in_fan_out = a->cfg.fan_in_fan_out;
    a->info.cumulative = cumulative;
    a->info.n_tasks = a->T;
    a->info.n_modules = a->M;
    *out = a;
    return CL_OK;
}

/* Values must be finite: a NaN would poison every metric silently. v is a
 * rows x cols block at [row0, col0] of tensor t (a task's slice). */
static int check_finite(const cl_peft_adapter *a, const cl_st_tensor *t, const float *v,
                        int64_t rows, int64_t cols, int64_t row0, int64_t col0, cl_error *err)
{
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(v[i]))
            return cl_error_set(err, CL_ERR_VALUE, "%s: tensor '%s': element [%lld, %lld] is %s",
                                a->st_path, t->name, (long long)(row0 + i / cols),
                                (long long)(col0 + i % cols), isnan(v[i]) ? "NaN" : "Inf");
    return CL_OK;
}

/* A MergedLinear pair: A as stored (k = r*G rows); B (d_out x k) zero but
 * for block g, rows [j*out_per, (j+1)*out_per) of the g-th enabled part j
 * and columns [g*r, (g+1)*r): lora_B[g*out_per + i, c, 0]. */
static int read_merged(cl_peft_adapter *a, const peft_mod *pm, const cl_st_tensor *tA,
                       const cl_st_tensor *tB, int64_t k, float *A, float *B, cl_error *err)
{
    int64_t G = pm->groups, r = k / G, op = pm->out_per;
    float *tmp = cl_alloc((size_t)tB->count ? (size_t)tB->count : 1, sizeof *tmp, err);
    if (!tmp)
        return err->code;
    int rc = cl_st_read_f32(a->st, tA, A, err);
    if (!rc)
        rc = cl_st_read_f32(a->st, tB, tmp, err);
    if (!rc)
        rc = check_finite(a, tA, A, k, pm->d_in, 0, 0, err);
    if (!rc)
        rc = check_finite(a, tB, tmp, op * G, r, 0, 0, err);
    if (!rc) {
        memset(B, 0, (size_t)pm->d_out * (size_t)k * sizeof *B);
        for (int64_t g = 0, j = 0; g < G; g++, j++) {
            while (!a->cfg.enable_lora[j])
                j++;
            for (int64_t i = 0; i < op; i++)
                memcpy(B + (j * op + i) * k + g * r, tmp + (g * op + i) * r,
                       (size_t)r * sizeof *B);
        }
    }
    free(tmp);
    return rc;
}

int cl_peft_read(cl_peft_adapter *a, int t, int m, float *A, float *B, cl_error *err)
{
    if (t < 0 || t >= a->T || m < 0 || m >= a->M)
        return cl_error_set(err, CL_ERR_ARG, "%s: task %d, module %d out of range", a->st_path, t,
                            m);
    size_t i = (size_t)t * (size_t)a->M + (size_t)m;
    const cl_peft_module *pm = &a->tm[i];
    const cl_st_tensor *tA = cl_st_get(a->st, a->mods[m].tensor[a->src[i]]);
    const cl_st_tensor *tB = cl_st_get(a->st, a->mods[m].tensor[a->src[i] + 1]);
    int64_t R = tA->shape[0], k = pm->rank, off = a->off[i], din = pm->d_in, dout = pm->d_out;
    int rc;
    if (a->mods[m].groups)
        return read_merged(a, &a->mods[m], tA, tB, k, A, B, err);
    if (R == k) { /* the whole pair is this task's */
        if ((rc = cl_st_read_f32(a->st, tA, A, err)) || (rc = cl_st_read_f32(a->st, tB, B, err)))
            return rc;
    } else { /* a slice of a cumulative pair: rows of A, columns of B */
        float *full = cl_alloc((size_t)R * (size_t)(din > dout ? din : dout), sizeof *full, err);
        if (!full)
            return err->code;
        rc = cl_st_read_f32(a->st, tA, full, err);
        if (!rc)
            memcpy(A, full + (size_t)off * (size_t)din, (size_t)k * (size_t)din * sizeof *A);
        if (!rc)
            rc = cl_st_read_f32(a->st, tB, full, err);
        for (int64_t r = 0; !rc && r < dout; r++)
            memcpy(B + r * k, full + r * R + off, (size_t)k * sizeof *B);
        free(full);
        if (rc)
            return rc;
    }
    if ((rc = check_finite(a, tA, A, k, din, off, 0, err)))
        return rc;
    return check_finite(a, tB, B, dout, k, 0, off, err);
}
