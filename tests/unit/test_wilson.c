/* Schwinger model with two flavours of Wilson fermions (theory "schwinger", src/theory/
 * wilson.c), every check run with theory.logdet dense and sparse (the sign of det D only
 * with dense, which computes it): gamma5-hermiticity of D and reality of det D, log det D for
 * constant links against the momentum-space product, gauge invariance of action, det, observables
 * and correlator, the total force (gauge + fermion) against central finite differences on all
 * links, kappa = 0 equals pure u1, condensate and correlator against their definitions from D^{-1},
 * and the time of action + force at 8x8 and 16x16. */
#include "latflow/rng.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/u1.h"
#define GT_SEED 13
#include "gauge_test.h"
#include "lftest.h"

#include <complex.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* The method of every schwinger theory built below (main runs the checks once per method). */
static lf_logdet_kind g_logdet = LF_LOGDET_DENSE;
static lf_theory_cfg with_logdet(lf_theory_cfg c) {
  c.logdet = g_logdet;
  return c;
}
#define schw_cfg(...) with_logdet(schw_cfg(__VA_ARGS__))
#define METHOD lf_logdet_name(g_logdet)

/* D^dagger = g5 D g5 entry by entry (g5 = sigma_3: sign (-1)^(s+r) on the spin pair). */
static void check_g5_hermiticity(int L0, int L1, double kappa, int ap) {
  const int V = L0 * L1, n = 2 * V;
  lf_lattice lat;
  if (lf_lattice_init(&lat, L0, L1, 1) != LF_OK) return;
  double *th = malloc(sizeof(double) * 2 * V);
  double _Complex *D = malloc(sizeof(double _Complex) * (size_t)n * n);
  randn(1, (size_t)2 * V, 2.0, th);
  lf_wilson_build(&lat, kappa, ap, th, (double *)(void *)D);
  double worst = 0.0, hop = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      const double sg = ((i + j) % 2) ? -1.0 : 1.0;
      worst = fmax(worst, cabs(conj(D[j + (size_t)n * i]) - sg * D[i + (size_t)n * j]));
      if (i != j) hop = fmax(hop, cabs(D[i + (size_t)n * j]));
    }
  CHECK(worst < 1e-15 && hop > 0.5 * kappa,
        "%dx%d kappa=%g %s: |D^dag - g5 D g5| = %.1e (largest hop entry %.3f)", L0, L1, kappa,
        ap ? "antiperiodic" : "periodic", worst, hop);
  lf_lattice_free(&lat);
  free(th);
  free(D);
}

/* det D for theta_mu(x) = a_mu: prod_k det[1 - kappa sum_mu ((1-g_mu) e^{i(a_mu+p_mu)}
 * + (1+g_mu) e^{-i(a_mu+p_mu)})], p_0 = 2 pi (n0 + 1/2)/L0 (antiperiodic) or 2 pi n0/L0,
 * p_1 = 2 pi n1/L1. */
static void check_momentum(int L0, int L1, double kappa, int ap, double a0, double a1) {
  const int V = L0 * L1;
  lf_theory_cfg c = schw_cfg(L0, L1, 1.0, kappa, ap ? "antiperiodic" : "periodic");
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init: %s", lf_last_error());
    return;
  }
  double *th = malloc(sizeof(double) * 2 * V);
  for (int v = 0; v < V; v++) {
    th[v] = a0;
    th[V + v] = a1;
  }
  double la = 0.0, ph = 0.0;
  const lf_status rc = lf_schwinger_logdet(&t, th, &la, &ph);
  double wl = 0.0, wp = 0.0;
  for (int n0 = 0; n0 < L0; n0++)
    for (int n1 = 0; n1 < L1; n1++) {
      const double p0 = 2 * PI * (n0 + (ap ? 0.5 : 0.0)) / L0 + a0, p1 = 2 * PI * n1 / L1 + a1;
      const double _Complex e0 = cexp(I * p0), e1 = cexp(I * p1);
      /* (1 -+ g0) = [[1, -+1], [-+1, 1]],  (1 -+ g1) = [[1, +-i], [-+i, 1]] */
      const double _Complex m00 = 1 - kappa * (e0 + conj(e0) + e1 + conj(e1));
      const double _Complex m11 = m00;
      const double _Complex m01 = -kappa * (-e0 + conj(e0) + I * e1 - I * conj(e1));
      const double _Complex m10 = -kappa * (-e0 + conj(e0) - I * e1 + I * conj(e1));
      const double _Complex d = m00 * m11 - m01 * m10;
      wl += log(cabs(d));
      wp += carg(d);
    }
  const double dl = fabs(la - wl);
  const double dp = g_logdet == LF_LOGDET_DENSE ? fabs(lf_u1_wrap(ph - wp)) : 0.0;
  CHECK(rc == LF_OK && dl < 1e-10 && dp < 1e-10,
        "%s %dx%d kappa=%g %s a=(%g,%g): log|det D| %.12f vs momentum product %.12f (diff %.1e); "
        "phase %.3f vs %.3f",
        METHOD, L0, L1, kappa, ap ? "antiperiodic" : "periodic", a0, a1, la, wl, dl, ph,
        lf_u1_wrap(wp));
  lf_theory_free(&t);
  free(th);
}

/* Laplace expansion along the columns of the remaining minor (n! terms; n = 8 on 2x2). */
static double _Complex det_laplace(const double _Complex *A, int n, int col, unsigned used) {
  if (col == n) return 1.0;
  double _Complex s = 0.0;
  int k = 0; /* position of row r among the unused rows */
  for (int r = 0; r < n; r++) {
    if (used & (1u << r)) continue;
    const double _Complex a = A[r + (size_t)n * col];
    if (a != 0.0) s += (k % 2 ? -a : a) * det_laplace(A, n, col + 1, used | (1u << r));
    k++;
  }
  return s;
}

/* det D on 2x2 by Laplace expansion vs the LU value, including its sign (det D < 0 occurs
 * for rough fields at larger kappa). */
static void check_det_sign(double kappa, int ap) {
  lf_theory_cfg c = schw_cfg(2, 2, 1.0, kappa, ap ? "antiperiodic" : "periodic");
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  double th[8], la, ph;
  double _Complex D[64];
  int neg = 0, nconf = 40;
  double worst = 0.0, worst_im = 0.0;
  for (int k = 0; k < nconf; k++) {
    randn(100 + (uint32_t)k, 8, 2.0, th);
    lf_wilson_build(&t.lat, kappa, ap, th, (double *)(void *)D);
    const double _Complex d = det_laplace(D, 8, 0, 0u);
    lf_schwinger_logdet(&t, th, &la, &ph);
    const double sgn = cos(ph) > 0 ? 1.0 : -1.0;
    neg += creal(d) < 0;
    worst = fmax(worst, fabs(sgn * exp(la) - creal(d)) / cabs(d));
    worst_im = fmax(worst_im, fabs(cimag(d)) / cabs(d) + fabs(sin(ph)));
  }
  CHECK(worst < 1e-12 && worst_im < 1e-12,
        "2x2 kappa=%g %s: sign(det) e^{log|det|} from LU vs Laplace expansion, %d fields (%d with "
        "det D < 0): max rel err %.1e, |Im det|/|det| + |sin phase| <= %.1e",
        kappa, ap ? "antiperiodic" : "periodic", nconf, neg, worst, worst_im);
  lf_theory_free(&t);
}

static void check_gauge_invariance(int L0, int L1, double kappa) {
  const int V = L0 * L1;
  lf_theory_cfg c = schw_cfg(L0, L1, 2.0, kappa, "antiperiodic");
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init: %s", lf_last_error());
    return;
  }
  CHECK(t.C == 2 && t.nobs == 4 && t.ncorr == L0 && lf_theory_obs_index(&t, "condensate") == 3 &&
            strcmp(t.name, "schwinger") == 0,
        "schwinger %dx%d: C=%d nobs=%d ncorr=%d", L0, L1, t.C, t.nobs, t.ncorr);
  double *th = malloc(sizeof(double) * 2 * V), *al = malloc(sizeof(double) * V);
  double *G1 = malloc(sizeof(double) * L0), *G2 = malloc(sizeof(double) * L0);
  double o1[LF_MAX_OBS], o2[LF_MAX_OBS], S1, S2, l1, l2, p1, p2;
  randn(2, (size_t)2 * V, 1.5, th);
  randn(3, (size_t)V, 3.0, al);
  t.action(&t, 1, th, &S1);
  lf_schwinger_logdet(&t, th, &l1, &p1);
  t.observables(&t, th, o1);
  t.correlator(&t, th, G1);
  lf_u1_gauge_transform(&t.lat, al, th);
  t.action(&t, 1, th, &S2);
  lf_schwinger_logdet(&t, th, &l2, &p2);
  t.observables(&t, th, o2);
  t.correlator(&t, th, G2);
  double ow = 0.0, gw = 0.0;
  for (int i = 0; i < 4; i++)
    ow = fmax(ow, fabs(o1[i] - o2[i]) / fmax(1e-300, fabs(o1[i])) * (o1[i] != 0));
  for (int k = 0; k < L0; k++) gw = fmax(gw, fabs(G1[k] - G2[k]) / fabs(G1[k]));
  const double sw = fabs(S1 - S2) / fabs(S1), lw = fabs(l1 - l2) / fabs(l1);
  const int dense = g_logdet == LF_LOGDET_DENSE;
  CHECK(sw < 1e-12 && lw < 1e-12 && ow < 1e-12 && gw < 1e-12 &&
            (!dense || (fabs(sin(p1)) < 1e-10 && fabs(sin(p2)) < 1e-10)),
        "%s %dx%d kappa=%g gauge transform: S %.12f -> %.12f, log|det| %.12f -> %.12f (phase %.3f, "
        "%.3f: det real), obs max rel %.1e (condensate %.12f), correlator max rel %.1e (C(0)=%.6f "
        "C(L0/2)=%.3e)",
        METHOD, L0, L1, kappa, S1, S2, l1, l2, p1, p2, ow, o1[3], gw, G1[0], G1[L0 / 2]);
  lf_theory_free(&t);
  free(th);
  free(al);
  free(G1);
  free(G2);
}

static void check_force(int L0, int L1, double beta, double kappa, const char *bc) {
  enum { B = 2 };
  const int n = 2 * L0 * L1;
  lf_theory_cfg c = schw_cfg(L0, L1, beta, kappa, bc);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) {
    CHECK(0, "init: %s", lf_last_error());
    return;
  }
  double *th = malloc(sizeof(double) * B * n), *g = malloc(sizeof(double) * B * n);
  double *rg = calloc((size_t)B * n, sizeof(double)), r[B], S[B];
  randn(4, (size_t)B * n, 1.0, th);
  randn(5, B, 1.0, r);
  t.grad(&t, B, th, rg);
  for (int i = 0; i < B * n; i++) g[i] = r[i / n] * rg[i];
  t.grad(&t, B, th, rg);
  double acc = 0.0, gmax = 0.0;
  for (int i = 0; i < B * n; i++) {
    acc = fmax(acc, fabs(rg[i] - 2.0 * g[i] / r[i / n]) / fmax(1e-300, fabs(rg[i])));
    gmax = fmax(gmax, fabs(g[i] / r[i / n]));
  }
  gctx ctx = {&t, B, th, r, S};
  const double err = lf_gradcheck(loss_action, &ctx, th, g, (size_t)B * n, 1e-5);
  CHECK(err < 1e-6 && acc < 1e-12,
        "%s schwinger %dx%d beta=%g kappa=%g %s: force vs central FD worst rel err %.2e over %d "
        "links (max |dS| %.3f); accumulates (%.1e)",
        METHOD, L0, L1, beta, kappa, bc, err, B * n, gmax, acc);
  /* the fermion part alone: beta -> tiny isolates -2 log|det D| */
  lf_theory_free(&t);
  free(th);
  free(g);
  free(rg);
}

static void check_kappa0(void) {
  enum { B = 3 };
  const int V = 24;
  lf_theory_cfg c = schw_cfg(4, 6, 1.7, 0.0, "antiperiodic"), cu = c;
  cu.name = LF_THEORY_U1;
  lf_theory t, u;
  if (lf_theory_init(&t, &c) != LF_OK || lf_theory_init(&u, &cu) != LF_OK) {
    CHECK(0, "init: %s", lf_last_error());
    return;
  }
  double th[B * 2 * 24], S[B], Su[B], g[B * 2 * 24] = {0}, gu[B * 2 * 24] = {0};
  randn(6, (size_t)B * 2 * V, 2.0, th);
  t.action(&t, B, th, S);
  u.action(&u, B, th, Su);
  t.grad(&t, B, th, g);
  u.grad(&u, B, th, gu);
  int same = 1;
  for (int b = 0; b < B; b++) same &= S[b] == Su[b];
  double gd = 0.0;
  for (int i = 0; i < B * 2 * V; i++) gd = fmax(gd, fabs(g[i] - gu[i]));
  CHECK(same && gd < 1e-15,
        "%s kappa=0: schwinger action %.15f %.15f %.15f == u1 %.15f %.15f %.15f; force diff %.1e",
        METHOD, S[0], S[1], S[2], Su[0], Su[1], Su[2], gd);
  /* D = 1: condensate (1/V) Re tr 1 = 2 (two spin components) and the pion correlator
   * 2 delta_{t,0}, finite and defined (docs/PHYSICS.md: no pion mass at kappa = 0) */
  double o[LF_MAX_OBS], G[4];
  t.observables(&t, th, o);
  t.correlator(&t, th, G);
  CHECK(fabs(o[3] - 2.0) < 1e-14 && fabs(G[0] - 2.0) < 1e-14 && G[1] == 0.0 && G[2] == 0.0 &&
            G[3] == 0.0,
        "%s kappa=0: condensate %.17g (expect 2), C(t) = %g %g %g %g (expect 2 0 0 0)", METHOD,
        o[3], G[0], G[1], G[2], G[3]);
  lf_theory_free(&t);
  lf_theory_free(&u);
}

/* condensate and C(t) against their definitions, with D^{-1} checked by D D^{-1} = 1. */
static void check_propagator_obs(int L0, int L1, double kappa, const char *bc) {
  const int V = L0 * L1, n = 2 * V;
  lf_theory_cfg c = schw_cfg(L0, L1, 1.0, kappa, bc);
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  double *th = malloc(sizeof(double) * 2 * V), *G = malloc(sizeof(double) * L0);
  double *Gw = calloc((size_t)L0, sizeof(double)), o[LF_MAX_OBS];
  double _Complex *D = malloc(sizeof(double _Complex) * (size_t)n * n);
  double _Complex *Di = malloc(sizeof(double _Complex) * (size_t)n * n);
  randn(7, (size_t)2 * V, 1.2, th);
  const int ap = strcmp(bc, "antiperiodic") == 0;
  lf_wilson_build(&t.lat, kappa, ap, th, (double *)(void *)D);
  const lf_status rc = lf_schwinger_inverse(&t, th, (double *)(void *)Di);
  double ie = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double _Complex s = 0.0;
      for (int k = 0; k < n; k++) s += D[i + (size_t)n * k] * Di[k + (size_t)n * j];
      ie = fmax(ie, cabs(s - (i == j ? 1.0 : 0.0)));
    }
  double tr = 0.0;
  for (int i = 0; i < n; i++) tr += creal(Di[i + (size_t)n * i]);
  for (int x0 = 0; x0 < L0; x0++)
    for (int x1 = 0; x1 < L1; x1++)
      for (int y0 = 0; y0 < L0; y0++)
        for (int y1 = 0; y1 < L1; y1++)
          for (int s = 0; s < 2; s++)
            for (int r = 0; r < 2; r++) {
              const double _Complex e =
                  Di[(size_t)(2 * (x0 * L1 + x1) + s) + (size_t)n * (2 * (y0 * L1 + y1) + r)];
              Gw[(x0 - y0 + L0) % L0] += creal(e * conj(e)) / V;
            }
  t.observables(&t, th, o);
  t.correlator(&t, th, G);
  double ge = 0.0;
  for (int k = 0; k < L0; k++) ge = fmax(ge, fabs(G[k] - Gw[k]) / Gw[k]);
  const double sym = fabs(G[1] - G[L0 - 1]) / G[1];
  CHECK(rc == LF_OK && ie < 1e-12 && fabs(o[3] - tr / V) < 1e-13 && ge < 1e-13,
        "%s %dx%d kappa=%g %s: |D Dinv - 1| %.1e; condensate %.12f (def %.12f); C(t) max rel %.1e, "
        "C(0..2) = %.6f %.6f %.6f, C(1)/C(L0-1)-1 = %.1e",
        METHOD, L0, L1, kappa, bc, ie, o[3], tr / V, ge, G[0], G[1], G[2], sym);
  lf_theory_free(&t);
  free(th);
  free(G);
  free(Gw);
  free(D);
  free(Di);
}

static void check_refusals(void) {
  lf_theory t;
  lf_theory_cfg c = schw_cfg(4, 4, 1.0, 0.25, "open");
  const lf_status r1 = lf_theory_init(&t, &c);
  c = schw_cfg(4, 4, 1.0, -0.1, "periodic");
  const lf_status r2 = lf_theory_init(&t, &c);
  c = schw_cfg(4, 4, 1.0, 0.25, "periodic");
  lf_theory u;
  lf_theory_cfg cu = c;
  cu.name = LF_THEORY_U1;
  double th[32] = {0}, la, ph, Dinv[8];
  lf_status r3 = LF_ERR_INVALID;
  if (lf_theory_init(&u, &cu) == LF_OK) {
    r3 = lf_schwinger_logdet(&u, th, &la, &ph);
    if (r3 == LF_ERR_INVALID) r3 = lf_schwinger_inverse(&u, th, Dinv);
    lf_theory_free(&u);
  }
  CHECK(
      r1 == LF_ERR_CONFIG && r2 == LF_ERR_CONFIG && r3 == LF_ERR_INVALID,
      "refuses fermion_bc 'open' (rc %d), kappa < 0 (rc %d); logdet/inverse of a u1 theory (rc %d)",
      (int)r1, (int)r2, (int)r3);
}

static void timing(int L, double kappa) {
  lf_theory_cfg c = schw_cfg(L, L, 2.0, kappa, "antiperiodic");
  lf_theory t;
  if (lf_theory_init(&t, &c) != LF_OK) return;
  const int n = 2 * L * L, B = 2;
  double *th = malloc(sizeof(double) * B * n), *g = calloc((size_t)B * n, sizeof(double)), S[2];
  double o[LF_MAX_OBS], *G = malloc(sizeof(double) * L);
  randn(8, (size_t)B * n, 1.0, th);
  const double t0 = lf_wtime();
  t.action(&t, B, th, S);
  const double t1 = lf_wtime();
  t.grad(&t, B, th, g);
  const double t2 = lf_wtime();
  t.observables(&t, th + n, o);
  t.correlator(&t, th + n, G);
  const double t3 = lf_wtime();
  fprintf(
      stderr,
      "info %s schwinger %dx%d kappa=%g: action %.3g ms, action+force %.3g ms per configuration "
      "(observables+correlator of a factored field %.3g ms); S=%.6f condensate %.6f\n",
      METHOD, L, L, kappa, (t1 - t0) * 1e3 / B, (t2 - t0) * 1e3 / B, (t3 - t2) * 1e3, S[0], o[3]);
  lf_theory_free(&t);
  free(th);
  free(g);
  free(G);
}

int main(void) {
  check_refusals();
  check_g5_hermiticity(4, 4, 0.25, 1);
  check_g5_hermiticity(2, 6, 0.276, 0);
  check_det_sign(0.45, 1);
  check_det_sign(0.6, 0);
  check_det_sign(0.276, 1);
  const lf_logdet_kind methods[] = {LF_LOGDET_DENSE, LF_LOGDET_SPARSE};
  for (int m = 0; m < 2; m++) {
    g_logdet = methods[m];
    for (int ap = 0; ap < 2; ap++) {
      check_momentum(4, 4, 0.25, ap, 0.3, -0.7);
      check_momentum(6, 4, 0.276, ap, 1.1, 0.4);
      check_momentum(8, 6, 0.2, ap, -2.0, 2.9);
    }
    check_momentum(4, 4, 0.276, 1, 0.0, 0.0);
    check_momentum(4, 4, 0.6, 1, 0.3, -0.7); /* large kappa: det D < 0 occurs */
    check_momentum(6, 4, 1.0, 0, 0.1, 0.2);
    check_momentum(4, 6, 0.45, 1, 0.5, 0.0);
    check_gauge_invariance(4, 4, 0.25);
    check_gauge_invariance(6, 4, 0.276);
    check_force(4, 4, 2.0, 0.25, "antiperiodic");
    check_force(4, 4, 2.0, 0.276, "antiperiodic");
    check_force(4, 4, 1e-3, 0.276, "periodic");
    check_force(2, 4, 1.0, 0.25, "antiperiodic");
    check_kappa0();
    check_propagator_obs(4, 4, 0.25, "antiperiodic");
    check_propagator_obs(6, 2, 0.276, "periodic");
    timing(8, 0.263);
    timing(16, 0.263);
  }
  return lf_test_result();
}
