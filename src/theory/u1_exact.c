/* Exact finite-volume results of 2D pure U(1) gauge theory (contract: latflow/exact.h;
 * derivation: docs/PHYSICS.md section 8.6, the character expansion, as in U.-J. Wiese,
 * Nucl. Phys. B 318 (1989) 153, and Kanwar et al., arXiv:2003.06413).
 *   On a torus the V plaquette angles (wrapped to (-pi, pi]) are independent except for
 *   sum_P theta_P = 2 pi Q (the holonomies and the gauge directions integrate out), so
 *   Z(theta) = sum_n f(n + theta/2pi)^V,  f(nu) = int_{-pi}^{pi} dphi e^{beta cos phi} e^{i nu phi}
 *   with f(n) = 2 pi I_n(beta). Hence <cos theta_P> = sum_n I_n^{V-1} (I_{n-1} + I_{n+1})/2 /
 *   sum_n I_n^V and <Q^2> = -Z''(0)/Z(0) = -(1/4pi^2) sum_n [V(V-1) f_n^{V-2} f'_n^2
 *   + V f_n^{V-1} f''_n] / sum_n f_n^V, f'_n = -int phi sin(n phi) e^{beta cos phi},
 *   f''_n = -int phi^2 cos(n phi) e^{beta cos phi}.
 * The integrals are composite Simpson on [0, pi] (even/odd symmetry) of e^{beta (cos phi - 1)}
 * (ratios only, so nothing overflows); tests/unit/test_u1.c checks them against direct
 * integration and known limits. */
#include "latflow/exact.h"

#include <math.h>
#include <stdlib.h>

#define U1X_PI 3.14159265358979323846264338327950288
#define U1X_NQ 20000 /* Simpson intervals on [0, pi] (even) */

/* f_n, f'_n, f''_n / e^beta for n = 0..nmax (arrays of nmax+1). */
static void u1x_moments(double beta, int nmax, double *f, double *f1, double *f2) {
  const double h = U1X_PI / U1X_NQ;
  for (int n = 0; n <= nmax; n++) f[n] = f1[n] = f2[n] = 0.0;
  for (int k = 0; k <= U1X_NQ; k++) {
    const double p = k * h;
    const double w = (k == 0 || k == U1X_NQ) ? 1.0 : (k % 2 ? 4.0 : 2.0);
    const double e = w * exp(beta * (cos(p) - 1.0)) * h / 3.0;
    for (int n = 0; n <= nmax; n++) {
      const double c = cos(n * p), s = sin(n * p);
      f[n] += 2.0 * e * c;
      f1[n] -= 2.0 * e * p * s;
      f2[n] -= 2.0 * e * p * p * c;
    }
  }
}

lf_status lf_u1_exact_eval(double beta, int V, lf_u1_exact *out) {
  if (!(beta > 0.0) || !(beta <= 1e4) || V < 1 || !out)
    return LF_FAIL(LF_ERR_INVALID, "u1 exact: needs 0 < beta <= 1e4 and V >= 1, got beta %g, V %d",
                   beta, V);
  const int nmax = 40 + (int)(4.0 * beta);
  double *f = malloc(sizeof(double) * 3 * (size_t)(nmax + 2));
  if (!f) return LF_FAIL(LF_ERR_NOMEM, "u1 exact: %d Fourier moments", nmax + 2);
  double *f1 = f + nmax + 2, *f2 = f1 + nmax + 2;
  u1x_moments(beta, nmax + 1, f, f1, f2);
  double Z = 0.0, P = 0.0, Z2 = 0.0;
  const double f0 = f[0];
  for (int n = -nmax; n <= nmax; n++) {
    const int a = abs(n);
    const double r = f[a] / f0, rm = f[abs(n - 1)] / f0, rp = f[abs(n + 1)] / f0;
    const double d1 = (n < 0 ? -f1[a] : f1[a]) / f0, d2 = f2[a] / f0;
    const double rv1 = pow(r, V - 1);
    Z += rv1 * r;
    P += rv1 * 0.5 * (rm + rp);
    Z2 += (double)V * (V - 1) * pow(r, V - 2) * d1 * d1 + (double)V * rv1 * d2;
  }
  out->plaq = P / Z;
  out->q2 = -Z2 / Z / (4.0 * U1X_PI * U1X_PI);
  out->chi_t = out->q2 / V;
  out->I0 = f[0] * exp(beta) / (2.0 * U1X_PI);
  out->I1 = f[1] * exp(beta) / (2.0 * U1X_PI);
  free(f);
  return LF_OK;
}
