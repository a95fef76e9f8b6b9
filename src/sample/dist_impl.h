/* src/sample/dist_impl.h: the pieces of the distributed sampler (latflow/dist.h) shared by
 * its files, private to src/sample:
 *   dist.c        setup, the single-rank loop, the whole run, lf_sample_dist, lf_dist_bench
 *   dist_coord.c  the coordinator: the decide arithmetic (also P = 1) and its message loop
 *   dist_worker.c the proposals and the worker's message loop
 *   dist_epoch.c  the epoch buffers, the collective epoch step, the checkpointed state
 * Message layout and protocol: docs/ARCHITECTURE.md "Distributed sampling protocol". */
#ifndef LATFLOW_SAMPLE_DIST_IMPL_H
#define LATFLOW_SAMPLE_DIST_IMPL_H

#include "latflow/comm.h"
#include "latflow/dist.h"

#include <stddef.h>
#include <stdint.h>

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

/* ---- the coordinator's arithmetic (dist_coord.c; shared by P = 1 and P > 1) ---- */

typedef struct coord {
  lf_imh c;
  lf_ess_acc es;
  int reweight, save_all, B;
  int64_t next_row; /* rows assigned so far */
  int8_t *acc;      /* (B) scratch, borrowed */
} coord;

void lf_dist_coord_init(coord *co, const lf_config *cfg, int8_t *acc);

/* Decides block b exactly as lf_sample_run does: flags[i] (FLAG_ACC, FLAG_STORE), the chain
 * steps of the block, *first_row; returns the number of stored proposals. */
int lf_dist_coord_decide(coord *co, uint64_t b, const double *logw, uint8_t *flags,
                         lf_ens_step *steps, size_t *nsteps, int64_t *first_row);

/* ---- the epoch buffers (dist_epoch.c): stored states of this rank, chain steps of the
 * coordinator ---- */

typedef struct epoch_buf {
  size_t nobs, ncorr, nphi; /* per stored state (nphi 0 unless saved) */
  size_t nruns, cap_runs;
  int64_t *first, *count;
  size_t nrows, cap_rows;
  double *obs, *corr, *phi;
  size_t nsteps; /* steps holds sample.epoch x block records */
  lf_ens_step *steps;
} epoch_buf;

void lf_dist_ebuf_init(epoch_buf *e, const lf_theory *th, int save);
void lf_dist_ebuf_free(epoch_buf *e);

/* The worker's part: the stored states of block (flags), rows first.., into the epoch. */
lf_status lf_dist_pack_rows(epoch_buf *e, const lf_theory *th, int B, const double *phi,
                            const uint8_t *flags, int nst, int64_t first);

/* ---- proposals (dist_worker.c): the flow, or synthetic log w for the benchmark ---- */

typedef struct source {
  lf_proposer *p; /* NULL: synthetic */
  lf_rng_key key;
  int B;
  double *logq, *S; /* (B) */
} source;

/* Block b: phi (B, C*V) (unused when synthetic) and logw (B). */
void lf_dist_propose(source *s, uint64_t b, double *phi, double *logw);

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

/* What every rank keeps about the run (co: rank 0 only). */
typedef struct shared {
  coord *co;
  epoch_buf eb;      /* this rank's stored states and (rank 0) the epoch's chain steps */
  uint64_t since;    /* proposals since the last checkpoint (the same on every rank) */
  int64_t steps;     /* chain steps written (rank 0's count is broadcast) */
  double t0;         /* start of this call */
  double last_ckpt;  /* rank 0: wall clock of the last checkpoint (or t0) */
  int abort_sent;    /* rank 0 sent ABORT to every worker (agreed in epoch_end) */
  lf_comm_idler *id; /* this rank's waiting: the epoch collectives wait with back-off too */
} shared;

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

/* The collective step that ends the epoch before block `next` (dist_epoch.c): rc0 is this
 * rank's status of the epoch. Returns the agreed status; LF_INTERRUPTED after a signal. */
lf_status lf_dist_epoch_end(const run_args *a, MPI_Comm comm, int rank, shared *sh, uint64_t next,
                            lf_status rc0);

/* The roles with P > 1 (dist_coord.c, dist_worker.c): every epoch of [b0, nblocks), then
 * the shutdown (BYE, drained messages). */
lf_status lf_dist_run_coordinator(const run_args *a, MPI_Comm comm, int P, shared *sh, bufs *u,
                                  lf_comm_idler *id);
lf_status lf_dist_run_worker(const run_args *a, MPI_Comm comm, int rank, int P, source *src,
                             shared *sh, bufs *u, lf_comm_idler *id);

#endif
