/* The train pipeline's files (driver_impl.h): what the output folder allows before a run
 * (a finished model, a failed run, the checkpoint of an interrupted one), the removal and
 * the reload of the trainer's checkpoint <output>/train.ckpt.h5, the parameters a run
 * starts from when train.init_from names another model, and the training cost of the
 * transfer chain (own plus the parent's chain totals) that model.h5 records. */
#include "driver_impl.h"

#include "latflow/ckpt.h"
#include "latflow/driver.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Plain remove() of each name, as latflow train always did (lf_io_remove_checkpoints
 * would refuse a link). */
lf_status lf_driver_train_remove_ckpt(const char *path) {
  char other[LF_PATH_MAX + 16];
  const char *sfx[3] = {"", ".prev", ".tmp"};
  for (int i = 0; i < 3; i++) {
    snprintf(other, sizeof other, "%s%s", path, sfx[i]);
    if (remove(other) != 0 && errno != ENOENT)
      return LF_FAIL(LF_ERR_IO, "cannot remove '%s': %s", other, strerror(errno));
  }
  return LF_OK;
}

/* The checkpoint or its .prev (lf_ckpt_prev_path). */
int lf_driver_ckpt_exists(const char *path) {
  char prev[LF_PATH_MAX + 16];
  return lf_io_exists(path) ||
         (lf_ckpt_prev_path(prev, sizeof prev, path) == LF_OK && lf_io_exists(prev));
}

/* Rank 0 (driver_impl.h): a failed run first, then --resume's three cases, then the
 * refusals and removals of a fresh run. */
lf_status lf_driver_train_check_output(const lf_config *cfg, int force, int resume,
                                       const char *model_path, const char *failed_path,
                                       const char *metrics_path, const char *ckpt_path,
                                       int *complete) {
  *complete = 0;
  /* a failed run is recognizable on disk (model.failed.h5 instead of model.h5): neither
   * --resume (it would fail the same way: the run is a pure function of the config) nor
   * a fresh run without --force may take it for a finished or an interrupted one */
  if (!force && lf_io_exists(failed_path) && !lf_io_exists(model_path))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' holds a failed training run (its last good parameters are in %s; see "
                   "the log and train.h5): %s; change the config and start over with --force",
                   cfg->output, failed_path,
                   resume ? "--resume would fail the same way" : "refusing to overwrite it");
  if (resume) {
    if (lf_io_exists(model_path)) {
      if (lf_driver_ckpt_exists(ckpt_path)) {
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
        if ((rc = lf_driver_train_remove_ckpt(ckpt_path)) != LF_OK) return rc;
        lf_log_info("train",
                    "'%s' is complete (killed after its final rename): removed the stale "
                    "checkpoint %s",
                    model_path, ckpt_path);
      }
      *complete = 1;
      return LF_OK;
    }
    if (lf_driver_ckpt_exists(ckpt_path)) return LF_OK;
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
    if (rc == LF_OK) rc = lf_driver_train_remove_ckpt(ckpt_path); /* a stale .tmp */
    if (rc != LF_OK) return rc;
    *complete = 2;
    return lf_io_mkdirs(cfg->output);
  }
  if (!force && (lf_io_exists(model_path) || lf_io_exists(metrics_path)))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' already holds a trained model; refusing to overwrite "
                   "(use --force or another output)",
                   cfg->output);
  if (!force && lf_driver_ckpt_exists(ckpt_path))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' holds the checkpoint of an interrupted training run (%s): %s; or "
                   "start over with --force",
                   cfg->output, ckpt_path, lf_driver_resume_hint());
  if (force) {
    const lf_status rc = lf_driver_train_remove_ckpt(ckpt_path);
    if (rc != LF_OK) return rc;
    if (remove(failed_path) != 0 && errno != ENOENT)
      return LF_FAIL(LF_ERR_IO, "cannot remove '%s': %s", failed_path, strerror(errno));
  }
  return lf_io_mkdirs(cfg->output);
}

/* The stored config must continue this one (lf_ckpt_compat), train.ranks aside. */
lf_status lf_driver_train_load_ckpt(const lf_config *cfg, const char *ckpt_path, lf_trainer *tr) {
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

/* Parameter transfer (other couplings) or volume transfer (other lattice): the conv
 * nets are translation-equivariant, so the same parameters act on any lattice size. */
lf_status lf_driver_transfer_params(const lf_config *cfg, lf_model *m) {
  lf_status rc = LF_OK;
  lf_config ocfg;
  lf_model om;
  memset(&om, 0, sizeof om);
  LF_CHECK(lf_io_model_load(cfg->train.init_from, &ocfg, &om, 1));
  if (!lf_model_cfg_same_arch(&ocfg.model, &m->cfg) || om.C != m->C || om.nparams != m->nparams) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "train.init_from: '%s' has another architecture (layers %d, hidden %d..., "
                 "kernel %d, base %s, %zu parameters) than this config (layers %d, kernel %d, "
                 "base %s, %zu parameters)",
                 cfg->train.init_from, ocfg.model.layers, ocfg.model.nhidden, ocfg.model.kernel,
                 lf_model_arch_value_name(lf_model_arch_find("base"), ocfg.model.base), om.nparams,
                 m->cfg.layers, m->cfg.kernel,
                 lf_model_arch_value_name(lf_model_arch_find("base"), m->cfg.base), m->nparams);
    goto fail;
  }
  LF_CHECK(lf_io_model_copy_params(m, &om));
  const int vol = (om.L0 != m->L0 || om.L1 != m->L1);
  char odesc[160];
  lf_theory_describe(&ocfg.theory, odesc, sizeof odesc);
  lf_log_info("train", "%s transfer from %s (%s) to %dx%d", vol ? "volume" : "parameter",
              cfg->train.init_from, odesc, m->L0, m->L1);
fail:
  lf_model_free(&om);
  return rc;
}

void lf_driver_model_cost(const lf_config *mcfg, lf_model *m) {
  if (m->n_train < 0) m->n_train = lf_train_samples(mcfg, m->train_steps);
  if (m->chain_n_train < 0) m->chain_n_train = m->n_train;
}

lf_status lf_driver_read_parent(const lf_config *cfg, lf_driver_parent *p) {
  memset(p, 0, sizeof *p);
  if (!cfg->train.init_from[0]) return LF_OK;
  lf_config ocfg;
  lf_model om;
  const lf_status rc = lf_io_model_load(cfg->train.init_from, &ocfg, &om, 1);
  if (rc != LF_OK) return rc;
  lf_driver_model_cost(&ocfg, &om);
  p->has = 1;
  p->L0 = om.L0;
  p->L1 = om.L1;
  p->volume = om.L0 != cfg->theory.shape[0] || om.L1 != cfg->theory.shape[1];
  p->steps = om.chain_steps;
  p->n_train = om.chain_n_train;
  p->seconds = om.chain_seconds;
  lf_model_free(&om);
  return LF_OK;
}

void lf_driver_set_cost(const lf_config *cfg, const lf_driver_parent *p, long steps, double seconds,
                        lf_model *m) {
  m->train_seconds = seconds;
  m->train_steps = steps;
  m->n_train = lf_train_samples(cfg, steps);
  m->chain_steps = p->steps + steps; /* p is zero without a parent */
  m->chain_n_train = p->n_train + m->n_train;
  m->chain_seconds = p->seconds + seconds;
}
