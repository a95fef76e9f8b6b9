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
 * and index = 2 * chain + 1 for the accept uniform (lf_rng_uniform), and, for
 * pseudofermions, index = LF_HMC_PF_INDEX + chain (2^63 + chain: above every index of the
 * first two kinds for chain < 2^62) for the 4V normals of eta, so chain c's trajectory t
 * is a pure function of (seed, c, t, phi).
 *
 * Pseudofermions (theory schwinger with cfg.fermion = LF_FERMION_PSEUDO; latflow/pf.h):
 * per trajectory eta (complex Gaussian, E|eta_i|^2 = 1) gives phi_pf = D^dagger eta, then
 *   H = p.p / 2 + S_g(theta) + phi_pf^dagger (D^dagger D)^{-1} phi_pf
 * with phi_pf fixed; H_start = p.p/2 + S_g + eta^dagger eta exactly, H_end by one CG
 * solve, every kick by one CG solve from zero (cfg.cg_tol, cfg.cg_maxiter), so the force
 * depends on theta alone and the integrator stays reversible (in floating point to
 * O(cg_tol): the stopping iteration can differ by one between forward and backward).
 * The CG iterations of a trajectory are returned in lf_hmc_result. Other theories, and
 * schwinger with LF_FERMION_EXACT, use the theory's action and gradient (the exact
 * determinant).
 * Shapes: phi (C*V) double, one configuration. Local; never allocates after _init. */
#ifndef LATFLOW_HMC_H
#define LATFLOW_HMC_H

#include "latflow/config.h"
#include "latflow/pf.h"
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <stdint.h>

#define LF_OMELYAN_LAMBDA 0.1931833275037836
#define LF_HMC_PF_INDEX (UINT64_C(1) << 63)

typedef struct lf_hmc {
  const lf_theory *th;   /* borrowed */
  lf_hmc_cfg cfg;        /* copy */
  lf_rng_key key;        /* LF_STREAM_HMC key of the seed */
  int n;                 /* C*V */
  double *p, *dS, *phi0; /* owned scratch (n) each */
  lf_pf *pf;             /* owned: pseudofermion workspace; NULL for the theory's action */
  double *z;             /* owned (4V): the normals of eta; NULL without pseudofermions */
  lf_status err;         /* first CG failure of the current trajectory (LF_OK: none) */
} lf_hmc;

typedef struct lf_hmc_result {
  double dH;    /* H_end - H_start (NaN/Inf possible: then rejected)  */
  double S;     /* action of the state after the accept/reject (with pseudofermions
                   S_g + phi_pf^dagger (D^dagger D)^{-1} phi_pf for this trajectory's phi_pf) */
  int accepted; /* 1 if the proposal was accepted                    */
  /* pseudofermions (all 0 otherwise): CG solves of the trajectory (one per kick and one
   * for H_end), their iterations in all, and the iterations of the longest solve */
  int64_t cg_solves, cg_iters;
  int cg_max;
} lf_hmc_result;

/* LF_ERR_INVALID if th has no gradient or cfg is not positive (with pseudofermions also
 * cfg->cg_tol outside (0, 1) or cfg->cg_maxiter <= 0); LF_ERR_NOMEM. */
lf_status lf_hmc_init(lf_hmc *h, const lf_theory *th, const lf_hmc_cfg *cfg, uint64_t seed);
void lf_hmc_free(lf_hmc *h);

/* Molecular dynamics only (no accept/reject): integrates (phi, p) in place over
 * n_steps steps of size eps with the configured integrator. Used by the trajectory and by
 * the reversibility test (integrate, negate p, integrate: back to the start). With
 * pseudofermions the kicks use h->pf->phi as it stands (lf_pf_refresh sets it); a CG
 * failure is kept in h->err and the remaining kicks do nothing. */
void lf_hmc_integrate(lf_hmc *h, double *phi, double *p, double eps, int n_steps);

/* One trajectory of chain `chain` with number t: draws p (and eta), integrates, accepts or
 * rejects. phi (C*V) is updated in place (restored when rejected). Returns LF_OK, or
 * LF_ERR_NUMERIC when a CG solve failed (lf_pf_cg's message): phi is then restored,
 * res->dH is NaN and res->accepted 0. */
lf_status lf_hmc_trajectory(lf_hmc *h, uint64_t chain, uint32_t t, double *phi, lf_hmc_result *res);

#endif
