/*
 * penalty.h -- the continual-learning penalties on one adapted module, with
 * exact gradients (added into dA, dB scaled by lambda). Values are returned
 * unweighted, so the snapshot table can log each one.
 *
 *   O-LoRA, paper:  sum_{i<t} ||A_i A_t^T||_F^2          = ||A_f A_t^T||_F^2
 *   O-LoRA, code:   sum |A_f A_t^T|  (+ lambda2 (||A_t||_F + ||B_t||_F))
 *   N-LoRA, paper:  c ||dW_t||_1 = c sum |s B_t A_t|, tile by tile, no d_out x d_in
 *                   held; c = r^2 / (d_out d_in), so that lambda sits on the code
 *                   form's scale (r^2 terms; docs/METRICS.md)
 *   N-LoRA, code:   sum |A_t B_t|, the r x r product (needs d_in = d_out)
 * A_f: the frozen adapters' A rows (earlier tasks), unscaled.
 */
#ifndef CL_PENALTY_H
#define CL_PENALTY_H

#include <stdint.h>

double cl_pen_orth_paper(const float *Af, int rf, const float *A, int r, int d_in, float lambda,
                         float *dA);
double cl_pen_orth_code(const float *Af, int rf, const float *A, int r, int d_in, float lambda,
                        float *dA);
/* ||A||_F + ||B||_F; subgradient 0 at 0 */
double cl_pen_l2_code(const float *A, int na, const float *B, int nb, float lambda, float *dA,
                      float *dB);
/* c above: the paper form's normalisation */
double cl_pen_sparse_paper_scale(int r, int d_in, int d_out);
double cl_pen_sparse_paper(const float *A, const float *B, int r, int d_in, int d_out, float s,
                           float lambda, float *dA, float *dB);
/* returns NAN when d_in != d_out */
double cl_pen_sparse_code(const float *A, const float *B, int r, int d_in, int d_out, float lambda,
                          float *dA, float *dB);

#endif
