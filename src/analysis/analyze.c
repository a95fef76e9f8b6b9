/* src/analysis/analyze.c: observables, errors and chain statistics of an ensemble
 * (contract: latflow/analyze.h). */
#include "latflow/analyze.h"

#include "latflow/analysis.h"
#include "latflow/fit.h"
#include "latflow/timer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lf_analysis_free(lf_analysis *a) {
  for (int k = 0; k < LF_MAX_OBS; k++) lf_free(a->obs[k].rho);
  memset(a, 0, sizeof *a);
}

/* The time series of column k of a per-row table (width w) along the chains: out (n). */
static void series(const lf_ensemble *e, double *const *tab, int w, int k, double *out) {
  size_t o = 0;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++) out[o++] = tab[r][(size_t)e->chain[r][i].row * w + k];
}

static double meff_fn(const double *a, void *ctx) {
  (void)ctx;
  const double c = (a[0] + a[2]) / (2.0 * a[1]);
  return c >= 1.0 ? acosh(c) : NAN;
}

/* With weights as the last primary (reweighting): the same ratio, w cancels. */
static double meff_w_fn(const double *a, void *ctx) {
  return meff_fn(a, ctx);
}

/* Appends one sentence to w (counted in dropped when full). */
static void warn_add(lf_warnings *w, const char *fmt, ...) {
  if (w->n >= LF_ANA_MAX_WARN) {
    w->dropped++;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->text[w->n++], LF_ANA_WARN_LEN, fmt, ap);
  va_end(ap);
}

/* Non-finite values of x (n): their count, and the chain, step and value of the first. */
static size_t count_nonfinite(const lf_ensemble *e, const double *x, int *r0, size_t *i0,
                              double *v0) {
  size_t bad = 0, o = 0;
  for (int r = 0; r < e->R; r++)
    for (size_t i = 0; i < e->steps[r]; i++, o++)
      if (!isfinite(x[o]) && bad++ == 0) {
        *r0 = r;
        *i0 = i;
        *v0 = x[o];
      }
  return bad;
}

/* The warnings that follow from an observable's Gamma result (latflow/gamma.h flags). */
static void obs_warnings(lf_obs_stats *s, const lf_analysis *a) {
  const lf_gamma_result *g = &s->g;
  if (g->flags & LF_GAMMA_CONSTANT) {
    s->warn |= LF_WARN_CONSTANT;
    warn_add(&s->warnings,
             "%s never changed in %zu steps: no error can be estimated (error and tau_int null)",
             s->name, a->n);
    return;
  }
  if (g->flags & LF_GAMMA_SHORT) {
    s->warn |= LF_WARN_SHORT;
    warn_add(&s->warnings,
             "%s: only %.0f effective samples (< %.0f; N = %zu, tau_int %.3g): the chain is too "
             "short for a trustworthy error",
             s->name, g->eff_samples, LF_GAMMA_MIN_EFF, a->n, g->tau_int);
  }
  if (g->flags & LF_GAMMA_NO_WINDOW) {
    s->warn |= LF_WARN_NO_WINDOW;
    warn_add(&s->warnings,
             "%s: the automatic window reached N/2 (W = %d) without the autocorrelation "
             "decaying: the chain is too short and the error may be a lower bound",
             s->name, g->window);
  }
  if (g->flags & LF_GAMMA_SLOW) {
    s->warn |= LF_WARN_SLOW;
    warn_add(&s->warnings,
             "%s: the autocorrelation has not decayed at the window W = %d: the binned error "
             "(%d bins) %.3g is %.2f x the Gamma error and is reported; run longer",
             s->name, g->window, g->bins, g->error_bin, g->error_bin / g->error_gamma);
  }
}

/* The context of pole_fn: the fit range, the fixed weights and where the weights' mean is. */
typedef struct pole_ctx {
  int T, t0, t1;
  const double *err; /* (T) the errors of the G(t), fixed weights of the fit */
  int rew;           /* 1: abar[t1 - t0 + 1] is <w> and abar[j] = <G(t0 + j) w> */
} pole_ctx;

/* The fitted mass as a function of the means of the G(t) in the range (NaN: no fit). */
static double pole_fn(const double *abar, void *ctx) {
  const pole_ctx *c = ctx;
  double G[LF_ENS_MAX_CORR];
  const int P = c->t1 - c->t0 + 1;
  for (int j = 0; j < P; j++) G[c->t0 + j] = c->rew ? abar[j] / abar[P] : abar[j];
  lf_cosh_fit f;
  return lf_cosh_fit_eval(c->T, c->t0, c->t1, G, c->err, &f) ? f.m : NAN;
}

/* The pole mass (latflow/fit.h): the range and the fit from the means G(t), then its error
 * by the Gamma method with the fit as a derived function of the means of the G(t) in the
 * range (with the weights w as the last primary when wrel is not NULL: (n) w relative to
 * the largest). A missing fit or error is NaN with a warning. */
static lf_status pole_mass(const lf_ensemble *e, const size_t *len, const double *wrel,
                           const lf_gamma_opts *go, lf_analysis *a) {
  lf_status rc = LF_OK;
  a->pole_mass = a->pole_mass_err = a->pole_chi2_dof = NAN;
  lf_pole_fit pf;
  if (lf_pole_fit_choose(a->ncorr, a->G, a->G_err, &pf) == LF_POLE_NONE) {
    a->warn |= LF_WARN_POLE;
    warn_add(&a->warnings,
             "no pole mass: no fit of G(t) = A cosh(m (t - T/2)) over t = tmin..%d is possible: "
             "%s; see m_eff(t)",
             a->ncorr / 2, pf.fit.why ? pf.fit.why : "no range");
    return LF_OK;
  }
  a->pole_t = a->pole_tmin = pf.tmin;
  a->pole_tmax = pf.tmax;
  a->pole_mass = pf.fit.m;
  a->pole_chi2_dof = pf.chi2_dof;
  if (pf.quality == LF_POLE_POOR) {
    a->warn |= LF_WARN_POLE;
    warn_add(&a->warnings,
             "pole mass: no fit range has an acceptable chi^2/dof; the best one (t = %d..%d, "
             "chi^2/dof = %.3g) is reported: excited states or too few samples",
             pf.tmin, pf.tmax, pf.chi2_dof);
  } else if (pf.quality == LF_POLE_EXACT) {
    a->warn |= LF_WARN_POLE;
    warn_add(&a->warnings,
             "pole mass from the two points t = %d..%d only (T = %d): nothing checks that one "
             "state describes G(t)",
             pf.tmin, pf.tmax, a->ncorr);
  }
  const size_t n = a->n;
  const int P = pf.tmax - pf.tmin + 1, np = P + (wrel ? 1 : 0);
  double *buf = lf_alloc((size_t)P * n * sizeof *buf);
  const double *pp[LF_ENS_MAX_CORR / 2 + 2];
  if (!buf) return LF_FAIL(LF_ERR_NOMEM, "pole mass: %d series of %zu steps", P, n);
  for (int j = 0; j < P; j++) {
    double *x = buf + (size_t)j * n;
    series(e, e->corr, a->ncorr, pf.tmin + j, x);
    if (wrel)
      for (size_t i = 0; i < n; i++) x[i] *= wrel[i];
    pp[j] = x;
  }
  if (wrel) pp[P] = wrel;
  pole_ctx ctx = {a->ncorr, pf.tmin, pf.tmax, a->G_err, wrel != NULL};
  lf_gamma_result g;
  rc = lf_gamma_derived_opts(e->R, len, np, pp, pole_fn, &ctx, go, &g, NULL, 0);
  if (rc == LF_OK && isfinite(g.value)) {
    a->pole_mass = g.value;
    a->pole_mass_err = g.error;
    if (!isfinite(g.error)) {
      a->warn |= LF_WARN_POLE;
      warn_add(&a->warnings,
               "pole mass: the Gamma method gives no error for the fit over t = %d..%d (the "
               "G(t) do not fluctuate)",
               pf.tmin, pf.tmax);
    }
  } else {
    a->warn |= LF_WARN_POLE;
    warn_add(&a->warnings,
             "pole mass: the fit over t = %d..%d fails near the mean G(t) (%s): its error is "
             "omitted",
             pf.tmin, pf.tmax, rc != LF_OK ? lf_last_error() : "not finite");
  }
  lf_free(buf);
  return rc == LF_ERR_NOMEM ? rc : LF_OK;
}

lf_status lf_analyze(const lf_ensemble *e, int nrho, lf_analysis *a) {
  return lf_analyze_ex(e, nrho, NULL, a);
}

lf_status lf_analyze_ex(const lf_ensemble *e, int nrho, const lf_analyze_opts *opts,
                        lf_analysis *a) {
  lf_status rc = LF_OK;
  memset(a, 0, sizeof *a);
  a->opts = opts ? *opts : LF_ANALYZE_OPTS_DEFAULT;
  if (!(a->opts.S >= 0.0) || !isfinite(a->opts.S) || a->opts.bins < 0 || a->opts.bins == 1)
    return LF_FAIL(LF_ERR_INVALID, "analysis: S = %g, bins = %d (need S >= 0, bins 0 or >= 2)",
                   a->opts.S, a->opts.bins);
  const lf_gamma_opts go = {a->opts.S, a->opts.bins, LF_GAMMA_AUTO};
  a->kind = e->info.kind;
  a->R = e->R;
  a->gen_seconds = e->info.gen_seconds;
  a->train_seconds = e->info.train_seconds;
  size_t n = 0, rows = 0, acc = 0;
  for (int r = 0; r < e->R; r++) {
    n += e->steps[r];
    rows += e->rows[r];
  }
  a->n = n;
  a->rows = rows;
  if (n < 2) return LF_FAIL(LF_ERR_FORMAT, "ensemble has %zu chain steps; need at least 2", n);
  size_t *len = lf_alloc((size_t)e->R * sizeof *len);
  double *x = lf_alloc(n * sizeof *x), *lw = lf_alloc(n * sizeof *lw);
  double *p3[4] = {lf_alloc(n * sizeof(double)), lf_alloc(n * sizeof(double)),
                   lf_alloc(n * sizeof(double)), lf_alloc(n * sizeof(double))};
  if (!len || !x || !lw || !p3[0] || !p3[1] || !p3[2] || !p3[3]) {
    rc = LF_FAIL(LF_ERR_NOMEM, "analysis buffers for %zu steps", n);
    goto fail;
  }
  for (int r = 0; r < e->R; r++) len[r] = e->steps[r];
  /* chain statistics */
  long run = 0, max_run = 0;
  int moved = 0; /* some chain changed its state */
  size_t o = 0;
  for (int r = 0; r < e->R; r++) {
    run = 0;
    for (size_t i = 0; i < e->steps[r]; i++, o++) {
      const lf_ens_step *s = &e->chain[r][i];
      acc += s->accepted ? 1 : 0;
      lw[o] = s->logw;
      run = s->accepted ? 0 : run + 1;
      if (run > max_run) max_run = run;
      if (i > 0 && s->row != e->chain[r][i - 1].row) moved = 1;
    }
  }
  a->acceptance = (double)acc / (double)n;
  const int flow = a->kind != LF_ENS_HMC;
  const int rew = a->kind == LF_ENS_REWEIGHT;
  a->ess = flow ? lf_ess(n, lw) : NAN;
  a->ess_samples = flow ? a->ess * (double)n : NAN;
  a->pareto_k = flow ? lf_pareto_khat(n, lw, x) : NAN;
  a->max_run = flow ? max_run : -1;
  a->exp_mdH = a->exp_mdH_err = NAN;
  if (acc == 0 || !moved) {
    a->warn |= LF_WARN_FROZEN;
    warn_add(&a->warnings,
             "the chain never moved (acceptance %.3g, %s): its observables are constant and "
             "say nothing about the distribution",
             a->acceptance, moved ? "no accepted step" : "every step stayed in its first state");
  }
  if (flow && (double)max_run > 0.05 * (double)n) {
    a->warn |= LF_WARN_LONG_RUN;
    warn_add(&a->warnings,
             "the chain sat on one state for %ld steps (%.0f%% of the run): errors may be "
             "underestimated; train the flow longer or draw more proposals",
             max_run, 100.0 * (double)max_run / (double)n);
  }
  if (flow && a->pareto_k >= 0.5) {
    a->warn |= LF_WARN_HEAVY_TAIL;
    warn_add(&a->warnings,
             "the weights have a heavy tail (Pareto k = %.2f >= %s): %s (errors are usually too "
             "small); train the flow better",
             a->pareto_k, a->pareto_k >= 0.7 ? "0.7" : "0.5",
             a->pareto_k >= 0.7 ? "estimates and their errors cannot be trusted"
                                : "their variance is infinite and errors converge slowly");
  }
  if (rew) { /* NaN or +inf log weights have no meaning: weight 0, and said so */
    int r0 = 0;
    size_t i0 = 0, bad = 0;
    o = 0;
    for (int r = 0; r < e->R; r++)
      for (size_t i = 0; i < e->steps[r]; i++, o++)
        if ((isnan(lw[o]) || lw[o] == INFINITY) && bad++ == 0) {
          r0 = r;
          i0 = i;
        }
    if (bad) {
      for (o = 0; o < n; o++)
        if (isnan(lw[o]) || lw[o] == INFINITY) lw[o] = -INFINITY;
      a->warn |= LF_WARN_LOGW;
      warn_add(&a->warnings,
               "%zu of %zu log weights are NaN or +Inf (first: chain %d, step %zu): taken as "
               "weight 0",
               bad, n, r0, i0);
    }
  }
  if (!flow) {
    o = 0;
    for (int r = 0; r < e->R; r++)
      for (size_t i = 0; i < e->steps[r]; i++) { /* dH = +inf also means a broken trajectory */
        const double dH = e->chain[r][i].dH;
        x[o++] = isfinite(dH) ? exp(-dH) : NAN;
      }
    int r0 = 0;
    size_t i0 = 0;
    double v0 = 0.0;
    const size_t bad = count_nonfinite(e, x, &r0, &i0, &v0);
    if (bad) {
      a->warn |= LF_WARN_DH;
      warn_add(&a->warnings,
               "dH is not finite (or exp(-dH) overflows) in %zu of %zu trajectories (first: "
               "chain %d, trajectory %zu, dH = %g): <exp(-dH)> omitted",
               bad, n, r0, i0, e->chain[r0][i0].dH);
    } else {
      lf_gamma_result g;
      LF_CHECK(lf_gamma_mean_opts(e->R, len, x, &go, &g, NULL, 0));
      a->exp_mdH = g.value;
      a->exp_mdH_err = g.error;
    }
  }
  /* observables: a series with non-finite values gets NaN and a warning, the rest goes on */
  a->nobs = e->info.nobs;
  for (int k = 0; k < a->nobs; k++) {
    lf_obs_stats *s = &a->obs[k];
    snprintf(s->name, sizeof s->name, "%s", e->info.obs_names[k]);
    series(e, e->obs, e->info.nobs, k, x);
    if (nrho > 0) {
      s->rho = lf_alloc((size_t)nrho * sizeof(double));
      if (!s->rho) {
        rc = LF_FAIL(LF_ERR_NOMEM, "autocorrelation of %s", s->name);
        goto fail;
      }
      s->nrho = nrho;
      for (int t = 0; t < nrho; t++) s->rho[t] = NAN;
    }
    int r0 = 0;
    size_t i0 = 0;
    double v0 = 0.0;
    s->nonfinite = count_nonfinite(e, x, &r0, &i0, &v0);
    if (s->nonfinite) {
      const double NaN = NAN;
      s->g = (lf_gamma_result){NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 0, NaN, NaN, 0, 0, n, e->R};
      s->eff_samples = s->eff_per_s = s->eff_per_s_total = NAN;
      s->warn |= LF_WARN_NONFINITE;
      warn_add(&s->warnings,
               "%s is not finite in %zu of %zu steps (first: chain %d, step %zu, value %g): mean "
               "and error omitted",
               s->name, s->nonfinite, n, r0, i0, v0);
      a->warn |= s->warn;
      continue;
    }
    if (rew)
      LF_CHECK(lf_gamma_reweighted_opts(e->R, len, x, lw, &go, &s->g));
    else
      LF_CHECK(lf_gamma_mean_opts(e->R, len, x, &go, &s->g, s->rho, (size_t)s->nrho));
    if (rew && s->rho) { /* the autocorrelation of the raw series, for the plots */
      lf_gamma_result tmp;
      LF_CHECK(lf_gamma_mean_opts(e->R, len, x, &go, &tmp, s->rho, (size_t)s->nrho));
    }
    s->eff_samples = s->g.eff_samples;
    s->eff_per_s = a->gen_seconds > 0 ? s->eff_samples / a->gen_seconds : NAN;
    s->eff_per_s_total = flow && a->gen_seconds + a->train_seconds > 0
                             ? s->eff_samples / (a->gen_seconds + a->train_seconds)
                             : NAN;
    obs_warnings(s, a);
    a->warn |= s->warn;
  }
  /* correlator and effective mass */
  a->ncorr = e->info.ncorr;
  if (a->ncorr > 0) {
    double wmax = -INFINITY;
    if (rew) {
      for (size_t i = 0; i < n; i++) wmax = fmax(wmax, lw[i]);
      for (size_t i = 0; i < n; i++) p3[3][i] = exp(lw[i] - wmax);
    }
    size_t cbad = 0;
    int cr0 = 0;
    size_t ci0 = 0;
    double cv0 = 0.0;
    for (int t = 0; t < a->ncorr; t++) {
      series(e, e->corr, a->ncorr, t, x);
      int r0 = 0;
      size_t i0 = 0;
      double v0 = 0.0;
      const size_t bad = count_nonfinite(e, x, &r0, &i0, &v0);
      if (bad) {
        if (cbad == 0) {
          cr0 = r0;
          ci0 = i0;
          cv0 = v0;
        }
        cbad += bad;
        a->G[t] = a->G_err[t] = NAN;
        continue;
      }
      lf_gamma_result g;
      if (rew)
        LF_CHECK(lf_gamma_reweighted_opts(e->R, len, x, lw, &go, &g));
      else
        LF_CHECK(lf_gamma_mean_opts(e->R, len, x, &go, &g, NULL, 0));
      a->G[t] = g.value;
      a->G_err[t] = g.error;
    }
    if (cbad) {
      a->warn |= LF_WARN_CORR;
      warn_add(&a->warnings,
               "the correlator has %zu non-finite values (first: chain %d, step %zu, value %g): "
               "those G(t) and the m_eff that use them are omitted",
               cbad, cr0, ci0, cv0);
    }
    a->nmeff = a->ncorr / 2 - 1;
    for (int t = 1; t <= a->nmeff; t++) {
      for (int j = 0; j < 3; j++) {
        series(e, e->corr, a->ncorr, t - 1 + j, p3[j]);
        if (rew)
          for (size_t i = 0; i < n; i++) p3[j][i] *= p3[3][i];
      }
      const double *pp[4] = {p3[0], p3[1], p3[2], p3[3]};
      double abar[3] = {a->G[t - 1], a->G[t], a->G[t + 1]};
      lf_gamma_result g;
      if (!isfinite(meff_fn(abar, NULL))) {
        a->meff[t] = a->meff_err[t] = NAN;
        continue;
      }
      const lf_status r2 = lf_gamma_derived_opts(e->R, len, rew ? 4 : 3, pp,
                                                 rew ? meff_w_fn : meff_fn, NULL, &go, &g, NULL, 0);
      if (r2 != LF_OK || !isfinite(g.value)) {
        a->meff[t] = a->meff_err[t] = NAN;
        continue;
      }
      a->meff[t] = g.value;
      a->meff_err[t] = g.error;
    }
    if (a->nmeff >= 1) LF_CHECK(pole_mass(e, len, rew ? p3[3] : NULL, &go, a));
  }
fail:
  lf_free(len);
  lf_free(x);
  lf_free(lw);
  for (int j = 0; j < 4; j++) lf_free(p3[j]);
  if (rc != LF_OK) lf_analysis_free(a);
  return rc;
}
