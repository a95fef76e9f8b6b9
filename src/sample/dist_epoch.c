/* src/sample/dist_epoch.c: the storage side of the distributed sampler: each rank's epoch
 * buffer (the stored states of its blocks, the coordinator's chain steps), the collective
 * step that ends an epoch (status and signal agreed, the write, the checkpoint), and the
 * state a checkpoint holds (src/sample/dist_impl.h; docs/ARCHITECTURE.md "Distributed
 * sampling protocol"). */
#include "dist_impl.h"

#include "latflow/signal.h"
#include "latflow/timer.h"

#include <string.h>

/* ---- the epoch buffers ---- */

void lf_dist_ebuf_init(epoch_buf *e, const lf_theory *th, int save) {
  memset(e, 0, sizeof *e);
  e->nobs = th ? (size_t)th->nobs : 1;
  e->ncorr = th ? (size_t)th->ncorr : 0;
  e->nphi = th && save ? (size_t)th->C * (size_t)th->V : 0;
}

void lf_dist_ebuf_free(epoch_buf *e) {
  LF_FREE_ALL(e->first, e->count, e->obs, e->corr, e->phi, e->steps);
  memset(e, 0, sizeof *e);
}

/* Grows the array *p of *cap elements of elem bytes to at least need (doubling, from 16);
 * 0 when out of memory (*p unchanged). */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = lf_alloc(c * elem);
  if (!q) return 0;
  if (*p) memcpy(q, *p, *cap * elem);
  lf_free(*p);
  *p = q;
  *cap = c;
  return 1;
}

/* Room for one more run of n states. */
static lf_status ebuf_reserve(epoch_buf *e, size_t n) {
  size_t cr = e->cap_runs, c2 = e->cap_runs, rows = e->cap_rows;
  int ok = grow((void **)&e->first, &cr, e->nruns + 1, sizeof *e->first) &&
           grow((void **)&e->count, &c2, e->nruns + 1, sizeof *e->count);
  e->cap_runs = cr < c2 ? cr : c2;
  if (ok && e->nrows + n > e->cap_rows) {
    size_t r1 = rows, r2 = rows, r3 = rows;
    ok = grow((void **)&e->obs, &r1, e->nrows + n, e->nobs * sizeof(double));
    if (ok && e->ncorr) ok = grow((void **)&e->corr, &r2, e->nrows + n, e->ncorr * sizeof(double));
    if (ok && e->nphi) ok = grow((void **)&e->phi, &r3, e->nrows + n, e->nphi * sizeof(double));
    if (ok) e->cap_rows = r1;
  }
  if (!ok) return LF_FAIL(LF_ERR_NOMEM, "epoch buffer for %zu stored states", e->nrows + n);
  return LF_OK;
}

lf_status lf_dist_pack_rows(epoch_buf *e, const lf_theory *th, int B, const double *phi,
                            const uint8_t *flags, int nst, int64_t first) {
  if (nst == 0) return LF_OK;
  lf_status rc = ebuf_reserve(e, (size_t)nst);
  if (rc != LF_OK) return rc;
  const size_t n = th ? (size_t)th->C * (size_t)th->V : 0;
  size_t k = e->nrows;
  for (int i = 0; i < B; i++) {
    if (!(flags[i] & FLAG_STORE)) continue;
    if (!th) {
      e->obs[k++] = 0.0;
      continue;
    }
    const double *p = phi + (size_t)i * n;
    th->observables(th, p, e->obs + k * e->nobs);
    if (e->ncorr) th->correlator(th, p, e->corr + k * e->ncorr);
    if (e->nphi) memcpy(e->phi + k * e->nphi, p, n * sizeof *p);
    k++;
  }
  e->first[e->nruns] = first;
  e->count[e->nruns] = nst;
  e->nruns++;
  e->nrows = k;
  return LF_OK;
}

/* ---- the collective epoch step ---- */

/* The collective step that ends the epoch before block `next` (DESIGN.md section 5):
 * MPI_Ibcast of rank 0's totals and abort flag, one MPI_Iallreduce MAX of (status
 * severity, signal, wall-clock checkpoint due), the write, the checkpoint. rc0 is this
 * rank's status of the epoch. Returns the agreed status; LF_INTERRUPTED after a signal. */
lf_status lf_dist_epoch_end(const run_args *a, MPI_Comm comm, int rank, shared *sh, uint64_t next,
                            lf_status rc0) {
  lf_status rc = LF_OK;
  int64_t v[3] = {0, 0, 0};
  if (rank == 0) {
    v[0] = sh->co->next_row;
    v[1] = sh->steps + (int64_t)sh->eb.nsteps;
    v[2] = sh->abort_sent;
  }
  /* non-blocking collectives waited for with back-off: Open MPI's blocking ones poll at
   * full speed, and a rank that arrives early must not take a core from the workers */
  MPI_Request req = MPI_REQUEST_NULL;
  if (MPI_Ibcast(v, 3, MPI_INT64_T, 0, comm, &req) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Ibcast of the epoch totals");
  if ((rc = lf_comm_wait(&req, sh->id, LF_COMM_BACKOFF_COLL)) != LF_OK) return rc;
  sh->abort_sent = (int)v[2];
  if (rc0 == LF_OK) lf_signal_test_hook("sample", (long)next, rank);
  /* a wall-clock checkpoint is rank 0's decision, reduced with the status and the signal
   * so that every rank takes it at this epoch end (a checkpoint does not change the run) */
  const double secs = a->cfg->sample.checkpoint_seconds;
  const int clock_due =
      rank == 0 && a->ckpt_on && secs > 0 && lf_wtime() - sh->last_ckpt >= secs ? 1 : 0;
  /* the status as its severity (latflow/comm.h), so the MAX is lf_comm_agree's order */
  int mine[3] = {lf_comm_severity(rc0), lf_signal_pending(), clock_due}, all[3] = {0, 0, 0};
  if (MPI_Iallreduce(mine, all, 3, MPI_INT, MPI_MAX, comm, &req) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Iallreduce of the epoch status");
  if ((rc = lf_comm_wait(&req, sh->id, LF_COMM_BACKOFF_COLL)) != LF_OK) return rc;
  if ((rc = lf_comm_agreed(rc0, all[0])) != LF_OK) return rc;
  const int sig = all[1];
  if (a->w) {
    const epoch_buf *e = &sh->eb;
    rc = lf_ens_write_epoch(a->w, v[0], v[1], e->nruns, e->first, e->count, e->obs, e->corr, e->phi,
                            rank == 0 ? e->nsteps : 0, e->steps);
    if (rc != LF_OK) return rc; /* agreed by the writer */
  }
  sh->steps = v[1];
  sh->eb.nruns = sh->eb.nrows = sh->eb.nsteps = 0;
  const int due =
      a->ckpt_on && (sig || all[2] ||
                     (a->o.checkpoint_every > 0 && sh->since >= (uint64_t)a->o.checkpoint_every));
  if (due && a->w && (rc = lf_ens_sync(a->w)) != LF_OK) /* the data before its checkpoint */
    return lf_comm_agree(comm, rc);
  if (due) {
    lf_status crc = LF_OK;
    if (rank == 0) {
      lf_sample_state s;
      memset(&s, 0, sizeof s);
      s.next_block = next;
      s.imh = sh->co->c;
      s.ess = sh->co->es;
      s.rows = v[0];
      s.steps = v[1];
      s.seconds = a->seconds0 + (lf_wtime() - sh->t0);
      crc = a->o.checkpoint(&s, a->o.ckpt_ctx);
    }
    if ((rc = lf_comm_agree(comm, crc)) != LF_OK) return rc;
    sh->since = 0;
    sh->last_ckpt = lf_wtime();
  }
  if (sig)
    return lf_fail_msg(LF_INTERRUPTED, "sampling interrupted by %s after %llu proposals; %s",
                       lf_signal_name(sig),
                       (unsigned long long)(next * (uint64_t)a->cfg->sample.block),
                       due ? "checkpoint written: continue with --resume"
                           : "no checkpoint (none configured): the run is lost");
  return LF_OK;
}

/* ---- the state in a checkpoint ---- */

lf_status lf_sample_state_save(const lf_sample_state *s, lf_ckpt *c) {
  lf_status rc = LF_OK;
  LF_CHECK(lf_ckpt_put_i64(c, "next_block", (int64_t)s->next_block));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_started", s->imh.started));
  LF_CHECK(lf_ckpt_put_f64(c, "imh_cur_logw", s->imh.cur_logw));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_cur_row", s->imh.cur_row));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_steps", (int64_t)s->imh.steps));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_accepted", (int64_t)s->imh.accepted));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_bad", (int64_t)s->imh.bad));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_run", (int64_t)s->imh.run));
  LF_CHECK(lf_ckpt_put_i64(c, "imh_max_run", (int64_t)s->imh.max_run));
  LF_CHECK(lf_ckpt_put_f64(c, "ess_l1", s->ess.l1));
  LF_CHECK(lf_ckpt_put_f64(c, "ess_l2", s->ess.l2));
  LF_CHECK(lf_ckpt_put_i64(c, "ess_n", (int64_t)s->ess.n));
  LF_CHECK(lf_ckpt_put_i64(c, "rows", s->rows));
  LF_CHECK(lf_ckpt_put_i64(c, "steps", s->steps));
  LF_CHECK(lf_ckpt_put_f64(c, "gen_seconds", s->seconds));
fail:
  return rc;
}

lf_status lf_sample_state_load(lf_sample_state *s, lf_ckpt *c, uint64_t seed) {
  lf_status rc = LF_OK;
  int64_t v = 0;
  memset(s, 0, sizeof *s);
  lf_imh_init(&s->imh, seed);
#define GET_U(name, dst)                                                                           \
  do {                                                                                             \
    LF_CHECK(lf_ckpt_get_i64(c, name, &v));                                                        \
    if (v < 0) {                                                                                   \
      rc = LF_FAIL(LF_ERR_FORMAT, "'%s': %s = %lld is negative", lf_ckpt_path(c), name,            \
                   (long long)v);                                                                  \
      goto fail;                                                                                   \
    }                                                                                              \
    dst = (uint64_t)v;                                                                             \
  } while (0)
  GET_U("next_block", s->next_block);
  LF_CHECK(lf_ckpt_get_i64(c, "imh_started", &v));
  s->imh.started = v != 0;
  LF_CHECK(lf_ckpt_get_f64(c, "imh_cur_logw", &s->imh.cur_logw));
  LF_CHECK(lf_ckpt_get_i64(c, "imh_cur_row", &s->imh.cur_row));
  GET_U("imh_steps", s->imh.steps);
  GET_U("imh_accepted", s->imh.accepted);
  GET_U("imh_bad", s->imh.bad);
  GET_U("imh_run", s->imh.run);
  GET_U("imh_max_run", s->imh.max_run);
  LF_CHECK(lf_ckpt_get_f64(c, "ess_l1", &s->ess.l1));
  LF_CHECK(lf_ckpt_get_f64(c, "ess_l2", &s->ess.l2));
  GET_U("ess_n", s->ess.n);
  LF_CHECK(lf_ckpt_get_i64(c, "rows", &s->rows));
  LF_CHECK(lf_ckpt_get_i64(c, "steps", &s->steps));
  LF_CHECK(lf_ckpt_get_f64(c, "gen_seconds", &s->seconds));
#undef GET_U
  if (s->rows < 0 || s->steps < 0 || s->imh.cur_row >= s->rows)
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': inconsistent sample state (rows %lld, steps %lld, row %lld)",
                 lf_ckpt_path(c), (long long)s->rows, (long long)s->steps,
                 (long long)s->imh.cur_row);
fail:
  return rc;
}
