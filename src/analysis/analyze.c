/* src/analysis/analyze.c: observables, errors and chain statistics of an ensemble
 * (contract: latflow/analyze.h). */
#include "latflow/analyze.h"

#include "latflow/analysis.h"
#include "latflow/timer.h"

#include <math.h>
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

lf_status lf_analyze(const lf_ensemble *e, int nrho, lf_analysis *a) {
  lf_status rc = LF_OK;
  memset(a, 0, sizeof *a);
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
  size_t o = 0;
  for (int r = 0; r < e->R; r++) {
    run = 0;
    for (size_t i = 0; i < e->steps[r]; i++, o++) {
      const lf_ens_step *s = &e->chain[r][i];
      acc += s->accepted ? 1 : 0;
      lw[o] = s->logw;
      run = s->accepted ? 0 : run + 1;
      if (run > max_run) max_run = run;
    }
  }
  a->acceptance = (double)acc / (double)n;
  const int flow = a->kind != LF_ENS_HMC;
  const int rew = a->kind == LF_ENS_REWEIGHT;
  a->ess = flow ? lf_ess(n, lw) : NAN;
  a->max_run = flow ? max_run : -1;
  a->exp_mdH = a->exp_mdH_err = NAN;
  if (!flow) {
    o = 0;
    for (int r = 0; r < e->R; r++)
      for (size_t i = 0; i < e->steps[r]; i++) x[o++] = exp(-e->chain[r][i].dH);
    lf_gamma_result g;
    LF_CHECK(lf_gamma_mean(e->R, len, x, LF_GAMMA_S, &g, NULL, 0));
    a->exp_mdH = g.value;
    a->exp_mdH_err = g.error;
  }
  /* observables */
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
    }
    if (rew)
      LF_CHECK(lf_gamma_reweighted(e->R, len, x, lw, LF_GAMMA_S, &s->g));
    else
      LF_CHECK(lf_gamma_mean(e->R, len, x, LF_GAMMA_S, &s->g, s->rho, (size_t)s->nrho));
    if (rew && s->rho) { /* the autocorrelation of the raw series, for the plots */
      lf_gamma_result tmp;
      LF_CHECK(lf_gamma_mean(e->R, len, x, LF_GAMMA_S, &tmp, s->rho, (size_t)s->nrho));
    }
    const double neff = (double)n / (2.0 * s->g.tau_int);
    s->eff_per_s = a->gen_seconds > 0 ? neff / a->gen_seconds : NAN;
    s->eff_per_s_total = flow && a->gen_seconds + a->train_seconds > 0
                             ? neff / (a->gen_seconds + a->train_seconds)
                             : NAN;
  }
  /* correlator and effective mass */
  a->ncorr = e->info.ncorr;
  if (a->ncorr > 0) {
    double wmax = -INFINITY;
    if (rew) {
      for (size_t i = 0; i < n; i++) wmax = fmax(wmax, lw[i]);
      for (size_t i = 0; i < n; i++) p3[3][i] = exp(lw[i] - wmax);
    }
    for (int t = 0; t < a->ncorr; t++) {
      series(e, e->corr, a->ncorr, t, x);
      lf_gamma_result g;
      if (rew)
        LF_CHECK(lf_gamma_reweighted(e->R, len, x, lw, LF_GAMMA_S, &g));
      else
        LF_CHECK(lf_gamma_mean(e->R, len, x, LF_GAMMA_S, &g, NULL, 0));
      a->G[t] = g.value;
      a->G_err[t] = g.error;
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
      const lf_status r2 = lf_gamma_derived(e->R, len, rew ? 4 : 3, pp, rew ? meff_w_fn : meff_fn,
                                            NULL, LF_GAMMA_S, &g, NULL, 0);
      if (r2 != LF_OK || !isfinite(g.value)) {
        a->meff[t] = a->meff_err[t] = NAN;
        continue;
      }
      a->meff[t] = g.value;
      a->meff_err[t] = g.error;
    }
    if (a->nmeff >= 1) {
      a->pole_t = a->ncorr / 4 > 1 ? a->ncorr / 4 : 1;
      a->pole_mass = a->meff[a->pole_t];
      a->pole_mass_err = a->meff_err[a->pole_t];
    }
  }
fail:
  lf_free(len);
  lf_free(x);
  lf_free(lw);
  for (int j = 0; j < 4; j++) lf_free(p3[j]);
  if (rc != LF_OK) lf_analysis_free(a);
  return rc;
}
