/* tests/unit/gauge_test.h: helpers shared by the U(1) and Schwinger tests (test_u1,
 * test_wilson, test_pf). Define GT_SEED (the Philox seed of randn) before including.
 * Header-only; test use. */
#ifndef LATFLOW_TESTS_GAUGE_TEST_H
#define LATFLOW_TESTS_GAUGE_TEST_H

#include "latflow/rng.h"
#include "latflow/theory.h"

#include <stdio.h>
#include <string.h>

#ifndef GT_SEED
#error "define GT_SEED before including gauge_test.h"
#endif

static inline lf_theory_cfg schw_cfg(int L0, int L1, double beta, double kappa, const char *bc) {
  lf_theory_cfg c;
  memset(&c, 0, sizeof c);
  c.name = LF_THEORY_SCHWINGER;
  c.shape[0] = L0;
  c.shape[1] = L1;
  c.beta = beta;
  c.kappa = kappa;
  snprintf(c.fermion_bc, sizeof c.fermion_bc, "%s", bc);
  return c;
}

/* u1 ignores kappa and fermion_bc; they are set to valid values all the same. */
static inline lf_theory_cfg u1_cfg(int L0, int L1, double beta) {
  lf_theory_cfg c = schw_cfg(L0, L1, beta, 0.25, "antiperiodic");
  c.name = LF_THEORY_U1;
  return c;
}

/* out[n] = scale * N(0, 1), from (GT_SEED, LF_STREAM_TEST, step, index 0). */
static inline void randn(uint32_t step, size_t n, double scale, double *out) {
  lf_rng_normal(lf_rng_key_make(GT_SEED, LF_STREAM_TEST), step, 0, n, out);
  for (size_t i = 0; i < n; i++) out[i] *= scale;
}

/* The loss sum_b r_b S(phi_b) for lf_gradcheck of a theory's grad hook. */
typedef struct gctx {
  const lf_theory *t;
  int B;
  double *phi, *r, *S;
} gctx;

static inline double loss_action(void *p) {
  gctx *c = p;
  c->t->action(c->t, c->B, c->phi, c->S);
  double s = 0.0;
  for (int b = 0; b < c->B; b++) s += c->r[b] * c->S[b];
  return s;
}

#endif
