/* src/flow/spline_t.c: circular rational-quadratic spline (contract: latflow/gauge_flow_t.h;
 * the batched entries used by the gauge layers: src/flow/layer_impl.h).
 *
 * Durkan et al., arXiv 1906.04032, eq. 4 (forward), 5 (derivative), 6-8 (inverse);
 * the circular boundary condition (f(0) = 0, f(2 pi) = 2 pi, d_K = d_0) is that of
 * Rezende et al., arXiv 2002.02428, section 3. The arithmetic of one element runs in
 * double in both precisions: it keeps the quadratic solve of the inverse accurate in
 * float (the float build only converts at the interface), and a float result rounds the
 * same whichever libm computed the double (see "Vectorization").
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
 * dL/du = -(G / f'(x)) df/du|_x - gl dlogj/du|_x.
 *
 * Vectorization. Elements go through the spline in blocks of W lanes held in
 * structure-of-arrays form (row j of a block is element l's j-th value at [j][l]), so
 * every loop over lanes vectorizes: the bin search counts the knots below x (no
 * branches; the knots increase strictly, so the count is the bin), the bin's values are
 * picked by a select over the K bins, and exp, log and log1p are glibc's libmvec
 * variants (_ZGV*_exp, ...; LF_GAUGE_LIBMVEC in layer_impl.h). Each entry point runs a
 * generic (SSE2), an AVX2 or an AVX-512 copy of the same source, picked by
 * lf_nn_isa_current() (the conv kernels' choice, latflow/nn.h). A block's last lanes past
 * the end are padded with the identity spline and dropped, so an element's result does not
 * depend on its position, the batch size or the chunking; it depends on the ISA only
 * through libmvec (whose variants differ in the last bit of some results, as the conv
 * kernels' do). The scalar entries of the contract are one-lane calls of the same code.
 * The operations are otherwise those of the scalar formulas above, in the same order. */
#include "latflow/gauge_flow.h"
#include "latflow/nn.h"

#include "core/prec.h"
#include "layer_impl.h"

#include <math.h>
#include <stddef.h>

#define TWO_PI 6.28318530717958647692
#define W LF_RQS_LANES
#define KM LF_RQS_KMAX

LF_GAUGE_LIBMVEC

/* W splines: knots, bin widths and heights, their softmaxes, the slopes (row K = row 0)
 * and the softplus derivatives (only for the gradients). */
typedef struct blk {
  double xk[KM + 1][W], yk[KM + 1][W];
  double w[KM][W], h[KM][W];
  double smw[KM][W], smh[KM][W];
  double d[KM + 1][W];
  double sig[KM][W];
} blk;

/* One block's elements i0 .. i0+nl-1 (nl <= W) of the parameters u (3K rows of ld) into
 * ub (3K, W); lanes >= nl get u = 0 (the identity spline). */
LF_INLINE void load_u(int K, const LF_R *u, size_t ld, size_t i0, int nl, double (*ub)[W]) {
  for (int j = 0; j < 3 * K; j++) {
    const LF_R *r = u + (size_t)j * ld + i0;
    if (nl == W)
      LF_LANES(l, W) ub[j][l] = (double)r[l];
    else
      LF_LANES(l, W) ub[j][l] = l < nl ? (double)r[l] : 0.0;
  }
}

/* x (nl values; padded with 1) */
LF_INLINE void load_x(const LF_R *x, int nl, double *xb) {
  LF_LANES(l, W) xb[l] = l < nl ? (double)x[l] : 1.0;
}

LF_INLINE void softmax(int K, double (*u)[W], double (*out)[W]) {
  double mx[W], s[W];
  LF_LANES(l, W) mx[l] = u[0][l], s[l] = 0.0;
  for (int k = 1; k < K; k++) LF_LANES(l, W) mx[l] = u[k][l] > mx[l] ? u[k][l] : mx[l];
  for (int k = 0; k < K; k++) LF_LANES(l, W) out[k][l] = exp(u[k][l] - mx[l]);
  for (int k = 0; k < K; k++) LF_LANES(l, W) s[l] += out[k][l];
  for (int k = 0; k < K; k++) LF_LANES(l, W) out[k][l] /= s[l];
}

/* The splines of ub (3K, W); the softplus derivatives only if want_sig. The softplus
 * max(a, 0) + log1p(e^-|a|) is a + log1p(e^-a) for a > 0 and log1p(e^a) otherwise. */
LF_INLINE void build(int K, double (*ub)[W], int want_sig, blk *r) {
  const double m = LF_RQS_MIN_BIN, scale = TWO_PI * (1.0 - (double)K * m);
  /* shift so that softplus(0 + c) = 1 - MIN_DERIV, i.e. d = 1 at u = 0 */
  const double c = log(expm1(1.0 - LF_RQS_MIN_DERIV));
  softmax(K, ub, r->smw);
  softmax(K, ub + K, r->smh);
  LF_LANES(l, W) r->xk[0][l] = r->yk[0][l] = 0.0;
  for (int k = 0; k < K; k++) LF_LANES(l, W) {
      r->w[k][l] = TWO_PI * m + scale * r->smw[k][l];
      r->h[k][l] = TWO_PI * m + scale * r->smh[k][l];
      r->xk[k + 1][l] = r->xk[k][l] + r->w[k][l];
      r->yk[k + 1][l] = r->yk[k][l] + r->h[k][l];
    }
  for (int k = 0; k < K; k++) LF_LANES(l, W) {
      const double a = ub[2 * K + k][l] + c;
      const double sp = (a > 0.0 ? a : 0.0) + log1p(exp(-fabs(a)));
      r->d[k][l] = LF_RQS_MIN_DERIV + sp;
    }
  if (want_sig)
    for (int k = 0; k < K; k++)
      LF_LANES(l, W) r->sig[k][l] = 1.0 / (1.0 + exp(-(ub[2 * K + k][l] + c)));
  LF_LANES(l, W) {
    r->xk[K][l] = r->yk[K][l] = TWO_PI;
    r->d[K][l] = r->d[0][l];
  }
}

/* The bin of each lane (as a double): the number of knots 1 .. K-1 at or below v, i.e.
 * the largest k in [0, K) with knots[k] <= v (0 for v below the first knot or NaN). */
LF_INLINE void find_bin(int K, double (*knots)[W], const double *v, double *kb) {
  LF_LANES(l, W) kb[l] = 0.0;
  for (int j = 1; j < K; j++) LF_LANES(l, W) kb[l] += knots[j][l] <= v[l] ? 1.0 : 0.0;
}

/* The values of each lane's bin kb: x_k, y_k, w_k, h_k, d_k, d_{k+1}. */
typedef struct binv {
  double xk[W], yk[W], w[W], h[W], d0[W], d1[W];
} binv;

LF_INLINE void pick(int K, const blk *r, const double *kb, binv *p) {
  LF_LANES(l, W) {
    p->xk[l] = r->xk[0][l], p->yk[l] = r->yk[0][l], p->w[l] = r->w[0][l];
    p->h[l] = r->h[0][l], p->d0[l] = r->d[0][l], p->d1[l] = r->d[1][l];
  }
  for (int j = 1; j < K; j++) LF_LANES(l, W) {
      const int on = kb[l] == (double)j;
      p->xk[l] = on ? r->xk[j][l] : p->xk[l];
      p->yk[l] = on ? r->yk[j][l] : p->yk[l];
      p->w[l] = on ? r->w[j][l] : p->w[l];
      p->h[l] = on ? r->h[j][l] : p->h[l];
      p->d0[l] = on ? r->d[j][l] : p->d0[l];
      p->d1[l] = on ? r->d[j + 1][l] : p->d1[l];
    }
}

/* y = f(x), lj = log f'(x) of a block */
LF_INLINE void eval(const binv *p, const double *x, double *y, double *lj) {
  LF_LANES(l, W) {
    const double w = p->w[l], h = p->h[l], s = h / w, d0 = p->d0[l], d1 = p->d1[l];
    const double xi = (x[l] - p->xk[l]) / w, om = xi * (1.0 - xi);
    const double D = s + (d0 + d1 - 2.0 * s) * om;
    const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
    lj[l] = 2.0 * log(s) + log(N) - 2.0 * log(D);
    y[l] = p->yk[l] + h * (s * xi * xi + d0 * om) / D;
  }
}

/* x = f^-1(y), lj = log dx/dy = -log f'(x) of a block (the bins are those of y) */
LF_INLINE void inverse(const binv *p, const double *y, double *x, double *lj) {
  LF_LANES(l, W) {
    const double w = p->w[l], h = p->h[l], s = h / w, d0 = p->d0[l], d1 = p->d1[l];
    const double dy = y[l] - p->yk[l], t = d0 + d1 - 2.0 * s;
    const double a = h * (s - d0) + dy * t, b = h * d0 - dy * t, c = -s * dy;
    double disc = b * b - 4.0 * a * c;
    disc = disc < 0.0 ? 0.0 : disc;
    const double xi = 2.0 * c / (-b - sqrt(disc)); /* Durkan eq. 8: stable root */
    x[l] = p->xk[l] + xi * w;
    const double om = xi * (1.0 - xi), D = s + t * om;
    const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
    lj[l] = -(2.0 * log(s) + log(N) - 2.0 * log(D));
  }
}

/* For each lane, cy dy/du + cl dlogj/du accumulated into du (3K rows of dld, elements
 * i0 .. i0+nl-1) and cy dy/dx + cl dlogj/dx into gx. */
LF_INLINE void vjp(int K, const blk *r, const double *kb, const binv *p, const double *x,
                   const double *cy, const double *cl, LF_R *du, size_t dld, size_t i0, int nl,
                   double *gx) {
  double Gxk[W], Gw[W], Gh[W], Gd0[W], Gd1[W];
  LF_LANES(l, W) {
    const double w = p->w[l], h = p->h[l], s = h / w, d0 = p->d0[l], d1 = p->d1[l];
    const double xi = (x[l] - p->xk[l]) / w, om = xi * (1.0 - xi), t = d0 + d1 - 2.0 * s;
    const double A = s * xi * xi + d0 * om, D = s + t * om, g = A / D;
    const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
    const double dA_xi = 2.0 * s * xi + d0 * (1.0 - 2.0 * xi), dD_xi = t * (1.0 - 2.0 * xi);
    const double dA_s = xi * xi, dD_s = 1.0 - 2.0 * om;
    const double dN_xi = 2.0 * d1 * xi + 2.0 * s * (1.0 - 2.0 * xi) - 2.0 * d0 * (1.0 - xi);
    const double dN_s = 2.0 * om, dN_d0 = (1.0 - xi) * (1.0 - xi), dN_d1 = xi * xi;
    const double hy = cy[l] * h / D;
    const double Gxi = hy * (dA_xi - g * dD_xi) + cl[l] * (dN_xi / N - 2.0 * dD_xi / D);
    const double Gs = hy * (dA_s - g * dD_s) + cl[l] * (2.0 / s + dN_s / N - 2.0 * dD_s / D);
    Gd0[l] = hy * (om - g * om) + cl[l] * (dN_d0 / N - 2.0 * om / D);
    Gd1[l] = hy * (-g * om) + cl[l] * (dN_d1 / N - 2.0 * om / D);
    Gh[l] = cy[l] * g + Gs / w;
    Gw[l] = -(Gxi * xi + Gs * s) / w;
    Gxk[l] = -Gxi / w;
    gx[l] = Gxi / w;
  }
  /* gradients of the widths and heights: bin k directly, the earlier bins via the knot
   * (d/dy_k = cy); then through w = 2 pi m + scale softmax:
   * du_j = scale sm_j (g_j - sum_i sm_i g_i) */
  const double scale = TWO_PI * (1.0 - (double)K * LF_RQS_MIN_BIN);
  double gw[KM][W], gh[KM][W], sw[W], sh[W];
  LF_LANES(l, W) sw[l] = sh[l] = 0.0;
  for (int j = 0; j < K; j++) LF_LANES(l, W) {
      const double jj = (double)j;
      gw[j][l] = jj < kb[l] ? Gxk[l] : (jj == kb[l] ? 0.0 + Gw[l] : 0.0);
      gh[j][l] = jj < kb[l] ? cy[l] : (jj == kb[l] ? 0.0 + Gh[l] : 0.0);
      sw[l] += r->smw[j][l] * gw[j][l];
      sh[l] += r->smh[j][l] * gh[j][l];
    }
  for (int j = 0; j < K; j++) {
    LF_R *rw = du + (size_t)j * dld + i0, *rh = du + (size_t)(K + j) * dld + i0;
    if (nl == W) {
      LF_LANES(l, W) {
        rw[l] += (LF_R)(scale * r->smw[j][l] * (gw[j][l] - sw[l]));
        rh[l] += (LF_R)(scale * r->smh[j][l] * (gh[j][l] - sh[l]));
      }
    } else {
      for (int l = 0; l < nl; l++) {
        rw[l] += (LF_R)(scale * r->smw[j][l] * (gw[j][l] - sw[l]));
        rh[l] += (LF_R)(scale * r->smh[j][l] * (gh[j][l] - sh[l]));
      }
    }
  }
  /* the slopes d_k and d_{k+1} (d_K is d_0) */
  for (int l = 0; l < nl; l++) {
    const int k = (int)kb[l], k1 = (k + 1) % K;
    du[(size_t)(2 * K + k) * dld + i0 + (size_t)l] += (LF_R)(Gd0[l] * r->sig[k][l]);
    du[(size_t)(2 * K + k1) * dld + i0 + (size_t)l] += (LF_R)(Gd1[l] * r->sig[k1][l]);
  }
}

/* ---- the batched operations over n elements, one body for every ISA ------------------ */

LF_INLINE void forward_body(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x, LF_R *y,
                            LF_R *logj, int inv) {
  blk r;
  binv p;
  double ub[3 * KM][W], xb[W], yb[W], lj[W], kb[W];
  for (size_t i0 = 0; i0 < n; i0 += W) {
    const int nl = n - i0 < W ? (int)(n - i0) : W;
    load_u(K, u, ld, i0, nl, ub);
    load_x(x + i0, nl, xb);
    build(K, ub, 0, &r);
    find_bin(K, inv ? r.yk : r.xk, xb, kb);
    pick(K, &r, kb, &p);
    if (inv)
      inverse(&p, xb, yb, lj);
    else
      eval(&p, xb, yb, lj);
    for (int l = 0; l < nl; l++) {
      y[i0 + (size_t)l] = (LF_R)yb[l];
      logj[i0 + (size_t)l] = (LF_R)lj[l];
    }
  }
}

/* inv = 0: x is the forward's input, gy = dL/dy; writes gx = dL/dx.
 * inv = 1: x is the inverse's output, gy = dL/dx; writes gx = dL/dy. */
LF_INLINE void backward_body(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x,
                             const LF_R *gy, const LF_R *gl, LF_R *du, size_t dld, LF_R *gx,
                             int inv) {
  blk r;
  binv p;
  double ub[3 * KM][W], xb[W], cy[W], cl[W], kb[W], g[W];
  for (size_t i0 = 0; i0 < n; i0 += W) {
    const int nl = n - i0 < W ? (int)(n - i0) : W;
    load_u(K, u, ld, i0, nl, ub);
    load_x(x + i0, nl, xb);
    LF_LANES(l, W) {
      cy[l] = l < nl ? (double)gy[i0 + (size_t)l] : 0.0;
      cl[l] = l < nl ? (double)gl[i0 + (size_t)l] : 0.0;
    }
    build(K, ub, 1, &r);
    find_bin(K, r.xk, xb, kb);
    pick(K, &r, kb, &p);
    if (inv) {
      /* f'(x) = exp(logj), dlogj/dx (the gradient with cy = 0, cl = 1), then the
       * implicit-function coefficients (see top) */
      double yb[W], lj[W];
      eval(&p, xb, yb, lj);
      LF_LANES(l, W) {
        const double w = p.w[l], s = p.h[l] / w, d0 = p.d0[l], d1 = p.d1[l];
        const double xi = (xb[l] - p.xk[l]) / w, om = xi * (1.0 - xi), t = d0 + d1 - 2.0 * s;
        const double D = s + t * om;
        const double N = d1 * xi * xi + 2.0 * s * om + d0 * (1.0 - xi) * (1.0 - xi);
        const double dD_xi = t * (1.0 - 2.0 * xi);
        const double dN_xi = 2.0 * d1 * xi + 2.0 * s * (1.0 - 2.0 * xi) - 2.0 * d0 * (1.0 - xi);
        const double dlj_dx = (dN_xi / N - 2.0 * dD_xi / D) / w;
        const double fp = exp(lj[l]);
        const double G = cy[l] - cl[l] * dlj_dx;
        g[l] = G / fp;
        cy[l] = -G / fp;
        cl[l] = -cl[l];
      }
      double unused[W];
      vjp(K, &r, kb, &p, xb, cy, cl, du, dld, i0, nl, unused);
    } else {
      vjp(K, &r, kb, &p, xb, cy, cl, du, dld, i0, nl, g);
    }
    for (int l = 0; l < nl; l++) gx[i0 + (size_t)l] = (LF_R)g[l];
  }
}

LF_GAUGE_ISA_COPIES(forward,
                    (int K, size_t n, const LF_R *u, size_t ld, const LF_R *x, LF_R *y, LF_R *logj,
                     int inv),
                    (K, n, u, ld, x, y, logj, inv))
LF_GAUGE_ISA_COPIES(backward,
                    (int K, size_t n, const LF_R *u, size_t ld, const LF_R *x, const LF_R *gy,
                     const LF_R *gl, LF_R *du, size_t dld, LF_R *gx, int inv),
                    (K, n, u, ld, x, gy, gl, du, dld, gx, inv))

void LF_T(lf_rqs_forward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x, LF_R *y,
                            LF_R *logj) {
  forward(K, n, u, ld, x, y, logj, 0);
}

void LF_T(lf_rqs_inverse_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *y, LF_R *x,
                            LF_R *logj) {
  forward(K, n, u, ld, y, x, logj, 1);
}

void LF_T(lf_rqs_backward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x,
                             const LF_R *gy, const LF_R *gl, LF_R *du, size_t dld, LF_R *gx) {
  backward(K, n, u, ld, x, gy, gl, du, dld, gx, 0);
}

void LF_T(lf_rqs_inverse_backward_n)(int K, size_t n, const LF_R *u, size_t ld, const LF_R *x,
                                     const LF_R *gx, const LF_R *gl, LF_R *du, size_t dld,
                                     LF_R *gy) {
  backward(K, n, u, ld, x, gx, gl, du, dld, gy, 1);
}

/* ---- the one-element entries of the contract ------------------------------------------ */

LF_R LF_T(lf_rqs_forward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R *logj) {
  LF_R y;
  forward(K, 1, u, stride, &x, &y, logj, 0);
  return y;
}

LF_R LF_T(lf_rqs_inverse)(int K, const LF_R *u, size_t stride, LF_R y, LF_R *logj) {
  LF_R x;
  forward(K, 1, u, stride, &y, &x, logj, 1);
  return x;
}

/* du may be NULL: then into a local buffer that is dropped */
LF_R LF_T(lf_rqs_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gy, LF_R gl, LF_R *du,
                           size_t dstride) {
  LF_R gx, dloc[3 * KM] = {0};
  backward(K, 1, u, stride, &x, &gy, &gl, du ? du : dloc, du ? dstride : 1, &gx, 0);
  return gx;
}

LF_R LF_T(lf_rqs_inverse_backward)(int K, const LF_R *u, size_t stride, LF_R x, LF_R gx, LF_R gl,
                                   LF_R *du, size_t dstride) {
  LF_R gy, dloc[3 * KM] = {0};
  backward(K, 1, u, stride, &x, &gx, &gl, du ? du : dloc, du ? dstride : 1, &gy, 1);
  return gy;
}
