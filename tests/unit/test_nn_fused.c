/* Fused conv + activation (lf_conv2d_forward_act, latflow/nn_t.h) and the float exp/tanh
 * without libm (src/nn/vmath.h):
 *  - forward_act == forward followed by lf_act_forward, in float and double, for both
 *    activations, on every path this CPU has (im2col, direct generic/AVX2/AVX-512), on
 *    shapes that take the rotation kernels (k = 3, rows of 8 or 16, or of several vectors), the
 * shifted-plane kernels, the scalar leftover sites (V not a multiple of the vector) and k = 5:
 *    bitwise for leaky_relu and for double tanh, to float rounding for float tanh (the
 *    vector tanh may contract multiply-adds);
 *  - NaN inputs give NaN outputs through the fused epilogue (not clamped away);
 *  - lf_vm_expf and lf_vm_tanhf against libm in double on a dense grid.
 * A wrong epilogue (wrong slope, activation skipped or applied twice, missing tail) gives
 * differences of order 1e-2 .. 1. */
#include "latflow/nn.h"
#include "latflow/timer.h"
#include "lftest.h"
#include "nn_test.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

typedef struct shape {
  int cin, cout, k, L0, L1, B;
} shape;

static const shape shapes[] = {
    {1, 8, 3, 16, 16, 3}, /* first conv of the tutorial flow; rotation path in float AVX-512 */
    {8, 2, 3, 8, 8, 2},   /* last conv; rotation path (rows of 8) */
    {3, 5, 3, 6, 10, 2},  /* odd channel counts, shifted planes, leftover sites */
    {2, 3, 3, 4, 6, 3},   /* V = 24: scalar leftover sites at every vector width */
    {2, 3, 5, 6, 6, 2},   /* k = 5 */
    {3, 13, 3, 5, 32, 2}, /* rows of several vectors (wide rotation kernels), 8+4+1 */
    {2, 3, 3, 4, 24, 2},  /* rows of 3 vectors in float AVX2 */
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static double maxdiff_d(size_t n, const double *a, const double *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

static double maxdiff_f(size_t n, const float *a, const float *b) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
  return m;
}

static double maxabs_f(size_t n, const float *a) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
  return m;
}

static void test_shape(const shape *s, int si) {
  const int V = s->L0 * s->L1;
  const size_t np = lf_conv2d_nparams_d(s->cin, s->cout, s->k);
  const size_t nx = (size_t)s->B * (size_t)s->cin * (size_t)V;
  const size_t ny = (size_t)s->B * (size_t)s->cout * (size_t)V;
  double *p = lf_alloc(np * sizeof *p), *x = lf_alloc(nx * sizeof *x);
  double *y1 = lf_alloc(ny * sizeof *y1), *y2 = lf_alloc(ny * sizeof *y2);
  float *pf = lf_alloc(np * sizeof *pf), *xf = lf_alloc(nx * sizeof *xf);
  float *y1f = lf_alloc(ny * sizeof *y1f), *y2f = lf_alloc(ny * sizeof *y2f);
  lf_rng_normal(lf_rng_key_make(3, LF_STREAM_TEST), 10u + (uint32_t)si, 0, np, p);
  lf_rng_normal(lf_rng_key_make(3, LF_STREAM_TEST), 20u + (uint32_t)si, 0, nx, x);
  for (size_t i = 0; i < np; i++) pf[i] = (float)(p[i] *= 0.5);
  for (size_t i = 0; i < nx; i++) xf[i] = (float)x[i];
  lf_conv2d_d cd;
  lf_conv2d_f cf;
  lf_conv2d_bind_d(&cd, s->cin, s->cout, s->k, s->L0, s->L1, p, NULL);
  lf_conv2d_bind_f(&cf, s->cin, s->cout, s->k, s->L0, s->L1, pf, NULL);
  double *wsd = lf_alloc(lf_conv2d_ws_size_d(&cd, s->B) * sizeof(double));
  float *wsf = lf_alloc(lf_conv2d_ws_size_f(&cf, s->B) * sizeof(float));
  for (int run = 0; run < NRUNS; run++) {
    if (!set_run(run)) continue;
    for (int a = 0; a < 2; a++) {
      const lf_act_kind act = a ? LF_ACT_TANH : LF_ACT_LEAKY_RELU;
      memset(y1, 0, ny * sizeof *y1);
      memset(y1f, 0, ny * sizeof *y1f);
      lf_conv2d_forward_act_algo_d(&cd, s->B, x, y1, wsd, act, runs[run].algo);
      lf_conv2d_forward_algo_d(&cd, s->B, x, y2, wsd, runs[run].algo);
      lf_act_forward_d(act, ny, y2, y2);
      const double ed = maxdiff_d(ny, y1, y2);
      lf_conv2d_forward_act_algo_f(&cf, s->B, xf, y1f, wsf, act, runs[run].algo);
      lf_conv2d_forward_algo_f(&cf, s->B, xf, y2f, wsf, runs[run].algo);
      lf_act_forward_f(act, ny, y2f, y2f);
      const double ef = maxdiff_f(ny, y1f, y2f), mag = maxabs_f(ny, y2f);
      /* leaky: the same select; double tanh: the same libm call; float tanh: same
       * polynomial, possibly contracted into FMAs (a few ulps of 1) */
      const double tolf = a ? 1e-6 : 0.0;
      CHECK(ed == 0.0 && ef <= tolf && mag > 0.1,
            "conv+%s fused %-14s cin=%d cout=%d k=%d %dx%d B=%d vs conv then act: double %.1e, "
            "float %.1e (|y| up to %.2f)",
            a ? "tanh" : "leaky", runs[run].name, s->cin, s->cout, s->k, s->L0, s->L1, s->B, ed, ef,
            mag);
    }
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  lf_free(p);
  lf_free(x);
  lf_free(y1);
  lf_free(y2);
  lf_free(pf);
  lf_free(xf);
  lf_free(y1f);
  lf_free(y2f);
  lf_free(wsd);
  lf_free(wsf);
}

/* NaN in the input must stay NaN through the fused epilogue at every level (a clamp by
 * max/min with the operands the wrong way round turns NaN into tanh(+-9) = +-1 and hides
 * it from the isfinite checks downstream): the fused output has NaN exactly where the
 * unfused one has. */
static void test_nan(void) {
  const shape s = {2, 8, 3, 16, 16, 2};
  const int V = s.L0 * s.L1;
  const size_t np = lf_conv2d_nparams_f(s.cin, s.cout, s.k);
  const size_t nx = (size_t)s.B * (size_t)s.cin * (size_t)V;
  const size_t ny = (size_t)s.B * (size_t)s.cout * (size_t)V;
  float *p = lf_alloc(np * sizeof *p), *x = lf_alloc(nx * sizeof *x);
  float *y1 = lf_alloc(ny * sizeof *y1), *y2 = lf_alloc(ny * sizeof *y2);
  for (size_t i = 0; i < np; i++) p[i] = 0.1f * (float)((int)(i % 7) - 3);
  for (size_t i = 0; i < nx; i++) x[i] = 0.2f * (float)((int)(i % 5) - 2);
  x[V + 17] = NAN; /* sample 0, channel 1, site 17: 9 sites of every output channel */
  lf_conv2d_f cf;
  lf_conv2d_bind_f(&cf, s.cin, s.cout, s.k, s.L0, s.L1, p, NULL);
  float *ws = lf_alloc(lf_conv2d_ws_size_f(&cf, s.B) * sizeof(float));
  for (int run = 0; run < NRUNS; run++) {
    if (!set_run(run)) continue;
    for (int a = 0; a < 2; a++) {
      const lf_act_kind act = a ? LF_ACT_TANH : LF_ACT_LEAKY_RELU;
      lf_conv2d_forward_act_algo_f(&cf, s.B, x, y1, ws, act, runs[run].algo);
      lf_conv2d_forward_algo_f(&cf, s.B, x, y2, ws, runs[run].algo);
      lf_act_forward_f(act, ny, y2, y2);
      size_t n1 = 0, n2 = 0, both = 0;
      for (size_t i = 0; i < ny; i++) {
        n1 += isnan(y1[i]) != 0;
        n2 += isnan(y2[i]) != 0;
        both += isnan(y1[i]) && isnan(y2[i]);
      }
      CHECK(n1 == n2 && both == n2 && n2 == 9 * (size_t)s.cout,
            "NaN through conv+%s fused %-14s: %zu NaN outputs, unfused %zu (want 9 x %d)",
            a ? "tanh" : "leaky", runs[run].name, n1, n2, s.cout);
    }
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  lf_free(p);
  lf_free(x);
  lf_free(y1);
  lf_free(y2);
  lf_free(ws);
}

static void test_vmath(void) {
  double e_exp = 0.0, e_tanh = 0.0;
  for (int i = -200000; i <= 200000; i++) {
    const float xf = (float)i * 1e-4f; /* [-20, 20] */
    const double ex = exp((double)xf);
    e_exp = fmax(e_exp, fabs((double)lf_vm_expf(xf) - ex) / ex);
    const float xt = (float)i * 6e-5f; /* [-12, 12] */
    e_tanh = fmax(e_tanh, fabs((double)lf_vm_tanhf(xt) - tanh((double)xt)));
  }
  CHECK(e_exp < 2e-7, "lf_vm_expf on [-20, 20]: worst relative error %.2e (float ulp 6e-8)", e_exp);
  CHECK(e_tanh < 2e-7, "lf_vm_tanhf on [-12, 12]: worst absolute error %.2e", e_tanh);
  CHECK(lf_vm_expf(0.0f) == 1.0f && lf_vm_expf(-200.0f) > 0.0f && isfinite(lf_vm_expf(200.0f)),
        "lf_vm_expf(0) = %.9g exactly 1; clamped: exp(-200) = %.3g, exp(200) = %.3g",
        (double)lf_vm_expf(0.0f), (double)lf_vm_expf(-200.0f), (double)lf_vm_expf(200.0f));
}

int main(void) {
  test_vmath();
  test_nan();
  for (int si = 0; si < NSHAPES; si++) test_shape(&shapes[si], si);
  return lf_test_result();
}
