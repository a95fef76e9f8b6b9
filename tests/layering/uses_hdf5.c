/* Layering probe (CMakeLists.txt): compiles only where the area is granted HDF5. */
#include <hdf5.h>

int lf_probe_hdf5(void);
int lf_probe_hdf5(void) {
  return (int)H5P_DEFAULT;
}
