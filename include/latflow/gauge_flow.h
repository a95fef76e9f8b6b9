/* latflow/gauge_flow.h: circular rational-quadratic splines and gauge-equivariant
 * coupling layers for 2D U(1) link angles, in float (_f) and double (_d); declarations
 * in latflow/gauge_flow_t.h, sources src/flow/spline_t.c and src/flow/gauge_t.c.
 * Independent of the theory module: the layers compute their own plaquettes. The stack
 * of gauge layers is the generic lf_flow (latflow/flow.h) with cfg->coupling == spline. */
#ifndef LATFLOW_GAUGE_FLOW_H
#define LATFLOW_GAUGE_FLOW_H

#include "latflow/config_model.h"
#include "latflow/flow.h"
#include "latflow/nn.h"
#include "latflow/status.h"

#include <stddef.h>

/* Largest number of spline bins K. */
#define LF_RQS_KMAX 64
/* Floors that keep every bin and knot derivative away from zero (as Durkan et al.):
 * bin width/height >= LF_RQS_MIN_BIN * 2 pi, derivative >= LF_RQS_MIN_DERIV. */
#define LF_RQS_MIN_BIN 1e-3
#define LF_RQS_MIN_DERIV 1e-3

#define LF_TEMPLATE "latflow/gauge_flow_t.h"
#include "latflow/prec_template.h"

#endif
