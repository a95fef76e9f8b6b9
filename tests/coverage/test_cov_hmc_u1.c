/* Coverage (c): HMC on 2D U(1) gauge theory (4x4, beta = 1) against the exact
 * finite-volume <cos theta_P> and chi_t of the character expansion (u1_exact.h): 400
 * chains of 5000 trajectories with the default HMC, as a chi^2 per degree of freedom
 * (tests/coverage/coverage.h). chi_t is built from the integer charge, whose changes are the
 * slowest mode of the chain. */
#define COVERAGE_HMC
#include "coverage.h"
#include "u1_exact.h"

int main(int argc, char **argv) {
  const int R = argc > 1 ? atoi(argv[1]) : 400;
  const long N = argc > 2 ? atol(argv[2]) : 5000;
  lf_theory_cfg tc;
  memset(&tc, 0, sizeof tc);
  tc.name = LF_THEORY_U1;
  tc.shape[0] = tc.shape[1] = 4;
  tc.beta = 1.0;
  const u1x_result ex = u1x_eval(tc.beta, 16);
  const char *names[2] = {"plaq", "chi_t"};
  const double exact[2] = {ex.plaq, ex.chi_t};
  cov_hmc_case("U(1) 4x4 beta = 1", &tc, R, N, 9000, 2, names, exact);
  return lf_test_result();
}
