/* tests/mpi/test_comm.c: the communication helpers (latflow/comm.h) under mpiexec -n P
 * (P = 1, 2, 3, 4). Checks: lf_comm_severity orders LF_OK < LF_INTERRUPTED < every failure,
 * the failures in the order of lf_status; lf_comm_agreed (the local rule) keeps a rank's
 * own code when it is the worst and names the other failure on a rank that was fine;
 * lf_comm_agree over all ranks: all LF_OK gives LF_OK, OK + INTERRUPTED gives
 * LF_INTERRUPTED everywhere (not counted as an agreed failure), OK/INTERRUPTED/HDF5 on
 * three ranks gives LF_ERR_HDF5 everywhere (a numeric MAX of the enum would give
 * LF_INTERRUPTED), the fine rank's message names the HDF5 failure and the failed ranks keep
 * their own, two failures give the more severe one, and lf_comm_failure_agreed turns 1
 * only after an agreed failure; LF_MPI_FAIL carries MPI's text and the caller's file; the
 * back-off waits return for a completed request and a pending message. */
#include "latflow/comm.h"
#include "lftest.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int rank, nranks;

/* 1 if v is the same on every rank. Collective: every rank calls it at the same point
 * (never inside a short-circuited condition, or a failing check would hang the test). */
static int same_everywhere(int v) {
  int lo = v, hi = v;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

/* The severity order, local. */
static void severity_case(void) {
  const lf_status order[] = {LF_OK,      LF_INTERRUPTED, LF_ERR_INVALID, LF_ERR_NOMEM,
                             LF_ERR_IO,  LF_ERR_FORMAT,  LF_ERR_CONFIG,  LF_ERR_HDF5,
                             LF_ERR_MPI, LF_ERR_NUMERIC, LF_ERR_USAGE};
  const int n = (int)(sizeof order / sizeof order[0]);
  CHECK(lf_comm_severity(LF_OK) == 0 && lf_comm_severity(LF_INTERRUPTED) == 1,
        "r%d: severity OK %d, INTERRUPTED %d (want 0, 1)", rank, lf_comm_severity(LF_OK),
        lf_comm_severity(LF_INTERRUPTED));
  int increasing = 1;
  for (int i = 1; i < n; i++)
    if (lf_comm_severity(order[i]) <= lf_comm_severity(order[i - 1])) increasing = 0;
  CHECK(increasing, "r%d: severity increases OK < INTERRUPTED < INVALID < ... < USAGE", rank);
  int named = 1; /* every code has its own text, and an unknown value says so */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(lf_status_str(order[i]), lf_status_str(order[j])) == 0) named = 0;
  CHECK(named && strcmp(lf_status_str(LF_ERR_HDF5), "HDF5 error") == 0 &&
            strcmp(lf_status_str((lf_status)99), "unknown status") == 0 &&
            strcmp(lf_status_str((lf_status)-1), "unknown status") == 0,
        "r%d: lf_status_str names each code once (HDF5: '%s', 99: '%s')", rank,
        lf_status_str(LF_ERR_HDF5), lf_status_str((lf_status)99));
  CHECK(lf_comm_severity(LF_ERR_INVALID) > lf_comm_severity(LF_INTERRUPTED) &&
            lf_comm_severity(LF_ERR_HDF5) > lf_comm_severity(LF_INTERRUPTED),
        "r%d: every failure outranks LF_INTERRUPTED (HDF5 %d > INTERRUPTED %d)", rank,
        lf_comm_severity(LF_ERR_HDF5), lf_comm_severity(LF_INTERRUPTED));
}

/* The local rule, without communication. */
static void agreed_case(void) {
  const int hdf5 = lf_comm_severity(LF_ERR_HDF5);
  lf_clear_error();
  lf_status rc = lf_comm_agreed(LF_OK, hdf5);
  CHECK(rc == LF_ERR_HDF5 && strstr(lf_last_error(), "another rank failed") &&
            strstr(lf_last_error(), lf_status_str(LF_ERR_HDF5)),
        "r%d: agreed(OK, HDF5) = %d, message '%s'", rank, (int)rc, lf_last_error());
  lf_fail_msg(LF_INTERRUPTED, "test: my own interrupt");
  rc = lf_comm_agreed(LF_INTERRUPTED, hdf5);
  CHECK(rc == LF_ERR_HDF5 && strcmp(lf_last_error(), "test: my own interrupt") == 0,
        "r%d: agreed(INTERRUPTED, HDF5) = %d, own message kept: '%s'", rank, (int)rc,
        lf_last_error());
  lf_fail_msg(LF_ERR_IO, "test: my own io");
  rc = lf_comm_agreed(LF_ERR_IO, lf_comm_severity(LF_ERR_IO));
  CHECK(rc == LF_ERR_IO && strcmp(lf_last_error(), "test: my own io") == 0,
        "r%d: agreed(IO, IO) = %d, message '%s'", rank, (int)rc, lf_last_error());
  rc = lf_comm_agreed(LF_OK, 0);
  CHECK(rc == LF_OK, "r%d: agreed(OK, OK) = %d", rank, (int)rc);
  CHECK(!lf_comm_failure_agreed(), "r%d: lf_comm_agreed alone does not mark a failure agreed",
        rank);
}

/* lf_comm_agree over MPI_COMM_WORLD with mixed statuses. */
static void agree_case(void) {
  lf_status rc = lf_comm_agree(MPI_COMM_WORLD, LF_OK);
  int same = same_everywhere((int)rc);
  CHECK(rc == LF_OK && same, "np%d r%d: all OK -> %d", nranks, rank, (int)rc);
  CHECK(!lf_comm_failure_agreed(), "np%d r%d: no failure agreed after all OK", nranks, rank);

  /* OK + INTERRUPTED (1 rank: INTERRUPTED alone) */
  lf_status mine = rank == nranks - 1 ? LF_INTERRUPTED : LF_OK;
  if (mine != LF_OK) lf_fail_msg(mine, "test: rank %d interrupted", rank);
  rc = lf_comm_agree(MPI_COMM_WORLD, mine);
  same = same_everywhere((int)rc);
  CHECK(rc == LF_INTERRUPTED && same, "np%d r%d: OK + INTERRUPTED -> %d (want %d), message '%s'",
        nranks, rank, (int)rc, (int)LF_INTERRUPTED, lf_last_error());
  CHECK(!lf_comm_failure_agreed(), "np%d r%d: an agreed interrupt is not an agreed failure", nranks,
        rank);

  /* OK / INTERRUPTED / HDF5 on ranks 0 / 1 / 2 (fewer ranks: the last ones of the list) */
  const lf_status mix[3] = {LF_OK, LF_INTERRUPTED, LF_ERR_HDF5};
  const int k = nranks >= 3 ? (rank < 3 ? rank : 0) : 3 - nranks + rank;
  mine = mix[k];
  lf_clear_error();
  if (mine == LF_INTERRUPTED) lf_fail_msg(mine, "test: rank %d interrupted", rank);
  if (mine == LF_ERR_HDF5) lf_fail_msg(mine, "test: rank %d hdf5 failure", rank);
  rc = lf_comm_agree(MPI_COMM_WORLD, mine);
  same = same_everywhere((int)rc);
  char want[64];
  snprintf(want, sizeof want, "test: rank %d", rank);
  const int msg_ok = mine == LF_OK ? strstr(lf_last_error(), "another rank failed") &&
                                         strstr(lf_last_error(), lf_status_str(LF_ERR_HDF5))
                                   : strstr(lf_last_error(), want) != NULL;
  CHECK(rc == LF_ERR_HDF5 && same && msg_ok,
        "np%d r%d: own %d in OK/INTERRUPTED/HDF5 -> %d (want %d), message '%s'", nranks, rank,
        (int)mine, (int)rc, (int)LF_ERR_HDF5, lf_last_error());
  CHECK(lf_comm_failure_agreed(), "np%d r%d: the HDF5 failure counts as agreed", nranks, rank);

  /* two failures: MPI on rank 0, USAGE on the last rank -> USAGE (1 rank: USAGE) */
  mine = rank == nranks - 1 ? LF_ERR_USAGE : rank == 0 ? LF_ERR_MPI : LF_OK;
  rc = lf_comm_agree(MPI_COMM_WORLD, mine);
  same = same_everywhere((int)rc);
  CHECK(rc == LF_ERR_USAGE && same, "np%d r%d: own %d in MPI/USAGE -> %d", nranks, rank, (int)mine,
        (int)rc);
}

/* LF_MPI_FAIL and LF_MPI_CHECK: the code, MPI's text, the caller's file. */
static lf_status check_macro(void) {
  lf_status rc = LF_OK;
  LF_MPI_CHECK(MPI_ERR_COUNT, "test call");
fail:
  return rc;
}

static void mpi_error_case(void) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(MPI_ERR_COUNT, text, &len);
  const lf_status rc = LF_MPI_FAIL(MPI_ERR_COUNT, "test what");
  CHECK(rc == LF_ERR_MPI && strstr(lf_last_error(), "test what") && strstr(lf_last_error(), text) &&
            strstr(lf_last_error(), "test_comm.c"),
        "r%d: LF_MPI_FAIL -> %d, '%s'", rank, (int)rc, lf_last_error());
  const lf_status rc2 = check_macro();
  CHECK(rc2 == LF_ERR_MPI && strstr(lf_last_error(), "test call"), "r%d: LF_MPI_CHECK -> %d, '%s'",
        rank, (int)rc2, lf_last_error());
}

/* The back-off waits: a non-blocking barrier, and a message to the next rank. */
static void wait_case(void) {
  lf_comm_idler id = LF_COMM_IDLER_INIT;
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  lf_status rc = lf_comm_wait(&req, &id, LF_COMM_BACKOFF_COLL);
  CHECK(rc == LF_OK && req == MPI_REQUEST_NULL && id.n == 0 && id.wall >= 0.0,
        "r%d: lf_comm_wait(Ibarrier) -> %d, idle %.6f s", rank, (int)rc, id.wall);
  const int to = (rank + 1) % nranks, from = (rank + nranks - 1) % nranks;
  int out = 1000 + rank, in = -1;
  MPI_Isend(&out, 1, MPI_INT, to, 77, MPI_COMM_WORLD, &req);
  MPI_Status st;
  rc = lf_comm_wait_msg(MPI_COMM_WORLD, from, 77, &st, &id);
  if (rc == LF_OK) MPI_Recv(&in, 1, MPI_INT, from, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  const lf_status rc2 = lf_comm_wait(&req, &id, LF_COMM_BACKOFF_P2P);
  CHECK(rc == LF_OK && rc2 == LF_OK && st.MPI_SOURCE == from && in == 1000 + from,
        "r%d: lf_comm_wait_msg from %d -> %d, got %d (want %d)", rank, from, (int)rc, in,
        1000 + from);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  severity_case();
  agreed_case();
  agree_case();
  mpi_error_case();
  wait_case();
  int fails = lf_test_failures, worst = 0;
  MPI_Allreduce(&fails, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) lf_test_result();
  MPI_Finalize();
  return worst ? 1 : 0;
}
