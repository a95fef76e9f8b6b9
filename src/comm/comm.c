/* Status agreement across ranks (latflow/comm.h). */
#include "latflow/comm.h"

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

lf_status lf_comm_agree(MPI_Comm comm, lf_status rc) {
  int mine = lf_comm_severity(rc), worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "MPI_Allreduce of the status failed");
  const lf_status w = of_severity(worst);
  if (w != LF_OK && w != LF_INTERRUPTED) failure_agreed = 1;
  if (worst == mine) return rc;
  if (rc == LF_OK)
    return LF_FAIL(w, "another rank failed (status %d: %s); see its message", (int)w,
                   lf_status_str(w));
  return w;
}

int lf_comm_failure_agreed(void) {
  return failure_agreed;
}
