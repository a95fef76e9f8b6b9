/* latflow/hmc.h: Hybrid Monte Carlo (Duane, Kennedy, Pendleton, Roweth 1987) for any
 * theory with a gradient (lf_theory.grad != NULL); the baseline of every flow run.
 *
 * H(phi, p) = p.p / 2 + S(phi), p ~ N(0,1) per real component. One trajectory is
 * n steps of eps = tau / steps (n = steps, or random: see below) of
 *   leapfrog: p -= eps/2 dS; (phi += eps p; p -= eps dS) x (n-1); phi += eps p; p -= eps/2 dS
 *   omelyan (second-order minimum norm, Omelyan, Mryglod, Folk, Comput. Phys. Commun.
 *     151 (2003) 272; Takaishi & de Forcrand, PRE 73 (2006) 036706), per step:
 *     p -= lambda eps dS; phi += eps/2 p; p -= (1 - 2 lambda) eps dS; phi += eps/2 p;
 *     p -= lambda eps dS, lambda = 0.1931833275037836 (consecutive half-kicks merged)
 * then Metropolis: accept with probability min(1, exp(-dH)), dH = H_end - H_start.
 * Trajectory length (cfg.tau_dist): the step size is always eps = tau / steps; the number
 * of steps n_t of trajectory t is
 *   LF_TAU_FIXED:   n_t = steps (the trajectories of latflow before hmc.tau_dist, bitwise);
 *   LF_TAU_UNIFORM: n_t uniform on 1 .. 2 steps - 1 (mean steps, so the mean length is tau
 *                   and the mean cost that of a fixed run), drawn independently of the state
 *                   (Mackenzie 1989: a fixed length resonates with the modes of
 *                   omega tau ~ pi, whose amplitudes then decorrelate very slowly). With
 *                   steps = 1 the range is {1}: randomization needs steps >= 2.
 * Randomness: stream LF_STREAM_HMC, step = trajectory number t (0, 1, ... counting the
 * thermalization trajectories), index = 2 * chain for the C*V momenta (lf_rng_normal),
 * index = 2 * chain + 1 for the accept uniform (lf_rng_uniform), index =
 * LF_HMC_LEN_INDEX + chain (2^62 + chain) for the uniform of n_t (drawn only with
 * LF_TAU_UNIFORM and steps >= 2), and, for pseudofermions, index = LF_HMC_PF_INDEX + chain
 * (2^63 + chain) for the 4V normals of eta. The kinds never share an index for
 * chain < 2^61, so chain c's trajectory t is a pure function of (seed, c, t, phi), and the
 * momenta, eta and accept draws do not depend on tau_dist.
 *
 * Pseudofermions (when the theory says so, lf_theory_cfg_pseudofermions: schwinger with
 * cfg.fermion = LF_FERMION_PSEUDO; latflow/pf.h):
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

#include "latflow/config_hmc.h"
#include "latflow/pf.h"
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <stdint.h>

#define LF_OMELYAN_LAMBDA 0.1931833275037836
#define LF_HMC_PF_INDEX (UINT64_C(1) << 63)
#define LF_HMC_LEN_INDEX (UINT64_C(1) << 62)

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
  int n_steps;  /* integrator steps of this trajectory (lf_hmc_nsteps) */
  /* pseudofermions (all 0 otherwise): CG solves of the trajectory (one per kick and one
   * for H_end), their iterations in all, and the iterations of the longest solve */
  int64_t cg_solves, cg_iters;
  int cg_max;
} lf_hmc_result;

/* LF_ERR_INVALID if th has no gradient or cfg is not positive (with pseudofermions also
 * cfg->cg_tol outside (0, 1) or cfg->cg_maxiter <= 0), or cfg->tau_dist is unknown;
 * LF_ERR_NOMEM. */
lf_status lf_hmc_init(lf_hmc *h, const lf_theory *th, const lf_hmc_cfg *cfg, uint64_t seed);
void lf_hmc_free(lf_hmc *h);

/* Molecular dynamics only (no accept/reject): integrates (phi, p) in place over
 * n_steps steps of size eps with the configured integrator. Used by the trajectory and by
 * the reversibility test (integrate, negate p, integrate: back to the start). With
 * pseudofermions the kicks use h->pf->phi as it stands (lf_pf_refresh sets it); a CG
 * failure is kept in h->err and the remaining kicks do nothing. */
void lf_hmc_integrate(lf_hmc *h, double *phi, double *p, double eps, int n_steps);

/* The number of steps n_t of chain `chain`'s trajectory t (see the top): steps for
 * LF_TAU_FIXED, else uniform on 1 .. 2 steps - 1, a pure function of (seed, chain, t).
 * Lets a caller know a trajectory's length (or the mean length of a run) without running
 * it. */
int lf_hmc_nsteps(const lf_hmc *h, uint64_t chain, uint32_t t);

/* One trajectory of chain `chain` with number t: draws p (and eta), integrates
 * lf_hmc_nsteps(h, chain, t) steps of tau / steps, accepts or rejects. phi (C*V) is updated in
 * place (restored when rejected). Returns LF_OK, or LF_ERR_NUMERIC when a CG solve failed
 * (lf_pf_cg's message): phi is then restored, res->dH is NaN and res->accepted 0. */
lf_status lf_hmc_trajectory(lf_hmc *h, uint64_t chain, uint32_t t, double *phi, lf_hmc_result *res);

#endif
