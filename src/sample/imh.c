/* src/sample/imh.c: flow proposals in blocks, the Independence Metropolis chain and the
 * serial production driver (contract: latflow/sample.h). */
#include "latflow/sample.h"

#include "latflow/analysis.h"

#include "latflow/timer.h"

#include <math.h>
#include <string.h>

lf_status lf_proposer_init(lf_proposer *p, lf_model *m, const lf_theory *th, uint64_t seed, int B) {
  memset(p, 0, sizeof *p);
  if (B < 1) return LF_FAIL(LF_ERR_INVALID, "proposal block must be >= 1, got %d", B);
  if (m->C != th->C || m->V != th->V)
    return LF_FAIL(LF_ERR_INVALID,
                   "model (%d component(s), %dx%d) does not fit theory %s (%d component(s), %d "
                   "sites)",
                   m->C, m->L0, m->L1, th->name, th->C, th->V);
  lf_status rc = lf_model_reserve(m, B);
  if (rc != LF_OK) return rc;
  p->m = m;
  p->th = th;
  p->key = lf_rng_key_make(seed, LF_STREAM_SAMPLE);
  p->B = B;
  p->n = th->C * th->V;
  p->eps = lf_alloc((size_t)B * (size_t)p->n * sizeof(double));
  if (!p->eps) return LF_FAIL(LF_ERR_NOMEM, "proposal noise for block %d x %d", B, p->n);
  return LF_OK;
}

void lf_proposer_free(lf_proposer *p) {
  lf_free(p->eps);
  memset(p, 0, sizeof *p);
}

void lf_propose_block(lf_proposer *p, uint64_t b, double *phi, double *logq, double *S,
                      double *logw) {
  const size_t n = (size_t)p->n;
  const uint64_t g0 = b * (uint64_t)p->B;
  for (int i = 0; i < p->B; i++) lf_rng_normal(p->key, 0u, g0 + (uint64_t)i, n, p->eps + i * n);
  lf_model_sample_nograd(p->m, p->B, p->eps, phi, logq);
  p->th->action(p->th, p->B, phi, S);
  for (int i = 0; i < p->B; i++) logw[i] = -S[i] - logq[i];
}

void lf_imh_init(lf_imh *c, uint64_t seed) {
  memset(c, 0, sizeof *c);
  c->key = lf_rng_key_make(seed, LF_STREAM_ACCEPT);
  c->cur_row = -1;
}

void lf_imh_decide(lf_imh *c, uint64_t g0, int n, const double *logw, int8_t *acc) {
  for (int i = 0; i < n; i++) {
    const uint64_t g = g0 + (uint64_t)i;
    int a = 0;
    c->steps++;
    if (!isfinite(logw[i])) {
      c->bad++;
    } else if (!c->started) {
      a = 1;
      c->started = 1;
    } else {
      const double u = lf_rng_uniform(c->key, 0u, g);
      a = log(u) < logw[i] - c->cur_logw;
    }
    if (a) {
      c->cur_logw = logw[i];
      c->accepted++;
      c->run = 0;
    } else if (c->started) {
      c->run++;
      if (c->run > c->max_run) c->max_run = c->run;
    }
    acc[i] = (int8_t)a;
  }
}

typedef struct drv {
  double *phi, *logq, *S, *logw, *obs, *corr;
  int8_t *acc;
  lf_ens_step *steps;
} drv;

static void drv_free(drv *d) {
  LF_FREE_ALL(d->phi, d->logq, d->S, d->logw, d->obs, d->corr, d->acc, d->steps);
  memset(d, 0, sizeof *d);
}

/* Appends proposal i of the block as a row; returns its row in *row. */
static lf_status store(lf_ens_writer *w, const lf_theory *th, const drv *d, int i, int n,
                       int64_t *row) {
  th->observables(th, d->phi + (size_t)i * (size_t)n, d->obs);
  if (th->ncorr) th->correlator(th, d->phi + (size_t)i * (size_t)n, d->corr);
  return lf_ens_append_row(w, d->obs, th->ncorr ? d->corr : NULL, d->phi + (size_t)i * (size_t)n,
                           row);
}

lf_status lf_sample_run(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                        lf_sample_cb cb, void *ctx, lf_sample_result *res) {
  lf_status rc = LF_OK;
  lf_proposer p;
  drv d;
  memset(&d, 0, sizeof d);
  memset(res, 0, sizeof *res);
  const int B = cfg->sample.block;
  const uint64_t nblocks = ((uint64_t)cfg->sample.proposals + (uint64_t)B - 1) / (uint64_t)B;
  const uint64_t total = nblocks * (uint64_t)B;
  LF_CHECK(lf_proposer_init(&p, m, th, cfg->seed, B));
  const int n = p.n;
  d.phi = lf_alloc((size_t)B * (size_t)n * sizeof(double));
  d.logq = lf_alloc((size_t)B * sizeof(double));
  d.S = lf_alloc((size_t)B * sizeof(double));
  d.logw = lf_alloc((size_t)B * sizeof(double));
  d.obs = lf_alloc((size_t)LF_MAX_OBS * sizeof(double));
  d.corr = lf_alloc((size_t)(th->ncorr > 0 ? th->ncorr : 1) * sizeof(double));
  d.acc = lf_alloc((size_t)B);
  d.steps = lf_alloc((size_t)B * sizeof(lf_ens_step));
  if (!d.phi || !d.logq || !d.S || !d.logw || !d.obs || !d.corr || !d.acc || !d.steps) {
    rc = LF_FAIL(LF_ERR_NOMEM, "sampler buffers (block %d, %llu proposals)", B,
                 (unsigned long long)total);
    goto fail;
  }
  const int reweight = cfg->sample.mode == LF_SAMPLE_REWEIGHT;
  const int save_all = cfg->sample.save == LF_SAVE_ALL;
  lf_imh c;
  lf_imh_init(&c, cfg->seed);
  lf_ess_acc es = LF_ESS_ACC_INIT;
  const double t0 = lf_wtime();
  for (uint64_t b = 0; b < nblocks; b++) {
    const uint64_t g0 = b * (uint64_t)B;
    lf_propose_block(&p, b, d.phi, d.logq, d.S, d.logw);
    for (int i = 0; i < B; i++) lf_ess_acc_add(&es, d.logw[i]);
    size_t ns = 0;
    if (reweight) {
      for (int i = 0; i < B; i++) {
        c.steps++;
        if (!isfinite(d.logw[i])) {
          c.bad++;
          continue;
        }
        int64_t row;
        LF_CHECK(store(w, th, &d, i, n, &row));
        c.accepted++;
        d.steps[ns++] = (lf_ens_step){row, (int64_t)(g0 + (uint64_t)i), d.logw[i], NAN, 1, 0, 0};
      }
    } else {
      lf_imh_decide(&c, g0, B, d.logw, d.acc);
      for (int i = 0; i < B; i++) {
        const int finite = isfinite(d.logw[i]);
        if (d.acc[i] || (save_all && finite)) {
          int64_t row;
          LF_CHECK(store(w, th, &d, i, n, &row));
          if (d.acc[i]) c.cur_row = row;
        }
        if (c.cur_row < 0) continue; /* no state yet: nothing to record */
        d.steps[ns++] =
            (lf_ens_step){c.cur_row, (int64_t)(g0 + (uint64_t)i), d.logw[i], NAN, d.acc[i], 0, 0};
      }
    }
    LF_CHECK(lf_ens_append_steps(w, ns, d.steps));
    if (cb && cb(&c, g0 + (uint64_t)B, total, lf_wtime() - t0, ctx)) {
      rc = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                   (unsigned long long)(g0 + (uint64_t)B));
      goto fail;
    }
  }
  res->seconds = lf_wtime() - t0;
  res->proposals = total;
  res->rows = (uint64_t)lf_ens_rows(w);
  res->bad = c.bad;
  res->acceptance = total ? (double)c.accepted / (double)total : 0.0;
  res->max_run = (int)c.max_run;
  res->ess = lf_ess_acc_value(&es);
  lf_ens_set_gen_seconds(w, res->seconds);
fail:
  drv_free(&d);
  lf_proposer_free(&p);
  return rc;
}
