/* src/flow/spline_t.c: circular rational-quadratic spline (contract: latflow/gauge_flow_t.h).
 *
 * Durkan et al., arXiv 1906.04032, eq. 4 (forward), 5 (derivative), 6-8 (inverse);
 * the circular boundary condition (f(0) = 0, f(2 pi) = 2 pi, d_K = d_0) is that of
 * Rezende et al., arXiv 2002.02428, section 3. The arithmetic of one element runs in
 * double in both precisions: it is K-sized scalar work next to the convolutions, and it
 * keeps the quadratic solve of the inverse accurate in float (the float build only
 * converts at the interface).
 *
 * Gradients. In bin k write xi = (x - x_k)/w, s = h/w, om = xi(1-xi),
 *   A = s xi^2 + d0 om,  D = s + (d0 + d1 - 2s) om,  g = A/D,  y = y_k + h g,
 *   N = d1 xi^2 + 2 s om + d0 (1-xi)^2,  logj = 2 log s + log N - 2 log D.
 * The partials in (xi, s, d0, d1) follow from those of A, D and N; then
 *   d/dx = d/dxi / w,  d/dx_k = -d/dxi / w,  d/dw = -(xi d/dxi + s d/ds)/w,
 *   d/dh = (dy/dh|_s = g) + d/ds / w,  d/dy_k = 1 (for y),
 * the knots x_k = sum_{j<k} w_j and y_k = sum_{j<k} h_j spread d/dx_k, d/dy_k over the
 * earlier bins, and the softmax and softplus maps bring everything back to u.
 * The inverse's gradients come from the implicit function theorem at its output x:
 * with G = dL/dx - gl dlogj/dx (logj_inverse = -logj(x)), dL/dy = G / f'(x) and
 * dL/du = -(G / f'(x)) df/du|_x - gl dlogj/du|_x. */
#include "latflow/gauge_flow.h"

#include "core/prec.h"

#include <math.h>
#include <stddef.h>

#define TWO_PI 6.28318530717958647692

typedef struct rqs {
  int K;
  double xk[LF_RQS_KMAX + 1], yk[LF_RQS_KMAX + 1]; /* knots */
  double w[LF_RQS_KMAX], h[LF_RQS_KMAX];           /* bin widths, heights */
  double smw[LF_RQS_KMAX], smh[LF_RQS_KMAX];       /* the softmaxes */
  double d[LF_RQS_KMAX + 1];                       /* slopes at knots, d[K] = d[0] */
  double sig[LF_RQS_KMAX];                         /* softplus' = sigmoid */
} rqs;

static void softmax(int K, const LF_R *u, size_t st, double *out) {
  double mx = (double)u[0];
  for (int k = 1; k < K; k++)
    if ((double)u[(size_t)k * st] > mx) mx = (double)u[(size_t)k * st];
  double s = 0.0;
  for (int k = 0; k < K; k++) {
    out[k] = exp((double)u[(size_t)k * st] - mx);
    s += out[k];
  }
  for (int k = 0; k < K; k++) out[k] /= s;
}

static void build(int K, const LF_R *u, size_t st, rqs *r) {
  const double m = LF_RQS_MIN_BIN, scale = TWO_PI * (1.0 - (double)K * m);
  /* shift so that softplus(0 + c) = 1 - MIN_DERIV, i.e. d = 1 at u = 0 */
  const double c = log(expm1(1.0 - LF_RQS_MIN_DERIV));
  r->K = K;
  softmax(K, u, st, r->smw);
  softmax(K, u + (size_t)K * st, st, r->smh);
  r->xk[0] = r->yk[0] = 0.0;
  for (int k = 0; k < K; k++) {
    r->w[k] = TWO_PI * m + scale * r->smw[k];
    r->h[k] = TWO_PI * m + scale * r->smh[k];
    r->xk[k + 1] = r->xk[k] + r->w[k];
    r->yk[k + 1] = r->yk[k] + r->h[k];
    const double a = (double)u[(size_t)(2 * K + k) * st] + c;
    const double sp = a > 0.0 ? a + log1p(exp(-a)) : log1p(exp(a));
    r->d[k] = LF_RQS_MIN_DERIV + sp;
    r->sig[k] = 1.0 / (1.0 + exp(-a));
  }
  r->xk[K] = r->yk[K] = TWO_PI;
  r->d[K] = r->d[0];
}

/* largest k in [0, K) with knots[k] <= v */
static int find_bin(int K, const double *knots, double v) {
  int k = 0;
  while (k + 1 < K && knots[k + 1] <= v) k++;
  return k;
}

static double eval(const rqs *r, int k, double x, double *logj) {
  const double w = r->w[k], h = r->h[k], s = h / w, d0 = r->d[k], d1 = r->d[k + 1];
  const double xi = (x - r->xk[k]) / w, om = xi * (1.0 - xi);
  const double D = s + (d0 + d1 - 2.0 * s) * om;
  const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
  *logj = 2.0 * log(s) + log(N) - 2.0 * log(D);
  return r->yk[k] + h * (s * xi * xi + d0 * om) / D;
}

/* cy dy/du + cl dlogj/du accumulated into du (if du); returns cy dy/dx + cl dlogj/dx. */
static double vjp(const rqs *r, double x, double cy, double cl, LF_R *du, size_t dst) {
  const int K = r->K, k = find_bin(K, r->xk, x);
  const double w = r->w[k], h = r->h[k], s = h / w, d0 = r->d[k], d1 = r->d[k + 1];
  const double xi = (x - r->xk[k]) / w, om = xi * (1.0 - xi), t = d0 + d1 - 2.0 * s;
  const double A = s * xi * xi + d0 * om, D = s + t * om, g = A / D;
  const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
  const double dA_xi = 2.0 * s * xi + d0 * (1.0 - 2.0 * xi), dD_xi = t * (1.0 - 2.0 * xi);
  const double dA_s = xi * xi, dD_s = 1.0 - 2.0 * om;
  const double dN_xi = 2.0 * d1 * xi + 2.0 * s * (1.0 - 2.0 * xi) - 2.0 * d0 * (1.0 - xi);
  const double dN_s = 2.0 * om, dN_d0 = (1.0 - xi) * (1.0 - xi), dN_d1 = xi * xi;
  const double hy = cy * h / D;
  const double Gxi = hy * (dA_xi - g * dD_xi) + cl * (dN_xi / N - 2.0 * dD_xi / D);
  if (!du) return Gxi / w;
  const double Gs = hy * (dA_s - g * dD_s) + cl * (2.0 / s + dN_s / N - 2.0 * dD_s / D);
  const double Gd0 = hy * (om - g * om) + cl * (dN_d0 / N - 2.0 * om / D);
  const double Gd1 = hy * (-g * om) + cl * (dN_d1 / N - 2.0 * om / D);
  const double Gh = cy * g + Gs / w, Gw = -(Gxi * xi + Gs * s) / w;
  const double Gxk = -Gxi / w, Gyk = cy;
  /* gradients of the widths and heights: bin k directly, the earlier bins via the knot */
  double gw[LF_RQS_KMAX], gh[LF_RQS_KMAX];
  for (int j = 0; j < K; j++) {
    gw[j] = j < k ? Gxk : 0.0;
    gh[j] = j < k ? Gyk : 0.0;
  }
  gw[k] += Gw;
  gh[k] += Gh;
  /* through w = 2 pi m + scale softmax: du_j = scale sm_j (g_j - sum_i sm_i g_i) */
  const double scale = TWO_PI * (1.0 - (double)K * LF_RQS_MIN_BIN);
  double sw = 0.0, sh = 0.0;
  for (int j = 0; j < K; j++) {
    sw += r->smw[j] * gw[j];
    sh += r->smh[j] * gh[j];
  }
  for (int j = 0; j < K; j++) {
    du[(size_t)j * dst] += (LF_R)(scale * r->smw[j] * (gw[j] - sw));
    du[(size_t)(K + j) * dst] += (LF_R)(scale * r->smh[j] * (gh[j] - sh));
  }
  const int k1 = (k + 1) % K; /* d_K is d_0 */
  du[(size_t)(2 * K + k) * dst] += (LF_R)(Gd0 * r->sig[k]);
  du[(size_t)(2 * K + k1) * dst] += (LF_R)(Gd1 * r->sig[k1]);
  return Gxi / w;
}

LF_R LF_T(lf_rqs_forward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R *logj) {
  rqs r;
  build(K, u, stride, &r);
  double lj;
  const double y = eval(&r, find_bin(K, r.xk, (double)x), (double)x, &lj);
  *logj = (LF_R)lj;
  return (LF_R)y;
}

static double inverse(const rqs *r, double y, double *logj) {
  const int k = find_bin(r->K, r->yk, y);
  const double w = r->w[k], h = r->h[k], s = h / w, d0 = r->d[k], d1 = r->d[k + 1];
  const double dy = y - r->yk[k], t = d0 + d1 - 2.0 * s;
  const double a = h * (s - d0) + dy * t, b = h * d0 - dy * t, c = -s * dy;
  double disc = b * b - 4.0 * a * c;
  if (disc < 0.0) disc = 0.0;
  const double xi = 2.0 * c / (-b - sqrt(disc)); /* Durkan eq. 8: stable root */
  const double x = r->xk[k] + xi * w;
  const double om = xi * (1.0 - xi), D = s + t * om;
  const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
  *logj = -(2.0 * log(s) + log(N) - 2.0 * log(D));
  return x;
}

LF_R LF_T(lf_rqs_inverse)(int K, const LF_R *u, size_t stride, LF_R y, LF_R *logj) {
  rqs r;
  build(K, u, stride, &r);
  double lj;
  const double x = inverse(&r, (double)y, &lj);
  *logj = (LF_R)lj;
  return (LF_R)x;
}

LF_R LF_T(lf_rqs_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gy, LF_R gl, LF_R *du,
                           size_t dstride) {
  rqs r;
  build(K, u, stride, &r);
  return (LF_R)vjp(&r, (double)x, (double)gy, (double)gl, du, dstride);
}

LF_R LF_T(lf_rqs_inverse_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gx, LF_R gl,
                                   LF_R *du, size_t dstride) {
  rqs r;
  build(K, u, stride, &r);
  const double xd = (double)x;
  double lj;
  eval(&r, find_bin(K, r.xk, xd), xd, &lj);
  const double fp = exp(lj);
  const double dlj_dx = vjp(&r, xd, 0.0, 1.0, NULL, 0);
  const double G = (double)gx - (double)gl * dlj_dx;
  if (du) vjp(&r, xd, -G / fp, -(double)gl, du, dstride);
  return (LF_R)(G / fp);
}
