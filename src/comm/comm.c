/* Status agreement across ranks and MPI error messages (latflow/comm.h). */
#include "latflow/comm.h"

#include <stdio.h>

static int failure_agreed;

int lf_comm_severity(lf_status s) {
  if (s == LF_OK) return 0;
  if (s == LF_INTERRUPTED) return 1;
  return 1 + (int)s; /* every failure above LF_INTERRUPTED, in the enum's order */
}

/* The status of a severity (inverse of lf_comm_severity). */
static lf_status of_severity(int v) {
  if (v == 0) return LF_OK;
  if (v == 1) return LF_INTERRUPTED;
  return (lf_status)(v - 1);
}

lf_status lf_comm_agreed(lf_status rc, int worst) {
  if (worst == lf_comm_severity(rc)) return rc;
  const lf_status w = of_severity(worst);
  if (rc == LF_OK)
    return LF_FAIL(w, "another rank %s (status %d: %s); see its message",
                   w == LF_INTERRUPTED ? "was interrupted" : "failed", (int)w, lf_status_str(w));
  return w; /* this rank's own message stays */
}

lf_status lf_comm_agree(MPI_Comm comm, lf_status rc) {
  int mine = lf_comm_severity(rc), worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the status failed");
  const lf_status w = of_severity(worst);
  if (w != LF_OK && w != LF_INTERRUPTED) failure_agreed = 1;
  return lf_comm_agreed(rc, worst);
}

int lf_comm_failure_agreed(void) {
  return failure_agreed;
}

lf_status lf_comm_mpi_fail(int err, const char *file, int line, const char *what) {
  char s[MPI_MAX_ERROR_STRING];
  int l = 0;
  if (MPI_Error_string(err, s, &l) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", err);
  return lf_fail(LF_ERR_MPI, file, line, "%s: %s", what, s);
}
