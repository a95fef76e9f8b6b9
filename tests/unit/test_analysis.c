/* ESS and IMH acceptance: exact cases and a statistical check against the known
 * acceptance of a log-normal weight distribution. */
#include "latflow/analysis.h"
#include "latflow/rng.h"
#include "lftest.h"

#include <stdlib.h>

int main(void) {
  /* equal weights: ESS = 1 and every proposal is accepted */
  double lw[100], u[100];
  lf_rng_key k = lf_rng_key_make(7, LF_STREAM_TEST);
  for (int i = 0; i < 100; i++) {
    lw[i] = 3.5;
    u[i] = lf_rng_uniform(k, 0, (uint64_t)i);
  }
  CHECK(fabs(lf_ess(100, lw) - 1.0) < 1e-14, "equal weights: ESS %.15f", lf_ess(100, lw));
  CHECK(lf_imh_run(100, lw, u, NULL, NULL) == 1.0, "exact flow accepts everything");

  /* one dominant weight: ESS = 1/n */
  for (int i = 0; i < 100; i++) lw[i] = (i == 17) ? 0.0 : -1e4;
  CHECK(fabs(lf_ess(100, lw) - 0.01) < 1e-12, "one weight: ESS %.6f (expect 0.01)",
        lf_ess(100, lw));
  /* two weights 1 and 3: ESS = 16 / (2 * 10) = 0.8 */
  double two[2] = {0.0, log(3.0)};
  CHECK(fabs(lf_ess(2, two) - 0.8) < 1e-14, "ESS of weights {1,3} = %.15f (expect 0.8)",
        lf_ess(2, two));
  /* shift invariance and non-finite entries */
  double sh[3] = {1000.0, 1000.0 + log(3.0), NAN};
  CHECK(fabs(lf_ess(3, sh) - 16.0 / 30.0) < 1e-12, "ESS with NaN counted as w=0: %.12f",
        lf_ess(3, sh));
  /* the streaming accumulator gives the same figure, NaN included */
  lf_ess_acc sacc = LF_ESS_ACC_INIT;
  for (int i = 0; i < 3; i++) lf_ess_acc_add(&sacc, sh[i]);
  CHECK(fabs(lf_ess_acc_value(&sacc) - 16.0 / 30.0) < 1e-12 && sacc.n == 3,
        "streaming ESS %.12f over %llu weights (expect 16/30 over 3)", lf_ess_acc_value(&sacc),
        (unsigned long long)sacc.n);
  lf_ess_acc none = LF_ESS_ACC_INIT;
  lf_ess_acc_add(&none, NAN);
  CHECK(lf_ess_acc_value(&none) == 0.0, "streaming ESS of only NaN is 0");

  /* chain bookkeeping on a hand-made case: u = 0.5 everywhere */
  double lw5[5] = {0.0, -1.0, 0.5, 0.4, -10.0}, u5[5] = {0.5, 0.5, 0.5, 0.5, 0.5};
  size_t chain[5], run;
  /* 1: log.5=-.69 < -1? no. 2: < .5? yes. 3: < -.1? yes. 4: < -10.4? no */
  double acc = lf_imh_run(5, lw5, u5, chain, &run);
  CHECK(acc == 0.5 && chain[1] == 0 && chain[2] == 2 && chain[3] == 3 && chain[4] == 3 && run == 1,
        "hand-made chain: acc %.2f chain %zu %zu %zu %zu run %zu", acc, chain[1], chain[2],
        chain[3], chain[4], run);

  /* log w ~ N(0, s^2): ESS -> exp(-s^2); IMH acceptance -> 2 Phi(-s/sqrt2) (the
   * acceptance of independent log-normal weights: E min(1, w'/w) = 2 Phi(-s/sqrt 2)). */
  const size_t n = 200000;
  const double s = 0.8;
  double *big = malloc(n * sizeof *big), *uu = malloc(n * sizeof *uu);
  for (size_t i = 0; i < n; i++) {
    lf_rng_normal(k, 1, i, 1, big + i);
    big[i] *= s;
    uu[i] = lf_rng_uniform(k, 2, i);
  }
  const double ess = lf_ess(n, big), ess_exact = exp(-s * s);
  CHECK(fabs(ess - ess_exact) < 0.02, "log-normal ESS %.4f vs exp(-s^2) = %.4f", ess, ess_exact);
  const double a = lf_imh_run(n, big, uu, NULL, NULL);
  const double a_exact = erfc(s / 2.0); /* 2 Phi(-s/sqrt2) = erfc(s/2) */
  /* IMH decisions are correlated; allow 5 sigma with a generous tau_int of 3 */
  const double sig = sqrt(a_exact * (1 - a_exact) * 2.0 * 3.0 / (double)n);
  CHECK(fabs(a - a_exact) < 5 * sig, "log-normal IMH acceptance %.4f vs %.4f (z=%.2f)", a, a_exact,
        (a - a_exact) / sig);
  /* the jackknife of the ESS against a brute-force leave-one-block-out (lf_ess of the
   * other blocks copied out), uneven blocks (1003 over 40) and a NaN weight; then its
   * scale: for log w ~ N(0, s^2) the ESS error of n independent samples is close to the
   * delta-method value (checked within a factor 2, the jackknife of 40 blocks scatters) */
  const size_t nj = 1003, K = 40;
  double *lj = malloc(nj * sizeof *lj), *rest = malloc(nj * sizeof *rest);
  for (size_t i = 0; i < nj; i++) {
    lf_rng_normal(k, 3, i, 1, lj + i);
    lj[i] *= 1.3;
  }
  lj[500] = NAN;
  double jm = 0.0, je[40];
  for (size_t b = 0; b < K; b++) {
    size_t m = 0;
    for (size_t i = 0; i < nj; i++)
      if (i < b * nj / K || i >= (b + 1) * nj / K) rest[m++] = lj[i];
    je[b] = lf_ess(m, rest);
    jm += je[b] / (double)K;
  }
  double jv = 0.0;
  for (size_t b = 0; b < K; b++) jv += (je[b] - jm) * (je[b] - jm);
  const double brute = sqrt(jv * (double)(K - 1) / (double)K), jk = lf_ess_jackknife(nj, lj, K);
  CHECK(fabs(jk - brute) < 1e-12 * brute && brute > 0.0,
        "ESS jackknife %.15g vs brute-force leave-one-block-out %.15g", jk, brute);
  CHECK(isnan(lf_ess_jackknife(nj, lj, 1)) && isnan(lf_ess_jackknife(10, lj, 11)),
        "jackknife refuses 1 block and more blocks than samples (NaN)");
  /* delta method: ESS = m1^2/m2 with m_k = E w^k; var from the moments of (w, w^2) */
  const double e1 = lf_ess(n, big);
  double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double w = exp(big[i]);
    m1 += w / (double)n;
    m2 += w * w / (double)n;
    m3 += w * w * w / (double)n;
    m4 += w * w * w * w / (double)n;
  }
  const double g1 = 2.0 * m1 / m2, g2 = -m1 * m1 / (m2 * m2);
  const double vd =
      (g1 * g1 * (m2 - m1 * m1) + 2.0 * g1 * g2 * (m3 - m1 * m2) + g2 * g2 * (m4 - m2 * m2)) /
      (double)n;
  const double jb = lf_ess_jackknife(n, big, 50);
  CHECK(jb > 0.5 * sqrt(vd) && jb < 2.0 * sqrt(vd),
        "log-normal ESS %.4f: jackknife error %.2e vs delta method %.2e", e1, jb, sqrt(vd));
  free(lj);
  free(rest);
  free(big);
  free(uu);
  return lf_test_result();
}
