/* src/flow/gauge_t.c: gauge-equivariant coupling layers for 2D U(1) and their table of
 * layer operations for the stack (contract: latflow/gauge_flow_t.h; the stack:
 * src/flow/flowstack_t.c).
 *
 * Kanwar et al., PRL 125, 121601 (2020), eq. (4)-(6): a plaquette coupling P -> P' acting
 * on active plaquettes, conditioned on frozen (unchanged) plaquettes, is lifted to links
 * by shifting the one active link inside each active plaquette by P' - P. Masks and the
 * (cos, sin) input of the net follow the tutorial, Albergo et al., arXiv 2101.08176,
 * section IV.B (make_2d_link_active_stripes, make_plaq_masks); the plaquette coupling is
 * a circular spline (Rezende et al., arXiv 2002.02428) instead of the tutorial's NCP.
 *
 * Saved workspace of one call at batch B (LF_R elements, in this order):
 *   netin  (B, 2, V)      frozen * (cos P, sin P) of the call's input field
 *   post_k (B, h_k, V)    hidden activations (outputs; see coupling_t.c for why outputs)
 *   u      (B, 3K, V)     spline parameters (last conv, linear)
 *   pw     (B, V)         the input plaquettes wrapped to [0, 2 pi)
 *   q      (B, V)         spline outputs on active sites (forward: P'; inverse: f^-1)
 * Scratch: two (B, hmax, V) gradient buffers, a (B, V) plaquette gradient, conv scratch. */
#include "latflow/gauge_flow.h"

#include "core/prec.h"
#include "layer_impl.h"

#include <math.h>
#include <string.h>

#define TWO_PI 6.28318530717958647692

typedef struct ws_view {
  LF_R *netin, *post[LF_MAX_HIDDEN], *u, *pw, *q;
} ws_view;

static ws_view ws_layout(const LF_T(lf_gcoupling) * c, int B, LF_R *ws) {
  ws_view w;
  const size_t BV = (size_t)B * (size_t)c->V;
  size_t off = 2 * BV;
  w.netin = ws;
  for (int k = 0; k < c->nconv - 1; k++) {
    w.post[k] = ws + off;
    off += BV * (size_t)c->conv[k].cout;
  }
  w.u = ws + off;
  off += BV * (size_t)(3 * c->K);
  w.pw = ws + off;
  w.q = ws + off + BV;
  return w;
}

static int hmax_of(const LF_T(lf_gcoupling) * c) {
  return LF_T(lf_convnet_hmax)(c->conv, c->nconv, 3 * c->K);
}

size_t LF_T(lf_gcoupling_nparams)(int K, int nhidden, const int *hidden, int kernel) {
  return LF_T(lf_convnet_nparams)(2, nhidden, hidden, 3 * K, kernel);
}

void LF_T(lf_gcoupling_bind)(LF_T(lf_gcoupling) * c, int L0, int L1, int mu, int off, int K,
                             int nhidden, const int *hidden, int kernel, lf_act_kind act,
                             LF_R *params, LF_R *grads) {
  memset(c, 0, sizeof *c);
  c->L0 = L0;
  c->L1 = L1;
  c->V = L0 * L1;
  c->mu = mu;
  c->off = off;
  c->K = K;
  c->nconv = nhidden + 1;
  c->act = act;
  LF_T(lf_convnet_bind)(c->conv, 2, nhidden, hidden, 3 * K, kernel, L0, L1, params, grads);
}

size_t LF_T(lf_gcoupling_ws_size)(const LF_T(lf_gcoupling) * c, int B) {
  const size_t BV = (size_t)B * (size_t)c->V;
  size_t n = 2 * BV + BV * (size_t)(3 * c->K) + 2 * BV;
  for (int k = 0; k < c->nconv - 1; k++) n += BV * (size_t)c->conv[k].cout;
  return n;
}

size_t LF_T(lf_gcoupling_scratch_size)(const LF_T(lf_gcoupling) * c, int B) {
  const size_t conv = LF_T(lf_convnet_ws_size)(c->conv, c->nconv, B);
  const size_t BV = (size_t)B * (size_t)c->V;
  return 2 * BV * (size_t)hmax_of(c) + BV + conv;
}

void LF_T(lf_gcoupling_init)(LF_T(lf_gcoupling) * c, lf_init_kind kind, double scale,
                             lf_rng_key key, uint64_t offset) {
  LF_T(lf_convnet_init)(c->conv, c->nconv, kind, scale, key, offset);
}

int LF_T(lf_gcoupling_plaq_class)(const LF_T(lf_gcoupling) * c, int v) {
  const int xnu = c->mu == 0 ? v % c->L1 : v / c->L1; /* coordinate across the stripes */
  const int cl = ((xnu - c->off) % 4 + 4) % 4;
  return cl == 0 ? 0 : (cl == 3 ? 2 : 1);
}

static double wrap(double a) {
  double r = a - TWO_PI * floor(a / TWO_PI);
  if (r >= TWO_PI) r -= TWO_PI; /* a tiny negative a rounds to 2 pi */
  if (r < 0.0) r = 0.0;
  return r;
}

/* Plaquettes of one sample's links t (2, V), wrapped, into pw (V). */
static void plaquettes(const LF_T(lf_gcoupling) * c, const LF_R *t, LF_R *pw) {
  const int L0 = c->L0, L1 = c->L1, V = c->V;
  const LF_R *t0 = t, *t1 = t + V;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1, up0 = ((x0 + 1) % L0) * L1 + x1, up1 = x0 * L1 + (x1 + 1) % L1;
      pw[v] = (LF_R)wrap((double)t0[v] + (double)t1[up0] - (double)t0[up1] - (double)t1[v]);
    }
}

/* dL/dP (V) of one sample into the links' gradient dt (2, V): the transpose of P. */
static void plaquettes_backward(const LF_T(lf_gcoupling) * c, const LF_R *gp, LF_R *dt) {
  const int L0 = c->L0, L1 = c->L1, V = c->V;
  LF_R *d0 = dt, *d1 = dt + V;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const int v = x0 * L1 + x1, up0 = ((x0 + 1) % L0) * L1 + x1, up1 = x0 * L1 + (x1 + 1) % L1;
      d0[v] += gp[v];
      d1[up0] += gp[v];
      d0[up1] -= gp[v];
      d1[v] -= gp[v];
    }
}

/* pw and netin of the field t (B, 2, V), then the net: fills w->u. */
static void condition(const LF_T(lf_gcoupling) * c, int B, const LF_R *t, const ws_view *w,
                      LF_R *convws) {
  const size_t V = (size_t)c->V;
  for (int b = 0; b < B; b++) {
    LF_R *pw = w->pw + (size_t)b * V, *n0 = w->netin + (size_t)b * 2 * V, *n1 = n0 + V;
    plaquettes(c, t + (size_t)b * 2 * V, pw);
    for (size_t v = 0; v < V; v++) {
      const int fr = LF_T(lf_gcoupling_plaq_class)(c, (int)v) == 1;
      n0[v] = fr ? (LF_R)cos((double)pw[v]) : (LF_R)0;
      n1[v] = fr ? (LF_R)sin((double)pw[v]) : (LF_R)0;
    }
  }
  const LF_R *a = w->netin;
  for (int k = 0; k < c->nconv; k++) {
    if (k == c->nconv - 1) {
      LF_T(lf_conv2d_forward)(&c->conv[k], B, a, w->u, convws);
    } else {
      LF_T(lf_conv2d_forward_act)(&c->conv[k], B, a, w->post[k], convws, c->act);
      a = w->post[k];
    }
  }
}

/* Back through the net from dout = dL/du (B, 3K, V), then through netin into gp (B, V)
 * (+=) when want. dout and dbuf are clobbered. */
static void uncondition(LF_T(lf_gcoupling) * c, int B, const ws_view *w, LF_R *dout, LF_R *dbuf,
                        LF_R *gp, LF_R *convws, int want) {
  const size_t V = (size_t)c->V;
  if (!LF_T(lf_convnet_backward)(c->conv, c->nconv, c->act, B, w->netin, w->post, dout, dbuf,
                                 convws, want))
    return;
  /* netin = (cos P, sin P) on frozen plaquettes */
  for (int b = 0; b < B; b++) {
    const LF_R *pw = w->pw + (size_t)b * V, *g0 = dbuf + (size_t)b * 2 * V, *g1 = g0 + V;
    LF_R *g = gp + (size_t)b * V;
    for (size_t v = 0; v < V; v++)
      if (LF_T(lf_gcoupling_plaq_class)(c, (int)v) == 1)
        g[v] += (LF_R)(-sin((double)pw[v]) * (double)g0[v] + cos((double)pw[v]) * (double)g1[v]);
  }
}

/* Shared by forward (inv = 0) and inverse (inv = 1): in -> out. */
static void apply(const LF_T(lf_gcoupling) * c, int B, const LF_R *in, LF_R *out, double *logdet,
                  LF_R *ws, LF_R *scratch, int inv) {
  const size_t V = (size_t)c->V, BH = (size_t)B * V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, ws);
  const int K = c->K;
  const double sigma = c->mu == 0 ? 1.0 : -1.0;
  condition(c, B, in, &w, scratch + 2 * BH + (size_t)B * V);
  if (out != in) memcpy(out, in, (size_t)B * 2 * V * sizeof *out);
  for (int b = 0; b < B; b++) {
    const LF_R *pw = w.pw + (size_t)b * V;
    LF_R *q = w.q + (size_t)b * V, *link = out + ((size_t)b * 2 + (size_t)c->mu) * V;
    double acc = 0.0;
    for (size_t v = 0; v < V; v++) {
      if (LF_T(lf_gcoupling_plaq_class)(c, (int)v) != 0) {
        q[v] = 0;
        continue;
      }
      const LF_R *u = w.u + (size_t)b * 3 * (size_t)K * V + v;
      LF_R lj;
      q[v] = inv ? LF_T(lf_rqs_inverse)(K, u, V, pw[v], &lj)
                 : LF_T(lf_rqs_forward)(K, u, V, pw[v], &lj);
      acc += (double)lj;
      link[v] = (LF_R)wrap((double)link[v] + sigma * ((double)q[v] - (double)pw[v]));
    }
    logdet[b] += acc;
  }
}

void LF_T(lf_gcoupling_forward)(const LF_T(lf_gcoupling) * c, int B, const LF_R *x, LF_R *y,
                                double *logdet, LF_R *ws, LF_R *scratch) {
  apply(c, B, x, y, logdet, ws, scratch, 0);
}

void LF_T(lf_gcoupling_inverse)(const LF_T(lf_gcoupling) * c, int B, const LF_R *y, LF_R *x,
                                double *logdet, LF_R *ws, LF_R *scratch) {
  apply(c, B, y, x, logdet, ws, scratch, 1);
}

/* Backward of apply: out_a = in_a + sigma (q(P~) - P~) on active links, out = in elsewhere,
 * logdet += sum_a logj. With g = dL/dout_a: dL/dP~ = spline path (cy = sigma g, cl =
 * dlogdet) - sigma g, plus the frozen plaquettes' path through the net; then P's
 * transpose gives the links, and d_in += d_out for every link (the direct term). */
static void apply_backward(LF_T(lf_gcoupling) * c, int B, const LF_R *dout_field,
                           const double *dlogdet, LF_R *din, const LF_R *ws, LF_R *scratch,
                           int inv) {
  const size_t V = (size_t)c->V, BH = (size_t)B * V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, (LF_R *)ws);
  const int K = c->K;
  const LF_R sigma = c->mu == 0 ? (LF_R)1 : (LF_R)-1;
  LF_R *du = scratch, *dbuf = scratch + BH, *gp = scratch + 2 * BH;
  LF_R *convws = gp + (size_t)B * V;
  memset(du, 0, (size_t)B * 3 * (size_t)K * V * sizeof *du);
  memset(gp, 0, (size_t)B * V * sizeof *gp);
  for (int b = 0; b < B; b++) {
    const LF_R gl = dlogdet ? (LF_R)dlogdet[b] : (LF_R)0;
    const LF_R *g = dout_field ? dout_field + ((size_t)b * 2 + (size_t)c->mu) * V : NULL;
    const LF_R *pw = w.pw + (size_t)b * V, *q = w.q + (size_t)b * V;
    for (size_t v = 0; v < V; v++) {
      if (LF_T(lf_gcoupling_plaq_class)(c, (int)v) != 0) continue;
      const size_t ub = (size_t)b * 3 * (size_t)K * V + v;
      const LF_R cy = g ? sigma * g[v] : (LF_R)0;
      const LF_R r = inv ? LF_T(lf_rqs_inverse_backward)(K, w.u + ub, V, q[v], cy, gl, du + ub, V)
                         : LF_T(lf_rqs_backward)(K, w.u + ub, V, pw[v], cy, gl, du + ub, V);
      gp[(size_t)b * V + v] += r - cy;
    }
  }
  uncondition(c, B, &w, du, dbuf, gp, convws, din != NULL);
  if (!din) return;
  for (int b = 0; b < B; b++) plaquettes_backward(c, gp + (size_t)b * V, din + (size_t)b * 2 * V);
  if (dout_field)
    for (size_t i = 0; i < (size_t)B * 2 * V; i++) din[i] += dout_field[i];
}

void LF_T(lf_gcoupling_backward)(LF_T(lf_gcoupling) * c, int B, const LF_R *x, const LF_R *dy,
                                 const double *dlogdet, LF_R *dx, const LF_R *ws, LF_R *scratch) {
  (void)x; /* everything backward needs is in ws */
  apply_backward(c, B, dy, dlogdet, dx, ws, scratch, 0);
}

void LF_T(lf_gcoupling_inverse_backward)(LF_T(lf_gcoupling) * c, int B, const LF_R *y,
                                         const LF_R *dx, const double *dlogdet, LF_R *dy,
                                         const LF_R *ws, LF_R *scratch) {
  (void)y;
  apply_backward(c, B, dx, dlogdet, dy, ws, scratch, 1);
}

/* ---- the gauge coupling as a layer of the stack (lf_layer_ops, latflow/flow_t.h) ------- */

/* K = spline_bins in [1, LF_RQS_KMAX], C = 2 link angles, sides multiples of 4. */
static lf_status l_check(const lf_model_cfg *cfg, const lf_flow_shape *sh) {
  const int K = cfg->spline_bins;
  if (K < 1 || K > LF_RQS_KMAX)
    return LF_FAIL(LF_ERR_INVALID, "gauge flow: spline bins must be in [1, %d], got %d",
                   LF_RQS_KMAX, K);
  if (sh->C != 2)
    return LF_FAIL(LF_ERR_INVALID, "gauge flow: needs C = 2 link angles per site, got %d", sh->C);
  if (sh->L0 < 4 || sh->L1 < 4 || sh->L0 % 4 || sh->L1 % 4)
    return LF_FAIL(LF_ERR_INVALID,
                   "gauge flow: the stripe masks need L0, L1 multiples of 4, got %d x %d", sh->L0,
                   sh->L1);
  return LF_OK;
}
/* The net 2 -> hidden -> 3K of one layer. */
static size_t l_nparams(const lf_model_cfg *cfg, int C) {
  (void)C; /* always 2 link angles; the net reads (cos, sin) of the plaquettes */
  return LF_T(lf_gcoupling_nparams)(cfg->spline_bins, cfg->nhidden, cfg->hidden, cfg->kernel);
}
/* Layer i has mu = i % 2, off = (i / 2) % 4. */
static void l_bind(void *c, const lf_model_cfg *cfg, const lf_flow_shape *sh, int i, LF_R *params,
                   LF_R *grads) {
  LF_T(lf_gcoupling_bind)
  (c, sh->L0, sh->L1, i % 2, (i / 2) % 4, cfg->spline_bins, cfg->nhidden, cfg->hidden, cfg->kernel,
   cfg->activation, params, grads);
}
LF_LAYER_FORWARDERS(lf_gcoupling)

/* No forward_nograd: the stack runs the forward over one shared workspace. */
const LF_T(lf_layer_ops) LF_T(lf_gcoupling_ops) = {LF_LAYER_OPS(lf_gcoupling, "gauge flow")};
