/* latflow/signal.h: stopping a run cleanly on a signal (DESIGN.md section 8; docs/USER_GUIDE.md
 * "Checkpoints and resume").
 *
 * lf_signal_install() makes SIGTERM, SIGUSR1 and SIGINT set a flag and nothing else (the
 * handler is async-signal-safe: one store to a volatile sig_atomic_t). A second SIGINT
 * kills the process as usual (the handler re-arms SIGINT to its default), so a user at a
 * terminal can always get out. Long loops (training steps, sampling epochs, HMC
 * trajectories) read the flag at their step boundaries through lf_signal_agree, which
 * makes every rank of a communicator see the same answer at the same step: they then
 * write a checkpoint and return LF_INTERRUPTED (the CLI exits with code 3).
 *
 * Test hook: the environment variable LATFLOW_TEST_INTERRUPT="<phase>:<step>:<sig>[:<rank>]"
 * (phase train | sample | hmc; sig TERM, USR1, INT or KILL; rank default: every rank)
 * makes lf_signal_test_hook(phase, step, rank) raise that signal in this process when
 * the loop reaches that step, so tests interrupt runs at exact, reproducible points
 * through the real handler (or die by SIGKILL between checkpoints). Unset, it costs one
 * getenv at the first call.
 *
 * Everything is local except lf_signal_agree and lf_signal_agree_due (collective over
 * comm). */
#ifndef LATFLOW_SIGNAL_H
#define LATFLOW_SIGNAL_H

#include "latflow/status.h"

#include <mpi.h>

/* Installs the handlers (idempotent). LF_ERR_IO if sigaction fails. */
lf_status lf_signal_install(void);
/* The signal number received since the last clear (0: none). */
int lf_signal_pending(void);
void lf_signal_clear(void);
/* Collective over comm (MPI_COMM_NULL or MPI_COMM_SELF: local): *sig = the largest
 * pending signal number over the ranks (0: none). LF_ERR_MPI if the reduction fails. */
lf_status lf_signal_agree(MPI_Comm comm, int *sig);
/* lf_signal_agree plus one more flag reduced the same way, in the same message: *due_all
 * = the largest `due` over the ranks. Wall-clock checkpoints pass rank 0's decision
 * (rank 0's clock; 0 on the other ranks), so every rank takes the same decision at the
 * same step boundary. */
lf_status lf_signal_agree_due(MPI_Comm comm, int due, int *sig, int *due_all);
/* Name of a signal number ("SIGTERM", ...; "signal N" otherwise); static storage. */
const char *lf_signal_name(int sig);
/* Raises the signal of LATFLOW_TEST_INTERRUPT when phase, step and rank match (see above). */
void lf_signal_test_hook(const char *phase, long step, int rank);

#endif
