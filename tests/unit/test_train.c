/* Training: RT and RE gradients agree in expectation (paired over many batches, with a
 * power check that the biased plain-mean REINFORCE would be rejected), schedules,
 * NaN handling (skip, restore, stop), determinism, and that training improves the ESS. */
#include "latflow/config.h"
#include "latflow/model.h"
#include "latflow/theory.h"
#include "latflow/train.h"
#include "lftest.h"

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

int main(void) {
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
