/* test_gamma: the Gamma method (latflow/gamma.h) on series with known answers.
 *
 * AR(1): x_i = a x_{i-1} + sqrt(1 - a^2) eta_i, x_0 ~ N(0,1) (stationary, variance 1),
 * rho(t) = a^t, tau_int = (1/2)(1 + a)/(1 - a), sigma(mean) -> sqrt(2 tau_int / N).
 * Statistical checks print a z-score and fail above 4. */
#include "latflow/analysis.h"
#include "latflow/gamma.h"
#include "latflow/timer.h"

#include "lftest.h"

#include <string.h>

static const lf_rng_key *test_key(void) {
  static lf_rng_key k;
  static int made = 0;
  if (!made) k = lf_rng_key_make(20240611u, LF_STREAM_TEST);
  made = 1;
  return &k;
}

/* AR(1) series number `id` of length n into x; eta is scratch of n doubles. */
static void ar1(uint32_t id, double a, size_t n, double *x, double *eta) {
  lf_rng_normal(*test_key(), id, 0, n, eta);
  const double s = sqrt(1.0 - a * a);
  x[0] = eta[0];
  for (size_t i = 1; i < n; i++) x[i] = a * x[i - 1] + s * eta[i];
}

static double tau_exact(double a) {
  return 0.5 * (1.0 + a) / (1.0 - a);
}

/* (1) tau_int and the error of the mean of AR(1) against the exact values. */
static void test_ar1(void) {
  const size_t N = 100000;
  double *x = malloc(N * sizeof *x), *eta = malloc(N * sizeof *eta);
  const double as[3] = {0.0, 0.5, 0.9};
  for (int k = 0; k < 3; k++) {
    const double a = as[k];
    ar1(100u + (uint32_t)k, a, N, x, eta);
    lf_gamma_result r;
    const lf_status rc = lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, NULL, 0);
    CHECK(rc == LF_OK, "AR(1) a=%.1f: lf_gamma_mean rc %d %s", a, rc, rc ? lf_last_error() : "");
    const double tau = tau_exact(a);
    /* the window truncates the tail sum_{t>W} a^t: a known bias, added to the tolerance */
    const double trunc = a > 0 ? pow(a, r.window + 1) / (1.0 - a) : 0.0;
    /* the Gamma method's own tau_int, with its error of eq. (42) */
    const double tg = r.tau_int_gamma;
    const double tge = 2.0 * tg * sqrt(fmax(0.0, r.window + 0.5 - tg) / (double)N);
    const double z = (tg - tau) / tge;
    CHECK(fabs(tg - tau) <= 4.0 * tge + trunc,
          "AR(1) a=%.1f: tau_int_gamma %.4f +- %.4f (W=%d) vs exact %.4f: z = %+.2f (truncation "
          "bias %.1e)",
          a, tg, tge, r.window, tau, z, trunc);
    /* the reported error is the larger of the two; tau_int is the one it implies */
    CHECK(r.error == fmax(r.error_gamma, r.error_bin) && r.bins == LF_GAMMA_BINS &&
              !!(r.flags & LF_GAMMA_BINNED) == (r.error_bin > r.error_gamma) &&
              fabs(r.tau_int / (tg * (r.error / r.error_gamma) * (r.error / r.error_gamma)) - 1) <
                  1e-12,
          "AR(1) a=%.1f: error %.5e = max(Gamma %.5e, binned %.5e, %d bins), tau_int %.4f, "
          "flags %d",
          a, r.error, r.error_gamma, r.error_bin, r.bins, r.tau_int, r.flags);
    /* n_eff = Gamma(0) / error^2 = N / (2 tau_int) */
    CHECK(fabs(r.eff_samples / ((double)N / (2.0 * r.tau_int)) - 1) < 1e-12,
          "AR(1) a=%.1f: eff_samples %.1f = N / (2 tau_int) = %.1f", a, r.eff_samples,
          (double)N / (2.0 * r.tau_int));
    /* sigma: bound max(10%, 4 dsigma/sigma) with dsigma/sigma = sqrt((W+1/2)/N) (eq. 43):
     * 10% is ~4 standard errors for a <= 0.5 (W <= 15: 1.2%) and at a = 0.9 (W ~ 75:
     * 2.8%) the 4-sigma bound takes over (11%). Either way a wrong factor 2 in tau (41%
     * in sigma) fails. */
    const double sig = sqrt(2.0 * tau / (double)N);
    const double ee = r.error_gamma * sqrt((r.window + 0.5) / (double)N); /* eq. (43) */
    const double rel = r.error_gamma / sig - 1.0;
    const double bound = fmax(0.10, 4.0 * ee / r.error_gamma);
    CHECK(fabs(rel) < bound,
          "AR(1) a=%.1f: Gamma error %.5e vs exact %.5e: %+.2f%% (bound %.1f%%; z = %+.2f with "
          "the error of the error %.1e)",
          a, r.error_gamma, sig, 100.0 * rel, 100.0 * bound, (r.error_gamma - sig) / ee, ee);
    /* the binned error scatters by 1/sqrt(2 (K - 1)) = 12.7 % (K = 32): 4 of those */
    const double zb = (r.error_bin / sig - 1.0) * sqrt(2.0 * (r.bins - 1));
    CHECK(fabs(zb) < 4.0, "AR(1) a=%.1f: binned error %.5e vs exact %.5e: z = %+.2f", a,
          r.error_bin, sig, zb);
    CHECK(fabs(r.value) < 4.0 * r.error, "AR(1) a=%.1f: mean %+.5f, z = %+.2f", a, r.value,
          r.value / r.error);
    CHECK((r.flags & ~LF_GAMMA_BINNED) == 0 && r.n == N && r.replicas == 1,
          "AR(1) a=%.1f: flags %d (only BINNED allowed), n %zu, R %d", a, r.flags, r.n, r.replicas);
  }
  free(x);
  free(eta);
}

/* (2) coverage: |mean|/error < 1 in 68.27% and < 2 in 95.45% of M independent series.
 * M = 1000 (not 200): the binomial error of the 1-sigma fraction is then 0.015, so an
 * error off by 15% (coverage 0.60 or 0.75) fails, where M = 200 would let 35% pass. */
static void test_coverage(void) {
  const size_t N = 5000; /* > LF_GAMMA_FFT_MIN: FFT path */
  const int M = 1000;
  const double a = 0.8;
  double *x = malloc(N * sizeof *x), *eta = malloc(N * sizeof *eta);
  int in1 = 0, in2 = 0, bad = 0;
  double taus = 0.0;
  for (int m = 0; m < M; m++) {
    ar1(1000u + (uint32_t)m, a, N, x, eta);
    lf_gamma_result r;
    if (lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, NULL, 0) != LF_OK ||
        (r.flags & ~(LF_GAMMA_BINNED | LF_GAMMA_SLOW))) {
      bad++;
      continue;
    }
    in1 += fabs(r.value) < r.error;
    in2 += fabs(r.value) < 2.0 * r.error;
    taus += r.tau_int;
  }
  CHECK(bad == 0, "coverage: %d of %d series failed or were flagged", bad, M);
  const double p1 = 0.682689492137, p2 = 0.954499736104;
  const double f1 = (double)in1 / M, f2 = (double)in2 / M;
  const double z1 = (f1 - p1) / sqrt(p1 * (1 - p1) / M), z2 = (f2 - p2) / sqrt(p2 * (1 - p2) / M);
  CHECK(fabs(z1) < 4,
        "coverage (N=%zu, a=%.1f, M=%d, mean tau_int %.3f vs %.3f): "
        "P(|mean|<err) = %.4f vs %.4f, z = %+.2f",
        N, a, M, taus / M, tau_exact(a), f1, p1, z1);
  CHECK(fabs(z2) < 4, "coverage: P(|mean|<2 err) = %.4f vs %.4f, z = %+.2f", f2, p2, z2);
  free(x);
  free(eta);
}

static double ratio_fn(const double *abar, void *ctx) {
  (void)ctx;
  return abar[0] / abar[1];
}

/* (3) ratio of two correlated means: A = 1 + 0.3 u, B = 2 + 0.2 (0.6 u + 0.8 v) with u, v
 * independent AR(1), a = 0.7. F = 1/2; a_f = 0.12 u - 0.04 v, so exactly
 * C_F = 0.016 (1+a)/(1-a). Compared with the spread over K independent repetitions. */
static void test_derived(void) {
  const size_t N = 2000; /* direct path */
  const int K = 500;
  const double a = 0.7;
  double *u = malloc(N * sizeof *u), *v = malloc(N * sizeof *v), *eta = malloc(N * sizeof *eta);
  double *A = malloc(N * sizeof *A), *B = malloc(N * sizeof *B);
  double sf = 0, sff = 0, serr = 0;
  int bad = 0;
  for (int k = 0; k < K; k++) {
    ar1(5000u + 2u * (uint32_t)k, a, N, u, eta);
    ar1(5001u + 2u * (uint32_t)k, a, N, v, eta);
    for (size_t i = 0; i < N; i++) {
      A[i] = 1.0 + 0.3 * u[i];
      B[i] = 2.0 + 0.2 * (0.6 * u[i] + 0.8 * v[i]);
    }
    const double *p[2] = {A, B};
    lf_gamma_result r;
    if (lf_gamma_derived(1, &N, 2, p, ratio_fn, NULL, LF_GAMMA_S, &r, NULL, 0) != LF_OK) {
      bad++;
      continue;
    }
    sf += r.value;
    sff += r.value * r.value;
    serr += r.error;
  }
  CHECK(bad == 0, "derived: %d of %d failed", bad, K);
  const double mf = sf / K, sd = sqrt((sff - K * mf * mf) / (K - 1)), me = serr / K;
  const double exact = sqrt(0.016 * (1 + a) / (1 - a) / (double)N);
  const double sd_err = sd / sqrt(2.0 * (K - 1)); /* standard error of a sample sd */
  CHECK(fabs(sd - me) < 4 * sd_err,
        "derived ratio: spread over %d repetitions %.5e vs mean Gamma error %.5e: z = %+.2f", K, sd,
        me, (sd - me) / sd_err);
  CHECK(fabs(me / exact - 1) < 0.05,
        "derived ratio: mean Gamma error %.5e vs exact %.5e (%+.2f%%; bound 5%%: one error "
        "scatters by ~sqrt(W/N) = %.0f%%, the mean of %d by %.2f%%)",
        me, exact, 100 * (me / exact - 1), 100 * sqrt(20.0 / (double)N), K,
        100 * sqrt(20.0 / (double)N / K));
  const double zf = (mf - 0.5) / (sd / sqrt(K));
  CHECK(fabs(zf) < 4, "derived ratio: mean %.6f vs 0.5, z = %+.2f", mf, zf);
  /* a non-finite f is reported */
  for (size_t i = 0; i < N; i++) B[i] = 0.0;
  const double *p[2] = {A, B};
  lf_gamma_result r;
  const lf_status rc = lf_gamma_derived(1, &N, 2, p, ratio_fn, NULL, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_NUMERIC, "derived: f = A/0 gives LF_ERR_NUMERIC (rc %d: %s)", rc,
        lf_last_error());
  free(u);
  free(v);
  free(eta);
  free(A);
  free(B);
}

/* (4) reweighting N(0,1) samples with w = exp(c x) gives N(c,1): <x>_p = c. With
 * a_f = (x - c) w / <w>, Var(a_f) = e^{c^2} (1 + c^2) exactly. logw is shifted by 700 to
 * check that w is formed relative to max logw. */
static void test_reweighted(void) {
  const size_t N = 100000;
  const double c = 0.5;
  double *x = malloc(N * sizeof *x), *lw = malloc(N * sizeof *lw);
  lf_rng_normal(*test_key(), 9000u, 0, N, x);
  for (size_t i = 0; i < N; i++) lw[i] = 700.0 + c * x[i];
  lf_gamma_result r;
  lf_status rc = lf_gamma_reweighted(1, &N, x, lw, LF_GAMMA_S, &r);
  CHECK(rc == LF_OK, "reweighted: rc %d %s", rc, rc ? lf_last_error() : "");
  const double z = (r.value - c) / r.error;
  CHECK(fabs(z) < 4, "reweighted: <x> = %.5f +- %.5f vs exact %.2f, z = %+.2f (tau_int %.3f)",
        r.value, r.error, c, z, r.tau_int);
  const double exact = sqrt(exp(c * c) * (1 + c * c) / (double)N);
  CHECK(fabs(r.error_gamma / exact - 1) < 0.05,
        "reweighted: Gamma error %.5e vs exact %.5e (%+.2f%%, bound 5%%: ~4x its scatter here)",
        r.error_gamma, exact, 100 * (r.error_gamma / exact - 1));
  const double zb = (r.error_bin / exact - 1) * sqrt(2.0 * (r.bins - 1));
  CHECK(r.error == fmax(r.error_gamma, r.error_bin) && fabs(zb) < 4,
        "reweighted: binned error %.5e vs exact, z = %+.2f; reported %.5e", r.error_bin, zb,
        r.error);
  /* n_eff = Var_p(x) / error^2 with Var_p(x) = 1: the exact error gives N e^{-c^2}/(1+c^2)
   * (what ESS N predicts, N e^{-c^2}, for a weight-independent x, times 1/(1+c^2)) */
  const double neff = (double)N * exp(-c * c) / (1 + c * c);
  CHECK(fabs(r.variance - 1) < 0.05 && fabs(r.eff_samples / neff - 1) < 0.4,
        "reweighted: variance %.4f (exact 1), eff_samples %.0f vs %.0f", r.variance, r.eff_samples,
        neff);
  /* replicas: the same data as 4 chains */
  const size_t len4[4] = {N / 4, N / 4, N / 4, N / 4};
  lf_gamma_result r4;
  rc = lf_gamma_reweighted(4, len4, x, lw, LF_GAMMA_S, &r4);
  CHECK(rc == LF_OK && fabs(r4.value - r.value) < 0.5 * r.error &&
            fabs(r4.error / r.error - 1) < 0.02,
        "reweighted, 4 replicas: %.5f +- %.5f vs %.5f +- %.5f", r4.value, r4.error, r.value,
        r.error);
  /* a constant observable: <x w>/<w> is the constant, error 0 */
  for (size_t i = 0; i < N; i++) x[i] = 2.5;
  rc = lf_gamma_reweighted(1, &N, x, lw, LF_GAMMA_S, &r);
  CHECK(rc == LF_OK && (r.flags & LF_GAMMA_CONSTANT) && isnan(r.error) && isnan(r.tau_int) &&
            fabs(r.value - 2.5) < 1e-13,
        "reweighted constant: value %.17g, error %g, flags %d", r.value, r.error, r.flags);
  lw[17] = INFINITY;
  rc = lf_gamma_reweighted(1, &N, x, lw, LF_GAMMA_S, &r);
  CHECK(rc == LF_ERR_NUMERIC, "reweighted: logw[17] = inf gives LF_ERR_NUMERIC: %s",
        lf_last_error());
  free(x);
  free(lw);
}

static double square_fn(const double *abar, void *ctx) {
  (void)ctx;
  return abar[0] * abar[0];
}

/* (5) one series cut into replicas: nearly the same error and tau; eq. (40) for F. */
static void test_replicas(void) {
  const size_t N = 100000;
  const double a = 0.9;
  double *x = malloc(N * sizeof *x), *eta = malloc(N * sizeof *eta);
  ar1(300u, a, N, x, eta);
  lf_gamma_result r1, r4, ru;
  lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r1, NULL, 0);
  const size_t len4[4] = {N / 4, N / 4, N / 4, N / 4};
  const size_t lenu[4] = {30000, 20000, 40000, 10000};
  lf_status rc = lf_gamma_mean(4, len4, x, LF_GAMMA_S, &r4, NULL, 0);
  CHECK(rc == LF_OK && r4.replicas == 4 && r4.n == N, "replicas: rc %d R %d n %zu", rc, r4.replicas,
        r4.n);
  /* cutting loses 3 W of ~N pairs and may move W by a step: differences of a few 1e-3 */
  CHECK(fabs(r4.error / r1.error - 1) < 0.02 && fabs(r4.tau_int / r1.tau_int - 1) < 0.02 &&
            fabs(r4.value - r1.value) < 1e-12,
        "replicas: R=4 error %.5e tau %.3f (W %d) vs R=1 %.5e tau %.3f (W %d)", r4.error,
        r4.tau_int, r4.window, r1.error, r1.tau_int, r1.window);
  rc = lf_gamma_mean(4, lenu, x, LF_GAMMA_S, &ru, NULL, 0);
  CHECK(rc == LF_OK && fabs(ru.error / r1.error - 1) < 0.02 &&
            fabs(ru.tau_int / r1.tau_int - 1) < 0.02,
        "replicas: lengths 30k,20k,40k,10k error %.5e tau %.3f (W %d)", ru.error, ru.tau_int,
        ru.window);
  /* eq. (40) for f = abar^2 by hand */
  const double *p[1] = {x};
  lf_gamma_result rf;
  rc = lf_gamma_derived(4, lenu, 1, p, square_fn, NULL, LF_GAMMA_S, &rf, NULL, 0);
  double m = 0, fr = 0;
  size_t off = 0;
  for (int k = 0; k < 4; k++) {
    double mk = 0;
    for (size_t i = 0; i < lenu[k]; i++) mk += x[off + i];
    m += mk;
    mk /= (double)lenu[k];
    fr += (double)lenu[k] * mk * mk;
    off += lenu[k];
  }
  m /= (double)N;
  fr /= (double)N;
  const double want = (4 * m * m - fr) / 3;
  CHECK(rc == LF_OK && fabs(rf.value - want) < 1e-12 * fabs(fr) + 1e-15,
        "replicas: f = abar^2 bias-corrected %.10e vs eq. (40) by hand %.10e (uncorrected %.3e)",
        rf.value, want, m * m);
  free(x);
  free(eta);
}

/* (6) constant data, NaN, bad layouts. */
static void test_edges(void) {
  const size_t N = 1000;
  double *x = malloc(N * sizeof *x);
  for (size_t i = 0; i < N; i++) x[i] = 0.1;
  lf_gamma_result r;
  double rho[4];
  lf_status rc = lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, rho, 4);
  CHECK(rc == LF_OK && isnan(r.error) && r.value == 0.1 && isnan(r.tau_int) &&
            isnan(r.eff_samples) && (r.flags & LF_GAMMA_CONSTANT) && rho[0] == 1.0 && rho[1] == 0.0,
        "constant: rc %d value %.17g error %g tau %g flags %d rho %g %g", rc, r.value, r.error,
        r.tau_int, r.flags, rho[0], rho[1]);
  x[123] = NAN;
  rc = lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_NUMERIC && strstr(lf_last_error(), "123"),
        "NaN gives LF_ERR_NUMERIC naming the index: %s", lf_last_error());
  x[123] = 0.1;
  rc = lf_gamma_mean(0, &N, x, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_INVALID, "R = 0 gives LF_ERR_INVALID: %s", lf_last_error());
  const size_t len3[3] = {500, 1, 499};
  rc = lf_gamma_mean(3, len3, x, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_INVALID, "a replica of length 1 gives LF_ERR_INVALID: %s", lf_last_error());
  rc = lf_gamma_mean(1, NULL, x, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_INVALID, "len = NULL gives LF_ERR_INVALID: %s", lf_last_error());
  rc = lf_gamma_mean(1, &N, x, -1.0, &r, NULL, 0);
  CHECK(rc == LF_ERR_INVALID, "S = -1 gives LF_ERR_INVALID: %s", lf_last_error());
  const double *p[1] = {x};
  rc = lf_gamma_derived(1, &N, 0, p, square_fn, NULL, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_ERR_INVALID, "P = 0 gives LF_ERR_INVALID: %s", lf_last_error());
  /* two values: the shortest legal series */
  const size_t two = 2;
  const double xy[2] = {1.0, 3.0};
  rc = lf_gamma_mean(1, &two, xy, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_OK && r.value == 2.0 && isfinite(r.error) && r.error > 0,
        "N = 2: value %g error %g W %d flags %d", r.value, r.error, r.window, r.flags);
  /* S = 0: W = 0, the naive error sqrt(Gamma(0)(1 + 1/N)/N) */
  for (size_t i = 0; i < N; i++) x[i] = (double)(i % 7);
  rc = lf_gamma_mean(1, &N, x, 0.0, &r, NULL, 0);
  double m = 0, v = 0;
  for (size_t i = 0; i < N; i++) m += x[i];
  m /= (double)N;
  for (size_t i = 0; i < N; i++) v += (x[i] - m) * (x[i] - m);
  v /= (double)N;
  const double naive = sqrt(v * (1 + 1.0 / (double)N) / (double)N);
  CHECK(rc == LF_OK && r.window == 0 && fabs(r.error_gamma / naive - 1) < 1e-12 &&
            r.tau_int_gamma == 0.5,
        "S = 0: W %d, Gamma error %.12e vs naive %.12e, tau %g", r.window, r.error_gamma, naive,
        r.tau_int_gamma);
  /* strongly anticorrelated data: C(W) <= 0 is caught */
  for (size_t i = 0; i < N; i++) x[i] = (i % 2) ? 1.0 : -1.0;
  rc = lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, NULL, 0);
  CHECK(rc == LF_OK && (r.flags & LF_GAMMA_NEGATIVE) && r.window == 0 && r.error > 0,
        "alternating data: flags %d, W %d, error %g", r.flags, r.window, r.error);
  free(x);
}

/* (7) rho: rho[0] = 1, rho[1] ~ a (Bartlett: sd sqrt((1 - a^2)/N)), tau_int =
 * 1/2 + sum_{t<=W} rho[t], zeros beyond the largest lag. */
static void test_rho(void) {
  const size_t N = 100000, NR = 200;
  double *x = malloc(N * sizeof *x), *eta = malloc(N * sizeof *eta);
  double *rho = malloc(NR * sizeof *rho);
  const double as[2] = {0.5, 0.9};
  for (int k = 0; k < 2; k++) {
    const double a = as[k];
    ar1(400u + (uint32_t)k, a, N, x, eta);
    lf_gamma_result r;
    lf_gamma_mean(1, &N, x, LF_GAMMA_S, &r, rho, NR);
    const double sd = sqrt((1 - a * a) / (double)N);
    const double z = (rho[1] - a) / sd;
    CHECK(rho[0] == 1.0 && fabs(z) < 4, "rho a=%.1f: rho[0] = %g, rho[1] = %.5f vs %.1f, z = %+.2f",
          a, rho[0], rho[1], a, z);
    CHECK(r.window < (int)NR, "rho a=%.1f: W = %d < %zu (rho long enough for the sum)", a, r.window,
          NR);
    double tau = 0.5;
    for (int t = 1; t <= r.window && t < (int)NR; t++) tau += rho[t];
    CHECK(fabs(tau - r.tau_int_gamma) < 1e-12 * r.tau_int_gamma,
          "rho a=%.1f: 1/2 + sum_{t<=W} rho[t] = %.15f, tau_int_gamma = %.15f", a, tau,
          r.tau_int_gamma);
    /* Bartlett for AR(1): N var(r_k) = (1+a^2)(1-a^2k)/(1-a^2) - 2k a^2k */
    const double a20 = pow(a, 20);
    const double v10 = (1 + a * a) * (1 - a20) / (1 - a * a) - 20 * a20;
    const double z10 = (rho[10] - pow(a, 10)) / sqrt(v10 / (double)N);
    CHECK(fabs(z10) < 4, "rho a=%.1f: rho[10] = %.5f vs %.5f, z = %+.2f (Bartlett)", a, rho[10],
          pow(a, 10), z10);
  }
  /* a series of 10 allows lags 0..9 */
  const size_t n10 = 10;
  const double y[10] = {1, 3, 2, 5, 4, 4, 6, 2, 1, 0};
  for (size_t t = 0; t < NR; t++) rho[t] = 99;
  lf_gamma_result r;
  lf_gamma_mean(1, &n10, y, LF_GAMMA_S, &r, rho, 20);
  int zeros = 1;
  for (size_t t = 10; t < 20; t++) zeros &= rho[t] == 0.0;
  CHECK(zeros && rho[9] != 0.0 && rho[20] == 99,
        "rho of 10 values: rho[9] = %.3f, rho[10..19] zero, rho[20] untouched", rho[9]);
  free(x);
  free(eta);
  free(rho);
}

static double ident_fn(const double *abar, void *ctx) {
  (void)ctx;
  return abar[0];
}

/* (8) FFT and direct sums agree; both equal eq. (31) written out here. */
static void test_fft(void) {
  const size_t len[3] = {3000, 1700, 2300}, N = 7000, nlag = 1700;
  double *x = malloc(N * sizeof *x), *eta = malloc(N * sizeof *eta);
  double *gd = malloc(nlag * sizeof *gd), *gf = malloc(nlag * sizeof *gf);
  ar1(500u, 0.8, N, x, eta);
  lf_status rc1 = lf_gamma_autocorr(3, len, x, nlag, LF_GAMMA_DIRECT, gd);
  lf_status rc2 = lf_gamma_autocorr(3, len, x, nlag, LF_GAMMA_FFT, gf);
  double worst = 0, worst_ref = 0;
  double m = 0;
  for (size_t i = 0; i < N; i++) m += x[i];
  m /= (double)N;
  for (size_t t = 0; t < nlag; t++) {
    worst = fmax(worst, fabs(gd[t] - gf[t]) / gd[0]);
    if (t % 97 == 0 || t == nlag - 1) { /* eq. (31) by hand on some lags */
      double s = 0;
      size_t off = 0;
      for (int r = 0; r < 3; r++) {
        for (size_t i = 0; i + t < len[r]; i++) s += (x[off + i] - m) * (x[off + i + t] - m);
        off += len[r];
      }
      s /= (double)(N - 3 * t);
      worst_ref = fmax(worst_ref, fabs(s - gd[t]) / gd[0]);
    }
  }
  CHECK(rc1 == LF_OK && rc2 == LF_OK && worst < 1e-10,
        "autocorr: FFT vs direct over %zu lags, 3 unequal replicas: max |diff|/Gamma(0) = %.2e",
        nlag, worst);
  CHECK(worst_ref < 1e-12, "autocorr: direct vs eq. (31) by hand: max |diff|/Gamma(0) = %.2e",
        worst_ref);
  CHECK(lf_gamma_autocorr(3, len, x, nlag + 1, LF_GAMMA_DIRECT, gd) == LF_ERR_INVALID,
        "autocorr: %zu lags > shortest replica is LF_ERR_INVALID", nlag + 1);
  /* the whole pipeline on both paths, with rho */
  const double *p[1] = {x};
  double rd[300], rf[300];
  lf_gamma_result d, f;
  rc1 = lf_gamma_derived_method(3, len, 1, p, ident_fn, NULL, LF_GAMMA_S, LF_GAMMA_DIRECT, &d, rd,
                                300);
  rc2 =
      lf_gamma_derived_method(3, len, 1, p, ident_fn, NULL, LF_GAMMA_S, LF_GAMMA_FFT, &f, rf, 300);
  double wr = 0;
  for (int t = 0; t < 300; t++) wr = fmax(wr, fabs(rd[t] - rf[t]));
  CHECK(rc1 == LF_OK && rc2 == LF_OK && d.window == f.window && d.flags == f.flags &&
            fabs(d.error / f.error - 1) < 1e-10 && fabs(d.tau_int / f.tau_int - 1) < 1e-10 &&
            fabs(d.tau_int_error / f.tau_int_error - 1) < 1e-10 && d.value == f.value && wr < 1e-10,
        "pipeline: direct (W %d, err %.12e, tau %.12f) vs FFT (W %d, err %.12e, tau %.12f), "
        "max rho diff %.1e",
        d.window, d.error, d.tau_int, f.window, f.error, f.tau_int, wr);
  /* AUTO takes the FFT above LF_GAMMA_FFT_MIN and the direct sum below: bitwise equal */
  lf_gamma_result au;
  lf_gamma_derived(3, len, 1, p, ident_fn, NULL, LF_GAMMA_S, &au, NULL, 0);
  CHECK(memcmp(&au.error, &f.error, sizeof au.error) == 0, "AUTO with N = %zu is the FFT path", N);
  const size_t small = 4000;
  lf_gamma_derived(1, &small, 1, p, ident_fn, NULL, LF_GAMMA_S, &au, NULL, 0);
  lf_gamma_derived_method(1, &small, 1, p, ident_fn, NULL, LF_GAMMA_S, LF_GAMMA_DIRECT, &d, NULL,
                          0);
  CHECK(memcmp(&au.error, &d.error, sizeof au.error) == 0, "AUTO with N = %zu is the direct path",
        small);
  free(x);
  free(eta);
  free(gd);
  free(gf);
}

/* chi^2 per degree of freedom of z_m = (value_m - exact) / error_m over M replicas. */
static double chi2dof(int M, const double *v, const double *e, double exact) {
  double c = 0.0;
  for (int m = 0; m < M; m++) c += ((v[m] - exact) / e[m]) * ((v[m] - exact) / e[m]);
  return c / M;
}

/* P(chi^2_M / M > 1.65) for M = 64 is 1.0e-3 (Wilson-Hilferty): the threshold of the
 * coverage checks below; with errors that scatter by 13 % (K = 32 bins) the expected value
 * of chi^2/dof is ~1.05, still a false-failure rate of a few 1e-3 at most. */
#define COV_M 64
#define COV_MAX 1.65

/* (9) a slow mode of small amplitude that the window misses: x = u + c v with u AR(1),
 * a = 0.5 (tau_int 1.5) and v AR(1) with tau_int 500, c^2 = 0.01, so that the slow mode
 * carries 10/13 of the error (sigma^2 N = 2 (1.5 + 0.01 500) = 13) but only 1 % of the
 * variance: rho(t) drops to 0.01 in a few lags and the window stops there (bins of 33
 * tau_int see it). COV_M series
 * of N = 2^19; the chi^2/dof of mean/error about the exact 0 is ~4 with the Gamma error
 * alone (bins = 0, the estimator before issue 12) and ~1.4 with the binning cross-check.
 * The binned error must also be flagged as significantly larger (LF_GAMMA_SLOW). Four
 * independent seed sets of 64 gave 1.30, 1.34, 1.36, 1.50 with the reported errors (the
 * 13 % noise of a 32-bin error gives t-like tails; the bins also lose ~3 % of the slow
 * variance) and 4.3-4.8 with the Gamma error alone: the bound is SLOW_MAX = 2.0. */
#define SLOW_MAX 2.0
static void test_slow_mode(void) {
  const size_t N = (size_t)1 << 19;
  const double af = 0.5, tau_s = 500.0, as = (2 * tau_s - 1) / (2 * tau_s + 1), c = sqrt(0.01);
  double *x = malloc(N * sizeof *x), *v = malloc(N * sizeof *v), *eta = malloc(N * sizeof *eta);
  double val[COV_M], e_new[COV_M], e_old[COV_M], ratio = 0;
  int bad = 0, slow = 0;
  const lf_gamma_opts on = LF_GAMMA_OPTS_DEFAULT, off = {LF_GAMMA_S, 0, LF_GAMMA_AUTO};
  for (int m = 0; m < COV_M; m++) {
    ar1(20000u + 2u * (uint32_t)m, af, N, x, eta);
    ar1(20001u + 2u * (uint32_t)m, as, N, v, eta);
    for (size_t i = 0; i < N; i++) x[i] += c * v[i];
    lf_gamma_result r, r0;
    if (lf_gamma_mean_opts(1, &N, x, &on, &r, NULL, 0) != LF_OK ||
        lf_gamma_mean_opts(1, &N, x, &off, &r0, NULL, 0) != LF_OK) {
      bad++;
      continue;
    }
    val[m] = r.value;
    e_new[m] = r.error;
    e_old[m] = r0.error;
    bad += r0.error != r.error_gamma || r0.bins != 0 || !isnan(r0.error_bin);
    slow += (r.flags & LF_GAMMA_SLOW) != 0;
    ratio += r.error / r.error_gamma / COV_M;
  }
  CHECK(bad == 0, "slow mode: %d of %d series failed (or bins = 0 differs from error_gamma)", bad,
        COV_M);
  const double exact_err = sqrt(2.0 * (1.5 + c * c * tau_s) / (double)N);
  double me = 0;
  for (int m = 0; m < COV_M; m++) me += e_new[m] / COV_M;
  const double cn = chi2dof(COV_M, val, e_new, 0.0), co = chi2dof(COV_M, val, e_old, 0.0);
  CHECK(cn < SLOW_MAX,
        "slow mode: chi^2/dof = %.3f with the reported errors (< %.2f; %d series of %zu; mean "
        "error %.3e vs exact %.3e; error / Gamma error %.2f on average)",
        cn, SLOW_MAX, COV_M, N, me, exact_err, ratio);
  CHECK(co > SLOW_MAX,
        "slow mode: chi^2/dof = %.3f with the Gamma error alone (bins = 0): too small errors are "
        "seen (> %.2f)",
        co, SLOW_MAX);
  CHECK(slow >= COV_M * 3 / 4, "slow mode: LF_GAMMA_SLOW in %d of %d series (>= 3/4)", slow, COV_M);
  free(x);
  free(v);
  free(eta);
}

/* (10) an Independence Metropolis chain (lf_imh_run) with unbounded weights: proposals
 * x ~ N(0,1), target N(0, s^2), log w = x^2 (1 - 1/s^2)/2, so the chain is not
 * geometrically ergodic (Mengersen and Tweedie 1996) and sticks at large |x|. The weights
 * have a Pareto tail with k = 1 - 1/s^2: at s = 1.1 (k = 0.17) the fourth moment is
 * finite and honest errors are possible; at s >= 1.3 (k >= 0.41) the errors' own
 * distribution is heavy-tailed and chi^2/dof over 64 chains scatters from 0.8 to 1.7 (s =
 * 1.3) and 1.4 to 2.5 (s = 1.4) with either estimator, which test_analysis flags with the
 * Pareto k instead. The exact <x^2> = s^2. COV_M chains of N proposals; chi^2/dof of
 * (mean - s^2)/error below COV_MAX with the reported errors. */
static void test_imh_heavy(void) {
  const size_t N = 400000;
  const double sd = 1.1, k = 0.5 * (1.0 - 1.0 / (sd * sd));
  double *z = malloc(N * sizeof *z), *lw = malloc(N * sizeof *lw), *u = malloc(N * sizeof *u);
  double *x2 = malloc(N * sizeof *x2);
  size_t *chain = malloc(N * sizeof *chain);
  double val[COV_M], e_new[COV_M], e_old[COV_M], acc = 0, ratio = 0;
  size_t run = 0, longest = 0;
  int bad = 0, binned = 0;
  const lf_gamma_opts on = LF_GAMMA_OPTS_DEFAULT;
  for (int m = 0; m < COV_M; m++) {
    lf_rng_normal(*test_key(), 30000u + (uint32_t)m, 0, N, z);
    for (size_t i = 0; i < N; i++) {
      lw[i] = k * z[i] * z[i];
      u[i] = lf_rng_uniform(*test_key(), 40000u + (uint32_t)m, i);
    }
    acc += lf_imh_run(N, lw, u, chain, &run) / COV_M;
    if (run > longest) longest = run;
    for (size_t i = 0; i < N; i++) x2[i] = z[chain[i]] * z[chain[i]];
    lf_gamma_result r;
    if (lf_gamma_mean_opts(1, &N, x2, &on, &r, NULL, 0) != LF_OK) {
      bad++;
      continue;
    }
    val[m] = r.value;
    e_new[m] = r.error;
    e_old[m] = r.error_gamma;
    binned += (r.flags & LF_GAMMA_BINNED) != 0;
    ratio += r.error / r.error_gamma / COV_M;
  }
  CHECK(bad == 0, "IMH, unbounded weights: %d of %d chains failed", bad, COV_M);
  const double cn = chi2dof(COV_M, val, e_new, sd * sd), co = chi2dof(COV_M, val, e_old, sd * sd);
  CHECK(cn < COV_MAX,
        "IMH, unbounded weights (s = %.2f, acceptance %.3f, longest rejection run %zu of %zu): "
        "chi^2/dof "
        "of <x^2> vs %.2f = %.3f with the reported errors (< %.2f; Gamma error alone: %.3f; "
        "binned error larger in %d of %d chains, by %.2f on average)",
        sd, acc, longest, N, sd * sd, cn, COV_MAX, co, binned, COV_M, ratio);
  free(z);
  free(lw);
  free(u);
  free(x2);
  free(chain);
}

int main(void) {
  test_ar1();
  test_coverage();
  test_derived();
  test_reweighted();
  test_replicas();
  test_edges();
  test_rho();
  test_fft();
  test_slow_mode();
  test_imh_heavy();
  return lf_test_result();
}
