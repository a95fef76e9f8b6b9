/* Exact free field (latflow/exact.h) against brute force: the dense matrix A of the phi^4
 * action at lambda = 0, read off the theory's own gradient (S = phi^T A phi is quadratic,
 * so grad(e_j) = 2 A e_j is column j of 2A), inverted by LAPACK (dgesv), gives the
 * covariance <phi phi^T> = A^-1 / 2 and with it every expectation value; log det A comes
 * from LU (dgetrf). Also: the single-pole property of G(t), a known answer shared with
 * test_base (log Z_K on 4x6 at m = 0.9), and the refusals. */
#include "latflow/exact.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <string.h>

void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b,
            const int *ldb, int *info);

static lf_theory_cfg phi4_cfg(int L0, int L1, double m2) {
  lf_theory_cfg c;
  memset(&c, 0, sizeof c);
  c.name = LF_THEORY_PHI4;
  c.shape[0] = L0;
  c.shape[1] = L1;
  c.m2 = m2;
  c.lambda = 0.0;
  return c;
}

static int close_to(double a, double b, double tol) {
  return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

/* Compares lf_free_exact_eval with the dense computation on an L0 x L1 lattice. */
static void brute_force(int L0, int L1, double m2) {
  lf_theory th;
  lf_theory_cfg cfg = phi4_cfg(L0, L1, m2);
  memset(&th, 0, sizeof th);
  if (lf_theory_init(&th, &cfg) != LF_OK) {
    CHECK(0, "lf_theory_init %dx%d: %s", L0, L1, lf_last_error());
    return;
  }
  const int V = th.V;
  const size_t VV = (size_t)V * V;
  double *A = calloc(VV, sizeof *A), *A2 = calloc(VV, sizeof *A);
  double *Ainv = calloc(VV, sizeof *A), *e = calloc((size_t)V, sizeof *e);
  int *ipiv = calloc((size_t)V, sizeof *ipiv);
  /* Column j of A = grad(e_j) / 2 (stored column-major for LAPACK; A is symmetric). */
  for (int j = 0; j < V; j++) {
    memset(e, 0, (size_t)V * sizeof *e);
    e[j] = 1.0;
    th.grad(&th, 1, e, A + (size_t)j * V);
    for (int i = 0; i < V; i++) A[(size_t)j * V + i] *= 0.5;
  }
  double asym = 0.0;
  for (int i = 0; i < V; i++)
    for (int j = 0; j < V; j++)
      asym = fmax(asym, fabs(A[(size_t)i * V + j] - A[(size_t)j * V + i]));
  CHECK(asym == 0.0, "%dx%d: A from grad is symmetric (max asym %g)", L0, L1, asym);
  memcpy(A2, A, VV * sizeof *A);
  for (int i = 0; i < V; i++) Ainv[(size_t)i * V + i] = 1.0;
  int info = 0;
  dgesv_(&V, &V, A2, &V, ipiv, Ainv, &V, &info);
  CHECK(info == 0, "%dx%d: dgesv info %d", L0, L1, info);
  memcpy(A2, A, VV * sizeof *A);
  const double logdet = lf_test_logabsdet(V, A2);

  /* Covariance C = A^-1 / 2; site v = x0 * L1 + x1. */
  double phi2 = 0.0, chi2 = 0.0, energy = 0.0, G[64] = {0};
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      const int up = ((x0 + 1) % L0) * L1 + x1, right = x0 * L1 + (x1 + 1) % L1;
      phi2 += 0.5 * Ainv[(size_t)v * V + v];
      energy += 0.5 * (Ainv[(size_t)v * V + up] + Ainv[(size_t)v * V + right]);
      for (int y0 = 0; y0 < L0; y0++)
        for (int y1 = 0; y1 < L1; y1++) {
          const double c = 0.5 * Ainv[(size_t)v * V + y0 * L1 + y1];
          chi2 += c;
          G[((y0 - x0) % L0 + L0) % L0] += c;
        }
    }
  phi2 /= V;
  chi2 /= V;
  energy /= 2.0 * V;
  for (int t = 0; t < L0; t++) G[t] /= V;
  const double logZ = 0.5 * V * log(M_PI) - 0.5 * logdet;

  lf_free_exact ex;
  const lf_status rc = lf_free_exact_eval(L0, L1, m2, &ex);
  CHECK(rc == LF_OK, "%dx%d m2=%g: lf_free_exact_eval ok (%s)", L0, L1, m2, lf_last_error());
  CHECK(close_to(ex.phi2, phi2, 1e-12), "%dx%d m2=%g: phi2 %.15g vs dense %.15g", L0, L1, m2,
        ex.phi2, phi2);
  CHECK(close_to(ex.chi2, chi2, 1e-12), "%dx%d m2=%g: chi2 %.15g vs dense %.15g", L0, L1, m2,
        ex.chi2, chi2);
  CHECK(close_to(ex.energy, energy, 1e-12), "%dx%d m2=%g: energy %.15g vs dense %.15g", L0, L1, m2,
        ex.energy, energy);
  CHECK(close_to(ex.logZ, logZ, 1e-12), "%dx%d m2=%g: logZ %.15g vs dense %.15g", L0, L1, m2,
        ex.logZ, logZ);
  CHECK(ex.L0 == L0, "L0 %d", ex.L0);
  double gerr = 0.0, gsum = 0.0, merr = 0.0;
  for (int t = 0; t < L0; t++) {
    gerr = fmax(gerr, fabs(ex.G[t] - G[t]) / fmax(1.0, fabs(G[t])));
    gsum += G[t];
    /* Effective mass from the dense G, periodic in t. */
    const double r = (G[(t + L0 - 1) % L0] + G[(t + 1) % L0]) / (2.0 * G[t]);
    merr = fmax(merr, fabs(acosh(r) - ex.m_pole));
  }
  CHECK(gerr <= 1e-12, "%dx%d m2=%g: G(t) vs dense, max rel err %.2g (G(0) = %.15g)", L0, L1, m2,
        gerr, G[0]);
  CHECK(close_to(gsum, chi2, 1e-12), "%dx%d: sum_t G(t) = %.15g = chi2 %.15g", L0, L1, gsum, chi2);
  CHECK(merr <= 1e-10,
        "%dx%d m2=%g: m_pole %.15g = arccosh((G(t-1)+G(t+1))/2G(t)) for all t, "
        "max err %.2g",
        L0, L1, m2, ex.m_pole, merr);
  free(A);
  free(A2);
  free(Ainv);
  free(e);
  free(ipiv);
  lf_theory_free(&th);
}

/* The 2x2 transfer matrix (lf_phi4_2x2_exact_eval) against a 4-dimensional trapezoid sum
 * of exp(-S) over an n^4 grid, S and the observables taken from the theory itself (so the
 * 2x2 geometry, the doubled bonds and the observable definitions are checked, not
 * assumed), at the double well and at a single-well point; plus grid convergence. */
static void two_by_two(double m2, double lambda, int n, double xmax) {
  lf_theory th;
  lf_theory_cfg cfg = phi4_cfg(2, 2, m2);
  cfg.lambda = lambda;
  memset(&th, 0, sizeof th);
  if (lf_theory_init(&th, &cfg) != LF_OK) {
    CHECK(0, "lf_theory_init 2x2: %s", lf_last_error());
    return;
  }
  const int ip = lf_theory_obs_index(&th, "phi2"), ic = lf_theory_obs_index(&th, "chi2"),
            ie = lf_theory_obs_index(&th, "energy");
  const double h = 2.0 * xmax / (n - 1);
  double Z = 0.0, sp = 0.0, sc = 0.0, se = 0.0, phi[4], out[LF_MAX_OBS], S;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++)
      for (int c = 0; c < n; c++)
        for (int d = 0; d < n; d++) {
          phi[0] = -xmax + h * a;
          phi[1] = -xmax + h * b;
          phi[2] = -xmax + h * c;
          phi[3] = -xmax + h * d;
          th.action(&th, 1, phi, &S);
          const double w = exp(-S);
          th.observables(&th, phi, out);
          Z += w;
          sp += w * out[ip];
          sc += w * out[ic];
          se += w * out[ie];
        }
  lf_phi4_2x2_exact ex, ex2;
  CHECK(lf_phi4_2x2_exact_eval(m2, lambda, 400, &ex) == LF_OK, "2x2 exact m2=%g lambda=%g: %s", m2,
        lambda, lf_last_error());
  CHECK(lf_phi4_2x2_exact_eval(m2, lambda, 800, &ex2) == LF_OK, "2x2 exact, 800 points");
  const double bp = sp / Z, bc = sc / Z, be = se / Z;
  CHECK(close_to(ex.phi2, bp, 1e-7) && close_to(ex.chi2, bc, 1e-7) && close_to(ex.energy, be, 1e-7),
        "2x2 m2=%g lambda=%g: transfer matrix phi2 %.12f chi2 %.12f energy %.12f vs 4-d sum "
        "(%d^4 points) %.12f %.12f %.12f",
        m2, lambda, ex.phi2, ex.chi2, ex.energy, n, bp, bc, be);
  CHECK(close_to(ex.phi2, ex2.phi2, 1e-12) && close_to(ex.chi2, ex2.chi2, 1e-12) &&
            close_to(ex.energy, ex2.energy, 1e-12),
        "2x2 m2=%g lambda=%g: 400 vs 800 grid points agree to 1e-12 (phi2 diff %.1e)", m2, lambda,
        ex.phi2 - ex2.phi2);
  lf_theory_free(&th);
}

int main(void) {
  two_by_two(-4.0, 8.0, 44, 1.6);
  two_by_two(0.5, 1.0, 44, 2.2);
  {
    /* lambda = 0: the transfer matrix reproduces the free field's momentum sums */
    lf_phi4_2x2_exact tm;
    lf_free_exact fx;
    CHECK(lf_phi4_2x2_exact_eval(1.3, 0.0, 600, &tm) == LF_OK &&
              lf_free_exact_eval(2, 2, 1.3, &fx) == LF_OK,
          "2x2 m2 = 1.3, lambda = 0");
    CHECK(close_to(tm.phi2, fx.phi2, 1e-12) && close_to(tm.chi2, fx.chi2, 1e-12) &&
              close_to(tm.energy, fx.energy, 1e-12),
          "2x2 free field: transfer matrix %.15f %.15f %.15f = momentum sums %.15f %.15f %.15f",
          tm.phi2, tm.chi2, tm.energy, fx.phi2, fx.chi2, fx.energy);
    CHECK(lf_phi4_2x2_exact_eval(-1.0, 0.0, 400, &tm) == LF_ERR_INVALID,
          "lambda = 0 with m2 <= 0 refused: %s", lf_last_error());
    CHECK(lf_phi4_2x2_exact_eval(1.0, -1.0, 400, &tm) == LF_ERR_INVALID, "lambda < 0 refused: %s",
          lf_last_error());
    CHECK(lf_phi4_2x2_exact_eval(1.0, 1.0, 8, &tm) == LF_ERR_INVALID, "8 grid points refused: %s",
          lf_last_error());
  }
  brute_force(4, 6, 0.7);
  brute_force(6, 4, 0.7);
  brute_force(2, 2, 1.3);
  brute_force(5, 3, 0.05);
  brute_force(8, 8, 0.5);

  /* Known answer shared with test_base/docs/PHYSICS.md: the free-field base at m = 0.9 on
   * 4x6 has S + log r = -log Z_K with |log Z_K| = 3.708459350885. */
  lf_free_exact ex;
  CHECK(lf_free_exact_eval(4, 6, 0.81, &ex) == LF_OK, "4x6 m2=0.81 ok");
  CHECK(fabs(fabs(ex.logZ) - 3.708459350885) < 1e-11,
        "4x6 m2=0.81: logZ %.12f (|.| = "
        "3.708459350885 from test_base)",
        ex.logZ);
  /* m_pole = 2 asinh(m/2). */
  CHECK(fabs(ex.m_pole - 2.0 * asinh(0.45)) < 1e-14, "m_pole %.15g = 2 asinh(0.45)", ex.m_pole);
  /* A large L0 (exercises the reduced phase p_0 t mod 2 pi): G still a single cosh. */
  CHECK(lf_free_exact_eval(1024, 2, 0.3, &ex) == LF_OK, "1024x2 ok");
  {
    double merr = 0.0;
    for (int t = 1; t < 1023; t++) {
      const double r = (ex.G[t - 1] + ex.G[t + 1]) / (2.0 * ex.G[t]);
      merr = fmax(merr, fabs(r - cosh(ex.m_pole)));
    }
    CHECK(merr < 1e-10, "1024x2: (G(t-1)+G(t+1))/2G(t) = cosh m_pole, max err %.2g", merr);
  }

  /* Refusals. */
  const double bad_m2[] = {0.0, -0.5, NAN, INFINITY};
  for (int i = 0; i < 4; i++) {
    const lf_status rc = lf_free_exact_eval(4, 4, bad_m2[i], &ex);
    CHECK(rc == LF_ERR_INVALID && strstr(lf_last_error(), "m2"), "m2 = %g refused: %s", bad_m2[i],
          lf_last_error());
  }
  const int bad_L[][2] = {{1, 4}, {4, 1}, {0, 4}, {1025, 2}, {-2, 4}};
  for (int i = 0; i < 5; i++) {
    const lf_status rc = lf_free_exact_eval(bad_L[i][0], bad_L[i][1], 0.5, &ex);
    CHECK(rc == LF_ERR_INVALID, "%d x %d refused: %s", bad_L[i][0], bad_L[i][1], lf_last_error());
  }
  return lf_test_result();
}
