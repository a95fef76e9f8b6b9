/* Checkpoint and exact resume of training (latflow/train.h, lf_trainer_save/_load, the
 * checkpoints of lf_train_run) and the metrics resume (latflow/io.h):
 * - for adam, sgd with momentum, adadelta (double) and adam in single precision: N steps
 *   straight equal, bit for bit (parameters, both moment arenas, optimizer step, ESS ring,
 *   ess_n/pos/sum), N1 steps + lf_trainer_checkpoint + load into a fresh trainer and
 *   model + N - N1 steps; the ESS window (4) is shorter than N1, so the ring has wrapped;
 * - the same through lf_train_run's own path: a SIGUSR1 raised by the step callback after
 *   step N1-1 stops the run at step N1 with LF_INTERRUPTED and a checkpoint (hook called,
 *   records stored), and the resumed run ends as the straight one;
 * - periodic checkpoints (checkpoint_every 5, N 20): the checkpoint holds step 15, its
 *   .prev step 10, and both resume to the straight result;
 * - a checkpoint of another architecture (3 layers into 2), of another number of training
 *   ranks, and with a corrupted parameter are refused, naming the reason, and leave the
 *   trainer untouched;
 * - a changed ess_window keeps the newest values;
 * - lf_io_metrics_resume cuts a metrics file with 300 records (one flush past 256) back to
 *   100, appends from there, and the final file holds 0..149 in order; a checkpoint asking
 *   for more records than the file holds is refused.
 * - evaluations during training (eval_every 3, issue 12): the evaluations of the first
 *   part plus those of the resumed part are those of the straight run, bitwise and at the
 *   same steps (the step of the checkpoint is not evaluated twice); the checkpoint holds
 *   evals and last_eval; a resume at the last step evaluates only if that step was not;
 *   the metrics resume cuts /eval back to the checkpoint's evaluations (more refused),
 *   and a version-1 train file (no /eval) reads with no evaluations and is resumed into
 *   version 2.
 * Files go to the current directory, named by pid. */
#include "latflow/ckpt.h"
#include "latflow/config.h"
#include "latflow/io.h"
#include "latflow/model.h"
#include "latflow/signal.h"
#include "latflow/theory.h"
#include "latflow/train.h"
#include "lftest.h"
#include "train_test.h"

#include <hdf5.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ckpt[256], prev[300];

static void tiny_config(lf_config *cfg, lf_optim_kind opt, lf_precision prec) {
  lf_config_defaults(cfg);
  cfg->seed = 11;
  cfg->theory.shape[0] = cfg->theory.shape[1] = 4;
  cfg->theory.m2 = -4.0;
  cfg->theory.lambda = 8.0;
  cfg->model.layers = 2;
  cfg->model.nhidden = 1;
  cfg->model.hidden[0] = 4;
  cfg->model.kernel = 3;
  cfg->model.precision = prec;
  cfg->train.batch = 8;
  cfg->train.steps = 20;
  cfg->train.ess_window = 4;
  cfg->train.log_every = 1000000;
  cfg->train.checkpoint_every = 0;
  cfg->train.optimizer.name = opt;
  cfg->train.optimizer.lr = opt == LF_OPT_ADADELTA ? 1.0 : opt == LF_OPT_SGD ? 1e-3 : 1e-3;
  cfg->train.optimizer.momentum = opt == LF_OPT_SGD ? 0.9 : 0.0;
  cfg->train.optimizer.eps = opt == LF_OPT_ADADELTA ? 1e-6 : 1e-8;
  cfg->train.eval_every = 3;
  cfg->train.eval_samples = 64;
}

/* The evaluations a run reports (eval callback). */
typedef struct evlist {
  int n;
  lf_eval_result e[16];
} evlist;

static lf_status ev_log(void *ctx, const lf_eval_result *e) {
  evlist *l = ctx;
  if (l->n < 16) l->e[l->n] = *e;
  l->n++;
  return LF_OK;
}

/* first + second == ref: the same steps, ESS, acceptance and loss bitwise. */
static void same_evals(const evlist *ref, const evlist *first, const evlist *second,
                       const char *label) {
  int ok = ref->n == first->n + second->n && ref->n <= 16;
  for (int k = 0; ok && k < ref->n; k++) {
    const lf_eval_result *x = &ref->e[k];
    const lf_eval_result *y = k < first->n ? &first->e[k] : &second->e[k - first->n];
    ok = x->step == y->step && x->n_train == y->n_train &&
         memcmp(&x->ess, &y->ess, sizeof x->ess) == 0 &&
         memcmp(&x->acceptance, &y->acceptance, sizeof x->ess) == 0 &&
         memcmp(&x->mean_loss, &y->mean_loss, sizeof x->ess) == 0;
  }
  CHECK(ok, "%s: evaluations %d + %d resumed = the straight run's %d (steps %ld .. %ld), bitwise",
        label, first->n, second->n, ref->n, ref->n > 0 ? ref->e[0].step : -1L,
        ref->n > 0 ? ref->e[ref->n - 1].step : -1L);
}

/* Bitwise equality of everything that determines the continuation. */
static int same_state(const tr_run *a, const tr_run *b, const char *label) {
  const size_t bytes = a->m.nparams * a->m.real_size;
  const int w = a->tr.cfg->train.ess_window;
  const int p = memcmp(a->m.params, b->m.params, bytes) == 0;
  const int mv = memcmp(a->m.m, b->m.m, bytes) == 0 && memcmp(a->m.v, b->m.v, bytes) == 0;
  const int ring = memcmp(a->tr.ess_ring, b->tr.ess_ring, (size_t)w * sizeof(double)) == 0 &&
                   a->tr.ess_n == b->tr.ess_n && a->tr.ess_pos == b->tr.ess_pos &&
                   memcmp(&a->tr.ess_sum, &b->tr.ess_sum, sizeof(double)) == 0;
  const int counters = a->m.step == b->m.step && a->tr.next_step == b->tr.next_step &&
                       a->tr.skipped == b->tr.skipped && a->tr.bad_in_row == b->tr.bad_in_row &&
                       a->tr.evals == b->tr.evals && a->tr.last_eval == b->tr.last_eval;
  CHECK(p, "%s: parameters bitwise equal (%zu params)", label, a->m.nparams);
  CHECK(mv, "%s: optimizer moments m, v bitwise equal", label);
  CHECK(ring, "%s: ESS ring, ess_n %d/%d, ess_pos %d/%d, ess_sum bitwise equal", label, a->tr.ess_n,
        b->tr.ess_n, a->tr.ess_pos, b->tr.ess_pos);
  CHECK(counters,
        "%s: optimizer step %llu/%llu, next step %ld/%ld, skipped, evaluations %lld/%lld and "
        "last evaluated step %ld/%ld equal",
        label, (unsigned long long)a->m.step, (unsigned long long)b->m.step, a->tr.next_step,
        b->tr.next_step, (long long)a->tr.evals, (long long)b->tr.evals, a->tr.last_eval,
        b->tr.last_eval);
  return p && mv && ring && counters;
}

/* Loads path into a fresh run built from cfg and trains to cfg->train.steps, logging the
 * evaluations into ev (may be NULL). */
static void resume_from(tr_run *r, const lf_config *cfg, const char *path, long want_step,
                        evlist *ev) {
  tr_run_init(r, cfg);
  if (!r->ok) return;
  lf_ckpt *c = NULL;
  lf_config stored;
  lf_status rc = lf_ckpt_open(&c, path, "train", &stored);
  CHECK(rc == LF_OK, "open %s: %s", path, rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  rc = lf_ckpt_compat(&stored, cfg, "train", path);
  CHECK(rc == LF_OK, "stored config compatible: %s", rc == LF_OK ? "ok" : lf_last_error());
  rc = lf_trainer_load(&r->tr, c);
  lf_ckpt_close(c);
  CHECK(rc == LF_OK && r->tr.next_step == want_step, "load %s: next step %ld (want %ld) %s", path,
        r->tr.next_step, want_step, rc == LF_OK ? "" : lf_last_error());
  lf_train_result res;
  if (ev) lf_trainer_set_eval_callback(&r->tr, ev_log, ev);
  rc = lf_train_run(&r->tr, r->tr.next_step, NULL, NULL, &res);
  CHECK(rc == LF_OK && res.steps == cfg->train.steps, "resumed run to step %ld: %s", res.steps,
        rc == LF_OK ? "ok" : lf_last_error());
}

/* The step callback of the signal test: raises SIGUSR1 after step `at` (the flag is read
 * at the next step boundary) and counts its calls. */
typedef struct sig_ctx {
  long at, calls, hook_calls;
} sig_ctx;

static lf_status raise_at(void *ctx, const lf_train_step_info *info) {
  sig_ctx *s = ctx;
  s->calls++;
  if (info->step == s->at) raise(SIGUSR1);
  return LF_OK;
}

static lf_status count_hook(void *ctx, int64_t *records) {
  sig_ctx *s = ctx;
  s->hook_calls++;
  *records = s->calls;
  return LF_OK;
}

static void test_optimizer(lf_optim_kind opt, lf_precision prec, const char *label) {
  const long N = 20, N1 = 9;
  char l2[128];
  lf_config cfg, cfg1;
  tiny_config(&cfg, opt, prec);
  cfg1 = cfg;
  cfg1.train.steps = N1;

  /* reference: N steps straight; evaluations after 3, 6, ..., 18 and the final 20 */
  static evlist eref, ea, eb, ec, ed;
  memset(&eref, 0, sizeof eref);
  memset(&ea, 0, sizeof ea);
  memset(&eb, 0, sizeof eb);
  memset(&ec, 0, sizeof ec);
  memset(&ed, 0, sizeof ed);
  tr_run ref;
  tr_run_init(&ref, &cfg);
  if (!ref.ok) return;
  lf_train_result res;
  lf_trainer_set_eval_callback(&ref.tr, ev_log, &eref);
  lf_status rc = lf_train_run(&ref.tr, 0, NULL, NULL, &res);
  CHECK(rc == LF_OK && res.steps == N && eref.n == 7 && eref.e[6].step == N,
        "%s: %ld steps straight, %d evaluations", label, N, eref.n);

  /* N1 steps, explicit checkpoint, fresh trainer, the rest */
  tr_run a, b;
  tr_run_init(&a, &cfg1);
  if (a.ok) {
    lf_trainer_set_eval_callback(&a.tr, ev_log, &ea);
    rc = lf_train_run(&a.tr, 0, NULL, NULL, &res);
    CHECK(rc == LF_OK && a.tr.next_step == N1, "%s: first part, %ld steps", label, N1);
    rc = lf_trainer_checkpoint(&a.tr, ckpt);
    CHECK(rc == LF_OK, "%s: checkpoint written: %s", label, rc == LF_OK ? "ok" : lf_last_error());
    const size_t bytes = a.m.nparams * a.m.real_size;
    int differs = memcmp(a.m.params, ref.m.params, bytes) != 0;
    CHECK(differs,
          "%s: after %ld steps the parameters still differ from step %ld (the test "
          "can fail)",
          label, N1, N);
  }
  tr_run_free(&a);
  resume_from(&b, &cfg, ckpt, N1, &eb);
  snprintf(l2, sizeof l2, "%s, %ld + save/load + %ld", label, N1, N - N1);
  if (b.ok) same_state(&ref, &b, l2);
  same_evals(&eref, &ea, &eb, l2);
  tr_run_free(&b);

  /* the same through the run loop: a signal after step N1-1, checkpoint at N1 */
  remove(ckpt);
  remove(prev);
  sig_ctx sc = {.at = N1 - 1, .calls = 0, .hook_calls = 0};
  tr_run c, d;
  tr_run_init(&c, &cfg);
  if (c.ok) {
    CHECK(lf_signal_install() == LF_OK, "signal handlers installed");
    lf_signal_clear();
    CHECK(lf_trainer_set_checkpoint(&c.tr, ckpt, count_hook, &sc) == LF_OK, "checkpoint path set");
    lf_trainer_set_eval_callback(&c.tr, ev_log, &ec);
    rc = lf_train_run(&c.tr, 0, raise_at, &sc, &res);
    CHECK(rc == LF_INTERRUPTED && strstr(lf_last_error(), "interrupted by SIGUSR1 at step 9") &&
              strstr(lf_last_error(), ckpt),
          "%s: SIGUSR1 after step %ld: LF_INTERRUPTED '%s'", label, N1 - 1, lf_last_error());
    CHECK(res.steps == N1 && !strcmp(res.stop_reason, "signal") && sc.calls == N1 &&
              sc.hook_calls == 1,
          "%s: stopped at step %ld (%s), %ld callbacks, %ld hook call", label, res.steps,
          res.stop_reason, sc.calls, sc.hook_calls);
    lf_signal_clear();
    lf_ckpt *k = NULL;
    int64_t records = -1, evals = -1, last_eval = -2;
    if (lf_ckpt_open(&k, ckpt, "train", NULL) == LF_OK) {
      lf_ckpt_get_i64(k, "records", &records);
      lf_ckpt_get_i64(k, "evals", &evals);
      lf_ckpt_get_i64(k, "last_eval", &last_eval);
      lf_ckpt_close(k);
    }
    CHECK(records == N1, "%s: the checkpoint stores the hook's %lld records", label,
          (long long)records);
    CHECK(evals == 3 && last_eval == N1 && ec.n == 3 && res.nevals == 3,
          "%s: the checkpoint at step %ld stores %lld evaluations, the last at step %lld "
          "(evaluated before the stop, not again after the resume)",
          label, N1, (long long)evals, (long long)last_eval);
  }
  tr_run_free(&c);
  resume_from(&d, &cfg, ckpt, N1, &ed);
  snprintf(l2, sizeof l2, "%s, signal at %ld + resume", label, N1);
  if (d.ok) same_state(&ref, &d, l2);
  same_evals(&eref, &ec, &ed, l2);
  tr_run_free(&d);
  tr_run_free(&ref);
  remove(ckpt);
  remove(prev);
}

static void test_periodic(void) {
  lf_config cfg;
  tiny_config(&cfg, LF_OPT_ADAM, LF_PREC_F64);
  cfg.train.checkpoint_every = 5;
  tr_run ref;
  tr_run_init(&ref, &cfg);
  if (!ref.ok) return;
  remove(ckpt);
  remove(prev);
  CHECK(lf_trainer_set_checkpoint(&ref.tr, ckpt, NULL, NULL) == LF_OK, "checkpoint path set");
  lf_train_result res;
  lf_status rc = lf_train_run(&ref.tr, 0, NULL, NULL, &res);
  CHECK(rc == LF_OK, "20 steps with checkpoint_every 5: %s", rc == LF_OK ? "ok" : lf_last_error());
  CHECK(access(ckpt, F_OK) == 0 && access(prev, F_OK) == 0, "checkpoint and .prev written");
  tr_run a, b;
  resume_from(&a, &cfg, ckpt, 15, NULL);
  if (a.ok) same_state(&ref, &a, "periodic checkpoint at 15 + resume");
  tr_run_free(&a);
  resume_from(&b, &cfg, prev, 10, NULL);
  if (b.ok) same_state(&ref, &b, "previous checkpoint (.prev) at 10 + resume");
  tr_run_free(&b);

  /* resumed at its own last step (train.stop.steps lowered to it): the checkpoint at 15
   * was evaluated (15 = 5 x 3) and is not again; the one at 10 was not and is */
  for (int i = 0; i < 2; i++) {
    lf_config cs = cfg;
    cs.train.steps = i ? 10 : 15;
    evlist ev;
    memset(&ev, 0, sizeof ev);
    tr_run e;
    resume_from(&e, &cs, i ? prev : ckpt, cs.train.steps, &ev);
    CHECK(ev.n == i && (i == 0 || ev.e[0].step == 10) && e.tr.last_eval == cs.train.steps &&
              e.tr.evals == (i ? 4 : 5),
          "resume at its last step %ld: %d evaluation%s (last evaluated step %ld, %lld in all)",
          cs.train.steps, ev.n, ev.n == 1 ? "" : "s", e.tr.last_eval, (long long)e.tr.evals);
    tr_run_free(&e);
  }

  /* ess_window 2 from the ring of 4 (wrapped): the two newest values, oldest first */
  lf_config c2 = cfg;
  c2.train.ess_window = 2;
  tr_run w;
  tr_run_init(&w, &c2);
  lf_ckpt *k = NULL;
  if (w.ok && lf_ckpt_open(&k, ckpt, "train", NULL) == LF_OK) {
    double ring[4];
    int64_t pos = 0;
    lf_ckpt_get(k, "ess_ring", LF_CKPT_F64, 4, ring);
    lf_ckpt_get_i64(k, "ess_pos", &pos);
    rc = lf_trainer_load(&w.tr, k);
    lf_ckpt_close(k);
    const double e0 = ring[(pos + 2) % 4], e1 = ring[(pos + 3) % 4];
    CHECK(rc == LF_OK && w.tr.ess_n == 2 && w.tr.ess_pos == 0 && w.tr.ess_ring[0] == e0 &&
              w.tr.ess_ring[1] == e1 && w.tr.ess_sum == e0 + e1,
          "ess_window 4 -> 2 keeps the newest two (%g, %g): got n=%d (%g, %g)", e0, e1, w.tr.ess_n,
          w.tr.ess_ring[0], w.tr.ess_ring[1]);
  }
  tr_run_free(&w);
  tr_run_free(&ref);
}

static void test_refusals(void) {
  lf_config cfg3, cfg2;
  tiny_config(&cfg3, LF_OPT_ADAM, LF_PREC_F64);
  tiny_config(&cfg2, LF_OPT_ADAM, LF_PREC_F64);
  cfg3.model.layers = 3;
  cfg3.train.steps = 3;
  tr_run a;
  tr_run_init(&a, &cfg3);
  if (!a.ok) return;
  lf_train_result res;
  lf_train_run(&a.tr, 0, NULL, NULL, &res);
  CHECK(lf_trainer_checkpoint(&a.tr, ckpt) == LF_OK, "3-layer checkpoint written");
  tr_run b;
  tr_run_init(&b, &cfg2);
  if (!b.ok) {
    tr_run_free(&a);
    return;
  }
  const size_t bytes = b.m.nparams * b.m.real_size;
  void *p0 = malloc(bytes);
  memcpy(p0, b.m.params, bytes);
  lf_ckpt *k = NULL;
  lf_config stored;
  lf_status rc = lf_ckpt_open(&k, ckpt, "train", &stored);
  CHECK(rc == LF_OK, "open the 3-layer checkpoint");
  if (rc == LF_OK) {
    rc = lf_ckpt_compat(&stored, &cfg2, "train", ckpt);
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "model.layers"),
          "compat refuses 3 layers for 2: '%s'", lf_last_error());
    rc = lf_trainer_load(&b.tr, k);
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "another architecture") &&
              strstr(lf_last_error(), "3 layers") && strstr(lf_last_error(), "2 layers"),
          "load refuses a 3-layer checkpoint into a 2-layer trainer: '%s'", lf_last_error());
    CHECK(memcmp(p0, b.m.params, bytes) == 0 && b.tr.next_step == 0, "trainer left untouched");
    lf_ckpt_close(k);
  }
  tr_run_free(&a);

  /* another rank count: P stored 1, pretend the loading trainer has 2 */
  CHECK(lf_trainer_checkpoint(&b.tr, ckpt) == LF_OK, "2-layer checkpoint written");
  if (lf_ckpt_open(&k, ckpt, "train", NULL) == LF_OK) {
    b.tr.P = 2;
    rc = lf_trainer_load(&b.tr, k);
    b.tr.P = 1;
    CHECK(rc == LF_ERR_CONFIG && strstr(lf_last_error(), "1 training rank, this run has 2"),
          "another training-rank count refused: '%s'", lf_last_error());
    lf_ckpt_close(k);
  }

  /* a corrupted parameter: a copy of the checkpoint above with one bit of params flipped
   * (the stored hash is that of the true parameters) */
  unsigned char *bad = malloc(bytes);
  lf_ckpt *src = NULL, *w = NULL;
  if (lf_ckpt_open(&src, ckpt, "train", NULL) == LF_OK &&
      lf_ckpt_create(&w, ckpt, "train", &cfg2, 1) == LF_OK) {
    int64_t arch[32], v;
    double d, ring[4];
    size_t na = 0;
    lf_ckpt_get(src, "params", LF_CKPT_U8, bytes, bad);
    bad[3] ^= 1;
    lf_ckpt_len(src, "model_arch", &na);
    lf_ckpt_get(src, "model_arch", LF_CKPT_I64, na, arch);
    lf_ckpt_put(w, "model_arch", LF_CKPT_I64, na, arch);
    lf_ckpt_put(w, "params", LF_CKPT_U8, bytes, bad);
    lf_ckpt_put(w, "optim_m", LF_CKPT_U8, bytes, b.m.m);
    lf_ckpt_put(w, "optim_v", LF_CKPT_U8, bytes, b.m.v);
    lf_ckpt_get(src, "ess_ring", LF_CKPT_F64, 4, ring);
    lf_ckpt_put(w, "ess_ring", LF_CKPT_F64, 4, ring);
    const char *ints[] = {"model_hash", "optim_step",  "next_step",  "skipped", "bad_in_row",
                          "records",    "train_ranks", "ess_window", "ess_n",   "ess_pos"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
      if (lf_ckpt_get_i64(src, ints[i], &v) == LF_OK) lf_ckpt_put_i64(w, ints[i], v);
    if (lf_ckpt_get_f64(src, "ess_sum", &d) == LF_OK) lf_ckpt_put_f64(w, "ess_sum", d);
    if (lf_ckpt_get_f64(src, "train_seconds", &d) == LF_OK) lf_ckpt_put_f64(w, "train_seconds", d);
    lf_ckpt_close(src);
    src = NULL;
    CHECK(lf_ckpt_commit(w) == LF_OK, "corrupted copy written");
  }
  lf_ckpt_close(src);
  if (lf_ckpt_open(&k, ckpt, "train", NULL) == LF_OK) {
    rc = lf_trainer_load(&b.tr, k);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "hash mismatch"),
          "a flipped parameter bit is refused: '%s'", lf_last_error());
    CHECK(memcmp(p0, b.m.params, bytes) == 0, "parameters untouched after the refusal");
    lf_ckpt_close(k);
  }
  free(bad);
  free(p0);
  tr_run_free(&b);
  remove(ckpt);
  remove(prev);
}

static void test_metrics_resume(void) {
  char path[256], tmp[300];
  snprintf(path, sizeof path, "test_train_ckpt_%ld.h5", (long)getpid());
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  remove(path);
  remove(tmp);
  lf_config cfg;
  lf_config_defaults(&cfg);
  lf_io_metrics *w = NULL;
  lf_status rc = lf_io_metrics_open(&w, path, &cfg, 0);
  CHECK(rc == LF_OK, "metrics open: %s", rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  lf_train_record r;
  memset(&r, 0, sizeof r);
  lf_train_eval_record ev;
  memset(&ev, 0, sizeof ev);
  for (int i = 0; i < 300; i++) { /* records 256.. are flushed only by _suspend */
    r.step = i;
    r.loss = 1000.0 + i;
    r.batch = i;
    lf_io_metrics_append(w, &r);
    if (i % 30 == 29) { /* evaluations after 30, 60, ..., 300 steps */
      ev.step = i + 1;
      ev.ess = 1.0 / (i + 1);
      ev.n_train = 8 * (i + 1);
      CHECK(lf_io_metrics_append_eval(w, &ev) == LF_OK, "evaluation %d appended", i / 30);
    }
  }
  CHECK(lf_io_metrics_eval_count(w) == 10, "10 evaluations counted");
  CHECK(lf_io_metrics_suspend(w) == LF_OK && access(tmp, F_OK) == 0 && access(path, F_OK) != 0,
        "suspend keeps the .tmp and makes no final file");
  rc = lf_io_metrics_resume(&w, path, &cfg, 400, 0);
  CHECK(rc == LF_ERR_FORMAT && w == NULL && strstr(lf_last_error(), "has 300 records"),
        "resume asking for 400 of 300 records refused: '%s'", lf_last_error());
  rc = lf_io_metrics_resume(&w, path, &cfg, 100, 11);
  CHECK(rc == LF_ERR_FORMAT && w == NULL && strstr(lf_last_error(), "has 10 evaluations"),
        "resume asking for 11 of 10 evaluations refused: '%s'", lf_last_error());
  cfg.train.steps = 12345; /* a run-length change goes into /meta */
  rc = lf_io_metrics_resume(&w, path, &cfg, 100, 3);
  CHECK(rc == LF_OK && lf_io_metrics_count(w) == 100 && lf_io_metrics_eval_count(w) == 3,
        "resume cut back to 100 records and 3 evaluations: %s",
        rc == LF_OK ? "ok" : lf_last_error());
  if (rc != LF_OK) return;
  for (int i = 100; i < 150; i++) {
    r.step = i;
    r.loss = 1000.0 + i;
    r.batch = i;
    lf_io_metrics_append(w, &r);
    if (i % 30 == 29) {
      ev.step = i + 1;
      ev.ess = 1.0 / (i + 1);
      ev.n_train = 8 * (i + 1);
      lf_io_metrics_append_eval(w, &ev);
    }
  }
  CHECK(lf_io_metrics_close(w) == LF_OK, "close");
  lf_train_series s;
  lf_config back;
  rc = lf_io_metrics_read(path, &s, &back);
  int inorder = rc == LF_OK && s.n == 150;
  for (size_t i = 0; inorder && i < s.n; i++)
    inorder = s.step[i] == (int64_t)i && s.loss[i] == 1000.0 + (double)i && s.batch[i] == (int)i;
  CHECK(inorder, "final file: %zu records, steps 0..149 in order", s.n);
  const int64_t want_ev[5] = {30, 60, 90, 120, 150};
  int evorder = rc == LF_OK && s.neval == 5;
  for (size_t i = 0; evorder && i < 5; i++)
    evorder = s.evals[i].step == want_ev[i] && s.evals[i].ess == 1.0 / (double)want_ev[i] &&
              s.evals[i].n_train == 8 * want_ev[i];
  CHECK(evorder, "final file: %zu evaluations, after steps 30, 60, 90 and (resumed) 120, 150",
        s.neval);
  CHECK(rc == LF_OK && back.train.steps == 12345, "/meta holds the resumed run's config");
  lf_io_series_free(&s);
  CHECK(s.neval == 0 && s.evals == NULL, "series_free zeroes the evaluations");

  /* a version-1 file: no /eval, format_version 1 (made from this one with HDF5) */
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  int one = 1;
  hid_t at = f >= 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
  const int made = f >= 0 && H5Ldelete(f, "eval", H5P_DEFAULT) >= 0 && at >= 0 &&
                   H5Awrite(at, H5T_NATIVE_INT, &one) >= 0;
  if (at >= 0) H5Aclose(at);
  if (f >= 0) H5Fclose(f);
  CHECK(made, "made a version-1 train file (no /eval)");
  rc = lf_io_metrics_read(path, &s, NULL);
  CHECK(rc == LF_OK && s.n == 150 && s.neval == 0 && s.evals == NULL,
        "a version-1 train file reads: %zu records, no evaluations (%s)", s.n,
        rc == LF_OK ? "ok" : lf_last_error());
  lf_io_series_free(&s);
  rename(path, tmp); /* as an interrupted version-1 run leaves it */
  rc = lf_io_metrics_resume(&w, path, &cfg, 150, 2);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "no group /eval"),
        "resuming a version-1 file with 2 evaluations refused: '%s'", lf_last_error());
  rc = lf_io_metrics_resume(&w, path, &cfg, 150, 0);
  if (rc == LF_OK) rc = lf_io_metrics_append_eval(w, &ev);
  if (rc == LF_OK) rc = lf_io_metrics_close(w);
  int version = 0;
  if (rc == LF_OK && (f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
    at = H5Aopen(f, "format_version", H5P_DEFAULT);
    if (at >= 0) H5Aread(at, H5T_NATIVE_INT, &version), H5Aclose(at);
    H5Fclose(f);
  }
  if (rc == LF_OK) rc = lf_io_metrics_read(path, &s, NULL);
  CHECK(rc == LF_OK && version == 2 && s.n == 150 && s.neval == 1 && s.evals[0].step == 150,
        "a version-1 file resumed with 0 evaluations becomes version %d with /eval (%zu "
        "evaluation): %s",
        version, s.neval, rc == LF_OK ? "ok" : lf_last_error());
  lf_io_series_free(&s);
  remove(path);
}

int main(void) {
  snprintf(ckpt, sizeof ckpt, "test_train_ckpt_%ld.ckpt.h5", (long)getpid());
  snprintf(prev, sizeof prev, "%s.prev", ckpt);
  test_optimizer(LF_OPT_ADAM, LF_PREC_F64, "adam");
  test_optimizer(LF_OPT_SGD, LF_PREC_F64, "sgd momentum 0.9");
  test_optimizer(LF_OPT_ADADELTA, LF_PREC_F64, "adadelta");
  test_optimizer(LF_OPT_ADAM, LF_PREC_F32, "adam, single precision");
  test_periodic();
  test_refusals();
  test_metrics_resume();
  return lf_test_result();
}
