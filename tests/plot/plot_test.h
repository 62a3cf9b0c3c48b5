/*
 * plot_test.h -- what the figure tests share: running a tool of the build
 * with its output captured, reading its JSON tables, and reading the CSV a
 * figure writes. Each test defines bindir and work (its scratch folder)
 * before including this.
 */
#ifndef COLLIDE_PLOT_TEST_H
#define COLLIDE_PLOT_TEST_H

#include "../check.h"

#include <jansson.h>
#include <sys/wait.h>

/* ------------------------------------------------------------ running */

static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    if (len)
        *len = got;
    return b;
}

/* Run "env BINDIR/args" (env may be ""); stdout and stderr captured. */
static inline int run(const char *env, const char *args, char **out, char **err)
{
    char cmd[8192], of[600], ef[600];
    snprintf(of, sizeof of, "%s/stdout.txt", work);
    snprintf(ef, sizeof ef, "%s/stderr.txt", work);
    snprintf(cmd, sizeof cmd, "%s %s/%s >%s 2>%s", env, bindir, args, of, ef);
    int st = system(cmd);
    if (out)
        *out = slurp(of, NULL);
    if (err)
        *err = slurp(ef, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline json_t *run_json(const char *args)
{
    char *out, *err;
    int st = run("", args, &out, &err);
    CHECK(st == 0, "%s: exit %d: %s", args, st, err ? err : "");
    json_error_t je;
    json_t *j = json_loads(out ? out : "", 0, &je);
    CHECK(j != NULL, "%s: JSON does not parse: %s", args, je.text);
    free(out), free(err);
    return j ? j : json_object();
}

static inline json_t *table(json_t *j, const char *name)
{
    json_t *t = json_object_get(json_object_get(j, "tables"), name);
    CHECK(json_is_array(t), "table %s missing", name);
    return t ? t : json_array();
}

static inline double num(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static inline const char *str(json_t *row, const char *key)
{
    const char *s = json_string_value(json_object_get(row, key));
    return s ? s : "";
}

/* ------------------------------------------------------------ CSV */

typedef struct csv {
    int ncols, nrows;
    char **cols;
    char **cells; /* nrows x ncols */
} csv;

/* RFC 4180 as cli.c writes it: quoted fields double their quotes. */
static inline int csv_field(const char **p, char **out)
{
    const char *s = *p;
    size_t cap = 64, n = 0;
    char *b = malloc(cap);
    if (*s == '"') {
        for (s++;; s++) {
            if (!*s)
                break;
            if (*s == '"' && s[1] == '"')
                s++;
            else if (*s == '"') {
                s++;
                break;
            }
            if (n + 2 > cap)
                b = realloc(b, cap *= 2);
            b[n++] = *s;
        }
    } else {
        for (; *s && *s != ',' && *s != '\n'; s++) {
            if (n + 2 > cap)
                b = realloc(b, cap *= 2);
            b[n++] = *s;
        }
    }
    b[n] = 0;
    *out = b;
    int end = *s != ',';
    if (*s)
        s++;
    *p = s;
    return end; /* 1: the row ended */
}

static inline int csv_load(const char *path, csv *c)
{
    memset(c, 0, sizeof *c);
    char *text = slurp(path, NULL);
    if (!text)
        return -1;
    const char *p = text;
    int cap = 16;
    c->cols = malloc((size_t)cap * sizeof *c->cols);
    for (;;) {
        char *f;
        int end = csv_field(&p, &f);
        if (c->ncols == cap)
            c->cols = realloc(c->cols, (size_t)(cap *= 2) * sizeof *c->cols);
        c->cols[c->ncols++] = f;
        if (end)
            break;
    }
    size_t ccap = 1024, n = 0;
    c->cells = malloc(ccap * sizeof *c->cells);
    while (*p) {
        int got = 0, end = 0;
        while (!end) {
            char *f;
            end = csv_field(&p, &f);
            if (n == ccap)
                c->cells = realloc(c->cells, (ccap *= 2) * sizeof *c->cells);
            c->cells[n++] = f;
            got++;
        }
        CHECK(got == c->ncols, "%s: row %d has %d fields, the header %d", path, c->nrows + 1, got,
              c->ncols);
        if (got != c->ncols)
            break;
        c->nrows++;
    }
    free(text);
    return 0;
}

static inline void csv_free(csv *c)
{
    for (int i = 0; i < c->ncols; i++)
        free(c->cols[i]);
    for (long i = 0; i < (long)c->nrows * c->ncols; i++)
        free(c->cells[i]);
    free(c->cols);
    free(c->cells);
}

static inline int col(const csv *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (!strcmp(c->cols[i], name))
            return i;
    CHECK(0, "CSV has no column %s", name);
    return -1;
}

static inline const char *cs(const csv *c, int r, const char *name)
{
    int j = col(c, name);
    return j < 0 ? "" : c->cells[(long)r * c->ncols + j];
}

/* A number; an empty field is NaN, as the tools write it. */
static inline double cf(const csv *c, int r, const char *name)
{
    const char *s = cs(c, r, name);
    return s[0] ? strtod(s, NULL) : NAN;
}

#endif
