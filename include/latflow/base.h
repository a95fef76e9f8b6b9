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
 * plaquette: 2D U(1) links (C = 2) whose V plaquettes are drawn independently from one
 *             learned circular density and then made to close on the torus (the product of
 *             all plaquettes is 1). Of the 2V uniform angles a = 2 pi Phi(eps): a[v], v < V,
 *             go through the circular rational-quadratic spline f of `bins` bins (3 bins
 *             parameters, shared by all plaquettes) to phi_v = f(a_v) - pi in [-pi, pi); the
 *             residue s = wrap(sum_v phi_v) in [-pi, pi) is spread over them, theta_v =
 *             phi_v - s/V, and carried by the holonomy h0 (the 0-links at x1 = 0); h1 =
 *             a[V]; the gauge angles g(v) = a[V + v], v >= 1. The links follow off a maximal
 *             tree by a triangular map of unit Jacobian (docs/PHYSICS.md 8.9), so
 *             log r(z) = -2V log 2 pi - sum_v log f'(a_v); its inverse reads s off the
 *             holonomy, phi_v = theta_v + s/V. z in [0, 2 pi). lf_base_param_init starts f
 *             at the single-plaquette Wilson weight exp(beta cos theta_P); with that, the
 *             weight of pure U(1) varies only through the shift s/V (ESS -> 1 as V grows).
 *             The map jumps where sum_v phi_v wraps, so the reparameterization gradient
 *             of theta misses a boundary term: latflow/model.h's lf_model_base_score.
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
