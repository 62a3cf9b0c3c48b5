/*
 * tokenizer_internal.h -- the tokenizer's state, shared by tokenizer.c
 * (training, encoding) and tokenizer_json.c (the file format).
 */
#ifndef CL_TOKENIZER_INTERNAL_H
#define CL_TOKENIZER_INTERNAL_H

#include "tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The pre-tokenisation pattern as `tokenizers` receives it (tokenizer.c
 * implements the same split by hand). */
#define COLLIDE_SPLIT_PATTERN                                                  \
    " ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9 \\t\\n\\r\\f\\v]+|[ \\t\\n\\r\\f\\v]+(?![^ \\t\\n\\r\\f\\v])" \
    "|[ \\t\\n\\r\\f\\v]+"

typedef struct tok_str {
    uint8_t *b;
    int n;
} tok_str;

/* Open addressing from a 64-bit key to an int; keys are never 0 (we add 1). */
typedef struct imap {
    uint64_t *key;
    int32_t *val;
    size_t cap, n;
} imap;

static inline uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static inline int imap_grow(imap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = calloc(cap, sizeof *k);
    int32_t *v = calloc(cap, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i]) {
            size_t j = hash64(m->key[i]) & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = m->key[i];
            v[j] = m->val[i];
        }
    free(m->key);
    free(m->val);
    m->key = k;
    m->val = v;
    m->cap = cap;
    return 0;
}

static inline int32_t *imap_slot(imap *m, uint64_t key, int insert)
{
    key += 1;
    if (insert && (m->n + 1) * 2 > m->cap && imap_grow(m))
        return NULL;
    if (!m->cap)
        return NULL;
    size_t j = hash64(key) & (m->cap - 1);
    while (m->key[j] && m->key[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->key[j]) {
        if (!insert)
            return NULL;
        m->key[j] = key;
        m->val[j] = 0;
        m->n++;
    }
    return &m->val[j];
}

static inline void imap_free(imap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static inline uint64_t pair_key(int a, int b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

struct cl_tokenizer {
    int n;             /* tokens, end-of-text included */
    tok_str *tok;
    int n_merges;
    int32_t (*merge)[2];   /* the pair merged at each rank          */
    int32_t *merge_id;     /* the token it makes                     */
    int32_t byte_id[256];  /* the token of each single byte          */
    imap rank;         /* pair -> merge rank */
    int eos;
    imap cache;        /* piece hash -> index into cache entries */
    struct { uint8_t *s; int len; int32_t *ids; int n; } *centry;
    int n_centry, cap_centry;
    /* tokenizers other than collide's own (tokenizer_pipe.c); NULL for it */
    struct tok_pipe *pipe;
    imap by_str;       /* token bytes hash -> id + 1 (pipe kinds) */
    int32_t *prefix, *suffix; /* ids the post-processor adds around a text */
    int n_prefix, n_suffix;
};

/* tokenizer.c: the ids of one pre-tokenized piece (BPE, cached). */
int tok_piece_ids(cl_tokenizer *t, const uint8_t *s, int len, int32_t *out);
/* The id of a token given by its bytes, or -1. */
int tok_lookup(const cl_tokenizer *t, const uint8_t *s, int n);

/* tokenizer_pipe.c: normalizers, pre-tokenizers, added tokens, decoders and
 * the post-processor as tokenizer.json describes them. tok_pipe_parse reads
 * everything but model.vocab/merges; *bytelevel tells how tokens are spelled. */
int tok_pipe_parse(cl_tokenizer *t, json_t *root, const char *name, int *bytelevel,
                   cl_error *err);
/* After the vocabulary: added tokens' flags, the post-processor's ids, eos. */
int tok_pipe_finish(cl_tokenizer *t, json_t *root, const char *name, cl_error *err);
void tok_pipe_free(struct tok_pipe *p);
/* cl_tok_load: eos / bos from tokenizer_config.json (or config.json) beside path. */
int tok_pipe_config(cl_tokenizer *t, const char *path, cl_error *err);
/* The initial symbols of a piece for BPE (at most len); *whole set when the
 * piece is one token already (ignore_merges). */
int tok_pipe_symbols(const cl_tokenizer *t, const uint8_t *s, int len, int32_t *out, int *whole);
int tok_pipe_encode(cl_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n,
                    int *cap, cl_error *err);
size_t tok_pipe_decode(const cl_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap);
int tok_push_ids(int32_t **ids, int *n, int *cap, const int32_t *add, int k, cl_error *err);

static inline uint64_t tok_hash(const uint8_t *s, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (uint64_t)n;
}

#endif
