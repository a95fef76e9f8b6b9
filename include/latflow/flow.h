/* latflow/flow.h: affine coupling layers and the stack of layers, in float (_f) and
 * double (_d); declarations in latflow/flow_t.h, sources src/flow/coupling_t.c and
 * src/flow/flowstack_t.c.
 * The precision-independent model (base + stack + arenas + optimizer state, double
 * in and out) is latflow/model.h. */
#ifndef LATFLOW_FLOW_H
#define LATFLOW_FLOW_H

#include "latflow/config_model.h"
#include "latflow/nn.h"
#include "latflow/status.h"

#include <stddef.h>

#define LF_R float
#define LF_T(name) name##_f
#include "latflow/flow_t.h"
#undef LF_R
#undef LF_T

#define LF_R double
#define LF_T(name) name##_d
#include "latflow/flow_t.h"
#undef LF_R
#undef LF_T

#endif
