/* Compact U(1) gauge theory in 2D with the Wilson plaquette action (contract:
 * latflow/u1.h and latflow/theory.h; conventions: docs/PHYSICS.md section 8).
 *   S_g = -beta sum_x cos theta_P(x),  theta_P(x) = theta_0(x) + theta_1(x+0) - theta_0(x+1)
 *                                                   - theta_1(x)
 * as in Albergo et al., arXiv:2101.08176, section on U(1) gauge theory. The gauge part is
 * shared with the Schwinger model (src/theory/wilson.c), which adds the fermion weight. */
#include "latflow/u1.h"

#include "theory/theory_impl.h"

#include <math.h>
#include <stddef.h>

#define TWO_PI 6.283185307179586476925286766559

double lf_u1_wrap(double a) {
  double r = remainder(a, TWO_PI); /* in [-pi, pi] */
  if (r <= -0.5 * TWO_PI) r += TWO_PI;
  return r;
}

void lf_u1_plaquettes(const lf_lattice *lat, const double *theta, double *tp) {
  const int V = lat->V;
  const double *t0 = theta, *t1 = theta + V;
  for (int v = 0; v < V; v++) {
    const int x0p = lat->up[2 * v], x1p = lat->up[2 * v + 1];
    tp[v] = t0[v] + t1[x0p] - t0[x1p] - t1[v];
  }
}

double lf_u1_topo(const lf_lattice *lat, const double *theta) {
  const int V = lat->V;
  const double *t0 = theta, *t1 = theta + V;
  double q = 0.0;
  for (int v = 0; v < V; v++) {
    const int x0p = lat->up[2 * v], x1p = lat->up[2 * v + 1];
    q += lf_u1_wrap(t0[v] + t1[x0p] - t0[x1p] - t1[v]);
  }
  return nearbyint(q / TWO_PI);
}

void lf_u1_gauge_transform(const lf_lattice *lat, const double *alpha, double *theta) {
  const int V = lat->V;
  for (int mu = 0; mu < 2; mu++)
    for (int v = 0; v < V; v++) theta[(size_t)mu * V + v] += alpha[v] - alpha[lat->up[2 * v + mu]];
}

double lf_u1_gauge_action(const lf_lattice *lat, double beta, const double *theta) {
  const int V = lat->V;
  const double *t0 = theta, *t1 = theta + V;
  double s = 0.0;
  for (int v = 0; v < V; v++) {
    const int x0p = lat->up[2 * v], x1p = lat->up[2 * v + 1];
    s += cos(t0[v] + t1[x0p] - t0[x1p] - t1[v]);
  }
  return -beta * s;
}

/* dS_g/dtheta_P(x) = beta sin theta_P(x); theta_0(x) enters +P(x) and -P(x-1),
 * theta_1(x) enters +P(x-0) and -P(x). One pass over the plaquettes scatters both. */
void lf_u1_gauge_grad(const lf_lattice *lat, double beta, const double *theta, double *dS) {
  const int V = lat->V;
  const double *t0 = theta, *t1 = theta + V;
  double *d0 = dS, *d1 = dS + V;
  for (int v = 0; v < V; v++) {
    const int x0p = lat->up[2 * v], x1p = lat->up[2 * v + 1];
    const double f = beta * sin(t0[v] + t1[x0p] - t0[x1p] - t1[v]);
    d0[v] += f;
    d1[x0p] += f;
    d0[x1p] -= f;
    d1[v] -= f;
  }
}

void lf_u1_gauge_obs(const lf_lattice *lat, const double *theta, double *out) {
  const int V = lat->V;
  const double *t0 = theta, *t1 = theta + V;
  double c = 0.0, q = 0.0;
  for (int v = 0; v < V; v++) {
    const int x0p = lat->up[2 * v], x1p = lat->up[2 * v + 1];
    const double p = t0[v] + t1[x0p] - t0[x1p] - t1[v];
    c += cos(p);
    q += lf_u1_wrap(p);
  }
  q = nearbyint(q / TWO_PI);
  out[0] = c / (double)V;
  out[1] = q;
  out[2] = q * q / (double)V;
}

static void u1_action(const lf_theory *t, int B, const double *phi, double *S) {
  const size_t n = 2 * (size_t)t->V;
  for (int b = 0; b < B; b++) S[b] = lf_u1_gauge_action(&t->lat, t->cfg.beta, phi + (size_t)b * n);
}

static void u1_grad(const lf_theory *t, int B, const double *phi, double *dS) {
  const size_t n = 2 * (size_t)t->V;
  for (int b = 0; b < B; b++)
    lf_u1_gauge_grad(&t->lat, t->cfg.beta, phi + (size_t)b * n, dS + (size_t)b * n);
}

static void u1_observables(const lf_theory *t, const double *phi, double *out) {
  lf_u1_gauge_obs(&t->lat, phi, out);
}

lf_status lf_u1_check_cfg(const lf_theory_cfg *cfg) {
  if (!(cfg->beta > 0.0) || !isfinite(cfg->beta))
    return LF_FAIL(LF_ERR_CONFIG, "theory.beta must be finite and > 0, got %g", cfg->beta);
  if (cfg->shape[0] < 2 || cfg->shape[1] < 2)
    return LF_FAIL(LF_ERR_CONFIG, "theory.shape must be >= 2 in each direction, got [%d, %d]",
                   cfg->shape[0], cfg->shape[1]);
  return LF_OK;
}

/* The rest of t after lf_theory_init (theory_impl.h): lattice, coupling and hooks. */
static lf_status u1_init(lf_theory *t, const lf_theory_cfg *cfg) {
  lf_status rc = lf_u1_check_cfg(cfg);
  if (rc != LF_OK) return rc;
  rc = lf_lattice_init(&t->lat, cfg->shape[0], cfg->shape[1], 1);
  if (rc != LF_OK) return rc;
  t->V = t->lat.V;
  t->cfg = *cfg;
  t->action = u1_action;
  t->grad = u1_grad;
  t->observables = u1_observables;
  t->correlator = NULL;
  t->impl = NULL;
  return LF_OK;
}

/* u1's facts: two link angles per site, the gauge observables of lf_u1_gauge_obs, no
 * correlator, coupling beta. */
static const char *const u1_obs[] = {"plaq", "topo", "chi_t", NULL};
/* clang-format off */
const lf_theory_ops lf_u1_ops = {
  .C = 2, .obs = u1_obs, .corr = 0, .fermions = 0,
  .ncouplings = 1, .coupling = {{"theory.beta", offsetof(lf_theory_cfg, beta), 0}},
  .init = u1_init, .free_impl = NULL};
/* clang-format on */
