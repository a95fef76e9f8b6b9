/* tests/unit/ens_test.h: reading ensemble files with plain HDF5 in tests (test_ensemble,
 * test_merge), independently of lf_ens_read. */
#ifndef LATFLOW_TESTS_ENS_TEST_H
#define LATFLOW_TESTS_ENS_TEST_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>

/* Reads /chain_<r>/multiplicity of path (n values) into out; 0 if missing, not 1-D or of
 * another length. */
static inline int ens_test_mult(const char *path, int r, size_t n, int64_t *out) {
  char obj[64];
  snprintf(obj, sizeof obj, "/chain_%d/multiplicity", r);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 0;
  int ok = 0;
  hid_t d = H5Lexists(f, obj, H5P_DEFAULT) > 0 ? H5Dopen2(f, obj, H5P_DEFAULT) : -1;
  if (d >= 0) {
    hid_t sp = H5Dget_space(d);
    hsize_t len = 0;
    ok = H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &len, NULL) == 1 &&
         len == n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    H5Sclose(sp);
    H5Dclose(d);
  }
  H5Fclose(f);
  return ok;
}

#endif
