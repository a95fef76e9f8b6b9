/* latflow train CONFIG: trains a flow, writes <output>/model.h5 and <output>/train.h5,
 * then evaluates the model on train.eval_samples fresh samples (ESS, IMH acceptance). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/theory.h"
#include "latflow/timer.h"
#include "latflow/train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow train [CONFIG] [--set key=value]... [--output DIR] [--force] [--json]\n"
    "Trains the flow of CONFIG (default: the built-in quickstart card) by reverse KL with\n"
    "train.estimator rt or re. Writes <output>/model.h5 and <output>/train.h5 (metrics per\n"
    "step), then evaluates the model on train.eval_samples fresh samples. --json prints a\n"
    "summary object on stdout. An existing output is refused unless --force.\n";

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

static int same_arch(const lf_model_cfg *a, const lf_model_cfg *b) {
  if (a->base != b->base || a->layers != b->layers || a->nhidden != b->nhidden ||
      a->kernel != b->kernel || a->activation != b->activation || a->coupling != b->coupling)
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
  lf_log_info("train", "%s transfer from %s (%dx%d, m2=%g, lambda=%g) to %dx%d",
              vol ? "volume" : "parameter", cfg->train.init_from, om.L0, om.L1, ocfg.theory.m2,
              ocfg.theory.lambda, m->L0, m->L1);
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
  lf_status rc = LF_OK;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_io_metrics *mw = NULL;
  MPI_Comm tcomm = MPI_COMM_NULL;
  int rank = 0, ntrain = 1;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  lf_train_result res;
  lf_eval_result ev;
  memset(&res, 0, sizeof res);
  memset(&ev, 0, sizeof ev);
  char model_path[LF_PATH_MAX], metrics_path[LF_PATH_MAX];
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the job communicator");
  LF_CHECK(split_comm(cfg, comm, &tcomm, &ntrain));
  const int trains = tcomm != MPI_COMM_NULL;
  rc = lf_cli_path(model_path, sizeof model_path, cfg->output, "model.h5");
  if (rc == LF_OK) rc = lf_cli_path(metrics_path, sizeof metrics_path, cfg->output, "train.h5");
  if (rc == LF_OK && rank == 0) {
    if (!force && (lf_cli_file_exists(model_path) || lf_cli_file_exists(metrics_path)))
      rc = LF_FAIL(LF_ERR_IO,
                   "'%s' already holds a trained model; refusing to overwrite "
                   "(use --force or another output)",
                   cfg->output);
    if (rc == LF_OK) rc = lf_cli_mkdirs(cfg->output);
  }
  if (rc == LF_OK && trains) {
    rc = lf_theory_init(&th, &cfg->theory);
    if (rc == LF_OK)
      rc = lf_model_init(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                         cfg->train.batch);
    if (rc == LF_OK) {
      lf_model_init_params(&m, cfg->seed);
      /* every training rank reads the same file, so all start from the same parameters
       * (the first hash check would catch a difference) */
      if (cfg->train.init_from[0]) rc = transfer_params(cfg, &m);
    }
    if (rc == LF_OK) rc = lf_trainer_init(&tr, cfg, &m, &th);
    if (rc == LF_OK) rc = lf_trainer_set_comm(&tr, tcomm);
  }
  if (rc == LF_OK && rank == 0) {
    lf_log_info("train",
                "%s %dx%d m2=%g lambda=%g | %d layers, hidden %d, kernel %d, base %s, "
                "%s | %zu parameters | estimator %s, batch %d over %d rank%s, %ld steps",
                th.name, m.L0, m.L1, cfg->theory.m2, cfg->theory.lambda, cfg->model.layers,
                cfg->model.nhidden > 0 ? cfg->model.hidden[0] : 0, cfg->model.kernel,
                cfg->model.base == LF_BASE_FREE_FIELD ? "free_field" : "normal",
                cfg->model.precision == LF_PREC_F32 ? "single" : "double", m.nparams,
                lf_estimator_name(cfg->train.estimator), cfg->train.batch, ntrain,
                ntrain > 1 ? "s" : "", cfg->train.steps);
    rc = lf_io_metrics_open(&mw, metrics_path, cfg, force);
  }
  LF_CHECK(lf_cli_agree(comm, rc));

  /* training: collective over tcomm (lf_train_run agrees the callback's status) */
  lf_status train_rc = LF_OK;
  if (trains) train_rc = lf_train_run(&tr, 0, rank == 0 ? on_step : NULL, mw, &res);
  if (rank == 0) {
    if (train_rc != LF_OK) {
      /* keep the last good model and the metrics, then report the failure */
      char msg[2048];
      snprintf(msg, sizeof msg, "%s", lf_last_error());
      lf_io_metrics_close(mw);
      mw = NULL;
      if (lf_io_model_save(model_path, &m, cfg, force) == LF_OK)
        lf_log_error("train", "stopped; last good model written to %s", model_path);
      rc = lf_fail_msg(train_rc, "%s", msg);
    } else {
      rc = lf_io_metrics_close(mw);
      mw = NULL;
      m.train_seconds += res.wall_seconds;
      if (rc == LF_OK) rc = lf_io_model_save(model_path, &m, cfg, force);
      if (rc == LF_OK)
        lf_log_info("train",
                    "%ld steps in %.1f s (%.1f steps/s; stop: %s); loss %.4f, smoothed ESS "
                    "%.4f; model %s",
                    res.steps, res.wall_seconds, res.steps / res.wall_seconds, res.stop_reason,
                    res.loss, res.ess_smoothed, model_path);
    }
  } else {
    rc = train_rc;
  }
  /* also the barrier that makes model.h5 complete before anyone reads it */
  LF_CHECK(lf_cli_agree(comm, rc));

  /* evaluation: collective over tcomm, split by sample index (lf_train_eval) */
  if (trains) rc = lf_train_eval(&tr, cfg->train.eval_samples, &ev);
  LF_CHECK(lf_cli_agree(comm, rc));
  if (ev.n > 0 && rank == 0)
    lf_log_info("train",
                "evaluation on %ld fresh samples: ESS %.4f, IMH acceptance %.4f, "
                "<log q + S> %.4f (%.1f s)",
                ev.n, ev.ess, ev.acceptance, ev.mean_loss, ev.seconds);
  if (json && trains) {
    cJSON_AddStringToObject(json, "command", "train");
    cJSON_AddStringToObject(json, "theory", th.name);
    cJSON_AddStringToObject(json, "estimator", lf_estimator_name(cfg->train.estimator));
    cJSON_AddNumberToObject(json, "batch", cfg->train.batch);
    cJSON_AddNumberToObject(json, "train_ranks", ntrain);
    cJSON_AddNumberToObject(json, "steps", (double)res.steps);
    cJSON_AddNumberToObject(json, "skipped_steps", (double)res.skipped);
    cJSON_AddStringToObject(json, "stop_reason", res.stop_reason);
    cJSON_AddNumberToObject(json, "loss", res.loss);
    cJSON_AddNumberToObject(json, "ess_smoothed", res.ess_smoothed);
    cJSON_AddNumberToObject(json, "eval_samples", (double)ev.n);
    if (ev.n > 0) {
      cJSON_AddNumberToObject(json, "ess_eval", ev.ess);
      cJSON_AddNumberToObject(json, "acceptance", ev.acceptance);
      cJSON_AddNumberToObject(json, "eval_loss", ev.mean_loss);
    } else {
      cJSON_AddNullToObject(json, "ess_eval");
      cJSON_AddNullToObject(json, "acceptance");
    }
    cJSON_AddNumberToObject(json, "train_seconds", res.wall_seconds);
    cJSON_AddNumberToObject(json, "eval_seconds", ev.seconds);
    cJSON_AddNumberToObject(json, "wall_seconds", lf_log_elapsed());
    cJSON_AddStringToObject(json, "model", model_path);
    cJSON_AddStringToObject(json, "metrics", metrics_path);
  }
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
  if (o.resume)
    return lf_cli_report(lf_fail_msg(LF_ERR_USAGE,
                                     "%s: --resume is not implemented yet "
                                     "(checkpoints come with the MPI production "
                                     "issue)",
                                     cmd));
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  cJSON *json = o.json && rank == 0 ? cJSON_CreateObject() : NULL; /* one summary */
  code = lf_cli_report(lf_train_pipeline(&cfg, o.force, comm, json));
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}

int lf_cmd_train(int argc, char **argv, MPI_Comm comm) {
  return train_command(argc, argv, comm, "train", help);
}
