/* The kind of any latflow file (contract: latflow/io.h). */
#include "latflow/io.h"

#include "io/h5util.h"

lf_status lf_io_file_kind(const char *path, char *kind, size_t n) {
  hid_t file = -1;
  if (!kind || n == 0) return LF_FAIL(LF_ERR_INVALID, "lf_io_file_kind: no output buffer");
  kind[0] = '\0';
  lf_status rc = lf_h5_open_latflow(path, NULL, H5P_DEFAULT, &file, kind, n, NULL);
  if (rc == LF_OK) H5Fclose(file);
  return rc;
}
