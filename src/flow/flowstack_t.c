/* src/flow/flowstack_t.c: the stack of affine coupling layers (contract: latflow/flow_t.h).
 *
 * Layer i has parity i % 2 and its parameters follow those of layer i-1 in the arena
 * (each layer: its convs in order, each conv w then bias). Forward keeps every field
 * between layers in xs (xs[0] = z, xs[n] = phi) and every layer's saved workspace, so
 * backward needs nothing from the caller but the output gradients; inverse fills the
 * same buffers (xs[n] = phi, xs[0] = z), so a backward must follow the call it belongs
 * to. Gradients flow through two ping-pong buffers of (Bmax, C*V). */
#include "latflow/flow.h"
#include "latflow/mem.h"
#include "latflow/timer.h"

#include "core/prec.h"

#include <string.h>

/* Bytes of one chunk's fields and net activations in lf_flow_forward_nograd (two fields,
 * the masked input, two hidden tensors of nograd_chunk samples): about the L1 + a part of
 * L2. Measured at L=16, B=1024 (float, AVX-512): 20 KiB to 640 KiB all within noise of
 * each other (+-3%), far faster than streaming (B, h, V) tensors through memory. */
#define NOGRAD_CHUNK_BYTES ((size_t)64 * 1024)

/* Samples per chunk of lf_flow_forward_nograd, at most Bmax. */
static int nograd_chunk(const LF_T(lf_flow) * f) {
  const LF_T(lf_coupling) *c = &f->layers[0];
  int hmax = 2 * f->C;
  for (int k = 0; k < c->nconv; k++)
    if (c->conv[k].cout > hmax) hmax = c->conv[k].cout;
  const size_t per = (3 * (size_t)f->C + 2 * (size_t)hmax) * (size_t)f->V * sizeof(LF_R);
  size_t nb = NOGRAD_CHUNK_BYTES / per;
  if (nb < 1) nb = 1;
  if (nb > (size_t)f->Bmax) nb = (size_t)f->Bmax;
  return (int)nb;
}

size_t LF_T(lf_flow_nparams)(const lf_model_cfg *cfg, int C) {
  return (size_t)cfg->layers * LF_T(lf_coupling_nparams)(C, cfg->nhidden, cfg->hidden, cfg->kernel);
}

void LF_T(lf_flow_free)(LF_T(lf_flow) * f) {
  LF_FREE_ALL(f->layers, f->ws, f->xs, f->dxs, f->scratch);
  memset(f, 0, sizeof *f);
}

lf_status LF_T(lf_flow_init)(LF_T(lf_flow) * f, const lf_model_cfg *cfg, int C, int L0, int L1,
                             const unsigned char *site_parity, LF_R *params, LF_R *grads,
                             int Bmax) {
  memset(f, 0, sizeof *f);
  if (cfg->layers < 1)
    return LF_FAIL(LF_ERR_INVALID, "flow: layers must be >= 1, got %d", cfg->layers);
  if (cfg->nhidden < 0 || cfg->nhidden > LF_MAX_HIDDEN)
    return LF_FAIL(LF_ERR_INVALID, "flow: nhidden must be in [0, %d], got %d", LF_MAX_HIDDEN,
                   cfg->nhidden);
  for (int k = 0; k < cfg->nhidden; k++)
    if (cfg->hidden[k] < 1)
      return LF_FAIL(LF_ERR_INVALID, "flow: hidden[%d] must be >= 1, got %d", k, cfg->hidden[k]);
  if (cfg->kernel < 1 || cfg->kernel % 2 == 0)
    return LF_FAIL(LF_ERR_INVALID, "flow: kernel must be odd and >= 1, got %d", cfg->kernel);
  if (cfg->coupling != LF_COUPLING_AFFINE)
    return LF_FAIL(LF_ERR_INVALID, "flow: only the affine coupling is implemented, got kind %d",
                   (int)cfg->coupling);
  if (C < 1) return LF_FAIL(LF_ERR_INVALID, "flow: components C must be >= 1, got %d", C);
  if (L0 < 2 || L1 < 2 || L0 % 2 || L1 % 2)
    return LF_FAIL(LF_ERR_INVALID,
                   "flow: checkerboard couplings need even L0, L1 >= 2, got %d x %d", L0, L1);
  if (Bmax < 1) return LF_FAIL(LF_ERR_INVALID, "flow: Bmax must be >= 1, got %d", Bmax);
  if (!site_parity || !params || !grads)
    return LF_FAIL(LF_ERR_INVALID, "flow: site_parity, params and grads must not be NULL");

  f->nlayers = cfg->layers;
  f->C = C;
  f->L0 = L0;
  f->L1 = L1;
  f->V = L0 * L1;
  f->Bmax = Bmax;
  const size_t npl = LF_T(lf_coupling_nparams)(C, cfg->nhidden, cfg->hidden, cfg->kernel);
  f->layers = lf_alloc((size_t)f->nlayers * sizeof *f->layers);
  if (!f->layers) goto nomem;
  size_t scratch = 0;
  for (int i = 0; i < f->nlayers; i++) {
    LF_T(lf_coupling) *c = &f->layers[i];
    LF_T(lf_coupling_bind)
    (c, C, L0, L1, i % 2, cfg->nhidden, cfg->hidden, cfg->kernel, cfg->activation, site_parity,
     params + (size_t)i * npl, grads + (size_t)i * npl);
    const size_t s = LF_T(lf_coupling_scratch_size)(c, Bmax);
    if (s > scratch) scratch = s;
  }
  { /* lf_flow_forward_nograd: two chunk fields + the layers' nograd scratch of one chunk */
    const int nb = nograd_chunk(f);
    const size_t s = 2 * (size_t)nb * (size_t)C * (size_t)f->V +
                     LF_T(lf_coupling_nograd_scratch_size)(&f->layers[0], nb);
    if (s > scratch) scratch = s;
  }
  f->ws_per_layer = LF_T(lf_coupling_ws_size)(&f->layers[0], Bmax);
  const size_t field = (size_t)Bmax * (size_t)C * (size_t)f->V;
  /* the sizes below in size_t wrap around for absurd cards (when the memory check is
   * bypassed): refuse those as out of memory rather than allocate a wrapped size */
  double chan = 3.0 * C;
  for (int k = 0; k < cfg->nhidden; k++) chan += cfg->hidden[k];
  if ((double)(f->nlayers + 3) * (double)Bmax * (double)f->V * chan * (double)sizeof(LF_R) > 0x1p62)
    goto nomem;
  f->ws = lf_alloc((size_t)f->nlayers * f->ws_per_layer * sizeof(LF_R));
  f->xs = lf_alloc((size_t)(f->nlayers + 1) * field * sizeof(LF_R));
  f->dxs = lf_alloc(2 * field * sizeof(LF_R));
  f->scratch = lf_alloc(scratch * sizeof(LF_R));
  if (!f->ws || !f->xs || !f->dxs || !f->scratch) goto nomem;
  return LF_OK;
nomem : {
  const double bytes = ((double)f->nlayers * (double)f->ws_per_layer +
                        (double)(f->nlayers + 3) * (double)Bmax * (double)C * (double)f->V) *
                       (double)sizeof(LF_R);
  const int nl = f->nlayers;
  char size[32];
  LF_T(lf_flow_free)(f);
  return LF_FAIL(LF_ERR_NOMEM,
                 "cannot allocate %s for the flow's workspaces (%d layers, %dx%d sites, C=%d, "
                 "batch or block %d)",
                 lf_mem_format(bytes, size, sizeof size), nl, L0, L1, C, Bmax);
}
}

void LF_T(lf_flow_init_params)(LF_T(lf_flow) * f, lf_init_kind kind, double scale, lf_rng_key key,
                               uint64_t offset) {
  uint64_t off = offset;
  for (int i = 0; i < f->nlayers; i++) {
    LF_T(lf_coupling) *c = &f->layers[i];
    LF_T(lf_coupling_init)(c, kind, scale, key, off);
    for (int k = 0; k < c->nconv; k++)
      off += LF_T(lf_conv2d_nparams)(c->conv[k].cin, c->conv[k].cout, c->conv[k].k);
  }
}

/* xs[i] of batch rows (Bmax, C*V) */
static LF_R *field_at(const LF_T(lf_flow) * f, int i) {
  return f->xs + (size_t)i * (size_t)f->Bmax * (size_t)f->C * (size_t)f->V;
}

void LF_T(lf_flow_forward)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi, double *logdet) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  memcpy(field_at(f, 0), z, n * sizeof *z);
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  for (int i = 0; i < f->nlayers; i++) LF_T(lf_coupling_forward)
  (&f->layers[i], B, field_at(f, i), field_at(f, i + 1), logdet,
   f->ws + (size_t)i * f->ws_per_layer, f->scratch);
  memcpy(phi, field_at(f, f->nlayers), n * sizeof *phi);
}

/* Chunks of nb samples go through all layers while their fields and activations stay in
 * cache: layer i reads the chunk's field from src and writes dst, ping-ponging between two
 * chunk buffers, the first layer reading z and the last writing phi. */
void LF_T(lf_flow_forward_nograd)(LF_T(lf_flow) * f, int B, const LF_R *z, LF_R *phi,
                                  double *logdet) {
  const int nbmax = nograd_chunk(f);
  const size_t cv = (size_t)f->C * (size_t)f->V, fld = (size_t)nbmax * cv;
  LF_R *buf[2] = {f->scratch, f->scratch + fld};
  LF_R *cs = f->scratch + 2 * fld;
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  for (int b0 = 0; b0 < B; b0 += nbmax) {
    const int nb = B - b0 < nbmax ? B - b0 : nbmax;
    const LF_R *src = z + (size_t)b0 * cv;
    for (int i = 0; i < f->nlayers; i++) {
      LF_R *dst = i == f->nlayers - 1 ? phi + (size_t)b0 * cv : buf[i % 2];
      LF_T(lf_coupling_forward_nograd)(&f->layers[i], nb, src, dst, logdet + b0, cs);
      src = dst;
    }
  }
}

void LF_T(lf_flow_backward)(LF_T(lf_flow) * f, int B, const LF_R *dphi, const double *dlogdet,
                            LF_R *dz) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  const size_t stride = (size_t)f->Bmax * (size_t)f->C * (size_t)f->V;
  LF_R *dcur = f->dxs, *dnext = f->dxs + stride;
  if (dphi)
    memcpy(dcur, dphi, n * sizeof *dcur);
  else
    memset(dcur, 0, n * sizeof *dcur);
  for (int i = f->nlayers - 1; i >= 0; i--) {
    LF_R *dst = i > 0 ? dnext : dz; /* layer 0 writes dz, or skips dz when NULL */
    if (dst) memset(dst, 0, n * sizeof *dst);
    LF_T(lf_coupling_backward)
    (&f->layers[i], B, field_at(f, i), dcur, dlogdet, dst, f->ws + (size_t)i * f->ws_per_layer,
     f->scratch);
    LF_R *tmp = dcur;
    dcur = dnext;
    dnext = tmp;
  }
}

void LF_T(lf_flow_inverse)(LF_T(lf_flow) * f, int B, const LF_R *phi, LF_R *z, double *logdet) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  memcpy(field_at(f, f->nlayers), phi, n * sizeof *phi);
  for (int b = 0; b < B; b++) logdet[b] = 0.0;
  for (int i = f->nlayers - 1; i >= 0; i--) LF_T(lf_coupling_inverse)
  (&f->layers[i], B, field_at(f, i + 1), field_at(f, i), logdet,
   f->ws + (size_t)i * f->ws_per_layer, f->scratch);
  memcpy(z, field_at(f, 0), n * sizeof *z);
}

void LF_T(lf_flow_inverse_backward)(LF_T(lf_flow) * f, int B, const LF_R *dz, const double *dlogdet,
                                    LF_R *dphi) {
  const size_t n = (size_t)B * (size_t)f->C * (size_t)f->V;
  const size_t stride = (size_t)f->Bmax * (size_t)f->C * (size_t)f->V;
  LF_R *dcur = f->dxs, *dnext = f->dxs + stride;
  if (dz)
    memcpy(dcur, dz, n * sizeof *dcur);
  else
    memset(dcur, 0, n * sizeof *dcur);
  for (int i = 0; i < f->nlayers; i++) {
    LF_R *dst = i < f->nlayers - 1 ? dnext : dphi; /* last: dphi, or skipped when NULL */
    if (dst) memset(dst, 0, n * sizeof *dst);
    LF_T(lf_coupling_inverse_backward)
    (&f->layers[i], B, field_at(f, i + 1), dcur, dlogdet, dst, f->ws + (size_t)i * f->ws_per_layer,
     f->scratch);
    LF_R *tmp = dcur;
    dcur = dnext;
    dnext = tmp;
  }
}
