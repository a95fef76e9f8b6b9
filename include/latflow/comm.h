/* latflow/comm.h — what the ranks of a job say to each other about success and failure,
 * and how a rank waits for them without taking a core.
 *
 * Agreement. Every collective step that can fail on some ranks ends with lf_comm_agree, so
 * all ranks leave it with the same code and none waits in the next collective call for a
 * rank that failed. The code the job reports is the most severe one (lf_comm_severity):
 * LF_OK < LF_INTERRUPTED < LF_ERR_INVALID < LF_ERR_NOMEM < ... < LF_ERR_USAGE, i.e. any
 * failure outranks LF_INTERRUPTED (a job that failed on one rank and was stopped on
 * another is a failed job, not one to resume), and among failures the order of lf_status.
 * A caller that reduces the status together with other flags in one message (the sampler's
 * epoch step, the trainer's step flags) reduces lf_comm_severity with MPI_MAX and calls
 * lf_comm_agreed on the result: the same rule and messages as lf_comm_agree.
 *
 * MPI errors. LF_MPI_FAIL and LF_MPI_CHECK turn an MPI return code into LF_ERR_MPI with
 * MPI's own error text and the caller's file and line.
 *
 * Waiting. Blocking MPI calls busy-poll in Open MPI; a rank that waits for a message or a
 * request uses lf_comm_wait / lf_comm_wait_msg instead: 4 immediate polls (a message is
 * often just arriving), then nanosleep from 2 us doubling up to 2^maxshift us
 * (LF_COMM_BACKOFF_P2P: about 1 ms for point-to-point messages; LF_COMM_BACKOFF_COLL: 64 us
 * for a non-blocking collective, which needs progress on both sides in several rounds).
 * An lf_comm_idler accumulates the idle wall and thread-CPU seconds of its waits.
 *
 * lf_comm_agree is collective over comm; everything else is local (lf_comm_wait_msg
 * probes comm). Nothing here allocates. */
#ifndef LATFLOW_COMM_H
#define LATFLOW_COMM_H

#include <mpi.h>

#include "latflow/status.h"

/* ---- agreement ---- */

/* The rank of s in the agreement: 0 for LF_OK, 1 for LF_INTERRUPTED, above that the
 * failures (in the order of lf_status). */
int lf_comm_severity(lf_status s);

/* Collective over comm: every rank passes its status and gets the most severe one. A rank
 * whose own status was LF_OK but sees another's failure records "another rank failed
 * (status N: name); see its message" ("was interrupted" for LF_INTERRUPTED) and returns
 * that status; a failed or interrupted rank keeps its own message (and its code if that is
 * the most severe). LF_ERR_MPI if the reduction itself fails. */
lf_status lf_comm_agree(MPI_Comm comm, lf_status rc);

/* Local: the agreed status for a rank whose own status is rc, given worst, the MPI_MAX of
 * lf_comm_severity over the ranks (reduced by the caller); the result and messages of
 * lf_comm_agree. It does not count for lf_comm_failure_agreed (the caller's reduction may
 * span only a part of the job). */
lf_status lf_comm_agreed(lf_status rc, int worst);

/* 1 once an lf_comm_agree in this process returned a failure (not LF_INTERRUPTED): every
 * rank of the job saw it at the same collective step and ends on its own, so main
 * finalizes MPI instead of calling MPI_Abort. */
int lf_comm_failure_agreed(void);

/* ---- MPI return codes ---- */

/* Records "<what>: <MPI's text for err>" at file:line and returns LF_ERR_MPI. */
lf_status lf_comm_mpi_fail(int err, const char *file, int line, const char *what);

#define LF_MPI_FAIL(err, what) lf_comm_mpi_fail((err), __FILE__, __LINE__, (what))

/* Runs an MPI call; if it fails, sets rc to LF_ERR_MPI (with MPI's text) and jumps to
 * fail. Use inside functions that declare `lf_status rc` and a `fail:` label (as LF_CHECK). */
#define LF_MPI_CHECK(call, what)                                                                   \
  do {                                                                                             \
    const int lf_mpi_e_ = (call);                                                                  \
    if (lf_mpi_e_ != MPI_SUCCESS) {                                                                \
      rc = LF_MPI_FAIL(lf_mpi_e_, (what));                                                         \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)

/* ---- waiting with back-off ---- */

/* The longest sleep of a wait is 2^maxshift microseconds. */
enum { LF_COMM_BACKOFF_P2P = 10, LF_COMM_BACKOFF_COLL = 6 };

/* One rank's idle time: the current stretch of polls and the accumulated totals. */
typedef struct lf_comm_idler {
  int n;            /* polls in the current idle stretch (0: not idle) */
  double w0, c0;    /* start of the current stretch: wall, thread-CPU seconds */
  double wall, cpu; /* accumulated idle seconds: wall, thread CPU */
} lf_comm_idler;

#define LF_COMM_IDLER_INIT                                                                         \
  { 0, 0.0, 0.0, 0.0, 0.0 }

/* One unsuccessful poll: starts the stretch on the first, returns at once on the first
 * 4, then sleeps 2 us, 4 us, ... up to 2^maxshift us. */
void lf_comm_idle(lf_comm_idler *d, int maxshift);

/* The stretch is over (there was something to do): adds its wall and CPU time. */
void lf_comm_busy(lf_comm_idler *d);

/* Waits for request r with MPI_Test and back-off up to 2^maxshift us. LF_ERR_MPI if
 * MPI_Test fails. */
lf_status lf_comm_wait(MPI_Request *r, lf_comm_idler *d, int maxshift);

/* Waits with MPI_Iprobe and back-off up to LF_COMM_BACKOFF_P2P until a message from src
 * with tag is pending on comm; fills *st (not received). LF_ERR_MPI if MPI_Iprobe fails. */
lf_status lf_comm_wait_msg(MPI_Comm comm, int src, int tag, MPI_Status *st, lf_comm_idler *d);

#endif
