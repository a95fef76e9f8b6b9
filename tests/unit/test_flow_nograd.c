/* The no-grad forward (lf_flow_forward_nograd, lf_coupling_forward_nograd,
 * lf_model_sample_nograd) against the standard forward, in float and double:
 *  - the same phi and logdet bit for bit (same kernels, same order of operations), with
 *    batches that split into several cache chunks plus a remainder;
 *  - the saved state of an earlier forward is left intact (a backward after an
 *    interleaved no-grad call gives the same gradients, bit for bit);
 *  - phi may alias z;
 *  - the float flow (fused conv + activation, exp/tanh without libm) computes the double
 *    flow's function to float rounding;
 *  - the model: sample_nograd == sample for both precisions and both bases, and a model
 *    built for sampling only (lf_model_init_sampling) gives the same bits without the
 *    stack's training workspaces.
 * Finite-difference checks of the standard path are in test_flow.c / test_coupling.c. */
#include "latflow/flow.h"
#include "latflow/lattice.h"
#include "latflow/model.h"
#include "latflow/nn.h"
#include "latflow/rng.h"
#include "latflow/timer.h"
#include "lftest.h"

#include <math.h>
#include <string.h>

typedef struct case_t {
  int L0, L1, layers, B, Bmax;
  int hidden[2];
  lf_act_kind act;
} case_t;

/* B = 13 splits into chunks (16x16: 3 samples per chunk in float, 1 in double); the second
 * case has rows of 10 (shifted-plane kernels) and tanh hidden activations. */
static const case_t cases[] = {
    {16, 16, 3, 13, 13, {8, 8}, LF_ACT_LEAKY_RELU},
    {6, 10, 2, 5, 7, {3, 5}, LF_ACT_TANH},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static lf_model_cfg cfg_of(const case_t *c) {
  lf_model_cfg m;
  memset(&m, 0, sizeof m);
  m.base = LF_BASE_NORMAL;
  m.base_mass = 1.0;
  m.layers = c->layers;
  m.nhidden = 2;
  m.hidden[0] = c->hidden[0];
  m.hidden[1] = c->hidden[1];
  m.kernel = 3;
  m.activation = c->act;
  m.coupling = LF_COUPLING_AFFINE;
  m.init = LF_INIT_KAIMING;
  m.init_scale = 1.0;
  m.precision = LF_PREC_F64;
  return m;
}

static double maxdiff(size_t n, const double *a, const double *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

static double maxabs(size_t n, const double *a) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}

/* The stack checks, written once per precision: R the real type, S the suffix. Results
 * come back in double: phi (B*V) and logdet (B) of the no-grad forward. */
#define STACK_TEST(S, R)                                                                           \
  static void stack_test_##S(const case_t *c, const double *pin, const double *zin,                \
                             double *phi_out, double *ld_out) {                                    \
    const lf_model_cfg cfg = cfg_of(c);                                                            \
    lf_lattice lat;                                                                                \
    if (lf_lattice_init(&lat, c->L0, c->L1, 0) != LF_OK) exit(1);                                  \
    const size_t np = lf_flow_nparams_##S(&cfg, 1), n = (size_t)c->B * (size_t)lat.V;              \
    R *p = lf_alloc(np * sizeof *p), *g0 = lf_alloc(np * sizeof *p);                               \
    R *g1 = lf_alloc(np * sizeof *p);                                                              \
    R *z = lf_alloc(n * sizeof *z), *z2 = lf_alloc(n * sizeof *z),                                 \
      *phi1 = lf_alloc(n * sizeof *z);                                                             \
    R *phi2 = lf_alloc(n * sizeof *z), *r = lf_alloc(n * sizeof *z),                               \
      *dz0 = lf_alloc(n * sizeof *z);                                                              \
    R *dz1 = lf_alloc(n * sizeof *z), *buf = lf_alloc(n * sizeof *z);                              \
    double *ld1 = lf_alloc((size_t)c->B * sizeof *ld1),                                            \
           *ld2 = lf_alloc((size_t)c->B * sizeof *ld1);                                            \
    double *cw = lf_alloc((size_t)c->B * sizeof *cw);                                              \
    for (size_t i = 0; i < np; i++) p[i] = (R)pin[i];                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      z[i] = (R)zin[i];                                                                            \
      z2[i] = (R)(0.5 * zin[n - 1 - i]);                                                           \
      r[i] = (R)zin[(i * 7) % n];                                                                  \
    }                                                                                              \
    for (int b = 0; b < c->B; b++) cw[b] = 0.3 * (double)(b % 3) - 0.2;                            \
    lf_flow_##S f;                                                                                 \
    if (lf_flow_init_##S(&f, &cfg, 1, c->L0, c->L1, lat.parity, p, g0, c->Bmax) != LF_OK) {        \
      fprintf(stderr, "flow init: %s\n", lf_last_error());                                         \
      exit(1);                                                                                     \
    }                                                                                              \
    const char *pr = sizeof(R) == 4 ? "float" : "double";                                          \
    /* 1. same phi and logdet, bitwise */                                                          \
    lf_flow_forward_##S(&f, c->B, z, phi1, ld1);                                                   \
    lf_flow_forward_nograd_##S(&f, c->B, z, phi2, ld2);                                            \
    double dphi = 0.0, dz = 0.0;                                                                   \
    for (size_t i = 0; i < n; i++) {                                                               \
      dphi = fmax(dphi, fabs((double)phi1[i] - (double)phi2[i]));                                  \
      dz = fmax(dz, fabs((double)phi1[i] - (double)z[i]));                                         \
    }                                                                                              \
    const double dld = maxdiff((size_t)c->B, ld1, ld2), mld = maxabs((size_t)c->B, ld1);           \
    CHECK(dphi == 0.0 && dld == 0.0 && dz > 0.1 && mld > 0.1,                                      \
          "%s %dx%d %d layers B=%d (Bmax %d): nograd vs forward: phi %.1e, logdet %.1e "           \
          "(|phi - z| up to %.2f, |logdet| up to %.2f)",                                           \
          pr, c->L0, c->L1, c->layers, c->B, c->Bmax, dphi, dld, dz, mld);                         \
    /* 2. saved state intact: forward(z), nograd(z2), backward == forward(z), backward */          \
    memset(g0, 0, np * sizeof *g0);                                                                \
    lf_flow_forward_##S(&f, c->B, z, phi1, ld1);                                                   \
    lf_flow_backward_##S(&f, c->B, r, cw, dz0);                                                    \
    memcpy(g1, g0, np * sizeof *g0);                                                               \
    memset(g0, 0, np * sizeof *g0);                                                                \
    lf_flow_forward_##S(&f, c->B, z, phi1, ld1);                                                   \
    lf_flow_forward_nograd_##S(&f, c->B, z2, phi2, ld2);                                           \
    lf_flow_backward_##S(&f, c->B, r, cw, dz1);                                                    \
    double dg = 0.0, gmax = 0.0, ddz = 0.0;                                                        \
    for (size_t i = 0; i < np; i++) {                                                              \
      dg = fmax(dg, fabs((double)g0[i] - (double)g1[i]));                                          \
      gmax = fmax(gmax, fabs((double)g1[i]));                                                      \
    }                                                                                              \
    for (size_t i = 0; i < n; i++) ddz = fmax(ddz, fabs((double)dz0[i] - (double)dz1[i]));         \
    CHECK(dg == 0.0 && ddz == 0.0 && gmax > 0.1,                                                   \
          "%s %dx%d: backward after an interleaved nograd call: grads %.1e, dz %.1e "              \
          "(|grad| up to %.2f)",                                                                   \
          pr, c->L0, c->L1, dg, ddz, gmax);                                                        \
    /* 3. phi may alias z */                                                                       \
    memcpy(buf, z, n * sizeof *buf);                                                               \
    lf_flow_forward_nograd_##S(&f, c->B, buf, buf, ld2);                                           \
    double da = 0.0;                                                                               \
    for (size_t i = 0; i < n; i++) da = fmax(da, fabs((double)buf[i] - (double)phi1[i]));          \
    CHECK(da == 0.0 && maxdiff((size_t)c->B, ld1, ld2) == 0.0,                                     \
          "%s %dx%d: nograd in place (phi == z): phi %.1e", pr, c->L0, c->L1, da);                 \
    /* 4. coupling level: one layer, nograd vs forward */                                          \
    {                                                                                              \
      const lf_coupling_##S *cl = lf_flow_layer_##S(&f, 1);                                        \
      R *ws = lf_alloc(lf_coupling_ws_size_##S(cl, c->B) * sizeof *ws);                            \
      R *sc = lf_alloc(lf_coupling_scratch_size_##S(cl, c->B) * sizeof *sc);                       \
      R *sn = lf_alloc(lf_coupling_nograd_scratch_size_##S(cl, c->B) * sizeof *sn);                \
      memset(ld1, 0, (size_t)c->B * sizeof *ld1);                                                  \
      memset(ld2, 0, (size_t)c->B * sizeof *ld2);                                                  \
      lf_coupling_forward_##S(cl, c->B, z, phi1, ld1, ws, sc);                                     \
      lf_coupling_forward_nograd_##S(cl, c->B, z, phi2, ld2, sn);                                  \
      double dc = 0.0;                                                                             \
      for (size_t i = 0; i < n; i++) dc = fmax(dc, fabs((double)phi1[i] - (double)phi2[i]));       \
      CHECK(dc == 0.0 && maxdiff((size_t)c->B, ld1, ld2) == 0.0 &&                                 \
                maxabs((size_t)c->B, ld1) > 0.01,                                                  \
            "%s %dx%d: coupling nograd vs forward: y %.1e, logdet %.1e", pr, c->L0, c->L1, dc,     \
            maxdiff((size_t)c->B, ld1, ld2));                                                      \
      lf_free(ws);                                                                                 \
      lf_free(sc);                                                                                 \
      lf_free(sn);                                                                                 \
    }                                                                                              \
    lf_flow_forward_nograd_##S(&f, c->B, z, phi2, ld_out);                                         \
    for (size_t i = 0; i < n; i++) phi_out[i] = (double)phi2[i];                                   \
    lf_flow_free_##S(&f);                                                                          \
    lf_lattice_free(&lat);                                                                         \
    lf_free(p);                                                                                    \
    lf_free(g0);                                                                                   \
    lf_free(g1);                                                                                   \
    lf_free(z);                                                                                    \
    lf_free(z2);                                                                                   \
    lf_free(phi1);                                                                                 \
    lf_free(phi2);                                                                                 \
    lf_free(r);                                                                                    \
    lf_free(dz0);                                                                                  \
    lf_free(dz1);                                                                                  \
    lf_free(buf);                                                                                  \
    lf_free(ld1);                                                                                  \
    lf_free(ld2);                                                                                  \
    lf_free(cw);                                                                                   \
  }

STACK_TEST(f, float)
STACK_TEST(d, double)

static void test_case(const case_t *c) {
  const lf_model_cfg cfg = cfg_of(c);
  const size_t np = lf_flow_nparams_d(&cfg, 1);
  const size_t n = (size_t)c->B * (size_t)c->L0 * (size_t)c->L1;
  double *p = lf_alloc(np * sizeof *p), *z = lf_alloc(n * sizeof *z);
  double *phf = lf_alloc(n * sizeof *z), *phd = lf_alloc(n * sizeof *z);
  double *ldf = lf_alloc((size_t)c->B * sizeof *ldf), *ldd = lf_alloc((size_t)c->B * sizeof *ldf);
  /* parameters: the init of a flow (uniform +-1/sqrt(fan_in)) scaled by 1.5, so s, t = O(1) */
  {
    lf_lattice lat;
    if (lf_lattice_init(&lat, c->L0, c->L1, 0) != LF_OK) exit(1);
    double *g = lf_alloc(np * sizeof *g);
    lf_flow_d f;
    if (lf_flow_init_d(&f, &cfg, 1, c->L0, c->L1, lat.parity, p, g, 1) != LF_OK) exit(1);
    lf_flow_init_params_d(&f, LF_INIT_KAIMING, 1.0, lf_rng_key_make(11, LF_STREAM_INIT), 0);
    for (size_t i = 0; i < np; i++) p[i] *= 1.5;
    lf_flow_free_d(&f);
    lf_free(g);
    lf_lattice_free(&lat);
  }
  lf_test_randn(1, n, z);
  stack_test_f(c, p, z, phf, ldf);
  stack_test_d(c, p, z, phd, ldd);
  /* 5. float (fused, libm-free exp/tanh) vs double: the same function to float rounding */
  const double ep = maxdiff(n, phf, phd) / maxabs(n, phd);
  const double el = maxdiff((size_t)c->B, ldf, ldd) / maxabs((size_t)c->B, ldd);
  CHECK(ep < 5e-6 && el < 5e-6,
        "%dx%d: float nograd vs double nograd: phi %.1e, logdet %.1e (relative to the largest)",
        c->L0, c->L1, ep, el);
  lf_free(p);
  lf_free(z);
  lf_free(phf);
  lf_free(phd);
  lf_free(ldf);
  lf_free(ldd);
}

/* The model: sample_nograd == sample (phi and log q), float and double, normal and
 * free-field base. */
static void test_model(lf_precision prec, lf_base_kind base) {
  const case_t c = {8, 8, 4, 9, 9, {8, 8}, LF_ACT_LEAKY_RELU};
  lf_model_cfg cfg = cfg_of(&c);
  cfg.precision = prec;
  cfg.base = base;
  lf_model m;
  if (lf_model_init(&m, &cfg, 1, c.L0, c.L1, c.Bmax) != LF_OK) {
    fprintf(stderr, "model init: %s\n", lf_last_error());
    exit(1);
  }
  lf_model_init_params(&m, 5);
  const size_t n = (size_t)c.B * (size_t)c.L0 * (size_t)c.L1;
  double *eps = lf_alloc(n * sizeof *eps), *p1 = lf_alloc(n * sizeof *eps);
  double *p2 = lf_alloc(n * sizeof *eps);
  double *q1 = lf_alloc((size_t)c.B * sizeof *q1), *q2 = lf_alloc((size_t)c.B * sizeof *q1);
  lf_test_randn(9, n, eps);
  lf_model_sample(&m, c.B, eps, p1, q1);
  lf_model_sample_nograd(&m, c.B, eps, p2, q2);
  const double dp = maxdiff(n, p1, p2), dq = maxdiff((size_t)c.B, q1, q2);
  CHECK(dp == 0.0 && dq == 0.0 && maxdiff(n, p1, eps) > 0.01,
        "model %s, %s base: sample_nograd vs sample: phi %.1e, logq %.1e (logq[0] = %.4f)",
        prec == LF_PREC_F32 ? "float" : "double", base == LF_BASE_NORMAL ? "normal" : "free-field",
        dp, dq, q1[0]);
  /* the sampling-only model: same parameters, the same bits from sample_nograd (and from
   * sample, which runs the nograd path there), through a reserve that grows it, and no
   * training workspaces in its stack */
  lf_model ms;
  if (lf_model_init_sampling(&ms, &cfg, 1, c.L0, c.L1, 2) != LF_OK ||
      lf_model_reserve(&ms, c.Bmax) != LF_OK) {
    fprintf(stderr, "sampling model init: %s\n", lf_last_error());
    exit(1);
  }
  double *par = lf_alloc(m.nparams * sizeof *par);
  lf_model_get_params(&m, par);
  lf_model_set_params(&ms, par);
  memset(p2, 0, n * sizeof *p2);
  lf_model_sample_nograd(&ms, c.B, eps, p2, q2);
  const double sp = maxdiff(n, p1, p2), sq = maxdiff((size_t)c.B, q1, q2);
  memset(p2, 0, n * sizeof *p2);
  lf_model_sample(&ms, c.B, eps, p2, q2);
  const double sp2 = maxdiff(n, p1, p2), sq2 = maxdiff((size_t)c.B, q1, q2);
  int empty, full;
  if (prec == LF_PREC_F32) {
    const lf_flow_f *fs = ms.flow, *fm = m.flow;
    empty = !fs->ws && !fs->xs && !fs->dxs && fs->scratch && fs->nograd_only;
    full = fm->ws && fm->xs && fm->dxs && !fm->nograd_only;
  } else {
    const lf_flow_d *fs = ms.flow, *fm = m.flow;
    empty = !fs->ws && !fs->xs && !fs->dxs && fs->scratch && fs->nograd_only;
    full = fm->ws && fm->xs && fm->dxs && !fm->nograd_only;
  }
  CHECK(sp == 0.0 && sq == 0.0 && sp2 == 0.0 && sq2 == 0.0 && empty && full &&
            lf_model_hash(&ms) == lf_model_hash(&m),
        "sampling-only model %s, %s base: sample_nograd phi %.1e logq %.1e, sample phi %.1e "
        "logq %.1e; no training workspaces %d (the training model has them: %d); same hash",
        prec == LF_PREC_F32 ? "float" : "double", base == LF_BASE_NORMAL ? "normal" : "free-field",
        sp, sq, sp2, sq2, empty, full);
  lf_free(par);
  lf_model_free(&ms);
  lf_model_free(&m);
  lf_free(eps);
  lf_free(p1);
  lf_free(p2);
  lf_free(q1);
  lf_free(q2);
}

/* The coupling update (lf_coupling_update) at every SIMD level this CPU has: the same bits
 * as the baseline build's code (generic), in float and double, C = 2 components, V not a
 * multiple of any vector, y aliasing x; and the values of the formula (y = x on frozen
 * sites, x e^s + t on active ones, logdet += sum of active s) to float rounding. */
#define UPDATE_TEST(S, R, TOL)                                                                     \
  static void update_test_##S(void) {                                                              \
    enum { C = 2, L0 = 6, L1 = 10, V = L0 * L1, B = 5 };                                           \
    const int hid[1] = {3};                                                                        \
    lf_lattice lat;                                                                                \
    if (lf_lattice_init(&lat, L0, L1, 0) != LF_OK) exit(1);                                        \
    const size_t np = lf_coupling_nparams_##S(C, 1, hid, 3), n = (size_t)B * C * V;                \
    R *p = lf_alloc(np * sizeof *p), *g = lf_alloc(np * sizeof *g);                                \
    R *x = lf_alloc(n * sizeof *x), *st = lf_alloc(2 * n * sizeof *st);                            \
    R *y0 = lf_alloc(n * sizeof *y0), *y = lf_alloc(n * sizeof *y);                                \
    double xd[B * C * V], sd[2 * B * C * V], ld0[B], ld[B];                                        \
    lf_test_randn(31, n, xd);                                                                      \
    lf_test_randn(32, 2 * n, sd);                                                                  \
    for (size_t i = 0; i < n; i++) x[i] = (R)xd[i];                                                \
    for (size_t i = 0; i < 2 * n; i++) st[i] = (R)tanh(sd[i]);                                     \
    for (int par = 0; par < 2; par++) {                                                            \
      lf_coupling_##S cp;                                                                          \
      lf_coupling_bind_##S(&cp, C, L0, L1, par, 1, hid, 3, LF_ACT_LEAKY_RELU, lat.parity, p, g);   \
      for (int b = 0; b < B; b++) ld0[b] = 0.5;                                                    \
      lf_coupling_update_##S(&cp, B, x, st, y0, ld0, LF_ISA_GENERIC);                              \
      double ef = 0.0, el = 0.0;                                                                   \
      for (int b = 0; b < B; b++) {                                                                \
        double sum = 0.5;                                                                          \
        for (int ch = 0; ch < C; ch++)                                                             \
          for (int v = 0; v < V; v++) {                                                            \
            const size_t i = ((size_t)b * C + (size_t)ch) * V + (size_t)v;                         \
            const size_t si = ((size_t)b * 2 * C + (size_t)ch) * V + (size_t)v;                    \
            const int act = lat.parity[v] == par;                                                  \
            const double want =                                                                    \
                act ? (double)x[i] * exp((double)st[si]) + (double)st[si + (size_t)C * V]          \
                    : (double)x[i];                                                                \
            ef = fmax(ef, fabs((double)y0[i] - want) / (1.0 + fabs(want)));                        \
            if (act) sum += (double)st[si];                                                        \
          }                                                                                        \
        el = fmax(el, fabs(ld0[b] - sum));                                                         \
      }                                                                                            \
      CHECK(ef < TOL && el < 1e-12,                                                                \
            "coupling update %s parity %d vs the formula: y %.1e, "                                \
            "logdet %.1e",                                                                         \
            #S, par, ef, el);                                                                      \
      const lf_nn_isa levels[2] = {LF_ISA_AVX2, LF_ISA_AVX512};                                    \
      for (int k = 0; k < 2; k++) {                                                                \
        const lf_nn_isa isa = lf_nn_set_isa(levels[k]);                                            \
        if (isa != levels[k]) continue; /* the CPU lacks it */                                     \
        for (int b = 0; b < B; b++) ld[b] = 0.5;                                                   \
        memcpy(y, x, n * sizeof *y); /* y aliases x */                                             \
        lf_coupling_update_##S(&cp, B, y, st, y, ld, isa);                                         \
        CHECK(memcmp(y, y0, n * sizeof *y) == 0 && memcmp(ld, ld0, sizeof ld) == 0,                \
              "coupling update %s parity %d: %s gives the generic bits (y, logdet)", #S, par,      \
              lf_nn_isa_name(isa));                                                                \
      }                                                                                            \
      lf_nn_set_isa(LF_ISA_AUTO);                                                                  \
    }                                                                                              \
    lf_free(p), lf_free(g), lf_free(x), lf_free(st), lf_free(y0), lf_free(y);                      \
    lf_lattice_free(&lat);                                                                         \
  }
UPDATE_TEST(f, float, 1e-6)
UPDATE_TEST(d, double, 1e-14)

int main(void) {
  update_test_f();
  update_test_d();
  for (int i = 0; i < NCASES; i++) test_case(&cases[i]);
  test_model(LF_PREC_F32, LF_BASE_NORMAL);
  test_model(LF_PREC_F64, LF_BASE_NORMAL);
  test_model(LF_PREC_F32, LF_BASE_FREE_FIELD);
  test_model(LF_PREC_F64, LF_BASE_FREE_FIELD);
  return lf_test_result();
}
