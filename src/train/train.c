/* Reverse-KL training with the RT and RE gradient estimators (latflow/train.h).
 * RT: Albergo, Kanwar, Shanahan, PRD 100 (2019); RE: Bialas, Korcyl, Stebel, CPC 2024,
 * arXiv 2308.13294, eq. for the REINFORCE gradient with the mean of s as baseline. */
#include "latflow/train.h"

#include "latflow/analysis.h"
#include "latflow/log.h"
#include "latflow/rng.h"
#include "latflow/timer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void trainer_zero(lf_trainer *tr) {
  memset(tr, 0, sizeof *tr);
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
  if (est == LF_EST_RT && !th->grad)
    return LF_FAIL(LF_ERR_INVALID, "rt estimator without an action gradient");
  memset(info, 0, sizeof *info);
  info->step = t;
  info->batch = B;

  const lf_rng_key key = lf_rng_key_make(cfg->seed, LF_STREAM_TRAIN);
  draw_noise(key, (uint32_t)t, 0, B, n, tr->eps);
  lf_model_zero_grad(m);
  if (est == LF_EST_RT)
    lf_model_sample(m, B, tr->eps, tr->phi, tr->logq);
  else /* RE draws without gradients: nothing needs saving */
    lf_model_sample_nograd(m, B, tr->eps, tr->phi, tr->logq);
  th->action(th, B, tr->phi, tr->S);

  double loss = 0.0;
  for (int i = 0; i < B; i++) {
    tr->logw[i] = -tr->S[i] - tr->logq[i];
    loss += -tr->logw[i];
  }
  loss /= B;
  info->loss = loss;
  info->ess = lf_ess((size_t)B, tr->logw);
  if (!isfinite(loss)) {
    info->grad_norm = NAN;
    return LF_OK;
  }
  if (est == LF_EST_RT) {
    memset(tr->dphi, 0, (size_t)B * n * sizeof(double));
    th->grad(th, B, tr->phi, tr->dphi);
    const double inv = 1.0 / B;
    for (size_t i = 0; i < (size_t)B * n; i++) tr->dphi[i] *= inv;
    for (int i = 0; i < B; i++) tr->dlogq[i] = inv;
    lf_model_sample_backward(m, B, tr->dphi, tr->dlogq);
  } else {
    /* REINFORCE: s_i = log q_i + S_i = -log w_i is a constant; only log q_theta(phi)
     * is differentiated, through the inverse flow on the fixed phi. Leave-one-out
     * baseline: s_i - mean_{j!=i} s_j = B/(B-1) (s_i - mean s), so
     * dL/dlogq_i = (s_i - mean s)/(B-1) is an unbiased estimator of the KL gradient
     * (with the plain batch mean it would be (1 - 1/B) times the gradient). */
    lf_model_logq(m, B, tr->phi, tr->logq2);
    const double norm = B > 1 ? 1.0 / (B - 1) : 0.0;
    for (int i = 0; i < B; i++) tr->dlogq[i] = (-tr->logw[i] - loss) * norm;
    lf_model_logq_backward(m, B, tr->dlogq);
  }
  info->grad_norm = lf_model_grad_norm(m);
  return LF_OK;
}

lf_status lf_trainer_step(lf_trainer *tr, long t, int B, double lr, lf_train_step_info *info) {
  const lf_config *cfg = tr->cfg;
  lf_model *m = tr->model;
  const lf_status rc = lf_trainer_gradient(tr, t, B, cfg->train.estimator, info);
  if (rc != LF_OK) return rc;
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

lf_status lf_train_run(lf_trainer *tr, long first, lf_train_callback cb, void *ctx,
                       lf_train_result *res) {
  lf_status rc = LF_OK;
  const lf_config *cfg = tr->cfg;
  const double t0 = lf_wtime();
  const int window = cfg->train.ess_window > 0 ? cfg->train.ess_window : 1;
  int consecutive_bad = 0;
  long t = first, skipped = 0;
  double last_report = t0;
  lf_train_step_info info;
  memset(&info, 0, sizeof info);
  memset(res, 0, sizeof *res);
  res->stop_reason = "steps";
  for (; t < cfg->train.steps; t++) {
    const int B = lf_train_batch(cfg, t);
    const double lr = lf_train_lr(cfg, t);
    if ((rc = lf_trainer_step(tr, t, B, lr, &info)) != LF_OK) return rc;
    info.seconds = lf_wtime() - t0;
    if (info.skipped) {
      skipped++;
      consecutive_bad++;
      lf_log_warn("train", "step %ld skipped: loss=%g grad_norm=%g (not finite); %d in a row", t,
                  info.loss, info.grad_norm, consecutive_bad);
    } else {
      consecutive_bad = 0;
      ess_push(tr, info.ess);
    }
    info.ess_smoothed = tr->ess_n > 0 ? tr->ess_sum / tr->ess_n : 0.0;
    if (cb && (rc = cb(ctx, &info)) != LF_OK) return rc;
    if (consecutive_bad >= cfg->train.max_bad_steps) {
      res->steps = t + 1;
      res->skipped = skipped;
      return LF_FAIL(LF_ERR_NUMERIC,
                     "training diverged: %d consecutive steps with NaN/Inf loss or gradients "
                     "(last at step %ld, lr %g); the model keeps the last good parameters",
                     consecutive_bad, t, lr);
    }
    const double now = lf_wtime();
    const int last = (t + 1 == cfg->train.steps);
    if ((t + 1) % cfg->train.log_every == 0 || last ||
        (lf_log_is_tty() && now - last_report > 0.5)) {
      const double rate = (double)(t + 1 - first) / (now - t0);
      char eta[32];
      format_eta((double)(cfg->train.steps - t - 1) / rate, eta, sizeof eta);
      lf_log_progress("train",
                      "step=%ld/%ld loss=%.4f ess=%.3f ess_s=%.3f lr=%.2e batch=%d "
                      "rate=%.1f steps/s eta=%s",
                      t + 1, cfg->train.steps, info.loss, info.ess, info.ess_smoothed, lr, B, rate,
                      eta);
      last_report = now;
    }
    if (cfg->train.target_ess > 0 && tr->ess_n == window &&
        info.ess_smoothed >= cfg->train.target_ess) {
      res->stop_reason = "target_ess";
      t++;
      break;
    }
    if (cfg->train.wall_time > 0 && now - t0 >= cfg->train.wall_time) {
      res->stop_reason = "wall_time";
      t++;
      break;
    }
  }
  lf_log_progress_end();
  res->steps = t;
  res->skipped = skipped;
  res->loss = info.loss;
  res->ess_smoothed = tr->ess_n > 0 ? tr->ess_sum / tr->ess_n : 0.0;
  res->wall_seconds = lf_wtime() - t0;
  return rc;
}

lf_status lf_train_eval(lf_trainer *tr, long n, lf_eval_result *res) {
  const lf_config *cfg = tr->cfg;
  lf_model *m = tr->model;
  const lf_theory *th = tr->theory;
  const size_t nsite = (size_t)tr->C * (size_t)tr->V;
  const double t0 = lf_wtime();
  memset(res, 0, sizeof *res);
  res->n = n;
  if (n <= 0) return LF_OK;
  double *logw = lf_alloc((size_t)n * sizeof(double));
  double *u = lf_alloc((size_t)n * sizeof(double));
  if (!logw || !u) {
    lf_free(logw);
    lf_free(u);
    return LF_FAIL(LF_ERR_NOMEM, "evaluation buffers for %ld samples", n);
  }
  const lf_rng_key key = lf_rng_key_make(cfg->seed, LF_STREAM_EVAL);
  double loss = 0.0;
  for (long done = 0; done < n;) {
    const int B = (int)(n - done < tr->Bmax ? n - done : tr->Bmax);
    draw_noise(key, 0, (uint64_t)done, B, nsite, tr->eps);
    lf_model_sample_nograd(m, B, tr->eps, tr->phi, tr->logq);
    th->action(th, B, tr->phi, tr->S);
    for (int i = 0; i < B; i++) {
      logw[done + i] = -tr->S[i] - tr->logq[i];
      loss += -logw[done + i];
      u[done + i] = lf_rng_uniform(key, 1, (uint64_t)(done + i));
    }
    done += B;
  }
  res->ess = lf_ess((size_t)n, logw);
  res->acceptance = lf_imh_run((size_t)n, logw, u, NULL, NULL);
  res->log_mean_weight = lf_log_mean_weight((size_t)n, logw);
  res->mean_loss = loss / (double)n;
  res->seconds = lf_wtime() - t0;
  lf_free(logw);
  lf_free(u);
  return LF_OK;
}
