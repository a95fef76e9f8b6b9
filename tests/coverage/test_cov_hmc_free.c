/* Coverage (a): HMC on the free field against the exact momentum sums.
 * phi^4 8x8 at m2 = 1, lambda = 0 with the default HMC (tau 1, 10 leapfrog steps, random
 * trajectory length hmc.tau_dist = uniform): 400 independent chains of 10^4 trajectories;
 * the Gamma-method errors of phi2, chi2 and energy must cover the exact values as a
 * chi^2 per degree of freedom (tests/coverage/coverage.h). With a fixed trajectory length
 * some modes rotate by nearly pi per trajectory and the errors are 2-2.6x too small
 * (docs/PHYSICS.md), which this test is built to catch. */
#define COVERAGE_HMC
#include "coverage.h"
#include "latflow/exact.h"

int main(int argc, char **argv) {
  const int R = argc > 1 ? atoi(argv[1]) : 400;
  const long N = argc > 2 ? atol(argv[2]) : 10000;
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_PHI4;
  tc.shape[0] = tc.shape[1] = 8;
  tc.m2 = 1.0;
  tc.lambda = 0.0;
  lf_free_exact ex;
  CHECK(lf_free_exact_eval(8, 8, 1.0, &ex) == LF_OK, "exact free field");
  const char *names[3] = {"phi2", "chi2", "energy"};
  const double exact[3] = {ex.phi2, ex.chi2, ex.energy};
  cov_hmc_case("free field 8x8 m2 = 1", &tc, R, N, 1000, 3, names, exact);
  return lf_test_result();
}
