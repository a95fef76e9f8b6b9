/* The plaquette base of 2D U(1) (latflow/base.h): its change of variables and density.
 *   (a) the links it samples have the plaquettes theta_v = phi_v - s/V (mod 2 pi), all V
 *       of them, and the holonomy s of the 0-links at x1 = 0; log r of the sample equals
 *       log r recomputed from the links (the inverse), for several shapes;
 *   (b) log r against a brute-force Jacobian: r(z) = N(eps) / |det dz/deps| with dz/deps
 *       by central differences over all 2V noise entries and LAPACK's LU, on 2x2, 2x3
 *       and 4x4 with a non-trivial spline (the base at beta = 1.3, then perturbed);
 *   (c) finite-difference checks of sample_backward (theta; dz and dlogr each alone and
 *       together) and of logr_backward (theta and z);
 *   (d) theta = 0 is the haar base in law: log r = -2V log 2 pi, and the link angles'
 *       moments over many samples are those of U(0, 2 pi) within 5 sigma;
 *   (e) the start at base_beta: the spline's KL to exp(beta cos theta) per plaquette by
 *       quadrature (beta 2 and 6); the plaquette angles phi_v the base draws (before the
 *       shift) have the spline's own <cos phi>, <cos 2 phi> (5 sigma); the importance
 *       weights of pure U(1) on 16x16 have an ESS above 0.9 at beta 2 and 0.4 at beta 6
 *       (the expected values: ESS ~ exp(-2 V KL) from the fit and the shift s/V);
 *   (f) bad shapes and bin counts are refused. */
#include "latflow/base.h"
#include "latflow/gauge_flow.h"
#include "latflow/lattice.h"
#include "latflow/rng.h"
#include "latflow/u1.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.83787706640934548356
#define TWO_PI 6.28318530717958647692

static double wrap_pm(double a) {
  double r = remainder(a, TWO_PI);
  return r;
}

static void randn(uint64_t seed, size_t n, double scale, double *x) {
  lf_rng_normal(lf_rng_key_make(seed, LF_STREAM_TEST), 0, 0, n, x);
  for (size_t i = 0; i < n; i++) x[i] *= scale;
}

/* a spline theta: the base_beta start plus a seeded perturbation */
static void make_theta(lf_base *b, double beta, uint64_t seed, double amp, double *theta) {
  const int np = lf_base_nparams(b);
  lf_base_param_init(b, 1.0, beta, theta);
  double *r = malloc(sizeof(double) * (size_t)np);
  randn(seed, (size_t)np, amp, r);
  for (int j = 0; j < np; j++) theta[j] += r[j];
  free(r);
}

/* (a) */
static void check_construction(int L0, int L1, int K) {
  const int V = L0 * L1, n = 2 * V, B = 4;
  lf_base b;
  lf_lattice lat;
  lf_status rc = lf_base_init(&b, LF_BASE_PLAQUETTE, 2, L0, L1, K);
  rc |= lf_lattice_init(&lat, L0, L1, 0);
  CHECK(rc == LF_OK && lf_base_nparams(&b) == 3 * K, "plaquette %dx%d, %d bins: 3K parameters", L0,
        L1, K);
  double *theta = malloc(sizeof(double) * 3 * (size_t)K);
  make_theta(&b, 2.0, 31, 0.3, theta);
  double *eps = malloc(sizeof(double) * (size_t)B * n), *z = malloc(sizeof(double) * (size_t)B * n);
  double *tp = malloc(sizeof(double) * (size_t)V), logr[4], logr2[4];
  randn(32, (size_t)B * n, 1.0, eps);
  lf_base_sample(&b, theta, B, eps, z, logr);
  lf_base_logr(&b, theta, B, z, logr2);
  double ep = 0.0, eh = 0.0, el = 0.0, lo = 1e300, hi = -1e300;
  for (int i = 0; i < B; i++) {
    const double *zi = z + (size_t)i * n;
    for (int j = 0; j < n; j++) lo = fmin(lo, zi[j]), hi = fmax(hi, zi[j]);
    /* phi_v from the spline of the noise, recomputed here with the one-element spline */
    double phi[1024], sum = 0.0;
    for (int v = 0; v < V; v++) {
      const double a = TWO_PI * 0.5 * erfc(-eps[(size_t)i * n + v] / sqrt(2.0));
      double lj;
      phi[v] = lf_rqs_forward_d(K, theta, 1, a >= TWO_PI ? a - TWO_PI : a, &lj) - M_PI;
      sum += phi[v];
    }
    const double s = wrap_pm(sum);
    lf_u1_plaquettes(&lat, zi, tp);
    for (int v = 0; v < V; v++) ep = fmax(ep, fabs(wrap_pm(tp[v] - (phi[v] - s / V))));
    double h = 0.0;
    for (int x0 = 0; x0 < L0; x0++) h += zi[x0 * L1];
    eh = fmax(eh, fabs(wrap_pm(h - s)));
    el = fmax(el, fabs(logr[i] - logr2[i]));
  }
  CHECK(ep < 1e-12 && eh < 1e-12,
        "%dx%d: plaquettes are phi_v - s/V (max err %.1e), holonomy s (%.1e)", L0, L1, ep, eh);
  CHECK(el < 1e-9 && lo >= 0.0 && hi < TWO_PI,
        "%dx%d: log r of the sample = log r of its links (max diff %.1e); z in [0, 2 pi)", L0, L1,
        el);
  lf_lattice_free(&lat);
  lf_base_free(&b);
  free(theta);
  free(eps);
  free(z);
  free(tp);
}

/* (b) */
static void check_jacobian(int L0, int L1, int K) {
  const int V = L0 * L1, n = 2 * V;
  lf_base b;
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, L0, L1, K) == LF_OK, "init %dx%d", L0, L1);
  double *theta = malloc(sizeof(double) * 3 * (size_t)K);
  make_theta(&b, 1.3, 41, 0.2, theta);
  double *eps = malloc(sizeof(double) * (size_t)n), *e2 = malloc(sizeof(double) * (size_t)n);
  double *zp = malloc(sizeof(double) * (size_t)n), *zm = malloc(sizeof(double) * (size_t)n);
  double *z = malloc(sizeof(double) * (size_t)n), *J = malloc(sizeof(double) * (size_t)n * n);
  double worst = 0.0;
  for (int trial = 0; trial < 3; trial++) {
    randn(42 + (uint64_t)trial, (size_t)n, 0.8, eps);
    double logr, lp, lm, logn = 0.0;
    lf_base_sample(&b, theta, 1, eps, z, &logr);
    const double h = 1e-6;
    for (int k = 0; k < n; k++) {
      memcpy(e2, eps, sizeof(double) * (size_t)n);
      e2[k] = eps[k] + h;
      lf_base_sample(&b, theta, 1, e2, zp, &lp);
      e2[k] = eps[k] - h;
      lf_base_sample(&b, theta, 1, e2, zm, &lm);
      for (int j = 0; j < n; j++) J[(size_t)j * n + k] = wrap_pm(zp[j] - zm[j]) / (2.0 * h);
      logn += -0.5 * eps[k] * eps[k] - 0.5 * LOG_2PI;
    }
    const double ld = lf_test_logabsdet(n, J);
    const double err = fabs(logr - (logn - ld));
    worst = fmax(worst, err);
  }
  CHECK(worst < 1e-5,
        "%dx%d, %d bins: log r = log N(eps) - log|det dz/deps| (brute force), max err %.1e", L0, L1,
        K, worst);
  lf_base_free(&b);
  free(theta);
  free(eps);
  free(e2);
  free(zp);
  free(zm);
  free(z);
  free(J);
}

typedef struct gctx {
  lf_base *b;
  int B;
  double *theta, *eps, *z, *dz, *dlogr, *zout, *logr;
} gctx;

static double loss_sample(void *p) {
  gctx *c = p;
  const size_t n = (size_t)c->B * 2 * (size_t)c->b->V;
  lf_base_sample(c->b, c->theta, c->B, c->eps, c->zout, c->logr);
  double s = 0.0;
  if (c->dz)
    for (size_t j = 0; j < n; j++) s += c->dz[j] * c->zout[j];
  if (c->dlogr)
    for (int i = 0; i < c->B; i++) s += c->dlogr[i] * c->logr[i];
  return s;
}

static double loss_logr(void *p) {
  gctx *c = p;
  lf_base_logr(c->b, c->theta, c->B, c->z, c->logr);
  double s = 0.0;
  for (int i = 0; i < c->B; i++) s += c->dlogr[i] * c->logr[i];
  return s;
}

/* (c) */
static void check_gradients(int L0, int L1, int K) {
  const int V = L0 * L1, n = 2 * V, B = 3, np = 3 * K;
  lf_base b;
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, L0, L1, K) == LF_OK, "init %dx%d", L0, L1);
  double *theta = malloc(sizeof(double) * (size_t)np), *g = malloc(sizeof(double) * (size_t)np);
  make_theta(&b, 1.7, 51, 0.3, theta);
  double *eps = malloc(sizeof(double) * (size_t)B * n), *z = malloc(sizeof(double) * (size_t)B * n);
  double *dz = malloc(sizeof(double) * (size_t)B * n),
         *zout = malloc(sizeof(double) * (size_t)B * n);
  double *gz = malloc(sizeof(double) * (size_t)B * n), dlogr[3], logr[3];
  randn(52, (size_t)B * n, 1.0, eps);
  randn(53, (size_t)B * n, 1.0, dz);
  randn(54, 3, 1.0, dlogr);
  /* links away from the wrap of [0, 2 pi), so that the loss is smooth in theta */
  lf_base_sample(&b, theta, B, eps, z, logr);
  gctx c = {&b, B, theta, eps, z, dz, dlogr, zout, logr};
  for (int variant = 0; variant < 3; variant++) {
    c.dz = variant == 2 ? NULL : dz;
    c.dlogr = variant == 1 ? NULL : dlogr;
    for (int j = 0; j < np; j++) g[j] = 0.25; /* accumulates */
    lf_base_sample_backward(&b, theta, B, eps, c.dz, c.dlogr, g);
    for (int j = 0; j < np; j++) g[j] -= 0.25;
    const double err = lf_gradcheck_scaled(loss_sample, &c, theta, g, (size_t)np, 1e-6);
    CHECK(err < 1e-5, "%dx%d, %d bins: sample_backward dtheta (dz %s, dlogr %s), FD err %.1e", L0,
          L1, K, c.dz ? "set" : "NULL", c.dlogr ? "set" : "NULL", err);
  }
  c.dz = dz;
  c.dlogr = dlogr;
  /* logr at links slightly off the sampled ones (any z is a valid argument) */
  for (int j = 0; j < B * n; j++) z[j] += 0.05 * dz[j];
  for (int j = 0; j < np; j++) g[j] = 0.0;
  for (int j = 0; j < B * n; j++) gz[j] = 0.5;
  lf_base_logr_backward(&b, theta, B, z, dlogr, g, gz);
  for (int j = 0; j < B * n; j++) gz[j] -= 0.5;
  double err = lf_gradcheck_scaled(loss_logr, &c, theta, g, (size_t)np, 1e-6);
  CHECK(err < 1e-5, "%dx%d: logr_backward dtheta, FD err %.1e", L0, L1, err);
  err = lf_gradcheck_scaled(loss_logr, &c, z, gz, (size_t)B * n, 1e-6);
  CHECK(err < 1e-5, "%dx%d: logr_backward dz, FD err %.1e over %d entries", L0, L1, err, B * n);
  double *g2 = calloc((size_t)np, sizeof *g2);
  lf_base_logr_backward(&b, theta, B, z, dlogr, g2, NULL);
  double d = 0.0;
  for (int j = 0; j < np; j++) d = fmax(d, fabs(g2[j] - g[j]));
  CHECK(d == 0.0, "logr_backward with dz NULL gives the same dtheta (max diff %.1e)", d);
  free(g2);
  lf_base_free(&b);
  free(theta);
  free(g);
  free(eps);
  free(z);
  free(dz);
  free(zout);
  free(gz);
}

/* (d) */
static void check_identity(void) {
  const int L0 = 4, L1 = 4, V = L0 * L1, n = 2 * V, B = 2000, K = 8;
  lf_base b;
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, L0, L1, K) == LF_OK, "init 4x4");
  double theta[24];
  lf_base_param_init(&b, 1.0, 0.0, theta);
  double *eps = malloc(sizeof(double) * (size_t)B * n), *z = malloc(sizeof(double) * (size_t)B * n);
  double *logr = malloc(sizeof(double) * B);
  randn(61, (size_t)B * n, 1.0, eps);
  lf_base_sample(&b, theta, B, eps, z, logr);
  double el = 0.0, mc = 0.0, ms = 0.0, mc2 = 0.0;
  for (int i = 0; i < B; i++) el = fmax(el, fabs(logr[i] + n * LOG_2PI));
  const size_t N = (size_t)B * n;
  for (size_t j = 0; j < N; j++) mc += cos(z[j]), ms += sin(z[j]), mc2 += cos(2.0 * z[j]);
  mc /= N, ms /= N, mc2 /= N;
  /* each link angle is uniform; <cos> has variance 1/2 per angle */
  const double tol = 5.0 * sqrt(0.5 / (double)N);
  CHECK(el < 1e-9, "beta 0: log r = -2V log 2 pi (max err %.1e)", el);
  CHECK(fabs(mc) < tol && fabs(ms) < tol && fabs(mc2) < tol,
        "beta 0: link <cos> %.4f, <sin> %.4f, <cos 2> %.4f over %zu angles (5 sigma %.4f)", mc, ms,
        mc2, N, tol);
  lf_base_free(&b);
  free(eps);
  free(z);
  free(logr);
}

/* (e) */
static void check_beta_start(double beta, double kl_max, int B, double ess_min) {
  const int L0 = 16, L1 = 16, V = L0 * L1, n = 2 * V, K = 16, M = 1 << 16;
  lf_base b;
  lf_lattice lat;
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, L0, L1, K) == LF_OK, "init 16x16");
  CHECK(lf_lattice_init(&lat, L0, L1, 0) == LF_OK, "lattice 16x16");
  double theta[48];
  lf_base_param_init(&b, 1.0, beta, theta);
  /* the spline's own density by quadrature: KL(r || rho) and <cos phi>, <cos 2 phi> */
  double z0 = 0.0, kl = 0.0, q1 = 0.0, q2 = 0.0, q1s = 0.0, q2s = 0.0;
  for (int i = 0; i < M; i++) {
    const double t = (i + 0.5) * TWO_PI / M - M_PI;
    z0 += exp(beta * (cos(t) - 1.0)) * TWO_PI / M;
  }
  for (int i = 0; i < M; i++) {
    double lj;
    const double phi = lf_rqs_forward_d(K, theta, 1, (i + 0.5) * TWO_PI / M, &lj) - M_PI;
    kl += (-LOG_2PI - lj - beta * (cos(phi) - 1.0) + log(z0)) / M;
    q1 += cos(phi) / M, q2 += cos(2.0 * phi) / M;
    q1s += cos(phi) * cos(phi) / M, q2s += cos(2.0 * phi) * cos(2.0 * phi) / M;
  }
  CHECK(kl >= 0.0 && kl < kl_max,
        "beta %.0f start: KL(spline || exp(beta cos)) = %.2e per plaquette (quadrature, < %.0e)",
        beta, kl, kl_max);
  double *eps = malloc(sizeof(double) * (size_t)B * n), *z = malloc(sizeof(double) * (size_t)B * n);
  double *logr = malloc(sizeof(double) * B), *lw = malloc(sizeof(double) * B);
  randn(71 + (uint64_t)beta, (size_t)B * n, 1.0, eps);
  lf_base_sample(&b, theta, B, eps, z, logr);
  double c1 = 0.0, c2 = 0.0, mx = -1e300;
  for (int i = 0; i < B; i++)
    for (int v = 0; v < V; v++) {
      const double a = TWO_PI * 0.5 * erfc(-eps[(size_t)i * n + v] / sqrt(2.0));
      double lj;
      const double phi = lf_rqs_forward_d(K, theta, 1, a >= TWO_PI ? a - TWO_PI : a, &lj) - M_PI;
      c1 += cos(phi);
      c2 += cos(2.0 * phi);
    }
  const double N = (double)B * V;
  c1 /= N, c2 /= N;
  const double s1 = sqrt((q1s - q1 * q1) / N), s2 = sqrt((q2s - q2 * q2) / N);
  CHECK(fabs(c1 - q1) < 5.0 * s1 && fabs(c2 - q2) < 5.0 * s2,
        "beta %.0f: sampled <cos phi> %.5f vs the spline's %.5f (z %.2f), <cos 2phi> %.5f vs "
        "%.5f (z %.2f)",
        beta, c1, q1, (c1 - q1) / s1, c2, q2, (c2 - q2) / s2);
  for (int i = 0; i < B; i++) {
    double *tp = eps; /* the noise is dead: plaquette scratch */
    lf_u1_plaquettes(&lat, z + (size_t)i * n, tp);
    double sc = 0.0;
    for (int v = 0; v < V; v++) sc += cos(tp[v]);
    lw[i] = beta * sc - logr[i];
    mx = fmax(mx, lw[i]);
  }
  double sw = 0.0, sw2 = 0.0;
  for (int i = 0; i < B; i++) {
    const double w = exp(lw[i] - mx);
    sw += w;
    sw2 += w * w;
  }
  const double ess = sw * sw / (B * sw2);
  CHECK(ess > ess_min,
        "pure U(1) 16x16 at beta %.0f, base at base_beta %.0f: ESS %.3f over %d (> %.2f)", beta,
        beta, ess, B, ess_min);
  lf_lattice_free(&lat);
  lf_base_free(&b);
  free(eps);
  free(z);
  free(logr);
  free(lw);
}

int main(void) {
  check_construction(4, 4, 8);
  check_construction(2, 6, 6);
  check_construction(8, 4, 16);
  check_jacobian(2, 2, 4);
  check_jacobian(2, 3, 5);
  check_jacobian(4, 4, 8);
  check_gradients(2, 3, 4);
  check_gradients(4, 4, 8);
  check_identity();
  check_beta_start(2.0, 1e-4, 1000, 0.9);
  check_beta_start(6.0, 2.5e-3, 2000, 0.4);
  lf_base b;
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 1, 4, 4, 8) == LF_ERR_INVALID, "C = 1 refused: '%s'",
        lf_last_error());
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, 1, 4, 8) == LF_ERR_INVALID, "1x4 refused: '%s'",
        lf_last_error());
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, 4, 4, 0) == LF_ERR_INVALID, "0 bins refused: '%s'",
        lf_last_error());
  CHECK(lf_base_init(&b, LF_BASE_PLAQUETTE, 2, 4, 4, 65) == LF_ERR_INVALID, "65 bins refused: '%s'",
        lf_last_error());
  return lf_test_result();
}
