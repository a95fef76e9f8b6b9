/* Training: RT and RE gradients agree in expectation (paired over many batches, with a
 * power check that the biased plain-mean REINFORCE would be rejected), schedules,
 * NaN handling (skip, restore, stop), determinism, and that training improves the ESS.
 * Evaluations during training (issue 12): they come after the steps 7, 14, 21, 28 and the
 * final 30 (eval_every 7), each bitwise equal to a direct lf_train_eval of a model
 * stepped by hand to that step, with n_train the sum of the (doubling) batches; the
 * trained parameters, moments and step records are bitwise the same with and without
 * evaluations; the fresh-sample ESS is far below the batch ESS of a briefly trained
 * model; train.stop.target_ess stops at the first evaluation whose fresh ESS reaches it
 * and never on the batch ESS. */
#include "latflow/config.h"
#include "latflow/model.h"
#include "latflow/theory.h"
#include "latflow/train.h"
#include "lftest.h"
#include "train_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tiny_config(lf_config *cfg, lf_base_kind base) {
  lf_config_defaults(cfg);
  cfg->theory.shape[0] = 2;
  cfg->theory.shape[1] = 4;
  cfg->theory.m2 = -1.0;
  cfg->theory.lambda = 0.5;
  cfg->model.base = base;
  cfg->model.base_mass = 0.8;
  cfg->model.layers = 2;
  cfg->model.nhidden = 1;
  cfg->model.hidden[0] = 3;
  cfg->model.kernel = 3;
  cfg->model.precision = LF_PREC_F64;
  cfg->model.init_scale = 1.0;
  cfg->train.batch = 4;
  cfg->train.steps = 10;
  cfg->seed = 99;
}

/* Paired comparison of RT and RE gradients over nrep batches of size B. */
static void rt_vs_re(lf_base_kind base, const char *label) {
  lf_config cfg;
  tiny_config(&cfg, base);
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  if (lf_theory_init(&th, &cfg.theory) != LF_OK ||
      lf_model_init(&m, &cfg.model, 1, 2, 4, cfg.train.batch) != LF_OK) {
    CHECK(0, "%s: setup failed: %s", label, lf_last_error());
    return;
  }
  lf_model_init_params(&m, cfg.seed);
  CHECK(lf_trainer_init(&tr, &cfg, &m, &th) == LF_OK, "%s: trainer init", label);
  const size_t np = m.nparams;
  const long nrep = 20000;
  double *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
  double *sd = calloc(np, sizeof *sd), *sd2 = calloc(np, sizeof *sd2);
  double *sb = calloc(np, sizeof *sb), *sb2 = calloc(np, sizeof *sb2);
  double *sg = calloc(np, sizeof *sg), *sg2 = calloc(np, sizeof *sg2);
  lf_train_step_info info;
  for (long r = 0; r < nrep; r++) {
    lf_trainer_gradient(&tr, r, cfg.train.batch, LF_EST_RT, &info);
    lf_model_get_grads(&m, g1);
    lf_trainer_gradient(&tr, r, cfg.train.batch, LF_EST_RE, &info);
    lf_model_get_grads(&m, g2);
    const double biased = (cfg.train.batch - 1.0) / cfg.train.batch;
    for (size_t i = 0; i < np; i++) {
      const double d = g1[i] - g2[i], db = g1[i] - biased * g2[i];
      sd[i] += d;
      sd2[i] += d * d;
      sb[i] += db;
      sb2[i] += db * db;
      sg[i] += g1[i];
      sg2[i] += g1[i] * g1[i];
    }
  }
  double zmax = 0, zbias = 0, zsignal = 0;
  size_t imax = 0;
  for (size_t i = 0; i < np; i++) {
    const double md = sd[i] / nrep, se = sqrt((sd2[i] / nrep - md * md) / nrep);
    const double mb = sb[i] / nrep, seb = sqrt((sb2[i] / nrep - mb * mb) / nrep);
    const double mg = sg[i] / nrep, seg = sqrt((sg2[i] / nrep - mg * mg) / nrep);
    if (se > 0 && fabs(md / se) > zmax) {
      zmax = fabs(md / se);
      imax = i;
    }
    if (seb > 0 && fabs(mb / seb) > zbias) zbias = fabs(mb / seb);
    if (seg > 0 && fabs(mg / seg) > zsignal) zsignal = fabs(mg / seg);
  }
  CHECK(zmax < 5.0,
        "%s: <g_RT - g_RE> = 0 over %ld batches of %d, %zu params: max |z| = %.2f "
        "(param %zu)",
        label, nrep, cfg.train.batch, np, zmax, imax);
  CHECK(zsignal > 20.0, "%s: the gradient itself is resolved: max |<g>|/err = %.1f", label,
        zsignal);
  CHECK(zbias > 5.0,
        "%s: power: REINFORCE with the plain batch-mean baseline (biased by "
        "1-1/B) is rejected: max |z| = %.1f",
        label, zbias);
  free(g1);
  free(g2);
  free(sd);
  free(sd2);
  free(sb);
  free(sb2);
  free(sg);
  free(sg2);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
}

static void nan_action(const lf_theory *t, int B, const double *phi, double *S) {
  (void)t;
  (void)phi;
  for (int b = 0; b < B; b++) S[b] = NAN;
}

static void test_nan(void) {
  lf_config cfg;
  tiny_config(&cfg, LF_BASE_NORMAL);
  cfg.train.max_bad_steps = 3;
  cfg.train.steps = 50;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_theory_init(&th, &cfg.theory);
  th.action = nan_action;
  lf_model_init(&m, &cfg.model, 1, 2, 4, cfg.train.batch);
  lf_model_init_params(&m, cfg.seed);
  double *p0 = malloc(m.nparams * sizeof *p0), *p1 = malloc(m.nparams * sizeof *p1);
  lf_model_get_params(&m, p0);
  lf_trainer_init(&tr, &cfg, &m, &th);
  lf_train_result res;
  const lf_status rc = lf_train_run(&tr, 0, NULL, NULL, &res);
  lf_model_get_params(&m, p1);
  CHECK(rc == LF_ERR_NUMERIC && strstr(lf_last_error(), "3 consecutive steps"),
        "NaN action: training stops with '%s'", lf_last_error());
  CHECK(res.steps == 3 && res.skipped == 3, "stopped after %ld steps, %ld skipped", res.steps,
        res.skipped);
  CHECK(memcmp(p0, p1, m.nparams * sizeof *p0) == 0, "parameters unchanged by skipped steps");
  free(p0);
  free(p1);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
}

static void test_schedules(void) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  cfg.train.optimizer.lr = 1e-3;
  cfg.train.lr_halve_every = 100;
  cfg.train.batch = 64;
  cfg.train.batch_double_every = 10;
  cfg.train.batch_max = 256;
  CHECK(lf_train_lr(&cfg, 0) == 1e-3 && lf_train_lr(&cfg, 99) == 1e-3 &&
            lf_train_lr(&cfg, 100) == 5e-4 && lf_train_lr(&cfg, 250) == 2.5e-4,
        "lr halves every 100 steps: %g %g %g", lf_train_lr(&cfg, 99), lf_train_lr(&cfg, 100),
        lf_train_lr(&cfg, 250));
  CHECK(lf_train_batch(&cfg, 9) == 64 && lf_train_batch(&cfg, 10) == 128 &&
            lf_train_batch(&cfg, 25) == 256 && lf_train_batch(&cfg, 1000) == 256,
        "batch doubles every 10 steps up to 256: %d %d %d %d", lf_train_batch(&cfg, 9),
        lf_train_batch(&cfg, 10), lf_train_batch(&cfg, 25), lf_train_batch(&cfg, 1000));
}

/* Trains a small model; returns the eval ESS before and after, and the final params. */
static void train_small(lf_estimator est, int batch, double *ess0, double *ess1, double *params,
                        size_t *np) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  cfg.theory.shape[0] = cfg.theory.shape[1] = 4;
  cfg.model.layers = 4;
  cfg.model.nhidden = 1;
  cfg.model.hidden[0] = 8;
  cfg.train.estimator = est;
  cfg.train.batch = batch;
  cfg.train.steps = 400;
  cfg.train.log_every = 1000000;
  cfg.seed = 5;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_theory_init(&th, &cfg.theory);
  lf_model_init(&m, &cfg.model, 1, 4, 4, batch);
  lf_model_init_params(&m, cfg.seed);
  lf_trainer_init(&tr, &cfg, &m, &th);
  lf_eval_result ev;
  lf_train_eval(&tr, 4000, &ev);
  *ess0 = ev.ess;
  lf_train_result res;
  lf_train_run(&tr, 0, NULL, NULL, &res);
  lf_train_eval(&tr, 4000, &ev);
  *ess1 = ev.ess;
  *np = m.nparams;
  if (params) lf_model_get_params(&m, params);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
}

/* ---- evaluations during training ------------------------------------------------------ */

#define MAXREC 512
typedef struct runlog {
  int nev;
  lf_eval_result ev[32];
  long nstep;
  double loss[MAXREC], ess[MAXREC], ess_s[MAXREC];
} runlog;

static lf_status log_step(void *ctx, const lf_train_step_info *s) {
  runlog *l = ctx;
  if (s->step >= 0 && s->step < MAXREC) {
    l->loss[s->step] = s->loss;
    l->ess[s->step] = s->ess;
    l->ess_s[s->step] = s->ess_smoothed;
  }
  l->nstep++;
  return LF_OK;
}

static lf_status log_eval(void *ctx, const lf_eval_result *e) {
  runlog *l = ctx;
  if (l->nev < 32) l->ev[l->nev] = *e;
  l->nev++;
  return LF_OK;
}

/* Trains cfg with both logs; the trained run stays in r (caller frees). */
static lf_status train_logged(tr_run *r, const lf_config *cfg, runlog *l, lf_train_result *res) {
  memset(l, 0, sizeof *l);
  tr_run_init(r, cfg);
  if (!r->ok) return LF_ERR_INVALID;
  lf_trainer_set_eval_callback(&r->tr, log_eval, l);
  return lf_train_run(&r->tr, 0, log_step, l, res);
}

static int same_bits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static void eval_config(lf_config *cfg) {
  lf_config_defaults(cfg);
  cfg->seed = 4242;
  cfg->theory.shape[0] = cfg->theory.shape[1] = 4;
  cfg->model.layers = 2;
  cfg->model.nhidden = 1;
  cfg->model.hidden[0] = 4;
  cfg->model.precision = LF_PREC_F64;
  cfg->train.batch = 8;
  cfg->train.batch_double_every = 10;
  cfg->train.batch_max = 32;
  cfg->train.steps = 30;
  cfg->train.ess_window = 5;
  cfg->train.log_every = 1000000;
  cfg->train.eval_every = 7;
  cfg->train.eval_samples = 300;
}

static void test_eval_schedule(void) {
  lf_config cfg, cfg0, cfg_end;
  eval_config(&cfg);
  cfg0 = cfg;
  cfg0.train.eval_every = 0;
  cfg0.train.eval_samples = 0;
  cfg_end = cfg;
  cfg_end.train.eval_every = 0; /* only the final evaluation */
  static runlog la, lb, lc;
  tr_run a, b, c, ref;
  lf_train_result ra, rb, rc_;
  lf_status e1 = train_logged(&a, &cfg0, &la, &ra);
  lf_status e2 = train_logged(&b, &cfg, &lb, &rb);
  lf_status e3 = train_logged(&c, &cfg_end, &lc, &rc_);
  CHECK(e1 == LF_OK && e2 == LF_OK && e3 == LF_OK, "three 30-step runs: %s", lf_last_error());
  if (!a.ok || !b.ok || !c.ok) return;

  /* the schedule: after 7, 14, 21, 28 and the final 30 steps */
  const long want[5] = {7, 14, 21, 28, 30};
  int steps_ok = lb.nev == 5 && rb.nevals == 5;
  for (int k = 0; steps_ok && k < 5; k++) steps_ok = lb.ev[k].step == want[k];
  CHECK(steps_ok, "eval_every 7 over 30 steps: %d evaluations at %ld %ld %ld %ld %ld", lb.nev,
        lb.ev[0].step, lb.ev[1].step, lb.ev[2].step, lb.ev[3].step, lb.ev[4].step);
  CHECK(la.nev == 0 && ra.nevals == 0 && lc.nev == 1 && lc.ev[0].step == 30,
        "no evaluation with eval_samples 0 (%d); eval_every 0: only the final one (%d, step %ld)",
        la.nev, lc.nev, lc.ev[0].step);
  /* n_train: the sum of the batches, 8 doubling every 10 steps to 32 */
  int ntrain_ok = lb.nev == 5;
  for (int k = 0; ntrain_ok && k < 5; k++) {
    int64_t sum = 0;
    for (long t = 0; t < lb.ev[k].step; t++) sum += lf_train_batch(&cfg, t);
    ntrain_ok = lb.ev[k].n_train == sum && lb.ev[k].n == 300;
  }
  CHECK(ntrain_ok && lb.ev[4].n_train == 10 * 8 + 10 * 16 + 10 * 32,
        "n_train = sum of the global batches: %lld %lld %lld %lld %lld (560 at 30)",
        (long long)lb.ev[0].n_train, (long long)lb.ev[1].n_train, (long long)lb.ev[2].n_train,
        (long long)lb.ev[3].n_train, (long long)lb.ev[4].n_train);
  CHECK(lf_train_samples(&cfg, 0) == 0 && lf_train_samples(&cfg, 1000) == 80 + 160 + 980 * 32,
        "lf_train_samples at 0 and 1000 (after the batch stopped doubling): %lld",
        (long long)lf_train_samples(&cfg, 1000));

  /* training bitwise the same with and without evaluations */
  const size_t bytes = a.m.nparams * a.m.real_size;
  int same_steps = la.nstep == 30 && lb.nstep == 30 && lc.nstep == 30;
  for (int t = 0; same_steps && t < 30; t++)
    same_steps = same_bits(la.loss[t], lb.loss[t]) && same_bits(la.ess[t], lb.ess[t]) &&
                 same_bits(la.loss[t], lc.loss[t]);
  CHECK(memcmp(a.m.params, b.m.params, bytes) == 0 && memcmp(a.m.params, c.m.params, bytes) == 0 &&
            memcmp(a.m.m, b.m.m, bytes) == 0 && memcmp(a.m.v, b.m.v, bytes) == 0 &&
            a.m.step == b.m.step,
        "parameters and Adam moments after 30 steps bitwise equal for eval_every 0 / 7 / "
        "only final (%zu params)",
        a.m.nparams);
  CHECK(same_steps, "per-step loss and batch ESS bitwise equal with and without evaluations");
  CHECK(lc.nev == 1 && lb.nev == 5 && same_bits(lc.ev[0].ess, lb.ev[4].ess) &&
            same_bits(lc.ev[0].acceptance, lb.ev[4].acceptance),
        "the final evaluation is the same whether or not evaluations came before");

  /* each evaluation = a direct lf_train_eval of the model stepped by hand to its step */
  tr_run_init(&ref, &cfg);
  if (ref.ok && lb.nev == 5) {
    int k = 0, bad = 0;
    lf_train_step_info info;
    for (long t = 0; t <= 30 && k < 5; t++) {
      if (t == want[k]) {
        lf_eval_result ev;
        ref.tr.next_step = t;
        lf_train_eval(&ref.tr, 300, &ev);
        const lf_eval_result *r = &lb.ev[k];
        const int same = ev.step == r->step && ev.n_train == r->n_train &&
                         same_bits(ev.ess, r->ess) && same_bits(ev.acceptance, r->acceptance) &&
                         same_bits(ev.mean_loss, r->mean_loss) &&
                         same_bits(ev.log_mean_weight, r->log_mean_weight);
        if (!same)
          printf("  step %ld: direct ESS %.17g acc %.17g, in training %.17g %.17g\n", t, ev.ess,
                 ev.acceptance, r->ess, r->acceptance);
        bad += !same;
        k++;
      }
      if (t < 30) lf_trainer_step(&ref.tr, t, lf_train_batch(&cfg, t), lf_train_lr(&cfg, t), &info);
    }
    CHECK(k == 5 && bad == 0,
          "the 5 evaluations equal (bitwise) a direct lf_train_eval of the model at their "
          "step: ESS %.4f %.4f %.4f %.4f %.4f, acceptance %.3f ... %.3f",
          lb.ev[0].ess, lb.ev[1].ess, lb.ev[2].ess, lb.ev[3].ess, lb.ev[4].ess, lb.ev[0].acceptance,
          lb.ev[4].acceptance);
    /* the draws are keyed by the step: the same model at another step counter sees
     * other samples */
    lf_eval_result e30, e31;
    ref.tr.next_step = 30;
    lf_train_eval(&ref.tr, 300, &e30);
    ref.tr.next_step = 31;
    lf_train_eval(&ref.tr, 300, &e31);
    CHECK(same_bits(e30.ess, lb.ev[4].ess) && !same_bits(e30.ess, e31.ess) &&
              !same_bits(e30.mean_loss, e31.mean_loss),
          "the same model evaluated at step counters 30 and 31 draws other samples: ESS %.5f "
          "vs %.5f",
          e30.ess, e31.ess);
  }
  tr_run_free(&ref);
  tr_run_free(&a);
  tr_run_free(&b);
  tr_run_free(&c);
}

/* A briefly trained flow: the batch ESS is biased high against fresh samples, and
 * target_ess stops on the fresh one. */
static void bias_config(lf_config *cfg) {
  lf_config_defaults(cfg);
  cfg->theory.shape[0] = cfg->theory.shape[1] = 4;
  cfg->model.layers = 4;
  cfg->model.nhidden = 1;
  cfg->model.hidden[0] = 8;
  cfg->train.batch = 32;
  cfg->train.steps = 400;
  cfg->train.log_every = 1000000;
  cfg->train.eval_every = 50;
  cfg->train.eval_samples = 4096;
  cfg->seed = 5;
}

static void test_fresh_vs_batch(void) {
  lf_config cfg;
  bias_config(&cfg);
  static runlog l, lt, lr;
  tr_run r, rt, rr;
  lf_train_result res, rest, resr;
  lf_status rc = train_logged(&r, &cfg, &l, &res);
  CHECK(rc == LF_OK && l.nev == 8, "400 steps, eval_every 50: %d evaluations (%s)", l.nev,
        rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK || l.nev != 8) {
    tr_run_free(&r);
    return;
  }
  /* from step 200 on (the smoothing window of 100 full): the fresh ESS of one evaluation
   * scatters a lot (heavy-tailed weights), so compare the means over the evaluations */
  double fresh_sum = 0.0, batch_sum = 0.0, fresh_max = 0.0, batch_max = 0.0;
  int nk = 0;
  for (int k = 0; k < l.nev; k++) {
    const double fresh = l.ev[k].ess, batch = l.ess_s[l.ev[k].step - 1];
    fresh_max = fmax(fresh_max, fresh);
    if (l.ev[k].step >= 200) {
      batch_max = fmax(batch_max, batch);
      fresh_sum += fresh;
      batch_sum += batch;
      nk++;
      printf("  step %ld: batch ESS (smoothed) %.4f, fresh ESS %.4f, acceptance %.3f\n",
             l.ev[k].step, batch, fresh, l.ev[k].acceptance);
    }
  }
  CHECK(fresh_sum < 0.5 * batch_sum,
        "the smoothed batch ESS (batch 32) is biased high against the fresh-sample ESS (4096 "
        "samples): means over the %d evaluations from step 200: fresh %.4f, batch %.4f "
        "(ratio %.2f < 0.5)",
        nk, fresh_sum / nk, batch_sum / nk, fresh_sum / batch_sum);

  /* a target the batch ESS reaches but the fresh one never does: no stop */
  lf_config ct = cfg;
  ct.train.target_ess = 0.5 * (fresh_max + batch_max);
  rc = train_logged(&rt, &ct, &lt, &rest);
  long batch_hit = -1;
  for (long t = 99; t < 400 && batch_hit < 0; t++)
    if (lt.ess_s[t] >= ct.train.target_ess) batch_hit = t + 1;
  CHECK(rc == LF_OK && rest.steps == 400 && !strcmp(rest.stop_reason, "steps") && batch_hit > 0 &&
            batch_hit < 400,
        "target_ess %.4f (batch ESS reaches it at step %ld, fresh ESS at most %.4f): trains "
        "all %ld steps, stop '%s'",
        ct.train.target_ess, batch_hit, fresh_max, rest.steps, rest.stop_reason);
  tr_run_free(&rt);

  /* a target the fresh ESS reaches: stop at the first evaluation that reaches it */
  lf_config cr = cfg;
  cr.train.target_ess = fresh_max;
  long want = -1;
  for (int k = 0; k < l.nev && want < 0; k++)
    if (l.ev[k].ess >= fresh_max) want = l.ev[k].step;
  rc = train_logged(&rr, &cr, &lr, &resr);
  CHECK(rc == LF_OK && resr.steps == want && !strcmp(resr.stop_reason, "target_ess") &&
            want < 400 && lr.nev > 0 && same_bits(lr.ev[lr.nev - 1].ess, fresh_max) &&
            resr.nevals == lr.nev,
        "target_ess %.4f = the best fresh ESS: stops at step %ld (want %ld, its first "
        "evaluation reaching it), stop '%s', %d evaluations",
        cr.train.target_ess, resr.steps, want, resr.stop_reason, lr.nev);
  tr_run_free(&rr);
  tr_run_free(&r);
}

/* A dead network (issue 13, defect 10): SGD with lr 1000 on the quickstart card throws the
 * flow into a state whose gradient is exactly 0 from step 2 on; training must fail after
 * LF_TRAIN_DEAD_STEPS such steps instead of finishing "successfully". The same card at
 * the default Adam step trains on (no false alarm over the same number of steps). */
static void test_dead(void) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  cfg.train.optimizer.name = LF_OPT_SGD;
  cfg.train.optimizer.lr = 1000.0;
  cfg.train.steps = 200;
  cfg.train.eval_samples = 0;
  cfg.train.log_every = 1000000;
  tr_run r;
  tr_run_init(&r, &cfg);
  if (!r.ok) return;
  lf_train_result res;
  lf_status rc = lf_train_run(&r.tr, 0, NULL, NULL, &res);
  CHECK(rc == LF_ERR_NUMERIC && strstr(lf_last_error(), "network is dead") &&
            res.steps == 1 + LF_TRAIN_DEAD_STEPS,
        "SGD lr 1000: training fails after %ld steps (gradient exactly 0 from step 2): '%s'",
        res.steps, rc == LF_OK ? "ok" : lf_last_error());
  tr_run_free(&r);
  lf_config_defaults(&cfg);
  cfg.train.steps = 2 * LF_TRAIN_DEAD_STEPS;
  cfg.train.eval_samples = 0;
  cfg.train.log_every = 1000000;
  tr_run_init(&r, &cfg);
  if (!r.ok) return;
  rc = lf_train_run(&r.tr, 0, NULL, NULL, &res);
  CHECK(rc == LF_OK && res.steps == cfg.train.steps, "Adam lr 1e-3: %ld steps, no alarm (%s)",
        res.steps, rc == LF_OK ? "ok" : lf_last_error());
  tr_run_free(&r);
}

int main(void) {
  test_dead();
  test_eval_schedule();
  test_fresh_vs_batch();
  test_schedules();
  rt_vs_re(LF_BASE_NORMAL, "normal base");
  rt_vs_re(LF_BASE_FREE_FIELD, "free-field base");
  test_nan();
  double a0, a1, b0, b1, r0, r1;
  size_t np;
  double *pa = malloc(100000 * sizeof *pa), *pb = malloc(100000 * sizeof *pb);
  train_small(LF_EST_RT, 32, &a0, &a1, pa, &np);
  train_small(LF_EST_RT, 32, &b0, &b1, pb, &np);
  CHECK(memcmp(pa, pb, np * sizeof *pa) == 0 && a1 == b1,
        "same seed, same model bit for bit (%zu params)", np);
  CHECK(a1 > 10 * a0, "RT training 4x4 phi^4 (m2=-4, lambda=8): ESS %.4f -> %.4f", a0, a1);
  train_small(LF_EST_RE, 64, &r0, &r1, NULL, &np);
  CHECK(r1 > 10 * r0, "RE training 4x4 phi^4 (batch 64): ESS %.4f -> %.4f", r0, r1);
  free(pa);
  free(pb);
  return lf_test_result();
}
