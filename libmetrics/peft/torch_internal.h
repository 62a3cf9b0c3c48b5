/*
 * torch_internal.h -- what the torch.save reader's files share inside
 * libmetrics/peft/ (the entry points, cl_torch_parse and cl_torch_read, are
 * in peft_internal.h):
 *
 *   torch_zip.c      the zip archive: its records as named byte ranges
 *   torch_pickle.c   the bounded pickle machine: opcodes, stack, memo,
 *                    arena, limits
 *   torch_rebuild.c  the allow-list and what its callables build: storages
 *                    named by key, tensor views checked against them
 *   torch_tensors.c  those tensors copied into an in-memory safetensors file
 *   torch_read.c     the two containers (zip, legacy): which pickle to run,
 *                    where each storage's bytes are; the entry points
 */
#ifndef TORCH_INTERNAL_H
#define TORCH_INTERNAL_H

#include "peft_internal.h"

#define TP_MAX_STR (1 << 16)      /* keys, module paths, storage keys        */
#define TP_MAX_NAME 4096          /* a zip record's name                     */
#define TP_MAX_MARKS 4096

/* Little-endian, k <= 8 bytes. */
static inline uint64_t tp_le(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ------------------------------------------------------------ the archive */

#define ZIP_LOCAL_MAGIC 0x04034b50u /* a zip file starts with a local header */

/* One record: its name and its stored bytes, both inside the file. */
typedef struct zip_rec {
    const char *name;
    size_t nl;
    const uint8_t *data;
    uint64_t size;
    uint32_t crc;
} zip_rec;

/* The records sorted by name, and the folder of the one <prefix>/data.pkl. */
typedef struct zip_archive {
    zip_rec *e; /* malloc'd: free(z->e), also after a failed zip_index */
    size_t n;
    const char *prefix;
    size_t pl;
    int no_crc;
} zip_archive;

/* The central directory of f[0, n) into z; name is for messages. */
int zip_index(const uint8_t *f, size_t n, const char *name, zip_archive *z, cl_error *err);
/* The record <prefix>/<rest>, or NULL. */
const zip_rec *zip_record(const zip_archive *z, const char *rest, size_t rl);
/* The record's CRC-32 (unless z->no_crc). */
int zip_check_crc(const zip_archive *z, const zip_rec *e, const char *name, cl_error *err);

/* ------------------------------------------------------------- the pickle */

enum {
    O_NONE, O_BOOL, O_INT, O_BIGINT, O_FLOAT, O_STR, O_TUPLE, O_LIST, O_DICT, O_GLOBAL,
    O_STORAGE, O_TENSOR
};
extern const char *const tp_kind_names[]; /* "None", "a bool", ... for messages */

typedef struct tp_obj tp_obj;

/* A storage as its persistent id names it; its bytes are the container's. */
typedef struct tp_storage {
    const char *key;
    uint32_t keylen;
    int dtype; /* cl_st_dtype */
    int64_t numel;
    size_t at; /* offset of its BINPERSID, for messages */
} tp_storage;

/* A view, checked against its storage's numel when rebuilt. */
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
        int global; /* index in the allow-list */
        tp_storage *storage;
        tp_tensor *tensor;
    } u;
};

typedef struct arena_block arena_block;

/* The machine. The container sets name, err, record and legacy; the rest is
 * the machine's own. */
typedef struct tp {
    const char *name;   /* the file, for messages                             */
    const char *record; /* "adapter_model/data.pkl", "the legacy pickle", ...  */
    cl_error *err;
    int legacy;         /* the legacy container: 6-field persistent ids        */
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
} tp;

/* t's buffers (its stack), with name and err set; tp_free after either. */
int tp_init(tp *t, const char *name, cl_error *err);
void tp_free(tp *t);
/* Run one pickle from p[0] to its STOP; *result is what STOP pops and *end
 * the offset after the STOP. Objects live until tp_free. */
int tp_run(tp *t, const uint8_t *p, size_t n, size_t base, tp_obj **result, size_t *end);
/* Every reference to one key must agree on its type and size; sorts
 * t->storages by key for tp_find_storage. */
int tp_check_storages(tp *t);
const tp_storage *tp_find_storage(const tp *t, const char *key, uint32_t kl);
int tp_str_is(const tp_obj *o, const char *s);

/* The machine's primitives (torch_pickle.c) for torch_rebuild.c. tp_fail
 * says "<file>: <record>: opcode NAME (0xNN) at offset N: <why>"; objects
 * come from the arena; a NULL pushed returns the error already set. */
int tp_fail(tp *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *tp_alloc(tp *t, size_t size);
tp_obj *tp_new_obj(tp *t, int kind);
int tp_push(tp *t, tp_obj *o);
tp_obj *tp_pop(tp *t);

/* The opcodes torch_rebuild.c implements: GLOBAL / STACK_GLOBAL of
 * module.name (the allow-list), REDUCE and BINPERSID. */
int tp_global(tp *t, const char *mod, size_t ml, const char *name, size_t nl);
int tp_reduce(tp *t);
int tp_persid(tp *t);

/* ------------------------------------------------------------ the result */

typedef struct tp_data {
    const uint8_t *p; /* the storage's bytes */
    uint64_t n;
} tp_data;

/* lookup(ctx, storage) gives the storage's bytes or fails with a message. */
typedef int (*tp_lookup)(tp *t, void *ctx, const tp_storage *s, tp_data *d);

/* root (a dict of tensors) into a malloc'd safetensors file *out; in_len,
 * the checkpoint's size, caps what the copies may add up to. */
int tp_materialize(tp *t, const tp_obj *root, tp_lookup lookup, void *ctx, size_t in_len,
                   uint8_t **out, size_t *out_len);

#endif
