/* latflow/config_sample.h: the sample section of the run card (lf_sample_cfg: the flow
 * sampler's mode, proposals, storage and checkpoints), part of lf_config
 * (latflow/config.h; keys and ranges in docs/CONFIG.md). Types only. */
#ifndef LATFLOW_CONFIG_SAMPLE_H
#define LATFLOW_CONFIG_SAMPLE_H

typedef enum lf_sample_mode { LF_SAMPLE_IMH = 0, LF_SAMPLE_REWEIGHT = 1 } lf_sample_mode;
typedef enum lf_save_kind { LF_SAVE_ACCEPTED = 0, LF_SAVE_ALL = 1, LF_SAVE_NONE = 2 } lf_save_kind;

typedef struct lf_sample_cfg {
  lf_sample_mode mode;       /* sample.mode: imh | reweight            */
  long proposals;            /* sample.proposals > 0; default 204800    */
  int block;                 /* sample.block > 0; default 256           */
  lf_save_kind save;         /* sample.save: accepted | all | none      */
  int epoch;                 /* sample.epoch > 0: blocks per worker per storage epoch; 8 */
  long checkpoint_every;     /* sample.checkpoint_every >= 0: proposals between checkpoints
                                (rounded up to whole epochs; 0 = only on a signal); 100000 */
  double checkpoint_seconds; /* sample.checkpoint_seconds >= 0: wall seconds between
                                checkpoints, checked at epoch ends (0 = off); 1800 */
} lf_sample_cfg;

#endif
