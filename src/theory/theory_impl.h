/* src/theory/theory_impl.h: constructors of the concrete theories, called only by
 * lf_theory_init (src/theory/theory.c). Private to src/theory. */
#ifndef LATFLOW_THEORY_IMPL_H
#define LATFLOW_THEORY_IMPL_H

#include "latflow/theory.h"

/* phi^4 (src/theory/phi4.c): fills t from cfg; t has been zeroed by the caller.
 * LF_ERR_CONFIG for bad couplings or shape, LF_ERR_NOMEM. */
lf_status lf_phi4_init(lf_theory *t, const lf_theory_cfg *cfg);

/* Pure U(1) gauge theory (src/theory/u1.c) and the two-flavour Schwinger model
 * (src/theory/wilson.c): same contract as lf_phi4_init. The schwinger theory owns
 * t->impl (its Dirac-operator workspace), freed by lf_schwinger_free_impl. */
lf_status lf_u1_init(lf_theory *t, const lf_theory_cfg *cfg);
lf_status lf_schwinger_init(lf_theory *t, const lf_theory_cfg *cfg);
void lf_schwinger_free_impl(void *impl);

/* Gauge parts shared by u1 and schwinger (src/theory/u1.c); theta (2, V).
 * lf_u1_check_cfg: LF_ERR_CONFIG for beta <= 0 or a side < 2.
 * lf_u1_gauge_grad accumulates dS (2, V) += dS_g/dtheta.
 * lf_u1_gauge_obs writes out[3] = {plaq, topo, chi_t}. */
lf_status lf_u1_check_cfg(const lf_theory_cfg *cfg);
double lf_u1_gauge_action(const lf_lattice *lat, double beta, const double *theta);
void lf_u1_gauge_grad(const lf_lattice *lat, double beta, const double *theta, double *dS);
void lf_u1_gauge_obs(const lf_lattice *lat, const double *theta, double *out);

#endif
