/* tests/mpi/test_train_dp.c: data-parallel training (latflow/train.h) under mpiexec -n P.
 * A tiny model (4x4 phi^4, 2 layers, hidden [4], double precision) is trained for 20 steps
 * on all P ranks, with RT (batch 8 doubling to 16 at step 10) and RE (batch 10, split
 * unevenly over 4 ranks). Checks: (a) the model hash is the same on every rank; (b) a
 * second run with the same P gives the same hash bit for bit; (c) the final parameters
 * equal those of a serial run (MPI_COMM_SELF on rank 0 alone) to 1e-10 relative; (d) the
 * per-step loss equals the serial one to 1e-12 relative (ESS and grad norm to 1e-10) and
 * the evaluation agrees; (e) a batch smaller than P is refused with LF_ERR_CONFIG on every
 * rank; (f) the evaluations during training (eval_every 7: after steps 7, 14 and the
 * final 20) come at the same steps as serial, are bitwise equal on every rank and agree
 * with the serial ones as the final evaluation does. Also: a theory whose action is NaN for some
 * samples makes all ranks skip the same steps as the serial run, and a callback failing on rank 0
 * only makes every rank return the same code (no hang); a parameter changed on one rank makes the
 * hash check (lf_trainer_check_sync) fail with LF_ERR_MPI on every rank. */
#include "latflow/log.h"
#include "latflow/model.h"
#include "latflow/theory.h"
#include "latflow/train.h"
#include "lftest.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NSTEPS = 20, NEVAL = 37, EVAL_EVERY = 7, MAXEV = 8 };

static int rank, nranks;
static lf_theory nan_base;

typedef struct run_out {
  lf_status rc;
  double loss[NSTEPS], ess[NSTEPS], gnorm[NSTEPS];
  int batch[NSTEPS], skipped[NSTEPS];
  double *params; /* (nparams) */
  size_t nparams;
  uint64_t hash;
  lf_eval_result ev;
  lf_eval_result evs[MAXEV]; /* the evaluations during training */
  int nev;
  int fail_at; /* the callback fails at this step on rank 0 (-1 = never) */
} run_out;

static lf_status record_eval(void *ctx, const lf_eval_result *e) {
  run_out *o = ctx;
  if (o->nev < MAXEV) o->evs[o->nev] = *e;
  o->nev++;
  return LF_OK;
}

static lf_config make_cfg(lf_estimator est) {
  lf_config c;
  lf_config_defaults(&c);
  c.seed = 31337;
  c.theory.name = LF_THEORY_PHI4;
  c.theory.shape[0] = 4;
  c.theory.shape[1] = 4;
  c.theory.m2 = -1.0;
  c.theory.lambda = 0.5;
  c.model.base = LF_BASE_NORMAL;
  c.model.layers = 2;
  c.model.nhidden = 1;
  c.model.hidden[0] = 4;
  c.model.precision = LF_PREC_F64;
  c.model.init_scale = 0.5;
  c.train.estimator = est;
  c.train.optimizer.lr = 1e-2;
  c.train.steps = NSTEPS;
  c.train.ess_window = 5;
  c.train.log_every = 1000;
  c.train.eval_samples = NEVAL;
  c.train.eval_every = EVAL_EVERY;
  if (est == LF_EST_RT) {
    c.train.batch = 8;
    c.train.batch_double_every = 10;
    c.train.batch_max = 16;
  } else {
    c.train.batch = 10;
  }
  return c;
}

static lf_status record(void *ctx, const lf_train_step_info *s) {
  run_out *o = ctx;
  if (s->step >= 0 && s->step < NSTEPS) {
    o->loss[s->step] = s->loss;
    o->ess[s->step] = s->ess;
    o->gnorm[s->step] = s->grad_norm;
    o->batch[s->step] = s->batch;
    o->skipped[s->step] = s->skipped;
  }
  if (rank == 0 && s->step == o->fail_at) return LF_FAIL(LF_ERR_IO, "test: callback fails");
  return LF_OK;
}

static void nan_action(const lf_theory *t, int B, const double *phi, double *S) {
  nan_base.action(&nan_base, B, phi, S);
  for (int b = 0; b < B; b++)
    if (phi[(size_t)b * t->V] > 1.5) S[b] = NAN;
}

/* Trains cfg over comm (MPI_COMM_SELF: the serial trainer, no set_comm) into o. */
static void train(const lf_config *cfg, MPI_Comm comm, int nan, run_out *o, int fail_at) {
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  memset(&th, 0, sizeof th);
  memset(&m, 0, sizeof m);
  memset(&tr, 0, sizeof tr);
  memset(o, 0, sizeof *o);
  o->fail_at = fail_at;
  lf_status rc = lf_theory_init(&th, &cfg->theory);
  if (rc == LF_OK && nan) {
    nan_base = th;
    th.action = nan_action;
    th.grad = NULL;
  }
  if (rc == LF_OK) rc = lf_model_init(&m, &cfg->model, th.C, 4, 4, cfg->train.batch);
  if (rc == LF_OK) {
    lf_model_init_params(&m, cfg->seed);
    rc = lf_trainer_init(&tr, cfg, &m, &th);
  }
  if (rc == LF_OK && comm != MPI_COMM_SELF) rc = lf_trainer_set_comm(&tr, comm);
  if (rc == LF_OK) lf_trainer_set_eval_callback(&tr, record_eval, o);
  lf_train_result res;
  if (rc == LF_OK) rc = lf_train_run(&tr, 0, record, o, &res);
  if (rc == LF_OK) rc = lf_train_eval(&tr, cfg->train.eval_samples, &o->ev);
  o->rc = rc;
  if (rc != LF_OK && fail_at < 0)
    fprintf(stderr, "r%d: training failed: %s\n", rank, lf_last_error());
  o->nparams = m.nparams;
  o->params = malloc(m.nparams * sizeof(double));
  if (m.params) {
    lf_model_get_params(&m, o->params);
    o->hash = lf_model_hash(&m);
  }
  lf_trainer_free(&tr);
  lf_model_free(&m);
  if (nan) th.action = nan_base.action;
  lf_theory_free(&th);
}

static double rel(double a, double b) {
  if (a == b || (isnan(a) && isnan(b))) return 0.0; /* a NaN loss is the same result */
  return fabs(a - b) / fmax(fabs(a), fabs(b));
}

/* The same value on every rank of WORLD? */
static int same_everywhere_u64(uint64_t h) {
  uint64_t lo = h, hi = h;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}
static int same_everywhere_int(int v) {
  int lo = v, hi = v;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

static void one_case(const char *label, lf_estimator est, int nan) {
  const lf_config cfg = make_cfg(est);
  run_out a, b, s;
  memset(&s, 0, sizeof s);
  train(&cfg, MPI_COMM_WORLD, nan, &a, -1);
  train(&cfg, MPI_COMM_WORLD, nan, &b, -1);
  CHECK(a.rc == LF_OK && b.rc == LF_OK, "%s np%d: both runs train", label, nranks);
  CHECK(same_everywhere_u64(a.hash), "%s np%d: (a) hash %016llx equal on all ranks", label, nranks,
        (unsigned long long)a.hash);
  CHECK(a.hash == b.hash, "%s np%d: (b) same P twice: hash %016llx vs %016llx", label, nranks,
        (unsigned long long)a.hash, (unsigned long long)b.hash);
  if (rank == 0) {
    train(&cfg, MPI_COMM_SELF, nan, &s, -1);
    CHECK(s.rc == LF_OK, "%s: serial run trains", label);
    double pmax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < s.nparams; i++) {
      pmax = fmax(pmax, fabs(s.params[i]));
      dmax = fmax(dmax, fabs(a.params[i] - s.params[i]));
    }
    CHECK(a.nparams == s.nparams && dmax <= 1e-10 * pmax,
          "%s np%d: (c) params vs serial: max |diff| %.3g, max |p| %.3g (%zu params)", label,
          nranks, dmax, pmax, s.nparams);
    if (nranks == 1)
      CHECK(a.hash == s.hash, "%s np1: WORLD of one rank == MPI_COMM_SELF bitwise", label);
    double wl = 0.0, we = 0.0, wg = 0.0;
    int batches = 1, skips = 1, nskip = 0;
    for (int t = 0; t < NSTEPS; t++) {
      batches &= a.batch[t] == s.batch[t];
      skips &= a.skipped[t] == s.skipped[t];
      nskip += s.skipped[t];
      if (s.skipped[t]) continue;
      wl = fmax(wl, rel(a.loss[t], s.loss[t]));
      we = fmax(we, rel(a.ess[t], s.ess[t]));
      wg = fmax(wg, rel(a.gnorm[t], s.gnorm[t]));
    }
    CHECK(batches && a.batch[0] == cfg.train.batch,
          "%s np%d: batch schedule as serial (%d at step 0, %d at step %d)", label, nranks,
          a.batch[0], a.batch[NSTEPS - 1], NSTEPS - 1);
    CHECK(skips, "%s np%d: the same %d steps skipped as serial", label, nranks, nskip);
    if (nan) CHECK(nskip > 0 && nskip < NSTEPS, "%s: some steps skipped (%d)", label, nskip);
    CHECK(wl <= 1e-12, "%s np%d: (d) per-step loss vs serial: worst rel %.3g", label, nranks, wl);
    CHECK(we <= 1e-10 && wg <= 1e-10, "%s np%d: ESS and grad norm vs serial: rel %.3g, %.3g", label,
          nranks, we, wg);
    CHECK(a.ev.n == NEVAL && rel(a.ev.ess, s.ev.ess) <= 1e-10 &&
              rel(a.ev.mean_loss, s.ev.mean_loss) <= 1e-10 &&
              fabs(a.ev.acceptance - s.ev.acceptance) <= 1e-12,
          "%s np%d: evaluation vs serial: ESS %.6f/%.6f acc %.4f/%.4f loss %.6f/%.6f", label,
          nranks, a.ev.ess, s.ev.ess, a.ev.acceptance, s.ev.acceptance, a.ev.mean_loss,
          s.ev.mean_loss);
    int same_steps = a.nev == 3 && s.nev == 3;
    double wev = 0.0;
    for (int k = 0; same_steps && k < 3; k++) {
      same_steps = a.evs[k].step == s.evs[k].step && a.evs[k].n_train == s.evs[k].n_train &&
                   a.evs[k].acceptance == s.evs[k].acceptance;
      wev = fmax(
          wev, fmax(rel(a.evs[k].ess, s.evs[k].ess), rel(a.evs[k].mean_loss, s.evs[k].mean_loss)));
    }
    CHECK(same_steps && a.evs[0].step == 7 && a.evs[1].step == 14 && a.evs[2].step == 20 &&
              wev <= 1e-10,
          "%s np%d: (f) %d evaluations during training (steps %ld, %ld, %ld; n_train %lld "
          "...), as serial: same steps, n_train and acceptance, ESS and loss rel %.3g",
          label, nranks, a.nev, a.evs[0].step, a.evs[1].step, a.evs[2].step,
          (long long)a.evs[0].n_train, wev);
    free(s.params);
  }
  const int acc_bits = (int)(a.ev.acceptance * 1e6);
  CHECK(same_everywhere_int(acc_bits), "%s np%d: evaluation equal on all ranks", label, nranks);
  int same = same_everywhere_int(a.nev);
  for (int k = 0; same && k < a.nev && k < MAXEV; k++) { /* same: collective loop */
    uint64_t bits[3];
    memcpy(&bits[0], &a.evs[k].ess, 8);
    memcpy(&bits[1], &a.evs[k].acceptance, 8);
    memcpy(&bits[2], &a.evs[k].mean_loss, 8);
    for (int j = 0; j < 3; j++) same &= same_everywhere_u64(bits[j]);
  }
  CHECK(same, "%s np%d: (f) the %d evaluations during training bitwise equal on all ranks", label,
        nranks, a.nev);
  free(a.params);
  free(b.params);
}

/* (e) B < P: refused on every rank with the same code. */
static void small_batch_case(void) {
  if (nranks == 1) {
    CHECK(1, "np1: B < P cannot happen (B >= 1)");
    return;
  }
  lf_config cfg = make_cfg(LF_EST_RT);
  cfg.train.batch = nranks - 1;
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_status rc = lf_theory_init(&th, &cfg.theory);
  if (rc == LF_OK) rc = lf_model_init(&m, &cfg.model, th.C, 4, 4, cfg.train.batch);
  if (rc == LF_OK) rc = lf_trainer_init(&tr, &cfg, &m, &th);
  const lf_status init_rc = rc;
  if (rc == LF_OK) rc = lf_trainer_set_comm(&tr, MPI_COMM_WORLD);
  CHECK(init_rc == LF_OK && rc == LF_ERR_CONFIG && same_everywhere_int((int)rc),
        "np%d: batch %d refused on every rank with LF_ERR_CONFIG (%d): %s", nranks, cfg.train.batch,
        (int)rc, lf_last_error());
  /* a direct gradient call at B < P is refused the same way */
  cfg.train.batch = nranks;
  lf_train_step_info info;
  rc = lf_trainer_set_comm(&tr, MPI_COMM_WORLD);
  if (rc == LF_OK) rc = lf_trainer_gradient(&tr, 0, nranks - 1, LF_EST_RT, &info);
  CHECK(rc == LF_ERR_CONFIG && same_everywhere_int((int)rc),
        "np%d: gradient at batch %d refused on every rank (%d)", nranks, nranks - 1, (int)rc);
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
}

/* Parameters changed on the last rank only: lf_trainer_check_sync fails everywhere. */
static void diverge_case(void) {
  const lf_config cfg = make_cfg(LF_EST_RT);
  lf_theory th;
  lf_model m;
  lf_trainer tr;
  lf_status rc = lf_theory_init(&th, &cfg.theory);
  if (rc == LF_OK) rc = lf_model_init(&m, &cfg.model, th.C, 4, 4, cfg.train.batch);
  if (rc == LF_OK) {
    lf_model_init_params(&m, cfg.seed);
    rc = lf_trainer_init(&tr, &cfg, &m, &th);
  }
  if (rc == LF_OK) rc = lf_trainer_set_comm(&tr, MPI_COMM_WORLD);
  const lf_status same = rc == LF_OK ? lf_trainer_check_sync(&tr, 7) : rc;
  if (rank == nranks - 1 && nranks > 1) ((double *)m.params)[3] += 1e-15;
  rc = rc == LF_OK ? lf_trainer_check_sync(&tr, 7) : rc;
  const lf_status want = nranks > 1 ? LF_ERR_MPI : LF_OK;
  CHECK(same == LF_OK && rc == want && same_everywhere_int((int)rc),
        "np%d: hash check: equal params pass, one changed param on rank %d gives %d "
        "everywhere: %s",
        nranks, nranks - 1, (int)rc, rc != LF_OK ? lf_last_error() : "ok");
  lf_trainer_free(&tr);
  lf_model_free(&m);
  lf_theory_free(&th);
}

/* A callback failing on rank 0 only: every rank stops with the same code. */
static void callback_case(void) {
  const lf_config cfg = make_cfg(LF_EST_RE);
  run_out o;
  train(&cfg, MPI_COMM_WORLD, 0, &o, 3);
  CHECK(o.rc == LF_ERR_IO && same_everywhere_int((int)o.rc),
        "np%d: callback failing on rank 0 at step 3: every rank returns %d", nranks, (int)o.rc);
  free(o.params);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  lf_log_set_rank(rank); /* progress and INFO on rank 0 only */
  one_case("rt", LF_EST_RT, 0);
  one_case("re", LF_EST_RE, 0);
  one_case("re_nan", LF_EST_RE, 1);
  small_batch_case();
  diverge_case();
  callback_case();
  int fails = lf_test_failures, worst = 0;
  MPI_Allreduce(&fails, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) lf_test_result();
  MPI_Finalize();
  return worst ? 1 : 0;
}
