/* tests/coverage/coverage.h: coverage checks of error bars by independent replicas.
 *
 * R replicas (runs with different seeds) each report a mean m_r and an error s_r. If the
 * errors are honest, z_r = (m_r - x) / s_r scatter like N(0, 1), where x is the exact
 * value (known: R degrees of freedom) or the inverse-variance pooled mean of the replicas
 * (R - 1 degrees of freedom). cov_check asserts
 *   chi^2/dof = sum_r z_r^2 / dof < T(dof)              (the errors are not too small)
 *   2.25 chi^2/dof > T(dof)                               (power: errors 1.5x too small
 *                                                          would have been caught)
 * with T(dof) = 1.07 q(dof) / dof, q the chi^2 quantile at upper tail 1e-5
 * (Wilson-Hilferty). The factor 1.07 allows for the errors being estimates: a z-score
 * with an error estimated from ~32 bins is Student-t like, E[z^2] ~ 31/29 = 1.07 (this
 * makes the threshold conservative for the first check, and the power check is still
 * safe at R >= 300: with E[z^2] >= 0.9 the 1.5x-too-small errors give 2.25 * 0.9 =
 * 2.0 >> T(300) ~ 1.47). Both checks then fail far less than once in 10^3 runs when the
 * code is right. The fraction of |z| < 1 (68.3 % for honest errors) and the largest
 * |z| are printed for docs/PHYSICS.md. */
#ifndef LATFLOW_TESTS_COVERAGE_H
#define LATFLOW_TESTS_COVERAGE_H

#include "lftest.h"

#include <math.h>
#include <stdio.h>

/* Upper-tail quantile of chi^2 with dof degrees of freedom at the normal quantile zq
 * (Wilson-Hilferty; accurate to < 0.5 % for dof >= 100). */
static inline double cov_chi2_quantile(int dof, double zq) {
  const double a = 2.0 / (9.0 * dof), c = 1.0 - a + zq * sqrt(a);
  return dof * c * c * c;
}

static inline double cov_threshold(int dof) {
  return 1.07 * cov_chi2_quantile(dof, 4.265) / dof; /* 4.265: one-sided 1e-5 */
}

/* Checks R replicas of one observable against exact (NAN: against their pooled mean).
 * Returns chi^2/dof. */
static inline double cov_check(const char *label, int R, const double *m, const double *s,
                               double exact) {
  int bad = 0;
  for (int r = 0; r < R; r++) bad += !(s[r] > 0.0) || !isfinite(m[r]) || !isfinite(s[r]);
  CHECK(bad == 0, "%s: all %d replicas have a finite mean and a positive error (%d do not)", label,
        R, bad);
  if (bad) return NAN;
  double x = exact;
  int dof = R;
  if (isnan(exact)) {
    double sw = 0.0, swm = 0.0;
    for (int r = 0; r < R; r++) {
      sw += 1.0 / (s[r] * s[r]);
      swm += m[r] / (s[r] * s[r]);
    }
    x = swm / sw;
    dof = R - 1;
  }
  double chi2 = 0.0, zmax = 0.0, serr = 0.0;
  int inside = 0;
  for (int r = 0; r < R; r++) {
    const double z = (m[r] - x) / s[r];
    chi2 += z * z;
    inside += fabs(z) < 1.0;
    zmax = fmax(zmax, fabs(z));
    serr += s[r];
  }
  const double c = chi2 / dof, T = cov_threshold(dof);
  CHECK(c < T,
        "%s: %d replicas, %s %.6g: chi^2/dof = %.3f < %.3f; |z| < 1 in %.1f %% (68.3 %% "
        "expected), max |z| %.2f, mean error %.3g",
        label, R, isnan(exact) ? "pooled mean" : "exact", x, c, T, 100.0 * inside / R, zmax,
        serr / R);
  CHECK(2.25 * c > T, "%s: power: errors 1.5x too small would give chi^2/dof = %.3f > %.3f", label,
        2.25 * c, T);
  return c;
}

#ifdef COVERAGE_HMC
#include "latflow/gamma.h"
#include "latflow/hmc.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <stdlib.h>
#include <string.h>

/* R independent HMC chains (seeds seed0 + r, cold start phi = 0, therm trajectories
 * dropped, then N measured) of theory tc with hc; for each of the nobs observables
 * names[k], the Gamma-method mean and error of every chain (as `latflow analyze` computes
 * them: lf_gamma_mean with the default S) go to m[k][r], s[k][r]. Returns the acceptance. */
static inline double cov_hmc_replicas(const lf_theory_cfg *tc, const lf_hmc_cfg *hc, int R, long N,
                                      long therm, uint64_t seed0, int nobs,
                                      const char *const *names, double **m, double **s) {
  lf_theory th;
  if (lf_theory_init(&th, tc) != LF_OK) {
    CHECK(0, "theory: %s", lf_last_error());
    return NAN;
  }
  int idx[LF_MAX_OBS];
  for (int k = 0; k < nobs; k++) {
    idx[k] = lf_theory_obs_index(&th, names[k]);
    CHECK(idx[k] >= 0, "theory has observable %s", names[k]);
    if (idx[k] < 0) return NAN;
  }
  double *phi = malloc((size_t)th.C * th.V * sizeof *phi);
  double *x = malloc((size_t)nobs * (size_t)N * sizeof *x), o[LF_MAX_OBS];
  long acc = 0, tot = 0;
  for (int r = 0; r < R; r++) {
    lf_hmc h;
    if (lf_hmc_init(&h, &th, hc, seed0 + (uint64_t)r) != LF_OK) {
      CHECK(0, "lf_hmc_init: %s", lf_last_error());
      break;
    }
    memset(phi, 0, (size_t)th.C * th.V * sizeof *phi);
    for (long t = 0; t < therm + N; t++) {
      lf_hmc_result res;
      lf_hmc_trajectory(&h, 0, (uint32_t)t, phi, &res);
      if (t < therm) continue;
      acc += res.accepted;
      tot++;
      th.observables(&th, phi, o);
      for (int k = 0; k < nobs; k++) x[(size_t)k * N + (size_t)(t - therm)] = o[idx[k]];
    }
    lf_hmc_free(&h);
    const size_t n = (size_t)N;
    for (int k = 0; k < nobs; k++) {
      lf_gamma_result g;
      if (lf_gamma_mean(1, &n, x + (size_t)k * N, LF_GAMMA_S, &g, NULL, 0) != LF_OK) {
        m[k][r] = s[k][r] = NAN;
        continue;
      }
      m[k][r] = g.value;
      s[k][r] = g.error;
    }
  }
  free(phi);
  free(x);
  lf_theory_free(&th);
  return tot ? (double)acc / (double)tot : NAN;
}
/* The whole HMC coverage case: cov_hmc_replicas with the documented HMC defaults
 * (lf_config_defaults, as a user gets them), a summary line naming what was run, and
 * cov_check of each observable against its exact value. */
static inline void cov_hmc_case(const char *label, const lf_theory_cfg *tc, int R, long N,
                                uint64_t seed0, int nobs, const char *const *names,
                                const double *exact) {
  const double t0 = lf_wtime();
  lf_config dflt;
  lf_config_defaults(&dflt);
  const lf_hmc_cfg hc = dflt.hmc;
  double *m[LF_MAX_OBS], *s[LF_MAX_OBS];
  for (int k = 0; k < nobs; k++) {
    m[k] = malloc((size_t)R * sizeof(double));
    s[k] = malloc((size_t)R * sizeof(double));
  }
  const double acc = cov_hmc_replicas(tc, &hc, R, N, 200, seed0, nobs, names, m, s);
  fprintf(stderr,
          "%s: %d chains x %ld trajectories (tau %g, %d steps, %s), acceptance %.3f, %.1f s\n",
          label, R, N, hc.tau, hc.steps,
          hc.tau_dist == LF_TAU_UNIFORM ? "uniform length" : "fixed length", acc, lf_wtime() - t0);
  for (int k = 0; k < nobs; k++) {
    char what[96];
    snprintf(what, sizeof what, "HMC %s %s", label, names[k]);
    cov_check(what, R, m[k], s[k], exact[k]);
    free(m[k]);
    free(s[k]);
  }
}
#endif

#endif
