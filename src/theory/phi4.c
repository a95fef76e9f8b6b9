/* Real scalar phi^4 theory on a periodic 2D lattice (contract: latflow/theory.h;
 * conventions and the (kappa, lambda) dictionary: docs/PHYSICS.md).
 *   S = sum_x [ -2 sum_mu phi(x) phi(x+mu) + (m2 + 4) phi(x)^2 + lambda phi(x)^4 ]
 * Albergo, Kanwar, Shanahan, PRD 100, 034515 (2019), eq. (4) with D = 2.
 * These loops run on every proposal and every training sample, so they use direct row
 * arithmetic (site v = x0*L1 + x1: the +0 neighbour is the next row, the +1 neighbour
 * the next column) and touch each site once; nothing is allocated or precomputed. */
#include "latflow/theory.h"

#include "theory/theory_impl.h"

#include <math.h>
#include <stddef.h>

/* S for B configurations phi (B, V). */
static void phi4_action(const lf_theory *t, int B, const double *phi, double *S) {
  const int L0 = t->lat.L[0], L1 = t->lat.L[1], V = t->V;
  const double c2 = t->cfg.m2 + 4.0, lam = t->cfg.lambda;
  for (int b = 0; b < B; b++) {
    const double *p = phi + (size_t)b * V;
    double hop = 0.0, pot = 0.0; /* sum_x sum_mu phi(x)phi(x+mu); sum_x V(phi(x)) */
    for (int x0 = 0; x0 < L0; x0++) {
      const double *r = p + (size_t)x0 * L1;
      const double *rn = p + (size_t)(x0 + 1 == L0 ? 0 : x0 + 1) * L1;
      for (int x1 = 0; x1 < L1 - 1; x1++) {
        const double f = r[x1], f2 = f * f;
        hop += f * (r[x1 + 1] + rn[x1]);
        pot += f2 * (c2 + lam * f2);
      }
      const double f = r[L1 - 1], f2 = f * f; /* last column wraps to column 0 */
      hop += f * (r[0] + rn[L1 - 1]);
      pot += f2 * (c2 + lam * f2);
    }
    S[b] = pot - 2.0 * hop;
  }
}

/* dS (B, V) += dS/dphi = -2 sum_mu [phi(x+mu) + phi(x-mu)] + 2 (m2+4) phi + 4 lambda phi^3. */
static void phi4_grad(const lf_theory *t, int B, const double *phi, double *dS) {
  const int L0 = t->lat.L[0], L1 = t->lat.L[1], V = t->V;
  const double c2 = 2.0 * (t->cfg.m2 + 4.0), c4 = 4.0 * t->cfg.lambda;
  for (int b = 0; b < B; b++) {
    const double *p = phi + (size_t)b * V;
    double *g = dS + (size_t)b * V;
    for (int x0 = 0; x0 < L0; x0++) {
      const double *r = p + (size_t)x0 * L1;
      const double *ru = p + (size_t)(x0 + 1 == L0 ? 0 : x0 + 1) * L1;
      const double *rd = p + (size_t)(x0 == 0 ? L0 - 1 : x0 - 1) * L1;
      double *o = g + (size_t)x0 * L1;
      if (L1 == 1) {
        const double f = r[0];
        o[0] += f * (c2 + c4 * f * f) - 2.0 * (ru[0] + rd[0] + 2.0 * f);
        continue;
      }
      {
        const double f = r[0];
        o[0] += f * (c2 + c4 * f * f) - 2.0 * (ru[0] + rd[0] + r[1] + r[L1 - 1]);
      }
      for (int x1 = 1; x1 < L1 - 1; x1++) {
        const double f = r[x1];
        o[x1] += f * (c2 + c4 * f * f) - 2.0 * (ru[x1] + rd[x1] + r[x1 + 1] + r[x1 - 1]);
      }
      {
        const double f = r[L1 - 1];
        o[L1 - 1] += f * (c2 + c4 * f * f) - 2.0 * (ru[L1 - 1] + rd[L1 - 1] + r[0] + r[L1 - 2]);
      }
    }
  }
}

/* out = {phi2, mag, abs_mag, chi2, energy} for one configuration (V). */
static void phi4_observables(const lf_theory *t, const double *phi, double *out) {
  const int L0 = t->lat.L[0], L1 = t->lat.L[1], V = t->V;
  double s1 = 0.0, s2 = 0.0, hop = 0.0;
  for (int x0 = 0; x0 < L0; x0++) {
    const double *r = phi + (size_t)x0 * L1;
    const double *rn = phi + (size_t)(x0 + 1 == L0 ? 0 : x0 + 1) * L1;
    for (int x1 = 0; x1 < L1; x1++) {
      const double f = r[x1];
      s1 += f;
      s2 += f * f;
      hop += f * (r[x1 + 1 == L1 ? 0 : x1 + 1] + rn[x1]);
    }
  }
  const double invV = 1.0 / (double)V;
  out[0] = s2 * invV;
  out[1] = s1 * invV;
  out[2] = fabs(s1) * invV;
  out[3] = s1 * s1 * invV;
  out[4] = 0.5 * hop * invV;
}

/* G(t) = (1/V) sum_t0 s(t0) s(t0 + t) for t < L0, s(t) = sum_x1 phi(t, x1). */
static void phi4_correlator(const lf_theory *t, const double *phi, double *out) {
  const int L0 = t->lat.L[0], L1 = t->lat.L[1];
  double s[LF_THEORY_MAX_CORR];
  for (int x0 = 0; x0 < L0; x0++) {
    double a = 0.0;
    for (int x1 = 0; x1 < L1; x1++) a += phi[(size_t)x0 * L1 + x1];
    s[x0] = a;
  }
  const double invV = 1.0 / (double)t->V;
  for (int dt = 0; dt < L0; dt++) {
    double g = 0.0;
    for (int t0 = 0; t0 < L0; t0++) g += s[t0] * s[(t0 + dt) % L0];
    out[dt] = g * invV;
  }
}

/* The rest of t after lf_theory_init (theory_impl.h): lattice, couplings and hooks. */
static lf_status phi4_init(lf_theory *t, const lf_theory_cfg *cfg) {
  if (!isfinite(cfg->m2))
    return LF_FAIL(LF_ERR_CONFIG, "theory.m2 must be finite, got %g", cfg->m2);
  if (!(cfg->lambda >= 0.0) || !isfinite(cfg->lambda))
    return LF_FAIL(LF_ERR_CONFIG, "theory.lambda must be finite and >= 0, got %g", cfg->lambda);
  if (cfg->shape[0] < 1 || cfg->shape[1] < 1)
    return LF_FAIL(LF_ERR_CONFIG, "theory.shape must be >= 1 in each direction, got [%d, %d]",
                   cfg->shape[0], cfg->shape[1]);
  /* phi^4 itself needs no checkerboard; the flow's own lattice enforces even sizes. */
  const lf_status rc = lf_lattice_init(&t->lat, cfg->shape[0], cfg->shape[1], 1);
  if (rc != LF_OK) return rc;
  t->V = t->lat.V;
  t->cfg = *cfg;
  t->action = phi4_action;
  t->grad = phi4_grad;
  t->observables = phi4_observables;
  t->correlator = t->ncorr ? phi4_correlator : NULL;
  t->impl = NULL;
  return LF_OK;
}

/* phi^4's facts: one real per site, the observables of latflow/theory.h in phi4_observables'
 * order, the zero-momentum correlator, couplings m2 and lambda. */
static const char *const phi4_obs[] = {"phi2", "mag", "abs_mag", "chi2", "energy", NULL};
/* clang-format off */
const lf_theory_ops lf_phi4_ops = {
  .C = 1, .obs = phi4_obs, .corr = 1, .fermions = 0,
  .ncouplings = 2, .coupling = {{"theory.m2", offsetof(lf_theory_cfg, m2), 0},
                                {"theory.lambda", offsetof(lf_theory_cfg, lambda), 0}},
  .init = phi4_init, .free_impl = NULL};
/* clang-format on */
