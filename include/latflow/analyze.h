/* latflow/analyze.h: the analysis of an ensemble (`latflow analyze`, `plot`, `run`).
 *
 * For every observable k of the file, the Monte Carlo time series of each chain r is
 * x_i = obs[row_r[i]][k] over the chain steps i (IMH: one per proposal; HMC: one per
 * trajectory after thermalization, which the HMC writer does not store). Its mean, error,
 * tau_int and tau_int error come from the Gamma method (latflow/gamma.h) with the chains
 * as replicas. Reweighting ensembles give <O> = <O w>/<w> over all stored proposals.
 * Effective samples per second of observable k: N / (2 tau_int) / gen_seconds, and with
 * the training time added to the generation time as a second figure (flow only).
 * Flow ensembles also give the acceptance (accepted / steps), the ESS of the proposal
 * weights (lf_ess) and the longest run of consecutive rejections; HMC ensembles give
 * the acceptance and <exp(-dH)> with its error (must be 1).
 * Correlator (phi^4): G(t) for t = 0..ncorr-1 with errors (means over the chain like an
 * observable), the effective mass m_eff(t) = arccosh((G(t-1) + G(t+1)) / (2 G(t))),
 * t = 1..ncorr/2-1, as a derived quantity with Gamma-method errors, and the pole mass
 * = m_eff at t = max(1, ncorr/4) (a point between the contact term and the symmetric
 * middle; the table of m_eff(t) is given too). m_eff is NaN where the argument of arccosh
 * is < 1 (noise).
 * Local; allocates (rho arrays), free with lf_analysis_free. */
#ifndef LATFLOW_ANALYZE_H
#define LATFLOW_ANALYZE_H

#include "latflow/ensemble.h"
#include "latflow/gamma.h"
#include "latflow/status.h"

typedef struct lf_obs_stats {
  char name[LF_NAME_MAX];
  lf_gamma_result g;
  double eff_per_s;       /* effective samples per second of generation            */
  double eff_per_s_total; /* ... with the training time included (flow; else NaN)  */
  double *rho;            /* owned (nrho): normalized autocorrelation (plots)       */
  int nrho;
} lf_obs_stats;

typedef struct lf_analysis {
  lf_ens_kind kind;
  int R;                       /* chains */
  size_t n;                    /* chain steps in all chains (time-series length) */
  size_t rows;                 /* stored states in all chains */
  double acceptance;           /* accepted / steps (NaN if no steps) */
  double ess;                  /* flow: ESS of the weights; HMC: NaN */
  long max_run;                /* flow: longest run of rejections; HMC: -1 */
  double exp_mdH, exp_mdH_err; /* HMC: <exp(-dH)> and its error; flow: NaN */
  double gen_seconds, train_seconds;
  int nobs;
  lf_obs_stats obs[LF_MAX_OBS];
  int ncorr;
  double G[LF_ENS_MAX_CORR], G_err[LF_ENS_MAX_CORR];
  int nmeff; /* m_eff(t) for t = 1..nmeff */
  double meff[LF_ENS_MAX_CORR], meff_err[LF_ENS_MAX_CORR];
  int pole_t; /* 0: no pole mass */
  double pole_mass, pole_mass_err;
} lf_analysis;

/* Analyses e (nrho: autocorrelation lags kept per observable, e.g. 100). Errors:
 * LF_ERR_FORMAT (no steps), LF_ERR_NOMEM, LF_ERR_NUMERIC (non-finite data). */
lf_status lf_analyze(const lf_ensemble *e, int nrho, lf_analysis *a);
void lf_analysis_free(lf_analysis *a);

#endif
