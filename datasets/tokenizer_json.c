/*
 * tokenizer_json.c -- tokenizer.json in the Hugging Face `tokenizers` format.
 * Tokens are byte strings; the file spells each byte as GPT-2's printable
 * stand-in character (bytes_to_unicode), so that `tokenizers`' ByteLevel
 * pre-tokenizer and decoder map them back.
 */
#include "tokenizer.h"
#include "tokenizer_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 map to U+0100 onwards in byte order. */
static void byte_map(uint32_t cp[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
        cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

static int put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    o[0] = (char)(0xc0 | (c >> 6));
    o[1] = (char)(0x80 | (c & 0x3f));
    return 2; /* every stand-in is below U+0800 */
}

/* The file's spelling of a byte string (NUL-terminated, malloc'ed). */
static char *spell(const uint8_t *b, int n, const uint32_t cp[256])
{
    char *s = malloc((size_t)n * 2 + 1);
    if (!s)
        return NULL;
    int w = 0;
    for (int i = 0; i < n; i++)
        w += put_utf8(s + w, cp[b[i]]);
    s[w] = 0;
    return s;
}

/* Back from the spelling to bytes; -1 if a character is not a stand-in. */
static int unspell(const char *s, uint8_t *out, const uint32_t cp[256])
{
    int n = 0;
    for (size_t i = 0; s[i];) {
        uint32_t c;
        uint8_t x = (uint8_t)s[i];
        if (x < 0x80) {
            c = x;
            i++;
        } else if ((x & 0xe0) == 0xc0 && ((uint8_t)s[i + 1] & 0xc0) == 0x80) {
            c = (uint32_t)(x & 0x1f) << 6 | ((uint8_t)s[i + 1] & 0x3f);
            i += 2;
        } else {
            return -1;
        }
        int b = -1;
        for (int k = 0; k < 256; k++)
            if (cp[k] == c) {
                b = k;
                break;
            }
        if (b < 0)
            return -1;
        out[n++] = (uint8_t)b;
    }
    return n;
}

int cl_tok_save(const cl_tokenizer *t, const char *path, cl_error *err)
{
    if (t->pipe) /* another model's tokenizer: copy its tokenizer.json instead */
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: collide writes only its own tokenizer; "
                            "copy the model's tokenizer.json", path);
    uint32_t cp[256];
    byte_map(cp);
    json_t *root = json_object(), *vocab = json_object(), *merges = json_array();
    int rc = CL_OK;
    for (int i = 0; i < t->n && !rc; i++) {
        if (i == t->eos)
            continue;
        char *s = spell(t->tok[i].b, t->tok[i].n, cp);
        if (!s || json_object_set_new(vocab, s, json_integer(i)))
            rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", path);
        free(s);
    }
    for (int r = 0; r < t->n_merges && !rc; r++) {
        const tok_str *a = &t->tok[t->merge[r][0]], *b = &t->tok[t->merge[r][1]];
        char *sa = spell(a->b, a->n, cp), *sb = spell(b->b, b->n, cp);
        if (sa && sb) {
            size_t n = strlen(sa) + strlen(sb) + 2;
            char *m = malloc(n);
            if (m) {
                snprintf(m, n, "%s %s", sa, sb);
                json_array_append_new(merges, json_string(m));
            }
            free(m);
        }
        free(sa);
        free(sb);
    }
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    json_object_set_new(root, "added_tokens",
                        json_pack("[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}]", "id", t->eos, "content",
                                  CL_TOK_EOS_TEXT, "single_word", 0, "lstrip", 0, "rstrip", 0,
                                  "normalized", 0, "special", 1));
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(
        root, "pre_tokenizer",
        json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type", "Sequence",
                  "pretokenizers", "type", "Split", "pattern", "Regex", COLLIDE_SPLIT_PATTERN,
                  "behavior", "Isolated", "invert", 0, "type", "ByteLevel", "add_prefix_space", 0,
                  "trim_offsets", 1, "use_regex", 0));
    json_object_set_new(root, "post_processor", json_null());
    json_object_set_new(root, "decoder",
                        json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                                  0, "trim_offsets", 1, "use_regex", 0));
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                              "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0);
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", merges);
    json_object_set_new(root, "model", model);
    if (!rc) {
        cl_atomic_file *af;
        rc = cl_atomic_open(path, 0, &af, err);
        if (!rc) {
            if (json_dumpf(root, cl_atomic_fp(af), JSON_INDENT(1) | JSON_PRESERVE_ORDER |
                                                        JSON_ENSURE_ASCII) != 0) {
                cl_atomic_abort(af);
                rc = cl_error_set(err, CL_ERR_IO, "%s: write failed", path);
            } else {
                rc = cl_atomic_commit(af, err);
            }
        }
    }
    json_decref(root);
    return rc;
}

static const char *str_or(json_t *j)
{
    const char *s = json_string_value(j);
    return s ? s : "";
}

/* collide's own tokenizer: its Split pattern followed by ByteLevel without
 * regex, no normalizer; encoded by the hand-written splitter of tokenizer.c,
 * lossless over any bytes. Anything else goes to tokenizer_pipe.c. */
static int is_native(json_t *root)
{
    json_t *pre = json_object_get(root, "pre_tokenizer");
    json_t *list = json_object_get(pre, "pretokenizers");
    json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
    const char *ty = json_string_value(json_object_get(pre, "type"));
    const char *pat = json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex"));
    json_t *norm = json_object_get(root, "normalizer");
    return ty && !strcmp(ty, "Sequence") && json_array_size(list) == 2 && pat &&
           !strcmp(pat, COLLIDE_SPLIT_PATTERN) &&
           !strcmp(str_or(json_object_get(split, "behavior")), "Isolated") &&
           !json_is_true(json_object_get(split, "invert")) &&
           !strcmp(str_or(json_object_get(bl, "type")), "ByteLevel") &&
           !json_is_true(json_object_get(bl, "use_regex")) &&
           !json_is_true(json_object_get(bl, "add_prefix_space")) && (!norm || json_is_null(norm));
}

/* A token's bytes: GPT-2's stand-ins undone (byte-level) or the UTF-8 as is. */
static int token_bytes(const char *s, uint8_t *out, size_t cap, int bytelevel,
                       const uint32_t cp[256])
{
    size_t n = strlen(s);
    if (bytelevel)
        return n < cap / 2 ? unspell(s, out, cp) : -1;
    if (n >= cap)
        return -1;
    memcpy(out, s, n);
    return (int)n;
}

int cl_tok_parse(const char *text, size_t len, const char *name, cl_tokenizer **out,
                 cl_error *err)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: invalid JSON at line %d: %s", name, je.line,
                            je.text);
    int rc = CL_OK;
    cl_tokenizer *t = calloc(1, sizeof *t);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    uint32_t cp[256];
    byte_map(cp);
    if (!t) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    if (!json_is_object(root) || !json_is_object(model) ||
        strcmp(str_or(json_object_get(model, "type")), "BPE") ||
        !json_is_object(vocab) || !json_is_array(merges)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model: not a BPE model with vocab and merges "
                          "(model.type \"%s\")", name, str_or(json_object_get(model, "type")));
        goto out;
    }
    int native = is_native(root), bytelevel = 1;
    if (!native && (rc = tok_pipe_parse(t, root, name, &bytelevel, err)))
        goto out;
    size_t nv = json_object_size(vocab);
    json_t *added = json_object_get(root, "added_tokens");
    size_t na = json_is_array(added) ? json_array_size(added) : 0;
    const char *key;
    json_t *val;
    json_int_t maxid = -1;
    json_object_foreach(vocab, key, val) {
        if (json_integer_value(val) > maxid)
            maxid = json_integer_value(val);
    }
    for (size_t i = 0; i < na; i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id > maxid)
            maxid = id;
    }
    if (nv < (bytelevel ? 256u : 1u) || nv + na > (1 << 20) || maxid >= (json_int_t)(nv + na)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.vocab: %zu entries, ids to %lld", name,
                          nv, (long long)maxid);
        goto out;
    }
    t->n = (int)maxid + 1;
    t->tok = calloc((size_t)t->n, sizeof *t->tok);
    t->eos = -1;
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = -1;
    if (!t->tok) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    uint8_t buf[1024];
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        int nb = token_bytes(key, buf, sizeof buf, bytelevel, cp);
        if (!json_is_integer(val) || id < 0 || id >= t->n || t->tok[id].b || nb <= 0) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.vocab[\"%.40s\"]: %s", name, key,
                              nb <= 0 ? "not a byte-level token" : "bad or repeated id");
            goto out;
        }
        t->tok[id].b = malloc((size_t)nb);
        if (!t->tok[id].b) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
            goto out;
        }
        memcpy(t->tok[id].b, buf, (size_t)nb);
        t->tok[id].n = nb;
        if (nb == 1 && bytelevel)
            t->byte_id[buf[0]] = (int32_t)id;
    }
    for (size_t i = 0; i < na; i++) {
        json_t *a = json_array_get(added, i);
        json_t *idj = json_object_get(a, "id");
        json_int_t id = json_integer_value(idj);
        const char *content = json_string_value(json_object_get(a, "content"));
        size_t cl = content ? strlen(content) : 0;
        if (!content || !cl || !json_is_integer(idj) || id < 0 || id >= t->n ||
            (t->tok[id].b && (t->tok[id].n != (int)cl || memcmp(t->tok[id].b, content, cl)))) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: added_tokens[%zu]: bad id or content", name, i);
            goto out;
        }
        if (!t->tok[id].b) {
            t->tok[id].n = (int)cl;
            t->tok[id].b = (uint8_t *)strdup(content);
            if (!t->tok[id].b) {
                rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
                goto out;
            }
        }
        if (!strcmp(content, CL_TOK_EOS_TEXT))
            t->eos = (int)id;
    }
    for (int i = 0; i < t->n; i++)
        if (!t->tok[i].b) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.vocab: id %d missing", name, i);
            goto out;
        }
    for (int b = 0; b < 256 && bytelevel; b++)
        if (t->byte_id[b] < 0) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.vocab: byte 0x%02x has no token", name, b);
            goto out;
        }
    if (native && t->eos < 0) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: added_tokens: no %s", name, CL_TOK_EOS_TEXT);
        goto out;
    }
    /* merges: "a b" strings or [a, b] pairs; each must make a vocab token */
    size_t nm = json_array_size(merges);
    t->merge = malloc((nm ? nm : 1) * sizeof *t->merge);
    t->merge_id = malloc((nm ? nm : 1) * sizeof *t->merge_id);
    if (!t->merge || !t->merge_id) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    imap spelled = {0}; /* hash of bytes -> id + 1 */
    for (int i = 0; i < t->n; i++) {
        int32_t *s = imap_slot(&spelled, tok_hash(t->tok[i].b, t->tok[i].n), 1);
        if (!s) {
            imap_free(&spelled);
            rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
            goto out;
        }
        *s = i + 1;
    }
    for (size_t r = 0; r < nm && !rc; r++) {
        json_t *mj = json_array_get(merges, r);
        char left[512], right[512];
        if (json_is_string(mj)) {
            const char *s = json_string_value(mj), *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ') || (size_t)(sp - s) >= sizeof left ||
                strlen(sp + 1) >= sizeof right) {
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.merges[%zu]: not \"a b\"", name, r);
                break;
            }
            memcpy(left, s, (size_t)(sp - s));
            left[sp - s] = 0;
            snprintf(right, sizeof right, "%s", sp + 1);
        } else if (json_is_array(mj) && json_array_size(mj) == 2 &&
                   json_is_string(json_array_get(mj, 0)) && json_is_string(json_array_get(mj, 1)) &&
                   strlen(json_string_value(json_array_get(mj, 0))) < sizeof left &&
                   strlen(json_string_value(json_array_get(mj, 1))) < sizeof right) {
            snprintf(left, sizeof left, "%s", json_string_value(json_array_get(mj, 0)));
            snprintf(right, sizeof right, "%s", json_string_value(json_array_get(mj, 1)));
        } else {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.merges[%zu]: not a pair", name, r);
            break;
        }
        uint8_t lb[512], rb[512], both[1024];
        int ln = token_bytes(left, lb, sizeof lb, bytelevel, cp);
        int rn = token_bytes(right, rb, sizeof rb, bytelevel, cp);
        int32_t *li = ln > 0 ? imap_slot(&spelled, tok_hash(lb, ln), 0) : NULL;
        int32_t *ri = rn > 0 ? imap_slot(&spelled, tok_hash(rb, rn), 0) : NULL;
        int32_t *bi = NULL;
        if (ln > 0 && rn > 0) {
            memcpy(both, lb, (size_t)ln);
            memcpy(both + ln, rb, (size_t)rn);
            bi = imap_slot(&spelled, tok_hash(both, ln + rn), 0);
        }
        if (!li || !ri || !bi) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: model.merges[%zu]: \"%s\" + \"%s\" is not "
                              "in the vocabulary", name, r, left, right);
            break;
        }
        t->merge[r][0] = *li - 1;
        t->merge[r][1] = *ri - 1;
        t->merge_id[r] = *bi - 1;
        int32_t *rk = imap_slot(&t->rank, pair_key(*li - 1, *ri - 1), 1);
        if (!rk) {
            rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        if (*rk == 0 || (int)r < *rk - 1)
            *rk = (int32_t)r + 1; /* stored 1-based; the lowest rank wins */
        t->n_merges++;
    }
    if (t->pipe)
        t->by_str = spelled; /* kept for symbol lookups */
    else
        imap_free(&spelled);
    /* ranks were stored 1-based to tell "absent" from rank 0 */
    for (size_t j = 0; j < t->rank.cap; j++)
        if (t->rank.key[j])
            t->rank.val[j]--;
    if (!rc && t->pipe)
        rc = tok_pipe_finish(t, root, name, err);
out:
    json_decref(root);
    if (rc) {
        cl_tok_free(t);
        return rc;
    }
    *out = t;
    return CL_OK;
}

int cl_tok_load(const char *path, cl_tokenizer **out, cl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* fopen opens a directory too; its "size" is no file's */
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int dir = S_ISDIR(sb.st_mode);
        fclose(f);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot read: %s", path,
                            dir ? strerror(EISDIR) : "not a regular file");
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (256L << 20)) {
        fclose(f);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: size %ld out of range", path, n);
    }
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return cl_error_set(err, CL_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    int rc = cl_tok_parse(buf, (size_t)n, path, out, err);
    free(buf);
    if (!rc && (*out)->pipe && (rc = tok_pipe_config(*out, path, err))) {
        cl_tok_free(*out);
        *out = NULL;
    }
    return rc;
}
