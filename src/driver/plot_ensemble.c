/* The plots of one ensemble (latflow/plot.h; shared pieces in plot_impl.h): per observable
 * its Monte Carlo history, its normalized autocorrelation rho(t) and its integrated
 * autocorrelation time as a function of the summation window, tau_int(W) = 1/2 +
 * sum_{t=1..W} rho(t) (U. Wolff, hep-lat/0306017, eqs. 35 and 42), each with the
 * Gamma-method window marked; the correlator G(t) and the effective mass m_eff(t) with the
 * pole-mass fit (phi^4: ensembles with a correlator); the histogram of log w (flow) or the
 * energy violation dH per trajectory (HMC). */
#include "plot_impl.h"

#include <math.h>
#include <string.h>

#define HIST_MAX 20000 /* at most about this many points per history plot */
#define NBINS 60       /* bins of the log w histogram */
#define ACF_MAX 2000   /* autocorrelation lags written to acf.dat */

/* The largest summation window drawn for an observable with Gamma window W: max(100, 2 W),
 * as lf_plot_lags asks the analysis for (plot.c). */
static int tau_xmax(int W) {
  return 2 * W > 100 ? 2 * W : 100;
}

/* history.dat: the step and every observable of the state, chain 0 .. R-1 concatenated,
 * at most ~HIST_MAX rows (gnuplot takes minutes on 10^6-point line plots); the stride
 * used goes to *stride. */
static lf_status write_history(const char *dir, const char *path, const lf_ensemble *e,
                               const lf_analysis *a, size_t *stride) {
  FILE *f = NULL;
  const lf_status rc = lf_plot_open_out(&f, dir, "history.dat");
  if (rc != LF_OK) return rc;
  fprintf(f, "# step");
  for (int k = 0; k < e->info.nobs; k++) fprintf(f, " %s", e->info.obs_names[k]);
  fprintf(f, " logw dH accepted  (from %s)\n", path);
  *stride = a->n > HIST_MAX ? (a->n + HIST_MAX - 1) / HIST_MAX : 1;
  size_t o = 0;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++, o++) {
      if (o % *stride) continue;
      const lf_ens_step *s = &e->chain[r][i];
      fprintf(f, "%zu", o);
      for (int k = 0; k < e->info.nobs; k++)
        fprintf(f, " %.10g", e->obs[r][(size_t)s->row * e->info.nobs + k]);
      fprintf(f, " %.10g %.10g %d\n", s->logw, s->dH, s->accepted);
    }
  return lf_plot_close_out(f, dir, "history.dat");
}

/* logw_hist.dat: the histogram of all finite log w of a flow ensemble, binned here. */
static lf_status write_logw_hist(const char *dir, const lf_ensemble *e) {
  double lo = INFINITY, hi = -INFINITY;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++) {
      const double w = e->chain[r][i].logw;
      if (isfinite(w)) {
        lo = fmin(lo, w);
        hi = fmax(hi, w);
      }
    }
  double cnt[NBINS] = {0};
  const double bw = hi > lo ? (hi - lo) / NBINS : 1.0;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++) {
      const double w = e->chain[r][i].logw;
      if (!isfinite(w)) continue;
      int b = (int)((w - lo) / bw);
      cnt[b < 0 ? 0 : b >= NBINS ? NBINS - 1 : b] += 1.0;
    }
  FILE *f = NULL;
  const lf_status rc = lf_plot_open_out(&f, dir, "logw_hist.dat");
  if (rc != LF_OK) return rc;
  fprintf(f, "# bin centre (log w - max log w), proposals\n");
  for (int b = 0; b < NBINS; b++)
    if (cnt[b] > 0) fprintf(f, "%.8g %.0f\n", lo - hi + (b + 0.5) * bw, cnt[b]);
  return lf_plot_close_out(f, dir, "logw_hist.dat");
}

/* acf.dat (rho(t) of every observable) and tauint.dat (tau_int(W) of every observable and
 * its error, Wolff eq. 42: tau sqrt(4 (W + 1/2 - tau) / N)), for the lags the analysis
 * kept and the data allow (below the shortest chain). */
static lf_status write_acf(const char *dir, const lf_ensemble *e, const lf_analysis *a) {
  size_t minlen = a->n;
  for (int r = 0; r < e->R; r++)
    if (e->steps[r] < minlen) minlen = e->steps[r];
  int nrho = 0, wmax = 0;
  for (int k = 0; k < a->nobs; k++) {
    if (a->obs[k].nrho > nrho) nrho = a->obs[k].nrho;
    if (tau_xmax(a->obs[k].g.window) > wmax) wmax = tau_xmax(a->obs[k].g.window);
  }
  if ((size_t)wmax >= minlen) wmax = minlen > 0 ? (int)minlen - 1 : 0;
  if (wmax >= nrho) wmax = nrho - 1;
  FILE *f = NULL;
  lf_status rc = lf_plot_open_out(&f, dir, "acf.dat");
  if (rc != LF_OK) return rc;
  fprintf(f, "# t");
  for (int k = 0; k < a->nobs; k++) fprintf(f, " rho_%s", a->obs[k].name);
  fprintf(f, "\n");
  for (int t = 0; t < ACF_MAX && t < nrho && (size_t)t < a->n / 2; t++) {
    fprintf(f, "%d", t);
    for (int k = 0; k < a->nobs; k++)
      fprintf(f, " %.8g", a->obs[k].rho && t < a->obs[k].nrho ? a->obs[k].rho[t] : NAN);
    fprintf(f, "\n");
  }
  if ((rc = lf_plot_close_out(f, dir, "acf.dat")) != LF_OK) return rc;
  if ((rc = lf_plot_open_out(&f, dir, "tauint.dat")) != LF_OK) return rc;
  fprintf(f, "# W");
  for (int k = 0; k < a->nobs; k++) fprintf(f, " tau_%s err_%s", a->obs[k].name, a->obs[k].name);
  fprintf(f, "   (tau_int(W) = 1/2 + sum_{t=1..W} rho(t), error Wolff eq. 42, N = %zu)\n", a->n);
  double tau[LF_MAX_OBS];
  for (int k = 0; k < a->nobs; k++) tau[k] = 0.5;
  for (int W = 0; W <= wmax; W++) {
    fprintf(f, "%d", W);
    for (int k = 0; k < a->nobs; k++) {
      if (W > 0) tau[k] += a->obs[k].rho && W < a->obs[k].nrho ? a->obs[k].rho[W] : NAN;
      const double err = tau[k] * sqrt(fmax(0.0, 4.0 * (W + 0.5 - tau[k]) / (double)a->n));
      fprintf(f, " %.8g %.4g", tau[k], err);
    }
    fprintf(f, "\n");
  }
  return lf_plot_close_out(f, dir, "tauint.dat");
}

/* corr.dat (t, G, error) and meff.dat (t, m_eff, error: only the finite points); the
 * number of G(t) > 0 goes to *npos and of finite m_eff to *nmeff. */
static lf_status write_corr(const char *dir, const lf_analysis *a, int *npos, int *nmeff) {
  FILE *f = NULL;
  lf_status rc = lf_plot_open_out(&f, dir, "corr.dat");
  if (rc != LF_OK) return rc;
  fprintf(f, "# t G(t) error\n");
  *npos = *nmeff = 0;
  for (int t = 0; t < a->ncorr; t++) {
    fprintf(f, "%d %.10g %.4g\n", t, a->G[t], a->G_err[t]);
    *npos += isfinite(a->G[t]) && a->G[t] > 0;
  }
  if ((rc = lf_plot_close_out(f, dir, "corr.dat")) != LF_OK) return rc;
  if ((rc = lf_plot_open_out(&f, dir, "meff.dat")) != LF_OK) return rc;
  fprintf(f, "# t m_eff(t) error (finite points only)\n");
  for (int t = 1; t <= a->nmeff; t++)
    if (isfinite(a->meff[t])) {
      fprintf(f, "%d %.10g %.4g\n", t, a->meff[t], a->meff_err[t]);
      ++*nmeff;
    }
  return lf_plot_close_out(f, dir, "meff.dat");
}

/* The plots of G(t) (log scale when some G(t) > 0) and of m_eff(t) with the pole mass
 * drawn as a band value +- error over its fit range [pole_tmin, pole_tmax] (widened by
 * half a step on each side, so that a one-point range is visible). */
static lf_status plot_corr(FILE *gp, const char *dir, const lf_analysis *a) {
  int npos, nmeff;
  lf_status rc = write_corr(dir, a, &npos, &nmeff);
  if (rc == LF_OK)
    rc = lf_plot_png(gp, dir, "correlator",
                     npos ? "correlator G(t) with errors (log scale)"
                          : "correlator G(t) with errors (no G(t) > 0: linear scale)",
                     "t", "G(t)");
  if (rc != LF_OK) return rc;
  fprintf(gp,
          "%sset xrange [-0.5:%d.5]\nplot 'corr.dat' u 1:2:3 w yerrorbars pt 7 lc rgb '#000080' "
          "t 'G(t)', '' u 1:2 w l lc rgb '#8080c0' notitle\n",
          npos ? "set logscale y\n" : "", a->ncorr - 1);
  char title[256];
  const int band = a->pole_t > 0 && isfinite(a->pole_mass) && isfinite(a->pole_mass_err);
  char fit[96];
  if (isfinite(a->pole_chi2_dof))
    snprintf(fit, sizeof fit, "fit over t = %d..%d, chi^2/dof %.3g", a->pole_tmin, a->pole_tmax,
             a->pole_chi2_dof);
  else if (a->pole_tmax > a->pole_tmin)
    snprintf(fit, sizeof fit, "fit over t = %d..%d", a->pole_tmin, a->pole_tmax);
  else
    snprintf(fit, sizeof fit, "m_eff at t = %d", a->pole_tmin);
  if (band)
    snprintf(title, sizeof title, "effective mass m_eff(t); pole mass %.5g +- %.2g (%s)",
             a->pole_mass, a->pole_mass_err, fit);
  else
    snprintf(title, sizeof title, "effective mass m_eff(t) = arccosh((G(t-1) + G(t+1)) / 2G(t))");
  if ((rc = lf_plot_png(gp, dir, "meff", title, "t", "m_eff(t)")) != LF_OK) return rc;
  if (!nmeff) {
    lf_plot_placeholder(gp, "no finite m_eff(t): G(t) is noise at every t");
    return LF_OK;
  }
  /* y range from the points whose error is below their value (noise would hide them) */
  double lo = INFINITY, hi = -INFINITY;
  for (int t = 1; t <= a->nmeff; t++)
    if (isfinite(a->meff[t]) && a->meff_err[t] < fabs(a->meff[t])) {
      lo = fmin(lo, a->meff[t] - a->meff_err[t]);
      hi = fmax(hi, a->meff[t] + a->meff_err[t]);
    }
  if (band) {
    lo = fmin(lo, a->pole_mass - a->pole_mass_err);
    hi = fmax(hi, a->pole_mass + a->pole_mass_err);
  }
  if (hi > lo)
    fprintf(gp, "set yrange [%.10g:%.10g]\n", lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo));
  fprintf(gp, "set xrange [0.5:%d.5]\n", a->nmeff);
  /* the fit range is in t of G(t), up to T/2; m_eff stops at T/2 - 1: the band ends there */
  const int bt1 = a->pole_tmax < a->nmeff ? a->pole_tmax : a->nmeff;
  if (band)
    fprintf(gp,
            "set object 1 rect from %.1f,%.17g to %.1f,%.17g fc rgb '#f0a0a0' fs solid 0.5 "
            "noborder behind\nset arrow 1 from %.1f,%.17g to %.1f,%.17g nohead lw 2 "
            "lc rgb '#c00000'\n",
            a->pole_tmin - 0.5, a->pole_mass - a->pole_mass_err, bt1 + 0.5,
            a->pole_mass + a->pole_mass_err, a->pole_tmin - 0.5, a->pole_mass, bt1 + 0.5,
            a->pole_mass);
  fputs("plot 'meff.dat' u 1:2:3 w yerrorbars pt 7 ps 1.2 lc rgb '#000080' t 'm_eff(t)'", gp);
  if (band)
    fputs(", keyentry w filledcurves fc rgb '#f0a0a0' t 'pole mass +- error over the fit range'",
          gp);
  fputs("\n", gp);
  return LF_OK;
}

/* The three plots of observable k: history, rho(t) and tau_int(W) (column k+2 of
 * history.dat and acf.dat, columns 2k+2 and 2k+3 of tauint.dat). */
static lf_status plot_observable(FILE *gp, const char *dir, const lf_analysis *a, int k,
                                 size_t stride) {
  const lf_obs_stats *s = &a->obs[k];
  const char *what = a->kind == LF_ENS_HMC ? "trajectory" : "IMH step";
  char name[96], title[256];
  snprintf(name, sizeof name, "history_%s", s->name);
  snprintf(title, sizeof title, "%s: Monte Carlo history%s  (mean %.5g +- %.2g, tau_int %.3g)",
           s->name, stride > 1 ? " (every k-th step shown)" : "", s->g.value, s->g.error,
           s->g.tau_int);
  lf_status rc = lf_plot_png(gp, dir, name, title, what, s->name);
  if (rc != LF_OK) return rc;
  fprintf(gp,
          "plot 'history.dat' u 1:%d w l lc rgb '#406080' notitle, %.17g w l lw 2 lc rgb "
          "'#c00000' t 'mean'\n",
          k + 2, s->g.value);
  snprintf(name, sizeof name, "acf_%s", s->name);
  snprintf(title, sizeof title,
           "%s: normalized autocorrelation, window W = %d, tau_int = %.3g +- %.2g", s->name,
           s->g.window, s->g.tau_int, s->g.tau_int_error);
  if ((rc = lf_plot_png(gp, dir, name, title, "lag t", "rho(t)")) != LF_OK) return rc;
  const int lim = s->nrho < ACF_MAX ? s->nrho : ACF_MAX;
  const int xmax = s->g.window * 3 + 10 < lim ? s->g.window * 3 + 10 : lim;
  fprintf(gp,
          "set xrange [0:%d]\nset arrow from %d, graph 0 to %d, graph 1 nohead lc rgb '#c00000' "
          "dt 2 lw 2\nplot 'acf.dat' u 1:%d w lp pt 7 ps 0.6 lc rgb '#000080' t 'rho(t)', 0 w l "
          "lc rgb 'black' notitle, 1/0 w l lc rgb '#c00000' dt 2 lw 2 t 'window W'\n",
          xmax, s->g.window, s->g.window, k + 2);
  snprintf(name, sizeof name, "tauint_%s", s->name);
  snprintf(title, sizeof title,
           "%s: tau_int(W) = 1/2 + sum_{t<=W} rho(t); chosen W = %d, tau_int = %.3g +- %.2g",
           s->name, s->g.window, s->g.tau_int, s->g.tau_int_error);
  if ((rc = lf_plot_png(gp, dir, name, title, "summation window W", "tau_int(W)")) != LF_OK)
    return rc;
  /* the 1/2 line of independent data keeps the plot defined when rho is not */
  fprintf(gp,
          "set xrange [0:%d]\nset key bottom right\nset arrow from %d, graph 0 to %d, graph 1 "
          "nohead lc rgb '#c00000' dt 2 lw 2\nplot 'tauint.dat' u 1:($%d-$%d):($%d+$%d) w "
          "filledcurves fc rgb '#c0d0f0' t 'error (Wolff eq. 42)', '' u 1:%d w l lw 2 lc rgb "
          "'#000080' t 'tau_int(W)', 0.5 w l lc rgb 'black' dt 3 t 'independent data (1/2)', 1/0 "
          "w l lc rgb '#c00000' dt 2 lw 2 t 'chosen window W'",
          tau_xmax(s->g.window), s->g.window, s->g.window, 2 * k + 2, 2 * k + 3, 2 * k + 2,
          2 * k + 3, 2 * k + 2);
  /* the reported tau_int differs from tau_int(W) when the binned error was larger */
  if (isfinite(s->g.tau_int) && s->g.flags & LF_GAMMA_BINNED)
    fprintf(gp, ", %.17g w l lc rgb '#008000' dt 2 t 'reported (binned error)'", s->g.tau_int);
  fputs("\n", gp);
  return LF_OK;
}

/* The data files first, then the plots: per observable, the correlator, log w or dH
 * (plot_impl.h). */
lf_status lf_plot_ensemble(FILE *gp, const char *dir, const char *path, const lf_ensemble *e,
                           const lf_analysis *a) {
  size_t stride = 1;
  lf_status rc = write_history(dir, path, e, a, &stride);
  if (rc == LF_OK && a->kind != LF_ENS_HMC) rc = write_logw_hist(dir, e);
  if (rc == LF_OK) rc = write_acf(dir, e, a);
  for (int k = 0; k < a->nobs && rc == LF_OK; k++) rc = plot_observable(gp, dir, a, k, stride);
  if (rc == LF_OK && a->ncorr > 0) rc = plot_corr(gp, dir, a);
  if (rc != LF_OK) return rc;
  if (a->kind != LF_ENS_HMC) {
    if ((rc = lf_plot_png(gp, dir, "logw_hist", "histogram of log w = -S - log q (all proposals)",
                          "log w - max log w", "proposals")) != LF_OK)
      return rc;
    fputs("set style fill solid 0.6\nset logscale y\nplot 'logw_hist.dat' u 1:2 w boxes lc rgb "
          "'#406080' notitle\n",
          gp);
  } else {
    if ((rc = lf_plot_png(gp, dir, "dH_history", "HMC energy violation per trajectory",
                          "trajectory", "dH")) != LF_OK)
      return rc;
    fprintf(gp, "plot 'history.dat' u 1:%d w d lc rgb '#406080' notitle\n", e->info.nobs + 3);
  }
  return LF_OK;
}
