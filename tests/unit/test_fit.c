/* test_fit: the pole-mass fit (latflow/fit.h) and its error from lf_analyze
 * (latflow/analyze.h), where the answer is known:
 *   - the free field's exact correlator (latflow/exact.h) is one cosh: the fit returns
 *     m_pole to 1e-10 with chi^2 ~ 0 and the range starts at t = 1; T = 4 gives the
 *     two-point fit; a rising or non-finite G(t) gives no fit and says why;
 *   - ensembles in memory whose correlator rows are A cosh(m (t - T/2)) plus Gaussian noise
 *     that is correlated across t and autocorrelated along the chain (AR(1)): the fitted
 *     mass agrees with m (z-score printed), and with an excited state added the range
 *     starts late enough that the mass is still right; a rising G(t) gives NaN and a
 *     warning; reweighting with equal weights gives the plain result;
 *   - R replicas with other seeds scatter as the reported errors say: sum z^2 is within
 *     the two-sided 1e-3 band of chi^2 with R degrees of freedom, and the same data with the
 *     errors halved would fail that check (so the test can fail). */
#include "latflow/analyze.h"
#include "latflow/ensemble.h"
#include "latflow/exact.h"
#include "latflow/fit.h"

#include "lftest.h"

#include <string.h>

#define T 16
#define MASS 0.4
#define AMP 0.05

/* The exact free-field G(t) is A cosh(m_pole (t - L0/2)): the fit is exact. */
static void test_exact(void) {
  lf_free_exact ex;
  CHECK(lf_free_exact_eval(T, 8, 0.3, &ex) == LF_OK, "free field 16x8, m2 = 0.3 evaluated");
  double err[T];
  for (int t = 0; t < T; t++) err[t] = 1e-3 * ex.G[t];
  lf_pole_fit pf;
  const int q = lf_pole_fit_choose(T, ex.G, err, &pf);
  CHECK(q == LF_POLE_GOOD && pf.tmin == 1 && pf.tmax == T / 2 &&
            fabs(pf.fit.m - ex.m_pole) < 1e-10 * ex.m_pole && pf.fit.chi2 < 1e-12,
        "exact free correlator: quality %d, t = %d..%d, m = %.15g (exact %.15g), chi2 %.3g", q,
        pf.tmin, pf.tmax, pf.fit.m, ex.m_pole, pf.fit.chi2);
  lf_free_exact ex4;
  CHECK(lf_free_exact_eval(4, 4, 1.0, &ex4) == LF_OK, "free field 4x4, m2 = 1 evaluated");
  const int q4 = lf_pole_fit_choose(4, ex4.G, err, &pf);
  CHECK(q4 == LF_POLE_EXACT && pf.tmin == 1 && pf.tmax == 2 && isnan(pf.chi2_dof) &&
            fabs(pf.fit.m - ex4.m_pole) < 1e-10 * ex4.m_pole,
        "T = 4: two-point fit (quality %d), t = %d..%d, m = %.15g (exact %.15g)", q4, pf.tmin,
        pf.tmax, pf.fit.m, ex4.m_pole);
  double up[T];
  for (int t = 0; t < T; t++) up[t] = 1.0 + 0.01 * (t < T / 2 ? t : T - t);
  const int qn = lf_pole_fit_choose(T, up, err, &pf);
  CHECK(qn == LF_POLE_NONE && pf.fit.why, "G(t) rising towards T/2: no fit (%s)",
        pf.fit.why ? pf.fit.why : "(no reason)");
  double nan_G[T];
  memcpy(nan_G, ex.G, sizeof nan_G);
  nan_G[T / 2] = NAN;
  const int qnan = lf_pole_fit_choose(T, nan_G, err, &pf);
  CHECK(qnan == LF_POLE_NONE && pf.fit.why, "G(T/2) NaN: no fit (%s)",
        pf.fit.why ? pf.fit.why : "(no reason)");
}

/* An HMC-kind ensemble of one chain of n steps whose correlator row i is
 * AMP cosh(MASS (t - T/2)) + B cosh(3 MASS (t - T/2)) + noise: relative noise rel (per
 * step) of G(t), half of it common to all t, AR(1) in the chain with coefficient 0.5. */
static void ens_corr(lf_ensemble *e, size_t n, double B, double rel, uint32_t seed) {
  memset(e, 0, sizeof *e);
  e->info.kind = LF_ENS_HMC;
  snprintf(e->info.theory, sizeof e->info.theory, "phi4");
  e->info.C = 1;
  e->info.L0 = e->info.L1 = T;
  e->info.nobs = 1;
  snprintf(e->info.obs_names[0], LF_NAME_MAX, "o0");
  e->info.ncorr = T;
  e->info.gen_seconds = 1.0;
  e->R = 1;
  e->rows = calloc(1, sizeof *e->rows);
  e->steps = calloc(1, sizeof *e->steps);
  e->obs = calloc(1, sizeof *e->obs);
  e->corr = calloc(1, sizeof *e->corr);
  e->chain = calloc(1, sizeof *e->chain);
  e->rows[0] = e->steps[0] = n;
  e->obs[0] = calloc(n, sizeof(double));
  e->corr[0] = calloc(n * T, sizeof(double));
  e->chain[0] = calloc(n, sizeof(lf_ens_step));
  const lf_rng_key k = lf_rng_key_make(seed, LF_STREAM_TEST);
  double xi[T + 1] = {0}, eta[T + 1];
  for (size_t i = 0; i < n; i++) {
    e->chain[0][i] = (lf_ens_step){(int64_t)i, (int64_t)i, NAN, 0.0, 1, 0, 0};
    lf_rng_normal(k, 0, i, T + 1, eta);
    for (int j = 0; j <= T; j++) xi[j] = i ? 0.5 * xi[j] + sqrt(0.75) * eta[j] : eta[j];
    for (int t = 0; t < T; t++) {
      const double a = t - T / 2, g = AMP * cosh(MASS * a) + B * cosh(3 * MASS * a);
      e->corr[0][i * T + t] = g * (1.0 + rel * (xi[t] + xi[T]) / sqrt(2.0));
    }
    e->obs[0][i] = xi[0];
  }
}

/* The fitted mass of one synthetic ensemble: z-score against MASS. */
static int fit_one(size_t n, double B, uint32_t seed, lf_analysis *a) {
  lf_ensemble e;
  ens_corr(&e, n, B, 0.2, seed);
  const lf_status rc = lf_analyze(&e, 0, a);
  lf_ens_free(&e);
  return rc == LF_OK;
}

static void test_synthetic(void) {
  lf_analysis a;
  if (fit_one(4000, 0.0, 101, &a)) {
    const double z = (a.pole_mass - MASS) / a.pole_mass_err;
    CHECK(a.pole_tmin >= 1 && a.pole_tmax == T / 2 && a.pole_t == a.pole_tmin &&
              isfinite(a.pole_chi2_dof) && a.pole_chi2_dof <= lf_pole_chi2_ok(T / 2 - 1) &&
              fabs(z) < 4.0 && a.pole_mass_err > 0 && a.pole_mass_err < 0.05 &&
              !(a.warn & LF_WARN_POLE),
          "one state: m = %.5f +- %.5f (exact %.2f, z = %+.2f), t = %d..%d, chi2/dof %.3g",
          a.pole_mass, a.pole_mass_err, MASS, z, a.pole_tmin, a.pole_tmax, a.pole_chi2_dof);
    lf_analysis_free(&a);
  } else {
    CHECK(0, "one state: analysed (%s)", lf_last_error());
  }
  /* an excited state of mass 3m that is 27 % of G(1), 2.4 % of G(4), 0.4 % of G(6): the range
   * starts later */
  if (fit_one(4000, 1e-3 * AMP, 102, &a)) {
    const double z = (a.pole_mass - MASS) / a.pole_mass_err;
    lf_cosh_fit all;
    lf_cosh_fit_eval(T, 1, T / 2, a.G, a.G_err, &all);
    CHECK(a.pole_tmin >= 3 && fabs(z) < 5.0 && fabs(all.m - MASS) > 4.0 * fabs(a.pole_mass - MASS),
          "excited state: m = %.5f +- %.5f (z = %+.2f), t = %d..%d, chi2/dof %.3g; the fit from "
          "t = 1 would give %.5f (chi2/dof %.3g)",
          a.pole_mass, a.pole_mass_err, z, a.pole_tmin, a.pole_tmax, a.pole_chi2_dof, all.m,
          all.chi2 / all.dof);
    lf_analysis_free(&a);
  } else {
    CHECK(0, "excited state: analysed (%s)", lf_last_error());
  }
}

/* A correlator that rises towards T/2 has no pole mass: NaN, and a warning that says so;
 * a reweighting ensemble with equal weights gives the mass and error of the plain one. */
static void test_analyze_paths(void) {
  lf_ensemble e;
  lf_analysis a, b;
  ens_corr(&e, 1000, 0.0, 0.2, 301);
  for (size_t i = 0; i < 1000; i++)
    for (int t = 0; t < T; t++) e.corr[0][i * T + t] = 1.0 / e.corr[0][i * T + t];
  if (lf_analyze(&e, 0, &a) == LF_OK) {
    int said = 0;
    for (int i = 0; i < a.warnings.n; i++)
      said |= strstr(a.warnings.text[i], "no pole mass") != NULL;
    CHECK(isnan(a.pole_mass) && isnan(a.pole_mass_err) && a.pole_tmin == 0 && a.pole_t == 0 &&
              (a.warn & LF_WARN_POLE) && said,
          "rising G(t): pole mass %g +- %g, warning: %s", a.pole_mass, a.pole_mass_err,
          a.warnings.n ? a.warnings.text[a.warnings.n - 1] : "(none)");
    lf_analysis_free(&a);
  } else {
    CHECK(0, "rising G(t): analysed (%s)", lf_last_error());
  }
  lf_ens_free(&e);
  ens_corr(&e, 2000, 0.0, 0.2, 302);
  const int ok1 = lf_analyze(&e, 0, &a) == LF_OK;
  e.info.kind = LF_ENS_REWEIGHT;
  for (size_t i = 0; i < 2000; i++) e.chain[0][i].logw = 0.0;
  const int ok2 = lf_analyze(&e, 0, &b) == LF_OK;
  CHECK(ok1 && ok2 && fabs(a.pole_mass - b.pole_mass) < 1e-12 &&
            fabs(a.pole_mass_err - b.pole_mass_err) < 1e-6 * a.pole_mass_err,
        "reweighting with equal weights: %.12f +- %.6g, plain %.12f +- %.6g", b.pole_mass,
        b.pole_mass_err, a.pole_mass, a.pole_mass_err);
  if (ok1) lf_analysis_free(&a);
  if (ok2) lf_analysis_free(&b);
  lf_ens_free(&e);
}

/* The chi^2 quantile of k degrees of freedom at the normal quantile z (Wilson-Hilferty). */
static double chi2_quantile(int k, double z) {
  const double c = 2.0 / (9.0 * k), u = 1.0 - c + z * sqrt(c);
  return k * u * u * u;
}

static void test_replicas(void) {
  enum { NREP = 20 };
  double s = 0.0;
  int ok = 1;
  for (int r = 0; r < NREP && ok; r++) {
    lf_analysis a;
    ok = fit_one(2000, 0.0, 200u + (uint32_t)r, &a) && isfinite(a.pole_mass_err);
    if (ok) {
      const double z = (a.pole_mass - MASS) / a.pole_mass_err;
      fprintf(stderr, "     replica %2d: m = %.5f +- %.5f, z = %+.2f, t = %d..%d\n", r, a.pole_mass,
              a.pole_mass_err, z, a.pole_tmin, a.pole_tmax);
      s += z * z;
      lf_analysis_free(&a);
    }
  }
  /* two-sided band of probability 1 - 1e-3: z = 3.29 */
  const double lo = chi2_quantile(NREP, -3.29), hi = chi2_quantile(NREP, 3.29);
  CHECK(ok && s > lo && s < hi,
        "%d replicas: sum z^2 = %.2f within [%.2f, %.2f] (chi^2 with %d dof, false alarm 1e-3)",
        NREP, s, lo, hi, NREP);
  CHECK(ok && !(4.0 * s > lo && 4.0 * s < hi),
        "the check can fail: with the errors halved sum z^2 = %.2f would be outside [%.2f, %.2f]",
        4.0 * s, lo, hi);
}

int main(void) {
  test_exact();
  test_synthetic();
  test_analyze_paths();
  test_replicas();
  return lf_test_result();
}
