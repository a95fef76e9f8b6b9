/* src/sample/dist.c: the distributed sampler, rank 0 coordinating, ranks 1..P-1 working
 * (contract: latflow/dist.h; protocol: docs/ARCHITECTURE.md "Distributed sampling
 * protocol"). The decide/pack/store steps are the ones lf_sample_run does inline, split
 * so that one rank (P = 1) or P ranks run the same arithmetic in the same order: the
 * output file cannot depend on P. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "latflow/dist.h"

#include "latflow/analysis.h"

#include "latflow/signal.h"
#include "latflow/timer.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Worker -> coordinator: TAG_LOGW (block, B log w), TAG_DATA (stored states of a block),
 * TAG_BYE (last message). Coordinator -> worker: TAG_C2W (a decision, END or ABORT), one
 * tag so that a worker reads them in the order they were sent. */
enum { TAG_LOGW = 4101, TAG_DATA = 4102, TAG_C2W = 4103, TAG_BYE = 4104 };
enum { MSG_DECISION = 1, MSG_END = 2, MSG_ABORT = 3 };
enum { FLAG_ACC = 1, FLAG_STORE = 2 };

/* Header of every message (32 bytes, sent as MPI_BYTE with its payload). */
typedef struct msg_hdr {
  uint64_t block;
  int64_t first_row; /* decision/data: row of the first stored proposal */
  int32_t type;      /* MSG_* on TAG_C2W */
  int32_t n;         /* logw: B; decision/data: number of stored proposals */
  int64_t pad;
} msg_hdr;

#define LF_MPI_CHECK(call, what)                                                                   \
  do {                                                                                             \
    int e_ = (call);                                                                               \
    if (e_ != MPI_SUCCESS) {                                                                       \
      char s_[MPI_MAX_ERROR_STRING];                                                               \
      int l_ = 0;                                                                                  \
      MPI_Error_string(e_, s_, &l_);                                                               \
      rc = LF_FAIL(LF_ERR_MPI, "%s: %s", what, s_);                                                \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)

/* ---- idle back-off: poll, then nanosleep 1 us .. 1 ms, so no rank spins a core ---- */

typedef struct idler {
  int n;
  double w0, c0;    /* start of the current idle stretch: wall, thread CPU */
  double wall, cpu; /* accumulated */
} idler;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void idle_upto(idler *d, int maxshift) {
  if (d->n == 0) {
    d->w0 = lf_wtime();
    d->c0 = cpu_now();
  }
  d->n++;
  if (d->n <= 4) return; /* a few immediate polls: a message is often just arriving */
  const int sh = d->n - 4 < maxshift ? d->n - 4 : maxshift;
  struct timespec ts = {0, 1000L << sh}; /* 2 us .. 2^maxshift us */
  nanosleep(&ts, NULL);
}

/* Waiting for a point-to-point message: back off to 1 ms. */
static void idle(idler *d) {
  idle_upto(d, 10);
}

static void busy(idler *d) {
  if (d->n == 0) return;
  d->wall += lf_wtime() - d->w0;
  d->cpu += cpu_now() - d->c0;
  d->n = 0;
}

/* ---- the coordinator's arithmetic (shared by P = 1 and P > 1) ---- */

typedef struct coord {
  lf_imh c;
  lf_ess_acc es;
  int reweight, save_all, B;
  int64_t next_row; /* rows assigned so far */
  int8_t *acc;      /* (B) scratch */
} coord;

static void coord_init(coord *co, const lf_config *cfg, int8_t *acc) {
  memset(co, 0, sizeof *co);
  lf_imh_init(&co->c, cfg->seed);
  co->es = LF_ESS_ACC_INIT;
  co->reweight = cfg->sample.mode == LF_SAMPLE_REWEIGHT;
  co->save_all = cfg->sample.save == LF_SAVE_ALL;
  co->B = cfg->sample.block;
  co->acc = acc;
}

/* Decides block b exactly as lf_sample_run does: flags[i] (FLAG_ACC, FLAG_STORE), the chain
 * steps of the block, *first_row; returns the number of stored proposals. */
static int coord_decide(coord *co, uint64_t b, const double *logw, uint8_t *flags,
                        lf_ens_step *steps, size_t *nsteps, int64_t *first_row) {
  const int B = co->B;
  const uint64_t g0 = b * (uint64_t)B;
  lf_imh *c = &co->c;
  size_t ns = 0;
  int nst = 0;
  *first_row = co->next_row;
  for (int i = 0; i < B; i++) {
    lf_ess_acc_add(&co->es, logw[i]);
  }
  if (co->reweight) {
    for (int i = 0; i < B; i++) {
      flags[i] = 0;
      c->steps++;
      if (!isfinite(logw[i])) {
        c->bad++;
        continue;
      }
      flags[i] = FLAG_ACC | FLAG_STORE;
      c->accepted++;
      steps[ns++] =
          (lf_ens_step){co->next_row++, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, 1, 0, 0};
      nst++;
    }
  } else {
    lf_imh_decide(c, g0, B, logw, co->acc);
    for (int i = 0; i < B; i++) {
      flags[i] = 0;
      if (co->acc[i] || (co->save_all && isfinite(logw[i]))) {
        const int64_t row = co->next_row++;
        flags[i] = FLAG_STORE;
        nst++;
        if (co->acc[i]) {
          c->cur_row = row;
          flags[i] |= FLAG_ACC;
        }
      }
      if (c->cur_row < 0) continue; /* no state yet: nothing to record */
      steps[ns++] =
          (lf_ens_step){c->cur_row, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, co->acc[i], 0, 0};
    }
  }
  *nsteps = ns;
  return nst;
}

/* ---- the epoch buffers: stored states of this rank, chain steps of the coordinator ---- */

typedef struct epoch_buf {
  size_t nobs, ncorr, nphi; /* per stored state (nphi 0 unless saved) */
  size_t nruns, cap_runs;
  int64_t *first, *count;
  size_t nrows, cap_rows;
  double *obs, *corr, *phi;
  size_t nsteps; /* steps holds sample.epoch x block records */
  lf_ens_step *steps;
} epoch_buf;

static void ebuf_init(epoch_buf *e, const lf_theory *th, int save) {
  memset(e, 0, sizeof *e);
  e->nobs = th ? (size_t)th->nobs : 1;
  e->ncorr = th ? (size_t)th->ncorr : 0;
  e->nphi = th && save ? (size_t)th->C * (size_t)th->V : 0;
}

static void ebuf_free(epoch_buf *e) {
  lf_free(e->first);
  lf_free(e->count);
  lf_free(e->obs);
  lf_free(e->corr);
  lf_free(e->phi);
  lf_free(e->steps);
  memset(e, 0, sizeof *e);
}

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

/* The worker's part: the stored states of block (flags), rows first.., into the epoch. */
static lf_status pack_rows(epoch_buf *e, const lf_theory *th, int B, const double *phi,
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

/* ---- proposals: the flow, or synthetic log w for the benchmark ---- */

typedef struct source {
  lf_proposer *p; /* NULL: synthetic */
  lf_rng_key key;
  int B;
  double *logq, *S; /* (B) */
} source;

static void propose(source *s, uint64_t b, double *phi, double *logw) {
  if (s->p) {
    lf_propose_block(s->p, b, phi, s->logq, s->S, logw);
    return;
  }
  lf_rng_normal(s->key, 1u, b * (uint64_t)s->B, (size_t)s->B, logw);
  for (int i = 0; i < s->B; i++) logw[i] *= 2.0;
}

/* ---- the run ---- */

typedef struct run_args {
  const lf_config *cfg;
  const lf_theory *th; /* NULL: synthetic */
  lf_model *m;         /* NULL: synthetic */
  lf_ens_writer *w;    /* every rank, or NULL on every rank */
  lf_dist_opts o;
  uint64_t b0, nblocks; /* blocks [b0, nblocks) */
  int save, E;
  int ckpt_on;     /* rank 0 has a checkpoint callback (the same value on every rank) */
  double seconds0; /* generation seconds before this call */
} run_args;

static lf_status agree(MPI_Comm comm, lf_status rc) {
  int mine = (int)rc, worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the status failed");
  if (worst != LF_OK && mine == LF_OK)
    return LF_FAIL((lf_status)worst, "another rank failed (status %d: %s); see its message", worst,
                   lf_status_str((lf_status)worst));
  return (lf_status)worst;
}

static int owner(uint64_t b, int P) {
  return 1 + (int)(b % (uint64_t)(P - 1));
}

/* Waits for r with back-off up to 2^maxshift us. */
static lf_status wait_req_upto(MPI_Request *r, idler *id, int maxshift) {
  lf_status rc = LF_OK;
  for (;;) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Test(r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) break;
    idle_upto(id, maxshift);
  }
  busy(id);
fail:
  return rc;
}

static lf_status wait_req(MPI_Request *r, idler *id) {
  return wait_req_upto(r, id, 10);
}

/* A collective takes several message rounds, each needing progress on both sides: back
 * off to 64 us only (a wake-up every 64 us costs a few percent of a core). */
static lf_status wait_coll(MPI_Request *r, idler *id) {
  return wait_req_upto(r, id, 6);
}

/* What every rank keeps about the run (co: rank 0 only). */
typedef struct shared {
  coord *co;
  epoch_buf eb;     /* this rank's stored states and (rank 0) the epoch's chain steps */
  uint64_t since;   /* proposals since the last checkpoint (the same on every rank) */
  int64_t steps;    /* chain steps written (rank 0's count is broadcast) */
  double t0;        /* start of this call */
  double last_ckpt; /* rank 0: wall clock of the last checkpoint (or t0) */
  int abort_sent;   /* rank 0 sent ABORT to every worker (agreed in epoch_end) */
  idler *id;        /* this rank's waiting: the epoch collectives wait with back-off too */
} shared;

/* The collective step that ends the epoch before block `next` (DESIGN.md section 5):
 * MPI_Bcast of rank 0's totals and abort flag, one MPI_Allreduce of (status, signal),
 * the write, the checkpoint. rc0 is this rank's status of the epoch. Returns the agreed
 * status; LF_INTERRUPTED after a signal. */
static lf_status epoch_end(const run_args *a, MPI_Comm comm, int rank, shared *sh, uint64_t next,
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
  if ((rc = wait_coll(&req, sh->id)) != LF_OK) return rc;
  sh->abort_sent = (int)v[2];
  if (rc0 == LF_OK) lf_signal_test_hook("sample", (long)next, rank);
  /* a wall-clock checkpoint is rank 0's decision, reduced with the status and the signal
   * so that every rank takes it at this epoch end (a checkpoint does not change the run) */
  const double secs = a->cfg->sample.checkpoint_seconds;
  const int clock_due =
      rank == 0 && a->ckpt_on && secs > 0 && lf_wtime() - sh->last_ckpt >= secs ? 1 : 0;
  int mine[3] = {(int)rc0, lf_signal_pending(), clock_due}, all[3] = {0, 0, 0};
  if (MPI_Iallreduce(mine, all, 3, MPI_INT, MPI_MAX, comm, &req) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Iallreduce of the epoch status");
  if ((rc = wait_coll(&req, sh->id)) != LF_OK) return rc;
  if (all[0] != LF_OK)
    return rc0 != LF_OK ? rc0
                        : LF_FAIL((lf_status)all[0], "another rank failed (%s); see its message",
                                  lf_status_str((lf_status)all[0]));
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
    return agree(comm, rc);
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
    if ((rc = agree(comm, crc)) != LF_OK) return rc;
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

/* Rank 0 with P = 1: every role in one loop. */
static lf_status run_single(const run_args *a, MPI_Comm comm, source *src, shared *sh, double *phi,
                            double *logw, uint8_t *flags) {
  lf_status rc = LF_OK;
  const int B = a->cfg->sample.block;
  const uint64_t total = a->nblocks * (uint64_t)B;
  for (uint64_t eb = a->b0; eb < a->nblocks;) {
    const uint64_t ee = eb + (uint64_t)a->E < a->nblocks ? eb + (uint64_t)a->E : a->nblocks;
    lf_status rc0 = LF_OK;
    for (uint64_t b = eb; b < ee && rc0 == LF_OK; b++) {
      size_t ns;
      int64_t first;
      propose(src, b, phi, logw);
      const int nst =
          coord_decide(sh->co, b, logw, flags, sh->eb.steps + sh->eb.nsteps, &ns, &first);
      sh->eb.nsteps += ns;
      rc0 = pack_rows(&sh->eb, a->th, B, phi, flags, nst, first);
      const uint64_t done = (b + 1) * (uint64_t)B;
      if (rc0 == LF_OK && a->o.cb &&
          a->o.cb(&sh->co->c, done, total, lf_wtime() - sh->t0, a->o.ctx))
        rc0 = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                      (unsigned long long)done);
    }
    sh->since += (ee - eb) * (uint64_t)B;
    if ((rc = epoch_end(a, comm, 0, sh, ee, rc0)) != LF_OK) return rc;
    eb = ee;
  }
  return LF_OK;
}

/* Waits (with back-off) for a message from src with tag; fills st. */
static lf_status wait_msg(MPI_Comm comm, int src, int tag, MPI_Status *st, idler *id) {
  lf_status rc = LF_OK;
  for (;;) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Iprobe(src, tag, comm, &flag, st), "MPI_Iprobe");
    if (flag) break;
    idle(id);
  }
  busy(id);
fail:
  return rc;
}

/* Buffers of the roles, allocated before the protocol starts (so that a failed
 * allocation is agreed on and no rank waits for a message that never comes). */
typedef struct bufs {
  size_t lw_bytes, dec_bytes;
  unsigned char *decs; /* coordinator: (E, dec_bytes) decision messages of the epoch */
  MPI_Request *reqs;   /* (E) their sends */
  uint64_t *recvd;     /* (P) log w messages received per worker */
  unsigned char *rbuf; /* (lw_bytes) */
  double *wphi;        /* worker: (W, B, n) fields of pending blocks */
  unsigned char *lwm;  /* (W, lw_bytes) log w messages */
  unsigned char *cm;   /* (dec_bytes) */
} bufs;

static lf_status bufs_init(bufs *u, const run_args *a, int rank, int P) {
  memset(u, 0, sizeof *u);
  if (P == 1) return LF_OK;
  const int B = a->cfg->sample.block;
  const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
  u->dec_bytes = sizeof(msg_hdr) + (size_t)B;
  u->lw_bytes = sizeof(msg_hdr) + (size_t)B * sizeof(double);
  if (u->lw_bytes > (size_t)INT32_MAX)
    return LF_FAIL(LF_ERR_INVALID, "a block's log weights (%zu bytes) exceed one MPI message",
                   u->lw_bytes);
  if (rank == 0) {
    u->decs = lf_alloc((size_t)a->E * u->dec_bytes);
    u->reqs = lf_alloc((size_t)a->E * sizeof *u->reqs);
    u->recvd = lf_alloc((size_t)P * sizeof *u->recvd);
    u->rbuf = lf_alloc(u->lw_bytes);
    if (!u->decs || !u->reqs || !u->recvd || !u->rbuf)
      return LF_FAIL(LF_ERR_NOMEM, "coordinator buffers (epoch %d, block %d)", a->E, B);
    for (int s = 0; s < a->E; s++) u->reqs[s] = MPI_REQUEST_NULL;
    memset(u->recvd, 0, (size_t)P * sizeof *u->recvd);
  } else {
    u->wphi = lf_alloc((size_t)LF_DIST_WINDOW * (size_t)B * n * sizeof(double));
    u->lwm = lf_alloc((size_t)LF_DIST_WINDOW * u->lw_bytes);
    u->cm = lf_alloc(u->dec_bytes);
    if (!u->wphi || !u->lwm || !u->cm)
      return LF_FAIL(LF_ERR_NOMEM, "worker window (%d blocks of %d x %zu)", LF_DIST_WINDOW, B, n);
  }
  return LF_OK;
}

static void bufs_free(bufs *u) {
  lf_free(u->decs);
  lf_free(u->reqs);
  lf_free(u->recvd);
  lf_free(u->rbuf);
  lf_free(u->wphi);
  lf_free(u->lwm);
  lf_free(u->cm);
  memset(u, 0, sizeof *u);
}

static lf_status run_coordinator(const run_args *a, MPI_Comm comm, int P, shared *sh, bufs *u,
                                 idler *id) {
  lf_status rc = LF_OK, rc2;
  const int B = a->cfg->sample.block;
  const uint64_t total = a->nblocks * (uint64_t)B;
  for (uint64_t eb = a->b0; eb < a->nblocks && rc == LF_OK;) {
    const uint64_t ee = eb + (uint64_t)a->E < a->nblocks ? eb + (uint64_t)a->E : a->nblocks;
    lf_status rc0 = LF_OK;
    int s = 0;
    for (uint64_t b = eb; b < ee && rc0 == LF_OK; b++, s++) {
      const int src = owner(b, P);
      MPI_Status st;
      msg_hdr h;
      if ((rc0 = wait_msg(comm, src, TAG_LOGW, &st, id)) != LF_OK) break;
      if (MPI_Recv(u->rbuf, (int)u->lw_bytes, MPI_BYTE, src, TAG_LOGW, comm, MPI_STATUS_IGNORE) !=
          MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Recv (log w) from rank %d", src);
        break;
      }
      u->recvd[src]++;
      memcpy(&h, u->rbuf, sizeof h);
      if (h.block != b || h.n != B) {
        rc0 = LF_FAIL(LF_ERR_MPI, "rank %d sent block %llu (%d weights), expected %llu (%d)", src,
                      (unsigned long long)h.block, h.n, (unsigned long long)b, B);
        break;
      }
      unsigned char *m = u->decs + (size_t)s * u->dec_bytes;
      msg_hdr d = {b, 0, MSG_DECISION, 0, 0};
      size_t ns = 0;
      d.n = coord_decide(sh->co, b, (const double *)(const void *)(u->rbuf + sizeof h),
                         m + sizeof d, sh->eb.steps + sh->eb.nsteps, &ns, &d.first_row);
      sh->eb.nsteps += ns;
      memcpy(m, &d, sizeof d);
      if (MPI_Isend(m, (int)u->dec_bytes, MPI_BYTE, src, TAG_C2W, comm, &u->reqs[s]) !=
          MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Isend (decision) to rank %d", src);
        break;
      }
      const uint64_t done = (b + 1) * (uint64_t)B;
      if (a->o.cb && a->o.cb(&sh->co->c, done, total, lf_wtime() - sh->t0, a->o.ctx))
        rc0 = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                      (unsigned long long)done);
    }
    if (rc0 != LF_OK) { /* workers may wait for decisions that will not come */
      msg_hdr e = {0, 0, MSG_ABORT, 0, 0};
      for (int r = 1; r < P; r++) MPI_Send(&e, (int)sizeof e, MPI_BYTE, r, TAG_C2W, comm);
      sh->abort_sent = 1;
    }
    sh->since += (ee - eb) * (uint64_t)B;
    rc = epoch_end(a, comm, 0, sh, ee, rc0);
    for (int k = 0; k < s; k++)
      if ((rc2 = wait_req(&u->reqs[k], id)) != LF_OK && rc == LF_OK) rc = rc2;
    eb = ee;
  }
  /* shutdown: every worker says how many log w messages it sent; receive the rest */
  for (int r = 1; r < P; r++) {
    MPI_Status st;
    uint64_t sent = 0;
    if ((rc2 = wait_msg(comm, r, TAG_BYE, &st, id)) != LF_OK ||
        MPI_Recv(&sent, 1, MPI_UINT64_T, r, TAG_BYE, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
      if (rc == LF_OK) rc = rc2 != LF_OK ? rc2 : LF_FAIL(LF_ERR_MPI, "MPI_Recv (bye) from %d", r);
      continue;
    }
    for (; u->recvd[r] < sent; u->recvd[r]++)
      if (MPI_Recv(u->rbuf, (int)u->lw_bytes, MPI_BYTE, r, TAG_LOGW, comm, MPI_STATUS_IGNORE) !=
              MPI_SUCCESS &&
          rc == LF_OK)
        rc = LF_FAIL(LF_ERR_MPI, "MPI_Recv (drain) from rank %d", r);
  }
  return rc;
}

/* Rank r >= 1: blocks fm, fm + (P-1), ... of [b0, nblocks) with owner r; at most
 * LF_DIST_WINDOW of them computed and undecided. */
static lf_status run_worker(const run_args *a, MPI_Comm comm, int rank, int P, source *src,
                            shared *sh, bufs *u, idler *id) {
  lf_status rc = LF_OK, rc2;
  enum { W = LF_DIST_WINDOW };
  const int B = a->cfg->sample.block;
  const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
  const uint64_t stride = (uint64_t)(P - 1), mine = (uint64_t)(rank - 1);
  const uint64_t fm = a->b0 + (mine + stride - a->b0 % stride) % stride;
  const uint64_t nmine = a->nblocks > fm ? (a->nblocks - fm + stride - 1) / stride : 0;
  MPI_Request rw[W];
  for (int s = 0; s < W; s++) rw[s] = MPI_REQUEST_NULL;
  uint64_t comp = 0, done = 0, sent = 0;
  int aborted = 0;
  for (uint64_t eb = a->b0; eb < a->nblocks && rc == LF_OK;) {
    const uint64_t ee = eb + (uint64_t)a->E < a->nblocks ? eb + (uint64_t)a->E : a->nblocks;
    lf_status rc0 = LF_OK;
    /* until every decision of this epoch is in and the window is full: the blocks
     * computed ahead are ready when the epoch step ends (workers never idle in it for
     * want of work they could have done before) */
    while (!aborted &&
           ((done < nmine && fm + done * stride < ee) || (comp < nmine && comp - done < W))) {
      int flag = 0;
      if (MPI_Iprobe(0, TAG_C2W, comm, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Iprobe (decision)");
        break;
      }
      if (flag) {
        busy(id);
        msg_hdr h;
        if (MPI_Recv(u->cm, (int)u->dec_bytes, MPI_BYTE, 0, TAG_C2W, comm, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
          rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Recv (decision)");
          break;
        }
        memcpy(&h, u->cm, sizeof h);
        if (h.type != MSG_DECISION) {
          aborted = 1;
          break;
        }
        const uint64_t b = fm + done * stride;
        if (h.block != b || done >= comp) { /* a bug: recorded, agreed at the epoch end */
          if (rc0 == LF_OK)
            rc0 = LF_FAIL(LF_ERR_MPI, "decision for block %llu, expected %llu",
                          (unsigned long long)h.block, (unsigned long long)b);
        } else if (rc0 == LF_OK) {
          rc0 = pack_rows(&sh->eb, a->th, B, u->wphi + (size_t)(done % W) * (size_t)B * n,
                          u->cm + sizeof h, h.n, h.first_row);
        }
        done++;
        continue;
      }
      if (comp < nmine && comp - done < W) {
        busy(id);
        const int s = (int)(comp % W);
        if ((rc2 = wait_req(&rw[s], id)) != LF_OK) {
          rc0 = rc2;
          break;
        }
        const uint64_t b = fm + comp * stride;
        unsigned char *m = u->lwm + (size_t)s * u->lw_bytes;
        msg_hdr h = {b, 0, 0, B, 0};
        memcpy(m, &h, sizeof h);
        propose(src, b, u->wphi + (size_t)s * (size_t)B * n, (double *)(void *)(m + sizeof h));
        if (MPI_Isend(m, (int)u->lw_bytes, MPI_BYTE, 0, TAG_LOGW, comm, &rw[s]) != MPI_SUCCESS) {
          rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Isend (log w)");
          break;
        }
        comp++;
        sent++;
        continue;
      }
      idle(id);
    }
    sh->since += (ee - eb) * (uint64_t)B;
    rc = epoch_end(a, comm, rank, sh, ee, rc0);
    eb = ee;
  }
  /* shutdown: take the ABORT that rank 0 sent if not yet read, say how many log w
   * messages were sent, and wait for them to be received */
  while (sh->abort_sent && !aborted) {
    msg_hdr h;
    if (MPI_Recv(u->cm, (int)u->dec_bytes, MPI_BYTE, 0, TAG_C2W, comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS) {
      if (rc == LF_OK) rc = LF_FAIL(LF_ERR_MPI, "MPI_Recv (abort)");
      break;
    }
    memcpy(&h, u->cm, sizeof h);
    aborted = h.type != MSG_DECISION;
  }
  if (MPI_Send(&sent, 1, MPI_UINT64_T, 0, TAG_BYE, comm) != MPI_SUCCESS && rc == LF_OK)
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Send (bye)");
  for (int s = 0; s < W; s++)
    if ((rc2 = wait_req(&rw[s], id)) != LF_OK && rc == LF_OK) rc = rc2;
  return rc;
}

/* The whole collective run: setup (agreed), the roles, the agreed result. */
static lf_status run(const run_args *a, MPI_Comm comm_in, lf_sample_result *res,
                     lf_dist_stats *stats) {
  lf_status rc = LF_OK;
  int rank = 0, P = 1;
  MPI_Comm comm = MPI_COMM_NULL;
  lf_proposer p;
  memset(&p, 0, sizeof p);
  source src = {NULL, lf_rng_key_make(a->cfg->seed, LF_STREAM_SAMPLE), a->cfg->sample.block, NULL,
                NULL};
  const int B = a->cfg->sample.block;
  double *phi = NULL, *logw = NULL;
  uint8_t *flags = NULL;
  int8_t *acc = NULL;
  idler id = {0, 0, 0, 0, 0};
  coord co;
  bufs u;
  shared sh;
  memset(&co, 0, sizeof co);
  memset(&u, 0, sizeof u);
  memset(&sh, 0, sizeof sh);
  memset(res, 0, sizeof *res);
  if (MPI_Comm_rank(comm_in, &rank) != MPI_SUCCESS || MPI_Comm_size(comm_in, &P) != MPI_SUCCESS ||
      MPI_Comm_dup(comm_in, &comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "communicator rank/size/dup");
  const int coordinator = rank == 0, worker = rank > 0 || P == 1;
  ebuf_init(&sh.eb, a->th, a->save);
  rc = bufs_init(&u, a, rank, P);
  if (worker) {
    if (rc == LF_OK && a->m) rc = lf_proposer_init(&p, a->m, a->th, a->cfg->seed, B);
    if (rc == LF_OK && a->m) src.p = &p;
    src.logq = lf_alloc((size_t)B * sizeof(double));
    src.S = lf_alloc((size_t)B * sizeof(double));
    if (P == 1) {
      const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
      phi = lf_alloc((size_t)B * n * sizeof(double));
      logw = lf_alloc((size_t)B * sizeof(double));
      flags = lf_alloc((size_t)B);
      if (rc == LF_OK && (!phi || !logw || !flags))
        rc = LF_FAIL(LF_ERR_NOMEM, "sampler buffers (block %d)", B);
    }
    if (rc == LF_OK && (!src.logq || !src.S))
      rc = LF_FAIL(LF_ERR_NOMEM, "proposal buffers (block %d)", B);
  }
  if (coordinator) {
    acc = lf_alloc((size_t)B);
    sh.eb.steps = lf_alloc((size_t)a->E * (size_t)B * sizeof *sh.eb.steps);
    if (rc == LF_OK && (!acc || !sh.eb.steps))
      rc = LF_FAIL(LF_ERR_NOMEM, "coordinator buffers (epoch %d x block %d)", a->E, B);
    coord_init(&co, a->cfg, acc);
    if (a->o.resume) {
      co.c = a->o.resume->imh;
      co.es = a->o.resume->ess;
      co.next_row = a->o.resume->rows;
    }
    sh.co = &co;
  }
  sh.steps = a->o.resume ? a->o.resume->steps : 0;
  if ((rc = agree(comm, rc)) != LF_OK) goto fail;
  sh.t0 = lf_wtime();
  sh.last_ckpt = sh.t0;
  sh.id = &id;
  if (P == 1)
    rc = run_single(a, comm, &src, &sh, phi, logw, flags);
  else if (coordinator)
    rc = run_coordinator(a, comm, P, &sh, &u, &id);
  else
    rc = run_worker(a, comm, rank, P, &src, &sh, &u, &id);
  if (coordinator) {
    const uint64_t total = a->nblocks * (uint64_t)B;
    res->seconds = lf_wtime() - sh.t0;
    res->proposals = total;
    res->rows = (uint64_t)co.next_row;
    res->bad = co.c.bad;
    res->acceptance = total ? (double)co.c.accepted / (double)total : 0.0;
    res->max_run = (int)co.c.max_run;
    res->ess = lf_ess_acc_value(&co.es);
  }
  if ((rc = agree(comm, rc)) != LF_OK) goto fail;
  if (MPI_Bcast(res, (int)sizeof *res, MPI_BYTE, 0, comm) != MPI_SUCCESS) {
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the result");
    goto fail;
  }
  if (a->w) lf_ens_set_gen_seconds(a->w, a->seconds0 + res->seconds);
fail:
  if (stats) {
    memset(stats, 0, sizeof *stats);
    stats->ranks = P;
    stats->idle_seconds = id.wall;
    stats->idle_cpu_seconds = id.cpu;
  }
  ebuf_free(&sh.eb);
  bufs_free(&u);
  lf_proposer_free(&p);
  lf_free(src.logq);
  lf_free(src.S);
  lf_free(phi);
  lf_free(logw);
  lf_free(flags);
  lf_free(acc);
  MPI_Comm_free(&comm);
  return rc;
}

lf_status lf_sample_dist(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                         MPI_Comm comm, const lf_dist_opts *opts, lf_sample_result *res,
                         lf_dist_stats *stats) {
  const int B = cfg->sample.block;
  if (B < 1) return LF_FAIL(LF_ERR_INVALID, "sample.block must be >= 1, got %d", B);
  if (cfg->sample.epoch < 1)
    return LF_FAIL(LF_ERR_INVALID, "sample.epoch must be >= 1, got %d", cfg->sample.epoch);
  run_args a;
  memset(&a, 0, sizeof a);
  a.cfg = cfg;
  a.th = th;
  a.m = m;
  a.w = w;
  if (opts) a.o = *opts;
  a.nblocks = ((uint64_t)cfg->sample.proposals + (uint64_t)B - 1) / (uint64_t)B;
  a.save = cfg->sample.save != LF_SAVE_NONE;
  int P = 1;
  MPI_Comm_size(comm, &P);
  /* sample.epoch blocks per worker: the number of collective steps does not grow with P */
  a.E = cfg->sample.epoch * (P > 1 ? P - 1 : 1);
  if (a.o.resume) {
    a.b0 = a.o.resume->next_block;
    a.seconds0 = a.o.resume->seconds;
    if (a.b0 > a.nblocks)
      return LF_FAIL(LF_ERR_CONFIG,
                     "sample.proposals = %ld is less than the %llu proposals the checkpoint "
                     "already holds",
                     cfg->sample.proposals, (unsigned long long)(a.b0 * (uint64_t)B));
  }
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) a.o.cb = NULL, a.o.checkpoint = NULL;
  /* every rank must know whether checkpoints are taken (the schedule is collective) */
  a.ckpt_on = a.o.checkpoint != NULL;
  if (MPI_Bcast(&a.ckpt_on, 1, MPI_INT, 0, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Bcast of the checkpoint setting");
  return run(&a, comm, res, stats);
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

lf_status lf_dist_bench(const lf_config *cfg, MPI_Comm comm, double seconds, double *local_per_s,
                        double *mpi_per_s, lf_dist_stats *stats) {
  lf_status rc = LF_OK;
  const int B = cfg->sample.block;
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  *local_per_s = *mpi_per_s = 0.0;
  if (stats) memset(stats, 0, sizeof *stats);
  enum { POOL = 64 };
  double rates[2] = {0.0, 0.0};
  if (rank == 0) {
    /* one process: what the coordinator does per block: decide, assign rows, fill the
     * decision message and the chain records (the stored states are the workers') */
    double *lw = lf_alloc((size_t)POOL * (size_t)B * sizeof(double));
    unsigned char *msg = lf_alloc(sizeof(msg_hdr) + (size_t)B);
    double *data = lf_alloc((size_t)B * sizeof(double));
    lf_ens_step *steps = lf_alloc((size_t)B * sizeof *steps);
    int8_t *acc = lf_alloc((size_t)B);
    if (!lw || !msg || !data || !steps || !acc) {
      rc = LF_FAIL(LF_ERR_NOMEM, "benchmark buffers (block %d)", B);
    } else {
      source s = {NULL, lf_rng_key_make(cfg->seed, LF_STREAM_SAMPLE), B, NULL, NULL};
      for (int k = 0; k < POOL; k++) propose(&s, (uint64_t)k, NULL, lw + (size_t)k * (size_t)B);
      coord co;
      coord_init(&co, cfg, acc);
      uint64_t b = 0, stored = 0;
      const double t0 = lf_wtime();
      double dt = 0.0;
      while (dt < seconds || b < 16) {
        for (int k = 0; k < 16; k++, b++) {
          msg_hdr h = {b, 0, MSG_DECISION, 0, 0};
          size_t ns;
          h.n = coord_decide(&co, b, lw + (size_t)(b % POOL) * (size_t)B, msg + sizeof h, steps,
                             &ns, &h.first_row);
          memcpy(msg, &h, sizeof h);
          stored += (uint64_t)h.n + ns;
        }
        dt = lf_wtime() - t0;
      }
      rates[0] = (double)b * (double)B / dt;
      (void)stored;
    }
    lf_free(lw);
    lf_free(msg);
    lf_free(data);
    lf_free(steps);
    lf_free(acc);
  }
  if ((rc = agree(comm, rc)) != LF_OK) return rc;
  if (P > 1) {
    /* the protocol with synthetic workers: about `seconds` at the local rate */
    double nb = rank == 0 ? rates[0] * seconds / (double)B : 0.0;
    if (MPI_Bcast(&nb, 1, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
      return LF_FAIL(LF_ERR_MPI, "MPI_Bcast (benchmark blocks)");
    lf_config c = *cfg;
    c.sample.save = LF_SAVE_ACCEPTED;
    run_args a;
    memset(&a, 0, sizeof a);
    a.cfg = &c;
    a.E = c.sample.epoch;
    a.nblocks = nb < (double)(4 * (P - 1)) ? (uint64_t)(4 * (P - 1)) : (uint64_t)nb;
    lf_sample_result res;
    if ((rc = run(&a, comm, &res, stats)) != LF_OK) return rc;
    rates[1] = (double)res.proposals / res.seconds;
  }
  if (MPI_Bcast(rates, 2, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Bcast (benchmark rates)");
  *local_per_s = rates[0];
  *mpi_per_s = rates[1];
  return LF_OK;
}
