/* ESS and the Independence Metropolis acceptance over flow weights (latflow/analysis.h). */
#include "latflow/analysis.h"

#include <math.h>
#include <stdlib.h>

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

/* Block sums of w and w^2 (relative to the overall max), then each leave-one-block-out
 * ESS from the sums of the other blocks (added up afresh, no subtraction: a block that
 * holds most of the weight would cancel). */
double lf_ess_jackknife(size_t n, const double *logw, size_t nblocks) {
  if (nblocks < 2 || nblocks > n || nblocks > LF_ESS_JACK_MAX) return NAN;
  const double mx = max_finite(n, logw);
  if (!isfinite(mx)) return NAN;
  double s1[LF_ESS_JACK_MAX], s2[LF_ESS_JACK_MAX], ess[LF_ESS_JACK_MAX];
  for (size_t b = 0; b < nblocks; b++) {
    s1[b] = s2[b] = 0.0;
    for (size_t i = b * n / nblocks; i < (b + 1) * n / nblocks; i++) {
      if (!isfinite(logw[i])) continue;
      const double w = exp(logw[i] - mx);
      s1[b] += w;
      s2[b] += w * w;
    }
  }
  double mean = 0.0;
  for (size_t b = 0; b < nblocks; b++) {
    double t1 = 0.0, t2 = 0.0;
    for (size_t c = 0; c < nblocks; c++)
      if (c != b) {
        t1 += s1[c];
        t2 += s2[c];
      }
    const size_t m = n - ((b + 1) * n / nblocks - b * n / nblocks);
    ess[b] = t2 > 0.0 ? t1 * t1 / ((double)m * t2) : 0.0;
    mean += ess[b];
  }
  mean /= (double)nblocks;
  double var = 0.0;
  for (size_t b = 0; b < nblocks; b++) var += (ess[b] - mean) * (ess[b] - mean);
  return sqrt(var * (double)(nblocks - 1) / (double)nblocks);
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

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Zhang and Stephens (2009), eqs. (7)-(10) as coded in PSIS (psis.py, gpdfit): the
 * posterior mean of b over a grid of m = 30 + sqrt(M) points, then k = mean log(1 - b x)
 * (the sign of PSIS, k > 0 for heavy tails) shrunk towards 1/2 by a prior of weight 10.
 * x: (M) exceedances in ascending order. */
static double gpd_khat(size_t M, const double *x) {
  enum { MMAX = 30 + 4096 };
  const size_t m = 30 + (size_t)sqrt((double)M);
  if (m > MMAX) return NAN;
  double bs[MMAX], L[MMAX];
  const double xq = x[(size_t)((double)M / 4.0 + 0.5) - 1], xmax = x[M - 1];
  if (!(xq > 0.0) || !(xmax > 0.0)) return NAN;
  for (size_t j = 0; j < m; j++) {
    bs[j] = 1.0 / xmax + (1.0 - sqrt((double)m / ((double)j + 0.5))) / (3.0 * xq);
    double k = 0.0;
    for (size_t i = 0; i < M; i++) k += log1p(-bs[j] * x[i]);
    k /= (double)M;
    L[j] = (double)M * (log(-bs[j] / k) - k - 1.0);
  }
  double b = 0.0, wsum = 0.0;
  for (size_t j = 0; j < m; j++) {
    double s = 0.0; /* w_j = 1 / sum_l exp(L_l - L_j); an overflow gives w_j = 0 */
    for (size_t l = 0; l < m; l++) s += exp(L[l] - L[j]);
    const double w = 1.0 / s;
    if (!(w >= 10.0 * 2.220446049250313e-16)) continue; /* PSIS drops negligible weights */
    b += w * bs[j];
    wsum += w;
  }
  if (!(wsum > 0.0)) return NAN;
  b /= wsum;
  double k = 0.0;
  for (size_t i = 0; i < M; i++) k += log1p(-b * x[i]);
  k /= (double)M;
  return (k * (double)M + 10.0 * 0.5) / ((double)M + 10.0);
}

double lf_pareto_khat(size_t n, const double *logw, double *ws) {
  size_t nf = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(logw[i])) ws[nf++] = logw[i];
  if (nf < 25) return NAN;
  qsort(ws, nf, sizeof *ws, cmp_double);
  const double mf = fmin(0.2 * (double)nf, 3.0 * sqrt((double)nf));
  const size_t M = (size_t)mf;
  const double top = ws[nf - 1], cut = exp(ws[nf - 1 - M] - top);
  /* the exceedances over the cut, in place (ascending): ws[nf - M .. nf - 1] */
  double *x = ws + (nf - M);
  for (size_t i = 0; i < M; i++) x[i] = exp(x[i] - top) - cut;
  return gpd_khat(M, x);
}
