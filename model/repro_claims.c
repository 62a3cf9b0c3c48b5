/*
 * repro_claims.c -- the paper's headline claims against our runs: each
 * compared number, its verdict under the fixed rules of docs/RESULTS.md, and
 * the claims as a table and as claims.json.
 */
#include "repro_internal.h"
#include "published.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* A "lower by x" claim: val = base / ours. Holds when ours is at least 2x
 * lower, does not hold when it is not lower at all or less than 2x lower
 * (a weak effect is reported as such), unmeasurable when a value is
 * missing or zero in both. */
static void ratio_claim(claim *c, double o_val, double n_val, const char *what)
{
    c->val = o_val / n_val;
    if (isnan(o_val) || isnan(n_val) || (o_val == 0 && n_val == 0)) {
        c->verdict = UNMEASURABLE;
        snprintf(c->reason, sizeof c->reason, "%s is missing or zero for both methods", what);
    } else if (c->val >= 2) {
        c->verdict = HOLDS;
        snprintf(c->reason, sizeof c->reason, "N-LoRA's %s is %.3g times lower (rule: at least 2x)",
                 what, c->val);
    } else {
        c->verdict = FAILS;
        snprintf(c->reason, sizeof c->reason,
                 "N-LoRA's %s is %s (ratio %.3g; rule: at least 2x lower)", what,
                 c->val > 1 ? "lower, but less than 2x" : "not lower", c->val);
    }
}

int cl_repro_make_claims(const row *rows, int n, int order, double abs_eps, const char *ths,
                       claim *c)
{
    const row *inc = cl_repro_find_row(rows, n, CL_M_INCLORA, order);
    const row *ol = cl_repro_find_row(rows, n, CL_M_OLORA, order), *nl = cl_repro_find_row(rows, n, CL_M_NLORA, order);
    const cl_published_geom *po = cl_published_geom_at(0), *pn = cl_published_geom_at(1);
    int k = 0;
    memset(c, 0, 8 * sizeof *c);
    if (!ol || !nl)
        return 0;
    const int HL = CL_EVAL_RANKED;
    char nuc[96];
    snprintf(nuc, sizeof nuc, "; per-task nuclear norm %.3g vs %.3g", ol->se.nuclear_mean,
             nl->se.nuclear_mean);

    /* 1, 2. collision at both thresholds */
    for (int t = 0; t < 2; t++) {
        const cl_summary *so = t ? &ol->se : &ol->sa, *sn = t ? &nl->se : &nl->sa;
        claim *x = &c[k++];
        x->claim = t ? "x58.1 lower collision rate (scale-free threshold)"
                     : "x58.1 lower collision rate (paper-like absolute threshold)";
        x->pub = po->collision_rate / pn->collision_rate;
        snprintf(x->published, sizeof x->published, "%.1f%% vs %.1f%% (x%.1f)",
                 100 * po->collision_rate, 100 * pn->collision_rate, x->pub);
        snprintf(x->ours, sizeof x->ours, "ACR %.1f%% vs %.1f%% at %s", 100 * so->acr_mean,
                 100 * sn->acr_mean, t ? ths : "abs");
        if (!t) {
            size_t l = strlen(x->ours);
            snprintf(x->ours + l, sizeof x->ours - l, ":%.3g", abs_eps);
        }
        ratio_claim(x, so->acr_mean, sn->acr_mean, "collision rate");
    }
    /* 3. orthogonality, with the norms beside it */
    {
        claim *x = &c[k++];
        x->claim = "x4.1 better orthogonality (OO, lower is better)";
        x->pub = po->orthogonality / pn->orthogonality;
        snprintf(x->published, sizeof x->published, "%.2f vs %.2f (x%.1f)", po->orthogonality,
                 pn->orthogonality, x->pub);
        snprintf(x->ours, sizeof x->ours, "OO %.4g vs %.4g%s", ol->se.oo_pair_mean,
                 nl->se.oo_pair_mean, nuc);
        ratio_claim(x, ol->se.oo_pair_mean, nl->se.oo_pair_mean, "OO");
        /* a shrunken update is "orthogonal" for free: say so */
        if (!strcmp(x->verdict, HOLDS) && nl->se.nuclear_mean < 0.5 * ol->se.nuclear_mean) {
            size_t l = strlen(x->reason);
            snprintf(x->reason + l, sizeof x->reason - l,
                     "; but N-LoRA's update is also %.3gx smaller (per-task nuclear norm), and OO grows "
                     "with the square of A's scale",
                     ol->se.nuclear_mean / nl->se.nuclear_mean);
        }
    }
    /* 4. accuracy */
    {
        claim *x = &c[k++];
        const cl_published_acc *ao = NULL, *an = NULL;
        for (int i = 0; i < cl_published_acc_count(); i++) {
            const cl_published_acc *p = cl_published_acc_at(i);
            if (!strcmp(p->model, "T5-large") && p->ours && !strcmp(p->ours, "olora"))
                ao = p;
            if (!strcmp(p->model, "T5-large") && p->ours && !strcmp(p->ours, "nlora"))
                an = p;
        }
        double so = 0, sn = 0;
        for (int i = 0; i < 6; i++)
            so += ao->order[i] / 6, sn += an->order[i] / 6;
        x->claim = "+2.9 points average accuracy over O-LoRA";
        x->pub = sn - so;
        snprintf(x->published, sizeof x->published, "%.1f vs %.1f (%+.1f; order 1: %+.1f)", sn, so,
                 x->pub, an->order[0] - ao->order[0]);
        double an_ = 100 * nl->se.forgetting[HL].aa, ao_ = 100 * ol->se.forgetting[HL].aa;
        double se = 100 * sqrt(nl->aa_se[HL] * nl->aa_se[HL] + ol->aa_se[HL] * ol->aa_se[HL]);
        x->val = an_ - ao_;
        snprintf(x->ours, sizeof x->ours, "AA %.1f vs %.1f (%+.1f ± %.1f, ranked)", an_, ao_,
                 x->val, se);
        if (isnan(x->val) || isnan(se)) {
            x->verdict = UNMEASURABLE;
            snprintf(x->reason, sizeof x->reason, "an accuracy is missing");
        } else if (x->val > 2 * se) {
            x->verdict = HOLDS;
            snprintf(x->reason, sizeof x->reason,
                     "N-LoRA is ahead by more than 2 standard errors of the difference");
        } else {
            x->verdict = FAILS;
            snprintf(x->reason, sizeof x->reason, "%s",
                     x->val < -2 * se ? "N-LoRA is behind by more than 2 standard errors"
                                      : "the difference is within 2 standard errors: no "
                                        "measurable gain at this test-set size");
        }
    }
    /* 5. nuclear norm */
    {
        claim *x = &c[k++];
        x->claim = "smaller update: mean nuclear norm 6.80 vs 0.14";
        x->pub = po->nuclear_mean / pn->nuclear_mean;
        snprintf(x->published, sizeof x->published, "%.2f vs %.2f (x%.1f)", po->nuclear_mean,
                 pn->nuclear_mean, x->pub);
        /* both quantities, each named: the verdict is on the per-task one */
        snprintf(x->ours, sizeof x->ours,
                 "per task, mean over tasks and modules of ‖ΔW_t‖_*: %.4g vs %.4g; accumulated, "
                 "mean over modules of ‖Σ_t ΔW_t‖_* (the nuclear-norm figure): %.4g vs %.4g",
                 ol->se.nuclear_mean, nl->se.nuclear_mean, ol->nuc_acc, nl->nuc_acc);
        ratio_claim(x, ol->se.nuclear_mean, nl->se.nuclear_mean, "per-task nuclear norm");
        size_t l = strlen(x->reason);
        snprintf(x->reason + l, sizeof x->reason - l, "; accumulated update: ratio %.3g",
                 ol->nuc_acc / nl->nuc_acc);
    }
    /* 6, 7. sparser, at both thresholds */
    for (int t = 0; t < 2; t++) {
        const cl_summary *so = t ? &ol->se : &ol->sa, *sn = t ? &nl->se : &nl->sa;
        claim *x = &c[k++];
        x->claim = t ? "N-LoRA's updates are sparser (density, scale-free threshold)"
                     : "N-LoRA's updates are sparser (density, paper-like absolute threshold)";
        x->pub = NAN;
        snprintf(x->published, sizeof x->published, "qualitative (Figure 2 maps)");
        snprintf(x->ours, sizeof x->ours, "density %.1f%% vs %.1f%%", 100 * so->density_mean,
                 100 * sn->density_mean);
        ratio_claim(x, so->density_mean, sn->density_mean, "density");
    }
    /* 8. less forgetting with more sparsity, over IncLoRA and every N-LoRA run */
    {
        claim *x = &c[k++];
        x->claim = "less forgetting with more sparsity";
        x->pub = NAN;
        snprintf(x->published, sizeof x->published, "qualitative (no figure found)");
        double dx[CL_REPRO_MAX_RUNS], fy[CL_REPRO_MAX_RUNS], la_min = 1, la_max = 0;
        int m = 0;
        for (int i = 0; i < n; i++) {
            const row *r = &rows[i];
            if (r->run->order != order ||
                !(r->run->method == CL_M_NLORA || r->run->method == CL_M_INCLORA))
                continue;
            dx[m] = r->sa.density_mean;
            fy[m] = r->se.forgetting[HL].forget_max;
            double la = r->se.forgetting[HL].la;
            la_min = la < la_min ? la : la_min;
            la_max = la > la_max ? la : la_max;
            m++;
        }
        double rho = m >= 3 ? cl_spearman(dx, fy, m) : NAN, crit = m > 1 ? 1.645 / sqrt(m - 1) : NAN;
        x->val = rho;
        double inc_f = inc ? 100 * inc->se.forgetting[HL].forget_max : NAN;
        snprintf(x->ours, sizeof x->ours,
                 "Spearman rho(density, F_max) = %.2f over %d runs; IncLoRA F_max %.1f points; LA "
                 "%.1f%% to %.1f%%",
                 rho, m, inc_f, 100 * la_min, 100 * la_max);
        if (isnan(rho) || !inc) {
            x->verdict = UNMEASURABLE;
            snprintf(x->reason, sizeof x->reason, "fewer than 3 runs, or no IncLoRA run");
        } else if (!(inc_f > 100 * 2 * inc->aa_se[HL])) {
            x->verdict = UNMEASURABLE;
            snprintf(x->reason, sizeof x->reason,
                     "IncLoRA forgets %.1f points, within 2 standard errors: nothing to prevent",
                     inc_f);
        } else if (rho >= crit) {
            x->verdict = HOLDS;
            snprintf(x->reason, sizeof x->reason,
                     "denser runs forget more (rho %.2f >= %.2f, one-sided 5%%)%s", rho, crit,
                     la_max - la_min > 0.1 ? "; but learning accuracy varies too: the sparsest "
                                             "runs also learn less"
                                           : "");
        } else {
            x->verdict = FAILS;
            snprintf(x->reason, sizeof x->reason,
                     "no significant rank correlation (rho %.2f < %.2f, one-sided 5%%)", rho, crit);
        }
    }
    return k;
}

void cl_repro_claims_table(FILE *f, const claim *c, int n, int tex)
{
    if (tex)
        fputs("\\begin{table}[t]\\centering\\small\n\\begin{tabular}{p{3.2cm}p{2.6cm}p{3.6cm}rp{4cm}}"
              "\n\\hline\nClaim & Published & Ours & Ratio & Verdict \\\\\n\\hline\n",
              f);
    else
        fputs("| Claim | Published | Ours (O-LoRA vs N-LoRA) | Ratio / difference | Verdict |\n"
              "|---|---|---|---|---|\n",
              f);
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof v, isnan(c[i].val) ? "–" : "%.3g", c[i].val);
        if (tex)
            fprintf(f, "%s & %s & %s & %s & \\textbf{%s}: %s \\\\\n", cl_repro_tx(c[i].claim),
                    cl_repro_tx(c[i].published), cl_repro_tx(c[i].ours), cl_repro_tx(v), cl_repro_tx(c[i].verdict), cl_repro_tx(c[i].reason));
        else
            fprintf(f, "| %s | %s | %s | %s | **%s**: %s |\n", c[i].claim, c[i].published,
                    c[i].ours, v, c[i].verdict, c[i].reason);
    }
    if (tex)
        fputs("\\hline\n\\end{tabular}\n\\caption{The paper's headline claims, measured.}\n"
              "\\end{table}\n",
              f);
}

int cl_repro_claims_json(const char *path, const claim *c, int n, double abs_eps, const char *ths,
                       cl_error *err)
{
    json_t *j = json_object(), *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "claim", json_string(c[i].claim));
        json_object_set_new(o, "published", json_string(c[i].published));
        json_object_set_new(o, "published_value", isnan(c[i].pub) ? json_null() : json_real(c[i].pub));
        json_object_set_new(o, "ours", json_string(c[i].ours));
        json_object_set_new(o, "value", isnan(c[i].val) || isinf(c[i].val) ? json_null()
                                                                            : json_real(c[i].val));
        json_object_set_new(o, "verdict", json_string(c[i].verdict));
        json_object_set_new(o, "reason", json_string(c[i].reason));
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "abs_threshold", isnan(abs_eps) ? json_null() : json_real(abs_eps));
    json_object_set_new(j, "threshold", json_string(ths));
    json_object_set_new(j, "headline_protocol", json_string(cl_eval_name(CL_EVAL_RANKED)));
    json_object_set_new(j, "claims", a);
    cl_atomic_file *af;
    int rc = cl_atomic_open(path, 0, &af, err);
    if (!rc) {
        json_dumpf(j, cl_atomic_fp(af), JSON_INDENT(1));
        fputc('\n', cl_atomic_fp(af));
        rc = cl_atomic_commit(af, err);
    }
    json_decref(j);
    return rc;
}

