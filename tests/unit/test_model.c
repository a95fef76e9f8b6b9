/* The model (latflow/model.h): base + stack + arenas, for the normal and the free-field
 * base (with its learned log-mass theta), double precision unless noted:
 *   lf_model_logq(phi of lf_model_sample) == logq of the sample (1e-10), z round trip;
 *   logq == log N(eps) - log|det dphi/deps| with a brute-force Jacobian of the whole
 *   model (covers base A(theta), stack and their combination);
 *   FD checks of sample_backward (loss = sum(r*phi) + sum(c*logq)) and logq_backward
 *   (loss = sum(c*logq)) w.r.t. every parameter, base parameter included;
 *   float model == double model with the same parameters; init determinism; hash;
 *   arenas (get/set, grad norm, scaling, optimizer step); reserve; forward_madds;
 *   the architecture table (same_arch, the checkpoint record and its text). */
#include "latflow/model.h"
#include "latflow/rng.h"
#include "flow_test.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

static void randn(uint32_t step, size_t n, double *out) {
  lf_rng_normal(lf_rng_key_make(17, LF_STREAM_TEST), step, 0, n, out);
}

static lf_model_cfg small_cfg(lf_base_kind base, int layers, lf_act_kind act, lf_precision p) {
  return flow_test_cfg(base, 0.7, layers, act, p);
}

typedef struct fix {
  lf_model m;
  int B, n;
  double *theta, *g, *eps, *phi, *phi0, *logq, *r, *c;
  int mode; /* 0: sample loss, 1: logq loss on fixed phi0 */
} fix;

static void fix_init(fix *x, const lf_model_cfg *cfg, int L0, int L1, int B) {
  memset(x, 0, sizeof *x);
  if (lf_model_init(&x->m, cfg, 1, L0, L1, B) != LF_OK) {
    fprintf(stderr, "model init: %s\n", lf_last_error());
    exit(1);
  }
  lf_model_init_params(&x->m, 2024);
  x->B = B;
  x->n = B * L0 * L1;
  const size_t np = x->m.nparams, n = (size_t)x->n;
  x->theta = calloc(np, sizeof(double));
  x->g = calloc(np, sizeof(double));
  x->eps = calloc(n, sizeof(double));
  x->phi = calloc(n, sizeof(double));
  x->phi0 = calloc(n, sizeof(double));
  x->r = calloc(n, sizeof(double));
  x->logq = calloc((size_t)B, sizeof(double));
  x->c = calloc((size_t)B, sizeof(double));
  /* s, t of O(1): scale the network parameters (not the base's) */
  lf_model_get_params(&x->m, x->theta);
  for (size_t i = x->m.nbase; i < np; i++) x->theta[i] *= 1.5;
  lf_model_set_params(&x->m, x->theta);
  randn(1, n, x->eps);
  randn(2, n, x->r);
  randn(3, (size_t)B, x->c);
}

static void fix_free(fix *x) {
  lf_model_free(&x->m);
  free(x->theta);
  free(x->g);
  free(x->eps);
  free(x->phi);
  free(x->phi0);
  free(x->r);
  free(x->logq);
  free(x->c);
}

static double loss(void *ctx) {
  fix *x = ctx;
  lf_model_set_params(&x->m, x->theta);
  double s = 0.0;
  if (x->mode == 0) {
    lf_model_sample(&x->m, x->B, x->eps, x->phi, x->logq);
    for (int i = 0; i < x->n; i++) s += x->r[i] * x->phi[i];
  } else {
    lf_model_logq(&x->m, x->B, x->phi0, x->logq);
  }
  for (int b = 0; b < x->B; b++) s += x->c[b] * x->logq[b];
  return s;
}

static void check_model(lf_base_kind base, lf_act_kind act) {
  const char *bn = base == LF_BASE_NORMAL ? "normal" : "free_field";
  const lf_model_cfg cfg = small_cfg(base, 3, act, LF_PREC_F64);
  fix x;
  fix_init(&x, &cfg, 2, 4, 3);
  const int B = x.B, nper = x.n / B;
  const size_t n = (size_t)x.n, np = x.m.nparams;
  CHECK(x.m.nbase == (base == LF_BASE_FREE_FIELD ? 1u : 0u) && np == x.m.nbase + 3 * 262,
        "%s: nbase %zu, nparams %zu", bn, x.m.nbase, np);
  if (base == LF_BASE_FREE_FIELD)
    CHECK(fabs(x.theta[0] - log(0.7)) < 1e-15, "free_field: theta[0] = log(base_mass) = %.6f",
          x.theta[0]);

  /* 1. density consistency and z round trip */
  lf_model_sample(&x.m, B, x.eps, x.phi, x.logq);
  double *z = calloc(n, sizeof(double)), lq2[3];
  memcpy(z, x.m.zd, n * sizeof(double));
  lf_model_logq(&x.m, B, x.phi, lq2);
  CHECK(lf_test_maxabsdiff(3, x.logq, lq2) < 1e-10 && lf_test_maxabsdiff(n, z, x.m.zd) < 1e-12,
        "%s: logq(phi) - logq of sample = %.2e, |f^-1(phi) - z| = %.2e (logq ~ %.2f)", bn,
        lf_test_maxabsdiff(3, x.logq, lq2), lf_test_maxabsdiff(n, z, x.m.zd), x.logq[0]);

  /* 2. logq = log N(eps) - log|det dphi/deps| (brute-force Jacobian of the whole model) */
  double *J = calloc((size_t)B * nper * nper, sizeof(double));
  double *pp = calloc(n, sizeof(double)), *pm = calloc(n, sizeof(double)), tmp[3];
  const double h = 1e-5;
  for (int j = 0; j < nper; j++) {
    for (int b = 0; b < B; b++) x.eps[b * nper + j] += h;
    lf_model_sample(&x.m, B, x.eps, pp, tmp);
    for (int b = 0; b < B; b++) x.eps[b * nper + j] -= 2 * h;
    lf_model_sample(&x.m, B, x.eps, pm, tmp);
    for (int b = 0; b < B; b++) x.eps[b * nper + j] += h;
    for (int b = 0; b < B; b++)
      for (int i = 0; i < nper; i++)
        J[((size_t)b * nper + i) * nper + j] = (pp[b * nper + i] - pm[b * nper + i]) / (2 * h);
  }
  double worst = 0.0;
  for (int b = 0; b < B; b++) {
    double e2 = 0.0;
    for (int i = 0; i < nper; i++) e2 += x.eps[b * nper + i] * x.eps[b * nper + i];
    const double logn = -0.5 * e2 - 0.5 * nper * log(2.0 * M_PI);
    const double want = logn - lf_test_logabsdet(nper, J + (size_t)b * nper * nper);
    worst = fmax(worst, fabs(want - x.logq[b]));
  }
  CHECK(worst < 1e-8, "%s: logq vs log N(eps) - log|det dphi/deps| (brute force %dx%d): %.2e", bn,
        nper, nper, worst);
  free(J);
  free(pp);
  free(pm);
  free(z);

  /* 3. sample_backward: loss = sum(r*phi) + sum(c*logq) w.r.t. all parameters */
  x.mode = 0;
  lf_model_zero_grad(&x.m);
  loss(&x);
  lf_model_sample_backward(&x.m, B, x.r, x.c);
  lf_model_get_grads(&x.m, x.g);
  double e = lf_gradcheck_scaled(loss, &x, x.theta, x.g, np, 1e-5);
  double erel = lf_gradcheck(loss, &x, x.theta, x.g, np, 1e-5);
  CHECK(e < 1e-6, "%s: sample_backward FD check of %zu params: worst err %.2e (pure rel %.2e)", bn,
        np, e, erel);
  if (x.m.nbase) {
    double fd;
    const double t0 = x.theta[0];
    x.theta[0] = t0 + 1e-5;
    fd = loss(&x);
    x.theta[0] = t0 - 1e-5;
    fd -= loss(&x);
    x.theta[0] = t0;
    fd /= 2e-5;
    CHECK(fabs(x.g[0] - fd) < 1e-7 * fmax(1.0, fabs(fd)) && fabs(fd) > 1e-3,
          "%s: d loss/d theta_base = %.10f, FD %.10f", bn, x.g[0], fd);
  }
  /* the two inputs separately (NULL dphi, NULL dlogq) sum to the whole */
  double *g2 = calloc(np, sizeof(double));
  lf_model_zero_grad(&x.m);
  loss(&x);
  lf_model_sample_backward(&x.m, B, NULL, x.c);
  lf_model_sample_backward(&x.m, B, x.r, NULL);
  lf_model_get_grads(&x.m, g2);
  CHECK(lf_test_maxabsdiff(np, g2, x.g) < 1e-12,
        "%s: sample_backward(NULL, c) + (r, NULL) = (r, c) (diff %.1e)", bn,
        lf_test_maxabsdiff(np, g2, x.g));

  /* 4. logq_backward: loss = sum(c*logq(phi0)) at fixed phi0 */
  memcpy(x.phi0, x.phi, n * sizeof(double));
  x.mode = 1;
  lf_model_zero_grad(&x.m);
  loss(&x);
  lf_model_logq_backward(&x.m, B, x.c);
  lf_model_get_grads(&x.m, x.g);
  e = lf_gradcheck_scaled(loss, &x, x.theta, x.g, np, 1e-5);
  erel = lf_gradcheck(loss, &x, x.theta, x.g, np, 1e-5);
  CHECK(e < 1e-6, "%s: logq_backward FD check of %zu params: worst err %.2e (pure rel %.2e)", bn,
        np, e, erel);
  /* accumulation (the arena still holds the first backward; the gradcheck left the
   * model at a perturbed point, so evaluate again at theta) */
  loss(&x);
  lf_model_logq_backward(&x.m, B, x.c);
  lf_model_get_grads(&x.m, g2);
  double acc = 0.0;
  for (size_t i = 0; i < np; i++) acc = fmax(acc, fabs(g2[i] - 2 * x.g[i]));
  CHECK(acc < 1e-12, "%s: logq_backward accumulates into the grad arena (diff %.1e)", bn, acc);
  free(g2);
  fix_free(&x);
}

/* float model with the parameters of a double model */
static void check_float(lf_base_kind base) {
  const char *bn = base == LF_BASE_NORMAL ? "normal" : "free_field";
  lf_model_cfg cd = small_cfg(base, 6, LF_ACT_LEAKY_RELU, LF_PREC_F64);
  lf_model_cfg cf = cd;
  cf.precision = LF_PREC_F32;
  fix d, f;
  fix_init(&d, &cd, 4, 6, 5);
  fix_init(&f, &cf, 4, 6, 5);
  const size_t n = (size_t)d.n, np = d.m.nparams;
  CHECK(f.m.nparams == np && f.m.real_size == sizeof(float),
        "%s: float model: %zu params of %zu bytes", bn, f.m.nparams, f.m.real_size);
  lf_model_set_params(&f.m, d.theta);
  lf_model_get_params(&f.m, f.theta);
  lf_model_sample(&d.m, d.B, d.eps, d.phi, d.logq);
  lf_model_sample(&f.m, f.B, d.eps, f.phi, f.logq);
  double pmax = 0.0, lmax = 0.0;
  for (size_t i = 0; i < n; i++) pmax = fmax(pmax, fabs(d.phi[i]));
  for (int b = 0; b < d.B; b++) lmax = fmax(lmax, fabs(d.logq[b]));
  const double ep = lf_test_maxabsdiff(n, d.phi, f.phi) / pmax;
  double el = lf_test_maxabsdiff((size_t)d.B, d.logq, f.logq) / lmax;
  CHECK(ep < 1e-4 && el < 1e-4, "%s: float vs double sample: rel diff phi %.1e, logq %.1e", bn, ep,
        el);
  double lqd[5], lqf[5];
  lf_model_logq(&d.m, d.B, d.phi, lqd);
  lf_model_logq(&f.m, f.B, d.phi, lqf);
  el = lf_test_maxabsdiff(5, lqd, lqf) / lmax;
  CHECK(el < 1e-4, "%s: float vs double logq(phi): rel diff %.1e", bn, el);
  /* gradients of the sampling loss */
  lf_model_zero_grad(&d.m);
  lf_model_zero_grad(&f.m);
  lf_model_sample(&d.m, d.B, d.eps, d.phi, d.logq);
  lf_model_sample(&f.m, f.B, d.eps, f.phi, f.logq);
  lf_model_sample_backward(&d.m, d.B, d.r, d.c);
  lf_model_sample_backward(&f.m, f.B, d.r, d.c);
  lf_model_get_grads(&d.m, d.g);
  lf_model_get_grads(&f.m, f.g);
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < np; i++) {
    num += (d.g[i] - f.g[i]) * (d.g[i] - f.g[i]);
    den += d.g[i] * d.g[i];
  }
  CHECK(sqrt(num / den) < 1e-4, "%s: float vs double sample gradients: |dg|/|g| = %.1e", bn,
        sqrt(num / den));
  if (d.m.nbase)
    CHECK(fabs(d.g[0] - f.g[0]) < 1e-3 * fabs(d.g[0]),
          "%s: base gradient %.6f (double) %.6f (float)", bn, d.g[0], f.g[0]);
  fix_free(&d);
  fix_free(&f);
}

static void check_arenas(void) {
  const lf_model_cfg cfg = small_cfg(LF_BASE_FREE_FIELD, 2, LF_ACT_TANH, LF_PREC_F64);
  fix a, b;
  fix_init(&a, &cfg, 2, 4, 3);
  fix_init(&b, &cfg, 2, 4, 3);
  const size_t np = a.m.nparams;
  /* determinism of init: same seed, same bytes and hash; another seed differs */
  lf_model_init_params(&a.m, 77);
  lf_model_init_params(&b.m, 77);
  CHECK(memcmp(a.m.params, b.m.params, np * a.m.real_size) == 0 &&
            lf_model_hash(&a.m) == lf_model_hash(&b.m),
        "same seed: identical parameter bytes, hash %016llx",
        (unsigned long long)lf_model_hash(&a.m));
  lf_model_init_params(&b.m, 78);
  CHECK(memcmp(a.m.params, b.m.params, np * a.m.real_size) != 0 &&
            lf_model_hash(&a.m) != lf_model_hash(&b.m),
        "another seed: other parameters and hash %016llx", (unsigned long long)lf_model_hash(&b.m));
  /* hash changes with one parameter */
  lf_model_init_params(&b.m, 77);
  lf_model_get_params(&b.m, b.theta);
  b.theta[np / 2] = nextafter(b.theta[np / 2], 1.0);
  lf_model_set_params(&b.m, b.theta);
  CHECK(lf_model_hash(&a.m) != lf_model_hash(&b.m),
        "hash changes when parameter %zu moves by one ulp: %016llx", np / 2,
        (unsigned long long)lf_model_hash(&b.m));
  /* get/set round trip, grad norm, scale */
  lf_model_get_params(&a.m, a.theta);
  lf_model_set_params(&b.m, a.theta);
  CHECK(memcmp(a.m.params, b.m.params, np * sizeof(double)) == 0, "set(get(params)) is exact");
  lf_model_zero_grad(&a.m);
  lf_model_sample(&a.m, a.B, a.eps, a.phi, a.logq);
  lf_model_sample_backward(&a.m, a.B, a.r, a.c);
  lf_model_get_grads(&a.m, a.g);
  double s = 0.0;
  for (size_t i = 0; i < np; i++) s += a.g[i] * a.g[i];
  const double gn = lf_model_grad_norm(&a.m);
  CHECK(fabs(gn - sqrt(s)) < 1e-12 * sqrt(s) && gn > 0, "grad norm %.10f", gn);
  lf_model_scale_grads(&a.m, 0.5);
  CHECK(fabs(lf_model_grad_norm(&a.m) - 0.5 * gn) < 1e-12 * gn, "scale_grads(0.5) halves it");
  /* one SGD step: p -= lr g */
  lf_optim_cfg opt;
  memset(&opt, 0, sizeof opt);
  opt.name = LF_OPT_SGD;
  opt.lr = 0.1;
  lf_model_get_grads(&a.m, a.g);
  lf_model_optim_step(&a.m, &opt, 0.1);
  double *p1 = calloc(np, sizeof(double));
  lf_model_get_params(&a.m, p1);
  double dev = 0.0;
  for (size_t i = 0; i < np; i++) dev = fmax(dev, fabs(p1[i] - (a.theta[i] - 0.1 * a.g[i])));
  CHECK(dev < 1e-15 && a.m.step == 1, "SGD step: p' = p - lr g (dev %.1e), step counter %llu", dev,
        (unsigned long long)a.m.step);
  free(p1);
  /* reserve: a bigger batch; the first rows are unchanged */
  lf_model_set_params(&a.m, a.theta);
  lf_model_sample(&a.m, 3, a.eps, a.phi, a.logq);
  lf_status rc = lf_model_reserve(&a.m, 7);
  const size_t nper = 8;
  double *eps7 = calloc(7 * nper, sizeof(double)), *phi7 = calloc(7 * nper, sizeof(double));
  double lq7[7];
  memcpy(eps7, a.eps, 3 * nper * sizeof(double));
  randn(9, 4 * nper, eps7 + 3 * nper);
  lf_model_sample(&a.m, 7, eps7, phi7, lq7);
  CHECK(rc == LF_OK && a.m.Bmax == 7 && lf_test_maxabsdiff(3 * nper, phi7, a.phi) < 1e-13 &&
            lf_test_maxabsdiff(3, lq7, a.logq) < 1e-12,
        "reserve(7): Bmax %d; rows 0..2 of B=7 equal B=3 (phi %.1e, logq %.1e)", a.m.Bmax,
        lf_test_maxabsdiff(3 * nper, phi7, a.phi), lf_test_maxabsdiff(3, lq7, a.logq));
  free(eps7);
  free(phi7);
  fix_free(&a);
  fix_free(&b);
}

/* The architecture table: lf_model_cfg_same_arch, the record and its text. */
static void check_arch(void) {
  lf_model_cfg a = small_cfg(LF_BASE_NORMAL, 3, LF_ACT_TANH, LF_PREC_F64), b = a;
  CHECK(lf_model_cfg_same_arch(&a, &b), "same_arch of a config with itself");
  b.precision = LF_PREC_F32;
  b.base_mass = 2.0;
  b.spline_bins = a.spline_bins + 1;
  CHECK(lf_model_cfg_same_arch(&a, &b), "same_arch ignores precision, base_mass and, for "
                                        "affine couplings, spline_bins");
  b = a;
  b.layers = 4;
  CHECK(!lf_model_cfg_same_arch(&a, &b), "same_arch: other layers");
  b = a;
  b.hidden[a.nhidden - 1]++;
  CHECK(!lf_model_cfg_same_arch(&a, &b), "same_arch: other hidden width");
  b = a;
  b.activation = LF_ACT_LEAKY_RELU;
  CHECK(!lf_model_cfg_same_arch(&a, &b), "same_arch: other activation");
  a.coupling = b.coupling = LF_COUPLING_SPLINE;
  b = a;
  b.spline_bins = a.spline_bins + 1;
  CHECK(!lf_model_cfg_same_arch(&a, &b), "same_arch: spline couplings with other spline_bins");

  lf_model m;
  const lf_model_cfg c = small_cfg(LF_BASE_NORMAL, 3, LF_ACT_TANH, LF_PREC_F32);
  lf_status rc = lf_model_init(&m, &c, 1, 4, 6, 2);
  CHECK(rc == LF_OK, "model for the record");
  if (rc != LF_OK) return;
  int64_t rec[LF_MODEL_ARCH_MAX];
  const size_t n = lf_model_arch_record(&m, rec);
  CHECK(n == 12 + (size_t)c.nhidden && rec[0] == 1 && rec[1] == 4 && rec[2] == 6 && rec[4] == 3 &&
            rec[9] == (int64_t)m.nparams && rec[10] == 4 && rec[11] == c.nhidden &&
            rec[12] == c.hidden[0],
        "arch record: C, L0, L1, base, layers, ..., nparams, real_size, nhidden, hidden (%zu)", n);
  char txt[256];
  lf_model_arch_text(rec, n, txt, sizeof txt);
  CHECK(strstr(txt, "4x6, 3 layers") && strstr(txt, "single"), "arch text: '%s'", txt);
  CHECK(!strcmp(lf_model_arch_value_name(lf_model_arch_find("coupling"), 1), "spline") &&
            !strcmp(lf_model_arch_value_name(lf_model_arch_find("base"), 7), "unknown"),
        "enum value names");
  lf_model_free(&m);
}

int main(void) {
  check_arch();
  check_model(LF_BASE_NORMAL, LF_ACT_TANH);
  check_model(LF_BASE_FREE_FIELD, LF_ACT_TANH);
  check_model(LF_BASE_FREE_FIELD, LF_ACT_LEAKY_RELU);
  check_float(LF_BASE_NORMAL);
  check_float(LF_BASE_FREE_FIELD);
  check_arenas();
  {
    /* the tutorial flow: 16 layers, hidden [8,8], kernel 3 on 8x8 = 12,672 madds/site */
    lf_model_cfg cfg = small_cfg(LF_BASE_NORMAL, 16, LF_ACT_LEAKY_RELU, LF_PREC_F32);
    cfg.hidden[0] = cfg.hidden[1] = 8;
    lf_model m;
    lf_status rc = lf_model_init(&m, &cfg, 1, 8, 8, 2);
    CHECK(rc == LF_OK && lf_model_forward_madds(&m) == 12672.0 * 64,
          "forward_madds of the tutorial flow on 8x8: %.0f (expected %d)",
          lf_model_forward_madds(&m), 12672 * 64);
    lf_model_free(&m);
    cfg.base_mass = 0.0;
    cfg.base = LF_BASE_FREE_FIELD;
    rc = lf_model_init(&m, &cfg, 1, 8, 8, 2);
    CHECK(rc == LF_ERR_INVALID, "free_field with base_mass 0 refused: %s", lf_last_error());
    lf_model_free(&m);
  }
  return lf_test_result();
}
