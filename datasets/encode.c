/* encode.c -- see encode.h. */
#include "encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_encoded_task_free(cl_encoded_task *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_train; i++)
        free(e->train[i].ids);
    for (int i = 0; i < e->n_test; i++)
        free(e->test[i].ids);
    for (int k = 0; k < e->n_options; k++)
        free(e->option[k]);
    free(e->train);
    free(e->test);
    free(e->option);
    free(e->n_option);
    memset(e, 0, sizeof *e);
}

typedef struct ids {
    int32_t *v;
    int n, cap;
} ids;

static int enc(cl_tokenizer *tok, const char *s, ids *out, cl_error *err)
{
    out->n = 0;
    return cl_tok_encode(tok, s, strlen(s), &out->v, &out->n, &out->cap, err);
}

/* What the tokenizer puts around each example, as the model was trained: its
 * post-processor's prefix (BOS for Llama-3, TinyLlama, add_bos_token) before
 * the prompt, and after the answer its suffix, then end-of-text unless the
 * suffix already ends with it. For collide's own tokenizer: nothing before,
 * end-of-text after (the encoding it has always had). */
typedef struct frame {
    const int32_t *bos;
    int n_bos;
    int32_t end[64];
    int n_end;
} frame;

static int make_frame(const cl_tokenizer *tok, frame *f, cl_error *err)
{
    const int32_t *suf;
    int ns = cl_tok_suffix(tok, &suf);
    f->n_bos = cl_tok_prefix(tok, &f->bos);
    if (ns > 63)
        return cl_error_set(err, CL_ERR_FORMAT, "the tokenizer's post-processor adds %d tokens "
                            "after a text (at most 63)", ns);
    if (ns)
        memcpy(f->end, suf, (size_t)ns * sizeof *suf);
    f->n_end = ns;
    if (!ns || suf[ns - 1] != cl_tok_eos(tok))
        f->end[f->n_end++] = cl_tok_eos(tok);
    return CL_OK;
}

/* An example's ids: the frame's BOS, the prompt's parts, then the target and
 * the frame's end ids (n_prompt: all before the target). */
static int assemble(cl_encoded *e, const frame *fr, const ids *const *parts, int n_parts,
                    const ids *target, cl_error *err)
{
    e->n_prompt = fr->n_bos;
    for (int i = 0; i < n_parts; i++)
        e->n_prompt += parts[i]->n;
    e->n_target = target->n + fr->n_end;
    e->ids = malloc((size_t)(e->n_prompt + e->n_target) * sizeof *e->ids);
    if (!e->ids)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t *p = e->ids;
    if (fr->n_bos)
        memcpy(p, fr->bos, (size_t)fr->n_bos * sizeof *p);
    p += fr->n_bos;
    for (int i = 0; i < n_parts; i++) {
        if (parts[i]->n)
            memcpy(p, parts[i]->v, (size_t)parts[i]->n * sizeof *p);
        p += parts[i]->n;
    }
    if (target->n)
        memcpy(p, target->v, (size_t)target->n * sizeof *p);
    if (fr->n_end)
        memcpy(p + target->n, fr->end, (size_t)fr->n_end * sizeof *p);
    return CL_OK;
}

static int one(cl_tokenizer *tok, const frame *fr, const ids *prefix, const ids *suffix,
               const char *text, const char *label, int max_len, const char *task, cl_encoded *e,
               int *cut, cl_error *err)
{
    ids body = {0}, tgt = {0};
    char lab[512];
    snprintf(lab, sizeof lab, " %s", label);
    int rc = enc(tok, text, &body, err);
    if (!rc)
        rc = enc(tok, lab, &tgt, err);
    if (rc)
        goto out;
    int room = max_len - fr->n_bos - prefix->n - suffix->n - tgt.n - fr->n_end;
    if (room < 1) {
        rc = cl_error_set(err, CL_ERR_ARG,
                          "task %s: --max-len %d leaves no room for the text (instruction %d, "
                          "answer %d tokens)",
                          task, max_len, fr->n_bos + prefix->n + suffix->n, tgt.n + fr->n_end);
        goto out;
    }
    int nb = body.n;
    if (nb > room) {
        nb = room;
        (*cut)++;
    }
    const ids cut_body = {.v = body.v, .n = nb};
    const ids *parts[3] = {prefix, &cut_body, suffix};
    rc = assemble(e, fr, parts, 3, &tgt, err);
out:
    free(body.v);
    free(tgt.v);
    return rc;
}

/* Another model's tokenizer: the prompt is encoded as ONE string, as the
 * model's own tokenizer encodes it. buf holds the prompt text (instruction,
 * text, "\nAnswer:"), plen bytes, with room for " <label>" after it. P gets
 * the ids of the prompt text, T the target's: the ids of prompt + " <label>"
 * after P when they start with P (the usual case: no merge across the
 * boundary), else the ids of " <label>" encoded alone (a merge across the
 * boundary: the prompt stays what the tokenizer gives it alone, which is what
 * the model is asked at evaluation, and must not depend on the label). */
static int pair(cl_tokenizer *tok, char *buf, size_t plen, const char *label, ids *P, ids *T,
                cl_error *err)
{
    size_t ll = strlen(label);
    P->n = 0;
    int rc = cl_tok_encode(tok, buf, plen, &P->v, &P->n, &P->cap, err);
    buf[plen] = ' ';
    memcpy(buf + plen + 1, label, ll);
    T->n = 0;
    if (!rc)
        rc = cl_tok_encode(tok, buf, plen + 1 + ll, &T->v, &T->n, &T->cap, err);
    if (rc)
        return rc;
    if (T->n >= P->n && !memcmp(T->v, P->v, (size_t)P->n * sizeof *P->v)) {
        memmove(T->v, T->v + P->n, (size_t)(T->n - P->n) * sizeof *T->v);
        T->n -= P->n;
        return CL_OK;
    }
    T->n = 0;
    return cl_tok_encode(tok, buf + plen, 1 + ll, &T->v, &T->n, &T->cap, err);
}

/* The prompt text with the text cut to its first n bytes, into *buf (grown). */
static int prompt_text(char **buf, size_t *cap, const char *pre, const char *text, size_t n,
                       const char *label, size_t *plen, cl_error *err)
{
    size_t a = strlen(pre), c = strlen(CL_PROMPT_SUFFIX);
    size_t need = a + n + c + 1 + strlen(label) + 1;
    if (need > *cap) {
        char *b = realloc(*buf, need);
        if (!b)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        *buf = b, *cap = need;
    }
    memcpy(*buf, pre, a);
    memcpy(*buf + a, text, n);
    memcpy(*buf + a + n, CL_PROMPT_SUFFIX, c);
    *plen = a + n + c;
    return CL_OK;
}

typedef struct whole_ctx {
    cl_tokenizer *tok;
    const frame *fr;
    const char *pre, *text, *label;
    char *buf;
    size_t cap;
    ids P, T;
} whole_ctx;

/* Encode with the text cut to n bytes; the example's length in tokens. */
static int whole_at(whole_ctx *c, size_t n, int *len, cl_error *err)
{
    size_t plen = 0;
    int rc = prompt_text(&c->buf, &c->cap, c->pre, c->text, n, c->label, &plen, err);
    if (!rc)
        rc = pair(c->tok, c->buf, plen, c->label, &c->P, &c->T, err);
    *len = c->fr->n_bos + c->P.n + c->T.n + c->fr->n_end;
    return rc;
}

/* The start of the UTF-8 character holding byte i of s (at least lo). */
static size_t char_start(const char *s, size_t i, size_t lo)
{
    while (i > lo && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static size_t char_next(const char *s, size_t len, size_t i)
{
    i += i < len;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

/* One example for another model's tokenizer: the prefix ids, then the whole
 * prompt text encoded once, the target continuing it (see pair), the end ids.
 * Too long for max_len: the text (never the instruction or the answer) is cut
 * at a character boundary, to the longest cut a bisection finds that fits
 * (each try encodes the whole again), at least one character kept. */
static int one_whole(cl_tokenizer *tok, const frame *fr, const char *pre, const char *text,
                     const char *label, int max_len, const char *task, cl_encoded *e, int *cut,
                     cl_error *err)
{
    whole_ctx c = {.tok = tok, .fr = fr, .pre = pre, .text = text, .label = label};
    size_t len = strlen(text);
    int n, rc = whole_at(&c, len, &n, err);
    if (!rc && n > max_len) {
        (*cut)++;
        size_t lo = char_next(text, len, 0), hi = len; /* lo fits (checked), hi does not */
        if ((rc = whole_at(&c, lo, &n, err)))
            goto out;
        if (n > max_len) {
            int n0;
            if (!(rc = whole_at(&c, 0, &n0, err)))
                rc = cl_error_set(err, CL_ERR_ARG,
                                  "task %s: --max-len %d leaves no room for the text (instruction "
                                  "%d, answer %d tokens)",
                                  task, max_len, fr->n_bos + c.P.n, c.T.n + fr->n_end);
            goto out;
        }
        for (;;) {
            size_t mid = char_start(text, lo + (hi - lo) / 2, lo);
            if (mid == lo)
                mid = char_next(text, len, lo);
            if (mid >= hi)
                break;
            if ((rc = whole_at(&c, mid, &n, err)))
                goto out;
            if (n <= max_len)
                lo = mid;
            else
                hi = mid;
        }
        if ((rc = whole_at(&c, lo, &n, err)))
            goto out;
    }
    if (rc)
        goto out;
    const ids *parts[1] = {&c.P};
    rc = assemble(e, fr, parts, 1, &c.T, err);
out:
    free(c.buf);
    free(c.P.v);
    free(c.T.v);
    return rc;
}

/* Option k: " <label k>" as it follows the instruction and "\nAnswer:" (for
 * collide's own tokenizer: encoded alone), then the end ids. */
static int option(cl_tokenizer *tok, const frame *fr, const char *pre, const char *label,
                  int32_t **out, int *n_out, cl_error *err)
{
    ids o = {0}, P = {0};
    char *buf = NULL;
    size_t cap = 0, plen = 0;
    int rc;
    if (cl_tok_native(tok)) {
        char lab[512];
        snprintf(lab, sizeof lab, " %s", label);
        rc = enc(tok, lab, &o, err);
    } else if (!(rc = prompt_text(&buf, &cap, pre, "", 0, label, &plen, err))) {
        rc = pair(tok, buf, plen, label, &P, &o, err);
    }
    free(buf);
    free(P.v);
    int32_t *v = rc ? NULL : realloc(o.v, (size_t)(o.n + fr->n_end) * sizeof *o.v);
    if (!rc && !v)
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (rc) {
        free(o.v);
        return rc;
    }
    memcpy(v + o.n, fr->end, (size_t)fr->n_end * sizeof *v);
    *out = v;
    *n_out = o.n + fr->n_end;
    return CL_OK;
}

int cl_encode_task(cl_tokenizer *tok, const cl_task_data *t, int max_len, cl_encoded_task *out,
                   cl_error *err)
{
    memset(out, 0, sizeof *out);
    char pre[4096];
    cl_prompt_prefix(t, pre, sizeof pre);
    ids prefix = {0}, suffix = {0};
    int native = cl_tok_native(tok);
    frame fr;
    int rc = make_frame(tok, &fr, err);
    if (!rc)
        rc = enc(tok, pre, &prefix, err);
    if (!rc)
        rc = enc(tok, CL_PROMPT_SUFFIX, &suffix, err);
    out->train = calloc((size_t)(t->n_train ? t->n_train : 1), sizeof *out->train);
    out->test = calloc((size_t)(t->n_test ? t->n_test : 1), sizeof *out->test);
    if (!rc && (!out->train || !out->test))
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    out->option = calloc((size_t)t->n_labels, sizeof *out->option);
    out->n_option = calloc((size_t)t->n_labels, sizeof *out->n_option);
    if (!rc && (!out->option || !out->n_option))
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < t->n_labels && !rc; k++, out->n_options++)
        rc = option(tok, &fr, pre, t->labels[k], &out->option[k], &out->n_option[k], err);
    for (int i = 0; i < t->n_train && !rc; i++, out->n_train++) {
        out->train[i].label = t->train[i].label;
        rc = native ? one(tok, &fr, &prefix, &suffix, t->train[i].text,
                          t->labels[t->train[i].label], max_len, t->name, &out->train[i],
                          &out->truncated, err)
                    : one_whole(tok, &fr, pre, t->train[i].text, t->labels[t->train[i].label],
                                max_len, t->name, &out->train[i], &out->truncated, err);
    }
    for (int i = 0; i < t->n_test && !rc; i++, out->n_test++) {
        out->test[i].label = t->test[i].label;
        rc = native ? one(tok, &fr, &prefix, &suffix, t->test[i].text,
                          t->labels[t->test[i].label], max_len, t->name, &out->test[i],
                          &out->truncated, err)
                    : one_whole(tok, &fr, pre, t->test[i].text, t->labels[t->test[i].label],
                                max_len, t->name, &out->test[i], &out->truncated, err);
    }
    free(prefix.v);
    free(suffix.v);
    if (rc)
        cl_encoded_task_free(out);
    return rc;
}

/* The first training example as text (hex) and ids: what a test compares
 * with the tokenizer's own encoding (tests/model/test_family_train.sh). */
static void hexs(FILE *f, const char *s)
{
    for (; *s; s++)
        fprintf(f, "%02x", (unsigned char)*s);
}

void cl_encode_dump(FILE *f, const char *prog, const cl_task_data *d, const cl_encoded_task *E)
{
    if (!E->n_train)
        return;
    char pre[4096];
    cl_prompt_prefix(d, pre, sizeof pre);
    const cl_encoded *x = &E->train[0];
    fprintf(f, "%s: encode %s prefix=", prog, d->name);
    hexs(f, pre);
    fprintf(f, " text=");
    hexs(f, d->train[0].text);
    fprintf(f, " suffix=");
    hexs(f, CL_PROMPT_SUFFIX);
    fprintf(f, " label=");
    hexs(f, d->labels[x->label]);
    fprintf(f, " ids=");
    for (int i = 0; i < x->n_prompt + x->n_target; i++)
        fprintf(f, "%s%d", i == x->n_prompt ? "|" : i ? "," : "", x->ids[i]);
    fprintf(f, "\n");
}
