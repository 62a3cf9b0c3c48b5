/*
 * test_tokenizer_kinds.c -- the tokenizer.json of other models (GPT-2,
 * SmolLM, Llama-3, Qwen2, TinyLlama, Metaspace), built by PyPI's `tokenizers`
 * in tests/ref/tokenizers_ref.py: every case of its hard-case corpus encodes
 * to the ids `tokenizers` gave (tests/fixtures/tokenizers/expected.json),
 * decodes to what it decoded, and the post-processor's ids and eos agree:
 * every case of every kind id-identical, none refused (Qwen2's NFC
 * normalizer included, on text not in NFC). collide's NFC itself (nfc.c)
 * gives unicodedata.normalize("NFC", s) for each string of nfc.json.
 * Unsupported files are refused naming the JSON path.
 *
 * usage: test_tokenizer_kinds [FIXTURES_DIR]
 */
#include "check.h"
#include "nfc.h"
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

static int total_cases, total_match;

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
    int match = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cj = json_array_get(cases, c), *ids = json_object_get(cj, "ids");
        size_t n = unhex(json_string_value(json_object_get(cj, "hex")), text);
        size_t nd = unhex(json_string_value(json_object_get(cj, "decoded_hex")), dec);
        int32_t *got = NULL;
        int ng = 0, cap = 0;
        rc = cl_tok_encode(t, text, n, &got, &ng, &cap, &err);
        total_cases++;
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
    int not_nfc = 0;
    for (size_t c = 0; c < json_array_size(cases); c++)
        not_nfc += !json_is_true(json_object_get(json_array_get(cases, c), "nfc"));
    CHECK(match == (int)json_array_size(cases), "%s: %d/%zu cases id-identical", kind, match,
          json_array_size(cases));
    printf("test_tokenizer_kinds: %s: %d/%zu cases id-identical (%d not in NFC)\n", kind, match,
           json_array_size(cases), not_nfc);
    total_match += match;
    cl_tok_free(t);
}

/* collide's NFC against unicodedata.normalize("NFC", s) (nfc.json). */
static void check_nfc(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nfc.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL, "%s: %s", path, je.text);
    json_t *cases = json_object_get(root, "cases");
    int same = 0, changed = 0;
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const char *h = json_string_value(json_object_get(json_array_get(cases, c), "hex"));
        const char *w = json_string_value(json_object_get(json_array_get(cases, c), "nfc_hex"));
        char *text = malloc(strlen(h) / 2 + 1), *want = malloc(strlen(w) / 2 + 1), *got;
        size_t n = unhex(h, text), nw = unhex(w, want), ng;
        int rc = cl_nfc(text, n, &got, &ng);
        CHECK(rc == 0, "nfc case %zu: %d", c, rc);
        const char *g = got ? got : text;
        int ok = rc == 0 && ng == nw && !memcmp(g, want, nw);
        CHECK(ok, "nfc case %zu (%zu bytes): %zu bytes, want %zu", c, n, ng, nw);
        /* the quick check never calls NFC a text that NFC changes */
        CHECK(!cl_nfc_quick(text, n) || (n == nw && !memcmp(text, want, n)), "nfc quick %zu", c);
        same += ok;
        changed += n != nw || memcmp(text, want, n) != 0;
        free(got);
        free(text);
        free(want);
    }
    CHECK(json_array_size(cases) > 0 && same == (int)json_array_size(cases), "nfc %d/%zu", same,
          json_array_size(cases));
    printf("test_tokenizer_kinds: NFC (unicodedata %s): %d/%zu strings equal (%d not in NFC)\n",
           json_string_value(json_object_get(root, "unicode")), same, json_array_size(cases),
           changed);
    json_decref(root);
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
    CHECK(total_cases > 0 && total_match == total_cases, "%d/%d id-identical", total_match,
          total_cases);
    printf("test_tokenizer_kinds: %d cases over %zu kinds: %d id-identical\n", total_cases,
           json_object_size(kinds), total_match);
    check_nfc(dir);
    check_refusals(dir);
    json_decref(root);
    return check_done();
}
