/* src/theory/theory_impl.h: constructors of the concrete theories, called only by
 * lf_theory_init (src/theory/theory.c). Private to src/theory. */
#ifndef LATFLOW_THEORY_IMPL_H
#define LATFLOW_THEORY_IMPL_H

#include "latflow/theory.h"

/* phi^4 (src/theory/phi4.c): fills t from cfg; t has been zeroed by the caller.
 * LF_ERR_CONFIG for bad couplings or shape, LF_ERR_NOMEM. */
lf_status lf_phi4_init(lf_theory *t, const lf_theory_cfg *cfg);

#endif
