/*
 * test_tokenizer_kinds.c -- the tokenizer.json of other models (GPT-2,
 * SmolLM, Llama-3, Qwen2, TinyLlama, Metaspace), built by PyPI's `tokenizers`
 * in tests/ref/tokenizers_ref.py: every case of its hard-case corpus encodes
 * to the ids `tokenizers` gave (tests/fixtures/tokenizers/expected.json),
 * decodes to what it decoded, and the post-processor's ids and eos agree.
 * Qwen2's NFC normalizer: a text not in NFC already is refused, never
 * encoded wrongly. Unsupported files are refused naming the JSON path.
 *
 * usage: test_tokenizer_kinds [FIXTURES_DIR]
 */
#include "check.h"
#include "tokenizer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TOK_FIXTURES
#define TOK_FIXTURES "tests/fixtures/tokenizers"
#endif

static size_t unhex(const char *h, char *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

static int total_cases, total_match, total_refused;

static void check_kind(const char *dir, const char *kind, json_t *want)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", dir, kind);
    cl_tokenizer *t = NULL;
    cl_error err;
    int rc = cl_tok_load(path, &t, &err);
    CHECK(rc == CL_OK, "%s: %s", kind, err.msg);
    if (rc)
        return;
    CHECK(cl_tok_vocab_size(t) == json_integer_value(json_object_get(want, "vocab_size")),
          "%s: vocab %d", kind, cl_tok_vocab_size(t));
    CHECK(cl_tok_eos(t) == json_integer_value(json_object_get(want, "eos")), "%s: eos %d", kind,
          cl_tok_eos(t));
    const int32_t *pre;
    int np = cl_tok_prefix(t, &pre);
    json_t *bos = json_object_get(want, "bos");
    CHECK(np == (int)json_array_size(bos), "%s: %d prefix ids", kind, np);
    for (int i = 0; i < np && i < (int)json_array_size(bos); i++)
        CHECK(pre[i] == json_integer_value(json_array_get(bos, i)), "%s: prefix id", kind);
    int lossless = json_is_true(json_object_get(want, "lossless"));
    CHECK(!lossless || cl_tok_lossless(t), "%s: lossless", kind);
    json_t *cases = json_object_get(want, "cases");
    char text[4096], back[4096], dec[4096];
    int match = 0, refused = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cj = json_array_get(cases, c), *ids = json_object_get(cj, "ids");
        size_t n = unhex(json_string_value(json_object_get(cj, "hex")), text);
        size_t nd = unhex(json_string_value(json_object_get(cj, "decoded_hex")), dec);
        int32_t *got = NULL;
        int ng = 0, cap = 0;
        rc = cl_tok_encode(t, text, n, &got, &ng, &cap, &err);
        total_cases++;
        if (rc == CL_ERR_UNSUPPORTED && !json_is_true(json_object_get(cj, "nfc"))) {
            CHECK_CONTAINS(err.msg, "NFC");
            refused++;
            free(got);
            continue;
        }
        CHECK(rc == CL_OK, "%s case %zu: %s", kind, c, err.msg);
        int same = rc == CL_OK && ng == (int)json_array_size(ids);
        for (int i = 0; same && i < ng; i++)
            same = got[i] == json_integer_value(json_array_get(ids, (size_t)i));
        CHECK(same, "%s case %zu (%.*s): %d ids, want %zu", kind, c, (int)n, text, ng,
              json_array_size(ids));
        if (!same) {
            fprintf(stderr, "  got :");
            for (int i = 0; i < ng; i++)
                fprintf(stderr, " %d", got[i]);
            fprintf(stderr, "\n  want:");
            for (size_t i = 0; i < json_array_size(ids); i++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(ids, i)));
            fprintf(stderr, "\n");
        }
        match += same;
        /* decoding the expected ids gives what `tokenizers` decoded */
        int32_t wid[1024];
        int nw = 0;
        for (size_t i = 0; i < json_array_size(ids) && nw < 1024; i++)
            wid[nw++] = (int32_t)json_integer_value(json_array_get(ids, i));
        size_t m = cl_tok_decode(t, wid, nw, back, sizeof back);
        CHECK(m == nd && !memcmp(back, dec, nd), "%s case %zu: decoded \"%.*s\", want \"%.*s\"",
              kind, c, (int)m, back, (int)nd, dec);
        free(got);
    }
    printf("test_tokenizer_kinds: %s: %d/%zu cases id-identical, %d refused (not NFC)\n", kind,
           match, json_array_size(cases), refused);
    total_match += match;
    total_refused += refused;
    cl_tok_free(t);
}

/* Unsupported parts are refused with the file, the JSON path and the value. */
static void check_refusals(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tinyllama/tokenizer.json", dir);
    json_t *base = json_load_file(path, 0, NULL);
    CHECK(base != NULL, "%s", path);
    if (!base)
        return;
    static const struct {
        const char *key, *json, *path;
    } bad[] = {
        {"normalizer", "{\"type\": \"NFKC\"}", "normalizer.type"},
        {"normalizer", "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Lowercase\"}]}",
         "normalizer.normalizers[0].type"},
        {"pre_tokenizer", "{\"type\": \"Whitespace\"}", "pre_tokenizer.type"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": "
                          "\"Contiguous\", \"invert\": false}", "pre_tokenizer.behavior"},
        {"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": "
                          "\"Isolated\", \"invert\": false}", "pre_tokenizer.pattern"},
        {"decoder", "{\"type\": \"WordPiece\"}", "decoder.type"},
        {"post_processor", "{\"type\": \"BertProcessing\"}", "post_processor.type"},
        {"truncation", "{\"max_length\": 8}", "truncation"},
        {"model.dropout", "0.1", "model.dropout"},
        {"model.continuing_subword_prefix", "\"##\"", "model.continuing_subword_prefix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_deep_copy(base), *v = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        if (!strncmp(bad[i].key, "model.", 6))
            json_object_set_new(json_object_get(j, "model"), bad[i].key + 6, v);
        else
            json_object_set_new(j, bad[i].key, v);
        char *s = json_dumps(j, 0);
        cl_tokenizer *t = NULL;
        cl_error err;
        int rc = cl_tok_parse(s, strlen(s), "bad.json", &t, &err);
        CHECK(rc == CL_ERR_UNSUPPORTED, "%s accepted (%d)", bad[i].json, rc);
        if (rc) {
            CHECK_CONTAINS(err.msg, "bad.json");
            CHECK_CONTAINS(err.msg, bad[i].path);
        }
        cl_tok_free(t);
        free(s);
        json_decref(j);
    }
    json_decref(base);
}

int main(int argc, char **argv)
{
    check_begin("test_tokenizer_kinds");
    const char *dir = argc > 1 ? argv[1] : TOK_FIXTURES;
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL, "%s: %s", path, je.text);
    json_t *kinds = json_object_get(root, "kinds");
    const char *kind;
    json_t *want;
    json_object_foreach(kinds, kind, want) check_kind(dir, kind, want);
    CHECK(json_object_size(kinds) >= 6, "%zu kinds", json_object_size(kinds));
    printf("test_tokenizer_kinds: %d cases over %zu kinds: %d id-identical, %d refused (NFC)\n",
           total_cases, json_object_size(kinds), total_match, total_refused);
    check_refusals(dir);
    json_decref(root);
    return check_done();
}
