/* tests/unit/test_gauge_flow.c: gauge-equivariant U(1) coupling layers and their stack
 * (latflow/gauge_flow.h), on a 4x4 lattice (2V = 32 link angles), in double unless said:
 *   (a) inverse(forward(theta)) = theta mod 2 pi, and the other way round
 *   (b) logdet against log|det J| of a brute-force central-difference Jacobian, both ways
 *   (c) parameter and input gradients of L = sum r.out + sum c_b logdet_b against central
 *       differences, for the forward (RT) and the inverse (RE)
 *   (d) gauge equivariance: f(T_a theta) = T_a f(theta) mod 2 pi, logdet unchanged
 *   (e) the same for a stack of 8 layers (every mask once)
 *   (f) float against double
 *   (g) the model (base haar or plaquette + coupling spline): log q of the sampling path
 *       equals log q of the density path, nograd equals sample, and both parameter
 *       gradients (RT through sample_backward, RE through logq_backward; with plaquette
 *       they include the base's 3K spline parameters, started at base_beta = 1.3 and
 *       perturbed) against central differences
 *   (h) the no-grad forward of the stack (the layers' forward_nograd over chunks of
 *       samples) on an 8x12 lattice, float and double: phi and logdet equal the saved
 *       forward's bit for bit with a batch that splits into several chunks and a
 *       remainder, a backward after an interleaved no-grad call gives the same gradients
 *       bit for bit (the saved state is intact), phi may alias z; on the same lattice the
 *       masks hold (frozen plaquettes unchanged, only active links move, V/4 active) and
 *       the round trip closes
 *   (j) the normalization identity E_q[d log q(phi)/d theta] = 0 (the score of the RE
 *       estimator) over 64000 samples: haar, every parameter; plaquette, the base's
 *       spline parameters (its coupling-layer parameters carry a known bias, printed)
 *   (i) the SIMD copies (lf_nn_set_isa generic, AVX2, AVX-512; libmvec in the splines
 *       and cos/sin): the stack's forward and gradients agree across them to 1e-12
 * Plaquettes and gauge transformations are computed here, independently of the library. */
#include "latflow/gauge_flow.h"
#include "latflow/model.h"
#include "latflow/nn.h"
#include "lftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.28318530717958647692
#define L 4
#define V (L * L)
#define N (2 * V)
#define BATCH 2
#define K 4

/* angle difference a - b in (-pi, pi] */
static double adiff(double a, double b) {
  double d = fmod(a - b, TWO_PI);
  if (d > M_PI) d -= TWO_PI;
  if (d <= -M_PI) d += TWO_PI;
  return d;
}

static void uniform_links(uint32_t step, size_t n, double *t) {
  lf_rng_uniform_n(lf_rng_key_make(11, LF_STREAM_TEST), step, 0, n, t);
  for (size_t i = 0; i < n; i++) t[i] *= TWO_PI;
}

static int site(int x0, int x1) {
  return ((x0 % L + L) % L) * L + (x1 % L + L) % L;
}

/* T_a: theta_mu(x) -> theta_mu(x) + a(x) - a(x + mu^) */
static void gauge(const double *a, const double *t, double *out) {
  for (int x0 = 0; x0 < L; x0++)
    for (int x1 = 0; x1 < L; x1++) {
      const int v = site(x0, x1);
      out[v] = t[v] + a[v] - a[site(x0 + 1, x1)];
      out[V + v] = t[V + v] + a[v] - a[site(x0, x1 + 1)];
    }
}

static double plaq(const double *t, int x0, int x1) {
  return t[site(x0, x1)] + t[V + site(x0 + 1, x1)] - t[site(x0, x1 + 1)] - t[V + site(x0, x1)];
}

/* ---- a "flow" under test: one layer with a chosen mask, or the stack ------------------ */
typedef struct tflow {
  int stack;
  lf_model_cfg cfg;
  double *params, *grads; /* double arenas */
  size_t np;
  lf_gcoupling_d layer;
  double *ws, *scratch;
  lf_flow_d fl;
} tflow;

static void tflow_init(tflow *t, int stack, int mu, int off) {
  memset(t, 0, sizeof *t);
  t->stack = stack;
  t->cfg.layers = stack ? 8 : 1;
  t->cfg.nhidden = 1;
  t->cfg.hidden[0] = 5;
  t->cfg.kernel = 3;
  t->cfg.activation = LF_ACT_TANH;
  t->cfg.coupling = LF_COUPLING_SPLINE; /* the stack of gauge layers */
  t->cfg.spline_bins = K;
  t->np = lf_flow_nparams_d(&t->cfg, 2);
  t->params = calloc(t->np, sizeof(double));
  t->grads = calloc(t->np, sizeof(double));
  if (stack) {
    lf_status rc = lf_flow_init_d(&t->fl, &t->cfg, 2, L, L, NULL, t->params, t->grads, BATCH);
    CHECK(rc == LF_OK, "gflow init: %s", rc == LF_OK ? "ok" : lf_last_error());
    lf_flow_init_params_d(&t->fl, LF_INIT_KAIMING, 1.0, lf_rng_key_make(3, LF_STREAM_INIT), 0);
  } else {
    lf_gcoupling_bind_d(&t->layer, L, L, mu, off, K, 1, t->cfg.hidden, 3, LF_ACT_TANH, t->params,
                        t->grads);
    lf_gcoupling_init_d(&t->layer, LF_INIT_KAIMING, 1.0,
                        lf_rng_key_make(3 + (uint64_t)(mu * 4 + off), LF_STREAM_INIT), 0);
    t->ws = calloc(lf_gcoupling_ws_size_d(&t->layer, BATCH), sizeof(double));
    t->scratch = calloc(lf_gcoupling_scratch_size_d(&t->layer, BATCH), sizeof(double));
  }
}

static void tflow_free(tflow *t) {
  if (t->stack) lf_flow_free_d(&t->fl);
  free(t->params);
  free(t->grads);
  free(t->ws);
  free(t->scratch);
}

/* out = f(in) (inv = 0) or f^-1(in) (inv = 1), logdet overwritten */
static void run(tflow *t, int B, int inv, const double *in, double *out, double *logdet) {
  if (t->stack) {
    if (inv)
      lf_flow_inverse_d(&t->fl, B, in, out, logdet);
    else
      lf_flow_forward_d(&t->fl, B, in, out, logdet);
    return;
  }
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  if (inv)
    lf_gcoupling_inverse_d(&t->layer, B, in, out, logdet, t->ws, t->scratch);
  else
    lf_gcoupling_forward_d(&t->layer, B, in, out, logdet, t->ws, t->scratch);
}

/* after run with the same inv and in: grads += ..., din = dL/din (overwritten) */
static void run_backward(tflow *t, int B, int inv, const double *in, const double *dout,
                         const double *dlogdet, double *din) {
  if (t->stack) {
    if (inv)
      lf_flow_inverse_backward_d(&t->fl, B, dout, dlogdet, din);
    else
      lf_flow_backward_d(&t->fl, B, dout, dlogdet, din);
    return;
  }
  memset(din, 0, (size_t)B * N * sizeof *din);
  if (inv)
    lf_gcoupling_inverse_backward_d(&t->layer, B, in, dout, dlogdet, din, t->ws, t->scratch);
  else
    lf_gcoupling_backward_d(&t->layer, B, in, dout, dlogdet, din, t->ws, t->scratch);
}

/* ---- loss for gradchecks: L = sum r . unwrap(out) + sum c logdet ---------------------- */
typedef struct lctx {
  tflow *t;
  int inv;
  double in[BATCH * N], r[BATCH * N], c[BATCH], ref[BATCH * N];
} lctx;

static double loss(void *p) {
  lctx *l = p;
  double out[BATCH * N], ld[BATCH];
  run(l->t, BATCH, l->inv, l->in, out, ld);
  double s = 0.0;
  for (int i = 0; i < BATCH * N; i++) s += l->r[i] * (l->ref[i] + adiff(out[i], l->ref[i]));
  for (int b = 0; b < BATCH; b++) s += l->c[b] * ld[b];
  return s;
}

static void check_flow(tflow *t, const char *name, uint32_t seed) {
  double th[BATCH * N], y[BATCH * N], back[BATCH * N], ld[BATCH], ldb[BATCH];
  uniform_links(seed, BATCH * N, th);

  /* (a) round trips */
  for (int inv = 0; inv < 2; inv++) {
    run(t, BATCH, inv, th, y, ld);
    run(t, BATCH, !inv, y, back, ldb);
    double e = 0.0, el = 0.0, moved = 0.0;
    for (int i = 0; i < BATCH * N; i++) {
      e = fmax(e, fabs(adiff(back[i], th[i])));
      moved = fmax(moved, fabs(adiff(y[i], th[i])));
    }
    for (int b = 0; b < BATCH; b++) el = fmax(el, fabs(ld[b] + ldb[b]));
    CHECK(e < 1e-10 && el < 1e-10 && moved > 1e-2,
          "%s: %s then %s: max |dtheta| mod 2pi %.2e, |logdet sum| %.2e (the map moves links by "
          "up to %.3f, logdet %.4f)",
          name, inv ? "inverse" : "forward", inv ? "forward" : "inverse", e, el, moved, ld[0]);
  }

  /* (b) brute-force Jacobian of sample 0 */
  for (int inv = 0; inv < 2; inv++) {
    double *J = malloc(sizeof(double) * N * N);
    double xp[BATCH * N], yp[BATCH * N], ym[BATCH * N];
    const double h = 1e-6;
    memcpy(xp, th, sizeof xp);
    for (int j = 0; j < N; j++) {
      xp[j] = th[j] + h;
      run(t, BATCH, inv, xp, yp, ld);
      xp[j] = th[j] - h;
      run(t, BATCH, inv, xp, ym, ld);
      xp[j] = th[j];
      for (int i = 0; i < N; i++) J[(size_t)i * N + j] = adiff(yp[i], ym[i]) / (2.0 * h);
    }
    run(t, BATCH, inv, th, y, ld);
    const double bf = lf_test_logabsdet(N, J);
    CHECK(fabs(bf - ld[0]) < 1e-6,
          "%s: %s logdet %.10f vs brute-force log|det J| (%dx%d) %.10f: "
          "diff %.2e",
          name, inv ? "inverse" : "forward", ld[0], N, N, bf, fabs(bf - ld[0]));
    free(J);
  }

  /* (c) gradients against central differences */
  for (int inv = 0; inv < 2; inv++) {
    lctx *l = malloc(sizeof *l);
    l->t = t;
    l->inv = inv;
    memcpy(l->in, th, sizeof th);
    lf_test_randn(seed + 100, BATCH * N, l->r);
    lf_test_randn(seed + 200, BATCH, l->c);
    run(t, BATCH, inv, th, l->ref, ld);
    double din[BATCH * N];
    memset(t->grads, 0, t->np * sizeof(double));
    run_backward(t, BATCH, inv, th, l->r, l->c, din);
    const double ep = lf_gradcheck_scaled(loss, l, t->params, t->grads, t->np, 1e-5);
    const double ex = lf_gradcheck_scaled(loss, l, l->in, din, BATCH * N, 1e-5);
    const double epr = lf_gradcheck(loss, l, t->params, t->grads, t->np, 1e-5);
    /* dL/dparams accumulates: a second backward doubles it */
    double *g1 = malloc(t->np * sizeof(double));
    memcpy(g1, t->grads, t->np * sizeof(double));
    run(t, BATCH, inv, th, y, ld);
    run_backward(t, BATCH, inv, th, l->r, l->c, din);
    double acc = 0.0;
    for (size_t i = 0; i < t->np; i++) acc = fmax(acc, fabs(t->grads[i] - 2.0 * g1[i]));
    CHECK(ep < 1e-6 && ex < 1e-6 && acc < 1e-12,
          "%s: %s gradients vs central FD: %zu params worst err %.2e (plain relative %.2e), "
          "%d inputs %.2e; accumulation %.1e",
          name, inv ? "inverse (RE)" : "forward (RT)", t->np, ep, epr, BATCH * N, ex, acc);
    free(g1);
    free(l);
  }

  /* (d) gauge equivariance */
  double a[V], ga[BATCH * N], fga[BATCH * N], gfa[BATCH * N], ld2[BATCH];
  uniform_links(seed + 300, V, a);
  for (int b = 0; b < BATCH; b++) gauge(a, th + b * N, ga + b * N);
  for (int inv = 0; inv < 2; inv++) {
    run(t, BATCH, inv, th, y, ld);
    for (int b = 0; b < BATCH; b++) gauge(a, y + b * N, gfa + b * N);
    run(t, BATCH, inv, ga, fga, ld2);
    double e = 0.0, el = 0.0;
    for (int i = 0; i < BATCH * N; i++) e = fmax(e, fabs(adiff(fga[i], gfa[i])));
    for (int b = 0; b < BATCH; b++) el = fmax(el, fabs(ld[b] - ld2[b]));
    CHECK(e < 1e-10 && el < 1e-10,
          "%s: %s gauge equivariance: max |f(T th) - T f(th)| mod 2pi %.2e, |logdet diff| %.2e",
          name, inv ? "inverse" : "forward", e, el);
  }
}

/* The masks: active plaquettes hold exactly one active link (of direction mu), and frozen
 * plaquettes keep their value under the layer. */
static void check_masks(void) {
  int bad = 0;
  for (int mu = 0; mu < 2; mu++)
    for (int off = 0; off < 4; off++) {
      tflow t;
      tflow_init(&t, 0, mu, off);
      double th[BATCH * N], y[BATCH * N], ld[BATCH];
      uniform_links(50 + (uint32_t)(mu * 4 + off), BATCH * N, th);
      run(&t, BATCH, 0, th, y, ld);
      int nact = 0;
      for (int x0 = 0; x0 < L; x0++)
        for (int x1 = 0; x1 < L; x1++) {
          const int v = site(x0, x1), cl = lf_gcoupling_plaq_class_d(&t.layer, v);
          const double d = adiff(plaq(y, x0, x1), plaq(th, x0, x1));
          if (cl == 1 && fabs(d) > 1e-12) bad++;
          if (cl == 0) nact++;
          /* links of the other direction never change; links of mu only at active sites */
          if (fabs(adiff(y[(1 - mu) * V + v], th[(1 - mu) * V + v])) != 0.0) bad++;
          if (cl != 0 && fabs(adiff(y[mu * V + v], th[mu * V + v])) != 0.0) bad++;
        }
      if (nact != V / 4) bad++;
      tflow_free(&t);
    }
  CHECK(bad == 0,
        "masks (8 mu/offset pairs): frozen plaquettes unchanged, only active links move, "
        "V/4 active plaquettes; %d violations",
        bad);
}

/* (f) the float stack with the same parameters */
static void check_float(void) {
  tflow t;
  tflow_init(&t, 1, 0, 0);
  float *pf = malloc(t.np * sizeof(float)), *gf = calloc(t.np, sizeof(float));
  for (size_t i = 0; i < t.np; i++) pf[i] = (float)t.params[i];
  lf_flow_f ff;
  lf_status rc = lf_flow_init_f(&ff, &t.cfg, 2, L, L, NULL, pf, gf, BATCH);
  CHECK(rc == LF_OK, "float gflow init");
  double th[BATCH * N], y[BATCH * N], ld[BATCH], ldf[BATCH];
  float thf[BATCH * N], yf[BATCH * N];
  uniform_links(77, BATCH * N, th);
  for (int i = 0; i < BATCH * N; i++) thf[i] = (float)th[i];
  run(&t, BATCH, 0, th, y, ld);
  lf_flow_forward_f(&ff, BATCH, thf, yf, ldf);
  double e = 0.0, el = 0.0;
  for (int i = 0; i < BATCH * N; i++) e = fmax(e, fabs(adiff((double)yf[i], y[i])));
  for (int b = 0; b < BATCH; b++) el = fmax(el, fabs(ldf[b] - ld[b]) / fmax(1.0, fabs(ld[b])));
  /* and the float gradients */
  double dz[BATCH * N], r[BATCH * N], c[BATCH];
  float dzf[BATCH * N], rf[BATCH * N];
  lf_test_randn(400, BATCH * N, r);
  lf_test_randn(401, BATCH, c);
  for (int i = 0; i < BATCH * N; i++) rf[i] = (float)r[i];
  lf_flow_backward_d(&t.fl, BATCH, r, c, dz);
  lf_flow_backward_f(&ff, BATCH, rf, c, dzf);
  double eg = 0.0, gmax = 0.0;
  for (size_t i = 0; i < t.np; i++) {
    eg = fmax(eg, fabs((double)gf[i] - t.grads[i]));
    gmax = fmax(gmax, fabs(t.grads[i]));
  }
  double ez = 0.0, zmax = 0.0;
  for (int i = 0; i < BATCH * N; i++) {
    ez = fmax(ez, fabs((double)dzf[i] - dz[i]));
    zmax = fmax(zmax, fabs(dz[i]));
  }
  CHECK(e < 1e-5 && el < 1e-5 && eg < 1e-4 * fmax(1.0, gmax) && ez < 1e-4 * fmax(1.0, zmax),
        "float vs double, 8 layers: theta %.2e, logdet (rel) %.2e (logdet %.4f); param grads "
        "%.2e (max |g| %.2f), dz %.2e",
        e, el, ld[0], eg, gmax, ez);
  lf_flow_free_f(&ff);
  free(pf);
  free(gf);
  tflow_free(&t);
}

/* ---- (g) the model ------------------------------------------------------------------- */
typedef struct mctx {
  lf_model *m;
  int re; /* 1: L = sum c logq(phi fixed); 0: L = sum r.phi + sum c logq of a sample */
  double *eps, *phi, *ref, *r, *c, *p;
  int B;
} mctx;

static double mloss(void *q) {
  mctx *x = q;
  const int n = N;
  double logq[4], *out = malloc(sizeof(double) * (size_t)x->B * n);
  lf_model_set_params(x->m, x->p);
  double s = 0.0;
  if (x->re) {
    lf_model_logq(x->m, x->B, x->phi, logq);
  } else {
    lf_model_sample(x->m, x->B, x->eps, out, logq);
    for (int i = 0; i < x->B * n; i++) s += x->r[i] * (x->ref[i] + adiff(out[i], x->ref[i]));
  }
  for (int b = 0; b < x->B; b++) s += x->c[b] * logq[b];
  free(out);
  return s;
}

/* A double-precision gauge model: base, its start base_beta (plaquette), bins, layers, one
 * hidden layer of `hidden` channels, kernel 3, activation act, Kaiming scale 1. */
static lf_model_cfg gauge_cfg(lf_base_kind base, double base_beta, int bins, int layers, int hidden,
                              lf_act_kind act) {
  lf_model_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base = base;
  cfg.base_beta = base_beta;
  cfg.coupling = LF_COUPLING_SPLINE;
  cfg.spline_bins = bins;
  cfg.layers = layers;
  cfg.nhidden = 1;
  cfg.hidden[0] = hidden;
  cfg.kernel = 3;
  cfg.activation = act;
  cfg.init = LF_INIT_KAIMING;
  cfg.init_scale = 1.0;
  cfg.precision = LF_PREC_F64;
  return cfg;
}

static void check_model(lf_base_kind base) {
  const char *bname = base == LF_BASE_PLAQUETTE ? "plaquette" : "haar";
  /* plaquette: base_beta 1.3, a non-trivial spline start */
  lf_model_cfg cfg = gauge_cfg(base, 1.3, 6, 8, 5, LF_ACT_TANH);
  lf_model m;
  lf_status rc = lf_model_init(&m, &cfg, 2, L, L, 3);
  CHECK(rc == LF_OK, "model %s + spline init: %s", bname, rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  lf_model_init_params(&m, 17);
  if (base == LF_BASE_PLAQUETTE) { /* move the spline off its fitted start */
    double *p0 = malloc(m.nparams * sizeof(double)), d[3 * 6];
    lf_model_get_params(&m, p0);
    lf_test_randn(503, (size_t)m.nbase, d);
    for (size_t j = 0; j < m.nbase; j++) p0[j] += 0.3 * d[j];
    lf_model_set_params(&m, p0);
    free(p0);
  }
  const int B = 3;
  double eps[3 * N], phi[3 * N], phi2[3 * N], ref[3 * N], r[3 * N], c[3], logq[3], logq2[3],
      logq3[3];
  lf_test_randn(500, (size_t)B * N, eps);
  lf_test_randn(501, (size_t)B * N, r);
  lf_test_randn(502, (size_t)B, c);
  lf_model_sample(&m, B, eps, phi, logq);
  lf_model_sample_nograd(&m, B, eps, phi2, logq2);
  int same = memcmp(phi, phi2, sizeof phi) == 0 && memcmp(logq, logq2, sizeof logq) == 0;
  double lo = 1e300, hi = -1e300;
  for (int i = 0; i < B * N; i++) lo = fmin(lo, phi[i]), hi = fmax(hi, phi[i]);
  lf_model_logq(&m, B, phi, logq3);
  double e = 0.0;
  for (int b = 0; b < B; b++) e = fmax(e, fabs(logq3[b] - logq[b]));
  CHECK(same && lo >= 0.0 && hi < TWO_PI && e < 1e-10,
        "model %s: nograd bitwise equal %d, phi in [%.3f, %.3f], |logq(sample) - logq(phi)| "
        "%.2e (logq %.4f, Haar alone %.4f)",
        bname, same, lo, hi, e, logq[0], -N * log(TWO_PI));

  double *p = malloc(m.nparams * sizeof(double)), *g = malloc(m.nparams * sizeof(double));
  lf_model_get_params(&m, p);
  memcpy(ref, phi, sizeof ref);
  mctx x = {&m, 0, eps, phi, ref, r, c, p, B};
  for (int re = 0; re < 2; re++) {
    x.re = re;
    lf_model_set_params(&m, p); /* the FD loop leaves the last parameter perturbed */
    lf_model_zero_grad(&m);
    if (re) {
      lf_model_logq(&m, B, phi, logq);
      lf_model_logq_backward(&m, B, c);
    } else {
      lf_model_sample(&m, B, eps, phi2, logq);
      lf_model_sample_backward(&m, B, r, c);
    }
    lf_model_get_grads(&m, g);
    /* plaquette, RT: the base's parameters take the score (lf_model_base_score), so
     * sample_backward leaves them at 0 and the pathwise FD covers the coupling layers */
    const size_t skip = !re && lf_model_base_score(&m) ? m.nbase : 0;
    double g0 = 0.0;
    for (size_t j = 0; j < skip; j++) g0 = fmax(g0, fabs(g[j]));
    const double err = lf_gradcheck_scaled(mloss, &x, p + skip, g + skip, m.nparams - skip, 1e-5);
    CHECK(err < 1e-6 && g0 == 0.0,
          "model %s: %s parameter gradients (%zu, %zu of the base%s) vs central FD: "
          "worst err %.2e",
          bname, re ? "RE (logq_backward)" : "RT (sample_backward)", m.nparams, m.nbase,
          skip ? ", left at 0 by RT" : "", err);
  }
  lf_model_set_params(&m, p);
  if (lf_model_base_score(&m)) {
    /* the base's score after a sample: the RE gradient of the base parameters, at the
     * sampled z instead of f^-1(phi) (equal up to the inverse's roundoff) */
    double *g2 = malloc(m.nparams * sizeof(double));
    lf_model_zero_grad(&m);
    lf_model_logq(&m, B, phi, logq);
    lf_model_logq_backward(&m, B, c);
    lf_model_get_grads(&m, g);
    lf_model_zero_grad(&m);
    lf_model_sample(&m, B, eps, phi2, logq);
    lf_model_base_score_backward(&m, B, c);
    lf_model_get_grads(&m, g2);
    double eb = 0.0, gmax = 0.0, rest = 0.0;
    for (size_t j = 0; j < m.nbase; j++)
      eb = fmax(eb, fabs(g2[j] - g[j])), gmax = fmax(gmax, fabs(g[j]));
    for (size_t j = m.nbase; j < m.nparams; j++) rest = fmax(rest, fabs(g2[j]));
    CHECK(eb < 1e-9 * fmax(gmax, 1.0) && rest == 0.0 && gmax > 0.0,
          "model %s: base_score_backward = the RE gradient of the %zu base parameters (max diff "
          "%.1e of %.2e), nothing else touched",
          bname, m.nbase, eb, gmax);
    free(g2);
  }

  /* float model with the same parameters */
  lf_model mf;
  cfg.precision = LF_PREC_F32;
  rc = lf_model_init(&mf, &cfg, 2, L, L, 3);
  if (rc == LF_OK) {
    lf_model_set_params(&mf, p);
    lf_model_sample(&mf, B, eps, phi2, logq2);
    lf_model_sample(&m, B, eps, phi, logq);
    double ep = 0.0, el = 0.0;
    for (int i = 0; i < B * N; i++) ep = fmax(ep, fabs(adiff(phi2[i], phi[i])));
    for (int b = 0; b < B; b++) el = fmax(el, fabs(logq2[b] - logq[b]));
    CHECK(ep < 1e-5 && el < 1e-4, "model %s float vs double: phi %.2e, logq %.2e (|logq| %.1f)",
          bname, ep, el, fabs(logq[0]));
    lf_model_free(&mf);
  }
  CHECK(rc == LF_OK, "float model init");
  free(p);
  free(g);
  lf_model_free(&m);
  if (base != LF_BASE_HAAR) return;

  /* refused combinations */
  cfg.base = LF_BASE_NORMAL;
  rc = lf_model_init(&m, &cfg, 2, L, L, 1);
  CHECK(rc == LF_ERR_INVALID, "spline with base normal refused: '%s'", lf_last_error());
  cfg.base = LF_BASE_HAAR;
  rc = lf_model_init(&m, &cfg, 1, L, L, 1);
  CHECK(rc == LF_ERR_INVALID, "spline with C=1 refused: '%s'", lf_last_error());
  cfg.coupling = LF_COUPLING_AFFINE;
  rc = lf_model_init(&m, &cfg, 2, L, L, 1);
  CHECK(rc == LF_ERR_INVALID, "haar with affine refused: '%s'", lf_last_error());
  cfg.base = LF_BASE_PLAQUETTE;
  rc = lf_model_init(&m, &cfg, 2, L, L, 1);
  CHECK(rc == LF_ERR_INVALID, "plaquette with affine refused: '%s'", lf_last_error());
}

/* ---- (j) the normalization identity E_q[d log q(phi)/d theta] = 0 ------------------------
 * The mean over NB batches of B samples phi ~ q of the gradient of (1/B) sum_b log q(phi_b)
 * at fixed phi (lf_model_logq_backward: the score that the RE estimator uses), per
 * parameter, with its standard error over the batches; max |z| against the two-sided
 * Bonferroni bound for the n parameters checked (family-wise 1e-3). haar: all
 * parameters; plaquette: the base's 3K spline parameters. For the plaquette base the
 * coupling layers' parameters are not checked: their mean score is not zero, because the
 * plaquette base's density on the links jumps where the holonomy wraps and the coupling
 * layers move that surface (docs/PHYSICS.md 8.9, "Training gradients: a caveat"); the
 * value is printed. */
static double bonferroni_z(size_t n) {
  double lo = 0.0, hi = 40.0; /* P(|N(0,1)| > z) = 1e-3 / n, by bisection on erfc */
  for (int k = 0; k < 200; k++) {
    const double mid = 0.5 * (lo + hi);
    if (erfc(mid / sqrt(2.0)) > 1e-3 / (double)n)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

static void check_score(lf_base_kind base) {
  enum { SB = 64, NB = 1000 };
  const char *bname = base == LF_BASE_PLAQUETTE ? "plaquette" : "haar";
  lf_model_cfg cfg = gauge_cfg(base, 1.5, 8, 2, 4, LF_ACT_LEAKY_RELU);
  lf_model m;
  lf_status rc = lf_model_init(&m, &cfg, 2, L, L, SB);
  CHECK(rc == LF_OK, "score %s: model init: %s", bname, rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  lf_model_init_params(&m, 7);
  const size_t np = m.nparams, nb = m.nbase;
  double *eps = malloc(sizeof(double) * SB * N), *phi = malloc(sizeof(double) * SB * N);
  double *g = malloc(np * sizeof *g), *s = calloc(np, sizeof *s), *s2 = calloc(np, sizeof *s2);
  double lq[SB], c[SB];
  for (int b = 0; b < SB; b++) c[b] = 1.0 / SB;
  for (uint32_t r = 0; r < NB; r++) {
    lf_test_randn(1000 + r, (size_t)SB * N, eps);
    lf_model_sample_nograd(&m, SB, eps, phi, lq);
    lf_model_zero_grad(&m);
    lf_model_logq(&m, SB, phi, lq);
    lf_model_logq_backward(&m, SB, c);
    lf_model_get_grads(&m, g);
    for (size_t i = 0; i < np; i++) s[i] += g[i], s2[i] += g[i] * g[i];
  }
  double zc = 0.0, zo = 0.0; /* checked, other */
  const size_t nc = base == LF_BASE_PLAQUETTE ? nb : np;
  for (size_t i = 0; i < np; i++) {
    const double mean = s[i] / NB, se = sqrt(fmax(s2[i] / NB - mean * mean, 0.0) / NB);
    const double z = se > 0 ? fabs(mean) / se : (mean == 0 ? 0.0 : INFINITY);
    if (i < nc)
      zc = fmax(zc, z);
    else
      zo = fmax(zo, z);
  }
  const double zthr = bonferroni_z(nc);
  CHECK(zc < zthr,
        "score %s: E_q[d log q/d theta] = 0 over %d x %d samples: max |z| %.2f < %.2f "
        "(Bonferroni) over %zu parameters%s",
        bname, NB, SB, zc, zthr, nc, base == LF_BASE_PLAQUETTE ? " (the base spline)" : "");
  if (base == LF_BASE_PLAQUETTE)
    fprintf(stderr,
            "     score plaquette: the %zu coupling-layer parameters (not checked, a known "
            "bias): max |z| %.1f\n",
            np - nb, zo);
  free(eps);
  free(phi);
  free(g);
  free(s);
  free(s2);
  lf_model_free(&m);
}

/* ---- (h) the no-grad forward on a rectangular lattice -------------------------------- */
#define RL0 8
#define RL1 12
#define RV (RL0 * RL1)
#define RB 5 /* float: chunks of 4 + 1; double: 2 + 2 + 1 (64 KiB chunks) */

static lf_model_cfg rect_cfg(void) {
  lf_model_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.layers = 8;
  cfg.nhidden = 1;
  cfg.hidden[0] = 5;
  cfg.kernel = 3;
  cfg.activation = LF_ACT_LEAKY_RELU;
  cfg.coupling = LF_COUPLING_SPLINE;
  cfg.spline_bins = K;
  return cfg;
}

/* wrapped plaquette of links t (2, RV) at (x0, x1) */
static double rplaq(const double *t, int x0, int x1) {
  const int v = x0 * RL1 + x1, up0 = ((x0 + 1) % RL0) * RL1 + x1, up1 = x0 * RL1 + (x1 + 1) % RL1;
  return t[v] + t[RV + up0] - t[up1] - t[RV + v];
}

#define NOGRAD_TEST(S, R)                                                                          \
  static void nograd_##S(void) {                                                                   \
    const lf_model_cfg cfg = rect_cfg();                                                           \
    const size_t np = lf_flow_nparams_##S(&cfg, 2), n = (size_t)RB * 2 * RV;                       \
    R *p = calloc(np, sizeof *p), *g0 = calloc(np, sizeof *p), *g1 = calloc(np, sizeof *p);        \
    R *z = malloc(n * sizeof *z), *z2 = malloc(n * sizeof *z), *r = malloc(n * sizeof *z);         \
    R *phi1 = malloc(n * sizeof *z), *phi2 = malloc(n * sizeof *z), *dz0 = malloc(n * sizeof *z);  \
    R *dz1 = malloc(n * sizeof *z);                                                                \
    double zd[RB * 2 * RV], rd[RB * 2 * RV], ld1[RB], ld2[RB], cw[RB];                             \
    uniform_links(90, n, zd);                                                                      \
    lf_test_randn(91, n, rd);                                                                      \
    for (size_t i = 0; i < n; i++) z[i] = (R)zd[i], z2[i] = (R)zd[n - 1 - i], r[i] = (R)rd[i];     \
    for (int b = 0; b < RB; b++) cw[b] = 0.3 * (b % 3) - 0.2;                                      \
    lf_flow_##S f;                                                                                 \
    lf_status rc = lf_flow_init_##S(&f, &cfg, 2, RL0, RL1, NULL, p, g0, RB);                       \
    CHECK(rc == LF_OK, "%s 8x12 gflow init: %s", #S, rc == LF_OK ? "ok" : lf_last_error());        \
    if (rc != LF_OK) return;                                                                       \
    lf_flow_init_params_##S(&f, LF_INIT_KAIMING, 1.0, lf_rng_key_make(5, LF_STREAM_INIT), 0);      \
    /* 1. bitwise equal, and the flow does something */                                            \
    lf_flow_forward_##S(&f, RB, z, phi1, ld1);                                                     \
    lf_flow_forward_nograd_##S(&f, RB, z, phi2, ld2);                                              \
    double moved = 0.0, mld = 0.0;                                                                 \
    for (size_t i = 0; i < n; i++)                                                                 \
      moved = fmax(moved, fabs(adiff((double)phi1[i], (double)z[i])));                             \
    for (int b = 0; b < RB; b++) mld = fmax(mld, fabs(ld1[b]));                                    \
    const int same =                                                                               \
        memcmp(phi1, phi2, n * sizeof *phi1) == 0 && memcmp(ld1, ld2, sizeof ld1) == 0;            \
    CHECK(same &&moved > 0.1 && mld > 0.01,                                                        \
          "%s 8x12 stack of 8, B=%d: nograd == forward bit for bit: %d (links move by up to "      \
          "%.3f, |logdet| up to %.3f)",                                                            \
          #S, RB, same, moved, mld);                                                               \
    /* 2. the saved state survives an interleaved nograd call */                                   \
    lf_flow_forward_##S(&f, RB, z, phi1, ld1);                                                     \
    lf_flow_backward_##S(&f, RB, r, cw, dz0);                                                      \
    memcpy(g1, g0, np * sizeof *g0);                                                               \
    memset(g0, 0, np * sizeof *g0);                                                                \
    lf_flow_forward_##S(&f, RB, z, phi1, ld1);                                                     \
    lf_flow_forward_nograd_##S(&f, RB, z2, phi2, ld2);                                             \
    lf_flow_backward_##S(&f, RB, r, cw, dz1);                                                      \
    double gmax = 0.0;                                                                             \
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs((double)g1[i]));                        \
    const int gsame =                                                                              \
        memcmp(g0, g1, np * sizeof *g0) == 0 && memcmp(dz0, dz1, n * sizeof *dz0) == 0;            \
    CHECK(gsame &&gmax > 0.01,                                                                     \
          "%s 8x12: backward after an interleaved nograd call: grads and dz bit for bit %d "       \
          "(|grad| up to %.3f)",                                                                   \
          #S, gsame, gmax);                                                                        \
    /* 3. phi may alias z */                                                                       \
    memcpy(phi2, z, n * sizeof *z);                                                                \
    lf_flow_forward_nograd_##S(&f, RB, phi2, phi2, ld2);                                           \
    CHECK(memcmp(phi1, phi2, n * sizeof *phi1) == 0 && memcmp(ld1, ld2, sizeof ld1) == 0,          \
          "%s 8x12: nograd in place (phi == z) equal bit for bit", #S);                            \
    /* 4. the round trip on the rectangle */                                                       \
    lf_flow_inverse_##S(&f, RB, phi1, z2, ld2);                                                    \
    double rt = 0.0, rl = 0.0;                                                                     \
    for (size_t i = 0; i < n; i++) rt = fmax(rt, fabs(adiff((double)z2[i], (double)z[i])));        \
    for (int b = 0; b < RB; b++) rl = fmax(rl, fabs(ld1[b] + ld2[b]));                             \
    CHECK(rt < (sizeof(R) == 4 ? 2e-4 : 1e-10) && rl < (sizeof(R) == 4 ? 1e-3 : 1e-10),            \
          "%s 8x12: inverse(forward(z)) - z mod 2pi %.2e, logdet sum %.2e", #S, rt, rl);           \
    lf_flow_free_##S(&f);                                                                          \
    free(p), free(g0), free(g1), free(z), free(z2), free(r), free(phi1), free(phi2), free(dz0);    \
    free(dz1);                                                                                     \
  }
NOGRAD_TEST(d, double)
NOGRAD_TEST(f, float)

/* The masks of every layer on the 8x12 lattice (stripes across both directions). */
static void check_rect_masks(void) {
  const lf_model_cfg cfg = rect_cfg();
  const size_t np = lf_flow_nparams_d(&cfg, 2);
  double *p = calloc(np, sizeof *p), *g = calloc(np, sizeof *p);
  lf_flow_d f;
  if (lf_flow_init_d(&f, &cfg, 2, RL0, RL1, NULL, p, g, 1) != LF_OK) {
    CHECK(0, "8x12 init: %s", lf_last_error());
    return;
  }
  lf_flow_init_params_d(&f, LF_INIT_KAIMING, 1.0, lf_rng_key_make(6, LF_STREAM_INIT), 0);
  int bad = 0;
  for (int i = 0; i < cfg.layers; i++) {
    const lf_gcoupling_d *c = lf_flow_layer_d(&f, i);
    double *ws = calloc(lf_gcoupling_ws_size_d(c, 1), sizeof *ws);
    double *sc = calloc(lf_gcoupling_scratch_size_d(c, 1), sizeof *sc);
    double th[2 * RV], y[2 * RV], ld = 0.0;
    uniform_links(60 + (uint32_t)i, 2 * RV, th);
    lf_gcoupling_forward_d(c, 1, th, y, &ld, ws, sc);
    int nact = 0, nmoved = 0;
    for (int x0 = 0; x0 < RL0; x0++)
      for (int x1 = 0; x1 < RL1; x1++) {
        const int v = x0 * RL1 + x1, cl = lf_gcoupling_plaq_class_d(c, v);
        const int xnu = c->mu == 0 ? x1 : x0, want = ((xnu - c->off) % 4 + 4) % 4;
        if (cl != (want == 0 ? 0 : want == 3 ? 2 : 1)) bad++;
        if (cl == 1 && fabs(adiff(rplaq(y, x0, x1), rplaq(th, x0, x1))) > 1e-12) bad++;
        if (cl == 0) nact++;
        if (fabs(adiff(y[(1 - c->mu) * RV + v], th[(1 - c->mu) * RV + v])) != 0.0) bad++;
        const double dm = fabs(adiff(y[c->mu * RV + v], th[c->mu * RV + v]));
        if (cl != 0 && dm != 0.0) bad++;
        if (cl == 0 && dm > 1e-6) nmoved++;
      }
    if (nact != RV / 4 || nmoved < RV / 8) bad++;
    free(ws);
    free(sc);
  }
  CHECK(bad == 0,
        "8x12 masks of 8 layers: classes, frozen plaquettes unchanged, only active links "
        "move (and most do), V/4 active; %d violations",
        bad);
  lf_flow_free_d(&f);
  free(p);
  free(g);
}

/* (i) the stack's forward and gradients under every SIMD copy against the generic one */
static void check_isas(void) {
  static const lf_nn_isa isas[] = {LF_ISA_GENERIC, LF_ISA_AVX2, LF_ISA_AVX512};
  tflow t;
  tflow_init(&t, 1, 0, 0);
  double th[BATCH * N], y0[BATCH * N], y[BATCH * N], ld0[BATCH], ld[BATCH], r[BATCH * N], c[BATCH],
      dz[BATCH * N], dz0[BATCH * N];
  double *g0 = malloc(t.np * sizeof *g0);
  uniform_links(70, BATCH * N, th);
  lf_test_randn(71, BATCH * N, r);
  lf_test_randn(72, BATCH, c);
  for (int k = 0; k < 3; k++) {
    if (lf_nn_set_isa(isas[k]) != isas[k]) continue;
    memset(t.grads, 0, t.np * sizeof *t.grads);
    run(&t, BATCH, 0, th, y, ld);
    run_backward(&t, BATCH, 0, th, r, c, dz);
    if (k == 0) {
      memcpy(y0, y, sizeof y);
      memcpy(ld0, ld, sizeof ld);
      memcpy(dz0, dz, sizeof dz);
      memcpy(g0, t.grads, t.np * sizeof *g0);
      continue;
    }
    double e = 0.0, eg = 0.0;
    for (int i = 0; i < BATCH * N; i++)
      e = fmax(e, fmax(fabs(adiff(y[i], y0[i])), fabs(dz[i] - dz0[i])));
    for (int b = 0; b < BATCH; b++) e = fmax(e, fabs(ld[b] - ld0[b]));
    for (size_t i = 0; i < t.np; i++) eg = fmax(eg, fabs(t.grads[i] - g0[i]));
    CHECK(e < 1e-12 && eg < 1e-12,
          "stack of 8 under %s vs generic: theta, logdet, dz %.1e, param grads %.1e",
          lf_nn_isa_name(isas[k]), e, eg);
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  free(g0);
  tflow_free(&t);
}

int main(void) {
  nograd_d();
  nograd_f();
  check_rect_masks();
  check_isas();
  check_model(LF_BASE_HAAR);
  check_model(LF_BASE_PLAQUETTE);
  check_score(LF_BASE_HAAR);
  check_score(LF_BASE_PLAQUETTE);
  check_masks();
  char name[64];
  for (int mu = 0; mu < 2; mu++)
    for (int off = 0; off < 4; off += 3) {
      tflow t;
      tflow_init(&t, 0, mu, off);
      snprintf(name, sizeof name, "layer mu=%d off=%d", mu, off);
      check_flow(&t, name, 10 + (uint32_t)(mu * 4 + off));
      tflow_free(&t);
    }
  tflow t;
  tflow_init(&t, 1, 0, 0);
  check_flow(&t, "stack of 8", 30);
  tflow_free(&t);
  check_float();

  /* init refuses lattices that are not multiples of 4 */
  lf_model_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.layers = 2;
  cfg.kernel = 3;
  cfg.coupling = LF_COUPLING_SPLINE;
  cfg.spline_bins = K;
  double p[4], g[4];
  lf_flow_d f;
  lf_status rc = lf_flow_init_d(&f, &cfg, 2, 6, 8, NULL, p, g, 1);
  CHECK(rc == LF_ERR_INVALID, "6x8 refused: '%s'", lf_last_error());
  return lf_test_result();
}
