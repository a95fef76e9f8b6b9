/* Coverage (b): HMC on the 2x2 double well (phi^4, m2 = -4, lambda = 8) against the exact
 * transfer-matrix values (lf_phi4_2x2_exact_eval, checked in test_exact): 400 chains of
 * 2 10^4 trajectories with the default HMC; phi2, chi2 and energy as a chi^2 per degree of
 * freedom (tests/coverage/coverage.h). The chains tunnel between the two wells, so the
 * errors must include the slow sign flips of the magnetisation that chi2 feels. */
#define COVERAGE_HMC
#include "coverage.h"
#include "latflow/exact.h"

int main(int argc, char **argv) {
  const int R = argc > 1 ? atoi(argv[1]) : 400;
  const long N = argc > 2 ? atol(argv[2]) : 20000;
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_PHI4;
  tc.shape[0] = tc.shape[1] = 2;
  tc.m2 = -4.0;
  tc.lambda = 8.0;
  lf_phi4_2x2_exact ex;
  CHECK(lf_phi4_2x2_exact_eval(tc.m2, tc.lambda, 400, &ex) == LF_OK, "exact 2x2 values: %s",
        lf_last_error());
  const char *names[3] = {"phi2", "chi2", "energy"};
  const double exact[3] = {ex.phi2, ex.chi2, ex.energy};
  cov_hmc_case("double well 2x2 m2 = -4, lambda = 8", &tc, R, N, 5000, 3, names, exact);
  return lf_test_result();
}
