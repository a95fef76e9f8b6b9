/* The driver of `latflow hmc` (contract: latflow/hmc_run.h): one HMC chain per rank into
 * its ensemble file, meetings of the ranks at fixed trajectory numbers for checkpoints and
 * signals, the summary of all chains, and on P ranks the merge of the part files into
 * hmc.h5 followed by the removal of the parts and the checkpoints, in the order that
 * lf_hmc_preflight recognizes after a crash (src/sample/hmc_ckpt.c). */
#include "latflow/hmc_run.h"

#include "sample/hmc_ckpt.h"

#include "latflow/comm.h"
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

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGREE_EVERY 64 /* trajectories between the ranks' meetings, at most */

/* Appends msg to the summary's warnings (at most LF_HMC_MAX_WARNINGS). */
static void keep_warning(lf_hmc_summary *sum, const char *msg) {
  if (sum->nwarnings < LF_HMC_MAX_WARNINGS)
    snprintf(sum->warnings[sum->nwarnings++], sizeof sum->warnings[0], "%s", msg);
}

/* The summary's warnings (the WARN lines and the "warnings" list of --json) for P chains:
 * `frozen` of them accepted none of their ntraj trajectories, `bad` trajectories (all
 * chains, thermalization included) had a non-finite dH. sum (may be NULL) keeps them. */
static void warn_summary(int P, long ntraj, int64_t frozen, int64_t bad, long total,
                         lf_hmc_summary *sum) {
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
    if (sum) keep_warning(sum, msg);
  }
  if (bad > 0) {
    snprintf(msg, sizeof msg,
             "%lld of %ld trajectories%s (thermalization included) had a non-finite dH "
             "and were rejected: the integrator blew up (lower hmc.tau / hmc.steps)",
             (long long)bad, total * P, P > 1 ? " of all chains" : "");
    lf_log_warn("hmc", "%s", msg);
    if (sum) keep_warning(sum, msg);
  }
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
 * or (resume) from the checkpoint ckpt; progress printed when `talk`; sum (rank 0's, or
 * NULL) gets the summary. Checkpoints and signals as in latflow/hmc_run.h. */
static lf_status hmc_chain(const lf_config *cfg, int chain, const char *path, int force, int resume,
                           const char *ckpt, MPI_Comm comm, int talk, lf_hmc_summary *sum) {
  lf_status rc = LF_OK;
  lf_theory th;
  lf_hmc h;
  lf_ens_writer *w = NULL;
  double *phi = NULL, *obs = NULL, *corr = NULL;
  lf_hmc_chain_state s = {0, -1, 0, 0, 0, 0, 0.0, 0.0, 0, 0};
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
  LF_CHECK(lf_comm_agree(comm, rc));
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
    LF_CHECK(lf_hmc_ckpt_read(ckpt, cfg, comm, &s, phi, n));
    rc = lf_ens_reopen(&w, path, &info, s.rows, s.steps, MPI_COMM_NULL);
  } else {
    rc = lf_ens_create(&w, path, cfg, &info, force);
  }
  LF_CHECK(lf_comm_agree(comm, rc));
  const long ntherm = cfg->hmc.therm, ntraj = cfg->hmc.trajectories, total = ntherm + ntraj;
  const long ce = cfg->hmc.checkpoint_every;
  const long every = ce > 0 && ce < AGREE_EVERY ? ce : AGREE_EVERY;
  char desc[160], fermions[96] = "";
  lf_theory_describe(&cfg->theory, desc, sizeof desc);
  lf_theory_describe_hmc(&cfg->theory, &cfg->hmc, fermions, sizeof fermions);
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
          char cg[64] = "", eta[32];
          if (h.pf) /* CG iterations per solve */
            snprintf(cg, sizeof cg, " cg_it=%.1f",
                     s.cg_solves ? (double)s.cg_iters / (double)s.cg_solves : 0.0);
          lf_log_eta((double)(total - t - 1) / rate, eta, sizeof eta);
          /* a decimal only where it matters: the line must fit a narrow terminal */
          lf_log_progress("hmc", "traj=%ld/%ld acc=%.3f rate=%.*f/s eta=%s dH=%.3g%s", t + 1, total,
                          s.sum_acc / (double)(t + 1 - ntherm), rate < 100 ? 1 : 0, rate, eta, r.dH,
                          cg);
        }
      }
      lf_signal_test_hook("hmc", t, chain);
    }
    t = stop; /* a failed rank still meets the others at stop */
    if (t == total) break;
    LF_CHECK(lf_comm_agree(comm, rc));
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
      LF_CHECK(lf_comm_agree(comm, rc));
      LF_CHECK(lf_hmc_ckpt_write(ckpt, cfg, comm, &s, phi, n));
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
  LF_CHECK(lf_comm_agree(comm, rc));
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
  int64_t *accs = sum || talk ? calloc((size_t)P, sizeof *accs) : NULL; /* rank 0 */
  double *apc = sum ? calloc((size_t)P, sizeof *apc) : NULL;
  rc = (sum || talk) && (!accs || (sum && !apc))
           ? LF_FAIL(LF_ERR_NOMEM, "acceptance counts of %d chains", P)
           : LF_OK;
  if (rc != LF_OK) {
    free(accs);
    free(apc);
  }
  LF_CHECK(lf_comm_agree(comm, rc)); /* only rank 0 allocates: a failure is its own */
  const int64_t my_acc = s.acc;
  if (MPI_Gather(&my_acc, 1, MPI_INT64_T, accs, 1, MPI_INT64_T, 0, comm) != MPI_SUCCESS) {
    free(accs);
    free(apc);
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Gather of the chains' acceptance counts");
    goto fail;
  }
  int64_t acc_all = 0;
  for (int r = 0; accs && r < P; r++) acc_all += accs[r];
  const double acceptance = ntraj ? (double)acc_all / ((double)ntraj * P) : 0.0;
  if (mine[0] && P > 1) /* each rank names its own frozen chain; rank 0 sums them up */
    lf_log_warn("hmc", "chain %d accepted none of its %ld trajectories", chain, ntraj);
  if (talk) warn_summary(P, ntraj, all[0], all[1], total, sum);
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
  if (sum) {
    sum->trajectories = ntraj;
    sum->therm = ntherm;
    sum->acceptance = acceptance;
    sum->nacc = P;
    sum->acceptance_per_chain = apc;
    for (int r = 0; r < P; r++) apc[r] = ntraj ? (double)accs[r] / (double)ntraj : 0.0;
    sum->tau_dist = uniform ? "uniform" : "fixed";
    sum->mean_steps = mean_steps;
    sum->gen_seconds = s.seconds;
    sum->resumed = resume;
    sum->resumed_at = t_first;
    sum->fermion = lf_theory_cfg_fermion_name(&cfg->theory, &cfg->hmc);
    sum->pf = h.pf != NULL;
    if (h.pf) {
      sum->cg_iters_per_solve = per_solve;
      sum->cg_iters_per_trajectory = ntraj ? (double)s.cg_iters / (double)ntraj : 0.0;
      sum->cg_solves = s.cg_solves;
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

/* Names the files, runs lf_hmc_preflight on rank 0, then the chains or the redone merge, the
 * merge of the parts and the removal of the checkpoints (contract: latflow/hmc_run.h). */
lf_status lf_hmc_run(const lf_config *cfg, int force, int resume, MPI_Comm comm,
                     lf_hmc_summary *sum) {
  int rank = 0, size = 1;
  if (sum) memset(sum, 0, sizeof *sum);
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char path[LF_PATH_MAX], ckpt[LF_PATH_MAX], prev[LF_PATH_MAX], name[64];
  /* one rank: the chain goes straight into hmc.h5; P ranks: one independent chain per rank,
   * each into its own part file, then rank 0 merges them into one multi-chain file (chain
   * r = rank r) and removes the parts */
  char(*parts)[LF_PATH_MAX] = calloc((size_t)size, sizeof *parts);
  const char **ins = calloc((size_t)size, sizeof *ins);
  lf_status rc = parts && ins ? LF_OK : LF_FAIL(LF_ERR_NOMEM, "part names for %d ranks", size);
  if (rc == LF_OK) rc = lf_io_path_join(path, sizeof path, cfg->output, "hmc.h5");
  if (rc == LF_OK) rc = lf_io_path_join(ckpt, sizeof ckpt, cfg->output, "hmc.ckpt.h5");
  if (rc == LF_OK) rc = lf_ckpt_prev_path(prev, sizeof prev, ckpt);
  for (int r = 0; rc == LF_OK && r < size; r++) {
    snprintf(name, sizeof name, "hmc.part%d.h5", r);
    if (size == 1)
      snprintf(parts[r], sizeof parts[r], "%s", path);
    else
      rc = lf_io_path_join(parts[r], sizeof parts[r], cfg->output, name);
    ins[r] = parts[r];
  }
  int st[2] = {LF_HMC_RUN_CHAINS, 0}; /* mode, restart */
  if (rc == LF_OK && rank == 0)
    rc = lf_hmc_preflight(cfg, path, ckpt, prev, parts, size, force, resume, &st[0], &st[1]);
  if (rc == LF_OK && sum) snprintf(sum->ensemble, sizeof sum->ensemble, "%s", path);
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) goto fail;
  if (MPI_Bcast(st, 2, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the run state");
    goto fail;
  }
  if (st[1]) resume = 0;
  if (st[0] == LF_HMC_RUN_COMPLETE) {
    lf_log_info("hmc", "'%s' holds a finished run: nothing to resume", path);
    if (sum) sum->complete = 1;
    goto fail; /* rc == LF_OK */
  }
  if (st[0] == LF_HMC_RUN_CHAINS) {
    rc = hmc_chain(cfg, rank, parts[rank], size == 1 ? force : 1, resume, ckpt, comm, rank == 0,
                   rank == 0 ? sum : NULL);
    if ((rc = lf_comm_agree(comm, rc)) != LF_OK) goto fail;
  } else {
    lf_log_info("hmc", "every chain is finished in its part file: merging them into %s", path);
    if (sum) sum->complete = 1;
  }
  /* on disk, in this order (each step's kill is recovered by lf_hmc_preflight): final parts,
   * hmc.h5 by the merge's rename, the parts removed, the checkpoints removed */
  if (rank == 0 && size > 1) {
    lf_fault_point("after_parts");
    /* a resumed or redone merge replaces an hmc.h5 of this run (check_finished) */
    rc = lf_ens_merge(path, size, (const char *const *)ins,
                      force || resume || st[0] == LF_HMC_RUN_MERGE, NULL);
    if (rc == LF_OK) {
      lf_fault_point("after_merge");
      for (int r = 0; r < size; r++) {
        remove(parts[r]);
        lf_fault_point("after_part_removed");
      }
    }
    if (rc == LF_OK) {
      lf_log_info("hmc", "%d chains (one per rank) merged into %s", size, path);
      if (sum) sum->chains = size;
    }
  }
  /* the run is complete: its checkpoints are of no further use */
  if (rc == LF_OK && rank == 0) {
    lf_fault_point("after_final_rename");
    remove(ckpt);
    remove(prev);
  }
  rc = lf_comm_agree(comm, rc);
fail:
  free(parts);
  free(ins);
  return rc;
}

/* Frees the per-chain acceptances (contract: latflow/hmc_run.h). */
void lf_hmc_summary_free(lf_hmc_summary *sum) {
  if (!sum) return;
  free(sum->acceptance_per_chain);
  memset(sum, 0, sizeof *sum);
}
