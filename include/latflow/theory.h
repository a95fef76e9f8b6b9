/* latflow/theory.h: the theory interface (DESIGN.md section 1).
 *
 * A configuration is V sites x C real components, stored (C, V) per configuration and
 * (B, C, V) for a batch, always double. The trainer, samplers, HMC, files and analysis
 * see only this struct of function pointers; phi^4 is the first implementation
 * (src/theory/phi4.c, conventions in docs/PHYSICS.md):
 *   S = sum_x [ -2 sum_mu phi(x) phi(x+mu) + (m2 + 4) phi(x)^2 + lambda phi(x)^4 ]
 * (Albergo, Kanwar, Shanahan, PRD 100, 034515 (2019), D = 2).
 * Observables per configuration, in the order of obs_names; phi^4 has
 *   phi2 = (1/V) sum phi^2, mag = (1/V) sum phi, abs_mag = |mag|,
 *   chi2 = (sum phi)^2 / V, energy = (1/(2V)) sum_x sum_mu phi(x) phi(x+mu).
 * LF_THEORY_MAX_CORR bounds ncorr (phi^4 has no correlator data when L0 exceeds it).
 * Function pointers are local, never allocate, never fail. */
#ifndef LATFLOW_THEORY_H
#define LATFLOW_THEORY_H

#include "latflow/config.h"
#include "latflow/lattice.h"
#include "latflow/status.h"

#include <stddef.h>

#define LF_THEORY_MAX_CORR 1024

typedef struct lf_theory lf_theory;
struct lf_theory {
  lf_theory_kind kind;
  const char *name;  /* static: "phi4", ... */
  int C;             /* real components per site (phi^4: 1) */
  int V;             /* sites */
  lf_lattice lat;    /* owned */
  lf_theory_cfg cfg; /* copy of the couplings */
  /* S(phi_b) for b < B; phi (B, C*V). */
  void (*action)(const lf_theory *t, int B, const double *phi, double *S);
  /* dS (B, C*V) += dS/dphi; NULL for theories without a gradient. */
  void (*grad)(const lf_theory *t, int B, const double *phi, double *dS);
  int nobs;
  const char *obs_names[LF_MAX_OBS]; /* static strings */
  /* out[nobs] for one configuration phi (C*V). */
  void (*observables)(const lf_theory *t, const double *phi, double *out);
  /* Per-configuration correlator data, out[ncorr] for one configuration (ncorr = 0 and
   * NULL when the theory has none). phi^4: the zero-momentum correlator
   * G(t) = (1/V) sum_t0 s(t0) s(t0 + t), s(t) = sum_x1 phi(t, x1), t = 0 .. L0-1
   * (sum_t G(t) = chi2; not connected: <mag> = 0 in finite volume). */
  int ncorr;
  void (*correlator)(const lf_theory *t, const double *phi, double *out);
  void *impl; /* owned by the implementation; NULL for phi^4 */
};

/* Builds the theory named by cfg->name. LF_ERR_CONFIG for a theory not built yet. */
lf_status lf_theory_init(lf_theory *t, const lf_theory_cfg *cfg);
void lf_theory_free(lf_theory *t);
/* One line naming the theory and its couplings for logs and summaries, e.g.
 * "phi4 8x8, m2 = -4, lambda = 8", "u1 8x8, beta = 2",
 * "schwinger 8x8, beta = 2, kappa = 0.276, antiperiodic"; always NUL-terminated. */
void lf_theory_describe(const lf_theory_cfg *cfg, char *buf, size_t n);
/* Position of an observable in obs_names, or -1. */
int lf_theory_obs_index(const lf_theory *t, const char *name);

#endif
