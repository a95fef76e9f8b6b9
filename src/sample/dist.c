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

static void idle(idler *d) {
  if (d->n == 0) {
    d->w0 = lf_wtime();
    d->c0 = cpu_now();
  }
  d->n++;
  if (d->n <= 4) return; /* a few immediate polls: a message is often just arriving */
  const int sh = d->n - 4 < 10 ? d->n - 4 : 10;
  struct timespec ts = {0, 1000L << sh}; /* 2 us .. 1 ms */
  nanosleep(&ts, NULL);
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
      steps[ns++] = (lf_ens_step){co->next_row++, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, 1};
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
          (lf_ens_step){c->cur_row, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, co->acc[i]};
    }
  }
  *nsteps = ns;
  return nst;
}

/* Per stored state: obs (nobs), corr (ncorr), phi (n, when saved); th NULL (benchmark):
 * one zero. */
static size_t row_size(const lf_theory *th, int save) {
  if (!th) return 1;
  return (size_t)th->nobs + (size_t)th->ncorr + (save ? (size_t)th->C * (size_t)th->V : 0);
}

/* The worker's part: the stored states of a block, in proposal order, into out. */
static void pack_rows(const lf_theory *th, int save, int B, const double *phi, const uint8_t *flags,
                      double *out) {
  const size_t n = th ? (size_t)th->C * (size_t)th->V : 0;
  for (int i = 0; i < B; i++) {
    if (!(flags[i] & FLAG_STORE)) continue;
    if (!th) {
      *out++ = 0.0;
      continue;
    }
    const double *p = phi + (size_t)i * n;
    th->observables(th, p, out);
    out += th->nobs;
    if (th->ncorr) th->correlator(th, p, out);
    out += th->ncorr;
    if (save) {
      memcpy(out, p, n * sizeof *out);
      out += n;
    }
  }
}

/* The coordinator's storage: rows first_row .. first_row+nst-1, then the block's steps. */
static lf_status store_block(lf_ens_writer *w, const lf_theory *th, int save, int64_t first_row,
                             int nst, const double *data, const lf_ens_step *steps, size_t ns) {
  if (!w) return LF_OK;
  const size_t rs = row_size(th, save);
  for (int k = 0; k < nst; k++) {
    const double *r = data + (size_t)k * rs;
    int64_t row;
    lf_status rc = lf_ens_append_row(w, r, th->ncorr ? r + th->nobs : NULL,
                                     save ? r + th->nobs + th->ncorr : NULL, &row);
    if (rc != LF_OK) return rc;
    if (row != first_row + k)
      return LF_FAIL(LF_ERR_INVALID, "ensemble row %lld stored where row %lld was assigned",
                     (long long)row, (long long)(first_row + k));
  }
  return lf_ens_append_steps(w, ns, steps);
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
  lf_ens_writer *w;    /* rank 0; NULL: discard */
  lf_sample_cb cb;
  void *ctx;
  uint64_t nblocks;
  int save;
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

/* Rank 0 with P = 1: every role in one loop. */
static lf_status run_single(const run_args *a, source *src, coord *co, double *phi, double *logw,
                            uint8_t *flags, lf_ens_step *steps, double *data, double t0) {
  const int B = a->cfg->sample.block;
  const uint64_t total = a->nblocks * (uint64_t)B;
  for (uint64_t b = 0; b < a->nblocks; b++) {
    size_t ns;
    int64_t first;
    propose(src, b, phi, logw);
    const int nst = coord_decide(co, b, logw, flags, steps, &ns, &first);
    pack_rows(a->th, a->save, B, phi, flags, data);
    lf_status rc = store_block(a->w, a->th, a->save, first, nst, data, steps, ns);
    if (rc != LF_OK) return rc;
    const uint64_t done = (b + 1) * (uint64_t)B;
    if (a->cb && a->cb(&co->c, done, total, lf_wtime() - t0, a->ctx))
      return LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                     (unsigned long long)done);
  }
  return LF_OK;
}

/* Receives and discards every message until all P-1 workers said BYE. */
static lf_status drain(MPI_Comm comm, int P, void *buf, int cap, idler *id) {
  lf_status rc = LF_OK;
  int byes = 0;
  while (byes < P - 1) {
    int flag = 0, cnt = 0;
    MPI_Status st;
    LF_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &st), "MPI_Iprobe");
    if (!flag) {
      idle(id);
      continue;
    }
    busy(id);
    LF_MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &cnt), "MPI_Get_count");
    if (cnt > cap) {
      rc = LF_FAIL(LF_ERR_MPI, "message of %d bytes from rank %d exceeds %d", cnt, st.MPI_SOURCE,
                   cap);
      goto fail;
    }
    LF_MPI_CHECK(MPI_Recv(buf, cnt, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE),
                 "MPI_Recv (drain)");
    if (st.MPI_TAG == TAG_BYE) byes++;
  }
fail:
  return rc;
}

static lf_status wait_req(MPI_Request *r, idler *id) {
  lf_status rc = LF_OK;
  for (;;) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Test(r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) break;
    idle(id);
  }
  busy(id);
fail:
  return rc;
}

/* Rank 0 with P > 1. Blocks [sto, dec) are decided and wait for their stored states;
 * at most K = LF_DIST_WINDOW (P-1) of them, each in slot b % K. */
/* Buffers of the roles, allocated before the protocol starts (so that a failed
 * allocation is agreed on and no rank waits for a message that never comes). */
typedef struct bufs {
  int K; /* coordinator slots: LF_DIST_WINDOW (P-1) */
  size_t rs, lw_bytes, data_bytes, dec_bytes, rbytes;
  unsigned char *decs;     /* coordinator: (K, dec_bytes) decision messages */
  MPI_Request *reqs;       /* (K) their sends */
  lf_ens_step *steps;      /* (K, B) chain steps of decided blocks */
  size_t *nsteps;          /* (K) */
  unsigned char *rbuf;     /* (rbytes) receive buffer */
  double *wphi;            /* worker: (W, B, n) fields of pending blocks */
  unsigned char *lwm, *dm; /* (W, lw_bytes), (W, data_bytes) messages */
  unsigned char *cm;       /* (dec_bytes) */
} bufs;

static lf_status bufs_init(bufs *u, const run_args *a, int rank, int P) {
  memset(u, 0, sizeof *u);
  if (P == 1) return LF_OK;
  const int B = a->cfg->sample.block;
  const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
  u->K = LF_DIST_WINDOW * (P - 1);
  u->rs = row_size(a->th, a->save);
  u->dec_bytes = sizeof(msg_hdr) + (size_t)B;
  u->lw_bytes = sizeof(msg_hdr) + (size_t)B * sizeof(double);
  u->data_bytes = sizeof(msg_hdr) + (size_t)B * u->rs * sizeof(double);
  u->rbytes = u->data_bytes > u->lw_bytes ? u->data_bytes : u->lw_bytes;
  if (u->rbytes > (size_t)INT32_MAX)
    return LF_FAIL(LF_ERR_INVALID,
                   "a block's stored states (%zu bytes) exceed one MPI message: lower "
                   "sample.block",
                   u->rbytes);
  if (rank == 0) {
    u->decs = lf_alloc((size_t)u->K * u->dec_bytes);
    u->reqs = lf_alloc((size_t)u->K * sizeof *u->reqs);
    u->steps = lf_alloc((size_t)u->K * (size_t)B * sizeof *u->steps);
    u->nsteps = lf_alloc((size_t)u->K * sizeof *u->nsteps);
    u->rbuf = lf_alloc(u->rbytes);
    if (!u->decs || !u->reqs || !u->steps || !u->nsteps || !u->rbuf)
      return LF_FAIL(LF_ERR_NOMEM, "coordinator buffers (%d slots of block %d)", u->K, B);
    for (int s = 0; s < u->K; s++) u->reqs[s] = MPI_REQUEST_NULL;
  } else {
    u->wphi = lf_alloc((size_t)LF_DIST_WINDOW * (size_t)B * n * sizeof(double));
    u->lwm = lf_alloc((size_t)LF_DIST_WINDOW * u->lw_bytes);
    u->dm = lf_alloc((size_t)LF_DIST_WINDOW * u->data_bytes);
    u->cm = lf_alloc(u->dec_bytes);
    if (!u->wphi || !u->lwm || !u->dm || !u->cm)
      return LF_FAIL(LF_ERR_NOMEM, "worker window (%d blocks of %d x %zu)", LF_DIST_WINDOW, B, n);
  }
  return LF_OK;
}

static void bufs_free(bufs *u) {
  lf_free(u->decs);
  lf_free(u->reqs);
  lf_free(u->steps);
  lf_free(u->nsteps);
  lf_free(u->rbuf);
  lf_free(u->wphi);
  lf_free(u->lwm);
  lf_free(u->dm);
  lf_free(u->cm);
  memset(u, 0, sizeof *u);
}

static lf_status run_coordinator(const run_args *a, MPI_Comm comm, int P, coord *co, bufs *u,
                                 idler *id, double t0) {
  lf_status rc = LF_OK, rc2;
  const int B = a->cfg->sample.block;
  const uint64_t total = a->nblocks * (uint64_t)B;
  const int K = u->K;
  const size_t dec_bytes = u->dec_bytes, lw_bytes = u->lw_bytes, rbytes = u->rbytes;
  unsigned char *decs = u->decs, *rbuf = u->rbuf;
  MPI_Request *reqs = u->reqs;
  lf_ens_step *steps = u->steps;
  size_t *nsteps = u->nsteps;
  uint64_t dec = 0, sto = 0;
  while (sto < a->nblocks) {
    int prog = 0, flag = 0;
    if (dec < a->nblocks && dec - sto < (uint64_t)K) {
      const int s = (int)(dec % (uint64_t)K);
      if (reqs[s] != MPI_REQUEST_NULL)
        LF_MPI_CHECK(MPI_Test(&reqs[s], &flag, MPI_STATUS_IGNORE), "MPI_Test (decision)");
      if (reqs[s] == MPI_REQUEST_NULL) {
        const int src = owner(dec, P);
        LF_MPI_CHECK(MPI_Iprobe(src, TAG_LOGW, comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (flag) {
          msg_hdr h;
          LF_MPI_CHECK(
              MPI_Recv(rbuf, (int)lw_bytes, MPI_BYTE, src, TAG_LOGW, comm, MPI_STATUS_IGNORE),
              "MPI_Recv (log w)");
          memcpy(&h, rbuf, sizeof h);
          if (h.block != dec || h.n != B) {
            rc = LF_FAIL(LF_ERR_MPI, "rank %d sent block %llu (%d weights), expected %llu (%d)",
                         src, (unsigned long long)h.block, h.n, (unsigned long long)dec, B);
            goto fail;
          }
          double *lw = (double *)(void *)(rbuf + sizeof h);
          unsigned char *m = decs + (size_t)s * dec_bytes;
          msg_hdr d = {dec, 0, MSG_DECISION, 0, 0};
          d.n = coord_decide(co, dec, lw, m + sizeof d, steps + (size_t)s * (size_t)B, &nsteps[s],
                             &d.first_row);
          memcpy(m, &d, sizeof d);
          LF_MPI_CHECK(MPI_Isend(m, (int)dec_bytes, MPI_BYTE, src, TAG_C2W, comm, &reqs[s]),
                       "MPI_Isend (decision)");
          dec++;
          prog = 1;
        }
      }
    }
    if (sto < dec) {
      const int s = (int)(sto % (uint64_t)K);
      msg_hdr d;
      memcpy(&d, decs + (size_t)s * dec_bytes, sizeof d);
      int have = d.n == 0;
      if (!have) {
        const int src = owner(sto, P);
        LF_MPI_CHECK(MPI_Iprobe(src, TAG_DATA, comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (flag) {
          msg_hdr h;
          LF_MPI_CHECK(
              MPI_Recv(rbuf, (int)rbytes, MPI_BYTE, src, TAG_DATA, comm, MPI_STATUS_IGNORE),
              "MPI_Recv (stored states)");
          memcpy(&h, rbuf, sizeof h);
          if (h.block != sto || h.n != d.n) {
            rc = LF_FAIL(LF_ERR_MPI, "rank %d sent %d states of block %llu, expected %d of %llu",
                         src, h.n, (unsigned long long)h.block, d.n, (unsigned long long)sto);
            goto fail;
          }
          have = 1;
        }
      }
      if (have) {
        busy(id);
        rc = store_block(a->w, a->th, a->save, d.first_row, d.n,
                         (const double *)(const void *)(rbuf + sizeof(msg_hdr)),
                         steps + (size_t)s * (size_t)B, nsteps[s]);
        if (rc != LF_OK) goto fail;
        sto++;
        prog = 1;
        const uint64_t done = sto * (uint64_t)B;
        if (a->cb && a->cb(&co->c, done, total, lf_wtime() - t0, a->ctx)) {
          rc = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                       (unsigned long long)done);
          goto fail;
        }
      }
    }
    if (prog)
      busy(id);
    else
      idle(id);
  }
fail:
  busy(id);
  /* END or ABORT to every worker (after its decisions, on the same tag), then drain */
  {
    msg_hdr e = {0, 0, rc == LF_OK ? MSG_END : MSG_ABORT, 0, 0};
    for (int r = 1; r < P; r++)
      if (MPI_Send(&e, (int)sizeof e, MPI_BYTE, r, TAG_C2W, comm) != MPI_SUCCESS && rc == LF_OK)
        rc = LF_FAIL(LF_ERR_MPI, "MPI_Send (end) to rank %d", r);
    if ((rc2 = drain(comm, P, rbuf, (int)rbytes, id)) != LF_OK && rc == LF_OK) rc = rc2;
    for (int s = 0; s < K; s++)
      if ((rc2 = wait_req(&reqs[s], id)) != LF_OK && rc == LF_OK) rc = rc2;
  }
  return rc;
}

/* Rank r >= 1: blocks r-1, r-1 + (P-1), ...; at most LF_DIST_WINDOW of them pending. */
static lf_status run_worker(const run_args *a, MPI_Comm comm, int rank, int P, source *src, bufs *u,
                            idler *id) {
  lf_status rc = LF_OK, rc2;
  enum { W = LF_DIST_WINDOW };
  const int B = a->cfg->sample.block;
  const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
  const size_t rs = u->rs, lw_bytes = u->lw_bytes, data_bytes = u->data_bytes,
               dec_bytes = u->dec_bytes;
  const uint64_t first = (uint64_t)(rank - 1), stride = (uint64_t)(P - 1);
  const uint64_t nmine = a->nblocks > first ? (a->nblocks - first + stride - 1) / stride : 0;
  double *phi = u->wphi;
  unsigned char *lwm = u->lwm, *dm = u->dm, *cm = u->cm;
  MPI_Request rw[W], rd[W];
  for (int s = 0; s < W; s++) rw[s] = rd[s] = MPI_REQUEST_NULL;
  uint64_t comp = 0, done = 0;
  int ended = 0;
  while (!ended) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Iprobe(0, TAG_C2W, comm, &flag, MPI_STATUS_IGNORE), "MPI_Iprobe");
    if (flag) {
      busy(id);
      msg_hdr h;
      LF_MPI_CHECK(MPI_Recv(cm, (int)dec_bytes, MPI_BYTE, 0, TAG_C2W, comm, MPI_STATUS_IGNORE),
                   "MPI_Recv (decision)");
      memcpy(&h, cm, sizeof h);
      if (h.type != MSG_DECISION) {
        ended = 1; /* END, or ABORT: the coordinator failed and reports it */
        continue;
      }
      const uint64_t b = first + done * stride;
      if (h.block != b || done >= comp) {
        rc = LF_FAIL(LF_ERR_MPI, "decision for block %llu, expected %llu",
                     (unsigned long long)h.block, (unsigned long long)b);
        goto fail;
      }
      const int s = (int)(done % W);
      if ((rc = wait_req(&rd[s], id)) != LF_OK) goto fail;
      if (h.n > 0) {
        unsigned char *m = dm + (size_t)s * data_bytes;
        memcpy(m, &h, sizeof h);
        pack_rows(a->th, a->save, B, phi + (size_t)s * (size_t)B * n, cm + sizeof h,
                  (double *)(void *)(m + sizeof h));
        const size_t bytes = sizeof h + (size_t)h.n * rs * sizeof(double);
        LF_MPI_CHECK(MPI_Isend(m, (int)bytes, MPI_BYTE, 0, TAG_DATA, comm, &rd[s]),
                     "MPI_Isend (stored states)");
      }
      done++;
      continue;
    }
    if (comp < nmine && comp - done < W) {
      busy(id);
      const int s = (int)(comp % W);
      if ((rc = wait_req(&rw[s], id)) != LF_OK) goto fail;
      const uint64_t b = first + comp * stride;
      unsigned char *m = lwm + (size_t)s * lw_bytes;
      msg_hdr h = {b, 0, 0, B, 0};
      memcpy(m, &h, sizeof h);
      propose(src, b, phi + (size_t)s * (size_t)B * n, (double *)(void *)(m + sizeof h));
      LF_MPI_CHECK(MPI_Isend(m, (int)lw_bytes, MPI_BYTE, 0, TAG_LOGW, comm, &rw[s]),
                   "MPI_Isend (log w)");
      comp++;
      continue;
    }
    idle(id);
  }
fail:
  busy(id);
  {
    msg_hdr e = {0, 0, 0, 0, 0};
    if (MPI_Send(&e, (int)sizeof e, MPI_BYTE, 0, TAG_BYE, comm) != MPI_SUCCESS && rc == LF_OK)
      rc = LF_FAIL(LF_ERR_MPI, "MPI_Send (bye)");
  }
  for (int s = 0; s < W; s++) {
    if ((rc2 = wait_req(&rw[s], id)) != LF_OK && rc == LF_OK) rc = rc2;
    if ((rc2 = wait_req(&rd[s], id)) != LF_OK && rc == LF_OK) rc = rc2;
  }
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
  double *phi = NULL, *logw = NULL, *data = NULL;
  uint8_t *flags = NULL;
  int8_t *acc = NULL;
  lf_ens_step *steps = NULL;
  idler id = {0, 0, 0, 0, 0};
  coord co;
  bufs u;
  memset(&co, 0, sizeof co);
  memset(&u, 0, sizeof u);
  memset(res, 0, sizeof *res);
  if (MPI_Comm_rank(comm_in, &rank) != MPI_SUCCESS || MPI_Comm_size(comm_in, &P) != MPI_SUCCESS ||
      MPI_Comm_dup(comm_in, &comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "communicator rank/size/dup");
  const int coordinator = rank == 0, worker = rank > 0 || P == 1;
  rc = bufs_init(&u, a, rank, P);
  if (worker) {
    const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
    if (rc == LF_OK && a->m) rc = lf_proposer_init(&p, a->m, a->th, a->cfg->seed, B);
    if (rc == LF_OK && a->m) src.p = &p;
    src.logq = lf_alloc((size_t)B * sizeof(double));
    src.S = lf_alloc((size_t)B * sizeof(double));
    if (P == 1) {
      phi = lf_alloc((size_t)B * n * sizeof(double));
      logw = lf_alloc((size_t)B * sizeof(double));
      data = lf_alloc((size_t)B * row_size(a->th, a->save) * sizeof(double));
      flags = lf_alloc((size_t)B);
      steps = lf_alloc((size_t)B * sizeof *steps);
      if (rc == LF_OK && (!phi || !logw || !data || !flags || !steps))
        rc = LF_FAIL(LF_ERR_NOMEM, "sampler buffers (block %d)", B);
    }
    if (rc == LF_OK && (!src.logq || !src.S))
      rc = LF_FAIL(LF_ERR_NOMEM, "proposal buffers (block %d)", B);
  }
  if (coordinator) {
    acc = lf_alloc((size_t)B);
    if (rc == LF_OK && !acc) rc = LF_FAIL(LF_ERR_NOMEM, "accept flags (block %d)", B);
    coord_init(&co, a->cfg, acc);
  }
  if ((rc = agree(comm, rc)) != LF_OK) goto fail;
  const double t0 = lf_wtime();
  if (P == 1)
    rc = run_single(a, &src, &co, phi, logw, flags, steps, data, t0);
  else if (coordinator)
    rc = run_coordinator(a, comm, P, &co, &u, &id, t0);
  else
    rc = run_worker(a, comm, rank, P, &src, &u, &id);
  if (coordinator) {
    const uint64_t total = a->nblocks * (uint64_t)B;
    res->seconds = lf_wtime() - t0;
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
  if (coordinator && a->w) lf_ens_set_gen_seconds(a->w, res->seconds);
fail:
  if (stats) {
    memset(stats, 0, sizeof *stats);
    stats->ranks = P;
    stats->idle_seconds = id.wall;
    stats->idle_cpu_seconds = id.cpu;
  }
  bufs_free(&u);
  lf_proposer_free(&p);
  lf_free(src.logq);
  lf_free(src.S);
  lf_free(phi);
  lf_free(logw);
  lf_free(data);
  lf_free(flags);
  lf_free(steps);
  lf_free(acc);
  MPI_Comm_free(&comm);
  return rc;
}

lf_status lf_sample_dist(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                         MPI_Comm comm, lf_sample_cb cb, void *ctx, lf_sample_result *res,
                         lf_dist_stats *stats) {
  const int B = cfg->sample.block;
  if (B < 1) return LF_FAIL(LF_ERR_INVALID, "sample.block must be >= 1, got %d", B);
  run_args a = {cfg,
                th,
                m,
                w,
                cb,
                ctx,
                ((uint64_t)cfg->sample.proposals + (uint64_t)B - 1) / (uint64_t)B,
                cfg->sample.save != LF_SAVE_NONE};
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) a.w = NULL, a.cb = NULL;
  return run(&a, comm, res, stats);
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
    /* one process: decide + rows + decision message + one dummy state per stored row */
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
          pack_rows(NULL, 0, B, NULL, msg + sizeof h, data);
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
    run_args a = {&c, NULL, NULL, NULL, NULL, NULL, 0, 0};
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
