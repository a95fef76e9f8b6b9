/* Pure U(1) gauge theory (theory "u1"): the action against a naive coordinate formula,
 * gauge invariance of action and observables, the force by central finite differences,
 * the geometric charge on constructed fields with known Q, and the exact-results helper
 * tests/unit/u1_exact.h (quadrature Bessel values, beta -> 0 and large-V limits, the
 * plaquette on 2x2 by brute-force integration over the link angles, <Q^2> by direct
 * convolution of the plaquette distribution). */
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/u1.h"
#define GT_SEED 11
#include "gauge_test.h"
#include "lftest.h"
#include "u1_exact.h"

#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static int mod(int a, int n) {
  return ((a % n) + n) % n;
}

/* theta_P(x0,x1) from coordinates, as written in docs/PHYSICS.md. */
static double naive_plaq(int L0, int L1, const double *th, int x0, int x1) {
  const int V = L0 * L1;
#define T0(a, b) th[mod(a, L0) * L1 + mod(b, L1)]
#define T1(a, b) th[V + mod(a, L0) * L1 + mod(b, L1)]
  return T0(x0, x1) + T1(x0 + 1, x1) - T0(x0, x1 + 1) - T1(x0, x1);
#undef T0
#undef T1
}

static void check_action_and_gauge(int L0, int L1, double beta) {
  enum { B = 3 };
  const int V = L0 * L1;
  lf_theory_cfg c = u1_cfg(L0, L1, beta);
  lf_theory t;
  lf_status rc = lf_theory_init(&t, &c);
  CHECK(rc == LF_OK && t.C == 2 && t.V == V && t.kind == LF_THEORY_U1 && t.ncorr == 0 &&
            strcmp(t.name, "u1") == 0 && t.nobs == 3 && lf_theory_obs_index(&t, "chi_t") == 2,
        "init u1 %dx%d beta=%g: rc=%d", L0, L1, beta, (int)rc);
  if (rc != LF_OK) return;
  double *th = malloc(sizeof(double) * B * 2 * V), *al = malloc(sizeof(double) * V), S[B], S2[B];
  randn(1, (size_t)B * 2 * V, 2.0, th);
  t.action(&t, B, th, S);
  double worst = 0.0;
  for (int b = 0; b < B; b++) {
    double s = 0.0;
    for (int x0 = 0; x0 < L0; x0++)
      for (int x1 = 0; x1 < L1; x1++) s -= beta * cos(naive_plaq(L0, L1, th + b * 2 * V, x0, x1));
    worst = fmax(worst, fabs(S[b] - s) / fabs(s));
  }
  CHECK(worst < 1e-13, "%dx%d: action vs naive plaquette formula rel err %.2e (S0=%.10f)", L0, L1,
        worst, S[0]);
  double o1[LF_MAX_OBS], o2[LF_MAX_OBS];
  t.observables(&t, th, o1);
  for (int b = 0; b < B; b++) {
    randn(10 + (uint32_t)b, (size_t)V, 3.0, al);
    lf_u1_gauge_transform(&t.lat, al, th + b * 2 * V);
  }
  t.action(&t, B, th, S2);
  t.observables(&t, th, o2);
  double gw = 0.0;
  for (int b = 0; b < B; b++) gw = fmax(gw, fabs(S2[b] - S[b]) / fabs(S[b]));
  const double ow =
      fmax(fabs(o1[0] - o2[0]) / fabs(o1[0]), fmax(fabs(o1[1] - o2[1]), fabs(o1[2] - o2[2])));
  CHECK(gw < 1e-12 && ow < 1e-12,
        "%dx%d: gauge invariance: action rel diff %.2e; plaq %.12f -> %.12f, topo %g -> %g, "
        "chi_t %g -> %g",
        L0, L1, gw, o1[0], o2[0], o1[1], o2[1], o1[2], o2[2]);
  lf_theory_free(&t);
  free(th);
  free(al);
}

static void check_grad(int L0, int L1, double beta) {
  enum { B = 3 };
  const int n = 2 * L0 * L1;
  lf_theory_cfg c = u1_cfg(L0, L1, beta);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init: %s", lf_last_error());
    return;
  }
  double *th = malloc(sizeof(double) * B * n), *g = malloc(sizeof(double) * B * n);
  double *rg = calloc((size_t)B * n, sizeof(double)), r[B], S[B];
  randn(2, (size_t)B * n, 1.5, th);
  randn(3, B, 1.0, r);
  t.grad(&t, B, th, rg);
  for (int b = 0; b < B; b++)
    for (int i = 0; i < n; i++) g[b * n + i] = r[b] * rg[b * n + i];
  t.grad(&t, B, th, rg);
  double acc = 0.0;
  for (int i = 0; i < B * n; i++)
    acc = fmax(acc, fabs(rg[i] - 2.0 * g[i] / r[i / n]) / fmax(1e-300, fabs(rg[i])));
  gctx ctx = {&t, B, th, r, S};
  const double err = lf_gradcheck(loss_action, &ctx, th, g, (size_t)B * n, 1e-5);
  CHECK(
      err < 1e-6 && acc < 1e-13,
      "u1 %dx%d beta=%g: force vs central FD worst rel err %.2e over %d links; accumulates (%.1e)",
      L0, L1, beta, err, B * n, acc);
  lf_theory_free(&t);
  free(th);
  free(g);
  free(rg);
}

/* A field with every plaquette = 2 pi Q / V (mod 2 pi): theta_1(x) = 2 pi Q x0 / V, and
 * theta_0(L0-1, x1) = -2 pi Q x1 / L1 closes the torus. */
static void check_topo(int L0, int L1, int Q) {
  const int V = L0 * L1;
  lf_theory_cfg c = u1_cfg(L0, L1, 1.0);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  double *th = calloc((size_t)2 * V, sizeof(double)), *tp = malloc(sizeof(double) * V),
         o[LF_MAX_OBS];
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++) {
      th[V + x0 * L1 + x1] = 2 * PI * Q * x0 / V;
      if (x0 == L0 - 1) th[x0 * L1 + x1] = -2 * PI * Q * x1 / L1;
    }
  lf_u1_plaquettes(&t.lat, th, tp);
  double pw = 0.0;
  for (int v = 0; v < V; v++) pw = fmax(pw, fabs(lf_u1_wrap(tp[v] - 2 * PI * Q / V)));
  t.observables(&t, th, o);
  const double want = cos(2 * PI * Q / V);
  CHECK(pw < 1e-12 && o[1] == Q && lf_u1_topo(&t.lat, th) == Q &&
            fabs(o[2] - (double)Q * Q / V) < 1e-15 && fabs(o[0] - want) < 1e-13,
        "%dx%d uniform field Q=%d: topo %g, chi_t %g (want %g), plaq %.15f (want %.15f), "
        "plaquette dev %.1e",
        L0, L1, Q, o[1], o[2], (double)Q * Q / V, o[0], want, pw);
  lf_theory_free(&t);
  free(th);
  free(tp);
}

static void check_wrap(void) {
  const double a = lf_u1_wrap(PI), b = lf_u1_wrap(-PI), c = lf_u1_wrap(3 * PI + 0.25),
               d = lf_u1_wrap(-7.0);
  CHECK(a == PI && b == PI && fabs(c - (-PI + 0.25)) < 1e-14 && fabs(d - (-7.0 + 2 * PI)) < 1e-15,
        "wrap: pi -> %.17g, -pi -> %.17g, 3pi+0.25 -> %.15f, -7 -> %.15f", a, b, c, d);
}

static void check_refusals(void) {
  lf_theory t;
  lf_theory_cfg c = u1_cfg(4, 4, 0.0);
  const lf_status r1 = lf_theory_init(&t, &c);
  c = u1_cfg(1, 4, 1.0);
  const lf_status r2 = lf_theory_init(&t, &c);
  CHECK(r1 == LF_ERR_CONFIG && r2 == LF_ERR_CONFIG, "refuses beta=0 (rc %d), shape 1x4 (rc %d)",
        (int)r1, (int)r2);
}

/* ---- the exact-results helper ---- */

static void check_exact_bessel(void) {
  const u1x_result r = u1x_eval(1.0, 16);
  /* I_0(1), I_1(1) (Abramowitz-Stegun table 9.8) */
  const double e0 = fabs(r.I0 - 1.2660658777520082), e1 = fabs(r.I1 - 0.5651591039924851);
  CHECK(e0 < 1e-13 && e1 < 1e-13, "quadrature I_0(1) = %.16f (err %.1e), I_1(1) = %.16f (err %.1e)",
        r.I0, e0, r.I1, e1);
}

static void check_exact_limits(void) {
  /* beta -> 0: plaquettes uniform, Q^2 = V/12 exactly for V >= 3 (constraint is invisible) */
  const u1x_result a = u1x_eval(1e-9, 16), a3 = u1x_eval(1e-9, 3);
  CHECK(fabs(a.chi_t - 1.0 / 12) < 1e-8 && fabs(a3.q2 - 3.0 / 12) < 1e-8 && fabs(a.plaq) < 1e-8,
        "beta->0: chi_t(V=16) = %.12f, <Q^2>(V=3) = %.12f (want 1/12, 1/4), plaq %.1e", a.chi_t,
        a3.q2, a.plaq);
  /* large V: n != 0 sectors vanish; plaq -> I_1/I_0, chi_t -> <phi^2>_1plaq / 4pi^2 */
  const double beta = 3.0;
  const u1x_result b = u1x_eval(beta, 4096);
  double num = 0.0, den = 0.0;
  const int N = 200000;
  for (int k = 0; k <= N; k++) { /* Simpson on [-pi, pi] */
    const double p = -PI + 2 * PI * k / N, w = (k == 0 || k == N) ? 1 : (k % 2 ? 4 : 2);
    num += w * p * p * exp(beta * (cos(p) - 1));
    den += w * exp(beta * (cos(p) - 1));
  }
  const double chi_inf = num / den / (4 * PI * PI);
  CHECK(fabs(b.plaq - b.I1 / b.I0) < 1e-12 && fabs(b.chi_t - chi_inf) / chi_inf < 1e-9,
        "V=4096 beta=3: plaq %.14f vs I1/I0 %.14f; chi_t %.12e vs one-plaquette %.12e", b.plaq,
        b.I1 / b.I0, b.chi_t, chi_inf);
  /* large beta: plaq -> 1 - 1/(2 beta) - 1/(8 beta^2) - 1/(8 beta^3), chi_t -> 1/(4 pi^2 beta) */
  const double bb = 200.0;
  const u1x_result c = u1x_eval(bb, 100000);
  const double pa = 1 - 1 / (2 * bb) - 1 / (8 * bb * bb) - 1 / (8 * bb * bb * bb);
  const double ca = 1.0 / (4 * PI * PI * bb);
  CHECK(fabs(c.plaq - pa) < 1e-8 && fabs(c.chi_t - ca) / ca < 2e-2,
        "beta=200, V=1e5: plaq %.12f vs asymptotic %.12f; chi_t %.6e vs 1/(4 pi^2 beta) %.6e",
        c.plaq, pa, c.chi_t, ca);
}

/* <cos theta_P> on 2x2 by the trapezoidal rule over the 5 links left after fixing the
 * maximal tree theta_1(0,0) = theta_0(0,0) = theta_0(0,1) = 0 (exact for gauge-invariant
 * integrands; spectral for this periodic analytic integrand). */
static void check_exact_2x2_links(double beta) {
  const int N = 20;
  double th[8] = {0}, tp[4];
  lf_lattice lat;
  if (lf_lattice_init(&lat, 2, 2, 0) != LF_OK) return;
  double Z = 0.0, P = 0.0;
  double ang[20];
  for (int k = 0; k < N; k++) ang[k] = 2 * PI * k / N;
  /* free links: theta_0(1,0)=th[2], theta_0(1,1)=th[3], theta_1(0,1)=th[5],
   * theta_1(1,0)=th[6], theta_1(1,1)=th[7] */
  for (int a = 0; a < N; a++)
    for (int b = 0; b < N; b++)
      for (int c = 0; c < N; c++)
        for (int d = 0; d < N; d++)
          for (int e = 0; e < N; e++) {
            th[2] = ang[a];
            th[3] = ang[b];
            th[5] = ang[c];
            th[6] = ang[d];
            th[7] = ang[e];
            lf_u1_plaquettes(&lat, th, tp);
            const double s = cos(tp[0]) + cos(tp[1]) + cos(tp[2]) + cos(tp[3]);
            const double wgt = exp(beta * (s - 4.0));
            Z += wgt;
            P += wgt * s / 4.0;
          }
  lf_lattice_free(&lat);
  const u1x_result r = u1x_eval(beta, 4);
  CHECK(fabs(P / Z - r.plaq) < 1e-11,
        "2x2 beta=%g: <cos theta_P> link integral %.14f vs character expansion %.14f", beta, P / Z,
        r.plaq);
}

/* <Q^2> for V plaquettes by direct convolution of g(phi) = e^{beta cos phi} on (-pi, pi]
 * (trapezoidal grid, M points per 2 pi; error O(1/M^2)): p(Q) = g^{*V}(2 pi Q). */
static double q2_convolution(double beta, int V, int M) {
  const double h = 2 * PI / M;
  double *g = malloc(sizeof(double) * (M + 1));
  for (int k = 0; k <= M; k++)
    g[k] = exp(beta * (cos(-PI + k * h) - 1)) * ((k == 0 || k == M) ? 0.5 : 1.0);
  size_t len = (size_t)M + 1;
  double *c = malloc(sizeof(double) * len);
  memcpy(c, g, sizeof(double) * len);
  for (int v = 1; v < V; v++) { /* c (offset -v pi) <- c * g */
    const size_t nl = len + (size_t)M;
    double *d = calloc(nl, sizeof(double));
    for (size_t i = 0; i < len; i++)
      for (int k = 0; k <= M; k++) d[i + k] += c[i] * g[k];
    free(c);
    c = d;
    len = nl;
  }
  /* index of sum = 2 pi Q: sum = -V pi + i h  ->  i = (2 pi Q + V pi)/h = Q M + V M / 2 */
  double Z = 0.0, Q2 = 0.0;
  for (int Q = -V / 2; Q <= V / 2; Q++) {
    const long i = (long)Q * M + (long)V * M / 2;
    if (i < 0 || (size_t)i >= len) continue;
    Z += c[i];
    Q2 += (double)Q * Q * c[i];
  }
  free(g);
  free(c);
  return Q2 / Z;
}

static void check_exact_q2(double beta, int V) {
  const u1x_result r = u1x_eval(beta, V);
  const double a = q2_convolution(beta, V, 2000), b = q2_convolution(beta, V, 4000);
  const double rich = (4 * b - a) / 3; /* Richardson: O(h^2) removed */
  CHECK(fabs(rich - r.q2) < 1e-6 * fmax(r.q2, 1e-3),
        "V=%d beta=%g: <Q^2> character expansion %.12f vs convolution %.12f (diff %.1e; M=2000 "
        "%.10f, M=4000 %.10f)",
        V, beta, r.q2, rich, fabs(rich - r.q2), a, b);
}

static void check_exact_helper(void) {
  check_exact_bessel();
  check_exact_limits();
  check_exact_2x2_links(0.7);
  check_exact_2x2_links(1.5);
  check_exact_q2(1.0, 3);
  check_exact_q2(2.0, 4);
  check_exact_q2(0.5, 6);
  const u1x_result r = u1x_eval(2.0, 64), s = u1x_eval(4.0, 256);
  fprintf(stderr,
          "info exact 8x8 beta=2: plaq %.12f chi_t %.12f; 16x16 beta=4: plaq %.12f chi_t "
          "%.12f\n",
          r.plaq, r.chi_t, s.plaq, s.chi_t);
}

static void timing(int L) {
  lf_theory_cfg c = u1_cfg(L, L, 2.0);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  const int n = 2 * L * L, B = 64, reps = 20;
  double *th = malloc(sizeof(double) * B * n), *g = calloc((size_t)B * n, sizeof(double)), S[64];
  randn(9, (size_t)B * n, 1.0, th);
  const double t0 = lf_wtime();
  for (int r = 0; r < reps; r++) {
    t.action(&t, B, th, S);
    t.grad(&t, B, th, g);
  }
  const double dt = (lf_wtime() - t0) / (reps * B);
  fprintf(stderr, "info u1 %dx%d: action+force %.3g us per configuration\n", L, L, dt * 1e6);
  lf_theory_free(&t);
  free(th);
  free(g);
}

int main(void) {
  check_wrap();
  check_refusals();
  check_action_and_gauge(4, 4, 2.0);
  check_action_and_gauge(4, 6, 1.3);
  check_action_and_gauge(2, 2, 0.5);
  check_grad(4, 4, 2.0);
  check_grad(2, 6, 0.7);
  check_topo(4, 4, 1);
  check_topo(6, 4, -2);
  check_topo(8, 8, 3);
  check_exact_helper();
  timing(8);
  timing(16);
  return lf_test_result();
}
