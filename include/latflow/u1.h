/* latflow/u1.h: compact U(1) gauge fields in 2D and the two-flavour Schwinger model
 * (conventions: docs/PHYSICS.md section 8; theories "u1" and "schwinger" of theory.h).
 *
 * A gauge field is theta (C = 2, V): theta_0(x) for all sites x (mu = 0, time), then
 * theta_1(x) (mu = 1, space); U_mu(x) = exp(i theta_mu(x)) lives on the link x -> x+mu.
 * Sites are indexed as in lattice.h (v = x0*L1 + x1, periodic).
 *   plaquette  theta_P(x) = theta_0(x) + theta_1(x+0) - theta_0(x+1) - theta_1(x)
 *   Wilson     S_g = -beta sum_x cos theta_P(x)
 *   charge     Q = (1/2pi) sum_x wrap(theta_P(x)), wrap to (-pi, pi]  (an integer)
 *   gauge      theta_mu(x) -> theta_mu(x) + alpha(x) - alpha(x+mu)
 * Wilson-Dirac operator (2V x 2V complex, row/column index 2*v + s, s = spin):
 *   D = 1 - kappa sum_mu [ (1 - g_mu) U_mu(x) eta_mu(x) delta_{x+mu,y}
 *                        + (1 + g_mu) U_mu(x-mu)^* eta_mu(x-mu) delta_{x-mu,y} ]
 *   g_0 = sigma_1, g_1 = sigma_2, g_5 = sigma_3; eta_mu(x) = -1 on the links that cross the
 *   time boundary (x0 = L0-1, mu = 0) for antiperiodic fermions, else +1.
 *   D^dagger = g_5 D g_5, so det D is real; the schwinger action is
 *   S = S_g - 2 log|det D| (two degenerate flavours, weight det(D)^2).
 * The schwinger theory computes log|det D|, its force and D^{-1} by the method
 * theory.logdet resolves to (lf_theory_cfg_logdet): dense (LAPACK LU of D, the reference)
 * or sparse (CHOLMOD's Cholesky factor of D^dagger D; docs/PHYSICS.md section 8.5).
 * All functions are local. Functions taking a lattice never allocate and never fail. The
 * lf_schwinger_* functions use the theory's workspace (allocated once by lf_theory_init):
 * they, and the schwinger theory's hooks, are not thread-safe on one lf_theory. */
#ifndef LATFLOW_U1_H
#define LATFLOW_U1_H

#include "latflow/lattice.h"
#include "latflow/status.h"
#include "latflow/theory.h"

/* a wrapped to (-pi, pi]. */
double lf_u1_wrap(double a);

/* tp (V) = theta_P(x) (not wrapped) of the field theta (2, V). */
void lf_u1_plaquettes(const lf_lattice *lat, const double *theta, double *tp);

/* Geometric charge Q of theta (2, V), rounded to the nearest integer (the unrounded sum
 * differs from an integer only by rounding errors: sum_x theta_P(x) = 0 identically). */
double lf_u1_topo(const lf_lattice *lat, const double *theta);

/* theta (2, V) <- gauge transform by alpha (V): theta_mu(x) += alpha(x) - alpha(x+mu). */
void lf_u1_gauge_transform(const lf_lattice *lat, const double *alpha, double *theta);

/* The Wilson-Dirac operator above, dense, column-major, complex numbers as (re, im)
 * pairs: D (2 * n * n) doubles with n = 2V, D[2*(i + n*j)] = Re D_ij. antiperiodic != 0
 * selects eta (antiperiodic in time); space is always periodic. */
void lf_wilson_build(const lf_lattice *lat, double kappa, int antiperiodic, const double *theta,
                     double *D);

/* For a schwinger theory t: log|det D| and the phase of det D (0 or pi up to rounding,
 * since det D is real) for the field theta (2, V); the sparse method does not compute the
 * sign (*phase = NaN). LF_ERR_INVALID if t is not schwinger; LF_ERR_NUMERIC if D is
 * singular (dense: exactly, as zgetrf sees it; sparse: D^dagger D not numerically positive
 * definite; then *logabs = -inf) or the factors are not finite (*logabs = NaN, sparse). */
lf_status lf_schwinger_logdet(const lf_theory *t, const double *theta, double *logabs,
                              double *phase);

/* For a schwinger theory t: Dinv (2 * n * n) = D^{-1} in the layout of lf_wilson_build
 * (sparse: solved column by column, as the force). LF_ERR_INVALID if t is not schwinger;
 * LF_ERR_NUMERIC if D is singular. */
lf_status lf_schwinger_inverse(const lf_theory *t, const double *theta, double *Dinv);

#endif
