/* tests/unit/train_test.h: a theory, model and trainer built from one config, shared by
 * test_train and test_train_ckpt. tr_run_init records a failed setup as a CHECK and
 * leaves ok = 0; tr_run_free accepts a half-built run. */
#ifndef LATFLOW_TESTS_TRAIN_TEST_H
#define LATFLOW_TESTS_TRAIN_TEST_H

#include "latflow/config.h"
#include "latflow/model.h"
#include "latflow/theory.h"
#include "latflow/train.h"
#include "lftest.h"

#include <string.h>

typedef struct tr_run {
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  int ok;
} tr_run;

static inline void tr_run_init(tr_run *r, const lf_config *cfg) {
  memset(r, 0, sizeof *r);
  r->ok = lf_theory_init(&r->th, &cfg->theory) == LF_OK &&
          lf_model_init(&r->m, &cfg->model, r->th.C, cfg->theory.shape[0], cfg->theory.shape[1],
                        cfg->train.batch) == LF_OK;
  if (r->ok) {
    lf_model_init_params(&r->m, cfg->seed);
    r->ok = lf_trainer_init(&r->tr, cfg, &r->m, &r->th) == LF_OK;
  }
  if (!r->ok) CHECK(0, "setup failed: %s", lf_last_error());
}

static inline void tr_run_free(tr_run *r) {
  lf_trainer_free(&r->tr);
  lf_model_free(&r->m);
  lf_theory_free(&r->th);
}

#endif
