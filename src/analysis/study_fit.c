/* The volume law of a volume-transfer study (contract: latflow/study.h): a flow trained at
 * volume V0 and evaluated at V has ESS(V) = ESS(V0)^(V/V0) when the log-weights of
 * distant regions are independent (the seed paper, section on volume transfer: log ESS is
 * extensive). log ESS_i = (V_i/V0) log E is a line through the origin in V/V0, fitted by
 * weighted least squares with the errors propagated to the logarithm. */
#include "latflow/study.h"

#include <math.h>

/* 1 if point i can enter the fit: V > 0, ESS finite in (0, 1], error finite and > 0 (or no
 * errors given at all). */
static int usable(const double *V, const double *ess, const double *err, int i) {
  return isfinite(V[i]) && V[i] > 0 && isfinite(ess[i]) && ess[i] > 0 && ess[i] <= 1 &&
         (!err || (isfinite(err[i]) && err[i] > 0));
}

/* a = sum w x y / sum w x^2 with x = V/V0, y = log ESS, w = (ESS/err)^2 (1 without errors):
 * var a = 1 / sum w x^2; E = exp(a), dE = E sqrt(var a); chi^2 = sum w (y - a x)^2 over
 * m - 1 degrees of freedom. */
lf_status lf_study_fit_volume_law(int n, const double *V, const double *ess, const double *err,
                                  double V0, double *ess0, double *ess0_err, double *chi2_dof,
                                  double *ess_anchor) {
  if (n < 0 || (n > 0 && (!V || !ess)) || !ess0 || !ess0_err || !chi2_dof || !ess_anchor)
    return LF_FAIL(LF_ERR_INVALID, "lf_study_fit_volume_law: %d points without their arrays", n);
  if (!(isfinite(V0) && V0 > 0))
    return LF_FAIL(LF_ERR_INVALID, "lf_study_fit_volume_law: training volume V0 = %g", V0);
  double sxx = 0, sxy = 0, vmax = 0, ess_max = NAN;
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (!usable(V, ess, err, i)) continue;
    const double x = V[i] / V0, y = log(ess[i]);
    const double w = err ? (ess[i] / err[i]) * (ess[i] / err[i]) : 1.0;
    sxx += w * x * x;
    sxy += w * x * y;
    m++;
    if (V[i] > vmax) {
      vmax = V[i];
      ess_max = ess[i];
    }
  }
  if (m == 0)
    return LF_FAIL(LF_ERR_INVALID,
                   "volume law: none of the %d volumes has a finite ESS in (0, 1] with a "
                   "positive error",
                   n);
  const double a = sxy / sxx;
  double chi2 = 0;
  for (int i = 0; i < n; i++) {
    if (!usable(V, ess, err, i)) continue;
    const double x = V[i] / V0, r = log(ess[i]) - a * x;
    const double w = err ? (ess[i] / err[i]) * (ess[i] / err[i]) : 1.0;
    chi2 += w * r * r;
  }
  *ess0 = exp(a);
  *ess0_err = *ess0 * sqrt(1.0 / sxx);
  *chi2_dof = m > 1 ? chi2 / (m - 1) : NAN;
  *ess_anchor = pow(ess_max, V0 / vmax);
  return LF_OK;
}
