/* phi^4 theory: the action against two naive formulas, the gradient by finite
 * differences (lf_gradcheck on tiny lattices, including large field values) and by
 * openQCD's 4th-order stencil along a random direction, the observables on hand-made
 * configurations, the selection of observables by a config (lf_theory_select_obs: order,
 * values bitwise those of the full list, reselection, refusals), and the refusals of
 * lf_theory_init. */
#include "latflow/config.h"
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>

static lf_theory_cfg phi4_cfg(int L0, int L1, double m2, double lambda) {
  lf_theory_cfg c;
  memset(&c, 0, sizeof c);
  c.name = LF_THEORY_PHI4;
  c.shape[0] = L0;
  c.shape[1] = L1;
  c.m2 = m2;
  c.lambda = lambda;
  return c;
}

static void randn(uint32_t step, size_t n, double scale, double *out) {
  lf_rng_normal(lf_rng_key_make(7, LF_STREAM_TEST), step, 0, n, out);
  for (size_t i = 0; i < n; i++) out[i] *= scale;
}

static int mod(int a, int n) {
  return ((a % n) + n) % n;
}

/* The header's formula, site by site with coordinates. */
static double naive_action(int L0, int L1, double m2, double lam, const double *p) {
  double S = 0.0;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const double f = p[x0 * L1 + x1];
      S += -2.0 * f * (p[mod(x0 + 1, L0) * L1 + x1] + p[x0 * L1 + mod(x1 + 1, L1)]);
      S += (m2 + 4.0) * f * f + lam * f * f * f * f;
    }
  return S;
}

/* The same action written as (nabla phi)^2 + m2 phi^2 + lambda phi^4 (docs/PHYSICS.md). */
static double gradient_form(int L0, int L1, double m2, double lam, const double *p) {
  double S = 0.0;
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      const double f = p[x0 * L1 + x1];
      const double d0 = p[mod(x0 + 1, L0) * L1 + x1] - f, d1 = p[x0 * L1 + mod(x1 + 1, L1)] - f;
      S += d0 * d0 + d1 * d1 + m2 * f * f + lam * f * f * f * f;
    }
  return S;
}

static void check_action(int L0, int L1, double m2, double lam) {
  enum { B = 3 };
  const int V = L0 * L1;
  lf_theory_cfg c = phi4_cfg(L0, L1, m2, lam);
  lf_theory t;
  lf_status rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_OK && t.V == V && t.C == 1 && t.kind == LF_THEORY_PHI4 &&
            strcmp(t.name, "phi4") == 0,
        "init phi4 %dx%d m2=%g lambda=%g: rc=%d", L0, L1, m2, lam, (int)rc);
  if (rc != LF_OK) return;
  double *phi = malloc(sizeof(double) * B * V), S[B];
  randn(1, (size_t)B * V, 1.5, phi);
  t.action(&t, B, phi, S);
  double worst = 0.0, worst2 = 0.0;
  for (int b = 0; b < B; b++) {
    const double n1 = naive_action(L0, L1, m2, lam, phi + b * V);
    const double n2 = gradient_form(L0, L1, m2, lam, phi + b * V);
    worst = fmax(worst, fabs(S[b] - n1) / fabs(n1));
    worst2 = fmax(worst2, fabs(S[b] - n2) / fabs(n2));
  }
  CHECK(worst < 1e-13 && worst2 < 1e-12,
        "%dx%d: action vs naive formula rel err %.2e, vs (nabla phi)^2 form %.2e (S0=%.6f)", L0, L1,
        worst, worst2, S[0]);
  lf_theory_free(&t);
  free(phi);
}

typedef struct gctx {
  const lf_theory *t;
  int B;
  double *phi, *r, *S;
} gctx;

static double loss_action(void *p) { /* sum_b r_b S(phi_b) */
  gctx *c = p;
  c->t->action(c->t, c->B, c->phi, c->S);
  double s = 0.0;
  for (int b = 0; b < c->B; b++) s += c->r[b] * c->S[b];
  return s;
}

static void check_grad(int L0, int L1, double m2, double lam) {
  enum { B = 3 };
  const int V = L0 * L1;
  lf_theory_cfg c = phi4_cfg(L0, L1, m2, lam);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init %dx%d: %s", L0, L1, lf_last_error());
    return;
  }
  double *phi = malloc(sizeof(double) * B * V), *g = malloc(sizeof(double) * B * V);
  double r[B], S[B];
  randn(2, (size_t)B * V, 1.0, phi);
  randn(3, B, 1.0, r);
  phi[0] = 7.5; /* large values: the quartic term dominates */
  phi[V + V / 2] = -11.0;
  phi[B * V - 1] = 4.25;
  for (int i = 0; i < B * V; i++) g[i] = 0.75; /* grad accumulates onto this */
  double *rg = malloc(sizeof(double) * B * V);
  memset(rg, 0, sizeof(double) * B * V);
  t.grad(&t, B, phi, rg); /* dS/dphi per sample; chain rule with r_b below */
  for (int b = 0; b < B; b++)
    for (int v = 0; v < V; v++) g[b * V + v] = r[b] * rg[b * V + v];
  t.grad(&t, B, phi, rg); /* second call must add the same again */
  double acc = 0.0;
  for (int b = 0; b < B; b++)
    for (int v = 0; v < V; v++)
      acc = fmax(acc, fabs(rg[b * V + v] - 2.0 * g[b * V + v] / r[b]) /
                          fmax(1e-300, fabs(rg[b * V + v])));
  gctx ctx = {&t, B, phi, r, S};
  const double err = lf_gradcheck(loss_action, &ctx, phi, g, (size_t)B * V, 1e-5);
  CHECK(err < 1e-6 && acc < 1e-14,
        "%dx%d m2=%g lambda=%g B=%d: grad vs central FD worst rel err %.2e; accumulates (err "
        "%.1e)",
        L0, L1, m2, lam, B, err, acc);
  lf_theory_free(&t);
  free(phi);
  free(g);
  free(rg);
}

/* openQCD's check: d/dt S(phi + t d) at t=0 by the 4th-order stencil vs <dS/dphi, d>. */
static void check_stencil(int L0, int L1, double m2, double lam) {
  const int V = L0 * L1;
  lf_theory_cfg c = phi4_cfg(L0, L1, m2, lam);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init %dx%d: %s", L0, L1, lf_last_error());
    return;
  }
  double *phi = malloc(sizeof(double) * V), *d = malloc(sizeof(double) * V);
  double *ph = malloc(sizeof(double) * V), *g = calloc((size_t)V, sizeof(double));
  randn(4, (size_t)V, 1.2, phi);
  randn(5, (size_t)V, 1.0, d);
  t.grad(&t, 1, phi, g);
  double dot = 0.0;
  for (int v = 0; v < V; v++) dot += g[v] * d[v];
  const double h = 1e-2;
  double f[4];
  const double ts[4] = {2 * h, h, -h, -2 * h};
  for (int k = 0; k < 4; k++) {
    for (int v = 0; v < V; v++) ph[v] = phi[v] + ts[k] * d[v];
    t.action(&t, 1, ph, &f[k]);
  }
  const double fd = (8.0 * (f[1] - f[2]) - (f[0] - f[3])) / (12.0 * h);
  const double rel = fabs(fd - dot) / fabs(dot);
  CHECK(rel < 1e-9, "%dx%d: 4th-order stencil dS/dt = %.12f vs <dS,d> = %.12f, rel %.2e", L0, L1,
        fd, dot, rel);
  lf_theory_free(&t);
  free(phi);
  free(d);
  free(ph);
  free(g);
}

static void check_obs(const lf_theory *t, const double *phi, const double *want, const char *what) {
  double out[LF_MAX_OBS];
  t->observables(t, phi, out);
  double worst = 0.0;
  for (int i = 0; i < t->nobs; i++) worst = fmax(worst, fabs(out[i] - want[i]));
  CHECK(worst < 1e-14,
        "%s: phi2=%g mag=%g abs_mag=%g chi2=%g energy=%g (want %g %g %g %g %g), max err %.1e", what,
        out[0], out[1], out[2], out[3], out[4], want[0], want[1], want[2], want[3], want[4], worst);
}

static void check_observables(void) {
  lf_theory t;
  lf_theory_cfg c = phi4_cfg(4, 6, -1.0, 0.5);
  if (lf_theory_init(&t, &c) != LF_OK) return;
  const int V = 24;
  double phi[24];
  CHECK(t.nobs == 5 && lf_theory_obs_index(&t, "phi2") == 0 &&
            lf_theory_obs_index(&t, "energy") == 4 && lf_theory_obs_index(&t, "chi2") == 3 &&
            lf_theory_obs_index(&t, "plaq") == -1,
        "obs names: %d of them, index(energy)=%d, index(plaq)=%d", t.nobs,
        lf_theory_obs_index(&t, "energy"), lf_theory_obs_index(&t, "plaq"));
  /* constant -0.5: every bond and every site give 0.25 */
  for (int v = 0; v < V; v++) phi[v] = -0.5;
  check_obs(&t, phi, (const double[]){0.25, -0.5, 0.5, 24 * 0.25, 0.25}, "constant -0.5 on 4x6");
  /* checkerboard a(-1)^(x0+x1), a = 1.5: mag 0, every bond -a^2 */
  for (int v = 0; v < V; v++) phi[v] = ((v / 6 + v % 6) % 2 ? -1.5 : 1.5);
  check_obs(&t, phi, (const double[]){2.25, 0.0, 0.0, 0.0, -2.25}, "checkerboard 1.5 on 4x6");
  /* one site: no bonds */
  memset(phi, 0, sizeof phi);
  phi[13] = 2.0;
  check_obs(&t, phi, (const double[]){4.0 / 24, 2.0 / 24, 2.0 / 24, 4.0 / 24, 0.0},
            "single site 2.0 on 4x6");
  lf_theory_free(&t);

  /* ramp phi(x0,x1) = -x1 on 2x3: mu=0 bonds sum 2(0+1+4) = 10, mu=1 bonds 2(0+2+0) = 4 */
  c = phi4_cfg(2, 3, 0.0, 0.0);
  if (lf_theory_init(&t, &c) != LF_OK) return;
  const double ramp[6] = {0, -1, -2, 0, -1, -2};
  check_obs(&t, ramp, (const double[]){10.0 / 6, -1.0, 1.0, 6.0, 14.0 / 12}, "ramp -x1 on 2x3");
  lf_theory_free(&t);
}

/* G(t) against the definition by pairs of sites, and sum_t G(t) = chi2. */
static void check_correlator(int L0, int L1) {
  lf_theory t;
  lf_theory_cfg c = phi4_cfg(L0, L1, -1.0, 0.5);
  if (lf_theory_init(&t, &c) != LF_OK) return;
  const int V = L0 * L1;
  double *phi = malloc(sizeof(double) * (size_t)V), G[LF_THEORY_MAX_CORR], obs[LF_MAX_OBS];
  randn(21, (size_t)V, 1.0, phi);
  CHECK(t.ncorr == L0 && t.correlator, "%dx%d: ncorr %d (want %d)", L0, L1, t.ncorr, L0);
  t.correlator(&t, phi, G);
  t.observables(&t, phi, obs);
  double worst = 0.0, sum = 0.0;
  for (int dt = 0; dt < L0; dt++) {
    double want = 0.0; /* (1/V) sum over x, y with y0 = x0 + dt of phi(x) phi(y) */
    for (int x = 0; x < V; x++)
      for (int y = 0; y < V; y++)
        if ((x / L1 + dt) % L0 == y / L1) want += phi[x] * phi[y];
    want /= V;
    worst = fmax(worst, fabs(G[dt] - want));
    sum += G[dt];
  }
  CHECK(worst < 1e-13, "%dx%d: G(t) vs pair sum, max err %.1e", L0, L1, worst);
  CHECK(fabs(sum - obs[3]) < 1e-12 * fmax(1.0, obs[3]), "%dx%d: sum_t G(t) = %.15g vs chi2 %.15g",
        L0, L1, sum, obs[3]);
  free(phi);
  lf_theory_free(&t);
}

static void check_refusals(void) {
  lf_theory t;
  lf_theory_cfg c = phi4_cfg(4, 4, 1.0, 1.0);
  c.name = LF_THEORY_U1;
  lf_status rc = lf_theory_init(&t, &c);
  /* u1 and schwinger exist (test_u1.c, test_wilson.c); phi^4 couplings leave beta = 0 */
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "theory.beta must be"),
        "u1 with beta=0 refused: rc=%d '%s'", (int)rc, lf_last_error());
  c.name = LF_THEORY_SCHWINGER;
  rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "theory.beta must be"),
        "schwinger with beta=0 refused: rc=%d '%s'", (int)rc, lf_last_error());
  c = phi4_cfg(4, 4, 1.0, -0.1);
  rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_ERR_CONFIG && t.lat.up == NULL, "lambda<0 refused: '%s'", lf_last_error());
  c = phi4_cfg(0, 4, 1.0, 1.0);
  rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_ERR_CONFIG, "shape 0x4 refused: '%s'", lf_last_error());
  lf_theory_free(&t); /* idempotent on a failed init */
}

/* Not a check: the throughput of action and grad, for the record. */
static void report_speed(void) {
  enum { L = 16, V = L * L, B = 256 };
  lf_theory_cfg c = phi4_cfg(L, L, -4.0, 8.0);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  double *phi = lf_alloc(sizeof(double) * B * V), *g = lf_alloc(sizeof(double) * B * V), S[B];
  randn(9, (size_t)B * V, 1.0, phi);
  const int reps = 200;
  double t0 = lf_wtime();
  for (int r = 0; r < reps; r++) t.action(&t, B, phi, S);
  double t1 = lf_wtime();
  for (int r = 0; r < reps; r++) t.grad(&t, B, phi, g);
  double t2 = lf_wtime();
  fprintf(stderr, "     16x16, B=%d: action %.2f ns/site, grad %.2f ns/site (S0=%.3f)\n", B,
          1e9 * (t1 - t0) / ((double)reps * B * V), 1e9 * (t2 - t1) / ((double)reps * B * V), S[0]);
  lf_free(phi);
  lf_free(g);
  lf_theory_free(&t);
}

/* lf_theory_select_obs: [chi2, phi2] gives those two, in that order, bitwise the full
 * list's values; the default list (all, in order) keeps the theory's own function;
 * a later selection replaces the earlier one; unknown names and empty lists are refused. */
static void check_select(void) {
  lf_theory t, full;
  lf_theory_cfg c = phi4_cfg(4, 6, -1.0, 0.5);
  if (lf_theory_init(&t, &c) != LF_OK || lf_theory_init(&full, &c) != LF_OK) return;
  void (*own)(const lf_theory *, const double *, double *) = t.observables;
  lf_config cfg;
  lf_config_defaults(&cfg);
  lf_status rc = lf_theory_select_obs(&t, &cfg);
  CHECK(rc == LF_OK && t.nobs == 5 && t.observables == own && !strcmp(t.obs_names[4], "energy"),
        "default observables: all 5, the theory's own function (%s)",
        rc == LF_OK ? "ok" : lf_last_error());
  double phi[24], all[LF_MAX_OBS], sel[LF_MAX_OBS];
  randn(3, 24, 1.3, phi);
  full.observables(&full, phi, all);
  cfg.nobs = 2;
  snprintf(cfg.observables[0], LF_NAME_MAX, "chi2");
  snprintf(cfg.observables[1], LF_NAME_MAX, "phi2");
  rc = lf_theory_select_obs(&t, &cfg);
  for (int k = 0; k < LF_MAX_OBS; k++) sel[k] = -7.0;
  if (rc == LF_OK) t.observables(&t, phi, sel);
  CHECK(rc == LF_OK && t.nobs == 2 && !strcmp(t.obs_names[0], "chi2") &&
            !strcmp(t.obs_names[1], "phi2") && !memcmp(&sel[0], &all[3], sizeof(double)) &&
            !memcmp(&sel[1], &all[0], sizeof(double)) && sel[2] == -7.0 &&
            lf_theory_obs_index(&t, "chi2") == 0 && lf_theory_obs_index(&t, "energy") == -1,
        "[chi2, phi2]: nobs %d, names %s %s, values %.17g %.17g (want %.17g %.17g), out[2] "
        "untouched",
        t.nobs, t.obs_names[0], t.nobs > 1 ? t.obs_names[1] : "-", sel[0], sel[1], all[3], all[0]);
  cfg.nobs = 1;
  snprintf(cfg.observables[0], LF_NAME_MAX, "energy");
  rc = lf_theory_select_obs(&t, &cfg);
  if (rc == LF_OK) t.observables(&t, phi, sel);
  CHECK(rc == LF_OK && t.nobs == 1 && !strcmp(t.obs_names[0], "energy") &&
            !memcmp(&sel[0], &all[4], sizeof(double)),
        "reselection [energy] among the full list: nobs %d, value %.17g (want %.17g)", t.nobs,
        sel[0], all[4]);
  snprintf(cfg.observables[0], LF_NAME_MAX, "plaq");
  rc = lf_theory_select_obs(&t, &cfg);
  CHECK(rc == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "'plaq' is not an observable of theory "
                                    "phi4 (valid: phi2, mag, abs_mag, chi2, energy)"),
        "plaq refused: \"%s\"", lf_last_error());
  lf_clear_error();
  cfg.nobs = 0;
  rc = lf_theory_select_obs(&t, &cfg);
  CHECK(rc == LF_ERR_CONFIG && t.nobs == 1, "an empty list refused, selection kept: \"%s\"",
        lf_last_error());
  lf_clear_error();
  lf_theory_free(&t);
  lf_theory_free(&full);
}

int main(void) {
  check_action(4, 6, -4.0, 8.0);
  check_action(3, 5, 0.7, 1.3);
  check_action(1, 3, -1.0, 0.5);
  check_action(2, 1, 2.0, 0.0);
  check_grad(2, 4, -4.0, 8.0);
  check_grad(3, 5, 0.5, 0.25);
  check_grad(1, 3, -1.0, 2.0);
  check_grad(3, 1, 1.0, 0.0);
  check_grad(2, 2, -2.0, 1.0);
  check_stencil(6, 5, -4.0, 8.0);
  check_stencil(2, 4, 1.0, 0.0);
  check_observables();
  check_select();
  check_correlator(4, 6);
  check_correlator(5, 3);
  check_correlator(1, 4);
  check_refusals();
  report_speed();
  return lf_test_result();
}
