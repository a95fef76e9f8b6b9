/* Layering probe (CMakeLists.txt): compiles only where the area is granted MPI. */
#include <mpi.h>

int lf_probe_mpi(void);
int lf_probe_mpi(void) {
  return MPI_SUCCESS;
}
