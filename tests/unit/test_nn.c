/* nn: periodic conv2d (forward against a naive loop, im2col against direct, backward by
 * finite differences in double, float against double), activations, initializers and
 * optimizers (hand-computed steps, Adam on a quadratic). */
#include "latflow/nn.h"
#include "latflow/timer.h"
#include "lftest.h"
#include "nn_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static lf_rng_key test_key;

/* n normals for test array `tag` (a pure function of the tag) */
static void fill_normal(double *a, size_t n, uint64_t tag) {
  lf_rng_normal(test_key, 9, tag, n, a);
}

static void to_float(const double *a, float *f, size_t n) {
  for (size_t i = 0; i < n; i++) f[i] = (float)a[i];
}

static int wrapi(int j, int L) {
  j %= L;
  return j < 0 ? j + L : j;
}

/* The definition in nn_t.h, literally: 7 nested loops, long double accumulation. */
static void conv_naive(int cin, int cout, int k, int L0, int L1, int B, const double *w,
                       const double *bias, const double *x, double *y) {
  const int h = k / 2, V = L0 * L1;
  for (int b = 0; b < B; b++)
    for (int o = 0; o < cout; o++)
      for (int x0 = 0; x0 < L0; x0++)
        for (int x1 = 0; x1 < L1; x1++) {
          long double s = bias[o];
          for (int i = 0; i < cin; i++)
            for (int a = 0; a < k; a++)
              for (int c = 0; c < k; c++)
                s += (long double)w[((o * cin + i) * k + a) * k + c] *
                     x[((size_t)b * cin + i) * V + wrapi(x0 + a - h, L0) * L1 +
                       wrapi(x1 + c - h, L1)];
          y[((size_t)b * cout + o) * V + x0 * L1 + x1] = (double)s;
        }
}

static double max_rel(const double *a, const double *b, size_t n) {
  double scale = 0, err = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) err = fmax(err, fabs(a[i] - b[i]));
  return err / fmax(scale, 1e-300);
}

static double max_rel_f(const float *a, const double *b, size_t n) {
  double scale = 0, err = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)a[i] - b[i]));
  return err / fmax(scale, 1e-300);
}

typedef struct shape {
  int cin, cout, k, L0, L1, B;
} shape;

static const shape shapes[] = {
    /* odd and tiny lattices, k = 1..7: the generic kernels and their scalar tails */
    {2, 3, 3, 3, 5, 3},
    {3, 2, 1, 4, 6, 3},
    {1, 4, 5, 3, 5, 3},
    {2, 2, 5, 4, 6, 3},
    {3, 1, 3, 2, 3, 3},
    {5, 3, 7, 3, 5, 3},
    {8, 2, 3, 4, 6, 3},
    /* k = 3 with rows that fill SIMD vectors (the rotation kernels) and 8+4+1 channels */
    {1, 8, 3, 8, 8, 3},
    {3, 13, 3, 4, 4, 3},
    {2, 5, 3, 6, 8, 3},
    {1, 2, 3, 32, 2, 3},
    {8, 8, 3, 16, 16, 2},
    {4, 3, 5, 8, 8, 2},
    {2, 3, 3, 8, 8, 70}, /* several im2col and dW chunks */
    /* k = 3 with rows of several vectors (the wide rotation kernels: float rows of 16 and
     * 32 with AVX2, 32 with AVX-512; double rows of 8+ with AVX2, 16+ with AVX-512),
     * non-square, odd row counts, 8+4+1 channels, 3 vectors per row (L1 = 24) */
    {2, 5, 3, 5, 16, 2},
    {2, 3, 3, 3, 32, 2},
    {1, 3, 3, 3, 8, 2},
    {3, 13, 3, 4, 32, 2},
    {8, 8, 3, 3, 24, 2},
    {1, 8, 3, 16, 16, 3},
    {8, 2, 3, 7, 32, 40}, /* several dW chunks */
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* ---- forward: naive, im2col, direct, both precisions -------------------------------- */
static void test_forward(const shape *s, int si) {
  const int V = s->L0 * s->L1;
  const size_t np = lf_conv2d_nparams_d(s->cin, s->cout, s->k);
  const size_t nx = (size_t)s->B * s->cin * V, ny = (size_t)s->B * s->cout * V;
  double *p = malloc(np * sizeof *p), *x = malloc(nx * sizeof *x);
  double *yref = malloc(ny * sizeof *yref), *y = malloc(ny * sizeof *y);
  float *pf = malloc(np * sizeof *pf), *xf = malloc(nx * sizeof *xf), *yf = malloc(ny * sizeof *yf);
  fill_normal(p, np, 100 + (uint64_t)si);
  fill_normal(x, nx, 200 + (uint64_t)si);
  to_float(p, pf, np);
  to_float(x, xf, nx);
  lf_conv2d_d cd;
  lf_conv2d_f cf;
  lf_conv2d_bind_d(&cd, s->cin, s->cout, s->k, s->L0, s->L1, p, NULL);
  lf_conv2d_bind_f(&cf, s->cin, s->cout, s->k, s->L0, s->L1, pf, NULL);
  double *wsd = lf_alloc(lf_conv2d_ws_size_d(&cd, s->B) * sizeof(double));
  float *wsf = lf_alloc(lf_conv2d_ws_size_f(&cf, s->B) * sizeof(float));
  conv_naive(s->cin, s->cout, s->k, s->L0, s->L1, s->B, cd.w, cd.bias, x, yref);
  for (int run = 0; run < NRUNS; run++) {
    if (!set_run(run)) continue;
    lf_conv2d_forward_algo_d(&cd, s->B, x, y, wsd, runs[run].algo);
    const double ed = max_rel(y, yref, ny);
    lf_conv2d_forward_algo_f(&cf, s->B, xf, yf, wsf, runs[run].algo);
    const double ef = max_rel_f(yf, yref, ny);
    CHECK(ed < 1e-14 && ef < 2e-6,
          "conv fwd %-14s cin=%d cout=%d k=%d %dx%d B=%d vs naive: double %.2e, float %.2e (rel)",
          runs[run].name, s->cin, s->cout, s->k, s->L0, s->L1, s->B, ed, ef);
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  CHECK(strcmp(lf_nn_isa_name(LF_ISA_GENERIC), "generic") == 0 &&
            strcmp(lf_nn_isa_name(LF_ISA_AVX512), "avx512") == 0 &&
            strcmp(lf_nn_isa_name((lf_nn_isa)7), "unknown") == 0,
        "lf_nn_isa_name: generic '%s', avx512 '%s', 7 '%s'", lf_nn_isa_name(LF_ISA_GENERIC),
        lf_nn_isa_name(LF_ISA_AVX512), lf_nn_isa_name((lf_nn_isa)7));
  free(p), free(x), free(yref), free(y), free(pf), free(xf), free(yf);
  lf_free(wsd), lf_free(wsf);
}

/* ---- backward: finite differences in double ------------------------------------------ */
typedef struct conv_ctx {
  lf_conv2d_d *c;
  int B;
  double *x, *y, *r, *ws;
  lf_conv_algo algo;
} conv_ctx;

static double conv_loss(void *vctx) { /* sum(r * y) */
  conv_ctx *t = vctx;
  lf_conv2d_forward_algo_d(t->c, t->B, t->x, t->y, t->ws, t->algo);
  const size_t ny = (size_t)t->B * t->c->cout * t->c->V;
  long double s = 0;
  for (size_t i = 0; i < ny; i++) s += (long double)t->r[i] * t->y[i];
  return (double)s;
}

/* lf_gradcheck's worst error (err[0]) and the same with the denominator floored at
 * 1e-3 max|grad| (err[1]). A sum of ~600 products has FD round-off ~1e-9 (about
 * 1e-16 |y| sqrt(N) / h), so a component that is accidentally ~1e-4 fails the plain
 * relative test without a bug; a wrong gradient still gives err ~ 1. */
static void gradcheck2(lf_loss_fn loss, void *ctx, double *theta, const double *grad, size_t n,
                       double h, double err[2]) {
  err[0] = lf_gradcheck(loss, ctx, theta, grad, n, h);
  err[1] = lf_gradcheck_scaled(loss, ctx, theta, grad, n, h);
}

static void test_backward(const shape *s, int si, int run) {
  const lf_conv_algo algo = runs[run].algo;
  const int V = s->L0 * s->L1;
  const size_t np = lf_conv2d_nparams_d(s->cin, s->cout, s->k);
  const size_t nx = (size_t)s->B * s->cin * V, ny = (size_t)s->B * s->cout * V;
  double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *x = malloc(nx * sizeof *x);
  double *dx = malloc(nx * sizeof *dx), *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
  double *g0 = malloc(np * sizeof *g0), *dx0 = malloc(nx * sizeof *dx0);
  fill_normal(p, np, 300 + (uint64_t)si);
  fill_normal(x, nx, 400 + (uint64_t)si);
  fill_normal(r, ny, 500 + (uint64_t)si);
  /* start from nonzero grads to check that backward accumulates */
  fill_normal(g0, np, 600 + (uint64_t)si);
  fill_normal(dx0, nx, 700 + (uint64_t)si);
  memcpy(g, g0, np * sizeof *g);
  memcpy(dx, dx0, nx * sizeof *dx);
  lf_conv2d_d cd;
  lf_conv2d_bind_d(&cd, s->cin, s->cout, s->k, s->L0, s->L1, p, g);
  double *ws = lf_alloc(lf_conv2d_ws_size_d(&cd, s->B) * sizeof(double));
  lf_conv2d_backward_algo_d(&cd, s->B, x, r, dx, ws, algo);
  for (size_t i = 0; i < np; i++) g[i] -= g0[i];
  for (size_t i = 0; i < nx; i++) dx[i] -= dx0[i];
  conv_ctx ctx = {&cd, s->B, x, y, r, ws, algo};
  double ex[2], ew[2];
  gradcheck2(conv_loss, &ctx, x, dx, nx, 1e-5, ex);
  gradcheck2(conv_loss, &ctx, p, g, np, 1e-5, ew);
  CHECK(ex[1] < 1e-6 && ew[1] < 1e-6,
        "conv bwd %-14s FD cin=%d cout=%d k=%d %dx%d B=%d (h=1e-5): dx %.1e, dw+dbias %.1e "
        "(lf_gradcheck: %.1e, %.1e)",
        runs[run].name, s->cin, s->cout, s->k, s->L0, s->L1, s->B, ex[1], ew[1], ex[0], ew[0]);
  free(p), free(g), free(x), free(dx), free(y), free(r), free(g0), free(dx0);
  lf_free(ws);
}

/* backward of every path, both precisions, against the im2col double result (no FD:
 * larger shapes, several chunks) */
static void test_backward_agree(const shape *s, int si) {
  const int V = s->L0 * s->L1;
  const size_t np = lf_conv2d_nparams_d(s->cin, s->cout, s->k);
  const size_t nx = (size_t)s->B * s->cin * V, ny = (size_t)s->B * s->cout * V;
  double *p = malloc(np * sizeof *p), *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
  double *gref = calloc(np, sizeof *gref), *dxref = calloc(nx, sizeof *dxref);
  double *g = malloc(np * sizeof *g), *dx = malloc(nx * sizeof *dx);
  float *pf = malloc(np * sizeof *pf), *xf = malloc(nx * sizeof *xf),
        *dyf = malloc(ny * sizeof *dyf);
  float *gf = malloc(np * sizeof *gf), *dxf = malloc(nx * sizeof *dxf);
  fill_normal(p, np, 800 + (uint64_t)si);
  fill_normal(x, nx, 900 + (uint64_t)si);
  fill_normal(dy, ny, 1000 + (uint64_t)si);
  to_float(p, pf, np), to_float(x, xf, nx), to_float(dy, dyf, ny);
  lf_conv2d_d cd;
  lf_conv2d_f cf;
  lf_conv2d_bind_d(&cd, s->cin, s->cout, s->k, s->L0, s->L1, p, gref);
  double *wsd = lf_alloc(lf_conv2d_ws_size_d(&cd, s->B) * sizeof(double));
  lf_conv2d_backward_algo_d(&cd, s->B, x, dy, dxref, wsd, LF_CONV_IM2COL);
  lf_conv2d_bind_f(&cf, s->cin, s->cout, s->k, s->L0, s->L1, pf, gf);
  float *wsf = lf_alloc(lf_conv2d_ws_size_f(&cf, s->B) * sizeof(float));
  for (int run = 0; run < NRUNS; run++) {
    if (!set_run(run)) continue;
    const lf_conv_algo algo = runs[run].algo;
    memset(g, 0, np * sizeof *g), memset(dx, 0, nx * sizeof *dx);
    cd.dw = g, cd.dbias = g + np - (size_t)s->cout;
    lf_conv2d_backward_algo_d(&cd, s->B, x, dy, dx, wsd, algo);
    memset(gf, 0, np * sizeof *gf), memset(dxf, 0, nx * sizeof *dxf);
    lf_conv2d_backward_algo_f(&cf, s->B, xf, dyf, dxf, wsf, algo);
    const double egd = max_rel(g, gref, np), exd = max_rel(dx, dxref, nx);
    const double egf = max_rel_f(gf, gref, np), exf = max_rel_f(dxf, dxref, nx);
    CHECK(egd < 1e-13 && exd < 1e-13 && egf < 1e-5 && exf < 1e-5,
          "conv bwd %-14s vs im2col cin=%d cout=%d k=%d %dx%d B=%d: double dw %.1e dx %.1e, "
          "float dw %.1e dx %.1e",
          runs[run].name, s->cin, s->cout, s->k, s->L0, s->L1, s->B, egd, exd, egf, exf);
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  /* dx may be NULL: parameter grads unchanged */
  memset(g, 0, np * sizeof *g);
  cd.dw = g, cd.dbias = g + np - (size_t)s->cout;
  lf_conv2d_backward_d(&cd, s->B, x, dy, NULL, wsd);
  CHECK(max_rel(g, gref, np) < 1e-13, "conv bwd with dx = NULL: dw rel err %.1e",
        max_rel(g, gref, np));
  free(p), free(x), free(dy), free(gref), free(dxref), free(g), free(dx), free(pf), free(xf);
  free(dyf), free(gf), free(dxf);
  lf_free(wsd), lf_free(wsf);
}

/* ---- activations ---------------------------------------------------------------------- */
typedef struct act_ctx {
  lf_act_kind act;
  size_t n;
  double *x, *y, *r;
} act_ctx;

static double act_loss(void *vctx) {
  act_ctx *t = vctx;
  lf_act_forward_d(t->act, t->n, t->x, t->y);
  double s = 0;
  for (size_t i = 0; i < t->n; i++) s += t->r[i] * t->y[i];
  return s;
}

static void test_act(void) {
  enum { N = 37 };
  double x[N], y[N], r[N], dx[N], dx0[N];
  float xf[N], yf[N], rf[N], dxf[N];
  fill_normal(x, N, 2000);
  fill_normal(r, N, 2001);
  fill_normal(dx0, N, 2002);
  /* keep leaky_relu's kink out of the FD stencil */
  for (int i = 0; i < N; i++)
    if (fabs(x[i]) < 1e-3) x[i] = 0.5;
  to_float(x, xf, N), to_float(r, rf, N);
  const lf_act_kind kinds[2] = {LF_ACT_LEAKY_RELU, LF_ACT_TANH};
  for (int q = 0; q < 2; q++) {
    const lf_act_kind k = kinds[q];
    const char *nm = q ? "tanh" : "leaky_relu";
    lf_act_forward_d(k, N, x, y);
    memcpy(dx, dx0, sizeof dx);
    lf_act_backward_d(k, N, x, y, r, dx);
    for (int i = 0; i < N; i++) dx[i] -= dx0[i];
    act_ctx ctx = {k, N, x, y, r};
    const double e = lf_gradcheck(act_loss, &ctx, x, dx, N, 1e-5);
    CHECK(e < 1e-6, "%s backward FD rel err %.2e", nm, e);
    lf_act_forward_d(k, N, x, y); /* the FD loop left y at a perturbed x */
    /* forward values from the definition */
    double ef = 0;
    for (int i = 0; i < N; i++) {
      const double want = q ? tanh(x[i]) : (x[i] > 0 ? x[i] : 0.01 * x[i]);
      ef = fmax(ef, fabs(y[i] - want));
    }
    CHECK(ef < 1e-15, "%s forward vs definition %.1e", nm, ef);
    /* in-place forward (y aliases x) */
    double xa[N];
    memcpy(xa, x, sizeof xa);
    lf_act_forward_d(k, N, xa, xa);
    CHECK(memcmp(xa, y, sizeof xa) == 0, "%s forward in place", nm);
    /* float agrees with double */
    lf_act_forward_f(k, N, xf, yf);
    memset(dxf, 0, sizeof dxf);
    lf_act_backward_f(k, N, xf, yf, rf, dxf);
    const double e1 = max_rel_f(yf, y, N), e2 = max_rel_f(dxf, dx, N);
    CHECK(e1 < 1e-6 && e2 < 1e-6, "%s float vs double: y %.1e, dx %.1e", nm, e1, e2);
  }
  /* the slope at and below 0 */
  double z[3] = {0.0, -2.0, 3.0}, zy[3], dz[3] = {0, 0, 0}, one[3] = {1, 1, 1};
  lf_act_forward_d(LF_ACT_LEAKY_RELU, 3, z, zy);
  lf_act_backward_d(LF_ACT_LEAKY_RELU, 3, z, zy, one, dz);
  CHECK(zy[0] == 0.0 && zy[1] == -0.02 && zy[2] == 3.0 && dz[0] == 0.01 && dz[1] == 0.01 &&
            dz[2] == 1.0,
        "leaky_relu(0,-2,3) = (%g,%g,%g), slopes (%g,%g,%g)", zy[0], zy[1], zy[2], dz[0], dz[1],
        dz[2]);
}

/* ---- initializers --------------------------------------------------------------------- */
static void test_init(void) {
  const int cin = 32, cout = 48, k = 5; /* 38400 weights */
  const size_t np = lf_conv2d_nparams_d(cin, cout, k), nw = np - (size_t)cout;
  double *p = calloc(np, sizeof *p), *p2 = calloc(np, sizeof *p2);
  float *pf = calloc(np, sizeof *pf);
  lf_rng_key key = lf_rng_key_make(77, LF_STREAM_INIT);
  lf_conv2d_d c, c2;
  lf_conv2d_f cf;
  const double fin = (double)cin * k * k, fout = (double)cout * k * k;
  for (int kind = 0; kind < 2; kind++) {
    const double scale = kind ? 1.3 : 0.7;
    const double bnd = kind ? scale * sqrt(6.0 / (fin + fout)) : scale / sqrt(fin);
    const char *nm = kind ? "xavier" : "kaiming";
    lf_conv2d_bind_d(&c, cin, cout, k, 4, 4, p, NULL);
    lf_conv2d_init_d(&c, (lf_init_kind)kind, scale, key, 1000);
    double mx = 0, s1 = 0, s2 = 0;
    for (size_t j = 0; j < nw; j++) {
      mx = fmax(mx, fabs(p[j]));
      s1 += p[j];
      s2 += p[j] * p[j];
    }
    const double n = (double)nw, mean = s1 / n, m2 = s2 / n;
    const double sd_mean = bnd / sqrt(3.0 * n);                  /* var(w) = b^2/3 */
    const double sd_m2 = sqrt(4.0 / 45.0) * bnd * bnd / sqrt(n); /* var(w^2) = 4b^4/45 */
    const double z1 = mean / sd_mean, z2 = (m2 - bnd * bnd / 3) / sd_m2;
    CHECK(mx <= bnd && mx > 0.999 * bnd, "%s max|w| %.6f, bound %.6f", nm, mx, bnd);
    CHECK(fabs(z1) < 5 && fabs(z2) < 5, "%s mean %.2e (z=%.2f), <w^2> %.6f vs b^2/3 %.6f (z=%.2f)",
          nm, mean, z1, m2, bnd * bnd / 3, z2);
    double bmax = 0;
    for (int o = 0; o < cout; o++) bmax = fmax(bmax, fabs(p[nw + (size_t)o]));
    if (kind)
      CHECK(bmax == 0.0, "xavier bias is zero (max %g)", bmax);
    else
      CHECK(bmax <= bnd && bmax > 0.0, "kaiming bias in (-b, b): max %.4f, b %.4f", bmax, bnd);
    /* deterministic and a pure function of the arena position: offset+1 shifts by one */
    lf_conv2d_bind_d(&c2, cin, cout, k, 4, 4, p2, NULL);
    lf_conv2d_init_d(&c2, (lf_init_kind)kind, scale, key, 1000);
    CHECK(memcmp(p, p2, np * sizeof *p) == 0, "%s init deterministic", nm);
    /* weight j draws counter index offset + j: offset + 1 shifts the weights by one */
    lf_conv2d_init_d(&c2, (lf_init_kind)kind, scale, key, 1001);
    int shifted = 1;
    for (size_t j = 0; j + 1 < nw; j++) shifted &= p2[j] == p[j + 1];
    CHECK(shifted && p2[0] != p[0], "%s draw of weight j is index offset + j", nm);
    lf_conv2d_bind_f(&cf, cin, cout, k, 4, 4, pf, NULL);
    lf_conv2d_init_f(&cf, (lf_init_kind)kind, scale, key, 1000);
    int eq = 1;
    for (size_t j = 0; j < np; j++) eq &= pf[j] == (float)p[j];
    CHECK(eq, "%s float init = (float) double init", nm);
  }
  free(p), free(p2), free(pf);
}

/* ---- optimizers --------------------------------------------------------------------- */
/* Reference steps in torch.optim's own algorithmic form (adam: step_size = lr / bc1,
 * denom = sqrt(v) / sqrt(bc2) + eps), one parameter at a time, in double. */
static void ref_step(const lf_optim_cfg *o, double lr, int t, double *p, double g, double *m,
                     double *v) {
  g += o->weight_decay * *p;
  if (o->name == LF_OPT_ADAM) {
    *m = o->beta1 * *m + (1 - o->beta1) * g;
    *v = o->beta2 * *v + (1 - o->beta2) * g * g;
    const double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
    *p -= (lr / bc1) * *m / (sqrt(*v) / sqrt(bc2) + o->eps);
  } else if (o->name == LF_OPT_SGD) {
    *m = t == 1 ? g : o->momentum * *m + g;
    *p -= lr * (o->momentum != 0 ? *m : g);
  } else {
    *m = o->rho * *m + (1 - o->rho) * g * g;
    const double std = sqrt(*m + o->eps);
    const double delta = sqrt(*v + o->eps) / std * g;
    *v = o->rho * *v + (1 - o->rho) * delta * delta;
    *p -= lr * delta;
  }
}

static void test_optim(void) {
  /* g(p) = a (p - c): three decoupled quadratics */
  const double a[3] = {1.0, 3.0, 0.5}, c[3] = {0.1, 0.2, -0.3}, p0[3] = {0.5, -1.0, 2.0};
  lf_optim_cfg cfgs[4] = {
      {.name = LF_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
      {.name = LF_OPT_ADAM, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-3, .weight_decay = 0.05},
      {.name = LF_OPT_SGD, .momentum = 0.9, .weight_decay = 0.01},
      {.name = LF_OPT_ADADELTA, .rho = 0.9, .eps = 1e-6, .weight_decay = 0.02},
  };
  const double lrs[4] = {0.1, 0.05, 0.1, 1.0};
  const char *names[4] = {"adam", "adam+wd", "sgd+momentum+wd", "adadelta+wd"};
  for (int q = 0; q < 4; q++) {
    double p[3], m[3] = {0}, v[3] = {0}, g[3], pr[3], mr[3] = {0}, vr[3] = {0};
    float pf[3], mf[3] = {0}, vf[3] = {0}, gf[3];
    memcpy(p, p0, sizeof p), memcpy(pr, p0, sizeof pr), to_float(p0, pf, 3);
    for (int t = 1; t <= 3; t++) {
      const double lr = lrs[q] / t; /* the schedule's lr, not cfg->lr */
      for (int i = 0; i < 3; i++) {
        g[i] = a[i] * (p[i] - c[i]);
        gf[i] = (float)(a[i] * ((double)pf[i] - c[i]));
        ref_step(&cfgs[q], lr, t, &pr[i], a[i] * (pr[i] - c[i]), &mr[i], &vr[i]);
      }
      lf_optim_step_d(&cfgs[q], lr, (uint64_t)t, 3, p, g, m, v);
      lf_optim_step_f(&cfgs[q], lr, (uint64_t)t, 3, pf, gf, mf, vf);
    }
    const double ed = max_rel(p, pr, 3), ef = max_rel_f(pf, pr, 3);
    CHECK(ed < 1e-14 && ef < 1e-6,
          "%s: 3 steps vs reference (%.6f %.6f %.6f): double %.1e, float %.1e (rel)", names[q],
          pr[0], pr[1], pr[2], ed, ef);
  }
  /* literal first steps */
  {
    lf_optim_cfg o = {.name = LF_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    double p[3] = {1, 1, 1}, g[3] = {2.0, -0.5, 1e-3}, m[3] = {0}, v[3] = {0};
    lf_optim_step_d(&o, 0.01, 1, 3, p, g, m, v);
    /* bias-corrected step 1 moves by lr * g / (|g| + eps): ~ lr * sign(g) */
    const double want[3] = {1 - 0.01 * 2 / (2 + 1e-8), 1 + 0.01 * 0.5 / (0.5 + 1e-8),
                            1 - 0.01 * 1e-3 / (1e-3 + 1e-8)};
    CHECK(max_rel(p, want, 3) < 1e-15, "adam step 1 = p - lr g/(|g|+eps): %.10f %.10f %.10f", p[0],
          p[1], p[2]);
  }
  {
    lf_optim_cfg o = {.name = LF_OPT_SGD, .momentum = 0.9};
    double p[3] = {0, 1, 2}, g[3] = {1, 1, 1}, m[3] = {0}, v[3] = {0};
    for (int t = 1; t <= 3; t++) lf_optim_step_d(&o, 0.1, (uint64_t)t, 3, p, g, m, v);
    /* buf = 1, 1.9, 2.71: p drops by 0.1 * 5.61 */
    CHECK(fabs(p[0] + 0.561) < 1e-15 && fabs(p[2] - 1.439) < 1e-15 && fabs(m[1] - 2.71) < 1e-15,
          "sgd momentum 0.9, g = 1, 3 steps: p0 %.15f (-0.561), buf %.15f (2.71)", p[0], m[1]);
  }
  {
    lf_optim_cfg o = {.name = LF_OPT_ADADELTA, .rho = 0.9, .eps = 1e-6};
    double p[1] = {0}, g[1] = {1}, m[1] = {0}, v[1] = {0};
    lf_optim_step_d(&o, 1.0, 1, 1, p, g, m, v);
    /* E[g2] = 0.1, delta = sqrt(1e-6) / sqrt(0.100001), E[dx2] = 0.1 delta^2 */
    const double d = 1e-3 / sqrt(0.100001);
    CHECK(fabs(p[0] + d) < 1e-18 && fabs(m[0] - 0.1) < 1e-16 && fabs(v[0] - 0.1 * d * d) < 1e-20,
          "adadelta step 1, g = 1: p %.12e (want %.12e)", p[0], -d);
  }
  /* Adam minimizes a badly scaled quadratic f = 1/2 sum a_i (p_i - c_i)^2 */
  {
    enum { N = 50 };
    lf_optim_cfg o = {.name = LF_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    double p[N], g[N], m[N] = {0}, v[N] = {0}, ai[N], ci[N];
    fill_normal(p, N, 3000);
    fill_normal(ci, N, 3001);
    for (int i = 0; i < N; i++) ai[i] = pow(10.0, -2.0 + 4.0 * i / (N - 1)); /* 1e-2 .. 1e2 */
    double f0 = 0, f = 0, worst = 0;
    for (int i = 0; i < N; i++) f0 += 0.5 * ai[i] * (p[i] - ci[i]) * (p[i] - ci[i]);
    for (int t = 1; t <= 3000; t++) {
      for (int i = 0; i < N; i++) g[i] = ai[i] * (p[i] - ci[i]);
      lf_optim_step_d(&o, t <= 1500 ? 0.05 : 0.005, (uint64_t)t, N, p, g, m, v);
    }
    for (int i = 0; i < N; i++) {
      f += 0.5 * ai[i] * (p[i] - ci[i]) * (p[i] - ci[i]);
      worst = fmax(worst, fabs(p[i] - ci[i]));
    }
    CHECK(f < 1e-6 * f0 && worst < 1e-2,
          "adam on a quadratic (curvature 1e-2..1e2): f %.3e -> %.3e, max|p-c| %.2e", f0, f, worst);
  }
}

int main(void) {
  test_key = lf_rng_key_make(4321, LF_STREAM_TEST);
  for (int i = 0; i < NSHAPES; i++) test_forward(&shapes[i], i);
  /* FD on the small shapes (every kernel family is among them); the large ones are
   * checked against the FD-checked im2col path in test_backward_agree */
  for (int i = 0; i < NSHAPES; i++) {
    const shape *sh = &shapes[i];
    const int n = sh->B * sh->cin * sh->L0 * sh->L1;
    if (n > 1200) {
      fprintf(stderr, "skip FD for cin=%d cout=%d %dx%d B=%d (%d inputs): agreement only\n",
              sh->cin, sh->cout, sh->L0, sh->L1, sh->B, n);
      continue;
    }
    for (int run = 1; run < NRUNS; run++)
      if (set_run(run)) test_backward(sh, i, run);
  }
  lf_nn_set_isa(LF_ISA_AUTO);
  for (int i = 0; i < NSHAPES; i++) test_backward_agree(&shapes[i], i);
  test_act();
  test_init();
  test_optim();
  return lf_test_result();
}
