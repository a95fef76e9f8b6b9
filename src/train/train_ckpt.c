/* The trainer's checkpoint (latflow/train.h): the architecture record that must match on
 * resume (lf_model_arch_record, latflow/model.h), the arenas bitwise, the counters and the ESS
 * ring; a load verifies the parameter hash before it restores anything. */
#include "train_impl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* train.stop.ess_window as used (at least 1). */
static int ess_window_of(const lf_trainer *tr) {
  return tr->cfg->train.ess_window > 0 ? tr->cfg->train.ess_window : 1;
}

lf_status lf_trainer_save(const lf_trainer *tr, lf_ckpt *c) {
  lf_status rc = LF_OK;
  const lf_model *m = tr->model;
  const size_t bytes = m->nparams * m->real_size;
  int64_t arch[LF_MODEL_ARCH_MAX];
  const size_t na = lf_model_arch_record(m, arch);
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
  int64_t arch[LF_MODEL_ARCH_MAX], stored[LF_MODEL_ARCH_MAX];
  const size_t na = lf_model_arch_record(m, arch);
  size_t ns = 0;
  int64_t hash = 0, ostep = 0, next = 0, skipped = 0, bad = 0, records = 0, P = 0, sw = 0, sn = 0,
          spos = 0, evals = 0, last_eval = -1;
  double ess_sum = 0.0, seconds = 0.0;
  char *b = tr->backup;
  LF_CHECK(lf_ckpt_len(c, "model_arch", &ns));
  if (ns <= LF_MODEL_ARCH_MAX) LF_CHECK(lf_ckpt_get(c, "model_arch", LF_CKPT_I64, ns, stored));
  if (ns != na || ns > LF_MODEL_ARCH_MAX || memcmp(arch, stored, na * sizeof *arch) != 0) {
    char have[256], want[256];
    lf_model_arch_text(stored, ns <= LF_MODEL_ARCH_MAX ? ns : 0, have, sizeof have);
    lf_model_arch_text(arch, na, want, sizeof want);
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
