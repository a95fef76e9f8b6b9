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
 * The splines act on the V/4 active plaquettes of each sample only, so their parameters
 * are gathered from the net's (B, 3K, V) output into a compact (3K, n) array, n = B V/4,
 * element i = b V/4 + a for the a-th active site of sample b in increasing site order
 * (act_geom), and go through the batched spline of src/flow/spline_t.c; the gradients
 * come back the same way. cos and sin of the plaquettes are glibc's vector functions
 * (libmvec), computed at every site in blocks of LF_RQS_LANES and then masked, in a
 * generic, AVX2 or AVX-512 copy as the splines (lf_nn_isa_current()).
 *
 * Saved workspace of one call at batch B (LF_R elements, in this order):
 *   netin  (B, 2, V)      frozen * (cos P, sin P) of the call's input field
 *   post_k (B, h_k, V)    hidden activations (outputs; see coupling_t.c for why outputs)
 *   u      (3K, n)        spline parameters of the active plaquettes (compact)
 *   pw     (B, V)         the input plaquettes wrapped to [0, 2 pi)
 *   q      (n)            spline outputs (forward: P'; inverse: f^-1(P~)), compact
 * Scratch: two (B, hmax, V) buffers (the net's full output; the gradients), a (B, V)
 * plaquette gradient, conv scratch. The no-grad forward keeps everything in its own
 * scratch (nograd_layout). */
#include "latflow/gauge_flow.h"
#include "latflow/nn.h"

#include "core/prec.h"
#include "layer_impl.h"

#include <math.h>
#include <string.h>

#define TWO_PI 6.28318530717958647692
#define W LF_RQS_LANES

LF_GAUGE_LIBMVEC

typedef struct ws_view {
  LF_R *netin, *post[LF_MAX_HIDDEN], *u, *pw, *q;
} ws_view;

/* active plaquettes per sample */
static size_t nact(const LF_T(lf_gcoupling) * c) {
  return (size_t)c->V / 4;
}

static ws_view ws_layout(const LF_T(lf_gcoupling) * c, int B, LF_R *ws) {
  ws_view w;
  const size_t BV = (size_t)B * (size_t)c->V, n = (size_t)B * nact(c);
  size_t off = 2 * BV;
  w.netin = ws;
  for (int k = 0; k < c->nconv - 1; k++) {
    w.post[k] = ws + off;
    off += BV * (size_t)c->conv[k].cout;
  }
  w.u = ws + off;
  off += n * (size_t)(3 * c->K);
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
  const size_t BV = (size_t)B * (size_t)c->V, n = (size_t)B * nact(c);
  size_t s = 2 * BV + n * (size_t)(3 * c->K) + BV + n;
  for (int k = 0; k < c->nconv - 1; k++) s += BV * (size_t)c->conv[k].cout;
  return s;
}

/* The compact spline arrays of the backward live in the second (B, hmax, V) buffer
 * before the net's backward uses it: du (3K, n) and x, dL/dy, dL/dlogj, dL/dx (n each),
 * at most (3K + 4) B V/4 <= 3K B V <= B hmax V reals. */
size_t LF_T(lf_gcoupling_scratch_size)(const LF_T(lf_gcoupling) * c, int B) {
  const size_t conv = LF_T(lf_convnet_ws_size)(c->conv, c->nconv, B);
  const size_t BV = (size_t)B * (size_t)c->V;
  return 2 * BV * (size_t)hmax_of(c) + BV + conv;
}

void LF_T(lf_gcoupling_init)(LF_T(lf_gcoupling) * c, lf_init_kind kind, double scale,
                             lf_rng_key key, uint64_t offset) {
  LF_T(lf_convnet_init)(c->conv, c->nconv, kind, scale, key, offset);
}

/* The class of the plaquettes at coordinate xnu across the stripes. */
static int stripe_class(const LF_T(lf_gcoupling) * c, int xnu) {
  const int cl = ((xnu - c->off) % 4 + 4) % 4;
  return cl == 0 ? 0 : (cl == 3 ? 2 : 1);
}

int LF_T(lf_gcoupling_plaq_class)(const LF_T(lf_gcoupling) * c, int v) {
  return stripe_class(c, c->mu == 0 ? v % c->L1 : v / c->L1);
}

/* The active plaquettes of a sample, in increasing order of v: rows r < rows of cols
 * sites each, site v0 + r rstep + k cstep. The stripes x_nu = off (mod 4) run along mu:
 * mu = 0, columns x1 = off + 4k of every row; mu = 1, the whole rows x0 = off + 4r. */
typedef struct act_geom {
  size_t rows, cols, rstep, cstep, v0;
} act_geom;

static act_geom act_of(const LF_T(lf_gcoupling) * c) {
  act_geom g;
  if (c->mu == 0) {
    g.rows = (size_t)c->L0, g.cols = (size_t)c->L1 / 4, g.rstep = (size_t)c->L1, g.cstep = 4;
    g.v0 = (size_t)c->off;
  } else {
    g.rows = (size_t)c->L0 / 4, g.cols = (size_t)c->L1, g.rstep = 4 * (size_t)c->L1, g.cstep = 1;
    g.v0 = (size_t)c->off * (size_t)c->L1;
  }
  return g;
}

/* dst (V/4) = src (V) at the active sites */
static void pick_active(const act_geom *g, const LF_R *src, LF_R *dst) {
  for (size_t r = 0; r < g->rows; r++, dst += g->cols) {
    const LF_R *s = src + g->v0 + r * g->rstep;
    if (g->cstep == 1)
      memcpy(dst, s, g->cols * sizeof *dst);
    else
      for (size_t k = 0; k < g->cols; k++) dst[k] = s[k * g->cstep];
  }
}

/* dst (V) at the active sites = src (V/4) */
static void put_active(const act_geom *g, const LF_R *src, LF_R *dst) {
  for (size_t r = 0; r < g->rows; r++, src += g->cols) {
    LF_R *d = dst + g->v0 + r * g->rstep;
    if (g->cstep == 1)
      memcpy(d, src, g->cols * sizeof *d);
    else
      for (size_t k = 0; k < g->cols; k++) d[k * g->cstep] = src[k];
  }
}

LF_INLINE double wrap(double a) {
  double r = a - TWO_PI * floor(a / TWO_PI);
  r = r >= TWO_PI ? r - TWO_PI : r; /* a tiny negative a rounds to 2 pi */
  return r < 0.0 ? 0.0 : r;
}

/* ---- the per-site kernels, one body for every ISA (LF_GAUGE_ISA_COPIES) --------------- */

/* Plaquettes of the fields t (B, 2, V), wrapped, into pw (B, V), and (cos, sin) of them at
 * every site into netin (B, 2, V) (the caller masks the frozen ones). V is a multiple of
 * 16 (sides multiples of 4), so the sites split into whole blocks of W lanes. */
LF_INLINE void prep_body(int L0, int L1, int B, const LF_R *t, LF_R *pw, LF_R *netin) {
  const size_t V = (size_t)L0 * (size_t)L1;
  for (int b = 0; b < B; b++) {
    const LF_R *t0 = t + (size_t)b * 2 * V, *t1 = t0 + V;
    LF_R *p = pw + (size_t)b * V, *n0 = netin + (size_t)b * 2 * V, *n1 = n0 + V;
    /* P(x) = t0(x) + t1(x + 0^) - t0(x + 1^) - t1(x): first t0(x + 1^) into p (each row
     * rotated by one), then flat loops over v, where x + 0^ is v + L1 (mod V) */
    for (int x0 = 0; x0 < L0; x0++) {
      const size_t r = (size_t)x0 * (size_t)L1;
      memcpy(p + r, t0 + r + 1, ((size_t)L1 - 1) * sizeof *p);
      p[r + (size_t)L1 - 1] = t0[r];
    }
    const size_t h = V - (size_t)L1;
    for (size_t v = 0; v < h; v++)
      p[v] = (LF_R)wrap((double)t0[v] + (double)t1[v + (size_t)L1] - (double)p[v] - (double)t1[v]);
    for (size_t v = h; v < V; v++)
      p[v] = (LF_R)wrap((double)t0[v] + (double)t1[v - h] - (double)p[v] - (double)t1[v]);
    /* cos and sin in separate loops (GCC would fuse a cos and a sin of one value into a
     * scalar sincos) over local arrays (no aliasing, so no scalar fallback loop) */
    for (size_t v0 = 0; v0 < V; v0 += W) {
      double cs[W], sn[W];
      LF_LANES(l, W) cs[l] = cos((double)p[v0 + (size_t)l]);
      LF_LANES(l, W) sn[l] = sin((double)p[v0 + (size_t)l]);
      for (int l = 0; l < W; l++) {
        n0[v0 + (size_t)l] = (LF_R)cs[l];
        n1[v0 + (size_t)l] = (LF_R)sn[l];
      }
    }
  }
}

/* dL/dnetin (B, 2, V) in g -> the (unmasked) plaquette gradient -sin P g0 + cos P g1 in
 * place of g0. */
LF_INLINE void trig_back_body(size_t V, int B, const LF_R *pw, LF_R *g) {
  for (int b = 0; b < B; b++) {
    const LF_R *p = pw + (size_t)b * V, *g1 = g + ((size_t)b * 2 + 1) * V;
    LF_R *g0 = g + (size_t)b * 2 * V;
    for (size_t v0 = 0; v0 < V; v0 += W) {
      double sn[W], cs[W];
      LF_LANES(l, W) sn[l] = sin((double)p[v0 + (size_t)l]);
      LF_LANES(l, W) cs[l] = cos((double)p[v0 + (size_t)l]);
      for (int l = 0; l < W; l++) {
        const size_t v = v0 + (size_t)l;
        g0[v] = (LF_R)(-sn[l] * (double)g0[v] + cs[l] * (double)g1[v]);
      }
    }
  }
}

LF_GAUGE_ISA_COPIES(prep, (int L0, int L1, int B, const LF_R *t, LF_R *pw, LF_R *netin),
                    (L0, L1, B, t, pw, netin))
LF_GAUGE_ISA_COPIES(trig_back, (size_t V, int B, const LF_R *pw, LF_R *g), (V, B, pw, g))

/* Zeroes the sites of a (V) array that are not frozen (class 1). */
static void mask_frozen(const LF_T(lf_gcoupling) * c, LF_R *a) {
  const int L0 = c->L0, L1 = c->L1;
  for (int x0 = 0; x0 < L0; x0++) {
    LF_R *r = a + (size_t)x0 * (size_t)L1;
    if (c->mu == 1) {
      if (stripe_class(c, x0) != 1) memset(r, 0, (size_t)L1 * sizeof *r);
    } else { /* the active columns x1 = off and the passive ones x1 = off + 3 (mod 4) */
      for (int x1 = c->off; x1 < L1; x1 += 4) r[x1] = 0;
      for (int x1 = (c->off + 3) % 4; x1 < L1; x1 += 4) r[x1] = 0;
    }
  }
}

/* pw and netin of the field t (B, 2, V), then the net: its output (B, 3K, V) into uf. */
static void condition(const LF_T(lf_gcoupling) * c, int B, const LF_R *t, LF_R *netin,
                      LF_R *const *post, LF_R *pw, LF_R *uf, LF_R *convws) {
  const size_t V = (size_t)c->V;
  prep(c->L0, c->L1, B, t, pw, netin);
  for (size_t r = 0; r < 2 * (size_t)B; r++) mask_frozen(c, netin + r * V);
  const LF_R *a = netin;
  for (int k = 0; k < c->nconv; k++) {
    if (k == c->nconv - 1) {
      LF_T(lf_conv2d_forward)(&c->conv[k], B, a, uf, convws);
    } else {
      LF_T(lf_conv2d_forward_act)(&c->conv[k], B, a, post[k], convws, c->act);
      a = post[k];
    }
  }
}

/* The active sites' values: uc (3K, n) from uf (B, 3K, V) and xc (n) from pw (B, V). */
static void gather(const LF_T(lf_gcoupling) * c, int B, const LF_R *uf, const LF_R *pw, LF_R *uc,
                   LF_R *xc) {
  const size_t V = (size_t)c->V, na = nact(c), n = (size_t)B * na, K3 = (size_t)(3 * c->K);
  const act_geom g = act_of(c);
  for (size_t j = 0; j < K3; j++)
    for (int b = 0; b < B; b++)
      pick_active(&g, uf + ((size_t)b * K3 + j) * V, uc + j * n + (size_t)b * na);
  for (int b = 0; b < B; b++) pick_active(&g, pw + (size_t)b * V, xc + (size_t)b * na);
}

/* out = in, then the active links shifted by sigma (q - P~), logdet += sum of lj. */
static void couple(const LF_T(lf_gcoupling) * c, int B, const LF_R *in, LF_R *out, double *logdet,
                   const LF_R *xc, const LF_R *q, const LF_R *lj) {
  const size_t V = (size_t)c->V, na = nact(c);
  const act_geom g = act_of(c);
  const double sigma = c->mu == 0 ? 1.0 : -1.0;
  if (out != in) memcpy(out, in, (size_t)B * 2 * V * sizeof *out);
  for (int b = 0; b < B; b++) {
    LF_R *link = out + ((size_t)b * 2 + (size_t)c->mu) * V;
    size_t i = (size_t)b * na;
    double acc = 0.0;
    for (size_t r = 0; r < g.rows; r++)
      for (size_t k = 0; k < g.cols; k++, i++) {
        const size_t v = g.v0 + r * g.rstep + k * g.cstep;
        acc += (double)lj[i];
        link[v] = (LF_R)wrap((double)link[v] + sigma * ((double)q[i] - (double)xc[i]));
      }
    logdet[b] += acc;
  }
}

/* Shared by forward (inv = 0) and inverse (inv = 1): in -> out. The net's full output
 * goes to the first scratch buffer, the compact x and logj to the second. */
static void apply(const LF_T(lf_gcoupling) * c, int B, const LF_R *in, LF_R *out, double *logdet,
                  LF_R *ws, LF_R *scratch, int inv) {
  const size_t BH = (size_t)B * (size_t)c->V * (size_t)hmax_of(c), n = (size_t)B * nact(c);
  const ws_view w = ws_layout(c, B, ws);
  LF_R *uf = scratch, *xc = scratch + BH, *lj = xc + n;
  condition(c, B, in, w.netin, w.post, w.pw, uf, scratch + 2 * BH + (size_t)B * (size_t)c->V);
  gather(c, B, uf, w.pw, w.u, xc);
  if (inv)
    LF_T(lf_rqs_inverse_n)(c->K, n, w.u, n, xc, w.q, lj);
  else
    LF_T(lf_rqs_forward_n)(c->K, n, w.u, n, xc, w.q, lj);
  couple(c, B, in, out, logdet, xc, w.q, lj);
}

void LF_T(lf_gcoupling_forward)(const LF_T(lf_gcoupling) * c, int B, const LF_R *x, LF_R *y,
                                double *logdet, LF_R *ws, LF_R *scratch) {
  apply(c, B, x, y, logdet, ws, scratch, 0);
}

void LF_T(lf_gcoupling_inverse)(const LF_T(lf_gcoupling) * c, int B, const LF_R *y, LF_R *x,
                                double *logdet, LF_R *ws, LF_R *scratch) {
  apply(c, B, y, x, logdet, ws, scratch, 1);
}

/* ---- the forward without saving (sampling) --------------------------------------------- */

/* The no-grad scratch at batch B: netin (B, 2, V) | h_a | h_b (B, hmax, V) | pw (B, V) |
 * u (3K, n) | x, q, logj (n each) | conv scratch. */
typedef struct ng_view {
  LF_R *netin, *h[2], *pw, *u, *x, *q, *lj, *convws;
} ng_view;

/* Reals of that scratch before the conv scratch. */
static size_t nograd_head(const LF_T(lf_gcoupling) * c, int B) {
  const size_t BV = (size_t)B * (size_t)c->V, n = (size_t)B * nact(c);
  return 3 * BV + 2 * BV * (size_t)hmax_of(c) + (size_t)(3 * c->K) * n + 3 * n;
}

static ng_view nograd_layout(const LF_T(lf_gcoupling) * c, int B, LF_R *s) {
  const size_t BV = (size_t)B * (size_t)c->V, BH = BV * (size_t)hmax_of(c);
  const size_t n = (size_t)B * nact(c);
  ng_view g;
  g.netin = s;
  g.h[0] = s + 2 * BV;
  g.h[1] = g.h[0] + BH;
  g.pw = g.h[1] + BH;
  g.u = g.pw + BV;
  g.x = g.u + (size_t)(3 * c->K) * n;
  g.q = g.x + n;
  g.lj = g.q + n;
  g.convws = s + nograd_head(c, B);
  return g;
}

/* The forward with every intermediate in scratch: the same kernels on the same values in
 * the same order as lf_gcoupling_forward (conv results do not depend on the batch), so
 * the same y and logdet bit for bit. y may alias x (x is read before y is written). */
static void forward_nograd(const LF_T(lf_gcoupling) * c, int B, const LF_R *x, LF_R *y,
                           double *logdet, LF_R *scratch) {
  const size_t V = (size_t)c->V, n = (size_t)B * nact(c);
  const ng_view g = nograd_layout(c, B, scratch);
  prep(c->L0, c->L1, B, x, g.pw, g.netin);
  for (size_t r = 0; r < 2 * (size_t)B; r++) mask_frozen(c, g.netin + r * V);
  const LF_R *a = g.netin;
  for (int k = 0; k < c->nconv; k++) {
    LF_R *o = g.h[k % 2];
    if (k == c->nconv - 1)
      LF_T(lf_conv2d_forward)(&c->conv[k], B, a, o, g.convws);
    else
      LF_T(lf_conv2d_forward_act)(&c->conv[k], B, a, o, g.convws, c->act);
    a = o;
  }
  gather(c, B, a, g.pw, g.u, g.x);
  LF_T(lf_rqs_forward_n)(c->K, n, g.u, n, g.x, g.q, g.lj);
  couple(c, B, x, y, logdet, g.x, g.q, g.lj);
}

/* ---- backward ------------------------------------------------------------------------- */

/* Backward of apply: out_a = in_a + sigma (q(P~) - P~) on active links, out = in elsewhere,
 * logdet += sum_a logj. With g = dL/dout_a: dL/dP~ = spline path (cy = sigma g, cl =
 * dlogdet) - sigma g, plus the frozen plaquettes' path through the net; then P's
 * transpose gives the links, and d_in += d_out for every link (the direct term). */
static void apply_backward(LF_T(lf_gcoupling) * c, int B, const LF_R *dout_field,
                           const double *dlogdet, LF_R *din, const LF_R *ws, LF_R *scratch,
                           int inv) {
  const size_t V = (size_t)c->V, BV = (size_t)B * V, BH = BV * (size_t)hmax_of(c);
  const size_t na = nact(c), n = (size_t)B * na, K3 = (size_t)(3 * c->K);
  const ws_view w = ws_layout(c, B, (LF_R *)ws);
  const LF_R sigma = c->mu == 0 ? (LF_R)1 : (LF_R)-1;
  LF_R *du = scratch, *dbuf = scratch + BH, *gp = scratch + 2 * BH, *convws = gp + BV;
  /* compact: duc (3K, n), x, cy, cl, r (n each) in dbuf */
  LF_R *duc = dbuf, *xc = duc + K3 * n, *cy = xc + n, *cl = cy + n, *r = cl + n;
  const act_geom ag = act_of(c);
  for (int b = 0; b < B; b++) {
    const LF_R gl = dlogdet ? (LF_R)dlogdet[b] : (LF_R)0;
    LF_R *xb = xc + (size_t)b * na, *cyb = cy + (size_t)b * na;
    if (inv)
      memcpy(xb, w.q + (size_t)b * na, na * sizeof *xb);
    else
      pick_active(&ag, w.pw + (size_t)b * V, xb);
    if (dout_field) {
      pick_active(&ag, dout_field + ((size_t)b * 2 + (size_t)c->mu) * V, cyb);
      for (size_t a = 0; a < na; a++) cyb[a] = sigma * cyb[a];
    } else {
      memset(cyb, 0, na * sizeof *cyb);
    }
    for (size_t a = 0; a < na; a++) cl[(size_t)b * na + a] = gl;
  }
  memset(duc, 0, K3 * n * sizeof *duc);
  if (inv)
    LF_T(lf_rqs_inverse_backward_n)(c->K, n, w.u, n, xc, cy, cl, duc, n, r);
  else
    LF_T(lf_rqs_backward_n)(c->K, n, w.u, n, xc, cy, cl, duc, n, r);
  /* back to the net's layout (B, 3K, V), zero at the other sites; gp = dL/dP~ = r - cy at
   * the active sites (r - cy into r, then put) */
  memset(du, 0, (size_t)B * K3 * V * sizeof *du);
  memset(gp, 0, BV * sizeof *gp);
  for (size_t j = 0; j < K3; j++)
    for (int b = 0; b < B; b++)
      put_active(&ag, duc + j * n + (size_t)b * na, du + ((size_t)b * K3 + j) * V);
  for (size_t i = 0; i < n; i++) r[i] = (LF_R)0 + (r[i] - cy[i]);
  for (int b = 0; b < B; b++) put_active(&ag, r + (size_t)b * na, gp + (size_t)b * V);
  /* back through the net, then through netin = (cos P, sin P) on frozen plaquettes */
  if (!LF_T(lf_convnet_backward)(c->conv, c->nconv, c->act, B, w.netin, w.post, du, dbuf, convws,
                                 din != NULL))
    return;
  trig_back(V, B, w.pw, dbuf);
  for (int b = 0; b < B; b++) {
    LF_R *g0 = dbuf + (size_t)b * 2 * V;
    mask_frozen(c, g0);
    LF_R *gpb = gp + (size_t)b * V;
    for (size_t v = 0; v < V; v++) gpb[v] += g0[v];
  }
  /* the transpose of P into the links' gradient */
  const int L0 = c->L0, L1 = c->L1;
  for (int b = 0; b < B; b++) {
    const LF_R *gpb = gp + (size_t)b * V;
    LF_R *d0 = din + (size_t)b * 2 * V, *d1 = d0 + V;
    for (int x0 = 0; x0 < L0; x0++)
      for (int x1 = 0; x1 < L1; x1++) {
        const int v = x0 * L1 + x1, up0 = ((x0 + 1) % L0) * L1 + x1;
        const int up1 = x0 * L1 + (x1 + 1) % L1;
        d0[v] += gpb[v];
        d1[up0] += gpb[v];
        d0[up1] -= gpb[v];
        d1[v] -= gpb[v];
      }
  }
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

/* forward_nograd on a layer object. */
static void l_forward_nograd(const void *c, int B, const LF_R *x, LF_R *y, double *logdet,
                             LF_R *scratch) {
  forward_nograd(c, B, x, y, logdet, scratch);
}
/* One sample's share of a nograd chunk: the stack's two fields and this layer's scratch
 * but the conv scratch. */
static size_t l_nograd_sample_bytes(const void *c) {
  const LF_T(lf_gcoupling) *l = c;
  return (4 * (size_t)l->V + nograd_head(l, 1)) * sizeof(LF_R);
}
static size_t l_nograd_scratch_size(const void *c, int B) {
  const LF_T(lf_gcoupling) *l = c;
  return nograd_head(l, B) + LF_T(lf_convnet_ws_size)(l->conv, l->nconv, B);
}

const LF_T(lf_layer_ops) LF_T(lf_gcoupling_ops) = {
    LF_LAYER_OPS(lf_gcoupling, "gauge flow"), .forward_nograd = l_forward_nograd,
    .nograd_sample_bytes = l_nograd_sample_bytes, .nograd_scratch_size = l_nograd_scratch_size};
