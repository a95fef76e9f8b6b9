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
#include "latflow/gauge_flow.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
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

/* ---- plaquette: the spline of the plaquettes and the maximal-tree map -------------------
 * The batched circular splines of the gauge layers (src/flow/spline_t.c, double copies);
 * element i reads its 3K parameters at u[j * ld + i], so the shared theta is repeated
 * over the V plaquettes of one sample once per call. */
void lf_rqs_forward_n_d(int K, size_t n, const double *u, size_t ld, const double *x, double *y,
                        double *logj);
void lf_rqs_inverse_n_d(int K, size_t n, const double *u, size_t ld, const double *y, double *x,
                        double *logj);
void lf_rqs_backward_n_d(int K, size_t n, const double *u, size_t ld, const double *x,
                         const double *gy, const double *gl, double *du, size_t dld, double *gx);
void lf_rqs_inverse_backward_n_d(int K, size_t n, const double *u, size_t ld, const double *x,
                                 const double *gx, const double *gl, double *du, size_t dld,
                                 double *gy);

typedef struct base_pq {
  double *ub;                        /* (3K, V) theta repeated per plaquette */
  double *du;                        /* (3K, V) per-plaquette parameter gradients */
  double *a, *y, *lj, *gy, *gl, *gx; /* (V) per-plaquette scratch */
  double *tp;                        /* (V) plaquette angles */
} base_pq;

static void pq_free(base_pq *p) {
  if (!p) return;
  free(p->ub);
  free(p->du);
  free(p->a);
  free(p->y);
  free(p->lj);
  free(p->gy);
  free(p->gl);
  free(p->gx);
  free(p->tp);
  free(p);
}

static double wrap_2pi(double a) {
  double r = fmod(a, TWO_PI);
  if (r < 0.0) r += TWO_PI;
  return r >= TWO_PI ? r - TWO_PI : r;
}

/* theta_P(v) = t0(v) + t1(v + 0) - t0(v + 1) - t1(v), v = x0 L1 + x1 (latflow/u1.h) */
static void pq_plaquettes(int L0, int L1, const double *t, double *tp) {
  const int V = L0 * L1;
  const double *t0 = t, *t1 = t + V;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      const int u0 = ((x0 + 1) % L0) * L1 + x1, u1 = x0 * L1 + (x1 + 1) % L1;
      tp[v] = t0[v] + t1[u0] - t0[u1] - t1[v];
    }
}

/* Links t (2V) from the plaquettes tp[v], v < V - 1, the holonomies h0, h1 and the gauge
 * angles g[v], v >= 1 (g[0] unused: g(0) = 0). Off the tree t0(x0 < L0-1, .) = 0,
 * t1(0, x1 < L1-1) = 0:
 *   t1(0, L1-1) = h1,  t1(x0+1, x1) = t1(x0, x1) + P(x0, x1)          (x0 < L0 - 1)
 *   t0(L0-1, 0) = h0,  t0(L0-1, x1+1) = t0(L0-1, x1) - sum_x0 P(x0, x1)   (x1 < L1 - 1)
 * so P(x0, x1) is tp there for every plaquette but the last, (L0-1, L1-1), whose angle
 * is minus the sum of the others (mod 2 pi). Then t_mu(v) += g(v) - g(v + mu), wrapped. */
static void pq_links(int L0, int L1, const double *tp, double h0, double h1, const double *g,
                     double *t) {
  const int V = L0 * L1;
  double *t0 = t, *t1 = t + V;
  for (int v = 0; v < 2 * V; v++) t[v] = 0.0;
  t1[L1 - 1] = h1;
  for (int x0 = 0; x0 + 1 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) t1[(x0 + 1) * L1 + x1] = t1[x0 * L1 + x1] + tp[x0 * L1 + x1];
  double *col = t0 + (size_t)(L0 - 1) * L1;
  col[0] = h0;
  for (int x1 = 0; x1 + 1 < L1; x1++) {
    double r = 0.0;
    for (int x0 = 0; x0 < L0; x0++) r += tp[x0 * L1 + x1];
    col[x1 + 1] = col[x1] - r;
  }
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1;
      const int u0 = ((x0 + 1) % L0) * L1 + x1, u1 = x0 * L1 + (x1 + 1) % L1;
      const double gv = v ? g[v] : 0.0;
      t0[v] = wrap_2pi(t0[v] + gv - (u0 ? g[u0] : 0.0));
      t1[v] = wrap_2pi(t1[v] + gv - (u1 ? g[u1] : 0.0));
    }
}

/* G[v] = dL/dP(v) of the map above for v < V - 1, from dt = dL/dt (2V):
 *   G(x0', x1') = sum_{x0 > x0'} dt1(x0, x1') - sum_{x1 > x1'} dt0(L0-1, x1) */
static void pq_links_vjp(int L0, int L1, const double *dt, double *G) {
  const int V = L0 * L1;
  const double *d0 = dt + (size_t)(L0 - 1) * L1, *d1 = dt + V;
  double c = 0.0; /* sum_{x1 > x1'} dt0(L0-1, x1), built from the top */
  for (int x1 = L1 - 1; x1 >= 0; x1--) {
    double s = 0.0; /* sum_{x0 > x0'} dt1(x0, x1) */
    for (int x0 = L0 - 1; x0 >= 0; x0--) {
      G[x0 * L1 + x1] = s - c;
      s += d1[x0 * L1 + x1];
    }
    c += d0[x1];
  }
}

static void pq_repeat(const lf_base *b, const double *theta, double *ub) {
  const size_t n = (size_t)b->V;
  for (int j = 0; j < 3 * b->bins; j++)
    for (size_t i = 0; i < n; i++) ub[(size_t)j * n + i] = theta[j];
}

static void pq_sum_du(const lf_base *b, const double *du, double *dtheta) {
  const size_t n = (size_t)b->V;
  for (int j = 0; j < 3 * b->bins; j++) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += du[(size_t)j * n + i];
    dtheta[j] += s;
  }
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

static lf_status pq_init(lf_base *b, int bins) {
  if (b->C != 2 || b->L0 < 2 || b->L1 < 2)
    return LF_FAIL(LF_ERR_INVALID,
                   "base 'plaquette' needs the 2 link angles of a 2D U(1) field on sides >= 2, "
                   "got C=%d, %d x %d",
                   b->C, b->L0, b->L1);
  if (bins < 1 || bins > LF_RQS_KMAX)
    return LF_FAIL(LF_ERR_INVALID, "base 'plaquette' needs 1 .. %d spline bins, got %d",
                   LF_RQS_KMAX, bins);
  b->bins = bins;
  const size_t V = (size_t)b->V, np = 3 * (size_t)bins * V;
  base_pq *p = calloc(1, sizeof *p);
  if (!p) return LF_FAIL(LF_ERR_NOMEM, "plaquette base state");
  p->ub = malloc(np * sizeof *p->ub);
  p->du = malloc(np * sizeof *p->du);
  double **v[] = {&p->a, &p->y, &p->lj, &p->gy, &p->gl, &p->gx, &p->tp};
  int ok = p->ub && p->du;
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    ok = (*v[k] = malloc(V * sizeof(double))) && ok;
  if (!ok) {
    pq_free(p);
    return LF_FAIL(LF_ERR_NOMEM, "plaquette base scratch for %d x %d, %d bins", b->L0, b->L1, bins);
  }
  b->impl = p;
  return LF_OK;
}

lf_status lf_base_init(lf_base *b, lf_base_kind kind, int C, int L0, int L1, int bins) {
  memset(b, 0, sizeof *b);
  if (kind != LF_BASE_NORMAL && kind != LF_BASE_FREE_FIELD && kind != LF_BASE_HAAR &&
      kind != LF_BASE_PLAQUETTE)
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
  if (kind == LF_BASE_PLAQUETTE) return pq_init(b, bins);
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
  if (b->kind == LF_BASE_PLAQUETTE) pq_free(b->impl);
  memset(b, 0, sizeof *b);
}

int lf_base_nparams(const lf_base *b) {
  if (b->kind == LF_BASE_PLAQUETTE) return 3 * b->bins;
  return b->kind == LF_BASE_FREE_FIELD ? 1 : 0;
}

/* plaquette: the spline whose density approximates the single-plaquette Wilson weight
 * rho(y) ∝ exp(beta cos(y - pi)) on [0, 2 pi) (y = theta_P + pi).
 * Start: knots y_k at the quantiles k/K of 0.8 rho + 0.2 uniform, so the tails get bins
 * of their own (equal-mass knots leave each tail one bin of mass 1/K whose
 * rational-quadratic shape is far from rho); x_k = 2 pi F(y_k) with F rho's CDF
 * (trapezoid rule on 8192 intervals, inverted linearly), bin widths kept >= twice the
 * spline's minimum; slopes d_k = 1/(2 pi rho(y_k)) in [0.01, 1000]. All through the
 * inverse softmax and softplus of latflow/gauge_flow_t.h.
 * Refinement: 600 Adam steps (lr 0.05, then 0.0125) on KL(r || rho) over a midpoint rule
 * of 2048 points in a (deterministic), with the spline's exact gradients. With 16 bins the
 * KL per plaquette is then 4e-5, 3e-4, 1.6e-3 and 4e-3 at beta 2, 4, 6 and 8 (the
 * spline's minimum bin width and slope bound the tails); training goes on from there. */
enum { PQ_NGRID = 8192, PQ_NFIT = 2048, PQ_FIT_STEPS = 600 };

static double pq_logrho(double beta, double y) {
  return beta * (cos(y - M_PI) - 1.0);
}

static void pq_param_start(int K, double beta, double *F, double *theta) {
  const int N = PQ_NGRID;
  const double dy = TWO_PI / N, m = LF_RQS_MIN_BIN, c = log(expm1(1.0 - LF_RQS_MIN_DERIV));
  F[0] = 0.0;
  for (int i = 0; i < N; i++)
    F[i + 1] =
        F[i] + 0.5 * (exp(pq_logrho(beta, i * dy)) + exp(pq_logrho(beta, (i + 1) * dy))) * dy;
  const double norm = F[N];
  for (int i = 0; i <= N; i++) F[i] /= norm;
  double yk[LF_RQS_KMAX + 1], xk[LF_RQS_KMAX + 1];
  yk[0] = 0.0, yk[K] = TWO_PI;
  const double mu = 0.2;
  for (int k = 1, i = 0; k < K; k++) { /* G(y) = (1 - mu) F(y) + mu y / 2 pi */
    const double t = (double)k / K;
    while (i < N - 1 && (1 - mu) * F[i + 1] + mu * ((i + 1.0) / N) < t) i++;
    const double g0 = (1 - mu) * F[i] + mu * ((double)i / N),
                 g1 = (1 - mu) * F[i + 1] + mu * ((i + 1.0) / N);
    yk[k] = (i + (t - g0) / (g1 - g0)) * dy;
  }
  for (int k = 0; k <= K; k++) {
    const double u = yk[k] / dy;
    const int i = u >= N ? N - 1 : (int)u;
    xk[k] = TWO_PI * (F[i] + (u - i) * (F[i + 1] - F[i]));
  }
  double mw = 0.0, mh = 0.0;
  for (int k = 0; k < K; k++) {
    const double w = fmax((xk[k + 1] - xk[k]) / TWO_PI, 2.0 * m), h = (yk[k + 1] - yk[k]) / TWO_PI;
    theta[k] = log(fmax((w - m) / (1.0 - K * m), 1e-12));
    theta[K + k] = log(fmax((h - m) / (1.0 - K * m), 1e-12));
    mw += theta[k] / K;
    mh += theta[K + k] / K;
  }
  for (int k = 0; k < K; k++) {
    theta[k] -= mw;
    theta[K + k] -= mh;
    double d = 1.0 / (TWO_PI * exp(pq_logrho(beta, yk[k])) / norm);
    d = d < 0.01 ? 0.01 : (d > 1000.0 ? 1000.0 : d);
    const double x = d - LF_RQS_MIN_DERIV; /* softplus^-1(x) = x + log(1 - e^-x) */
    theta[2 * K + k] = x + log(-expm1(-x)) - c;
  }
}

static void pq_param_init(const lf_base *b, double beta, double *theta) {
  const int K = b->bins, np = 3 * K, M = PQ_NFIT;
  for (int j = 0; j < np; j++) theta[j] = 0.0;
  if (!(beta > 0.0)) return;
  double *F = malloc((PQ_NGRID + 1) * sizeof *F);
  double *ub = malloc((size_t)np * M * sizeof *ub), *du = malloc((size_t)np * M * sizeof *du);
  double *a = malloc(6 * (size_t)M * sizeof *a), *opt = calloc(2 * (size_t)np, sizeof *opt);
  if (!F || !ub || !du || !a || !opt) { /* the identity spline: a valid, poorer start */
    free(F), free(ub), free(du), free(a), free(opt);
    return;
  }
  pq_param_start(K, beta, F, theta);
  double *y = a + M, *lj = a + 2 * M, *gy = a + 3 * M, *gl = a + 4 * M, *gx = a + 5 * M;
  for (int i = 0; i < M; i++) a[i] = (i + 0.5) * TWO_PI / M, gl[i] = -1.0 / M;
  for (int step = 1; step <= PQ_FIT_STEPS; step++) {
    /* KL = mean_a [-log f'(a) - log rho(f(a))] + const: dKL/dy = beta sin(y - pi) / M */
    for (int j = 0; j < np; j++)
      for (int i = 0; i < M; i++) ub[(size_t)j * M + i] = theta[j];
    lf_rqs_forward_n_d(K, (size_t)M, ub, (size_t)M, a, y, lj);
    for (int i = 0; i < M; i++) gy[i] = beta * sin(y[i] - M_PI) / M;
    memset(du, 0, (size_t)np * M * sizeof *du);
    lf_rqs_backward_n_d(K, (size_t)M, ub, (size_t)M, a, gy, gl, du, (size_t)M, gx);
    const double lr = step <= PQ_FIT_STEPS / 2 ? 0.05 : 0.0125;
    for (int j = 0; j < np; j++) {
      double g = 0.0;
      for (int i = 0; i < M; i++) g += du[(size_t)j * M + i];
      double *mo = opt + j, *ve = opt + np + j;
      *mo = 0.9 * *mo + 0.1 * g;
      *ve = 0.999 * *ve + 0.001 * g * g;
      const double mh = *mo / (1.0 - pow(0.9, step)), vh = *ve / (1.0 - pow(0.999, step));
      theta[j] -= lr * mh / (sqrt(vh) + 1e-12);
    }
  }
  free(F), free(ub), free(du), free(a), free(opt);
}

void lf_base_param_init(const lf_base *b, double mass, double beta, double *theta) {
  if (b->kind == LF_BASE_FREE_FIELD) theta[0] = log(mass);
  if (b->kind == LF_BASE_PLAQUETTE) pq_param_init(b, beta, theta);
}

/* ---- plaquette: sample, log r and their gradients ----------------------------------------
 * All V plaquettes are drawn, phi_v = f(a_v) - pi in [-pi, pi); their sum's residue
 * s = wrap(sum_v phi_v) in [-pi, pi) is spread over them, theta_v = phi_v - s/V, so that
 * the plaquettes close on the torus (sum_v theta_v = 0 mod 2 pi), and s becomes the
 * holonomy h0 (the line of 0-links at x1 = 0). (phi_0 .. phi_V-1) <-> (theta_0 ..
 * theta_V-2, s) has unit Jacobian, so log r = -2V log 2 pi - sum_v log f'(a_v) over all V
 * plaquettes; the inverse reads s off the holonomy and phi_v = theta_v + s/V. */

/* the holonomy s of the 0-links at x1 = 0, in [-pi, pi) */
static double pq_holonomy(int L0, int L1, const double *t) {
  double h = 0.0;
  for (int x0 = 0; x0 < L0; x0++) h += t[(size_t)x0 * L1];
  return wrap_2pi(h + M_PI) - M_PI;
}

static void pq_sample(lf_base *b, const double *theta, int B, const double *eps, double *z,
                      double *logr) {
  base_pq *p = b->impl;
  const int V = b->V, K = b->bins;
  const size_t n = (size_t)V, cv = 2 * (size_t)V;
  pq_repeat(b, theta, p->ub);
  for (int i = 0; i < B; i++) {
    const double *e = eps + (size_t)i * cv;
    for (size_t v = 0; v < n; v++) p->a[v] = haar_angle(e[v]);
    lf_rqs_forward_n_d(K, n, p->ub, n, p->a, p->y, p->lj);
    double sum = 0.0, slj = 0.0;
    for (size_t v = 0; v < n; v++) {
      sum += p->y[v] - M_PI;
      slj += p->lj[v];
    }
    const double sh = wrap_2pi(sum + M_PI) - M_PI;
    for (size_t v = 0; v < n; v++) p->tp[v] = p->y[v] - M_PI - sh / (double)V;
    double *g = p->gx; /* the gauge angles g(v), v >= 1 (g[0] unused) */
    for (int v = 1; v < V; v++) g[v] = haar_angle(e[V + v]);
    pq_links(b->L0, b->L1, p->tp, sh, haar_angle(e[V]), g, z + (size_t)i * cv);
    logr[i] = -(double)cv * LOG_2PI - slj;
  }
}

static void pq_sample_backward(lf_base *b, const double *theta, int B, const double *eps,
                               const double *dz, const double *dlogr, double *dtheta) {
  base_pq *p = b->impl;
  const int V = b->V, K = b->bins, L0 = b->L0, L1 = b->L1;
  const size_t n = (size_t)V, cv = 2 * (size_t)V;
  pq_repeat(b, theta, p->ub);
  memset(p->du, 0, 3 * (size_t)K * n * sizeof *p->du);
  for (int i = 0; i < B; i++) {
    const double *e = eps + (size_t)i * cv;
    for (size_t v = 0; v < n; v++) p->a[v] = haar_angle(e[v]);
    if (dz) {
      /* dL/dtheta_v (v < V - 1) of the tree map, dL/dh0 = sum_x1 dz0(L0-1, x1), then
       * dL/ds = dL/dh0 - (1/V) sum_v dL/dtheta_v and dL/dphi_v = dL/dtheta_v + dL/ds */
      const double *dzi = dz + (size_t)i * cv;
      pq_links_vjp(L0, L1, dzi, p->gy);
      double ds = 0.0, sg = 0.0;
      for (int x1 = 0; x1 < L1; x1++) ds += dzi[(size_t)(L0 - 1) * L1 + x1];
      for (int v = 0; v < V - 1; v++) sg += p->gy[v];
      ds -= sg / (double)V;
      p->gy[V - 1] = 0.0;
      for (int v = 0; v < V; v++) p->gy[v] += ds;
    } else {
      memset(p->gy, 0, n * sizeof *p->gy);
    }
    const double gl = dlogr ? -dlogr[i] : 0.0; /* logr = const - sum log f' */
    for (size_t v = 0; v < n; v++) p->gl[v] = gl;
    lf_rqs_backward_n_d(K, n, p->ub, n, p->a, p->gy, p->gl, p->du, n, p->gx);
  }
  pq_sum_du(b, p->du, dtheta);
}

/* For z_i: y[v] = theta_P(v) + s/V + pi in [0, 2 pi), a[v] = f^-1(y[v]),
 * lj[v] = -log f'(a[v]); returns log r(z_i). */
static double pq_logr_one(lf_base *b, const double *zi) {
  base_pq *p = b->impl;
  const size_t n = (size_t)b->V;
  pq_plaquettes(b->L0, b->L1, zi, p->tp);
  const double sv = pq_holonomy(b->L0, b->L1, zi) / (double)b->V;
  for (size_t v = 0; v < n; v++) p->y[v] = wrap_2pi(p->tp[v] + sv + M_PI);
  lf_rqs_inverse_n_d(b->bins, n, p->ub, n, p->y, p->a, p->lj);
  double s = 0.0;
  for (size_t v = 0; v < n; v++) s += p->lj[v];
  return -2.0 * (double)b->V * LOG_2PI + s;
}

static void pq_logr(lf_base *b, const double *theta, int B, const double *z, double *logr) {
  base_pq *p = b->impl;
  const size_t cv = 2 * (size_t)b->V;
  pq_repeat(b, theta, p->ub);
  for (int i = 0; i < B; i++) logr[i] = pq_logr_one(b, z + (size_t)i * cv);
}

static void pq_logr_backward(lf_base *b, const double *theta, int B, const double *z,
                             const double *dlogr, double *dtheta, double *dz) {
  base_pq *p = b->impl;
  const int V = b->V, K = b->bins, L0 = b->L0, L1 = b->L1;
  const size_t n = (size_t)V, cv = 2 * (size_t)V;
  pq_repeat(b, theta, p->ub);
  memset(p->du, 0, 3 * (size_t)K * n * sizeof *p->du);
  memset(p->gx, 0, n * sizeof *p->gx);
  for (int i = 0; i < B; i++) {
    (void)pq_logr_one(b, z + (size_t)i * cv);
    for (size_t v = 0; v < n; v++) p->gl[v] = dlogr[i];
    lf_rqs_inverse_backward_n_d(K, n, p->ub, n, p->a, p->gx, p->gl, p->du, n, p->gy);
    if (!dz) continue;
    /* y_v = theta_P(v) + s/V + pi: the plaquettes' links, and s = sum_x0 t0(x0, 0) */
    double *d0 = dz + (size_t)i * cv, *d1 = d0 + V, ds = 0.0;
    for (int x0 = 0; x0 < L0; x0++)
      for (int x1 = 0; x1 < L1; x1++) {
        const int v = x0 * L1 + x1;
        const int u0 = ((x0 + 1) % L0) * L1 + x1, u1 = x0 * L1 + (x1 + 1) % L1;
        const double g = p->gy[v];
        d0[v] += g;
        d1[u0] += g;
        d0[u1] -= g;
        d1[v] -= g;
        ds += g;
      }
    ds /= (double)V;
    for (int x0 = 0; x0 < L0; x0++) d0[(size_t)x0 * L1] += ds;
  }
  if (dtheta) pq_sum_du(b, p->du, dtheta);
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
  if (b->kind == LF_BASE_PLAQUETTE) {
    pq_sample(b, theta, B, eps, z, logr);
    return;
  }
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
  if (b->kind == LF_BASE_PLAQUETTE) {
    pq_sample_backward(b, theta, B, eps, dz, dlogr, dtheta);
    return;
  }
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
  if (b->kind == LF_BASE_PLAQUETTE) {
    pq_logr(b, theta, B, z, logr);
    return;
  }
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
  if (b->kind == LF_BASE_PLAQUETTE) {
    pq_logr_backward(b, theta, B, z, dlogr, dtheta, dz);
    return;
  }
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
