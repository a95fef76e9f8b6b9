/* src/sample/dist.c: the distributed sampler, rank 0 coordinating, ranks 1..P-1 working
 * (contract: latflow/dist.h; protocol: docs/ARCHITECTURE.md "Distributed sampling
 * protocol"). The decide/pack/store steps are the ones lf_sample_run does inline, split
 * so that one rank (P = 1) or P ranks run the same arithmetic in the same order: the
 * output file cannot depend on P. This file sets the run up, runs the single-rank loop or
 * the roles (dist_coord.c, dist_worker.c; the epoch step in dist_epoch.c) and agrees on
 * the result; the pieces they share are in dist_impl.h. */
#include "dist_impl.h"

#include "latflow/log.h"
#include "latflow/timer.h"

#include <stdint.h>
#include <string.h>

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
      lf_dist_propose(src, b, phi, logw);
      const int nst =
          lf_dist_coord_decide(sh->co, b, logw, flags, sh->eb.steps + sh->eb.nsteps, &ns, &first);
      sh->eb.nsteps += ns;
      rc0 = lf_dist_pack_rows(&sh->eb, a->th, B, phi, flags, nst, first);
      const uint64_t done = (b + 1) * (uint64_t)B;
      if (rc0 == LF_OK && a->o.cb &&
          a->o.cb(&sh->co->c, done, total, lf_wtime() - sh->t0, a->o.ctx))
        rc0 = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                      (unsigned long long)done);
    }
    sh->since += (ee - eb) * (uint64_t)B;
    if ((rc = lf_dist_epoch_end(a, comm, 0, sh, ee, rc0)) != LF_OK) return rc;
    eb = ee;
  }
  return LF_OK;
}

/* Allocates the buffers of this rank's role (nothing with P = 1); see bufs. */
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

/* Frees what bufs_init allocated and zeroes u. */
static void bufs_free(bufs *u) {
  LF_FREE_ALL(u->decs, u->reqs, u->recvd, u->rbuf, u->wphi, u->lwm, u->cm);
  memset(u, 0, sizeof *u);
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
  lf_comm_idler id = LF_COMM_IDLER_INIT;
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
  lf_dist_ebuf_init(&sh.eb, a->th, a->save);
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
    lf_dist_coord_init(&co, a->cfg, acc);
    if (a->o.resume) {
      co.c = a->o.resume->imh;
      co.es = a->o.resume->ess;
      co.next_row = a->o.resume->rows;
    }
    sh.co = &co;
  }
  sh.steps = a->o.resume ? a->o.resume->steps : 0;
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) goto fail;
  sh.t0 = lf_wtime();
  sh.last_ckpt = sh.t0;
  sh.id = &id;
  if (P == 1)
    rc = run_single(a, comm, &src, &sh, phi, logw, flags);
  else if (coordinator)
    rc = lf_dist_run_coordinator(a, comm, P, &sh, &u, &id);
  else
    rc = lf_dist_run_worker(a, comm, rank, P, &src, &sh, &u, &id);
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
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) goto fail;
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
  lf_dist_ebuf_free(&sh.eb);
  bufs_free(&u);
  lf_proposer_free(&p);
  LF_FREE_ALL(src.logq, src.S, phi, logw, flags, acc);
  MPI_Comm_free(&comm);
  return rc;
}

/* Checks the run's shape, then run() (latflow/dist.h). */
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
  /* the run draws whole blocks (each block's proposals come from its own counter-based
   * stream, so P ranks give the file of one): say so when that is more than asked for */
  if (opts && (uint64_t)cfg->sample.proposals % (uint64_t)B) /* not the benchmark */
    lf_log_info("sample",
                "sample.proposals = %ld is not a multiple of sample.block = %d: drawing %llu whole "
                "blocks = %llu proposals (set sample.proposals to a multiple of sample.block for "
                "an exact count)",
                cfg->sample.proposals, B, (unsigned long long)a.nblocks,
                (unsigned long long)(a.nblocks * (uint64_t)B));
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

/* The coordinator alone, then the protocol with synthetic workers (latflow/dist.h). */
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
      for (int k = 0; k < POOL; k++)
        lf_dist_propose(&s, (uint64_t)k, NULL, lw + (size_t)k * (size_t)B);
      coord co;
      lf_dist_coord_init(&co, cfg, acc);
      uint64_t b = 0, stored = 0;
      const double t0 = lf_wtime();
      double dt = 0.0;
      while (dt < seconds || b < 16) {
        for (int k = 0; k < 16; k++, b++) {
          msg_hdr h = {b, 0, MSG_DECISION, 0, 0};
          size_t ns;
          h.n = lf_dist_coord_decide(&co, b, lw + (size_t)(b % POOL) * (size_t)B, msg + sizeof h,
                                     steps, &ns, &h.first_row);
          memcpy(msg, &h, sizeof h);
          stored += (uint64_t)h.n + ns;
        }
        dt = lf_wtime() - t0;
      }
      rates[0] = (double)b * (double)B / dt;
      (void)stored;
    }
    LF_FREE_ALL(lw, msg, data, steps, acc);
  }
  if ((rc = lf_comm_agree(comm, rc)) != LF_OK) return rc;
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
