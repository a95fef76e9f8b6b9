/* tests/unit/u1_exact.h: exact finite-volume results of 2D pure U(1) gauge theory for the
 * tests of samplers (HMC, flows): a thin wrapper of lf_u1_exact_eval (latflow/exact.h,
 * src/theory/u1_exact.c; derivation docs/PHYSICS.md section 8.6), which tests/unit/test_u1.c
 * checks against direct integration and known limits. Header-only; test use. */
#ifndef LATFLOW_TESTS_U1_EXACT_H
#define LATFLOW_TESTS_U1_EXACT_H

#include "latflow/exact.h"

#include <math.h>

typedef lf_u1_exact u1x_result;

/* The exact values at (beta, V); NaN in every field if the arguments are refused. */
static inline u1x_result u1x_eval(double beta, int V) {
  u1x_result r;
  if (lf_u1_exact_eval(beta, V, &r) != LF_OK) r.plaq = r.q2 = r.chi_t = r.I0 = r.I1 = NAN;
  return r;
}

#endif
