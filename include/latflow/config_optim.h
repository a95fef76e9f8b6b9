/* latflow/config_optim.h: the optimizer (train.optimizer) of the run card (lf_optim_cfg),
 * part of lf_train_cfg (latflow/config_train.h; keys and ranges in docs/CONFIG.md).
 * Types only. */
#ifndef LATFLOW_CONFIG_OPTIM_H
#define LATFLOW_CONFIG_OPTIM_H

typedef enum lf_optim_kind { LF_OPT_ADAM = 0, LF_OPT_SGD = 1, LF_OPT_ADADELTA = 2 } lf_optim_kind;

typedef struct lf_optim_cfg {
  lf_optim_kind name;  /* train.optimizer.name: adam | sgd | adadelta                  */
  double lr;           /* > 0; default 1e-3 (adam), 1e-2 (sgd), 1.0 (adadelta)          */
  double beta1, beta2; /* adam: in [0,1); default 0.9, 0.999                             */
  double eps;          /* > 0; default 1e-8 (adam), 1e-6 (adadelta)                      */
  double momentum;     /* sgd: in [0,1); default 0                                       */
  double rho;          /* adadelta: in [0,1); default 0.9                                */
  double weight_decay; /* >= 0; default 0                                                */
} lf_optim_cfg;

#endif
