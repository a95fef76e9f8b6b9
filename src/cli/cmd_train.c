/* latflow train CONFIG [--resume]: trains a flow, writes <output>/model.h5 and
 * <output>/train.h5. Every train.eval_every steps and at the end the trainer evaluates
 * the model on train.eval_samples fresh samples (ESS, IMH acceptance; latflow/train.h);
 * rank 0 appends each evaluation to train.h5 /eval, and --json lists them all (read back
 * from train.h5, so a resumed run lists those of its earlier parts too) as "evals", the
 * last one also as ess_eval, acceptance, eval_loss, plus "warnings".
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
#include "cli.h"
#include "cmd_train.h"

#include "latflow/ckpt.h"
#include "latflow/fault.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/signal.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow train [CONFIG] [--set key=value]... [--output DIR] [--force] [--json]\n"
    "                     [--resume]\n"
    "Trains the flow of CONFIG (default: the built-in quickstart card) by reverse KL with\n"
    "train.estimator rt or re. Writes <output>/model.h5 and <output>/train.h5 (metrics per\n"
    "step). Every train.eval_every steps and at the end it evaluates the model on\n"
    "train.eval_samples fresh samples (ESS, IMH acceptance: the honest figures; the batch\n"
    "ESS of the progress line is biased high). --json prints a summary object on stdout,\n"
    "with the list \"evals\" and \"warnings\". An existing output is refused unless --force.\n"
    "Every train.checkpoint_every steps, every train.checkpoint_seconds of wall time and\n"
    "on SIGTERM, SIGUSR1 or SIGINT the state goes to <output>/train.ckpt.h5; a signal then\n"
    "ends the run with exit code 3. --resume continues it from there (same config; run\n"
    "lengths such as train.stop.steps may change; same number of training ranks), or\n"
    "starts over when the run stopped before its first checkpoint, and ends with the\n"
    "files of an uninterrupted run. A finished run removes its checkpoint.\n";

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

/* Below this fresh-sample ESS an IMH chain practically never moves. */
#define USELESS_ESS 1e-3

/* Logs a warning and appends it to the array arr (may be NULL). */
static void warn(cJSON *arr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void warn(cJSON *arr, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lf_log_warn("train", "%s", msg);
  if (arr) cJSON_AddItemToArray(arr, cJSON_CreateString(msg));
}

/* Rank 0, after train.h5 is final: the warnings of the run (logged), and when json is
 * not NULL the evaluations train.h5 holds (all parts of a resumed run) as "evals", the
 * last one as ess_eval, acceptance, eval_loss, eval_step, eval_samples and eval_seconds,
 * and the warnings as "warnings". */
static lf_status report_evals(const lf_config *cfg, const lf_train_result *res,
                              const char *metrics_path, cJSON *json) {
  lf_train_series s;
  const lf_status rc = lf_io_metrics_read(metrics_path, &s, NULL);
  if (rc != LF_OK) return rc;
  const lf_train_eval_record *last = s.neval > 0 ? &s.evals[s.neval - 1] : NULL;
  if (json) {
    cJSON *list = cJSON_AddArrayToObject(json, "evals");
    for (size_t i = 0; i < s.neval && list; i++) {
      const lf_train_eval_record *e = &s.evals[i];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "step", (double)e->step);
      cJSON_AddNumberToObject(o, "samples", (double)e->samples);
      cJSON_AddNumberToObject(o, "ess", e->ess);
      cJSON_AddNumberToObject(o, "acceptance", e->acceptance);
      cJSON_AddNumberToObject(o, "loss", e->loss);
      cJSON_AddNumberToObject(o, "log_mean_weight", e->log_mean_weight);
      cJSON_AddNumberToObject(o, "n_train", (double)e->n_train);
      cJSON_AddNumberToObject(o, "seconds", e->seconds);
      cJSON_AddNumberToObject(o, "eval_seconds", e->eval_seconds);
      cJSON_AddItemToArray(list, o);
    }
    cJSON_AddNumberToObject(json, "eval_samples", last ? (double)last->samples : 0.0);
    if (last) {
      cJSON_AddNumberToObject(json, "ess_eval", last->ess);
      cJSON_AddNumberToObject(json, "acceptance", last->acceptance);
      cJSON_AddNumberToObject(json, "eval_loss", last->loss);
      cJSON_AddNumberToObject(json, "eval_step", (double)last->step);
    } else {
      cJSON_AddNullToObject(json, "ess_eval");
      cJSON_AddNullToObject(json, "acceptance");
    }
    cJSON_AddNumberToObject(json, "eval_seconds", last ? last->eval_seconds : 0.0);
  }
  cJSON *w = json ? cJSON_AddArrayToObject(json, "warnings") : NULL;
  if (res->skipped > 0)
    warn(w, "%ld training step%s skipped (non-finite loss, gradient or parameters)", res->skipped,
         res->skipped == 1 ? "" : "s");
  if (!last)
    warn(w, "no evaluation on fresh samples (train.eval_samples = 0): the flow's ESS and "
            "acceptance are unknown, and the batch ESS is biased high");
  else if (!(last->ess >= USELESS_ESS))
    warn(w,
         "fresh-sample ESS %.3g < %g at step %lld: the flow is useless for IMH (train longer, "
         "or change the model or the learning rate)",
         last->ess, USELESS_ESS, (long long)last->step);
  if (last && cfg->train.target_ess > 0 && strcmp(res->stop_reason, "target_ess") != 0)
    warn(w, "train.stop.target_ess = %g not reached: fresh-sample ESS %.4g at step %lld",
         cfg->train.target_ess, last->ess, (long long)last->step);
  lf_io_series_free(&s);
  return LF_OK;
}

/* Before every checkpoint: the metrics on disk, and how many records they hold. */
static lf_status on_checkpoint(void *ctx, int64_t *records) {
  lf_io_metrics *w = ctx;
  const lf_status rc = lf_io_metrics_flush(w);
  *records = lf_io_metrics_count(w);
  return rc;
}

/* Removes path and its .prev and .tmp companions (missing ones are fine). */
static lf_status remove_checkpoint(const char *path) {
  char other[LF_PATH_MAX + 16];
  const char *sfx[3] = {"", ".prev", ".tmp"};
  for (int i = 0; i < 3; i++) {
    snprintf(other, sizeof other, "%s%s", path, sfx[i]);
    if (remove(other) != 0 && errno != ENOENT)
      return LF_FAIL(LF_ERR_IO, "cannot remove '%s': %s", other, strerror(errno));
  }
  return LF_OK;
}

static int checkpoint_exists(const char *path) {
  char prev[LF_PATH_MAX + 16];
  return lf_cli_file_exists(path) ||
         (lf_ckpt_prev_path(prev, sizeof prev, path) == LF_OK && lf_cli_file_exists(prev));
}

/* Rank 0, before anything is built: what the output directory allows. A fresh run
 * refuses finished outputs and the checkpoint of an interrupted run unless force (which
 * removes that checkpoint, so it cannot be resumed by mistake later). --resume sets
 * *complete = 1 when the output holds a finished model (removing a stale checkpoint of
 * this run), 2 when there is no checkpoint to resume (the run starts over), else 0. */
static lf_status check_output(const lf_config *cfg, int force, int resume, const char *model_path,
                              const char *failed_path, const char *metrics_path,
                              const char *ckpt_path, int *complete) {
  *complete = 0;
  /* a failed run is recognizable on disk (model.failed.h5 instead of model.h5): neither
   * --resume (it would fail the same way: the run is a pure function of the config) nor
   * a fresh run without --force may take it for a finished or an interrupted one */
  if (!force && lf_cli_file_exists(failed_path) && !lf_cli_file_exists(model_path))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' holds a failed training run (its last good parameters are in %s; see "
                   "the log and train.h5): %s; change the config and start over with --force",
                   cfg->output, failed_path,
                   resume ? "--resume would fail the same way" : "refusing to overwrite it");
  if (resume) {
    if (lf_cli_file_exists(model_path)) {
      if (checkpoint_exists(ckpt_path)) {
        /* killed after model.h5 was written and before the checkpoints were removed:
         * model.h5 must be this run's (the same config and run length; training is a
         * pure function of them), then the stale checkpoints go */
        lf_config mc;
        lf_status rc = lf_io_model_peek(model_path, &mc);
        if (rc == LF_OK) {
          mc.train.ranks = cfg->train.ranks;
          rc = lf_ckpt_compat(&mc, cfg, "train", model_path);
        }
        if (rc == LF_OK && mc.train.steps != cfg->train.steps)
          rc = LF_FAIL(LF_ERR_CONFIG, "'%s' was trained for train.stop.steps = %ld, not %ld",
                       model_path, mc.train.steps, cfg->train.steps);
        if (rc != LF_OK)
          return lf_fail_msg(LF_ERR_IO,
                             "--resume: '%s' holds both model.h5 and a checkpoint, but the "
                             "model is not this run's result: %s; move one away, or start "
                             "over with --force",
                             cfg->output, lf_last_error());
        if ((rc = remove_checkpoint(ckpt_path)) != LF_OK) return rc;
        lf_log_info("train",
                    "'%s' is complete (killed after its final rename): removed the stale "
                    "checkpoint %s",
                    model_path, ckpt_path);
      }
      *complete = 1;
      return LF_OK;
    }
    if (checkpoint_exists(ckpt_path)) return LF_OK;
    /* killed before its first checkpoint (a requeued job): start from the beginning; the
     * metrics of that attempt (train.h5.tmp, or train.h5 if it died between the metrics'
     * and the model's rename) are this run's partial files: regular files only */
    lf_log_info("train",
                "--resume: no checkpoint and no model.h5 in '%s' (the run stopped before its "
                "first checkpoint): starting from the beginning",
                cfg->output);
    char tmp[LF_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", metrics_path);
    lf_status rc = lf_io_remove_stale(tmp);
    if (rc == LF_OK) rc = lf_io_remove_stale(metrics_path);
    if (rc == LF_OK) rc = remove_checkpoint(ckpt_path); /* a stale .tmp */
    if (rc != LF_OK) return rc;
    *complete = 2;
    return lf_cli_mkdirs(cfg->output);
  }
  if (!force && (lf_cli_file_exists(model_path) || lf_cli_file_exists(metrics_path)))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' already holds a trained model; refusing to overwrite "
                   "(use --force or another output)",
                   cfg->output);
  if (!force && checkpoint_exists(ckpt_path))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' holds the checkpoint of an interrupted training run (%s): continue "
                   "it with --resume (latflow train), or start over with --force",
                   cfg->output, ckpt_path);
  if (force) {
    const lf_status rc = remove_checkpoint(ckpt_path);
    if (rc != LF_OK) return rc;
    if (remove(failed_path) != 0 && errno != ENOENT)
      return LF_FAIL(LF_ERR_IO, "cannot remove '%s': %s", failed_path, strerror(errno));
  }
  return lf_cli_mkdirs(cfg->output);
}

/* Training ranks, --resume: the trainer state from the checkpoint, after checking that
 * the config continues the same run. The training-rank count is checked by
 * lf_trainer_load itself (train.ranks may differ as long as the count is the same). */
static lf_status load_checkpoint(const lf_config *cfg, const char *ckpt_path, lf_trainer *tr) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  lf_config stored;
  LF_CHECK(lf_ckpt_open(&c, ckpt_path, "train", &stored));
  stored.train.ranks = cfg->train.ranks;
  LF_CHECK(lf_ckpt_compat(&stored, cfg, "train", lf_ckpt_path(c)));
  LF_CHECK(lf_trainer_load(tr, c));
  if (tr->rank == 0)
    lf_log_info("train", "resuming at step %ld from %s (%.1f s trained so far)", tr->next_step,
                lf_ckpt_path(c), tr->seconds);
fail:
  lf_ckpt_close(c);
  return rc;
}

static int same_arch(const lf_model_cfg *a, const lf_model_cfg *b) {
  if (a->base != b->base || a->layers != b->layers || a->nhidden != b->nhidden ||
      a->kernel != b->kernel || a->activation != b->activation || a->coupling != b->coupling ||
      (a->coupling == LF_COUPLING_SPLINE && a->spline_bins != b->spline_bins))
    return 0;
  for (int i = 0; i < a->nhidden; i++)
    if (a->hidden[i] != b->hidden[i]) return 0;
  return 1;
}

/* Parameter transfer (other couplings) or volume transfer (other lattice): the conv
 * nets are translation-equivariant, so the same parameters act on any lattice size. */
static lf_status transfer_params(const lf_config *cfg, lf_model *m) {
  lf_status rc = LF_OK;
  lf_config ocfg;
  lf_model om;
  memset(&om, 0, sizeof om);
  double *p = NULL;
  LF_CHECK(lf_io_model_load(cfg->train.init_from, &ocfg, &om, 1));
  if (!same_arch(&ocfg.model, &m->cfg) || om.C != m->C || om.nparams != m->nparams) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "train.init_from: '%s' has another architecture (layers %d, hidden %d..., "
                 "kernel %d, base %d, %zu parameters) than this config (layers %d, kernel %d, "
                 "base %d, %zu parameters)",
                 cfg->train.init_from, ocfg.model.layers, ocfg.model.nhidden, ocfg.model.kernel,
                 (int)ocfg.model.base, om.nparams, m->cfg.layers, m->cfg.kernel, (int)m->cfg.base,
                 m->nparams);
    goto fail;
  }
  p = lf_alloc(m->nparams * sizeof *p);
  if (!p) {
    rc = LF_FAIL(LF_ERR_NOMEM, "transfer buffer");
    goto fail;
  }
  lf_model_get_params(&om, p);
  lf_model_set_params(m, p);
  const int vol = (om.L0 != m->L0 || om.L1 != m->L1);
  char odesc[160];
  lf_theory_describe(&ocfg.theory, odesc, sizeof odesc);
  lf_log_info("train", "%s transfer from %s (%s) to %dx%d", vol ? "volume" : "parameter",
              cfg->train.init_from, odesc, m->L0, m->L1);
fail:
  lf_free(p);
  lf_model_free(&om);
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

/* Collective over comm. Ranks of the training communicator (the first train.ranks) all
 * build the same model and train it data-parallel; rank 0 alone checks and writes the
 * files and fills json; the other ranks of comm only take part in the status agreements
 * (lf_cli_agree), so every rank returns the same code. */
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
  char model_path[LF_PATH_MAX], failed_path[LF_PATH_MAX], metrics_path[LF_PATH_MAX],
      ckpt_path[LF_PATH_MAX];
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the job communicator");
  LF_CHECK(split_comm(cfg, comm, &tcomm, &ntrain));
  const int trains = tcomm != MPI_COMM_NULL;
  rc = lf_cli_path(model_path, sizeof model_path, cfg->output, "model.h5");
  if (rc == LF_OK)
    rc = lf_cli_path(failed_path, sizeof failed_path, cfg->output, "model.failed.h5");
  if (rc == LF_OK) rc = lf_cli_path(metrics_path, sizeof metrics_path, cfg->output, "train.h5");
  if (rc == LF_OK) rc = lf_cli_path(ckpt_path, sizeof ckpt_path, cfg->output, "train.ckpt.h5");
  if (rc == LF_OK && rank == 0)
    rc = check_output(cfg, force, resume, model_path, failed_path, metrics_path, ckpt_path,
                      &complete);
  LF_CHECK(lf_cli_agree(comm, rc));
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
          checkpoint_exists(ckpt_path) ? " (a checkpoint from before its end is left)" : "");
    if (json) {
      cJSON_AddStringToObject(json, "command", "train");
      cJSON_AddBoolToObject(json, "complete", 1);
      cJSON_AddStringToObject(json, "model", model_path);
    }
    goto fail; /* rc is LF_OK */
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
      if (cfg->train.init_from[0] && !resume) rc = transfer_params(cfg, &m);
    }
    if (rc == LF_OK) rc = lf_trainer_init(&tr, cfg, &m, &th);
    if (rc == LF_OK) rc = lf_trainer_set_comm(&tr, tcomm);
    if (rc == LF_OK && resume) rc = load_checkpoint(cfg, ckpt_path, &tr);
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
                cfg->model.base == LF_BASE_FREE_FIELD ? "free_field"
                : cfg->model.base == LF_BASE_HAAR     ? "haar"
                                                      : "normal",
                cfg->model.precision == LF_PREC_F32 ? "single" : "double", m.nparams,
                lf_estimator_name(cfg->train.estimator), cfg->train.batch, ntrain,
                ntrain > 1 ? "s" : "", cfg->train.steps);
    if (resume)
      rc = lf_io_metrics_resume(&mw, metrics_path, cfg, tr.records, tr.evals);
    else
      rc = lf_io_metrics_open(&mw, metrics_path, cfg, force);
  }
  if (rc == LF_OK && trains) {
    rc = lf_trainer_set_checkpoint(&tr, ckpt_path, rank == 0 ? on_checkpoint : NULL, mw);
    lf_trainer_set_eval_callback(&tr, rank == 0 ? on_eval : NULL, mw);
  }
  LF_CHECK(lf_cli_agree(comm, rc));

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
    rc = lf_fail_msg(LF_INTERRUPTED, "%s; continue with --resume", msg);
  } else if (rank == 0) {
    if (train_rc == LF_ERR_IO) {
      /* a write failed (a full disk): the run is sound, its last checkpoint and the
       * metrics up to it stay for --resume once there is room (no model.failed.h5, which
       * would need room as well and would refuse the resume) */
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", lf_last_error());
      lf_io_metrics_suspend(mw);
      mw = NULL;
      rc = lf_fail_msg(train_rc, "%s%s", msg,
                       checkpoint_exists(ckpt_path)
                           ? "; the last checkpoint is kept: make room and continue with --resume"
                           : "");
    } else if (train_rc != LF_OK) {
      /* keep the last good model and the metrics, then report the failure */
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", lf_last_error());
      lf_io_metrics_close(mw);
      mw = NULL;
      /* not as model.h5: a failed run must not look finished to --resume, `run` or a
       * requeued job (check_output) */
      if (lf_io_model_save(failed_path, &m, cfg, 1) == LF_OK)
        lf_log_error("train", "stopped; the last good parameters are in %s (not model.h5)",
                     failed_path);
      rc = lf_fail_msg(train_rc, "%s", msg);
    } else {
      rc = lf_io_metrics_close(mw);
      mw = NULL;
      m.train_seconds = tr.seconds; /* earlier runs included */
      /* on disk in this order: train.h5, model.h5, the checkpoints removed; a kill
       * between two steps is recovered by --resume (check_output, metrics_resume) */
      if (rc == LF_OK) lf_fault_point("before_final_rename");
      if (rc == LF_OK) rc = lf_io_model_save(model_path, &m, cfg, force);
      if (rc == LF_OK) lf_fault_point("after_final_rename");
      /* the model holds the run now; a stale checkpoint could only mislead --resume */
      if (rc == LF_OK) rc = remove_checkpoint(ckpt_path);
      if (rc == LF_OK)
        lf_log_info("train",
                    "%ld steps in %.1f s (%.1f steps/s; stop: %s; %ld evaluations, %.1f s); loss "
                    "%.4f, batch ESS (smoothed, biased high) %.4f; model %s",
                    res.steps - first, res.wall_seconds,
                    (res.steps - first) / (res.wall_seconds - res.eval_seconds), res.stop_reason,
                    res.nevals, res.eval_seconds, res.loss, res.ess_smoothed, model_path);
      if (rc == LF_OK && res.eval.n > 0)
        lf_log_info("train",
                    "last evaluation (step %ld) on %ld fresh samples: ESS %.4f, IMH acceptance "
                    "%.4f, <log q + S> %.4f (%.1f s)",
                    res.eval.step, res.eval.n, res.eval.ess, res.eval.acceptance,
                    res.eval.mean_loss, res.eval.seconds);
    }
  } else {
    rc = train_rc;
  }
  /* also the barrier that makes model.h5 complete before anyone reads it */
  rc = lf_cli_agree(comm, rc);
  if (rc == LF_INTERRUPTED && !trains)
    rc = lf_fail_msg(LF_INTERRUPTED,
                     "the training ranks stopped on a signal after writing %s; continue with "
                     "--resume",
                     ckpt_path);
  if (rc != LF_OK) goto fail;

  if (json && trains) {
    cJSON_AddStringToObject(json, "command", "train");
    cJSON_AddStringToObject(json, "theory", th.name);
    cJSON_AddStringToObject(json, "estimator", lf_estimator_name(cfg->train.estimator));
    cJSON_AddNumberToObject(json, "batch", cfg->train.batch);
    cJSON_AddNumberToObject(json, "train_ranks", ntrain);
    cJSON_AddNumberToObject(json, "steps", (double)res.steps);
    if (resume) cJSON_AddNumberToObject(json, "resumed_at_step", (double)first);
    cJSON_AddNumberToObject(json, "skipped_steps", (double)res.skipped);
    cJSON_AddStringToObject(json, "stop_reason", res.stop_reason);
    cJSON_AddNumberToObject(json, "loss", res.loss);
    cJSON_AddNumberToObject(json, "ess_smoothed", res.ess_smoothed); /* batch: biased high */
    cJSON_AddNumberToObject(json, "train_seconds", tr.seconds);      /* evaluations excluded */
    cJSON_AddNumberToObject(json, "eval_seconds_total", res.eval_seconds); /* this run's */
    cJSON_AddNumberToObject(json, "wall_seconds", lf_log_elapsed());
    cJSON_AddStringToObject(json, "model", model_path);
    cJSON_AddStringToObject(json, "metrics", metrics_path);
  }
  /* rank 0 (always a training rank): evaluations and warnings from the final train.h5 */
  if (rank == 0) rc = report_evals(cfg, &res, metrics_path, json);
  LF_CHECK(lf_cli_agree(comm, rc));
fail:
  if (mw) lf_io_metrics_close(mw);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
  if (tcomm != MPI_COMM_NULL) MPI_Comm_free(&tcomm);
  return rc;
}

int lf_cli_print_json(cJSON *json) {
  char *s = cJSON_Print(json);
  if (!s) return 1;
  printf("%s\n", s);
  fflush(stdout);
  cJSON_free(s);
  return 0;
}

static int train_command(int argc, char **argv, MPI_Comm comm, const char *cmd, const char *usage) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, cmd, usage, &o, &cfg, &code)) return code;
  lf_cli_lock lock;
  const lf_status lrc = lf_cli_lock_output(&lock, cfg.output, cmd, comm);
  if (lrc != LF_OK) return lf_cli_report(lrc);
  /* SIGTERM/SIGUSR1/SIGINT now set a flag that lf_train_run reads at step boundaries */
  const lf_status src = lf_signal_install();
  if (src != LF_OK) {
    lf_cli_unlock_output(&lock);
    return lf_cli_report(src);
  }
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  cJSON *json = o.json && rank == 0 ? cJSON_CreateObject() : NULL; /* one summary */
  code = lf_cli_report(lf_train_pipeline_ex(&cfg, o.force, o.resume, comm, json));
  lf_cli_unlock_output(&lock);
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}

int lf_cmd_train(int argc, char **argv, MPI_Comm comm) {
  return train_command(argc, argv, comm, "train", help);
}
