/* The report of a finished training run (rank 0, after train.h5 is final): its
 * evaluations on fresh samples for --json, and the warnings that say when the flow is not
 * worth sampling (driver_impl.h). */
#include "driver_impl.h"

#include "latflow/io.h"
#include "latflow/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* One evaluation as a JSON object (driver_impl.h). */
cJSON *lf_driver_eval_json(const lf_train_eval_record *e) {
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
  return o;
}

/* The evaluations come from train.h5, not from res: a resumed run lists those of its
 * earlier parts too. */
lf_status lf_driver_train_report(const lf_config *cfg, const lf_train_result *res,
                                 const char *metrics_path, cJSON *json) {
  lf_train_series s;
  const lf_status rc = lf_io_metrics_read(metrics_path, &s, NULL);
  if (rc != LF_OK) return rc;
  const lf_train_eval_record *last = s.neval > 0 ? &s.evals[s.neval - 1] : NULL;
  if (json) {
    cJSON *list = cJSON_AddArrayToObject(json, "evals");
    for (size_t i = 0; i < s.neval && list; i++) {
      cJSON_AddItemToArray(list, lf_driver_eval_json(&s.evals[i]));
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
