/* src/theory/theory_impl.h: what each concrete theory declares about itself (its
 * operations table), read only by the dispatch in src/theory/theory.c. Private to
 * src/theory.
 *
 * A theory is one file (phi4.c, u1.c, wilson.c) that defines one lf_theory_ops: the facts
 * that follow from its configuration alone (components per site, observable names, the
 * couplings its action reads, whether it has a correlator and a fermion determinant) and
 * its constructor. Everything the rest of the program asks about a theory (lf_theory_init,
 * lf_theory_describe, lf_theory_cfg_same_physics, lf_theory_obs_names, the memory facts
 * and the pseudofermion decision in latflow/theory.h) is answered from this table, so a
 * new theory is one file plus one line in theory.c's table. */
#ifndef LATFLOW_THEORY_IMPL_H
#define LATFLOW_THEORY_IMPL_H

#include "latflow/theory.h"

#include <stddef.h>

/* The most couplings one theory's action reads (schwinger: beta, kappa, fermion_bc). */
#define LF_THEORY_MAX_COUPLINGS 4

/* One key of lf_theory_cfg the theory's action reads: a double, or a name held in a
 * char[LF_NAME_MAX] (theory.fermion_bc). */
typedef struct lf_theory_coupling {
  const char *key; /* static: the config key, "theory.m2"            */
  size_t off;      /* offsetof(lf_theory_cfg, <field>)                */
  int is_name;     /* 1: char[LF_NAME_MAX]; 0: double                  */
} lf_theory_coupling;

typedef struct lf_theory_ops {
  int C;                  /* real components per site (phi^4: 1; link angles: 2)       */
  const char *const *obs; /* static, NULL-terminated: every observable, in its order   */
  int corr;               /* 1: a correlator G(t) of length L0 (0 when L0 > LF_THEORY_MAX_CORR) */
  int fermions;           /* 1: a fermion determinant (dense Dirac matrices or a sparse
                             factor, theory.logdet; hmc.fermion chooses exact or
                             pseudofermion HMC)                                         */
  int ncouplings;         /* the keys of the action, in the order describe prints them */
  lf_theory_coupling coupling[LF_THEORY_MAX_COUPLINGS];
  /* Fills t from cfg after lf_theory_init has set kind, name, C, the observable names and
   * ncorr from this table: the lattice, V, cfg, the hooks, impl. LF_ERR_CONFIG for bad
   * couplings or shape, LF_ERR_NOMEM; on failure lf_theory_init frees what was built. */
  lf_status (*init)(lf_theory *t, const lf_theory_cfg *cfg);
  void (*free_impl)(void *impl); /* frees t->impl; NULL when the theory has none */
} lf_theory_ops;

/* phi^4 (src/theory/phi4.c), the pure U(1) gauge theory (src/theory/u1.c) and the
 * two-flavour Schwinger model (src/theory/wilson.c, which owns t->impl: its Dirac-operator
 * workspace, dense or, through src/theory/wilson_sparse.c, sparse). */
extern const lf_theory_ops lf_phi4_ops;
extern const lf_theory_ops lf_u1_ops;
extern const lf_theory_ops lf_schwinger_ops;

/* Gauge parts shared by u1 and schwinger (src/theory/u1.c); theta (2, V).
 * lf_u1_check_cfg: LF_ERR_CONFIG for beta <= 0 or a side < 2.
 * lf_u1_gauge_grad accumulates dS (2, V) += dS_g/dtheta.
 * lf_u1_gauge_obs writes out[3] = {plaq, topo, chi_t}. */
lf_status lf_u1_check_cfg(const lf_theory_cfg *cfg);
double lf_u1_gauge_action(const lf_lattice *lat, double beta, const double *theta);
void lf_u1_gauge_grad(const lf_lattice *lat, double beta, const double *theta, double *dS);
void lf_u1_gauge_obs(const lf_lattice *lat, const double *theta, double *out);

#endif
