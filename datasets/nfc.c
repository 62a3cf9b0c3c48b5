/*
 * nfc.c -- Unicode NFC of UTF-8 text (UAX #15): each code point decomposed
 * canonically (recursively; Hangul syllables by the algorithm), the marks
 * of each run put in canonical order (stable sort by combining class), then
 * composed canonically (primary composites only, so the composition
 * exclusions, singletons and non-starter decompositions are never formed;
 * Hangul by the algorithm). Text the quick check calls NFC is left as is.
 * Tables: tokenizer_nfc.h (Python's unicodedata; see there for the Unicode
 * version and how PyPI tokenizers' own differs).
 */
#include "nfc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_nfc.h"

#define N_ROWS (sizeof tok_nfc_rows / sizeof tok_nfc_rows[0])
#define N_DECOMP (sizeof tok_nfc_decomp / sizeof tok_nfc_decomp[0])
#define N_COMP (sizeof tok_nfc_comp / sizeof tok_nfc_comp[0])

/* Hangul (Unicode chapter 3.12) */
enum { SBASE = 0xac00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11a7 };
enum { LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ulen(uint8_t c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

static uint32_t ucp(const uint8_t *s, int *k)
{
    *k = ulen(s[0]);
    if (*k == 1)
        return s[0];
    uint32_t c = s[0] & (0x7f >> *k);
    for (int i = 1; i < *k; i++)
        c = c << 6 | (s[i] & 0x3f);
    return c;
}

/* The row of tok_nfc_rows holding c, or -1. */
static int row_of(uint32_t c)
{
    if (c < 0x300)
        return -1;
    size_t lo = 0, hi = N_ROWS;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (c < tok_nfc_rows[m].lo)
            hi = m;
        else if (c > tok_nfc_rows[m].hi)
            lo = m + 1;
        else
            return (int)m;
    }
    return -1;
}

static uint8_t ccc_of(uint32_t c)
{
    int r = row_of(c);
    return r < 0 ? 0 : tok_nfc_rows[r].ccc;
}

int cl_nfc_quick(const char *text, size_t n)
{
    const uint8_t *s = (const uint8_t *)text;
    int last = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) { /* ASCII: class 0, quick check Yes */
            last = 0;
            i++;
            continue;
        }
        int k;
        uint32_t c = ucp(s + i, &k);
        i += (size_t)k;
        int r = row_of(c), ccc = 0;
        if (r >= 0) {
            if (tok_nfc_rows[r].qc)
                return 0;
            ccc = tok_nfc_rows[r].ccc;
        }
        if (ccc && last > ccc)
            return 0;
        last = ccc;
    }
    return 1;
}

/* The full canonical decomposition of c appended at out[*m]. */
static void decompose(uint32_t c, uint32_t *out, size_t *m)
{
    if (c - SBASE < SCOUNT) {
        uint32_t si = c - SBASE;
        out[(*m)++] = LBASE + si / NCOUNT;
        out[(*m)++] = VBASE + si % NCOUNT / TCOUNT;
        if (si % TCOUNT)
            out[(*m)++] = TBASE + si % TCOUNT;
        return;
    }
    if (c >= 0xc0) {
        size_t lo = 0, hi = N_DECOMP;
        while (lo < hi) {
            size_t k = lo + (hi - lo) / 2;
            if (c < tok_nfc_decomp[k].cp)
                hi = k;
            else if (c > tok_nfc_decomp[k].cp)
                lo = k + 1;
            else {
                decompose(tok_nfc_decomp[k].a, out, m);
                if (tok_nfc_decomp[k].b)
                    decompose(tok_nfc_decomp[k].b, out, m);
                return;
            }
        }
    }
    out[(*m)++] = c;
}

/* The primary composite of the pair (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a - LBASE < LCOUNT && b - VBASE < VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a - SBASE < SCOUNT && (a - SBASE) % TCOUNT == 0 && b - TBASE - 1 < TCOUNT - 1)
        return a + (b - TBASE);
    size_t lo = 0, hi = N_COMP;
    while (lo < hi) {
        size_t k = lo + (hi - lo) / 2;
        uint32_t ka = tok_nfc_decomp[tok_nfc_comp[k]].a, kb = tok_nfc_decomp[tok_nfc_comp[k]].b;
        if (a < ka || (a == ka && b < kb))
            hi = k;
        else if (a > ka || b > kb)
            lo = k + 1;
        else
            return tok_nfc_decomp[tok_nfc_comp[k]].cp;
    }
    return 0;
}

static size_t put_utf8(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3f));
    o[2] = (char)(0x80 | (c >> 6 & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

int cl_nfc(const char *text, size_t n, char **out, size_t *nout)
{
    *out = NULL;
    *nout = n;
    if (cl_nfc_quick(text, n))
        return 0;
    const uint8_t *s = (const uint8_t *)text;
    if (n > SIZE_MAX / (TOK_NFC_DECOMP_MAX * sizeof(uint32_t)) - 1)
        return -1;
    uint32_t *cp = malloc((n * TOK_NFC_DECOMP_MAX + 1) * sizeof *cp);
    uint8_t *cc = malloc(n * TOK_NFC_DECOMP_MAX + 1);
    if (!cp || !cc) {
        free(cp);
        free(cc);
        return -1;
    }
    /* decomposition */
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int k;
        uint32_t c = ucp(s + i, &k);
        i += (size_t)k;
        decompose(c, cp, &m);
    }
    /* canonical ordering: a stable insertion sort of each run of marks */
    for (size_t i = 0; i < m; i++) {
        uint32_t c = cp[i];
        uint8_t k = cc[i] = ccc_of(c);
        if (!k)
            continue;
        size_t j = i;
        for (; j > 0 && cc[j - 1] > k; j--) {
            cp[j] = cp[j - 1];
            cc[j] = cc[j - 1];
        }
        cp[j] = c;
        cc[j] = k;
    }
    /* canonical composition: c joins the last starter unless blocked by a
     * mark of class 0 (another starter) or of a class not below its own */
    size_t w = 0, starter = 0;
    int have = 0, last = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t c = cp[i];
        int k = cc[i];
        if (have && (last < k || last == 0)) {
            uint32_t x = compose(cp[starter], c);
            if (x) {
                cp[starter] = x;
                continue;
            }
        }
        if (k == 0) {
            have = 1;
            starter = w;
        }
        last = k;
        cp[w] = c;
        cc[w++] = (uint8_t)k;
    }
    free(cc);
    char *o = malloc(w * 4 + 1);
    if (!o) {
        free(cp);
        return -1;
    }
    size_t no = 0;
    for (size_t i = 0; i < w; i++)
        no += put_utf8(cp[i], o + no);
    o[no] = 0;
    free(cp);
    *out = o;
    *nout = no;
    return 0;
}
