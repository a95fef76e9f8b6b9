/* The sample pipeline's files: its checkpoint (<output>/sample.ckpt.h5: written by rank 0,
 * read back on --resume, recognized as stale once the ensemble is complete) and the report
 * at the end of a run (latflow/driver.h, driver_impl.h). */
#include "driver_impl.h"

#include "latflow/ckpt.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

lf_status lf_driver_sample_write_ckpt(const lf_sample_state *s, void *vctx) {
  lf_driver_sample_ckpt *c = vctx;
  lf_ckpt *k = NULL;
  lf_status rc = lf_ckpt_create(&k, c->path, "sample", c->cfg, c->ranks);
  if (rc == LF_OK) rc = lf_sample_state_save(s, k);
  if (rc == LF_OK) rc = lf_ckpt_put_i64(k, "model_hash", (int64_t)c->model_hash);
  if (rc == LF_OK)
    rc = lf_ckpt_commit(k);
  else
    lf_ckpt_abort(k);
  if (rc == LF_OK) {
    c->written++;
    lf_log_debug("sample", "checkpoint after %llu proposals: %s",
                 (unsigned long long)(s->next_block * (uint64_t)c->cfg->sample.block), c->path);
  }
  return rc;
}

lf_status lf_driver_sample_read_ckpt(const lf_config *cfg, const char *path, lf_sample_state *st,
                                     uint64_t *hash) {
  lf_ckpt *k = NULL;
  lf_config stored;
  int64_t h = 0;
  lf_status rc = lf_ckpt_open(&k, path, "sample", &stored);
  /* The card's model section does not describe what is sampled: the architecture comes
   * from the model file (and the checkpoint stores that one), and the model's identity is
   * checked by its hash once it is loaded. Comparing the card's section would refuse a
   * resume of a run that the same command started. */
  lf_config want = *cfg;
  want.model = stored.model;
  if (rc == LF_OK) rc = lf_ckpt_compat(&stored, &want, "sample", lf_ckpt_path(k));
  if (rc == LF_OK) rc = lf_sample_state_load(st, k, cfg->seed);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(k, "model_hash", &h);
  *hash = (uint64_t)h;
  lf_ckpt_close(k);
  return rc;
}

/* Rank 0, --resume finding both <output>/ensemble.h5 and a checkpoint but no .tmp: the run
 * was killed after its final rename and before the checkpoints were removed (the rename
 * consumed the .tmp). The file counts as this run's result only if it is what the
 * checkpoint's run produces: the same config (lf_ckpt_compat; the run is a pure function
 * of it), the same model (hash), at least the checkpoint's rows and steps, and for IMH one
 * chain step per proposal of sample.proposals. Then the stale checkpoints are removed. */
lf_status lf_driver_sample_finish_complete(const lf_config *cfg, const char *ens_path,
                                           const char *ck_path) {
  lf_status rc = LF_OK;
  lf_sample_state st;
  uint64_t hash = 0;
  lf_ensemble e;
  memset(&e, 0, sizeof e);
  memset(&st, 0, sizeof st);
  LF_CHECK(lf_driver_sample_read_ckpt(cfg, ck_path, &st, &hash));
  LF_CHECK(lf_ens_read(ens_path, &e));
  lf_config want = *cfg;
  want.model = e.cfg.model;
  rc = lf_ckpt_compat(&e.cfg, &want, "sample", ens_path);
  char hex[32];
  snprintf(hex, sizeof hex, "%016" PRIx64, hash);
  const int imh = cfg->sample.mode == LF_SAMPLE_IMH;
  if (rc == LF_OK && (e.R != 1 || strcmp(e.info.model_hash, hex) != 0 ||
                      (int64_t)e.rows[0] < st.rows || (int64_t)e.steps[0] < st.steps ||
                      (imh && (int64_t)e.steps[0] != (int64_t)cfg->sample.proposals)))
    rc = LF_FAIL(LF_ERR_IO,
                 "--resume: '%s' and the checkpoint '%s' are not of the same run (model, "
                 "length or chains differ): move one away, or start over with --force",
                 ens_path, ck_path);
  LF_CHECK(rc);
  LF_CHECK(lf_io_remove_checkpoints(ck_path));
  lf_log_info("sample",
              "'%s' is complete (killed after its final rename): removed the stale "
              "checkpoint %s",
              ens_path, ck_path);
fail:
  lf_ens_free(&e);
  return rc;
}

/* The warnings name what makes the ensemble doubtful, in the log and the JSON. */
void lf_driver_sample_report(const lf_config *cfg, const lf_sample_result *res,
                             const lf_sample_state *st, int imh, int resume, int rank, int nranks,
                             const char *model_path, const char *model_hash, const char *ens_path,
                             cJSON *json) {
  char warns[4][256];
  int nw = 0;
  const double nprop = rank == 0 ? (double)res->proposals : 0.0;
  if (rank == 0 && imh && res->acceptance * nprop < 1.5)
    snprintf(warns[nw++], sizeof warns[0],
             "the IMH chain never moved (acceptance %.3g: no proposal after the first was "
             "accepted): the ensemble is one configuration",
             res->acceptance);
  if (rank == 0 && res->bad > 0)
    snprintf(warns[nw++], sizeof warns[0],
             "%" PRIu64 " of %" PRIu64 " proposals had a non-finite log w = -S - log q (%s)",
             res->bad, res->proposals, imh ? "rejected" : "left out");
  if (rank == 0 && imh && (double)res->max_run > 0.05 * nprop)
    snprintf(warns[nw++], sizeof warns[0],
             "the IMH chain sat on one state for %d steps (%.0f%% of the run): errors may be "
             "underestimated; train the flow longer or draw more proposals",
             res->max_run, 100.0 * (double)res->max_run / nprop);
  if (rank == 0 && res->ess * nprop < 50.0)
    snprintf(warns[nw++], sizeof warns[0],
             "ESS x N = %.3g < 50 effective samples: the weights are dominated by a few "
             "proposals",
             res->ess * nprop);
  for (int i = 0; i < nw; i++) lf_log_warn("sample", "%s", warns[i]);
  if (json) {
    cJSON_AddStringToObject(json, "command", "sample");
    cJSON *jw = cJSON_AddArrayToObject(json, "warnings");
    for (int i = 0; i < nw; i++) cJSON_AddItemToArray(jw, cJSON_CreateString(warns[i]));
    cJSON_AddStringToObject(json, "mode", imh ? "imh" : "reweight");
    cJSON_AddNumberToObject(json, "proposals", (double)res->proposals);
    cJSON_AddNumberToObject(json, "rows", (double)res->rows);
    cJSON_AddNumberToObject(json, "non_finite", (double)res->bad);
    cJSON_AddNumberToObject(json, "acceptance", res->acceptance);
    cJSON_AddNumberToObject(json, "ess", res->ess);
    cJSON_AddNumberToObject(json, "max_rejection_run", res->max_run);
    cJSON_AddNumberToObject(json, "gen_seconds", st->seconds + res->seconds);
    cJSON_AddNumberToObject(
        json, "proposals_per_s",
        (double)(res->proposals - st->next_block * (uint64_t)cfg->sample.block) / res->seconds);
    cJSON_AddNumberToObject(json, "ranks", nranks);
    cJSON_AddBoolToObject(json, "resumed", resume != 0);
    cJSON_AddStringToObject(json, "model", model_path);
    cJSON_AddStringToObject(json, "model_hash", model_hash);
    cJSON_AddStringToObject(json, "ensemble", ens_path);
  }
}
