/*
 * fuzz_tokenizer.c -- libFuzzer target for the tokenizer, twice over:
 *
 *   1. the input as a tokenizer.json (cl_tok_parse): rejected with a message
 *      naming it, or accepted -- and then a fixed text, end-of-text marker
 *      included, must encode and decode back to itself, byte for byte;
 *   2. the input as text, encoded by a small tokenizer trained once at start
 *      (cl_tok_train): every id in range, and decoding gives the input back.
 *
 * Byte-level BPE is lossless on any bytes, so both round trips are exact;
 * other models' tokenizers (seeds gpt2.json .. tinyllama.json) are checked
 * for exactness only where cl_tok_lossless says so.
 */
#include "tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cl_tokenizer *trained;

static const char *corpus[] = {
    "the quick brown fox jumps over the lazy dog",
    ("Task:TC\nDataset:agnews\nWhat is the topic of the following paragraph? Option: World, "
     "Sports\n"),
    "numbers 12345 and 678, punctuation!? (yes) -- \"quotes\" \t tabs\n\nnewlines",
    "\xc3\xa9t\xc3\xa9 caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80 <|endoftext|> end",
};

static void roundtrip(cl_tokenizer *t, const char *text, size_t n)
{
    int32_t *ids = NULL;
    int k = 0, cap = 0;
    cl_error err;
    int rc = cl_tok_encode(t, text, n, &ids, &k, &cap, &err);
    if (rc != CL_OK)
        abort(); /* encoding is total */
    for (int i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= cl_tok_vocab_size(t))
            abort();
    char *back = malloc(n + 1);
    if (!back)
        abort();
    size_t m = cl_tok_decode(t, ids, k, back, n + 1);
    if (cl_tok_lossless(t) && (m != n || memcmp(back, text, n)))
        abort(); /* lossless (other models' normalizers may not be) */
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_error err;
    if (!trained) {
        size_t lens[4];
        for (int i = 0; i < 4; i++)
            lens[i] = strlen(corpus[i]);
        if (cl_tok_train(corpus, lens, 4, 300, &trained, &err) != CL_OK)
            abort();
    }
    cl_tokenizer *t;
    if (cl_tok_parse((const char *)data, size, "fuzz.json", &t, &err) == CL_OK) {
        for (int i = 0; i < 4; i++)
            roundtrip(t, corpus[i], strlen(corpus[i]));
        cl_tok_free(t);
    } else if (!strstr(err.msg, "fuzz.json")) {
        abort(); /* every message names the file */
    }
    roundtrip(trained, (const char *)data, size);
    return 0;
}
