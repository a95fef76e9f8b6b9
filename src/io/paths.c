/* Paths and folders of a run's output (contract: latflow/io.h, "paths and folders"):
 * joining a folder and a name, existence, mkdir -p, removing a checkpoint's files. The
 * drivers in the library (the HMC driver) use these instead of the command line's own. */
#include "latflow/io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

lf_status lf_io_path_join(char *out, size_t n, const char *dir, const char *name) {
  const int k = snprintf(out, n, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= n) return LF_FAIL(LF_ERR_INVALID, "path too long: %s/%s", dir, name);
  return LF_OK;
}

int lf_io_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

lf_status lf_io_mkdirs(const char *dir) {
  char buf[LF_PATH_MAX];
  if (strlen(dir) >= sizeof buf) return LF_FAIL(LF_ERR_INVALID, "path too long: %s", dir);
  strcpy(buf, dir);
  /* each leading component in turn (mkdir -p); one that exists already is fine */
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return LF_FAIL(LF_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return LF_FAIL(LF_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
  return LF_OK;
}

lf_status lf_io_remove_checkpoints(const char *path) {
  char other[LF_PATH_MAX + 16];
  const char *sfx[3] = {"", ".prev", ".tmp"};
  for (int i = 0; i < 3; i++) {
    snprintf(other, sizeof other, "%s%s", path, sfx[i]);
    const lf_status rc = lf_io_remove_stale(other);
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}
