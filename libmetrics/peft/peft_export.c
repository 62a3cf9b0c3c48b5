/*
 * peft_export.c -- one PEFT adapter directory per task of a view, so that
 * adapters stored by collide load with PeftModel.from_pretrained.
 *
 * The store keeps, per task and module, the rank k and the scale s of
 * dW = s * B * A; PEFT derives s from (r, lora_alpha, use_rslora) with
 * per-module rank_pattern / alpha_pattern overrides. The exporter picks the
 * r and lora_alpha most modules share (and the scaling rule needing the
 * fewest overrides), then writes an override for every other module, with a
 * lora_alpha chosen so that PEFT's double division gives back s bit for bit.
 * Import after export is therefore lossless: the same factors, ranks and
 * scales. Pattern keys are the full module paths, regex-escaped, so each
 * matches exactly one module in PEFT (re.match) and in collide (regcomp).
 *
 * A store written by collide-train names its modules layers.N.attn.q ...
 * layers.N.mlp.down (model/trainer.c), while the base it adapted is a
 * LlamaForCausalLM whose modules are model.layers.N.self_attn.q_proj ...
 * model.layers.N.mlp.down_proj. Such a store is exported under the HF
 * names (so the adapter loads on its base), as a CAUSAL_LM adapter with the
 * lora_dropout it was trained with. Every other store (imported, synthetic)
 * keeps the module names it has.
 */
#include "peft_internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A lora_alpha that PEFT turns into scale s at rank k; an integer when one
 * works. Returns 0 (and the nearest value) when none reproduces s exactly,
 * which can happen when ulp(alpha) / k exceeds ulp(s). */
static int alpha_for(double s, int k, int rslora, double *alpha)
{
    double c = s * (rslora ? sqrt((double)k) : (double)k), ri = nearbyint(c);
    if (fabs(ri) < 9e15 && cl_peft_scale(ri, k, rslora) == s) {
        *alpha = ri;
        return 1;
    }
    double up = c, dn = c;
    if (cl_peft_scale(c, k, rslora) == s) {
        *alpha = c;
        return 1;
    }
    for (int i = 0; i < 8; i++) {
        up = nextafter(up, INFINITY);
        dn = nextafter(dn, -INFINITY);
        if (cl_peft_scale(up, k, rslora) == s) {
            *alpha = up;
            return 1;
        }
        if (cl_peft_scale(dn, k, rslora) == s) {
            *alpha = dn;
            return 1;
        }
    }
    *alpha = c;
    return 0;
}

typedef struct vote {
    double v;
    int first;
} vote;

static int vote_cmp(const void *x, const void *y)
{
    const vote *a = x, *b = y;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->first - b->first;
}

/* The most frequent of n values; ties go to pref when it is among them,
 * else to the value seen first. */
static double mode_of(const double *v, int n, double pref, cl_error *err, int *rc)
{
    vote *w = cl_alloc((size_t)n, sizeof *w, err);
    if (!w) {
        *rc = err->code;
        return 0;
    }
    for (int i = 0; i < n; i++)
        w[i] = (vote){v[i], i};
    qsort(w, (size_t)n, sizeof *w, vote_cmp);
    double best = v[0];
    int best_n = 0, best_first = n, best_pref = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && w[j].v == w[i].v)
            j++;
        int cnt = j - i, is_pref = w[i].v == pref;
        if (cnt > best_n || (cnt == best_n && (is_pref > best_pref ||
                                               (is_pref == best_pref && w[i].first < best_first)))) {
            best = w[i].v;
            best_n = cnt;
            best_first = w[i].first;
            best_pref = is_pref;
        }
        i = j;
    }
    free(w);
    return best;
}

/* The PEFT config of one task. */
typedef struct export_plan {
    int r, rslora, inexact, n_rank_pat, n_alpha_pat;
    double alpha;
    double *alpha_m; /* per module */
} export_plan;

/* r, lora_alpha and overrides for ranks k[] and scales s[] under one
 * scaling rule; returns the number of overrides needed. */
static int plan_rule(const int32_t *k, const double *s, int M, int rslora, const cl_run_meta *meta,
                     export_plan *p, cl_error *err, int *rc)
{
    double *kd = cl_alloc((size_t)M, sizeof *kd, err);
    if (!kd) {
        *rc = err->code;
        return 0;
    }
    p->rslora = rslora;
    p->inexact = 0;
    for (int m = 0; m < M; m++) {
        kd[m] = k[m];
        p->inexact += !alpha_for(s[m], k[m], rslora, &p->alpha_m[m]);
    }
    p->r = (int)mode_of(kd, M, meta->rank, err, rc);
    p->alpha = *rc ? 0 : mode_of(p->alpha_m, M, meta->alpha, err, rc);
    free(kd);
    p->n_rank_pat = p->n_alpha_pat = 0;
    for (int m = 0; m < M; m++) {
        p->n_rank_pat += k[m] != p->r;
        p->n_alpha_pat += p->alpha_m[m] != p->alpha;
    }
    return p->n_alpha_pat + p->inexact;
}

/* Try both rules (the store's first) and keep the one with fewer
 * overrides. */
static int plan_task(const int32_t *k, const double *s, int M, const cl_run_meta *meta,
                     export_plan *best, cl_error *err)
{
    int rc = CL_OK, first = !strcmp(meta->scaling_rule, "alpha/sqrt(r)");
    export_plan other = {0};
    best->alpha_m = cl_alloc((size_t)M, sizeof(double), err);
    other.alpha_m = cl_alloc((size_t)M, sizeof(double), err);
    if (!best->alpha_m || !other.alpha_m) {
        free(other.alpha_m);
        return err->code;
    }
    int cost = plan_rule(k, s, M, first, meta, best, err, &rc);
    int cost2 = rc ? 0 : plan_rule(k, s, M, !first, meta, &other, err, &rc);
    if (!rc && cost2 < cost) {
        double *t = best->alpha_m;
        *best = other;
        other.alpha_m = t;
    }
    free(other.alpha_m);
    return rc;
}

/* JSON number: an integer when the value is one (PEFT writes ints). */
static json_t *json_num(double v)
{
    if (v == nearbyint(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* A module path as a regex matching only itself. */
static char *regex_escape(const char *s, cl_error *err)
{
    char *o = cl_alloc(2 * strlen(s) + 1, 1, err), *q = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        if (strchr(".^$*+?()[]{}|\\", *s))
            *q++ = '\\';
        *q++ = *s;
    }
    return o;
}

static int is_conv1d_name(const char *n)
{
    const char *d = strrchr(n, '.');
    d = d ? d + 1 : n;
    return !strcmp(d, "c_attn") || !strcmp(d, "c_proj") || !strcmp(d, "c_fc");
}

/* ------------------------------------------------- module names */

/* collide-train's module names (model/lora.c, cl_proj_short) and the
 * LlamaForCausalLM modules they adapt (model/llama.c reads the base's
 * weights under these names), in cl_proj order. */
static const char *const CT_SHORT[] = {"attn.q", "attn.k", "attn.v", "attn.o",
                                       "mlp.gate", "mlp.up", "mlp.down"};
static const char *const CT_HF[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                    "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                    "mlp.down_proj"};
static const char *const CT_TARGET[] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                        "gate_proj", "up_proj", "down_proj"};
#define CT_NPROJ 7

/* The projection of a collide-train module name "layers.N.attn.q" (and N),
 * or -1 when the name is not one. */
static int ct_parse(const char *name, int *layer)
{
    if (strncmp(name, "layers.", 7))
        return -1;
    const char *p = name + 7;
    if (!isdigit((unsigned char)p[0]) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return -1;
    long l = 0;
    for (; isdigit((unsigned char)*p); p++) {
        l = 10 * l + (*p - '0');
        if (l > INT_MAX / 2)
            return -1;
    }
    if (*p != '.')
        return -1;
    for (int i = 0; i < CT_NPROJ; i++)
        if (!strcmp(p + 1, CT_SHORT[i])) {
            *layer = (int)l;
            return i;
        }
    return -1;
}

/* What every task of one export shares: the names written, target_modules,
 * lora_dropout and the default task_type (CAUSAL_LM for a store with a
 * train_config, i.e. written by collide-train). */
typedef struct export_names {
    int M;
    char **name;       /* per module: the PEFT module path written        */
    json_t *targets;   /* target_modules                                   */
    double dropout;    /* lora_dropout                                     */
    const char *task_type; /* NULL: null                                   */
    int hf;            /* names mapped from collide-train's to the HF ones */
} export_names;

static void export_names_free(export_names *n)
{
    if (n->name)
        for (int m = 0; m < n->M; m++)
            free(n->name[m]);
    free(n->name);
    json_decref(n->targets);
    memset(n, 0, sizeof *n);
}

/* lora_dropout recorded in collide-train's train_config ("dropout"); 0 when
 * absent or unreadable (the value only matters in training mode). */
static double train_dropout(const char *cfg)
{
    json_t *j = json_loads(cfg, 0, NULL);
    json_t *d = j ? json_object_get(j, "dropout") : NULL;
    double v = json_is_number(d) ? json_number_value(d) : 0.0;
    json_decref(j);
    return isfinite(v) && v >= 0 && v < 1 ? v : 0.0;
}

static int export_names_init(cl_store *s, const cl_peft_export_spec *sp, export_names *n,
                             cl_error *err)
{
    const cl_run_meta *meta = cl_store_meta(s);
    int M = cl_store_n_modules(s), max_layer = -1;
    unsigned projs = 0;
    memset(n, 0, sizeof *n);
    n->M = M;
    n->name = cl_alloc((size_t)M, sizeof *n->name, err);
    n->targets = json_array();
    if (!n->name || !n->targets) {
        int had = n->name != NULL;
        export_names_free(n);
        return had ? cl_error_set(err, CL_ERR_NOMEM, "out of memory") : err->code;
    }
    /* collide-train's stores carry train_config; map only when every module
     * has collide's naming, so a store that already has PEFT paths keeps
     * them */
    n->hf = meta->train_config && meta->train_config[0] && M > 0;
    for (int m = 0; m < M && n->hf; m++) {
        int l = 0, p = ct_parse(cl_store_module_name(s, m), &l);
        n->hf = p >= 0;
        if (p >= 0) {
            projs |= 1u << p;
            max_layer = l > max_layer ? l : max_layer;
        }
    }
    int bad = 0;
    for (int m = 0; m < M && !bad; m++) {
        const char *name = cl_store_module_name(s, m);
        if (n->hf) {
            int l = 0, p = ct_parse(name, &l);
            size_t len = strlen(CT_HF[p]) + 32;
            n->name[m] = cl_alloc(len, 1, err);
            if (n->name[m])
                snprintf(n->name[m], len, "model.layers.%d.%s", l, CT_HF[p]);
        } else {
            n->name[m] = cl_strdup(name, err);
        }
        bad = !n->name[m];
    }
    if (bad) {
        export_names_free(n);
        return err->code;
    }
    /* target_modules: for a collide-train store that adapts the same
     * projections in every layer 0..L-1 (what the trainer does), the
     * projection names, as PEFT users write them; otherwise every full path,
     * each matching exactly one module */
    int grid = 0, np = 0;
    for (int p = 0; p < CT_NPROJ; p++)
        np += (projs >> p) & 1;
    if (n->hf && (int64_t)np * (max_layer + 1) == M) {
        unsigned char *seen = cl_alloc((size_t)M, 1, err);
        if (!seen) {
            export_names_free(n);
            return err->code;
        }
        grid = 1;
        for (int m = 0; m < M && grid; m++) {
            int l = 0, p = ct_parse(cl_store_module_name(s, m), &l);
            /* each (layer, projection) once: seen[l] is a mask of projections;
             * l <= max_layer < M */
            grid = !((seen[l] >> p) & 1);
            seen[l] |= (unsigned char)(1u << p);
        }
        free(seen);
    }
    for (int p = 0; p < CT_NPROJ && grid; p++)
        if ((projs >> p) & 1)
            bad |= json_array_append_new(n->targets, json_string(CT_TARGET[p]));
    for (int m = 0; m < M && !grid; m++)
        bad |= json_array_append_new(n->targets, json_string(n->name[m]));
    if (bad) {
        export_names_free(n);
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: cannot build target_modules (a name that is not UTF-8?)",
                            cl_store_path(s));
    }
    /* collide-train trains causal language models, always */
    int trained = meta->train_config && meta->train_config[0];
    n->dropout = trained ? train_dropout(meta->train_config) : 0.0;
    n->task_type = sp && sp->task_type ? sp->task_type : trained ? "CAUSAL_LM" : NULL;
    return CL_OK;
}

static int make_config(cl_store *s, const export_plan *p, const int32_t *k,
                       const export_names *nm, int fifo, json_t **out, cl_error *err)
{
    int M = cl_store_n_modules(s);
    json_t *c = json_object(), *rp = json_object(), *ap = json_object();
    json_t *targets = json_deep_copy(nm->targets);
    const char *base = cl_store_meta(s)->base_model;
    int bad = !c || !targets || !rp || !ap;
    for (int m = 0; m < M && !bad; m++) {
        if (k[m] == p->r && p->alpha_m[m] == p->alpha)
            continue;
        char *key = regex_escape(nm->name[m], err);
        if (!key) {
            json_decref(c), json_decref(targets), json_decref(rp), json_decref(ap);
            return err->code;
        }
        if (k[m] != p->r)
            bad |= json_object_set_new(rp, key, json_integer(k[m]));
        if (p->alpha_m[m] != p->alpha)
            bad |= json_object_set_new(ap, key, json_num(p->alpha_m[m]));
        free(key);
    }
    /* set_new steals its value even when it fails: nothing leaks */
    bad |= json_object_set_new(c, "alpha_pattern", ap);
    bad |= json_object_set_new(c, "base_model_name_or_path",
                               base[0] && strcmp(base, "unknown") ? json_string(base) : json_null());
    bad |= json_object_set_new(c, "bias", json_string("none"));
    bad |= json_object_set_new(c, "fan_in_fan_out", json_boolean(fifo));
    bad |= json_object_set_new(c, "inference_mode", json_true());
    bad |= json_object_set_new(c, "init_lora_weights", json_true());
    bad |= json_object_set_new(c, "layers_pattern", json_null());
    bad |= json_object_set_new(c, "layers_to_transform", json_null());
    bad |= json_object_set_new(c, "lora_alpha", json_num(p->alpha));
    bad |= json_object_set_new(c, "lora_dropout", json_real(nm->dropout));
    bad |= json_object_set_new(c, "modules_to_save", json_null());
    bad |= json_object_set_new(c, "peft_type", json_string("LORA"));
    bad |= json_object_set_new(c, "r", json_integer(p->r));
    bad |= json_object_set_new(c, "rank_pattern", rp);
    bad |= json_object_set_new(c, "revision", json_null());
    bad |= json_object_set_new(c, "target_modules", targets);
    bad |= json_object_set_new(c, "task_type",
                               nm->task_type ? json_string(nm->task_type) : json_null());
    bad |= json_object_set_new(c, "use_dora", json_false());
    bad |= json_object_set_new(c, "use_rslora", json_boolean(p->rslora));
    if (bad) {
        json_decref(c);
        return cl_error_set(err, CL_ERR_VALUE,
                            "%s: cannot build adapter_config.json (a name that is not UTF-8?)",
                            cl_store_path(s));
    }
    *out = c;
    return CL_OK;
}

static int write_json(const char *path, json_t *j, cl_error *err)
{
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (rc)
        return rc;
    FILE *fp = cl_atomic_fp(af);
    /* indent 2, sorted keys: what PEFT's save_pretrained writes */
    if (json_dumpf(j, fp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        cl_atomic_abort(af);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot write", path);
    }
    fputc('\n', fp);
    return cl_atomic_commit(af, err);
}

static int mkdir_p(const char *path, cl_error *err)
{
    char *p = cl_strdup(path, err);
    if (!p)
        return err->code;
    int rc = CL_OK;
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q)
            continue;
        char c = *q;
        *q = 0;
        struct stat sb;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
        else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            rc = cl_error_set(err, CL_ERR_IO, "%s: exists and is not a directory", p);
        *q = c;
        if (rc || !c)
            break;
    }
    free(p);
    return rc;
}

/* A directory name for a task: what is not [A-Za-z0-9._+-] becomes '_', a
 * leading dot too; made unique among the names already used. */
static char *dir_name(const char *task, char **used, int n_used, cl_error *err)
{
    size_t l = strlen(task);
    char *o = cl_alloc(l + 16, 1, err);
    if (!o)
        return NULL;
    for (size_t i = 0; i < l; i++) {
        char ch = task[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 strchr("._+-", ch);
        o[i] = ok && ch && !(i == 0 && ch == '.') ? ch : '_';
    }
    if (!l)
        snprintf(o, l + 16, "task");
    size_t base = strlen(o);
    for (int suffix = 2;; suffix++) {
        int taken = 0;
        for (int u = 0; u < n_used && !taken; u++)
            taken = !strcmp(used[u], o);
        if (!taken)
            return o;
        snprintf(o + base, 16, "-%d", suffix);
    }
}

/* The factors of every module at one snapshot, as safetensors. */
static int write_weights(cl_store *s, int64_t at, const char *path, const export_names *nm,
                         int32_t *k, double *scale, cl_error *err)
{
    int M = cl_store_n_modules(s), rc = CL_OK;
    cl_lowrank *u = cl_alloc((size_t)M, sizeof *u, err);
    cl_st_write_tensor *w = cl_alloc((size_t)M * 2, sizeof *w, err);
    char **keys = cl_alloc((size_t)M * 2, sizeof *keys, err);
    if (!u || !w || !keys) {
        rc = err->code;
        goto out;
    }
    for (int m = 0; m < M && !rc; m++) {
        if ((rc = cl_store_read_adapter(s, m, at, &u[m], err)))
            break;
        k[m] = u[m].k;
        scale[m] = u[m].scale;
        const char *name = nm->name[m];
        size_t kl = strlen(PEFT_PREFIX) + strlen(name) + 32;
        keys[2 * m] = cl_alloc(kl, 1, err);
        keys[2 * m + 1] = cl_alloc(kl, 1, err);
        if (!keys[2 * m] || !keys[2 * m + 1]) {
            rc = err->code;
            break;
        }
        snprintf(keys[2 * m], kl, "%s%s.lora_A.weight", PEFT_PREFIX, name);
        snprintf(keys[2 * m + 1], kl, "%s%s.lora_B.weight", PEFT_PREFIX, name);
        w[2 * m] = (cl_st_write_tensor){.name = keys[2 * m], .dtype = CL_ST_F32, .ndim = 2,
                                        .shape = {u[m].k, u[m].d_in}, .data = u[m].A};
        w[2 * m + 1] = (cl_st_write_tensor){.name = keys[2 * m + 1], .dtype = CL_ST_F32, .ndim = 2,
                                            .shape = {u[m].d_out, u[m].k}, .data = u[m].B};
    }
    static const char *const meta[] = {"format", "pt"};
    if (!rc)
        rc = cl_st_write(path, w, 2 * M, meta, 1, err);
out:
    if (u)
        for (int m = 0; m < M; m++)
            cl_lowrank_free(&u[m]);
    if (keys)
        for (int i = 0; i < 2 * M; i++)
            free(keys[i]);
    free(u), free(w), free(keys);
    return rc;
}

void cl_peft_exported_free(cl_peft_exported *e, int n)
{
    if (!e)
        return;
    for (int i = 0; i < n; i++) {
        free(e[i].task);
        free(e[i].dir);
    }
    free(e);
}

/* One task of the view: DIR/<name>/{adapter_model.safetensors,
 * adapter_config.json}. */
static int export_task(cl_store *s, int task, int64_t at, const char *dir,
                       const cl_peft_export_spec *sp, const export_names *nm, cl_peft_exported *e,
                       cl_error *err)
{
    int M = cl_store_n_modules(s), rc;
    int32_t *k = cl_alloc((size_t)M, sizeof *k, err);
    double *scale = cl_alloc((size_t)M, sizeof *scale, err);
    char *wpath = NULL, *cpath = NULL;
    export_plan p = {0};
    json_t *cfg = NULL;
    if (!k || !scale) {
        rc = err->code;
        goto out;
    }
    size_t pl = strlen(dir) + 32;
    wpath = cl_alloc(pl, 1, err);
    cpath = cl_alloc(pl, 1, err);
    if (!wpath || !cpath) {
        rc = err->code;
        goto out;
    }
    snprintf(wpath, pl, "%s/%s", dir, PEFT_WEIGHTS);
    snprintf(cpath, pl, "%s/%s", dir, PEFT_CONFIG);
    if ((rc = mkdir_p(dir, err)) || (rc = write_weights(s, at, wpath, nm, k, scale, err)) ||
        (rc = plan_task(k, scale, M, cl_store_meta(s), &p, err)))
        goto out;
    int fifo = sp && sp->fan_in_fan_out == CL_PEFT_FIFO_TRUE;
    if (!sp || sp->fan_in_fan_out == CL_PEFT_FIFO_AUTO) {
        fifo = 1;
        for (int m = 0; m < M && fifo; m++)
            fifo = is_conv1d_name(nm->name[m]);
    }
    if ((rc = make_config(s, &p, k, nm, fifo, &cfg, err)) || (rc = write_json(cpath, cfg, err)))
        goto out;
    e->task = cl_strdup(cl_store_task_name(s, task), err);
    if (!e->task) {
        rc = err->code;
        goto out;
    }
    e->snapshot = at;
    e->n_modules = M;
    e->r = p.r;
    e->alpha = p.alpha;
    e->use_rslora = p.rslora;
    e->fan_in_fan_out = fifo;
    e->n_rank_pattern = p.n_rank_pat;
    e->n_alpha_pattern = p.n_alpha_pat;
    e->inexact = p.inexact;
out:
    json_decref(cfg);
    free(k), free(scale), free(wpath), free(cpath), free(p.alpha_m);
    return rc;
}

/* Every file the export would write, shown to the caller's check before any
 * is written (USED is left empty for the real pass). */
static int check_outputs(cl_store *s, const cl_view *v, const char *out_dir,
                         const cl_peft_export_spec *sp, char **used, cl_error *err)
{
    int rc = CL_OK;
    for (int i = 0; i < v->n && !rc; i++) {
        char *name = dir_name(cl_store_task_name(s, v->task[i]), used, i, err);
        if (!name) {
            rc = err->code;
            break;
        }
        used[i] = name;
        const char *files[] = {PEFT_WEIGHTS, PEFT_CONFIG};
        for (int f = 0; f < 2 && !rc; f++) {
            size_t l = strlen(out_dir) + strlen(name) + strlen(files[f]) + 3;
            char *path = cl_alloc(l, 1, err);
            if (!path)
                return err->code;
            snprintf(path, l, "%s/%s/%s", out_dir, name, files[f]);
            rc = sp->check_output(sp->check_ctx, path, err);
            free(path);
        }
    }
    for (int i = 0; i < v->n; i++) {
        free(used[i]);
        used[i] = NULL;
    }
    return rc;
}

int cl_peft_export(cl_store *s, const char *out_dir, const cl_peft_export_spec *sp,
                   cl_peft_exported **out, int *n_out, cl_error *err)
{
    *out = NULL;
    *n_out = 0;
    const char *spec = sp && sp->snapshot ? sp->snapshot : "task-ends";
    if (!strcmp(spec, "all"))
        return cl_error_set(err, CL_ERR_ARG,
                            "--snapshot all: export writes one adapter per task; choose "
                            "task-ends, last or a snapshot id");
    cl_view_list vl;
    int rc = cl_views_select(s, spec, &vl, err);
    if (rc)
        return rc;
    const cl_view *v = &vl.v[0];
    export_names nm;
    if ((rc = export_names_init(s, sp, &nm, err))) {
        cl_view_list_free(&vl);
        return rc;
    }
    cl_peft_exported *e = cl_alloc((size_t)v->n, sizeof *e, err);
    char **used = cl_alloc((size_t)v->n, sizeof *used, err);
    if (!e || !used) {
        rc = err->code;
        goto out;
    }
    if (sp && sp->check_output && (rc = check_outputs(s, v, out_dir, sp, used, err)))
        goto out;
    if ((rc = mkdir_p(out_dir, err)))
        goto out;
    for (int i = 0; i < v->n && !rc; i++) {
        char *name = dir_name(cl_store_task_name(s, v->task[i]), used, i, err);
        if (!name) {
            rc = err->code;
            break;
        }
        used[i] = name;
        size_t dl = strlen(out_dir) + strlen(name) + 2;
        e[i].dir = cl_alloc(dl, 1, err);
        if (!e[i].dir) {
            rc = err->code;
            break;
        }
        snprintf(e[i].dir, dl, "%s/%s", out_dir, name);
        /* seqlora stores a state, not a difference: the adapter itself is
         * what PEFT would load. */
        rc = export_task(s, v->task[i], v->at[i], e[i].dir, sp, &nm, &e[i], err);
        *n_out = i + 1;
    }
out:
    if (used)
        for (int i = 0; i < v->n; i++)
            free(used[i]);
    free(used);
    export_names_free(&nm);
    cl_view_list_free(&vl);
    if (rc) {
        cl_peft_exported_free(e, *n_out);
        *n_out = 0;
        return rc;
    }
    *out = e;
    return CL_OK;
}
