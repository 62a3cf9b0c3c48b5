/*
 * torch_pickle.c -- a torch.save checkpoint (adapter_model.bin) read without
 * Python and without running anything from the file.
 *
 * Containers. torch.save writes a zip archive (torch >= 1.6): records
 * <prefix>/data.pkl (the pickle), <prefix>/data/<key> (one per storage, raw
 * little-endian elements), <prefix>/byteorder, <prefix>/version,
 * <prefix>/.data/serialization_id, ...; every record STORED (uncompressed).
 * The prefix is the file's stem when torch saved to a path
 * (adapter_model/data.pkl) and "archive" when it saved to a buffer, so the
 * one <prefix>/data.pkl record decides it. The legacy format
 * (_use_new_zipfile_serialization=False) is five pickles in a row -- magic
 * number, protocol version, sys_info, the object, the list of storage keys
 * -- then per storage an int64 element count and its raw bytes. The older
 * tar format (torch < 0.4) is refused by name.
 *
 * The pickle. A small stack machine implements only what
 * torch.load(weights_only=True) needs to rebuild a state dict of tensors:
 * containers, ints, floats, strings, the memo, and GLOBAL / STACK_GLOBAL of
 * an allow-list (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * _rebuild_parameter, _rebuild_parameter_with_state, the torch.*Storage
 * classes), REDUCE of those callables only (each "call" is collide's own
 * code building a record, never a lookup by name), BUILD on a dict (a state
 * dict's _metadata; ignored) and BINPERSID for ('storage', class, key,
 * location, numel). Everything else -- any other global, an unknown opcode
 * -- is refused with the file, the record, the opcode and its offset, and
 * the reason. Nothing from the file is executed or used as a path.
 *
 * Bounds. Operations, stack depth, MARK depth, memo indexes, string lengths
 * and the arena's bytes are capped; objects live in one arena freed at once
 * and nothing walks the object graph recursively, so a pickle of a million
 * nested lists (or a list holding itself) costs no C stack. Every tensor's
 * offset, sizes and strides are checked, overflow-safe, against its
 * storage: offset + sum((size_i - 1) * stride_i) + 1 <= numel, and numel x
 * element size <= the record's bytes; at most CL_ST_MAX_DIMS dimensions.
 *
 * Result. Each tensor of the top-level dict (string keys, tensor values) is
 * copied contiguously, in its dtype, into an in-memory safetensors file
 * that cl_st_parse then reads like any other: every later check and message
 * is the safetensors path's.
 */
#include "peft_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TP_MAX_OPS (1 << 24)      /* a real adapter: ~30 per tensor          */
#define TP_MAX_STACK (1 << 18)
#define TP_MAX_MARKS 4096
#define TP_MAX_MEMO (1 << 22)
#define TP_MAX_STR (1 << 16)      /* keys, module paths, storage keys        */
#define TP_MAX_ARENA (512u << 20)
#define TP_MAX_ZIP_ENTRIES (1 << 20)
#define TP_MAX_NAME 4096          /* a zip record's name                     */

/* ------------------------------------------------------------------ objects */

enum {
    O_NONE, O_BOOL, O_INT, O_BIGINT, O_FLOAT, O_STR, O_TUPLE, O_LIST, O_DICT, O_GLOBAL,
    O_STORAGE, O_TENSOR
};
static const char *const kind_names[] = {"None", "a bool", "an int",
                                         "an int of more than 64 bits", "a float", "a str",
                                         "a tuple", "a list", "a dict", "a global", "a storage",
                                         "a tensor"};

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

typedef struct tp_obj tp_obj;

typedef struct tp_storage {
    const char *key;
    uint32_t keylen;
    int dtype;
    int64_t numel;
    size_t at; /* offset of its BINPERSID, for messages */
} tp_storage;

typedef struct tp_tensor {
    tp_storage *st;
    int64_t offset;
    int ndim;
    int64_t size[CL_ST_MAX_DIMS], stride[CL_ST_MAX_DIMS];
} tp_tensor;

struct tp_obj {
    int kind;
    union {
        int64_t i;
        double f;
        struct {
            const char *s;
            uint32_t len;
        } str;
        struct {
            tp_obj **v;
            uint32_t n, cap;
        } seq; /* tuple, list */
        struct {
            tp_obj **k, **v;
            uint32_t n, cap;
        } dict;
        int global; /* index in allowed[] */
        tp_storage *storage;
        tp_tensor *tensor;
    } u;
};

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} arena_block;

/* ------------------------------------------------------------ the machine */

typedef struct tp {
    const char *name;   /* the file, for messages                             */
    const char *record; /* "adapter_model/data.pkl", "the legacy pickle", ...  */
    cl_error *err;
    arena_block *arena;
    size_t arena_bytes;
    const uint8_t *p;   /* the pickle */
    size_t n, pos, op_at;
    int op;
    size_t base;        /* added to offsets in messages (legacy: file offset)  */
    tp_obj **stack;
    size_t sp;
    size_t marks[TP_MAX_MARKS];
    int n_marks;
    tp_obj **memo;
    size_t memo_cap, memo_count;
    uint64_t ops;
    tp_storage **storages; /* every BINPERSID, in order */
    size_t n_st, cap_st;
    int legacy;
} tp;

static const struct {
    int code;
    const char *name;
} opnames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"},
    {'F', "FLOAT"}, {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"},
    {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"},
    {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"},
    {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
    {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"},
    {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
    {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"},
    {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"},
    {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"},
    {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"},
    {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"},
    {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

static const char *opname(int op)
{
    for (size_t i = 0; i < sizeof opnames / sizeof opnames[0]; i++)
        if (opnames[i].code == op)
            return opnames[i].name;
    return NULL;
}

/* "<file>: <record>: opcode NAME (0xNN) at offset N: <why>" */
static int fail(tp *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(tp *t, int code, const char *fmt, ...)
{
    char why[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *on = opname(t->op);
    return cl_error_set(t->err, code, "%s: %s: opcode %s (0x%02x) at offset %zu: %s", t->name,
                        t->record, on ? on : "unknown", t->op, t->base + t->op_at, why);
}

static void *arena_alloc(tp *t, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    arena_block *b = t->arena;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > (64u << 10) ? size : (64u << 10);
        if (t->arena_bytes + cap > TP_MAX_ARENA) {
            fail(t, CL_ERR_VALUE, "the pickle's objects need more than %u MiB; refused",
                 TP_MAX_ARENA >> 20);
            return NULL;
        }
        b = malloc(sizeof *b + cap);
        if (!b) {
            cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory reading the pickle", t->name);
            return NULL;
        }
        b->next = t->arena;
        b->used = 0;
        b->cap = cap;
        t->arena = b;
        t->arena_bytes += cap;
    }
    void *p = b->mem + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static void arena_free(tp *t)
{
    for (arena_block *b = t->arena, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    t->arena = NULL;
    t->arena_bytes = 0;
}

static tp_obj *new_obj(tp *t, int kind)
{
    tp_obj *o = arena_alloc(t, sizeof *o);
    if (o)
        o->kind = kind;
    return o;
}

static int push(tp *t, tp_obj *o)
{
    if (!o)
        return t->err->code;
    if (t->sp >= TP_MAX_STACK)
        return fail(t, CL_ERR_VALUE, "stack deeper than %d entries; refused", TP_MAX_STACK);
    t->stack[t->sp++] = o;
    return CL_OK;
}

/* The floor of the current MARK frame: pops never cross a MARK. */
static size_t floor_sp(const tp *t) { return t->n_marks ? t->marks[t->n_marks - 1] : 0; }

static tp_obj *pop(tp *t)
{
    if (t->sp <= floor_sp(t)) {
        fail(t, CL_ERR_FORMAT, "stack underflow%s", t->n_marks ? " (within a MARK)" : "");
        return NULL;
    }
    return t->stack[--t->sp];
}

static tp_obj *top(tp *t)
{
    if (t->sp <= floor_sp(t)) {
        fail(t, CL_ERR_FORMAT, "stack empty%s", t->n_marks ? " (within a MARK)" : "");
        return NULL;
    }
    return t->stack[t->sp - 1];
}

/* Items since the last MARK: [*first, t->sp); the mark is popped. */
static int pop_mark(tp *t, size_t *first)
{
    if (!t->n_marks)
        return fail(t, CL_ERR_FORMAT, "no MARK to close");
    *first = t->marks[--t->n_marks];
    return CL_OK;
}

static int seq_grow(tp *t, tp_obj ***v, uint32_t n, uint32_t *cap, uint32_t need)
{
    if (need <= *cap)
        return CL_OK;
    if (need > TP_MAX_STACK * 16u)
        return fail(t, CL_ERR_VALUE, "a container of more than %u items; refused",
                    TP_MAX_STACK * 16u);
    uint32_t nc = *cap ? *cap : 4;
    while (nc < need)
        nc *= 2;
    tp_obj **nv = arena_alloc(t, (size_t)nc * sizeof *nv);
    if (!nv)
        return t->err->code;
    if (n)
        memcpy(nv, *v, (size_t)n * sizeof *nv);
    *v = nv;
    *cap = nc;
    return CL_OK;
}

static int list_append(tp *t, tp_obj *l, tp_obj *x)
{
    int rc = seq_grow(t, &l->u.seq.v, l->u.seq.n, &l->u.seq.cap, l->u.seq.n + 1);
    if (!rc)
        l->u.seq.v[l->u.seq.n++] = x;
    return rc;
}

static int dict_set(tp *t, tp_obj *d, tp_obj *k, tp_obj *v)
{
    uint32_t cap = d->u.dict.cap;
    int rc = seq_grow(t, &d->u.dict.k, d->u.dict.n, &cap, d->u.dict.n + 1);
    uint32_t cap2 = d->u.dict.cap;
    if (!rc)
        rc = seq_grow(t, &d->u.dict.v, d->u.dict.n, &cap2, d->u.dict.n + 1);
    if (rc)
        return rc;
    d->u.dict.cap = cap;
    d->u.dict.k[d->u.dict.n] = k;
    d->u.dict.v[d->u.dict.n++] = v;
    return CL_OK;
}

static tp_obj *make_tuple(tp *t, tp_obj *const *items, size_t n)
{
    tp_obj *o = new_obj(t, O_TUPLE);
    if (!o)
        return NULL;
    if (n) {
        o->u.seq.v = arena_alloc(t, n * sizeof(tp_obj *));
        if (!o->u.seq.v)
            return NULL;
        memcpy(o->u.seq.v, items, n * sizeof(tp_obj *));
    }
    o->u.seq.n = o->u.seq.cap = (uint32_t)n;
    return o;
}

static int need(tp *t, size_t k)
{
    if (t->n - t->pos < k)
        return fail(t, CL_ERR_FORMAT, "the pickle ends inside the opcode's argument "
                                      "(truncated)");
    return CL_OK;
}

static uint64_t le(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int str_is(const tp_obj *o, const char *s)
{
    return o && o->kind == O_STR && o->u.str.len == strlen(s) && !memcmp(o->u.str.s, s, o->u.str.len);
}

/* GLOBAL / STACK_GLOBAL: look up module.name in the allow-list. */
static int do_global(tp *t, const char *mod, size_t ml, const char *name, size_t nl)
{
    for (int i = 0; i < N_ALLOWED; i++)
        if (strlen(allowed[i].mod) == ml && !memcmp(allowed[i].mod, mod, ml) &&
            strlen(allowed[i].name) == nl && !memcmp(allowed[i].name, name, nl)) {
            tp_obj *o = new_obj(t, O_GLOBAL);
            if (o)
                o->u.global = i;
            return push(t, o);
        }
    return fail(t, CL_ERR_UNSUPPORTED,
                "global '%.*s.%.*s' is not allowed: loading it could run code. collide rebuilds "
                "tensors only (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                "_rebuild_parameter[_with_state], torch.<Float|Half|BFloat16|Double|Long|Int|"
                "Short|Char|Byte|Bool>Storage)",
                (int)(ml > 200 ? 200 : ml), mod, (int)(nl > 200 ? 200 : nl), name);
}

/* A tuple of at most CL_ST_MAX_DIMS ints. */
static int int_tuple(tp *t, const tp_obj *o, const char *what, int64_t *out, int *n)
{
    if (o->kind != O_TUPLE)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s is %s, not a tuple", what,
                    kind_names[o->kind]);
    if (o->u.seq.n > CL_ST_MAX_DIMS)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s has %u dimensions (at most %d)",
                    what, o->u.seq.n, CL_ST_MAX_DIMS);
    for (uint32_t i = 0; i < o->u.seq.n; i++)
        if (o->u.seq.v[i]->kind != O_INT)
            return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %s[%u] is %s, not an int",
                        what, i, kind_names[o->u.seq.v[i]->kind]);
        else
            out[i] = o->u.seq.v[i]->u.i;
    *n = (int)o->u.seq.n;
    return CL_OK;
}

static int empty_or_none(const tp_obj *o)
{
    return o->kind == O_NONE || (o->kind == O_DICT && o->u.dict.n == 0);
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): checked here, copied out at the end. */
static int rebuild_tensor(tp *t, const tp_obj *args)
{
    uint32_t n = args->u.seq.n;
    tp_obj *const *a = args->u.seq.v;
    if (n != 6 && n != 7)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2 with %u arguments (expected 6 or 7)",
                    n);
    if (a[0]->kind != O_STORAGE)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: the storage is %s",
                    kind_names[a[0]->kind]);
    tp_tensor *x = arena_alloc(t, sizeof *x);
    if (!x)
        return t->err->code;
    x->st = a[0]->u.storage;
    int ns, nd;
    if (a[1]->kind != O_INT)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: storage_offset is %s",
                    kind_names[a[1]->kind]);
    x->offset = a[1]->u.i;
    int rc = int_tuple(t, a[2], "size", x->size, &ns);
    if (rc || (rc = int_tuple(t, a[3], "stride", x->stride, &nd)))
        return rc;
    if (ns != nd)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: %d sizes but %d strides", ns, nd);
    x->ndim = ns;
    if (a[4]->kind != O_BOOL && a[4]->kind != O_INT)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: requires_grad is %s",
                    kind_names[a[4]->kind]);
    if (!empty_or_none(a[5]))
        return fail(t, CL_ERR_UNSUPPORTED,
                    "_rebuild_tensor_v2: backward_hooks is not empty (%s); refused",
                    kind_names[a[5]->kind]);
    if (n == 7 && !empty_or_none(a[6]))
        return fail(t, CL_ERR_UNSUPPORTED,
                    "_rebuild_tensor_v2: tensor metadata (%s) is not supported",
                    kind_names[a[6]->kind]);
    /* Checked against the storage now: the message can still name the op. */
    const tp_storage *s = x->st;
    if (x->offset < 0)
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: negative storage offset %lld",
                    (long long)x->offset);
    int64_t count = 1, last = x->offset;
    for (int i = 0; i < ns; i++) {
        if (x->size[i] < 0 || x->stride[i] < 0)
            return fail(t, CL_ERR_FORMAT,
                        "_rebuild_tensor_v2: negative %s %lld in dimension %d",
                        x->size[i] < 0 ? "size" : "stride",
                        (long long)(x->size[i] < 0 ? x->size[i] : x->stride[i]), i);
        if (__builtin_mul_overflow(count, x->size[i], &count))
            return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: the size overflows");
    }
    if (count > 0) {
        for (int i = 0; i < ns; i++) {
            int64_t step;
            if (__builtin_mul_overflow(x->size[i] - 1, x->stride[i], &step) ||
                __builtin_add_overflow(last, step, &last))
                return fail(t, CL_ERR_FORMAT,
                            "_rebuild_tensor_v2: size x stride overflows in dimension %d", i);
        }
        if (last >= s->numel)
            return fail(t, CL_ERR_FORMAT,
                        "_rebuild_tensor_v2: a view of offset %lld reaching element %lld of "
                        "storage '%.*s', which holds %lld elements",
                        (long long)x->offset, (long long)last, (int)s->keylen, s->key,
                        (long long)s->numel);
        if (count > s->numel)
            return fail(t, CL_ERR_UNSUPPORTED,
                        "_rebuild_tensor_v2: %lld elements over a storage of %lld (an expanded, "
                        "overlapping view); refused",
                        (long long)count, (long long)s->numel);
    } else if (x->offset > s->numel) {
        return fail(t, CL_ERR_FORMAT, "_rebuild_tensor_v2: storage offset %lld past the %lld "
                    "elements of storage '%.*s'",
                    (long long)x->offset, (long long)s->numel, (int)s->keylen, s->key);
    }
    tp_obj *o = new_obj(t, O_TENSOR);
    if (!o)
        return t->err->code;
    o->u.tensor = x;
    return push(t, o);
}

static int do_reduce(tp *t)
{
    tp_obj *args = pop(t), *f = args ? pop(t) : NULL;
    if (!f)
        return t->err->code;
    if (f->kind != O_GLOBAL)
        return fail(t, CL_ERR_UNSUPPORTED, "REDUCE of %s: not a callable collide rebuilds",
                    kind_names[f->kind]);
    const char *fm = allowed[f->u.global].mod, *fn = allowed[f->u.global].name;
    if (args->kind != O_TUPLE)
        return fail(t, CL_ERR_FORMAT, "REDUCE of %s.%s with %s of arguments (not a tuple)", fm,
                    fn, kind_names[args->kind]);
    uint32_t n = args->u.seq.n;
    switch (allowed[f->u.global].id) {
    case G_ODICT:
        if (n)
            return fail(t, CL_ERR_UNSUPPORTED, "collections.OrderedDict with %u arguments "
                        "(torch.save writes OrderedDict() then SETITEMS)", n);
        return push(t, new_obj(t, O_DICT));
    case G_REBUILD:
        return rebuild_tensor(t, args);
    case G_PARAM:
    case G_PARAM_STATE: {
        uint32_t want = allowed[f->u.global].id == G_PARAM ? 3 : 4;
        if (n != want || args->u.seq.v[0]->kind != O_TENSOR)
            return fail(t, CL_ERR_FORMAT, "%s.%s: expected %u arguments, the first a tensor",
                        fm, fn, want);
        if (!empty_or_none(args->u.seq.v[2]))
            return fail(t, CL_ERR_UNSUPPORTED, "%s.%s: backward_hooks is not empty; refused",
                        fm, fn);
        return push(t, args->u.seq.v[0]); /* a Parameter is its data here */
    }
    default:
        return fail(t, CL_ERR_UNSUPPORTED,
                    "REDUCE of %s.%s: not a callable collide rebuilds (only "
                    "collections.OrderedDict and torch._utils._rebuild_*)",
                    fm, fn);
    }
}

/* BINPERSID ('storage', torch.<T>Storage, key, location, numel[, view]) */
static int do_persid(tp *t)
{
    tp_obj *pid = pop(t);
    if (!pid)
        return t->err->code;
    if (pid->kind != O_TUPLE || pid->u.seq.n < 5 || pid->u.seq.n > 6 ||
        !str_is(pid->u.seq.v[0], "storage"))
        return fail(t, CL_ERR_UNSUPPORTED,
                    "persistent id is not ('storage', type, key, location, numel) (%s)",
                    kind_names[pid->kind]);
    tp_obj *const *v = pid->u.seq.v;
    if (pid->u.seq.n == 6 && (!t->legacy || v[5]->kind != O_NONE))
        return fail(t, CL_ERR_UNSUPPORTED,
                    "persistent id of 6 fields%s: a storage view (torch < 0.4) is not supported",
                    t->legacy ? "" : " in a zip checkpoint");
    if (v[1]->kind != O_GLOBAL || allowed[v[1]->u.global].id != G_STORAGE)
        return fail(t, CL_ERR_UNSUPPORTED, "persistent id: the storage type is %s%s%s, not a "
                    "torch.<T>Storage class",
                    kind_names[v[1]->kind], v[1]->kind == O_GLOBAL ? " " : "",
                    v[1]->kind == O_GLOBAL ? allowed[v[1]->u.global].name : "");
    if (v[2]->kind != O_STR || v[2]->u.str.len == 0 || v[2]->u.str.len > 256)
        return fail(t, CL_ERR_FORMAT, "persistent id: the storage key is not a string of 1 to "
                    "256 bytes");
    if (v[3]->kind != O_STR)
        return fail(t, CL_ERR_FORMAT, "persistent id: the location is %s, not a string",
                    kind_names[v[3]->kind]);
    int dt = allowed[v[1]->u.global].dtype;
    int64_t numel;
    if (v[4]->kind != O_INT || (numel = v[4]->u.i) < 0 ||
        numel > INT64_MAX / 8)
        return fail(t, CL_ERR_FORMAT, "persistent id: storage '%.*s': numel is not an int in "
                    "[0, 2^60]",
                    (int)v[2]->u.str.len, v[2]->u.str.s);
    tp_storage *s = arena_alloc(t, sizeof *s);
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
    tp_obj *o = new_obj(t, O_STORAGE);
    if (o)
        o->u.storage = s;
    return push(t, o);
}

static int memo_put(tp *t, uint64_t idx)
{
    tp_obj *o = top(t);
    if (!o)
        return t->err->code;
    if (idx >= TP_MAX_MEMO)
        return fail(t, CL_ERR_VALUE, "memo index %llu (at most %d); refused",
                    (unsigned long long)idx, TP_MAX_MEMO - 1);
    if (idx >= t->memo_cap) {
        size_t nc = t->memo_cap ? t->memo_cap : 256;
        while (nc <= idx)
            nc *= 2;
        tp_obj **nm = realloc(t->memo, nc * sizeof *nm);
        if (!nm)
            return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
        memset(nm + t->memo_cap, 0, (nc - t->memo_cap) * sizeof *nm);
        t->memo = nm;
        t->memo_cap = nc;
    }
    if (!t->memo[idx])
        t->memo_count++;
    t->memo[idx] = o;
    return CL_OK;
}

static int memo_get(tp *t, uint64_t idx)
{
    if (idx >= t->memo_cap || !t->memo[idx])
        return fail(t, CL_ERR_FORMAT, "memo index %llu was never set", (unsigned long long)idx);
    return push(t, t->memo[idx]);
}

static int push_str(tp *t, uint64_t len)
{
    if (len > TP_MAX_STR)
        return fail(t, CL_ERR_VALUE, "a string of %llu bytes (at most %d); refused",
                    (unsigned long long)len, TP_MAX_STR);
    int rc = need(t, (size_t)len);
    if (rc)
        return rc;
    tp_obj *o = new_obj(t, O_STR);
    if (o) {
        o->u.str.s = (const char *)t->p + t->pos;
        o->u.str.len = (uint32_t)len;
    }
    t->pos += (size_t)len;
    return push(t, o);
}

static int push_int(tp *t, int64_t v, int kind)
{
    tp_obj *o = new_obj(t, kind);
    if (o)
        o->u.i = v;
    return push(t, o);
}

/* Run one pickle from p[0] to its STOP; *result is what STOP pops and
 * *end the offset after the STOP. */
static int run_pickle(tp *t, const uint8_t *p, size_t n, size_t base, tp_obj **result,
                      size_t *end)
{
    t->p = p;
    t->n = n;
    t->pos = 0;
    t->base = base;
    t->sp = 0;
    t->n_marks = 0;
    t->op = 0;
    t->op_at = 0;
    if (t->memo)
        memset(t->memo, 0, t->memo_cap * sizeof *t->memo);
    t->memo_count = 0;
    int rc = CL_OK;
    for (;;) {
        if (t->pos >= t->n) {
            t->op_at = t->pos;
            t->op = 0;
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: %s: ends at offset %zu without a STOP opcode (truncated)",
                                t->name, t->record, t->base + t->pos);
        }
        if (++t->ops > TP_MAX_OPS)
            return fail(t, CL_ERR_VALUE, "more than %d opcodes; refused", TP_MAX_OPS);
        t->op_at = t->pos;
        t->op = p[t->pos++];
        const uint8_t *a = p + t->pos;
        size_t first = 0;
        tp_obj *x, *y, *z;
        switch (t->op) {
        case 0x80: /* PROTO */
            if ((rc = need(t, 1)))
                return rc;
            if (a[0] > 5)
                return fail(t, CL_ERR_UNSUPPORTED, "pickle protocol %d (at most 5)", a[0]);
            t->pos++;
            break;
        case 0x95: /* FRAME: a length hint only */
            if ((rc = need(t, 8)))
                return rc;
            if (le(a, 8) > t->n - t->pos - 8)
                return fail(t, CL_ERR_FORMAT, "a frame of %llu bytes past the pickle's end",
                            (unsigned long long)le(a, 8));
            t->pos += 8;
            break;
        case '.': /* STOP */
            if (!(x = pop(t)))
                return t->err->code;
            *result = x;
            *end = t->pos;
            return CL_OK;
        case '(': /* MARK */
            if (t->n_marks >= TP_MAX_MARKS)
                return fail(t, CL_ERR_VALUE, "MARKs nested deeper than %d; refused",
                            TP_MAX_MARKS);
            t->marks[t->n_marks++] = t->sp;
            break;
        case '}':
            rc = push(t, new_obj(t, O_DICT));
            break;
        case ']':
            rc = push(t, new_obj(t, O_LIST));
            break;
        case ')':
            rc = push(t, make_tuple(t, NULL, 0));
            break;
        case 't': /* TUPLE */
            if ((rc = pop_mark(t, &first)))
                return rc;
            x = make_tuple(t, t->stack + first, t->sp - first);
            t->sp = first;
            rc = push(t, x);
            break;
        case 0x85:
        case 0x86:
        case 0x87: { /* TUPLE1..3 */
            size_t k = (size_t)(t->op - 0x84);
            if (t->sp < floor_sp(t) + k)
                return fail(t, CL_ERR_FORMAT, "stack underflow");
            x = make_tuple(t, t->stack + t->sp - k, k);
            t->sp -= k;
            rc = push(t, x);
            break;
        }
        case 's': /* SETITEM */
            if (!(z = pop(t)) || !(y = pop(t)) || !(x = top(t)))
                return t->err->code;
            if (x->kind != O_DICT)
                return fail(t, CL_ERR_FORMAT, "SETITEM on %s, not a dict", kind_names[x->kind]);
            rc = dict_set(t, x, y, z);
            break;
        case 'u': /* SETITEMS */
            if ((rc = pop_mark(t, &first)))
                return rc;
            if ((t->sp - first) % 2)
                return fail(t, CL_ERR_FORMAT, "SETITEMS with an odd number of items");
            if (first <= floor_sp(t))
                return fail(t, CL_ERR_FORMAT, "SETITEMS without a dict below its MARK");
            x = t->stack[first - 1];
            if (x->kind != O_DICT)
                return fail(t, CL_ERR_FORMAT, "SETITEMS on %s, not a dict",
                            kind_names[x->kind]);
            for (size_t i = first; i + 1 < t->sp && !rc; i += 2)
                rc = dict_set(t, x, t->stack[i], t->stack[i + 1]);
            t->sp = first;
            break;
        case 'a': /* APPEND */
            if (!(y = pop(t)) || !(x = top(t)))
                return t->err->code;
            if (x->kind != O_LIST)
                return fail(t, CL_ERR_FORMAT, "APPEND to %s, not a list", kind_names[x->kind]);
            rc = list_append(t, x, y);
            break;
        case 'e': /* APPENDS */
            if ((rc = pop_mark(t, &first)))
                return rc;
            if (first <= floor_sp(t))
                return fail(t, CL_ERR_FORMAT, "APPENDS without a list below its MARK");
            x = t->stack[first - 1];
            if (x->kind != O_LIST)
                return fail(t, CL_ERR_FORMAT, "APPENDS to %s, not a list",
                            kind_names[x->kind]);
            for (size_t i = first; i < t->sp && !rc; i++)
                rc = list_append(t, x, t->stack[i]);
            t->sp = first;
            break;
        case 'q': /* BINPUT */
            if ((rc = need(t, 1)))
                return rc;
            t->pos++;
            rc = memo_put(t, a[0]);
            break;
        case 'r': /* LONG_BINPUT */
            if ((rc = need(t, 4)))
                return rc;
            t->pos += 4;
            rc = memo_put(t, le(a, 4));
            break;
        case 0x94: /* MEMOIZE */
            rc = memo_put(t, t->memo_count);
            break;
        case 'h': /* BINGET */
            if ((rc = need(t, 1)))
                return rc;
            t->pos++;
            rc = memo_get(t, a[0]);
            break;
        case 'j': /* LONG_BINGET */
            if ((rc = need(t, 4)))
                return rc;
            t->pos += 4;
            rc = memo_get(t, le(a, 4));
            break;
        case 'J': /* BININT */
            if ((rc = need(t, 4)))
                return rc;
            t->pos += 4;
            rc = push_int(t, (int32_t)(uint32_t)le(a, 4), O_INT);
            break;
        case 'K':
            if ((rc = need(t, 1)))
                return rc;
            t->pos++;
            rc = push_int(t, a[0], O_INT);
            break;
        case 'M':
            if ((rc = need(t, 2)))
                return rc;
            t->pos += 2;
            rc = push_int(t, (int64_t)le(a, 2), O_INT);
            break;
        case 0x8a: { /* LONG1 */
            if ((rc = need(t, 1)))
                return rc;
            size_t k = a[0];
            t->pos++;
            if ((rc = need(t, k)))
                return rc;
            t->pos += k;
            if (k > 8) {
                rc = push_int(t, 0, O_BIGINT);
                break;
            }
            uint64_t v = le(a + 1, (int)k);
            if (k && k < 8 && (a[k] & 0x80))
                v |= ~(uint64_t)0 << (8 * k); /* sign-extend */
            rc = push_int(t, (int64_t)v, O_INT);
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            if ((rc = need(t, 8)))
                return rc;
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = v << 8 | a[i];
            t->pos += 8;
            tp_obj *o = new_obj(t, O_FLOAT);
            if (o)
                memcpy(&o->u.f, &v, sizeof v);
            rc = push(t, o);
            break;
        }
        case 'N':
            rc = push(t, new_obj(t, O_NONE));
            break;
        case 0x88:
        case 0x89:
            rc = push_int(t, t->op == 0x88, O_BOOL);
            break;
        case 'X': /* BINUNICODE */
        case 'T': /* BINSTRING */
            if ((rc = need(t, 4)))
                return rc;
            t->pos += 4;
            if (t->op == 'T' && (a[3] & 0x80))
                return fail(t, CL_ERR_FORMAT, "negative string length");
            rc = push_str(t, le(a, 4));
            break;
        case 0x8c: /* SHORT_BINUNICODE */
        case 'U':  /* SHORT_BINSTRING */
            if ((rc = need(t, 1)))
                return rc;
            t->pos++;
            rc = push_str(t, a[0]);
            break;
        case 0x8d: /* BINUNICODE8 */
            if ((rc = need(t, 8)))
                return rc;
            t->pos += 8;
            rc = push_str(t, le(a, 8));
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const char *m = (const char *)a, *e1, *e2;
            size_t left = t->n - t->pos;
            e1 = memchr(m, '\n', left > 512 ? 512 : left);
            e2 = e1 ? memchr(e1 + 1, '\n', (size_t)(m + (left > 1024 ? 1024 : left) - e1 - 1))
                    : NULL;
            if (!e1 || !e2)
                return fail(t, CL_ERR_FORMAT, "GLOBAL without two newline-terminated names of "
                            "at most 512 bytes");
            t->pos += (size_t)(e2 + 1 - m);
            rc = do_global(t, m, (size_t)(e1 - m), e1 + 1, (size_t)(e2 - e1 - 1));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(y = pop(t)) || !(x = pop(t)))
                return t->err->code;
            if (x->kind != O_STR || y->kind != O_STR)
                return fail(t, CL_ERR_FORMAT, "STACK_GLOBAL of %s and %s (not strings)",
                            kind_names[x->kind], kind_names[y->kind]);
            rc = do_global(t, x->u.str.s, x->u.str.len, y->u.str.s, y->u.str.len);
            break;
        case 'R':
            rc = do_reduce(t);
            break;
        case 'b': /* BUILD: a state dict's attributes (_metadata), ignored */
            if (!(y = pop(t)) || !(x = top(t)))
                return t->err->code;
            if (x->kind != O_DICT)
                return fail(t, CL_ERR_UNSUPPORTED, "BUILD on %s: collide applies state only "
                            "to an OrderedDict (whose attributes it ignores)",
                            kind_names[x->kind]);
            if (y->kind != O_DICT && y->kind != O_NONE && y->kind != O_TUPLE)
                return fail(t, CL_ERR_FORMAT, "BUILD with %s as state", kind_names[y->kind]);
            break;
        case 'Q':
            rc = do_persid(t);
            break;
        default: {
            const char *on = opname(t->op);
            return fail(t, CL_ERR_UNSUPPORTED, "%s: refused (torch.save does not write it for "
                        "a state dict of tensors, and collide implements no more)",
                        on ? "opcode not supported" : "unknown opcode");
        }
        }
        if (rc)
            return rc;
    }
}

/* ------------------------------------------------------------ the result */

typedef struct tp_data {
    const uint8_t *p; /* the storage's bytes */
    uint64_t n;
} tp_data;

static int key_cmp(const void *x, const void *y)
{
    const tp_storage *a = *(tp_storage *const *)x, *b = *(tp_storage *const *)y;
    uint32_t m = a->keylen < b->keylen ? a->keylen : b->keylen;
    int c = memcmp(a->key, b->key, m);
    return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

/* Every reference to one key must agree on its type and size. */
static int check_storages(tp *t)
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

/* lookup(ctx, storage) gives the storage's bytes or fails with a message. */
typedef int (*tp_lookup)(tp *t, void *ctx, const tp_storage *s, tp_data *d);

static int materialize(tp *t, const tp_obj *root, tp_lookup lookup, void *ctx, size_t in_len,
                       uint8_t **out, size_t *out_len)
{
    const char *nm = t->name;
    cl_error *err = t->err;
    if (root->kind != O_DICT)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: %s: the pickle holds %s, not a dict of tensors (a state dict)",
                            nm, t->record, kind_names[root->kind]);
    uint32_t n = root->u.dict.n;
    json_t *hdr = json_object(), *meta = json_pack("{s:s}", "format", "pt");
    uint64_t *begin = calloc(n ? n : 1, sizeof *begin);
    tp_data *data = calloc(n ? n : 1, sizeof *data);
    char *key = malloc(TP_MAX_STR + 1);
    int rc = CL_OK;
    uint8_t *buf = NULL;
    if (!hdr || !meta || !begin || !data || !key) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", nm);
        goto out;
    }
    json_object_set_new(hdr, "__metadata__", meta);
    meta = NULL;
    /* an expanded view could inflate a small file: cap the copy */
    uint64_t total = 0, cap = 4 * (uint64_t)in_len + (16u << 20);
    for (uint32_t i = 0; i < n && !rc; i++) {
        const tp_obj *k = root->u.dict.k[i], *v = root->u.dict.v[i];
        if (k->kind != O_STR) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: %s: entry %u of the state dict has %s key, not a string "
                              "(a tensor name)",
                              nm, t->record, i, kind_names[k->kind]);
            break;
        }
        memcpy(key, k->u.str.s, k->u.str.len);
        key[k->u.str.len] = 0;
        if (strlen(key) != k->u.str.len) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: key '%s...' holds a NUL byte", nm,
                              t->record, key);
            break;
        }
        if (v->kind != O_TENSOR) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: %s: '%.300s' is %s, not a tensor (collide reads a state "
                              "dict of tensors)",
                              nm, t->record, key, kind_names[v->kind]);
            break;
        }
        if (!strcmp(key, "__metadata__") || json_object_get(hdr, key)) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: key '%.300s' %s", nm, t->record, key,
                              json_object_get(hdr, key) ? "appears twice" : "is reserved");
            break;
        }
        const tp_tensor *x = v->u.tensor;
        int es = cl_st_dtype_size(x->st->dtype);
        if ((rc = lookup(t, ctx, x->st, &data[i])))
            break;
        if ((uint64_t)x->st->numel > data[i].n / (uint64_t)es) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: tensor '%.300s': storage '%.*s' of %lld %s elements (%llu "
                              "bytes) but its data holds %llu bytes",
                              nm, key, (int)x->st->keylen, x->st->key, (long long)x->st->numel,
                              cl_st_dtype_name(x->st->dtype),
                              (unsigned long long)x->st->numel * (unsigned long long)es,
                              (unsigned long long)data[i].n);
            break;
        }
        uint64_t count = 1;
        json_t *shape = json_array();
        for (int d = 0; d < x->ndim; d++) {
            count *= (uint64_t)x->size[d]; /* <= numel: checked when rebuilt */
            json_array_append_new(shape, json_integer(x->size[d]));
        }
        uint64_t bytes = count * (uint64_t)es;
        if (bytes > cap - total) {
            json_decref(shape);
            rc = cl_error_set(err, CL_ERR_VALUE,
                              "%s: tensor '%.300s': the tensors would copy out to more than "
                              "%llu bytes from a %zu-byte file; refused",
                              nm, key, (unsigned long long)cap, in_len);
            break;
        }
        begin[i] = total;
        json_t *e = json_pack("{s:s,s:o,s:[I,I]}", "dtype", cl_st_dtype_name(x->st->dtype),
                              "shape", shape, "data_offsets", (json_int_t)total,
                              (json_int_t)(total + bytes));
        total += bytes;
        if (!e || json_object_set_new(hdr, key, e)) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: key '%.300s' is not valid UTF-8", nm,
                              t->record, key);
            break;
        }
    }
    if (rc)
        goto out;
    char *js = json_dumps(hdr, JSON_COMPACT);
    if (!js) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", nm);
        goto out;
    }
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8;
    size_t len = 8 + hl + pad + (size_t)total;
    buf = malloc(len ? len : 1);
    if (!buf) {
        free(js);
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory (%zu bytes)", nm, len);
        goto out;
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)(hl + pad) >> (8 * i));
    memcpy(buf + 8, js, hl);
    memset(buf + 8 + hl, ' ', pad);
    free(js);
    uint8_t *body = buf + 8 + hl + pad;
    for (uint32_t i = 0; i < n; i++) {
        const tp_tensor *x = root->u.dict.v[i]->u.tensor;
        gather(x, data[i].p, cl_st_dtype_size(x->st->dtype), body + begin[i]);
    }
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    json_decref(hdr);
    json_decref(meta);
    free(begin);
    free(data);
    free(key);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ zip */

typedef struct zent {
    const char *name;
    size_t nl;
    const uint8_t *data;
    uint64_t size;
    uint32_t crc;
} zent;

typedef struct zipctx {
    zent *e;
    size_t n;
    const char *prefix;
    size_t pl;
    int no_crc;
} zipctx;

static uint32_t crc32_of(const uint8_t *p, uint64_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int zent_cmp(const void *x, const void *y)
{
    const zent *a = x, *b = y;
    size_t m = a->nl < b->nl ? a->nl : b->nl;
    int c = memcmp(a->name, b->name, m);
    return c ? c : (a->nl > b->nl) - (a->nl < b->nl);
}

static const zent *zfind(const zipctx *z, const char *name, size_t nl)
{
    zent k = {.name = name, .nl = nl};
    return bsearch(&k, z->e, z->n, sizeof *z->e, zent_cmp);
}

/* <prefix>/<rest> */
static const zent *zrecord(const zipctx *z, const char *rest, size_t rl, char *buf)
{
    memcpy(buf, z->prefix, z->pl);
    buf[z->pl] = '/';
    memcpy(buf + z->pl + 1, rest, rl);
    return zfind(z, buf, z->pl + 1 + rl);
}

static int zcheck_crc(tp *t, const zipctx *z, const zent *e)
{
    if (!z->no_crc && crc32_of(e->data, e->size) != e->crc)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: zip record '%.*s': CRC-32 mismatch (the file is damaged)",
                            t->name, (int)e->nl, e->name);
    return CL_OK;
}

static int zip_lookup(tp *t, void *ctx, const tp_storage *s, tp_data *d)
{
    const zipctx *z = ctx;
    char buf[TP_MAX_NAME + 300];
    char rest[270];
    int rl = snprintf(rest, sizeof rest, "data/%.*s", (int)s->keylen, s->key);
    const zent *e = zrecord(z, rest, (size_t)rl, buf);
    if (!e)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: storage '%.*s' (BINPERSID at offset %zu of %s): no record "
                            "'%.*s/%s' in the archive (missing data record)",
                            t->name, (int)s->keylen, s->key, s->at, t->record, (int)z->pl,
                            z->prefix, rest);
    int rc = zcheck_crc(t, z, e);
    d->p = e->data;
    d->n = e->size;
    return rc;
}

static uint32_t u32(const uint8_t *p) { return (uint32_t)le(p, 4); }
static uint16_t u16(const uint8_t *p) { return (uint16_t)le(p, 2); }

/* The central directory into z->e (sorted by name). */
static int zip_index(tp *t, const uint8_t *f, size_t n, zipctx *z)
{
    const char *nm = t->name;
    if (n < 22)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: a zip archive of %zu bytes: truncated",
                            nm, n);
    size_t eocd = SIZE_MAX;
    for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
        if (u32(f + i) == 0x06054b50 && i + 22 + u16(f + i + 20) == n) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: zip archive without an end-of-central-directory record "
                            "(truncated or damaged)",
                            nm);
    uint64_t entries = u16(f + eocd + 10), cd_size = u32(f + eocd + 12),
             cd_off = u32(f + eocd + 16);
    if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) { /* zip64 */
        if (eocd < 20 || u32(f + eocd - 20) != 0x07064b50)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip64 archive without its end-of-central-directory "
                                "locator",
                                nm);
        uint64_t z64 = le(f + eocd - 20 + 8, 8);
        if (z64 > n || n - z64 < 56 || u32(f + z64) != 0x06064b50)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip64 end-of-central-directory record missing or outside "
                                "the file",
                                nm);
        entries = le(f + z64 + 32, 8);
        cd_size = le(f + z64 + 40, 8);
        cd_off = le(f + z64 + 48, 8);
    }
    if (cd_off > n || cd_size > n - cd_off)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: zip central directory (%llu bytes at %llu) outside the %zu-byte "
                            "file (truncated)",
                            nm, (unsigned long long)cd_size, (unsigned long long)cd_off, n);
    if (entries > TP_MAX_ZIP_ENTRIES || entries > cd_size / 46 + 1)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: zip archive claims %llu records", nm,
                            (unsigned long long)entries);
    z->e = calloc(entries ? entries : 1, sizeof *z->e);
    if (!z->e)
        return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", nm);
    const uint8_t *c = f + cd_off, *cend = c + cd_size;
    for (uint64_t i = 0; i < entries; i++) {
        if (cend - c < 46 || u32(c) != 0x02014b50)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip central directory entry %llu is damaged", nm,
                                (unsigned long long)i);
        size_t nl = u16(c + 28), xl = u16(c + 30), cl = u16(c + 32);
        if ((size_t)(cend - c) < 46 + nl + xl + cl || nl == 0 || nl > TP_MAX_NAME)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip central directory entry %llu is damaged", nm,
                                (unsigned long long)i);
        zent *e = &z->e[i];
        e->name = (const char *)c + 46;
        e->nl = nl;
        int flags = u16(c + 8), method = u16(c + 10);
        uint64_t csize = u32(c + 20), usize = u32(c + 24), loff = u32(c + 42);
        e->crc = u32(c + 16);
        /* zip64 extra field: the 0xFFFFFFFF fields, in this order */
        const uint8_t *x = c + 46 + nl, *xe = x + xl;
        while (xe - x >= 4) {
            unsigned id = u16(x), sz = u16(x + 2);
            if ((size_t)(xe - x - 4) < sz)
                break;
            if (id == 0x0001) {
                const uint8_t *q = x + 4, *qe = q + sz;
                uint64_t *fld[3] = {&usize, &csize, &loff};
                for (int k = 0; k < 3; k++)
                    if (*fld[k] == 0xFFFFFFFF) {
                        if (qe - q < 8)
                            return cl_error_set(t->err, CL_ERR_FORMAT,
                                                "%s: zip record '%.*s': zip64 extra field too "
                                                "short",
                                                nm, (int)nl, e->name);
                        *fld[k] = le(q, 8);
                        q += 8;
                    }
            }
            x += 4 + sz;
        }
        if (method != 0)
            return cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                                "%s: zip record '%.*s' is compressed (method %d%s); torch.save "
                                "stores records uncompressed, and collide reads only those",
                                nm, (int)nl, e->name, method, method == 8 ? ", deflate" : "");
        if (flags & 1)
            return cl_error_set(t->err, CL_ERR_UNSUPPORTED, "%s: zip record '%.*s' is encrypted",
                                nm, (int)nl, e->name);
        if (csize != usize)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip record '%.*s': stored, yet %llu bytes compressed and "
                                "%llu uncompressed",
                                nm, (int)nl, e->name, (unsigned long long)csize,
                                (unsigned long long)usize);
        if (loff > n || n - loff < 30 || u32(f + loff) != 0x04034b50)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip record '%.*s': local header missing or outside the "
                                "file (truncated)",
                                nm, (int)nl, e->name);
        uint64_t start = loff + 30 + (uint64_t)u16(f + loff + 26) + u16(f + loff + 28);
        if (u16(f + loff + 26) != nl || start > n || usize > n - start ||
            memcmp(f + loff + 30, e->name, nl))
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: zip record '%.*s': its data (%llu bytes) lies outside the "
                                "%zu-byte file, or its local header disagrees (truncated or "
                                "damaged)",
                                nm, (int)nl, e->name, (unsigned long long)usize, n);
        e->data = f + start;
        e->size = usize;
        c += 46 + nl + xl + cl;
    }
    z->n = (size_t)entries;
    qsort(z->e, z->n, sizeof *z->e, zent_cmp);
    for (size_t i = 1; i < z->n; i++)
        if (!zent_cmp(&z->e[i - 1], &z->e[i]))
            return cl_error_set(t->err, CL_ERR_FORMAT, "%s: zip record '%.*s' appears twice", nm,
                                (int)z->e[i].nl, z->e[i].name);
    /* the one <prefix>/data.pkl */
    const zent *pk = NULL;
    for (size_t i = 0; i < z->n; i++) {
        const zent *e = &z->e[i];
        if (e->nl > 9 && !memcmp(e->name + e->nl - 9, "/data.pkl", 9) &&
            !memchr(e->name, '/', e->nl - 9)) {
            if (pk)
                return cl_error_set(t->err, CL_ERR_FORMAT,
                                    "%s: two pickles in the archive ('%.*s' and '%.*s')", nm,
                                    (int)pk->nl, pk->name, (int)e->nl, e->name);
            pk = e;
        }
    }
    if (!pk)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: a zip archive without a <folder>/data.pkl record: not a "
                            "torch.save checkpoint",
                            nm);
    z->prefix = pk->name;
    z->pl = pk->nl - 9;
    return CL_OK;
}

static int read_zip(tp *t, const uint8_t *f, size_t n, int no_crc, uint8_t **out,
                    size_t *out_len)
{
    zipctx z = {.no_crc = no_crc};
    int rc = zip_index(t, f, n, &z);
    char buf[TP_MAX_NAME + 300], rec[TP_MAX_NAME + 16];
    const zent *pk = NULL, *bo = NULL;
    if (!rc) {
        pk = zrecord(&z, "data.pkl", 8, buf);
        bo = zrecord(&z, "byteorder", 9, buf);
        snprintf(rec, sizeof rec, "%.*s/data.pkl", (int)z.pl, z.prefix);
        t->record = rec;
        if (bo && !(bo->size == 6 && !memcmp(bo->data, "little", 6)))
            rc = cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                              "%s: record '%.*s/byteorder' says '%.*s': only little-endian "
                              "checkpoints are read (big-endian byteorder refused)",
                              t->name, (int)z.pl, z.prefix,
                              (int)(bo->size > 16 ? 16 : bo->size), (const char *)bo->data);
    }
    if (!rc)
        rc = zcheck_crc(t, &z, pk);
    tp_obj *root = NULL;
    size_t end;
    if (!rc)
        rc = run_pickle(t, pk->data, pk->size, 0, &root, &end);
    if (!rc)
        rc = check_storages(t);
    if (!rc)
        rc = materialize(t, root, zip_lookup, &z, n, out, out_len);
    free(z.e);
    return rc;
}

/* --------------------------------------------------------------- legacy */

static const uint8_t legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                       0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

typedef struct legacyctx {
    const tp_obj *keys; /* the list of storage keys */
    tp_data *data;      /* per key, in the list's order */
} legacyctx;

static int legacy_lookup(tp *t, void *ctx, const tp_storage *s, tp_data *d)
{
    const legacyctx *L = ctx;
    for (uint32_t i = 0; i < L->keys->u.seq.n; i++) {
        const tp_obj *k = L->keys->u.seq.v[i];
        if (k->u.str.len == s->keylen && !memcmp(k->u.str.s, s->key, s->keylen)) {
            *d = L->data[i];
            return CL_OK;
        }
    }
    return cl_error_set(t->err, CL_ERR_FORMAT,
                        "%s: storage '%.*s' (BINPERSID at offset %zu) is not in the list of "
                        "storage keys (missing data record)",
                        t->name, (int)s->keylen, s->key, s->at);
}

static const tp_storage *find_storage(const tp *t, const char *key, uint32_t kl)
{
    tp_storage k = {.key = key, .keylen = kl}, *kp = &k;
    tp_storage **hit = bsearch(&kp, t->storages, t->n_st, sizeof *t->storages, key_cmp);
    return hit ? *hit : NULL;
}

static int read_legacy(tp *t, const uint8_t *f, size_t n, uint8_t **out, size_t *out_len)
{
    t->legacy = 1;
    const char *what[] = {"the legacy magic-number pickle", "the legacy protocol pickle",
                          "the legacy sys_info pickle", "the legacy main pickle",
                          "the legacy storage-key pickle"};
    tp_obj *res[5];
    size_t at = 0, end;
    int rc = CL_OK;
    for (int i = 0; i < 5 && !rc; i++) {
        t->record = what[i];
        rc = run_pickle(t, f + at, n - at, at, &res[i], &end);
        if (rc)
            break;
        at += end; /* the arena keeps every pickle's objects until the end */
    }
    if (rc)
        return rc;
    if (res[1]->kind != O_INT || res[1]->u.i != 1001)
        return cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                            "%s: legacy protocol version is not 1001", t->name);
    if (res[2]->kind != O_DICT)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: legacy sys_info is %s, not a dict",
                            t->name, kind_names[res[2]->kind]);
    for (uint32_t i = 0; i < res[2]->u.dict.n; i++)
        if (str_is(res[2]->u.dict.k[i], "little_endian") &&
            !(res[2]->u.dict.v[i]->kind == O_BOOL && res[2]->u.dict.v[i]->u.i))
            return cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                                "%s: legacy sys_info says little_endian is not True: only "
                                "little-endian checkpoints are read (big-endian refused)",
                                t->name);
    t->record = what[3];
    if ((rc = check_storages(t)))
        return rc;
    const tp_obj *keys = res[4];
    if (keys->kind != O_LIST)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: the legacy storage-key pickle holds a "
                            "%s, not a list", t->name, kind_names[keys->kind]);
    legacyctx L = {.keys = keys, .data = calloc(keys->u.seq.n ? keys->u.seq.n : 1,
                                                sizeof *L.data)};
    if (!L.data)
        return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
    for (uint32_t i = 0; i < keys->u.seq.n && !rc; i++) {
        const tp_obj *k = keys->u.seq.v[i];
        const tp_storage *s = k->kind == O_STR ? find_storage(t, k->u.str.s, k->u.str.len) : NULL;
        if (!s) {
            rc = cl_error_set(t->err, CL_ERR_FORMAT,
                              "%s: legacy storage key %u is %s no tensor uses", t->name, i,
                              k->kind == O_STR ? "one" : "not a string, so");
            break;
        }
        if (n - at < 8) {
            rc = cl_error_set(t->err, CL_ERR_FORMAT,
                              "%s: legacy storage '%.*s': the file ends at its size field "
                              "(truncated)",
                              t->name, (int)s->keylen, s->key);
            break;
        }
        uint64_t numel = le(f + at, 8), es = (uint64_t)cl_st_dtype_size(s->dtype);
        at += 8;
        if (numel != (uint64_t)s->numel || numel > (n - at) / es) {
            rc = cl_error_set(t->err, CL_ERR_FORMAT,
                              "%s: legacy storage '%.*s': %llu elements in the file, %lld in "
                              "its persistent id, %zu bytes left (truncated or damaged)",
                              t->name, (int)s->keylen, s->key, (unsigned long long)numel,
                              (long long)s->numel, n - at);
            break;
        }
        L.data[i].p = f + at;
        L.data[i].n = numel * es;
        at += (size_t)(numel * es);
    }
    if (!rc)
        rc = materialize(t, res[3], legacy_lookup, &L, n, out, out_len);
    free(L.data);
    return rc;
}

/* ----------------------------------------------------------------- entry */

int cl_torch_parse(const uint8_t *f, size_t n, const char *name, int flags, uint8_t **out,
                   size_t *out_len, cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    tp t = {.name = name, .record = "the pickle", .err = err};
    int rc;
    if (n >= 4 && u32(f) == 0x04034b50) {
        t.stack = malloc(TP_MAX_STACK * sizeof *t.stack);
        rc = t.stack ? read_zip(&t, f, n, flags & CL_TORCH_NO_CRC, out, out_len)
                     : cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
    } else if (n >= sizeof legacy_magic && !memcmp(f, legacy_magic, sizeof legacy_magic)) {
        t.stack = malloc(TP_MAX_STACK * sizeof *t.stack);
        rc = t.stack ? read_legacy(&t, f, n, out, out_len)
                     : cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
    } else if (n >= 262 && !memcmp(f + 257, "ustar", 5)) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED,
                          "%s: a tar archive: the tar format of torch.save before torch 0.4 is "
                          "not read; load and save it again with a newer torch",
                          name);
    } else if (n >= 2 && f[0] == 0x80) {
        rc = cl_error_set(err, CL_ERR_FORMAT,
                          "%s: a pickle without torch's legacy magic number: not a torch.save "
                          "checkpoint",
                          name);
    } else {
        rc = cl_error_set(err, CL_ERR_FORMAT,
                          "%s: not a torch.save checkpoint (neither a zip archive nor a legacy "
                          "pickle)",
                          name);
    }
    arena_free(&t);
    free(t.stack);
    free(t.memo);
    free(t.storages);
    if (rc) {
        free(*out);
        *out = NULL;
        *out_len = 0;
    }
    return rc;
}

int cl_torch_read(const char *path, uint8_t **out, size_t *out_len, cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cl_error_set(err, CL_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: empty file: not a torch.save checkpoint",
                            path);
    }
    size_t n = (size_t)sb.st_size;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    int rc = cl_torch_parse(m, n, path, 0, out, out_len, err);
    munmap(m, n);
    return rc;
}
