/* Coverage (c): HMC on 2D U(1) gauge theory (4x4, beta = 1) against the exact
 * finite-volume <cos theta_P> and chi_t of the character expansion (u1_exact.h): 400
 * chains of 5000 trajectories with the default HMC, as a chi^2 per degree of freedom
 * (tests/coverage/coverage.h). chi_t is built from the integer charge, whose changes are the
 * slowest mode of the chain. */
#define COVERAGE_HMC
#include "coverage.h"
#include "latflow/timer.h"
#include "u1_exact.h"

int main(int argc, char **argv) {
  const int R = argc > 1 ? atoi(argv[1]) : 400;
  const long N = argc > 2 ? atol(argv[2]) : 5000;
  const double t0 = lf_wtime();
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_U1;
  tc.shape[0] = tc.shape[1] = 4;
  tc.beta = 1.0;
  lf_config dflt;
  lf_config_defaults(&dflt);
  lf_hmc_cfg hc = dflt.hmc;
  const u1x_result ex = u1x_eval(tc.beta, 16);
  const char *names[2] = {"plaq", "chi_t"};
  const double exact[2] = {ex.plaq, ex.chi_t};
  double *m[2], *s[2];
  for (int k = 0; k < 2; k++) {
    m[k] = malloc((size_t)R * sizeof(double));
    s[k] = malloc((size_t)R * sizeof(double));
  }
  const double acc = cov_hmc_replicas(&tc, &hc, R, N, 200, 9000, 2, names, m, s);
  fprintf(stderr,
          "U(1) 4x4 beta = 1: %d chains x %ld trajectories (tau %g, %d steps, %s), "
          "acceptance %.3f, %.1f s\n",
          R, N, hc.tau, hc.steps, hc.tau_dist == LF_TAU_UNIFORM ? "uniform length" : "fixed length",
          acc, lf_wtime() - t0);
  for (int k = 0; k < 2; k++) {
    char label[64];
    snprintf(label, sizeof label, "HMC U(1) %s", names[k]);
    cov_check(label, R, m[k], s[k], exact[k]);
    free(m[k]);
    free(s[k]);
  }
  return lf_test_result();
}
