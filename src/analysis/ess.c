/* ESS and the Independence Metropolis acceptance over flow weights (latflow/analysis.h). */
#include "latflow/analysis.h"

#include <math.h>

static double max_finite(size_t n, const double *logw) {
  double mx = -INFINITY;
  for (size_t i = 0; i < n; i++)
    if (isfinite(logw[i]) && logw[i] > mx) mx = logw[i];
  return mx;
}

double lf_ess(size_t n, const double *logw) {
  const double mx = max_finite(n, logw);
  if (n == 0 || !isfinite(mx)) return 0.0;
  double s1 = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(logw[i])) continue;
    const double w = exp(logw[i] - mx);
    s1 += w;
    s2 += w * w;
  }
  return s1 * s1 / ((double)n * s2);
}

double lf_log_mean_weight(size_t n, const double *logw) {
  const double mx = max_finite(n, logw);
  if (n == 0 || !isfinite(mx)) return -INFINITY;
  double s1 = 0.0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(logw[i])) s1 += exp(logw[i] - mx);
  return mx + log(s1 / (double)n);
}

double lf_imh_run(size_t n, const double *logw, const double *u, size_t *chain, size_t *max_run) {
  size_t cur = 0, acc = 0, run = 0, longest = 0;
  if (chain && n > 0) chain[0] = 0;
  for (size_t i = 1; i < n; i++) {
    /* a NaN weight never enters the chain: the comparison is false */
    if (log(u[i]) < logw[i] - logw[cur]) {
      cur = i;
      acc++;
      run = 0;
    } else if (++run > longest) {
      longest = run;
    }
    if (chain) chain[i] = cur;
  }
  if (max_run) *max_run = longest;
  return n < 2 ? 0.0 : (double)acc / (double)(n - 1);
}

static double logaddexp(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

void lf_ess_acc_add(lf_ess_acc *e, double logw) {
  e->n++;
  if (!isfinite(logw)) return;
  e->l1 = logaddexp(e->l1, logw);
  e->l2 = logaddexp(e->l2, 2.0 * logw);
}

double lf_ess_acc_value(const lf_ess_acc *e) {
  return e->n && isfinite(e->l1) ? exp(2.0 * e->l1 - e->l2) / (double)e->n : 0.0;
}
