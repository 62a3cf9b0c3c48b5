/*
 * tokenizer_pipe_json.c -- reading the pipeline of another model's
 * tokenizer.json (normalizers, pre-tokenizers, decoders, added tokens, the
 * post-processor's special tokens) and tokenizer_config.json, refusing
 * whatever tokenizer_pipe.c does not run, by file, JSON path and value.
 */
#include "tokenizer_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tok_pipe_free(struct tok_pipe *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_norm; i++) {
        free(p->norm[i].a);
        free(p->norm[i].b);
        pcre2_code_free(p->norm[i].re);
    }
    for (int i = 0; i < p->n_pre; i++) {
        pcre2_code_free(p->pre[i].re);
        free(p->pre[i].repl);
    }
    for (int i = 0; i < p->n_dec; i++) {
        free(p->dec[i].a);
        free(p->dec[i].b);
    }
    free(p->norm);
    free(p->pre);
    free(p->dec);
    free(p->add);
    pcre2_match_data_free(p->md);
    free(p);
}

/* ------------------------------------------------------------ parsing */

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int refuse(cl_error *err, const char *name, const char *path, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    int rc = cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: %s: unsupported value %.200s", name, path,
                          s ? s : "(missing)");
    free(s);
    return rc;
}

static int compile(pcre2_code **re, const char *pat, int literal, const char *name,
                   const char *path, cl_error *err)
{
    int ec;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opt, &ec, &off, NULL);
    if (!*re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return cl_error_set(err, CL_ERR_UNSUPPORTED, "%s: %s: regex \"%.120s\" at %zu: %s", name,
                            path, pat, (size_t)off, (const char *)msg);
    }
    return CL_OK;
}

/* {"String": s} or {"Regex": r}: *lit set for String. */
static const char *pattern(json_t *p, int *lit)
{
    const char *s = jstr(p, "String");
    *lit = s != NULL;
    return s ? s : jstr(p, "Regex");
}

#define GROW(arr, n)                                                                       \
    (((arr) = realloc((arr), (size_t)((n) + 1) * sizeof *(arr))) ? memset(&(arr)[(n)], 0,   \
                                                                          sizeof *(arr)),   \
     (n)++, 0 : -1)

typedef int (*parse_fn)(struct tok_pipe *p, json_t *j, const char *path, const char *name,
                        cl_error *err);

/* {"type": "Sequence", KEY: [...]}: each item through fn, at PATH.KEY[i]. */
static int parse_seq(struct tok_pipe *p, json_t *j, const char *key, parse_fn fn,
                     const char *path, const char *name, cl_error *err)
{
    char sub[256];
    json_t *l = json_object_get(j, key);
    if (!json_is_array(l))
        return refuse(err, name, path, j);
    for (size_t i = 0; i < json_array_size(l); i++) {
        snprintf(sub, sizeof sub, "%s.%s[%zu]", path, key, i);
        int rc = fn(p, json_array_get(l, i), sub, name, err);
        if (rc)
            return rc;
    }
    return CL_OK;
}

static int parse_norm(struct tok_pipe *p, json_t *j, const char *path, const char *name,
                      cl_error *err)
{
    char sub[256];
    if (!j || json_is_null(j))
        return CL_OK;
    const char *ty = jstr(j, "type");
    if (!ty)
        return refuse(err, name, path, j);
    if (!strcmp(ty, "Sequence"))
        return parse_seq(p, j, "normalizers", parse_norm, path, name, err);
    int kind = !strcmp(ty, "NFC")       ? N_NFC
               : !strcmp(ty, "Prepend") ? N_PREPEND
               : !strcmp(ty, "Replace") ? N_REPLACE
                                        : -1;
    snprintf(sub, sizeof sub, "%s.type", path);
    if (kind < 0)
        return refuse(err, name, sub, json_object_get(j, "type"));
    if (GROW(p->norm, p->n_norm))
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    norm_op *o = &p->norm[p->n_norm - 1];
    o->kind = kind;
    if (kind == N_PREPEND) {
        const char *s = jstr(j, "prepend");
        if (!s)
            return refuse(err, name, path, j);
        o->a = strdup(s);
    } else if (kind == N_REPLACE) {
        int lit;
        const char *pat = pattern(json_object_get(j, "pattern"), &lit), *c = jstr(j, "content");
        if (!pat || !c || !*pat)
            return refuse(err, name, path, j);
        o->b = strdup(c);
        if (lit)
            o->a = strdup(pat);
        else if (compile(&o->re, pat, 0, name, path, err))
            return err->code;
    }
    p->lossless = 0;
    return CL_OK;
}

static int parse_pre(struct tok_pipe *p, json_t *j, const char *path, const char *name,
                     cl_error *err)
{
    char sub[256];
    if (!j || json_is_null(j))
        return CL_OK;
    const char *ty = jstr(j, "type");
    if (!ty)
        return refuse(err, name, path, j);
    if (!strcmp(ty, "Sequence"))
        return parse_seq(p, j, "pretokenizers", parse_pre, path, name, err);
    int kind = !strcmp(ty, "Split") || !strcmp(ty, "Digits") ? P_SPLIT
               : !strcmp(ty, "ByteLevel")                     ? P_BYTELEVEL
               : !strcmp(ty, "Metaspace")                     ? P_METASPACE
                                                              : -1;
    if (kind < 0) {
        snprintf(sub, sizeof sub, "%s.type", path);
        return refuse(err, name, sub, json_object_get(j, "type"));
    }
    if (GROW(p->pre, p->n_pre))
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    pre_op *o = &p->pre[p->n_pre - 1];
    o->kind = kind;
    if (!strcmp(ty, "Digits")) {
        o->behavior = B_ISOLATED;
        return compile(&o->re, json_is_true(json_object_get(j, "individual_digits")) ? "\\p{N}"
                                                                                      : "\\p{N}+",
                       0, name, path, err);
    }
    if (kind == P_SPLIT) {
        int lit;
        const char *pat = pattern(json_object_get(j, "pattern"), &lit);
        const char *b = jstr(j, "behavior");
        o->behavior = !b                              ? -1
                      : !strcmp(b, "Isolated")           ? B_ISOLATED
                      : !strcmp(b, "Removed")            ? B_REMOVED
                      : !strcmp(b, "MergedWithPrevious") ? B_PREV
                      : !strcmp(b, "MergedWithNext")     ? B_NEXT
                                                         : -1;
        o->invert = json_is_true(json_object_get(j, "invert"));
        if (o->behavior < 0) {
            snprintf(sub, sizeof sub, "%s.behavior", path);
            return refuse(err, name, sub, json_object_get(j, "behavior"));
        }
        if (!pat || !*pat) {
            snprintf(sub, sizeof sub, "%s.pattern", path);
            return refuse(err, name, sub, json_object_get(j, "pattern"));
        }
        if (o->behavior == B_REMOVED)
            p->lossless = 0;
        snprintf(sub, sizeof sub, "%s.pattern", path);
        return compile(&o->re, pat, lit, name, sub, err);
    }
    if (kind == P_BYTELEVEL) {
        p->bytelevel = 1;
        o->prefix_space = json_is_true(json_object_get(j, "add_prefix_space"));
        if (o->prefix_space)
            p->lossless = 0;
        json_t *ur = json_object_get(j, "use_regex");
        o->behavior = B_ISOLATED;
        if (!ur || json_is_true(ur))
            return compile(&o->re, GPT2_PATTERN, 0, name, path, err);
        return CL_OK;
    }
    /* Metaspace */
    const char *r = jstr(j, "replacement"), *sc = jstr(j, "prepend_scheme");
    json_t *aps = json_object_get(j, "add_prefix_space"), *sp = json_object_get(j, "split");
    if (!r || !*r) {
        snprintf(sub, sizeof sub, "%s.replacement", path);
        return refuse(err, name, sub, json_object_get(j, "replacement"));
    }
    o->repl = strdup(r);
    o->split = !sp || json_is_true(sp);
    o->scheme = sc ? (!strcmp(sc, "first") ? S_FIRST : !strcmp(sc, "always") ? S_ALWAYS
                      : !strcmp(sc, "never") ? S_NEVER : -1)
                   : (aps && !json_is_true(aps) ? S_NEVER : S_ALWAYS);
    if (o->scheme < 0) {
        snprintf(sub, sizeof sub, "%s.prepend_scheme", path);
        return refuse(err, name, sub, json_object_get(j, "prepend_scheme"));
    }
    p->lossless = 0;
    return CL_OK;
}

static int parse_dec(struct tok_pipe *p, json_t *j, const char *path, const char *name,
                     cl_error *err)
{
    char sub[256];
    if (!j || json_is_null(j))
        return CL_OK;
    const char *ty = jstr(j, "type");
    if (!ty)
        return refuse(err, name, path, j);
    if (!strcmp(ty, "Sequence"))
        return parse_seq(p, j, "decoders", parse_dec, path, name, err);
    int kind = !strcmp(ty, "ByteLevel")      ? D_BYTELEVEL
               : !strcmp(ty, "Replace")      ? D_REPLACE
               : !strcmp(ty, "ByteFallback") ? D_BYTEFALLBACK
               : !strcmp(ty, "Fuse")         ? D_FUSE
               : !strcmp(ty, "Strip")        ? D_STRIP
               : !strcmp(ty, "Metaspace")    ? D_METASPACE
                                             : -1;
    snprintf(sub, sizeof sub, "%s.type", path);
    if (kind < 0)
        return refuse(err, name, sub, json_object_get(j, "type"));
    if (GROW(p->dec, p->n_dec))
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    dec_op *o = &p->dec[p->n_dec - 1];
    o->kind = kind;
    if (kind == D_REPLACE) {
        int lit;
        const char *pat = pattern(json_object_get(j, "pattern"), &lit), *c = jstr(j, "content");
        if (!pat || !lit || !*pat || !c) {
            snprintf(sub, sizeof sub, "%s.pattern", path);
            return refuse(err, name, sub, json_object_get(j, "pattern"));
        }
        o->a = strdup(pat);
        o->b = strdup(c);
    } else if (kind == D_STRIP) {
        const char *c = jstr(j, "content");
        if (!c || !*c)
            return refuse(err, name, path, j);
        o->a = strdup(c);
        o->start = (int)json_integer_value(json_object_get(j, "start"));
        o->stop = (int)json_integer_value(json_object_get(j, "stop"));
    } else if (kind == D_METASPACE) {
        const char *r = jstr(j, "replacement"), *sc = jstr(j, "prepend_scheme");
        json_t *aps = json_object_get(j, "add_prefix_space");
        if (!r || !*r)
            return refuse(err, name, path, j);
        o->a = strdup(r);
        o->scheme = sc ? (!strcmp(sc, "never") ? S_NEVER : S_FIRST)
                       : (aps && !json_is_true(aps) ? S_NEVER : S_ALWAYS);
    }
    return CL_OK;
}

int tok_pipe_parse(cl_tokenizer *t, json_t *root, const char *name, int *bytelevel,
                   cl_error *err)
{
    struct tok_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    t->pipe = p;
    p->lossless = 1;
    p->unk = -1;
    json_t *model = json_object_get(root, "model");
    static const char *nulls[] = {"dropout", "continuing_subword_prefix", "end_of_word_suffix"};
    char sub[128];
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(model, nulls[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v))) {
            snprintf(sub, sizeof sub, "model.%s", nulls[i]);
            return refuse(err, name, sub, v);
        }
    }
    static const char *top[] = {"truncation", "padding"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, top[i]);
        if (v && !json_is_null(v))
            return refuse(err, name, top[i], v);
    }
    p->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    p->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    p->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    int rc = parse_norm(p, json_object_get(root, "normalizer"), "normalizer", name, err);
    if (!rc)
        rc = parse_pre(p, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", name, err);
    if (!rc)
        rc = parse_dec(p, json_object_get(root, "decoder"), "decoder", name, err);
    if (rc)
        return rc;
    for (int i = 0; i < p->n_dec; i++) {
        if (p->dec[i].kind == D_BYTELEVEL)
            p->bytelevel = 1;
        if (p->dec[i].kind == D_STRIP || p->dec[i].kind == D_METASPACE)
            p->lossless = 0;
    }
    if (p->bytelevel)
        for (int i = 0; i < p->n_dec; i++)
            if (p->dec[i].kind != D_BYTELEVEL) {
                snprintf(sub, sizeof sub, "decoder (with ByteLevel tokens) [%d]", i);
                return refuse(err, name, sub, json_object_get(root, "decoder"));
            }
    p->md = pcre2_match_data_create(1, NULL);
    if (!p->md)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    *bytelevel = p->bytelevel;
    return CL_OK;
}

static int set_ids(int32_t **dst, int *n, const int32_t *src, int k)
{
    free(*dst);
    *dst = NULL;
    *n = 0;
    if (!k)
        return 0;
    *dst = malloc((size_t)k * sizeof **dst);
    if (!*dst)
        return -1;
    memcpy(*dst, src, (size_t)k * sizeof **dst);
    *n = k;
    return 0;
}

/* The post-processor's single template: special tokens before and after $A. */
static int parse_post(cl_tokenizer *t, json_t *j, const char *path, const char *name,
                      cl_error *err)
{
    char sub[256];
    if (!j || json_is_null(j))
        return CL_OK;
    const char *ty = jstr(j, "type");
    if (ty && !strcmp(ty, "Sequence")) {
        json_t *l = json_object_get(j, "processors");
        for (size_t i = 0; i < json_array_size(l); i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
            int rc = parse_post(t, json_array_get(l, i), sub, name, err);
            if (rc)
                return rc;
        }
        return CL_OK;
    }
    if (ty && !strcmp(ty, "ByteLevel"))
        return CL_OK; /* offsets only */
    if (!ty || strcmp(ty, "TemplateProcessing")) {
        snprintf(sub, sizeof sub, "%s.type", path);
        return refuse(err, name, sub, json_object_get(j, "type"));
    }
    json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    int32_t pre[64], post[64];
    int np = 0, nq = 0, seen = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *it = json_array_get(single, i), *sp = json_object_get(it, "SpecialToken");
        if (json_object_get(it, "Sequence")) {
            seen = 1;
            continue;
        }
        json_t *ids = json_object_get(json_object_get(specials, jstr(sp, "id") ? jstr(sp, "id") : ""),
                                      "ids");
        snprintf(sub, sizeof sub, "%s.single[%zu]", path, i);
        if (!sp || !json_is_array(ids))
            return refuse(err, name, sub, it);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_int_t id = json_integer_value(json_array_get(ids, k));
            if (id < 0 || id >= t->n || np >= 64 || nq >= 64)
                return refuse(err, name, sub, it);
            if (seen)
                post[nq++] = (int32_t)id;
            else
                pre[np++] = (int32_t)id;
        }
    }
    t->pipe->has_template = 1;
    if (set_ids(&t->prefix, &t->n_prefix, pre, np) || set_ids(&t->suffix, &t->n_suffix, post, nq))
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    return CL_OK;
}

int tok_pipe_finish(cl_tokenizer *t, json_t *root, const char *name, cl_error *err)
{
    struct tok_pipe *p = t->pipe;
    json_t *model = json_object_get(root, "model");
    const char *unk = jstr(model, "unk_token");
    if (unk) {
        p->unk = tok_lookup(t, (const uint8_t *)unk, (int)strlen(unk));
        if (p->unk < 0)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: model.unk_token \"%.40s\": not in the "
                                "vocabulary", name, unk);
    }
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        p->fb[b] = tok_lookup(t, (const uint8_t *)s, 6);
    }
    if (!p->bytelevel && !p->byte_fallback)
        p->lossless = 0;
    json_t *added = json_object_get(root, "added_tokens");
    p->add = calloc(json_array_size(added) + 1, sizeof *p->add);
    if (!p->add)
        return cl_error_set(err, CL_ERR_NOMEM, NOMEM, name);
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        added_tok *x = &p->add[p->n_add++];
        x->id = (int)json_integer_value(json_object_get(a, "id"));
        x->s = t->tok[x->id].b;
        x->n = t->tok[x->id].n;
        x->lstrip = json_is_true(json_object_get(a, "lstrip"));
        x->rstrip = json_is_true(json_object_get(a, "rstrip"));
        x->single_word = json_is_true(json_object_get(a, "single_word"));
        if (x->lstrip || x->rstrip)
            p->lossless = 0;
    }
    int rc = parse_post(t, json_object_get(root, "post_processor"), "post_processor", name, err);
    if (rc)
        return rc;
    if (t->eos < 0) { /* tokenizer_config.json may say otherwise (cl_tok_load) */
        static const char *names[] = {"</s>", "<|end_of_text|>", "<|im_end|>", "<eos>"};
        for (int i = 0; i < 4 && t->eos < 0; i++)
            t->eos = tok_lookup(t, (const uint8_t *)names[i], (int)strlen(names[i]));
    }
    if (t->eos < 0)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: added_tokens: no end-of-text token (%s, "
                            "</s>, <|end_of_text|>, <|im_end|> or <eos>)", name, CL_TOK_EOS_TEXT);
    return CL_OK;
}

/* A token named in tokenizer_config.json: "text" or {"content": "text"}. */
static int config_token(const cl_tokenizer *t, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : jstr(v, "content");
    return s ? tok_lookup(t, (const uint8_t *)s, (int)strlen(s)) : -1;
}

int tok_pipe_config(cl_tokenizer *t, const char *path, cl_error *err)
{
    char dir[4096], f[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    snprintf(f, sizeof f, "%stokenizer_config.json", dir);
    json_t *tc = json_load_file(f, 0, NULL);
    snprintf(f, sizeof f, "%sconfig.json", dir);
    json_t *mc = json_load_file(f, 0, NULL);
    int rc = CL_OK;
    int eos = config_token(t, json_object_get(tc, "eos_token"));
    int bos = config_token(t, json_object_get(tc, "bos_token"));
    json_t *ce = json_object_get(mc, "eos_token_id");
    if (json_is_array(ce))
        ce = json_array_get(ce, 0);
    if (eos < 0 && json_is_integer(ce) && json_integer_value(ce) >= 0 &&
        json_integer_value(ce) < t->n)
        eos = (int)json_integer_value(ce);
    if (eos >= 0)
        t->eos = eos;
    if (!t->pipe->has_template) {
        if (json_is_true(json_object_get(tc, "add_bos_token")) && bos >= 0 &&
            set_ids(&t->prefix, &t->n_prefix, (int32_t[]){bos}, 1))
            rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, path);
        if (json_is_true(json_object_get(tc, "add_eos_token")) &&
            set_ids(&t->suffix, &t->n_suffix, (int32_t[]){t->eos}, 1))
            rc = cl_error_set(err, CL_ERR_NOMEM, NOMEM, path);
    }
    json_decref(tc);
    json_decref(mc);
    return rc;
}

int cl_tok_lossless(const cl_tokenizer *t) { return !t->pipe || t->pipe->lossless; }

