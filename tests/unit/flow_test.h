/* tests/unit/flow_test.h: the small affine architecture test_flow and test_model check
 * (hidden [3,5], kernel 3, Kaiming init at scale 1): tiny odd shapes, so every finite
 * difference check stays cheap. */
#ifndef LATFLOW_TESTS_FLOW_TEST_H
#define LATFLOW_TESTS_FLOW_TEST_H

#include "latflow/config.h"

#include <string.h>

/* The small model: base (with base_mass), layers affine couplings, activation act,
 * precision p. */
static inline lf_model_cfg flow_test_cfg(lf_base_kind base, double base_mass, int layers,
                                         lf_act_kind act, lf_precision p) {
  lf_model_cfg c;
  memset(&c, 0, sizeof c);
  c.base = base;
  c.base_mass = base_mass;
  c.layers = layers;
  c.nhidden = 2;
  c.hidden[0] = 3;
  c.hidden[1] = 5;
  c.kernel = 3;
  c.activation = act;
  c.coupling = LF_COUPLING_AFFINE;
  c.init = LF_INIT_KAIMING;
  c.init_scale = 1.0;
  c.precision = p;
  return c;
}

#endif
