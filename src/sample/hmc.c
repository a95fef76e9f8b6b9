/* Hybrid Monte Carlo (contract: latflow/hmc.h). Duane, Kennedy, Pendleton, Roweth, Phys.
 * Lett. B 195 (1987) 216; the Omelyan 2MN integrator as in Takaishi & de Forcrand, PRE 73
 * (2006) 036706, eq. (20) with lambda of eq. (21) (Omelyan, Mryglod, Folk, CPC 151 (2003)
 * 272). Both integrators are symmetric compositions of exact kick and drift maps, hence
 * volume preserving and reversible, which is what makes the Metropolis step exact.
 * The kick uses the theory's gradient directly, p -= c dS/dphi (STYLE.md section 2), or,
 * with pseudofermions, lf_pf_grad (gauge force + pseudofermion force, one CG solve).
 * Random trajectory lengths (hmc.tau_dist uniform, the default): Mackenzie, "An improper beam
 * choice in hybrid Monte Carlo", Phys. Lett. B 226 (1989) 369; Neal, "MCMC using Hamiltonian
 * dynamics", Handbook of Markov Chain Monte Carlo (2011) ch. 5. With a fixed length tau a
 * free-field mode of frequency omega maps x -> x cos(omega tau) + (p / omega) sin(omega tau);
 * near omega tau = pi it lands at about -x whatever p is, so its amplitude (phi^2) barely
 * changes from one trajectory to the next. Drawing the number of steps at a fixed step size
 * breaks that resonance without touching the acceptance. */
#include "latflow/hmc.h"

#include "latflow/timer.h"

#include <limits.h>
#include <math.h>
#include <string.h>

lf_status lf_hmc_init(lf_hmc *h, const lf_theory *th, const lf_hmc_cfg *cfg, uint64_t seed) {
  memset(h, 0, sizeof *h);
  if (!th || !cfg) return LF_FAIL(LF_ERR_INVALID, "hmc: NULL theory or config");
  if (!th->grad || !th->action)
    return LF_FAIL(LF_ERR_INVALID, "hmc: theory '%s' has no %s", th->name ? th->name : "?",
                   th->grad ? "action" : "gradient");
  if (!(cfg->tau > 0.0) || !isfinite(cfg->tau))
    return LF_FAIL(LF_ERR_INVALID, "hmc: tau must be finite and > 0, got %g", cfg->tau);
  if (cfg->steps <= 0) return LF_FAIL(LF_ERR_INVALID, "hmc: steps must be > 0, got %d", cfg->steps);
  if (cfg->steps > (INT_MAX - 1) / 2)
    return LF_FAIL(LF_ERR_INVALID, "hmc: steps = %d is too large", cfg->steps);
  if (cfg->tau_dist != LF_TAU_UNIFORM && cfg->tau_dist != LF_TAU_FIXED)
    return LF_FAIL(LF_ERR_INVALID, "hmc: unknown tau_dist %d", (int)cfg->tau_dist);
  if (cfg->integrator != LF_INT_LEAPFROG && cfg->integrator != LF_INT_OMELYAN)
    return LF_FAIL(LF_ERR_INVALID, "hmc: unknown integrator %d", (int)cfg->integrator);
  if (th->C <= 0 || th->V <= 0)
    return LF_FAIL(LF_ERR_INVALID, "hmc: theory has C = %d, V = %d", th->C, th->V);
  /* the theory decides whether its fermions (if any) enter as pseudofermions */
  const int pseudo = lf_theory_cfg_pseudofermions(&th->cfg, cfg);
  if (lf_theory_cfg_fermions(&th->cfg) && cfg->fermion != LF_FERMION_PSEUDO &&
      cfg->fermion != LF_FERMION_EXACT)
    return LF_FAIL(LF_ERR_INVALID, "hmc: unknown fermion kind %d", (int)cfg->fermion);
  h->th = th;
  h->cfg = *cfg;
  h->key = lf_rng_key_make(seed, LF_STREAM_HMC);
  h->n = th->C * th->V;
  const size_t bytes = (size_t)h->n * sizeof(double);
  h->p = lf_alloc(bytes);
  h->dS = lf_alloc(bytes);
  h->phi0 = lf_alloc(bytes);
  if (!h->p || !h->dS || !h->phi0) {
    lf_hmc_free(h);
    return LF_FAIL(LF_ERR_NOMEM, "hmc: cannot allocate 3 x %zu bytes", bytes);
  }
  if (pseudo) {
    h->pf = lf_alloc(sizeof *h->pf);
    h->z = lf_alloc(4 * (size_t)th->V * sizeof *h->z);
    if (!h->pf || !h->z) {
      lf_free(h->pf);
      h->pf = NULL;
      lf_hmc_free(h);
      return LF_FAIL(LF_ERR_NOMEM, "hmc: pseudofermion workspace");
    }
    const lf_status rc = lf_pf_init(h->pf, th, cfg->cg_tol, cfg->cg_maxiter);
    if (rc != LF_OK) {
      lf_free(h->pf);
      h->pf = NULL;
      lf_hmc_free(h);
      return rc;
    }
  }
  return LF_OK;
}

void lf_hmc_free(lf_hmc *h) {
  lf_free(h->p);
  lf_free(h->dS);
  lf_free(h->phi0);
  h->p = h->dS = h->phi0 = NULL;
  if (h->pf) lf_pf_free(h->pf);
  lf_free(h->pf);
  lf_free(h->z);
  h->pf = NULL;
  h->z = NULL;
}

/* p -= c dS/dphi (phi); h->dS is scratch (grad accumulates, so it is zeroed first). */
static void kick(lf_hmc *h, const double *phi, double *p, double c) {
  const int n = h->n;
  double *dS = h->dS;
  memset(dS, 0, (size_t)n * sizeof *dS);
  if (h->pf) {
    if (h->err != LF_OK) return; /* the trajectory is lost: no more solves */
    const lf_status rc = lf_pf_grad(h->pf, phi, dS);
    if (rc != LF_OK) {
      h->err = rc;
      return;
    }
  } else {
    h->th->grad(h->th, 1, phi, dS);
  }
  for (int i = 0; i < n; i++) p[i] -= c * dS[i];
}

/* phi += c p */
static void drift(int n, double *phi, const double *p, double c) {
  for (int i = 0; i < n; i++) phi[i] += c * p[i];
}

void lf_hmc_integrate(lf_hmc *h, double *phi, double *p, double eps, int n_steps) {
  if (n_steps <= 0) return;
  const int n = h->n;
  if (h->cfg.integrator == LF_INT_OMELYAN) {
    /* Per step K(l eps) D(eps/2) K((1-2l) eps) D(eps/2) K(l eps); the closing K(l eps) of
     * one step and the opening K(l eps) of the next act on the same phi, so they are one
     * kick of 2 l eps: n_steps * 2 + 1 gradient evaluations in all. */
    const double lam = LF_OMELYAN_LAMBDA;
    kick(h, phi, p, lam * eps);
    for (int s = 0; s < n_steps; s++) {
      drift(n, phi, p, 0.5 * eps);
      kick(h, phi, p, (1.0 - 2.0 * lam) * eps);
      drift(n, phi, p, 0.5 * eps);
      kick(h, phi, p, (s + 1 < n_steps ? 2.0 : 1.0) * lam * eps);
    }
  } else {
    /* K(eps/2) D(eps) K(eps/2) per step, with the inner half-kicks merged. */
    kick(h, phi, p, 0.5 * eps);
    for (int s = 0; s < n_steps; s++) {
      drift(n, phi, p, eps);
      kick(h, phi, p, (s + 1 < n_steps ? 1.0 : 0.5) * eps);
    }
  }
}

int lf_hmc_nsteps(const lf_hmc *h, uint64_t chain, uint32_t t) {
  const int s = h->cfg.steps;
  if (h->cfg.tau_dist == LF_TAU_FIXED || s == 1) return s;
  /* n = 1 + floor(u (2s - 1)) is uniform on 1 .. 2s - 1 for u uniform in (0,1); the clamp
   * only guards the rounding of u (2s - 1) up to 2s - 1 for u = 1 - 2^-54. */
  const int m = 2 * s - 1;
  const int k = (int)(lf_rng_uniform(h->key, t, LF_HMC_LEN_INDEX + chain) * (double)m);
  return 1 + (k < m ? k : m - 1);
}

static double half_norm2(int n, const double *p) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += p[i] * p[i];
  return 0.5 * s;
}

lf_status lf_hmc_trajectory(lf_hmc *h, uint64_t chain, uint32_t t, double *phi,
                            lf_hmc_result *res) {
  const int n = h->n;
  double S0, S1;
  memcpy(h->phi0, phi, (size_t)n * sizeof *phi);
  lf_rng_normal(h->key, t, 2 * chain, (size_t)n, h->p);
  h->err = LF_OK;
  if (h->pf) {
    /* heat bath: phi_pf = D^dagger eta; the action at the start is S_g + eta^dagger eta */
    lf_rng_normal(h->key, t, LF_HMC_PF_INDEX + chain, 4 * (size_t)h->th->V, h->z);
    lf_pf_reset_stats(h->pf);
    S0 = lf_pf_refresh(h->pf, phi, h->z);
  } else {
    h->th->action(h->th, 1, phi, &S0);
  }
  const double H0 = half_norm2(n, h->p) + S0;
  /* the length is drawn independently of (phi, p), so each length on its own is a
   * reversible, volume-preserving map and the mixture satisfies detailed balance */
  const int nsteps = lf_hmc_nsteps(h, chain, t);
  lf_hmc_integrate(h, phi, h->p, h->cfg.tau / h->cfg.steps, nsteps);
  if (!h->pf)
    h->th->action(h->th, 1, phi, &S1);
  else if (h->err == LF_OK)
    h->err = lf_pf_action(h->pf, phi, &S1);
  else
    S1 = NAN;
  const double dH = h->err == LF_OK ? half_norm2(n, h->p) + S1 - H0 : NAN;
  /* The uniform is drawn whatever dH is: the draws never depend on the path taken.
   * exp(-dH) >= 1 > u for dH <= 0; a non-finite dH fails the isfinite test. */
  const double u = lf_rng_uniform(h->key, t, 2 * chain + 1);
  const int acc = isfinite(dH) && u < exp(-dH);
  if (!acc) memcpy(phi, h->phi0, (size_t)n * sizeof *phi);
  res->dH = dH;
  res->S = acc ? S1 : S0;
  res->accepted = acc;
  res->n_steps = nsteps;
  res->cg_solves = h->pf ? h->pf->solves : 0;
  res->cg_iters = h->pf ? h->pf->iters : 0;
  res->cg_max = h->pf ? h->pf->max_iters : 0;
  return h->err;
}
