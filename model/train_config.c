/* train_config.c -- the trainer's settings: defaults, and JSON both ways
 * (the store keeps them, so that --resume needs nothing else). */
#include "llama.h"
#include "trainer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *methods[] = {"seqlora", "inclora", "olora", "nlora", "olora+nlora"};

const char *cl_method_name(cl_method m) { return methods[m]; }

int cl_method_parse(const char *s, cl_method *m)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, methods[i])) {
            *m = (cl_method)i;
            return 0;
        }
    return -1;
}

void cl_train_defaults(cl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->synth_overlap = 0.3;
    /* Measured on the synthetic benchmark's default base (docs/RESULTS.md):
     * 48 examples a class, lr 1e-3 and LoRA on q and v alone learn nothing
     * there (every diagonal entry at chance); 250 a class, 5 epochs, lr 2e-3
     * on q, k, v and o learn every task, and leave N-LoRA at lambda 0.4
     * learning as well as IncLoRA. 200 test examples: a standard error of
     * about 3.5 points at most. */
    o->train_per_class = 250;
    o->test_per_task = 200;
    o->max_len = 192;
    o->data_seed = 42;
    o->method = CL_M_INCLORA;
    o->lambda_default = 0.4;   /* N-LoRA's orders 1-3 value */
    o->lambda_orth = 0.5;      /* O-LoRA's lambda1 */
    o->lambda_l2 = 0.0;
    o->penalty_code = -1;      /* auto: the released code's form where it applies */
    o->rank = 8;
    o->alpha = 32;             /* both papers: r 8, alpha 32 */
    o->dropout = 0.1;
    o->targets = (1u << CL_PROJ_Q) | (1u << CL_PROJ_K) | (1u << CL_PROJ_V) | (1u << CL_PROJ_O);
    o->epochs = 5;
    o->batch = 8;
    o->lr = 2e-3;
    o->seed = 1;
    o->snapshot_every = 25;
    o->max_new = 12;
    for (int i = 0; i < CL_TRAIN_MAX_TASKS; i++)
        o->lambda[i] = NAN; /* NAN: use lambda_default */
}

char *cl_train_opts_json(const cl_train_opts *o)
{
    json_t *j = json_object(), *tasks = json_array(), *src = json_array(), *lam = json_array();
    json_t *tg = json_array();
    for (int i = 0; i < o->n_tasks; i++) {
        json_array_append_new(tasks, json_string(o->task[i]));
        json_array_append_new(src, json_string(o->source[i]));
        json_array_append_new(lam, json_real(isnan(o->lambda[i]) ? o->lambda_default : o->lambda[i]));
    }
    for (int p = 0; p < CL_PROJ_COUNT; p++)
        if (o->targets & (1u << p))
            json_array_append_new(tg, json_string(cl_proj_hf_name((cl_proj)p)));
    json_object_set_new(j, "data_dir", json_string(o->data_dir));
    json_object_set_new(j, "synthetic", json_boolean(o->synthetic));
    json_object_set_new(j, "synthetic_overlap", json_real(o->synth_overlap));
    json_object_set_new(j, "order", json_integer(o->order));
    json_object_set_new(j, "tasks", tasks);
    json_object_set_new(j, "data_of", src);
    json_object_set_new(j, "train_per_class", json_integer(o->train_per_class));
    json_object_set_new(j, "test_per_task", json_integer(o->test_per_task));
    json_object_set_new(j, "max_len", json_integer(o->max_len));
    json_object_set_new(j, "data_seed", json_integer((json_int_t)o->data_seed));
    json_object_set_new(j, "base", json_string(o->base_dir));
    json_object_set_new(j, "method", json_string(cl_method_name(o->method)));
    json_object_set_new(j, "penalty", json_string(o->penalty_code < 0    ? "auto"
                                                  : o->penalty_code ? "code"
                                                                    : "paper"));
    json_object_set_new(j, "lambda", lam);
    /* the scale lambda multiplies (docs/METRICS.md, "The N-LoRA penalty's scale") */
    json_object_set_new(j, "sparse_penalty",
                        json_string(o->penalty_code < 0    ? "auto"
                                    : o->penalty_code ? "sum over modules of |A B|_1 (r x r)"
                                                      : "sum over modules of r^2/(d_out d_in) "
                                                        "|s B A|_1"));
    json_object_set_new(j, "lambda_orth", json_real(o->lambda_orth));
    json_object_set_new(j, "lambda_l2", json_real(o->lambda_l2));
    json_object_set_new(j, "rank", json_integer(o->rank));
    json_object_set_new(j, "alpha", json_real(o->alpha));
    json_object_set_new(j, "dropout", json_real(o->dropout));
    json_object_set_new(j, "targets", tg);
    json_object_set_new(j, "epochs", json_integer(o->epochs));
    json_object_set_new(j, "batch", json_integer(o->batch));
    json_object_set_new(j, "lr", json_real(o->lr));
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(j, "snapshot_every", json_integer(o->snapshot_every));
    json_object_set_new(j, "max_new", json_integer(o->max_new));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static int need(json_t *j, const char *k, json_t **v, const char *name, cl_error *err)
{
    *v = json_object_get(j, k);
    if (!*v)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: \"%s\" missing", name, k);
    return CL_OK;
}

int cl_train_opts_parse(const char *text, const char *name, cl_train_opts *o, cl_error *err)
{
    cl_train_defaults(o);
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: not a JSON object (%s)", name,
                            j ? "" : je.text);
    }
    json_t *v;
    int rc = CL_OK;
#define GET(key) if (!rc) rc = need(j, key, &v, name, err); if (!rc)
    GET("data_dir") snprintf(o->data_dir, sizeof o->data_dir, "%s", json_string_value(v) ? json_string_value(v) : "");
    GET("synthetic") o->synthetic = json_is_true(v);
    GET("synthetic_overlap") o->synth_overlap = json_number_value(v);
    GET("order") o->order = (int)json_integer_value(v);
    GET("train_per_class") o->train_per_class = (int)json_integer_value(v);
    GET("test_per_task") o->test_per_task = (int)json_integer_value(v);
    GET("max_len") o->max_len = (int)json_integer_value(v);
    GET("data_seed") o->data_seed = (uint64_t)json_integer_value(v);
    GET("base") snprintf(o->base_dir, sizeof o->base_dir, "%s", json_string_value(v) ? json_string_value(v) : "");
    GET("method") if (!json_is_string(v) || cl_method_parse(json_string_value(v), &o->method))
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: bad method", name);
    GET("penalty") o->penalty_code = !json_is_string(v)                         ? 0
                                     : !strcmp(json_string_value(v), "code") ? 1
                                     : !strcmp(json_string_value(v), "auto") ? -1
                                                                             : 0;
    GET("lambda_orth") o->lambda_orth = json_number_value(v);
    GET("lambda_l2") o->lambda_l2 = json_number_value(v);
    GET("rank") o->rank = (int)json_integer_value(v);
    GET("alpha") o->alpha = json_number_value(v);
    GET("dropout") o->dropout = json_number_value(v);
    GET("epochs") o->epochs = (int)json_integer_value(v);
    GET("batch") o->batch = (int)json_integer_value(v);
    GET("lr") o->lr = json_number_value(v);
    GET("seed") o->seed = (uint64_t)json_integer_value(v);
    GET("snapshot_every") o->snapshot_every = (int)json_integer_value(v);
    GET("max_new") o->max_new = (int)json_integer_value(v);
    json_t *tasks = NULL, *src = NULL, *lam = NULL, *tg = NULL;
    GET("tasks") tasks = v;
    GET("data_of") src = v;
    GET("lambda") lam = v;
    GET("targets") tg = v;
#undef GET
    if (!rc) {
        size_t n = json_array_size(tasks);
        if (n < 1 || n > CL_TRAIN_MAX_TASKS || json_array_size(src) != n || json_array_size(lam) != n)
            rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: task lists disagree", name);
        for (size_t i = 0; i < n && !rc; i++) {
            const char *a = json_string_value(json_array_get(tasks, i));
            const char *b = json_string_value(json_array_get(src, i));
            if (!a || !b) {
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: task %zu", name, i);
                break;
            }
            snprintf(o->task[i], sizeof o->task[i], "%s", a);
            snprintf(o->source[i], sizeof o->source[i], "%s", b);
            o->lambda[i] = json_number_value(json_array_get(lam, i));
        }
        o->n_tasks = (int)n;
        o->targets = 0;
        for (size_t i = 0; i < json_array_size(tg) && !rc; i++) {
            cl_proj p;
            const char *s = json_string_value(json_array_get(tg, i));
            if (!s || cl_proj_parse(s, &p))
                rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: bad target", name);
            else
                o->targets |= 1u << p;
        }
    }
    json_decref(j);
    return rc;
}
