/* Waiting for MPI messages and requests without spinning a core (latflow/comm.h): a few
 * immediate polls, then nanosleep with a doubling back-off. Open MPI's blocking calls
 * poll at full speed, which would take a core from the ranks that compute. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "latflow/comm.h"

#include "latflow/timer.h"

#include <time.h>

/* This thread's CPU seconds (the idle time that polling costs). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lf_comm_idle(lf_comm_idler *d, int maxshift) {
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

void lf_comm_busy(lf_comm_idler *d) {
  if (d->n == 0) return;
  d->wall += lf_wtime() - d->w0;
  d->cpu += cpu_now() - d->c0;
  d->n = 0;
}

lf_status lf_comm_wait(MPI_Request *r, lf_comm_idler *d, int maxshift) {
  lf_status rc = LF_OK;
  for (;;) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Test(r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) break;
    lf_comm_idle(d, maxshift);
  }
  lf_comm_busy(d);
fail:
  return rc;
}

lf_status lf_comm_wait_msg(MPI_Comm comm, int src, int tag, MPI_Status *st, lf_comm_idler *d) {
  lf_status rc = LF_OK;
  for (;;) {
    int flag = 0;
    LF_MPI_CHECK(MPI_Iprobe(src, tag, comm, &flag, st), "MPI_Iprobe");
    if (flag) break;
    lf_comm_idle(d, LF_COMM_BACKOFF_P2P);
  }
  lf_comm_busy(d);
fail:
  return rc;
}
