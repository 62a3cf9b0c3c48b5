/*
 * torch_pickle.c -- the pickle of a torch.save checkpoint run without
 * Python and without running anything from the file: what it hands over is
 * a state dict of tensors, each a view of a storage named by its key (the
 * container, torch_read.c, finds the storages' bytes).
 *
 * A small stack machine implements only what
 * torch.load(weights_only=True) needs to rebuild a state dict of tensors:
 * containers, ints, floats, strings, the memo, and GLOBAL / STACK_GLOBAL of
 * an allow-list (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * _rebuild_parameter, _rebuild_parameter_with_state, the torch.*Storage
 * classes), REDUCE of those callables only, BUILD on a dict (a state dict's
 * _metadata; ignored) and BINPERSID for ('storage', class, key, location,
 * numel); the allow-list and those three opcodes are torch_rebuild.c's.
 * Everything else -- any other global, an unknown opcode -- is refused with
 * the file, the record, the opcode and its offset, and the reason. Nothing
 * from the file is executed or used as a path.
 *
 * Bounds. Operations, stack depth, MARK depth, memo indexes, string lengths
 * and the arena's bytes are capped; objects live in one arena freed at once
 * and nothing walks the object graph recursively, so a pickle of a million
 * nested lists (or a list holding itself) costs no C stack.
 */
#include "torch_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TP_MAX_OPS (1 << 24)      /* a real adapter: ~30 per tensor          */
#define TP_MAX_STACK (1 << 18)
#define TP_MAX_MEMO (1 << 22)
#define TP_MAX_ARENA (512u << 20)

/* ------------------------------------------------------------------ objects */

const char *const tp_kind_names[] = {"None", "a bool", "an int",
                                     "an int of more than 64 bits", "a float", "a str",
                                     "a tuple", "a list", "a dict", "a global", "a storage",
                                     "a tensor"};

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
} arena_block;

/* ------------------------------------------------------------ the machine */

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
int tp_fail(tp *t, int code, const char *fmt, ...)
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

void *tp_alloc(tp *t, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    arena_block *b = t->arena;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > (64u << 10) ? size : (64u << 10);
        if (t->arena_bytes + cap > TP_MAX_ARENA) {
            tp_fail(t, CL_ERR_VALUE, "the pickle's objects need more than %u MiB; refused",
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

tp_obj *tp_new_obj(tp *t, int kind)
{
    tp_obj *o = tp_alloc(t, sizeof *o);
    if (o)
        o->kind = kind;
    return o;
}

int tp_push(tp *t, tp_obj *o)
{
    if (!o)
        return t->err->code;
    if (t->sp >= TP_MAX_STACK)
        return tp_fail(t, CL_ERR_VALUE, "stack deeper than %d entries; refused", TP_MAX_STACK);
    t->stack[t->sp++] = o;
    return CL_OK;
}

/* The floor of the current MARK frame: pops never cross a MARK. */
static size_t floor_sp(const tp *t) { return t->n_marks ? t->marks[t->n_marks - 1] : 0; }

tp_obj *tp_pop(tp *t)
{
    if (t->sp <= floor_sp(t)) {
        tp_fail(t, CL_ERR_FORMAT, "stack underflow%s", t->n_marks ? " (within a MARK)" : "");
        return NULL;
    }
    return t->stack[--t->sp];
}

static tp_obj *top(tp *t)
{
    if (t->sp <= floor_sp(t)) {
        tp_fail(t, CL_ERR_FORMAT, "stack empty%s", t->n_marks ? " (within a MARK)" : "");
        return NULL;
    }
    return t->stack[t->sp - 1];
}

/* Items since the last MARK: [*first, t->sp); the mark is popped. */
static int pop_mark(tp *t, size_t *first)
{
    if (!t->n_marks)
        return tp_fail(t, CL_ERR_FORMAT, "no MARK to close");
    *first = t->marks[--t->n_marks];
    return CL_OK;
}

static int seq_grow(tp *t, tp_obj ***v, uint32_t n, uint32_t *cap, uint32_t need)
{
    if (need <= *cap)
        return CL_OK;
    if (need > TP_MAX_STACK * 16u)
        return tp_fail(t, CL_ERR_VALUE, "a container of more than %u items; refused",
                       TP_MAX_STACK * 16u);
    uint32_t nc = *cap ? *cap : 4;
    while (nc < need)
        nc *= 2;
    tp_obj **nv = tp_alloc(t, (size_t)nc * sizeof *nv);
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
    tp_obj *o = tp_new_obj(t, O_TUPLE);
    if (!o)
        return NULL;
    if (n) {
        o->u.seq.v = tp_alloc(t, n * sizeof(tp_obj *));
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
        return tp_fail(t, CL_ERR_FORMAT, "the pickle ends inside the opcode's argument "
                                      "(truncated)");
    return CL_OK;
}

static int memo_put(tp *t, uint64_t idx)
{
    tp_obj *o = top(t);
    if (!o)
        return t->err->code;
    if (idx >= TP_MAX_MEMO)
        return tp_fail(t, CL_ERR_VALUE, "memo index %llu (at most %d); refused",
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
        return tp_fail(t, CL_ERR_FORMAT, "memo index %llu was never set", (unsigned long long)idx);
    return tp_push(t, t->memo[idx]);
}

static int push_str(tp *t, uint64_t len)
{
    if (len > TP_MAX_STR)
        return tp_fail(t, CL_ERR_VALUE, "a string of %llu bytes (at most %d); refused",
                       (unsigned long long)len, TP_MAX_STR);
    int rc = need(t, (size_t)len);
    if (rc)
        return rc;
    tp_obj *o = tp_new_obj(t, O_STR);
    if (o) {
        o->u.str.s = (const char *)t->p + t->pos;
        o->u.str.len = (uint32_t)len;
    }
    t->pos += (size_t)len;
    return tp_push(t, o);
}

static int push_int(tp *t, int64_t v, int kind)
{
    tp_obj *o = tp_new_obj(t, kind);
    if (o)
        o->u.i = v;
    return tp_push(t, o);
}

/* The opcode's k-byte little-endian argument into *v; t->pos moves past it. */
static int arg(tp *t, size_t k, uint64_t *v)
{
    int rc = need(t, k);
    if (rc)
        return rc;
    *v = tp_le(t->p + t->pos, (int)k);
    t->pos += k;
    return CL_OK;
}

/* "<OP> on a tuple, not a dict" (SETITEM[S]) or "to ... not a list"
 * (APPEND[S]) unless x is of kind. */
static int check_target(tp *t, const tp_obj *x, int kind, const char *op)
{
    if (x->kind == kind)
        return CL_OK;
    return tp_fail(t, CL_ERR_FORMAT, "%s %s %s, not %s", op, kind == O_DICT ? "on" : "to",
                   tp_kind_names[x->kind], tp_kind_names[kind]);
}

/* The container just below the MARK that ended at first (SETITEMS,
 * APPENDS). */
static int below_mark(tp *t, size_t first, int kind, const char *op, tp_obj **x)
{
    if (first <= floor_sp(t))
        return tp_fail(t, CL_ERR_FORMAT, "%s without %s below its MARK", op, tp_kind_names[kind]);
    *x = t->stack[first - 1];
    return check_target(t, *x, kind, op);
}

static int op_proto(tp *t)
{
    uint64_t v;
    int rc = arg(t, 1, &v);
    if (!rc && v > 5)
        return tp_fail(t, CL_ERR_UNSUPPORTED, "pickle protocol %d (at most 5)", (int)v);
    return rc;
}

static int op_frame(tp *t) /* a length hint only */
{
    uint64_t v;
    int rc = arg(t, 8, &v);
    if (!rc && v > t->n - t->pos)
        return tp_fail(t, CL_ERR_FORMAT, "a frame of %llu bytes past the pickle's end",
                       (unsigned long long)v);
    return rc;
}

static int op_mark(tp *t)
{
    if (t->n_marks >= TP_MAX_MARKS)
        return tp_fail(t, CL_ERR_VALUE, "MARKs nested deeper than %d; refused", TP_MAX_MARKS);
    t->marks[t->n_marks++] = t->sp;
    return CL_OK;
}

static int op_tuple(tp *t)
{
    size_t first = 0;
    int rc = pop_mark(t, &first);
    if (rc)
        return rc;
    tp_obj *x = make_tuple(t, t->stack + first, t->sp - first);
    t->sp = first;
    return tp_push(t, x);
}

static int op_tuple_k(tp *t, size_t k) /* TUPLE1..3 */
{
    if (t->sp < floor_sp(t) + k)
        return tp_fail(t, CL_ERR_FORMAT, "stack underflow");
    tp_obj *x = make_tuple(t, t->stack + t->sp - k, k);
    t->sp -= k;
    return tp_push(t, x);
}

static int op_setitem(tp *t)
{
    tp_obj *x, *y, *z;
    if (!(z = tp_pop(t)) || !(y = tp_pop(t)) || !(x = top(t)))
        return t->err->code;
    int rc = check_target(t, x, O_DICT, "SETITEM");
    return rc ? rc : dict_set(t, x, y, z);
}

static int op_setitems(tp *t)
{
    size_t first = 0;
    tp_obj *x = NULL;
    int rc = pop_mark(t, &first);
    if (rc)
        return rc;
    if ((t->sp - first) % 2)
        return tp_fail(t, CL_ERR_FORMAT, "SETITEMS with an odd number of items");
    if ((rc = below_mark(t, first, O_DICT, "SETITEMS", &x)))
        return rc;
    for (size_t i = first; i + 1 < t->sp && !rc; i += 2)
        rc = dict_set(t, x, t->stack[i], t->stack[i + 1]);
    t->sp = first;
    return rc;
}

static int op_append(tp *t)
{
    tp_obj *x, *y;
    if (!(y = tp_pop(t)) || !(x = top(t)))
        return t->err->code;
    int rc = check_target(t, x, O_LIST, "APPEND");
    return rc ? rc : list_append(t, x, y);
}

static int op_appends(tp *t)
{
    size_t first = 0;
    tp_obj *x = NULL;
    int rc = pop_mark(t, &first);
    if (rc || (rc = below_mark(t, first, O_LIST, "APPENDS", &x)))
        return rc;
    for (size_t i = first; i < t->sp && !rc; i++)
        rc = list_append(t, x, t->stack[i]);
    t->sp = first;
    return rc;
}

/* BININT1, BININT2 (unsigned), BININT (signed 32-bit). */
static int op_binint(tp *t, size_t k)
{
    uint64_t v;
    int rc = arg(t, k, &v);
    if (rc)
        return rc;
    return push_int(t, k == 4 ? (int32_t)(uint32_t)v : (int64_t)v, O_INT);
}

static int op_long1(tp *t) /* little-endian two's complement of k bytes */
{
    uint64_t k, v;
    int rc = arg(t, 1, &k);
    if (rc || (rc = need(t, (size_t)k)))
        return rc;
    const uint8_t *a = t->p + t->pos;
    t->pos += (size_t)k;
    if (k > 8)
        return push_int(t, 0, O_BIGINT);
    v = tp_le(a, (int)k);
    if (k && k < 8 && (a[k - 1] & 0x80))
        v |= ~(uint64_t)0 << (8 * k); /* sign-extend */
    return push_int(t, (int64_t)v, O_INT);
}

static int op_binfloat(tp *t) /* a big-endian double */
{
    int rc = need(t, 8);
    if (rc)
        return rc;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | t->p[t->pos + (size_t)i];
    t->pos += 8;
    tp_obj *o = tp_new_obj(t, O_FLOAT);
    if (o)
        memcpy(&o->u.f, &v, sizeof v);
    return tp_push(t, o);
}

/* [SHORT_]BINSTRING, [SHORT_]BINUNICODE[8]: a length, then the bytes. */
static int op_string(tp *t)
{
    size_t k = t->op == 'U' || t->op == 0x8c ? 1 : t->op == 0x8d ? 8 : 4;
    uint64_t len;
    int rc = arg(t, k, &len);
    if (rc)
        return rc;
    if (t->op == 'T' && (len & 0x80000000u))
        return tp_fail(t, CL_ERR_FORMAT, "negative string length");
    return push_str(t, len);
}

static int op_global(tp *t) /* GLOBAL "module\nname\n" */
{
    const char *m = (const char *)t->p + t->pos, *e1, *e2;
    size_t left = t->n - t->pos;
    e1 = memchr(m, '\n', left > 512 ? 512 : left);
    e2 = e1 ? memchr(e1 + 1, '\n', (size_t)(m + (left > 1024 ? 1024 : left) - e1 - 1)) : NULL;
    if (!e1 || !e2)
        return tp_fail(t, CL_ERR_FORMAT, "GLOBAL without two newline-terminated names of "
                       "at most 512 bytes");
    t->pos += (size_t)(e2 + 1 - m);
    return tp_global(t, m, (size_t)(e1 - m), e1 + 1, (size_t)(e2 - e1 - 1));
}

static int op_stack_global(tp *t)
{
    tp_obj *x, *y;
    if (!(y = tp_pop(t)) || !(x = tp_pop(t)))
        return t->err->code;
    if (x->kind != O_STR || y->kind != O_STR)
        return tp_fail(t, CL_ERR_FORMAT, "STACK_GLOBAL of %s and %s (not strings)",
                       tp_kind_names[x->kind], tp_kind_names[y->kind]);
    return tp_global(t, x->u.str.s, x->u.str.len, y->u.str.s, y->u.str.len);
}

static int op_build(tp *t) /* a state dict's attributes (_metadata), ignored */
{
    tp_obj *x, *y;
    if (!(y = tp_pop(t)) || !(x = top(t)))
        return t->err->code;
    if (x->kind != O_DICT)
        return tp_fail(t, CL_ERR_UNSUPPORTED, "BUILD on %s: collide applies state only "
                       "to an OrderedDict (whose attributes it ignores)",
                       tp_kind_names[x->kind]);
    if (y->kind != O_DICT && y->kind != O_NONE && y->kind != O_TUPLE)
        return tp_fail(t, CL_ERR_FORMAT, "BUILD with %s as state", tp_kind_names[y->kind]);
    return CL_OK;
}

/* One opcode other than STOP; t->pos is past the opcode's byte. */
static int step(tp *t)
{
    uint64_t v;
    int rc;
    switch (t->op) {
    case 0x80: return op_proto(t);
    case 0x95: return op_frame(t);
    case '(': return op_mark(t);
    case '}': return tp_push(t, tp_new_obj(t, O_DICT));
    case ']': return tp_push(t, tp_new_obj(t, O_LIST));
    case ')': return tp_push(t, make_tuple(t, NULL, 0));
    case 't': return op_tuple(t);
    case 0x85: case 0x86: case 0x87: return op_tuple_k(t, (size_t)(t->op - 0x84));
    case 's': return op_setitem(t);
    case 'u': return op_setitems(t);
    case 'a': return op_append(t);
    case 'e': return op_appends(t);
    case 'q': case 'r': /* BINPUT, LONG_BINPUT */
        return (rc = arg(t, t->op == 'q' ? 1 : 4, &v)) ? rc : memo_put(t, v);
    case 0x94: return memo_put(t, t->memo_count); /* MEMOIZE */
    case 'h': case 'j': /* BINGET, LONG_BINGET */
        return (rc = arg(t, t->op == 'h' ? 1 : 4, &v)) ? rc : memo_get(t, v);
    case 'K': return op_binint(t, 1);
    case 'M': return op_binint(t, 2);
    case 'J': return op_binint(t, 4);
    case 0x8a: return op_long1(t);
    case 'G': return op_binfloat(t);
    case 'N': return tp_push(t, tp_new_obj(t, O_NONE));
    case 0x88: case 0x89: return push_int(t, t->op == 0x88, O_BOOL);
    case 'X': case 'T': case 0x8c: case 'U': case 0x8d: return op_string(t);
    case 'c': return op_global(t);
    case 0x93: return op_stack_global(t);
    case 'R': return tp_reduce(t);
    case 'b': return op_build(t);
    case 'Q': return tp_persid(t);
    default:
        return tp_fail(t, CL_ERR_UNSUPPORTED, "%s: refused (torch.save does not write it for "
                       "a state dict of tensors, and collide implements no more)",
                       opname(t->op) ? "opcode not supported" : "unknown opcode");
    }
}

int tp_run(tp *t, const uint8_t *p, size_t n, size_t base, tp_obj **result, size_t *end)
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
    for (;;) {
        if (t->pos >= t->n) {
            t->op_at = t->pos;
            t->op = 0;
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: %s: ends at offset %zu without a STOP opcode (truncated)",
                                t->name, t->record, t->base + t->pos);
        }
        if (++t->ops > TP_MAX_OPS)
            return tp_fail(t, CL_ERR_VALUE, "more than %d opcodes; refused", TP_MAX_OPS);
        t->op_at = t->pos;
        t->op = p[t->pos++];
        if (t->op == '.') { /* STOP */
            tp_obj *x = tp_pop(t);
            if (!x)
                return t->err->code;
            *result = x;
            *end = t->pos;
            return CL_OK;
        }
        int rc = step(t);
        if (rc)
            return rc;
    }
}

/* ------------------------------------------------------------ the lifetime */

int tp_init(tp *t, const char *name, cl_error *err)
{
    *t = (tp){.name = name, .record = "the pickle", .err = err};
    t->stack = malloc(TP_MAX_STACK * sizeof *t->stack);
    if (!t->stack)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
    return CL_OK;
}

void tp_free(tp *t)
{
    arena_free(t);
    free(t->stack);
    free(t->memo);
    free(t->storages);
    t->stack = NULL;
    t->memo = NULL;
    t->storages = NULL;
}
