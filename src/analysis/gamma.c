/* Gamma-method errors with automatic windowing (latflow/gamma.h).
 *
 * Follows U. Wolff, Comput. Phys. Commun. 156 (2004) 143 (hep-lat/0306017) and his
 * reference implementation UWerr: numerical derivatives with step sqrt(Gamma_aa(0)/N)/2,
 * the replica sum of eq. (31), the window criterion of eq. (52) on the uncorrected Gamma,
 * the bias correction Gamma(t) += C(W)/N (eq. 49), the errors of eqs. (42)-(43) and the
 * replica bias correction of F, eq. (40). The binning cross-check is the batch-means
 * estimate (e.g. Flyvbjerg and Petersen, J. Chem. Phys. 91 (1989) 461) at one large bin
 * size; why the larger of the two is reported is argued in docs/PHYSICS.md. */
#include "latflow/gamma.h"

#include "latflow/timer.h"

#include <fftw3.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Projected fluctuations whose size is below this fraction of the sum of the primaries'
 * contributions are rounding noise: the quantity is constant (header). */
#define CANCEL_TOL 1e-10

typedef struct layout {
  int R;
  const size_t *len; /* (R) borrowed */
  size_t N, nmin, nmax;
} layout;

static lf_status check_layout(int R, const size_t *len, layout *L) {
  if (R < 1) return LF_FAIL(LF_ERR_INVALID, "gamma: R = %d replicas (need R >= 1)", R);
  if (!len)
    return LF_FAIL(LF_ERR_INVALID,
                   "gamma: len is NULL (R = %d); pass the replica lengths, "
                   "&N for one replica",
                   R);
  L->R = R;
  L->len = len;
  L->N = 0;
  L->nmin = SIZE_MAX;
  L->nmax = 0;
  for (int r = 0; r < R; r++) {
    if (len[r] < 2)
      return LF_FAIL(LF_ERR_INVALID, "gamma: replica %d has length %zu (need >= 2)", r, len[r]);
    L->N += len[r];
    if (len[r] < L->nmin) L->nmin = len[r];
    if (len[r] > L->nmax) L->nmax = len[r];
  }
  return LF_OK;
}

/* The first non-finite value of x, named by observable, replica and index. */
static lf_status check_finite(const layout *L, const double *x, const char *what, int alpha) {
  size_t g = 0;
  for (int r = 0; r < L->R; r++)
    for (size_t i = 0; i < L->len[r]; i++, g++)
      if (!isfinite(x[g]))
        return LF_FAIL(LF_ERR_NUMERIC,
                       "gamma: %s %d is %g at replica %d, index %zu (global index %zu)", what,
                       alpha, x[g], r, i, g);
  return LF_OK;
}

/* Neumaier-compensated mean of x[0..n-1]; exactly x[0] when all values are equal, so that
 * constant data have exactly zero fluctuations. */
static double mean_of(size_t n, const double *x) {
  int same = 1;
  for (size_t i = 1; i < n && same; i++) same = x[i] == x[0];
  if (same) return x[0];
  double s = 0.0, c = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double t = s + x[i];
    c += fabs(s) >= fabs(x[i]) ? (s - t) + x[i] : (x[i] - t) + s;
    s = t;
  }
  return (s + c) / (double)n;
}

/* Smallest 2^a 3^b 5^c >= n: sizes FFTW handles fast. */
static size_t good_fft_size(size_t n) {
  for (size_t m = n;; m++) {
    size_t k = m;
    while (k % 2 == 0) k /= 2;
    while (k % 3 == 0) k /= 3;
    while (k % 5 == 0) k /= 5;
    if (k == 1) return m;
  }
}

/* s[t] = sum_r sum_{i, i+t in r} x_i x_{i+t} for t in [t0, t1) by the direct sum. */
static void sums_direct(const layout *L, const double *x, size_t t0, size_t t1, double *s) {
  for (size_t t = t0; t < t1; t++) {
    double acc = 0.0;
    size_t off = 0;
    for (int r = 0; r < L->R; r++) {
      const double *y = x + off;
      for (size_t i = 0; i + t < L->len[r]; i++) acc += y[i] * y[i + t];
      off += L->len[r];
    }
    s[t] = acc;
  }
}

/* s[t] for t in [0, tn) by FFT: per replica, zero-pad to M >= n + tn - 1 (no wrap-around
 * for lags < tn), |FFT|^2, inverse FFT (FFTW's c2r is unnormalised: divide by M). */
static lf_status sums_fft(const layout *L, const double *x, size_t tn, double *s) {
  const size_t mmax = good_fft_size(L->nmax + tn - 1);
  if (mmax > (size_t)INT_MAX)
    return LF_FAIL(LF_ERR_INVALID, "gamma: replica length %zu too long for the FFT (size %zu)",
                   L->nmax, mmax);
  lf_status rc = LF_OK;
  double *buf = lf_alloc(mmax * sizeof *buf);
  fftw_complex *spec = lf_alloc((mmax / 2 + 1) * sizeof *spec);
  fftw_plan fwd = NULL, bwd = NULL;
  size_t mplan = 0;
  if (!buf || !spec) {
    rc = LF_FAIL(LF_ERR_NOMEM, "gamma: FFT buffers of %zu doubles", mmax);
    goto fail;
  }
  memset(s, 0, tn * sizeof *s);
  size_t off = 0;
  for (int r = 0; r < L->R; r++) {
    const size_t n = L->len[r];
    const size_t m = good_fft_size(n + tn - 1);
    if (m != mplan) { /* replicas of one length share one plan */
      if (fwd) fftw_destroy_plan(fwd);
      if (bwd) fftw_destroy_plan(bwd);
      fwd = fftw_plan_dft_r2c_1d((int)m, buf, spec, FFTW_ESTIMATE);
      bwd = fftw_plan_dft_c2r_1d((int)m, spec, buf, FFTW_ESTIMATE);
      mplan = m;
      if (!fwd || !bwd) {
        rc = LF_FAIL(LF_ERR_NOMEM, "gamma: FFTW plans of size %zu", m);
        goto fail;
      }
    }
    memcpy(buf, x + off, n * sizeof *buf);
    memset(buf + n, 0, (m - n) * sizeof *buf);
    fftw_execute(fwd);
    for (size_t k = 0; k < m / 2 + 1; k++) {
      spec[k][0] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
      spec[k][1] = 0.0;
    }
    fftw_execute(bwd);
    for (size_t t = 0; t < tn; t++) s[t] += buf[t] / (double)m;
    off += n;
  }
fail:
  if (fwd) fftw_destroy_plan(fwd);
  if (bwd) fftw_destroy_plan(bwd);
  lf_free(buf);
  lf_free(spec);
  return rc;
}

/* Lags of Gamma computed so far; the direct path extends them on demand (the window
 * search usually stops after a few tau), the FFT path computes all at once. */
typedef struct acf {
  const layout *L;
  const double *x; /* (N) borrowed, fluctuations */
  double *gamma;   /* (cap) owned by the caller */
  size_t have, cap;
  int fft;
} acf;

static lf_status acf_ensure(acf *A, size_t tn) {
  if (tn > A->cap) tn = A->cap;
  if (tn <= A->have) return LF_OK;
  const layout *L = A->L;
  if (A->fft) {
    lf_status rc = sums_fft(L, A->x, A->cap, A->gamma);
    if (rc != LF_OK) return rc;
    tn = A->cap;
    A->have = 0;
  } else {
    sums_direct(L, A->x, A->have, tn, A->gamma);
  }
  for (size_t t = A->have; t < tn; t++) A->gamma[t] /= (double)(L->N - (size_t)L->R * t);
  A->have = tn;
  return LF_OK;
}

static int use_fft(const layout *L, int method) {
  return method == LF_GAMMA_FFT || (method == LF_GAMMA_AUTO && L->N > LF_GAMMA_FFT_MIN);
}

/* Batch means of af (header): replica r in k_r = max(1, round(K n_r / N)) consecutive
 * bins; returns sigma_bin^2 = Kb/(Kb-1) sum_j (n_j/N)^2 (mean_j - mean)^2 and the number
 * of bins Kb in *kb (NaN and *kb < 2 when there are too few). */
static double binned_var(const layout *L, const double *af, int K, int *kb) {
  const double N = (double)L->N;
  double m = 0.0;
  for (size_t i = 0; i < L->N; i++) m += af[i];
  m /= N;
  double s = 0.0;
  int nb = 0;
  size_t off = 0;
  for (int r = 0; r < L->R; r++) {
    const size_t n = L->len[r];
    size_t k = (size_t)floor((double)K * (double)n / N + 0.5);
    if (k < 1) k = 1;
    if (k > n) k = n;
    for (size_t j = 0; j < k; j++) {
      const size_t i0 = off + j * n / k, i1 = off + (j + 1) * n / k;
      double bm = 0.0;
      for (size_t i = i0; i < i1; i++) bm += af[i];
      bm /= (double)(i1 - i0);
      const double f = (double)(i1 - i0) / N;
      s += f * f * (bm - m) * (bm - m);
      nb++;
    }
    off += n;
  }
  *kb = nb;
  return nb >= 2 ? (double)nb / (double)(nb - 1) * s : NAN;
}

/* The windowing and errors for projected fluctuations af (N values) with scale
 * sum_alpha |h_alpha| sqrt(Gamma_aa(0)) (for the cancellation test). var_target: the
 * variance under the target for eff_samples (NaN: Gamma_F(0), i.e. a chain of the
 * target). out->value, n, replicas are set by the caller. */
static lf_status analyse(const layout *L, const double *af, double scale, const lf_gamma_opts *o,
                         double var_target, lf_gamma_result *out, double *rho, size_t nrho) {
  lf_status rc = LF_OK;
  const double N = (double)L->N;
  const double S = o->S;
  const size_t tmax = L->nmin / 2;
  size_t cap = tmax + 1;
  if (rho && nrho > cap) cap = nrho < L->nmin ? nrho : L->nmin;
  acf A = {L, af, lf_alloc(cap * sizeof(double)), 0, cap, use_fft(L, o->method)};
  if (!A.gamma) return LF_FAIL(LF_ERR_NOMEM, "gamma: autocorrelation of %zu lags", cap);
  out->flags = 0;
  out->bins = 0;
  out->error_bin = NAN;
  if (rho)
    for (size_t t = 0; t < nrho; t++) rho[t] = t == 0 ? 1.0 : 0.0;
  LF_CHECK(acf_ensure(&A, 1));
  const double g0 = A.gamma[0];
  if (!(g0 > 0.0) || g0 <= (CANCEL_TOL * scale) * (CANCEL_TOL * scale)) {
    /* nothing fluctuates: no error can be estimated from these data (header) */
    out->error = out->error_error = out->tau_int_error = NAN;
    out->error_gamma = out->tau_int_gamma = out->tau_int = out->eff_samples = NAN;
    out->variance = 0.0;
    out->window = 0;
    out->flags = LF_GAMMA_CONSTANT;
    goto fail;
  }
  /* window search, eq. (52): the first W with g(W) < 0 */
  size_t W = 0;
  if (S > 0.0) {
    double gint = 0.0; /* tau_int(W) - 1/2 */
    int found = 0;
    for (size_t t = 1; t <= tmax && !found; t++) {
      LF_CHECK(acf_ensure(&A, t + 1));
      gint += A.gamma[t] / g0;
      if (gint <= 0.0) { /* tau_W = 0: g(W) = -0 < 0 */
        W = t;
        found = 1;
        break;
      }
      const double tauw = S / log((gint + 1.0) / gint);
      const double gw = exp(-(double)t / tauw) - tauw / sqrt((double)t * N);
      if (gw < 0.0) {
        W = t;
        found = 1;
      }
    }
    if (!found) {
      W = tmax;
      out->flags |= LF_GAMMA_NO_WINDOW;
    }
  }
  LF_CHECK(acf_ensure(&A, W + 1));
  double c = A.gamma[0];
  for (size_t t = 1; t <= W; t++) c += 2.0 * A.gamma[t];
  if (!(c > 0.0)) { /* anticorrelated data: fall back to the naive error */
    W = 0;
    c = A.gamma[0];
    out->flags = (out->flags & ~LF_GAMMA_NO_WINDOW) | LF_GAMMA_NEGATIVE;
  }
  if (rho && nrho > 1) LF_CHECK(acf_ensure(&A, nrho));
  /* bias correction (eq. 49): Gamma(t) += C/N, then C(W) again */
  const double shift = c / N;
  for (size_t t = 0; t < A.have; t++) A.gamma[t] += shift;
  c = A.gamma[0];
  for (size_t t = 1; t <= W; t++) c += 2.0 * A.gamma[t];
  const double g0c = A.gamma[0];
  out->window = (int)W;
  out->error_gamma = sqrt(c / N);
  out->tau_int_gamma = c / (2.0 * g0c);
  double err = out->error_gamma;
  double err_err = err * sqrt(((double)W + 0.5) / N); /* eq. 43 */
  const double dw = (double)W + 0.5 - out->tau_int_gamma;
  double tau_err = 2.0 * out->tau_int_gamma * sqrt((dw > 0.0 ? dw : 0.0) / N); /* eq. 42 */
  if (o->bins > 0) {
    /* the binning cross-check: the larger error is reported (docs/PHYSICS.md) */
    int kb = 0;
    const double vb = binned_var(L, af, o->bins, &kb);
    if (kb >= 2) {
      const double q = 2.0 / (double)(kb - 1); /* relative variance of sigma_bin^2 */
      out->bins = kb;
      out->error_bin = sqrt(vb);
      if (vb > (c / N) * (1.0 + 3.0 * sqrt(q))) out->flags |= LF_GAMMA_SLOW;
      if (out->error_bin > err) {
        err = out->error_bin;
        err_err = err * sqrt(q) / 2.0;
        tau_err = -1.0; /* set below from the reported tau_int */
        out->flags |= LF_GAMMA_BINNED;
      }
    }
  }
  out->error = err;
  out->error_error = err_err;
  out->tau_int = N * err * err / (2.0 * g0c);
  out->tau_int_error =
      tau_err >= 0.0 ? tau_err : out->tau_int * sqrt(2.0 / (double)(out->bins - 1));
  out->variance = isnan(var_target) ? g0c : var_target;
  out->eff_samples = out->variance / (err * err);
  if (out->eff_samples < LF_GAMMA_MIN_EFF) out->flags |= LF_GAMMA_SHORT;
  if (rho) {
    const size_t nr = nrho < A.have ? nrho : A.have;
    for (size_t t = 1; t < nr; t++) rho[t] = A.gamma[t] / A.gamma[0];
  }
fail:
  lf_free(A.gamma);
  return rc;
}

/* How the derivatives h_alpha are obtained. */
enum grad_mode { GRAD_IDENTITY, GRAD_NUMERIC, GRAD_RATIO };

static lf_status derived(const layout *L, int P, const double *const *a, lf_gamma_fn f, void *ctx,
                         enum grad_mode mode, const lf_gamma_opts *o, double var_target,
                         lf_gamma_result *out, double *rho, size_t nrho) {
  lf_status rc = LF_OK;
  const size_t N = L->N;
  const size_t np = (size_t)P;
  /* abar (P), h (P), shifted means (P), replica means (P), a_f (N) */
  double *abar = lf_alloc(4 * np * sizeof(double));
  double *af = lf_alloc(N * sizeof(double));
  if (!abar || !af) {
    rc = LF_FAIL(LF_ERR_NOMEM, "gamma: scratch for N = %zu, P = %d", N, P);
    goto fail;
  }
  double *h = abar + np, *ainc = abar + 2 * np, *arep = abar + 3 * np;
  double scale = 0.0;
  for (int al = 0; al < P; al++) abar[al] = mean_of(N, a[al]);
  double value = mode == GRAD_IDENTITY ? abar[0]
                 : mode == GRAD_RATIO  ? abar[0] / abar[1]
                                       : f(abar, ctx);
  if (!isfinite(value)) {
    rc = LF_FAIL(LF_ERR_NUMERIC, "gamma: f(abar) = %g is not finite (abar[0] = %g, P = %d)", value,
                 abar[0], P);
    goto fail;
  }
  memcpy(ainc, abar, np * sizeof *ainc);
  for (int al = 0; al < P; al++) {
    double g0 = 0.0;
    for (size_t i = 0; i < N; i++) g0 += (a[al][i] - abar[al]) * (a[al][i] - abar[al]);
    g0 /= (double)N;
    if (mode == GRAD_IDENTITY) {
      h[al] = 1.0;
    } else if (mode == GRAD_RATIO) {
      h[al] = al == 0 ? 1.0 / abar[1] : -abar[0] / (abar[1] * abar[1]);
    } else if (g0 == 0.0) {
      h[al] = 0.0; /* a constant primary does not fluctuate */
    } else {
      /* central difference with Wolff's step sqrt(Gamma_aa(0)/N)/2 */
      const double step = sqrt(g0 / (double)N) / 2.0;
      ainc[al] = abar[al] + step;
      const double fp = f(ainc, ctx);
      ainc[al] = abar[al] - step;
      const double fm = f(ainc, ctx);
      ainc[al] = abar[al];
      h[al] = (fp - fm) / (2.0 * step);
      if (!isfinite(h[al])) {
        rc = LF_FAIL(LF_ERR_NUMERIC,
                     "gamma: derivative of f in a[%d] is not finite: f(abar +- %g) = %g, %g", al,
                     step, fp, fm);
        goto fail;
      }
    }
    scale += fabs(h[al]) * sqrt(g0);
  }
  /* projected fluctuations a_f(i) = sum_alpha h_alpha (a_alpha(i) - abar_alpha) */
  memset(af, 0, N * sizeof *af);
  for (int al = 0; al < P; al++) {
    if (h[al] == 0.0) continue;
    const double *x = a[al];
    const double m = abar[al], hh = h[al];
    for (size_t i = 0; i < N; i++) af[i] += hh * (x[i] - m);
  }
  /* replica bias correction of F, eq. (40): (R F(abar) - sum_r n_r F(abar_r) / N)/(R-1) */
  if (L->R > 1 && mode != GRAD_IDENTITY) {
    double fr = 0.0;
    size_t off = 0;
    for (int r = 0; r < L->R; r++) {
      for (int al = 0; al < P; al++) arep[al] = mean_of(L->len[r], a[al] + off);
      const double v = mode == GRAD_RATIO ? arep[0] / arep[1] : f(arep, ctx);
      if (!isfinite(v)) {
        rc = LF_FAIL(LF_ERR_NUMERIC, "gamma: f of the means of replica %d is %g", r, v);
        goto fail;
      }
      fr += (double)L->len[r] * v;
      off += L->len[r];
    }
    fr /= (double)N;
    value = ((double)L->R * value - fr) / (double)(L->R - 1);
  }
  out->value = value;
  out->n = N;
  out->replicas = L->R;
  LF_CHECK(analyse(L, af, scale, o, var_target, out, rho, nrho));
fail:
  lf_free(abar);
  lf_free(af);
  return rc;
}

static lf_status check_common(int R, const size_t *len, const lf_gamma_opts *o,
                              lf_gamma_result *out, layout *L) {
  if (!out) return LF_FAIL(LF_ERR_INVALID, "gamma: out is NULL");
  memset(out, 0, sizeof *out);
  if (!o) return LF_FAIL(LF_ERR_INVALID, "gamma: opts is NULL");
  if (!(o->S >= 0.0) || !isfinite(o->S))
    return LF_FAIL(LF_ERR_INVALID, "gamma: S = %g (need 0 <= S < inf; default 1.5)", o->S);
  if (o->bins < 0 || o->bins == 1)
    return LF_FAIL(LF_ERR_INVALID, "gamma: bins = %d (need 0 = off or >= 2; default %d)", o->bins,
                   LF_GAMMA_BINS);
  if (o->method != LF_GAMMA_AUTO && o->method != LF_GAMMA_DIRECT && o->method != LF_GAMMA_FFT)
    return LF_FAIL(LF_ERR_INVALID, "gamma: method %d unknown", o->method);
  return check_layout(R, len, L);
}

lf_status lf_gamma_mean_opts(int R, const size_t *len, const double *x, const lf_gamma_opts *opts,
                             lf_gamma_result *out, double *rho, size_t nrho) {
  layout L;
  lf_status rc = check_common(R, len, opts, out, &L);
  if (rc != LF_OK) return rc;
  if (!x) return LF_FAIL(LF_ERR_INVALID, "gamma: x is NULL");
  if ((rc = check_finite(&L, x, "observable", 0)) != LF_OK) return rc;
  const double *a[1] = {x};
  return derived(&L, 1, a, NULL, NULL, GRAD_IDENTITY, opts, NAN, out, rho, nrho);
}

lf_status lf_gamma_mean(int R, const size_t *len, const double *x, double S, lf_gamma_result *out,
                        double *rho, size_t nrho) {
  const lf_gamma_opts o = {S, LF_GAMMA_BINS, LF_GAMMA_AUTO};
  return lf_gamma_mean_opts(R, len, x, &o, out, rho, nrho);
}

lf_status lf_gamma_derived_opts(int R, const size_t *len, int P, const double *const *a,
                                lf_gamma_fn f, void *ctx, const lf_gamma_opts *opts,
                                lf_gamma_result *out, double *rho, size_t nrho) {
  layout L;
  lf_status rc = check_common(R, len, opts, out, &L);
  if (rc != LF_OK) return rc;
  if (P < 1) return LF_FAIL(LF_ERR_INVALID, "gamma: P = %d primaries (need P >= 1)", P);
  if (!a || !f) return LF_FAIL(LF_ERR_INVALID, "gamma: a or f is NULL");
  for (int al = 0; al < P; al++) {
    if (!a[al]) return LF_FAIL(LF_ERR_INVALID, "gamma: a[%d] is NULL", al);
    if ((rc = check_finite(&L, a[al], "primary", al)) != LF_OK) return rc;
  }
  return derived(&L, P, a, f, ctx, GRAD_NUMERIC, opts, NAN, out, rho, nrho);
}

lf_status lf_gamma_derived_method(int R, const size_t *len, int P, const double *const *a,
                                  lf_gamma_fn f, void *ctx, double S, int method,
                                  lf_gamma_result *out, double *rho, size_t nrho) {
  const lf_gamma_opts o = {S, LF_GAMMA_BINS, method};
  return lf_gamma_derived_opts(R, len, P, a, f, ctx, &o, out, rho, nrho);
}

lf_status lf_gamma_derived(int R, const size_t *len, int P, const double *const *a, lf_gamma_fn f,
                           void *ctx, double S, lf_gamma_result *out, double *rho, size_t nrho) {
  return lf_gamma_derived_method(R, len, P, a, f, ctx, S, LF_GAMMA_AUTO, out, rho, nrho);
}

lf_status lf_gamma_reweighted_opts(int R, const size_t *len, const double *x, const double *logw,
                                   const lf_gamma_opts *opts, lf_gamma_result *out) {
  layout L;
  lf_status rc = check_common(R, len, opts, out, &L);
  if (rc != LF_OK) return rc;
  if (!x || !logw) return LF_FAIL(LF_ERR_INVALID, "gamma: x or logw is NULL");
  if ((rc = check_finite(&L, x, "observable", 0)) != LF_OK) return rc;
  const size_t N = L.N;
  /* log w = -inf is a weight 0 (header); NaN and +inf have no meaning */
  double mx = -INFINITY;
  for (size_t i = 0; i < N; i++) {
    if (isnan(logw[i]) || logw[i] == INFINITY)
      return LF_FAIL(LF_ERR_NUMERIC, "gamma: log weight %zu is %g", i, logw[i]);
    mx = fmax(mx, logw[i]);
  }
  if (mx == -INFINITY) return LF_FAIL(LF_ERR_NUMERIC, "gamma: all %zu weights are 0", N);
  double *p = lf_alloc(2 * N * sizeof(double)); /* (O w, w) */
  if (!p) return LF_FAIL(LF_ERR_NOMEM, "gamma: reweighting scratch for N = %zu", N);
  double sw = 0.0, sow = 0.0;
  for (size_t i = 0; i < N; i++) {
    p[N + i] = exp(logw[i] - mx); /* in [0, 1], the largest is 1: <w> > 0 */
    p[i] = x[i] * p[N + i];
    sw += p[N + i];
    sow += p[i];
  }
  /* the target variance <O^2>_w - <O>_w^2 for the effective samples (header) */
  const double ow = sow / sw;
  double v = 0.0;
  for (size_t i = 0; i < N; i++) v += p[N + i] * (x[i] - ow) * (x[i] - ow);
  v /= sw;
  const double *a[2] = {p, p + N};
  rc = derived(&L, 2, a, NULL, NULL, GRAD_RATIO, opts, v, out, NULL, 0);
  lf_free(p);
  return rc;
}

lf_status lf_gamma_reweighted(int R, const size_t *len, const double *x, const double *logw,
                              double S, lf_gamma_result *out) {
  const lf_gamma_opts o = {S, LF_GAMMA_BINS, LF_GAMMA_AUTO};
  return lf_gamma_reweighted_opts(R, len, x, logw, &o, out);
}

lf_status lf_gamma_autocorr(int R, const size_t *len, const double *x, size_t nlag, int method,
                            double *gamma) {
  layout L;
  lf_status rc = check_layout(R, len, &L);
  if (rc != LF_OK) return rc;
  if (!x || !gamma) return LF_FAIL(LF_ERR_INVALID, "gamma: x or gamma is NULL");
  if (method != LF_GAMMA_AUTO && method != LF_GAMMA_DIRECT && method != LF_GAMMA_FFT)
    return LF_FAIL(LF_ERR_INVALID, "gamma: method %d unknown", method);
  if (nlag > L.nmin)
    return LF_FAIL(LF_ERR_INVALID, "gamma: %zu lags asked, the shortest replica (%zu) allows %zu",
                   nlag, L.nmin, L.nmin);
  if (nlag == 0) return LF_OK;
  if ((rc = check_finite(&L, x, "observable", 0)) != LF_OK) return rc;
  double *d = lf_alloc(L.N * sizeof *d);
  if (!d) return LF_FAIL(LF_ERR_NOMEM, "gamma: scratch for N = %zu", L.N);
  const double m = mean_of(L.N, x);
  for (size_t i = 0; i < L.N; i++) d[i] = x[i] - m;
  acf A = {&L, d, gamma, 0, nlag, use_fft(&L, method)};
  rc = acf_ensure(&A, nlag);
  lf_free(d);
  return rc;
}
