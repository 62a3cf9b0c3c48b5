/*
 * torch_zip.c -- the zip archive torch.save writes (torch >= 1.6), read as
 * named byte ranges: the end-of-central-directory record (zip64 where a
 * field overflows), each central directory entry with its local header,
 * and the one <prefix>/data.pkl that makes the archive a checkpoint.
 *
 * torch.save stores every record (no compression), so a record is a range
 * of the file; compressed or encrypted records are refused. The prefix is
 * the file's stem when torch saved to a path (adapter_model/data.pkl) and
 * "archive" when it saved to a buffer, so the one <prefix>/data.pkl record
 * decides it. Nothing here knows pickles: torch_read.c asks for records.
 */
#include "torch_internal.h"

#include <string.h>

#define TP_MAX_ZIP_ENTRIES (1 << 20)

static uint32_t u32(const uint8_t *p) { return (uint32_t)tp_le(p, 4); }
static uint16_t u16(const uint8_t *p) { return (uint16_t)tp_le(p, 2); }

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

static int rec_cmp(const void *x, const void *y)
{
    const zip_rec *a = x, *b = y;
    size_t m = a->nl < b->nl ? a->nl : b->nl;
    int c = memcmp(a->name, b->name, m);
    return c ? c : (a->nl > b->nl) - (a->nl < b->nl);
}

const zip_rec *zip_record(const zip_archive *z, const char *rest, size_t rl)
{
    char buf[TP_MAX_NAME + 300];
    if (z->pl + 1 + rl > sizeof buf)
        return NULL; /* longer than any record's name */
    memcpy(buf, z->prefix, z->pl);
    buf[z->pl] = '/';
    memcpy(buf + z->pl + 1, rest, rl);
    zip_rec k = {.name = buf, .nl = z->pl + 1 + rl};
    return bsearch(&k, z->e, z->n, sizeof *z->e, rec_cmp);
}

int zip_check_crc(const zip_archive *z, const zip_rec *e, const char *name, cl_error *err)
{
    if (!z->no_crc && crc32_of(e->data, e->size) != e->crc)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip record '%.*s': CRC-32 mismatch (the file is damaged)",
                            name, (int)e->nl, e->name);
    return CL_OK;
}

/* Where the central directory is and how many entries it claims: the
 * end-of-central-directory record, or its zip64 twin where a field
 * overflows. */
static int find_directory(const uint8_t *f, size_t n, const char *nm, uint64_t *entries,
                          uint64_t *cd_size, uint64_t *cd_off, cl_error *err)
{
    if (n < 22)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: a zip archive of %zu bytes: truncated",
                            nm, n);
    size_t eocd = SIZE_MAX;
    for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
        if (u32(f + i) == 0x06054b50 && i + 22 + u16(f + i + 20) == n) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip archive without an end-of-central-directory record "
                            "(truncated or damaged)",
                            nm);
    *entries = u16(f + eocd + 10);
    *cd_size = u32(f + eocd + 12);
    *cd_off = u32(f + eocd + 16);
    if (*entries == 0xFFFF || *cd_size == 0xFFFFFFFF || *cd_off == 0xFFFFFFFF) { /* zip64 */
        if (eocd < 20 || u32(f + eocd - 20) != 0x07064b50)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: zip64 archive without its end-of-central-directory "
                                "locator",
                                nm);
        uint64_t z64 = tp_le(f + eocd - 20 + 8, 8);
        if (z64 > n || n - z64 < 56 || u32(f + z64) != 0x06064b50)
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: zip64 end-of-central-directory record missing or outside "
                                "the file",
                                nm);
        *entries = tp_le(f + z64 + 32, 8);
        *cd_size = tp_le(f + z64 + 40, 8);
        *cd_off = tp_le(f + z64 + 48, 8);
    }
    if (*cd_off > n || *cd_size > n - *cd_off)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip central directory (%llu bytes at %llu) outside the %zu-byte "
                            "file (truncated)",
                            nm, (unsigned long long)*cd_size, (unsigned long long)*cd_off, n);
    if (*entries > TP_MAX_ZIP_ENTRIES || *entries > *cd_size / 46 + 1)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: zip archive claims %llu records", nm,
                            (unsigned long long)*entries);
    return CL_OK;
}

/* The zip64 extra field: the 0xFFFFFFFF fields of usize, csize, loff, in
 * this order, as 8-byte values. */
static int read_zip64_extra(const uint8_t *x, const uint8_t *xe, const zip_rec *e,
                            uint64_t *fld[3], const char *nm, cl_error *err)
{
    while (xe - x >= 4) {
        unsigned id = u16(x), sz = u16(x + 2);
        if ((size_t)(xe - x - 4) < sz)
            break;
        if (id == 0x0001) {
            const uint8_t *q = x + 4, *qe = q + sz;
            for (int k = 0; k < 3; k++)
                if (*fld[k] == 0xFFFFFFFF) {
                    if (qe - q < 8)
                        return cl_error_set(err, CL_ERR_FORMAT,
                                            "%s: zip record '%.*s': zip64 extra field too "
                                            "short",
                                            nm, (int)e->nl, e->name);
                    *fld[k] = tp_le(q, 8);
                    q += 8;
                }
        }
        x += 4 + sz;
    }
    return CL_OK;
}

/* Central directory entry i at *c into e, its data located through its
 * local header; *c moves past the entry. */
static int read_entry(const uint8_t *f, size_t n, const uint8_t **c, const uint8_t *cend,
                      uint64_t i, zip_rec *e, const char *nm, cl_error *err)
{
    const uint8_t *p = *c;
    if (cend - p < 46 || u32(p) != 0x02014b50)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: zip central directory entry %llu is damaged",
                            nm, (unsigned long long)i);
    size_t nl = u16(p + 28), xl = u16(p + 30), cl = u16(p + 32);
    if ((size_t)(cend - p) < 46 + nl + xl + cl || nl == 0 || nl > TP_MAX_NAME)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: zip central directory entry %llu is damaged",
                            nm, (unsigned long long)i);
    e->name = (const char *)p + 46;
    e->nl = nl;
    int flags = u16(p + 8), method = u16(p + 10);
    uint64_t csize = u32(p + 20), usize = u32(p + 24), loff = u32(p + 42);
    e->crc = u32(p + 16);
    uint64_t *fld[3] = {&usize, &csize, &loff};
    int rc = read_zip64_extra(p + 46 + nl, p + 46 + nl + xl, e, fld, nm, err);
    if (rc)
        return rc;
    if (method != 0)
        return cl_error_set(err, CL_ERR_UNSUPPORTED,
                            "%s: zip record '%.*s' is compressed (method %d%s); torch.save "
                            "stores records uncompressed, and collide reads only those",
                            nm, (int)nl, e->name, method, method == 8 ? ", deflate" : "");
    if (flags & 1)
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: zip record '%.*s' is encrypted", nm,
                            (int)nl, e->name);
    if (csize != usize)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip record '%.*s': stored, yet %llu bytes compressed and "
                            "%llu uncompressed",
                            nm, (int)nl, e->name, (unsigned long long)csize,
                            (unsigned long long)usize);
    if (loff > n || n - loff < 30 || u32(f + loff) != ZIP_LOCAL_MAGIC)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip record '%.*s': local header missing or outside the "
                            "file (truncated)",
                            nm, (int)nl, e->name);
    uint64_t start = loff + 30 + (uint64_t)u16(f + loff + 26) + u16(f + loff + 28);
    if (u16(f + loff + 26) != nl || start > n || usize > n - start ||
        memcmp(f + loff + 30, e->name, nl))
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: zip record '%.*s': its data (%llu bytes) lies outside the "
                            "%zu-byte file, or its local header disagrees (truncated or "
                            "damaged)",
                            nm, (int)nl, e->name, (unsigned long long)usize, n);
    e->data = f + start;
    e->size = usize;
    *c = p + 46 + nl + xl + cl;
    return CL_OK;
}

/* The one <prefix>/data.pkl (no '/' in its prefix) sets z->prefix. */
static int find_pickle(zip_archive *z, const char *nm, cl_error *err)
{
    const zip_rec *pk = NULL;
    for (size_t i = 0; i < z->n; i++) {
        const zip_rec *e = &z->e[i];
        if (e->nl > 9 && !memcmp(e->name + e->nl - 9, "/data.pkl", 9) &&
            !memchr(e->name, '/', e->nl - 9)) {
            if (pk)
                return cl_error_set(err, CL_ERR_FORMAT,
                                    "%s: two pickles in the archive ('%.*s' and '%.*s')", nm,
                                    (int)pk->nl, pk->name, (int)e->nl, e->name);
            pk = e;
        }
    }
    if (!pk)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: a zip archive without a <folder>/data.pkl record: not a "
                            "torch.save checkpoint",
                            nm);
    z->prefix = pk->name;
    z->pl = pk->nl - 9;
    return CL_OK;
}

int zip_index(const uint8_t *f, size_t n, const char *nm, zip_archive *z, cl_error *err)
{
    uint64_t entries = 0, cd_size = 0, cd_off = 0;
    int rc = find_directory(f, n, nm, &entries, &cd_size, &cd_off, err);
    if (rc)
        return rc;
    z->e = calloc(entries ? entries : 1, sizeof *z->e);
    if (!z->e)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", nm);
    const uint8_t *c = f + cd_off, *cend = c + cd_size;
    for (uint64_t i = 0; i < entries; i++)
        if ((rc = read_entry(f, n, &c, cend, i, &z->e[i], nm, err)))
            return rc;
    z->n = (size_t)entries;
    qsort(z->e, z->n, sizeof *z->e, rec_cmp);
    for (size_t i = 1; i < z->n; i++)
        if (!rec_cmp(&z->e[i - 1], &z->e[i]))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: zip record '%.*s' appears twice", nm,
                                (int)z->e[i].nl, z->e[i].name);
    return find_pickle(z, nm, err);
}
