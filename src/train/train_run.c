/* The training loop of the trainer (lf_train_run, latflow/train.h): at every step boundary
 * the agreed signal and checkpoint, the step, the collective skip, divergence and
 * dead-network stops, the periodic evaluation and the progress line. */
#include "train_impl.h"

#include "latflow/comm.h"
#include "latflow/log.h"
#include "latflow/signal.h"
#include "latflow/timer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Adds a batch ESS to the ring of the last train.stop.ess_window values. */
static void ess_push(lf_trainer *tr, double ess) {
  const int w = tr->cfg->train.ess_window > 0 ? tr->cfg->train.ess_window : 1;
  if (tr->ess_n == w)
    tr->ess_sum -= tr->ess_ring[tr->ess_pos];
  else
    tr->ess_n++;
  tr->ess_ring[tr->ess_pos] = ess;
  tr->ess_sum += ess;
  tr->ess_pos = (tr->ess_pos + 1) % w;
}

/* Collective over comm: rank 0 runs the hook and writes the checkpoint of the current
 * state; every rank returns its status. */
static lf_status write_checkpoint(lf_trainer *tr) {
  lf_status rc = LF_OK;
  if (tr->rank == 0) {
    int64_t records = tr->next_step;
    if (tr->ckpt_hook) rc = tr->ckpt_hook(tr->ckpt_ctx, &records);
    if (rc == LF_OK) {
      tr->records = records;
      rc = lf_trainer_checkpoint(tr, tr->ckpt_path);
    }
    if (rc == LF_OK)
      lf_log_debug("train", "checkpoint %s at step %ld", tr->ckpt_path, tr->next_step);
  }
  return lf_train_agree(tr, rc);
}

/* The evaluation after `step` training steps (tr->next_step = step), with the training
 * seconds excluding evaluations: logged, passed to the callback (status agreed), counted.
 * Collective over comm. */
static lf_status evaluate(lf_trainer *tr, long step, double train_seconds, lf_train_result *res) {
  const lf_config *cfg = tr->cfg;
  tr->next_step = step;
  tr->seconds = train_seconds;
  lf_eval_result ev;
  lf_status rc = lf_train_eval(tr, cfg->train.eval_samples, &ev);
  if (rc != LF_OK) return rc;
  lf_log_info("train",
              "eval step=%ld ess=%.4f acc=%.4f loss=%.4f log_mean_w=%.4f n_train=%lld s=%.1f "
              "eval_s=%.2f (%ld fresh samples)",
              step, ev.ess, ev.acceptance, ev.mean_loss, ev.log_mean_weight, (long long)ev.n_train,
              ev.train_seconds, ev.seconds, ev.n);
  rc = tr->eval_cb ? tr->eval_cb(tr->eval_ctx, &ev) : LF_OK;
  if ((rc = lf_train_agree(tr, rc)) != LF_OK) return rc;
  tr->evals++;
  tr->last_eval = step;
  res->nevals++;
  res->eval_seconds += ev.seconds;
  res->eval = ev;
  return LF_OK;
}

void lf_trainer_set_eval_callback(lf_trainer *tr, lf_train_eval_callback cb, void *ctx) {
  tr->eval_cb = cb;
  tr->eval_ctx = ctx;
}

lf_status lf_train_run(lf_trainer *tr, long first, lf_train_callback cb, void *ctx,
                       lf_train_result *res) {
  lf_status rc = LF_OK;
  const lf_config *cfg = tr->cfg;
  const double t0 = lf_wtime();
  const double seconds0 = tr->seconds; /* training time of earlier runs */
  const long every = cfg->train.checkpoint_every;
  const double secs = cfg->train.checkpoint_seconds;
  double last_ckpt = t0; /* rank 0's clock at the last checkpoint (or the start) */
  const long eval_every = cfg->train.eval_samples > 0 ? cfg->train.eval_every : 0;
  long t = first;
  double last_report = t0;
  double fresh_ess = NAN; /* of the last evaluation of this call */
  lf_train_step_info info;
  memset(&info, 0, sizeof info);
  memset(res, 0, sizeof *res);
  res->stop_reason = "steps";
  /* training seconds: the wall clock of this call minus its evaluations */
#define TRAIN_SECONDS() (seconds0 + (lf_wtime() - t0 - res->eval_seconds))
  for (; t < cfg->train.steps; t++) {
    /* step boundary: t steps are done; every rank sees the same signal here */
    tr->next_step = t;
    tr->seconds = TRAIN_SECONDS();
    lf_signal_test_hook("train", t, tr->rank);
    /* the wall-clock checkpoint is rank 0's decision, reduced with the signal flag so
     * every rank writes (or not) at the same step; a checkpoint does not change the run */
    const int due_clock = tr->rank == 0 && tr->ckpt_path[0] && secs > 0 && t > first &&
                          lf_wtime() - last_ckpt >= secs;
    int sig = 0, due = 0;
    if ((rc = lf_signal_agree_due(tr->P > 1 ? tr->comm : MPI_COMM_SELF, due_clock, &sig, &due)) !=
        LF_OK)
      return rc;
    if (tr->ckpt_path[0] && (sig || due || (every > 0 && t > first && t % every == 0))) {
      if ((rc = write_checkpoint(tr)) != LF_OK) return rc;
      last_ckpt = lf_wtime();
    }
    if (sig) {
      lf_log_progress_end();
      res->steps = t;
      res->skipped = tr->skipped;
      res->loss = info.loss;
      res->ess_smoothed = tr->ess_n > 0 ? tr->ess_sum / tr->ess_n : 0.0;
      res->wall_seconds = lf_wtime() - t0;
      res->stop_reason = "signal";
      if (tr->ckpt_path[0])
        return lf_fail_msg(LF_INTERRUPTED, "interrupted by %s at step %ld; checkpoint %s",
                           lf_signal_name(sig), t, tr->ckpt_path);
      return lf_fail_msg(LF_INTERRUPTED, "interrupted by %s at step %ld (no checkpoint written)",
                         lf_signal_name(sig), t);
    }
    const int B = lf_train_batch(cfg, t);
    const double lr = lf_train_lr(cfg, t);
    if ((rc = lf_trainer_step(tr, t, B, lr, &info)) != LF_OK) return rc;
    info.seconds = TRAIN_SECONDS();
    if (info.skipped) {
      tr->skipped++;
      tr->bad_in_row++;
      if (tr->rank == 0) /* the skip is global: one warning, not one per rank */
        lf_log_warn("train", "step %ld skipped: loss=%g grad_norm=%g (not finite); %d in a row", t,
                    info.loss, info.grad_norm, tr->bad_in_row);
    } else {
      tr->bad_in_row = 0;
      ess_push(tr, info.ess);
    }
    tr->dead_in_row = !info.skipped && info.grad_norm == 0.0 ? tr->dead_in_row + 1 : 0;
    info.ess_smoothed = tr->ess_n > 0 ? tr->ess_sum / tr->ess_n : 0.0;
    /* the callback (files on rank 0) and the wall clock are rank-local: agree on both, the
     * callback's status by its severity (lf_comm_agreed: lf_comm_agree's order and messages) */
    const lf_status cb_rc = cb ? cb(ctx, &info) : LF_OK;
    int flags[2] = {lf_comm_severity(cb_rc), 0};
    double now = lf_wtime();
    flags[1] = cfg->train.wall_time > 0 && now - t0 >= cfg->train.wall_time;
    if ((rc = lf_train_allreduce(tr, flags, 2, MPI_INT, MPI_MAX,
                                 "MPI_Allreduce of the step flags")) != LF_OK)
      return rc;
    if ((rc = lf_comm_agreed(cb_rc, flags[0])) != LF_OK) return rc;
    if (tr->bad_in_row >= cfg->train.max_bad_steps) {
      tr->next_step = t + 1;
      res->steps = t + 1;
      res->skipped = tr->skipped;
      return LF_FAIL(LF_ERR_NUMERIC,
                     "training diverged: %d consecutive steps with NaN/Inf loss or gradients "
                     "(last at step %ld, lr %g); the model keeps the last good parameters",
                     tr->bad_in_row, t, lr);
    }
    if (tr->dead_in_row >= LF_TRAIN_DEAD_STEPS) {
      tr->next_step = t + 1;
      res->steps = t + 1;
      res->skipped = tr->skipped;
      return LF_FAIL(LF_ERR_NUMERIC,
                     "the network is dead: the gradient has been exactly 0 for %d consecutive "
                     "steps (steps %ld .. %ld, lr %g), so the parameters no longer learn; lower "
                     "train.optimizer.lr (or change model.activation / model.init)",
                     tr->dead_in_row, t + 2 - tr->dead_in_row, t + 1, lr);
    }
    if ((t + 1) % LF_TRAIN_SYNC_EVERY == 0 && (rc = lf_trainer_check_sync(tr, t)) != LF_OK)
      return rc;
    /* t + 1 steps are done: the periodic evaluation, or the final one at the last step,
     * before the progress line shows it */
    const int last = (t + 1 == cfg->train.steps);
    const int evaluated =
        cfg->train.eval_samples > 0 && ((eval_every > 0 && (t + 1) % eval_every == 0) || last);
    if (evaluated) {
      if ((rc = evaluate(tr, t + 1, TRAIN_SECONDS(), res)) != LF_OK) return rc;
      fresh_ess = res->eval.ess;
      now = lf_wtime();
    }
    /* every train.log_every steps a line that stays; on a terminal, in between, the
     * overwritten progress line (twice a second, short keys, the most important fields
     * first: ess is ess_batch_s, fresh ess_fresh) */
    const int keep = (t + 1) % cfg->train.log_every == 0 || last;
    if (keep || (lf_log_is_tty() && now - last_report > 0.5)) {
      const double rate = (double)(t + 1 - first) / (now - t0);
      char eta[32], fresh[32];
      lf_log_eta((double)(cfg->train.steps - t - 1) / rate, eta, sizeof eta);
      if (isfinite(fresh_ess))
        snprintf(fresh, sizeof fresh, "%.4f", fresh_ess);
      else
        snprintf(fresh, sizeof fresh, "-");
      if (keep)
        lf_log_info("train",
                    "step=%ld/%ld loss=%.4f ess_batch=%.3f ess_batch_s=%.3f ess_fresh=%s "
                    "lr=%.2e batch=%d rate=%.1f steps/s eta=%s",
                    t + 1, cfg->train.steps, info.loss, info.ess, info.ess_smoothed, fresh, lr, B,
                    rate, eta);
      else
        lf_log_progress("train",
                        "step=%ld/%ld loss=%.4f ess=%.3f rate=%.*f/s eta=%s fresh=%s lr=%.1e "
                        "batch=%d",
                        t + 1, cfg->train.steps, info.loss, info.ess_smoothed, rate < 100 ? 1 : 0,
                        rate, eta, fresh, lr, B);
      last_report = now;
    }
    /* the target is judged on fresh samples: the batch ESS is biased high */
    if (evaluated && cfg->train.target_ess > 0 && res->eval.ess >= cfg->train.target_ess) {
      res->stop_reason = "target_ess";
      t++;
      break;
    }
    if (flags[1]) {
      res->stop_reason = "wall_time";
      t++;
      break;
    }
  }
  lf_log_progress_end();
  if (t > first && t % LF_TRAIN_SYNC_EVERY != 0 && (rc = lf_trainer_check_sync(tr, t - 1)) != LF_OK)
    return rc;
  /* the final evaluation after a target, wall-time or no-step stop, unless step t was
   * just evaluated (here or before a resume) */
  if (cfg->train.eval_samples > 0 && tr->last_eval != t &&
      (rc = evaluate(tr, t, TRAIN_SECONDS(), res)) != LF_OK)
    return rc;
#undef TRAIN_SECONDS
  tr->next_step = t;
  res->wall_seconds = lf_wtime() - t0;
  tr->seconds = seconds0 + res->wall_seconds - res->eval_seconds;
  res->steps = t;
  res->skipped = tr->skipped;
  res->loss = info.loss;
  res->ess_smoothed = tr->ess_n > 0 ? tr->ess_sum / tr->ess_n : 0.0;
  return rc;
}
