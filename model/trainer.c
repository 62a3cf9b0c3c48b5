/*
 * trainer.c -- the continual-learning run, top to bottom:
 *
 *   load the tasks and tokenise them; load the base;
 *   record the base's accuracy on every task (the FWT baseline);
 *   for each task: start its adapter (earlier ones frozen, except seqlora),
 *     train for the epochs, appending a snapshot every K steps and at the end,
 *     then evaluate every task of the order and write that row of R.
 *
 * Every snapshot carries the optimiser state and the position in the data,
 * so a run killed anywhere resumes from its last committed snapshot and, with
 * a fixed seed and one thread, ends with the same store as an uninterrupted
 * run (only wall times differ).
 */
#include "trainer.h"
#include "encode.h"
#include "llama.h"
#include "penalty.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESUME_MAGIC 0x434c5452u /* "CLTR" */
#define RESUME_VERSION 1

typedef struct resume_hdr {
    uint32_t magic, version;
    int32_t task, epoch, batch_next, pad;
    int64_t step, task_step, tokens, adam_t, n;
    double wall;
} resume_hdr;

typedef struct run {
    cl_train_opts o;
    const char *path;
    cl_store *st;
    cl_llama *m;
    cl_tokenizer *tok;
    cl_task_data data[CL_TRAIN_MAX_TASKS];
    cl_encoded_task enc[CL_TRAIN_MAX_TASKS];
    cl_adamw opt;
    int64_t n_lora;       /* trainable LoRA parameters */
    int M;                /* store modules = adapted projections */
    int32_t *mrank;
    double *mscale;
    const float **pA, **pB;
    /* position */
    int task, epoch, batch_next;
    int64_t step, task_step, tokens;
    double wall0, t_start;
    /* batch buffers */
    int32_t *x, *y;
    uint8_t *mask;
    int64_t total_steps;
    double pen_orth, pen_l2, pen_sparse, loss_task;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double lam_task(const run *r, int t)
{
    return isnan(r->o.lambda[t]) ? r->o.lambda_default : r->o.lambda[t];
}

static int uses_orth(cl_method m) { return m == CL_M_OLORA || m == CL_M_BOTH; }
static int uses_sparse(cl_method m) { return m == CL_M_NLORA || m == CL_M_BOTH; }

/* ------------------------------------------------------------ data */

static int load_data(run *r, cl_error *err)
{
    cl_load_opts lo = {.train_per_class = r->o.train_per_class,
                       .test_per_task = r->o.test_per_task,
                       .seed = r->o.data_seed};
    for (int t = 0; t < r->o.n_tasks; t++) {
        int rc;
        if (r->o.synthetic) {
            cl_synth_bench sb = {.tasks = r->o.n_tasks, .overlap = r->o.synth_overlap,
                                 .seed = r->o.data_seed};
            int k = -1;
            for (int i = 0; i < 6; i++)
                if (!strcmp(r->o.source[t], cl_synth_bench_name(i)))
                    k = i;
            if (k < 0)
                return cl_error_set(err, CL_ERR_ARG, "task %s: the synthetic benchmark has synth1 "
                                    "to synth6", r->o.source[t]);
            rc = cl_synth_bench_load(&sb, k, &lo, &r->data[t], err);
        } else {
            rc = cl_bench_load(r->o.data_dir, r->o.task[t], r->o.source[t], &lo, &r->data[t], err);
        }
        if (rc)
            return rc;
        if ((rc = cl_encode_task(r->tok, &r->data[t], r->o.max_len, &r->enc[t], err)))
            return rc;
        if (getenv("COLLIDE_DEBUG_ENCODE")) /* tests/model/test_family_train.sh */
            cl_encode_dump(stderr, "collide-train", &r->data[t], &r->enc[t]);
        r->total_steps += (int64_t)r->o.epochs * ((r->enc[t].n_train + r->o.batch - 1) / r->o.batch);
        if (r->o.progress)
            fprintf(stderr, "collide-train: %-8s %5d train, %4d test, %d labels; %s%s\n",
                    r->o.task[t], r->enc[t].n_train, r->enc[t].n_test, r->data[t].n_labels,
                    r->data[t].note, r->enc[t].truncated ? " (some texts cut to --max-len)" : "");
    }
    return CL_OK;
}

/* Batch b of epoch e of task t: examples in a seeded permutation, right-
 * padded to the longest; the loss counts the answer and end-of-text only. */
static int make_batch(run *r, int t, int e, int b, int *T_out)
{
    cl_encoded_task *E = &r->enc[t];
    int n = E->n_train, B = r->o.batch;
    int *perm = malloc((size_t)n * sizeof *perm);
    if (!perm)
        return -1;
    for (int i = 0; i < n; i++)
        perm[i] = i;
    cl_rng g;
    cl_rng_seed(&g, r->o.seed * 1000003u + (uint64_t)t * 7919u + (uint64_t)e);
    for (int i = n - 1; i > 0; i--) {
        int k = (int)cl_rng_below(&g, (uint64_t)i + 1);
        int tmp = perm[i];
        perm[i] = perm[k];
        perm[k] = tmp;
    }
    int T = 1;
    for (int i = 0; i < B && b * B + i < n; i++) {
        const cl_encoded *x = &E->train[perm[b * B + i]];
        int len = x->n_prompt + x->n_target - 1;
        T = len > T ? len : T;
    }
    size_t BT = (size_t)(unsigned)B * (size_t)(unsigned)T;
    memset(r->mask, 0, BT);
    for (int i = 0; i < B; i++) {
        int32_t *xi = r->x + i * T, *yi = r->y + i * T;
        memset(xi, 0, (size_t)T * sizeof *xi);
        memset(yi, 0, (size_t)T * sizeof *yi);
        if (b * B + i >= n) /* a short last batch: empty rows count nothing */
            continue;
        const cl_encoded *x = &E->train[perm[b * B + i]];
        int len = x->n_prompt + x->n_target;
        for (int p = 0; p + 1 < len; p++) {
            xi[p] = x->ids[p];
            yi[p] = x->ids[p + 1];
            r->mask[i * T + p] = p + 1 >= x->n_prompt;
        }
    }
    free(perm);
    *T_out = T;
    return 0;
}

/* ------------------------------------------------------------ steps */

/* Penalties of the current adapters: gradients into dA/dB (weighted), the
 * unweighted values into r->pen_*. */
static int penalties(run *r, cl_error *err)
{
    r->pen_orth = r->pen_l2 = r->pen_sparse = 0;
    cl_method m = r->o.method;
    float l1 = (float)r->o.lambda_orth, l2 = (float)r->o.lambda_l2;
    float ls = (float)lam_task(r, r->task);
    for (int i = 0; i < cl_llama_lora_count(r->m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(r->m, i);
        if (uses_orth(m)) {
            r->pen_orth += r->o.penalty_code
                               ? cl_pen_orth_code(s->A_frozen, s->r_frozen, s->A, s->r, s->d_in, l1, s->dA)
                               : cl_pen_orth_paper(s->A_frozen, s->r_frozen, s->A, s->r, s->d_in, l1, s->dA);
            if (r->o.penalty_code && l2 > 0)
                r->pen_l2 += cl_pen_l2_code(s->A, s->r * s->d_in, s->B, s->d_out * s->r, l2, s->dA, s->dB);
        }
        if (uses_sparse(m)) {
            double v = r->o.penalty_code
                           ? cl_pen_sparse_code(s->A, s->B, s->r, s->d_in, s->d_out, ls, s->dA, s->dB)
                           : cl_pen_sparse_paper(s->A, s->B, s->r, s->d_in, s->d_out, s->scale, ls, s->dA, s->dB);
            if (isnan(v))
                return cl_error_set(err, CL_ERR_ARG,
                                    "--penalty code: N-LoRA's released code penalises the r x r "
                                    "product A B, defined only when d_in = d_out; layers.%d.%s is "
                                    "%d x %d (use --penalty paper)",
                                    s->layer, cl_proj_short(s->proj), s->d_out, s->d_in);
            r->pen_sparse += v;
        }
    }
    return CL_OK;
}

static void optimise(run *r)
{
    cl_adamw_tick(&r->opt);
    size_t off = 0;
    for (int i = 0; i < cl_llama_lora_count(r->m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(r->m, i);
        size_t na = (size_t)s->r * s->d_in, nb = (size_t)s->d_out * s->r;
        cl_adamw_step_block(&r->opt, off, s->A, s->dA, na, 0.0f);
        cl_adamw_step_block(&r->opt, off + na, s->B, s->dB, nb, 0.0f);
        off += na + nb;
    }
}

static double total_loss(const run *r)
{
    return r->loss_task + r->o.lambda_orth * r->pen_orth + r->o.lambda_l2 * r->pen_l2 +
           lam_task(r, r->task) * r->pen_sparse;
}

/* ------------------------------------------------------------ snapshots */

static void module_list(const run *r, char names[][48], int64_t *dout, int64_t *din, int32_t *rank)
{
    const cl_llama_config *c = cl_llama_cfg(r->m);
    int k = 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int p = 0; p < CL_PROJ_COUNT; p++) {
            if (!(r->o.targets & (1u << p)))
                continue;
            cl_lora_slot *s = cl_llama_lora_find(r->m, l, (cl_proj)p);
            snprintf(names[k], 48, "layers.%d.%s", l, cl_proj_short((cl_proj)p));
            dout[k] = s->d_out;
            din[k] = s->d_in;
            rank[k] = r->o.rank;
            k++;
        }
}

static int64_t resume_size(const run *r)
{
    return (int64_t)sizeof(resume_hdr) + 2 * r->n_lora * (int64_t)sizeof(float);
}

static int snapshot(run *r, int kind, cl_error *err)
{
    const cl_llama_config *c = cl_llama_cfg(r->m);
    int k = 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int p = 0; p < CL_PROJ_COUNT; p++) {
            if (!(r->o.targets & (1u << p)))
                continue;
            cl_lora_slot *s = cl_llama_lora_find(r->m, l, (cl_proj)p);
            r->pA[k] = s->A;
            r->pB[k] = s->B;
            r->mrank[k] = s->r;
            r->mscale[k] = s->scale;
            k++;
        }
    int64_t rb = resume_size(r);
    uint8_t *blob = malloc((size_t)rb);
    if (!blob)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    resume_hdr h = {.magic = RESUME_MAGIC, .version = RESUME_VERSION, .task = r->task,
                    .epoch = r->epoch, .batch_next = r->batch_next, .step = r->step,
                    .task_step = r->task_step, .tokens = r->tokens, .adam_t = r->opt.t,
                    .n = r->n_lora, .wall = r->wall0 + now() - r->t_start};
    memcpy(blob, &h, sizeof h);
    memcpy(blob + sizeof h, r->opt.m, (size_t)r->n_lora * sizeof(float));
    memcpy(blob + sizeof h + (size_t)r->n_lora * sizeof(float), r->opt.v,
           (size_t)r->n_lora * sizeof(float));
    cl_snapshot_row row = {.task = r->task, .epoch = r->epoch, .step = r->step,
                           .loss = total_loss(r), .loss_task = r->loss_task,
                           .penalty_orth = uses_orth(r->o.method) ? r->pen_orth : NAN,
                           .penalty_l2 = uses_orth(r->o.method) && r->o.penalty_code ? r->pen_l2 : NAN,
                           .penalty_sparse = uses_sparse(r->o.method) ? r->pen_sparse : NAN,
                           .wall_time = h.wall, .kind = kind};
    int rc = cl_store_append(r->st, &row, r->pA, r->pB, r->mrank, r->mscale, blob, rb, err);
    free(blob);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

/* Every task of the order under both protocols (cl_eval): greedy
 * generation with exact match of the normalised answer (the paper's), and
 * ranked scoring, the option label with the highest log-likelihood. */
static int evaluate(run *r, double *acc[CL_EVAL_COUNT], const char *what, cl_error *err)
{
    int eos = cl_tok_eos(r->tok);
    int32_t out[64];
    int max_new = r->o.max_new < 64 ? r->o.max_new : 64;
    double t0 = now();
    for (int j = 0; j < r->o.n_tasks; j++) {
        cl_encoded_task *E = &r->enc[j];
        int K = E->n_options, correct = 0, ranked = 0;
        double *ll = malloc((size_t)K * sizeof *ll);
        char (*b)[256] = malloc((size_t)K * sizeof *b);
        if (!ll || !b) {
            free(ll), free(b);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        for (int k = 0; k < K; k++)
            cl_normalize_answer(r->data[j].labels[k], b[k], sizeof b[k]);
        for (int i = 0; i < E->n_test; i++) {
            const cl_encoded *x = &E->test[i];
            int n = cl_llama_evaluate(r->m, x->ids, x->n_prompt, max_new, eos, out,
                                      (const int32_t *const *)E->option, E->n_option, K, ll, err);
            int rc = n < 0 ? -n : CL_OK;
            if (rc) {
                free(ll), free(b);
                return rc;
            }
            char text[1024], a[1024];
            cl_tok_decode(r->tok, out, n, text, sizeof text);
            cl_normalize_answer(text, a, sizeof a);
            correct += !strcmp(a, b[x->label]);
            int best = 0; /* ties go to the first option: deterministic */
            for (int k = 1; k < K; k++)
                best = ll[k] > ll[best] ? k : best;
            ranked += best == x->label;
            if (getenv("COLLIDE_DEBUG_EVAL") && i < 3)
                fprintf(stderr, "  [%s] generated \"%s\", ranked \"%s\", for \"%s\"\n",
                        r->o.task[j], text, r->data[j].labels[best], r->data[j].labels[x->label]);
            if (r->o.progress && i % 10 == 0)
                fprintf(stderr, "\r\033[Kcollide-train: evaluating %s: %s %d/%d", what,
                        r->o.task[j], i, E->n_test);
        }
        free(ll), free(b);
        acc[CL_EVAL_GENERATE][j] = (double)correct / E->n_test;
        acc[CL_EVAL_RANKED][j] = (double)ranked / E->n_test;
    }
    if (r->o.progress) {
        fprintf(stderr, "\r\033[Kcollide-train: %s (%.0f s), ranked / generation:", what,
                now() - t0);
        for (int j = 0; j < r->o.n_tasks; j++)
            fprintf(stderr, " %s %.1f/%.1f%%", r->o.task[j], 100 * acc[CL_EVAL_RANKED][j],
                    100 * acc[CL_EVAL_GENERATE][j]);
        fputc('\n', stderr);
    }
    return CL_OK;
}

/* Both protocols' rows: the ranked one first, so that the generation row,
 * which resume reads to know a task is evaluated, commits the pair. */
static int write_rows(run *r, int t, double *acc[CL_EVAL_COUNT], cl_error *err)
{
    int rc = cl_store_write_accuracy_row(r->st, CL_EVAL_RANKED, t, acc[CL_EVAL_RANKED], err);
    return rc ? rc : cl_store_write_accuracy_row(r->st, CL_EVAL_GENERATE, t, acc[CL_EVAL_GENERATE], err);
}

static int write_baselines(run *r, double *acc[CL_EVAL_COUNT], cl_error *err)
{
    int rc = cl_store_write_baseline(r->st, CL_EVAL_RANKED, acc[CL_EVAL_RANKED], err);
    return rc ? rc : cl_store_write_baseline(r->st, CL_EVAL_GENERATE, acc[CL_EVAL_GENERATE], err);
}

/* Evaluate the base and store the baselines (FWT). */
static int baseline(run *r, cl_error *err)
{
    double *b = malloc(2 * (size_t)r->o.n_tasks * sizeof *b);
    if (!b)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    double *acc[CL_EVAL_COUNT] = {b, b + r->o.n_tasks};
    int rc = evaluate(r, acc, "the base model", err);
    if (!rc)
        rc = write_baselines(r, acc, err);
    free(b);
    return rc;
}

/* ------------------------------------------------------------ the run */

static void fmt_eta(double s, char *buf, size_t n)
{
    if (s < 0 || !isfinite(s))
        s = 0;
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

/* Train task t from (epoch, batch_next); snapshots as we go. */
static int train_task(run *r, cl_error *err)
{
    int t = r->task, B = r->o.batch;
    int nb = (r->enc[t].n_train + B - 1) / B;
    double tstep = now();
    int64_t tok0 = r->tokens;
    for (; r->epoch < r->o.epochs; r->epoch++, r->batch_next = 0) {
        for (; r->batch_next < nb;) {
            int T;
            if (make_batch(r, t, r->epoch, r->batch_next, &T))
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            /* the dropout mask of a step depends on (seed, step) alone */
            uint64_t seed = r->o.seed * 0x9e3779b97f4a7c15ull + (uint64_t)r->step;
            r->loss_task = cl_llama_forward_bt(r->m, B, T, r->x, r->y, r->mask, 1, seed);
            cl_llama_backward(r->m);
            int rc = penalties(r, err);
            if (rc)
                return rc;
            optimise(r);
            r->tokens += cl_llama_loss_count(r->m) > 0 ? (int64_t)B * T : 0;
            r->step++;
            r->task_step++;
            r->batch_next++;
            int last = r->epoch == r->o.epochs - 1 && r->batch_next == nb;
            if (last) {
                rc = snapshot(r, CL_SNAP_END_OF_TASK, err);
            } else if (r->o.snapshot_every > 0 && r->task_step % r->o.snapshot_every == 0) {
                rc = snapshot(r, CL_SNAP_PERIODIC, err);
            }
            if (rc)
                return rc;
            if (r->o.progress) {
                double el = now() - tstep, tps = (double)(r->tokens - tok0) / (el > 0 ? el : 1);
                double per = el / (double)(r->task_step ? r->task_step : 1);
                char eta[32];
                fmt_eta(per * (double)(r->total_steps - r->step), eta, sizeof eta);
                fprintf(stderr,
                        "\r\033[Kcollide-train: task %d/%d %s  epoch %d/%d  step %lld  loss %.3f",
                        t + 1, r->o.n_tasks, r->o.task[t], r->epoch + 1, r->o.epochs,
                        (long long)r->step, total_loss(r));
                if (uses_orth(r->o.method))
                    fprintf(stderr, " orth %.3g", r->pen_orth);
                if (uses_sparse(r->o.method))
                    fprintf(stderr, " l1 %.3g", r->pen_sparse);
                fprintf(stderr, "  %.0f tok/s  ETA %s", tps, eta);
            }
        }
    }
    r->epoch = r->o.epochs;
    if (r->o.progress)
        fputs("\r\033[K", stderr);
    return CL_OK;
}

/* A new adapter for task t (the current one becomes frozen). */
static int new_adapter(run *r, int t, cl_error *err)
{
    return cl_llama_lora_new_task(r->m, r->o.targets, r->o.rank, (float)r->o.alpha,
                                  r->o.seed * 31u + (uint64_t)t, err);
}

/* Start task t: its adapter (seqlora keeps training its one adapter), a
 * fresh optimiser, the position at its first batch. */
static int start_task(run *r, int t, cl_error *err)
{
    if (r->o.method != CL_M_SEQLORA || t == 0) {
        int rc = new_adapter(r, t, err);
        if (rc)
            return rc;
    }
    memset(r->opt.m, 0, (size_t)r->n_lora * sizeof(float));
    memset(r->opt.v, 0, (size_t)r->n_lora * sizeof(float));
    r->opt.t = 0;
    r->task = t;
    r->epoch = 0;
    r->batch_next = 0;
    r->task_step = 0;
    return CL_OK;
}

static int64_t count_lora(cl_llama *m)
{
    int64_t n = 0;
    for (int i = 0; i < cl_llama_lora_count(m); i++) {
        cl_lora_slot *s = cl_llama_lora_slot(m, i);
        n += (int64_t)s->r * s->d_in + (int64_t)s->d_out * s->r;
    }
    return n;
}

/* Evaluation reads a prompt and then generates up to --max-new tokens (at
 * most 64) or scores the longest option label, whichever is longer: every
 * test prompt must leave room for that within the base's positions. Checked
 * with the data, before the store exists, so that a refused setting never
 * leaves a store behind. */
static int check_eval_fits(const run *r, cl_error *err)
{
    int P = cl_llama_cfg(r->m)->max_position;
    int max_new = r->o.max_new < 64 ? r->o.max_new : 64;
    for (int t = 0; t < r->o.n_tasks; t++) {
        const cl_encoded_task *E = &r->enc[t];
        int longest = 0, prompt = 0;
        for (int k = 0; k < E->n_options; k++)
            longest = E->n_option[k] > longest ? E->n_option[k] : longest;
        for (int i = 0; i < E->n_test; i++)
            prompt = E->test[i].n_prompt > prompt ? E->test[i].n_prompt : prompt;
        int after = max_new > longest ? max_new : longest;
        if (prompt + after > P)
            return cl_error_set(err, CL_ERR_ARG,
                                "--max-len %d with --max-new %d: task %s has test prompts of %d "
                                "tokens, and evaluating them needs %d more positions (%s), %d in "
                                "all; the base %s has %d positions (use --max-len %d or less, or "
                                "a smaller --max-new)",
                                r->o.max_len, r->o.max_new, r->o.task[t], prompt, after,
                                after == max_new ? "the generated answer" : "the longest label",
                                prompt + after, r->o.base_dir, P, r->o.max_len - (prompt + after - P));
    }
    return CL_OK;
}

/* Load the base, the tokenizer and the data; prepare buffers. */
static int setup(run *r, cl_error *err)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/tokenizer.json", r->o.base_dir);
    int rc = cl_tok_load(p, &r->tok, err);
    if (!rc)
        rc = cl_llama_load(r->o.base_dir, &r->m, err);
    if (rc)
        return rc;
    /* the model may have more rows than the tokenizer has ids (Qwen2.5 pads its
     * 151665 to 151936): the tokenizer never makes them, and decoding skips them */
    if (cl_llama_cfg(r->m)->vocab_size < cl_tok_vocab_size(r->tok))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: the tokenizer has %d tokens, the model %d",
                            r->o.base_dir, cl_tok_vocab_size(r->tok), cl_llama_cfg(r->m)->vocab_size);
    if ((rc = load_data(r, err)))
        return rc;
    if ((rc = check_eval_fits(r, err)))
        return rc;
    /* probe the adapter size with a throw-away task start */
    int B = r->o.batch, T = r->o.max_len;
    if ((rc = cl_llama_lora_new_task(r->m, r->o.targets, r->o.rank, (float)r->o.alpha, 0, err)))
        return rc;
    r->n_lora = count_lora(r->m);
    r->M = cl_llama_lora_count(r->m);
    /* the penalty form: auto is the released code's wherever it is defined;
     * an explicit code form on a non-square target is refused now, before
     * anything is created */
    const cl_lora_slot *odd = NULL;
    for (int i = 0; i < r->M && !odd; i++) {
        const cl_lora_slot *sl = cl_llama_lora_slot(r->m, i);
        if (sl->d_in != sl->d_out)
            odd = sl;
    }
    if (r->o.penalty_code < 0)
        r->o.penalty_code = !odd;
    else if (r->o.penalty_code == 1 && odd && uses_sparse(r->o.method)) {
        rc = cl_error_set(err, CL_ERR_ARG,
                          "--penalty code: N-LoRA's released code penalises the r x r product "
                          "A B, defined only when d_in = d_out; layers.%d.%s is %d x %d (use "
                          "--penalty paper or square --targets)",
                          odd->layer, cl_proj_short(odd->proj), odd->d_out, odd->d_in);
        cl_llama_lora_free(r->m);
        return rc;
    }
    cl_llama_lora_free(r->m);
    cl_llama_lora_set_dropout(r->m, (float)r->o.dropout);
    if ((rc = cl_llama_prepare(r->m, B, T, 0, err)) ||
        (rc = cl_adamw_init(&r->opt, (size_t)r->n_lora, (float)r->o.lr, 0.0f, err)))
        return rc;
    r->x = malloc((size_t)B * T * sizeof *r->x);
    r->y = malloc((size_t)B * T * sizeof *r->y);
    r->mask = malloc((size_t)B * T);
    r->mrank = malloc((size_t)r->M * sizeof *r->mrank);
    r->mscale = malloc((size_t)r->M * sizeof *r->mscale);
    r->pA = malloc((size_t)r->M * sizeof *r->pA);
    r->pB = malloc((size_t)r->M * sizeof *r->pB);
    if (!r->x || !r->y || !r->mask || !r->mrank || !r->mscale || !r->pA || !r->pB)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

static void teardown(run *r)
{
    for (int t = 0; t < r->o.n_tasks; t++) {
        cl_task_data_free(&r->data[t]);
        cl_encoded_task_free(&r->enc[t]);
    }
    cl_adamw_free(&r->opt);
    cl_llama_free(r->m);
    cl_tok_free(r->tok);
    free(r->x), free(r->y), free(r->mask), free(r->mrank), free(r->mscale), free(r->pA), free(r->pB);
    if (r->st)
        cl_store_close(r->st, NULL);
}

/* From the current position to the end: finish the current task (if one is
 * under way), evaluate, then the remaining tasks. */
static int continue_run(run *r, int in_task, int need_eval, cl_train_summary *sum, cl_error *err)
{
    int T = r->o.n_tasks;
    double *buf = malloc(2 * (size_t)T * sizeof *buf);
    if (!buf)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    double *acc[CL_EVAL_COUNT] = {buf, buf + T};
    /* a run killed after its last evaluation has nothing left to do: its
     * last rows are already in the store */
    for (int e = 0; e < CL_EVAL_COUNT; e++) {
        const double *R = cl_store_accuracy(r->st, (cl_eval)e);
        for (int j = 0; j < T; j++)
            acc[e][j] = r->task > 0 ? R[(size_t)(r->task - 1) * T + j] : 0;
    }
    int rc = CL_OK;
    for (int t = r->task; t < T && !rc; t++) {
        if (!in_task && !need_eval)
            rc = start_task(r, t, err);
        if (!rc && !need_eval)
            rc = train_task(r, err);
        in_task = need_eval = 0;
        char what[96];
        snprintf(what, sizeof what, "after task %d (%s)", t + 1, r->o.task[t]);
        if (!rc)
            rc = evaluate(r, acc, what, err);
        if (!rc)
            rc = write_rows(r, t, acc, err);
        if (!rc)
            sum->tasks_done = t + 1;
    }
    if (!rc)
        for (int e = 0; e < CL_EVAL_COUNT; e++) {
            double s = 0;
            for (int j = 0; j < T; j++)
                s += acc[e][j];
            sum->aa[e] = s / T;
        }
    free(buf);
    return rc;
}

static void fill_summary(run *r, cl_train_summary *sum)
{
    sum->steps = r->step;
    sum->tokens = r->tokens;
    sum->seconds = r->wall0 + now() - r->t_start;
    sum->tokens_per_s = sum->seconds > 0 ? (double)r->tokens / sum->seconds : 0;
}

int cl_train_run(const cl_train_opts *o, const char *path, cl_train_summary *sum, cl_error *err)
{
    memset(sum, 0, sizeof *sum);
    run *r = calloc(1, sizeof *r);
    if (!r)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->o = *o;
    r->path = path;
    r->t_start = now();
    int rc = setup(r, err);
    if (rc)
        goto out;
    /* the store: created before any training so the run is resumable */
    char (*names)[48] = calloc((size_t)r->M, sizeof *names);
    int64_t *dout = calloc((size_t)r->M, sizeof *dout), *din = calloc((size_t)r->M, sizeof *din);
    int32_t *rank = calloc((size_t)r->M, sizeof *rank);
    const char **np = calloc((size_t)r->M, sizeof *np);
    const char *tn[CL_TRAIN_MAX_TASKS], *td[CL_TRAIN_MAX_TASKS];
    double lam[CL_TRAIN_MAX_TASKS];
    int64_t ntest[CL_TRAIN_MAX_TASKS], nlab[CL_TRAIN_MAX_TASKS];
    char *cfg = cl_train_opts_json(&r->o); /* the resolved settings */
    if (!names || !dout || !din || !rank || !np || !cfg) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    } else {
        rc = cl_llama_lora_new_task(r->m, o->targets, o->rank, (float)o->alpha, 0, err);
        if (!rc) {
            module_list(r, names, dout, din, rank);
            cl_llama_lora_free(r->m);
        }
        for (int m = 0; m < r->M; m++)
            np[m] = names[m];
        for (int t = 0; t < o->n_tasks; t++) {
            tn[t] = o->task[t];
            td[t] = strcmp(o->task[t], o->source[t]) ? o->source[t] : "";
            lam[t] = uses_sparse(o->method) ? lam_task(r, t) : 0; /* what the loss used */
            ntest[t] = r->enc[t].n_test;
            nlab[t] = r->data[t].n_labels;
        }
        char created[64];
        snprintf(created, sizeof created, "collide-train %s", cl_version());
        cl_store_spec spec = {
            .meta = {.method = cl_method_name(o->method), .rank = o->rank, .alpha = o->alpha,
                     .scaling = o->alpha / o->rank, .scaling_rule = "alpha/r",
                     .penalty_form = o->method == CL_M_SEQLORA || o->method == CL_M_INCLORA
                                         ? "none"
                                         : r->o.penalty_code ? "code" : "paper",
                     .lambda_orth = uses_orth(o->method) ? o->lambda_orth : 0,
                     .lambda_l2 = uses_orth(o->method) ? o->lambda_l2 : 0,
                     .lambda_sparse = uses_sparse(o->method) ? o->lambda_default : 0,
                     .seed = o->seed, .base_model = o->base_dir, .created_by = created,
                     .train_config = cfg},
            .n_tasks = o->n_tasks, .task_names = tn, .task_lambda = lam, .task_data = td,
            .n_modules = r->M, .module_names = np, .d_out = dout, .d_in = din, .rank = rank,
            .resume_bytes = resume_size(r), .task_n_test = ntest, .task_n_labels = nlab};
        /* --force: the old store goes only now, every setting checked */
        if (!rc && o->replace && access(path, F_OK) == 0) {
            if (unlink(path) != 0)
                rc = cl_error_set(err, CL_ERR_IO, "%s: cannot remove it: %s", path,
                                  strerror(errno));
            else
                fprintf(stderr, "collide-train: %s: removed (--force); training it again\n", path);
        }
        if (!rc)
            rc = cl_store_create(path, &spec, &r->st, err);
    }
    free(names), free(dout), free(din), free(rank), free(np);
    free(cfg);
    if (rc)
        goto out;
    /* the base's accuracy on every task, before any training (FWT) */
    rc = baseline(r, err);
    if (!rc) {
        r->task = 0;
        rc = continue_run(r, 0, 0, sum, err);
    }
    fill_summary(r, sum);
out:;
    /* a run that failed before its first snapshot leaves nothing worth
     * resuming: the store it created goes, so that the corrected command is
     * not refused with "already exists" (a run killed is another matter: its
     * store stays, and --resume continues it) */
    int drop = rc && r->st && cl_store_n_snapshots(r->st) == 0;
    teardown(r);
    free(r);
    if (drop && unlink(path) == 0) {
        size_t l = strlen(err->msg);
        snprintf(err->msg + l, sizeof err->msg - l,
                 " (%s held no snapshot yet and was removed)", path);
    }
    return rc;
}

/* Is the run in path finished: every task trained (its end-of-task
 * snapshot) and evaluated (its generation row, written last)? Then the
 * summary is filled from the store and sum->finished_before set. */
static int finished_state(const char *path, cl_train_summary *sum, cl_error *err)
{
    cl_store *s;
    int rc = cl_store_open(path, &s, err);
    if (rc)
        return rc;
    const char *cfg = cl_store_meta(s)->train_config;
    if (!cfg || !cfg[0]) {
        cl_store_close(s, NULL);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: missing; only stores "
                            "written by collide-train can be resumed", path);
    }
    int T = cl_store_n_tasks(s);
    int64_t N = cl_store_n_snapshots(s);
    const cl_snapshot_row *last = N > 0 ? cl_store_snapshot(s, N - 1) : NULL;
    const double *Rg = cl_store_accuracy(s, CL_EVAL_GENERATE);
    if (T > 0 && last && last->task == T - 1 && last->kind == CL_SNAP_END_OF_TASK &&
        !isnan(Rg[(size_t)(T - 1) * T])) {
        sum->finished_before = 1;
        sum->tasks_done = T;
        sum->steps = last->step;
        sum->seconds = last->wall_time;
        for (int e = 0; e < CL_EVAL_COUNT; e++) {
            const double *R = cl_store_accuracy(s, (cl_eval)e);
            double a = 0;
            for (int j = 0; j < T; j++)
                a += R[(size_t)(T - 1) * T + j];
            sum->aa[e] = a / T;
        }
    }
    return cl_store_close(s, err);
}

int cl_train_resume(const char *path, int progress, cl_train_summary *sum, cl_error *err)
{
    memset(sum, 0, sizeof *sum);
    run *r = calloc(1, sizeof *r);
    if (!r)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->path = path;
    r->t_start = now();
    /* a finished run is answered from a read-only look: opening it to
     * append would rewrite the file for nothing */
    int rc = finished_state(path, sum, err);
    if (rc || sum->finished_before) {
        free(r);
        return rc;
    }
    rc = cl_store_open_append(path, &r->st, err);
    if (rc)
        goto out;
    const char *cfg = cl_store_meta(r->st)->train_config;
    if (!cfg || !cfg[0]) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /@train_config: missing; only stores written by "
                          "collide-train can be resumed", path);
        goto out;
    }
    if ((rc = cl_train_opts_parse(cfg, path, &r->o, err)))
        goto out;
    r->o.progress = progress;
    if ((rc = setup(r, err))) {
        if (rc == CL_ERR_ARG && cl_store_n_snapshots(r->st) == 0) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l,
                     "; %s holds no snapshot and its settings cannot run: remove it and start "
                     "again with other settings", path);
        }
        goto out;
    }
    if (cl_store_n_modules(r->st) != r->M) {
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: %d modules, the base gives %d", path,
                          cl_store_n_modules(r->st), r->M);
        goto out;
    }
    const double *base = cl_store_baseline(r->st, CL_EVAL_GENERATE);
    int64_t N = cl_store_n_snapshots(r->st);
    if (N == 0) {
        /* killed before the first snapshot: the baseline may be missing
         * (the generation one is written last) */
        if (isnan(base[0]) && (rc = baseline(r, err)))
            goto out;
        r->task = 0;
        rc = continue_run(r, 0, 0, sum, err);
        fill_summary(r, sum);
        goto out;
    }
    /* the state after the last committed snapshot */
    const cl_snapshot_row *last = cl_store_snapshot(r->st, N - 1);
    int64_t rb = resume_size(r);
    uint8_t *blob = malloc((size_t)rb);
    if (!blob) {
        rc = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = cl_store_read_resume(r->st, N - 1, blob, rb, err))) {
        free(blob);
        goto out;
    }
    resume_hdr h;
    memcpy(&h, blob, sizeof h);
    if (h.magic != RESUME_MAGIC || h.version != RESUME_VERSION || h.n != r->n_lora ||
        h.task != last->task) {
        free(blob);
        rc = cl_error_set(err, CL_ERR_FORMAT, "%s: /resume/state: not this collide's resume state",
                          path);
        goto out;
    }
    /* frozen adapters: the end snapshots of the earlier tasks, in order */
    int t = last->task;
    for (int u = 0; u < t && !rc && r->o.method != CL_M_SEQLORA; u++) {
        rc = new_adapter(r, u, err);
        for (int i = 0; i < r->M && !rc; i++) {
            cl_lowrank lr;
            cl_lora_slot *s = cl_llama_lora_slot(r->m, i);
            rc = cl_store_read_adapter(r->st, i, cl_store_task_end(r->st, u), &lr, err);
            if (!rc) {
                memcpy(s->A, lr.A, (size_t)s->r * s->d_in * sizeof(float));
                memcpy(s->B, lr.B, (size_t)s->d_out * s->r * sizeof(float));
                cl_lowrank_free(&lr);
            }
        }
    }
    if (!rc) /* seqlora: its one adapter; otherwise task t's */
        rc = r->o.method == CL_M_SEQLORA ? new_adapter(r, 0, err) : new_adapter(r, t, err);
    if (!rc) {
        r->task = t;
        r->opt.t = 0;
    }
    for (int i = 0; i < r->M && !rc; i++) { /* the adapter as of the snapshot */
        cl_lowrank lr;
        cl_lora_slot *s = cl_llama_lora_slot(r->m, i);
        rc = cl_store_read_adapter(r->st, i, N - 1, &lr, err);
        if (!rc) {
            memcpy(s->A, lr.A, (size_t)s->r * s->d_in * sizeof(float));
            memcpy(s->B, lr.B, (size_t)s->d_out * s->r * sizeof(float));
            cl_lowrank_free(&lr);
        }
    }
    if (rc) {
        free(blob);
        goto out;
    }
    memcpy(r->opt.m, blob + sizeof h, (size_t)r->n_lora * sizeof(float));
    memcpy(r->opt.v, blob + sizeof h + (size_t)r->n_lora * sizeof(float),
           (size_t)r->n_lora * sizeof(float));
    free(blob);
    r->opt.t = h.adam_t;
    r->epoch = h.epoch;
    r->batch_next = h.batch_next;
    r->step = h.step;
    r->task_step = h.task_step;
    r->tokens = h.tokens;
    r->wall0 = h.wall;
    r->t_start = now();
    const double *R = cl_store_accuracy(r->st, CL_EVAL_GENERATE);
    int ended = last->kind == CL_SNAP_END_OF_TASK;
    if (ended && !isnan(R[(size_t)t * r->o.n_tasks])) {
        /* task t is done and evaluated: the next one */
        r->task = t + 1;
        rc = continue_run(r, 0, 0, sum, err);
    } else {
        if (progress)
            fprintf(stderr, "collide-train: resuming %s at task %d (%s), step %lld\n", path, t + 1,
                    r->o.task[t], (long long)r->step);
        rc = continue_run(r, !ended, ended, sum, err);
    }
    fill_summary(r, sum);
out:
    teardown(r);
    free(r);
    return rc;
}
