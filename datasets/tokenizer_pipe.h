/*
 * tokenizer_pipe.h -- what the two halves of other models' tokenizers share
 * (datasets/, not installed): the pipeline read from tokenizer.json
 * (tokenizer_pipe_json.c) and run on text (tokenizer_pipe.c).
 */
#ifndef TOKENIZER_PIPE_H
#define TOKENIZER_PIPE_H

#include "tokenizer.h"
#include "tokenizer_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#define GPT2_PATTERN                                                                      \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

enum { N_NFC, N_PREPEND, N_REPLACE };
enum { P_SPLIT, P_BYTELEVEL, P_METASPACE };
enum { B_ISOLATED, B_REMOVED, B_PREV, B_NEXT };
enum { D_BYTELEVEL, D_REPLACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_METASPACE };
enum { S_NEVER, S_FIRST, S_ALWAYS };

typedef struct norm_op {
    int kind;
    char *a, *b; /* Prepend: a; Replace: a -> b (a NULL: re) */
    pcre2_code *re;
} norm_op;

typedef struct pre_op {
    int kind, behavior, invert, prefix_space, scheme, split;
    pcre2_code *re; /* Split, ByteLevel with use_regex */
    char *repl;     /* Metaspace */
} pre_op;

typedef struct dec_op {
    int kind, start, stop, scheme;
    char *a, *b;
} dec_op;

typedef struct added_tok {
    int id, lstrip, rstrip, single_word;
    const uint8_t *s;
    int n;
} added_tok;

struct tok_pipe {
    int bytelevel, byte_fallback, unk, fuse_unk, ignore_merges, lossless, has_template;
    norm_op *norm;
    int n_norm;
    pre_op *pre;
    int n_pre;
    dec_op *dec;
    int n_dec;
    added_tok *add;
    int n_add;
    int32_t fb[256];
    pcre2_match_data *md;
};

static const char NOMEM[] = "%s: out of memory"; /* a message of both halves */

#endif
