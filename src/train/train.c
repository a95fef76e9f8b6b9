/* Reverse-KL training with the RT and RE gradient estimators (latflow/train.h): the
 * trainer's buffers and communicator, the schedules, the gradient of one step, the
 * optimizer step and the evaluation on fresh samples. The training loop is in
 * train_run.c, the checkpoint in train_ckpt.c (shared helpers: train_impl.h).
 * RT: Albergo, Kanwar, Shanahan, PRD 100 (2019); RE: Bialas, Korcyl, Stebel, CPC 2024,
 * arXiv 2308.13294, eq. for the REINFORCE gradient with the mean of s as baseline. */
#include "train_impl.h"

#include "latflow/analysis.h"
#include "latflow/comm.h"
#include "latflow/rng.h"
#include "latflow/timer.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static void trainer_zero(lf_trainer *tr) {
  memset(tr, 0, sizeof *tr);
  tr->comm = MPI_COMM_SELF;
  tr->P = 1;
  tr->last_eval = -1;
}

/* ---- the training communicator --------------------------------------------------------- */

lf_status lf_train_allreduce(lf_trainer *tr, void *buf, int n, MPI_Datatype type, MPI_Op op,
                             const char *what) {
  if (tr->P == 1) return LF_OK;
  const int e = MPI_Allreduce(MPI_IN_PLACE, buf, n, type, op, tr->comm);
  return e == MPI_SUCCESS ? LF_OK : LF_MPI_FAIL(e, what);
}

lf_status lf_train_agree(lf_trainer *tr, lf_status rc) {
  return tr->P == 1 ? rc : lf_comm_agree(tr->comm, rc);
}

void lf_train_split(int B, int P, int r, int *lo, int *hi) {
  *lo = (int)((int64_t)r * B / P);
  *hi = (int)((int64_t)(r + 1) * B / P);
}

lf_status lf_trainer_set_comm(lf_trainer *tr, MPI_Comm comm) {
  int e, P = 1, rank = 0;
  if ((e = MPI_Comm_size(comm, &P)) != MPI_SUCCESS) return LF_MPI_FAIL(e, "MPI_Comm_size");
  if ((e = MPI_Comm_rank(comm, &rank)) != MPI_SUCCESS) return LF_MPI_FAIL(e, "MPI_Comm_rank");
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
  lf_status rc = lf_train_allreduce(tr, &lo, 1, MPI_UINT64_T, MPI_MIN, "MPI_Allreduce of the hash");
  if (rc == LF_OK)
    rc = lf_train_allreduce(tr, &hi, 1, MPI_UINT64_T, MPI_MAX, "MPI_Allreduce of the hash");
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
  LF_FREE_ALL(tr->eps, tr->phi, tr->logq, tr->logq2, tr->S, tr->dphi, tr->dlogq, tr->logw,
              tr->backup, tr->ess_ring);
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
  /* rt: S and dS/dphi sample by sample, so that a theory that caches per field (the
   * Schwinger hooks keep the factors of the last field only) computes the force from the
   * factors its action just made. Each sample's S and dS are independent of the others,
   * so the bits are those of one batch call of each; t_action times the actions, and
   * t_action_grad the forces on top of them. */
  if (est == LF_EST_RT) {
    memset(tr->dphi, 0, (size_t)Bl * n * sizeof(double));
    double ta = 0.0, tf = 0.0;
    for (int i = 0; i < Bl; i++) {
      const double *phi = tr->phi + (size_t)i * n;
      th->action(th, 1, phi, tr->S + i);
      const double tm = lf_wtime();
      th->grad(th, 1, phi, tr->dphi + (size_t)i * n);
      tn = lf_wtime();
      ta += tm - tc;
      tf += tn - tm;
      tc = tn;
    }
    info->t_action = ta;
    info->t_action_grad = tf;
  } else {
    th->action(th, Bl, tr->phi, tr->S);
    tn = lf_wtime();
    info->t_action = tn - tc;
    tc = tn;
  }

  /* global loss and ESS (as lf_ess: weights relative to the largest finite log w) */
  double mx = -INFINITY;
  for (int i = 0; i < Bl; i++) {
    tr->logw[i] = -tr->S[i] - tr->logq[i];
    if (isfinite(tr->logw[i]) && tr->logw[i] > mx) mx = tr->logw[i];
  }
  lf_status rc = lf_train_allreduce(tr, &mx, 1, MPI_DOUBLE, MPI_MAX, "MPI_Allreduce of max log w");
  if (rc != LF_OK) return rc;
  double sums[3] = {0.0, 0.0, 0.0}; /* sum s, sum w, sum w^2 */
  for (int i = 0; i < Bl; i++) {
    sums[0] += -tr->logw[i];
    if (!isfinite(mx) || !isfinite(tr->logw[i])) continue;
    const double w = exp(tr->logw[i] - mx);
    sums[1] += w;
    sums[2] += w * w;
  }
  if ((rc = lf_train_allreduce(tr, sums, 3, MPI_DOUBLE, MPI_SUM,
                               "MPI_Allreduce of sum s, w, w^2")) != LF_OK)
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
    const double inv = 1.0 / B;
    for (size_t i = 0; i < (size_t)Bl * n; i++) tr->dphi[i] *= inv;
    for (int i = 0; i < Bl; i++) tr->dlogq[i] = inv;
    lf_model_sample_backward(m, Bl, tr->dphi, tr->dlogq);
    if (lf_model_base_score(m)) {
      /* the base's map jumps (base plaquette): its parameters take the REINFORCE
       * gradient, with the leave-one-out baseline of the re branch below */
      const double norm = B > 1 ? 1.0 / (B - 1) : 0.0;
      for (int i = 0; i < Bl; i++) tr->dlogq[i] = (-tr->logw[i] - loss) * norm;
      lf_model_base_score_backward(m, Bl, tr->dlogq);
    }
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
  if ((rc = lf_train_allreduce(tr, m->grads, (int)m->nparams,
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

lf_status lf_train_eval(lf_trainer *tr, long n, lf_eval_result *res) {
  return lf_train_eval_logw(tr, n, res, NULL);
}

lf_status lf_train_eval_logw(lf_trainer *tr, long n, lf_eval_result *res, double *logw_out) {
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
  if ((rc = lf_train_agree(tr, rc)) != LF_OK) goto done;
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
      rc = LF_MPI_FAIL(e, "MPI_Allgatherv of the evaluation log w");
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
  if (logw_out) memcpy(logw_out, logw, (size_t)n * sizeof *logw);
  res->seconds = lf_wtime() - t0;
done:
  lf_free(logw);
  lf_free(u);
  lf_free(counts);
  return rc;
}
