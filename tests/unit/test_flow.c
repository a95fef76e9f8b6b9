/* The stack of coupling layers (lf_flow_*, latflow/flow_t.h), double precision:
 * inverse(forward(z)) == z to 1e-12; logdet == log|det dphi/dz| of the brute-force
 * Jacobian; FD checks of lf_flow_backward (loss = sum(r*phi) + sum_b c_b logdet_b) and
 * lf_flow_inverse_backward (loss = sum(r*z) + sum_b c_b logdet_b) w.r.t. every parameter
 * and the input; NULL gradient arguments; arena layout and init determinism. */
#include "latflow/flow.h"
#include "latflow/lattice.h"
#include "latflow/rng.h"
#include "latflow/timer.h"
#include "flow_test.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

static lf_model_cfg small_cfg(int layers, lf_act_kind act) {
  return flow_test_cfg(LF_BASE_NORMAL, 1.0, layers, act, LF_PREC_F64);
}

typedef struct fix {
  lf_lattice lat;
  lf_flow_d f;
  int B, n;
  size_t np;
  double *p, *g, *in, *out, *back, *r, *cw, *logdet, *d;
  int inverse;
} fix;

static void fix_init(fix *x, const lf_model_cfg *cfg, int L0, int L1, int B, int Bmax) {
  memset(x, 0, sizeof *x);
  if (lf_lattice_init(&x->lat, L0, L1, 0) != LF_OK) exit(1);
  x->B = B;
  x->n = B * L0 * L1;
  x->np = lf_flow_nparams_d(cfg, 1);
  x->p = lf_alloc(x->np * sizeof(double));
  x->g = lf_alloc(x->np * sizeof(double));
  if (lf_flow_init_d(&x->f, cfg, 1, L0, L1, x->lat.parity, x->p, x->g, Bmax) != LF_OK) {
    fprintf(stderr, "flow init: %s\n", lf_last_error());
    exit(1);
  }
  lf_flow_init_params_d(&x->f, cfg->init, cfg->init_scale, lf_rng_key_make(11, LF_STREAM_INIT), 0);
  for (size_t i = 0; i < x->np; i++) x->p[i] *= 1.5; /* s, t of O(1) */
  const size_t n = (size_t)x->n;
  x->in = lf_alloc(n * sizeof(double));
  x->out = lf_alloc(n * sizeof(double));
  x->back = lf_alloc(n * sizeof(double));
  x->r = lf_alloc(n * sizeof(double));
  x->d = lf_alloc(n * sizeof(double));
  x->cw = lf_alloc((size_t)B * sizeof(double));
  x->logdet = lf_alloc((size_t)B * sizeof(double));
  lf_test_randn(1, n, x->in);
  lf_test_randn(2, n, x->r);
  lf_test_randn(3, (size_t)B, x->cw);
}

static void fix_free(fix *x) {
  lf_flow_free_d(&x->f);
  lf_free(x->p);
  lf_free(x->g);
  lf_free(x->in);
  lf_free(x->out);
  lf_free(x->back);
  lf_free(x->r);
  lf_free(x->d);
  lf_free(x->cw);
  lf_free(x->logdet);
  lf_lattice_free(&x->lat);
}

static double loss(void *ctx) {
  fix *x = ctx;
  if (x->inverse)
    lf_flow_inverse_d(&x->f, x->B, x->in, x->out, x->logdet);
  else
    lf_flow_forward_d(&x->f, x->B, x->in, x->out, x->logdet);
  double s = 0.0;
  for (int i = 0; i < x->n; i++) s += x->r[i] * x->out[i];
  for (int b = 0; b < x->B; b++) s += x->cw[b] * x->logdet[b];
  return s;
}

static void analytic(fix *x) {
  memset(x->g, 0, x->np * sizeof(double));
  for (int i = 0; i < x->n; i++) x->d[i] = 1e30; /* must be overwritten */
  loss(x);
  if (x->inverse)
    lf_flow_inverse_backward_d(&x->f, x->B, x->r, x->cw, x->d);
  else
    lf_flow_backward_d(&x->f, x->B, x->r, x->cw, x->d);
}

static void check_stack(int L0, int L1, int layers, lf_act_kind act) {
  const char *an = act == LF_ACT_TANH ? "tanh" : "leaky_relu";
  const lf_model_cfg cfg = small_cfg(layers, act);
  fix x;
  fix_init(&x, &cfg, L0, L1, 3, 5); /* B = 3 below Bmax = 5 */
  const int B = x.B, nper = L0 * L1;
  const size_t n = (size_t)x.n;

  /* 1. round trip */
  double ld[3], ldi[3];
  lf_flow_forward_d(&x.f, B, x.in, x.out, ld);
  lf_flow_inverse_d(&x.f, B, x.out, x.back, ldi);
  double sld = 0.0, mag = 0.0;
  for (int b = 0; b < B; b++) {
    sld = fmax(sld, fabs(ld[b] + ldi[b]));
    mag = fmax(mag, fabs(ld[b]));
  }
  CHECK(lf_test_maxabsdiff(n, x.in, x.back) < 1e-12 && lf_test_maxabsdiff(n, x.in, x.out) > 0.1,
        "%dx%d %d layers %s: |inverse(forward(z)) - z| = %.2e (flow moves z by %.2f)", L0, L1,
        layers, an, lf_test_maxabsdiff(n, x.in, x.back), lf_test_maxabsdiff(n, x.in, x.out));
  CHECK(sld < 1e-12 && mag > 0.1, "logdet_fwd + logdet_inv = %.2e (|logdet| up to %.3f)", sld, mag);
  /* logdet is overwritten by the stack */
  double ld2[3] = {5, 5, 5};
  lf_flow_forward_d(&x.f, B, x.in, x.out, ld2);
  CHECK(lf_test_maxabsdiff(3, ld, ld2) == 0.0, "stack overwrites logdet (diff %.1e)",
        lf_test_maxabsdiff(3, ld, ld2));

  /* 2. brute-force Jacobian of the whole stack */
  double *J = calloc((size_t)B * nper * nper, sizeof(double));
  double *yp = calloc(n, sizeof(double)), *ym = calloc(n, sizeof(double)), tmp[3];
  const double h = 1e-5;
  for (int j = 0; j < nper; j++) {
    for (int b = 0; b < B; b++) x.in[b * nper + j] += h;
    lf_flow_forward_d(&x.f, B, x.in, yp, tmp);
    for (int b = 0; b < B; b++) x.in[b * nper + j] -= 2 * h;
    lf_flow_forward_d(&x.f, B, x.in, ym, tmp);
    for (int b = 0; b < B; b++) x.in[b * nper + j] += h;
    for (int b = 0; b < B; b++)
      for (int i = 0; i < nper; i++)
        J[((size_t)b * nper + i) * nper + j] = (yp[b * nper + i] - ym[b * nper + i]) / (2 * h);
  }
  double worst = 0.0;
  for (int b = 0; b < B; b++)
    worst = fmax(worst, fabs(lf_test_logabsdet(nper, J + (size_t)b * nper * nper) - ld[b]));
  CHECK(worst < 1e-8, "stack logdet vs log|det J| of the brute-force %dx%d Jacobian: %.2e", nper,
        nper, worst);
  free(J);
  free(yp);
  free(ym);

  /* 3. FD checks, forward and inverse */
  for (int inv = 0; inv < 2; inv++) {
    x.inverse = inv;
    const char *w = inv ? "inverse_backward" : "backward";
    analytic(&x);
    double *gp = malloc(x.np * sizeof(double)), *gx = malloc(n * sizeof(double));
    memcpy(gp, x.g, x.np * sizeof(double));
    memcpy(gx, x.d, n * sizeof(double));
    const double ep = lf_gradcheck_scaled(loss, &x, x.p, gp, x.np, 1e-5);
    const double ep_rel = lf_gradcheck(loss, &x, x.p, gp, x.np, 1e-5);
    CHECK(ep < 1e-6,
          "flow %s: FD check of %zu parameters: worst err %.2e (scaled), %.2e (pure relative)", w,
          x.np, ep, ep_rel);
    const double ex = lf_gradcheck_scaled(loss, &x, x.in, gx, n, 1e-5);
    CHECK(ex < 1e-6, "flow %s: FD check of %zu inputs: worst err %.2e (scaled)", w, n, ex);
    /* NULL input gradient: same parameter grads; grads accumulate over calls */
    memset(x.g, 0, x.np * sizeof(double));
    loss(&x);
    if (inv)
      lf_flow_inverse_backward_d(&x.f, B, x.r, x.cw, NULL);
    else
      lf_flow_backward_d(&x.f, B, x.r, x.cw, NULL);
    CHECK(lf_test_maxabsdiff(x.np, x.g, gp) < 1e-13,
          "flow %s with NULL d_in: same grads (diff %.1e)", w, lf_test_maxabsdiff(x.np, x.g, gp));
    if (inv)
      lf_flow_inverse_backward_d(&x.f, B, x.r, x.cw, NULL);
    else
      lf_flow_backward_d(&x.f, B, x.r, x.cw, NULL);
    double acc = 0.0;
    for (size_t i = 0; i < x.np; i++) acc = fmax(acc, fabs(x.g[i] - 2 * gp[i]));
    CHECK(acc < 1e-12, "flow %s accumulates parameter grads (diff %.1e)", w, acc);
    /* NULL output gradient and NULL dlogdet: only the logdet path, only the field path */
    memset(x.g, 0, x.np * sizeof(double));
    loss(&x);
    if (inv) {
      lf_flow_inverse_backward_d(&x.f, B, NULL, x.cw, NULL);
      lf_flow_inverse_backward_d(&x.f, B, x.r, NULL, NULL);
    } else {
      lf_flow_backward_d(&x.f, B, NULL, x.cw, NULL);
      lf_flow_backward_d(&x.f, B, x.r, NULL, NULL);
    }
    CHECK(lf_test_maxabsdiff(x.np, x.g, gp) < 1e-12,
          "flow %s: (NULL, dlogdet) + (dout, NULL) = full gradient (diff %.1e)", w,
          lf_test_maxabsdiff(x.np, x.g, gp));
    free(gp);
    free(gx);
  }
  fix_free(&x);
}

int main(void) {
  /* layout and init: layer i's params at i * nparams(layer); init is a function of the
   * seed and the offset only */
  {
    const lf_model_cfg cfg = small_cfg(3, LF_ACT_TANH);
    CHECK(lf_flow_nparams_d(&cfg, 1) == 3 * 262, "flow nparams = %zu (3 layers x 262)",
          lf_flow_nparams_d(&cfg, 1));
    fix a, b;
    fix_init(&a, &cfg, 2, 4, 3, 3);
    fix_init(&b, &cfg, 2, 4, 3, 3);
    CHECK(memcmp(a.p, b.p, a.np * sizeof(double)) == 0, "same seed: bitwise-identical init");
    const lf_coupling_d *l0 = lf_flow_layer_d(&a.f, 0), *l1 = lf_flow_layer_d(&a.f, 1),
                        *l2 = lf_flow_layer_d(&a.f, 2);
    CHECK(l1->conv[0].w == a.p + 262 && l2->conv[2].bias == a.p + 3 * 262 - 2,
          "arena layout: layer 1 starts at 262, last bias at 3*262-2");
    CHECK(l0->parity == 0 && l1->parity == 1 && l2->parity == 0,
          "layer parities alternate 0, 1, 0");
    /* init with offset: the layers' draws shift with the offset */
    lf_flow_init_params_d(&b.f, cfg.init, cfg.init_scale, lf_rng_key_make(11, LF_STREAM_INIT),
                          1000);
    CHECK(memcmp(a.p, b.p, a.np * sizeof(double)) != 0,
          "a different arena offset gives other draws");
    fix_free(&a);
    fix_free(&b);
  }
  /* invalid configurations are refused with a message */
  {
    lf_model_cfg cfg = small_cfg(2, LF_ACT_TANH);
    lf_lattice lat;
    lf_lattice_init(&lat, 2, 3, 1);
    double p[1], g[1];
    lf_flow_d f;
    lf_status rc = lf_flow_init_d(&f, &cfg, 1, 2, 3, lat.parity, p, g, 4);
    CHECK(rc == LF_ERR_INVALID, "odd lattice 2x3 refused: %s", lf_last_error());
    cfg.kernel = 2;
    rc = lf_flow_init_d(&f, &cfg, 1, 2, 4, lat.parity, p, g, 4);
    CHECK(rc == LF_ERR_INVALID, "even kernel refused: %s", lf_last_error());
    lf_flow_free_d(&f);
    lf_lattice_free(&lat);
  }
  check_stack(2, 4, 4, LF_ACT_TANH);
  check_stack(2, 4, 3, LF_ACT_LEAKY_RELU);
  check_stack(4, 6, 4, LF_ACT_LEAKY_RELU);
  return lf_test_result();
}
