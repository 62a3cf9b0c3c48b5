/*
 * test_safetensors.c -- the safetensors reader against hostile input: every
 * malformed case is its own named test with the message it must give, both
 * for an in-memory buffer (cl_st_parse) and for a file (cl_st_open); then
 * well-formed files, reading errors and the writer's refusals.
 *
 * usage: test_safetensors [CASE]   (no CASE: all; --list: the names)
 * tests/import/CMakeLists.txt registers one ctest per ST_CASE / ST_TEST name.
 */
#include "check.h"

#include "collide.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

/* A malformed file: the 8-byte length (the header's own unless len is
 * given), the header bytes, data_len bytes of data, then cut to cut bytes
 * when cut >= 0. */
typedef struct st_case {
    const char *name;
    const char *header;
    size_t hlen;       /* 0: strlen(header) */
    uint64_t len;      /* 0: hlen */
    size_t data_len;
    long cut;          /* -1: no cut */
    int code;
    const char *msg;
} st_case;

#define ST_CASE(name, header, hlen, len, data_len, cut, code, msg) \
    {name, header, hlen, len, data_len, cut, code, msg}
#define F32x4(off0, off1) "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" #off0 "," #off1 "]}"

static char deep[5000]; /* {"a": [[[[ ... ]]]]}, filled in main */

static const st_case cases[] = {
    ST_CASE("empty_file", "", 0, 0, 0, 0, CL_ERR_FORMAT, "0 bytes, too short for a safetensors file"),
    ST_CASE("truncated_header_length", "{}", 0, 0, 0, 5, CL_ERR_FORMAT,
            "5 bytes, too short for a safetensors file"),
    ST_CASE("header_length_past_end", "{}", 0, 64, 0, -1, CL_ERR_FORMAT,
            "header length 64 runs past the end of the 10-byte file"),
    ST_CASE("header_length_huge", "{}", 0, UINT64_MAX, 0, -1, CL_ERR_FORMAT,
            "header length 18446744073709551615 exceeds the 104857600-byte limit"),
    ST_CASE("header_length_over_limit", "{}", 0, (100u << 20) + 1, 0, -1, CL_ERR_FORMAT,
            "exceeds the 104857600-byte limit"),
    ST_CASE("header_empty", "", 0, 0, 4, -1, CL_ERR_FORMAT, "header: does not start with a JSON object"),
    ST_CASE("header_array", "[1, 2]", 0, 0, 0, -1, CL_ERR_FORMAT, "does not start with a JSON object"),
    ST_CASE("header_string", "\"text\"", 0, 0, 0, -1, CL_ERR_FORMAT,
            "does not start with a JSON object"),
    ST_CASE("header_leading_space", " {}", 0, 0, 0, -1, CL_ERR_FORMAT,
            "does not start with a JSON object"),
    ST_CASE("invalid_json", "{\"a\": }", 0, 0, 0, -1, CL_ERR_FORMAT, "header: invalid JSON at byte"),
    ST_CASE("json_trailing_garbage", "{} x", 0, 0, 0, -1, CL_ERR_FORMAT, "invalid JSON"),
    ST_CASE("invalid_utf8", "{\"\xff\": 1}", 0, 0, 0, -1, CL_ERR_FORMAT, "invalid JSON"),
    ST_CASE("deep_nesting", deep, 0, 0, 0, -1, CL_ERR_FORMAT, "maximum parsing depth"),
    ST_CASE("nul_in_header", "{\"a\":\0}", 7, 0, 0, -1, CL_ERR_FORMAT, "contains a NUL byte at 5"),
    ST_CASE("nul_padding", "{}\0\0\0\0\0\0", 8, 0, 0, -1, CL_ERR_FORMAT, "contains a NUL byte at 2"),
    ST_CASE("duplicate_names", "{\"a\":" F32x4(0, 16) ",\"a\":" F32x4(16, 32) "}", 0, 0, 32, -1,
            CL_ERR_FORMAT, "duplicate object key"),
    ST_CASE("entry_not_object", "{\"a\": 5}", 0, 0, 0, -1, CL_ERR_FORMAT,
            "tensor 'a': entry is not an object"),
    ST_CASE("empty_name", "{\"\":" F32x4(0, 16) "}", 0, 0, 16, -1, CL_ERR_FORMAT,
            "a tensor has an empty name"),
    ST_CASE("missing_dtype", "{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 0, 0, 16, -1,
            CL_ERR_FORMAT, "tensor 'a': needs string dtype, array shape and data_offsets"),
    ST_CASE("shape_not_array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 0, 0,
            16, -1, CL_ERR_FORMAT, "tensor 'a': needs string dtype"),
    ST_CASE("unknown_dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 0,
            0, 4, -1, CL_ERR_UNSUPPORTED, "tensor 'a': unknown dtype 'F8_E4M3'"),
    ST_CASE("negative_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,8]}}", 0,
            0, 8, -1, CL_ERR_FORMAT, "tensor 'a': shape[0] is not a non-negative integer"),
    ST_CASE("fractional_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2.5],\"data_offsets\":[0,20]}}",
            0, 0, 20, -1, CL_ERR_FORMAT, "tensor 'a': shape[1] is not a non-negative integer"),
    ST_CASE("string_shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}}", 0,
            0, 16, -1, CL_ERR_FORMAT, "shape[0] is not a non-negative integer"),
    ST_CASE("too_many_dims",
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 0, 0, 1,
            -1, CL_ERR_FORMAT, "tensor 'a': 9 dimensions (at most 8)"),
    ST_CASE("shape_product_overflow",
            "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0,
            0, 0, -1, CL_ERR_FORMAT, "tensor 'a': shape overflows"),
    ST_CASE("byte_size_overflow",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, 0,
            0, -1, CL_ERR_FORMAT, "shape x F32 size is 18446744073709551615 bytes, data_offsets span 0"),
    ST_CASE("size_mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 0, 0,
            16, -1, CL_ERR_FORMAT, "tensor 'a': shape x F32 size is 16 bytes, data_offsets span 12"),
    ST_CASE("size_mismatch_bf16", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0,
            0, 16, -1, CL_ERR_FORMAT, "shape x BF16 size is 8 bytes, data_offsets span 16"),
    ST_CASE("offsets_past_data", "{\"a\":" F32x4(0, 16) "}", 0, 0, 8, -1, CL_ERR_FORMAT,
            "tensor 'a': data_offsets [0, 16] outside the 8-byte data buffer"),
    ST_CASE("truncated_data", "{\"a\":" F32x4(0, 16) "}", 0, 0, 12, -1, CL_ERR_FORMAT,
            "outside the 12-byte data buffer"),
    ST_CASE("begin_after_end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 0, 0,
            8, -1, CL_ERR_FORMAT, "tensor 'a': data_offsets [8, 4]: begin is after end"),
    ST_CASE("negative_offset", "{\"a\":" F32x4(-4, 12) "}", 0, 0, 16, -1, CL_ERR_FORMAT,
            "tensor 'a': data_offsets must be two non-negative integers"),
    ST_CASE("three_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 0, 0,
            8, -1, CL_ERR_FORMAT, "data_offsets must be two non-negative integers"),
    ST_CASE("float_offset", "{\"a\":" F32x4(0, 16.0) "}", 0, 0, 16, -1, CL_ERR_FORMAT,
            "data_offsets must be two non-negative integers"),
    ST_CASE("offset_beyond_int64", "{\"a\":" F32x4(0, 99999999999999999999) "}", 0, 0, 16, -1,
            CL_ERR_FORMAT, "invalid JSON"),
    ST_CASE("overlap", "{\"a\":" F32x4(0, 16) ",\"b\":" F32x4(8, 24) "}", 0, 0, 24, -1, CL_ERR_FORMAT,
            "tensor 'b': data_offsets [8, 24] overlap tensor 'a' [0, 16]"),
    ST_CASE("overlap_same_range", "{\"a\":" F32x4(0, 16) ",\"b\":" F32x4(0, 16) "}", 0, 0, 16, -1,
            CL_ERR_FORMAT, "overlap tensor"),
    /* an empty tensor between two overlapping ones once hid the overlap */
    ST_CASE("overlap_hidden_by_empty",
            "{\"a\":" F32x4(0, 16) ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
            "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
            0, 0, 16, -1, CL_ERR_FORMAT, "tensor 'c': data_offsets [8, 12] overlap tensor 'a' [0, 16]"),
    ST_CASE("metadata_not_object", "{\"__metadata__\": [\"pt\"]}", 0, 0, 0, -1, CL_ERR_FORMAT,
            "__metadata__: not an object"),
    ST_CASE("metadata_value_not_string", "{\"__metadata__\": {\"format\": 1}}", 0, 0, 0, -1,
            CL_ERR_FORMAT, "__metadata__.format: not a string"),
    ST_CASE("metadata_twice", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0, 0, 0, -1,
            CL_ERR_FORMAT, "duplicate object key"),
};

static void put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* The bytes of a case; *n its length. */
static uint8_t *case_bytes(const st_case *c, size_t *n)
{
    size_t hl = c->hlen ? c->hlen : strlen(c->header);
    size_t total = 8 + hl + c->data_len;
    uint8_t *b = calloc(total + 1, 1);
    put_le64(b, c->len ? c->len : hl);
    memcpy(b + 8, c->header, hl);
    for (size_t i = 0; i < c->data_len; i++)
        b[8 + hl + i] = (uint8_t)(i * 7 + 1);
    *n = c->cut >= 0 && (size_t)c->cut < total ? (size_t)c->cut : total;
    return b;
}

static void write_file(const char *p, const uint8_t *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (n)
        fwrite(b, 1, n, f);
    fclose(f);
}

static void run_case(const st_case *c)
{
    size_t n;
    uint8_t *b = case_bytes(c, &n);
    cl_error err;
    cl_safetensors *st = NULL;
    /* in memory */
    int rc = cl_st_parse(b, n, "mem.safetensors", &st, &err);
    CHECK(rc == c->code, "%s: parse: code %d, expected %d (%s)", c->name, rc, c->code,
          rc ? err.msg : "parsed");
    if (rc) {
        CHECK_CONTAINS(err.msg, "mem.safetensors: ");
        CHECK_CONTAINS(err.msg, c->msg);
    }
    CHECK(rc ? st == NULL : 1, "%s: object returned with an error", c->name);
    cl_st_close(st);
    /* from a file */
    char p[400];
    snprintf(p, sizeof p, "%s/%s.safetensors", dir, c->name);
    write_file(p, b, n);
    rc = cl_st_open(p, &st, &err);
    CHECK(rc == c->code, "%s: open: code %d, expected %d (%s)", c->name, rc, c->code,
          rc ? err.msg : "opened");
    if (rc) {
        CHECK_CONTAINS(err.msg, p);
        CHECK_CONTAINS(err.msg, c->msg);
    }
    cl_st_close(st);
    unlink(p);
    free(b);
}

/* ------------------------------------------------------ well-formed files */

static void t_valid_all_dtypes(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/valid.safetensors", dir);
    float f32[6] = {1.5f, -2.25f, 0, 3e-5f, -1e10f, 7};
    uint16_t f16[3] = {0x3c00, 0xc000, 0x0001}; /* 1, -2, smallest subnormal */
    uint16_t bf16[2] = {0x3f80, 0xc0a0};        /* 1, -5 */
    double f64[2] = {0.1, -4};
    int32_t i32[2] = {-7, 9};
    int64_t i64[2] = {INT32_MAX, INT32_MIN};
    uint8_t u8[3] = {1, 2, 3};
    cl_st_write_tensor w[] = {
        {"f32", CL_ST_F32, 2, {2, 3}, f32}, {"f16", CL_ST_F16, 1, {3}, f16},
        {"bf16", CL_ST_BF16, 1, {2}, bf16}, {"f64", CL_ST_F64, 1, {2}, f64},
        {"i32", CL_ST_I32, 1, {2}, i32},   {"i64", CL_ST_I64, 1, {2}, i64},
        {"u8", CL_ST_U8, 1, {3}, u8},      {"empty", CL_ST_F32, 2, {0, 4}, NULL},
        {"scalar", CL_ST_F32, 0, {0}, f32}};
    const char *meta[] = {"format", "pt", "note", "x"};
    cl_error err;
    CHECK(cl_st_write(p, w, 9, meta, 2, &err) == CL_OK, "%s", err.msg);
    for (int mode = 0; mode < 2; mode++) {
        cl_safetensors *st = NULL;
        uint8_t *buf = NULL;
        if (mode == 0) {
            CHECK(cl_st_open(p, &st, &err) == CL_OK, "%s", err.msg);
        } else {
            FILE *f = fopen(p, "rb");
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            rewind(f);
            buf = malloc((size_t)n);
            CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n, "read back");
            fclose(f);
            CHECK(cl_st_parse(buf, (size_t)n, "mem", &st, &err) == CL_OK, "%s", err.msg);
        }
        if (!st) {
            free(buf);
            continue;
        }
        CHECK(cl_st_count(st) == 9, "count %d", cl_st_count(st));
        CHECK(!strcmp(cl_st_metadata(st, "format"), "pt") && !strcmp(cl_st_metadata(st, "note"), "x") &&
                  !cl_st_metadata(st, "missing"),
              "metadata");
        float o[6];
        const cl_st_tensor *t = cl_st_find(st, "f32");
        CHECK(t && t->ndim == 2 && t->shape[1] == 3 && t->count == 6, "f32 shape");
        CHECK(t && cl_st_read_f32(st, t, o, &err) == CL_OK && !memcmp(o, f32, sizeof f32), "f32 values");
        t = cl_st_find(st, "f16");
        CHECK(t && cl_st_read_f32(st, t, o, &err) == CL_OK && o[0] == 1 && o[1] == -2 &&
                  o[2] == 0x1p-24f,
              "f16 values %g %g %g", o[0], o[1], o[2]);
        t = cl_st_find(st, "bf16");
        CHECK(t && cl_st_read_f32(st, t, o, &err) == CL_OK && o[0] == 1 && o[1] == -5, "bf16 values");
        t = cl_st_find(st, "f64");
        CHECK(t && cl_st_read_f32(st, t, o, &err) == CL_OK && o[0] == 0.1f && o[1] == -4, "f64 values");
        int32_t iv[2];
        t = cl_st_find(st, "i64");
        CHECK(t && cl_st_read_i32(st, t, iv, &err) == CL_OK && iv[0] == INT32_MAX && iv[1] == INT32_MIN,
              "i64 values");
        t = cl_st_find(st, "i32");
        CHECK(t && cl_st_read_i32(st, t, iv, &err) == CL_OK && iv[0] == -7 && iv[1] == 9, "i32 values");
        t = cl_st_find(st, "empty");
        CHECK(t && t->count == 0 && t->begin == t->end && cl_st_read_f32(st, t, o, &err) == CL_OK,
              "empty tensor");
        t = cl_st_find(st, "scalar");
        CHECK(t && t->ndim == 0 && t->count == 1 && cl_st_read_f32(st, t, o, &err) == CL_OK &&
                  o[0] == 1.5f,
              "scalar");
        /* reading a tensor as the wrong kind */
        CHECK(cl_st_read_f32(st, cl_st_find(st, "u8"), o, &err) == CL_ERR_UNSUPPORTED, "u8 as float");
        CHECK_CONTAINS(err.msg, "tensor 'u8': dtype U8 is not a float");
        CHECK(cl_st_read_i32(st, cl_st_find(st, "f32"), iv, &err) == CL_ERR_UNSUPPORTED, "f32 as int");
        CHECK_CONTAINS(err.msg, "dtype F32 is not I32 or I64");
        cl_st_close(st);
        free(buf);
    }
    unlink(p);
}

/* The data start needs no alignment; trailing spaces in the header are
 * allowed (PyTorch pads to 8 bytes). */
static void t_valid_padding(void)
{
    const char *hs[] = {"{\"a\":" F32x4(0, 16) "}", "{\"a\":" F32x4(0, 16) "}     ",
                        "{\"a\":" F32x4(0, 16) ",\"__metadata__\":{}}"};
    for (int i = 0; i < 3; i++) {
        st_case c = {"valid", hs[i], 0, 0, 16, -1, 0, ""};
        size_t n;
        uint8_t *b = case_bytes(&c, &n);
        cl_safetensors *st;
        cl_error err;
        CHECK(cl_st_parse(b, n, "mem", &st, &err) == CL_OK, "header %d: %s", i, err.msg);
        if (st) {
            float v[4];
            CHECK(cl_st_read_f32(st, cl_st_find(st, "a"), v, &err) == CL_OK, "%s", err.msg);
            uint8_t first[4] = {1, 8, 15, 22};
            CHECK(!memcmp(v, first, 4), "data read from the right offset");
            cl_st_close(st);
        }
        free(b);
    }
}

static void t_i64_out_of_range(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/i64.safetensors", dir);
    int64_t v[2] = {1, (int64_t)INT32_MAX + 1};
    cl_st_write_tensor w = {"big", CL_ST_I64, 1, {2}, v};
    cl_error err;
    cl_safetensors *st;
    CHECK(cl_st_write(p, &w, 1, NULL, 0, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_st_open(p, &st, &err) == CL_OK, "%s", err.msg);
    int32_t o[2];
    CHECK(cl_st_read_i32(st, cl_st_get(st, 0), o, &err) == CL_ERR_VALUE, "range");
    CHECK_CONTAINS(err.msg, "tensor 'big': value 2147483648 out of int32 range");
    cl_st_close(st);
    unlink(p);
}

static void t_open_errors(void)
{
    cl_safetensors *st;
    cl_error err;
    CHECK(cl_st_open(dir, &st, &err) == CL_ERR_IO, "directory");
    CHECK_CONTAINS(err.msg, "not a regular file");
    char p[400];
    snprintf(p, sizeof p, "%s/none.safetensors", dir);
    CHECK(cl_st_open(p, &st, &err) == CL_ERR_IO, "missing");
    CHECK_CONTAINS(err.msg, "none.safetensors: No such file");
}

/* A file cut after it was opened: reading says so instead of returning
 * garbage. */
static void t_file_shrinks(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/shrink.safetensors", dir);
    float v[64] = {0};
    cl_st_write_tensor w = {"w", CL_ST_F32, 1, {64}, v};
    cl_error err;
    cl_safetensors *st;
    CHECK(cl_st_write(p, &w, 1, NULL, 0, &err) == CL_OK, "%s", err.msg);
    CHECK(cl_st_open(p, &st, &err) == CL_OK, "%s", err.msg);
    struct stat sb;
    stat(p, &sb);
    CHECK(truncate(p, sb.st_size - 100) == 0, "truncate");
    CHECK(cl_st_read_f32(st, cl_st_get(st, 0), v, &err) == CL_ERR_IO, "read past the end");
    CHECK_CONTAINS(err.msg, "tensor 'w': file shorter than its header says");
    cl_st_close(st);
    unlink(p);
}

/* The writer refuses what no reader would accept, and leaves no file. */
static void t_writer_refuses(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/w.safetensors", dir);
    float v[4] = {0};
    struct {
        cl_st_write_tensor t[2];
        int n;
        const char *msg;
    } bad[] = {
        {{{"a", CL_ST_F32, 1, {4}, v}, {"a", CL_ST_F32, 1, {4}, v}}, 2, "tensor 'a' twice"},
        {{{"__metadata__", CL_ST_F32, 1, {4}, v}}, 1, "tensor name '__metadata__' is not allowed"},
        {{{"", CL_ST_F32, 1, {4}, v}}, 1, "tensor name '' is not allowed"},
        {{{"a", CL_ST_F32, 1, {-4}, v}}, 1, "tensor 'a': negative shape"},
        {{{"a", CL_ST_F32, 9, {1}, v}}, 1, "tensor 'a': 9 dimensions"},
        {{{"a", CL_ST_F32, 3, {1ll << 40, 1ll << 40, 1ll << 40}, v}}, 1, "shape overflows"},
        {{{"a", CL_ST_F32, 1, {4}, NULL}}, 1, "tensor 'a': no data"},
        {{{"\xc3\x28", CL_ST_F32, 1, {4}, v}}, 1, "name is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cl_error err;
        unlink(p);
        CHECK(cl_st_write(p, bad[i].t, bad[i].n, NULL, 0, &err) == CL_ERR_ARG, "case %zu accepted", i);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(access(p, F_OK) != 0, "case %zu left a file", i);
    }
    const char *meta[] = {"format", "\xff"};
    cl_error err;
    CHECK(cl_st_write(p, bad[0].t, 1, meta, 1, &err) == CL_ERR_ARG, "invalid metadata accepted");
    CHECK_CONTAINS(err.msg, "__metadata__ entry 0 is not valid UTF-8");
}

typedef struct st_test {
    const char *name;
    void (*fn)(void);
} st_test;
#define ST_TEST(name, fn) {name, fn}

static const st_test tests[] = {
    ST_TEST("valid_all_dtypes", t_valid_all_dtypes),
    ST_TEST("valid_padding", t_valid_padding),
    ST_TEST("i64_out_of_range", t_i64_out_of_range),
    ST_TEST("open_errors", t_open_errors),
    ST_TEST("file_shrinks_after_open", t_file_shrinks),
    ST_TEST("writer_refuses", t_writer_refuses),
};

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    size_t nc = sizeof cases / sizeof cases[0], nt = sizeof tests / sizeof tests[0];
    if (only && !strcmp(only, "--list")) {
        for (size_t i = 0; i < nc; i++)
            puts(cases[i].name);
        for (size_t i = 0; i < nt; i++)
            puts(tests[i].name);
        return 0;
    }
    /* 2400 levels, beyond jansson's parsing depth limit (2048) */
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{\"a\":");
    for (int i = 0; i < 2400; i++)
        deep[k++] = '[';
    deep[k++] = '}';
    deep[k] = 0;
    static char name[300];
    snprintf(name, sizeof name, "test_safetensors%s%s", only ? " " : "", only ? only : "");
    check_begin(name);
    snprintf(dir, sizeof dir, "/tmp/collide-test-st-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    int ran = 0;
    for (size_t i = 0; i < nc; i++)
        if (!only || !strcmp(only, cases[i].name)) {
            run_case(&cases[i]);
            ran++;
        }
    for (size_t i = 0; i < nt; i++)
        if (!only || !strcmp(only, tests[i].name)) {
            tests[i].fn();
            ran++;
        }
    CHECK(ran > 0, "no case named '%s'", only ? only : "");
    rmdir(dir);
    return check_done();
}
