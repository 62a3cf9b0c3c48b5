/*
 * torch_tensors.c -- a state dict of tensors (what torch_pickle.c rebuilds)
 * copied into an in-memory safetensors file that cl_st_parse then reads
 * like any other, so every later check and message is the safetensors
 * path's.
 *
 * Each tensor of the top-level dict (string keys, tensor values) is copied
 * contiguously, in its dtype: a view (an offset, sizes and strides into a
 * storage, checked when it was rebuilt) is gathered element by element; a
 * contiguous one is one memcpy. The container (torch_read.c) says where
 * each storage's bytes are. The copies are capped against the file's size,
 * since views sharing one storage could inflate a small file.
 */
#include "torch_internal.h"

#include <jansson.h>
#include <string.h>

/* Copy tensor x (count elements of esize bytes) contiguously into out. */
static void gather(const tp_tensor *x, const uint8_t *src, int esize, uint8_t *out)
{
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++)
        count *= x->size[i];
    if (!count)
        return;
    int contiguous = 1;
    int64_t want = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        if (x->size[i] != 1 && x->stride[i] != want)
            contiguous = 0;
        want *= x->size[i];
    }
    if (contiguous) {
        memcpy(out, src + (size_t)x->offset * (size_t)esize, (size_t)count * (size_t)esize);
        return;
    }
    int64_t idx[CL_ST_MAX_DIMS] = {0}, at = x->offset;
    for (int64_t e = 0; e < count; e++) {
        memcpy(out + (size_t)e * (size_t)esize, src + (size_t)at * (size_t)esize, (size_t)esize);
        for (int d = x->ndim - 1; d >= 0; d--) { /* odometer */
            if (++idx[d] < x->size[d]) {
                at += x->stride[d];
                break;
            }
            at -= (idx[d] - 1) * x->stride[d];
            idx[d] = 0;
        }
    }
}

/* What the entries being added share. */
typedef struct layout {
    json_t *hdr;      /* the safetensors header        */
    uint64_t *begin;  /* per entry, its body offset    */
    tp_data *data;    /* per entry, its storage's bytes */
    char *key;        /* TP_MAX_STR + 1 bytes           */
    uint64_t total, cap;
    size_t in_len;
} layout;

/* Entry i's key into L->key, checked: a string, no NUL byte. */
static int entry_key(tp *t, const tp_obj *k, uint32_t i, layout *L)
{
    if (k->kind != O_STR)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: %s: entry %u of the state dict has %s key, not a string "
                            "(a tensor name)",
                            t->name, t->record, i, tp_kind_names[k->kind]);
    memcpy(L->key, k->u.str.s, k->u.str.len);
    L->key[k->u.str.len] = 0;
    if (strlen(L->key) != k->u.str.len)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: %s: key '%s...' holds a NUL byte",
                            t->name, t->record, L->key);
    return CL_OK;
}

/* Entry i of the state dict into the header, its bytes at L->total. */
static int add_entry(tp *t, const tp_obj *k, const tp_obj *v, uint32_t i, tp_lookup lookup,
                     void *ctx, layout *L)
{
    const char *nm = t->name, *key = L->key;
    int rc = entry_key(t, k, i, L);
    if (rc)
        return rc;
    if (v->kind != O_TENSOR)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: %s: '%.300s' is %s, not a tensor (collide reads a state "
                            "dict of tensors)",
                            nm, t->record, key, tp_kind_names[v->kind]);
    if (!strcmp(key, "__metadata__") || json_object_get(L->hdr, key))
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: %s: key '%.300s' %s", nm, t->record,
                            key, json_object_get(L->hdr, key) ? "appears twice" : "is reserved");
    const tp_tensor *x = v->u.tensor;
    int es = cl_st_dtype_size(x->st->dtype);
    if ((rc = lookup(t, ctx, x->st, &L->data[i])))
        return rc;
    if ((uint64_t)x->st->numel > L->data[i].n / (uint64_t)es)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: tensor '%.300s': storage '%.*s' of %lld %s elements (%llu "
                            "bytes) but its data holds %llu bytes",
                            nm, key, (int)x->st->keylen, x->st->key, (long long)x->st->numel,
                            cl_st_dtype_name(x->st->dtype),
                            (unsigned long long)x->st->numel * (unsigned long long)es,
                            (unsigned long long)L->data[i].n);
    uint64_t count = 1;
    json_t *shape = json_array();
    for (int d = 0; d < x->ndim; d++) {
        count *= (uint64_t)x->size[d]; /* <= numel: checked when rebuilt */
        json_array_append_new(shape, json_integer(x->size[d]));
    }
    uint64_t bytes = count * (uint64_t)es;
    if (bytes > L->cap - L->total) {
        json_decref(shape);
        return cl_error_set(t->err, CL_ERR_VALUE,
                            "%s: tensor '%.300s': the tensors would copy out to more than "
                            "%llu bytes from a %zu-byte file; refused",
                            nm, key, (unsigned long long)L->cap, L->in_len);
    }
    L->begin[i] = L->total;
    json_t *e = json_pack("{s:s,s:o,s:[I,I]}", "dtype", cl_st_dtype_name(x->st->dtype),
                          "shape", shape, "data_offsets", (json_int_t)L->total,
                          (json_int_t)(L->total + bytes));
    L->total += bytes;
    if (!e || json_object_set_new(L->hdr, key, e))
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: %s: key '%.300s' is not valid UTF-8",
                            nm, t->record, key);
    return CL_OK;
}

/* The safetensors file: header length, header padded to 8 bytes with
 * spaces, then each tensor gathered at its offset. */
static int write_file(tp *t, const tp_obj *root, const layout *L, uint8_t **out,
                      size_t *out_len)
{
    char *js = json_dumps(L->hdr, JSON_COMPACT);
    if (!js)
        return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
    size_t len = 8 + hl + pad + (size_t)L->total;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        free(js);
        return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory (%zu bytes)", t->name,
                            len);
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)(hl + pad) >> (8 * i));
    memcpy(buf + 8, js, hl);
    memset(buf + 8 + hl, ' ', pad);
    free(js);
    uint8_t *body = buf + 8 + hl + pad;
    for (uint32_t i = 0; i < root->u.dict.n; i++) {
        const tp_tensor *x = root->u.dict.v[i]->u.tensor;
        gather(x, L->data[i].p, cl_st_dtype_size(x->st->dtype), body + L->begin[i]);
    }
    *out = buf;
    *out_len = len;
    return CL_OK;
}

int tp_materialize(tp *t, const tp_obj *root, tp_lookup lookup, void *ctx, size_t in_len,
                   uint8_t **out, size_t *out_len)
{
    if (root->kind != O_DICT)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: %s: the pickle holds %s, not a dict of tensors (a state dict)",
                            t->name, t->record, tp_kind_names[root->kind]);
    uint32_t n = root->u.dict.n;
    /* an expanded view could inflate a small file: cap the copy */
    layout L = {.hdr = json_object(), .begin = calloc(n ? n : 1, sizeof *L.begin),
                .data = calloc(n ? n : 1, sizeof *L.data), .key = malloc(TP_MAX_STR + 1),
                .cap = 4 * (uint64_t)in_len + (16u << 20), .in_len = in_len};
    json_t *meta = json_pack("{s:s}", "format", "pt");
    int rc = CL_OK;
    if (!L.hdr || !meta || !L.begin || !L.data || !L.key) {
        json_decref(meta);
        rc = cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
    } else {
        json_object_set_new(L.hdr, "__metadata__", meta);
    }
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = add_entry(t, root->u.dict.k[i], root->u.dict.v[i], i, lookup, ctx, &L);
    if (!rc)
        rc = write_file(t, root, &L, out, out_len);
    json_decref(L.hdr);
    free(L.begin);
    free(L.data);
    free(L.key);
    return rc;
}
