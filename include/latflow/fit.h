/* latflow/fit.h: the pole mass from a fit of the zero-momentum correlator (docs/PHYSICS.md,
 * "Pole mass").
 *
 * Model: on a periodic time extent T (= ncorr), a single state gives
 *   G(t) = A cosh(m (t - T/2)),
 * which is fitted to the means G(t) for t = t0..T/2 (the other half, t > T/2, repeats
 * them: G(T - t) = G(t)) by minimising the uncorrelated
 *   chi^2(A, m) = sum_t (G(t) - A cosh(m (t - T/2)))^2 / err(t)^2
 * (the errors err(t) of the G(t) as weights; their correlations are ignored, so chi^2 is a
 * measure of the fit's quality, not a likelihood). For fixed m the best A is linear,
 * A(m) = sum w G c / sum w c^2 (w = 1/err^2, c = cosh(m (t - T/2))), which leaves one
 * parameter: m maximises Q(m) = (sum w G c)^2 / sum w c^2 with A > 0. Q is scanned on a
 * logarithmic grid of LF_FIT_GRID masses in [LF_FIT_MMIN, LF_FIT_MMAX], and the root of
 * dQ/dm next to the best grid point is found by bisection to full double precision, so m
 * is a smooth, deterministic function of the G(t) (the Gamma method differentiates it
 * numerically, latflow/gamma.h). No fit (ok = 0): a G(t) or err(t) in the range that is not
 * finite, an err(t) <= 0, fewer than 2 points, A <= 0 at every grid mass, or the best mass
 * at an end of the grid (a flat or rising G(t): no decay to fit).
 *
 * Range rule (lf_pole_fit_choose): tmax = T/2, and tmin is the smallest t >= 1 whose fit
 * has dof = (T/2 - tmin + 1) - 2 >= 1 and an acceptable chi^2/dof <= 1 + 2 sqrt(2/dof)
 * (about a p-value of 0.05 or more for uncorrelated Gaussian data): the earliest start
 * where one cosh describes the data, t = 0 (the contact term) never entering. If no range
 * is acceptable, the range with the smallest chi^2/dof is taken (quality LF_POLE_POOR);
 * if no range has dof >= 1 (T/2 < 3), the two-point fit t = T/2-1..T/2 (LF_POLE_EXACT,
 * chi^2/dof NaN).
 * Local; never allocates or fails. */
#ifndef LATFLOW_FIT_H
#define LATFLOW_FIT_H

#define LF_FIT_MMIN 1e-4 /* the mass grid of the scan */
#define LF_FIT_MMAX 20.0
#define LF_FIT_GRID 256

typedef struct lf_cosh_fit {
  int ok;          /* 1: a fit was found (the rest is set); 0: none (why says it) */
  double m, A;     /* mass and amplitude (A = fitted G(T/2))                      */
  double chi2;     /* uncorrelated chi^2 at the minimum                           */
  int dof;         /* points - 2                                                  */
  const char *why; /* static text when ok = 0                                     */
} lf_cosh_fit;

/* Fits G(t) = A cosh(m (t - T/2)) over t = t0..t1 (0 <= t0 < t1 <= T/2) with weights
 * 1/err(t)^2. G and err: T values (only t0..t1 are read). Returns out->ok. */
int lf_cosh_fit_eval(int T, int t0, int t1, const double *G, const double *err, lf_cosh_fit *out);

enum lf_pole_quality {
  LF_POLE_NONE = 0, /* no fit possible                            */
  LF_POLE_GOOD = 1, /* smallest tmin with an acceptable chi^2/dof  */
  LF_POLE_POOR = 2, /* no range acceptable: the smallest chi^2/dof */
  LF_POLE_EXACT = 3 /* two points only (T/2 < 3): no chi^2 check   */
};

typedef struct lf_pole_fit {
  int quality;     /* enum lf_pole_quality                   */
  int tmin, tmax;  /* fitted t = tmin..tmax of G(t) (0 if none) */
  double chi2_dof; /* NaN for LF_POLE_EXACT and LF_POLE_NONE   */
  lf_cosh_fit fit; /* of the chosen range                      */
} lf_pole_fit;

/* The chi^2/dof below which a fit with dof degrees of freedom is acceptable. */
double lf_pole_chi2_ok(int dof);

/* Chooses the fit range by the rule above and fits it. G, err: T values. Returns
 * out->quality (LF_POLE_NONE: out->fit.why says why). */
int lf_pole_fit_choose(int T, const double *G, const double *err, lf_pole_fit *out);

#endif
