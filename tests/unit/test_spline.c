/* tests/unit/test_spline.c: the circular rational-quadratic spline (latflow/gauge_flow.h).
 * Round trips, log-derivative against finite differences, gradients of forward and
 * inverse against central differences (double), periodicity of y and dy/dx across
 * 0 = 2 pi, the identity at zero parameters, and float against double; all of it for
 * every SIMD copy this CPU runs (generic, AVX2, AVX-512: lf_nn_set_isa), and the copies
 * against each other (they differ only through libmvec, in the last bits).
 * The batched functions of the gauge layers (src/flow/layer_impl.h, double): each of n
 * elements (n not a multiple of the block width, parameters with a row stride ld > n)
 * gives bit for bit the one-element function's result, for the forward, the inverse and
 * both gradients (du columns included), so a result depends neither on the element's
 * position in its block nor on the padding. */
#include "latflow/gauge_flow.h"
#include "latflow/nn.h"
#include "lftest.h"

/* the batched functions, double */
#define LF_R double
#define LF_T(name) name##_d
#include "flow/layer_impl.h"
#undef LF_R
#undef LF_T

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.28318530717958647692
#define KMAX 8

/* spline parameters with a spread that makes bins clearly unequal */
static void params(int K, uint32_t step, double amp, double *u) {
  lf_test_randn(step, (size_t)(3 * K), u);
  for (int j = 0; j < 3 * K; j++) u[j] *= amp;
}

typedef struct ctx {
  int K, inv;
  double u[3 * KMAX];
  double x;
  double cy, cl;
} ctx;

/* L = cy * f(x) + cl * logj (forward) or cy * f^-1(x) + cl * logj (inverse) */
static double loss(void *p) {
  ctx *c = p;
  double lj;
  const double y = c->inv ? lf_rqs_inverse_d(c->K, c->u, 1, c->x, &lj)
                          : lf_rqs_forward_d(c->K, c->u, 1, c->x, &lj);
  return c->cy * y + c->cl * lj;
}

static void check_K(int K, uint32_t seed) {
  double u[3 * KMAX];
  params(K, seed, 1.5, u);
  /* round trips and log-derivative on a grid covering every bin */
  double rt = 0.0, rti = 0.0, ldfd = 0.0, ldsum = 0.0, mono = 1.0;
  double yprev = -1.0;
  const int n = 997;
  for (int i = 0; i < n; i++) {
    const double x = TWO_PI * ((double)i + 0.5) / n;
    double lj, lji;
    const double y = lf_rqs_forward_d(K, u, 1, x, &lj);
    const double xb = lf_rqs_inverse_d(K, u, 1, y, &lji);
    rt = fmax(rt, fabs(xb - x));
    ldsum = fmax(ldsum, fabs(lj + lji));
    const double yi = lf_rqs_inverse_d(K, u, 1, x, &lji);
    rti = fmax(rti, fabs(lf_rqs_forward_d(K, u, 1, yi, &lj) - x));
    if (y <= yprev) mono = 0.0;
    yprev = y;
    const double h = 1e-5; /* FD error: O(h^2) inside a bin, O(h) across a knot */
    double a, b;
    const double fd =
        (lf_rqs_forward_d(K, u, 1, x + h, &a) - lf_rqs_forward_d(K, u, 1, x - h, &b)) / (2.0 * h);
    lf_rqs_forward_d(K, u, 1, x, &lj);
    ldfd = fmax(ldfd, fabs(log(fd) - lj));
  }
  CHECK(rt < 1e-12 && rti < 1e-12,
        "K=%d inverse(forward(x)) - x max %.2e, forward(inverse(y)) - y %.2e", K, rt, rti);
  CHECK(ldsum < 1e-11, "K=%d logj_forward + logj_inverse max %.2e", K, ldsum);
  CHECK(ldfd < 2e-6, "K=%d log dy/dx vs finite difference max %.2e", K, ldfd);
  CHECK(mono == 1.0, "K=%d strictly increasing on a %d-point grid", K, n);
  /* periodicity: y(0) = 0, y(2pi) = 2pi, slope at both ends equal */
  double l0, l1;
  const double y0 = lf_rqs_forward_d(K, u, 1, 0.0, &l0);
  const double y1 = lf_rqs_forward_d(K, u, 1, TWO_PI, &l1);
  double la, lb;
  const double e = 1e-11;
  const double ya = lf_rqs_forward_d(K, u, 1, e, &la),
               yb = lf_rqs_forward_d(K, u, 1, TWO_PI - e, &lb);
  CHECK(fabs(y0) < 1e-14 && fabs(y1 - TWO_PI) < 1e-13 && fabs(l0 - l1) < 1e-12 &&
            fabs(la - lb) < 1e-8,
        "K=%d periodic: y(0)=%.1e y(2pi)-2pi=%.1e, logj(0)-logj(2pi)=%.1e, across 0: %.1e; "
        "y(eps)=%.3e y(2pi-eps)-2pi=%.3e",
        K, y0, y1 - TWO_PI, l0 - l1, la - lb, ya, yb - TWO_PI);

  /* gradients against central differences, forward and inverse, at points in every bin */
  for (int inv = 0; inv < 2; inv++) {
    double worst_u = 0.0, worst_x = 0.0;
    for (int i = 0; i < 9; i++) {
      ctx c;
      c.K = K;
      c.inv = inv;
      memcpy(c.u, u, sizeof(double) * (size_t)(3 * K));
      c.x = TWO_PI * (0.04 + 0.107 * i);
      c.cy = 0.7 - 0.1 * i;
      c.cl = -0.3 + 0.09 * i;
      double du[3 * KMAX] = {0};
      double gx;
      if (!inv) {
        gx = lf_rqs_backward_d(K, c.u, 1, c.x, c.cy, c.cl, du, 1);
      } else {
        double lj;
        const double xo = lf_rqs_inverse_d(K, c.u, 1, c.x, &lj);
        gx = lf_rqs_inverse_backward_d(K, c.u, 1, xo, c.cy, c.cl, du, 1);
      }
      const double eu = lf_gradcheck(loss, &c, c.u, du, (size_t)(3 * K), 1e-6);
      const double ex = lf_gradcheck(loss, &c, &c.x, &gx, 1, 1e-6);
      worst_u = fmax(worst_u, eu);
      worst_x = fmax(worst_x, ex);
    }
    CHECK(worst_u < 1e-6 && worst_x < 1e-6,
          "K=%d %s gradients vs central FD: params %.2e, input %.2e", K,
          inv ? "inverse" : "forward", worst_u, worst_x);
  }

  /* float agrees with double */
  float uf[3 * KMAX];
  for (int j = 0; j < 3 * K; j++) uf[j] = (float)u[j];
  double dev = 0.0, devl = 0.0;
  for (int i = 0; i < 101; i++) {
    const double x = TWO_PI * ((double)i + 0.3) / 101;
    double lj;
    float ljf;
    const double y = lf_rqs_forward_d(K, u, 1, x, &lj);
    const float yf = lf_rqs_forward_f(K, uf, 1, (float)x, &ljf);
    dev = fmax(dev, fabs((double)yf - y));
    devl = fmax(devl, fabs((double)ljf - lj));
  }
  CHECK(dev < 1e-5 && devl < 1e-5, "K=%d float vs double: y %.2e, logj %.2e", K, dev, devl);
}

static void check_spline(void);

/* The batched functions against the one-element ones, bit for bit (see top). */
static void check_batched(int K, uint32_t seed) {
  enum { n = 29, ld = 31, dld = 33 };
  double u[3 * KMAX * ld], x[n], y[n], lj[n], xi[n], lji[n], gy[n], gl[n], gx[n], gxi[n];
  double du[3 * KMAX * dld], dui[3 * KMAX * dld];
  lf_test_randn(seed, (size_t)(3 * K * ld), u);
  lf_test_randn(seed + 1, n, gy);
  lf_test_randn(seed + 2, n, gl);
  for (int i = 0; i < 3 * K * ld; i++) u[i] *= 1.5;
  for (int i = 0; i < n; i++) x[i] = TWO_PI * ((double)i + 0.37) / n;
  x[0] = 0.0; /* the end points */
  x[n - 1] = nextafter(TWO_PI, 0.0);
  memset(du, 0, sizeof du);
  memset(dui, 0, sizeof dui);
  lf_rqs_forward_n_d(K, n, u, ld, x, y, lj);
  lf_rqs_inverse_n_d(K, n, u, ld, x, xi, lji);
  lf_rqs_backward_n_d(K, n, u, ld, x, gy, gl, du, dld, gx);
  lf_rqs_inverse_backward_n_d(K, n, u, ld, xi, gy, gl, dui, dld, gxi);
  int bad = 0;
  double moved = 0.0;
  for (int i = 0; i < n; i++) {
    double l1, l2, d1[3 * KMAX * dld], d2[3 * KMAX * dld];
    memset(d1, 0, sizeof d1);
    memset(d2, 0, sizeof d2);
    const double y1 = lf_rqs_forward_d(K, u + i, ld, x[i], &l1);
    const double x1 = lf_rqs_inverse_d(K, u + i, ld, x[i], &l2);
    const double g1 = lf_rqs_backward_d(K, u + i, ld, x[i], gy[i], gl[i], d1 + i, dld);
    const double g2 = lf_rqs_inverse_backward_d(K, u + i, ld, xi[i], gy[i], gl[i], d2 + i, dld);
    bad += memcmp(&y1, &y[i], sizeof y1) != 0 || memcmp(&l1, &lj[i], sizeof l1) != 0;
    bad += memcmp(&x1, &xi[i], sizeof x1) != 0 || memcmp(&l2, &lji[i], sizeof l2) != 0;
    bad += memcmp(&g1, &gx[i], sizeof g1) != 0 || memcmp(&g2, &gxi[i], sizeof g2) != 0;
    for (int j = 0; j < 3 * K; j++) {
      bad += memcmp(&d1[j * dld + i], &du[j * dld + i], sizeof *d1) != 0;
      bad += memcmp(&d2[j * dld + i], &dui[j * dld + i], sizeof *d2) != 0;
    }
    moved = fmax(moved, fabs(y[i] - x[i]));
  }
  /* nothing written outside the n columns */
  for (int j = 0; j < 3 * K; j++)
    for (int i = n; i < dld; i++) bad += du[j * dld + i] != 0.0 || dui[j * dld + i] != 0.0;
  CHECK(bad == 0 && moved > 0.05,
        "K=%d batched (n=%d, ld=%d) == one-element calls bit for bit: forward, inverse, "
        "both gradients with du; %d mismatches (max |y - x| %.3f)",
        K, n, ld, bad, moved);
}

/* y, logj and the gradients of a fixed set of inputs under the current ISA. */
static void isa_sample(int K, double *out) {
  double u[3 * KMAX], du[3 * KMAX];
  params(K, 7, 1.5, u);
  for (int i = 0; i < 20; i++) {
    const double x = TWO_PI * (i + 0.5) / 20;
    memset(du, 0, sizeof du);
    out[4 * i] = lf_rqs_forward_d(K, u, 1, x, &out[4 * i + 1]);
    out[4 * i + 2] = lf_rqs_backward_d(K, u, 1, x, 0.3, -0.7, du, 1);
    out[4 * i + 3] = du[i % (3 * K)];
  }
}

int main(void) {
  static const lf_nn_isa isas[] = {LF_ISA_GENERIC, LF_ISA_AVX2, LF_ISA_AVX512};
  double ref[80], cur[80];
  lf_nn_set_isa(LF_ISA_GENERIC);
  isa_sample(8, ref);
  for (int k = 0; k < 3; k++) {
    const lf_nn_isa got = lf_nn_set_isa(isas[k]);
    if (got != isas[k]) {
      printf("skip %s: not on this CPU\n", lf_nn_isa_name(isas[k]));
      continue;
    }
    printf("---- ISA %s\n", lf_nn_isa_name(got));
    isa_sample(8, cur);
    double dev = 0.0;
    for (int i = 0; i < 80; i++) dev = fmax(dev, fabs(cur[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
    CHECK(dev < 1e-14, "%s vs generic: y, logj and gradients agree to %.1e (relative)",
          lf_nn_isa_name(got), dev);
    check_batched(1, 20);
    check_batched(3, 21);
    check_batched(8, 22);
    check_spline();
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  return lf_test_result();
}

static void check_spline(void) {
  /* identity at zero parameters */
  double u0[3 * KMAX] = {0};
  double worst = 0.0, wl = 0.0;
  for (int i = 0; i < 50; i++) {
    double lj;
    const double x = TWO_PI * i / 50.0;
    worst = fmax(worst, fabs(lf_rqs_forward_d(8, u0, 1, x, &lj) - x));
    wl = fmax(wl, fabs(lj));
  }
  CHECK(worst < 1e-13 && wl < 1e-13, "zero parameters: |f(x) - x| %.2e, |logj| %.2e", worst, wl);
  /* strided parameters (as the layer reads them from (3K, V) net outputs) */
  double us[3 * 4 * 3];
  double uc[3 * 4];
  params(4, 9, 1.0, uc);
  for (int j = 0; j < 12; j++) us[j * 3] = uc[j], us[j * 3 + 1] = us[j * 3 + 2] = 99.0;
  double la, lb;
  const double ya = lf_rqs_forward_d(4, uc, 1, 2.0, &la), yb = lf_rqs_forward_d(4, us, 3, 2.0, &lb);
  CHECK(ya == yb && la == lb, "stride 3 gives the same y (%.15f vs %.15f)", ya, yb);
  check_K(1, 1);
  check_K(2, 2);
  check_K(5, 3);
  check_K(8, 4);
}
