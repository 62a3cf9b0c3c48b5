/*
 * accuracy_file.c -- an accuracy matrix written by hand or by another
 * trainer's logs, as CSV or JSON (docs/IMPORT.md, "Accuracy files"):
 *
 *   after,dbpedia,amazon,yahoo,agnews       JSON: {"tasks": [...],
 *   baseline,0.01,0.02,0.00,0.01                   "accuracy": [[...], ...],
 *   dbpedia,0.98,,,                                "baseline": [...]}
 *   amazon,0.97,0.55,,
 *
 * A row is "after training task X", a column "on task Y", both by name, in
 * any order; an empty cell (or null) is not evaluated. Values are fractions
 * in [0, 1], or percentages when any value exceeds 1 (the O-LoRA logs print
 * exact match in percent): the caller is told which.
 */
#include "store_internal.h"

#include "cl_json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACC_MAX_BYTES (16 << 20)

static int task_index(const char *const *tasks, int T, const char *name)
{
    for (int t = 0; t < T; t++)
        if (!strcmp(tasks[t], name))
            return t;
    return -1;
}

static int unknown_task(const char *file, const char *where, const char *name,
                        const char *const *tasks, int T, cl_error *err)
{
    char list[512] = "";
    for (int t = 0; t < T && strlen(list) < sizeof list - 80; t++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", t ? ", " : "",
                 tasks[t]);
    return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: '%s' is not a task of the store (%s)", file,
                        where, name, list);
}

/* Values > 1 anywhere: the whole file is in percent. */
static int scale_values(const char *file, double *R, double *base, int T, int *percent,
                        cl_error *err)
{
    double top = 0;
    for (int i = 0; i < T * T; i++)
        if (!isnan(R[i]))
            top = R[i] > top ? R[i] : top;
    for (int i = 0; i < T; i++)
        if (!isnan(base[i]))
            top = base[i] > top ? base[i] : top;
    *percent = top > 1;
    double k = *percent ? 0.01 : 1, hi = *percent ? 100 : 1;
    for (int i = 0; i < T * T + T; i++) {
        double *v = i < T * T ? &R[i] : &base[i - T * T];
        if (isnan(*v))
            continue;
        if (!(*v >= 0 && *v <= hi))
            return cl_error_set(err, CL_ERR_VALUE, "%s: %s %g outside [0, %g]%s", file,
                                i < T * T ? "accuracy" : "baseline", *v, hi,
                                *percent ? " (read as percentages since a value exceeds 1)"
                                         : "");
        *v *= k;
    }
    return CL_OK;
}

/* ------------------------------------------------------------------ CSV */

/* Split one line into at most max cells (commas; "quoted" cells may hold
 * commas). Cells point into line, trimmed. */
static int split_csv(char *line, char **cell, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *start = p, *end;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"')
                p++;
            end = p;
            if (*p == '"')
                p++;
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
        }
        char sep = *p;
        *end = 0;
        if (n >= max)
            return -1;
        cell[n++] = start;
        if (sep != ',')
            return n;
        p++;
    }
}

static int parse_csv(const char *file, char *text, const char *const *tasks, int T, double *R,
                     double *base, cl_error *err)
{
    int max = T + 2, n_col = 0, *col = calloc((size_t)max, sizeof *col);
    char **cell = calloc((size_t)max, sizeof *cell);
    int rc = CL_OK, line_no = 0, header = 0;
    if (!col || !cell) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
        goto out;
    }
    for (char *line = text, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line_no++;
        char *q = line;
        while (isspace((unsigned char)*q))
            q++;
        if (!*q || *q == '#')
            continue;
        int n = split_csv(line, cell, max);
        if (n < 0) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: line %d: more than %d cells (the store "
                              "has %d tasks)", file, line_no, max - 1, T);
            break;
        }
        if (!header) {
            if (strcasecmp(cell[0], "after")) {
                rc = cl_error_set(err, CL_ERR_FORMAT,
                                  "%s: line %d: the header must start with 'after' (then the "
                                  "tasks evaluated), found '%s'", file, line_no, cell[0]);
                break;
            }
            n_col = n - 1;
            for (int c = 0; c < n_col && !rc; c++) {
                col[c] = task_index(tasks, T, cell[c + 1]);
                if (col[c] < 0)
                    rc = unknown_task(file, "header", cell[c + 1], tasks, T, err);
                for (int d = 0; d < c && !rc; d++)
                    if (col[d] == col[c])
                        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: header: task '%s' twice",
                                          file, cell[c + 1]);
            }
            header = 1;
            continue;
        }
        double *row;
        if (!strcasecmp(cell[0], "baseline")) {
            row = base;
        } else {
            int t = task_index(tasks, T, cell[0]);
            if (t < 0) {
                char where[32];
                snprintf(where, sizeof where, "line %d", line_no);
                rc = unknown_task(file, where, cell[0], tasks, T, err);
                break;
            }
            row = R + (size_t)t * (size_t)T;
        }
        if (n - 1 > n_col) {
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: line %d: %d values but the header names "
                              "%d tasks", file, line_no, n - 1, n_col);
            break;
        }
        for (int c = 0; c < n - 1 && !rc; c++) {
            const char *v = cell[c + 1];
            if (!*v || !strcmp(v, "-"))
                continue;
            char *end;
            errno = 0;
            double x = strtod(v, &end);
            while (*end == ' ' || *end == '%')
                end++;
            if (*end || errno || !isfinite(x))
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: line %d: '%s' is not a number", file,
                                  line_no, v);
            else if (!isnan(row[col[c]]))
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: line %d: row '%s' given twice", file,
                                  line_no, cell[0]);
            else
                row[col[c]] = x;
        }
    }
    if (!rc && !header)
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: empty (expected a header 'after,TASK,...')",
                          file);
out:
    free(col);
    free(cell);
    return rc;
}

/* ----------------------------------------------------------------- JSON */

static int json_row(const char *file, const char *what, const json_t *a, const int *map, int n,
                    double *row, cl_error *err)
{
    if (!json_is_array(a) || (int)json_array_size(a) != n)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected an array of %d values, found "
                            "%s", file, what, n, cl_json_kind(a));
    for (int c = 0; c < n; c++) {
        json_t *v = json_array_get(a, (size_t)c);
        if (json_is_null(v))
            continue;
        char w[96];
        snprintf(w, sizeof w, "%s[%d]", what, c);
        int rc = cl_json_num(file, w, v, &row[map[c]], err);
        if (rc)
            return rc;
    }
    return CL_OK;
}

static int parse_json(const char *file, const char *text, const char *const *tasks, int T,
                      double *R, double *base, cl_error *err)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: line %d: %s", file, je.line, je.text);
    int rc = CL_OK, n = 0, *map = NULL;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: expected an object with \"tasks\" and "
                          "\"accuracy\", found %s", file, cl_json_kind(root));
        goto out;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "tasks") && strcmp(key, "accuracy") && strcmp(key, "baseline")) {
            rc = cl_error_set(err, CL_ERR_FORMAT,
                              "%s: key '%s' unknown (tasks, accuracy, baseline)", file, key);
            goto out;
        }
    }
    json_t *jt = json_object_get(root, "tasks"), *ja = json_object_get(root, "accuracy");
    if (!json_is_array(jt) || !json_is_array(ja)) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: \"tasks\" and \"accuracy\" must be arrays",
                          file);
        goto out;
    }
    n = (int)json_array_size(jt);
    if (n < 1 || n > T || (int)json_array_size(ja) != n) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %d tasks and %d accuracy rows (the store has "
                          "%d tasks; one row per task listed)", file, n,
                          (int)json_array_size(ja), T);
        goto out;
    }
    map = calloc((size_t)n, sizeof *map);
    if (!map) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
        goto out;
    }
    for (int i = 0; i < n && !rc; i++) {
        json_t *s = json_array_get(jt, (size_t)i);
        char w[32];
        snprintf(w, sizeof w, "tasks[%d]", i);
        if (!json_is_string(s))
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %s: expected a string, found %s", file, w,
                              cl_json_kind(s));
        else if ((map[i] = task_index(tasks, T, json_string_value(s))) < 0)
            rc = unknown_task(file, w, json_string_value(s), tasks, T, err);
        for (int j = 0; j < i && !rc; j++)
            if (map[j] == map[i])
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: tasks: '%s' twice", file,
                                  json_string_value(s));
    }
    for (int i = 0; i < n && !rc; i++) {
        char w[32];
        snprintf(w, sizeof w, "accuracy[%d]", i);
        rc = json_row(file, w, json_array_get(ja, (size_t)i), map, n,
                      R + (size_t)map[i] * (size_t)T, err);
    }
    json_t *jb = json_object_get(root, "baseline");
    if (!rc && jb && !json_is_null(jb))
        rc = json_row(file, "baseline", jb, map, n, base, err);
out:
    free(map);
    json_decref(root);
    return rc;
}

int cl_accuracy_file_read(const char *file, const char *const *tasks, int T, double *R,
                          double *baseline, int *has_baseline, int *percent, cl_error *err)
{
    for (int i = 0; i < T * T; i++)
        R[i] = NAN;
    for (int i = 0; i < T; i++)
        baseline[i] = NAN;
    *has_baseline = *percent = 0;
    FILE *f = fopen(file, "rb");
    if (!f)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", file, strerror(errno));
    char *text = malloc(ACC_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, ACC_MAX_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!text)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    int rc = CL_OK;
    if (bad)
        rc = cl_error_set(err, CL_ERR_IO, "%s: read error", file);
    else if (n > ACC_MAX_BYTES)
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: larger than %d MiB; not an accuracy file",
                          file, ACC_MAX_BYTES >> 20);
    else if (memchr(text, 0, n))
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: binary data; expected CSV or JSON text",
                          file);
    if (!rc) {
        text[n] = 0;
        const char *p = text;
        while (isspace((unsigned char)*p))
            p++;
        rc = *p == '{' ? parse_json(file, text, tasks, T, R, baseline, err)
                       : parse_csv(file, text, tasks, T, R, baseline, err);
    }
    free(text);
    int any = 0;
    for (int i = 0; !rc && i < T * T; i++)
        any |= !isnan(R[i]);
    if (!rc && !any)
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: no accuracy given", file);
    if (!rc)
        rc = scale_values(file, R, baseline, T, percent, err);
    for (int i = 0; !rc && i < T; i++)
        *has_baseline |= !isnan(baseline[i]);
    return rc;
}
