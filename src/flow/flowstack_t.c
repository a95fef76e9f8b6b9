/* src/flow/flowstack_t.c: the stack of coupling layers, written once over the layer
 * interface lf_layer_ops (contract: latflow/flow_t.h); the registry of coupling kinds and
 * the precision-independent table lf_flow_ops the model drives a stack through.
 *
 * Layer i's parameters follow those of layer i-1 in the arena (each layer: its convs in
 * order, each conv w then bias). Forward keeps every field between layers in xs (xs[0] =
 * z, xs[n] = phi) and every layer's saved workspace, so backward needs nothing from the
 * caller but the output gradients; inverse fills the same buffers (xs[n] = phi, xs[0] =
 * z), so a backward must follow the call it belongs to. Gradients flow through two
 * ping-pong buffers of (Bmax, C*V). */
#include "latflow/flow.h"
#include "latflow/gauge_flow.h"
#include "latflow/mem.h"
#include "latflow/timer.h"

#include "core/prec.h"

#include <string.h>

/* Bytes of one chunk's fields and net activations in lf_flow_forward_nograd (two fields,
 * the masked input, two hidden tensors of nograd_chunk samples): about the L1 + a part of
 * L2. Measured at L=16, B=1024 (float, AVX-512): 20 KiB to 640 KiB all within noise of
 * each other (+-3%), far faster than streaming (B, h, V) tensors through memory. */
#define NOGRAD_CHUNK_BYTES ((size_t)64 * 1024)

const LF_T(lf_layer_ops) * LF_T(lf_layer_ops_of)(lf_coupling_kind kind) {
  switch (kind) {
  case LF_COUPLING_AFFINE:
    return &LF_T(lf_coupling_ops);
  case LF_COUPLING_SPLINE:
    return &LF_T(lf_gcoupling_ops);
  }
  return NULL;
}

void *LF_T(lf_flow_layer)(const LF_T(lf_flow) * f, int i) {
  return (char *)f->layers + (size_t)i * f->ops->size;
}

/* Samples per chunk of lf_flow_forward_nograd, at most Bmax. */
static int nograd_chunk(const LF_T(lf_flow) * f) {
  size_t nb = NOGRAD_CHUNK_BYTES / f->ops->nograd_sample_bytes(f->layers);
  if (nb < 1) nb = 1;
  if (nb > (size_t)f->Bmax) nb = (size_t)f->Bmax;
  return (int)nb;
}

size_t LF_T(lf_flow_nparams)(const lf_model_cfg *cfg, int C) {
  const LF_T(lf_layer_ops) *ops = LF_T(lf_layer_ops_of)(cfg->coupling);
  return ops ? (size_t)cfg->layers * ops->nparams(cfg, C) : 0;
}

void LF_T(lf_flow_free)(LF_T(lf_flow) * f) {
  LF_FREE_ALL(f->layers, f->ws, f->xs, f->dxs, f->scratch, f->tmp);
  memset(f, 0, sizeof *f);
}

/* The checks every stack makes; then the coupling's own (ops->check). */
static lf_status check_cfg(const char *what, const lf_model_cfg *cfg) {
  if (cfg->layers < 1)
    return LF_FAIL(LF_ERR_INVALID, "%s: layers must be >= 1, got %d", what, cfg->layers);
  if (cfg->nhidden < 0 || cfg->nhidden > LF_MAX_HIDDEN)
    return LF_FAIL(LF_ERR_INVALID, "%s: nhidden must be in [0, %d], got %d", what, LF_MAX_HIDDEN,
                   cfg->nhidden);
  for (int k = 0; k < cfg->nhidden; k++)
    if (cfg->hidden[k] < 1)
      return LF_FAIL(LF_ERR_INVALID, "%s: hidden[%d] must be >= 1, got %d", what, k,
                     cfg->hidden[k]);
  if (cfg->kernel < 1 || cfg->kernel % 2 == 0)
    return LF_FAIL(LF_ERR_INVALID, "%s: kernel must be odd and >= 1, got %d", what, cfg->kernel);
  return LF_OK;
}

/* lf_flow_init (nograd_only 0) and lf_flow_init_nograd (1). */
static lf_status flow_init(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0, int L1,
                           const unsigned char *site_parity, LF_R *params, LF_R *grads, int Bmax,
                           int nograd_only) {
  lf_status rc;
  double per_sample = 0.0; /* reals per sample of all allocations, for the size checks */
  memset(f, 0, sizeof *f);
  const LF_T(lf_layer_ops) *ops = LF_T(lf_layer_ops_of)(cfg->coupling);
  if (!ops)
    return LF_FAIL(LF_ERR_INVALID, "flow: no coupling layer of kind %d", (int)cfg->coupling);
  const lf_flow_shape sh = {C, L0, L1, site_parity};
  if ((rc = check_cfg(ops->what, cfg)) != LF_OK || (rc = ops->check(cfg, &sh)) != LF_OK) return rc;
  if (Bmax < 1) return LF_FAIL(LF_ERR_INVALID, "%s: Bmax must be >= 1, got %d", ops->what, Bmax);
  if (!params || !grads)
    return LF_FAIL(LF_ERR_INVALID, "%s: params and grads must not be NULL", ops->what);

  f->ops = ops;
  f->nlayers = cfg->layers;
  f->C = C;
  f->L0 = L0;
  f->L1 = L1;
  f->V = L0 * L1;
  f->Bmax = Bmax;
  f->npl = ops->nparams(cfg, C);
  f->layers = lf_alloc((size_t)f->nlayers * ops->size);
  if (!f->layers) goto nomem;
  size_t scratch = 0;
  f->nograd_only = nograd_only;
  for (int i = 0; i < f->nlayers; i++) {
    void *c = LF_T(lf_flow_layer)(f, i);
    ops->bind(c, cfg, &sh, i, params + (size_t)i * f->npl, grads + (size_t)i * f->npl);
    const size_t s = ops->scratch_size(c, Bmax);
    /* sampling only with a nograd forward: only the chunks' scratch below */
    if (s > scratch && !(nograd_only && ops->forward_nograd)) scratch = s;
  }
  if (ops->forward_nograd) { /* two chunk fields + the layers' nograd scratch of one chunk */
    const int nb = nograd_chunk(f);
    const size_t s =
        2 * (size_t)nb * (size_t)C * (size_t)f->V + ops->nograd_scratch_size(f->layers, nb);
    if (s > scratch) scratch = s;
  }
  const size_t field = (size_t)Bmax * (size_t)C * (size_t)f->V;
  /* the sizes below in size_t wrap around for absurd cards (when the memory check is
   * bypassed): refuse those as out of memory rather than allocate a wrapped size (the
   * per-sample sizes are small; the totals are linear in the batch) */
  per_sample = (double)f->nlayers * (double)ops->ws_size(f->layers, 1) +
               (double)(f->nlayers + 4) * (double)C * (double)f->V +
               (double)ops->scratch_size(f->layers, 1);
  if (per_sample * (double)Bmax * (double)sizeof(LF_R) > 0x1p62) goto nomem;
  f->ws_per_layer = ops->ws_size(f->layers, Bmax);
  if (!nograd_only) {
    f->ws = lf_alloc((size_t)f->nlayers * f->ws_per_layer * sizeof(LF_R));
    f->xs = lf_alloc((size_t)(f->nlayers + 1) * field * sizeof(LF_R));
    f->dxs = lf_alloc(2 * field * sizeof(LF_R));
    if (!f->ws || !f->xs || !f->dxs) goto nomem;
  }
  f->scratch = lf_alloc(scratch * sizeof(LF_R));
  if (!ops->forward_nograd) f->tmp = lf_alloc((f->ws_per_layer + 2 * field) * sizeof(LF_R));
  if (!f->scratch || (!ops->forward_nograd && !f->tmp)) goto nomem;
  return LF_OK;
nomem : {
  const double bytes = per_sample * (double)Bmax * (double)sizeof(LF_R);
  char size[32];
  LF_T(lf_flow_free)(f);
  return LF_FAIL(LF_ERR_NOMEM,
                 "cannot allocate %s for the %s's workspaces (%d layers, %dx%d sites, C=%d, "
                 "batch or block %d)",
                 lf_mem_format(bytes, size, sizeof size), ops->what, cfg->layers, L0, L1, C, Bmax);
}
}

lf_status LF_T(lf_flow_init)(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0, int L1,
                             const unsigned char *site_parity, LF_R *params, LF_R *grads,
                             int Bmax) {
  return flow_init(f, cfg, C, L0, L1, site_parity, params, grads, Bmax, 0);
}

lf_status LF_T(lf_flow_init_nograd)(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0,
                                    int L1, const unsigned char *site_parity, LF_R *params,
                                    LF_R *grads, int Bmax) {
  return flow_init(f, cfg, C, L0, L1, site_parity, params, grads, Bmax, 1);
}

void LF_T(lf_flow_init_params)(LF_T(lf_flow) * f, lf_init_kind kind, double scale, lf_rng_key key,
                               uint64_t offset) {
  for (int i = 0; i < f->nlayers; i++)
    f->ops->init(LF_T(lf_flow_layer)(f, i), kind, scale, key, offset + (uint64_t)i * f->npl);
}

double LF_T(lf_flow_conv_madds)(const LF_T(lf_conv2d) * conv, int nconv) {
  double s = 0.0;
  for (int k = 0; k < nconv; k++)
    s += (double)conv[k].cin * (double)conv[k].cout * (double)conv[k].k * (double)conv[k].k;
  return s;
}

double LF_T(lf_flow_forward_madds)(const LF_T(lf_flow) * f) {
  return f->ops->madds(f->layers) * (double)f->V * (double)f->nlayers;
}

/* xs[i] of batch rows (Bmax, C*V) */
static LF_R *field_at(const LF_T(lf_flow) * f, int i) {
  return f->xs + (size_t)i * (size_t)f->Bmax * (size_t)f->C * (size_t)f->V;
}

/* Saved workspace of layer i. */
static LF_R *ws_at(const LF_T(lf_flow) * f, int i) {
  return f->ws + (size_t)i * f->ws_per_layer;
}

void LF_T(lf_flow_forward)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi, double *logdet) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  memcpy(field_at(f, 0), z, n * sizeof *z);
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  for (int i = 0; i < f->nlayers; i++)
    f->ops->forward(LF_T(lf_flow_layer)(f, i), B, field_at(f, i), field_at(f, i + 1), logdet,
                    ws_at(f, i), f->scratch);
  memcpy(phi, field_at(f, f->nlayers), n * sizeof *phi);
}

/* With a layer forward_nograd: chunks of nb samples go through all layers while their
 * fields and activations stay in cache: layer i reads the chunk's field from src and
 * writes dst, ping-ponging between two chunk buffers, the first layer reading z and the
 * last writing phi. Without: the layers' forward ping-pongs between two fields in tmp
 * and shares one saved workspace there (the same kernels in the same order as
 * lf_flow_forward). */
void LF_T(lf_flow_forward_nograd)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi,
                                  double *logdet) {
  const size_t cv = (size_t)f->C * (size_t)f->V;
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  if (!f->ops->forward_nograd) {
    const size_t n = (size_t)B * cv, field = (size_t)f->Bmax * cv;
    LF_R *ws = f->tmp, *buf[2] = {f->tmp + f->ws_per_layer, f->tmp + f->ws_per_layer + field};
    memcpy(buf[0], z, n * sizeof *z);
    for (int i = 0; i < f->nlayers; i++)
      f->ops->forward(LF_T(lf_flow_layer)(f, i), B, buf[i % 2], buf[(i + 1) % 2], logdet, ws,
                      f->scratch);
    memcpy(phi, buf[f->nlayers % 2], n * sizeof *phi);
    return;
  }
  const int nbmax = nograd_chunk(f);
  const size_t fld = (size_t)nbmax * cv;
  LF_R *buf[2] = {f->scratch, f->scratch + fld};
  LF_R *cs = f->scratch + 2 * fld;
  for (int b0 = 0; b0 < B; b0 += nbmax) {
    const int nb = B - b0 < nbmax ? B - b0 : nbmax;
    const LF_R *src = z + (size_t)b0 * cv;
    for (int i = 0; i < f->nlayers; i++) {
      LF_R *dst = i == f->nlayers - 1 ? phi + (size_t)b0 * cv : buf[i % 2];
      f->ops->forward_nograd(LF_T(lf_flow_layer)(f, i), nb, src, dst, logdet + b0, cs);
      src = dst;
    }
  }
}

void LF_T(lf_flow_inverse)(LF_T(lf_flow) * f, int B, const LF_R *phi, LF_R *z, double *logdet) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  memcpy(field_at(f, f->nlayers), phi, n * sizeof *phi);
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  for (int i = f->nlayers - 1; i >= 0; i--)
    f->ops->inverse(LF_T(lf_flow_layer)(f, i), B, field_at(f, i + 1), field_at(f, i), logdet,
                    ws_at(f, i), f->scratch);
  memcpy(z, field_at(f, 0), n * sizeof *z);
}

/* Gradients run through two ping-pong buffers from dtop (NULL: zero), layer by layer
 * (forward: n-1 .. 0; inverse: 0 .. n-1); the last layer visited writes dst, or skips
 * its input gradient when dst is NULL. */
static void run_backward(LF_T(lf_flow) * f, int B, const LF_R *dtop, const double *dlogdet,
                         LF_R *dst, int inv) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  const size_t stride = (size_t)f->Bmax * (size_t)f->C * (size_t)f->V;
  LF_R *dcur = f->dxs, *dnext = f->dxs + stride;
  if (dtop)
    memcpy(dcur, dtop, n * sizeof *dcur);
  else
    memset(dcur, 0, n * sizeof *dcur);
  for (int s = 0; s < f->nlayers; s++) {
    const int i = inv ? s : f->nlayers - 1 - s;
    LF_R *out = s < f->nlayers - 1 ? dnext : dst;
    if (out) memset(out, 0, n * sizeof *out);
    void *c = LF_T(lf_flow_layer)(f, i);
    if (inv)
      f->ops->inverse_backward(c, B, field_at(f, i + 1), dcur, dlogdet, out, ws_at(f, i),
                               f->scratch);
    else
      f->ops->backward(c, B, field_at(f, i), dcur, dlogdet, out, ws_at(f, i), f->scratch);
    LF_R *tmp = dcur;
    dcur = dnext;
    dnext = tmp;
  }
}

void LF_T(lf_flow_backward)(LF_T(lf_flow) * f, int B, const LF_R *dphi, const double *dlogdet,
                            LF_R *dz) {
  run_backward(f, B, dphi, dlogdet, dz, 0);
}

void LF_T(lf_flow_inverse_backward)(LF_T(lf_flow) * f, int B, const LF_R *dz, const double *dlogdet,
                                    LF_R *dphi) {
  run_backward(f, B, dz, dlogdet, dphi, 1);
}

/* ---- the stack behind the precision-independent table (latflow/flow.h) ------------------
 * The v_* entries pass void pointers on to the typed functions. */

static lf_status v_init(void *f, const lf_model_cfg *cfg, int C, int L0, int L1,
                        const unsigned char *site_parity, void *params, void *grads, int Bmax) {
  return LF_T(lf_flow_init)(f, cfg, C, L0, L1, site_parity, params, grads, Bmax);
}
static lf_status v_init_nograd(void *f, const lf_model_cfg *cfg, int C, int L0, int L1,
                               const unsigned char *site_parity, void *params, void *grads,
                               int Bmax) {
  return LF_T(lf_flow_init_nograd)(f, cfg, C, L0, L1, site_parity, params, grads, Bmax);
}
static void v_free(void *f) {
  LF_T(lf_flow_free)(f);
}
static void v_init_params(void *f, lf_init_kind kind, double scale, lf_rng_key key,
                          uint64_t offset) {
  LF_T(lf_flow_init_params)(f, kind, scale, key, offset);
}
static double v_madds(const void *f) {
  return LF_T(lf_flow_forward_madds)(f);
}
static void v_forward(void *f, int B, const void *z, void *phi, double *logdet) {
  LF_T(lf_flow_forward)(f, B, z, phi, logdet);
}
static void v_forward_nograd(void *f, int B, const void *z, void *phi, double *logdet) {
  LF_T(lf_flow_forward_nograd)(f, B, z, phi, logdet);
}
static void v_backward(void *f, int B, const void *dphi, const double *dlogdet, void *dz) {
  LF_T(lf_flow_backward)(f, B, dphi, dlogdet, dz);
}
static void v_inverse(void *f, int B, const void *phi, void *z, double *logdet) {
  LF_T(lf_flow_inverse)(f, B, phi, z, logdet);
}
static void v_inverse_backward(void *f, int B, const void *dz, const double *dlogdet, void *dphi) {
  LF_T(lf_flow_inverse_backward)(f, B, dz, dlogdet, dphi);
}

/* The arena arithmetic of the table (latflow/flow.h) in LF_R. */
static void v_to_net(size_t n, const double *in, void *out) {
  LF_R *o = out;
  for (size_t i = 0; i < n; i++) o[i] = (LF_R)in[i];
}
static void v_from_net(size_t n, const void *in, double *out) {
  const LF_R *p = in;
  for (size_t i = 0; i < n; i++) out[i] = (double)p[i];
}
static void v_add(size_t n, const double *in, void *out) {
  LF_R *o = out;
  for (size_t i = 0; i < n; i++) o[i] += (LF_R)in[i];
}
static double v_sumsq(size_t n, const void *a) {
  const LF_R *p = a;
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)p[i] * (double)p[i];
  return s;
}
static void v_scale(size_t n, void *a, double factor) {
  LF_R *p = a;
  const LF_R f = (LF_R)factor;
  for (size_t i = 0; i < n; i++) p[i] *= f;
}
static void v_optim_step(const lf_optim_cfg *cfg, double lr, uint64_t t, size_t n, void *p,
                         const void *g, void *m, void *v) {
  LF_T(lf_optim_step)(cfg, lr, t, n, p, g, m, v);
}

const lf_flow_ops LF_T(lf_flow_ops) = {.real_size = sizeof(LF_R),
                                       .size = sizeof(LF_T(lf_flow)),
                                       .nparams = LF_T(lf_flow_nparams),
                                       .init = v_init,
                                       .init_nograd = v_init_nograd,
                                       .free = v_free,
                                       .init_params = v_init_params,
                                       .forward_madds = v_madds,
                                       .forward = v_forward,
                                       .forward_nograd = v_forward_nograd,
                                       .backward = v_backward,
                                       .inverse = v_inverse,
                                       .inverse_backward = v_inverse_backward,
                                       .to_net = v_to_net,
                                       .from_net = v_from_net,
                                       .add = v_add,
                                       .sumsq = v_sumsq,
                                       .scale = v_scale,
                                       .optim_step = v_optim_step};
