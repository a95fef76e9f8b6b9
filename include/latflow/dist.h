/* latflow/dist.h: the distributed IMH / reweighting sampler (DESIGN.md section 5,
 * docs/ARCHITECTURE.md "Distributed sampling protocol").
 *
 * Under a communicator of P ranks, rank 0 coordinates and ranks 1..P-1 work (P = 1:
 * rank 0 does both, through the same decide/pack/store functions). Block b of
 * cfg->sample.block proposals (latflow/sample.h: a pure function of seed, model and b)
 * is computed by worker 1 + b % (P-1). A worker keeps phi of at most LF_DIST_WINDOW
 * pending blocks and sends the coordinator one message per block: (b, B log weights).
 * The coordinator consumes blocks strictly in order, runs lf_imh_decide (or the
 * reweighting rule), assigns ensemble rows to the stored proposals in order, and sends
 * the owner (b, first row, per-proposal flags). The owner answers with the observables,
 * correlator and (when configurations are saved) the field of the stored proposals only;
 * the coordinator appends them and the chain steps to its serial writer in row order.
 * The file is therefore bitwise the one lf_sample_run writes, for every P (apart from
 * created_utc and gen_seconds). Idle ranks poll with nanosleep back-off (no busy wait).
 *
 * Memory per worker: LF_DIST_WINDOW x (B x C*V) doubles; coordinator: a bounded number
 * of decided-but-unstored blocks (LF_DIST_WINDOW x (P-1)) of B chain steps each, plus one
 * receive buffer of at most B stored states.
 *
 * Errors: a failure on the coordinator (writer, callback stop) is sent to the workers,
 * which drain the protocol and return; every rank then returns the same code
 * (MPI_Allreduce MAX). Workers do not fail after setup. MPI errors are LF_ERR_MPI. */
#ifndef LATFLOW_DIST_H
#define LATFLOW_DIST_H

#include "latflow/config.h"
#include "latflow/ensemble.h"
#include "latflow/model.h"
#include "latflow/sample.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <mpi.h>

#define LF_DIST_WINDOW 4 /* pending blocks per worker */

/* What this rank measured about its waiting (the coordinator's figures on rank 0). */
typedef struct lf_dist_stats {
  int ranks;               /* P */
  double idle_seconds;     /* wall time this rank spent waiting for messages */
  double idle_cpu_seconds; /* CPU time of its thread during those waits */
} lf_dist_stats;

/* Collective over comm. m and th on every rank (the same model), w the open writer on
 * rank 0 (ignored elsewhere; may be NULL there). cb/ctx are called on rank 0 only, after
 * each stored block; nonzero stops the run (LF_ERR_INVALID on every rank). res is filled
 * on every rank (broadcast from rank 0); stats may be NULL. Errors: LF_ERR_NOMEM,
 * LF_ERR_MPI, writer errors (agreed on all ranks). */
lf_status lf_sample_dist(const lf_config *cfg, lf_model *m, const lf_theory *th, lf_ens_writer *w,
                         MPI_Comm comm, lf_sample_cb cb, void *ctx, lf_sample_result *res,
                         lf_dist_stats *stats);

/* The coordinator's throughput on synthetic blocks (log w ~ N(0, 2^2) from Philox, no
 * flow, observables zero, nothing written) of cfg->sample.block weights, IMH with
 * cfg->sample.save:
 *   *local_per_s: one process, a loop over decide + row assignment + decision packing
 *                 (+ unpacking the stored states) for about `seconds` (rank 0);
 *   *mpi_per_s:   the full protocol with P-1 workers sending synthetic blocks (0 when
 *                 P = 1).
 * Collective over comm; results on every rank. */
lf_status lf_dist_bench(const lf_config *cfg, MPI_Comm comm, double seconds, double *local_per_s,
                        double *mpi_per_s, lf_dist_stats *stats);

#endif
