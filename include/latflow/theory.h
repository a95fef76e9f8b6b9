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
 * Function pointers are local, never allocate, never fail.
 *
 * The theory owns its physics: besides building an lf_theory, this module answers every
 * question the rest of the program has about a theory from its configuration alone
 * (below: observable names, components per site, correlator length, fermions, the
 * pseudofermion decision of HMC, the description, "same physics" for merge and resume),
 * so no other module switches on lf_theory_kind. Each theory declares these facts once
 * in its own file (src/theory/theory_impl.h). These functions are local, never allocate
 * and never fail. */
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
  /* The theory's full observable list, kept by lf_theory_select_obs: observables_all
   * writes out[nobs_all] in the order of names_all; obs_pick[k] is the position in it of
   * the selected observable k. observables_all is NULL until a selection. */
  int nobs_all;
  const char *names_all[LF_MAX_OBS]; /* static strings */
  int obs_pick[LF_MAX_OBS];
  void (*observables_all)(const lf_theory *t, const double *phi, double *out);
};

/* Builds the theory named by cfg->name: kind, name, C, the observable names and ncorr come
 * from the theory's facts (the functions below), the rest from its constructor.
 * LF_ERR_CONFIG for bad couplings or a theory not built yet, LF_ERR_NOMEM. */
lf_status lf_theory_init(lf_theory *t, const lf_theory_cfg *cfg);
void lf_theory_free(lf_theory *t);
/* One line naming the theory and its couplings for logs and summaries, e.g.
 * "phi4 8x8, m2 = -4, lambda = 8", "u1 8x8, beta = 2",
 * "schwinger 8x8, beta = 2, kappa = 0.276, antiperiodic, logdet sparse" (a theory with
 * fermions ends with the resolved theory.logdet, lf_theory_cfg_logdet); always
 * NUL-terminated. */
void lf_theory_describe(const lf_theory_cfg *cfg, char *buf, size_t n);
/* Restricts the observables to cfg->observables[0..n-1], n = cfg->nobs, in that order
 * (the config's `observables`): afterwards nobs = n, obs_names[k] is the theory's static
 * string for cfg->observables[k] and
 * observables() writes out[n], the selected values (computed by the theory's own function,
 * so bitwise equal to its full list's). The selection is always among the theory's full
 * list, so calling it again replaces the previous one. A selection equal to the full list
 * in its order changes nothing. Local; LF_ERR_CONFIG for n outside [1, LF_MAX_OBS] or a
 * name the theory does not have (naming it and the valid ones), LF_ERR_INVALID for NULL. */
lf_status lf_theory_select_obs(lf_theory *t, const lf_config *cfg);
/* Position of an observable in obs_names, or -1. */
int lf_theory_obs_index(const lf_theory *t, const char *name);

/* ---- facts of a configuration (no theory is built) ----------------------------------- */

/* Every observable of theory k in the order of its observables() (static, NULL-terminated;
 * NULL for a kind outside the enum): the one spelling of the names, which the config's
 * defaults and validation read. */
const char *const *lf_theory_obs_names(lf_theory_kind k);
/* The real components per site C of the theory cfg describes (phi^4 1; u1 and schwinger 2
 * link angles); 0 for a kind outside the enum. */
int lf_theory_cfg_comps(const lf_theory_cfg *cfg);
/* The ncorr lf_theory_init gives: L0 for a theory with a correlator (phi^4, schwinger) when
 * L0 <= LF_THEORY_MAX_CORR, else 0. */
int lf_theory_cfg_ncorr(const lf_theory_cfg *cfg);
/* 1 if the theory has a fermion determinant (schwinger): building it allocates two dense
 * (2V x 2V) complex matrices (theory.logdet dense) or a sparse Cholesky factor (sparse;
 * src/theory/wilson.c), and hmc.fermion applies to it. */
int lf_theory_cfg_fermions(const lf_theory_cfg *cfg);

/* The method theory.logdet resolves to (static facts, no theory is built): for a theory
 * with fermions, cfg->logdet if it is LF_LOGDET_DENSE or LF_LOGDET_SPARSE, and for
 * LF_LOGDET_AUTO the faster on this lattice: dense below LF_LOGDET_AUTO_SPARSE_V sites,
 * sparse from there on (measured, docs/CONFIG.md); LF_LOGDET_DENSE for a theory without
 * fermions (nothing is computed). */
#define LF_LOGDET_AUTO_SPARSE_V 196
lf_logdet_kind lf_theory_cfg_logdet(const lf_theory_cfg *cfg);
/* "auto", "dense", "sparse" (static; "unknown" outside the enum). */
const char *lf_logdet_name(lf_logdet_kind k);

/* Auxiliary fields of HMC. 1 if HMC of this theory with these settings integrates the
 * pseudofermion action (latflow/pf.h, latflow/hmc.h): a theory with fermions and
 * hmc->fermion = LF_FERMION_PSEUDO. The pseudofermion field is redrawn by a heat bath at
 * the start of every trajectory, so it carries no state from one trajectory to the next
 * and a checkpoint stores none. */
int lf_theory_cfg_pseudofermions(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc);
/* How HMC treats the fermions (static): "none" (no fermions), "exact" (the determinant
 * in the theory's action) or "pseudofermion". */
const char *lf_theory_cfg_fermion_name(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc);
/* The fermion part of HMC's description, appended after lf_theory_describe: "" without
 * fermions, ", exact determinant", ", pseudofermion (CG tol 1e-10, max 10000)"; always
 * NUL-terminated. */
void lf_theory_describe_hmc(const lf_theory_cfg *cfg, const lf_hmc_cfg *hmc, char *buf, size_t n);
/* For resume: copies from b into a the HMC keys that change nothing for theory cfg (then
 * the two compare equal on them): hmc.fermion for a theory without fermions, hmc.cg_tol
 * and hmc.cg_maxiter unless both a and b use pseudofermions. */
void lf_theory_hmc_unused(const lf_theory_cfg *cfg, lf_hmc_cfg *a, const lf_hmc_cfg *b);

/* The first key in which two theory configurations differ, with both values as text. */
typedef struct lf_theory_diff {
  char key[32]; /* "theory.kappa" */
  char a[48];   /* its value in a: doubles in their shortest exact form ("0.276"), names
                   quoted ("'antiperiodic'"), the shape as "[8, 8]" */
  char b[48];   /* its value in b, the same way */
} lf_theory_diff;
/* The i-th coupling the theory's action reads (0 <= i; the order lf_theory_describe prints
 * them): *key gets the config key ("theory.m2"); a number goes to *value with *text = NULL,
 * a name (theory.fermion_bc) to *text. Returns 0 (outputs untouched) past the last one. */
int lf_theory_cfg_coupling(const lf_theory_cfg *cfg, int i, const char **key, double *value,
                           const char **text);
/* 1 if a and b describe the same physics: the same theory, theory.shape and the couplings
 * that theory's action reads (doubles compared bit by bit, so nothing is rounded); keys
 * the theory does not read never count (phi^4's beta, u1's kappa). Otherwise 0, and d (if
 * not NULL) names the first difference in the order theory.name, theory.shape, then the
 * couplings in the order lf_theory_describe prints them. theory.logdet is not physics
 * (dense and sparse ensembles may be merged); resume compares it (lf_ckpt_compat). Used by
 * latflow-merge (which inputs may be combined) and by resume (lf_ckpt_compat). */
int lf_theory_cfg_same_physics(const lf_theory_cfg *a, const lf_theory_cfg *b, lf_theory_diff *d);

#endif
