/*
 * torch_read.c -- a torch.save checkpoint (adapter_model.bin) read without
 * Python and without running anything from the file: which container it
 * is, which pickle to run, and where each storage's bytes are.
 *
 * Containers. torch.save writes a zip archive (torch >= 1.6; torch_zip.c):
 * records <prefix>/data.pkl (the pickle), <prefix>/data/<key> (one per
 * storage, raw little-endian elements), <prefix>/byteorder,
 * <prefix>/version, <prefix>/.data/serialization_id, ... The legacy format
 * (_use_new_zipfile_serialization=False) is five pickles in a row -- magic
 * number, protocol version, sys_info, the object, the list of storage keys
 * -- then per storage an int64 element count and its raw bytes. The older
 * tar format (torch < 0.4) is refused by name.
 *
 * The pickle (torch_pickle.c) gives a state dict of tensors over storages;
 * torch_tensors.c copies them into the safetensors file cl_st_parse reads.
 */
#include "torch_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ zip */

static int zip_lookup(tp *t, void *ctx, const tp_storage *s, tp_data *d)
{
    const zip_archive *z = ctx;
    char rest[270];
    int rl = snprintf(rest, sizeof rest, "data/%.*s", (int)s->keylen, s->key);
    const zip_rec *e = zip_record(z, rest, (size_t)rl);
    if (!e)
        return cl_error_set(t->err, CL_ERR_FORMAT,
                            "%s: storage '%.*s' (BINPERSID at offset %zu of %s): no record "
                            "'%.*s/%s' in the archive (missing data record)",
                            t->name, (int)s->keylen, s->key, s->at, t->record, (int)z->pl,
                            z->prefix, rest);
    int rc = zip_check_crc(z, e, t->name, t->err);
    d->p = e->data;
    d->n = e->size;
    return rc;
}

static int read_zip(tp *t, const uint8_t *f, size_t n, int no_crc, uint8_t **out,
                    size_t *out_len)
{
    zip_archive z = {.no_crc = no_crc};
    int rc = zip_index(f, n, t->name, &z, t->err);
    char rec[TP_MAX_NAME + 16];
    const zip_rec *pk = NULL, *bo = NULL;
    if (!rc) {
        pk = zip_record(&z, "data.pkl", 8);
        bo = zip_record(&z, "byteorder", 9);
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
        rc = zip_check_crc(&z, pk, t->name, t->err);
    tp_obj *root = NULL;
    size_t end;
    if (!rc)
        rc = tp_run(t, pk->data, pk->size, 0, &root, &end);
    if (!rc)
        rc = tp_check_storages(t);
    if (!rc)
        rc = tp_materialize(t, root, zip_lookup, &z, n, out, out_len);
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

/* The five pickles into res[]; *at is past the last. The version must be
 * 1001 and sys_info must not say big-endian. */
static int legacy_pickles(tp *t, const uint8_t *f, size_t n, tp_obj *res[5], size_t *at)
{
    static const char *const what[] = {
        "the legacy magic-number pickle", "the legacy protocol pickle",
        "the legacy sys_info pickle", "the legacy main pickle", "the legacy storage-key pickle"};
    size_t end;
    for (int i = 0; i < 5; i++) {
        t->record = what[i];
        int rc = tp_run(t, f + *at, n - *at, *at, &res[i], &end);
        if (rc)
            return rc;
        *at += end; /* the arena keeps every pickle's objects until the end */
    }
    if (res[1]->kind != O_INT || res[1]->u.i != 1001)
        return cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                            "%s: legacy protocol version is not 1001", t->name);
    const tp_obj *info = res[2];
    if (info->kind != O_DICT)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: legacy sys_info is %s, not a dict",
                            t->name, tp_kind_names[info->kind]);
    for (uint32_t i = 0; i < info->u.dict.n; i++)
        if (tp_str_is(info->u.dict.k[i], "little_endian") &&
            !(info->u.dict.v[i]->kind == O_BOOL && info->u.dict.v[i]->u.i))
            return cl_error_set(t->err, CL_ERR_UNSUPPORTED,
                                "%s: legacy sys_info says little_endian is not True: only "
                                "little-endian checkpoints are read (big-endian refused)",
                                t->name);
    t->record = what[3];
    return CL_OK;
}

/* After the pickles, per storage key: an int64 element count, then the
 * raw bytes; each key must be one a tensor uses, with the same numel. */
static int legacy_storages(tp *t, const uint8_t *f, size_t n, size_t at, legacyctx *L)
{
    for (uint32_t i = 0; i < L->keys->u.seq.n; i++) {
        const tp_obj *k = L->keys->u.seq.v[i];
        const tp_storage *s =
            k->kind == O_STR ? tp_find_storage(t, k->u.str.s, k->u.str.len) : NULL;
        if (!s)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: legacy storage key %u is %s no tensor uses", t->name, i,
                                k->kind == O_STR ? "one" : "not a string, so");
        if (n - at < 8)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: legacy storage '%.*s': the file ends at its size field "
                                "(truncated)",
                                t->name, (int)s->keylen, s->key);
        uint64_t numel = tp_le(f + at, 8), es = (uint64_t)cl_st_dtype_size(s->dtype);
        at += 8;
        if (numel != (uint64_t)s->numel || numel > (n - at) / es)
            return cl_error_set(t->err, CL_ERR_FORMAT,
                                "%s: legacy storage '%.*s': %llu elements in the file, %lld in "
                                "its persistent id, %zu bytes left (truncated or damaged)",
                                t->name, (int)s->keylen, s->key, (unsigned long long)numel,
                                (long long)s->numel, n - at);
        L->data[i].p = f + at;
        L->data[i].n = numel * es;
        at += (size_t)(numel * es);
    }
    return CL_OK;
}

static int read_legacy(tp *t, const uint8_t *f, size_t n, uint8_t **out, size_t *out_len)
{
    t->legacy = 1;
    tp_obj *res[5];
    size_t at = 0;
    int rc = legacy_pickles(t, f, n, res, &at);
    if (rc || (rc = tp_check_storages(t)))
        return rc;
    const tp_obj *keys = res[4];
    if (keys->kind != O_LIST)
        return cl_error_set(t->err, CL_ERR_FORMAT, "%s: the legacy storage-key pickle holds a "
                            "%s, not a list", t->name, tp_kind_names[keys->kind]);
    legacyctx L = {.keys = keys, .data = calloc(keys->u.seq.n ? keys->u.seq.n : 1,
                                                sizeof *L.data)};
    if (!L.data)
        return cl_error_set(t->err, CL_ERR_NOMEM, "%s: out of memory", t->name);
    rc = legacy_storages(t, f, n, at, &L);
    if (!rc)
        rc = tp_materialize(t, res[3], legacy_lookup, &L, n, out, out_len);
    free(L.data);
    return rc;
}

/* ----------------------------------------------------------------- entry */

/* Neither container: say what the file is instead. */
static int refuse(const uint8_t *f, size_t n, const char *name, cl_error *err)
{
    if (n >= 262 && !memcmp(f + 257, "ustar", 5))
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "%s: a tar archive: the tar format of torch.save before torch 0.4 "
                            "is not read; load and save it again with a newer torch",
                            name);
    if (n >= 2 && f[0] == 0x80)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: a pickle without torch's legacy magic number: not a "
                            "torch.save checkpoint",
                            name);
    return cl_error_set(err, CL_ERR_FORMAT,
                        "%s: not a torch.save checkpoint (neither a zip archive nor a legacy "
                        "pickle)",
                        name);
}

int cl_torch_parse(const uint8_t *f, size_t n, const char *name, int flags, uint8_t **out,
                   size_t *out_len, cl_error *err)
{
    *out = NULL;
    *out_len = 0;
    tp t = {0};
    int rc;
    if (n >= 4 && tp_le(f, 4) == ZIP_LOCAL_MAGIC) {
        if (!(rc = tp_init(&t, name, err)))
            rc = read_zip(&t, f, n, flags & CL_TORCH_NO_CRC, out, out_len);
    } else if (n >= sizeof legacy_magic && !memcmp(f, legacy_magic, sizeof legacy_magic)) {
        if (!(rc = tp_init(&t, name, err)))
            rc = read_legacy(&t, f, n, out, out_len);
    } else {
        rc = refuse(f, n, name, err);
    }
    tp_free(&t);
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
