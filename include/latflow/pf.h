/* latflow/pf.h: the matrix-free Wilson-Dirac operator of the schwinger theory, conjugate
 * gradient on D^dagger D, and the one-pseudofermion action and force of the two-flavour
 * Schwinger model (conventions: latflow/u1.h and docs/PHYSICS.md section 8.8).
 *
 * Spinor fields are 2V complex numbers, index 2*v + s as the rows of lf_wilson_build's D.
 * The operator is applied as a stencil (one pass over the 2V links, 8 complex
 * multiply-adds per link and direction), never built:
 *   (D psi)(x) = psi(x) + sum_mu [ h_mu(x) (1 - g_mu) psi(x+mu)
 *                                + conj(h_mu(x-mu)) (1 + g_mu) psi(x-mu) ],
 *   h_mu(x) = -kappa eta_mu(x) e^{i theta_mu(x)},
 * and D^dagger = g_5 D g_5 is the same stencil with (1 - g_mu) and (1 + g_mu) exchanged.
 *
 * Pseudofermion action (phi_pf fixed during a trajectory, drawn by lf_pf_refresh):
 *   S(theta) = S_g(theta) + phi_pf^dagger (D^dagger D)^{-1} phi_pf,
 *   dS_pf/dtheta_mu(x) = -2 Re[ (D X)^dagger (dD/dtheta_mu(x)) X ],  X = (D^dagger D)^{-1} phi_pf.
 * Every solve starts from X = 0, so the force is a function of theta alone (no history)
 * and the molecular dynamics is reversible whatever the tolerance; in floating point to
 * O(tol), since rounding can move the stopping iteration by one between the two passes.
 *
 * An lf_pf caches the hopping factors h of the last field (compared bit by bit) and owns
 * its scratch vectors; it is not thread-safe. The functions below lf_pf_init never
 * allocate. Local. */
#ifndef LATFLOW_PF_H
#define LATFLOW_PF_H

#include "latflow/status.h"
#include "latflow/theory.h"

#include <stdint.h>

typedef struct lf_pf {
  const lf_theory *th; /* borrowed; kind schwinger                                   */
  int V, n;            /* sites; n = 2V spinor components                            */
  double tol;          /* CG relative residual |b - M x| / |b| (hmc.cg_tol)          */
  int maxiter;         /* CG iterations per solve at most (hmc.cg_maxiter)           */
  int antiperiodic;    /* theory.fermion_bc                                          */
  double _Complex *h;  /* (2V) owned: h_mu(x) at [mu*V + x] for the field key         */
  double *key;         /* (2V) owned: the field of h                                  */
  int have_key;
  double _Complex *phi;                 /* (n) owned: the pseudofermion phi_pf         */
  double _Complex *x, *r, *p, *q, *tmp; /* (n) owned: CG and force scratch             */
  /* statistics, accumulated by every solve until lf_pf_reset_stats */
  int64_t iters;   /* CG iterations                      */
  int64_t solves;  /* solves                             */
  int max_iters;   /* iterations of the longest solve    */
  double last_res; /* true relative residual of the last solve */
} lf_pf;

/* LF_ERR_INVALID if th is not a schwinger theory, tol is not in (0, 1) or maxiter <= 0;
 * LF_ERR_NOMEM. */
lf_status lf_pf_init(lf_pf *pf, const lf_theory *th, double tol, int maxiter);
void lf_pf_free(lf_pf *pf);
void lf_pf_reset_stats(lf_pf *pf);

/* out = D in (dagger = 0) or D^dagger in (dagger != 0) for the field theta (2, V).
 * in and out (n complex each) must not overlap. */
void lf_pf_dirac(lf_pf *pf, const double *theta, int dagger, const double _Complex *in,
                 double _Complex *out);

/* Solves (D^dagger D) x = b for theta by CG from x = 0, until the true relative residual
 * |b - D^dagger D x| / |b| <= pf->tol (b = 0 gives x = 0 at once). *iters (may be NULL)
 * gets the iterations, *res (may be NULL) the final true relative residual; both are also
 * added to the statistics. x and b (n complex each; pf->x and pf->phi are fine) must
 * not be pf->r, p, q or tmp (the solver's scratch).
 * LF_ERR_NUMERIC (naming the residual, the iterations and the keys to change) when the
 * residual is not reached within pf->maxiter iterations or the iteration breaks down
 * (non-finite numbers: a singular D^dagger D or a non-finite field). */
lf_status lf_pf_cg(lf_pf *pf, const double *theta, const double _Complex *b, double _Complex *x,
                   int *iters, double *res);

/* The heat bath of a trajectory: z (4V standard normals) gives eta = (z[2i] + i z[2i+1]) /
 * sqrt 2 (E |eta_i|^2 = 1) and phi_pf = D^dagger(theta) eta. Returns the action of theta
 * with the new phi_pf, S_g(theta) + eta^dagger eta (phi_pf^dagger (D^dagger D)^{-1} phi_pf =
 * eta^dagger eta exactly: no solve). */
double lf_pf_refresh(lf_pf *pf, const double *theta, const double *z);

/* *S = S_g(theta) + phi_pf^dagger X, X = (D^dagger D)^{-1} phi_pf by lf_pf_cg (errors
 * as there; *S = NaN then). */
lf_status lf_pf_action(lf_pf *pf, const double *theta, double *S);

/* dS (2V) += dS_g/dtheta + dS_pf/dtheta (one solve). On a CG failure dS is left unchanged
 * and the error is returned. */
lf_status lf_pf_grad(lf_pf *pf, const double *theta, double *dS);

#endif
