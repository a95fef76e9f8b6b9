/* tests/unit/test_spline.c: the circular rational-quadratic spline (latflow/gauge_flow.h).
 * Round trips, log-derivative against finite differences, gradients of forward and
 * inverse against central differences (double), periodicity of y and dy/dx across
 * 0 = 2 pi, the identity at zero parameters, and float against double. */
#include "latflow/gauge_flow.h"
#include "lftest.h"

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

int main(void) {
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
  return lf_test_result();
}
