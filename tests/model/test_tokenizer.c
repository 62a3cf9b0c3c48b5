/*
 * test_tokenizer.c -- the byte-level BPE tokenizer: the pre-tokenizer's
 * pieces on known cases, a lossless round trip on arbitrary bytes (invalid
 * UTF-8 included), deterministic training, save/load giving identical ids,
 * and the end-of-text marker.
 *
 * usage: test_tokenizer [--emit DIR]   (--emit writes DIR/tokenizer.json and
 * DIR/ids.json for tests/model/test_tokenizer_hf.py, which checks that
 * PyPI's `tokenizers` encodes the same text to the same ids)
 */
#include "../check.h"
#include "tokenizer.h"

#include <jansson.h>

static const char *corpus[] = {
    "The quick brown fox jumps over the lazy dog. The dog sleeps.",
    "Title: Intel Seen Readying New Wi-Fi Chips (Reuters)\nText: Reuters - Intel Corp. this week is "
    "expected to introduce a chip that adds support for Wi-Fi.",
    "Sentiment: positive. The movie was great, great, great!!! 10/10 would watch again.",
    "numbers 12345 and 3.14159 and 2024-11-23; tabs\tand  double  spaces\n\nparagraphs",
    "naïve café résumé — Zürich 東京 😀 emoji",
};

const char *TEST_TEXT =
    "Hello world!  Multiple   spaces\n\nnew lines\t tabs 12345 3.14 naïve café 東京 — 😀 "
    "don't <|endoftext|> after the end\n Option: World, Sports \nAnswer: Sports";

static cl_tokenizer *train(int vocab)
{
    size_t n = sizeof corpus / sizeof corpus[0], lens[8];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(corpus[i]);
    cl_tokenizer *t;
    cl_error err;
    CHECK(cl_tok_train(corpus, lens, n, vocab, &t, &err) == CL_OK, "%s", err.msg);
    return t;
}

static void test_pieces(void)
{
    struct {
        const char *text;
        const char *pieces[12];
    } cases[] = {
        {"Hello world", {"Hello", " world"}},
        {"a  b", {"a", " ", " b"}},
        {"x\n\ny", {"x", "\n", "\n", "y"}},
        {"12ab 3", {"12", "ab", " 3"}},
        {"end.  ", {"end", ".", "  "}},
        {"  \tq", {"  ", "\t", "q"}},
        {"caf\xc3\xa9!", {"caf", "\xc3\xa9!"}},
        {" (x)", {" (", "x", ")"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *s = cases[c].text;
        size_t len = strlen(s), i = 0;
        int k = 0;
        while (i < len) {
            size_t p = cl_tok_piece(s, len, i);
            const char *want = cases[c].pieces[k];
            CHECK(want && p == strlen(want) && !memcmp(s + i, want, p),
                  "\"%s\": piece %d is \"%.*s\", expected \"%s\"", s, k, (int)p, s + i,
                  want ? want : "(none)");
            i += p;
            k++;
        }
        CHECK(cases[c].pieces[k] == NULL, "\"%s\": %d pieces, more expected", s, k);
    }
}

static void test_round_trip(cl_tokenizer *t)
{
    cl_rng g;
    cl_rng_seed(&g, 1);
    int32_t *ids = NULL;
    int n, cap = 0;
    cl_error err;
    for (int trial = 0; trial < 200; trial++) {
        char buf[300], back[1200];
        size_t len = (size_t)cl_rng_below(&g, sizeof buf);
        for (size_t i = 0; i < len; i++) /* arbitrary bytes, often ASCII-ish */
            buf[i] = (char)(trial % 2 ? cl_rng_below(&g, 256) : 32 + cl_rng_below(&g, 95));
        n = 0;
        CHECK(cl_tok_encode(t, buf, len, &ids, &n, &cap, &err) == CL_OK, "%s", err.msg);
        size_t out = cl_tok_decode(t, ids, n, back, sizeof back);
        CHECK(out == len && !memcmp(back, buf, len), "trial %d: round trip changed %zu bytes", trial,
              len);
        for (int i = 0; i < n; i++)
            CHECK(ids[i] >= 0 && ids[i] < cl_tok_vocab_size(t), "id out of range");
    }
    free(ids);
}

static void test_save_load(cl_tokenizer *t)
{
    char dir[] = "/tmp/collide-tok-XXXXXX", path[300];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    cl_error err;
    CHECK(cl_tok_save(t, path, &err) == CL_OK, "%s", err.msg);
    cl_tokenizer *u;
    CHECK(cl_tok_load(path, &u, &err) == CL_OK, "%s", err.msg);
    if (!u)
        return;
    CHECK(cl_tok_vocab_size(u) == cl_tok_vocab_size(t) && cl_tok_eos(u) == cl_tok_eos(t), "sizes");
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0, ca = 0, cb = 0;
    cl_tok_encode(t, TEST_TEXT, strlen(TEST_TEXT), &a, &na, &ca, &err);
    cl_tok_encode(u, TEST_TEXT, strlen(TEST_TEXT), &b, &nb, &cb, &err);
    CHECK(na == nb && !memcmp(a, b, (size_t)na * sizeof *a), "reloaded tokenizer encodes differently");
    int eos_seen = 0;
    for (int i = 0; i < na; i++)
        eos_seen += a[i] == cl_tok_eos(t);
    CHECK(eos_seen == 1, "end-of-text marker encoded as one token (%d)", eos_seen);
    CHECK(na < (int)strlen(TEST_TEXT) * 9 / 10, "merges compress: %d ids for %zu bytes", na,
          strlen(TEST_TEXT));
    cl_tok_free(u);
    u = NULL;
    /* a damaged file is refused with the file and the reason */
    FILE *f = fopen(path, "w");
    fputs("{\"model\": {\"type\": \"WordPiece\"}}", f);
    fclose(f);
    CHECK(cl_tok_load(path, &u, &err) == CL_ERR_FORMAT, "wrong model type accepted");
    CHECK_CONTAINS(err.msg, path);
    free(a);
    free(b);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path) != 0)
        CHECK(0, "cleanup");
}

static int emit(const char *dir)
{
    cl_tokenizer *t = train(400);
    char path[600];
    cl_error err;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (cl_tok_save(t, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int32_t *ids = NULL;
    int n = 0, cap = 0;
    cl_tok_encode(t, TEST_TEXT, strlen(TEST_TEXT), &ids, &n, &cap, &err);
    json_t *j = json_object(), *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_integer(ids[i]));
    json_object_set_new(j, "text", json_string(TEST_TEXT));
    json_object_set_new(j, "ids", arr);
    snprintf(path, sizeof path, "%s/ids.json", dir);
    json_dump_file(j, path, JSON_INDENT(1));
    json_decref(j);
    free(ids);
    cl_tok_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--emit"))
        return emit(argv[2]);
    check_begin("test_tokenizer");
    test_pieces();
    cl_tokenizer *t = train(400), *t2 = train(400);
    /* determinism: two trainings give the same encoding */
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0, ca = 0, cb = 0;
    cl_error err;
    cl_tok_encode(t, TEST_TEXT, strlen(TEST_TEXT), &a, &na, &ca, &err);
    cl_tok_encode(t2, TEST_TEXT, strlen(TEST_TEXT), &b, &nb, &cb, &err);
    CHECK(na == nb && !memcmp(a, b, (size_t)na * sizeof *a), "training is not deterministic");
    CHECK(cl_tok_vocab_size(t) <= 400 && cl_tok_vocab_size(t) > 300, "vocabulary %d",
          cl_tok_vocab_size(t));
    free(a);
    free(b);
    test_round_trip(t);
    test_save_load(t);
    cl_tok_free(t);
    cl_tok_free(t2);
    return check_done();
}
