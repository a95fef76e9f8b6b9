/* Exact phi^4 expectation values on the 2x2 periodic lattice by a transfer matrix
 * (contract: latflow/exact.h).
 *
 * On 2x2 with periodic boundaries the neighbour (x + mu) equals (x - mu), so the hopping
 * sum sum_x sum_mu phi(x) phi(x+mu) counts every bond of the 4-cycle
 * a = (0,0) - b = (0,1) - d = (1,1) - c = (1,0) - a twice, and
 *   S = sum_i U(phi_i) - 4 (phi_a phi_b + phi_b phi_d + phi_d phi_c + phi_c phi_a),
 *   U(x) = (m2 + 4) x^2 + lambda x^4.
 * With the symmetric kernel T(x, y) = exp(-U(x)/2 + 4 x y - U(y)/2), Z = Tr T^4 and the
 * two-point functions are traces with the diagonal X = diag(x) inserted at separations 0,
 * 1 and 2 along the cycle. The integrals are discretised by the trapezoid rule on a
 * uniform grid over [-xmax, xmax] (the integrand is smooth and decays like
 * exp(-lambda x^4) or exp(-m2 x^2), so the rule converges exponentially in the number of
 * points; grid_half_width says where it is cut).
 * With T = U diag(t) U^T (LAPACK dsyev) and Y = U^T X U, Y2 = U^T X^2 U:
 *   Z          = sum_m t_m^4
 *   <phi^2>    = sum_m t_m^4 Y2_mm / Z
 *   <phi0 phi1> = sum_mn t_m t_n^3 Y_mn^2 / Z,  <phi0 phi2> = sum_mn t_m^2 t_n^2 Y_mn^2 / Z.
 * The grid weight h is absorbed into T (T_ij = h exp(...)), which only rescales Z. */
#include "latflow/exact.h"

#include "latflow/timer.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info);

/* Half-width of the grid. The weakest direction of exp(-S) is the uniform field phi_i = x,
 * where S = 4 f(x), f(x) = m2 x^2 + lambda x^4 (the bonds cancel the +4 of U): the grid
 * reaches out to where 4 (f(x) - min f) exceeds 80, so the truncated weight is below
 * e^-80 of the peak in every direction. */
static double grid_half_width(double m2, double lambda) {
  double fmin = 0.0;
  for (double x = 0.0; x < 50.0; x += 1e-3)
    fmin = fmin < m2 * x * x + lambda * x * x * x * x ? fmin : m2 * x * x + lambda * x * x * x * x;
  double x = 0.1;
  while (x < 1e3 && 4.0 * (m2 * x * x + lambda * x * x * x * x - fmin) < 80.0) x += 0.01;
  return x;
}

lf_status lf_phi4_2x2_exact_eval(double m2, double lambda, int n, lf_phi4_2x2_exact *out) {
  if (!out) return LF_FAIL(LF_ERR_INVALID, "phi4 2x2 exact: out is NULL");
  memset(out, 0, sizeof *out);
  if (!isfinite(m2) || !(lambda >= 0.0) || !isfinite(lambda))
    return LF_FAIL(LF_ERR_INVALID, "phi4 2x2 exact: need finite m2 and lambda >= 0, got %g, %g", m2,
                   lambda);
  if (lambda == 0.0 && !(m2 > 0.0))
    return LF_FAIL(LF_ERR_INVALID, "phi4 2x2 exact: lambda = 0 needs m2 > 0 (got %g)", m2);
  if (n < 16 || n > 4096)
    return LF_FAIL(LF_ERR_INVALID, "phi4 2x2 exact: grid of %d points (need 16..4096)", n);
  const double xmax = grid_half_width(m2, lambda);
  if (!(xmax < 1e3))
    return LF_FAIL(LF_ERR_INVALID, "phi4 2x2 exact: m2 = %g, lambda = %g is not normalisable", m2,
                   lambda);
  const double h = 2.0 * xmax / (n - 1), c2 = m2 + 4.0;
  const size_t nn = (size_t)n * (size_t)n;
  double *T = lf_alloc(nn * sizeof *T);
  double *x = lf_alloc((size_t)n * sizeof *x), *t = lf_alloc((size_t)n * sizeof *t);
  double *u = lf_alloc((size_t)n * sizeof *u);
  double *work = NULL;
  lf_status rc = LF_OK;
  if (!T || !x || !t || !u) {
    rc = LF_FAIL(LF_ERR_NOMEM, "phi4 2x2 exact: %d x %d matrices", n, n);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    x[i] = -xmax + h * i;
    u[i] = c2 * x[i] * x[i] + lambda * x[i] * x[i] * x[i] * x[i];
  }
  /* the largest exponent (for scaling; Z is not needed in absolute terms) */
  double emax = -INFINITY;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) emax = fmax(emax, -0.5 * (u[i] + u[j]) + 4.0 * x[i] * x[j]);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      T[(size_t)i * n + j] = h * exp(-0.5 * (u[i] + u[j]) + 4.0 * x[i] * x[j] - emax);
  int info = 0, lwork = -1;
  double wq;
  dsyev_("V", "U", &n, T, &n, t, &wq, &lwork, &info);
  lwork = (int)wq;
  work = lf_alloc((size_t)lwork * sizeof *work);
  if (!work) {
    rc = LF_FAIL(LF_ERR_NOMEM, "phi4 2x2 exact: LAPACK workspace");
    goto done;
  }
  dsyev_("V", "U", &n, T, &n, t, work, &lwork, &info);
  if (info != 0) {
    rc = LF_FAIL(LF_ERR_NUMERIC, "phi4 2x2 exact: dsyev failed (info %d)", info);
    goto done;
  }
  /* T now holds the eigenvectors: column-major from LAPACK's view, i.e. eigenvector m is
   * row m of our row-major array (T[m*n + i] = U_im). Y_mk = sum_i U_im x_i U_ik. */
  const double tmax = fmax(fabs(t[0]), fabs(t[n - 1]));
  for (int m = 0; m < n; m++) t[m] /= tmax;
  double Z = 0.0, p2 = 0.0, g1 = 0.0, g2 = 0.0;
  for (int m = 0; m < n; m++) {
    const double *um = T + (size_t)m * n;
    const double tm = t[m], tm2 = tm * tm;
    double yy = 0.0;
    for (int i = 0; i < n; i++) yy += um[i] * um[i] * x[i] * x[i];
    Z += tm2 * tm2;
    p2 += tm2 * tm2 * yy;
    for (int k = 0; k < n; k++) {
      const double *uk = T + (size_t)k * n;
      double y = 0.0;
      for (int i = 0; i < n; i++) y += um[i] * x[i] * uk[i];
      const double tk = t[k], y2 = y * y;
      g1 += tm * tk * tk * tk * y2;
      g2 += tm2 * tk * tk * y2;
    }
  }
  out->phi2 = p2 / Z;
  out->energy = g1 / Z;
  out->chi2 = out->phi2 + 2.0 * out->energy + g2 / Z;
  out->g2 = g2 / Z;
  out->n = n;
  out->xmax = xmax;
done:
  LF_FREE_ALL(T, x, t, u, work);
  return rc;
}
