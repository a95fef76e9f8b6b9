/* Base distributions r(z) of a flow (contract: latflow/base.h; derivations:
 * docs/PHYSICS.md, section "Free-field base").
 *
 * free_field works in momentum space with real-to-complex FFTs of one (L0, L1)
 * component at a time. With k_p = m^2 + phat^2 and m = exp(theta):
 *   z = A eps,  A = F^dagger diag((2 k_p)^-1/2) F = (2K)^-1/2
 *   log r(A eps) = -|eps|^2/2 + (C/2) sum_p log(2 k_p) - (n/2) log 2 pi
 *   dz/dtheta = -m^2 K^-1 z,   d log r(A eps)/dtheta = C m^2 sum_p 1/k_p
 *   d log r(z)/dz = -2 K z,    d log r(z)/dtheta|_z = -2 m^2 |z|^2 + C m^2 sum_p 1/k_p
 * K z is applied in position space (a 5-point stencil), so logr and logr_backward
 * need no FFT at all. FFTW plans are made once in lf_base_init with FFTW_ESTIMATE
 * (deterministic, and the planner is not thread-safe); execution reuses the planned
 * scratch arrays, so the caller's arrays need no particular alignment and may alias. */
#include "latflow/base.h"

#include <fftw3.h>
#include <math.h>
#include <string.h>

#define LOG_2PI 1.83787706640934548356
#define TWO_PI 6.28318530717958647692

/* haar: the standard normal eps mapped to a uniform angle in [0, 2 pi) by its CDF,
 * 2 pi Phi(eps), Phi(e) = erfc(-e/sqrt 2)/2. So the callers' noise (lf_rng_normal, one
 * draw per component, as for the normal base) serves every base unchanged. */
static double haar_angle(double e) {
  const double a = TWO_PI * 0.5 * erfc(-e * 0.70710678118654752440);
  return a >= TWO_PI ? a - TWO_PI : a;
}

typedef struct base_ff {
  int nh;              /* L0 * (L1/2 + 1): r2c half spectrum */
  fftw_plan r2c, c2r;  /* owned; on real <-> freq */
  double *real;        /* (V) owned scratch */
  fftw_complex *freq;  /* (nh) owned scratch */
  double *phat2_half;  /* (nh) owned: sum_mu 4 sin^2(p_mu/2) on the half spectrum */
  double *phat2_full;  /* (V) owned: the same on every momentum */
  double *mult_z;      /* (nh) owned: (2 k_p)^-1/2 / V at the cached theta */
  double *mult_kinv_z; /* (nh) owned: (2 k_p)^-1/2 / (k_p V) at the cached theta */
  double theta;        /* cached theta; valid only if have_cache */
  int have_cache;
  double sum_log_2k; /* sum_p log(2 k_p), one component */
  double sum_inv_k;  /* sum_p 1/k_p, one component */
} base_ff;

static void ff_free(base_ff *ff) {
  if (!ff) return;
  if (ff->r2c) fftw_destroy_plan(ff->r2c);
  if (ff->c2r) fftw_destroy_plan(ff->c2r);
  fftw_free(ff->real);
  fftw_free(ff->freq);
  fftw_free(ff->phat2_half);
  fftw_free(ff->phat2_full);
  fftw_free(ff->mult_z);
  fftw_free(ff->mult_kinv_z);
  fftw_free(ff);
}

static double phat2(int n0, int L0, int n1, int L1) {
  const double s0 = sin(M_PI * (double)n0 / (double)L0);
  const double s1 = sin(M_PI * (double)n1 / (double)L1);
  return 4.0 * (s0 * s0 + s1 * s1);
}

lf_status lf_base_init(lf_base *b, lf_base_kind kind, int C, int L0, int L1) {
  memset(b, 0, sizeof *b);
  if (kind != LF_BASE_NORMAL && kind != LF_BASE_FREE_FIELD && kind != LF_BASE_HAAR)
    return LF_FAIL(LF_ERR_INVALID, "unknown base kind %d", (int)kind);
  if (C < 1 || L0 < 1 || L1 < 1)
    return LF_FAIL(LF_ERR_INVALID, "base needs C >= 1 and L0, L1 >= 1, got C=%d, %d x %d", C, L0,
                   L1);
  if (L0 > (1 << 30) / L1 / C)
    return LF_FAIL(LF_ERR_INVALID, "base shape C=%d, %d x %d is too large", C, L0, L1);
  b->kind = kind;
  b->C = C;
  b->L0 = L0;
  b->L1 = L1;
  b->V = L0 * L1;
  if (kind != LF_BASE_FREE_FIELD) return LF_OK;

  const int V = b->V, h1 = L1 / 2 + 1, nh = L0 * h1;
  base_ff *ff = fftw_malloc(sizeof *ff);
  if (!ff) return LF_FAIL(LF_ERR_NOMEM, "free_field base state");
  memset(ff, 0, sizeof *ff);
  ff->nh = nh;
  ff->real = fftw_alloc_real((size_t)V);
  ff->freq = fftw_alloc_complex((size_t)nh);
  ff->phat2_half = fftw_alloc_real((size_t)nh);
  ff->phat2_full = fftw_alloc_real((size_t)V);
  ff->mult_z = fftw_alloc_real((size_t)nh);
  ff->mult_kinv_z = fftw_alloc_real((size_t)nh);
  if (!ff->real || !ff->freq || !ff->phat2_half || !ff->phat2_full || !ff->mult_z ||
      !ff->mult_kinv_z) {
    ff_free(ff);
    return LF_FAIL(LF_ERR_NOMEM, "free_field base scratch for %d x %d", L0, L1);
  }
  /* Planning may scribble on the arrays, so it comes before any data lives there. */
  ff->r2c = fftw_plan_dft_r2c_2d(L0, L1, ff->real, ff->freq, FFTW_ESTIMATE);
  ff->c2r = fftw_plan_dft_c2r_2d(L0, L1, ff->freq, ff->real, FFTW_ESTIMATE);
  if (!ff->r2c || !ff->c2r) {
    ff_free(ff);
    return LF_FAIL(LF_ERR_NOMEM, "FFTW could not plan a %d x %d r2c/c2r transform", L0, L1);
  }
  for (int n0 = 0; n0 < L0; n0++) {
    for (int n1 = 0; n1 < L1; n1++) ff->phat2_full[n0 * L1 + n1] = phat2(n0, L0, n1, L1);
    for (int n1 = 0; n1 < h1; n1++) ff->phat2_half[n0 * h1 + n1] = phat2(n0, L0, n1, L1);
  }
  b->impl = ff;
  return LF_OK;
}

void lf_base_free(lf_base *b) {
  if (!b) return;
  if (b->kind == LF_BASE_FREE_FIELD) ff_free(b->impl);
  memset(b, 0, sizeof *b);
}

int lf_base_nparams(const lf_base *b) {
  return b->kind == LF_BASE_FREE_FIELD ? 1 : 0;
}

void lf_base_param_init(const lf_base *b, double mass, double *theta) {
  if (b->kind == LF_BASE_FREE_FIELD) theta[0] = log(mass);
}

/* Fills the momentum-space multipliers and the sums over p for theta (cached). */
static void ff_update(base_ff *ff, const lf_base *b, double theta) {
  if (ff->have_cache && memcmp(&ff->theta, &theta, sizeof theta) == 0) return;
  const double m2 = exp(2.0 * theta), invV = 1.0 / (double)b->V;
  for (int p = 0; p < ff->nh; p++) {
    const double k = m2 + ff->phat2_half[p];
    ff->mult_z[p] = invV / sqrt(2.0 * k); /* 1/V undoes FFTW's unnormalized round trip */
    ff->mult_kinv_z[p] = ff->mult_z[p] / k;
  }
  double slog = 0.0, sinv = 0.0;
  for (int p = 0; p < b->V; p++) {
    const double k = m2 + ff->phat2_full[p];
    slog += log(2.0 * k);
    sinv += 1.0 / k;
  }
  ff->sum_log_2k = slog;
  ff->sum_inv_k = sinv;
  ff->theta = theta;
  ff->have_cache = 1;
}

/* out = F^dagger diag(mult) F in for one (L0, L1) component; in and out may alias each
 * other or ff->real. */
static void ff_apply(base_ff *ff, int V, const double *mult, const double *in, double *out) {
  if (in != ff->real) memcpy(ff->real, in, (size_t)V * sizeof *in);
  fftw_execute(ff->r2c);
  for (int p = 0; p < ff->nh; p++) {
    ff->freq[p][0] *= mult[p];
    ff->freq[p][1] *= mult[p];
  }
  fftw_execute(ff->c2r);
  if (out != ff->real) memcpy(out, ff->real, (size_t)V * sizeof *out);
}

static double dot(const double *x, const double *y, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

/* sum_x [ m^2 z^2 + sum_mu (z(x+mu) - z(x))^2 ] = z^T K z for one component. */
static double kinetic(int L0, int L1, double m2, const double *z) {
  double s = 0.0;
  for (int x0 = 0; x0 < L0; x0++) {
    const double *r = z + (size_t)x0 * L1, *rn = z + (size_t)((x0 + 1) % L0) * L1;
    for (int x1 = 0; x1 < L1; x1++) {
      const double f = r[x1], d0 = rn[x1] - f, d1 = r[x1 + 1 == L1 ? 0 : x1 + 1] - f;
      s += m2 * f * f + d0 * d0 + d1 * d1;
    }
  }
  return s;
}

/* out += a * K z for one component: K z = (m^2 + 4) z(x) - sum_mu [z(x+mu) + z(x-mu)]. */
static void kinetic_axpy(int L0, int L1, double m2, double a, const double *z, double *out) {
  for (int x0 = 0; x0 < L0; x0++) {
    const double *r = z + (size_t)x0 * L1;
    const double *ru = z + (size_t)((x0 + 1) % L0) * L1;
    const double *rd = z + (size_t)((x0 + L0 - 1) % L0) * L1;
    double *o = out + (size_t)x0 * L1;
    for (int x1 = 0; x1 < L1; x1++) {
      const int xp = x1 + 1 == L1 ? 0 : x1 + 1, xm = x1 == 0 ? L1 - 1 : x1 - 1;
      o[x1] += a * ((m2 + 4.0) * r[x1] - ru[x1] - rd[x1] - r[xp] - r[xm]);
    }
  }
}

void lf_base_sample(lf_base *b, const double *theta, int B, const double *eps, double *z,
                    double *logr) {
  const size_t n = (size_t)b->C * (size_t)b->V;
  const double lognorm = -0.5 * (double)n * LOG_2PI;
  if (b->kind == LF_BASE_HAAR) {
    for (size_t j = 0; j < (size_t)B * n; j++) z[j] = haar_angle(eps[j]);
    for (int i = 0; i < B; i++) logr[i] = -(double)n * LOG_2PI;
    return;
  }
  if (b->kind != LF_BASE_FREE_FIELD) {
    for (int i = 0; i < B; i++) {
      const double *e = eps + (size_t)i * n;
      logr[i] = -0.5 * dot(e, e, n) + lognorm;
      if (z + (size_t)i * n != e) memmove(z + (size_t)i * n, e, n * sizeof *z);
    }
    return;
  }
  base_ff *ff = b->impl;
  ff_update(ff, b, theta[0]);
  /* log r(A eps) = log N(eps) - log det A, log det A = -(C/2) sum_p log(2 k_p) */
  const double logdet = 0.5 * (double)b->C * ff->sum_log_2k;
  for (int i = 0; i < B; i++) {
    const double *e = eps + (size_t)i * n;
    logr[i] = -0.5 * dot(e, e, n) + logdet + lognorm;
    for (int c = 0; c < b->C; c++) {
      const size_t off = (size_t)i * n + (size_t)c * b->V;
      ff_apply(ff, b->V, ff->mult_z, eps + off, z + off);
    }
  }
}

void lf_base_sample_backward(lf_base *b, const double *theta, int B, const double *eps,
                             const double *dz, const double *dlogr, double *dtheta) {
  if (b->kind != LF_BASE_FREE_FIELD) return; /* no parameters */
  base_ff *ff = b->impl;
  ff_update(ff, b, theta[0]);
  const size_t n = (size_t)b->C * (size_t)b->V;
  const double m2 = exp(2.0 * theta[0]);
  double g = 0.0;
  for (int i = 0; i < B; i++) {
    if (dlogr) g += dlogr[i] * (double)b->C * m2 * ff->sum_inv_k;
    if (!dz) continue;
    /* <dz, dz/dtheta> = -m^2 <dz, K^-1 z>, K^-1 z = F^dagger diag((2k)^-1/2 / k) F eps */
    for (int c = 0; c < b->C; c++) {
      const size_t off = (size_t)i * n + (size_t)c * b->V;
      ff_apply(ff, b->V, ff->mult_kinv_z, eps + off, ff->real);
      g -= m2 * dot(dz + off, ff->real, (size_t)b->V);
    }
  }
  dtheta[0] += g;
}

void lf_base_logr(lf_base *b, const double *theta, int B, const double *z, double *logr) {
  const size_t n = (size_t)b->C * (size_t)b->V;
  const double lognorm = -0.5 * (double)n * LOG_2PI;
  if (b->kind == LF_BASE_HAAR) {
    for (int i = 0; i < B; i++) logr[i] = -(double)n * LOG_2PI;
    return;
  }
  if (b->kind != LF_BASE_FREE_FIELD) {
    for (int i = 0; i < B; i++) {
      const double *zi = z + (size_t)i * n;
      logr[i] = -0.5 * dot(zi, zi, n) + lognorm;
    }
    return;
  }
  base_ff *ff = b->impl;
  ff_update(ff, b, theta[0]);
  const double m2 = exp(2.0 * theta[0]);
  const double logdet = 0.5 * (double)b->C * ff->sum_log_2k;
  for (int i = 0; i < B; i++) {
    double q = 0.0;
    for (int c = 0; c < b->C; c++)
      q += kinetic(b->L0, b->L1, m2, z + (size_t)i * n + (size_t)c * b->V);
    logr[i] = -q + logdet + lognorm;
  }
}

void lf_base_logr_backward(lf_base *b, const double *theta, int B, const double *z,
                           const double *dlogr, double *dtheta, double *dz) {
  const size_t n = (size_t)b->C * (size_t)b->V;
  if (b->kind == LF_BASE_HAAR) return; /* constant density: no gradient */
  if (b->kind != LF_BASE_FREE_FIELD) {
    if (!dz) return;
    for (int i = 0; i < B; i++)
      for (size_t j = 0; j < n; j++) dz[(size_t)i * n + j] -= dlogr[i] * z[(size_t)i * n + j];
    return;
  }
  base_ff *ff = b->impl;
  ff_update(ff, b, theta[0]);
  const double m2 = exp(2.0 * theta[0]);
  double g = 0.0;
  for (int i = 0; i < B; i++) {
    const double *zi = z + (size_t)i * n;
    /* d log r/dtheta at fixed z = -2 m^2 |z|^2 + C m^2 sum_p 1/k_p */
    if (dtheta) g += dlogr[i] * m2 * (-2.0 * dot(zi, zi, n) + (double)b->C * ff->sum_inv_k);
    if (dz)
      for (int c = 0; c < b->C; c++) /* d log r/dz = -2 K z */
        kinetic_axpy(b->L0, b->L1, m2, -2.0 * dlogr[i], zi + (size_t)c * b->V,
                     dz + (size_t)i * n + (size_t)c * b->V);
  }
  if (dtheta) dtheta[0] += g;
}

double lf_base_free_propagator(int L0, int L1, double m, int x0, int x1) {
  const double m2 = m * m;
  double s = 0.0;
  for (int n0 = 0; n0 < L0; n0++)
    for (int n1 = 0; n1 < L1; n1++) {
      const double px = 2.0 * M_PI * ((double)n0 * x0 / L0 + (double)n1 * x1 / L1);
      s += cos(px) / (2.0 * (m2 + phat2(n0, L0, n1, L1)));
    }
  return s / ((double)L0 * (double)L1);
}
