/* latflow/base.h: base (prior) distributions r(z) of a flow, in double.
 *
 * normal:     z = eps, log r(z) = -|z|^2/2 - (n/2) log 2 pi, n = C*V. No parameters.
 * free_field: the Gaussian of the free lattice action with a learned mass m:
 *             r(z) ∝ exp(-z^T K z),  K = m^2 + (-Laplacian),  covariance (2K)^-1;
 *             in momentum space k_p = m^2 + sum_mu 4 sin^2(p_mu/2), p_mu = 2 pi n_mu/L_mu.
 *             z = A eps with A = F^dagger diag((2 k_p)^-1/2) F (F the unitary DFT), so z
 *             is exact and real; log r(z) = -z^T K z + (1/2) sum_p log(2 k_p)
 *             - (n/2) log 2 pi. One parameter theta = log m (m = exp theta > 0), so the
 *             mass stays positive under any optimizer step. Each of the C components
 *             is an independent copy.
 * haar:       uniform angles on [0, 2 pi)^n (the Haar measure of U(1)^n, e.g. the C = 2
 *             link angles of a 2D U(1) theory): z_j = 2 pi Phi(eps_j) with Phi the
 *             standard normal CDF, so eps is the same N(0,1) noise as for the other
 *             bases; log r(z) = -n log 2 pi for every z. No parameters; logr_backward
 *             adds nothing to dz (a constant density).
 * plaquette: 2D U(1) links (C = 2) whose plaquettes are independent draws from one learned
 *             circular density m, apart from the last plaquette, which the torus fixes
 *             (the product of all plaquettes is 1). The change of variables (docs/PHYSICS.md,
 *             "The plaquette base"): the V + 1 links off a maximal tree follow from V - 1
 *             plaquettes theta_P(v), v < V - 1, and the two holonomies h0, h1 by a
 *             triangular map of unit Jacobian; a uniform gauge transformation g (g(0) = 0)
 *             then fills in the tree. Of the 2V uniform angles a = 2 pi Phi(eps): a[v],
 *             v < V - 1, are the plaquettes' inputs, theta_P(v) = f(a[v]) - pi with f the
 *             circular rational-quadratic spline of `bins` bins (3 bins parameters, shared
 *             by all plaquettes; f = identity at theta = 0, so the base starts as haar);
 *             a[V-1] = h0, a[V] = h1, a[V+v] = g(v) for v >= 1. Then
 *             log r(z) = -2V log 2 pi - sum_{v < V-1} log f'(f^-1(theta_P(v) + pi)),
 *             a function of the plaquettes only (gauge invariant); z in [0, 2 pi).
 *             The exact single-plaquette weight of pure U(1), exp(beta cos theta_P),
 *             is one such m: then the weight w = p/r varies only through the last
 *             plaquette, so ESS -> I0(beta)^2 / I0(2 beta) on large lattices, whatever V.
 * Shapes: eps, z, dz are (B, C*V); logr, dlogr (B); theta, dtheta (nparams);
 * eps and z may be the same array. Any L0, L1 >= 1 (odd too).
 * Functions take a non-const lf_base because they use its FFT scratch and a cache of
 * the momentum-space factors for the last theta (not thread-safe). Backward functions
 * ACCUMULATE (+=) into dtheta and dz. Local; only _init can fail (LF_ERR_INVALID,
 * LF_ERR_NOMEM). */
#ifndef LATFLOW_BASE_H
#define LATFLOW_BASE_H

#include "latflow/config_model.h"
#include "latflow/status.h"

typedef struct lf_base {
  lf_base_kind kind;
  int C, L0, L1, V;
  int bins;   /* plaquette: spline bins K (nparams 3K); 0 for the others */
  void *impl; /* owned: FFT plans and scratch for free_field, spline scratch for plaquette */
} lf_base;

/* bins: the spline bins of plaquette (1 .. 64); ignored by the other kinds. plaquette
 * needs C = 2 and L0, L1 >= 2. */
lf_status lf_base_init(lf_base *b, lf_base_kind kind, int C, int L0, int L1, int bins);
void lf_base_free(lf_base *b);
int lf_base_nparams(const lf_base *b);
/* The initial theta: free_field: log mass; plaquette: the spline of the single-plaquette
 * Wilson weight exp(beta cos theta_P) (beta = 0: the identity spline, uniform
 * plaquettes, the haar base's distribution); nothing for normal and haar. */
void lf_base_param_init(const lf_base *b, double mass, double beta, double *theta);
/* z = A(theta) eps and logr(z). */
void lf_base_sample(lf_base *b, const double *theta, int B, const double *eps, double *z,
                    double *logr);
/* Given dL/dz and dL/dlogr of the last sample at the same eps: dtheta += dL/dtheta
 * through z = A(theta) eps and logr(z(theta), theta). dz or dlogr may be NULL (zero). */
void lf_base_sample_backward(lf_base *b, const double *theta, int B, const double *eps,
                             const double *dz, const double *dlogr, double *dtheta);
/* log r(z) at given z. */
void lf_base_logr(lf_base *b, const double *theta, int B, const double *z, double *logr);
/* dtheta += dL/dtheta and dz += dL/dz of L = sum_b dlogr[b] * logr(z_b; theta).
 * dtheta or dz may be NULL. */
void lf_base_logr_backward(lf_base *b, const double *theta, int B, const double *z,
                           const double *dlogr, double *dtheta, double *dz);
/* Exact free-field two-point function G(x0,x1) = <z(0,0) z(x0,x1)> at mass m:
 * (1/V) sum_p cos(p.x) / (2 k_p), m > 0, any integers x0, x1. For tests and docs. */
double lf_base_free_propagator(int L0, int L1, double m, int x0, int x1);

#endif
