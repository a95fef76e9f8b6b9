/* latflow/analysis.h: reweighting statistics of flow samples.
 *
 * Weights are given as log w_i = log p~(phi_i) - log q(phi_i) = -S_i - log q_i
 * (unnormalized p). All sums are done relative to max_i log w_i, so any finite log
 * weights work. Local; never allocates. */
#ifndef LATFLOW_ANALYSIS_H
#define LATFLOW_ANALYSIS_H

#include <stddef.h>

/* Effective sample size per configuration, ESS = (sum w)^2 / (n sum w^2), in (0, 1].
 * Non-finite log weights count as w = 0 (returns 0 if all are). */
double lf_ess(size_t n, const double *logw);

/* log of the mean weight, log((1/n) sum w): an estimate of log Z - (the constant in p~);
 * -KL(q||p) <= this. */
double lf_log_mean_weight(size_t n, const double *logw);

/* Independence Metropolis over proposals 0..n-1 in order (Tierney 1994): the chain
 * starts at proposal 0; proposal i > 0 is accepted when log u[i] < logw[i] - logw[cur].
 * Returns the acceptance rate over the n-1 decisions (0 if n < 2). If chain is not
 * NULL, chain[i] = index of the state after step i. The longest run of rejections is
 * stored in *max_run if max_run is not NULL. */
double lf_imh_run(size_t n, const double *logw, const double *u, size_t *chain, size_t *max_run);

#endif
