/* The kind of any latflow file (contract: latflow/io.h). */
#include "latflow/io.h"

#include "io/h5util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

lf_status lf_io_file_kind(const char *path, char *kind, size_t n) {
  hid_t file = -1;
  if (!kind || n == 0) return LF_FAIL(LF_ERR_INVALID, "lf_io_file_kind: no output buffer");
  kind[0] = '\0';
  lf_status rc = lf_h5_open_latflow(path, NULL, H5P_DEFAULT, &file, kind, n, NULL);
  if (rc == LF_OK) H5Fclose(file);
  return rc;
}

lf_status lf_io_input_check(const char *path, const char *what) {
  struct stat st;
  if (!path || !*path) return lf_fail_msg(LF_ERR_USAGE, "%s: empty file name", what);
  if (stat(path, &st) != 0)
    return lf_fail_msg(LF_ERR_USAGE, "%s '%s': %s", what, path, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return lf_fail_msg(LF_ERR_USAGE, "%s '%s' is a directory, not a file", what, path);
  if (access(path, R_OK) != 0)
    return lf_fail_msg(LF_ERR_USAGE, "%s '%s': cannot read: %s", what, path, strerror(errno));
  return LF_OK;
}
