/*
 * test_score.c -- ranked scoring (cl_llama_score_options) against a hand
 * computation on a tiny random model with a LoRA: for each option, the whole
 * sequence prompt + option goes through the batched forward, and the
 * log-softmax of the logits at each option position is summed in double.
 * The cached scorer must give the same log-likelihoods and the same argmax;
 * greedy generation must emit the argmax of the same logits.
 */
#include "../check.h"
#include "llama.h"

#include <math.h>
#include <string.h>

static double hand_ll(cl_llama *m, const int32_t *prompt, int np, const int32_t *opt, int no)
{
    int32_t seq[32];
    memcpy(seq, prompt, (size_t)np * sizeof *seq);
    memcpy(seq + np, opt, (size_t)no * sizeof *seq);
    int n = np + no - 1; /* the last option token is predicted, never fed */
    cl_llama_forward_bt(m, 1, n, seq, NULL, NULL, 0, 0);
    const float *lg = cl_llama_logits(m);
    int V = cl_llama_cfg(m)->vocab_size;
    double s = 0;
    for (int i = 0; i < no; i++) {
        const float *x = lg + (size_t)(np - 1 + i) * V;
        double mx = x[0], z = 0;
        for (int v = 1; v < V; v++)
            mx = x[v] > mx ? x[v] : mx;
        for (int v = 0; v < V; v++)
            z += exp((double)x[v] - mx);
        s += (double)x[opt[i]] - mx - log(z);
    }
    return s;
}

int main(void)
{
    cl_llama_config cfg = {.vocab_size = 13, .hidden_size = 16, .intermediate_size = 24,
                           .num_layers = 2, .num_heads = 4, .num_kv_heads = 2, .head_dim = 4,
                           .max_position = 32, .rms_norm_eps = 1e-5f, .rope_theta = 10000.f,
                           .tie_embeddings = 0, .bos_token_id = -1, .eos_token_id = 12,
                           .pad_token_id = -1};
    cl_error err;
    cl_llama *m;
    CHECK(cl_llama_create(&cfg, 7, 0.6f, &m, &err) == CL_OK, "%s", err.msg);
    unsigned all = (1u << CL_PROJ_COUNT) - 1;
    CHECK(cl_llama_lora_new_task(m, all, 2, 4.0f, 3, &err) == CL_OK, "%s", err.msg);
    cl_rng g;
    cl_rng_seed(&g, 11);
    for (int i = 0; i < cl_llama_lora_count(m); i++) { /* B = 0 would make LoRA a no-op */
        cl_lora_slot *s = cl_llama_lora_slot(m, i);
        for (int k = 0; k < s->d_out * s->r; k++)
            s->B[k] = (float)(0.3 * cl_rng_normal(&g));
    }
    CHECK(cl_llama_prepare(m, 1, 24, 0, &err) == CL_OK, "%s", err.msg);
    const int32_t prompt[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    const int32_t o0[] = {7, 12}, o1[] = {7, 8, 12}, o2[] = {11, 12}, o3[] = {2, 2, 0, 12};
    const int32_t *opt[] = {o0, o1, o2, o3};
    const int n_opt[] = {2, 3, 2, 4};
    for (int np = 1; np <= 10; np += 3) {
        double ll[4], want[4];
        CHECK(cl_llama_score_options(m, prompt, np, opt, n_opt, 4, ll, &err) == CL_OK, "%s",
              err.msg);
        int best = 0, best_want = 0;
        for (int k = 0; k < 4; k++) {
            want[k] = hand_ll(m, prompt, np, opt[k], n_opt[k]);
            CHECK_NEAR(ll[k], want[k], 1e-4, 1e-5, "log-likelihood of an option");
            best = ll[k] > ll[best] ? k : best;
            best_want = want[k] > want[best_want] ? k : best_want;
        }
        CHECK(best == best_want, "prompt %d: ranked answer %d, by hand %d", np, best, best_want);
        /* the options must not all tie (the test could not fail otherwise) */
        CHECK(fabs(want[0] - want[2]) > 1e-3, "prompt %d: options distinguishable", np);
    }
    /* greedy generation: the first token is the argmax of the prompt's last logits;
     * evaluate (one prefill for both) generates the same and scores the same */
    int32_t out[4], out2[4];
    int n = cl_llama_generate(m, prompt, 10, 4, -1, out, &err);
    CHECK(n == 4, "generated %d tokens", n);
    double ll1[4], ll2[4];
    CHECK(cl_llama_score_options(m, prompt, 10, opt, n_opt, 4, ll1, &err) == CL_OK, "%s", err.msg);
    int n2 = cl_llama_evaluate(m, prompt, 10, 4, -1, out2, opt, n_opt, 4, ll2, &err);
    CHECK(n2 == n && !memcmp(out, out2, sizeof out), "evaluate generates as generate does");
    for (int k = 0; k < 4; k++)
        CHECK(ll1[k] == ll2[k], "evaluate scores option %d as score_options does", k);
    cl_llama_forward_bt(m, 1, 10, prompt, NULL, NULL, 0, 0);
    const float *lg = cl_llama_logits(m) + 9 * 13;
    int am = 0;
    for (int v = 1; v < 13; v++)
        am = lg[v] > lg[am] ? v : am;
    CHECK(out[0] == am, "first generated token %d, argmax %d", out[0], am);
    /* bad options are refused, not read out of bounds */
    const int32_t bad[] = {13};
    const int32_t *pb[] = {bad};
    int one = 1, zero = 0;
    double ll;
    CHECK(cl_llama_score_options(m, prompt, 10, pb, &one, 1, &ll, &err) == CL_ERR_ARG,
          "token out of range refused");
    CHECK(cl_llama_score_options(m, prompt, 10, opt, &zero, 1, &ll, &err) == CL_ERR_ARG,
          "empty option refused");
    cl_llama_free(m);
    return check_done();
}
