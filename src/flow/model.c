/* src/flow/model.c: base distribution + flow stack + arenas (contract: latflow/model.h).
 *
 * Precision: the arenas and the stack are float (cfg.precision == LF_PREC_F32, the stack
 * an lf_flow_f driven through the table lf_flow_ops_f) or double (LF_PREC_F64: lf_flow_d,
 * lf_flow_ops_d); every precision-dependent step goes through that table, so this file
 * has no branch on the precision. The model's inputs and outputs, the base distribution
 * and every log density are double. Conversions (copies in double) happen only at the
 * boundary of the stack (and for the nbase base parameters, which are converted to the
 * double theta before each lf_base_* call and whose double gradient dtheta is added back
 * into the grad arena).
 *
 * Gradients of the sampling path (lf_model_sample_backward). With eps fixed,
 *   z = A(theta) eps,  phi = f_w(z),  logq = logr(z, theta) - logdet_f(z, w),
 * so for a loss L(phi, logq):
 *   dL/dw      = through phi and through logdet (lf_flow_backward, dlogdet = -dL/dlogq)
 *   dL/dz|flow = the same stack backward (the flow's dependence on z only)
 *   dL/dtheta  = lf_base_sample_backward(dz = dL/dz|flow, dlogr = dL/dlogq), which adds
 *                the path theta -> z -> flow (via dz), theta -> z -> logr and the
 *                explicit theta -> logr (via dlogr).
 * Each path is counted once: dz passed to the base holds only the flow's part; the
 * dependence of logr on z is the base's business.
 * Gradients of the density path (lf_model_logq_backward), with phi fixed,
 *   z = f_w^-1(phi),  logq = logr(z, theta) + logdet_inv(phi, w):
 *   lf_base_logr_backward gives dtheta (explicit) and dz = dlogq dlogr/dz; the inverse
 *   stack backward takes that dz and dlogdet = dlogq and gives dw. */
#include "latflow/model.h"
#include "latflow/mem.h"
#include "latflow/nn.h"
#include "latflow/rng.h"
#include "latflow/timer.h"

#include <math.h>
#include <string.h>

/* Batch-sized buffers (all sized for Bmax). */
typedef struct batch_bufs {
  double *zd, *logr, *dzd, *logdet, *dlogdet, *eps_saved;
  void *zr, *phir, *dr;
} batch_bufs;

static void bufs_free(batch_bufs *b) {
  LF_FREE_ALL(b->zd, b->logr, b->dzd, b->logdet, b->dlogdet, b->eps_saved, b->zr, b->phir, b->dr);
  memset(b, 0, sizeof *b);
}

/* Three double fields (nfield), three double rows (nbatch) and three network-precision
 * fields; 1 on success, 0 (all freed) on failure. */
static int bufs_alloc(batch_bufs *b, size_t nfield, size_t nbatch, size_t real_size) {
  memset(b, 0, sizeof *b);
  double **fields[3] = {&b->zd, &b->dzd, &b->eps_saved},
         **rows[3] = {&b->logr, &b->logdet, &b->dlogdet};
  void **net[3] = {&b->zr, &b->phir, &b->dr};
  int ok = 1;
  for (int i = 0; i < 3; i++) {
    *fields[i] = lf_alloc(nfield * sizeof(double));
    *rows[i] = lf_alloc(nbatch * sizeof(double));
    *net[i] = lf_alloc(nfield * real_size);
    ok = ok && *fields[i] && *rows[i] && *net[i];
  }
  if (ok) return 1;
  bufs_free(b);
  return 0;
}

static void bufs_take(lf_model *m, const batch_bufs *b) {
  m->zd = b->zd;
  m->logr = b->logr;
  m->dzd = b->dzd;
  m->logdet = b->logdet;
  m->dlogdet = b->dlogdet;
  m->eps_saved = b->eps_saved;
  m->zr = b->zr;
  m->phir = b->phir;
  m->dr = b->dr;
}

static batch_bufs bufs_of(const lf_model *m) {
  batch_bufs b = {m->zd,        m->logr, m->dzd,  m->logdet, m->dlogdet,
                  m->eps_saved, m->zr,   m->phir, m->dr};
  return b;
}

/* The arena at entry off, in the network precision. */
static void *arena_at(const lf_model *m, void *arena, size_t off) {
  return (char *)arena + off * m->real_size;
}

/* Frees the stack object (zeroed or built) and the pointer. */
static void flow_drop(const lf_model *m, void **flow) {
  if (*flow) m->ops->free(*flow);
  lf_free(*flow);
  *flow = NULL;
}

/* Builds the stack and buffers for Bmax into fresh objects; on success replaces the old
 * ones, on failure leaves the model as it was. */
static lf_status build_batch(lf_model *m, int Bmax) {
  lf_status rc;
  void *flow = lf_alloc(m->ops->size);
  if (!flow) return LF_FAIL(LF_ERR_NOMEM, "model: the stack object");
  memset(flow, 0, m->ops->size);
  rc = (m->sampling_only ? m->ops->init_nograd : m->ops->init)(
      flow, &m->cfg, m->C, m->L0, m->L1, m->lat.parity, arena_at(m, m->params, m->nbase),
      arena_at(m, m->grads, m->nbase), Bmax);
  if (rc != LF_OK) {
    lf_free(flow);
    return rc;
  }
  batch_bufs nb;
  const size_t nfield = (size_t)Bmax * (size_t)m->C * (size_t)m->V;
  if (!bufs_alloc(&nb, nfield, (size_t)Bmax, m->real_size)) {
    flow_drop(m, &flow);
    return LF_FAIL(LF_ERR_NOMEM, "model: batch buffers for Bmax=%d, C*V=%d", Bmax, m->C * m->V);
  }
  batch_bufs old = bufs_of(m);
  bufs_free(&old);
  flow_drop(m, &m->flow);
  m->flow = flow;
  bufs_take(m, &nb);
  m->Bmax = Bmax;
  return LF_OK;
}

void lf_model_free(lf_model *m) {
  if (m->ops) flow_drop(m, &m->flow);
  batch_bufs b = bufs_of(m);
  bufs_free(&b);
  LF_FREE_ALL(m->params, m->grads, m->m, m->v, m->theta, m->dtheta);
  lf_base_free(&m->base);
  lf_lattice_free(&m->lat);
  memset(m, 0, sizeof *m);
}

/* lf_model_init (sampling_only 0) and lf_model_init_sampling (1). */
static lf_status model_init(lf_model *m, const lf_model_cfg *cfg, int C, int L0, int L1, int Bmax,
                            int sampling_only) {
  lf_status rc = LF_OK;
  memset(m, 0, sizeof *m);
  m->sampling_only = sampling_only;
  if (cfg->precision != LF_PREC_F32 && cfg->precision != LF_PREC_F64)
    return LF_FAIL(LF_ERR_INVALID, "model: unknown precision %d", (int)cfg->precision);
  if (cfg->base == LF_BASE_FREE_FIELD && !(cfg->base_mass > 0.0))
    return LF_FAIL(LF_ERR_INVALID, "model: free_field base_mass must be > 0, got %g",
                   cfg->base_mass);
  if (Bmax < 1) return LF_FAIL(LF_ERR_INVALID, "model: Bmax must be >= 1, got %d", Bmax);
  if (C < 1) return LF_FAIL(LF_ERR_INVALID, "model: components C must be >= 1, got %d", C);
  const int gauge = cfg->coupling == LF_COUPLING_SPLINE;
  const int angles = cfg->base == LF_BASE_HAAR || cfg->base == LF_BASE_PLAQUETTE;
  if (gauge && (!angles || C != 2))
    return LF_FAIL(LF_ERR_INVALID,
                   "model: coupling 'spline' is the U(1) gauge flow: it needs base 'haar' or "
                   "'plaquette' and a theory with 2 link angles per site, got base %d, C=%d",
                   (int)cfg->base, C);
  if (!gauge && angles)
    return LF_FAIL(LF_ERR_INVALID,
                   "model: base 'haar' or 'plaquette' (link angles) needs coupling 'spline'");
  m->cfg = *cfg;
  m->ops = cfg->precision == LF_PREC_F32 ? &lf_flow_ops_f : &lf_flow_ops_d;
  m->C = C;
  m->L0 = L0;
  m->L1 = L1;
  m->V = L0 * L1;
  m->real_size = m->ops->real_size;
  LF_CHECK(lf_lattice_init(&m->lat, L0, L1, 0));
  LF_CHECK(lf_base_init(&m->base, cfg->base, C, L0, L1, cfg->spline_bins));
  m->nbase = (size_t)lf_base_nparams(&m->base);
  m->nparams = m->nbase + m->ops->nparams(cfg, C);
  m->params = lf_alloc(m->nparams * m->real_size);
  m->grads = lf_alloc(m->nparams * m->real_size);
  m->m = lf_alloc(m->nparams * m->real_size);
  m->v = lf_alloc(m->nparams * m->real_size);
  m->theta = lf_alloc(m->nbase * sizeof(double));
  m->dtheta = lf_alloc(m->nbase * sizeof(double));
  if (!m->params || !m->grads || !m->m || !m->v || !m->theta || !m->dtheta) {
    char size[32];
    rc = LF_FAIL(LF_ERR_NOMEM, "cannot allocate %s for the model's 4 arenas of %zu parameters",
                 lf_mem_format(4.0 * (double)m->nparams * (double)m->real_size, size, sizeof size),
                 m->nparams);
    goto fail;
  }
  LF_CHECK(build_batch(m, Bmax));
  return LF_OK;
fail:
  lf_model_free(m);
  return rc;
}

lf_status lf_model_init(lf_model *m, const lf_model_cfg *cfg, int C, int L0, int L1, int Bmax) {
  return model_init(m, cfg, C, L0, L1, Bmax, 0);
}

lf_status lf_model_init_sampling(lf_model *m, const lf_model_cfg *cfg, int C, int L0, int L1,
                                 int Bmax) {
  return model_init(m, cfg, C, L0, L1, Bmax, 1);
}

lf_status lf_model_reserve(lf_model *m, int Bmax) {
  if (Bmax <= m->Bmax) return LF_OK;
  return build_batch(m, Bmax);
}

/* ---- conversions at the precision boundary ---------------------------------------------- */

static void to_net(const lf_model *m, size_t n, const double *in, void *out) {
  m->ops->to_net(n, in, out);
}

static void from_net(const lf_model *m, size_t n, const void *in, double *out) {
  m->ops->from_net(n, in, out);
}

/* theta (double) = the first nbase entries of the param arena */
static void load_theta(lf_model *m) {
  from_net(m, m->nbase, m->params, m->theta);
}

/* grads[0, nbase) += dtheta */
static void add_dtheta(lf_model *m) {
  m->ops->add(m->nbase, m->dtheta, m->grads);
}

void lf_model_init_params(lf_model *m, uint64_t seed) {
  const lf_rng_key key = lf_rng_key_make(seed, LF_STREAM_INIT);
  m->ops->init_params(m->flow, m->cfg.init, m->cfg.init_scale, key, (uint64_t)m->nbase);
  if (m->nbase) {
    lf_base_param_init(&m->base, m->cfg.base_mass, m->cfg.base_beta, m->theta);
    to_net(m, m->nbase, m->theta, m->params);
  }
  memset(m->grads, 0, m->nparams * m->real_size);
  memset(m->m, 0, m->nparams * m->real_size);
  memset(m->v, 0, m->nparams * m->real_size);
  m->step = 0;
}

/* ---- sampling and density ---------------------------------------------------------------- */

/* phi = f(A eps), logq = logr - logdet, through the stack's forward or its nograd
 * forward; only the former keeps eps for the backward. */
static void sample(lf_model *m, int B, const double *eps, double *phi, double *logq, int nograd) {
  const size_t n = (size_t)B * (size_t)m->C * (size_t)m->V;
  void (*forward)(void *, int, const void *, void *, double *) =
      nograd ? m->ops->forward_nograd : m->ops->forward;
  load_theta(m);
  if (!nograd) memcpy(m->eps_saved, eps, n * sizeof *eps);
  lf_base_sample(&m->base, m->theta, B, eps, m->zd, m->logr);
  to_net(m, n, m->zd, m->zr);
  forward(m->flow, B, m->zr, m->phir, m->logdet);
  from_net(m, n, m->phir, phi);
  for (int b = 0; b < B; b++) logq[b] = m->logr[b] - m->logdet[b];
}

void lf_model_sample(lf_model *m, int B, const double *eps, double *phi, double *logq) {
  sample(m, B, eps, phi, logq, m->sampling_only); /* the same bits; no backward may follow */
}

void lf_model_sample_nograd(lf_model *m, int B, const double *eps, double *phi, double *logq) {
  sample(m, B, eps, phi, logq, 1);
}

void lf_model_sample_backward(lf_model *m, int B, const double *dphi, const double *dlogq) {
  const size_t n = (size_t)B * (size_t)m->C * (size_t)m->V;
  /* logq = logr - logdet: dL/dlogdet = -dL/dlogq */
  if (dlogq)
    for (int b = 0; b < B; b++) m->dlogdet[b] = -dlogq[b];
  const double *dld = dlogq ? m->dlogdet : NULL;
  /* dL/dz is needed only for the base parameters, and not when their gradient is the
   * score (lf_model_base_score) */
  const int want_dz = m->nbase > 0 && !lf_model_base_score(m);
  if (dphi) to_net(m, n, dphi, m->dr);
  /* zr (z in the network precision) is dead after the forward (the stack keeps its own
   * copy): dz */
  m->ops->backward(m->flow, B, dphi ? m->dr : NULL, dld, want_dz ? m->zr : NULL);
  if (want_dz) from_net(m, n, m->zr, m->dzd);
  if (!want_dz) return;
  memset(m->dtheta, 0, m->nbase * sizeof *m->dtheta);
  lf_base_sample_backward(&m->base, m->theta, B, m->eps_saved, m->dzd, dlogq, m->dtheta);
  add_dtheta(m);
}

int lf_model_base_score(const lf_model *m) {
  return m->cfg.base == LF_BASE_PLAQUETTE;
}

void lf_model_base_score_backward(lf_model *m, int B, const double *c) {
  if (!m->nbase) return;
  load_theta(m);
  memset(m->dtheta, 0, m->nbase * sizeof *m->dtheta);
  lf_base_logr_backward(&m->base, m->theta, B, m->zd, c, m->dtheta, NULL);
  add_dtheta(m);
}

void lf_model_logq(lf_model *m, int B, const double *phi, double *logq) {
  const size_t n = (size_t)B * (size_t)m->C * (size_t)m->V;
  load_theta(m);
  to_net(m, n, phi, m->phir);
  m->ops->inverse(m->flow, B, m->phir, m->zr, m->logdet);
  from_net(m, n, m->zr, m->zd);
  lf_base_logr(&m->base, m->theta, B, m->zd, m->logr);
  for (int b = 0; b < B; b++) logq[b] = m->logr[b] + m->logdet[b];
}

void lf_model_logq_backward(lf_model *m, int B, const double *dlogq) {
  const size_t n = (size_t)B * (size_t)m->C * (size_t)m->V;
  memset(m->dzd, 0, n * sizeof *m->dzd);
  if (m->nbase) memset(m->dtheta, 0, m->nbase * sizeof *m->dtheta);
  lf_base_logr_backward(&m->base, m->theta, B, m->zd, dlogq, m->nbase ? m->dtheta : NULL, m->dzd);
  /* logq = logr(z) + logdet_inv: dL/dlogdet_inv = dL/dlogq; dphi is not wanted */
  to_net(m, n, m->dzd, m->dr);
  m->ops->inverse_backward(m->flow, B, m->dr, dlogq, NULL);
  if (m->nbase) add_dtheta(m);
}

/* ---- arenas ------------------------------------------------------------------------------ */

void lf_model_zero_grad(lf_model *m) {
  memset(m->grads, 0, m->nparams * m->real_size);
}

void lf_model_get_params(const lf_model *m, double *out) {
  from_net(m, m->nparams, m->params, out);
}

void lf_model_set_params(lf_model *m, const double *in) {
  to_net(m, m->nparams, in, m->params);
}

void lf_model_get_grads(const lf_model *m, double *out) {
  from_net(m, m->nparams, m->grads, out);
}

double lf_model_grad_norm(const lf_model *m) {
  return sqrt(m->ops->sumsq(m->nparams, m->grads));
}

void lf_model_scale_grads(lf_model *m, double factor) {
  m->ops->scale(m->nparams, m->grads, factor);
}

void lf_model_optim_step(lf_model *m, const lf_optim_cfg *opt, double lr) {
  m->step++;
  m->ops->optim_step(opt, lr, m->step, m->nparams, m->params, m->grads, m->m, m->v);
}

double lf_model_forward_madds(const lf_model *m) {
  return m->ops->forward_madds(m->flow);
}
