/*
 * llama_hf.c -- a base in the Hugging Face layout: config.json (config.c),
 * the weights in one or several safetensors shards (an index.json's
 * weight_map), float32 weights mapped from the file where they line up and
 * read otherwise, and saving in the same layout. The model itself is
 * llama.c's.
 */
#include "llama.h"
#include "llama_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ HF layout */

/* The HF tensor name and destination of weight kind k in layer l. */
static void hf_name(int k, int l, char *buf, size_t n)
{
    static const char *fmt[NW] = {"model.embed_tokens.weight",
                                  "model.layers.%d.input_layernorm.weight",
                                  "model.layers.%d.self_attn.q_proj.weight",
                                  "model.layers.%d.self_attn.k_proj.weight",
                                  "model.layers.%d.self_attn.v_proj.weight",
                                  "model.layers.%d.self_attn.o_proj.weight",
                                  "model.layers.%d.post_attention_layernorm.weight",
                                  "model.layers.%d.mlp.gate_proj.weight",
                                  "model.layers.%d.mlp.up_proj.weight",
                                  "model.layers.%d.mlp.down_proj.weight",
                                  "model.norm.weight",
                                  "lm_head.weight",
                                  "model.layers.%d.self_attn.q_proj.bias",
                                  "model.layers.%d.self_attn.k_proj.bias",
                                  "model.layers.%d.self_attn.v_proj.bias",
                                  "model.layers.%d.self_attn.o_proj.bias"};
    snprintf(buf, n, fmt[k], l);
}


/* Expected shape of kind k (one layer's slice). */
static int hf_shape(const cl_llama_config *c, int k, int64_t *shape)
{
    int64_t V = c->vocab_size, C = c->hidden_size, F = c->intermediate_size;
    int64_t QD = (int64_t)c->num_heads * c->head_dim, KD = (int64_t)c->num_kv_heads * c->head_dim;
    switch (k) {
    case W_EMBED: case W_HEAD: shape[0] = V; shape[1] = C; return 2;
    case W_LN1: case W_LN2: case W_LNF: shape[0] = C; return 1;
    case W_Q: shape[0] = QD; shape[1] = C; return 2;
    case W_K: case W_V: shape[0] = KD; shape[1] = C; return 2;
    case W_O: shape[0] = C; shape[1] = QD; return 2;
    case W_BQ: shape[0] = QD; return 1;
    case W_BK: case W_BV: shape[0] = KD; return 1;
    case W_BO: shape[0] = C; return 1;
    case W_G: case W_U: shape[0] = F; shape[1] = C; return 2;
    default: shape[0] = C; shape[1] = F; return 2; /* W_D */
    }
}

/* The shards: model.safetensors, or the files model.safetensors.index.json
 * names in its weight_map (tensor name -> file), or, with neither, files
 * named model-0000k-of-0000n.safetensors. Any dtype the safetensors reader
 * takes (F32, F16, BF16) is converted to float32 as it is read: collide
 * computes in float32 only, whatever the checkpoint's dtype. */
#define MAX_SHARDS 256
typedef struct shards {
    int n;
    cl_safetensors *st[MAX_SHARDS];
    char *file[MAX_SHARDS]; /* the index's file names (NULL without an index) */
    json_t *map;            /* the index's weight_map, or NULL */
    const char *index;      /* its path, for messages */
    char index_path[4096];
} shards;

static void shards_close(shards *s)
{
    for (int i = 0; i < s->n; i++) {
        cl_st_close(s->st[i]);
        free(s->file[i]);
    }
    s->n = 0;
    json_decref(s->map);
    s->map = NULL;
}

/* The index, read as untrusted input: every value a plain file name in dir. */
static int shards_open_index(const char *dir, shards *s, cl_error *err)
{
    const char *ip = s->index_path;
    json_error_t je;
    json_t *root = json_load_file(ip, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: invalid JSON at line %d: %s", ip, je.line,
                            je.text);
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map) || json_object_size(map) == 0) {
        json_decref(root);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: weight_map: missing or empty", ip);
    }
    s->map = json_incref(map);
    json_decref(root);
    s->index = ip;
    const char *key;
    json_t *v;
    json_object_foreach(s->map, key, v) {
        const char *f = json_string_value(v);
        if (!f || !*f || strchr(f, '/') || strchr(f, '\\') || strcmp(f, "..") == 0 ||
            strlen(f) > 1000)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: weight_map.%s: not a file name in the folder", ip, key);
        int have = 0;
        for (int i = 0; i < s->n && !have; i++)
            have = strcmp(s->file[i], f) == 0;
        if (have)
            continue;
        if (s->n == MAX_SHARDS)
            return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: more than %d shards", ip,
                                MAX_SHARDS);
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, f);
        if (!(s->file[s->n] = strdup(f)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (cl_st_open(p, &s->st[s->n], err)) {
            free(s->file[s->n]);
            return err->code;
        }
        s->n++;
    }
    return CL_OK;
}

static int shards_open(const char *dir, shards *s, cl_error *err)
{
    char p[4096];
    struct stat sb;
    memset(s, 0, sizeof *s);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (stat(p, &sb) == 0)
        return (s->n = 1, cl_st_open(p, &s->st[0], err) ? (s->n = 0, err->code) : CL_OK);
    snprintf(s->index_path, sizeof s->index_path, "%s/model.safetensors.index.json", dir);
    if (stat(s->index_path, &sb) == 0) {
        int rc = shards_open_index(dir, s, err);
        if (rc)
            shards_close(s);
        return rc;
    }
    /* no index: model-0000k-of-0000n.safetensors, found by name pattern */
    for (int k = 1; k <= 64; k++) {
        int found = 0;
        for (int total = k; total <= 64 && !found; total++) {
            snprintf(p, sizeof p, "%s/model-%05d-of-%05d.safetensors", dir, k, total);
            if (stat(p, &sb) == 0) {
                if (cl_st_open(p, &s->st[s->n], err)) {
                    shards_close(s);
                    return err->code;
                }
                s->n++;
                found = 1;
            }
        }
        if (!found)
            break;
    }
    if (s->n == 0)
        return cl_error_set(err, CL_ERR_IO,
                            "%s: no model.safetensors, model.safetensors.index.json or shards "
                            "found", dir);
    return CL_OK;
}

/* The tensor and its file; with an index, only in the file it names. */
static const cl_st_tensor *shards_find(shards *s, const char *name, cl_safetensors **in)
{
    const char *want = s->map ? json_string_value(json_object_get(s->map, name)) : NULL;
    if (s->map && !want)
        return NULL;
    for (int i = 0; i < s->n; i++) {
        if (want && strcmp(s->file[i], want) != 0)
            continue;
        const cl_st_tensor *t = cl_st_find(s->st[i], name);
        if (t) {
            *in = s->st[i];
            return t;
        }
    }
    return NULL;
}

/* Where the loader puts the base: one reserved region (anonymous, private),
 * each kind at an offset whose page offset is that of its layer-0 tensor's
 * data in its file when that is float32, so that the whole pages of that
 * tensor, and of every layer's whose file stride matches, can be mapped in
 * place (load_tensor). */
static int place_base(cl_llama *m, shards *sh, const size_t sz[NW], cl_error *err)
{
    size_t P = (size_t)sysconf(_SC_PAGESIZE), off[NW], len = 0;
    for (int k = 0; k < NW; k++) {
        size_t want = 0;
        char name[128];
        hf_name(k, 0, name, sizeof name);
        cl_safetensors *where;
        const cl_st_tensor *t = sz[k] ? shards_find(sh, name, &where) : NULL;
        uint64_t fo;
        if (t && t->dtype == CL_ST_F32 && cl_st_file_offset(where, t, &fo) >= 0 &&
            fo % sizeof(float) == 0)
            want = (size_t)(fo % P);
        off[k] = len + (want + P - len % P) % P;
        len = off[k] + sz[k] * sizeof(float);
    }
    len = len ? (len + P - 1) / P * P : P;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for %zu parameters",
                            m->n_params);
    m->map = map;
    m->map_len = len;
    float **f[NW];
    cl_llama_weight_fields(&m->w, f);
    for (int k = 0; k < NW; k++)
        *f[k] = sz[k] || k == W_HEAD ? (float *)((char *)map + off[k]) : NULL;
    if (m->c.tie_embeddings)
        m->w.head = m->w.embed;
    return CL_OK;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t at, const char *path,
                     const char *name, cl_error *err)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(at + done));
        if (r <= 0)
            return cl_error_set(err, CL_ERR_IO, "%s: tensor '%s': %s", path, name,
                                r == 0 ? "file shorter than its header says (truncated?)"
                                       : strerror(errno));
        done += (size_t)r;
    }
    return CL_OK;
}

/* One tensor into dst: a float32 one whose data has dst's page offset in its
 * file is mapped there (its whole pages; the partial pages at either end,
 * which dst shares with its neighbours, are read); anything else is read,
 * converted to float32, into the region's own memory. */
static int load_tensor(cl_llama *m, cl_safetensors *st, const cl_st_tensor *t, float *dst,
                       cl_error *err)
{
    size_t P = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)(t->end - t->begin);
    uint64_t fo = 0;
    int fd = t->dtype == CL_ST_F32 ? cl_st_file_offset(st, t, &fo) : -1;
    uintptr_t d = (uintptr_t)dst, a = (d + P - 1) / P * P, b = (d + bytes) / P * P;
    if (fd < 0 || fo % P != d % P || b <= a)
        return cl_st_read_f32(st, t, dst, err);
    if (mmap((void *)a, b - a, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, (off_t)(fo + (a - d))) ==
        MAP_FAILED)
        return cl_error_set(err, CL_ERR_IO, "%s: tensor '%s': cannot map: %s", cl_st_path(st),
                            t->name, strerror(errno));
    m->mapped_bytes += b - a;
    int rc = pread_all(fd, dst, a - d, fo, cl_st_path(st), t->name, err);
    if (!rc)
        rc = pread_all(fd, (void *)b, d + bytes - b, fo + (b - d), cl_st_path(st), t->name, err);
    return rc;
}

int cl_llama_load(const char *dir, cl_llama **out, cl_error *err)
{
    *out = NULL;
    char p[4096];
    cl_llama_config c;
    snprintf(p, sizeof p, "%s/config.json", dir);
    int rc = cl_llama_config_load(p, &c, err);
    if (rc)
        return rc;
    shards sh;
    if ((rc = shards_open(dir, &sh, err)))
        return rc;
    /* Some tied checkpoints store lm_head anyway; some untied ones omit it. */
    cl_safetensors *where;
    if (c.tie_embeddings == 0 && !shards_find(&sh, "lm_head.weight", &where)) {
        shards_close(&sh);
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: lm_head.weight: missing, and tie_word_embeddings is false", dir);
    }
    cl_llama *m = cl_llama_alloc(&c, 0, err);
    if (!m) {
        shards_close(&sh);
        return err->code;
    }
    size_t sz[NW];
    cl_llama_weight_sizes(&c, sz);
    if ((rc = place_base(m, &sh, sz, err))) {
        shards_close(&sh);
        cl_llama_free(m);
        return rc;
    }
    for (int k = 0; k < NW && !rc; k++) {
        if (sz[k] == 0) /* the tied head, absent biases */
            continue;
        int layers = cl_llama_per_layer(k) ? c.num_layers : 1;
        size_t per = cl_llama_per_layer(k) ? sz[k] / (size_t)c.num_layers : sz[k];
        for (int l = 0; l < layers && !rc; l++) {
            char name[128];
            hf_name(k, l, name, sizeof name);
            const cl_st_tensor *t = shards_find(&sh, name, &where);
            if (!t) {
                const char *f = sh.map ? json_string_value(json_object_get(sh.map, name)) : NULL;
                if (f)
                    rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: not in %s, where the index "
                                      "puts it", sh.index, name, f);
                else
                    rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: tensor missing%s", dir, name,
                                      sh.map ? " (not in the index's weight_map)" : "");
                break;
            }
            int64_t shape[2];
            int nd = hf_shape(&c, k, shape);
            if (t->ndim != nd || t->shape[0] != shape[0] || (nd == 2 && t->shape[1] != shape[1])) {
                rc = cl_error_set(err, CL_ERR_FORMAT,
                                  "%s: %s: shape [%lld%s%lld] does not match config.json "
                                  "([%lld%s%lld])",
                                  cl_st_path(where), name, (long long)t->shape[0],
                                  t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)t->shape[1] : 0LL,
                                  (long long)shape[0], nd > 1 ? ", " : "",
                                  nd > 1 ? (long long)shape[1] : 0LL);
                break;
            }
            float *dst = cl_llama_slot(&m->w, k, l, per);
            if ((rc = load_tensor(m, where, t, dst, err)))
                break;
            for (size_t i = 0; i < per; i++)
                if (!isfinite(dst[i])) {
                    rc = cl_error_set(err, CL_ERR_VALUE, "%s: %s: element %zu is not finite",
                                      cl_st_path(where), name, i);
                    break;
                }
        }
    }
    shards_close(&sh);
    if (rc) {
        cl_llama_free(m);
        return rc;
    }
    /* the base is read-only from here: writing it first copies it (unmap_base) */
    mprotect(m->map, m->map_len, PROT_READ);
    *out = m;
    return CL_OK;
}

int cl_llama_save(const cl_llama *m, const char *dir, cl_error *err)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
    const cl_llama_config *c = &m->c;
    size_t sz[NW];
    cl_llama_weight_sizes(c, sz);
    int n = 0, cap = NW * (c->num_layers + 1);
    cl_st_write_tensor *t = calloc((size_t)cap, sizeof *t);
    char (*names)[128] = calloc((size_t)cap, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_llama_weights w = m->w;
    for (int k = 0; k < NW; k++) {
        if (sz[k] == 0)
            continue;
        int layers = cl_llama_per_layer(k) ? c->num_layers : 1;
        size_t per = cl_llama_per_layer(k) ? sz[k] / (size_t)c->num_layers : sz[k];
        for (int l = 0; l < layers; l++) {
            hf_name(k, l, names[n], sizeof names[n]);
            t[n].name = names[n];
            t[n].dtype = CL_ST_F32;
            t[n].ndim = hf_shape(c, k, t[n].shape);
            t[n].data = cl_llama_slot(&w, k, l, per);
            n++;
        }
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    static const char *meta[] = {"format", "pt"};
    int rc = cl_st_write(p, t, n, meta, 1, err);
    free(t);
    free(names);
    if (rc)
        return rc;
    snprintf(p, sizeof p, "%s/config.json", dir);
    return cl_llama_config_save(p, c, err);
}

