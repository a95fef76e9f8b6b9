/* latflow/hmc.h: Hybrid Monte Carlo (Duane, Kennedy, Pendleton, Roweth 1987) for any
 * theory with a gradient (lf_theory.grad != NULL); the baseline of every flow run.
 *
 * H(phi, p) = p.p / 2 + S(phi), p ~ N(0,1) per real component. One trajectory of
 * length tau in n = steps steps of eps = tau / n with
 *   leapfrog: p -= eps/2 dS; (phi += eps p; p -= eps dS) x (n-1); phi += eps p; p -= eps/2 dS
 *   omelyan (second-order minimum norm, Omelyan, Mryglod, Folk, Comput. Phys. Commun.
 *     151 (2003) 272; Takaishi & de Forcrand, PRE 73 (2006) 036706), per step:
 *     p -= lambda eps dS; phi += eps/2 p; p -= (1 - 2 lambda) eps dS; phi += eps/2 p;
 *     p -= lambda eps dS, lambda = 0.1931833275037836 (consecutive half-kicks merged)
 * then Metropolis: accept with probability min(1, exp(-dH)), dH = H_end - H_start.
 * Randomness: stream LF_STREAM_HMC, step = trajectory number t (0, 1, ... counting the
 * thermalization trajectories), index = 2 * chain for the C*V momenta (lf_rng_normal)
 * and index = 2 * chain + 1 for the accept uniform (lf_rng_uniform), so chain c's
 * trajectory t is a pure function of (seed, c, t, phi).
 * Shapes: phi (C*V) double, one configuration. Local; never allocates after _init. */
#ifndef LATFLOW_HMC_H
#define LATFLOW_HMC_H

#include "latflow/config.h"
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <stdint.h>

#define LF_OMELYAN_LAMBDA 0.1931833275037836

typedef struct lf_hmc {
  const lf_theory *th;   /* borrowed */
  lf_hmc_cfg cfg;        /* copy */
  lf_rng_key key;        /* LF_STREAM_HMC key of the seed */
  int n;                 /* C*V */
  double *p, *dS, *phi0; /* owned scratch (n) each */
} lf_hmc;

typedef struct lf_hmc_result {
  double dH;    /* H_end - H_start (NaN/Inf possible: then rejected)  */
  double S;     /* action of the state after the accept/reject       */
  int accepted; /* 1 if the proposal was accepted                    */
} lf_hmc_result;

/* LF_ERR_INVALID if th has no gradient or cfg is not positive; LF_ERR_NOMEM. */
lf_status lf_hmc_init(lf_hmc *h, const lf_theory *th, const lf_hmc_cfg *cfg, uint64_t seed);
void lf_hmc_free(lf_hmc *h);

/* Molecular dynamics only (no accept/reject): integrates (phi, p) in place over
 * n_steps steps of size eps with the configured integrator. Used by the trajectory and by
 * the reversibility test (integrate, negate p, integrate: back to the start). */
void lf_hmc_integrate(lf_hmc *h, double *phi, double *p, double eps, int n_steps);

/* One trajectory of chain `chain` with number t: draws p, integrates, accepts or rejects.
 * phi (C*V) is updated in place (restored when rejected). */
void lf_hmc_trajectory(lf_hmc *h, uint64_t chain, uint32_t t, double *phi, lf_hmc_result *res);

#endif
