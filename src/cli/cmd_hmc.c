/* latflow hmc CONFIG: the HMC baseline -> <output>/hmc.h5 (ensemble format, kind hmc), with
 * checkpoints <output>/hmc.ckpt.h5 and exact resume (--resume).
 *
 * Checkpoints (what = "hmc"; latflow/ckpt.h). Chain c's trajectory t is a pure function of
 * (seed, c, t, phi) (latflow/hmc.h), so a chain is continued exactly from its field phi and
 * its next trajectory number t, plus the bookkeeping that the output depends on: the row of
 * the current state (a rejected trajectory repeats it), the rows and steps already in its
 * ensemble (lf_ens_reopen cuts the .tmp back to them) and the counters of the log. Every
 * rank runs one chain; at a checkpoint all ranks flush their ensembles, rank 0 gathers the
 * chain states and writes the one file (so a checkpoint is one atomic commit, never a set of
 * per-rank files of different ages).
 *
 * When: all ranks meet at fixed trajectory numbers (the same for every P, so where a run
 * stops does not depend on P): every multiple of K = min(hmc.checkpoint_every, 64) and of
 * hmc.checkpoint_every, counting the thermalization trajectories. There they agree on
 * their status and on a pending signal (two small all-reduces per K trajectories; one per
 * trajectory would cost more than the trajectory at L = 8), write a checkpoint at every
 * multiple of hmc.checkpoint_every or on a signal, and on a signal stop with
 * LF_INTERRUPTED. The last trajectory needs no meeting: the run ends normally there. A
 * wall-clock checkpoint (hmc.checkpoint_seconds) is rank 0's decision at a meeting, reduced
 * with the signal flag.
 *
 * Crash recovery (docs/ARCHITECTURE.md "Crash recovery"): on P ranks the parts become final,
 * rank 0 merges them into hmc.h5, removes the parts, then the checkpoints; preflight
 * recognizes every state in between (redo the merge while all parts are final; hmc.h5 of
 * this run's config and length is complete; no checkpoint: start over). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/ckpt.h"
#include "latflow/ensemble.h"
#include "latflow/fault.h"
#include "latflow/hmc.h"
#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/merge.h"
#include "latflow/signal.h"
#include "latflow/theory.h"
#include "latflow/timer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow hmc [CONFIG] [--set key=value]... [--output DIR] [--force] [--resume]\n"
    "                   [--json]\n"
    "Hybrid Monte Carlo for the theory of CONFIG: hmc.therm thermalization trajectories\n"
    "(not stored), then hmc.trajectories trajectories of hmc.integrator (leapfrog |\n"
    "omelyan) steps of hmc.tau / hmc.steps, from a cold start (phi = 0); the number of\n"
    "steps is uniform in 1 .. 2 hmc.steps - 1 per trajectory (hmc.tau_dist: uniform, the\n"
    "default; mean length hmc.tau) or always hmc.steps (hmc.tau_dist: fixed). Writes\n"
    "<output>/hmc.h5 in the ensemble format: one chain step per trajectory with dH and the\n"
    "accept flag; configurations per sample.save (accepted: one row per new state; none).\n"
    "Under mpiexec -n P: P independent chains (chain r on rank r, its own random stream) in\n"
    "one multi-chain file.\n"
    "Every hmc.checkpoint_every trajectories, every hmc.checkpoint_seconds of wall time and\n"
    "on SIGTERM, SIGUSR1 or SIGINT it writes <output>/hmc.ckpt.h5 (a signal then stops the\n"
    "run with exit code 3); --resume continues from there (same config except\n"
    "hmc.trajectories and the checkpoint spacing, same number of ranks), finishes an\n"
    "interrupted merge of the part files, or starts over without a checkpoint, and ends\n"
    "with the same hmc.h5 as an uninterrupted run.\n";

#define AGREE_EVERY 64 /* trajectories between the ranks' meetings, at most */

/* A chain's state at a checkpoint besides its field (every chain is at the same t). */
typedef struct chain_state {
  int64_t t;         /* next trajectory (thermalization counted)             */
  int64_t row;       /* ensemble row of the current state (-1: none stored)  */
  int64_t acc;       /* accepted production trajectories                     */
  int64_t bad;       /* trajectories with a non-finite dH                    */
  int64_t rows;      /* rows in the chain's ensemble                         */
  int64_t steps;     /* chain steps in the chain's ensemble                  */
  double sum_acc;    /* acceptance sum of the progress line                  */
  double seconds;    /* generation wall seconds so far (all sessions)        */
  int64_t cg_iters;  /* pseudofermions: CG iterations of the production trajectories */
  int64_t cg_solves; /* pseudofermions: CG solves of the production trajectories     */
} chain_state;

/* The summary's warnings (the WARN lines and the "warnings" list of --json) for P chains:
 * `frozen` of them accepted none of their ntraj trajectories, `bad` trajectories (all
 * chains, thermalization included) had a non-finite dH. json_warn may be NULL. */
static void warn_summary(int P, long ntraj, int64_t frozen, int64_t bad, long total,
                         cJSON *json_warn) {
  char msg[400];
  if (frozen > 0) {
    if (P == 1)
      snprintf(msg, sizeof msg,
               "no trajectory was accepted (0 of %ld): the chain never left its start, so "
               "its averages and errors mean nothing (lower hmc.tau / hmc.steps)",
               ntraj);
    else
      snprintf(msg, sizeof msg,
               "%lld of %d chains accepted no trajectory (0 of %ld each): they never left "
               "their start, so their averages and errors mean nothing (lower hmc.tau / "
               "hmc.steps)",
               (long long)frozen, P, ntraj);
    lf_log_warn("hmc", "%s", msg);
    if (json_warn) cJSON_AddItemToArray(json_warn, cJSON_CreateString(msg));
  }
  if (bad > 0) {
    snprintf(msg, sizeof msg,
             "%lld of %ld trajectories%s (thermalization included) had a non-finite dH "
             "and were rejected: the integrator blew up (lower hmc.tau / hmc.steps)",
             (long long)bad, total * P, P > 1 ? " of all chains" : "");
    lf_log_warn("hmc", "%s", msg);
    if (json_warn) cJSON_AddItemToArray(json_warn, cJSON_CreateString(msg));
  }
}

enum { NI64 = 8, NF64 = 2, NI64_V1 = 6 };
/* checkpoint datasets: one value per chain each, chain r at index r; checkpoints of
 * format version 1 lack the last two (read as 0) */
static const char *const i64_name[NI64] = {"t",        "row",       "accepted", "nonfinite",
                                           "ens_rows", "ens_steps", "cg_iters", "cg_solves"};
static const char *const f64_name[NF64] = {"sum_accepted", "gen_seconds"};

static void pack(const chain_state *s, int64_t *iv, double *fv) {
  iv[0] = s->t;
  iv[1] = s->row;
  iv[2] = s->acc;
  iv[3] = s->bad;
  iv[4] = s->rows;
  iv[5] = s->steps;
  iv[6] = s->cg_iters;
  iv[7] = s->cg_solves;
  fv[0] = s->sum_acc;
  fv[1] = s->seconds;
}

static void unpack(chain_state *s, const int64_t *iv, const double *fv) {
  s->t = iv[0];
  s->row = iv[1];
  s->acc = iv[2];
  s->bad = iv[3];
  s->rows = iv[4];
  s->steps = iv[5];
  s->cg_iters = iv[6];
  s->cg_solves = iv[7];
  s->sum_acc = fv[0];
  s->seconds = fv[1];
}

/* Rank 0: the gathered states (P chains, chain-major: iall (P, NI64), fall (P, NF64),
 * phi (P, n)) into the checkpoint at path. */
static lf_status ckpt_store(const char *path, const lf_config *cfg, int P, size_t n,
                            const int64_t *iall, const double *fall, const double *pall) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  int64_t *iv = malloc((size_t)P * sizeof *iv);
  double *fv = malloc((size_t)P * sizeof *fv);
  if (!iv || !fv) {
    rc = LF_FAIL(LF_ERR_NOMEM, "checkpoint columns of %d chains", P);
    goto fail;
  }
  LF_CHECK(lf_ckpt_create(&c, path, "hmc", cfg, P));
  LF_CHECK(lf_ckpt_put_i64(c, "chains", P));
  LF_CHECK(lf_ckpt_put_i64(c, "field_size", (int64_t)n));
  LF_CHECK(lf_ckpt_put_i64(c, "trajectory", iall[0]));
  for (int k = 0; k < NI64; k++) {
    for (int r = 0; r < P; r++) iv[r] = iall[(size_t)r * NI64 + (size_t)k];
    LF_CHECK(lf_ckpt_put(c, i64_name[k], LF_CKPT_I64, (size_t)P, iv));
  }
  for (int k = 0; k < NF64; k++) {
    for (int r = 0; r < P; r++) fv[r] = fall[(size_t)r * NF64 + (size_t)k];
    LF_CHECK(lf_ckpt_put(c, f64_name[k], LF_CKPT_F64, (size_t)P, fv));
  }
  LF_CHECK(lf_ckpt_put(c, "phi", LF_CKPT_F64, (size_t)P * n, pall));
  rc = lf_ckpt_commit(c);
  c = NULL;
fail:
  lf_ckpt_abort(c);
  free(iv);
  free(fv);
  return rc;
}

/* Rank 0: reads the checkpoint at path into iall, fall, pall (as in ckpt_store) after the
 * checks of a resume: the config (lf_ckpt_compat, sample.save), the number of chains
 * (= ranks), the field size, one common t that hmc.trajectories has not passed. */
static lf_status ckpt_load(const char *path, const lf_config *cfg, int P, size_t n, int64_t *iall,
                           double *fall, double *pall) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  lf_config stored;
  int64_t chains = 0, field = 0;
  int64_t *iv = malloc((size_t)P * sizeof *iv);
  double *fv = malloc((size_t)P * sizeof *fv);
  if (!iv || !fv) {
    rc = LF_FAIL(LF_ERR_NOMEM, "checkpoint columns of %d chains", P);
    goto fail;
  }
  LF_CHECK(lf_ckpt_open(&c, path, "hmc", &stored));
  const char *file = lf_ckpt_path(c);
  LF_CHECK(lf_ckpt_compat(&stored, cfg, "hmc", file));
  /* lf_ckpt_compat skips the sample section for hmc, but sample.save decides whether
   * configurations are stored */
  if (stored.sample.save != cfg->sample.save) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: 'sample.save' differs between the checkpoint and the "
                 "config (it decides which configurations hmc.h5 stores)",
                 file);
    goto fail;
  }
  LF_CHECK(lf_ckpt_get_i64(c, "chains", &chains));
  if (chains != P) {
    rc = LF_FAIL(LF_ERR_USAGE,
                 "'%s' holds %lld chains (one per rank); resume it with the same number of "
                 "ranks (mpiexec -n %lld), not %d",
                 file, (long long)chains, (long long)chains, P);
    goto fail;
  }
  LF_CHECK(lf_ckpt_get_i64(c, "field_size", &field));
  if (field != (int64_t)n) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': fields of %lld values, this theory has %zu", file,
                 (long long)field, n);
    goto fail;
  }
  for (int k = 0; k < NI64; k++) {
    size_t len = 0;
    if (k >= NI64_V1 && lf_ckpt_len(c, i64_name[k], &len) != LF_OK) {
      for (int r = 0; r < P; r++) iall[(size_t)r * NI64 + (size_t)k] = 0; /* version 1 */
      continue;
    }
    LF_CHECK(lf_ckpt_get(c, i64_name[k], LF_CKPT_I64, (size_t)P, iv));
    for (int r = 0; r < P; r++) iall[(size_t)r * NI64 + (size_t)k] = iv[r];
  }
  for (int k = 0; k < NF64; k++) {
    LF_CHECK(lf_ckpt_get(c, f64_name[k], LF_CKPT_F64, (size_t)P, fv));
    for (int r = 0; r < P; r++) fall[(size_t)r * NF64 + (size_t)k] = fv[r];
  }
  LF_CHECK(lf_ckpt_get(c, "phi", LF_CKPT_F64, (size_t)P * n, pall));
  const int64_t t = iall[0];
  for (int r = 0; r < P; r++) {
    const int64_t *s = iall + (size_t)r * NI64;
    if (s[0] != t || s[0] < 0 || s[1] < -1 || s[4] < 0 || s[5] < 0 || s[1] >= s[4]) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': chain %d: inconsistent state (t %lld, chain 0 at %lld; row %lld of %lld "
                   "rows, %lld steps)",
                   file, r, (long long)s[0], (long long)t, (long long)s[1], (long long)s[4],
                   (long long)s[5]);
      goto fail;
    }
  }
  const long total = cfg->hmc.therm + cfg->hmc.trajectories;
  if (t > total) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: the run is at trajectory %lld (%ld thermalization "
                 "included) but hmc.trajectories = %ld ends it at %ld; hmc.trajectories may "
                 "only grow on resume",
                 file, (long long)t, cfg->hmc.therm, cfg->hmc.trajectories, total);
    goto fail;
  }
fail:
  lf_ckpt_close(c);
  free(iv);
  free(fv);
  return rc;
}

/* Collective over comm: rank 0 gathers every chain's state and field (n values) and writes
 * the checkpoint at path. The caller has flushed this rank's ensemble. Agreed status. */
static lf_status ckpt_write(const char *path, const lf_config *cfg, MPI_Comm comm,
                            const chain_state *s, const double *phi, size_t n) {
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  lf_status rc = LF_OK;
  int64_t iv[NI64], *iall = NULL;
  double fv[NF64], *fall = NULL, *pall = NULL;
  pack(s, iv, fv);
  if (rank == 0) {
    iall = malloc((size_t)P * NI64 * sizeof *iall);
    fall = malloc((size_t)P * NF64 * sizeof *fall);
    pall = malloc((size_t)P * n * sizeof *pall);
    if (!iall || !fall || !pall)
      rc = LF_FAIL(LF_ERR_NOMEM, "checkpoint of %d chains of %zu values", P, n);
  }
  if ((rc = lf_cli_agree(comm, rc)) == LF_OK) {
    if (MPI_Gather(iv, NI64, MPI_INT64_T, iall, NI64, MPI_INT64_T, 0, comm) != MPI_SUCCESS ||
        MPI_Gather(fv, NF64, MPI_DOUBLE, fall, NF64, MPI_DOUBLE, 0, comm) != MPI_SUCCESS ||
        MPI_Gather(phi, (int)n, MPI_DOUBLE, pall, (int)n, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
      rc = LF_FAIL(LF_ERR_MPI, "gathering the chain states for the checkpoint '%s'", path);
    if (rc == LF_OK && rank == 0) rc = ckpt_store(path, cfg, P, n, iall, fall, pall);
    rc = lf_cli_agree(comm, rc);
  }
  free(iall);
  free(fall);
  free(pall);
  return rc;
}

/* Collective over comm: rank 0 loads and checks the checkpoint at path (ckpt_load); every
 * rank gets its chain's state and field (n values). Agreed status. */
static lf_status ckpt_read(const char *path, const lf_config *cfg, MPI_Comm comm, chain_state *s,
                           double *phi, size_t n) {
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  lf_status rc = LF_OK;
  int64_t iv[NI64], *iall = NULL;
  double fv[NF64], *fall = NULL, *pall = NULL;
  if (rank == 0) {
    iall = malloc((size_t)P * NI64 * sizeof *iall);
    fall = malloc((size_t)P * NF64 * sizeof *fall);
    pall = malloc((size_t)P * n * sizeof *pall);
    if (!iall || !fall || !pall)
      rc = LF_FAIL(LF_ERR_NOMEM, "checkpoint of %d chains of %zu values", P, n);
    if (rc == LF_OK) rc = ckpt_load(path, cfg, P, n, iall, fall, pall);
  }
  if ((rc = lf_cli_agree(comm, rc)) == LF_OK) {
    if (MPI_Scatter(iall, NI64, MPI_INT64_T, iv, NI64, MPI_INT64_T, 0, comm) != MPI_SUCCESS ||
        MPI_Scatter(fall, NF64, MPI_DOUBLE, fv, NF64, MPI_DOUBLE, 0, comm) != MPI_SUCCESS ||
        MPI_Scatter(pall, (int)n, MPI_DOUBLE, phi, (int)n, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
      rc = LF_FAIL(LF_ERR_MPI, "scattering the chain states of the checkpoint '%s'", path);
    rc = lf_cli_agree(comm, rc);
    if (rc == LF_OK) unpack(s, iv, fv);
  }
  free(iall);
  free(fall);
  free(pall);
  return rc;
}

/* The first trajectory count after t where the ranks meet (or total). */
static long next_stop(long t, long every, long ckpt_every, long total) {
  long stop = (t / every + 1) * every;
  if (ckpt_every > 0) {
    const long c = (t / ckpt_every + 1) * ckpt_every;
    if (c < stop) stop = c;
  }
  return stop < total ? stop : total;
}

/* Collective over comm: chain `chain` (= rank) into the ensemble file `path`, from the start
 * or (resume) from the checkpoint ckpt; progress printed when `talk`. Checkpoints and
 * signals as in the file comment. */
static lf_status hmc_chain(const lf_config *cfg, int chain, const char *path, int force, int resume,
                           const char *ckpt, MPI_Comm comm, int talk, cJSON *json) {
  lf_status rc = LF_OK;
  lf_theory th;
  lf_hmc h;
  lf_ens_writer *w = NULL;
  double *phi = NULL, *obs = NULL, *corr = NULL;
  chain_state s = {0, -1, 0, 0, 0, 0, 0.0, 0.0, 0, 0};
  int keep = resume; /* never delete an ensemble a checkpoint refers to */
  memset(&th, 0, sizeof th);
  memset(&h, 0, sizeof h);
  rc = lf_theory_init(&th, &cfg->theory);
  if (rc == LF_OK) rc = lf_theory_select_obs(&th, cfg);
  if (rc == LF_OK) rc = lf_hmc_init(&h, &th, &cfg->hmc, cfg->seed);
  const size_t n = (size_t)th.C * (size_t)th.V;
  if (rc == LF_OK) {
    phi = lf_alloc(n * sizeof *phi);
    obs = lf_alloc(LF_MAX_OBS * sizeof *obs);
    corr = lf_alloc((size_t)(th.ncorr > 0 ? th.ncorr : 1) * sizeof *corr);
    if (!phi || !obs || !corr)
      rc = LF_FAIL(LF_ERR_NOMEM, "HMC field of %zu reals", n);
    else if (n > INT_MAX)
      rc = LF_FAIL(LF_ERR_INVALID, "HMC field of %zu reals is too large", n);
    else
      memset(phi, 0, n * sizeof *phi); /* cold start */
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  lf_ens_info info;
  memset(&info, 0, sizeof info);
  info.kind = LF_ENS_HMC;
  snprintf(info.theory, sizeof info.theory, "%s", th.name);
  info.C = th.C;
  info.L0 = cfg->theory.shape[0];
  info.L1 = cfg->theory.shape[1];
  info.nobs = th.nobs;
  for (int k = 0; k < th.nobs; k++)
    snprintf(info.obs_names[k], sizeof info.obs_names[k], "%s", th.obs_names[k]);
  info.ncorr = th.ncorr;
  info.save_configs = cfg->sample.save != LF_SAVE_NONE;
  info.cg = h.pf != NULL; /* pseudofermion HMC records its CG iterations */
  info.train_seconds = 0.0;
  if (resume) {
    LF_CHECK(ckpt_read(ckpt, cfg, comm, &s, phi, n));
    rc = lf_ens_reopen(&w, path, &info, s.rows, s.steps, MPI_COMM_NULL);
  } else {
    rc = lf_ens_create(&w, path, cfg, &info, force);
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  const long ntherm = cfg->hmc.therm, ntraj = cfg->hmc.trajectories, total = ntherm + ntraj;
  const long ce = cfg->hmc.checkpoint_every;
  const long every = ce > 0 && ce < AGREE_EVERY ? ce : AGREE_EVERY;
  char desc[160], fermions[96] = "";
  lf_theory_describe(&cfg->theory, desc, sizeof desc);
  if (th.kind == LF_THEORY_SCHWINGER && h.pf)
    snprintf(fermions, sizeof fermions, ", pseudofermion (CG tol %g, max %d)", cfg->hmc.cg_tol,
             cfg->hmc.cg_maxiter);
  else if (th.kind == LF_THEORY_SCHWINGER)
    snprintf(fermions, sizeof fermions, ", exact determinant");
  const int uniform = cfg->hmc.tau_dist == LF_TAU_UNIFORM;
  char len[96];
  if (uniform && cfg->hmc.steps > 1)
    snprintf(len, sizeof len, "tau_dist uniform (1 .. %d steps of %g)", 2 * cfg->hmc.steps - 1,
             cfg->hmc.tau / cfg->hmc.steps);
  else
    snprintf(len, sizeof len, "tau_dist %s", uniform ? "uniform" : "fixed");
  lf_log_info("hmc", "%s%s | %s, tau %g, %d steps, %s | %ld + %ld trajectories", desc, fermions,
              cfg->hmc.integrator == LF_INT_OMELYAN ? "omelyan" : "leapfrog", cfg->hmc.tau,
              cfg->hmc.steps, len, ntherm, ntraj);
  if (talk && uniform && cfg->hmc.steps == 1)
    lf_log_warn("hmc", "hmc.tau_dist is uniform but hmc.steps = 1: every trajectory has 1 step, so "
                       "its length is not randomized (that needs hmc.steps >= 2)");
  if (resume)
    lf_log_info("hmc", "resuming at trajectory %lld of %ld from %s", (long long)s.t, total, ckpt);
  const double t0 = lf_wtime(), before = s.seconds;
  double last_ckpt = t0; /* rank 0: wall clock of the last checkpoint (or the start) */
  const long t_first = (long)s.t;
  /* integrator steps of the production trajectories: those before a resume are recomputed
   * (they are a pure function of (seed, chain, t)), the others counted as they run */
  int64_t steps_used = 0;
  for (long u = ntherm; u < t_first; u++)
    steps_used += lf_hmc_nsteps(&h, (uint64_t)chain, (uint32_t)u);
  double last = 0.0;
  long t = t_first;
  while (t < total) {
    const long stop = next_stop(t, every, ce, total);
    for (; t < stop; t++) {
      lf_hmc_result r;
      if ((rc = lf_hmc_trajectory(&h, (uint64_t)chain, (uint32_t)t, phi, &r)) != LF_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lf_last_error());
        rc = lf_fail_msg(rc, "hmc chain %d, trajectory %ld: %s", chain, t, msg);
        break;
      }
      if (!isfinite(r.dH)) s.bad++;
      if (t >= ntherm) {
        s.acc += r.accepted;
        s.sum_acc += r.accepted;
        steps_used += r.n_steps;
        s.cg_iters += r.cg_iters;
        s.cg_solves += r.cg_solves;
        if (r.accepted || s.row < 0) {
          th.observables(&th, phi, obs);
          if (th.ncorr) th.correlator(&th, phi, corr);
          if ((rc = lf_ens_append_row(w, obs, th.ncorr ? corr : NULL, phi, &s.row)) != LF_OK) break;
        }
        const lf_ens_step st = {s.row,      (int64_t)t, NAN, r.dH, (int8_t)r.accepted,
                                r.cg_iters, r.cg_max};
        if ((rc = lf_ens_append_steps(w, 1, &st)) != LF_OK) break;
        const double now = lf_wtime() - t0;
        if (talk && (now - last >= 1.0 || t + 1 == total)) {
          last = now;
          const double rate = (double)(t + 1 - t_first) / now;
          char cg[64] = "";
          if (h.pf)
            snprintf(cg, sizeof cg, ", CG %.1f it/solve",
                     s.cg_solves ? (double)s.cg_iters / (double)s.cg_solves : 0.0);
          lf_log_progress("hmc",
                          "trajectory %ld/%ld, acceptance %.3f, dH %.3g%s, %.0f traj/s, eta %.0fs",
                          t + 1, total, s.sum_acc / (double)(t + 1 - ntherm), r.dH, cg, rate,
                          (double)(total - t - 1) / rate);
        }
      }
      lf_signal_test_hook("hmc", t, chain);
    }
    t = stop; /* a failed rank still meets the others at stop */
    if (t == total) break;
    LF_CHECK(lf_cli_agree(comm, rc));
    /* a wall-clock checkpoint is rank 0's decision (its clock), reduced with the signal
     * flag: every rank writes it at this meeting; a checkpoint does not change a chain */
    const int clock_due = chain == 0 && cfg->hmc.checkpoint_seconds > 0 &&
                          lf_wtime() - last_ckpt >= cfg->hmc.checkpoint_seconds;
    int sig = 0, due = 0;
    LF_CHECK(lf_signal_agree_due(comm, clock_due, &sig, &due));
    if (sig || due || (ce > 0 && t % ce == 0)) {
      s.t = t;
      s.seconds = before + (lf_wtime() - t0);
      rc = lf_ens_sync(w); /* the .tmp holds, durably, at least what the checkpoint says */
      s.rows = lf_ens_rows(w);
      s.steps = lf_ens_steps(w);
      LF_CHECK(lf_cli_agree(comm, rc));
      LF_CHECK(ckpt_write(ckpt, cfg, comm, &s, phi, n));
      keep = 1;
      last_ckpt = lf_wtime();
      lf_log_debug("hmc", "checkpoint at trajectory %ld -> %s", t, ckpt);
    }
    if (sig) {
      if (talk) lf_log_progress_end();
      rc = LF_FAIL(LF_INTERRUPTED,
                   "interrupted by %s at trajectory %ld; checkpoint %s; continue with --resume",
                   lf_signal_name(sig), t, ckpt);
      goto fail;
    }
  }
  if (talk) lf_log_progress_end();
  s.seconds = before + (lf_wtime() - t0);
  if (rc == LF_OK) {
    lf_ens_set_gen_seconds(w, s.seconds);
    rc = lf_ens_close(w);
    w = NULL;
  }
  LF_CHECK(lf_cli_agree(comm, rc));
  /* the whole run's counts for the warnings and the summary (chains on every rank) */
  int P = 1;
  MPI_Comm_size(comm, &P);
  int64_t mine[3] = {ntraj > 0 && s.acc == 0, s.bad, steps_used}, all[3];
  if (MPI_Allreduce(mine, all, 3, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the chains' counts");
    goto fail;
  }
  /* every chain's accepted count: --json reports the acceptance over all chains (and each
   * chain's), not rank 0's chain alone */
  int64_t *accs = json || talk ? calloc((size_t)P, sizeof *accs) : NULL; /* rank 0 */
  rc = (json || talk) && !accs ? LF_FAIL(LF_ERR_NOMEM, "acceptance counts of %d chains", P) : LF_OK;
  LF_CHECK(lf_cli_agree(comm, rc)); /* accs is NULL on every rank if this fails */
  const int64_t my_acc = s.acc;
  if (MPI_Gather(&my_acc, 1, MPI_INT64_T, accs, 1, MPI_INT64_T, 0, comm) != MPI_SUCCESS) {
    free(accs);
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Gather of the chains' acceptance counts");
    goto fail;
  }
  int64_t acc_all = 0;
  for (int r = 0; accs && r < P; r++) acc_all += accs[r];
  const double acceptance = ntraj ? (double)acc_all / ((double)ntraj * P) : 0.0;
  if (mine[0] && P > 1) /* each rank names its own frozen chain; rank 0 sums them up */
    lf_log_warn("hmc", "chain %d accepted none of its %ld trajectories", chain, ntraj);
  cJSON *jwarn = json ? cJSON_CreateArray() : NULL;
  if (talk) warn_summary(P, ntraj, all[0], all[1], total, jwarn);
  const double mean_steps = ntraj ? (double)all[2] / ((double)ntraj * P) : 0.0;
  lf_log_info(
      "hmc", "chain %d: %ld trajectories in %.1f s: acceptance %.4f, %lld non-finite dH -> %s",
      chain, ntraj, s.seconds, ntraj ? (double)s.acc / (double)ntraj : 0.0, (long long)s.bad, path);
  const double per_solve = s.cg_solves ? (double)s.cg_iters / (double)s.cg_solves : 0.0;
  if (talk && P > 1)
    lf_log_info("hmc", "%d chains: acceptance %.4f over all %lld trajectories", P, acceptance,
                (long long)ntraj * P);
  if (h.pf)
    lf_log_info("hmc", "chain %d: CG %.1f iterations per solve, %.1f per trajectory (%lld solves)",
                chain, per_solve, ntraj ? (double)s.cg_iters / (double)ntraj : 0.0,
                (long long)s.cg_solves);
  if (json) {
    cJSON_AddStringToObject(json, "command", "hmc");
    cJSON_AddNumberToObject(json, "trajectories", (double)ntraj);
    cJSON_AddNumberToObject(json, "therm", (double)ntherm);
    cJSON_AddNumberToObject(json, "acceptance", acceptance);
    cJSON *jacc = cJSON_AddArrayToObject(json, "acceptance_per_chain");
    for (int r = 0; jacc && r < P; r++)
      cJSON_AddItemToArray(jacc, cJSON_CreateNumber(ntraj ? (double)accs[r] / (double)ntraj : 0.0));
    cJSON_AddStringToObject(json, "tau_dist", uniform ? "uniform" : "fixed");
    cJSON_AddNumberToObject(json, "mean_steps", mean_steps);
    cJSON_AddItemToObject(json, "warnings", jwarn);
    cJSON_AddNumberToObject(json, "gen_seconds", s.seconds);
    cJSON_AddStringToObject(json, "ensemble", path);
    if (resume) cJSON_AddNumberToObject(json, "resumed_at", (double)t_first);
    cJSON_AddStringToObject(json, "fermion",
                            th.kind != LF_THEORY_SCHWINGER ? "none"
                            : h.pf                         ? "pseudofermion"
                                                           : "exact");
    if (h.pf) {
      cJSON_AddNumberToObject(json, "cg_iters_per_solve", per_solve);
      cJSON_AddNumberToObject(json, "cg_iters_per_trajectory",
                              ntraj ? (double)s.cg_iters / (double)ntraj : 0.0);
      cJSON_AddNumberToObject(json, "cg_solves", (double)s.cg_solves);
    }
  }
  free(accs);
fail:
  /* an interrupted run's ensemble (or one a checkpoint refers to) stays for lf_ens_reopen */
  if (w && keep)
    lf_ens_suspend(w);
  else if (w)
    lf_ens_abort(w);
  lf_free(phi);
  lf_free(obs);
  lf_free(corr);
  lf_hmc_free(&h);
  lf_theory_free(&th);
  return rc;
}

/* What --resume finds in the output directory (rank 0 decides, every rank follows). */
enum { RUN_CHAINS = 0, RUN_COMPLETE = 1, RUN_MERGE = 2 };

/* Rank 0: is the ensemble file at path the finished result of this run (P chains of
 * hmc.trajectories steps, a config lf_ckpt_compat accepts)? The run is a pure function of
 * its config, so such a file is the one the interrupted run wrote. LF_ERR_IO naming why
 * not. */
static lf_status check_finished(const lf_config *cfg, const char *path, int P, const char *why) {
  lf_ensemble e;
  lf_status rc = lf_ens_read(path, &e);
  if (rc != LF_OK) return rc;
  rc = lf_ckpt_compat(&e.cfg, cfg, "hmc", path);
  if (rc == LF_OK && e.cfg.sample.save != cfg->sample.save)
    rc = LF_FAIL(LF_ERR_CONFIG, "'%s': sample.save differs from the config", path);
  for (int r = 0; rc == LF_OK && r < e.R; r++)
    if ((long)e.steps[r] != cfg->hmc.trajectories)
      rc = LF_FAIL(LF_ERR_IO, "'%s': chain %d holds %zu trajectories, the config asks for %ld",
                   path, r, e.steps[r], cfg->hmc.trajectories);
  if (rc == LF_OK && e.R != P)
    rc = LF_FAIL(LF_ERR_IO, "'%s' holds %d chains, this run has %d (one per rank)", path, e.R, P);
  lf_ens_free(&e);
  if (rc != LF_OK)
    return lf_fail_msg(LF_ERR_IO,
                       "--resume: %s, but it is not this run's result: %s; move it "
                       "away or start over with --force",
                       why, lf_last_error());
  return LF_OK;
}

/* Rank 0: the names of the P part files and whether they are all final (no .tmp left). */
static int parts_final(char (*parts)[LF_PATH_MAX], int P, int *any_tmp) {
  int all = 1;
  *any_tmp = 0;
  for (int r = 0; r < P; r++) {
    char t[LF_PATH_MAX + 8];
    snprintf(t, sizeof t, "%s.tmp", parts[r]);
    if (lf_cli_file_exists(t)) *any_tmp = 1;
    if (!lf_cli_file_exists(parts[r])) all = 0;
  }
  return all && !*any_tmp;
}

/* Rank 0, before a run: the refusals that depend on what the output directory holds, and
 * what a --resume does (*mode; *restart when it starts over). The on-disk order of a run
 * (docs/ARCHITECTURE.md "Crash recovery") makes every state recognizable: part .tmp files
 * (P > 1) or hmc.h5.tmp while the chains run, checkpoints beside them; then final parts;
 * then hmc.h5 (the merge's rename); then the parts removed; then the checkpoints. */
static lf_status preflight(const lf_config *cfg, const char *path, const char *ckpt,
                           const char *prev, char (*parts)[LF_PATH_MAX], int P, int force,
                           int resume, int *mode, int *restart) {
  const int have_ckpt = lf_cli_file_exists(ckpt) || lf_cli_file_exists(prev);
  *mode = RUN_CHAINS;
  *restart = 0;
  if (resume) {
    int any_tmp = 0;
    char t[LF_PATH_MAX + 8];
    snprintf(t, sizeof t, "%s.tmp", path);
    if (P > 1 && parts_final(parts, P, &any_tmp)) {
      /* every chain is finished: the merge (and what follows) was cut short; redo it */
      for (int r = 0; r < P; r++) {
        const lf_status rc =
            check_finished(cfg, parts[r], 1, "every part file of the chains is in place");
        if (rc != LF_OK) return rc;
      }
      *mode = RUN_MERGE;
      return LF_OK;
    }
    if (lf_cli_file_exists(path) && (P > 1 ? !any_tmp : !lf_cli_file_exists(t))) {
      /* idempotent (a requeued job may ask again); with a checkpoint left the run was
       * killed after its final rename: the file must be this run's */
      if (have_ckpt) {
        const lf_status rc = check_finished(cfg, path, P, "hmc.h5 is in place");
        if (rc != LF_OK) return rc;
      }
      for (int r = 0; P > 1 && r < P; r++) {
        const lf_status rc = lf_io_remove_stale(parts[r]);
        if (rc != LF_OK) return rc;
      }
      if (have_ckpt) {
        const lf_status rc = lf_cli_remove_checkpoints(ckpt);
        if (rc != LF_OK) return rc;
        lf_log_info("hmc",
                    "'%s' is complete (killed after its final rename): removed the stale "
                    "checkpoint %s",
                    path, ckpt);
      }
      *mode = RUN_COMPLETE;
      return LF_OK;
    }
    if (!have_ckpt) {
      /* killed before its first checkpoint (a requeued job): start from the beginning;
       * the fresh run replaces the stale .tmp and part files (regular files only) */
      lf_log_info("hmc",
                  "--resume: no checkpoint and no hmc.h5 in '%s' (the run stopped before its "
                  "first checkpoint): starting from the beginning",
                  cfg->output);
      *restart = 1;
      resume = 0;
    } else {
      if (!force && lf_cli_file_exists(path))
        return LF_FAIL(LF_ERR_IO,
                       "'%s' exists; refusing to overwrite (use --force or another output)", path);
      /* killed while the ranks renamed their parts (some final, some not): a final part
       * goes back to its .tmp name, and lf_ens_reopen cuts it back to the checkpoint */
      for (int r = 0; P > 1 && r < P; r++) {
        char pt[LF_PATH_MAX + 8];
        snprintf(pt, sizeof pt, "%s.tmp", parts[r]);
        if (lf_cli_file_exists(parts[r]) && !lf_cli_file_exists(pt)) {
          lf_status rc = lf_io_check_not_symlink(parts[r]);
          if (rc == LF_OK && rename(parts[r], pt) != 0)
            rc =
                LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", parts[r], pt, strerror(errno));
          if (rc != LF_OK) return rc;
        }
      }
      return LF_OK;
    }
  }
  if (!force && lf_cli_file_exists(path))
    return LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                   path);
  if (have_ckpt) {
    if (!force)
      return LF_FAIL(LF_ERR_IO,
                     "'%s' exists: an interrupted run; continue it with --resume, or start over "
                     "with --force",
                     ckpt);
    remove(ckpt);
    remove(prev);
  }
  return lf_cli_mkdirs(cfg->output);
}

/* The --json summary of a run found complete on disk (nothing sampled in this call). */
static void json_complete(cJSON *json, const char *path) {
  if (!json) return;
  cJSON_AddStringToObject(json, "command", "hmc");
  cJSON_AddBoolToObject(json, "complete", 1);
  cJSON_AddStringToObject(json, "ensemble", path);
  cJSON_AddItemToObject(json, "warnings", cJSON_CreateArray());
}

/* `latflow hmc` with or without --resume (collective over comm). */
lf_status lf_hmc_pipeline_ex(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                             cJSON *json) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char path[LF_PATH_MAX], ckpt[LF_PATH_MAX], prev[LF_PATH_MAX], name[64];
  /* one rank: the chain goes straight into hmc.h5; P ranks: one independent chain per rank,
   * each into its own part file, then rank 0 merges them into one multi-chain file (chain
   * r = rank r) and removes the parts */
  char(*parts)[LF_PATH_MAX] = calloc((size_t)size, sizeof *parts);
  const char **ins = calloc((size_t)size, sizeof *ins);
  lf_status rc = parts && ins ? LF_OK : LF_FAIL(LF_ERR_NOMEM, "part names for %d ranks", size);
  if (rc == LF_OK) rc = lf_cli_path(path, sizeof path, cfg->output, "hmc.h5");
  if (rc == LF_OK) rc = lf_cli_path(ckpt, sizeof ckpt, cfg->output, "hmc.ckpt.h5");
  if (rc == LF_OK) rc = lf_ckpt_prev_path(prev, sizeof prev, ckpt);
  for (int r = 0; rc == LF_OK && r < size; r++) {
    snprintf(name, sizeof name, "hmc.part%d.h5", r);
    if (size == 1)
      snprintf(parts[r], sizeof parts[r], "%s", path);
    else
      rc = lf_cli_path(parts[r], sizeof parts[r], cfg->output, name);
    ins[r] = parts[r];
  }
  int st[2] = {RUN_CHAINS, 0}; /* mode, restart */
  if (rc == LF_OK && rank == 0)
    rc = preflight(cfg, path, ckpt, prev, parts, size, force, resume, &st[0], &st[1]);
  if ((rc = lf_cli_agree(comm, rc)) != LF_OK) goto fail;
  if (MPI_Bcast(st, 2, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (st[1]) resume = 0;
  if (st[0] == RUN_COMPLETE) {
    lf_log_info("hmc", "'%s' holds a finished run: nothing to resume", path);
    json_complete(json, path);
    goto fail; /* rc == LF_OK */
  }
  if (st[0] == RUN_CHAINS) {
    rc = hmc_chain(cfg, rank, parts[rank], size == 1 ? force : 1, resume, ckpt, comm, rank == 0,
                   rank == 0 ? json : NULL);
    if ((rc = lf_cli_agree(comm, rc)) != LF_OK) goto fail;
  } else {
    lf_log_info("hmc", "every chain is finished in its part file: merging them into %s", path);
    json_complete(json, path);
  }
  /* on disk, in this order (each step's kill is recovered by preflight): final parts,
   * hmc.h5 by the merge's rename, the parts removed, the checkpoints removed */
  if (rank == 0 && size > 1) {
    lf_fault_point("after_parts");
    /* a resumed or redone merge replaces an hmc.h5 of this run (check_finished) */
    rc = lf_ens_merge(path, size, (const char *const *)ins, force || resume || st[0] == RUN_MERGE,
                      NULL);
    if (rc == LF_OK) {
      lf_fault_point("after_merge");
      for (int r = 0; r < size; r++) {
        remove(parts[r]);
        lf_fault_point("after_part_removed");
      }
    }
    if (rc == LF_OK) {
      lf_log_info("hmc", "%d chains (one per rank) merged into %s", size, path);
      if (json) {
        cJSON_ReplaceItemInObject(json, "ensemble", cJSON_CreateString(path));
        cJSON_AddNumberToObject(json, "chains", size);
      }
    }
  }
  /* the run is complete: its checkpoints are of no further use */
  if (rc == LF_OK && rank == 0) {
    lf_fault_point("after_final_rename");
    remove(ckpt);
    remove(prev);
  }
  rc = lf_cli_agree(comm, rc);
fail:
  free(parts);
  free(ins);
  return rc;
}

lf_status lf_hmc_pipeline(const lf_config *cfg, int force, MPI_Comm comm, cJSON *json) {
  return lf_hmc_pipeline_ex(cfg, force, 0, comm, json);
}

int lf_cmd_hmc(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  int code;
  if (!lf_cli_setup(argc, argv, comm, "hmc", help, &o, &cfg, &code)) return code;
  lf_cli_lock lock;
  const lf_status lrc = lf_cli_lock_output(&lock, cfg.output, "hmc", comm);
  if (lrc != LF_OK) return lf_cli_report(lrc);
  lf_status rc = lf_signal_install();
  if (rc != LF_OK) {
    lf_cli_unlock_output(&lock);
    return lf_cli_report(rc);
  }
  cJSON *json = o.json ? cJSON_CreateObject() : NULL;
  code = lf_cli_report(lf_hmc_pipeline_ex(&cfg, o.force, o.resume, comm, json));
  lf_cli_unlock_output(&lock);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (json) {
    /* the summary is rank 0's (the other ranks' objects stay empty): one JSON document */
    if (code == 0 && rank == 0) code = lf_cli_print_json(json);
    cJSON_Delete(json);
  }
  return code;
}
