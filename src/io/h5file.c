/* latflow files as wholes (contract: src/io/h5util.h): closing written files safely, the
 * latflow header and /meta, the checked open, file-access property lists and atomic
 * writes (tmp, exclusive create, commit). Provenance follows SWIFT's /Code and
 * /Parameters groups: every file says which code, build and config made it. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* memfd_create (lf_h5_detach) */
#endif
#include "io/h5util.h"

#include "latflow/ckpt.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/study.h"
#include "latflow/version.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- closing written files -------------------------------------------------------------- */

void lf_h5_detach(hid_t file) {
#if defined(__linux__)
  unsigned intent = 0;
  if (file < 0 || H5Fget_intent(file, &intent) < 0 || !(intent & H5F_ACC_RDWR)) return;
  char name[LF_PATH_MAX + 8];
  struct stat want;
  const ssize_t len = H5Fget_name(file, name, sizeof name);
  if (len <= 0 || (size_t)len >= sizeof name || stat(name, &want) != 0) return;
  /* the drivers keep their descriptor private (MPI-IO inside the MPI_File): find every
   * descriptor of this process open on the file and point it at anonymous memory */
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  int sink = -1;
  const int dfd = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = atoi(e->d_name);
    struct stat st;
    if (fd == dfd || fstat(fd, &st) != 0 || st.st_dev != want.st_dev || st.st_ino != want.st_ino)
      continue;
    if (sink < 0) sink = memfd_create("latflow-detached", MFD_CLOEXEC);
    if (sink < 0) break;
    if (dup2(sink, fd) >= 0) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  closedir(d);
  if (sink >= 0) close(sink);
#else
  (void)file; /* elsewhere a failed close may still crash HDF5 1.10 at exit */
#endif
}

lf_status lf_h5_settle(hid_t file, const char *path) {
  unsigned intent = 0;
  if (file < 0 || H5Fget_intent(file, &intent) < 0 || !(intent & H5F_ACC_RDWR)) return LF_OK;
  lf_status rc = lf_h5_flush(file, 0, path, "before closing it");
  if (rc != LF_OK) lf_h5_detach(file);
  return rc;
}

lf_status lf_h5_close(hid_t *file, const char *path) {
  if (*file < 0) return LF_OK;
  lf_status rc = lf_h5_settle(*file, path);
  if (H5Fclose(*file) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", path);
  *file = -1;
  return rc;
}

void lf_h5_discard(hid_t *file) {
  if (*file < 0) return;
  lf_h5_detach(*file);
  H5Fclose(*file);
  *file = -1;
}

/* ---- header and /meta ------------------------------------------------------------------- */

void lf_io_utc_now(char buf[32]) {
  time_t t = time(NULL);
  const char *sde = getenv("SOURCE_DATE_EPOCH"); /* reproducible-builds.org convention */
  if (sde && *sde) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(sde, &end, 10);
    if (errno == 0 && end && *end == '\0' && v >= 0) t = (time_t)v;
  }
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

lf_status lf_h5_write_header(hid_t file, const char *kind, int version, const char *created_utc,
                             const char *path) {
  lf_status rc = LF_OK;
  char now[32];
  if (!created_utc) {
    lf_io_utc_now(now);
    created_utc = now;
  }
  LF_CHECK(lf_h5_attr_write_str(file, "latflow_format", kind, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(file, "format_version", version, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "latflow_version", LATFLOW_VERSION, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "git_rev", LATFLOW_GIT_REV, path, "/"));
  LF_CHECK(lf_h5_attr_write_i32(file, "git_dirty", LATFLOW_GIT_DIRTY, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "compiler", LATFLOW_COMPILER, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "cflags", LATFLOW_CFLAGS, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "build_type", LATFLOW_BUILD_TYPE, path, "/"));
  LF_CHECK(lf_h5_attr_write_str(file, "created_utc", created_utc, path, "/"));
fail:
  return rc;
}

lf_status lf_h5_write_meta(hid_t file, const lf_config *cfg, int ranks, const char *path) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  char *yaml = lf_config_to_yaml(cfg);
  if (!yaml) return LF_FAIL(LF_ERR_NOMEM, "'%s': config as YAML for /meta/config_yaml", path);
  unsigned maj = 0, min = 0, rel = 0;
  char h5v[64], mpiv[MPI_MAX_LIBRARY_VERSION_STRING + 1];
  int mlen = 0;
  if (H5get_libversion(&maj, &min, &rel) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot query the HDF5 library version", path);
    goto fail;
  }
  snprintf(h5v, sizeof h5v, "%u.%u.%u", maj, min, rel);
  /* MPI_Get_library_version may be called before MPI_Init (MPI-3.0, section 8.1.1). */
  if (MPI_Get_library_version(mpiv, &mlen) != MPI_SUCCESS) mlen = 0;
  if (mlen < 0) mlen = 0;
  if (mlen > MPI_MAX_LIBRARY_VERSION_STRING) mlen = MPI_MAX_LIBRARY_VERSION_STRING;
  mpiv[mlen] = '\0';
  while (mlen > 0 && (mpiv[mlen - 1] == '\n' || mpiv[mlen - 1] == ' ' || mpiv[mlen - 1] == '\0'))
    mpiv[--mlen] = '\0';
  const char *blas = openblas_get_config();

  LF_CHECK(lf_h5_group_create(file, "meta", &g, path));
  LF_CHECK(lf_h5_attr_write_str(g, "config_yaml", yaml, path, "/meta"));
  LF_CHECK(lf_h5_attr_write_u64(g, "seed", cfg->seed, path, "/meta"));
  LF_CHECK(lf_h5_attr_write_i32(g, "ranks", ranks, path, "/meta"));
  LF_CHECK(lf_h5_attr_write_str(g, "hdf5_version", h5v, path, "/meta"));
  LF_CHECK(lf_h5_attr_write_str(g, "mpi_version", mlen ? mpiv : "unknown", path, "/meta"));
  LF_CHECK(lf_h5_attr_write_str(g, "openblas_config", blas ? blas : "unknown", path, "/meta"));
fail:
  if (g >= 0 && H5Gclose(g) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /meta", path);
  free(yaml);
  return rc;
}

lf_status lf_h5_read_config(hid_t file, lf_config *cfg, const char *path) {
  lf_status rc = LF_OK;
  hid_t g = -1;
  char *yaml = NULL;
  char source[LF_PATH_MAX]; /* truncated if need be: the parser limits its length */
  LF_CHECK(lf_h5_group_open(file, "meta", &g, path));
  LF_CHECK(lf_h5_attr_read_str(g, "config_yaml", &yaml, path, "/meta"));
  snprintf(source, sizeof source, "%s:/meta/config_yaml", path);
  lf_config_defaults(cfg);
  rc = lf_config_parse_string(cfg, yaml, source);
  /* latflow wrote this text from a valid config: if it no longer reads, the file is damaged
   * (or from a newer latflow), a fault of the file (exit 1), not of the user's card (2) */
  if (rc == LF_ERR_CONFIG) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    rc = lf_fail_msg(LF_ERR_FORMAT, "%s (corrupted file, or written by a newer latflow?)", msg);
  }
fail:
  free(yaml);
  if (g >= 0) H5Gclose(g);
  return rc;
}

int lf_io_kind_version(const char *kind) {
  if (strcmp(kind, "model") == 0) return LF_IO_MODEL_FORMAT_VERSION;
  if (strcmp(kind, "train") == 0) return LF_IO_TRAIN_FORMAT_VERSION;
  if (strcmp(kind, "ensemble") == 0) return LF_IO_ENSEMBLE_FORMAT_VERSION;
  if (strcmp(kind, "checkpoint") == 0) return LF_IO_CKPT_FORMAT_VERSION;
  if (strcmp(kind, "study") == 0) return LF_IO_STUDY_FORMAT_VERSION;
  return 0;
}

/* ---- checked open ----------------------------------------------------------------------- */

lf_status lf_h5_open_latflow(const char *path, const char *expect, hid_t fapl, hid_t *file,
                             char *kind_out, size_t kind_n, int *version_out) {
  lf_status rc = LF_OK;
  hid_t f = -1;
  char *kind = NULL;
  struct stat st;
  *file = -1;
  if (!path || !*path) return LF_FAIL(LF_ERR_INVALID, "empty file name");
  lf_h5_quiet();
  if (stat(path, &st) != 0) {
    int e = errno;
    if (e == ENOENT) return LF_FAIL(LF_ERR_IO, "'%s': no such file", path);
    return LF_FAIL(LF_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
  }
  if (S_ISDIR(st.st_mode))
    return LF_FAIL(LF_ERR_IO, "'%s' is a directory, not a latflow file", path);
  if (access(path, R_OK) != 0)
    return LF_FAIL(LF_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
  if (st.st_size == 0)
    return LF_FAIL(LF_ERR_FORMAT, "'%s' is empty (0 bytes): not an HDF5 file, not a latflow file",
                   path);
#if H5_VERSION_GE(1, 12, 0)
  htri_t is = H5Fis_accessible(path, fapl);
#else
  htri_t is = H5Fis_hdf5(path);
#endif
  if (is < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is not a readable HDF5 file (truncated or corrupted?)",
                      path);
  if (is == 0)
    return LF_FAIL(LF_ERR_FORMAT, "'%s' is not an HDF5 file (so not a latflow file; %lld bytes)",
                   path, (long long)st.st_size);
  /* readers use latflow's driver too: HDF5 then sees a file this process is writing as
   * the same file (an open by another driver would only meet its lock) */
  hid_t rfapl = fapl;
  if (fapl == H5P_DEFAULT) {
    rfapl = H5Pcreate(H5P_FILE_ACCESS);
    const hid_t vfd = rfapl >= 0 ? lf_h5_vfd_id() : -1;
    if (vfd >= 0 && H5Pset_driver(rfapl, vfd, NULL) < 0) {
      H5Pclose(rfapl);
      rfapl = H5P_DEFAULT;
    }
    if (rfapl < 0) rfapl = H5P_DEFAULT;
  }
  f = H5Fopen(path, H5F_ACC_RDONLY, rfapl);
  char h5[512] = "";
  if (f < 0) lf_h5_error_text(h5, sizeof h5); /* before H5Pclose clears the stack */
  if (rfapl != fapl) H5Pclose(rfapl);
  if (f < 0) {
    if (strstr(h5, "unable to lock") || strstr(h5, "lock file"))
      return LF_FAIL(LF_ERR_IO, "'%s' is locked (is a run still writing it?): HDF5: %s", path, h5);
    if (strstr(h5, "close degree")) /* same process: HDF5 shares the open file */
      return LF_FAIL(LF_ERR_IO, "'%s' is open for writing in this process: HDF5: %s", path, h5);
    return LF_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted (HDF5 cannot open it): HDF5: %s",
                   path, h5);
  }
  htri_t has = H5Aexists(f, "latflow_format");
  if (has < 0) {
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted (root group unreadable)", path);
    goto fail;
  }
  if (has == 0) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s' is an HDF5 file but not a latflow file (no root attribute "
                 "latflow_format)",
                 path);
    goto fail;
  }
  LF_CHECK(lf_h5_attr_read_str(f, "latflow_format", &kind, path, "/"));
  if (expect && strcmp(kind, expect) != 0) {
    rc =
        LF_FAIL(LF_ERR_FORMAT, "'%s' is a latflow %s file, expected a %s file", path, kind, expect);
    goto fail;
  }
  int64_t version = 0;
  LF_CHECK(lf_h5_attr_read_i64(f, "format_version", &version, path, "/"));
  int newest = lf_io_kind_version(kind);
  if (version < 1) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': invalid format_version %lld (corrupted file?)", path,
                 (long long)version);
    goto fail;
  }
  if (newest > 0 && version > newest) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s' has %s format_version %lld, newer than %d, the newest this "
                 "latflow %s reads (upgrade latflow)",
                 path, kind, (long long)version, newest, LATFLOW_VERSION);
    goto fail;
  }
  if (kind_out) {
    if (strlen(kind) >= kind_n) {
      rc = LF_FAIL(LF_ERR_INVALID, "'%s': kind '%s' does not fit in %zu bytes", path, kind, kind_n);
      goto fail;
    }
    memcpy(kind_out, kind, strlen(kind) + 1);
  }
  if (version_out) *version_out = (int)version;
  free(kind);
  *file = f;
  return LF_OK;
fail:
  free(kind);
  if (f >= 0) H5Fclose(f);
  return rc;
}

/* ---- atomic writes ---------------------------------------------------------------------- */

lf_status lf_h5_fapl_checksummed(hid_t fapl) {
  /* The 1.8 format: superblock v2 and object headers v2 carry checksums that HDF5 verifies
   * before it decodes them, so a damaged header is refused ("incorrect metadata checksum")
   * instead of being decoded (HDF5 1.10 reads past its buffers on some damaged v1 headers:
   * tests/faults/corrupt_inputs.sh under ASan). Upper bound 1.8: any HDF5 >= 1.8 reads it. */
  if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "cannot set the HDF5 format bounds (1.8)");
  return LF_OK;
}

/* lstat of path: *exists = 0 for a missing path (LF_OK); LF_ERR_IO if lstat fails otherwise. */
static lf_status lstat_path(const char *path, struct stat *st, int *exists) {
  *exists = lstat(path, st) == 0;
  if (*exists || errno == ENOENT) return LF_OK;
  return LF_FAIL(LF_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
}

lf_status lf_io_check_not_symlink(const char *path) {
  struct stat st;
  int exists = 0;
  lf_status rc = lstat_path(path, &st, &exists);
  if (rc != LF_OK || !exists) return rc;
  if (S_ISLNK(st.st_mode))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' is a symbolic link; refusing to write through it (remove it or choose "
                   "another output)",
                   path);
  return LF_OK;
}

lf_status lf_io_remove_stale(const char *path) {
  struct stat st;
  int exists = 0;
  lf_status rc = lstat_path(path, &st, &exists);
  if (rc != LF_OK || !exists) return rc;
  /* only a regular file can be a temporary latflow left behind: a link may point at
   * anything of the user's, so it is neither followed nor removed */
  if (!S_ISREG(st.st_mode))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' exists and is %s, not a file latflow wrote; refusing to replace it "
                   "(remove it yourself)",
                   path, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
  if (unlink(path) != 0 && errno != ENOENT)
    return LF_FAIL(LF_ERR_IO, "cannot remove the stale '%s': %s", path, strerror(errno));
  return LF_OK;
}

lf_status lf_io_create_file(const char *path, FILE **f) {
  *f = NULL;
  lf_status rc = lf_io_remove_stale(path);
  if (rc != LF_OK) return rc;
  /* O_EXCL also fails on a link planted between the removal and this call */
  const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return LF_FAIL(LF_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
  *f = fdopen(fd, "w");
  if (!*f) {
    const int e = errno;
    close(fd);
    unlink(path);
    return LF_FAIL(LF_ERR_IO, "cannot open '%s' as a stream: %s", path, strerror(e));
  }
  return LF_OK;
}

lf_status lf_h5_prepare_tmp(const char *path, int overwrite, char *tmp, size_t tmp_n) {
  struct stat st;
  if (!path || !*path) return LF_FAIL(LF_ERR_INVALID, "empty output file name");
  if (strlen(path) + 5 > tmp_n)
    return LF_FAIL(LF_ERR_INVALID, "output file name too long (%zu bytes, at most %zu): '%s'",
                   strlen(path), tmp_n - 5, path);
  if (lstat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return LF_FAIL(LF_ERR_IO, "'%s' is a directory; cannot write a file there", path);
    lf_status rc = lf_io_check_not_symlink(path);
    if (rc != LF_OK) return rc;
    if (!overwrite)
      return LF_FAIL(LF_ERR_IO,
                     "'%s' exists; refusing to overwrite (use --force or another "
                     "output)",
                     path);
  } else if (errno != ENOENT) {
    return LF_FAIL(LF_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  }
  snprintf(tmp, tmp_n, "%s.tmp", path);
  return lf_io_remove_stale(tmp);
}

lf_status lf_h5_create_excl(const char *tmp, hid_t fapl, hid_t *file) {
  lf_h5_quiet();
  /* H5F_ACC_EXCL is open(O_CREAT|O_EXCL) (MPI_MODE_EXCL on MPI-IO): an existing name,
   * a symbolic link included, fails instead of being truncated through */
  /* the root group untimed too: the 1.8 format stores object times in the header, which
   * would make two runs' files differ (SOURCE_DATE_EPOCH promises byte-identical ones) */
  const hid_t fcpl = lf_h5_untimed_plist(H5P_FILE_CREATE);
  *file = fcpl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  if (*file >= 0) return LF_OK;
  if (!lf_h5_stack_has_write())
    return LF_H5_FAIL(LF_ERR_IO, "cannot create '%s' (it must not exist: another run, or a link?)",
                      tmp);
  /* the exclusive create made the file, then a write into it failed (a full disk): it is
   * ours, and empty of anything worth keeping */
  lf_status rc = LF_H5_FAIL(LF_ERR_IO, "cannot write the new file '%s'", tmp);
  struct stat st;
  if (lstat(tmp, &st) == 0 && S_ISREG(st.st_mode)) unlink(tmp);
  return rc;
}

lf_status lf_h5_create_tmp(const char *path, int overwrite, hid_t fapl, char *tmp, size_t tmp_n,
                           hid_t *file) {
  *file = -1;
  lf_status rc = lf_h5_prepare_tmp(path, overwrite, tmp, tmp_n);
  if (rc != LF_OK) return rc;
  return lf_h5_create_excl(tmp, fapl, file);
}

lf_status lf_io_commit_tmp(const char *tmp, const char *path) {
  int fd = open(tmp, O_RDONLY | O_NOFOLLOW);
  if (fd < 0) return LF_FAIL(LF_ERR_IO, "cannot open '%s' to sync it: %s", tmp, strerror(errno));
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return LF_FAIL(LF_ERR_IO, "cannot sync '%s': %s", tmp, strerror(e));
  }
  if (close(fd) != 0) return LF_FAIL(LF_ERR_IO, "cannot close '%s': %s", tmp, strerror(errno));
  /* rename would replace a link, not write through it, but a link at an output name is
   * someone else's: refuse it rather than drop it silently */
  lf_status rc = lf_io_check_not_symlink(path);
  if (rc != LF_OK) return rc;
  if (rename(tmp, path) != 0)
    return LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  /* Make the rename itself durable: sync the directory entry (EINVAL: not supported). */
  char dir[LF_PATH_MAX + 8];
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, sizeof dir, ".");
  } else if (slash == path) {
    snprintf(dir, sizeof dir, "/");
  } else {
    size_t len = (size_t)(slash - path);
    if (len >= sizeof dir) len = sizeof dir - 1;
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  int dfd = open(dir, O_RDONLY);
  if (dfd < 0) return LF_FAIL(LF_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
  if (fsync(dfd) != 0 && errno != EINVAL) {
    int e = errno;
    close(dfd);
    return LF_FAIL(LF_ERR_IO, "cannot sync directory '%s': %s", dir, strerror(e));
  }
  close(dfd);
  return LF_OK;
}

lf_status lf_h5_write_whole(const char *path, int overwrite, const char *kind, int version,
                            lf_h5_body_fn body, const void *ctx) {
  lf_status rc = LF_OK;
  hid_t fapl = -1, file = -1;
  char tmp[LF_PATH_MAX + 8];
  int created = 0;
  LF_CHECK(lf_h5_fapl_serial(&fapl));
  LF_CHECK(lf_h5_create_tmp(path, overwrite, fapl, tmp, sizeof tmp, &file));
  created = 1;
  LF_CHECK(lf_h5_write_header(file, kind, version, NULL, tmp));
  LF_CHECK(body(file, tmp, ctx));
  LF_CHECK(lf_h5_close(&file, tmp));
  LF_CHECK(lf_io_commit_tmp(tmp, path));
  created = 0;
fail:
  lf_h5_discard(&file);
  if (fapl >= 0) H5Pclose(fapl);
  if (created) unlink(tmp);
  return rc;
}

lf_status lf_h5_fapl_no_evictions(hid_t fapl, const char *path) {
  H5AC_cache_config_t c;
  memset(&c, 0, sizeof c);
  c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  if (H5Pget_mdc_config(fapl, &c) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the metadata cache settings", path);
  c.evictions_enabled = 0;
  c.incr_mode = H5C_incr__off;
  c.flash_incr_mode = H5C_flash_incr__off;
  c.decr_mode = H5C_decr__off;
  if (H5Pset_mdc_config(fapl, &c) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set the metadata cache settings", path);
  return LF_OK;
}
