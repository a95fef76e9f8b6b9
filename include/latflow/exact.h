/* latflow/exact.h: exact results that the samplers are tested against.
 *
 * Free scalar field (phi^4 at lambda = 0, m2 > 0) in the action convention of
 * latflow/theory.h: S = phi^T A phi with A = -Laplacian + m2, i.e. a Gaussian with
 * covariance A^-1 / 2 (note the 1/2). With phat^2 = 4 sum_mu sin^2(p_mu / 2), p_mu =
 * 2 pi n_mu / L_mu, and the sums over the V momenta:
 *   <phi2>   = (1/V) sum_p 1 / (2 (phat^2 + m2))
 *   <chi2>   = 1 / (2 m2)                       (<(sum phi)^2>/V, the p = 0 mode)
 *   <energy> = (1/(2V)) sum_p (cos p_0 + cos p_1) / (2 (phat^2 + m2))
 *   G(t)     = (1/L0) sum_{p_0} cos(p_0 t) / (2 (4 sin^2(p_0/2) + m2)), t = 0..L0-1: the
 *              zero-momentum correlator (1/V) sum_{t0} <s(t0) s(t0 + t)>, s(t) = sum_x1 phi(t, x1)
 *              (evaluated in its closed form (e^{-m t} + e^{-m (L0-t)}) / (4 sinh m (1 - e^{-m
 * L0})) with m = m_pole, which keeps full relative precision where G(t) << G(0)) m_pole   =
 * arccosh(1 + m2/2)  (= arccosh((G(t-1) + G(t+1)) / (2 G(t))) for every t) log Z    = (V/2) log(pi)
 * - (1/2) sum_p log(phat^2 + m2)   (Z = int dphi exp(-S)) Local; never allocates. */
#ifndef LATFLOW_EXACT_H
#define LATFLOW_EXACT_H

#include "latflow/status.h"

typedef struct lf_free_exact {
  double phi2, chi2, energy, m_pole, logZ;
  int L0;
  double G[1024]; /* G(t), t < L0 (L0 <= 1024) */
} lf_free_exact;

/* LF_ERR_INVALID unless m2 > 0, L0, L1 >= 2 and L0 <= 1024. */
lf_status lf_free_exact_eval(int L0, int L1, double m2, lf_free_exact *out);

/* phi^4 on the 2x2 periodic lattice, any m2 and lambda >= 0 (lambda = 0 needs m2 > 0),
 * exactly up to quadrature error by a transfer matrix on an n-point grid (n in 16..4096;
 * 400 gives ~1e-12 relative at the double well m2 = -4, lambda = 8): the observables of
 * latflow/theory.h, phi2 = <phi(x)^2>, energy = <phi(x) phi(x+mu)> (nearest neighbour),
 * chi2 = <(sum phi)^2>/V = phi2 + 2 energy + g2, g2 = <phi(0,0) phi(1,1)> (the diagonal).
 * O(n^3) (one dsyev) and O(n^2) memory; allocates. LF_ERR_INVALID, LF_ERR_NOMEM,
 * LF_ERR_NUMERIC (LAPACK failure). Code: src/theory/phi4_2x2_exact.c. */
typedef struct lf_phi4_2x2_exact {
  double phi2, energy, chi2, g2;
  int n;       /* grid points used */
  double xmax; /* grid half-width  */
} lf_phi4_2x2_exact;
lf_status lf_phi4_2x2_exact_eval(double m2, double lambda, int n, lf_phi4_2x2_exact *out);

/* Pure U(1) gauge theory in 2D, Wilson action S = -beta sum_P cos theta_P on a periodic
 * torus of V plaquettes, exactly (the character expansion, docs/PHYSICS.md section 8.6):
 * <cos theta_P>, <Q^2> and chi_t = <Q^2>/V of the geometric charge (<Q> = 0), and I_0,
 * I_1(beta) from the same quadrature. Needs 0 < beta <= 1e4 and V >= 1 (LF_ERR_INVALID);
 * allocates (LF_ERR_NOMEM). Code: src/theory/u1_exact.c. */
typedef struct lf_u1_exact {
  double plaq, q2, chi_t;
  double I0, I1;
} lf_u1_exact;
lf_status lf_u1_exact_eval(double beta, int V, lf_u1_exact *out);

#endif
