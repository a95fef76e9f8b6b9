/* latflow sample CONFIG [--model M]: flow proposals -> IMH chain (or reweighting) ->
 * <output>/ensemble.h5. Under mpiexec -n P: rank 0 coordinates and writes, ranks 1..P-1
 * generate proposals (latflow/dist.h); the file does not depend on P. */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/ckpt.h"
#include "latflow/dist.h"
#include "latflow/ensemble.h"
#include "latflow/fault.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/signal.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: latflow sample [CONFIG] [--model M] [--set key=value]... [--output DIR] [--force]\n"
    "                      [--resume] [--json]\n"
    "Draws sample.proposals flow proposals in blocks of sample.block from the model M\n"
    "(default <output>/model.h5), computes log w = -S - log q, and runs the Independence\n"
    "Metropolis chain (sample.mode: imh) or keeps every proposal with its weight\n"
    "(sample.mode: reweight). Writes <output>/ensemble.h5 (configurations per sample.save,\n"
    "observables, correlator, chain). The theory of CONFIG must have the model's lattice\n"
    "shape; its couplings may differ from the training ones (the weights correct for it).\n"
    "Under mpiexec -n P, rank 0 runs the chain while ranks 1..P-1 generate proposal\n"
    "blocks; all ranks write the file in collective epochs (parallel HDF5); the datasets\n"
    "are bitwise the same for every P. A checkpoint <output>/sample.ckpt.h5 is written\n"
    "every sample.checkpoint_every proposals, every sample.checkpoint_seconds of wall\n"
    "time and on SIGTERM/SIGUSR1/SIGINT (then exit code 3); --resume continues an\n"
    "interrupted run to the same file, on any number of ranks (a run killed before its\n"
    "first checkpoint starts over; a finished one is left as it is).\n";

typedef struct progress {
  double last;
} progress;

static int on_block(const lf_imh *c, uint64_t done, uint64_t total, double seconds, void *ctx) {
  progress *p = ctx;
  if (seconds - p->last < 1.0 && done < total) return 0;
  p->last = seconds;
  const double rate = seconds > 0 ? (double)done / seconds : 0.0;
  const double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
  lf_log_progress("sample",
                  "%" PRIu64 "/%" PRIu64 " proposals, acceptance %.3f, bad %" PRIu64
                  ", %.0f proposals/s, eta %.0fs",
                  done, total, c->steps ? (double)c->accepted / (double)c->steps : 0.0, c->bad,
                  rate, eta);
  return 0;
}

/* Rank 0's checkpoint writer: <output>/sample.ckpt.h5 (atomic, previous kept). */
typedef struct ckpt_ctx {
  const lf_config *cfg;
  const char *path;
  uint64_t model_hash;
  int ranks, written;
} ckpt_ctx;

static lf_status write_ckpt(const lf_sample_state *s, void *vctx) {
  ckpt_ctx *c = vctx;
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

/* Rank 0: reads the checkpoint of the run in cfg->output and checks it against cfg. */
static lf_status read_ckpt(const lf_config *cfg, const char *path, lf_sample_state *st,
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
static lf_status finish_complete(const lf_config *cfg, const char *ens_path, const char *ck_path) {
  lf_status rc = LF_OK;
  lf_sample_state st;
  uint64_t hash = 0;
  lf_ensemble e;
  memset(&e, 0, sizeof e);
  memset(&st, 0, sizeof st);
  LF_CHECK(read_ckpt(cfg, ck_path, &st, &hash));
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
  LF_CHECK(lf_cli_remove_checkpoints(ck_path));
  lf_log_info("sample",
              "'%s' is complete (killed after its final rename): removed the stale "
              "checkpoint %s",
              ens_path, ck_path);
fail:
  lf_ens_free(&e);
  return rc;
}

lf_status lf_sample_pipeline(const lf_config *cfg, const char *model_arg, int force, MPI_Comm comm,
                             cJSON *json) {
  return lf_sample_pipeline_ex(cfg, model_arg, force, 0, comm, json);
}

lf_status lf_sample_pipeline_ex(const lf_config *cfg_in, const char *model_arg, int force,
                                int resume, MPI_Comm comm, cJSON *json) {
  lf_status rc = LF_OK;
  lf_config cfg = *cfg_in, mcfg;
  lf_theory th;
  lf_model m;
  lf_ens_writer *w = NULL;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  char model_path[LF_PATH_MAX], ens_path[LF_PATH_MAX], ck_path[LF_PATH_MAX], ck_prev[LF_PATH_MAX];
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  lf_sample_state st;
  memset(&st, 0, sizeof st);
  uint64_t ck_hash = 0;
  int complete = 0;
  /* setup: every rank loads the model and the theory; local failures are agreed on
   * before the collective steps */
  if (model_arg)
    snprintf(model_path, sizeof model_path, "%s", model_arg);
  else
    rc = lf_cli_path(model_path, sizeof model_path, cfg.output, "model.h5");
  if (rc == LF_OK) rc = lf_cli_path(ens_path, sizeof ens_path, cfg.output, "ensemble.h5");
  if (rc == LF_OK) rc = lf_cli_path(ck_path, sizeof ck_path, cfg.output, "sample.ckpt.h5");
  if (rc == LF_OK) rc = lf_ckpt_prev_path(ck_prev, sizeof ck_prev, ck_path);
  char ens_tmp[LF_PATH_MAX + 8];
  snprintf(ens_tmp, sizeof ens_tmp, "%s.tmp", ens_path);
  int restart = 0; /* --resume without a checkpoint nor a result: start from the beginning */
  if (rc == LF_OK && rank == 0 && resume) {
    const int have_ck = lf_cli_file_exists(ck_path) || lf_cli_file_exists(ck_prev);
    if (!have_ck && lf_cli_file_exists(ens_path))
      complete = 1; /* idempotent: a requeued job may ask again */
    else if (!have_ck)
      restart = 1; /* killed before its first checkpoint (a requeued job) */
    else if (lf_cli_file_exists(ens_path) && !lf_cli_file_exists(ens_tmp)) {
      rc = finish_complete(&cfg, ens_path, ck_path); /* killed after its final rename */
      complete = rc == LF_OK;
    } else
      rc = read_ckpt(&cfg, ck_path, &st, &ck_hash);
  }
  if (rank == 0 && restart)
    lf_log_info("sample",
                "--resume: no checkpoint and no ensemble in '%s' (the run stopped before its "
                "first checkpoint): starting from the beginning",
                cfg.output);
  if (MPI_Bcast(&restart, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (restart) resume = 0; /* the fresh path removes the stale .tmp files (regular only) */
  if (rc == LF_OK && rank == 0) {
    if (!resume) { /* a --resume was decided above */
      if (!force && lf_cli_file_exists(ens_path))
        rc =
            LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                    ens_path);
      else if (!force && (lf_cli_file_exists(ck_path) || lf_cli_file_exists(ck_prev)))
        rc = LF_FAIL(LF_ERR_IO,
                     "'%s' holds the checkpoint of an interrupted run: continue it with --resume, "
                     "or start again with --force",
                     ck_path);
      if (rc == LF_OK) rc = lf_cli_mkdirs(cfg.output);
      if (rc == LF_OK && force) {
        remove(ck_path);
        remove(ck_prev);
      }
    }
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  if (resume && MPI_Bcast(&complete, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (complete) {
    lf_log_info("sample", "'%s' holds a finished run: nothing to resume", ens_path);
    if (json) {
      cJSON_AddStringToObject(json, "command", "sample");
      cJSON_AddBoolToObject(json, "complete", 1);
      cJSON_AddStringToObject(json, "ensemble", ens_path);
    }
    goto fail; /* rc == LF_OK */
  }
  if (resume) {
    if (MPI_Bcast(&st, (int)sizeof st, MPI_BYTE, 0, comm) != MPI_SUCCESS ||
        MPI_Bcast(&ck_hash, 1, MPI_UINT64_T, 0, comm) != MPI_SUCCESS) {
      rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the checkpoint");
      goto fail;
    }
  }
  rc = lf_io_model_load(model_path, &mcfg, &m, cfg.sample.block);
  if (rc == LF_OK && (m.L0 != cfg.theory.shape[0] || m.L1 != cfg.theory.shape[1]))
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "model '%s' is for a %dx%d lattice but theory.shape is [%d, %d] (sample the "
                 "model's lattice, or train/transfer a model for this one)",
                 model_path, m.L0, m.L1, cfg.theory.shape[0], cfg.theory.shape[1]);
  if (rc == LF_OK && resume && lf_model_hash(&m) != ck_hash)
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "cannot resume: model '%s' (hash %016" PRIx64 ") is not the model the "
                 "interrupted run sampled (hash %016" PRIx64 ")",
                 model_path, lf_model_hash(&m), ck_hash);
  if (rc == LF_OK) {
    cfg.model = m.cfg; /* the architecture that was actually used */
    rc = lf_theory_init(&th, &cfg.theory);
    if (rc == LF_OK) rc = lf_theory_select_obs(&th, &cfg);
  }
  if (rc == LF_OK) {
    info.kind = cfg.sample.mode == LF_SAMPLE_REWEIGHT ? LF_ENS_REWEIGHT : LF_ENS_IMH;
    snprintf(info.theory, sizeof info.theory, "%s", th.name);
    info.C = th.C;
    info.L0 = m.L0;
    info.L1 = m.L1;
    info.nobs = th.nobs;
    for (int k = 0; k < th.nobs; k++)
      snprintf(info.obs_names[k], sizeof info.obs_names[k], "%s", th.obs_names[k]);
    info.ncorr = th.ncorr;
    info.save_configs = cfg.sample.save != LF_SAVE_NONE;
    snprintf(info.model_hash, sizeof info.model_hash, "%016" PRIx64, lf_model_hash(&m));
    snprintf(info.model_path, sizeof info.model_path, "%s", model_path);
    info.train_seconds = m.train_seconds;
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  /* the collective writer: a new file, or the interrupted run's cut back to its checkpoint */
  if (resume)
    rc = lf_ens_reopen(&w, ens_path, &info, st.rows, st.steps, comm);
  else
    rc = lf_ens_create_par(&w, ens_path, &cfg, &info, force, comm);
  LF_CHECK(lf_cli_agree(comm, rc));
  char desc[160];
  lf_theory_describe(&cfg.theory, desc, sizeof desc);
  lf_log_info("sample",
              "%s | model %s (hash %s) | %s, %ld proposals in blocks "
              "of %d, save %s | %d rank(s): %s",
              desc, model_path, info.model_hash, info.kind == LF_ENS_IMH ? "IMH" : "reweighting",
              cfg.sample.proposals, cfg.sample.block,
              cfg.sample.save == LF_SAVE_ALL    ? "all"
              : cfg.sample.save == LF_SAVE_NONE ? "none"
                                                : "accepted",
              nranks, nranks > 1 ? "rank 0 coordinates, the others propose" : "one rank");
  if (resume)
    lf_log_info("sample", "resuming after %llu proposals (%lld rows, %lld chain steps) from %s",
                (unsigned long long)(st.next_block * (uint64_t)cfg.sample.block),
                (long long)st.rows, (long long)st.steps, ck_path);
  lf_signal_install();
  progress pr = {0.0};
  ckpt_ctx cc = {&cfg, ck_path, lf_model_hash(&m), nranks, 0};
  lf_dist_opts opts = {on_block,   &pr, resume ? &st : NULL,
                       write_ckpt, &cc, cfg.sample.checkpoint_every};
  lf_sample_result res;
  lf_dist_stats ds;
  rc = lf_sample_dist(&cfg, &m, &th, w, comm, &opts, &res, &ds);
  lf_log_progress_end();
  if (rc != LF_OK) { /* agreed by lf_sample_dist */
    /* every rank knows: main ends the job without MPI_Abort (lf_comm_failure_agreed) */
    rc = lf_cli_agree(comm, rc);
    /* keep the data of a run that can be resumed */
    int keep = resume || cc.written > 0 || rc == LF_INTERRUPTED;
    if (MPI_Bcast(&keep, 1, MPI_INT, 0, comm) == MPI_SUCCESS && keep) {
      lf_ens_suspend(w);
      w = NULL;
      if (rc == LF_INTERRUPTED)
        lf_log_info("sample", "stopped; continue with: latflow sample ... --resume (checkpoint %s)",
                    ck_path);
    }
    goto fail;
  }
  rc = lf_ens_close(w);
  w = NULL;
  LF_CHECK(lf_cli_agree(comm, rc));
  /* the ensemble is in place; a kill from here on leaves it complete (finish_complete) */
  if (rank == 0) {
    lf_fault_point("after_final_rename");
    remove(ck_path);
    remove(ck_prev);
  }
  lf_log_info("sample",
              "%" PRIu64 " proposals in %.1f s (%.0f/s): acceptance %.4f, ESS %.4f, longest "
              "rejection run %d, %" PRIu64 " non-finite, %" PRIu64 " rows -> %s",
              res.proposals, res.seconds,
              (double)(res.proposals - st.next_block * (uint64_t)cfg.sample.block) / res.seconds,
              res.acceptance, res.ess, res.max_run, res.bad, res.rows, ens_path);
  if (nranks > 1)
    lf_log_info("sample", "coordinator idle %.2f s wall, %.3f s CPU (%.1f%% of a core)",
                ds.idle_seconds, ds.idle_cpu_seconds,
                ds.idle_seconds > 0 ? 100.0 * ds.idle_cpu_seconds / ds.idle_seconds : 0.0);
  /* what makes this ensemble doubtful, in the log and the JSON (rank 0 knows the chain) */
  char warns[4][256];
  int nw = 0;
  const int imh = info.kind == LF_ENS_IMH;
  const double nprop = rank == 0 ? (double)res.proposals : 0.0;
  if (rank == 0 && imh && res.acceptance * nprop < 1.5)
    snprintf(warns[nw++], sizeof warns[0],
             "the IMH chain never moved (acceptance %.3g: no proposal after the first was "
             "accepted): the ensemble is one configuration",
             res.acceptance);
  if (rank == 0 && res.bad > 0)
    snprintf(warns[nw++], sizeof warns[0],
             "%" PRIu64 " of %" PRIu64 " proposals had a non-finite log w = -S - log q (%s)",
             res.bad, res.proposals, imh ? "rejected" : "left out");
  if (rank == 0 && imh && (double)res.max_run > 0.05 * nprop)
    snprintf(warns[nw++], sizeof warns[0],
             "the IMH chain sat on one state for %d steps (%.0f%% of the run): errors may be "
             "underestimated; train the flow longer or draw more proposals",
             res.max_run, 100.0 * (double)res.max_run / nprop);
  if (rank == 0 && res.ess * nprop < 50.0)
    snprintf(warns[nw++], sizeof warns[0],
             "ESS x N = %.3g < 50 effective samples: the weights are dominated by a few "
             "proposals",
             res.ess * nprop);
  for (int i = 0; i < nw; i++) lf_log_warn("sample", "%s", warns[i]);
  if (json) {
    cJSON_AddStringToObject(json, "command", "sample");
    cJSON *jw = cJSON_AddArrayToObject(json, "warnings");
    for (int i = 0; i < nw; i++) cJSON_AddItemToArray(jw, cJSON_CreateString(warns[i]));
    cJSON_AddStringToObject(json, "mode", info.kind == LF_ENS_IMH ? "imh" : "reweight");
    cJSON_AddNumberToObject(json, "proposals", (double)res.proposals);
    cJSON_AddNumberToObject(json, "rows", (double)res.rows);
    cJSON_AddNumberToObject(json, "non_finite", (double)res.bad);
    cJSON_AddNumberToObject(json, "acceptance", res.acceptance);
    cJSON_AddNumberToObject(json, "ess", res.ess);
    cJSON_AddNumberToObject(json, "max_rejection_run", res.max_run);
    cJSON_AddNumberToObject(json, "gen_seconds", st.seconds + res.seconds);
    cJSON_AddNumberToObject(json, "proposals_per_s",
                            (double)(res.proposals - st.next_block * (uint64_t)cfg.sample.block) /
                                res.seconds);
    cJSON_AddNumberToObject(json, "ranks", nranks);
    cJSON_AddBoolToObject(json, "resumed", resume != 0);
    cJSON_AddStringToObject(json, "model", model_path);
    cJSON_AddStringToObject(json, "model_hash", info.model_hash);
    cJSON_AddStringToObject(json, "ensemble", ens_path);
  }
fail:
  if (w) lf_ens_abort(w);
  lf_model_free(&m);
  lf_theory_free(&th);
  return rc;
}

int lf_cmd_sample(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "sample", help, &o, &cfg, &code)) return code;
  if (o.model) { /* a wrong --model path is bad usage (exit 2), like a wrong CONFIG */
    const lf_status mrc = lf_io_input_check(o.model, "sample: --model");
    if (mrc != LF_OK) return lf_cli_report(mrc);
  }
  lf_cli_lock lock;
  const lf_status lrc = lf_cli_lock_output(&lock, cfg.output, "sample", comm);
  if (lrc != LF_OK) return lf_cli_report(lrc);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  cJSON *json = o.json && rank == 0 ? cJSON_CreateObject() : NULL;
  code = lf_cli_report(lf_sample_pipeline_ex(&cfg, o.model, o.force, o.resume, comm, json));
  lf_cli_unlock_output(&lock);
  if (json) {
    if (code == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
