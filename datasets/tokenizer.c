/*
 * tokenizer.c -- byte-level BPE (see tokenizer.h).
 *
 * Pre-tokenisation splits text with the pattern
 *     ` ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9 \t\n\r\f\v]+|[ \t\n\r\f\v]+(?![^ \t\n\r\f\v])|[ \t\n\r\f\v]+`
 * -- GPT-2's, with ASCII classes so that this C code and the regex engine in
 * `tokenizers` agree on every input -- and BPE merges within each piece,
 * lowest rank first. Tokens are byte strings; ids 0..255 are the bytes.
 */
#include "tokenizer.h"
#include "tokenizer_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int cl_tok_vocab_size(const cl_tokenizer *t) { return t->n; }
int cl_tok_eos(const cl_tokenizer *t) { return t->eos; }
int cl_tok_native(const cl_tokenizer *t) { return t->pipe == NULL; }

int cl_tok_prefix(const cl_tokenizer *t, const int32_t **ids)
{
    *ids = t->prefix;
    return t->n_prefix;
}

int cl_tok_suffix(const cl_tokenizer *t, const int32_t **ids)
{
    *ids = t->suffix;
    return t->n_suffix;
}

void cl_tok_free(cl_tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->tok[i].b);
    for (int i = 0; i < t->n_centry; i++) {
        free(t->centry[i].s);
        free(t->centry[i].ids);
    }
    free(t->centry);
    free(t->tok);
    free(t->merge);
    free(t->merge_id);
    imap_free(&t->rank);
    imap_free(&t->cache);
    imap_free(&t->by_str);
    tok_pipe_free(t->pipe);
    free(t->prefix);
    free(t->suffix);
    free(t);
}

/* ------------------------------------------------------------ pieces */

enum { CLS_ALPHA, CLS_DIGIT, CLS_SPACE, CLS_OTHER };

static int ws(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Class and byte length of the code point at text[i] (invalid UTF-8: one
 * byte, class other). */
static int unit(const char *text, size_t len, size_t i, size_t *n)
{
    uint8_t c = (uint8_t)text[i];
    *n = 1;
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? CLS_ALPHA
               : c >= '0' && c <= '9'                            ? CLS_DIGIT
               : ws(c)                                           ? CLS_SPACE
                                                                 : CLS_OTHER;
    size_t need = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
    if (need > 1 && i + need <= len) {
        size_t k = 1;
        while (k < need && ((uint8_t)text[i + k] & 0xc0) == 0x80)
            k++;
        if (k == need)
            *n = need;
    }
    return CLS_OTHER;
}

size_t cl_tok_piece(const char *text, size_t len, size_t i)
{
    size_t n, j = i;
    int c = unit(text, len, i, &n);
    int lead_space = text[i] == ' ' && i + 1 < len;
    if (lead_space) {
        size_t m;
        int c2 = unit(text, len, i + 1, &m);
        if (c2 != CLS_SPACE) { /* " ?X+" with X the next unit's class */
            j = i + 1;
            c = c2;
        }
    }
    if (c != CLS_SPACE) {
        while (j < len) {
            size_t m;
            if (unit(text, len, j, &m) != c)
                break;
            j += m;
        }
        return j - i;
    }
    /* whitespace: a run, less its last unit when text follows it */
    while (j < len && ws((uint8_t)text[j]))
        j++;
    if (j < len && j - i >= 2)
        j--;
    return j - i;
}

/* ------------------------------------------------------------ encoding */

int tok_lookup(const cl_tokenizer *t, const uint8_t *s, int n)
{
    int32_t *slot = imap_slot((imap *)&t->by_str, tok_hash(s, n), 0);
    if (!slot)
        return -1;
    int id = *slot - 1;
    return t->tok[id].n == n && !memcmp(t->tok[id].b, s, (size_t)n) ? id : -1;
}

static int bpe(cl_tokenizer *t, const uint8_t *s, int len, int32_t *out)
{
    int n = len;
    if (t->pipe) {
        int whole = 0;
        n = tok_pipe_symbols(t, s, len, out, &whole);
        if (whole)
            return n;
    } else {
        for (int i = 0; i < len; i++)
            out[i] = t->byte_id[s[i]];
    }
    for (;;) {
        int best = -1, at = -1;
        for (int i = 0; i + 1 < n; i++) {
            int32_t *r = imap_slot(&t->rank, pair_key(out[i], out[i + 1]), 0);
            if (r && (best < 0 || *r < best)) {
                best = *r;
                at = i;
            }
        }
        if (best < 0)
            return n;
        /* merge every occurrence of this pair from the first, left to right */
        int a = t->merge[best][0], b = t->merge[best][1], id = t->merge_id[best], w = at;
        for (int i = at; i < n; i++) {
            if (i + 1 < n && out[i] == a && out[i + 1] == b) {
                out[w++] = id;
                i++;
            } else {
                out[w++] = out[i];
            }
        }
        n = w;
    }
}

/* Ids of one piece, cached (pieces repeat a lot in text). */
int tok_piece_ids(cl_tokenizer *t, const uint8_t *s, int len, int32_t *out)
{
    uint64_t h = tok_hash(s, len);
    int32_t *slot = imap_slot(&t->cache, h, 0);
    if (slot) {
        int e = *slot;
        if (t->centry[e].len == len && !memcmp(t->centry[e].s, s, (size_t)len)) {
            memcpy(out, t->centry[e].ids, (size_t)t->centry[e].n * sizeof *out);
            return t->centry[e].n;
        }
    }
    int n = bpe(t, s, len, out);
    if (slot || len > 64 || t->n_centry >= 1 << 20)
        return n; /* a hash collision or a huge piece: not cached */
    if (t->n_centry == t->cap_centry) {
        int cap = t->cap_centry ? 2 * t->cap_centry : 4096;
        void *p = realloc(t->centry, (size_t)cap * sizeof *t->centry);
        if (!p)
            return n;
        t->centry = p;
        t->cap_centry = cap;
    }
    uint8_t *cs = malloc((size_t)len);
    int32_t *ci = malloc((size_t)n * sizeof *ci);
    int32_t *ns = imap_slot(&t->cache, h, 1);
    if (!cs || !ci || !ns) {
        free(cs);
        free(ci);
        return n;
    }
    memcpy(cs, s, (size_t)len);
    memcpy(ci, out, (size_t)n * sizeof *ci);
    t->centry[t->n_centry].s = cs;
    t->centry[t->n_centry].len = len;
    t->centry[t->n_centry].ids = ci;
    t->centry[t->n_centry].n = n;
    *ns = t->n_centry++;
    return n;
}

int tok_push_ids(int32_t **ids, int *n, int *cap, const int32_t *add, int k, cl_error *err)
{
    if (*n + k > *cap) {
        int nc = *cap ? *cap : 256;
        while (nc < *n + k)
            nc *= 2;
        int32_t *p = realloc(*ids, (size_t)nc * sizeof *p);
        if (!p)
            return cl_error_set(err, CL_ERR_NOMEM, "tokenizer: out of memory");
        *ids = p;
        *cap = nc;
    }
    memcpy(*ids + *n, add, (size_t)k * sizeof *add);
    *n += k;
    return CL_OK;
}

int cl_tok_encode(cl_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n, int *cap,
                  cl_error *err)
{
    if (t->pipe)
        return tok_pipe_encode(t, text, len, ids, n, cap, err);
    size_t eos_len = strlen(CL_TOK_EOS_TEXT);
    int32_t *buf = NULL;
    size_t bufcap = 0;
    size_t i = 0;
    while (i < len) {
        /* the end-of-text marker is matched in the raw text, as `tokenizers`
         * matches added tokens before pre-tokenisation */
        if (text[i] == '<' && len - i >= eos_len && !memcmp(text + i, CL_TOK_EOS_TEXT, eos_len)) {
            int rc = tok_push_ids(ids, n, cap, &t->eos, 1, err);
            if (rc) {
                free(buf);
                return rc;
            }
            i += eos_len;
            continue;
        }
        size_t end = i, lim = len;
        const char *next = memmem(text + i, len - i, CL_TOK_EOS_TEXT, eos_len);
        if (next)
            lim = (size_t)(next - text);
        /* pieces up to the next marker */
        while (end < lim) {
            size_t p = cl_tok_piece(text, lim, end);
            if (p > bufcap) {
                bufcap = p * 2;
                free(buf);
                buf = malloc(bufcap * sizeof *buf);
                if (!buf)
                    return cl_error_set(err, CL_ERR_NOMEM, "tokenizer: out of memory");
            }
            int k = tok_piece_ids(t, (const uint8_t *)text + end, (int)p, buf);
            int rc = tok_push_ids(ids, n, cap, buf, k, err);
            if (rc) {
                free(buf);
                return rc;
            }
            end += p;
        }
        i = lim;
    }
    free(buf);
    return CL_OK;
}

size_t cl_tok_decode(const cl_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap)
{
    if (t->pipe)
        return tok_pipe_decode(t, ids, n, out, cap);
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            continue;
        const tok_str *s = &t->tok[ids[i]];
        for (int k = 0; k < s->n; k++, w++)
            if (w + 1 < cap)
                out[w] = (char)s->b[k];
    }
    if (cap)
        out[w < cap ? w : cap - 1] = 0;
    return w;
}

/* ------------------------------------------------------------ training */

typedef struct word {
    int32_t *sym;
    int n;
    int64_t freq;
} word;

typedef struct heap_item {
    int64_t count;
    uint64_t pair;
} heap_item;

typedef struct heap {
    heap_item *a;
    size_t n, cap;
} heap;

static int heap_less(heap_item x, heap_item y) /* x ranks below y */
{
    return x.count < y.count || (x.count == y.count && x.pair > y.pair);
}

static int heap_push(heap *h, heap_item it)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4096;
        heap_item *p = realloc(h->a, cap * sizeof *p);
        if (!p)
            return -1;
        h->a = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->a[i] = it;
    while (i && heap_less(h->a[(i - 1) / 2], h->a[i])) {
        heap_item t = h->a[i];
        h->a[i] = h->a[(i - 1) / 2];
        h->a[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static heap_item heap_pop(heap *h)
{
    heap_item top = h->a[0];
    h->a[0] = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && heap_less(h->a[m], h->a[l]))
            m = l;
        if (r < h->n && heap_less(h->a[m], h->a[r]))
            m = r;
        if (m == i)
            break;
        heap_item t = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = t;
        i = m;
    }
    return top;
}

/* Which words hold a pair: lists that may go stale (checked on use). */
typedef struct wlist {
    int32_t *w;
    int n, cap;
} wlist;

static int wlist_add(wlist *l, int32_t w)
{
    if (l->n && l->w[l->n - 1] == w)
        return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 4;
        int32_t *p = realloc(l->w, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        l->w = p;
        l->cap = cap;
    }
    l->w[l->n++] = w;
    return 0;
}

typedef struct trainer {
    imap count_idx;   /* pair -> index into counts/lists */
    int64_t *count;
    wlist *where;
    int n, cap;
    heap h;
} trainer;

static int pair_index(trainer *tr, uint64_t p)
{
    int32_t *s = imap_slot(&tr->count_idx, p, 1);
    if (!s)
        return -1;
    if (*s == 0) {
        if (tr->n == tr->cap) {
            int cap = tr->cap ? 2 * tr->cap : 1 << 14;
            int64_t *c = realloc(tr->count, (size_t)cap * sizeof *c);
            wlist *w = realloc(tr->where, (size_t)cap * sizeof *w);
            if (!c || !w) {
                if (c)
                    tr->count = c;
                if (w)
                    tr->where = w;
                return -1;
            }
            tr->count = c;
            tr->where = w;
            tr->cap = cap;
        }
        tr->count[tr->n] = 0;
        memset(&tr->where[tr->n], 0, sizeof tr->where[0]);
        *s = ++tr->n; /* 1-based in the map: 0 means absent */
    }
    return *s - 1;
}

static int pair_add(trainer *tr, int a, int b, int64_t d, int32_t w)
{
    int i = pair_index(tr, pair_key(a, b));
    if (i < 0)
        return -1;
    tr->count[i] += d;
    if (d > 0 && wlist_add(&tr->where[i], w))
        return -1;
    return 0;
}

static const char NOMEM[] = "tokenizer: out of memory";

/* 1. The unique pieces of the texts (bytes each) with their counts. */
static int count_words(const char *const *texts, const size_t *lens, size_t n_texts,
                       word **out, int *n_out, cl_error *err)
{
    imap wmap = {0};
    word *words = NULL;
    int nw = 0, capw = 0, rc = CL_OK;
    for (size_t d = 0; d < n_texts && !rc; d++) {
        const char *s = texts[d];
        for (size_t i = 0; i < lens[d] && !rc;) {
            size_t p = cl_tok_piece(s, lens[d], i);
            uint64_t h = tok_hash((const uint8_t *)s + i, (int)p);
            int32_t *slot = imap_slot(&wmap, h, 1);
            if (!slot) {
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
                break;
            }
            if (*slot && words[*slot - 1].n == (int)p) {
                words[*slot - 1].freq++;
            } else if (!*slot && p <= 256) { /* very long pieces stay bytes */
                if (nw == capw) {
                    capw = capw ? 2 * capw : 4096;
                    word *nwp = realloc(words, (size_t)capw * sizeof *nwp);
                    if (!nwp) {
                        rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
                        break;
                    }
                    words = nwp;
                }
                words[nw].sym = malloc(p * sizeof(int32_t));
                if (!words[nw].sym) {
                    rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
                    break;
                }
                for (size_t k = 0; k < p; k++)
                    words[nw].sym[k] = (uint8_t)s[i + k];
                words[nw].n = (int)p;
                words[nw].freq = 1;
                *slot = ++nw;
            }
            i += p;
        }
    }
    imap_free(&wmap);
    *out = words;
    *n_out = nw;
    return rc;
}

/* 2. The adjacent pairs of every word, counted, and the heap seeded. */
static int count_pairs(trainer *tr, const word *words, int nw, cl_error *err)
{
    for (int w = 0; w < nw; w++)
        for (int k = 0; k + 1 < words[w].n; k++)
            if (pair_add(tr, words[w].sym[k], words[w].sym[k + 1], words[w].freq, w))
                return cl_error_set(err, CL_ERR_NOMEM, NOMEM);
    for (size_t j = 0; j < tr->count_idx.cap; j++)
        if (tr->count_idx.key[j]) {
            heap_item it = {tr->count[tr->count_idx.val[j] - 1], tr->count_idx.key[j] - 1};
            if (heap_push(&tr->h, it))
                return cl_error_set(err, CL_ERR_NOMEM, NOMEM);
        }
    return CL_OK;
}

/* Merge pair (a, b) into id in every word that holds it: neighbours lose
 * their old pairs and gain the new ones, which enter the heap. */
static int merge_words(trainer *tr, word *words, int pi, int a, int b, int id, cl_error *err)
{
    int rc = CL_OK;
    wlist lst = tr->where[pi];
    tr->where[pi] = (wlist){0};
    for (int q = 0; q < lst.n && !rc; q++) {
        word *w = &words[lst.w[q]];
        int wi = lst.w[q];
        for (int k = 0; k + 1 < w->n;) {
            if (w->sym[k] != a || w->sym[k + 1] != b) {
                k++;
                continue;
            }
            if (k > 0 && (pair_add(tr, w->sym[k - 1], a, -w->freq, wi) ||
                          pair_add(tr, w->sym[k - 1], id, w->freq, wi)))
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
            if (k + 2 < w->n && (pair_add(tr, b, w->sym[k + 2], -w->freq, wi) ||
                                 pair_add(tr, id, w->sym[k + 2], w->freq, wi)))
                rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
            tr->count[pi] -= w->freq;
            w->sym[k] = id;
            memmove(w->sym + k + 1, w->sym + k + 2, (size_t)(w->n - k - 2) * sizeof *w->sym);
            w->n--;
            if (k > 0) {
                int ni = pair_index(tr, pair_key(w->sym[k - 1], id));
                heap_push(&tr->h, (heap_item){tr->count[ni], pair_key(w->sym[k - 1], id)});
            }
            if (k + 1 < w->n) {
                int ni = pair_index(tr, pair_key(id, w->sym[k + 1]));
                heap_push(&tr->h, (heap_item){tr->count[ni], pair_key(id, w->sym[k + 1])});
            }
        }
    }
    free(lst.w);
    return rc;
}

/* 3. The merges: the most frequent pair first, until the vocabulary is full
 * or no pair occurs twice. */
static int learn_merges(cl_tokenizer *t, trainer *tr, word *words, int vocab_size, cl_error *err)
{
    int max_merges = vocab_size - 257, rc = CL_OK;
    t->merge = malloc((size_t)(max_merges ? max_merges : 1) * sizeof *t->merge);
    t->merge_id = malloc((size_t)(max_merges ? max_merges : 1) * sizeof *t->merge_id);
    if (!t->merge || !t->merge_id)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM);
    while (!rc && t->n_merges < max_merges && tr->h.n) {
        heap_item it = heap_pop(&tr->h);
        int pi = pair_index(tr, it.pair);
        if (tr->count[pi] != it.count) { /* stale: requeue with its current count */
            if (tr->count[pi] > 0) {
                it.count = tr->count[pi];
                heap_push(&tr->h, it);
            }
            continue;
        }
        if (it.count < 2)
            break;
        int a = (int)(it.pair >> 32), b = (int)(uint32_t)it.pair, id = 256 + t->n_merges;
        t->merge[t->n_merges][0] = a;
        t->merge[t->n_merges][1] = b;
        t->merge_id[t->n_merges] = id;
        t->n_merges++;
        rc = merge_words(tr, words, pi, a, b, id, err);
    }
    return rc;
}

/* 4. The vocabulary: bytes, merges, end-of-text; the merge ranks. */
static int build_vocab(cl_tokenizer *t, cl_error *err)
{
    int rc = CL_OK;
    t->n = 256 + t->n_merges + 1;
    t->tok = calloc((size_t)t->n, sizeof *t->tok);
    if (!t->tok)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM);
    for (int i = 0; i < t->n && !rc; i++) {
        tok_str *s = &t->tok[i];
        if (i < 256) {
            s->n = 1;
            s->b = malloc(1);
            if (s->b)
                s->b[0] = (uint8_t)i;
        } else if (i < 256 + t->n_merges) {
            const tok_str *x = &t->tok[t->merge[i - 256][0]], *y = &t->tok[t->merge[i - 256][1]];
            s->n = x->n + y->n;
            s->b = malloc((size_t)s->n);
            if (s->b) {
                memcpy(s->b, x->b, (size_t)x->n);
                memcpy(s->b + x->n, y->b, (size_t)y->n);
            }
        } else {
            s->n = (int)strlen(CL_TOK_EOS_TEXT);
            s->b = malloc((size_t)s->n);
            if (s->b)
                memcpy(s->b, CL_TOK_EOS_TEXT, (size_t)s->n);
        }
        if (!s->b)
            rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
        if (i >= 256 && i < 256 + t->n_merges &&
            !imap_slot(&t->rank, pair_key(t->merge[i - 256][0], t->merge[i - 256][1]), 1))
            rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM);
        else if (i >= 256 && i < 256 + t->n_merges)
            *imap_slot(&t->rank, pair_key(t->merge[i - 256][0], t->merge[i - 256][1]), 0) = i - 256;
    }
    t->eos = t->n - 1;
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = b;
    return rc;
}

int cl_tok_train(const char *const *texts, const size_t *lens, size_t n_texts, int vocab_size,
                 cl_tokenizer **out, cl_error *err)
{
    *out = NULL;
    if (vocab_size < 257 || vocab_size > (1 << 20))
        return cl_error_set(err, CL_ERR_ARG, "tokenizer: vocabulary size %d outside [257, %d]",
                            vocab_size, 1 << 20);
    cl_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM);
    trainer tr = {0};
    word *words = NULL;
    int nw = 0;
    int rc = count_words(texts, lens, n_texts, &words, &nw, err);
    if (!rc)
        rc = count_pairs(&tr, words, nw, err);
    if (!rc)
        rc = learn_merges(t, &tr, words, vocab_size, err);
    for (int w = 0; w < nw; w++)
        free(words[w].sym);
    free(words);
    for (int i = 0; i < tr.n; i++)
        free(tr.where[i].w);
    free(tr.where);
    free(tr.count);
    free(tr.h.a);
    imap_free(&tr.count_idx);
    if (!rc)
        rc = build_vocab(t, err);
    if (rc) {
        cl_tok_free(t);
        return rc;
    }
    *out = t;
    return CL_OK;
}
