/* latflow/model.h: a flow model = base distribution + stack of coupling layers + the
 * parameter, gradient and optimizer-moment arenas; double in and out, network
 * arithmetic in the precision of cfg->precision (float or double).
 *
 *   z = A(theta_base) eps,  phi = f(z),
 *   log q(phi) = log r(z) - log|det dphi/dz|
 * Arena layout (all four arenas identical, network precision, nparams entries):
 *   [0, nbase)            base parameters (free_field: log m)
 *   [nbase, nparams)      the flow's layers, in order (lf_flow_*), each conv w then bias
 * So all-reduce, the optimizer, checkpoints and gradchecks each work on one block.
 * Shapes: eps, phi, dphi (B, C*V) double; logq, dlogq (B) double. B <= Bmax, grown
 * by lf_model_reserve (the batch schedule). Backward functions accumulate into the
 * grad arena; the caller zeroes it once per step (lf_model_zero_grad).
 * Local; only _init/_reserve/_load-like calls can fail.
 *
 * One stack (latflow/flow.h), whose layers are those of cfg.coupling: affine uses the
 * affine checkerboard layers with a normal or free_field base; spline needs base == haar
 * and C = 2 (link angles of a 2D U(1) theory) and uses the gauge-equivariant layers
 * (latflow/gauge_flow.h) with cfg.spline_bins bins per spline; then phi holds the link
 * angles (B, 2, V) in [0, 2 pi). Other combinations are LF_ERR_INVALID. */
#ifndef LATFLOW_MODEL_H
#define LATFLOW_MODEL_H

#include "latflow/base.h"
#include "latflow/config_model.h"
#include "latflow/config_optim.h"
#include "latflow/flow.h"
#include "latflow/gauge_flow.h"
#include "latflow/lattice.h"
#include "latflow/status.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lf_model {
  lf_model_cfg cfg; /* architecture (copy) */
  int C, L0, L1, V, Bmax;
  lf_lattice lat;               /* owned: parity for the checkerboards */
  lf_base base;                 /* owned */
  size_t nbase;                 /* base parameters */
  size_t nparams;               /* all parameters */
  size_t real_size;             /* sizeof(float) or sizeof(double) */
  void *params, *grads, *m, *v; /* owned arenas (nparams, network precision) */
  const lf_flow_ops *ops;       /* borrowed (static): lf_flow_ops_f or _d by cfg.precision */
  void *flow;                   /* owned: the stack, an lf_flow_f or lf_flow_d (ops) */
  double *theta, *dtheta;       /* owned (nbase): base params in double */
  double *zd, *logr, *dzd;      /* owned (Bmax*C*V), (Bmax), (Bmax*C*V) */
  void *zr, *phir, *dr;         /* owned (Bmax*C*V) network precision buffers */
  double *logdet, *dlogdet;     /* owned (Bmax) */
  double *eps_saved;            /* owned (Bmax*C*V): eps of the last sample */
  uint64_t step;                /* optimizer steps taken (Adam's t) */
  double train_seconds;         /* wall seconds of training so far (model files keep it) */
  /* The training cost (model files keep it): this model's own run (every part of a
   * resumed one) and its transfer chain (own plus every train.init_from ancestor's). A
   * file from before these were stored reads as train_steps = step, chain = own, and
   * n_train = chain_n_train = -1 (not recorded: lf_driver_model_cost computes it from
   * the stored config). */
  long train_steps;      /* training steps taken (skipped steps included) */
  int64_t n_train;       /* samples flowed through those steps */
  long chain_steps;      /* own + ancestors' */
  int64_t chain_n_train; /* own + ancestors' */
  double chain_seconds;  /* own + ancestors' training wall seconds */
  int sampling_only;     /* 1: built by lf_model_init_sampling */
} lf_model;

lf_status lf_model_init(lf_model *m, const lf_model_cfg *cfg, int C, int L0, int L1, int Bmax);
/* A model for sampling only (latflow sample, the IMH workers, bench's proposals): the same
 * parameters and lf_model_sample_nograd bits, but the stack's training workspaces (the
 * saved activations of every layer, the fields between layers, the gradient buffers:
 * about 320 MB at L = 16, Bmax = 1024 in float) are never allocated (lf_flow_init_nograd).
 * Only lf_model_sample_nograd, the parameter functions and lf_model_hash may be called;
 * lf_model_sample, _logq and the backwards are a caller bug. */
lf_status lf_model_init_sampling(lf_model *m, const lf_model_cfg *cfg, int C, int L0, int L1,
                                 int Bmax);
void lf_model_free(lf_model *m);
/* Grows the workspaces to hold batch Bmax (no-op if large enough). */
lf_status lf_model_reserve(lf_model *m, int Bmax);
/* Fresh parameters: layers by cfg.init (stream LF_STREAM_INIT of seed, index = arena
 * offset), base by cfg.base_mass. Zeroes grads, moments and step. */
void lf_model_init_params(lf_model *m, uint64_t seed);

/* phi = f(A eps) and log q(phi) for B samples; saves what sample_backward needs. */
void lf_model_sample(lf_model *m, int B, const double *eps, double *phi, double *logq);
/* The same phi and logq (bit for bit) for sampling without gradients: saves nothing for a
 * backward (none may follow) and runs the flow over cache-sized chunks of samples.
 * Clobbers zd like sample. */
void lf_model_sample_nograd(lf_model *m, int B, const double *eps, double *phi, double *logq);
/* After lf_model_sample: grads += dL/dparams for dL/dphi and dL/dlogq (either may be
 * NULL = zero). The base parameters get every path once: theta -> z -> flow -> (phi,
 * logq) and theta -> logr (lf_base_sample_backward with the flow's dL/dz only).
 * sample, logq and reserve share the saved state: a backward must follow its own call,
 * with no other of these in between. After sample or logq, zd holds z (B, C*V). */
void lf_model_sample_backward(lf_model *m, int B, const double *dphi, const double *dlogq);
/* 1 if the base's sample map jumps where its parameters move the jump (base plaquette: the
 * residue s of the plaquettes' sum wraps at pi, docs/PHYSICS.md 8.9): then the
 * reparameterization gradient of the base parameters misses a boundary term, and
 * lf_model_sample_backward leaves them out; the caller adds their score-function gradient
 * with lf_model_base_score_backward. 0 for the other bases. */
int lf_model_base_score(const lf_model *m);
/* After lf_model_sample (zd holds its z): grads[0, nbase) += sum_b c[b] d log r(z_b)/dtheta
 * at fixed z, the score of the base parameters (the REINFORCE gradient of the base when
 * c[b] = (s_b - mean s)/(B - 1), s = log q + S). Nothing without base parameters. */
void lf_model_base_score_backward(lf_model *m, int B, const double *c);
/* log q(phi) through the inverse flow: z = f^-1(phi), log q = log r(z) + log|det dz/dphi|.
 * Saves what logq_backward needs. */
void lf_model_logq(lf_model *m, int B, const double *phi, double *logq);
/* After lf_model_logq: grads += dL/dparams for L = sum_b dlogq[b] log q(phi_b). */
void lf_model_logq_backward(lf_model *m, int B, const double *dlogq);

void lf_model_zero_grad(lf_model *m);
/* Copies between the arenas and double arrays of nparams entries. */
void lf_model_get_params(const lf_model *m, double *out);
void lf_model_set_params(lf_model *m, const double *in);
void lf_model_get_grads(const lf_model *m, double *out);
/* sqrt(sum g^2) over the grad arena; NaN/Inf propagate (so callers can test isfinite). */
double lf_model_grad_norm(const lf_model *m);
void lf_model_scale_grads(lf_model *m, double factor);
/* One optimizer step (step counter incremented first) at learning rate lr. */
void lf_model_optim_step(lf_model *m, const lf_optim_cfg *opt, double lr);
/* Total conv multiply-adds of one forward pass per sample (for FLOP rates). */
double lf_model_forward_madds(const lf_model *m);

/* ---- the architecture, described once (src/flow/model_arch.c) ---------------------------
 * One table of the fields that decide what the arenas mean (or that a model file repeats
 * for people): the /model attributes of model files, the trainer checkpoint's record, the
 * hash and the compatibility check of a parameter transfer are all driven by it. */
typedef enum lf_arch_type {
  LF_ARCH_INT,  /* int */
  LF_ARCH_ENUM, /* an int-sized enum; value names in `names` */
  LF_ARCH_SIZE, /* size_t */
  LF_ARCH_REAL, /* double */
  LF_ARCH_INTS  /* the cfg.hidden widths: cfg.nhidden ints */
} lf_arch_type;
/* Uses of a field (bits of lf_model_arch_field.uses). */
#define LF_ARCH_ATTR 1u        /* an attribute of /model, under its name */
#define LF_ARCH_SAME 2u        /* compared by lf_model_cfg_same_arch */
#define LF_ARCH_SAME_SPLINE 4u /* compared by lf_model_cfg_same_arch for spline couplings */
typedef struct lf_model_arch_field {
  const char *name; /* field (and /model attribute) name */
  lf_arch_type type;
  size_t offset;            /* offsetof(lf_model, ...): cfg fields are at cfg.* */
  const char *const *names; /* LF_ARCH_ENUM: value names, NULL-terminated; else NULL */
  int hash;                 /* position in the hash's integer record, -1: not hashed */
  int record;               /* position in lf_model_arch_record, -1: not in it */
  unsigned uses;            /* LF_ARCH_* bits */
} lf_model_arch_field;

/* The table (n rows). */
const lf_model_arch_field *lf_model_arch_fields(size_t *n);
/* The row of a name; NULL if none. */
const lf_model_arch_field *lf_model_arch_find(const char *name);
/* The name of an enum field's value; "unknown" if out of range or not an enum. */
const char *lf_model_arch_value_name(const lf_model_arch_field *f, int64_t v);
/* The value of a scalar field (INT, ENUM, SIZE) of m. */
int64_t lf_model_arch_value(const lf_model *m, const lf_model_arch_field *f);
/* 1 if a and b describe nets whose parameters mean the same on any lattice (base, layers,
 * hidden, kernel, activation, coupling and, for spline couplings, spline_bins); the
 * precision may differ (parameters convert through double). train.init_from uses it. */
int lf_model_cfg_same_arch(const lf_model_cfg *a, const lf_model_cfg *b);
/* Most entries of lf_model_arch_record. */
#define LF_MODEL_ARCH_MAX (12 + LF_MAX_HIDDEN)
/* The architecture as integers, what must match for the arenas to mean the same (the
 * trainer checkpoint's model_arch): writes rec (LF_MODEL_ARCH_MAX), returns the count. */
size_t lf_model_arch_record(const lf_model *m, int64_t *rec);
/* A record of n entries as text for a message ("8x8, 4 layers, kernel 3, ..."). */
void lf_model_arch_text(const int64_t *rec, size_t n, char *buf, size_t bn);
/* FNV-1a 64-bit hash of the architecture (the hashed fields of the table, in their
 * positions) and the parameter arena bytes; for files. */
uint64_t lf_model_hash(const lf_model *m);

#endif
