/* The volume law fit (src/analysis/study_fit.c): exact data give E back to rounding with
 * chi^2 0 and the anchored value E; noisy data (a fixed seed) give E within 4 errors and a
 * chi^2/dof near 1; unusable points are skipped; no usable point is refused. */
#include "latflow/rng.h"
#include "latflow/status.h"
#include "latflow/study.h"
#include "lftest.h"

#include <math.h>
#include <stdio.h>

int main(void) {
  const double V0 = 64.0, E = 0.83;
  double V[6], ess[6], err[6], e0 = 0, de = 0, chi = 0, anchor = 0;
  for (int i = 0; i < 6; i++) { /* L = 8, 12, ..., 28 */
    const double L = 8 + 4 * i;
    V[i] = L * L;
    ess[i] = pow(E, V[i] / V0);
    err[i] = 0.05 * ess[i];
  }
  lf_status rc = lf_study_fit_volume_law(6, V, ess, err, V0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_OK && fabs(e0 - E) < 1e-14 && chi < 1e-24 && fabs(anchor - E) < 1e-14,
        "exact law: E = %.17g (true %.2f), chi2/dof = %.3g, anchor = %.17g", e0, E, chi, anchor);
  /* error: d log E = 1/sqrt(sum (x/0.05)^2) */
  double sxx = 0;
  for (int i = 0; i < 6; i++) sxx += (V[i] / V0) * (V[i] / V0) / (0.05 * 0.05);
  CHECK(fabs(de - E / sqrt(sxx)) < 1e-12 * E, "error %.6g = E / sqrt(sum w x^2) = %.6g", de,
        E / sqrt(sxx));

  /* one point: chi2/dof NaN, E from that point alone (the anchor too) */
  rc = lf_study_fit_volume_law(1, V + 3, ess + 3, err + 3, V0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_OK && fabs(e0 - E) < 1e-14 && isnan(chi) && fabs(anchor - E) < 1e-14,
        "one volume: E = %.17g, chi2/dof NaN (%g)", e0, chi);

  /* unusable points (NaN ESS, ESS 0, ESS > 1, error 0) are skipped */
  double V2[10], e2[10], s2[10];
  for (int i = 0; i < 6; i++) V2[i] = V[i], e2[i] = ess[i], s2[i] = err[i];
  V2[6] = 100, e2[6] = NAN, s2[6] = 0.1;
  V2[7] = 100, e2[7] = 0.0, s2[7] = 0.1;
  V2[8] = 1000, e2[8] = 1.5, s2[8] = 0.1;
  V2[9] = 2000, e2[9] = 0.5, s2[9] = 0.0;
  rc = lf_study_fit_volume_law(10, V2, e2, s2, V0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_OK && fabs(e0 - E) < 1e-14 && fabs(anchor - E) < 1e-14,
        "unusable points skipped: E = %.17g, anchor from the largest usable V = %.17g", e0, anchor);

  /* noisy data: ESS_i (1 + 0.03 z_i), errors 0.03 ESS_i, seed fixed */
  double z[6];
  lf_rng_normal(lf_rng_key_make(16, LF_STREAM_TEST), 0, 0, 6, z);
  for (int i = 0; i < 6; i++) {
    ess[i] = pow(E, V[i] / V0) * (1.0 + 0.03 * z[i]);
    err[i] = 0.03 * pow(E, V[i] / V0);
  }
  rc = lf_study_fit_volume_law(6, V, ess, err, V0, &e0, &de, &chi, &anchor);
  const double pull = fabs(e0 - E) / de;
  CHECK(rc == LF_OK && pull < 4 && chi < 5,
        "noisy law: E = %.5f +- %.5f (pull %.2f), chi2/dof %.2f", e0, de, pull, chi);

  /* no usable point, bad arguments */
  double bad[2] = {NAN, 2.0}, Vb[2] = {64, 128}, eb[2] = {0.1, 0.1};
  rc = lf_study_fit_volume_law(2, Vb, bad, eb, V0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_ERR_INVALID, "no usable point refused: %s", lf_last_error());
  rc = lf_study_fit_volume_law(0, NULL, NULL, NULL, V0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_ERR_INVALID, "no point refused: %s", lf_last_error());
  rc = lf_study_fit_volume_law(6, V, ess, err, 0.0, &e0, &de, &chi, &anchor);
  CHECK(rc == LF_ERR_INVALID, "V0 = 0 refused: %s", lf_last_error());
  return lf_test_result();
}
