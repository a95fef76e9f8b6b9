/* src/analysis/fit.c: the cosh fit of the correlator and its range rule (contract:
 * latflow/fit.h). */
#include "latflow/fit.h"

#include <math.h>
#include <stddef.h>

/* The sums of the fit at mass m over t = t0..t1, with a_t = T/2 - t >= 0 and the basis
 * c_t = cosh(m a_t) scaled by 1/cosh(m amax) (Q and the ratios below do not change under
 * an m-dependent scale, and the scaled values never overflow): sgc = sum w G c,
 * scc = sum w c^2, and their m-derivatives dgc, dcc (of the unscaled basis, divided by the
 * same scale squared resp. once: only the ratios dgc/sgc and dcc/scc are used). */
typedef struct sums {
  double sgc, scc, dgc, dcc;
} sums;

static sums fit_sums(int T, int t0, int t1, const double *G, const double *err, double m) {
  const double amax = 0.5 * T - t0;
  const double norm = 1.0 + exp(-2.0 * m * amax);
  sums s = {0.0, 0.0, 0.0, 0.0};
  for (int t = t0; t <= t1; t++) {
    const double a = 0.5 * T - t, w = 1.0 / (err[t] * err[t]);
    const double ep = exp(m * (a - amax)), em = exp(-m * (a + amax));
    const double c = (ep + em) / norm, sh = (ep - em) / norm; /* cosh, sinh(m a) scaled */
    s.sgc += w * G[t] * c;
    s.scc += w * c * c;
    s.dgc += w * G[t] * a * sh;
    s.dcc += 2.0 * w * a * c * sh;
  }
  return s;
}

/* Q(m) = sgc^2 / scc with A > 0, -inf otherwise (the quantity the fit maximises). */
static double fit_q(const sums *s) {
  return s->sgc > 0.0 && s->scc > 0.0 ? s->sgc * s->sgc / s->scc : -INFINITY;
}

/* The sign of dQ/dm (for sgc > 0): 2 dgc/sgc - dcc/scc. */
static double fit_slope(const sums *s) {
  return 2.0 * s->dgc / s->sgc - s->dcc / s->scc;
}

static double grid_mass(int k) {
  return LF_FIT_MMIN * exp(log(LF_FIT_MMAX / LF_FIT_MMIN) * k / (LF_FIT_GRID - 1));
}

int lf_cosh_fit_eval(int T, int t0, int t1, const double *G, const double *err, lf_cosh_fit *out) {
  *out = (lf_cosh_fit){0, NAN, NAN, NAN, t1 - t0 - 1, NULL};
  if (t0 < 0 || t1 > T / 2 || t1 - t0 < 1) {
    out->why = "fewer than 2 points in the fit range";
    return 0;
  }
  for (int t = t0; t <= t1; t++)
    if (!isfinite(G[t]) || !isfinite(err[t]) || !(err[t] > 0.0)) {
      out->why = "a G(t) in the fit range or its error is not finite or the error is 0";
      return 0;
    }
  /* the best grid mass */
  int kbest = -1;
  double qbest = -INFINITY;
  for (int k = 0; k < LF_FIT_GRID; k++) {
    const sums s = fit_sums(T, t0, t1, G, err, grid_mass(k));
    const double q = fit_q(&s);
    if (q > qbest) {
      qbest = q;
      kbest = k;
    }
  }
  if (kbest < 0) {
    out->why = "the fitted amplitude is not positive (G(t) <= 0)";
    return 0;
  }
  if (kbest == 0 || kbest == LF_FIT_GRID - 1) {
    out->why = kbest == 0 ? "G(t) does not decay towards T/2 (best mass at the grid's lower end)"
                          : "the best mass is at the grid's upper end";
    return 0;
  }
  /* bisection of dQ/dm = 0 between the neighbours of the best grid point: rising below */
  double lo = grid_mass(kbest - 1), hi = grid_mass(kbest + 1);
  sums slo = fit_sums(T, t0, t1, G, err, lo), shi = fit_sums(T, t0, t1, G, err, hi);
  if (!(slo.sgc > 0.0 && shi.sgc > 0.0 && fit_slope(&slo) > 0.0 && fit_slope(&shi) < 0.0)) {
    out->why = "no maximum of the fit's quality between grid masses";
    return 0;
  }
  for (int it = 0; it < 200; it++) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break; /* converged to adjacent doubles */
    const sums s = fit_sums(T, t0, t1, G, err, mid);
    if (s.sgc > 0.0 && fit_slope(&s) > 0.0)
      lo = mid;
    else
      hi = mid;
  }
  const double m = 0.5 * (lo + hi);
  const sums s = fit_sums(T, t0, t1, G, err, m);
  const double amax = 0.5 * T - t0, Ahat = s.sgc / s.scc; /* amplitude of the scaled basis */
  const double norm = 1.0 + exp(-2.0 * m * amax);
  double chi2 = 0.0;
  for (int t = t0; t <= t1; t++) {
    const double a = 0.5 * T - t;
    const double c = (exp(m * (a - amax)) + exp(-m * (a + amax))) / norm;
    const double r = (G[t] - Ahat * c) / err[t];
    chi2 += r * r;
  }
  out->ok = 1;
  out->m = m;
  out->A = Ahat * 2.0 * exp(-m * amax) / norm; /* Ahat / cosh(m amax): G at t = T/2 */
  out->chi2 = chi2;
  return 1;
}

double lf_pole_chi2_ok(int dof) {
  return dof >= 1 ? 1.0 + 2.0 * sqrt(2.0 / dof) : NAN;
}

int lf_pole_fit_choose(int T, const double *G, const double *err, lf_pole_fit *out) {
  *out = (lf_pole_fit){LF_POLE_NONE, 0, 0, NAN, {0, NAN, NAN, NAN, 0, NULL}};
  const int tmax = T / 2;
  if (tmax < 2) {
    out->fit.why = "the time extent is shorter than 4: no range t >= 1 with 2 points";
    return LF_POLE_NONE;
  }
  const char *why = NULL;
  /* the smallest tmin with an acceptable chi^2/dof; remember the best chi^2/dof */
  int tbest = 0;
  double best = INFINITY;
  for (int t0 = 1; t0 <= tmax - 2; t0++) {
    lf_cosh_fit f;
    if (!lf_cosh_fit_eval(T, t0, tmax, G, err, &f)) {
      why = f.why;
      continue;
    }
    const double cd = f.chi2 / f.dof;
    if (cd <= lf_pole_chi2_ok(f.dof)) {
      *out = (lf_pole_fit){LF_POLE_GOOD, t0, tmax, cd, f};
      return LF_POLE_GOOD;
    }
    if (cd < best) {
      best = cd;
      tbest = t0;
    }
  }
  if (tbest > 0) {
    lf_cosh_fit f;
    lf_cosh_fit_eval(T, tbest, tmax, G, err, &f);
    *out = (lf_pole_fit){LF_POLE_POOR, tbest, tmax, best, f};
    return LF_POLE_POOR;
  }
  if (tmax - 2 < 1) { /* T/2 = 2: only the two points t = 1, 2 */
    lf_cosh_fit f;
    if (lf_cosh_fit_eval(T, tmax - 1, tmax, G, err, &f)) {
      *out = (lf_pole_fit){LF_POLE_EXACT, tmax - 1, tmax, NAN, f};
      return LF_POLE_EXACT;
    }
    why = f.why;
  }
  out->fit.why = why;
  return LF_POLE_NONE;
}
