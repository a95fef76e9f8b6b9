/* latflow/gamma.h: Monte Carlo errors by the Gamma method with automatic windowing
 * (U. Wolff, "Monte Carlo errors with less errors", Comput. Phys. Commun. 156 (2004) 143,
 * hep-lat/0306017; equation numbers below refer to it).
 *
 * Data: R >= 1 replicas (independent chains) of lengths n_r, N = sum n_r, of P primary
 * observables; a[alpha] points to N values (the replicas one after the other). The
 * estimate of interest is F = f(abar) for a function f of the P means (P = 1 and f =
 * identity for a plain mean). Steps (Wolff sections 3.1-3.3):
 *   abar_alpha                                  overall means
 *   h_alpha = df/da_alpha at abar               numerical derivative, step
 *                                               sqrt(Gamma_alpha alpha(0)/N)/2 (eq. 38 area)
 *   a_f(i) = sum_alpha h_alpha (a_alpha(i) - abar_alpha)          projected fluctuation
 *   Gamma_F(t) = 1/(N - R t) sum_r sum_{i in r, i+t in r} a_f(i) a_f(i+t)     (eq. 31)
 *   C_F(W) = Gamma_F(0) + 2 sum_{t=1..W} Gamma_F(t),  tau_int(W) = C_F(W) / (2 Gamma_F(0))
 *   window W: the first W with g(W) < 0, g(W) = exp(-W/tau_W) - tau_W/sqrt(W N),
 *     tau_W = S / log((2 tau_int(W) + 1) / (2 tau_int(W) - 1)) (tau_W = tiny when
 *     tau_int(W) <= 1/2)                                             (eqs. 50-52)
 *   bias correction: Gamma_F(t) += C_F(W)/N for every t, so that C_F(W) becomes
 *     C_F(W) (1 + (2W + 1)/N) (eq. 49) and tau_int, rho use the corrected Gamma_F
 *   sigma_F^2 = C_F(W) / N;  tau_int error = tau_int sqrt(4 (W + 1/2 - tau_int)/N) (eq. 42)
 *   bias of F for R > 1 replicas: F is corrected as in eq. (40) only when R > 1.
 * tau_int uses the convention tau_int = 1/2 + sum_{t>=1} rho(t) (1/2 for independent
 * data); the error of a mean is sqrt(2 tau_int Gamma(0) / N). With the rho written by
 * these functions, tau_int = 1/2 + sum_{t=1..W} rho[t] holds exactly (both bias-corrected).
 * The window search (eq. 52) uses the uncorrected Gamma_F, as Wolff's UWerr does; W is
 * the summation window of C_F, i.e. lags 0..W enter (W = 0: no autocorrelation used).
 * Default S = 1.5 (LF_GAMMA_S); S = 0 means W = 0 (data taken as independent), as in
 * UWerr; S < 0 or non-finite is LF_ERR_INVALID. If no window is found up to
 * W_max = floor(min(n_r)/2) the result has window = W_max and flag LF_GAMMA_NO_WINDOW
 * (the Gamma error is then a lower bound). If C_F(W) <= 0 (strongly anticorrelated data,
 * where the window search stops at an odd lag) the naive W = 0 result is used with flag
 * LF_GAMMA_NEGATIVE.
 *
 * Binning cross-check (docs/PHYSICS.md, "Statistical errors"): the window misses
 * autocorrelations that decay slowly with a small amplitude (a slow HMC mode; the long,
 * heavy-tailed rejection runs of an IMH chain with a weak flow), while the means of long
 * bins see them. With K = bins > 0, replica r is cut into k_r = max(1, round(K n_r / N))
 * consecutive bins (at most n_r) of n_j values each (so R >= K gives one bin per replica;
 * Kb = sum_r k_r bins in all) and
 *   sigma_bin^2 = Kb/(Kb - 1) sum_j (n_j/N)^2 (abar_f,j - abar_f)^2
 * of the projected fluctuations a_f (batch means). The reported error is
 *   error = max(error_gamma, error_bin)
 * (flag LF_GAMMA_BINNED when the binned one is larger and used), with tau_int =
 * N error^2 / (2 Gamma_F(0)) (bias-corrected Gamma_F(0): the tau_int implied by the
 * reported error; equal to tau_int_gamma when the Gamma error is used), error_error =
 * eq. (43) or error / sqrt(2 (Kb - 1)), tau_int_error = eq. (42) or tau_int
 * sqrt(2/(Kb - 1)). LF_GAMMA_SLOW marks a binned error significantly above the Gamma one,
 * (error_bin/error_gamma)^2 > 1 + 3 sqrt(2/(Kb - 1)) (false alarm ~0.5 % for Kb = 32): the
 * autocorrelation has not decayed at W. bins = 0 switches the cross-check off (the Gamma
 * method alone, as before issue 12; error_bin = NaN); bins = 1 or < 0 is LF_ERR_INVALID.
 * Fewer than 2 bins in all (R = 1, K >= 2 always gives 2) leaves error_bin = NaN.
 *
 * Effective samples: variance is the variance of the quantity under the target
 * distribution (Gamma_F(0), bias-corrected, for means and derived quantities; the
 * reweighted variance <O^2>_w - <O>_w^2 for lf_gamma_reweighted) and eff_samples =
 * variance / error^2 (= N / (2 tau_int) for a mean). eff_samples < LF_GAMMA_MIN_EFF sets
 * LF_GAMMA_SHORT: the chain is too short for a trustworthy error (N < 100 tau_int).
 *
 * Constant data (Gamma_F(0) == 0, or a_f below 1e-10 of sum_alpha |h_alpha|
 * sqrt(Gamma_alpha alpha(0)), i.e. fluctuations that cancel to rounding, e.g. a
 * reweighted constant) has no error that data could estimate: error, error_error,
 * error_gamma, error_bin, tau_int, tau_int_gamma, tau_int_error and eff_samples are NaN,
 * variance 0, W = 0, rho = (1, 0, 0, ...) and flag LF_GAMMA_CONSTANT. Non-finite data is
 * LF_ERR_NUMERIC naming the observable, replica and index (latflow/analyze.h screens
 * each observable first, so that one bad series never sinks the others).
 *
 * Autocorrelation sums: a direct O(N W) sum for N <= LF_GAMMA_FFT_MIN, otherwise FFTW
 * (r2c/c2r per replica, zero-padded so there is no wrap-around); both give the same
 * Gamma_F(t) to rounding (relative 1e-13 of Gamma_F(0), tested to 1e-10).
 *
 * All functions are local; they allocate their own scratch (O(N)) and free it, and
 * return LF_OK, LF_ERR_INVALID (R < 1, P < 1, len == NULL, a replica shorter than 2,
 * a replica too long for FFTW's int sizes), LF_ERR_NOMEM or LF_ERR_NUMERIC. They plan
 * FFTs (FFTW_ESTIMATE), and FFTW's planner is not thread-safe: do not call them from
 * several threads at once. */
#ifndef LATFLOW_GAMMA_H
#define LATFLOW_GAMMA_H

#include "latflow/status.h"

#include <stddef.h>

#define LF_GAMMA_S 1.5
#define LF_GAMMA_BINS 32     /* default K of the binning cross-check */
#define LF_GAMMA_MIN_EFF 50. /* fewer effective samples: LF_GAMMA_SHORT */

enum lf_gamma_flag {
  LF_GAMMA_NO_WINDOW = 1, /* g(W) never turned negative: window = W_max            */
  LF_GAMMA_CONSTANT = 2,  /* Gamma_F(0) = 0: no error (NaN)                        */
  LF_GAMMA_NEGATIVE = 4,  /* C_F(W) <= 0: W = 0 (naive error) used instead          */
  LF_GAMMA_BINNED = 8,    /* error_bin > error_gamma: the binned error is reported  */
  LF_GAMMA_SLOW = 16,     /* error_bin significantly above error_gamma (slow modes) */
  LF_GAMMA_SHORT = 32     /* eff_samples < LF_GAMMA_MIN_EFF                         */
};

/* How Gamma(t) is summed: AUTO = FFT when N > LF_GAMMA_FFT_MIN, else direct. */
enum lf_gamma_method { LF_GAMMA_AUTO = 0, LF_GAMMA_DIRECT = 1, LF_GAMMA_FFT = 2 };
#define LF_GAMMA_FFT_MIN 4096

/* Parameters of the analysis: S of the window, K of the binning (0 = off), method. */
typedef struct lf_gamma_opts {
  double S;
  int bins;
  int method; /* enum lf_gamma_method */
} lf_gamma_opts;
#define LF_GAMMA_OPTS_DEFAULT ((lf_gamma_opts){LF_GAMMA_S, LF_GAMMA_BINS, LF_GAMMA_AUTO})

typedef struct lf_gamma_result {
  double value;         /* F (bias-corrected when R > 1)                             */
  double error;         /* reported sigma_F = max(error_gamma, error_bin)             */
  double error_error;   /* its error: eq. (43), or error / sqrt(2 (bins - 1))         */
  double tau_int;       /* N error^2 / (2 Gamma_F(0)): implied by the reported error  */
  double tau_int_error; /* eq. 42, or tau_int sqrt(2 / (bins - 1))                    */
  double error_gamma;   /* the Gamma-method error alone (window W)                    */
  double tau_int_gamma; /* the Gamma-method tau_int at W                              */
  double error_bin;     /* the binned error (NaN: no binning)                         */
  int bins;             /* bins of error_bin (0: none)                                */
  double variance;      /* variance of the quantity under the target (see above)      */
  double eff_samples;   /* variance / error^2                                         */
  int window;           /* W                                                          */
  int flags;            /* lf_gamma_flag bits                                         */
  size_t n;             /* N                                                          */
  int replicas;         /* R                                                          */
} lf_gamma_result;

/* Mean of one observable x (N values; R replicas of lengths len[r], sum = N). len must
 * not be NULL, also for R = 1 (N is not known otherwise): pass &N. If rho is not NULL,
 * rho[t] = Gamma(t)/Gamma(0) (bias-corrected, see above) is written for t = 0 .. nrho-1
 * (0 beyond the largest lag the data allow, min(n_r) - 1). The value is the plain mean
 * (no replica bias correction: it vanishes for a linear f). */
lf_status lf_gamma_mean(int R, const size_t *len, const double *x, double S, lf_gamma_result *out,
                        double *rho, size_t nrho);

/* Derived quantity F = f(abar) of P primary observables a[0..P-1] (each N values). f
 * gets the P means and ctx; it must be finite near abar. rho as above (of a_f). */
typedef double (*lf_gamma_fn)(const double *abar, void *ctx);
lf_status lf_gamma_derived(int R, const size_t *len, int P, const double *const *a, lf_gamma_fn f,
                           void *ctx, double S, lf_gamma_result *out, double *rho, size_t nrho);

/* Reweighted mean <O>_p = <O w>_q / <w>_q from proposals with log weights logw (N
 * values; w is formed relative to max logw, so any finite logw works; logw = -inf is
 * w = 0, NaN or +inf is LF_ERR_NUMERIC, and so are weights that are all 0): the derived
 * quantity of the primaries (O w, w), with the exact derivatives of the ratio
 * (1/wbar, -<O w>/wbar^2) instead of numerical ones, so that a constant O gives
 * LF_GAMMA_CONSTANT. */
lf_status lf_gamma_reweighted(int R, const size_t *len, const double *x, const double *logw,
                              double S, lf_gamma_result *out);

/* lf_gamma_derived with the autocorrelation sum forced (method: enum lf_gamma_method);
 * lf_gamma_derived is this with LF_GAMMA_AUTO. For tests and benchmarks. */
lf_status lf_gamma_derived_method(int R, const size_t *len, int P, const double *const *a,
                                  lf_gamma_fn f, void *ctx, double S, int method,
                                  lf_gamma_result *out, double *rho, size_t nrho);

/* The unbiased autocorrelation function of x about its overall mean xbar (eq. 31, no
 * bias correction): gamma[t] = 1/(N - R t) sum_r sum_{i, i+t in r} (x_i - xbar)(x_{i+t} -
 * xbar) for t = 0 .. nlag-1; nlag <= min(n_r) (LF_ERR_INVALID otherwise). */
lf_status lf_gamma_autocorr(int R, const size_t *len, const double *x, size_t nlag, int method,
                            double *gamma);

/* The same three estimates with all parameters in opts (S, bins, method); the functions
 * above are these with {S, LF_GAMMA_BINS, LF_GAMMA_AUTO} (lf_gamma_derived_method: its
 * method). */
lf_status lf_gamma_mean_opts(int R, const size_t *len, const double *x, const lf_gamma_opts *opts,
                             lf_gamma_result *out, double *rho, size_t nrho);
lf_status lf_gamma_derived_opts(int R, const size_t *len, int P, const double *const *a,
                                lf_gamma_fn f, void *ctx, const lf_gamma_opts *opts,
                                lf_gamma_result *out, double *rho, size_t nrho);
lf_status lf_gamma_reweighted_opts(int R, const size_t *len, const double *x, const double *logw,
                                   const lf_gamma_opts *opts, lf_gamma_result *out);

#endif
