/* latflow/config_train.h: the train section of the run card (lf_train_cfg: estimator,
 * optimizer, schedule, stopping, checkpoints, evaluation), part of lf_config
 * (latflow/config.h; keys and ranges in docs/CONFIG.md). Types only, plus the estimator's
 * name for logs and files (src/config). */
#ifndef LATFLOW_CONFIG_TRAIN_H
#define LATFLOW_CONFIG_TRAIN_H

#include "latflow/config_limits.h"
#include "latflow/config_optim.h"

typedef enum lf_estimator { LF_EST_RT = 0, LF_EST_RE = 1 } lf_estimator;

typedef struct lf_train_cfg {
  lf_estimator estimator;      /* train.estimator: rt | re                                 */
  lf_optim_cfg optimizer;      /* train.optimizer                                          */
  int batch;                   /* train.batch > 0; default 64                              */
  int ranks;                   /* train.ranks >= 0: training ranks (0 = all); default 0     */
  long lr_halve_every;         /* train.schedule.lr_halve_every >= 0 (0 = never)           */
  long batch_double_every;     /* train.schedule.batch_double_every >= 0 (0 = never)       */
  int batch_max;               /* train.schedule.batch_max >= batch (0 = batch)            */
  long steps;                  /* train.stop.steps > 0; default 3000                       */
  double target_ess;           /* train.stop.target_ess in [0,1] (0 = off)                 */
  int ess_window;              /* train.stop.ess_window > 0; default 100                   */
  double wall_time;            /* train.stop.wall_time seconds >= 0 (0 = off); YAML accepts
                                  a number of seconds or "90s", "30m", "2h", "1h30m", "1d" */
  char init_from[LF_PATH_MAX]; /* train.init_from: model file ("" = fresh init)         */
  long checkpoint_every;       /* train.checkpoint_every >= 0: steps between checkpoints
                                  (0 = only on a signal); default 500                      */
  double checkpoint_seconds;   /* train.checkpoint_seconds >= 0: wall seconds between
                                  checkpoints (0 = off); default 1800; a duration in YAML */
  long eval_samples;           /* train.eval_samples >= 0: fresh samples per evaluation;
                                  default 4096 (0 = no evaluation)                        */
  long eval_every;             /* train.eval_every >= 0: steps between fresh-sample
                                  evaluations (0 = only at the end); default 500           */
  long log_every;              /* train.log_every > 0; default 100                         */
  int max_bad_steps;           /* train.max_bad_steps > 0: consecutive NaN steps; default 10 */
  double grad_clip;            /* train.grad_clip >= 0 (0 = off): max global grad norm     */
} lf_train_cfg;

/* The name of estimator e, for logs and files ("unknown" outside the enum). */
const char *lf_estimator_name(lf_estimator e);

#endif
