/* Affine checkerboard coupling (latflow/flow_t.h), double precision unless noted:
 * inverse(forward(x)) == x; logdet == log|det J| of the brute-force (central difference)
 * Jacobian on a 2x4 lattice; finite-difference checks of _backward and
 * _inverse_backward w.r.t. the input and every parameter with
 * loss = sum(r*out) + sum_b c_b logdet_b; accumulation; float agrees with double. */
#include "latflow/flow.h"
#include "latflow/lattice.h"
#include "latflow/rng.h"
#include "latflow/timer.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

static const int HIDDEN[2] = {3, 5};

static void randn(uint32_t step, size_t n, double *out) {
  lf_rng_normal(lf_rng_key_make(99, LF_STREAM_TEST), step, 0, n, out);
}

/* One coupling layer with its own arenas and buffers. */
typedef struct fix {
  lf_lattice lat;
  lf_coupling_d c;
  int B, C, n; /* n = B*C*V */
  size_t np;
  double *p, *g, *ws, *scratch;
  double *x, *y, *back, *r, *cw, *logdet, *d;
  int inverse; /* loss through the inverse instead of the forward */
} fix;

static void fix_init(fix *f, int L0, int L1, int C, int B, int parity, lf_act_kind act) {
  memset(f, 0, sizeof *f);
  if (lf_lattice_init(&f->lat, L0, L1, 0) != LF_OK) {
    fprintf(stderr, "lattice: %s\n", lf_last_error());
    exit(1);
  }
  f->B = B;
  f->C = C;
  f->n = B * C * L0 * L1;
  f->np = lf_coupling_nparams_d(C, 2, HIDDEN, 3);
  f->p = lf_alloc(f->np * sizeof(double));
  f->g = lf_alloc(f->np * sizeof(double));
  lf_coupling_bind_d(&f->c, C, L0, L1, parity, 2, HIDDEN, 3, act, f->lat.parity, f->p, f->g);
  f->ws = lf_alloc(lf_coupling_ws_size_d(&f->c, B) * sizeof(double));
  f->scratch = lf_alloc(lf_coupling_scratch_size_d(&f->c, B) * sizeof(double));
  f->x = lf_alloc((size_t)f->n * sizeof(double));
  f->y = lf_alloc((size_t)f->n * sizeof(double));
  f->back = lf_alloc((size_t)f->n * sizeof(double));
  f->r = lf_alloc((size_t)f->n * sizeof(double));
  f->d = lf_alloc((size_t)f->n * sizeof(double));
  f->cw = lf_alloc((size_t)B * sizeof(double));
  f->logdet = lf_alloc((size_t)B * sizeof(double));
  lf_coupling_init_d(&f->c, LF_INIT_KAIMING, 1.0, lf_rng_key_make(7, LF_STREAM_INIT), 0);
  /* biases of a fresh init are small; scale all parameters up so s, t are O(1) */
  for (size_t i = 0; i < f->np; i++) f->p[i] *= 1.5;
  randn(1, (size_t)f->n, f->x);
  randn(2, (size_t)f->n, f->r);
  randn(3, (size_t)B, f->cw);
}

static void fix_free(fix *f) {
  lf_free(f->p);
  lf_free(f->g);
  lf_free(f->ws);
  lf_free(f->scratch);
  lf_free(f->x);
  lf_free(f->y);
  lf_free(f->back);
  lf_free(f->r);
  lf_free(f->d);
  lf_free(f->cw);
  lf_free(f->logdet);
  lf_lattice_free(&f->lat);
}

/* loss = sum(r*out) + sum_b cw_b logdet_b, out = forward(x) or inverse(x) */
static double loss(void *ctx) {
  fix *f = ctx;
  memset(f->logdet, 0, (size_t)f->B * sizeof(double));
  if (f->inverse)
    lf_coupling_inverse_d(&f->c, f->B, f->x, f->y, f->logdet, f->ws, f->scratch);
  else
    lf_coupling_forward_d(&f->c, f->B, f->x, f->y, f->logdet, f->ws, f->scratch);
  double s = 0.0;
  for (int i = 0; i < f->n; i++) s += f->r[i] * f->y[i];
  for (int b = 0; b < f->B; b++) s += f->cw[b] * f->logdet[b];
  return s;
}

/* analytic gradients of loss: g (params) and d (input), both zeroed first */
static void analytic(fix *f, int want_input) {
  memset(f->g, 0, f->np * sizeof(double));
  memset(f->d, 0, (size_t)f->n * sizeof(double));
  loss(f);
  if (f->inverse)
    lf_coupling_inverse_backward_d(&f->c, f->B, f->x, f->r, f->cw, want_input ? f->d : NULL, f->ws,
                                   f->scratch);
  else
    lf_coupling_backward_d(&f->c, f->B, f->x, f->r, f->cw, want_input ? f->d : NULL, f->ws,
                           f->scratch);
}

static void check_layer(int L0, int L1, int C, int parity, lf_act_kind act, int jacobian) {
  const char *an = act == LF_ACT_TANH ? "tanh" : "leaky_relu";
  fix f;
  fix_init(&f, L0, L1, C, 3, parity, act);
  const int B = f.B, nper = f.n / B;

  /* 1. inverse(forward(x)) == x, logdet_inv == -logdet */
  double ld[3] = {0, 0, 0}, ldi[3] = {0, 0, 0};
  lf_coupling_forward_d(&f.c, B, f.x, f.y, ld, f.ws, f.scratch);
  lf_coupling_inverse_d(&f.c, B, f.y, f.back, ldi, f.ws, f.scratch);
  double smax = 0.0, moved = 0.0;
  for (int b = 0; b < B; b++) smax = fmax(smax, fabs(ld[b]));
  moved = lf_test_maxabsdiff((size_t)f.n, f.x, f.y);
  CHECK(lf_test_maxabsdiff((size_t)f.n, f.x, f.back) < 1e-12 && moved > 0.1,
        "%dx%d C=%d parity %d %s: |inverse(forward(x)) - x| = %.2e (layer moves x by %.2f)", L0, L1,
        C, parity, an, lf_test_maxabsdiff((size_t)f.n, f.x, f.back), moved);
  double sumld = 0.0;
  for (int b = 0; b < B; b++) sumld = fmax(sumld, fabs(ld[b] + ldi[b]));
  CHECK(sumld < 1e-12 && smax > 0.1, "logdet_fwd + logdet_inv = %.2e (|logdet| up to %.3f)", sumld,
        smax);
  /* frozen sites untouched, and logdet is accumulated (+=) */
  int frozen_ok = 1;
  for (int b = 0; b < B; b++)
    for (int ch = 0; ch < C; ch++)
      for (int v = 0; v < f.lat.V; v++) {
        const size_t i = ((size_t)b * C + ch) * f.lat.V + v;
        if (f.lat.parity[v] != parity && f.y[i] != f.x[i]) frozen_ok = 0;
      }
  CHECK(frozen_ok, "frozen sites (parity != %d) pass through bit-exactly", parity);
  double ld2[3] = {1.0, 2.0, 3.0};
  lf_coupling_forward_d(&f.c, B, f.x, f.y, ld2, f.ws, f.scratch);
  CHECK(fabs(ld2[2] - 3.0 - ld[2]) < 1e-14, "logdet accumulates: %.15f vs 3 + %.15f", ld2[2],
        ld[2]);

  /* 2. brute-force Jacobian: J_b[i][j] = dy_b[i]/dx_b[j] by central differences */
  if (jacobian) {
    double *J = calloc((size_t)B * nper * nper, sizeof(double));
    double *yp = calloc((size_t)f.n, sizeof(double)), *ym = calloc((size_t)f.n, sizeof(double));
    double tmp[3];
    const double h = 1e-5;
    for (int j = 0; j < nper; j++) {
      for (int b = 0; b < B; b++) f.x[b * nper + j] += h;
      lf_coupling_forward_d(&f.c, B, f.x, yp, tmp, f.ws, f.scratch);
      for (int b = 0; b < B; b++) f.x[b * nper + j] -= 2 * h;
      lf_coupling_forward_d(&f.c, B, f.x, ym, tmp, f.ws, f.scratch);
      for (int b = 0; b < B; b++) f.x[b * nper + j] += h;
      for (int b = 0; b < B; b++)
        for (int i = 0; i < nper; i++)
          J[((size_t)b * nper + i) * nper + j] = (yp[b * nper + i] - ym[b * nper + i]) / (2 * h);
    }
    double worst = 0.0;
    for (int b = 0; b < B; b++) {
      const double bf = lf_test_logabsdet(nper, J + (size_t)b * nper * nper);
      worst = fmax(worst, fabs(bf - ld[b]));
    }
    CHECK(worst < 1e-8, "logdet vs log|det J| of the brute-force %dx%d Jacobian: max diff %.2e",
          nper, nper, worst);
    free(J);
    free(yp);
    free(ym);
  }

  /* 3. gradients of the forward and of the inverse */
  for (int inv = 0; inv < 2; inv++) {
    f.inverse = inv;
    const char *w = inv ? "inverse" : "forward";
    analytic(&f, 1);
    double *gp = malloc(f.np * sizeof(double)), *gx = malloc((size_t)f.n * sizeof(double));
    memcpy(gp, f.g, f.np * sizeof(double));
    memcpy(gx, f.d, (size_t)f.n * sizeof(double));
    const double ep = lf_gradcheck(loss, &f, f.p, gp, f.np, 1e-5);
    CHECK(ep < 1e-6, "%s backward: FD check of %zu parameters: worst rel err %.2e", w, f.np, ep);
    const double ex = lf_gradcheck(loss, &f, f.x, gx, (size_t)f.n, 1e-5);
    CHECK(ex < 1e-6, "%s backward: FD check of %d inputs: worst rel err %.2e", w, f.n, ex);
    /* without the input gradient: the same parameter gradients */
    analytic(&f, 0);
    CHECK(lf_test_maxabsdiff(f.np, f.g, gp) < 1e-14,
          "%s backward with d_in = NULL: same parameter grads (diff %.1e)", w,
          lf_test_maxabsdiff(f.np, f.g, gp));
    /* accumulation: a second backward adds the same again */
    analytic(&f, 1);
    if (inv)
      lf_coupling_inverse_backward_d(&f.c, B, f.x, f.r, f.cw, f.d, f.ws, f.scratch);
    else
      lf_coupling_backward_d(&f.c, B, f.x, f.r, f.cw, f.d, f.ws, f.scratch);
    double acc = 0.0;
    for (size_t i = 0; i < f.np; i++) acc = fmax(acc, fabs(f.g[i] - 2 * gp[i]));
    for (int i = 0; i < f.n; i++) acc = fmax(acc, fabs(f.d[i] - 2 * gx[i]));
    CHECK(acc < 1e-12, "%s backward accumulates (+=) into grads and d_in (diff %.1e)", w, acc);
    free(gp);
    free(gx);
  }
  f.inverse = 0;
  fix_free(&f);
}

/* The float layer with the same parameters agrees with the double one. */
static void check_float(void) {
  fix f;
  fix_init(&f, 4, 6, 1, 3, 1, LF_ACT_LEAKY_RELU);
  lf_coupling_f cf;
  float *pf = lf_alloc(f.np * sizeof(float)), *gf = lf_alloc(f.np * sizeof(float));
  for (size_t i = 0; i < f.np; i++) pf[i] = (float)f.p[i];
  lf_coupling_bind_f(&cf, 1, 4, 6, 1, 2, HIDDEN, 3, LF_ACT_LEAKY_RELU, f.lat.parity, pf, gf);
  float *ws = lf_alloc(lf_coupling_ws_size_f(&cf, 3) * sizeof(float));
  float *sc = lf_alloc(lf_coupling_scratch_size_f(&cf, 3) * sizeof(float));
  float *xf = lf_alloc((size_t)f.n * sizeof(float)), *yf = lf_alloc((size_t)f.n * sizeof(float));
  for (int i = 0; i < f.n; i++) xf[i] = (float)f.x[i];
  double ldd[3] = {0, 0, 0}, ldf[3] = {0, 0, 0};
  lf_coupling_forward_d(&f.c, 3, f.x, f.y, ldd, f.ws, f.scratch);
  lf_coupling_forward_f(&cf, 3, xf, yf, ldf, ws, sc);
  double ey = 0.0, ymax = 0.0, el = 0.0;
  for (int i = 0; i < f.n; i++) {
    ey = fmax(ey, fabs((double)yf[i] - f.y[i]));
    ymax = fmax(ymax, fabs(f.y[i]));
  }
  for (int b = 0; b < 3; b++) el = fmax(el, fabs(ldf[b] - ldd[b]) / fmax(1.0, fabs(ldd[b])));
  CHECK(ey / ymax < 1e-5 && el < 1e-5, "float vs double forward: rel diff y %.1e, logdet %.1e",
        ey / ymax, el);
  lf_free(pf);
  lf_free(gf);
  lf_free(ws);
  lf_free(sc);
  lf_free(xf);
  lf_free(yf);
  fix_free(&f);
}

int main(void) {
  CHECK(lf_coupling_nparams_d(1, 2, HIDDEN, 3) == (size_t)(30 + 140 + 92),
        "nparams(C=1, hidden [3,5], k=3) = %zu (expected 262)",
        lf_coupling_nparams_d(1, 2, HIDDEN, 3));
  check_layer(2, 4, 1, 0, LF_ACT_TANH, 1);
  check_layer(2, 4, 1, 1, LF_ACT_LEAKY_RELU, 1);
  check_layer(4, 6, 1, 1, LF_ACT_TANH, 1);
  check_layer(4, 6, 2, 0, LF_ACT_LEAKY_RELU, 1);
  check_float();
  return lf_test_result();
}
