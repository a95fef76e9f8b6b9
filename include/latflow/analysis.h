/* latflow/analysis.h: reweighting statistics of flow samples.
 *
 * Weights are given as log w_i = log p~(phi_i) - log q(phi_i) = -S_i - log q_i
 * (unnormalized p). All sums are done relative to max_i log w_i, so any finite log
 * weights work. Local; never allocates (lf_pareto_khat takes the caller's scratch). */
#ifndef LATFLOW_ANALYSIS_H
#define LATFLOW_ANALYSIS_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>

/* Effective sample size per configuration, ESS = (sum w)^2 / (n sum w^2), in (0, 1].
 * Non-finite log weights count as w = 0 (returns 0 if all are). */
double lf_ess(size_t n, const double *logw);

/* Jackknife error of lf_ess over nblocks contiguous blocks of the n weights (block b =
 * [b n / nblocks, (b+1) n / nblocks)): sqrt((K-1)/K sum_b (ESS_(b) - mean)^2) with
 * ESS_(b) the ESS of the weights without block b. For independent samples (fresh flow
 * draws) any K works; 20-50 blocks are the usual choice. NaN if nblocks < 2, nblocks > n
 * or nblocks > LF_ESS_JACK_MAX. */
#define LF_ESS_JACK_MAX 1024
double lf_ess_jackknife(size_t n, const double *logw, size_t nblocks);

/* log of the mean weight, log((1/n) sum w): an estimate of log Z - (the constant in p~);
 * -KL(q||p) <= this. */
double lf_log_mean_weight(size_t n, const double *logw);

/* The Pareto shape k of the upper tail of the weights (Vehtari, Simpson, Gelman, Yao,
 * Gabry, "Pareto smoothed importance sampling", JMLR 25 (2024) 1, arXiv 1507.02646): a
 * generalized Pareto distribution is fitted to the M = floor(min(n/5, 3 sqrt(n))) largest
 * finite weights over the (M+1)-th (Zhang and Stephens, Technometrics 51 (2009) 316, with
 * the weakly informative prior of PSIS). The weights have 1/k finite moments: k < 1/2
 * finite variance (importance sampling and IMH errors converge as 1/sqrt(n)); 1/2 <= k
 * < 0.7 infinite variance, slow and unreliable convergence; k >= 0.7 the estimates and
 * their errors cannot be trusted. NaN if fewer than 25 weights are finite. ws: scratch
 * of n doubles (sorted finite log weights on return). */
double lf_pareto_khat(size_t n, const double *logw, double *ws);

/* Independence Metropolis over proposals 0..n-1 in order (Tierney 1994): the chain
 * starts at proposal 0; proposal i > 0 is accepted when log u[i] < logw[i] - logw[cur].
 * Returns the acceptance rate over the n-1 decisions (0 if n < 2). If chain is not
 * NULL, chain[i] = index of the state after step i. The longest run of rejections is
 * stored in *max_run if max_run is not NULL. */
double lf_imh_run(size_t n, const double *logw, const double *u, size_t *chain, size_t *max_run);

/* Streaming ESS over weights seen one at a time (the samplers' running figure): log sum w
 * and log sum w^2 by log-add-exp, so no weight array is kept. Non-finite log weights are
 * w = 0 but count in n, as in lf_ess. Start from LF_ESS_ACC_INIT. */
typedef struct lf_ess_acc {
  double l1, l2; /* log sum w, log sum w^2 */
  uint64_t n;
} lf_ess_acc;
#define LF_ESS_ACC_INIT ((lf_ess_acc){-INFINITY, -INFINITY, 0})
void lf_ess_acc_add(lf_ess_acc *e, double logw);
/* ESS fraction of the weights added so far (0 if none is finite). */
double lf_ess_acc_value(const lf_ess_acc *e);

#endif
