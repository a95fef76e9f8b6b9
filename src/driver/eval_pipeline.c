/* lf_eval_model (latflow/driver.h): a model file evaluated on fresh samples on the card's
 * theory and lattice, volume transferred when the model was trained on another lattice
 * (lf_io_model_load_on). The study (latflow/study.h) calls it for ESS(V).
 *
 * The evaluation is lf_train_eval on a trainer built around the loaded model with cfg
 * (estimator re, so a theory without an action gradient works; the batch of cfg's
 * schedule, as in training): stream LF_STREAM_EVAL at RNG step 2k for the noise and
 * 2k + 1 for the IMH uniforms, index = sample 0 .. n-1, with k = cfg->train.stop.steps.
 * So the draws are a pure function of (cfg->seed, train.stop.steps, n) and of the lattice,
 * the same on any number of ranks (each rank flows the samples [r n / P, (r+1) n / P)),
 * and never training draws (LF_STREAM_TRAIN). On the training lattice with
 * n = train.eval_samples, they are exactly the draws of the final evaluation of a
 * training run of cfg that ran all its train.stop.steps: the ESS and acceptance then
 * equal train.h5's last /eval record (bitwise on the training's rank count). */
#include "driver_impl.h"

#include "latflow/analysis.h"
#include "latflow/comm.h"
#include "latflow/driver.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/theory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Jackknife blocks of the ESS error: 50, or n / 2 for small n (>= 2 samples a block). */
static size_t jack_blocks(long n) {
  return n >= 100 ? 50 : (size_t)(n / 2);
}

/* What one evaluation builds (all owned; zeroed, so the exit path can free any part). */
typedef struct eval_state {
  lf_model m;
  lf_theory th;
  lf_trainer tr;
} eval_state;

lf_status lf_eval_model(const lf_config *cfg, const char *model_path, long n, MPI_Comm comm,
                        lf_study_volume *out) {
  lf_status rc = LF_OK;
  eval_state e;
  memset(&e, 0, sizeof e);
  lf_model *const m = &e.m;
  double *logw = NULL;
  memset(out, 0, sizeof *out);
  out->L0 = cfg->theory.shape[0];
  out->L1 = cfg->theory.shape[1];
  out->ess = out->ess_err = out->acceptance = out->mass = out->mass_err = NAN;
  int rank = 0;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_eval_model: cannot query the communicator");
  if (n < 2 || !model_path)
    return LF_FAIL(LF_ERR_INVALID, "lf_eval_model: a model file and n >= 2 samples, got %ld", n);
  /* the run's config with the file's architecture (copies: lf_config is large) */
  lf_config *ecfg = malloc(sizeof *ecfg), *mcfg = malloc(sizeof *mcfg);
  if (!ecfg || !mcfg) rc = LF_FAIL(LF_ERR_NOMEM, "lf_eval_model: configs");
  if (rc == LF_OK) {
    *ecfg = *cfg;
    rc = lf_io_model_load_on(model_path, out->L0, out->L1, mcfg, m, 1);
  }
  if (rc == LF_OK) {
    ecfg->model = m->cfg;
    ecfg->train.estimator = LF_EST_RE; /* no action gradient is needed to evaluate */
    if (rank == 0 && (mcfg->theory.shape[0] != m->L0 || mcfg->theory.shape[1] != m->L1))
      lf_log_info("eval", "volume transfer: model trained on %dx%d evaluated on %dx%d",
                  mcfg->theory.shape[0], mcfg->theory.shape[1], m->L0, m->L1);
    rc = lf_theory_init(&e.th, &ecfg->theory);
  }
  if (rc == LF_OK) rc = lf_trainer_init(&e.tr, ecfg, m, &e.th);
  if (rc == LF_OK) rc = lf_trainer_set_comm(&e.tr, comm);
  if (rc == LF_OK) {
    logw = malloc((size_t)n * sizeof *logw);
    if (!logw) rc = LF_FAIL(LF_ERR_NOMEM, "lf_eval_model: %ld log weights", n);
  }
  LF_CHECK(lf_comm_agree(comm, rc));
  /* the draws of an evaluation after train.stop.steps training steps (see above) */
  e.tr.next_step = ecfg->train.steps;
  lf_eval_result ev;
  LF_CHECK(lf_train_eval_logw(&e.tr, n, &ev, logw)); /* collective, agreed */
  out->samples = n;
  out->ess = ev.ess;
  out->acceptance = ev.acceptance;
  out->ess_err = lf_ess_jackknife((size_t)n, logw, jack_blocks(n));
  /* the slowest rank's wall time, the same on every rank */
  double sec = ev.seconds;
  if (MPI_Allreduce(MPI_IN_PLACE, &sec, 1, MPI_DOUBLE, MPI_MAX, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "lf_eval_model: MPI_Allreduce of the seconds");
    goto fail;
  }
  out->eval_seconds = sec;
  if (rank == 0)
    lf_log_info("eval",
                "%s on %dx%d: %ld fresh samples, ESS %.4g +- %.2g, IMH acceptance %.4f "
                "(%.2f s)",
                model_path, out->L0, out->L1, n, out->ess, out->ess_err, out->acceptance, sec);
fail:
  free(logw);
  lf_trainer_free(&e.tr);
  lf_model_free(m);
  lf_theory_free(&e.th);
  free(ecfg);
  free(mcfg);
  return rc;
}
