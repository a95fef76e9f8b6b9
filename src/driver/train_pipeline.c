/* The train pipeline (latflow train CONFIG [--resume], latflow/driver.h): trains a flow,
 * writes <output>/model.h5 and <output>/train.h5. Every train.eval_every steps and at the
 * end the trainer evaluates the model on train.eval_samples fresh samples (ESS, IMH
 * acceptance; latflow/train.h); rank 0 appends each evaluation to train.h5 /eval, and
 * --json lists them all (read back from train.h5, so a resumed run lists those of its
 * earlier parts too) as "evals", the last one also as ess_eval, acceptance, eval_loss,
 * plus "warnings".
 *
 * Checkpoints (latflow/train.h): <output>/train.ckpt.h5 (previous one kept as .prev),
 * written by rank 0 every train.checkpoint_every steps and on SIGTERM/SIGUSR1/SIGINT,
 * after the metrics file <output>/train.h5.tmp was flushed. A signal ends the command
 * with LF_INTERRUPTED (exit code 3), the metrics left as train.h5.tmp; --resume reloads
 * the checkpoint (the config must agree in every key but run lengths, and the number of
 * training ranks must be the same), cuts train.h5.tmp back to the checkpoint's records
 * and trains on, so that model.h5 and train.h5 end bitwise as in an uninterrupted run
 * (but for the wall-clock seconds). A finished run removes its checkpoint files: the
 * model file then holds everything worth keeping, and a stale checkpoint could only be
 * resumed by mistake. */
#include "driver_impl.h"

#include "latflow/comm.h"
#include "latflow/driver.h"
#include "latflow/fault.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/theory.h"

#include <stdio.h>
#include <string.h>

/* Rank 0's metrics writer: one train.h5 /metrics record per step. */
static lf_status on_step(void *ctx, const lf_train_step_info *s) {
  lf_io_metrics *w = ctx;
  lf_train_record r = {.step = s->step,
                       .loss = s->loss,
                       .ess = s->ess,
                       .ess_smoothed = s->ess_smoothed,
                       .lr = s->lr,
                       .batch = s->batch,
                       .seconds = s->seconds,
                       .grad_norm = s->grad_norm,
                       .skipped = (int8_t)s->skipped};
  return lf_io_metrics_append(w, &r);
}

/* Rank 0: one train.h5 /eval record per evaluation. */
static lf_status on_eval(void *ctx, const lf_eval_result *e) {
  lf_io_metrics *w = ctx;
  lf_train_eval_record r = {.step = e->step,
                            .samples = e->n,
                            .ess = e->ess,
                            .acceptance = e->acceptance,
                            .loss = e->mean_loss,
                            .log_mean_weight = e->log_mean_weight,
                            .n_train = e->n_train,
                            .seconds = e->train_seconds,
                            .eval_seconds = e->seconds};
  return lf_io_metrics_append_eval(w, &r);
}

/* Before every checkpoint: the metrics on disk, and how many records they hold. */
static lf_status on_checkpoint(void *ctx, int64_t *records) {
  lf_io_metrics *w = ctx;
  const lf_status rc = lf_io_metrics_flush(w);
  *records = lf_io_metrics_count(w);
  return rc;
}

/* The training communicator: the first train.ranks ranks of comm (all when 0) get color
 * 0, the others MPI_UNDEFINED (*tcomm = MPI_COMM_NULL: they sit out training). Collective
 * over comm; the checks depend only on cfg and the size of comm. */
static lf_status split_comm(const lf_config *cfg, MPI_Comm comm, MPI_Comm *tcomm, int *ntrain) {
  int rank = 0, size = 1;
  *tcomm = MPI_COMM_NULL;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the job communicator");
  if (cfg->train.ranks > size)
    return LF_FAIL(LF_ERR_CONFIG, "train.ranks: %d training ranks requested, the job has %d",
                   cfg->train.ranks, size);
  *ntrain = cfg->train.ranks > 0 ? cfg->train.ranks : size;
  if (cfg->train.batch < *ntrain)
    return LF_FAIL(LF_ERR_CONFIG,
                   "train.batch: the global batch %d is smaller than the %d training ranks "
                   "(each rank needs at least one sample; raise train.batch or lower "
                   "train.ranks)",
                   cfg->train.batch, *ntrain);
  if (MPI_Comm_split(comm, rank < *ntrain ? 0 : MPI_UNDEFINED, rank, tcomm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Comm_split of the training communicator failed");
  return LF_OK;
}

/* The summary of a finished run on a training rank, before the evaluations
 * (lf_driver_train_report); first: the step the run started from. */
static void summary_to_json(const lf_config *cfg, const lf_theory *th, const lf_trainer *tr,
                            const lf_train_result *res, int ntrain, int resume, long first,
                            const lf_driver_parent *parent, const char *model_path,
                            const char *metrics_path, cJSON *json) {
  cJSON_AddStringToObject(json, "command", "train");
  cJSON_AddStringToObject(json, "theory", th->name);
  cJSON_AddStringToObject(json, "estimator", lf_estimator_name(cfg->train.estimator));
  cJSON_AddNumberToObject(json, "batch", cfg->train.batch);
  cJSON_AddNumberToObject(json, "train_ranks", ntrain);
  cJSON_AddNumberToObject(json, "steps", (double)res->steps);
  if (resume) cJSON_AddNumberToObject(json, "resumed_at_step", (double)first);
  cJSON_AddNumberToObject(json, "skipped_steps", (double)res->skipped);
  cJSON_AddStringToObject(json, "stop_reason", res->stop_reason);
  cJSON_AddNumberToObject(json, "loss", res->loss);
  cJSON_AddNumberToObject(json, "ess_smoothed", res->ess_smoothed);       /* batch: biased high */
  cJSON_AddNumberToObject(json, "train_seconds", tr->seconds);            /* evaluations excluded */
  cJSON_AddNumberToObject(json, "eval_seconds_total", res->eval_seconds); /* this run's */
  cJSON_AddNumberToObject(json, "wall_seconds", lf_log_elapsed());
  /* the cost of the transfer chain: the parent's chain totals plus this run's own */
  const int64_t n_train = lf_train_samples(cfg, res->steps);
  cJSON_AddNumberToObject(json, "n_train", (double)n_train);
  if (parent->has) {
    cJSON *t = cJSON_AddObjectToObject(json, "transfer");
    cJSON_AddStringToObject(t, "from", cfg->train.init_from);
    cJSON_AddStringToObject(t, "kind", parent->volume ? "volume" : "parameter");
    cJSON_AddNumberToObject(t, "parent_steps", (double)parent->steps);
    cJSON_AddNumberToObject(t, "parent_n_train", (double)parent->n_train);
    cJSON_AddNumberToObject(t, "parent_seconds", parent->seconds);
  }
  cJSON *ch = cJSON_AddObjectToObject(json, "chain");
  cJSON_AddNumberToObject(ch, "steps", (double)(parent->steps + res->steps));
  cJSON_AddNumberToObject(ch, "n_train", (double)(parent->n_train + n_train));
  cJSON_AddNumberToObject(ch, "seconds", parent->seconds + tr->seconds);
  cJSON_AddStringToObject(json, "model", model_path);
  cJSON_AddStringToObject(json, "metrics", metrics_path);
}

/* Rank 0 after training ended with train_rc: closes (or, for a later --resume, suspends)
 * the metrics writer mw; a finished run then saves model.h5 and removes its checkpoint, a
 * failed one keeps its last good parameters as model.failed.h5. seconds: the training
 * seconds of all parts of the run; first: the step this part started from. */
static lf_status end_rank0(const lf_config *cfg, int force, lf_status train_rc, lf_io_metrics *mw,
                           lf_model *m, double seconds, const lf_train_result *res, long first,
                           const lf_driver_parent *parent, const char *model_path,
                           const char *failed_path, const char *ckpt_path) {
  lf_status rc = LF_OK;
  if (train_rc == LF_ERR_IO) {
    /* a write failed (a full disk): the run is sound, its last checkpoint and the
     * metrics up to it stay for --resume once there is room (no model.failed.h5, which
     * would need room as well and would refuse the resume) */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    lf_io_metrics_suspend(mw);
    const int kept = lf_driver_ckpt_exists(ckpt_path);
    rc = lf_fail_msg(train_rc, "%s%s%s", msg,
                     kept ? "; the last checkpoint is kept: make room and " : "",
                     kept ? lf_driver_resume_hint() : "");
  } else if (train_rc != LF_OK) {
    /* keep the last good model and the metrics, then report the failure */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    lf_io_metrics_close(mw);
    /* not as model.h5: a failed run must not look finished to --resume, `run` or a
     * requeued job (lf_driver_train_check_output) */
    if (lf_io_model_save(failed_path, m, cfg, 1) == LF_OK)
      lf_log_error("train", "stopped; the last good parameters are in %s (not model.h5)",
                   failed_path);
    rc = lf_fail_msg(train_rc, "%s", msg);
  } else {
    rc = lf_io_metrics_close(mw);
    /* earlier runs included; the chain adds the parent's totals */
    lf_driver_set_cost(cfg, parent, res->steps, seconds, m);
    /* on disk in this order: train.h5, model.h5, the checkpoints removed; a kill
     * between two steps is recovered by --resume (lf_driver_train_check_output,
     * lf_io_metrics_resume) */
    if (rc == LF_OK) lf_fault_point("before_final_rename");
    if (rc == LF_OK) rc = lf_io_model_save(model_path, m, cfg, force);
    if (rc == LF_OK) lf_fault_point("after_final_rename");
    /* the model holds the run now; a stale checkpoint could only mislead --resume */
    if (rc == LF_OK) rc = lf_driver_train_remove_ckpt(ckpt_path);
    if (rc == LF_OK)
      lf_log_info("train",
                  "%ld steps in %.1f s (%.1f steps/s; stop: %s; %ld evaluations, %.1f s); loss "
                  "%.4f, batch ESS (smoothed, biased high) %.4f; model %s",
                  res->steps - first, res->wall_seconds,
                  (res->steps - first) / (res->wall_seconds - res->eval_seconds), res->stop_reason,
                  res->nevals, res->eval_seconds, res->loss, res->ess_smoothed, model_path);
    if (rc == LF_OK && res->eval.n > 0)
      lf_log_info("train",
                  "last evaluation (step %ld) on %ld fresh samples: ESS %.4f, IMH acceptance "
                  "%.4f, <log q + S> %.4f (%.1f s)",
                  res->eval.step, res->eval.n, res->eval.ess, res->eval.acceptance,
                  res->eval.mean_loss, res->eval.seconds);
  }
  return rc;
}

/* Collective over comm. Ranks of the training communicator (the first train.ranks) all
 * build the same model and train it data-parallel; rank 0 alone checks and writes the
 * files and fills json; the other ranks of comm only take part in the status agreements
 * (lf_comm_agree), so every rank returns the same code. */
lf_status lf_train_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json) {
  return lf_train_pipeline_ex(cfg, force, 0, comm, json);
}

lf_status lf_train_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                               cJSON *json) {
  lf_status rc = LF_OK;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_io_metrics *mw = NULL;
  MPI_Comm tcomm = MPI_COMM_NULL;
  int rank = 0, ntrain = 1, complete = 0;
  long first = 0;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  lf_train_result res;
  memset(&res, 0, sizeof res);
  lf_driver_parent parent;
  memset(&parent, 0, sizeof parent);
  char model_path[LF_PATH_MAX], failed_path[LF_PATH_MAX], metrics_path[LF_PATH_MAX],
      ckpt_path[LF_PATH_MAX];
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the job communicator");
  LF_CHECK(split_comm(cfg, comm, &tcomm, &ntrain));
  const int trains = tcomm != MPI_COMM_NULL;
  rc = lf_io_path_join(model_path, sizeof model_path, cfg->output, "model.h5");
  if (rc == LF_OK)
    rc = lf_io_path_join(failed_path, sizeof failed_path, cfg->output, "model.failed.h5");
  if (rc == LF_OK) rc = lf_io_path_join(metrics_path, sizeof metrics_path, cfg->output, "train.h5");
  if (rc == LF_OK) rc = lf_io_path_join(ckpt_path, sizeof ckpt_path, cfg->output, "train.ckpt.h5");
  if (rc == LF_OK && rank == 0)
    rc = lf_driver_train_check_output(cfg, force, resume, model_path, failed_path, metrics_path,
                                      ckpt_path, &complete);
  LF_CHECK(lf_comm_agree(comm, rc));
  if (resume && MPI_Bcast(&complete, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the output state failed");
    goto fail;
  }
  if (complete == 2) { /* --resume without a checkpoint: a fresh run */
    complete = 0;
    resume = 0;
  }
  if (complete) {
    if (rank == 0)
      lf_log_info(
          "train", "'%s' holds a finished run (%s): training is complete, nothing to resume%s",
          cfg->output, model_path,
          lf_driver_ckpt_exists(ckpt_path) ? " (a checkpoint from before its end is left)" : "");
    if (json) {
      cJSON_AddStringToObject(json, "command", "train");
      cJSON_AddBoolToObject(json, "complete", 1);
      cJSON_AddStringToObject(json, "model", model_path);
    }
    goto fail; /* rc is LF_OK */
  }
  /* the parent's chain totals, which this run's add to (a resumed run reads them again;
   * a parent gone since is a warning: the chain then counts this run only) */
  if (rc == LF_OK && trains) {
    rc = lf_driver_read_parent(cfg, &parent);
    if (rc != LF_OK && resume) {
      if (rank == 0)
        lf_log_warn("train",
                    "cannot read the cost of train.init_from '%s' (%s): the chain totals in "
                    "model.h5 count this run only",
                    cfg->train.init_from, lf_last_error());
      memset(&parent, 0, sizeof parent);
      rc = LF_OK;
    }
  }
  if (rc == LF_OK && trains) {
    rc = lf_theory_init(&th, &cfg->theory);
    if (rc == LF_OK)
      rc = lf_model_init(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                         cfg->train.batch);
    if (rc == LF_OK) {
      lf_model_init_params(&m, cfg->seed);
      /* every training rank reads the same file, so all start from the same parameters
       * (the first hash check would catch a difference); a resumed run takes its
       * parameters from the checkpoint */
      if (cfg->train.init_from[0] && !resume) rc = lf_driver_transfer_params(cfg, &m);
    }
    if (rc == LF_OK) rc = lf_trainer_init(&tr, cfg, &m, &th);
    if (rc == LF_OK) rc = lf_trainer_set_comm(&tr, tcomm);
    if (rc == LF_OK && resume) rc = lf_driver_train_load_ckpt(cfg, ckpt_path, &tr);
    first = tr.next_step;
    if (rc == LF_OK && tr.rank == 0 && first >= cfg->train.steps)
      lf_log_warn("train", "the checkpoint is at step %ld >= train.stop.steps = %ld: no training",
                  first, cfg->train.steps);
  }
  if (rc == LF_OK && rank == 0) {
    char desc[160];
    lf_theory_describe(&cfg->theory, desc, sizeof desc);
    lf_log_info("train",
                "%s | %d layers, hidden %d, kernel %d, base %s, "
                "%s | %zu parameters | estimator %s, batch %d over %d rank%s, %ld steps",
                desc, cfg->model.layers, cfg->model.nhidden > 0 ? cfg->model.hidden[0] : 0,
                cfg->model.kernel,
                lf_model_arch_value_name(lf_model_arch_find("base"), cfg->model.base),
                cfg->model.precision == LF_PREC_F32 ? "single" : "double", m.nparams,
                lf_estimator_name(cfg->train.estimator), cfg->train.batch, ntrain,
                ntrain > 1 ? "s" : "", cfg->train.steps);
    if (lf_model_base_score(&m) && cfg->train.estimator == LF_EST_RE)
      lf_log_warn("train",
                  "estimator re with base plaquette: the coupling layers' gradient is biased (the "
                  "base's density jumps where the holonomy wraps; docs/PHYSICS.md 8.9); rt is "
                  "unbiased (its base parameters take the score, its layers the path)");
    if (resume)
      rc = lf_io_metrics_resume(&mw, metrics_path, cfg, tr.records, tr.evals);
    else
      rc = lf_io_metrics_open(&mw, metrics_path, cfg, force);
  }
  if (rc == LF_OK && trains) {
    rc = lf_trainer_set_checkpoint(&tr, ckpt_path, rank == 0 ? on_checkpoint : NULL, mw);
    lf_trainer_set_eval_callback(&tr, rank == 0 ? on_eval : NULL, mw);
  }
  LF_CHECK(lf_comm_agree(comm, rc));

  /* training: collective over tcomm (lf_train_run agrees the callback's status and the
   * signals, and writes the checkpoints on rank 0) */
  lf_status train_rc = LF_OK;
  if (trains) train_rc = lf_train_run(&tr, first, rank == 0 ? on_step : NULL, mw, &res);
  if (train_rc == LF_INTERRUPTED) {
    /* the checkpoint is written: keep the metrics as train.h5.tmp for --resume */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    const lf_status src = lf_io_metrics_suspend(mw);
    mw = NULL;
    if (src != LF_OK) lf_log_error("train", "%s", lf_last_error());
    /* the command line prints the exact command on the next line (lf_cli_report) */
    rc = lf_fail_msg(LF_INTERRUPTED, "%s; continue with --resume", msg);
  } else if (rank == 0) {
    rc = end_rank0(cfg, force, train_rc, mw, &m, tr.seconds, &res, first, &parent, model_path,
                   failed_path, ckpt_path);
    mw = NULL;
  } else {
    rc = train_rc;
  }
  /* also the barrier that makes model.h5 complete before anyone reads it */
  rc = lf_comm_agree(comm, rc);
  if (rc == LF_INTERRUPTED && !trains)
    rc = lf_fail_msg(LF_INTERRUPTED,
                     "the training ranks stopped on a signal after writing %s; continue with "
                     "--resume",
                     ckpt_path);
  if (rc != LF_OK) goto fail;

  if (json && trains)
    summary_to_json(cfg, &th, &tr, &res, ntrain, resume, first, &parent, model_path, metrics_path,
                    json);
  /* rank 0 (always a training rank): evaluations and warnings from the final train.h5 */
  if (rank == 0) rc = lf_driver_train_report(cfg, &res, metrics_path, json);
  LF_CHECK(lf_comm_agree(comm, rc));
fail:
  if (mw) lf_io_metrics_close(mw);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
  if (tcomm != MPI_COMM_NULL) MPI_Comm_free(&tcomm);
  return rc;
}
