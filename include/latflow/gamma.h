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
 * (the error is then a lower bound). Constant data (Gamma_F(0) == 0, or a_f below
 * 1e-10 of sum_alpha |h_alpha| sqrt(Gamma_alpha alpha(0)), i.e. fluctuations that
 * cancel to rounding, e.g. a reweighted constant) gives error 0, tau_int 0.5, W = 0,
 * rho = (1, 0, 0, ...) and flag LF_GAMMA_CONSTANT. If C_F(W) <= 0 (strongly
 * anticorrelated data, where the window search stops at an odd lag) the naive W = 0
 * result is returned with flag LF_GAMMA_NEGATIVE. Non-finite data is LF_ERR_NUMERIC
 * naming the observable, replica and index.
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

enum lf_gamma_flag {
  LF_GAMMA_NO_WINDOW = 1, /* g(W) never turned negative: window = W_max */
  LF_GAMMA_CONSTANT = 2,  /* Gamma_F(0) = 0 */
  LF_GAMMA_NEGATIVE = 4   /* C_F(W) <= 0: W = 0 (naive error) returned instead */
};

/* How Gamma(t) is summed: AUTO = FFT when N > LF_GAMMA_FFT_MIN, else direct. */
enum lf_gamma_method { LF_GAMMA_AUTO = 0, LF_GAMMA_DIRECT = 1, LF_GAMMA_FFT = 2 };
#define LF_GAMMA_FFT_MIN 4096

typedef struct lf_gamma_result {
  double value;         /* F (bias-corrected when R > 1)              */
  double error;         /* sigma_F                                     */
  double error_error;   /* error of the error: sigma_F * sqrt((W + 1/2)/N) (eq. 43) */
  double tau_int;       /* integrated autocorrelation time at W        */
  double tau_int_error; /* eq. 42                                      */
  int window;           /* W                                           */
  int flags;            /* lf_gamma_flag bits                          */
  size_t n;             /* N                                           */
  int replicas;         /* R                                           */
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
 * values; w is formed relative to max logw, so any finite logw works): the derived
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

#endif
