/*
 * tokenizer_pipe.c -- the BPE tokenizers of other models, as their
 * tokenizer.json describes them, encoded as PyPI's `tokenizers` does:
 *
 *   added tokens   matched first in the raw text, leftmost-longest (lstrip,
 *                  rstrip, single_word honoured);
 *   normalizer     NFC (nfc.c: Python's unicodedata tables), Prepend,
 *                  Replace (string or regex), Sequence;
 *   pre_tokenizer  Split (regex compiled by PCRE2, UTF + UCP; behaviours
 *                  Isolated, Removed, MergedWithPrevious, MergedWithNext;
 *                  invert), ByteLevel (add_prefix_space, use_regex: GPT-2's
 *                  pattern), Digits, Metaspace (prepend_scheme, split),
 *                  Sequence;
 *   model          BPE: byte-level vocabularies or SentencePiece-style ones
 *                  with byte_fallback (<0xNN>), unk_token, fuse_unk,
 *                  ignore_merges; dropout, continuing_subword_prefix and
 *                  end_of_word_suffix refused;
 *   decoder        ByteLevel, or Replace / ByteFallback / Fuse / Strip /
 *                  Metaspace in a Sequence;
 *   post_processor ByteLevel, TemplateProcessing, Sequence: the single
 *                  template's special tokens are cl_tok_prefix/suffix.
 *
 * tokenizer_pipe_json.c reads this pipeline (and refuses anything else,
 * naming the file, the JSON path and the value); this file runs it.
 */
#include "tokenizer_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfc.h"

/* ------------------------------------------------------------ strings */

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->s, cap);
        if (!q)
            return -1;
        b->s = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

/* Bytes of the code point at s[i] (s valid UTF-8). */
static int ulen(uint8_t c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

/* Valid UTF-8: each maximal invalid subpart becomes U+FFFD, as Python's
 * bytes.decode("utf-8", errors="replace") does. */
static int sanitize(const uint8_t *s, size_t n, sbuf *o)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        int need = 0;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            if (sb_put(o, s + i, 1))
                return -1;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        }
        size_t k = 1;
        while (need && (int)k <= need && i + k < n) {
            uint8_t d = s[i + k];
            if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xbf))
                break;
            k++;
        }
        if (need && (int)k == need + 1) {
            if (sb_put(o, s + i, k))
                return -1;
        } else if (sb_put(o, "\xef\xbf\xbd", 3)) {
            return -1;
        }
        i += k;
    }
    return sb_put(o, "", 0);
}

static int replace_lit(const char *s, size_t n, const char *a, const char *b, sbuf *o)
{
    size_t na = strlen(a), nb = strlen(b);
    o->n = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= na && !memcmp(s + i, a, na)) {
            if (sb_put(o, b, nb))
                return -1;
            i += na;
        } else {
            if (sb_put(o, s + i, 1))
                return -1;
            i++;
        }
    }
    return sb_put(o, "", 0);
}

/* ------------------------------------------------------------ pieces */

typedef struct piece {
    size_t off, n; /* into the list's buffer */
    int origin;    /* starts the original text */
} piece;

typedef struct plist {
    sbuf buf;
    piece *p;
    int n, cap;
} plist;

static int pl_add(plist *l, const char *s, size_t n, int origin)
{
    if (!n)
        return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        piece *q = realloc(l->p, (size_t)cap * sizeof *q);
        if (!q)
            return -1;
        l->p = q;
        l->cap = cap;
    }
    size_t off = l->buf.n;
    if (sb_put(&l->buf, s, n))
        return -1;
    l->p[l->n++] = (piece){off, n, origin};
    return 0;
}

static void pl_free(plist *l)
{
    free(l->buf.s);
    free(l->p);
    memset(l, 0, sizeof *l);
}

/* Split one piece by a regex as `tokenizers`' split does with a behaviour. */
static int split_re(struct tok_pipe *p, const pre_op *o, const char *s, size_t n, int origin,
                    plist *out)
{
    size_t at = 0, prev = 0, pend = 0; /* pend: MergedWithNext carry start */
    int first = 1, carry = 0;
    while (at <= n) {
        int r = pcre2_match(o->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, p->md, NULL);
        size_t ms = n, me = n;
        if (r >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
            ms = ov[0];
            me = ov[1];
        } else if (r != PCRE2_ERROR_NOMATCH) {
            return -2;
        }
        if (r >= 0 && me == ms) { /* empty match: move on one character */
            if (ms >= n)
                break;
            at = ms + (size_t)ulen((uint8_t)s[ms]);
            continue;
        }
        /* spans: gap [prev, ms) and match [ms, me); invert swaps their roles */
        size_t span[2][2] = {{prev, ms}, {ms, me}};
        for (int k = 0; k < (r >= 0 ? 2 : 1); k++) {
            size_t a = span[k][0], b = span[k][1];
            if (a == b)
                continue;
            int is_match = (k == 1) != (o->invert != 0);
            int org = origin && first;
            if (!is_match || o->behavior == B_ISOLATED) {
                if (carry) {
                    a = pend;
                    carry = 0;
                }
                if (pl_add(out, s + a, b - a, org))
                    return -1;
                first = 0;
            } else if (o->behavior == B_REMOVED) {
                first = 0;
            } else if (o->behavior == B_PREV) {
                if (out->n && !first) {
                    out->p[out->n - 1].n += b - a;
                    if (sb_put(&out->buf, s + a, b - a))
                        return -1;
                } else {
                    if (pl_add(out, s + a, b - a, org))
                        return -1;
                    first = 0;
                }
            } else { /* B_NEXT: starts the next piece */
                if (carry) {
                    if (pl_add(out, s + pend, a - pend, org))
                        return -1;
                    first = 0;
                }
                pend = a;
                carry = 1;
            }
        }
        if (r < 0)
            break;
        prev = at = me;
        if (at >= n) {
            at = n;
            prev = n;
            /* nothing after the last match */
            break;
        }
    }
    if (carry && pl_add(out, s + pend, n - pend, origin && first))
        return -1;
    return 0;
}

/* One pre-tokenizer over every piece of *l. */
static int pre_apply(struct tok_pipe *p, const pre_op *o, plist *l)
{
    plist out = {0};
    sbuf tmp = {0};
    int rc = 0;
    for (int i = 0; i < l->n && !rc; i++) {
        const char *s = l->buf.s + l->p[i].off;
        size_t n = l->p[i].n;
        int origin = l->p[i].origin;
        if (o->kind == P_BYTELEVEL) {
            tmp.n = 0;
            if ((o->prefix_space && s[0] != ' ' && sb_put(&tmp, " ", 1)) || sb_put(&tmp, s, n)) {
                rc = -1;
                break;
            }
            rc = o->re ? split_re(p, o, tmp.s, tmp.n, origin, &out)
                       : pl_add(&out, tmp.s, tmp.n, origin);
        } else if (o->kind == P_SPLIT) {
            rc = split_re(p, o, s, n, origin, &out);
        } else { /* Metaspace */
            size_t nr = strlen(o->repl);
            sbuf rep = {0};
            if (replace_lit(s, n, " ", o->repl, &rep)) {
                free(rep.s);
                rc = -1;
                break;
            }
            int starts = rep.n >= nr && !memcmp(rep.s, o->repl, nr);
            tmp.n = 0;
            if ((!starts && (o->scheme == S_ALWAYS || (o->scheme == S_FIRST && origin)) &&
                 sb_put(&tmp, o->repl, nr)) ||
                sb_put(&tmp, rep.s, rep.n))
                rc = -1;
            free(rep.s);
            if (rc)
                break;
            if (!o->split) {
                rc = pl_add(&out, tmp.s, tmp.n, origin);
                continue;
            }
            size_t a = 0;
            for (size_t j = 1; j + nr <= tmp.n && !rc; j++)
                if (!memcmp(tmp.s + j, o->repl, nr)) {
                    rc = pl_add(&out, tmp.s + a, j - a, origin && a == 0);
                    a = j;
                }
            if (!rc)
                rc = pl_add(&out, tmp.s + a, tmp.n - a, origin && a == 0);
        }
    }
    free(tmp.s);
    pl_free(l);
    *l = out;
    return rc;
}

/* ------------------------------------------------------------ encoding */

int tok_pipe_symbols(const cl_tokenizer *t, const uint8_t *s, int len, int32_t *out, int *whole)
{
    const struct tok_pipe *p = t->pipe;
    *whole = 0;
    if (p->ignore_merges) {
        int id = tok_lookup(t, s, len);
        if (id >= 0) {
            out[0] = id;
            *whole = 1;
            return 1;
        }
    }
    int n = 0;
    if (p->bytelevel) {
        for (int i = 0; i < len; i++)
            out[n++] = t->byte_id[s[i]];
        return n;
    }
    int last_unk = 0;
    for (int i = 0; i < len;) {
        int k = ulen(s[i]);
        if (i + k > len)
            k = len - i;
        int id = tok_lookup(t, s + i, k), fb = p->byte_fallback;
        for (int b = 0; b < k && fb; b++)
            fb = p->fb[s[i + b]] >= 0;
        if (id >= 0) {
            out[n++] = id;
            last_unk = 0;
        } else if (fb) {
            for (int b = 0; b < k; b++)
                out[n++] = p->fb[s[i + b]];
            last_unk = 0;
        } else if (p->unk >= 0) {
            if (!(p->fuse_unk && last_unk))
                out[n++] = p->unk;
            last_unk = 1;
        }
        i += k;
    }
    return n;
}

/* Normalize, pre-tokenize and BPE one stretch of text between added tokens. */
static int encode_segment(cl_tokenizer *t, const char *s, size_t n, int origin, int32_t **ids,
                          int *nid, int *cap, const char *what, cl_error *err)
{
    struct tok_pipe *p = t->pipe;
    sbuf a = {0}, b = {0};
    int rc = CL_OK;
    if (sb_put(&a, s, n))
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
    for (int i = 0; i < p->n_norm && !rc; i++) {
        const norm_op *o = &p->norm[i];
        if (o->kind == N_NFC) {
            char *q;
            size_t nq;
            if (cl_nfc(a.s, a.n, &q, &nq))
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
            else if (q) { /* NULL: already in NFC */
                free(a.s);
                a.s = q;
                a.n = nq;
                a.cap = nq + 1;
            }
            continue;
        }
        if (!a.n)
            continue;
        b.n = 0;
        if (o->kind == N_PREPEND) {
            if (sb_put(&b, o->a, strlen(o->a)) || sb_put(&b, a.s, a.n))
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
        } else if (o->a) {
            if (replace_lit(a.s, a.n, o->a, o->b, &b))
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
        } else {
            PCRE2_SIZE on = a.n * 4 + strlen(o->b) * 64 + 64;
            if (sb_put(&b, NULL, 0) || !(b.s = realloc(b.s, on + 1))) {
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
                break;
            }
            b.cap = on + 1;
            int r = pcre2_substitute(o->re, (PCRE2_SPTR)a.s, a.n, 0,
                                     PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_LITERAL |
                                         PCRE2_NO_UTF_CHECK | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                                     NULL, NULL, (PCRE2_SPTR)o->b, PCRE2_ZERO_TERMINATED,
                                     (PCRE2_UCHAR *)b.s, &on);
            if (r == PCRE2_ERROR_NOMEMORY) {
                char *q = realloc(b.s, on + 1);
                if (!q) {
                    rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
                    break;
                }
                b.s = q;
                b.cap = on + 1;
                r = pcre2_substitute(o->re, (PCRE2_SPTR)a.s, a.n, 0,
                                     PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_LITERAL |
                                         PCRE2_NO_UTF_CHECK,
                                     NULL, NULL, (PCRE2_SPTR)o->b, PCRE2_ZERO_TERMINATED,
                                     (PCRE2_UCHAR *)b.s, &on);
            }
            if (r < 0)
                rc = cl_error_set(err, CL_ERR_VALUE, "%s: normalizer Replace: PCRE2 error %d",
                                  what, r);
            b.n = on;
        }
        sbuf x = a;
        a = b;
        b = x;
    }
    plist l = {0};
    if (!rc && a.n && pl_add(&l, a.s, a.n, origin))
        rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
    for (int i = 0; i < p->n_pre && !rc && l.n; i++) {
        int r = pre_apply(p, &p->pre[i], &l);
        if (r)
            rc = r == -2 ? cl_error_set(err, CL_ERR_VALUE, "%s: pre_tokenizer: regex match "
                                        "failed", what)
                         : cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
    }
    int32_t *buf = NULL;
    size_t bcap = 0;
    for (int i = 0; i < l.n && !rc; i++) {
        size_t pn = l.p[i].n;
        if (pn > bcap) {
            bcap = pn * 2;
            free(buf);
            buf = malloc(bcap * sizeof *buf);
            if (!buf) {
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
                break;
            }
        }
        int k = tok_piece_ids(t, (const uint8_t *)l.buf.s + l.p[i].off, (int)pn, buf);
        rc = tok_push_ids(ids, nid, cap, buf, k, err);
    }
    free(buf);
    pl_free(&l);
    free(a.s);
    free(b.s);
    return rc;
}

static int is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_word(uint8_t c)
{
    return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The added token that starts at s[i] (longest), or NULL. */
static const added_tok *added_at(const struct tok_pipe *p, const char *s, size_t n, size_t i)
{
    const added_tok *best = NULL;
    for (int k = 0; k < p->n_add; k++) {
        const added_tok *a = &p->add[k];
        if ((size_t)a->n > n - i || (uint8_t)s[i] != a->s[0] || memcmp(s + i, a->s, (size_t)a->n))
            continue;
        if (a->single_word && ((i > 0 && is_word((uint8_t)s[i - 1])) ||
                               (i + (size_t)a->n < n && is_word((uint8_t)s[i + (size_t)a->n]))))
            continue;
        if (!best || a->n > best->n)
            best = a;
    }
    return best;
}

int tok_pipe_encode(cl_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n,
                    int *cap, cl_error *err)
{
    static const char what[] = "tokenizer";
    sbuf v = {0};
    if (sanitize((const uint8_t *)text, len, &v)) {
        free(v.s);
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, what);
    }
    const char *s = v.s ? v.s : "";
    size_t sn = v.n, seg = 0, i = 0;
    int rc = CL_OK;
    while (i < sn && !rc) {
        const added_tok *a = added_at(t->pipe, s, sn, i);
        if (!a) {
            i++;
            continue;
        }
        size_t end = i;
        if (a->lstrip)
            while (end > seg && is_space((uint8_t)s[end - 1]))
                end--;
        if (end > seg)
            rc = encode_segment(t, s + seg, end - seg, seg == 0, ids, n, cap, what, err);
        if (!rc) {
            int32_t id = a->id;
            rc = tok_push_ids(ids, n, cap, &id, 1, err);
        }
        i += (size_t)a->n;
        if (a->rstrip)
            while (i < sn && is_space((uint8_t)s[i]))
                i++;
        seg = i;
    }
    if (!rc && seg < sn)
        rc = encode_segment(t, s + seg, sn - seg, seg == 0, ids, n, cap, what, err);
    free(v.s);
    return rc;
}

/* ------------------------------------------------------------ decoding */

typedef struct tlist {
    sbuf *t;
    int n;
} tlist;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    sbuf o = {0};
    int ok = !sanitize(s, n, &o) && o.n == n && (!n || !memcmp(o.s, s, n));
    free(o.s);
    return ok;
}

static int dec_apply(const dec_op *o, tlist *l)
{
    if (o->kind == D_BYTELEVEL)
        return 0;
    if (o->kind == D_FUSE) {
        for (int i = 1; i < l->n; i++) {
            if (sb_put(&l->t[0], l->t[i].s, l->t[i].n))
                return -1;
            free(l->t[i].s);
        }
        if (l->n > 1)
            l->n = 1;
        return 0;
    }
    if (o->kind == D_BYTEFALLBACK) {
        int w = 0;
        sbuf run = {0};
        int nrun = 0;
        for (int i = 0; i <= l->n; i++) {
            sbuf *x = i < l->n ? &l->t[i] : NULL;
            int byte = -1;
            if (x && x->n == 6 && !memcmp(x->s, "<0x", 3) && x->s[5] == '>' &&
                hexval(x->s[3]) >= 0 && hexval(x->s[4]) >= 0)
                byte = hexval(x->s[3]) * 16 + hexval(x->s[4]);
            if (byte >= 0) {
                uint8_t c = (uint8_t)byte;
                if (sb_put(&run, &c, 1))
                    return -1;
                nrun++;
                free(x->s);
                continue;
            }
            if (nrun) {
                if (valid_utf8((const uint8_t *)run.s, run.n)) {
                    l->t[w++] = run;
                } else {
                    for (int k = 0; k < nrun; k++) {
                        sbuf r = {0};
                        if (sb_put(&r, "\xef\xbf\xbd", 3))
                            return -1;
                        l->t[w++] = r;
                    }
                    free(run.s);
                }
                run = (sbuf){0};
                nrun = 0;
            }
            if (x)
                l->t[w++] = *x;
        }
        l->n = w;
        return 0;
    }
    for (int i = 0; i < l->n; i++) {
        sbuf *x = &l->t[i], y = {0};
        if (o->kind == D_REPLACE) {
            if (replace_lit(x->s ? x->s : "", x->n, o->a, o->b, &y))
                return -1;
        } else if (o->kind == D_METASPACE) {
            if (replace_lit(x->s ? x->s : "", x->n, o->a,
                            i == 0 && o->scheme != S_NEVER ? "" : " ", &y))
                return -1;
        } else { /* Strip */
            size_t nc = strlen(o->a), a = 0, b = x->n;
            for (int k = 0; k < o->start && b - a >= nc && !memcmp(x->s + a, o->a, nc); k++)
                a += nc;
            for (int k = 0; k < o->stop && b - a >= nc && !memcmp(x->s + b - nc, o->a, nc); k++)
                b -= nc;
            if (sb_put(&y, x->s + a, b - a))
                return -1;
        }
        free(x->s);
        *x = y;
    }
    return 0;
}

size_t tok_pipe_decode(const cl_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap)
{
    tlist l = {calloc((size_t)n + 1, sizeof(sbuf)), 0};
    int fail = !l.t;
    for (int i = 0; i < n && !fail; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            continue;
        const tok_str *s = &t->tok[ids[i]];
        fail = sb_put(&l.t[l.n++], s->b, (size_t)s->n);
    }
    for (int i = 0; i < t->pipe->n_dec && !fail; i++)
        fail = dec_apply(&t->pipe->dec[i], &l);
    size_t w = 0;
    for (int i = 0; i < l.n; i++) {
        for (size_t k = 0; k < l.t[i].n && !fail; k++, w++)
            if (w + 1 < cap)
                out[w] = l.t[i].s[k];
        free(l.t[i].s);
    }
    free(l.t);
    if (cap)
        out[w < cap ? w : cap - 1] = 0;
    return w;
}
