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
    e->n_prompt = fr->n_bos + prefix->n + nb + suffix->n;
    e->n_target = tgt.n + fr->n_end;
    e->ids = malloc((size_t)(e->n_prompt + e->n_target) * sizeof *e->ids);
    if (!e->ids) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    int32_t *p = e->ids;
    if (fr->n_bos)
        memcpy(p, fr->bos, (size_t)fr->n_bos * sizeof *p);
    p += fr->n_bos;
    memcpy(p, prefix->v, (size_t)prefix->n * sizeof *p);
    p += prefix->n;
    memcpy(p, body.v, (size_t)nb * sizeof *p);
    p += nb;
    memcpy(p, suffix->v, (size_t)suffix->n * sizeof *p);
    p += suffix->n;
    memcpy(p, tgt.v, (size_t)tgt.n * sizeof *p);
    memcpy(p + tgt.n, fr->end, (size_t)fr->n_end * sizeof *p);
out:
    free(body.v);
    free(tgt.v);
    return rc;
}

int cl_encode_task(cl_tokenizer *tok, const cl_task_data *t, int max_len, cl_encoded_task *out,
                   cl_error *err)
{
    memset(out, 0, sizeof *out);
    char pre[4096];
    cl_prompt_prefix(t, pre, sizeof pre);
    ids prefix = {0}, suffix = {0};
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
    for (int k = 0; k < t->n_labels && !rc; k++, out->n_options++) {
        char lab[512];
        ids o = {0};
        snprintf(lab, sizeof lab, " %s", t->labels[k]);
        rc = enc(tok, lab, &o, err);
        int32_t *v = rc ? NULL : realloc(o.v, (size_t)(o.n + fr.n_end) * sizeof *o.v);
        if (!rc && !v)
            rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (rc) {
            free(o.v);
            break;
        }
        out->option[k] = v;
        memcpy(v + o.n, fr.end, (size_t)fr.n_end * sizeof *v);
        out->n_option[k] = o.n + fr.n_end;
    }
    for (int i = 0; i < t->n_train && !rc; i++, out->n_train++) {
        out->train[i].label = t->train[i].label;
        rc = one(tok, &fr, &prefix, &suffix, t->train[i].text, t->labels[t->train[i].label],
                 max_len, t->name, &out->train[i], &out->truncated, err);
    }
    for (int i = 0; i < t->n_test && !rc; i++, out->n_test++) {
        out->test[i].label = t->test[i].label;
        rc = one(tok, &fr, &prefix, &suffix, t->test[i].text, t->labels[t->test[i].label],
                 max_len, t->name, &out->test[i], &out->truncated, err);
    }
    free(prefix.v);
    free(suffix.v);
    if (rc)
        cl_encoded_task_free(out);
    return rc;
}
