/* latflow/analyze.h: the analysis of an ensemble (`latflow analyze`, `plot`, `run`).
 *
 * For every observable k of the file, the Monte Carlo time series of each chain r is
 * x_i = obs[row_r[i]][k] over the chain steps i (IMH: one per proposal; HMC: one per
 * trajectory after thermalization, which the HMC writer does not store). Its mean, error,
 * tau_int and tau_int error come from the Gamma method with the binning cross-check
 * (latflow/gamma.h: the error is max(Gamma, binned)) with the chains as replicas and the
 * window parameter S and bin count K of lf_analyze_opts. Reweighting ensembles give
 * <O> = <O w>/<w> over all stored proposals.
 * Effective samples of observable k (one definition for every kind of ensemble):
 * eff_samples = Var(O) / error^2 with Var(O) the variance under the target (IMH, HMC:
 * Gamma(0) of the series, so N / (2 tau_int); reweighting: <O^2>_w - <O>_w^2, about
 * ESS N for an O that does not correlate with w); per second of generation, and with the
 * training time added as a second figure (flow only).
 * Flow ensembles also give the acceptance (accepted / steps), the ESS of the proposal
 * weights (lf_ess), ess_samples = ESS N, the Pareto k of the weights' tail
 * (lf_pareto_khat) and the longest run of consecutive rejections; HMC ensembles give
 * the acceptance and <exp(-dH)> with its error (must be 1).
 * Correlator (phi^4): G(t) for t = 0..ncorr-1 with errors (means over the chain like an
 * observable), the effective mass m_eff(t) = arccosh((G(t-1) + G(t+1)) / (2 G(t))),
 * t = 1..ncorr/2-1, as a derived quantity with Gamma-method errors (NaN where the
 * argument of arccosh is < 1: noise), and the pole mass from the fit of G(t) = A cosh(m (t -
 * T/2)), T = ncorr, over t = pole_tmin..pole_tmax = T/2 with the range rule of
 * latflow/fit.h (smallest tmin >= 1 with an acceptable uncorrelated chi^2/dof, which is
 * pole_chi2_dof). Its error is the Gamma method's for the fit as a derived function of the
 * means of G(t), t in the range (the range and the weights 1/G_err^2 held fixed); this
 * keeps the G(t) of the range as P = T/2 - tmin + 1 series of N values while it runs.
 *
 * Warnings (bits in warn, one sentence each in warnings; a number that cannot be
 * estimated is NaN, never 0, and the rest is still analysed):
 *   per observable: LF_WARN_NONFINITE (some values are NaN/Inf: mean and error NaN; the
 *   text names how many and the first chain and step), LF_WARN_CONSTANT (the series never
 *   changed: error and tau_int NaN), LF_WARN_SHORT (eff_samples < 50: N < 100 tau_int for
 *   a chain), LF_WARN_NO_WINDOW (the window search reached N/2), LF_WARN_SLOW (the binned
 *   error is significantly above the Gamma one: the autocorrelation has not decayed at W;
 *   the binned error is reported);
 *   per ensemble: LF_WARN_FROZEN (acceptance 0, or no chain ever changed its state),
 *   LF_WARN_LONG_RUN (flow: a rejection run longer than 5 % of the steps),
 *   LF_WARN_HEAVY_TAIL (flow: Pareto k of the weights >= 1/2: infinite variance, errors
 *   unreliable and usually too small), LF_WARN_DH (HMC: non-finite dH or exp(-dH):
 *   <exp(-dH)> NaN), LF_WARN_LOGW (reweighting: NaN or +Inf log weights, taken as w = 0),
 *   LF_WARN_CORR (non-finite correlator values: those G(t), m_eff NaN), LF_WARN_POLE (no
 *   fit possible: pole mass NaN and why; no acceptable chi^2/dof in any range: the best
 *   one is reported; only two points (T = 4); no error: the fit fails near the means or
 *   the G(t) do not fluctuate).
 * Local; allocates (rho arrays), free with lf_analysis_free. */
#ifndef LATFLOW_ANALYZE_H
#define LATFLOW_ANALYZE_H

#include "latflow/ensemble_data.h"
#include "latflow/gamma.h"
#include "latflow/status.h"

#define LF_ANA_MAX_WARN 8   /* sentences kept per observable and per ensemble */
#define LF_ANA_WARN_LEN 256 /* bytes per sentence */

enum lf_ana_warn {
  LF_WARN_NONFINITE = 1 << 0, /* observable */
  LF_WARN_CONSTANT = 1 << 1,
  LF_WARN_SHORT = 1 << 2,
  LF_WARN_NO_WINDOW = 1 << 3,
  LF_WARN_SLOW = 1 << 4,
  LF_WARN_FROZEN = 1 << 8, /* ensemble */
  LF_WARN_LONG_RUN = 1 << 9,
  LF_WARN_HEAVY_TAIL = 1 << 10,
  LF_WARN_DH = 1 << 11,
  LF_WARN_LOGW = 1 << 12,
  LF_WARN_CORR = 1 << 13,
  LF_WARN_POLE = 1 << 14
};

typedef struct lf_warnings {
  int n; /* sentences in text (more are counted in dropped) */
  int dropped;
  char text[LF_ANA_MAX_WARN][LF_ANA_WARN_LEN];
} lf_warnings;

/* Parameters of the error analysis (latflow/gamma.h): window S (default LF_GAMMA_S,
 * 0 = no autocorrelation) and bins K of the cross-check (default LF_GAMMA_BINS, 0 =
 * off). */
typedef struct lf_analyze_opts {
  double S;
  int bins;
} lf_analyze_opts;
#define LF_ANALYZE_OPTS_DEFAULT ((lf_analyze_opts){LF_GAMMA_S, LF_GAMMA_BINS})

typedef struct lf_obs_stats {
  char name[LF_NAME_MAX];
  lf_gamma_result g;      /* value/error NaN if the series is not finite              */
  double eff_samples;     /* Var(O) / error^2 (NaN if unknown)                         */
  double eff_per_s;       /* effective samples per second of generation            */
  double eff_per_s_total; /* ... with the training time included (flow; else NaN)  */
  size_t nonfinite;       /* non-finite values of the series                          */
  unsigned warn;          /* lf_ana_warn bits of this observable                      */
  lf_warnings warnings;
  double *rho; /* owned (nrho): normalized autocorrelation (plots)       */
  int nrho;
} lf_obs_stats;

typedef struct lf_analysis {
  lf_ens_kind kind;
  lf_analyze_opts opts;        /* as used */
  int R;                       /* chains */
  size_t n;                    /* chain steps in all chains (time-series length) */
  size_t rows;                 /* stored states in all chains */
  double acceptance;           /* accepted / steps (NaN if no steps) */
  double ess;                  /* flow: ESS of the weights; HMC: NaN */
  double ess_samples;          /* flow: ESS n; HMC: NaN */
  double pareto_k;             /* flow: lf_pareto_khat of the weights; HMC: NaN */
  long max_run;                /* flow: longest run of rejections; HMC: -1 */
  double exp_mdH, exp_mdH_err; /* HMC: <exp(-dH)> and its error; flow or non-finite: NaN */
  double gen_seconds, train_seconds;
  unsigned warn;        /* lf_ana_warn bits of the ensemble, and of any observable */
  lf_warnings warnings; /* the ensemble's sentences */
  int nobs;
  lf_obs_stats obs[LF_MAX_OBS];
  int ncorr;
  double G[LF_ENS_MAX_CORR], G_err[LF_ENS_MAX_CORR];
  int nmeff; /* m_eff(t) for t = 1..nmeff */
  double meff[LF_ENS_MAX_CORR], meff_err[LF_ENS_MAX_CORR];
  /* the pole mass (NaN, and a warning, if no fit or no error); pole_tmin..pole_tmax: the
   * fit range, t of G(t), inclusive, pole_tmax = T/2 (a band on m_eff(t) covers the same
   * t); pole_t = pole_tmin (kept for old readers); all 0 if no fit; pole_chi2_dof: the
   * uncorrelated chi^2/dof of the fit (NaN: no fit, or two points only) */
  int pole_t;
  double pole_mass, pole_mass_err;
  int pole_tmin, pole_tmax;
  double pole_chi2_dof;
} lf_analysis;

/* Analyses e (nrho: autocorrelation lags kept per observable, e.g. 100) with opts (NULL:
 * LF_ANALYZE_OPTS_DEFAULT). Non-finite data never fail the analysis (warnings above).
 * Errors: LF_ERR_FORMAT (fewer than 2 steps), LF_ERR_INVALID (bad opts), LF_ERR_NOMEM. */
lf_status lf_analyze_ex(const lf_ensemble *e, int nrho, const lf_analyze_opts *opts,
                        lf_analysis *a);
/* lf_analyze_ex with the default options. */
lf_status lf_analyze(const lf_ensemble *e, int nrho, lf_analysis *a);
void lf_analysis_free(lf_analysis *a);

#endif
