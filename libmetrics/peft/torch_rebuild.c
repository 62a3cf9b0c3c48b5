/*
 * torch_rebuild.c -- what the pickle's allow-listed globals build: torch's
 * storages (BINPERSID) and tensor views (REDUCE of _rebuild_tensor_v2 and
 * _rebuild_parameter[_with_state]), and the OrderedDict of a state dict.
 * Each "call" is collide's own code building a record, never a lookup by
 * name; any other global is refused by GLOBAL / STACK_GLOBAL itself.
 *
 * A view is checked against its storage when it is rebuilt, while the
 * message can still name the opcode: offset + sum((size_i - 1) * stride_i)
 * + 1 <= numel, overflow-safe, and no more elements than the storage holds
 * (an expanded, overlapping view is refused).
 */
#include "torch_internal.h"

#include <stdlib.h>
#include <string.h>

/* The allow-list. */
enum { G_ODICT, G_REBUILD, G_PARAM, G_PARAM_STATE, G_STORAGE };
static const struct {
    const char *mod, *name;
    int id;
    int dtype; /* storages: cl_st_dtype */
} allowed[] = {
    {"collections", "OrderedDict", G_ODICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD, 0},
    {"torch._utils", "_rebuild_parameter", G_PARAM, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_PARAM_STATE, 0},
    {"torch", "FloatStorage", G_STORAGE, CL_ST_F32},
    {"torch", "HalfStorage", G_STORAGE, CL_ST_F16},
    {"torch", "BFloat16Storage", G_STORAGE, CL_ST_BF16},
    {"torch", "DoubleStorage", G_STORAGE, CL_ST_F64},
    {"torch", "LongStorage", G_STORAGE, CL_ST_I64},
    {"torch", "IntStorage", G_STORAGE, CL_ST_I32},
    {"torch", "ShortStorage", G_STORAGE, CL_ST_I16},
    {"torch", "CharStorage", G_STORAGE, CL_ST_I8},
    {"torch", "ByteStorage", G_STORAGE, CL_ST_U8},
    {"torch", "BoolStorage", G_STORAGE, CL_ST_BOOL},
};
#define N_ALLOWED ((int)(sizeof allowed / sizeof allowed[0]))

int tp_str_is(const tp_obj *o, const char *s)
{
    return o && o->kind == O_STR && o->u.str.len == strlen(s) &&
           !memcmp(o->u.str.s, s, o->u.str.len);
}

/* GLOBAL / STACK_GLOBAL: look up module.name in the allow-list. */
int tp_global(tp *t, const char *mod, size_t ml, const char *name, size_t nl)
{
    for (int i = 0; i < N_ALLOWED; i++)
        if (strlen(allowed[i].mod) == ml && !memcmp(allowed[i].mod, mod, ml) &&
            strlen(allowed[i].name) == nl && !memcmp(allowed[i].name, name, nl)) {
            tp_obj *o = tp_new_obj(t, O_GLOBAL);
            if (o)
                o->u.global = i;
            return tp_push(t, o);
        }
    return tp_fail(t, CL_ERR_UNSUPPORTED,
                   "global '%.*s.%.*s' is not allowed: loading it could run code. collide "
                   "rebuilds tensors only (allowed: collections.OrderedDict, "
                   "torch._utils._rebuild_tensor_v2, _rebuild_parameter[_with_state], "
                   "torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage)",
                   (int)(ml > 200 ? 200 : ml), mod, (int)(nl > 200 ? 200 : nl), name);
}

/* A tuple of at most CL_ST_MAX_DIMS ints. */
static int int_tuple(tp *t, const tp_obj *o, const char *what, int64_t *out, int *n)
{
    if (o->kind != O_TUPLE)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s is %s, not a tuple", what,
                       tp_kind_names[o->kind]);
    if (o->u.seq.n > CL_ST_MAX_DIMS)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s has %u dimensions (at most %d)",
                       what, o->u.seq.n, CL_ST_MAX_DIMS);
    for (uint32_t i = 0; i < o->u.seq.n; i++)
        if (o->u.seq.v[i]->kind != O_INT)
            return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s[%u] is %s, not an int",
                           what, i, tp_kind_names[o->u.seq.v[i]->kind]);
        else
            out[i] = o->u.seq.v[i]->u.i;
    *n = (int)o->u.seq.n;
    return CL_OK;
}

static int empty_or_none(const tp_obj *o)
{
    return o->kind == O_NONE || (o->kind == O_DICT && o->u.dict.n == 0);
}

/* View x checked against its storage now, while the message can still
 * name the op: offset + sum((size_i - 1) * stride_i) < numel, and no more
 * elements than the storage holds. */
static int check_view(tp *t, const tp_tensor *x)
{
    const tp_storage *s = x->st;
    if (x->offset < 0)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: negative storage offset %lld",
                       (long long)x->offset);
    int64_t count = 1, last = x->offset;
    for (int i = 0; i < x->ndim; i++) {
        if (x->size[i] < 0 || x->stride[i] < 0)
            return tp_fail(t, CL_ERR_FORMAT,
                           "_rebuild_tensor_v2: negative %s %lld in dimension %d",
                           x->size[i] < 0 ? "size" : "stride",
                           (long long)(x->size[i] < 0 ? x->size[i] : x->stride[i]), i);
        if (__builtin_mul_overflow(count, x->size[i], &count))
            return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: the size overflows");
    }
    if (count > 0) {
        for (int i = 0; i < x->ndim; i++) {
            int64_t step;
            if (__builtin_mul_overflow(x->size[i] - 1, x->stride[i], &step) ||
                __builtin_add_overflow(last, step, &last))
                return tp_fail(t, CL_ERR_FORMAT,
                               "_rebuild_tensor_v2: size x stride overflows in dimension %d", i);
        }
        if (last >= s->numel)
            return tp_fail(t, CL_ERR_FORMAT,
                           "_rebuild_tensor_v2: a view of offset %lld reaching element %lld of "
                           "storage '%.*s', which holds %lld elements",
                           (long long)x->offset, (long long)last, (int)s->keylen, s->key,
                           (long long)s->numel);
        if (count > s->numel)
            return tp_fail(t, CL_ERR_UNSUPPORTED,
                           "_rebuild_tensor_v2: %lld elements over a storage of %lld (an expanded, "
                           "overlapping view); refused",
                           (long long)count, (long long)s->numel);
    } else if (x->offset > s->numel) {
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: storage offset %lld past the %lld "
                       "elements of storage '%.*s'",
                       (long long)x->offset, (long long)s->numel, (int)s->keylen, s->key);
    }
    return CL_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): checked here, copied out at the end. */
static int rebuild_tensor(tp *t, const tp_obj *args)
{
    uint32_t n = args->u.seq.n;
    tp_obj *const *a = args->u.seq.v;
    if (n != 6 && n != 7)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2 with %u arguments (expected 6 or 7)",
                       n);
    if (a[0]->kind != O_STORAGE)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: the storage is %s",
                       tp_kind_names[a[0]->kind]);
    tp_tensor *x = tp_alloc(t, sizeof *x);
    if (!x)
        return t->err->code;
    x->st = a[0]->u.storage;
    int ns, nd;
    if (a[1]->kind != O_INT)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: storage_offset is %s",
                       tp_kind_names[a[1]->kind]);
    x->offset = a[1]->u.i;
    int rc = int_tuple(t, a[2], "size", x->size, &ns);
    if (rc || (rc = int_tuple(t, a[3], "stride", x->stride, &nd)))
        return rc;
    if (ns != nd)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %d sizes but %d strides", ns, nd);
    x->ndim = ns;
    if (a[4]->kind != O_BOOL && a[4]->kind != O_INT)
        return tp_fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: requires_grad is %s",
                       tp_kind_names[a[4]->kind]);
    if (!empty_or_none(a[5]))
        return tp_fail(t, CL_ERR_UNSUPPORTED,
                       "_rebuild_tensor_v2: backward_hooks is not empty (%s); refused",
                       tp_kind_names[a[5]->kind]);
    if (n == 7 && !empty_or_none(a[6]))
        return tp_fail(t, CL_ERR_UNSUPPORTED,
                       "_rebuild_tensor_v2: tensor metadata (%s) is not supported",
                       tp_kind_names[a[6]->kind]);
    if ((rc = check_view(t, x)))
        return rc;
    tp_obj *o = tp_new_obj(t, O_TENSOR);
    if (!o)
        return t->err->code;
    o->u.tensor = x;
    return tp_push(t, o);
}

int tp_reduce(tp *t)
{
    tp_obj *args = tp_pop(t), *f = args ? tp_pop(t) : NULL;
    if (!f)
        return t->err->code;
    if (f->kind != O_GLOBAL)
        return tp_fail(t, CL_ERR_UNSUPPORTED, "REDUCE of %s: not a callable collide rebuilds",
                       tp_kind_names[f->kind]);
    const char *fm = allowed[f->u.global].mod, *fn = allowed[f->u.global].name;
    if (args->kind != O_TUPLE)
        return tp_fail(t, CL_ERR_FORMAT, "REDUCE of %s.%s with %s of arguments (not a tuple)", fm,
                       fn, tp_kind_names[args->kind]);
    uint32_t n = args->u.seq.n;
    switch (allowed[f->u.global].id) {
    case G_ODICT:
        if (n)
            return tp_fail(t, CL_ERR_UNSUPPORTED, "collections.OrderedDict with %u arguments "
                           "(torch.save writes OrderedDict() then SETITEMS)", n);
        return tp_push(t, tp_new_obj(t, O_DICT));
    case G_REBUILD:
        return rebuild_tensor(t, args);
    case G_PARAM:
    case G_PARAM_STATE: {
        uint32_t want = allowed[f->u.global].id == G_PARAM ? 3 : 4;
        if (n != want || args->u.seq.v[0]->kind != O_TENSOR)
            return tp_fail(t, CL_ERR_FORMAT, "%s.%s: expected %u arguments, the first a tensor",
                           fm, fn, want);
        if (!empty_or_none(args->u.seq.v[2]))
            return tp_fail(t, CL_ERR_UNSUPPORTED, "%s.%s: backward_hooks is not empty; refused",
                           fm, fn);
        return tp_push(t, args->u.seq.v[0]); /* a Parameter is its data here */
    }
    default:
        return tp_fail(t, CL_ERR_UNSUPPORTED,
                       "REDUCE of %s.%s: not a callable collide rebuilds (only "
                       "collections.OrderedDict and torch._utils._rebuild_*)",
                       fm, fn);
    }
}

/* BINPERSID ('storage', torch.<T>Storage, key, location, numel[, view]) */
int tp_persid(tp *t)
{
    tp_obj *pid = tp_pop(t);
    if (!pid)
        return t->err->code;
    if (pid->kind != O_TUPLE || pid->u.seq.n < 5 || pid->u.seq.n > 6 ||
        !tp_str_is(pid->u.seq.v[0], "storage"))
        return tp_fail(t, CL_ERR_UNSUPPORTED,
                       "persistent id is not ('storage', type, key, location, numel) (%s)",
                       tp_kind_names[pid->kind]);
    tp_obj *const *v = pid->u.seq.v;
    if (pid->u.seq.n == 6 && (!t->legacy || v[5]->kind != O_NONE))
        return tp_fail(t, CL_ERR_UNSUPPORTED,
                       "persistent id of 6 fields%s: a storage view (torch < 0.4) is not supported",
                       t->legacy ? "" : " in a zip checkpoint");
    if (v[1]->kind != O_GLOBAL || allowed[v[1]->u.global].id != G_STORAGE)
        return tp_fail(t, CL_ERR_UNSUPPORTED, "persistent id: the storage type is %s%s%s, not a "
                       "torch.<T>Storage class",
                       tp_kind_names[v[1]->kind], v[1]->kind == O_GLOBAL ? " " : "",
                       v[1]->kind == O_GLOBAL ? allowed[v[1]->u.global].name : "");
    if (v[2]->kind != O_STR || v[2]->u.str.len == 0 || v[2]->u.str.len > 256)
        return tp_fail(t, CL_ERR_FORMAT, "persistent id: the storage key is not a string of 1 to "
                       "256 bytes");
    if (v[3]->kind != O_STR)
        return tp_fail(t, CL_ERR_FORMAT, "persistent id: the location is %s, not a string",
                       tp_kind_names[v[3]->kind]);
    int dt = allowed[v[1]->u.global].dtype;
    int64_t numel;
    if (v[4]->kind != O_INT || (numel = v[4]->u.i) < 0 ||
        numel > INT64_MAX / 8)
        return tp_fail(t, CL_ERR_FORMAT, "persistent id: storage '%.*s': numel is not an int in "
                       "[0, 2^60]",
                       (int)v[2]->u.str.len, v[2]->u.str.s);
    tp_storage *s = tp_alloc(t, sizeof *s);
    if (!s)
        return t->err->code;
    s->key = v[2]->u.str.s;
    s->keylen = v[2]->u.str.len;
    s->dtype = dt;
    s->numel = numel;
    s->at = t->base + t->op_at;
    if (t->n_st == t->cap_st) {
        size_t nc = t->cap_st ? 2 * t->cap_st : 64;
        tp_storage **ns = realloc(t->storages, nc * sizeof *ns);
        if (!ns)
            return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
        t->storages = ns;
        t->cap_st = nc;
    }
    t->storages[t->n_st++] = s;
    tp_obj *o = tp_new_obj(t, O_STORAGE);
    if (o)
        o->u.storage = s;
    return tp_push(t, o);
}

/* ------------------------------------------------------------ the storages */

static int key_cmp(const void *x, const void *y)
{
    const tp_storage *a = *(tp_storage *const *)x, *b = *(tp_storage *const *)y;
    uint32_t m = a->keylen < b->keylen ? a->keylen : b->keylen;
    int c = memcmp(a->key, b->key, m);
    return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

/* Every reference to one key must agree on its type and size. */
int tp_check_storages(tp *t)
{
    if (t->n_st > 1)
        qsort(t->storages, t->n_st, sizeof *t->storages, key_cmp);
    for (size_t i = 1; i < t->n_st; i++) {
        const tp_storage *a = t->storages[i - 1], *b = t->storages[i];
        if (!key_cmp(&t->storages[i - 1], &t->storages[i]) &&
            (a->dtype != b->dtype || a->numel != b->numel))
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: %s: storage '%.*s' appears as %s x %lld and as %s x %lld",
                                t->name, t->record, (int)a->keylen, a->key,
                                cl_st_dtype_name(a->dtype), (long long)a->numel,
                                cl_st_dtype_name(b->dtype), (long long)b->numel);
    }
    return CL_OK;
}

const tp_storage *tp_find_storage(const tp *t, const char *key, uint32_t kl)
{
    tp_storage k = {.key = key, .keylen = kl}, *kp = &k;
    tp_storage **hit = bsearch(&kp, t->storages, t->n_st, sizeof *t->storages, key_cmp);
    return hit ? *hit : NULL;
}
