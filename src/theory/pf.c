/* The matrix-free Wilson-Dirac operator, CG on D^dagger D and the pseudofermion action and
 * force of the two-flavour Schwinger model (contract: latflow/pf.h; conventions:
 * latflow/u1.h, docs/PHYSICS.md sections 8.4 and 8.8).
 *
 * The stencil runs over the links (v, mu), y = v + mu: the forward hop adds
 * h (1 -+ g_mu) psi(y) to row v, the backward hop conj(h) (1 +- g_mu) psi(v) to row y
 * (upper signs D, lower signs D^dagger = g_5 D g_5, since g_5 (1 - g_mu) g_5 = 1 + g_mu).
 * With g_0 = sigma_1, g_1 = sigma_2: g_0 (a0, a1) = (a1, a0), g_1 (a0, a1) = (-i a1, i a0).
 * Complex products are written out (cmul), so no libgcc __muldc3 call (C99 Annex G
 * infinity handling) sits in the inner loop; the order of operations is fixed, so every
 * result is bitwise reproducible.
 *
 * Force (derivation in docs/PHYSICS.md 8.8): with M = D^dagger D, X = M^{-1} phi_pf,
 *   dS_pf = -phi^dagger M^{-1} dM M^{-1} phi = -X^dagger (dD^dagger D + D^dagger dD) X
 *         = -2 Re[(D X)^dagger dD X].
 * theta_mu(v) enters D only through the forward block h (1 - g_mu) (row v, column y) and
 * the backward block conj(h) (1 + g_mu) (row y, column v); d/dtheta multiplies them by i
 * and -i. So with Y = D X and z = h Y_v^dagger (1 - g_mu) X_y - conj(h) Y_y^dagger (1 + g_mu) X_v,
 *   dS_pf/dtheta_mu(v) = -2 Re[i z] = 2 Im z. */
#include "latflow/pf.h"

#include "latflow/timer.h"
#include "latflow/u1.h"

#include "theory/theory_impl.h"

#include <complex.h>
#include <math.h>
#include <string.h>

typedef double _Complex cplx;

static inline cplx cmul(cplx a, cplx b) {
  const double ar = creal(a), ai = cimag(a), br = creal(b), bi = cimag(b);
  return CMPLX(ar * br - ai * bi, ar * bi + ai * br);
}
/* conj(a) b */
static inline cplx cdot1(cplx a, cplx b) {
  const double ar = creal(a), ai = cimag(a), br = creal(b), bi = cimag(b);
  return CMPLX(ar * br + ai * bi, ar * bi - ai * br);
}
/* i a */
static inline cplx mul_i(cplx a) {
  return CMPLX(-cimag(a), creal(a));
}
/* g_mu a for one spin component pair: out0, out1 */
static inline void gmul(int mu, cplx a0, cplx a1, cplx *o0, cplx *o1) {
  if (mu == 0) {
    *o0 = a1;
    *o1 = a0;
  } else {
    *o0 = -mul_i(a1);
    *o1 = mul_i(a0);
  }
}

static double norm2(int n, const cplx *a) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += creal(a[i]) * creal(a[i]) + cimag(a[i]) * cimag(a[i]);
  return s;
}

/* h_mu(x) = -kappa eta_mu(x) e^{i theta_mu(x)} for theta, unless held already. */
static void set_field(lf_pf *pf, const double *theta) {
  const int V = pf->V;
  const size_t nk = 2 * (size_t)V;
  if (pf->have_key && memcmp(pf->key, theta, nk * sizeof *theta) == 0) return;
  const lf_lattice *lat = &pf->th->lat;
  const double kappa = pf->th->cfg.kappa;
  for (int mu = 0; mu < 2; mu++)
    for (int v = 0; v < V; v++) {
      const double a = theta[(size_t)mu * V + v];
      const double eta =
          (pf->antiperiodic && mu == 0 && v / lat->L[1] == lat->L[0] - 1) ? -1.0 : 1.0;
      const double c = -kappa * eta;
      pf->h[(size_t)mu * V + v] = CMPLX(c * cos(a), c * sin(a));
    }
  memcpy(pf->key, theta, nk * sizeof *theta);
  pf->have_key = 1;
}

/* out = D in (dagger = 0) or D^dagger in, for the held field. */
static void stencil(const lf_pf *pf, int dagger, const cplx *in, cplx *out) {
  const int V = pf->V;
  const int *up = pf->th->lat.up;
  const double sf = dagger ? 1.0 : -1.0; /* forward (1 + sf g), backward (1 - sf g) */
  memcpy(out, in, (size_t)pf->n * sizeof *out);
  for (int v = 0; v < V; v++)
    for (int mu = 0; mu < 2; mu++) {
      const int y = up[2 * v + mu];
      const cplx h = pf->h[(size_t)mu * V + v], hb = conj(h);
      const cplx a0 = in[2 * y], a1 = in[2 * y + 1], b0 = in[2 * v], b1 = in[2 * v + 1];
      cplx ga0, ga1, gb0, gb1;
      gmul(mu, a0, a1, &ga0, &ga1);
      gmul(mu, b0, b1, &gb0, &gb1);
      out[2 * v] += cmul(h, a0 + sf * ga0);
      out[2 * v + 1] += cmul(h, a1 + sf * ga1);
      out[2 * y] += cmul(hb, b0 - sf * gb0);
      out[2 * y + 1] += cmul(hb, b1 - sf * gb1);
    }
}

lf_status lf_pf_init(lf_pf *pf, const lf_theory *th, double tol, int maxiter) {
  memset(pf, 0, sizeof *pf);
  if (!th || th->kind != LF_THEORY_SCHWINGER)
    return LF_FAIL(LF_ERR_INVALID, "pseudofermions: theory '%s' is not schwinger",
                   th && th->name ? th->name : "?");
  if (!(tol > 0.0 && tol < 1.0))
    return LF_FAIL(LF_ERR_INVALID, "pseudofermions: hmc.cg_tol must be in (0, 1), got %g", tol);
  if (maxiter <= 0)
    return LF_FAIL(LF_ERR_INVALID, "pseudofermions: hmc.cg_maxiter must be > 0, got %d", maxiter);
  pf->th = th;
  pf->V = th->V;
  pf->n = 2 * th->V;
  pf->tol = tol;
  pf->maxiter = maxiter;
  pf->antiperiodic = strcmp(th->cfg.fermion_bc, "antiperiodic") == 0;
  const size_t n = (size_t)pf->n;
  pf->h = lf_alloc(n * sizeof *pf->h);
  pf->key = lf_alloc(n * sizeof *pf->key);
  cplx **vec[6] = {&pf->phi, &pf->x, &pf->r, &pf->p, &pf->q, &pf->tmp};
  int ok = pf->h && pf->key;
  for (int k = 0; k < 6; k++) {
    *vec[k] = lf_alloc(n * sizeof(cplx));
    ok = ok && *vec[k];
  }
  if (!ok) {
    lf_pf_free(pf);
    return LF_FAIL(LF_ERR_NOMEM, "pseudofermion workspace: 8 vectors of %zu complex numbers", n);
  }
  memset(pf->phi, 0, n * sizeof *pf->phi);
  return LF_OK;
}

void lf_pf_free(lf_pf *pf) {
  if (!pf) return;
  LF_FREE_ALL(pf->h, pf->key, pf->phi, pf->x, pf->r, pf->p, pf->q, pf->tmp);
  memset(pf, 0, sizeof *pf);
}

void lf_pf_reset_stats(lf_pf *pf) {
  pf->iters = pf->solves = 0;
  pf->max_iters = 0;
  pf->last_res = 0.0;
}

void lf_pf_dirac(lf_pf *pf, const double *theta, int dagger, const cplx *in, cplx *out) {
  set_field(pf, theta);
  stencil(pf, dagger, in, out);
}

/* q = D^dagger D a, through pf->tmp; returns |D a|^2 = a^dagger M a. */
static double apply_m(lf_pf *pf, const cplx *a, cplx *q) {
  stencil(pf, 0, a, pf->tmp);
  stencil(pf, 1, pf->tmp, q);
  return norm2(pf->n, pf->tmp);
}

static void record(lf_pf *pf, int it, double res) {
  pf->iters += it;
  pf->solves++;
  if (it > pf->max_iters) pf->max_iters = it;
  pf->last_res = res;
}

lf_status lf_pf_cg(lf_pf *pf, const double *theta, const cplx *b, cplx *x, int *iters,
                   double *res) {
  const int n = pf->n;
  cplx *r = pf->r, *p = pf->p, *q = pf->q;
  set_field(pf, theta);
  memset(x, 0, (size_t)n * sizeof *x);
  if (iters) *iters = 0;
  if (res) *res = 0.0;
  const double bb = norm2(n, b);
  if (bb == 0.0) {
    record(pf, 0, 0.0);
    return LF_OK;
  }
  if (!isfinite(bb)) {
    record(pf, 0, NAN);
    if (res) *res = NAN;
    return LF_FAIL(LF_ERR_NUMERIC, "CG on D^dagger D: the right-hand side is not finite");
  }
  const double target = pf->tol * pf->tol * bb;
  memcpy(r, b, (size_t)n * sizeof *r);
  memcpy(p, b, (size_t)n * sizeof *p);
  double rr = bb, tr = bb;
  int it = 0;
  for (;;) {
    if (rr <= target) {
      /* the recursive residual says converged: check the true one, restart from x if the
       * two drifted apart (the restart counts against maxiter like any iteration) */
      apply_m(pf, x, q);
      for (int i = 0; i < n; i++) r[i] = b[i] - q[i];
      tr = norm2(n, r);
      if (tr <= target) break;
      memcpy(p, r, (size_t)n * sizeof *p);
      rr = tr;
    }
    if (it >= pf->maxiter) {
      apply_m(pf, x, q);
      for (int i = 0; i < n; i++) r[i] = b[i] - q[i];
      tr = norm2(n, r);
      const double rel = sqrt(tr / bb);
      record(pf, it, rel);
      if (iters) *iters = it;
      if (res) *res = rel;
      return LF_FAIL(LF_ERR_NUMERIC,
                     "CG on D^dagger D did not converge: relative residual %.3g after %d "
                     "iterations, tolerance %.3g (kappa %g; D may be nearly singular: raise "
                     "hmc.cg_maxiter = %d or hmc.cg_tol, or use hmc.fermion = exact)",
                     rel, it, pf->tol, pf->th->cfg.kappa, pf->maxiter);
    }
    const double pq = apply_m(pf, p, q);
    if (!(pq > 0.0) || !isfinite(pq) || !isfinite(rr)) {
      record(pf, it, NAN);
      if (iters) *iters = it;
      if (res) *res = NAN;
      return LF_FAIL(LF_ERR_NUMERIC,
                     "CG on D^dagger D broke down at iteration %d (p^dagger D^dagger D p = %g, "
                     "|r|^2 = %g): D is singular or the field is not finite",
                     it, pq, rr);
    }
    const double alpha = rr / pq;
    for (int i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
    }
    const double rn = norm2(n, r);
    const double beta = rn / rr;
    for (int i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
    rr = rn;
    it++;
  }
  const double rel = sqrt(tr / bb);
  record(pf, it, rel);
  if (iters) *iters = it;
  if (res) *res = rel;
  return LF_OK;
}

double lf_pf_refresh(lf_pf *pf, const double *theta, const double *z) {
  const int n = pf->n;
  const double s = sqrt(0.5);
  cplx *eta = pf->q; /* scratch: no solve runs here */
  for (int i = 0; i < n; i++) eta[i] = CMPLX(s * z[2 * i], s * z[2 * i + 1]);
  set_field(pf, theta);
  stencil(pf, 1, eta, pf->phi);
  return lf_u1_gauge_action(&pf->th->lat, pf->th->cfg.beta, theta) + norm2(n, eta);
}

lf_status lf_pf_action(lf_pf *pf, const double *theta, double *S) {
  lf_status rc = lf_pf_cg(pf, theta, pf->phi, pf->x, NULL, NULL);
  if (rc != LF_OK) {
    *S = NAN;
    return rc;
  }
  double sf = 0.0;
  for (int i = 0; i < pf->n; i++) sf += creal(cdot1(pf->phi[i], pf->x[i]));
  *S = lf_u1_gauge_action(&pf->th->lat, pf->th->cfg.beta, theta) + sf;
  return LF_OK;
}

lf_status lf_pf_grad(lf_pf *pf, const double *theta, double *dS) {
  lf_status rc = lf_pf_cg(pf, theta, pf->phi, pf->x, NULL, NULL);
  if (rc != LF_OK) return rc;
  const int V = pf->V;
  const int *up = pf->th->lat.up;
  const cplx *X = pf->x, *Y = pf->q;
  stencil(pf, 0, pf->x, pf->q); /* Y = D X (q is free after the solve) */
  lf_u1_gauge_grad(&pf->th->lat, pf->th->cfg.beta, theta, dS);
  for (int mu = 0; mu < 2; mu++)
    for (int v = 0; v < V; v++) {
      const int y = up[2 * v + mu];
      const cplx h = pf->h[(size_t)mu * V + v], hb = conj(h);
      cplx g0, g1;
      /* h Y_v^dagger (1 - g) X_y */
      gmul(mu, X[2 * y], X[2 * y + 1], &g0, &g1);
      const cplx f = cdot1(Y[2 * v], X[2 * y] - g0) + cdot1(Y[2 * v + 1], X[2 * y + 1] - g1);
      /* conj(h) Y_y^dagger (1 + g) X_v */
      gmul(mu, X[2 * v], X[2 * v + 1], &g0, &g1);
      const cplx b = cdot1(Y[2 * y], X[2 * v] + g0) + cdot1(Y[2 * y + 1], X[2 * v + 1] + g1);
      dS[(size_t)mu * V + v] += 2.0 * cimag(cmul(h, f) - cmul(hb, b));
    }
  return LF_OK;
}
