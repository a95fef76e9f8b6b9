/* Reverse-KL training with the RT and RE gradient estimators (latflow/train.h).
 * RT: Albergo, Kanwar, Shanahan, PRD 100 (2019); RE: Bialas, Korcyl, Stebel, CPC 2024,
 * arXiv 2308.13294, eq. for the REINFORCE gradient with the mean of s as baseline. */
#include "latflow/train.h"

#include "latflow/analysis.h"
#include "latflow/log.h"
#include "latflow/rng.h"
#include "latflow/signal.h"
#include "latflow/timer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trainer_zero(lf_trainer *tr) {
  memset(tr, 0, sizeof *tr);
  tr->comm = MPI_COMM_SELF;
  tr->P = 1;
  tr->last_eval = -1;
}

/* ---- the training communicator --------------------------------------------------------- */

static lf_status mpi_fail(int e, const char *what) {
  char s[MPI_MAX_ERROR_STRING];
  int l = 0;
  if (MPI_Error_string(e, s, &l) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", e);
  return LF_FAIL(LF_ERR_MPI, "%s: %s", what, s);
}

/* In-place all-reduce over the training communicator; the identity on one rank (no MPI
 * call, so the serial trainer runs without MPI_Init). */
static lf_status allreduce(lf_trainer *tr, void *buf, int n, MPI_Datatype type, MPI_Op op,
                           const char *what) {
  if (tr->P == 1) return LF_OK;
  const int e = MPI_Allreduce(MPI_IN_PLACE, buf, n, type, op, tr->comm);
  return e == MPI_SUCCESS ? LF_OK : mpi_fail(e, what);
}

/* Agrees a possibly rank-local status before a collective: the worst code everywhere. */
static lf_status agree(lf_trainer *tr, lf_status rc) {
  int worst = (int)rc;
  const lf_status e = allreduce(tr, &worst, 1, MPI_INT, MPI_MAX, "MPI_Allreduce of the status");
  if (e != LF_OK) return e;
  if (worst != LF_OK && rc == LF_OK)
    return LF_FAIL((lf_status)worst, "another training rank failed (status %d: %s)", worst,
                   lf_status_str((lf_status)worst));
  return (lf_status)worst;
}

void lf_train_split(int B, int P, int r, int *lo, int *hi) {
  *lo = (int)((int64_t)r * B / P);
  *hi = (int)((int64_t)(r + 1) * B / P);
}

lf_status lf_trainer_set_comm(lf_trainer *tr, MPI_Comm comm) {
  int e, P = 1, rank = 0;
  if ((e = MPI_Comm_size(comm, &P)) != MPI_SUCCESS) return mpi_fail(e, "MPI_Comm_size");
  if ((e = MPI_Comm_rank(comm, &rank)) != MPI_SUCCESS) return mpi_fail(e, "MPI_Comm_rank");
  if (tr->cfg->train.batch < P)
    return LF_FAIL(LF_ERR_CONFIG,
                   "train.batch: the global batch %d is smaller than the %d training ranks "
                   "(each rank needs at least one sample; raise train.batch or lower "
                   "train.ranks)",
                   tr->cfg->train.batch, P);
  if (tr->model->nparams > (size_t)INT_MAX)
    return LF_FAIL(LF_ERR_INVALID, "%zu parameters do not fit one MPI_Allreduce count",
                   tr->model->nparams);
  tr->comm = comm;
  tr->P = P;
  tr->rank = rank;
  return LF_OK;
}

lf_status lf_trainer_check_sync(lf_trainer *tr, long step) {
  if (tr->P == 1) return LF_OK;
  const uint64_t h = lf_model_hash(tr->model);
  uint64_t lo = h, hi = h;
  lf_status rc = allreduce(tr, &lo, 1, MPI_UINT64_T, MPI_MIN, "MPI_Allreduce of the hash");
  if (rc == LF_OK) rc = allreduce(tr, &hi, 1, MPI_UINT64_T, MPI_MAX, "MPI_Allreduce of the hash");
  if (rc != LF_OK) return rc;
  if (lo != hi)
    return LF_FAIL(LF_ERR_MPI,
                   "parameters diverged across ranks at step %ld: model hash %016llx here, "
                   "min %016llx max %016llx over %d ranks",
                   step, (unsigned long long)h, (unsigned long long)lo, (unsigned long long)hi,
                   tr->P);
  return LF_OK;
}

void lf_trainer_free(lf_trainer *tr) {
  lf_free(tr->eps);
  lf_free(tr->phi);
  lf_free(tr->logq);
  lf_free(tr->logq2);
  lf_free(tr->S);
  lf_free(tr->dphi);
  lf_free(tr->dlogq);
  lf_free(tr->logw);
  lf_free(tr->backup);
  lf_free(tr->ess_ring);
  trainer_zero(tr);
}

int lf_train_batch(const lf_config *cfg, long t) {
  long b = cfg->train.batch;
  const long every = cfg->train.batch_double_every;
  const long bmax = cfg->train.batch_max > 0 ? cfg->train.batch_max : cfg->train.batch;
  if (every > 0)
    for (long k = t / every; k > 0 && b < bmax; k--) b *= 2;
  return (int)(b < bmax ? b : bmax);
}

int64_t lf_train_samples(const lf_config *cfg, long t) {
  const long every = cfg->train.batch_double_every;
  if (t <= 0) return 0;
  if (every <= 0) return (int64_t)t * lf_train_batch(cfg, 0);
  /* the batch is constant over each doubling period: one term per period until it
   * stops growing */
  int64_t n = 0;
  for (long s = 0; s < t; s += every) {
    const int B = lf_train_batch(cfg, s);
    if (t - s <= every || B == lf_train_batch(cfg, s + every)) return n + (int64_t)(t - s) * B;
    n += (int64_t)every * B;
  }
  return n;
}

double lf_train_lr(const lf_config *cfg, long t) {
  const long every = cfg->train.lr_halve_every;
  double lr = cfg->train.optimizer.lr;
  if (every > 0) lr = ldexp(lr, -(int)(t / every < 1000 ? t / every : 1000));
  return lr;
}

lf_status lf_trainer_init(lf_trainer *tr, const lf_config *cfg, lf_model *m, const lf_theory *t) {
  lf_status rc = LF_OK;
  trainer_zero(tr);
  tr->cfg = cfg;
  tr->model = m;
  tr->theory = t;
  tr->C = t->C;
  tr->V = t->V;
  if (m->C != t->C || m->V != t->V)
    return LF_FAIL(LF_ERR_INVALID, "model shape C=%d V=%d does not match theory C=%d V=%d", m->C,
                   m->V, t->C, t->V);
  if (cfg->train.estimator == LF_EST_RT && !t->grad)
    return LF_FAIL(LF_ERR_CONFIG,
                   "train.estimator: rt needs the action's gradient, which theory "
                   "'%s' does not provide; use re",
                   t->name);
  /* the largest batch the schedule reaches */
  const int bmax = lf_train_batch(cfg, cfg->train.steps > 0 ? cfg->train.steps : 0);
  tr->Bmax = bmax > cfg->train.batch ? bmax : cfg->train.batch;
  LF_CHECK(lf_model_reserve(m, tr->Bmax));
  const size_t n = (size_t)tr->Bmax * (size_t)t->C * (size_t)t->V;
  const size_t B = (size_t)tr->Bmax;
  tr->eps = lf_alloc(n * sizeof(double));
  tr->phi = lf_alloc(n * sizeof(double));
  tr->dphi = lf_alloc(n * sizeof(double));
  tr->logq = lf_alloc(B * sizeof(double));
  tr->logq2 = lf_alloc(B * sizeof(double));
  tr->S = lf_alloc(B * sizeof(double));
  tr->dlogq = lf_alloc(B * sizeof(double));
  tr->logw = lf_alloc(B * sizeof(double));
  tr->backup = lf_alloc(3 * m->nparams * m->real_size);
  tr->ess_ring =
      lf_alloc((size_t)(cfg->train.ess_window > 0 ? cfg->train.ess_window : 1) * sizeof(double));
  if (!tr->eps || !tr->phi || !tr->dphi || !tr->logq || !tr->logq2 || !tr->S || !tr->dlogq ||
      !tr->logw || !tr->backup || !tr->ess_ring) {
    rc = LF_FAIL(LF_ERR_NOMEM, "trainer buffers for batch %d, %d sites", tr->Bmax, t->V);
    goto fail;
  }
  return LF_OK;
fail:
  lf_trainer_free(tr);
  return rc;
}

static int arena_finite(const void *a, size_t n, size_t real_size) {
  if (real_size == sizeof(float)) {
    const float *f = a;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(f[i])) return 0;
  } else {
    const double *d = a;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(d[i])) return 0;
  }
  return 1;
}

/* Copies params, m, v to (dir=0) or from (dir=1) the backup. */
static void backup_arenas(lf_trainer *tr, int dir) {
  lf_model *m = tr->model;
  const size_t bytes = m->nparams * m->real_size;
  char *b = tr->backup;
  void *arenas[3] = {m->params, m->m, m->v};
  for (int i = 0; i < 3; i++) {
    if (dir == 0)
      memcpy(b + (size_t)i * bytes, arenas[i], bytes);
    else
      memcpy(arenas[i], b + (size_t)i * bytes, bytes);
  }
}

static void draw_noise(lf_rng_key key, uint32_t step, uint64_t first, int B, size_t n,
                       double *eps) {
  for (int i = 0; i < B; i++) lf_rng_normal(key, step, first + (uint64_t)i, n, eps + (size_t)i * n);
}

lf_status lf_trainer_gradient(lf_trainer *tr, long t, int B, lf_estimator est,
                              lf_train_step_info *info) {
  const lf_config *cfg = tr->cfg;
  lf_model *m = tr->model;
  const lf_theory *th = tr->theory;
  const size_t n = (size_t)tr->C * (size_t)tr->V;
  if (B > tr->Bmax || B < 1) return LF_FAIL(LF_ERR_INVALID, "batch %d not in [1, %d]", B, tr->Bmax);
  if (B < tr->P)
    return LF_FAIL(LF_ERR_CONFIG,
                   "train.batch: the global batch %d is smaller than the %d "
                   "training ranks",
                   B, tr->P);
  if (est == LF_EST_RT && !th->grad)
    return LF_FAIL(LF_ERR_INVALID, "rt estimator without an action gradient");
  memset(info, 0, sizeof *info);
  info->step = t;
  info->batch = B;
  /* phase timers (info->t_*): wall clock only, never read back */
  const double tg0 = lf_wtime();
  double tc = tg0, tn;

  /* this rank's slice [lo, hi) of the global batch, with the serial run's noise */
  int lo, hi;
  lf_train_split(B, tr->P, tr->rank, &lo, &hi);
  const int Bl = hi - lo;
  const lf_rng_key key = lf_rng_key_make(cfg->seed, LF_STREAM_TRAIN);
  draw_noise(key, (uint32_t)t, (uint64_t)lo, Bl, n, tr->eps);
  lf_model_zero_grad(m);
  tn = lf_wtime();
  info->t_noise = tn - tc;
  tc = tn;
  if (est == LF_EST_RT)
    lf_model_sample(m, Bl, tr->eps, tr->phi, tr->logq);
  else /* RE draws without gradients: nothing needs saving */
    lf_model_sample_nograd(m, Bl, tr->eps, tr->phi, tr->logq);
  tn = lf_wtime();
  info->t_sample = tn - tc;
  tc = tn;
  th->action(th, Bl, tr->phi, tr->S);
  tn = lf_wtime();
  info->t_action = tn - tc;
  tc = tn;

  /* global loss and ESS (as lf_ess: weights relative to the largest finite log w) */
  double mx = -INFINITY;
  for (int i = 0; i < Bl; i++) {
    tr->logw[i] = -tr->S[i] - tr->logq[i];
    if (isfinite(tr->logw[i]) && tr->logw[i] > mx) mx = tr->logw[i];
  }
  lf_status rc = allreduce(tr, &mx, 1, MPI_DOUBLE, MPI_MAX, "MPI_Allreduce of max log w");
  if (rc != LF_OK) return rc;
  double sums[3] = {0.0, 0.0, 0.0}; /* sum s, sum w, sum w^2 */
  for (int i = 0; i < Bl; i++) {
    sums[0] += -tr->logw[i];
    if (!isfinite(mx) || !isfinite(tr->logw[i])) continue;
    const double w = exp(tr->logw[i] - mx);
    sums[1] += w;
    sums[2] += w * w;
  }
  if ((rc = allreduce(tr, sums, 3, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce of sum s, w, w^2")) != LF_OK)
    return rc;
  const double loss = sums[0] / B;
  info->loss = loss;
  info->ess = isfinite(mx) ? sums[1] * sums[1] / ((double)B * sums[2]) : 0.0;
  /* loss is global, so every rank skips together */
  if (!isfinite(loss)) {
    info->grad_norm = NAN;
    info->t_total = lf_wtime() - tg0;
    return LF_OK;
  }
  if (est == LF_EST_RT) {
    tc = lf_wtime();
    memset(tr->dphi, 0, (size_t)Bl * n * sizeof(double));
    th->grad(th, Bl, tr->phi, tr->dphi);
    tn = lf_wtime();
    info->t_action_grad = tn - tc;
    tc = tn;
    const double inv = 1.0 / B;
    for (size_t i = 0; i < (size_t)Bl * n; i++) tr->dphi[i] *= inv;
    for (int i = 0; i < Bl; i++) tr->dlogq[i] = inv;
    lf_model_sample_backward(m, Bl, tr->dphi, tr->dlogq);
    info->t_backward = lf_wtime() - tc;
  } else {
    /* REINFORCE: s_i = log q_i + S_i = -log w_i is a constant; only log q_theta(phi)
     * is differentiated, through the inverse flow on the fixed phi. Leave-one-out
     * baseline: s_i - mean_{j!=i} s_j = B/(B-1) (s_i - mean s), so
     * dL/dlogq_i = (s_i - mean s)/(B-1) is an unbiased estimator of the KL gradient
     * (with the plain batch mean it would be (1 - 1/B) times the gradient). B and
     * mean s are those of the global batch. */
    tc = lf_wtime();
    lf_model_logq(m, Bl, tr->phi, tr->logq2);
    tn = lf_wtime();
    info->t_logq = tn - tc;
    tc = tn;
    const double norm = B > 1 ? 1.0 / (B - 1) : 0.0;
    for (int i = 0; i < Bl; i++) tr->dlogq[i] = (-tr->logw[i] - loss) * norm;
    lf_model_logq_backward(m, Bl, tr->dlogq);
    info->t_backward = lf_wtime() - tc;
  }
  /* the one gradient reduction of the step: every rank gets the full-batch gradient */
  if ((rc = allreduce(tr, m->grads, (int)m->nparams,
                      m->real_size == sizeof(float) ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM,
                      "MPI_Allreduce of the gradient arena")) != LF_OK)
    return rc;
  info->grad_norm = lf_model_grad_norm(m);
  info->t_total = lf_wtime() - tg0;
  return LF_OK;
}

lf_status lf_trainer_step(lf_trainer *tr, long t, int B, double lr, lf_train_step_info *info) {
  const lf_config *cfg = tr->cfg;
  lf_model *m = tr->model;
  const double ts0 = lf_wtime();
  const lf_status rc = lf_trainer_gradient(tr, t, B, cfg->train.estimator, info);
  if (rc != LF_OK) return rc;
  const double tu0 = lf_wtime();
  info->lr = lr;
  const double gnorm = info->grad_norm;
  int bad = !isfinite(info->loss) || !isfinite(gnorm);
  if (!bad) {
    if (cfg->train.grad_clip > 0 && gnorm > cfg->train.grad_clip)
      lf_model_scale_grads(m, cfg->train.grad_clip / gnorm);
    backup_arenas(tr, 0);
    const uint64_t step0 = m->step;
    lf_model_optim_step(m, &cfg->train.optimizer, lr);
    if (!arena_finite(m->params, m->nparams, m->real_size)) {
      backup_arenas(tr, 1);
      m->step = step0;
      bad = 1;
    }
  }
  info->skipped = bad;
  const double now = lf_wtime();
  info->t_update = now - tu0;
  info->t_total = now - ts0;
  return LF_OK;
}

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

static void format_eta(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
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
  return agree(tr, rc);
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
  if ((rc = agree(tr, rc)) != LF_OK) return rc;
  tr->evals++;
  tr->last_eval = step;
  res->nevals++;
  res->eval_seconds += ev.seconds;
  res->eval = ev;
  return LF_OK;
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
    /* the callback (files on rank 0) and the wall clock are rank-local: agree on both */
    int flags[2] = {cb ? (int)cb(ctx, &info) : (int)LF_OK, 0};
    double now = lf_wtime();
    flags[1] = cfg->train.wall_time > 0 && now - t0 >= cfg->train.wall_time;
    const int cb_failed = flags[0] != LF_OK;
    if ((rc = allreduce(tr, flags, 2, MPI_INT, MPI_MAX, "MPI_Allreduce of the step flags")) !=
        LF_OK)
      return rc;
    if (flags[0] != LF_OK)
      return cb_failed ? (lf_status)flags[0]
                       : LF_FAIL((lf_status)flags[0],
                                 "the step callback failed on another training rank at step "
                                 "%ld (status %d: %s)",
                                 t, flags[0], lf_status_str((lf_status)flags[0]));
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
    if ((t + 1) % cfg->train.log_every == 0 || last ||
        (lf_log_is_tty() && now - last_report > 0.5)) {
      const double rate = (double)(t + 1 - first) / (now - t0);
      char eta[32], fresh[32];
      format_eta((double)(cfg->train.steps - t - 1) / rate, eta, sizeof eta);
      if (isfinite(fresh_ess))
        snprintf(fresh, sizeof fresh, "%.4f", fresh_ess);
      else
        snprintf(fresh, sizeof fresh, "-");
      lf_log_progress("train",
                      "step=%ld/%ld loss=%.4f ess_batch=%.3f ess_batch_s=%.3f ess_fresh=%s "
                      "lr=%.2e batch=%d rate=%.1f steps/s eta=%s",
                      t + 1, cfg->train.steps, info.loss, info.ess, info.ess_smoothed, fresh, lr, B,
                      rate, eta);
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

/* ---- checkpoints ------------------------------------------------------------------------- */

void lf_trainer_set_eval_callback(lf_trainer *tr, lf_train_eval_callback cb, void *ctx) {
  tr->eval_cb = cb;
  tr->eval_ctx = ctx;
}

lf_status lf_trainer_set_checkpoint(lf_trainer *tr, const char *path, lf_train_ckpt_hook hook,
                                    void *ctx) {
  if (path && strlen(path) >= sizeof tr->ckpt_path)
    return LF_FAIL(LF_ERR_INVALID, "checkpoint path too long (%zu bytes): '%s'", strlen(path),
                   path);
  snprintf(tr->ckpt_path, sizeof tr->ckpt_path, "%s", path ? path : "");
  tr->ckpt_hook = hook;
  tr->ckpt_ctx = ctx;
  return LF_OK;
}

/* The architecture as integers: what must match for the arenas to mean the same. */
#define ARCH_MAX (12 + LF_MAX_HIDDEN)
static size_t arch_code(const lf_model *m, int64_t *a) {
  size_t n = 0;
  a[n++] = m->C;
  a[n++] = m->L0;
  a[n++] = m->L1;
  a[n++] = (int64_t)m->cfg.base;
  a[n++] = m->cfg.layers;
  a[n++] = m->cfg.kernel;
  a[n++] = (int64_t)m->cfg.activation;
  a[n++] = (int64_t)m->cfg.coupling;
  a[n++] = (int64_t)m->cfg.precision;
  a[n++] = (int64_t)m->nparams;
  a[n++] = (int64_t)m->real_size;
  a[n++] = m->cfg.nhidden;
  for (int k = 0; k < m->cfg.nhidden && k < LF_MAX_HIDDEN; k++) a[n++] = m->cfg.hidden[k];
  return n;
}

static void arch_text(const int64_t *a, size_t n, char *buf, size_t bn) {
  if (n < 12) {
    snprintf(buf, bn, "(unreadable architecture record)");
    return;
  }
  int w = snprintf(buf, bn, "%lldx%lld, %lld layers, kernel %lld, %s, %lld parameters, hidden [",
                   (long long)a[1], (long long)a[2], (long long)a[4], (long long)a[5],
                   a[8] == LF_PREC_F32 ? "single" : "double", (long long)a[9]);
  for (size_t k = 12; k < n && w > 0 && (size_t)w < bn; k++)
    w += snprintf(buf + w, bn - (size_t)w, "%s%lld", k > 12 ? ", " : "", (long long)a[k]);
  if (w > 0 && (size_t)w < bn) snprintf(buf + w, bn - (size_t)w, "]");
}

static int ess_window_of(const lf_trainer *tr) {
  return tr->cfg->train.ess_window > 0 ? tr->cfg->train.ess_window : 1;
}

lf_status lf_trainer_save(const lf_trainer *tr, lf_ckpt *c) {
  lf_status rc = LF_OK;
  const lf_model *m = tr->model;
  const size_t bytes = m->nparams * m->real_size;
  int64_t arch[ARCH_MAX];
  const size_t na = arch_code(m, arch);
  LF_CHECK(lf_ckpt_put(c, "model_arch", LF_CKPT_I64, na, arch));
  /* the arenas in the network precision, as bytes: bitwise for float and double */
  LF_CHECK(lf_ckpt_put(c, "params", LF_CKPT_U8, bytes, m->params));
  LF_CHECK(lf_ckpt_put(c, "optim_m", LF_CKPT_U8, bytes, m->m));
  LF_CHECK(lf_ckpt_put(c, "optim_v", LF_CKPT_U8, bytes, m->v));
  LF_CHECK(lf_ckpt_put(c, "ess_ring", LF_CKPT_F64, (size_t)ess_window_of(tr), tr->ess_ring));
  LF_CHECK(lf_ckpt_put_i64(c, "model_hash", (int64_t)lf_model_hash(m)));
  LF_CHECK(lf_ckpt_put_i64(c, "optim_step", (int64_t)m->step));
  LF_CHECK(lf_ckpt_put_i64(c, "next_step", tr->next_step));
  LF_CHECK(lf_ckpt_put_i64(c, "skipped", tr->skipped));
  LF_CHECK(lf_ckpt_put_i64(c, "bad_in_row", tr->bad_in_row));
  LF_CHECK(lf_ckpt_put_i64(c, "dead_in_row", tr->dead_in_row));
  LF_CHECK(lf_ckpt_put_i64(c, "records", tr->records));
  LF_CHECK(lf_ckpt_put_i64(c, "evals", tr->evals));
  LF_CHECK(lf_ckpt_put_i64(c, "last_eval", tr->last_eval));
  LF_CHECK(lf_ckpt_put_i64(c, "train_ranks", tr->P));
  LF_CHECK(lf_ckpt_put_i64(c, "ess_window", ess_window_of(tr)));
  LF_CHECK(lf_ckpt_put_i64(c, "ess_n", tr->ess_n));
  LF_CHECK(lf_ckpt_put_i64(c, "ess_pos", tr->ess_pos));
  LF_CHECK(lf_ckpt_put_f64(c, "ess_sum", tr->ess_sum));
  LF_CHECK(lf_ckpt_put_f64(c, "train_seconds", tr->seconds));
fail:
  return rc;
}

lf_status lf_trainer_checkpoint(const lf_trainer *tr, const char *path) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  LF_CHECK(lf_ckpt_create(&c, path, "train", tr->cfg, tr->P));
  if ((rc = lf_trainer_save(tr, c)) != LF_OK) {
    lf_ckpt_abort(c);
    return rc;
  }
  return lf_ckpt_commit(c);
fail:
  return rc;
}

lf_status lf_trainer_load(lf_trainer *tr, lf_ckpt *c) {
  lf_status rc = LF_OK;
  lf_model *m = tr->model;
  const char *path = lf_ckpt_path(c);
  const size_t bytes = m->nparams * m->real_size;
  const int w = ess_window_of(tr);
  double *ring = NULL;
  int64_t arch[ARCH_MAX], stored[ARCH_MAX];
  const size_t na = arch_code(m, arch);
  size_t ns = 0;
  int64_t hash = 0, ostep = 0, next = 0, skipped = 0, bad = 0, records = 0, P = 0, sw = 0, sn = 0,
          spos = 0, evals = 0, last_eval = -1;
  double ess_sum = 0.0, seconds = 0.0;
  char *b = tr->backup;
  LF_CHECK(lf_ckpt_len(c, "model_arch", &ns));
  if (ns <= ARCH_MAX) LF_CHECK(lf_ckpt_get(c, "model_arch", LF_CKPT_I64, ns, stored));
  if (ns != na || ns > ARCH_MAX || memcmp(arch, stored, na * sizeof *arch) != 0) {
    char have[256], want[256];
    arch_text(stored, ns <= ARCH_MAX ? ns : 0, have, sizeof have);
    arch_text(arch, na, want, sizeof want);
    return LF_FAIL(LF_ERR_CONFIG,
                   "'%s' holds a model of another architecture (%s) than this run (%s); "
                   "cannot resume",
                   path, have, want);
  }
  LF_CHECK(lf_ckpt_get_i64(c, "train_ranks", &P));
  if (P != tr->P)
    return LF_FAIL(LF_ERR_CONFIG,
                   "'%s' was written by a run with %lld training rank%s, this run has %d: the "
                   "gradient sums round differently with another rank count, so the result "
                   "would not be that of the interrupted run; resume on %lld training rank%s "
                   "(train.ranks and mpiexec -n)",
                   path, (long long)P, P == 1 ? "" : "s", tr->P, (long long)P, P == 1 ? "" : "s");
  /* the arenas go through the backup buffer, so a failed read restores nothing */
  LF_CHECK(lf_ckpt_get(c, "params", LF_CKPT_U8, bytes, b));
  LF_CHECK(lf_ckpt_get(c, "optim_m", LF_CKPT_U8, bytes, b + bytes));
  LF_CHECK(lf_ckpt_get(c, "optim_v", LF_CKPT_U8, bytes, b + 2 * bytes));
  LF_CHECK(lf_ckpt_get_i64(c, "model_hash", &hash));
  LF_CHECK(lf_ckpt_get_i64(c, "optim_step", &ostep));
  LF_CHECK(lf_ckpt_get_i64(c, "next_step", &next));
  LF_CHECK(lf_ckpt_get_i64(c, "skipped", &skipped));
  LF_CHECK(lf_ckpt_get_i64(c, "bad_in_row", &bad));
  LF_CHECK(lf_ckpt_get_i64(c, "records", &records));
  /* checkpoints from before the dead-network check have no count: none so far */
  int64_t dead = 0;
  if (lf_ckpt_get_i64(c, "dead_in_row", &dead) != LF_OK) dead = 0;
  /* checkpoints from before the evaluations during training have neither: none made */
  if (lf_ckpt_get_i64(c, "evals", &evals) != LF_OK ||
      lf_ckpt_get_i64(c, "last_eval", &last_eval) != LF_OK) {
    evals = 0;
    last_eval = -1;
  }
  LF_CHECK(lf_ckpt_get_i64(c, "ess_window", &sw));
  LF_CHECK(lf_ckpt_get_i64(c, "ess_n", &sn));
  LF_CHECK(lf_ckpt_get_i64(c, "ess_pos", &spos));
  LF_CHECK(lf_ckpt_get_f64(c, "ess_sum", &ess_sum));
  LF_CHECK(lf_ckpt_get_f64(c, "train_seconds", &seconds));
  if (sw < 1 || sw > INT_MAX || sn < 0 || sn > sw || spos < 0 || spos >= sw || next < 0 ||
      ostep < 0 || skipped < 0 || bad < 0 || bad > INT_MAX || records < 0 || evals < 0 ||
      last_eval < -1 || last_eval > next) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': inconsistent trainer state (ess_window %lld, ess_n %lld, ess_pos %lld, "
                 "next_step %lld; corrupted file?)",
                 path, (long long)sw, (long long)sn, (long long)spos, (long long)next);
    goto fail;
  }
  ring = malloc((size_t)sw * sizeof *ring);
  if (!ring) {
    rc = LF_FAIL(LF_ERR_NOMEM, "ESS ring of %lld values", (long long)sw);
    goto fail;
  }
  LF_CHECK(lf_ckpt_get(c, "ess_ring", LF_CKPT_F64, (size_t)sw, ring));

  /* everything read: verify the parameters against the stored hash, then restore */
  void *live = m->params;
  m->params = b;
  const uint64_t h = lf_model_hash(m);
  m->params = live;
  if ((int64_t)h != hash) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': parameter hash mismatch: stored %016llx, data gives %016llx "
                 "(corrupted file?)",
                 path, (unsigned long long)hash, (unsigned long long)h);
    goto fail;
  }
  memcpy(m->params, b, bytes);
  memcpy(m->m, b + bytes, bytes);
  memcpy(m->v, b + 2 * bytes, bytes);
  m->step = (uint64_t)ostep;
  m->train_seconds = seconds;
  tr->next_step = (long)next;
  tr->skipped = (long)skipped;
  tr->bad_in_row = (int)bad;
  tr->dead_in_row = (int)dead;
  tr->records = records;
  tr->evals = evals;
  tr->last_eval = (long)last_eval;
  tr->seconds = seconds;
  if (sw == w) { /* the same window: the ring bitwise */
    memcpy(tr->ess_ring, ring, (size_t)w * sizeof *ring);
    tr->ess_n = (int)sn;
    tr->ess_pos = (int)spos;
    tr->ess_sum = ess_sum;
  } else { /* train.stop.ess_window changed: keep the newest min(n, w) values, oldest first */
    const int k = (int)(sn < w ? sn : w);
    const int64_t oldest = sn < sw ? 0 : spos; /* index of the oldest stored value */
    memset(tr->ess_ring, 0, (size_t)w * sizeof *ring);
    tr->ess_sum = 0.0;
    for (int i = 0; i < k; i++) {
      const double e = ring[(oldest + (sn - k) + i) % sw];
      tr->ess_ring[i] = e;
      tr->ess_sum += e;
    }
    tr->ess_n = k;
    tr->ess_pos = k % w;
  }
fail:
  free(ring);
  return rc;
}

lf_status lf_train_eval(lf_trainer *tr, long n, lf_eval_result *res) {
  const lf_config *cfg = tr->cfg;
  lf_model *m = tr->model;
  const lf_theory *th = tr->theory;
  const size_t nsite = (size_t)tr->C * (size_t)tr->V;
  const double t0 = lf_wtime();
  lf_status rc = LF_OK;
  memset(res, 0, sizeof *res);
  res->step = tr->next_step;
  res->n_train = lf_train_samples(cfg, tr->next_step);
  res->train_seconds = tr->seconds;
  if (n <= 0) return LF_OK;
  res->n = n;
  if (tr->P > 1 && n > INT_MAX)
    return LF_FAIL(LF_ERR_INVALID, "train.eval_samples: %ld samples exceed one MPI count", n);
  if (tr->next_step < 0 || tr->next_step > (long)(UINT32_MAX / 2 - 1))
    return LF_FAIL(LF_ERR_INVALID, "evaluation after %ld training steps: beyond the RNG counter",
                   tr->next_step);
  /* the k-th training step's evaluation owns RNG steps 2k (noise) and 2k + 1 (uniforms) */
  const uint32_t rstep = 2u * (uint32_t)tr->next_step;
  double *logw = lf_alloc((size_t)n * sizeof(double));
  double *u = lf_alloc((size_t)n * sizeof(double));
  int *counts = lf_alloc(2 * (size_t)tr->P * sizeof(int)); /* (P) counts, (P) offsets */
  if (!logw || !u || !counts) rc = LF_FAIL(LF_ERR_NOMEM, "evaluation buffers for %ld samples", n);
  if ((rc = agree(tr, rc)) != LF_OK) goto done;
  const lf_rng_key key = lf_rng_key_make(cfg->seed, LF_STREAM_EVAL);
  /* this rank's samples [lo, hi), in batches of at most Bmax (index = global sample) */
  const long lo = (long)((int64_t)tr->rank * n / tr->P);
  const long hi = (long)((int64_t)(tr->rank + 1) * n / tr->P);
  for (long done = lo; done < hi;) {
    const int B = (int)(hi - done < tr->Bmax ? hi - done : tr->Bmax);
    draw_noise(key, rstep, (uint64_t)done, B, nsite, tr->eps);
    lf_model_sample_nograd(m, B, tr->eps, tr->phi, tr->logq);
    th->action(th, B, tr->phi, tr->S);
    for (int i = 0; i < B; i++) logw[done + i] = -tr->S[i] - tr->logq[i];
    done += B;
  }
  if (tr->P > 1) {
    for (int r = 0; r < tr->P; r++) {
      counts[tr->P + r] = (int)((int64_t)r * n / tr->P);
      counts[r] = (int)((int64_t)(r + 1) * n / tr->P) - counts[tr->P + r];
    }
    const int e = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, logw, counts, counts + tr->P,
                                 MPI_DOUBLE, tr->comm);
    if (e != MPI_SUCCESS) {
      rc = mpi_fail(e, "MPI_Allgatherv of the evaluation log w");
      goto done;
    }
  }
  /* every rank now holds all n log w in sample order: the same serial statistics */
  double loss = 0.0;
  for (long i = 0; i < n; i++) {
    loss += -logw[i];
    u[i] = lf_rng_uniform(key, rstep + 1, (uint64_t)i);
  }
  res->ess = lf_ess((size_t)n, logw);
  res->acceptance = lf_imh_run((size_t)n, logw, u, NULL, NULL);
  res->log_mean_weight = lf_log_mean_weight((size_t)n, logw);
  res->mean_loss = loss / (double)n;
  res->seconds = lf_wtime() - t0;
done:
  lf_free(logw);
  lf_free(u);
  lf_free(counts);
  return rc;
}
