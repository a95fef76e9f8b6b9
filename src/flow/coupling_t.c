/* src/flow/coupling_t.c: affine checkerboard coupling (contract: latflow/flow_t.h).
 *
 * Real NVP (Dinh et al., arXiv 1605.08803) with checkerboard masks, as in Albergo et al.,
 * arXiv 2101.08176, section III: (s, t) = tanh(net(m * x)), y_act = x_act exp(s) + t.
 *
 * Saved workspace of one call at batch B (LF_R elements, in this order):
 *   netin  (B, C, V)        m * x (forward) or m * y (inverse): the net's input
 *   post_k (B, h_k, V)      output of hidden activation k, k = 0 .. nhidden-1
 *   st     (B, 2C, V)       tanh of the last conv: s = channels [0,C), t = [C,2C)
 * The hidden pre-activations are not kept: both activations have a derivative that is a
 * function of the output alone (tanh: 1 - y^2; leaky_relu: 1 or slope by the sign, and
 * sign(f(x)) = sign(x) since the slope is > 0), so backward passes the post-activation
 * as the "input" of lf_act_backward. This halves the saved memory (it dominates the
 * memory of training at large batch) and is exact.
 * Scratch at batch B: two gradient buffers of (B, hmax, V), hmax = max(2C, h_k), and
 * the conv scratch. */
#include "latflow/flow.h"
#include "latflow/nn.h"

#include "core/prec.h"
#include "layer_impl.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

/* exp of the coupling: in float without libm (src/nn/vmath.h; vectorizable, about 2 ulps),
 * in double libm's. Forward, inverse and both backward functions use the same one. */
#if defined(LF_PREC_SINGLE)
#define CEXP lf_vm_expf
#else
#define CEXP LF_EXP
#endif

/* Views of a saved workspace at batch B. */
typedef struct ws_view {
  LF_R *netin;               /* (B,C,V) */
  LF_R *post[LF_MAX_HIDDEN]; /* (B,h_k,V) */
  LF_R *st;                  /* (B,2C,V) */
} ws_view;

static ws_view ws_layout(const LF_T(lf_coupling) * c, int B, LF_R *ws) {
  ws_view w;
  const size_t BV = (size_t)B * (size_t)c->V;
  size_t off = BV * (size_t)c->C;
  w.netin = ws;
  for (int k = 0; k < c->nconv - 1; k++) {
    w.post[k] = ws + off;
    off += BV * (size_t)c->conv[k].cout;
  }
  w.st = ws + off;
  return w;
}

static int hmax_of(const LF_T(lf_coupling) * c) {
  return LF_T(lf_convnet_hmax)(c->conv, c->nconv, 2 * c->C);
}

size_t LF_T(lf_coupling_nparams)(int C, int nhidden, const int *hidden, int kernel) {
  return LF_T(lf_convnet_nparams)(C, nhidden, hidden, 2 * C, kernel);
}

void LF_T(lf_coupling_bind)(LF_T(lf_coupling) * c, int C, int L0, int L1, int parity, int nhidden,
                            const int *hidden, int kernel, lf_act_kind act,
                            const unsigned char *site_parity, LF_R *params, LF_R *grads) {
  memset(c, 0, sizeof *c);
  c->C = C;
  c->L0 = L0;
  c->L1 = L1;
  c->V = L0 * L1;
  c->parity = parity;
  c->nconv = nhidden + 1;
  c->act = act;
  c->site_parity = site_parity;
  LF_T(lf_convnet_bind)(c->conv, C, nhidden, hidden, 2 * C, kernel, L0, L1, params, grads);
}

size_t LF_T(lf_coupling_ws_size)(const LF_T(lf_coupling) * c, int B) {
  const size_t BV = (size_t)B * (size_t)c->V;
  size_t n = BV * (size_t)c->C + BV * (size_t)(2 * c->C);
  for (int k = 0; k < c->nconv - 1; k++) n += BV * (size_t)c->conv[k].cout;
  return n;
}

size_t LF_T(lf_coupling_scratch_size)(const LF_T(lf_coupling) * c, int B) {
  const size_t conv = LF_T(lf_convnet_ws_size)(c->conv, c->nconv, B);
  return 2 * (size_t)B * (size_t)c->V * (size_t)hmax_of(c) + conv;
}

void LF_T(lf_coupling_init)(LF_T(lf_coupling) * c, lf_init_kind kind, double scale, lf_rng_key key,
                            uint64_t offset) {
  LF_T(lf_convnet_init)(c->conv, c->nconv, kind, scale, key, offset);
}

/* Samples per pass of the net: each activation is written by a conv and rewritten in
 * place by its activation function, so the net runs over chunks whose activations
 * (chunk x hmax x V reals) stay in the L2 cache instead of streaming every (B, h, V)
 * buffer through memory twice per conv (measured: the separate activation passes took
 * over a third of the forward pass at L=16, B=1024). */
#define NET_CHUNK_BYTES ((size_t)256 * 1024)

/* The conv net on ws.netin: fills ws.post[k] and ws.st. */
static void net_forward(const LF_T(lf_coupling) * c, int B, const ws_view *w, LF_R *convws) {
  const size_t V = (size_t)c->V;
  size_t chunk = NET_CHUNK_BYTES / (sizeof(LF_R) * V * (size_t)hmax_of(c));
  if (chunk < 1) chunk = 1;
  for (size_t b0 = 0; b0 < (size_t)B; b0 += chunk) {
    const int nb = (int)((size_t)B - b0 < chunk ? (size_t)B - b0 : chunk);
    const LF_R *a = w->netin + b0 * (size_t)c->C * V;
    for (int k = 0; k < c->nconv; k++) {
      const int last = k == c->nconv - 1;
      const size_t cout = (size_t)c->conv[k].cout;
      LF_R *out = (last ? w->st : w->post[k]) + b0 * cout * V;
      /* activation fused into the conv: the pre-activation is never stored (see top) */
      LF_T(lf_conv2d_forward_act)(&c->conv[k], nb, a, out, convws, last ? LF_ACT_TANH : c->act);
      a = out;
    }
  }
}

/* Back through the net. On entry dout (B,2C,V) holds dL/d(last conv output), i.e. after
 * the tanh derivative. Accumulates parameter gradients; if dnetin is wanted, writes
 * dL/dnetin (B,C,V) into dbuf and returns it, else returns NULL. dout and dbuf are
 * (B,hmax,V) scratch buffers and are both clobbered. */
static LF_R *net_backward(LF_T(lf_coupling) * c, int B, const ws_view *w, LF_R *dout, LF_R *dbuf,
                          LF_R *convws, int want_dnetin) {
  /* the activation's derivative reads the saved outputs (see top) */
  return LF_T(lf_convnet_backward)(c->conv, c->nconv, c->act, B, w->netin, w->post, dout, dbuf,
                                   convws, want_dnetin);
}

/* The end of both backward functions, with dout holding dL/d(net output) of every
 * site: back through the net and, when din is wanted, the frozen sites' input gradient
 * din_f += dout_f + [net path: d netin]_f (the active sites' was added by the caller).
 * gout (B,C,V) is the gradient of the layer's output (dy, or dx of the inverse). */
static void frozen_backward(LF_T(lf_coupling) * c, int B, const ws_view *w, LF_R *dout, LF_R *dbuf,
                            LF_R *convws, const LF_R *gout, LF_R *din) {
  const int V = c->V;
  const LF_R *dn = net_backward(c, B, w, dout, dbuf, convws, din != NULL);
  if (!din) return;
  const size_t rows = (size_t)B * (size_t)c->C;
  for (size_t r = 0; r < rows; r++) {
    const size_t i0 = r * (size_t)V;
    for (int v = 0; v < V; v++)
      if (c->site_parity[v] != c->parity) din[i0 + v] += gout[i0 + v] + dn[i0 + v];
  }
}

/* netin = m * x: frozen sites copied, active sites zeroed. */
static void mask_input(const LF_T(lf_coupling) * c, int B, const LF_R *x, LF_R *netin) {
  const int V = c->V;
  const size_t rows = (size_t)B * (size_t)c->C;
  for (size_t r = 0; r < rows; r++) {
    const LF_R *xr = x + r * (size_t)V;
    LF_R *nr = netin + r * (size_t)V;
    for (int v = 0; v < V; v++) nr[v] = c->site_parity[v] == c->parity ? (LF_R)0 : xr[v];
  }
}

/* y = m x + (1 - m)(x e^s + t), logdet += sum over active sites of s, from st (B,2C,V).
 * Branch-free so that the loop vectorizes: frozen sites get s = t = 0 (multiplied by the
 * active indicator; s, t are finite, in [-1, 1]) and x e^0 + 0 = x exactly. The sum runs
 * in double over 4 interleaved partial sums (a separate loop: a double reduction in the
 * same loop stops GCC from vectorizing it), the same for any B and chunking. y may alias
 * x. */
#define COUPLE_FORWARD(NAME, ATTR)                                                                 \
  ATTR static void NAME(const LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *st,         \
                        LF_R *y, double *logdet) {                                                 \
    const int C = c->C, V = c->V, par = c->parity;                                                 \
    const unsigned char *sp = c->site_parity;                                                      \
    for (int b = 0; b < B; b++) {                                                                  \
      double acc = 0.0;                                                                            \
      for (int ch = 0; ch < C; ch++) {                                                             \
        const size_t i0 = ((size_t)b * (size_t)C + (size_t)ch) * (size_t)V;                        \
        const LF_R *s = st + ((size_t)b * (size_t)(2 * C) + (size_t)ch) * (size_t)V;               \
        const LF_R *t = s + (size_t)C * (size_t)V;                                                 \
        const LF_R *xr = x + i0;                                                                   \
        LF_R *yr = y + i0;                                                                         \
        for (int v = 0; v < V; v++) {                                                              \
          const LF_R a = (LF_R)(sp[v] == par), sv = a * s[v];                                      \
          yr[v] = xr[v] * CEXP(sv) + a * t[v];                                                     \
        }                                                                                          \
        double part[4] = {0, 0, 0, 0};                                                             \
        int v = 0;                                                                                 \
        for (; v + 4 <= V; v += 4)                                                                 \
          for (int j = 0; j < 4; j++) part[j] += sp[v + j] == par ? (double)s[v + j] : 0.0;        \
        for (; v < V; v++) part[0] += sp[v] == par ? (double)s[v] : 0.0;                           \
        acc += (part[0] + part[1]) + (part[2] + part[3]);                                          \
      }                                                                                            \
      logdet[b] += acc;                                                                            \
    }                                                                                              \
  }

/* Compiled three times and chosen by the kernels' SIMD level (lf_nn_isa_current; the
 * default build's baseline is SSE2, 4 floats per instruction): AVX2 without FMA and
 * AVX-512 (with BW for the byte parity masks, 512-bit vectors preferred) with contraction
 * off, so no multiply-add is fused and every level gives the baseline's bits (the same
 * operations, IEEE-rounded one by one, only wider). */
COUPLE_FORWARD(couple_forward_base, )
#if defined(__GNUC__) && defined(__x86_64__)
COUPLE_FORWARD(couple_forward_avx2, __attribute__((target("avx2"))))
COUPLE_FORWARD(couple_forward_avx512,
               __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512"),
                              optimize("fp-contract=off"))))
#endif

void LF_T(lf_coupling_update)(const LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *st,
                              LF_R *y, double *logdet, lf_nn_isa isa) {
#if defined(__GNUC__) && defined(__x86_64__)
  /* the AVX-512 clone also needs BW/VL/DQ (byte masks in zmm); else the AVX2 one */
  if (isa == LF_ISA_AVX512 && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    couple_forward_avx512(c, B, x, st, y, logdet);
    return;
  }
  if (isa == LF_ISA_AVX2 || isa == LF_ISA_AVX512) {
    couple_forward_avx2(c, B, x, st, y, logdet);
    return;
  }
#endif
  (void)isa;
  couple_forward_base(c, B, x, st, y, logdet);
}

static void couple_forward(const LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *st,
                           LF_R *y, double *logdet) {
  LF_T(lf_coupling_update)(c, B, x, st, y, logdet, lf_nn_isa_current());
}

void LF_T(lf_coupling_forward)(const LF_T(lf_coupling) * c, int B, const LF_R *x, LF_R *y,
                               double *logdet, LF_R *ws, LF_R *scratch) {
  const size_t BH = (size_t)B * (size_t)c->V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, ws);
  mask_input(c, B, x, w.netin);
  net_forward(c, B, &w, scratch + 2 * BH);
  couple_forward(c, B, x, w.st, y, logdet);
}

size_t LF_T(lf_coupling_nograd_scratch_size)(const LF_T(lf_coupling) * c, int B) {
  size_t conv = 0;
  for (int k = 0; k < c->nconv; k++) {
    const size_t s = LF_T(lf_conv2d_ws_size)(&c->conv[k], B);
    if (s > conv) conv = s;
  }
  const size_t BV = (size_t)B * (size_t)c->V;
  return BV * (size_t)c->C + 2 * BV * (size_t)hmax_of(c) + conv;
}

/* The forward without saving: netin, the hidden activations and (s, t) live in scratch,
 * laid out netin | h_a | h_b | conv scratch, the convs alternating between h_a and h_b.
 * Same kernels and the same order of operations as lf_coupling_forward, so the same bits. */
void LF_T(lf_coupling_forward_nograd)(const LF_T(lf_coupling) * c, int B, const LF_R *x, LF_R *y,
                                      double *logdet, LF_R *scratch) {
  const size_t BV = (size_t)B * (size_t)c->V, BH = BV * (size_t)hmax_of(c);
  LF_R *netin = scratch, *h[2] = {scratch + BV * (size_t)c->C, scratch + BV * (size_t)c->C + BH};
  LF_R *convws = h[1] + BH;
  mask_input(c, B, x, netin);
  const LF_R *a = netin;
  for (int k = 0; k < c->nconv; k++) {
    const int last = k == c->nconv - 1;
    LF_T(lf_conv2d_forward_act)(&c->conv[k], B, a, h[k % 2], convws, last ? LF_ACT_TANH : c->act);
    a = h[k % 2];
  }
  couple_forward(c, B, x, a, y, logdet);
}

/* Forward: y_a = x_a e^s + t (active), y_f = x_f (frozen), logdet += sum_a s, with
 * (s,t) = tanh(net(m x)). Hence, for dL/dy = g and dL/dlogdet = l:
 *   dL/ds = g x_a e^s + l,  dL/dt = g          (active sites; zero on frozen sites)
 *   dL/dx_a = g e^s,        dL/dx_f = g + [net path: d netin]_f */
void LF_T(lf_coupling_backward)(LF_T(lf_coupling) * c, int B, const LF_R *x, const LF_R *dy,
                                const double *dlogdet, LF_R *dx, const LF_R *ws, LF_R *scratch) {
  const int C = c->C, V = c->V;
  const size_t BH = (size_t)B * (size_t)V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, (LF_R *)ws);
  LF_R *dout = scratch, *dbuf = scratch + BH;
  for (int b = 0; b < B; b++) {
    const LF_R l = dlogdet ? (LF_R)dlogdet[b] : (LF_R)0;
    for (int ch = 0; ch < C; ch++) {
      const size_t i0 = ((size_t)b * (size_t)C + (size_t)ch) * (size_t)V;
      const size_t s0 = ((size_t)b * (size_t)(2 * C) + (size_t)ch) * (size_t)V;
      const size_t t0 = s0 + (size_t)C * (size_t)V;
      for (int v = 0; v < V; v++) {
        if (c->site_parity[v] == c->parity) {
          const LF_R s = w.st[s0 + v], t = w.st[t0 + v];
          const LF_R e = CEXP(s), g = dy[i0 + v];
          dout[s0 + v] = (g * x[i0 + v] * e + l) * ((LF_R)1 - s * s);
          dout[t0 + v] = g * ((LF_R)1 - t * t);
          if (dx) dx[i0 + v] += g * e;
        } else {
          dout[s0 + v] = 0;
          dout[t0 + v] = 0;
        }
      }
    }
  }
  frozen_backward(c, B, &w, dout, dbuf, scratch + 2 * BH, dy, dx);
}

void LF_T(lf_coupling_inverse)(const LF_T(lf_coupling) * c, int B, const LF_R *y, LF_R *x,
                               double *logdet, LF_R *ws, LF_R *scratch) {
  const int C = c->C, V = c->V;
  const size_t BH = (size_t)B * (size_t)V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, ws);
  mask_input(c, B, y, w.netin);
  net_forward(c, B, &w, scratch + 2 * BH);
  for (int b = 0; b < B; b++) {
    double acc = 0.0;
    for (int ch = 0; ch < C; ch++) {
      const size_t i0 = ((size_t)b * (size_t)C + (size_t)ch) * (size_t)V;
      const LF_R *s = w.st + ((size_t)b * (size_t)(2 * C) + (size_t)ch) * (size_t)V;
      const LF_R *t = s + (size_t)C * (size_t)V;
      for (int v = 0; v < V; v++) {
        if (c->site_parity[v] == c->parity) {
          x[i0 + v] = (y[i0 + v] - t[v]) * CEXP(-s[v]);
          acc -= (double)s[v];
        } else {
          x[i0 + v] = y[i0 + v];
        }
      }
    }
    logdet[b] += acc;
  }
}

/* Inverse: x_a = (y_a - t) e^-s, x_f = y_f, logdet += -sum_a s, (s,t) = tanh(net(m y)).
 * For dL/dx = g and dL/dlogdet = l:
 *   dL/ds = -g x_a - l,  dL/dt = -g e^-s        (active sites)
 *   dL/dy_a = g e^-s,    dL/dy_f = g + [net path: d netin]_f */
void LF_T(lf_coupling_inverse_backward)(LF_T(lf_coupling) * c, int B, const LF_R *y, const LF_R *dx,
                                        const double *dlogdet, LF_R *dy, const LF_R *ws,
                                        LF_R *scratch) {
  const int C = c->C, V = c->V;
  const size_t BH = (size_t)B * (size_t)V * (size_t)hmax_of(c);
  const ws_view w = ws_layout(c, B, (LF_R *)ws);
  LF_R *dout = scratch, *dbuf = scratch + BH;
  for (int b = 0; b < B; b++) {
    const LF_R l = dlogdet ? (LF_R)dlogdet[b] : (LF_R)0;
    for (int ch = 0; ch < C; ch++) {
      const size_t i0 = ((size_t)b * (size_t)C + (size_t)ch) * (size_t)V;
      const size_t s0 = ((size_t)b * (size_t)(2 * C) + (size_t)ch) * (size_t)V;
      const size_t t0 = s0 + (size_t)C * (size_t)V;
      for (int v = 0; v < V; v++) {
        if (c->site_parity[v] == c->parity) {
          const LF_R s = w.st[s0 + v], t = w.st[t0 + v];
          const LF_R e = CEXP(-s), g = dx[i0 + v];
          const LF_R xa = (y[i0 + v] - t) * e;
          dout[s0 + v] = (-g * xa - l) * ((LF_R)1 - s * s);
          dout[t0 + v] = -g * e * ((LF_R)1 - t * t);
          if (dy) dy[i0 + v] += g * e;
        } else {
          dout[s0 + v] = 0;
          dout[t0 + v] = 0;
        }
      }
    }
  }
  frozen_backward(c, B, &w, dout, dbuf, scratch + 2 * BH, dx, dy);
}

/* ---- the affine coupling as a layer of the stack (lf_layer_ops, latflow/flow_t.h) ------ */

/* C >= 1 components, even sides (checkerboards) and a parity table. */
static lf_status l_check(const lf_model_cfg *cfg, const lf_flow_shape *sh) {
  (void)cfg;
  if (sh->C < 1) return LF_FAIL(LF_ERR_INVALID, "flow: components C must be >= 1, got %d", sh->C);
  if (sh->L0 < 2 || sh->L1 < 2 || sh->L0 % 2 || sh->L1 % 2)
    return LF_FAIL(LF_ERR_INVALID,
                   "flow: checkerboard couplings need even L0, L1 >= 2, got %d x %d", sh->L0,
                   sh->L1);
  if (!sh->site_parity) return LF_FAIL(LF_ERR_INVALID, "flow: site_parity must not be NULL");
  return LF_OK;
}
/* The net C -> hidden -> 2C of one layer. */
static size_t l_nparams(const lf_model_cfg *cfg, int C) {
  return LF_T(lf_coupling_nparams)(C, cfg->nhidden, cfg->hidden, cfg->kernel);
}
/* Layer i has parity i % 2. */
static void l_bind(void *c, const lf_model_cfg *cfg, const lf_flow_shape *sh, int i, LF_R *params,
                   LF_R *grads) {
  LF_T(lf_coupling_bind)
  (c, sh->C, sh->L0, sh->L1, i % 2, cfg->nhidden, cfg->hidden, cfg->kernel, cfg->activation,
   sh->site_parity, params, grads);
}
LF_LAYER_FORWARDERS(lf_coupling)

/* lf_coupling_forward_nograd on a layer object. */
static void l_forward_nograd(const void *c, int B, const LF_R *x, LF_R *y, double *logdet,
                             LF_R *scratch) {
  LF_T(lf_coupling_forward_nograd)(c, B, x, y, logdet, scratch);
}
/* One sample's share of a nograd chunk: two fields, the masked input and two hidden
 * tensors of the widest conv (the stack's NOGRAD_CHUNK_BYTES is tuned for this). */
static size_t l_nograd_sample_bytes(const void *c) {
  const LF_T(lf_coupling) *l = c;
  int hmax = 2 * l->C;
  for (int k = 0; k < l->nconv; k++)
    if (l->conv[k].cout > hmax) hmax = l->conv[k].cout;
  return (3 * (size_t)l->C + 2 * (size_t)hmax) * (size_t)l->V * sizeof(LF_R);
}
/* lf_coupling_nograd_scratch_size on a layer object. */
static size_t l_nograd_scratch_size(const void *c, int B) {
  return LF_T(lf_coupling_nograd_scratch_size)(c, B);
}

const LF_T(lf_layer_ops) LF_T(lf_coupling_ops) = {
    LF_LAYER_OPS(lf_coupling, "flow"), .forward_nograd = l_forward_nograd,
    .nograd_sample_bytes = l_nograd_sample_bytes, .nograd_scratch_size = l_nograd_scratch_size};
