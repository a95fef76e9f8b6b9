/* latflow/comm.h — what the ranks of a job say to each other about success and failure.
 *
 * Every collective step that can fail on some ranks ends with lf_comm_agree, so all ranks
 * leave it with the same code and none waits in the next collective call for a rank that
 * failed. The code the job reports is the most severe one (lf_comm_severity): any failure
 * outranks LF_INTERRUPTED (a job that failed on one rank and was stopped on another is a
 * failed job, not one to resume), and LF_INTERRUPTED outranks LF_OK. */
#ifndef LATFLOW_COMM_H
#define LATFLOW_COMM_H

#include <mpi.h>

#include "latflow/status.h"

/* The rank of s in the agreement: 0 for LF_OK, 1 for LF_INTERRUPTED, above that the
 * failures (in the order of lf_status). */
int lf_comm_severity(lf_status s);

/* Collective over comm: every rank passes its status and gets the most severe one. A rank
 * whose own status was LF_OK but sees another's failure records "another rank failed
 * (status N: name); see its message" and returns that status; a failed rank keeps its own
 * message and code if it is the most severe. LF_ERR_MPI if the reduction itself fails. */
lf_status lf_comm_agree(MPI_Comm comm, lf_status rc);

/* 1 once an lf_comm_agree in this process returned a failure (not LF_INTERRUPTED): every
 * rank of the job saw it at the same collective step and ends on its own, so main
 * finalizes MPI instead of calling MPI_Abort. */
int lf_comm_failure_agreed(void);

#endif
