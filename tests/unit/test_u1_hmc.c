/* HMC for 2D pure U(1) gauge theory (theory u1, Wilson action) against the exact
 * finite-volume results of the character expansion (tests/unit/u1_exact.h,
 * docs/PHYSICS.md): <cos theta_P> and the topological susceptibility chi_t = <Q^2>/V of
 * the geometric charge, at beta = 1 (4x4) and beta = 2 (8x8), leapfrog and Omelyan, with
 * Gamma-method errors (lf_gamma_mean); |z| < 4 and the error below 2 % of the value.
 * Also <exp(-dH)> = 1 within errors and the acceptance above 0.8. Seeds are fixed, so
 * the numbers are reproducible; a wrong action, force or observable moves them by many
 * standard errors. */
#include "latflow/gamma.h"
#include "latflow/hmc.h"
#include "latflow/theory.h"
#include "lftest.h"
#include "u1_exact.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void one(int L, double beta, lf_integrator integ, long ntraj) {
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_U1;
  tc.shape[0] = tc.shape[1] = L;
  tc.beta = beta;
  lf_theory th;
  if (lf_theory_init(&th, &tc) != LF_OK) {
    CHECK(0, "u1 theory: %s", lf_last_error());
    return;
  }
  lf_hmc_cfg hc;
  memset(&hc, 0, sizeof hc);
  hc.trajectories = ntraj;
  hc.tau = 1.0;
  hc.steps = integ == LF_INT_OMELYAN ? 5 : 10;
  hc.integrator = integ;
  lf_hmc h;
  if (lf_hmc_init(&h, &th, &hc, 2024) != LF_OK) {
    CHECK(0, "lf_hmc_init: %s", lf_last_error());
    lf_theory_free(&th);
    return;
  }
  const int ip = lf_theory_obs_index(&th, "plaq"), iq = lf_theory_obs_index(&th, "chi_t");
  CHECK(ip >= 0 && iq >= 0, "u1 has observables plaq and chi_t");
  double *theta = calloc((size_t)h.n, sizeof *theta);
  double *plaq = malloc((size_t)ntraj * sizeof *plaq), *chit = malloc((size_t)ntraj * sizeof *chit);
  double *edh = malloc((size_t)ntraj * sizeof *edh), o[LF_MAX_OBS];
  long acc = 0;
  const long therm = 500;
  for (long t = 0; t < therm + ntraj; t++) {
    lf_hmc_result r;
    lf_hmc_trajectory(&h, 0, (uint32_t)t, theta, &r);
    if (t < therm) continue;
    th.observables(&th, theta, o);
    plaq[t - therm] = o[ip];
    chit[t - therm] = o[iq];
    edh[t - therm] = exp(-r.dH);
    acc += r.accepted;
  }
  const size_t n = (size_t)ntraj;
  lf_gamma_result gp, gq, ge;
  const int ok = lf_gamma_mean(1, &n, plaq, 1.5, &gp, NULL, 0) == LF_OK &&
                 lf_gamma_mean(1, &n, chit, 1.5, &gq, NULL, 0) == LF_OK &&
                 lf_gamma_mean(1, &n, edh, 1.5, &ge, NULL, 0) == LF_OK;
  CHECK(ok, "Gamma analysis");
  const u1x_result ex = u1x_eval(beta, L * L);
  const char *in = integ == LF_INT_OMELYAN ? "omelyan" : "leapfrog";
  const double accr = (double)acc / (double)ntraj;
  fprintf(stderr, "     %s %dx%d beta=%g: %ld trajectories, acceptance %.3f\n", in, L, L, beta,
          ntraj, accr);
  if (ok) {
    const double zp = (gp.value - ex.plaq) / gp.error, zq = (gq.value - ex.chi_t) / gq.error;
    const double ze = (ge.value - 1.0) / ge.error;
    CHECK(fabs(zp) < 4.0 && gp.error < 0.02 * ex.plaq,
          "%s %dx%d beta=%g <cos theta_P> = %.5f +- %.5f (tau_int %.2f) vs exact %.5f: z = %+.2f",
          in, L, L, beta, gp.value, gp.error, gp.tau_int, ex.plaq, zp);
    CHECK(fabs(zq) < 4.0 && gq.error < 0.02 * ex.chi_t,
          "%s %dx%d beta=%g chi_t = %.5f +- %.5f (tau_int %.2f) vs exact %.5f: z = %+.2f", in, L, L,
          beta, gq.value, gq.error, gq.tau_int, ex.chi_t, zq);
    CHECK(fabs(ze) < 4.0, "%s <exp(-dH)> = %.5f +- %.5f: z = %+.2f", in, ge.value, ge.error, ze);
  }
  CHECK(accr > 0.8, "%s acceptance %.3f > 0.8", in, accr);
  free(theta);
  free(plaq);
  free(chit);
  free(edh);
  lf_hmc_free(&h);
  lf_theory_free(&th);
}

int main(void) {
  one(4, 1.0, LF_INT_LEAPFROG, 160000); /* small V: plaquettes almost independent, tau_int < 1 */
  one(8, 2.0, LF_INT_LEAPFROG, 40000);
  one(8, 2.0, LF_INT_OMELYAN, 40000);
  return lf_test_result();
}
