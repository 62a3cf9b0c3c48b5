/*
 * peft_config.c -- adapter_config.json as collide reads it.
 *
 * The file comes from anywhere, so it is validated like any hostile input:
 * a size limit, duplicate keys refused, every key of the expected JSON type
 * and in range. A key that is missing or null takes PEFT's LoraConfig
 * default (older PEFT versions omit use_rslora, use_dora, peft_version);
 * keys collide does not need are ignored. Every error names the file, the
 * key and the reason.
 */
#include "peft_internal.h"
#include "cl_json.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAX_BYTES (16u << 20) /* real configs are about 1 KiB */
#define PATTERN_MAX_KEYS 65536
#define PATTERN_MAX_LEN 1024

/* Syntax that Python's re and POSIX extended regexes read differently, or
 * NULL when the key means the same to both. glibc's regcomp accepts some of
 * it silently (\d is a literal d there), so it is refused, not guessed at. */
static const char *divergent_syntax(const char *k)
{
    for (const char *p = k; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL; /* a trailing backslash: regcomp refuses it */
            if ((p[1] >= '0' && p[1] <= '9') || (p[1] >= 'a' && p[1] <= 'z') ||
                (p[1] >= 'A' && p[1] <= 'Z'))
                return "an escape such as \\d, \\w, \\s, \\b or \\1";
            p++;
        } else if (*p == '(' && p[1] == '?') {
            return "a (?...) group";
        } else if (strchr("*+?}", *p) && p[1] && strchr("?+", p[1])) {
            return "a lazy or possessive quantifier";
        } else if (*p == '[') {
            const char *q = p + 1;
            q += *q == '^';
            q += *q == ']'; /* a leading ] is literal in both */
            for (; *q && *q != ']'; q++) {
                if (*q == '\\')
                    return "a backslash inside [...]";
                if (*q == '[' && (q[1] == ':' || q[1] == '=' || q[1] == '.'))
                    return "a POSIX class such as [:digit:]";
            }
            if (!*q)
                return NULL; /* unclosed: regcomp refuses it */
            p = q;
        }
    }
    return NULL;
}

/* rank_pattern / alpha_pattern: {regex: value}, in file order (the first
 * matching key wins, as in PEFT). */
static int get_patterns(const char *p, json_t *root, const char *key, int ranks,
                        peft_pattern **out, int *n, cl_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return CL_OK;
    if (!json_is_object(v))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected an object, found %s", p, key,
                            cl_json_kind(v));
    size_t len = json_object_size(v);
    if (len > PATTERN_MAX_KEYS)
        return cl_error_set(err, CL_ERR_VALUE, "%s: %s: %zu keys (at most %d)", p, key, len,
                            PATTERN_MAX_KEYS);
    *out = cl_alloc(len, sizeof **out, err);
    if (!*out)
        return err->code;
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val) {
        peft_pattern *pt = &(*out)[*n];
        char what[PATTERN_MAX_LEN + 64];
        snprintf(what, sizeof what, "%s['%.*s']", key, PATTERN_MAX_LEN, k);
        size_t kl = strlen(k), braces = 0;
        for (size_t i = 0; i < kl; i++)
            braces += k[i] == '{';
        /* Nested repetition counts make regcomp's automaton explode: a
         * guard against hostile input; module names need none. */
        if (kl == 0 || kl > PATTERN_MAX_LEN || braces > 2)
            return cl_error_set(err, CL_ERR_VALUE,
                                "%s: %s: key is empty, longer than %d bytes or has more than two "
                                "{m,n} repetitions",
                                p, what, PATTERN_MAX_LEN);
        const char *differs = divergent_syntax(k);
        if (differs)
            return cl_error_set(err, CL_ERR_UNSUPPORTED,
                                "%s: %s: uses %s, which Python's re and POSIX regcomp read "
                                "differently; write it with plain characters, [0-9], \\. and |",
                                p, what, differs);
        if (ranks) {
            int64_t r;
            if (cl_json_int(p, what, val, 1, PEFT_MAX_RANK, &r, err))
                return err->code;
            pt->value = (double)r;
        } else if (cl_json_num(p, what, val, &pt->value, err)) {
            return err->code;
        }
        pt->key = cl_strdup(k, err);
        if (!pt->key)
            return err->code;
        (*n)++; /* owned from here: freed by patterns_free */
        size_t rl = kl + 16;
        char *rx = cl_alloc(rl, 1, err);
        if (!rx)
            return err->code;
        snprintf(rx, rl, "^(.*\\.)?(%s)$", k);
        int rc = regcomp(&pt->re, rx, REG_EXTENDED | REG_NOSUB);
        free(rx);
        if (rc) {
            char why[128];
            regerror(rc, &pt->re, why, sizeof why);
            return cl_error_set(err, CL_ERR_UNSUPPORTED,
                                "%s: %s: not a POSIX extended regular expression (%s)", p, what,
                                why);
        }
        pt->compiled = 1;
    }
    return CL_OK;
}

/* enable_lora of old PEFT's MergedLinear (a fused qkv projection adapted in
 * some of its parts): a list of booleans, or null / missing. */
static int get_enable_lora(const char *p, json_t *root, peft_config *c, cl_error *err)
{
    json_t *v = json_object_get(root, "enable_lora");
    if (!v || json_is_null(v))
        return CL_OK;
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 64)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: enable_lora: expected a list of 1 to 64 booleans, found %s", p,
                            cl_json_kind(v));
    size_t n = json_array_size(v);
    c->enable_lora = cl_alloc(n, sizeof *c->enable_lora, err);
    if (!c->enable_lora)
        return err->code;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_boolean(x))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: enable_lora[%zu]: expected a boolean, "
                                "found %s", p, i, cl_json_kind(x));
        c->enable_lora[i] = json_is_true(x);
        any |= c->enable_lora[i];
    }
    c->n_enable_lora = (int)n;
    if (!any)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: enable_lora: every entry is false (no part of the fused "
                            "projection is adapted)",
                            p);
    return CL_OK;
}

static void patterns_free(peft_pattern *pt, int n)
{
    for (int i = 0; i < n; i++) {
        free(pt[i].key);
        if (pt[i].compiled)
            regfree(&pt[i].re);
    }
    free(pt);
}

static void list_free(char **l, int n)
{
    if (!l)
        return;
    for (int i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void cl_peft_config_free(peft_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->base_model);
    free(c->task_type);
    /* lists are NULL-padded past n when a read stopped half-way */
    list_free(c->targets, c->n_targets);
    list_free(c->to_save, c->n_to_save);
    patterns_free(c->rank_pat, c->n_rank_pat);
    patterns_free(c->alpha_pat, c->n_alpha_pat);
    free(c->enable_lora);
    memset(c, 0, sizeof *c);
}

/* The whole file, bounded, NUL-terminated. */
static int slurp(const char *p, char **buf, size_t *len, cl_error *err)
{
    *buf = NULL;
    FILE *f = fopen(p, "rb");
    if (!f)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", p, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return cl_error_set(err, CL_ERR_IO, "%s: not a regular file", p);
    }
    if ((uint64_t)sb.st_size > CONFIG_MAX_BYTES) {
        fclose(f);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %lld bytes, more than the %u-byte limit", p,
                            (long long)sb.st_size, CONFIG_MAX_BYTES);
    }
    *buf = cl_alloc((size_t)sb.st_size + 1, 1, err);
    if (!*buf) {
        fclose(f);
        return err->code;
    }
    *len = fread(*buf, 1, (size_t)sb.st_size, f);
    int bad = ferror(f) || *len != (size_t)sb.st_size;
    fclose(f);
    if (bad) {
        free(*buf);
        *buf = NULL;
        return cl_error_set(err, CL_ERR_IO, "%s: read failed", p);
    }
    return CL_OK;
}

int cl_peft_config_read(const char *p, peft_config *c, cl_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = cl_strdup(p, err);
    if (!c->path)
        return err->code;
    char *buf;
    size_t len = 0;
    int rc = slurp(p, &buf, &len, err);
    if (rc)
        return rc;
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", p,
                            je.line, je.column, je.text);
    if (!json_is_object(root)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: expected a JSON object, found %s", p,
                          cl_json_kind(root));
        goto out;
    }
    char *ptype = NULL;
    if ((rc = cl_json_get_str(p, root, "peft_type", &ptype, err)))
        goto out;
    if (ptype[0] && strcmp(ptype, "LORA")) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED,
                          "%s: peft_type: '%s' adapters are not imported (only LORA)", p, ptype);
        free(ptype);
        goto out;
    }
    free(ptype);
    int64_t r, r_sum;
    int dora;
    if ((rc = cl_json_get_int(p, root, "r", 8, 1, PEFT_MAX_RANK, &r, err)) ||
        (rc = cl_json_get_bool(p, root, "use_rslora", 0, &c->use_rslora, err)) ||
        (rc = cl_json_get_bool(p, root, "fan_in_fan_out", 0, &c->fan_in_fan_out, err)) ||
        (rc = cl_json_get_bool(p, root, "use_dora", 0, &dora, err)) ||
        (rc = cl_json_get_str(p, root, "base_model_name_or_path", &c->base_model, err)) ||
        (rc = cl_json_get_str(p, root, "task_type", &c->task_type, err)) ||
        (rc = cl_json_get_strings(p, root, "target_modules", PATTERN_MAX_KEYS, &c->targets,
                                  &c->n_targets, err)) ||
        (rc = cl_json_get_strings(p, root, "modules_to_save", PATTERN_MAX_KEYS, &c->to_save,
                                  &c->n_to_save, err)) ||
        (rc = get_patterns(p, root, "rank_pattern", 1, &c->rank_pat, &c->n_rank_pat, err)) ||
        (rc = get_patterns(p, root, "alpha_pattern", 0, &c->alpha_pat, &c->n_alpha_pat, err)) ||
        (rc = cl_json_get_int(p, root, "r_sum", -1, 0, (int64_t)PEFT_MAX_RANK * 4096, &r_sum,
                              err)) ||
        (rc = get_enable_lora(p, root, c, err)))
        goto out;
    c->r = (int)r;
    c->has_r_sum = r_sum >= 0;
    c->r_sum = r_sum;
    json_t *a = json_object_get(root, "lora_alpha");
    c->alpha = 8;
    if (a && !json_is_null(a) && (rc = cl_json_num(p, "lora_alpha", a, &c->alpha, err)))
        goto out;
    if (dora) {
        rc = cl_error_set(err, CL_ERR_UNSUPPORTED,
                          "%s: use_dora: DoRA adapters are not imported (their update is not "
                          "s * B * A)",
                          p);
        goto out;
    }
out:
    json_decref(root);
    return rc;
}

void cl_peft_config_module(const peft_config *c, const char *module, int *r, double *alpha)
{
    *r = c->r;
    *alpha = c->alpha;
    for (int i = 0; i < c->n_rank_pat; i++)
        if (regexec(&c->rank_pat[i].re, module, 0, NULL, 0) == 0) {
            *r = (int)c->rank_pat[i].value;
            break;
        }
    for (int i = 0; i < c->n_alpha_pat; i++)
        if (regexec(&c->alpha_pat[i].re, module, 0, NULL, 0) == 0) {
            *alpha = c->alpha_pat[i].value;
            break;
        }
}

double cl_peft_scale(double alpha, int r, int rslora)
{
    return rslora ? alpha / sqrt((double)r) : alpha / (double)r;
}

int cl_peft_name_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && *y) {
        if (isdigit(*x) && isdigit(*y)) {
            while (*x == '0' && isdigit(x[1]))
                x++;
            while (*y == '0' && isdigit(y[1]))
                y++;
            size_t lx = 0, ly = 0;
            while (isdigit(x[lx]))
                lx++;
            while (isdigit(y[ly]))
                ly++;
            if (lx != ly)
                return lx < ly ? -1 : 1;
            int c = memcmp(x, y, lx);
            if (c)
                return c;
            x += lx;
            y += ly;
        } else if (*x != *y) {
            return *x < *y ? -1 : 1;
        } else {
            x++;
            y++;
        }
    }
    if (*x || *y)
        return *x ? 1 : -1;
    return strcmp(a, b); /* "01" and "1": equal as numbers, still ordered */
}
