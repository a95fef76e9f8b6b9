/* Coverage (d) and (e): Independence Metropolis and reweighting with a deliberately weak
 * flow. A small affine flow (2 layers, hidden [4]) is trained for 5 steps on phi^4 on the
 * 2x2 double well m2 = -4, lambda = 8, whose exact values come from the transfer matrix
 * (lf_phi4_2x2_exact_eval): ESS about 0.07, IMH acceptance about 0.10, rejection runs of
 * several hundred steps, yet weights light-tailed enough for a central limit theorem
 * (a flow whose weights have infinite variance has no honest error from one run; the
 * analysis warns about those instead, see test_analyze and docs/PHYSICS.md). Then R independent
 * sampling runs (seeds seed0 + r; the production code's proposer and IMH decisions,
 * include/latflow/sample.h) each give the mean and the error of phi2, chi2 and energy as
 * `latflow analyze` computes them: lf_gamma_mean over the IMH chain, lf_gamma_reweighted
 * over the proposals. The errors must cover both the exact values and the pooled mean
 * of the replicas as a chi^2 per degree of freedom (tests/coverage/coverage.h). */
#include "coverage.h"
#include "latflow/analysis.h"
#include "latflow/exact.h"
#include "latflow/gamma.h"
#include "latflow/sample.h"
#include "latflow/timer.h"
#include "latflow/train.h"

#include <stdlib.h>
#include <string.h>

static const char *card = "seed: 77\n"
                          "theory: {name: phi4, shape: [2, 2], m2: -4.0, lambda: 8.0}\n"
                          "model: {layers: 2, hidden: [4], kernel: 3, precision: double}\n"
                          "train: {estimator: rt, batch: 64, optimizer: {name: adam, lr: 1.0e-3}, "
                          "stop: {steps: 5}, log_every: 1000000}\n";
/* argv: [R [N [training steps]]] (defaults: the CTest case) */

enum { NOBS = 3, BLOCK = 256 };

int main(int argc, char **argv) {
  const int R = argc > 1 ? atoi(argv[1]) : 500;
  const long N = argc > 2 ? atol(argv[2]) : 32768; /* proposals per replica (whole blocks) */
  const double t0 = lf_wtime();
  lf_config cfg;
  lf_config_defaults(&cfg);
  if (lf_config_parse_string(&cfg, card, "test_cov_imh") != LF_OK) {
    CHECK(0, "config: %s", lf_last_error());
    return lf_test_result();
  }
  if (argc > 3) cfg.train.steps = atol(argv[3]);
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  if (lf_theory_init(&th, &cfg.theory) != LF_OK ||
      lf_model_init(&m, &cfg.model, 1, cfg.theory.shape[0], cfg.theory.shape[1], cfg.train.batch) !=
          LF_OK) {
    CHECK(0, "setup: %s", lf_last_error());
    return lf_test_result();
  }
  lf_model_init_params(&m, cfg.seed);
  lf_train_result tres;
  if (lf_trainer_init(&tr, &cfg, &m, &th) != LF_OK ||
      lf_train_run(&tr, 0, NULL, NULL, &tres) != LF_OK) {
    CHECK(0, "training: %s", lf_last_error());
    return lf_test_result();
  }
  lf_eval_result ev;
  lf_train_eval(&tr, 16384, &ev);
  lf_trainer_free(&tr);
  CHECK(lf_model_reserve(&m, BLOCK) == LF_OK, "model reserve");
  lf_phi4_2x2_exact ex;
  const int two = cfg.theory.shape[0] == 2 && cfg.theory.shape[1] == 2;
  if (two)
    CHECK(lf_phi4_2x2_exact_eval(cfg.theory.m2, cfg.theory.lambda, 400, &ex) == LF_OK, "exact");
  const char *names[NOBS] = {"phi2", "chi2", "energy"};
  const double exact[NOBS] = {two ? ex.phi2 : NAN, two ? ex.chi2 : NAN, two ? ex.energy : NAN};
  int idx[NOBS];
  for (int k = 0; k < NOBS; k++) idx[k] = lf_theory_obs_index(&th, names[k]);

  const long nb = (N + BLOCK - 1) / BLOCK, n = nb * BLOCK;
  double *phi = malloc((size_t)BLOCK * th.V * sizeof *phi), logq[BLOCK], S[BLOCK], logw[BLOCK];
  int8_t acc[BLOCK];
  double *x = malloc((size_t)NOBS * (size_t)n * sizeof *x); /* IMH series */
  double *y = malloc((size_t)NOBS * (size_t)n * sizeof *y); /* every proposal */
  double *lw = malloc((size_t)n * sizeof *lw);
  double *mi[NOBS], *si[NOBS], *mr[NOBS], *sr[NOBS];
  for (int k = 0; k < NOBS; k++) {
    mi[k] = malloc((size_t)R * sizeof(double));
    si[k] = malloc((size_t)R * sizeof(double));
    mr[k] = malloc((size_t)R * sizeof(double));
    sr[k] = malloc((size_t)R * sizeof(double));
  }
  double acc_sum = 0.0, ess_sum = 0.0, k_sum = 0.0, k_max = 0.0;
  double *ws = malloc((size_t)n * sizeof *ws);
  uint64_t maxrun = 0;
  for (int r = 0; r < R; r++) {
    const uint64_t seed = 20000 + (uint64_t)r;
    lf_proposer p;
    lf_imh c;
    if (lf_proposer_init(&p, &m, &th, seed, BLOCK) != LF_OK) {
      CHECK(0, "proposer: %s", lf_last_error());
      break;
    }
    lf_imh_init(&c, seed);
    double cur[LF_MAX_OBS], o[LF_MAX_OBS];
    for (long b = 0; b < nb; b++) {
      lf_propose_block(&p, (uint64_t)b, phi, logq, S, logw);
      lf_imh_decide(&c, (uint64_t)b * BLOCK, BLOCK, logw, acc);
      for (int i = 0; i < BLOCK; i++) {
        const size_t g = (size_t)b * BLOCK + (size_t)i;
        th.observables(&th, phi + (size_t)i * th.V, o);
        if (acc[i]) memcpy(cur, o, sizeof cur);
        for (int k = 0; k < NOBS; k++) {
          x[(size_t)k * n + g] = cur[idx[k]];
          y[(size_t)k * n + g] = o[idx[k]];
        }
        lw[g] = logw[i];
      }
    }
    acc_sum += (double)c.accepted / (double)c.steps;
    maxrun = c.max_run > maxrun ? c.max_run : maxrun;
    ess_sum += lf_ess((size_t)n, lw);
    const double khat = lf_pareto_khat((size_t)n, lw, ws);
    k_sum += khat;
    k_max = fmax(k_max, khat);
    lf_proposer_free(&p);
    const size_t nn = (size_t)n;
    for (int k = 0; k < NOBS; k++) {
      lf_gamma_result g;
      const int ok1 = lf_gamma_mean(1, &nn, x + (size_t)k * n, LF_GAMMA_S, &g, NULL, 0) == LF_OK;
      mi[k][r] = ok1 ? g.value : NAN;
      si[k][r] = ok1 ? g.error : NAN;
      const int ok2 = lf_gamma_reweighted(1, &nn, y + (size_t)k * n, lw, LF_GAMMA_S, &g) == LF_OK;
      mr[k][r] = ok2 ? g.value : NAN;
      sr[k][r] = ok2 ? g.error : NAN;
    }
  }
  fprintf(stderr,
          "weak flow on the 2x2 double well (%ld training steps, fresh ESS %.3f, IMH acceptance "
          "%.3f): %d replicas x %ld proposals: mean acceptance %.3f, longest rejection run %llu, "
          "mean ESS %.3f; %.1f s\n",
          tres.steps, ev.ess, ev.acceptance, R, n, acc_sum / R, (unsigned long long)maxrun,
          ess_sum / R, lf_wtime() - t0);
  /* the premise: weights with a finite variance (Pareto k < 1/2), where one run's errors
   * can be honest; heavier tails are warned about instead (test_analyze) */
  CHECK(k_sum / R < 0.5 && k_max < 0.7,
        "weights light-tailed enough for a CLT: Pareto k mean %.3f < 0.5, max %.3f < 0.7",
        k_sum / R, k_max);
  for (int k = 0; k < NOBS; k++) {
    char label[64];
    snprintf(label, sizeof label, "IMH %s", names[k]);
    if (two) cov_check(label, R, mi[k], si[k], exact[k]);
    snprintf(label, sizeof label, "IMH %s (pooled)", names[k]);
    cov_check(label, R, mi[k], si[k], NAN);
    snprintf(label, sizeof label, "reweighting %s", names[k]);
    cov_check(label, R, mr[k], sr[k], exact[k]);
    snprintf(label, sizeof label, "reweighting %s (pooled)", names[k]);
    cov_check(label, R, mr[k], sr[k], NAN);
    free(mi[k]);
    free(si[k]);
    free(mr[k]);
    free(sr[k]);
  }
  free(phi);
  free(x);
  free(y);
  free(lw);
  free(ws);
  lf_model_free(&m);
  lf_theory_free(&th);
  return lf_test_result();
}
