/* src/driver/driver_impl.h: what the pipelines' files share, private to src/driver:
 *   train_pipeline.c  lf_train_pipeline(_ex): the training communicator, the trainer, the
 *                     metrics writer's callbacks, the end of a run and its JSON summary
 *   train_files.c     the train output folder: what it allows (check_output), the
 *                     checkpoint's removal and reload, parameter transfer (init_from)
 *   train_report.c    the evaluations and warnings of a finished training run
 *   sample_pipeline.c lf_sample_pipeline(_ex): model, theory, writer, lf_sample_dist
 *   sample_files.c    the sample checkpoint (write, read, a run found complete) and the
 *                     end-of-run report (warnings, JSON summary)
 *   hmc_pipeline.c    lf_hmc_pipeline_ex: lf_hmc_run and its JSON summary
 *   run_pipeline.c    lf_run_stages: the train, sample and hmc stages of latflow run
 *   eval_pipeline.c   lf_eval_model: a model file evaluated on fresh samples (volume
 *                     transfer, jackknife ESS error) for the study
 *   study*.c          the study engine (its own study_impl.h) */
#ifndef LATFLOW_DRIVER_IMPL_H
#define LATFLOW_DRIVER_IMPL_H

#include "latflow/config.h"
#include "latflow/dist.h"
#include "latflow/io.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/status.h"
#include "latflow/train.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ---- train (train_files.c, train_report.c) ---- */

/* Removes path and its .prev and .tmp companions (missing ones are fine). One rank. */
lf_status lf_driver_train_remove_ckpt(const char *path);
/* 1 if the checkpoint at path or its .prev exists. */
int lf_driver_ckpt_exists(const char *path);
/* Rank 0, before anything is built: what the output directory allows. A fresh run
 * refuses finished outputs and the checkpoint of an interrupted run unless force (which
 * removes that checkpoint, so it cannot be resumed by mistake later). --resume sets
 * *complete = 1 when the output holds a finished model (removing a stale checkpoint of
 * this run), 2 when there is no checkpoint to resume (the run starts over), else 0. */
lf_status lf_driver_train_check_output(const lf_config *cfg, int force, int resume,
                                       const char *model_path, const char *failed_path,
                                       const char *metrics_path, const char *ckpt_path,
                                       int *complete);
/* Training ranks, --resume: the trainer state from the checkpoint, after checking that
 * the config continues the same run. The training-rank count is checked by
 * lf_trainer_load itself (train.ranks may differ as long as the count is the same). */
lf_status lf_driver_train_load_ckpt(const lf_config *cfg, const char *ckpt_path, lf_trainer *tr);
/* Parameter transfer (other couplings) or volume transfer (other lattice) from
 * cfg->train.init_from into m, which must have the same architecture. */
lf_status lf_driver_transfer_params(const lf_config *cfg, lf_model *m);
/* The parent of a run with train.init_from: how it is transferred and its chain totals
 * (its own cost plus its ancestors'), which the run's chain totals add to. */
typedef struct lf_driver_parent {
  int has;         /* 1: cfg->train.init_from names a parent */
  int volume;      /* 1: trained on another lattice (volume transfer), 0: parameter transfer */
  int L0, L1;      /* its lattice */
  long steps;      /* its chain's training steps */
  int64_t n_train; /* its chain's samples flowed */
  double seconds;  /* its chain's training wall seconds */
} lf_driver_parent;
/* Completes the cost of a model loaded from a file that did not record its samples
 * flowed (n_train < 0: files before issue 16): lf_train_samples of its stored config
 * mcfg over its train_steps, and the chain's = its own. Local. */
void lf_driver_model_cost(const lf_config *mcfg, lf_model *m);
/* Reads the parent cfg->train.init_from names into *p (p->has = 0 without one). Local:
 * every rank that calls it reads the file. Errors: those of lf_io_model_load. */
lf_status lf_driver_read_parent(const lf_config *cfg, lf_driver_parent *p);
/* Sets m's cost after a run of `steps` steps (all parts) and `seconds` training wall
 * seconds: own, and the chain's = the parent's chain totals + own. Local. */
void lf_driver_set_cost(const lf_config *cfg, const lf_driver_parent *p, long steps, double seconds,
                        lf_model *m);
/* Rank 0, after train.h5 is final: the warnings of the run (logged), and when json is
 * not NULL the evaluations train.h5 holds (all parts of a resumed run) as "evals", the
 * last one as ess_eval, acceptance, eval_loss, eval_step, eval_samples and eval_seconds,
 * and the warnings as "warnings". */
lf_status lf_driver_train_report(const lf_config *cfg, const lf_train_result *res,
                                 const char *metrics_path, cJSON *json);
/* One train.h5 /eval record as a JSON object (step, samples, ess, acceptance, loss,
 * log_mean_weight, n_train, seconds, eval_seconds): train --json's "evals" and a study's
 * point.json "curve". */
cJSON *lf_driver_eval_json(const lf_train_eval_record *e);

/* ---- sample (sample_files.c) ---- */

/* Rank 0's checkpoint writer: <output>/sample.ckpt.h5 (atomic, previous kept); the
 * context of lf_driver_sample_write_ckpt. */
typedef struct lf_driver_sample_ckpt {
  const lf_config *cfg;
  const char *path;
  uint64_t model_hash;
  int ranks, written; /* written: checkpoints written by this run */
} lf_driver_sample_ckpt;

/* lf_dist_opts' checkpoint callback; vctx is an lf_driver_sample_ckpt. */
lf_status lf_driver_sample_write_ckpt(const lf_sample_state *s, void *vctx);
/* Rank 0: reads the checkpoint of the run in cfg->output and checks it against cfg. */
lf_status lf_driver_sample_read_ckpt(const lf_config *cfg, const char *path, lf_sample_state *st,
                                     uint64_t *hash);
/* Rank 0, --resume finding both <output>/ensemble.h5 and a checkpoint but no .tmp: checks
 * that the file is the checkpoint's run's result, then removes the stale checkpoints. */
lf_status lf_driver_sample_finish_complete(const lf_config *cfg, const char *ens_path,
                                           const char *ck_path);
/* The end of a sampling run on rank `rank` of nranks: logs what makes the ensemble
 * doubtful (only rank 0 knows the chain, the others have no warnings) and adds the
 * summary to json when not NULL. imh: the ensemble is an IMH chain; st: the checkpoint
 * resumed from (zero for a fresh run). */
void lf_driver_sample_report(const lf_config *cfg, const lf_sample_result *res,
                             const lf_sample_state *st, int imh, int resume, int rank, int nranks,
                             const char *model_path, const char *model_hash, const char *ens_path,
                             cJSON *json);

#endif
