/* Exact free-field results by explicit momentum sums (contract: latflow/exact.h).
 * S = phi^T A phi with A = -Laplacian + m2 is diagonal in momentum space with eigenvalue
 * k_p = phat^2 + m2, phat^2 = 4 sum_mu sin^2(p_mu / 2), so <phi phi^T> = A^-1 / 2 has the
 * Fourier representation <phi(x) phi(y)> = (1/V) sum_p cos(p.(x - y)) / (2 k_p)
 * (docs/PHYSICS.md, section 5). Every quantity below is that propagator summed over the
 * appropriate separations; the sums are O(V) and run once per call (no hot loop). */
#include "latflow/exact.h"

#include <math.h>

lf_status lf_free_exact_eval(int L0, int L1, double m2, lf_free_exact *out) {
  if (!(m2 > 0.0) || !isfinite(m2))
    return LF_FAIL(LF_ERR_INVALID, "free field needs a finite m2 > 0, got %g", m2);
  if (L0 < 2 || L1 < 2 || L0 > 1024)
    return LF_FAIL(LF_ERR_INVALID, "free field needs 2 <= L0 <= 1024 and L1 >= 2, got %d x %d", L0,
                   L1);
  const double two_pi = 6.283185307179586476925287, V = (double)L0 * (double)L1;
  double s_phi2 = 0.0, s_energy = 0.0, s_logk = 0.0;
  /* The double sum over (p_0, p_1): phat^2 separates into the two directions. */
  for (int n0 = 0; n0 < L0; n0++) {
    const double p0 = two_pi * n0 / L0, s0 = sin(0.5 * p0), c0 = cos(p0);
    for (int n1 = 0; n1 < L1; n1++) {
      const double p1 = two_pi * n1 / L1, s1 = sin(0.5 * p1);
      const double k = 4.0 * (s0 * s0 + s1 * s1) + m2;
      s_phi2 += 1.0 / (2.0 * k);
      s_energy += (c0 + cos(p1)) / (2.0 * k);
      s_logk += log(k);
    }
  }
  out->phi2 = s_phi2 / V;
  out->chi2 = 1.0 / (2.0 * m2);
  out->energy = s_energy / (2.0 * V);
  out->logZ = 0.5 * V * log(3.14159265358979323846264) - 0.5 * s_logk;
  /* G(t) is the p_1 = 0 slice of the propagator, (1/L0) sum_{p_0} cos(p_0 t) / (2 (2 - 2 cos
   * p_0 + m2)). Summed term by term its absolute error is ~1e-16 G(0), so it loses relative
   * precision as G(t) / G(0) ~ exp(-m t) falls (all of it by m t ~ 37 at L0 = 1024, m2 = 0.3);
   * we use its closed form instead (the lattice
   * propagator has a single pole at cosh m = 1 + m2/2, i.e. 4 sinh^2(m/2) = m2):
   *   G(t) = (e^{-m t} + e^{-m (L0 - t)}) / (4 sinh(m) (1 - e^{-m L0})),  0 <= t < L0,
   * = cosh(m (L0/2 - t)) / (4 sinh(m) sinh(m L0 / 2)), written without overflow.
   * test_exact checks it against the dense covariance and sum_t G(t) = chi2. */
  const double m = 2.0 * asinh(0.5 * sqrt(m2)); /* = acosh(1 + m2/2) without cancellation */
  const double norm = 1.0 / (4.0 * sinh(m) * -expm1(-m * L0));
  out->m_pole = m;
  out->L0 = L0;
  for (int t = 0; t < L0; t++) out->G[t] = (exp(-m * t) + exp(-m * (L0 - t))) * norm;
  for (int t = L0; t < (int)(sizeof out->G / sizeof out->G[0]); t++) out->G[t] = 0.0;
  return LF_OK;
}
