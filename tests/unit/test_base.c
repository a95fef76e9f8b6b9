/* Base distributions: the free-field Gaussian against dense linear algebra (log density,
 * A^2 = (2K)^-1, propagator), FD gradient checks of both backward functions, the
 * sampled two-point function against lf_base_free_propagator (5 sigma), and the
 * free-field base as an exact flow of the free phi^4 theory. */
#include "latflow/base.h"
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.83787706640934548356

/* Dense 2K = 2 (m^2 + 4 - sum_mu (shift_mu + shift_-mu)) on one L0 x L1 component,
 * built from coordinates (not from the code under test). */
static void dense_2K(int L0, int L1, double m, double *M) {
  const int V = L0 * L1;
  memset(M, 0, (size_t)V * V * sizeof *M);
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      M[v * V + v] += 2.0 * (m * m + 4.0);
      const int nb[4] = {((x0 + 1) % L0) * L1 + x1, ((x0 + L0 - 1) % L0) * L1 + x1,
                         x0 * L1 + (x1 + 1) % L1, x0 * L1 + (x1 + L1 - 1) % L1};
      for (int k = 0; k < 4; k++) M[v * V + nb[k]] -= 2.0;
    }
}

/* In-place Cholesky M = L L^T (lower triangle); returns log det M. */
static double cholesky(int n, double *M) {
  double logdet = 0.0;
  for (int j = 0; j < n; j++) {
    double d = M[j * n + j];
    for (int k = 0; k < j; k++) d -= M[j * n + k] * M[j * n + k];
    d = sqrt(d);
    M[j * n + j] = d;
    logdet += 2.0 * log(d);
    for (int i = j + 1; i < n; i++) {
      double s = M[i * n + j];
      for (int k = 0; k < j; k++) s -= M[i * n + k] * M[j * n + k];
      M[i * n + j] = s / d;
    }
  }
  return logdet;
}

/* Solves L L^T x = b in place. */
static void chol_solve(int n, const double *L, double *b) {
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < i; k++) b[i] -= L[i * n + k] * b[k];
    b[i] /= L[i * n + i];
  }
  for (int i = n - 1; i >= 0; i--) {
    for (int k = i + 1; k < n; k++) b[i] -= L[k * n + i] * b[k];
    b[i] /= L[i * n + i];
  }
}

static double quad(int n, const double *M, const double *x) {
  double s = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) s += x[i] * M[i * n + j] * x[j];
  return s;
}

static void randn(uint32_t step, size_t n, double scale, double *out) {
  lf_rng_normal(lf_rng_key_make(99, LF_STREAM_TEST), step, 0, n, out);
  for (size_t i = 0; i < n; i++) out[i] *= scale;
}

/* (2) log r against the dense multivariate normal; A^2 = (2K)^-1; sample logr == logr(z). */
static void check_dense(int L0, int L1, int C, double m) {
  const int V = L0 * L1, n = C * V, B = 3;
  double *M = malloc(sizeof(double) * V * V), *M0 = malloc(sizeof(double) * V * V);
  double *z = malloc(sizeof(double) * B * n), *eps = malloc(sizeof(double) * B * n);
  double *z2 = malloc(sizeof(double) * B * n);
  double logr[3], logr2[3], theta = log(m);
  dense_2K(L0, L1, m, M0);
  memcpy(M, M0, sizeof(double) * V * V);
  const double logdet2K = cholesky(V, M);

  lf_base ff, nb;
  lf_status rc = lf_base_init(&ff, LF_BASE_FREE_FIELD, C, L0, L1, 0);
  rc |= lf_base_init(&nb, LF_BASE_NORMAL, C, L0, L1, 0);
  CHECK(rc == LF_OK && lf_base_nparams(&ff) == 1 && lf_base_nparams(&nb) == 0,
        "init %dx%d C=%d: nparams free_field %d, normal %d", L0, L1, C, lf_base_nparams(&ff),
        lf_base_nparams(&nb));
  double th0 = 0.0;
  lf_base_param_init(&ff, m, 0.0, &th0);
  CHECK(fabs(th0 - theta) < 1e-15, "param_init(m=%g) gives theta=log m=%.15g", m, th0);

  randn(1, (size_t)B * n, 1.3, z);
  lf_base_logr(&ff, &theta, B, z, logr);
  lf_base_logr(&nb, NULL, B, z, logr2);
  double worst_ff = 0.0, worst_n = 0.0;
  for (int b = 0; b < B; b++) {
    double q = 0.0, zz = 0.0;
    for (int c = 0; c < C; c++) q += quad(V, M0, z + (size_t)b * n + (size_t)c * V);
    for (int i = 0; i < n; i++) zz += z[b * n + i] * z[b * n + i];
    const double dense = -0.5 * q + 0.5 * C * logdet2K - 0.5 * n * LOG_2PI;
    const double dense_n = -0.5 * zz - 0.5 * n * LOG_2PI;
    worst_ff = fmax(worst_ff, fabs(logr[b] - dense) / fabs(dense));
    worst_n = fmax(worst_n, fabs(logr2[b] - dense_n) / fabs(dense_n));
  }
  CHECK(worst_ff < 1e-10, "%dx%d C=%d m=%g: free_field logr vs dense MVN, rel err %.2e", L0, L1, C,
        m, worst_ff);
  CHECK(worst_n < 1e-10, "%dx%d C=%d: normal logr vs dense formula, rel err %.2e", L0, L1, C,
        worst_n);

  /* sample: logr of the sample equals logr at the sampled z; A A eps solves 2K x = eps */
  randn(2, (size_t)B * n, 1.0, eps);
  lf_base_sample(&ff, &theta, B, eps, z, logr);
  lf_base_logr(&ff, &theta, B, z, logr2);
  double worst = 0.0;
  for (int b = 0; b < B; b++) worst = fmax(worst, fabs(logr[b] - logr2[b]) / fabs(logr2[b]));
  CHECK(worst < 1e-12, "%dx%d C=%d: sample logr == logr(z), rel err %.2e", L0, L1, C, worst);
  lf_base_sample(&ff, &theta, B, z, z2, logr2);
  double worst_a2 = 0.0;
  for (int s = 0; s < B * C; s++) {
    for (int i = 0; i < V; i++) {
      double y = 0.0;
      for (int j = 0; j < V; j++) y += M0[i * V + j] * z2[(size_t)s * V + j];
      worst_a2 = fmax(worst_a2, fabs(y - eps[(size_t)s * V + i]));
    }
  }
  CHECK(worst_a2 < 1e-12, "%dx%d C=%d: 2K (A (A eps)) == eps, max abs err %.2e", L0, L1, C,
        worst_a2);
  /* in-place sampling (eps and z alias) gives the same z */
  memcpy(z2, eps, sizeof(double) * B * n);
  lf_base_sample(&ff, &theta, B, z2, z2, logr2);
  CHECK(memcmp(z, z2, sizeof(double) * B * n) == 0 && logr2[0] == logr[0],
        "%dx%d: in-place sample is bitwise identical", L0, L1);
  lf_base_sample(&nb, NULL, B, eps, z2, logr2);
  CHECK(memcmp(eps, z2, sizeof(double) * B * n) == 0, "normal: z = eps");

  /* (5) propagator against the dense inverse of 2K: column 0 of (2K)^-1 */
  double *col = malloc(sizeof(double) * V);
  memset(col, 0, sizeof(double) * V);
  col[0] = 1.0;
  chol_solve(V, M, col);
  double worst_g = 0.0;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const double g = lf_base_free_propagator(L0, L1, m, x0, x1);
      worst_g = fmax(worst_g, fabs(g - col[x0 * L1 + x1]) / fabs(col[x0 * L1 + x1]));
    }
  const double gwrap = lf_base_free_propagator(L0, L1, m, -1 - L0, 2 * L1 + 1);
  CHECK(worst_g < 1e-12 && fabs(gwrap - col[(L0 - 1) * L1 + 1 % L1]) < 1e-12 * fabs(gwrap),
        "%dx%d m=%g: propagator vs dense (2K)^-1, rel err %.2e; G(0,0)=%.10f", L0, L1, m, worst_g,
        col[0]);
  free(col);
  lf_base_free(&ff);
  lf_base_free(&nb);
  free(M);
  free(M0);
  free(z);
  free(eps);
  free(z2);
}

/* (3) FD gradient checks */
typedef struct gctx {
  lf_base *base;
  int B;
  double *theta, *eps, *z, *dz, *dlogr, *zout, *logr;
} gctx;

static double loss_sample(void *p) { /* sum <dz, z> + sum dlogr logr through the sample */
  gctx *c = p;
  const size_t n = (size_t)c->base->C * c->base->V;
  lf_base_sample(c->base, c->theta, c->B, c->eps, c->zout, c->logr);
  double s = 0.0;
  for (int b = 0; b < c->B; b++) {
    if (c->dlogr) s += c->dlogr[b] * c->logr[b];
    if (c->dz)
      for (size_t i = 0; i < n; i++) s += c->dz[b * n + i] * c->zout[b * n + i];
  }
  return s;
}

static double loss_logr(void *p) { /* sum dlogr logr(z; theta) */
  gctx *c = p;
  lf_base_logr(c->base, c->theta, c->B, c->z, c->logr);
  double s = 0.0;
  for (int b = 0; b < c->B; b++) s += c->dlogr[b] * c->logr[b];
  return s;
}

static void check_gradients(lf_base_kind kind, int L0, int L1, int C, double m) {
  const int B = 3, n = C * L0 * L1;
  const char *name = kind == LF_BASE_NORMAL ? "normal" : "free_field";
  lf_base base;
  lf_status rc = lf_base_init(&base, kind, C, L0, L1, 0);
  CHECK(rc == LF_OK, "init %s %dx%d C=%d", name, L0, L1, C);
  double theta = log(m), dlogr[3], logr[3];
  double *eps = malloc(sizeof(double) * B * n), *z = malloc(sizeof(double) * B * n);
  double *dz = malloc(sizeof(double) * B * n), *zout = malloc(sizeof(double) * B * n);
  double *gz = malloc(sizeof(double) * B * n);
  randn(10, (size_t)B * n, 1.0, eps);
  randn(11, (size_t)B * n, 1.5, z);
  randn(12, (size_t)B * n, 1.0, dz);
  randn(13, 3, 1.0, dlogr);
  gctx c = {&base, B, &theta, eps, z, dz, dlogr, zout, logr};

  if (kind == LF_BASE_FREE_FIELD) {
    /* sample_backward w.r.t. theta: both paths, then each alone (NULL for the other) */
    for (int variant = 0; variant < 3; variant++) {
      c.dz = variant == 2 ? NULL : dz;
      c.dlogr = variant == 1 ? NULL : dlogr;
      double g = 0.125; /* accumulates onto what is there */
      lf_base_sample_backward(&base, &theta, B, eps, c.dz, c.dlogr, &g);
      g -= 0.125;
      const double err = lf_gradcheck(loss_sample, &c, &theta, &g, 1, 1e-5);
      CHECK(err < 1e-8,
            "%s %dx%d C=%d: sample_backward dtheta (dz %s, dlogr %s) = %.10f, FD err %.2e", name,
            L0, L1, C, c.dz ? "set" : "NULL", c.dlogr ? "set" : "NULL", g, err);
    }
    c.dz = dz;
    c.dlogr = dlogr;
  }

  /* logr_backward w.r.t. theta and z */
  double g = 0.0;
  for (int i = 0; i < B * n; i++) gz[i] = 0.5;
  lf_base_logr_backward(&base, &theta, B, z, dlogr, kind == LF_BASE_FREE_FIELD ? &g : NULL, gz);
  for (int i = 0; i < B * n; i++) gz[i] -= 0.5;
  if (kind == LF_BASE_FREE_FIELD) {
    const double err = lf_gradcheck(loss_logr, &c, &theta, &g, 1, 1e-5);
    CHECK(err < 1e-8, "%s %dx%d C=%d: logr_backward dtheta = %.10f, FD err %.2e", name, L0, L1, C,
          g, err);
    double g2 = 0.0;
    lf_base_logr_backward(&base, &theta, B, z, dlogr, &g2, NULL);
    CHECK(g2 == g, "logr_backward with dz NULL gives the same dtheta");
  }
  const double errz = lf_gradcheck(loss_logr, &c, z, gz, (size_t)B * n, 1e-5);
  CHECK(errz < 1e-6, "%s %dx%d C=%d: logr_backward dz, FD err %.2e over %d entries", name, L0, L1,
        C, errz, B * n);
  lf_base_free(&base);
  free(eps);
  free(z);
  free(dz);
  free(zout);
  free(gz);
}

/* (1) sampled <z(0) z(x)> (translation averaged) against the exact propagator */
static void check_statistics(void) {
  enum { L0 = 4, L1 = 6, V = L0 * L1, N = 20000, BB = 500 };
  const double m = 0.7, theta = log(m);
  lf_base base;
  lf_status rc = lf_base_init(&base, LF_BASE_FREE_FIELD, 1, L0, L1, 0);
  CHECK(rc == LF_OK, "init free_field 4x6");
  double *eps = malloc(sizeof(double) * BB * V), *z = malloc(sizeof(double) * BB * V);
  double logr[BB], s1[V] = {0}, s2[V] = {0};
  lf_rng_key key = lf_rng_key_make(2024, LF_STREAM_TEST);
  for (int blk = 0; blk < N / BB; blk++) {
    for (int i = 0; i < BB; i++)
      lf_rng_normal(key, 0, (uint64_t)blk * BB + (uint64_t)i, V, eps + (size_t)i * V);
    lf_base_sample(&base, &theta, BB, eps, z, logr);
    for (int i = 0; i < BB; i++) {
      const double *zi = z + (size_t)i * V;
      for (int x0 = 0; x0 < L0; x0++)
        for (int x1 = 0; x1 < L1; x1++) {
          double cx = 0.0; /* (1/V) sum_y z(y) z(y + x) */
          for (int y0 = 0; y0 < L0; y0++)
            for (int y1 = 0; y1 < L1; y1++)
              cx += zi[y0 * L1 + y1] * zi[((y0 + x0) % L0) * L1 + (y1 + x1) % L1];
          cx /= V;
          s1[x0 * L1 + x1] += cx;
          s2[x0 * L1 + x1] += cx * cx;
        }
    }
  }
  double zmax = 0.0, zwrong = 0.0;
  for (int x = 0; x < V; x++) {
    const double mean = s1[x] / N, var = s2[x] / N - mean * mean, err = sqrt(var / (N - 1));
    const double g = lf_base_free_propagator(L0, L1, m, x / L1, x % L1);
    const double gw = lf_base_free_propagator(L0, L1, 0.6, x / L1, x % L1);
    const double zs = (mean - g) / err;
    fprintf(stderr, "     x=(%d,%d) <z(0)z(x)> = %.5f +- %.5f  exact %.5f  z = %+.2f\n", x / L1,
            x % L1, mean, err, g, zs);
    zmax = fmax(zmax, fabs(zs));
    zwrong = fmax(zwrong, fabs(mean - gw) / err);
  }
  CHECK(zmax < 5.0, "4x6 m=0.7, N=%d: sampled two-point function vs exact, max |z| = %.2f", N,
        zmax);
  CHECK(zwrong > 5.0, "power: the same data rejects m=0.6, max |z| = %.1f", zwrong);
  lf_base_free(&base);
  free(eps);
  free(z);
}

/* (4) free_field at m is the exact flow of free phi^4 (lambda = 0, m2 = m^2) */
static void check_exact_flow(void) {
  enum { L0 = 4, L1 = 6, V = L0 * L1, B = 64 };
  const double m = 0.9, theta = log(m);
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_PHI4;
  tc.shape[0] = L0;
  tc.shape[1] = L1;
  tc.m2 = m * m;
  tc.lambda = 0.0;
  lf_theory th;
  lf_base base;
  lf_status rc = lf_theory_init(&th, &tc);
  rc |= lf_base_init(&base, LF_BASE_FREE_FIELD, 1, L0, L1, 0);
  CHECK(rc == LF_OK, "init phi4 (lambda=0) and free_field 4x6: rc=%d", (int)rc);
  if (rc != LF_OK) return;
  double *eps = malloc(sizeof(double) * B * V), *z = malloc(sizeof(double) * B * V);
  double logr[B], logr2[B], S[B];
  randn(20, (size_t)B * V, 1.0, eps);
  lf_base_sample(&base, &theta, B, eps, z, logr);
  lf_base_logr(&base, &theta, B, z, logr2);
  th.action(&th, B, z, S);
  double lo = INFINITY, hi = -INFINITY, lo2 = INFINITY, hi2 = -INFINITY, smin = INFINITY,
         smax = -INFINITY;
  for (int b = 0; b < B; b++) {
    lo = fmin(lo, S[b] + logr[b]);
    hi = fmax(hi, S[b] + logr[b]);
    lo2 = fmin(lo2, S[b] + logr2[b]);
    hi2 = fmax(hi2, S[b] + logr2[b]);
    smin = fmin(smin, S[b]);
    smax = fmax(smax, S[b]);
  }
  CHECK(hi - lo < 1e-11 * fabs(lo) && hi2 - lo2 < 1e-11 * fabs(lo2),
        "exact flow: S + log r = %.12f over %d samples, spread %.2e (sample), %.2e (logr) while S "
        "spans [%.3f, %.3f]",
        lo, B, hi - lo, hi2 - lo2, smin, smax);
  lf_theory_free(&th);
  lf_base_free(&base);
  free(eps);
  free(z);
}

/* haar: angles in [0, 2 pi), log r = -n log 2 pi, and the moments of U(0, 2 pi):
 * mean pi, variance pi^2/3, <cos> = <sin> = 0, each within 5 sigma/sqrt(N). */
static void check_haar(void) {
  lf_base b;
  const int C = 2, L0 = 4, L1 = 6, B = 500, n = C * L0 * L1;
  lf_status rc = lf_base_init(&b, LF_BASE_HAAR, C, L0, L1, 0);
  CHECK(rc == LF_OK && lf_base_nparams(&b) == 0, "haar base init (C=2, 4x6), no parameters");
  double *eps = malloc(sizeof(double) * (size_t)B * n), *z = malloc(sizeof(double) * (size_t)B * n);
  double logr[500], logr2[500];
  lf_rng_key key = lf_rng_key_make(21, LF_STREAM_TEST);
  for (int i = 0; i < B; i++) lf_rng_normal(key, 0, (uint64_t)i, (size_t)n, eps + (size_t)i * n);
  lf_base_sample(&b, NULL, B, eps, z, logr);
  lf_base_logr(&b, NULL, B, z, logr2);
  double lo = 1e300, hi = -1e300, m = 0.0, m2 = 0.0, mc = 0.0, ms = 0.0, el = 0.0;
  const size_t N = (size_t)B * (size_t)n;
  for (size_t j = 0; j < N; j++) {
    lo = fmin(lo, z[j]);
    hi = fmax(hi, z[j]);
    m += z[j];
    m2 += (z[j] - M_PI) * (z[j] - M_PI);
    mc += cos(z[j]);
    ms += sin(z[j]);
  }
  for (int i = 0; i < B; i++)
    el = fmax(el, fabs(logr[i] + n * log(2.0 * M_PI)) + fabs(logr2[i] - logr[i]));
  m /= (double)N;
  m2 /= (double)N;
  mc /= (double)N;
  ms /= (double)N;
  const double tol = 5.0 / sqrt((double)N);
  CHECK(lo >= 0.0 && hi < 2.0 * M_PI && el < 1e-12,
        "haar: z in [%.2e, 2pi - %.2e], |logr + n log 2pi| + |sample - logr| %.1e", lo,
        2.0 * M_PI - hi, el);
  CHECK(fabs(m - M_PI) < tol * M_PI / sqrt(3.0) && fabs(m2 - M_PI * M_PI / 3.0) < tol * 3.0 &&
            fabs(mc) < tol && fabs(ms) < tol,
        "haar moments over %zu angles: mean - pi %.4f, var - pi^2/3 %.4f, <cos> %.4f, <sin> "
        "%.4f (5 sigma ~ %.4f)",
        N, m - M_PI, m2 - M_PI * M_PI / 3.0, mc, ms, tol);
  lf_base_free(&b);
  free(eps);
  free(z);
}

int main(void) {
  lf_base b;
  check_haar();
  lf_status rc = lf_base_init(&b, LF_BASE_FREE_FIELD, 0, 4, 4, 0);
  CHECK(rc == LF_ERR_INVALID, "C=0 refused: '%s'", lf_last_error());
  lf_base_free(&b);

  check_dense(2, 4, 2, 0.7);
  check_dense(3, 5, 1, 0.3);
  check_dense(4, 6, 1, 0.7);
  check_gradients(LF_BASE_FREE_FIELD, 3, 5, 2, 0.8);
  check_gradients(LF_BASE_FREE_FIELD, 2, 4, 1, 1.7);
  check_gradients(LF_BASE_NORMAL, 3, 5, 1, 1.0);
  check_statistics();
  check_exact_flow();
  return lf_test_result();
}
