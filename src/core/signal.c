/* Signal flag and the test hook (contract: latflow/signal.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "latflow/signal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t pending = 0;
static int installed = 0;

static void on_signal(int sig) {
  pending = sig;
  if (sig == SIGINT) signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills */
}

lf_status lf_signal_install(void) {
  if (installed) return LF_OK;
  const int sigs[3] = {SIGTERM, SIGUSR1, SIGINT};
  for (int i = 0; i < 3; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sigs[i], &sa, NULL) != 0)
      return LF_FAIL(LF_ERR_IO, "cannot install the handler of %s: %s", lf_signal_name(sigs[i]),
                     strerror(errno));
  }
  installed = 1;
  return LF_OK;
}

int lf_signal_pending(void) {
  return (int)pending;
}

void lf_signal_clear(void) {
  pending = 0;
}

lf_status lf_signal_agree(MPI_Comm comm, int *sig) {
  int mine = (int)pending, all = mine, size = 1;
  *sig = mine;
  if (comm == MPI_COMM_NULL || comm == MPI_COMM_SELF) return LF_OK;
  if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the communicator");
  if (size == 1) return LF_OK;
  if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the signal flags failed");
  *sig = all;
  return LF_OK;
}

lf_status lf_signal_agree_due(MPI_Comm comm, int due, int *sig, int *due_all) {
  int mine[2] = {(int)pending, due}, all[2] = {mine[0], mine[1]}, size = 1;
  *sig = mine[0];
  *due_all = mine[1];
  if (comm == MPI_COMM_NULL || comm == MPI_COMM_SELF) return LF_OK;
  if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "cannot query the communicator");
  if (size == 1) return LF_OK;
  if (MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the signal flags failed");
  *sig = all[0];
  *due_all = all[1];
  return LF_OK;
}

const char *lf_signal_name(int sig) {
  static char buf[32];
  switch (sig) {
  case SIGTERM:
    return "SIGTERM";
  case SIGUSR1:
    return "SIGUSR1";
  case SIGINT:
    return "SIGINT";
  case SIGKILL:
    return "SIGKILL";
  }
  snprintf(buf, sizeof buf, "signal %d", sig);
  return buf;
}

/* LATFLOW_TEST_INTERRUPT, parsed once: phase, step, signal, rank (-1: all). */
static struct {
  int parsed, sig, rank;
  long step;
  char phase[16];
} hook;

static void parse_hook(void) {
  hook.parsed = 1;
  hook.sig = 0;
  const char *s = getenv("LATFLOW_TEST_INTERRUPT");
  if (!s || !*s) return;
  char ph[16], sg[16];
  long step = 0;
  int rank = -1;
  const int n = sscanf(s, "%15[^:]:%ld:%15[^:]:%d", ph, &step, sg, &rank);
  if (n < 3) {
    fprintf(stderr, "latflow: ignoring malformed LATFLOW_TEST_INTERRUPT='%s'\n", s);
    return;
  }
  int sig = !strcmp(sg, "TERM")   ? SIGTERM
            : !strcmp(sg, "USR1") ? SIGUSR1
            : !strcmp(sg, "INT")  ? SIGINT
            : !strcmp(sg, "KILL") ? SIGKILL
                                  : 0;
  if (!sig) {
    fprintf(stderr, "latflow: ignoring LATFLOW_TEST_INTERRUPT signal '%s'\n", sg);
    return;
  }
  snprintf(hook.phase, sizeof hook.phase, "%s", ph);
  hook.step = step;
  hook.sig = sig;
  hook.rank = n >= 4 ? rank : -1;
}

void lf_signal_test_hook(const char *phase, long step, int rank) {
  if (!hook.parsed) parse_hook();
  if (!hook.sig || step != hook.step || strcmp(phase, hook.phase) != 0) return;
  if (hook.rank >= 0 && hook.rank != rank) return;
  raise(hook.sig);
}
