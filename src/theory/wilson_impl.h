/* src/theory/wilson_impl.h: the parts of the Schwinger model's Wilson-Dirac operator shared
 * by the dense method (src/theory/wilson.c) and the sparse one (src/theory/wilson_sparse.c),
 * and the sparse method's interface. Private to src/theory.
 *
 * Sparse method (theory.logdet: sparse; docs/PHYSICS.md section 8): for two degenerate
 * flavours det(D)^2 = det(M), M = D^dagger D Hermitian positive definite. CHOLMOD factors
 * M = P^T L L^dagger P (complex, supernodal); the symbolic analysis (fill-reducing
 * ordering, supernodes) is done once by lf_wsparse_init, since the pattern is fixed by the
 * lattice; every field costs one numerical factorization. log|det D| = (1/2) log det M =
 * sum_j log L_jj. The entries of D^{-1} the force and the condensate need come from the
 * selected inversion Z = M^{-1} on the pattern of L (Takahashi's recurrence on the
 * supernodal factor, the cost of the factorization): D^{-1} = M^{-1} D^dagger. The
 * correlator's (all of D^{-1}) come from column-block solves D^{-1} B = M^{-1} D^dagger B
 * (blocks of LF_WSPARSE_BLOCK columns, so memory stays O(V x block)), with one step of
 * iterative refinement against D itself (cond M = cond(D)^2). Every factorization estimates
 * cond(M) (inverse iteration, ||D||_1 ||D||_inf); above LF_WSPARSE_ILL / DBL_EPSILON the field
 * takes the accurate path: log det by the dense LU of D (n <= 8192), force and condensate by
 * the refined column solves.
 * Like the dense workspace, an lf_wsparse caches the factors of the last field (compared
 * bit by bit) and the quantities computed from them, so it is not thread-safe. All
 * functions are local; none prints (CHOLMOD's print level is 0 and its error handler
 * unset; its status codes are mapped to lf_status). */
#ifndef LATFLOW_WILSON_IMPL_H
#define LATFLOW_WILSON_IMPL_H

#include "latflow/lattice.h"
#include "latflow/status.h"

#include <complex.h>
#include <stddef.h>

/* Columns of D^{-1} solved for at a time. */
#define LF_WSPARSE_BLOCK 32
/* A field is ill-conditioned (the accurate path) when DBL_EPSILON times the estimate of
 * cond(D)^2 = cond(M) exceeds this: the error of the Cholesky log det and of the selected
 * inverse. */
#define LF_WSPARSE_ILL 1e-11

/* The 2x2 spin matrix (1 + sign g_mu), g_0 = sigma_1, g_1 = sigma_2. */
void lf_wilson_proj(int mu, double sign, double _Complex P[2][2]);
/* The hopping factor of the link (v, mu): -kappa eta_mu(v) exp(i theta_mu(v)). D has
 * uf (1 - g_mu) in rows v, columns v+mu and conj(uf) (1 + g_mu) in rows v+mu, columns v. */
double _Complex lf_wilson_hop(const lf_lattice *lat, double kappa, int antiperiodic,
                              const double *theta, int v, int mu);

typedef struct lf_wsparse lf_wsparse;

/* Counters of a workspace since lf_wsparse_init (read by the tests). */
typedef struct {
  long factored;      /* fields factored */
  long ill;           /* of those, ill-conditioned (estimate above LF_WSPARSE_ILL) */
  long dense_logdet;  /* ill fields whose log det came from the dense LU */
  long selinv;        /* selected inversions (the fast force and condensate) */
  long column_solves; /* fields whose D^{-1} entries came from the refined column solves */
} lf_wsparse_stats;

/* *s = the sparse workspace of the lattice lat (borrowed; must outlive *s), with the
 * pattern of D analysed. LF_ERR_NOMEM, LF_ERR_NUMERIC (CHOLMOD's analysis failed). */
lf_status lf_wsparse_init(lf_wsparse **s, const lf_lattice *lat, double kappa, int antiperiodic);
/* Frees s (NULL is fine). */
void lf_wsparse_free(lf_wsparse *s);
/* The counters of s. */
lf_wsparse_stats lf_wsparse_get_stats(const lf_wsparse *s);
/* The estimate of cond(D)^2 of the field factored last (0 before any). */
double lf_wsparse_condsq(const lf_wsparse *s);
/* The sparse workspace of a schwinger theory t (wilson.c), NULL if t is dense. */
struct lf_theory;
lf_wsparse *lf_schwinger_sparse(const struct lf_theory *t);
/* Entries of the factor L (the memory that matters), from the analysis. */
double lf_wsparse_factor_entries(const lf_wsparse *s);
/* *logabs = log|det D| for theta (2, V), factoring unless the held factors are theta's.
 * LF_OK; LF_ERR_NUMERIC if M is not numerically positive definite (D singular: *logabs =
 * -inf) or the factor is not finite (*logabs = NaN); LF_ERR_NOMEM. */
lf_status lf_wsparse_logdet(lf_wsparse *s, const double *theta, double *logabs);
/* g (2, V) += dS_f/dtheta = -2 Re tr(D^{-1} dD/dtheta) for theta. Returns 0 (g untouched)
 * if D could not be factored, else 1. */
int lf_wsparse_force(lf_wsparse *s, const double *theta, double *g);
/* *cond = (1/V) Re tr D^{-1}; corr (L0) = the pion correlator of wilson.c. Returns 0
 * (outputs untouched) if D could not be factored, else 1. */
int lf_wsparse_obs(lf_wsparse *s, const double *theta, double *cond, double *corr);
/* Dinv (n, n) = D^{-1}, column-major, n = 2V. LF_ERR_NUMERIC if D could not be factored. */
lf_status lf_wsparse_inverse(lf_wsparse *s, const double *theta, double _Complex *Dinv);

#endif
