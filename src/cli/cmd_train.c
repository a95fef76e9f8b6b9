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

lf_status lf_train_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json) {
  (void)comm;
  lf_status rc = LF_OK;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_io_metrics *mw = NULL;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  char model_path[LF_PATH_MAX], metrics_path[LF_PATH_MAX];
  LF_CHECK(lf_cli_path(model_path, sizeof model_path, cfg->output, "model.h5"));
  LF_CHECK(lf_cli_path(metrics_path, sizeof metrics_path, cfg->output, "train.h5"));
  if (!force && (lf_cli_file_exists(model_path) || lf_cli_file_exists(metrics_path))) {
    rc = LF_FAIL(LF_ERR_IO,
                 "'%s' already holds a trained model; refusing to overwrite "
                 "(use --force or another output)",
                 cfg->output);
    goto fail;
  }
  LF_CHECK(lf_cli_mkdirs(cfg->output));
  LF_CHECK(lf_theory_init(&th, &cfg->theory));
  LF_CHECK(lf_model_init(&m, &cfg->model, th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                         cfg->train.batch));
  lf_model_init_params(&m, cfg->seed);
  if (cfg->train.init_from[0]) LF_CHECK(transfer_params(cfg, &m));
  LF_CHECK(lf_trainer_init(&tr, cfg, &m, &th));
  lf_log_info("train",
              "%s %dx%d m2=%g lambda=%g | %d layers, hidden %d, kernel %d, base %s, "
              "%s | %zu parameters | estimator %s, batch %d, %ld steps",
              th.name, m.L0, m.L1, cfg->theory.m2, cfg->theory.lambda, cfg->model.layers,
              cfg->model.nhidden > 0 ? cfg->model.hidden[0] : 0, cfg->model.kernel,
              cfg->model.base == LF_BASE_FREE_FIELD ? "free_field" : "normal",
              cfg->model.precision == LF_PREC_F32 ? "single" : "double", m.nparams,
              lf_estimator_name(cfg->train.estimator), cfg->train.batch, cfg->train.steps);
  LF_CHECK(lf_io_metrics_open(&mw, metrics_path, cfg, force));

  lf_train_result res;
  const lf_status train_rc = lf_train_run(&tr, 0, on_step, mw, &res);
  if (train_rc != LF_OK) {
    /* keep the last good model and the metrics, then report the failure */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    lf_io_metrics_close(mw);
    mw = NULL;
    if (lf_io_model_save(model_path, &m, cfg, force) == LF_OK)
      lf_log_error("train", "stopped; last good model written to %s", model_path);
    rc = lf_fail_msg(train_rc, "%s", msg);
    goto fail;
  }
  rc = lf_io_metrics_close(mw);
  mw = NULL;
  LF_CHECK(rc);
  m.train_seconds += res.wall_seconds;
  LF_CHECK(lf_io_model_save(model_path, &m, cfg, force));
  lf_log_info("train",
              "%ld steps in %.1f s (%.1f steps/s; stop: %s); loss %.4f, smoothed ESS "
              "%.4f; model %s",
              res.steps, res.wall_seconds, res.steps / res.wall_seconds, res.stop_reason, res.loss,
              res.ess_smoothed, model_path);

  lf_eval_result ev;
  LF_CHECK(lf_train_eval(&tr, cfg->train.eval_samples, &ev));
  if (ev.n > 0)
    lf_log_info("train",
                "evaluation on %ld fresh samples: ESS %.4f, IMH acceptance %.4f, "
                "<log q + S> %.4f (%.1f s)",
                ev.n, ev.ess, ev.acceptance, ev.mean_loss, ev.seconds);
  if (json) {
    cJSON_AddStringToObject(json, "command", "train");
    cJSON_AddStringToObject(json, "theory", th.name);
    cJSON_AddStringToObject(json, "estimator", lf_estimator_name(cfg->train.estimator));
    cJSON_AddNumberToObject(json, "batch", cfg->train.batch);
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
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
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
