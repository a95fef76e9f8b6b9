/* latflow/flow.h: the flow layer interface, the affine coupling layer and the stack of
 * layers, in float (_f) and double (_d); declarations in latflow/flow_t.h, sources
 * src/flow/coupling_t.c (the affine layer) and src/flow/flowstack_t.c (the stack, written
 * once over lf_layer_ops). The gauge layers are in latflow/gauge_flow.h.
 * The precision-independent model (base + stack + arenas + optimizer state, double
 * in and out) is latflow/model.h; it drives a stack through lf_flow_ops. */
#ifndef LATFLOW_FLOW_H
#define LATFLOW_FLOW_H

#include "latflow/config_model.h"
#include "latflow/nn.h"
#include "latflow/status.h"

#include <stddef.h>

/* The lattice a stack's layers act on: C components per site of an L0 x L1 lattice;
 * site_parity (V) borrowed: (x0+x1)%2, for the checkerboard masks (may be NULL for
 * layers that do not use it). */
typedef struct lf_flow_shape {
  int C, L0, L1;
  const unsigned char *site_parity;
} lf_flow_shape;

#define LF_TEMPLATE "latflow/flow_t.h"
#include "latflow/prec_template.h"

/* A stack in either precision behind one table (lf_flow_ops_f drives an lf_flow_f,
 * lf_flow_ops_d an lf_flow_d): the functions of latflow/flow_t.h with the fields and
 * arenas as void pointers of the table's real type, and the arithmetic of arenas of that
 * type. The model holds one of these and a pointer to its stack, and so has no branch on
 * the precision. */
typedef struct lf_flow_ops {
  size_t real_size; /* sizeof(float) or sizeof(double) */
  size_t size;      /* sizeof the stack object */
  size_t (*nparams)(const lf_model_cfg *cfg, int C);
  lf_status (*init)(void *f, const lf_model_cfg *cfg, int C, int L0, int L1,
                    const unsigned char *site_parity, void *params, void *grads, int Bmax);
  lf_status (*init_nograd)(void *f, const lf_model_cfg *cfg, int C, int L0, int L1,
                           const unsigned char *site_parity, void *params, void *grads,
                           int Bmax); /* lf_flow_init_nograd: sampling only */
  void (*free)(void *f);
  void (*init_params)(void *f, lf_init_kind kind, double scale, lf_rng_key key, uint64_t offset);
  double (*forward_madds)(const void *f);
  void (*forward)(void *f, int B, const void *z, void *phi, double *logdet);
  void (*forward_nograd)(void *f, int B, const void *z, void *phi, double *logdet);
  void (*backward)(void *f, int B, const void *dphi, const double *dlogdet, void *dz);
  void (*inverse)(void *f, int B, const void *phi, void *z, double *logdet);
  void (*inverse_backward)(void *f, int B, const void *dz, const double *dlogdet, void *dphi);
  /* The arenas' and fields' arithmetic in the table's precision, n entries: */
  void (*to_net)(size_t n, const double *in, void *out);   /* out = (real)in */
  void (*from_net)(size_t n, const void *in, double *out); /* out = in */
  void (*add)(size_t n, const double *in, void *out);      /* out += (real)in */
  double (*sumsq)(size_t n, const void *a);                /* sum of a^2, in double */
  void (*scale)(size_t n, void *a, double factor);         /* a *= (real)factor */
  void (*optim_step)(const lf_optim_cfg *cfg, double lr, uint64_t t, size_t n, void *p,
                     const void *g, void *m, void *v); /* lf_optim_step_f or _d */
} lf_flow_ops;

extern const lf_flow_ops lf_flow_ops_f;
extern const lf_flow_ops lf_flow_ops_d;

#endif
