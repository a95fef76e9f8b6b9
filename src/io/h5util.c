/* HDF5 helpers of the io module: error mapping, attributes, 1-D datasets, the latflow
 * header and /meta, checked opening and atomic writes (contract: src/io/h5util.h).
 * Provenance follows SWIFT's /Code and /Parameters groups: every file says which code,
 * build and config made it. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* memfd_create (lf_h5_detach) */
#endif
#include "io/h5util.h"

#include "latflow/ckpt.h"

#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/version.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ----------------------------------------------------------------------------- */

void lf_h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct walk_ctx {
  char desc[400];
  char func[96];
  int found;
  int err;   /* errno a driver reported in any entry ("errno = N"), else 0 */
  int write; /* some entry is a failed write */
} walk_ctx;

/* H5E_WALK_UPWARD starts at the most specific error (n == 0): keep that one. The sec2
 * driver puts errno in its description ("..., errno = 28, error message = '...', ..."):
 * take the number, so the message can say what happened in plain words. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  walk_ctx *c = data;
  if (!e) return 0;
  if (n == 0) {
    snprintf(c->desc, sizeof c->desc, "%s", e->desc ? e->desc : "");
    snprintf(c->func, sizeof c->func, "%s", e->func_name ? e->func_name : "");
    c->found = 1;
  }
  if (e->min_num == H5E_WRITEERROR) c->write = 1;
  const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (p && !c->err) c->err = atoi(p + 8);
  return 0;
}

static void walk_stack(walk_ctx *c) {
  memset(c, 0, sizeof *c);
  if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, c) < 0) c->found = 0;
}

/* The sec2 driver's description runs over lines (time, buffer address, sizes): keep its
 * first words ("file write failed") and say the errno in words instead. */
static void error_text(const walk_ctx *c, char *buf, size_t n) {
  if (!c->found) {
    snprintf(buf, n, "no details");
    return;
  }
  char desc[400];
  snprintf(desc, sizeof desc, "%s", c->desc[0] ? c->desc : "no description");
  if (c->err > 0) {
    char *cut = strpbrk(desc, ":\n");
    if (cut) *cut = '\0';
    snprintf(buf, n, "%s: %s (in %s)", desc, strerror(c->err), c->func[0] ? c->func : "HDF5");
  } else if (c->func[0]) {
    snprintf(buf, n, "%s (in %s)", desc, c->func);
  } else {
    snprintf(buf, n, "%s", desc);
  }
}

void lf_h5_error_text(char *buf, size_t n) {
  walk_ctx c;
  if (n == 0) return;
  walk_stack(&c);
  error_text(&c, buf, n);
}

/* The first '...'-quoted name in a message (latflow's messages name the file first). */
static int quoted_name(const char *msg, char *out, size_t n) {
  const char *a = strchr(msg, '\'');
  const char *b = a ? strchr(a + 1, '\'') : NULL;
  if (!b || b == a + 1 || (size_t)(b - a - 1) >= n) return 0;
  memcpy(out, a + 1, (size_t)(b - a - 1));
  out[b - a - 1] = '\0';
  return 1;
}

int lf_io_fs_full(const char *path) {
  char dir[LF_PATH_MAX + 8];
  struct statvfs sv;
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  if (statvfs(dir, &sv) != 0) return 0;
  /* a write that failed for want of space fills the device to its last blocks */
  return (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0;
}

lf_status lf_h5_fail(lf_status s, const char *file, int line, const char *fmt, ...) {
  char what[1536], h5[512], name[LF_PATH_MAX + 8];
  walk_ctx c;
  walk_stack(&c);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  /* MPI-IO (Open MPI's OMPIO) reports a full disk to HDF5 only as a short write, without
   * errno: a failed write into a file system that is now full is taken for ENOSPC */
  if (c.write && c.err == 0 && quoted_name(what, name, sizeof name) && lf_io_fs_full(name))
    c.err = ENOSPC;
  error_text(&c, h5, sizeof h5);
  return lf_fail(s, file, line, "%s: HDF5: %s", what, h5);
}

/* ---- the serial file driver ----------------------------------------------------------
 * POSIX pread/pwrite like HDF5's sec2 driver, with one difference: a failed write (a full
 * disk: ENOSPC, EDQUOT, EIO) is recorded, not returned to HDF5. HDF5 1.10 cannot close a
 * file after a failed flush (its metadata cache is left "flushing", every later flush and
 * the close fail, and the failed close frees the file but keeps its id, which H5close at
 * MPI_Finalize then closes again: a segfault). So HDF5 always sees its writes succeed;
 * after the first failure nothing more reaches the disk (the file stays as the last good
 * flush and the failed write left it), and latflow reads the recorded errno at every
 * flush and close (lf_h5_flush, lf_h5_settle) and fails there, naming the file. */

typedef struct lf_vfd {
  H5FD_t pub; /* first: HDF5 casts */
  int fd;     /* first after pub is not required: get_handle returns &fd (as sec2) */
  int err;    /* errno of the first failed write or truncate, 0 if none */
  haddr_t eoa, eof;
  dev_t dev;
  ino_t ino;
} lf_vfd;

static hid_t vfd_id = -1;

static void vfd_push(const char *func, hid_t minor, const char *what, int e) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_VFL, minor, "%s: %s", what,
           strerror(e));
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  (void)fapl;
  (void)maxaddr;
  int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) o |= O_CREAT;
  if (flags & H5F_ACC_EXCL) o |= O_EXCL;
  const int fd = open(name, o | O_CLOEXEC, 0666);
  if (fd < 0) {
    vfd_push("vfd_open", H5E_CANTOPENFILE, "unable to open file", errno);
    return NULL;
  }
  struct stat st;
  lf_vfd *f = calloc(1, sizeof *f);
  if (!f || fstat(fd, &st) != 0) {
    const int e = f ? errno : ENOMEM;
    free(f);
    close(fd);
    vfd_push("vfd_open", H5E_CANTOPENFILE, "unable to open file", e);
    return NULL;
  }
  f->fd = fd;
  f->eof = (haddr_t)st.st_size;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  return &f->pub;
}

static herr_t vfd_close(H5FD_t *file) {
  lf_vfd *f = (lf_vfd *)file;
  close(f->fd); /* an error here (NFS) was the write's: lf_io_commit_tmp syncs first */
  free(f);
  return 0;
}

static int vfd_cmp(const H5FD_t *a, const H5FD_t *b) {
  const lf_vfd *x = (const lf_vfd *)a, *y = (const lf_vfd *)b;
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
  return 0;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags) {
  (void)file;
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE;
  return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const lf_vfd *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
  (void)type;
  ((lf_vfd *)file)->eoa = addr;
  return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const lf_vfd *)file)->eof;
}

static herr_t vfd_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
  (void)fapl;
  *handle = &((lf_vfd *)file)->fd;
  return 0;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                       void *buf) {
  (void)type;
  (void)dxpl;
  lf_vfd *f = (lf_vfd *)file;
  unsigned char *p = buf;
  while (size > 0) {
    const ssize_t n = pread(f->fd, p, size, (off_t)addr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      vfd_push("vfd_read", H5E_READERROR, "file read failed", errno);
      return -1;
    }
    if (n == 0) { /* past the end of the file: zeros, as sec2 */
      memset(p, 0, size);
      break;
    }
    p += n;
    addr += (haddr_t)n;
    size -= (size_t)n;
  }
  return 0;
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        const void *buf) {
  (void)type;
  (void)dxpl;
  lf_vfd *f = (lf_vfd *)file;
  if (addr + size > f->eof) f->eof = addr + size; /* HDF5's view, written or not */
  const unsigned char *p = buf;
  while (size > 0 && f->err == 0) {
    const ssize_t n = pwrite(f->fd, p, size, (off_t)addr);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      f->err = n < 0 ? errno : ENOSPC;
      break;
    }
    p += n;
    addr += (haddr_t)n;
    size -= (size_t)n;
  }
  return 0;
}

static herr_t vfd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
  (void)dxpl;
  (void)closing;
  lf_vfd *f = (lf_vfd *)file;
  if (f->eoa == f->eof) return 0;
  if (f->err == 0 && ftruncate(f->fd, (off_t)f->eoa) != 0) f->err = errno;
  f->eof = f->eoa;
  return 0;
}

static herr_t vfd_lock(H5FD_t *file, hbool_t rw) {
  lf_vfd *f = (lf_vfd *)file;
  if (flock(f->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 || errno == ENOSYS) return 0;
  vfd_push("vfd_lock", H5E_CANTLOCKFILE, "unable to lock the file", errno);
  return -1;
}

static herr_t vfd_unlock(H5FD_t *file) {
  lf_vfd *f = (lf_vfd *)file;
  if (flock(f->fd, LOCK_UN) == 0 || errno == ENOSYS) return 0;
  vfd_push("vfd_unlock", H5E_CANTUNLOCKFILE, "unable to unlock the file", errno);
  return -1;
}

static const H5FD_class_t vfd_class = {
    .name = "latflow_posix",
    .maxaddr = (haddr_t)INT64_MAX,
    .fc_degree = H5F_CLOSE_WEAK,
    .open = vfd_open,
    .close = vfd_close,
    .cmp = vfd_cmp,
    .query = vfd_query,
    .get_eoa = vfd_get_eoa,
    .set_eoa = vfd_set_eoa,
    .get_eof = vfd_get_eof,
    .get_handle = vfd_get_handle,
    .read = vfd_read,
    .write = vfd_write,
    .truncate = vfd_truncate,
    .lock = vfd_lock,
    .unlock = vfd_unlock,
    .fl_map = {H5FD_MEM_DEFAULT, H5FD_MEM_DEFAULT, H5FD_MEM_DEFAULT, H5FD_MEM_DEFAULT,
               H5FD_MEM_DEFAULT, H5FD_MEM_DEFAULT, H5FD_MEM_DEFAULT},
};

/* Registers the driver once (again after an H5close); its id or a negative value. */
static hid_t vfd_register(void) {
  if (vfd_id < 0 || H5Iis_valid(vfd_id) <= 0) vfd_id = H5FDregister(&vfd_class);
  return vfd_id;
}

/* The driver's state of an open file, or NULL if it uses another driver. */
static lf_vfd *vfd_of(hid_t file) {
  hid_t fapl = H5Fget_access_plist(file);
  if (fapl < 0) return NULL;
  const hid_t drv = H5Pget_driver(fapl);
  H5Pclose(fapl);
  void *h = NULL;
  if (vfd_id < 0 || drv != vfd_id || H5Fget_vfd_handle(file, H5P_DEFAULT, &h) < 0 || !h)
    return NULL;
  return (lf_vfd *)((char *)h - offsetof(lf_vfd, fd));
}

lf_status lf_h5_write_error(hid_t file, const char *path) {
  const lf_vfd *f = file >= 0 ? vfd_of(file) : NULL;
  if (!f || f->err == 0) return LF_OK;
  return LF_FAIL(LF_ERR_IO, "'%s': cannot write: %s", path, strerror(f->err));
}

lf_status lf_h5_flush(hid_t file, int global, const char *path, const char *what) {
  if (H5Fflush(file, global ? H5F_SCOPE_GLOBAL : H5F_SCOPE_LOCAL) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot flush the file %s", path, what);
  const lf_vfd *f = vfd_of(file);
  if (f && f->err)
    return LF_FAIL(LF_ERR_IO, "'%s': cannot write the file %s: %s", path, what, strerror(f->err));
  return LF_OK;
}

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

/* ---- attributes ------------------------------------------------------------------------- */

/* Creates (replacing an existing one) attribute name of file type ftype and dataspace
 * space on obj and writes buf of memory type mtype. */
static lf_status attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t space,
                            const void *buf, const char *path, const char *objname) {
  lf_status rc = LF_OK;
  hid_t a = -1;
  htri_t ex = H5Aexists(obj, name);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot query attribute %s of %s", path, name, objname);
  if (ex > 0 && H5Adelete(obj, name) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot replace attribute %s of %s", path, name, objname);
  a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create attribute %s of %s", path, name, objname);
  if (H5Awrite(a, mtype, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write attribute %s of %s", path, name, objname);
  if (H5Aclose(a) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close attribute %s of %s", path, name, objname);
  return rc;
}

static lf_status attr_write_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
                                   const void *buf, const char *path, const char *objname) {
  hid_t s = H5Screate(H5S_SCALAR);
  if (s < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create a scalar dataspace", path);
  lf_status rc = attr_write(obj, name, ftype, mtype, s, buf, path, objname);
  H5Sclose(s);
  return rc;
}

lf_status lf_h5_attr_write_str(hid_t obj, const char *name, const char *val, const char *path,
                               const char *objname) {
  lf_status rc = LF_OK;
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make a string type", path);
  if (H5Tset_size(t, strlen(val) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make a string type of %zu bytes for %s", path,
                    strlen(val) + 1, name);
  } else {
    rc = attr_write_scalar(obj, name, t, t, val, path, objname);
  }
  H5Tclose(t);
  return rc;
}

lf_status lf_h5_attr_write_i32(hid_t obj, const char *name, int val, const char *path,
                               const char *objname) {
  return attr_write_scalar(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &val, path, objname);
}

lf_status lf_h5_attr_write_i64(hid_t obj, const char *name, int64_t val, const char *path,
                               const char *objname) {
  return attr_write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &val, path, objname);
}

lf_status lf_h5_attr_write_u64(hid_t obj, const char *name, uint64_t val, const char *path,
                               const char *objname) {
  return attr_write_scalar(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &val, path, objname);
}

lf_status lf_h5_attr_write_f64(hid_t obj, const char *name, double val, const char *path,
                               const char *objname) {
  return attr_write_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &val, path, objname);
}

lf_status lf_h5_attr_write_i32v(hid_t obj, const char *name, const int *val, size_t n,
                                const char *path, const char *objname) {
  if (n == 0)
    return LF_FAIL(LF_ERR_INVALID, "'%s': attribute %s of %s needs at least one value", path, name,
                   objname);
  hsize_t dims[1] = {(hsize_t)n};
  hid_t s = H5Screate_simple(1, dims, NULL);
  if (s < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create a dataspace of %zu", path, n);
  lf_status rc = attr_write(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, s, val, path, objname);
  H5Sclose(s);
  return rc;
}

lf_status lf_h5_attr_exists(hid_t obj, const char *name, int *exists, const char *path,
                            const char *objname) {
  htri_t ex = H5Aexists(obj, name);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot query attribute %s of %s", path, name, objname);
  *exists = ex > 0;
  return LF_OK;
}

/* Opens attribute name of obj and checks its type class and element count (npoints
 * elements if nmax == 0 means exactly one; else 1..nmax). */
static lf_status attr_open(hid_t obj, const char *name, H5T_class_t cls1, H5T_class_t cls2,
                           size_t nmax, hid_t *attr, size_t *npoints, const char *path,
                           const char *objname) {
  lf_status rc = LF_OK;
  hid_t a = -1, t = -1, s = -1;
  *attr = -1;
  htri_t ex = H5Aexists(obj, name);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT,
                      "'%s' is truncated or corrupted: cannot query attribute %s of %s", path, name,
                      objname);
  if (ex == 0)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': attribute %s of %s is missing", path, name, objname);
  a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) {
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted: cannot open attribute %s of %s",
                    path, name, objname);
    goto fail;
  }
  t = H5Aget_type(a);
  s = H5Aget_space(a);
  if (t < 0 || s < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the type of attribute %s of %s", path, name,
                    objname);
    goto fail;
  }
  H5T_class_t c = H5Tget_class(t);
  if (c != cls1 && c != cls2) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': attribute %s of %s has the wrong type class %d", path, name,
                 objname, (int)c);
    goto fail;
  }
  hssize_t np = H5Sget_simple_extent_npoints(s);
  int nd = H5Sget_simple_extent_ndims(s);
  if (np < 1 || nd > 1 || (nmax == 0 && np != 1) || (nmax > 0 && (size_t)np > nmax)) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s': attribute %s of %s has %lld values in %d dimensions, "
                 "expected %s%zu",
                 path, name, objname, (long long)np, nd, nmax ? "1 to " : "", nmax ? nmax : 1);
    goto fail;
  }
  *npoints = (size_t)np;
  H5Tclose(t);
  H5Sclose(s);
  *attr = a;
  return LF_OK;
fail:
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  if (a >= 0) H5Aclose(a);
  return rc;
}

lf_status lf_h5_attr_read_str(hid_t obj, const char *name, char **out, const char *path,
                              const char *objname) {
  lf_status rc = LF_OK;
  hid_t a = -1, ft = -1, mt = -1;
  size_t np = 0;
  char *buf = NULL;
  *out = NULL;
  if ((rc = attr_open(obj, name, H5T_STRING, H5T_STRING, 0, &a, &np, path, objname)) != LF_OK)
    return rc;
  ft = H5Aget_type(a);
  mt = H5Tcopy(H5T_C_S1);
  if (ft < 0 || mt < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the type of attribute %s", path, name);
    goto done;
  }
  htri_t var = H5Tis_variable_str(ft);
  if (var < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the type of attribute %s", path, name);
    goto done;
  }
  if (var) { /* variable-length strings, as written by h5py */
    char *p = NULL;
    if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0 ||
        H5Aread(a, mt, &p) < 0) {
      rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read string attribute %s of %s", path, name,
                      objname);
      goto done;
    }
    size_t len = p ? strlen(p) : 0;
    buf = malloc(len + 1);
    if (buf) {
      if (len) memcpy(buf, p, len);
      buf[len] = '\0';
    }
    H5free_memory(p);
    if (!buf) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': attribute %s of %s (%zu bytes)", path, name, objname,
                   len + 1);
      goto done;
    }
  } else { /* fixed length: read into size + 1 bytes, NUL-terminated whatever the padding */
    size_t size = H5Tget_size(ft);
    if (size == 0) {
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the size of attribute %s", path, name);
      goto done;
    }
    buf = calloc(size + 1, 1);
    if (!buf) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': attribute %s of %s (%zu bytes)", path, name, objname,
                   size + 1);
      goto done;
    }
    if (H5Tset_size(mt, size + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(ft)) < 0 || H5Aread(a, mt, buf) < 0) {
      rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read string attribute %s of %s", path, name,
                      objname);
      goto done;
    }
    buf[size] = '\0';
  }
  *out = buf;
  buf = NULL;
done:
  free(buf);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return rc;
}

static lf_status attr_read_num(hid_t obj, const char *name, H5T_class_t cls1, H5T_class_t cls2,
                               hid_t mtype, void *out, const char *path, const char *objname) {
  hid_t a = -1;
  size_t np = 0;
  lf_status rc = attr_open(obj, name, cls1, cls2, 0, &a, &np, path, objname);
  if (rc != LF_OK) return rc;
  if (H5Aread(a, mtype, out) < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read attribute %s of %s", path, name, objname);
  H5Aclose(a);
  return rc;
}

lf_status lf_h5_attr_read_i64(hid_t obj, const char *name, int64_t *out, const char *path,
                              const char *objname) {
  return attr_read_num(obj, name, H5T_INTEGER, H5T_INTEGER, H5T_NATIVE_INT64, out, path, objname);
}

lf_status lf_h5_attr_read_u64(hid_t obj, const char *name, uint64_t *out, const char *path,
                              const char *objname) {
  return attr_read_num(obj, name, H5T_INTEGER, H5T_INTEGER, H5T_NATIVE_UINT64, out, path, objname);
}

lf_status lf_h5_attr_read_f64(hid_t obj, const char *name, double *out, const char *path,
                              const char *objname) {
  return attr_read_num(obj, name, H5T_FLOAT, H5T_INTEGER, H5T_NATIVE_DOUBLE, out, path, objname);
}

lf_status lf_h5_attr_read_i32v(hid_t obj, const char *name, int *val, size_t nmax, size_t *n,
                               const char *path, const char *objname) {
  hid_t a = -1;
  size_t np = 0;
  if (nmax == 0) return LF_FAIL(LF_ERR_INVALID, "attribute %s: nmax must be >= 1", name);
  lf_status rc = attr_open(obj, name, H5T_INTEGER, H5T_INTEGER, nmax, &a, &np, path, objname);
  if (rc != LF_OK) return rc;
  if (H5Aread(a, H5T_NATIVE_INT, val) < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read attribute %s of %s", path, name, objname);
  H5Aclose(a);
  if (rc == LF_OK) *n = np;
  return rc;
}

/* ---- groups and datasets ---------------------------------------------------------------- */

/* Object modification times would make two otherwise identical files differ. */
static hid_t untimed_plist(hid_t cls) {
  hid_t p = H5Pcreate(cls);
  if (p < 0) return -1;
  if (H5Pset_obj_track_times(p, 0) < 0) {
    H5Pclose(p);
    return -1;
  }
  return p;
}

lf_status lf_h5_group_create(hid_t loc, const char *name, hid_t *group, const char *path) {
  hid_t gcpl = untimed_plist(H5P_GROUP_CREATE);
  if (gcpl < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make a group property list", path);
  *group = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  lf_status rc = LF_OK;
  if (*group < 0) rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create group %s", path, name);
  H5Pclose(gcpl);
  return rc;
}

static lf_status link_check(hid_t loc, const char *name, const char *what, const char *path) {
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted: cannot look up %s %s", path,
                      what, name);
  if (ex == 0) return LF_FAIL(LF_ERR_FORMAT, "'%s': %s %s is missing", path, what, name);
  return LF_OK;
}

lf_status lf_h5_group_open(hid_t loc, const char *name, hid_t *group, const char *path) {
  lf_status rc = link_check(loc, name, "group", path);
  *group = -1;
  if (rc != LF_OK) return rc;
  *group = H5Gopen2(loc, name, H5P_DEFAULT);
  if (*group < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open group %s (truncated or corrupted?)", path,
                      name);
  return LF_OK;
}

lf_status lf_h5_dset_write_1d(hid_t loc, const char *name, hid_t mtype, hid_t ftype, size_t n,
                              const void *buf, const char *path) {
  lf_status rc = LF_OK;
  hid_t s = -1, d = -1, dcpl = -1;
  hsize_t dims[1] = {(hsize_t)n};
  s = H5Screate_simple(1, dims, NULL);
  dcpl = untimed_plist(H5P_DATASET_CREATE);
  if (s < 0 || dcpl < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make the dataspace of %s (%zu values)", path, name,
                    n);
    goto done;
  }
  d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create dataset %s (%zu values)", path, name, n);
    goto done;
  }
  if (n > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write dataset %s (%zu values)", path, name, n);
done:
  if (d >= 0 && H5Dclose(d) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", path, name);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (s >= 0) H5Sclose(s);
  return rc;
}

lf_status lf_h5_dset_create_ext(hid_t loc, const char *name, hid_t ftype, size_t chunk, hid_t *dset,
                                const char *path) {
  lf_status rc = LF_OK;
  hid_t s = -1, dcpl = -1;
  hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, cdims[1] = {(hsize_t)chunk};
  *dset = -1;
  if (chunk == 0)
    return LF_FAIL(LF_ERR_INVALID, "'%s': dataset %s: chunk must be >= 1", path, name);
  s = H5Screate_simple(1, dims, maxdims);
  dcpl = untimed_plist(H5P_DATASET_CREATE);
  if (s < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, cdims) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set up extendible dataset %s (chunk %zu)", path,
                    name, chunk);
    goto done;
  }
  *dset = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (*dset < 0) rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create dataset %s", path, name);
done:
  if (dcpl >= 0) H5Pclose(dcpl);
  if (s >= 0) H5Sclose(s);
  return rc;
}

lf_status lf_h5_dset_append(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                            const char *path, const char *name) {
  lf_status rc = LF_OK;
  hid_t fs = -1, ms = -1;
  hsize_t size[1] = {(hsize_t)(off + n)}, start[1] = {(hsize_t)off}, count[1] = {(hsize_t)n};
  if (n == 0) return LF_OK;
  if (H5Dset_extent(dset, size) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot extend dataset %s to %zu values", path, name,
                    off + n);
    goto done;
  }
  fs = H5Dget_space(dset);
  ms = H5Screate_simple(1, count, NULL);
  if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select values [%zu, %zu) of dataset %s", path, off,
                    off + n, name);
    goto done;
  }
  if (H5Dwrite(dset, mtype, ms, fs, H5P_DEFAULT, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write values [%zu, %zu) of dataset %s", path, off,
                    off + n, name);
done:
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return rc;
}

/* Opens dataset name of loc and returns its length; it must be 1-D. */
static lf_status dset_open_1d(hid_t loc, const char *name, hid_t *dset, size_t *n,
                              const char *path) {
  lf_status rc = link_check(loc, name, "dataset", path);
  hid_t s = -1;
  *dset = -1;
  if (rc != LF_OK) return rc;
  *dset = H5Dopen2(loc, name, H5P_DEFAULT);
  if (*dset < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open dataset %s (truncated or corrupted?)", path,
                      name);
  s = H5Dget_space(*dset);
  if (s < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the shape of dataset %s", path, name);
    goto fail;
  }
  int nd = H5Sget_simple_extent_ndims(s);
  hsize_t dims[1] = {0};
  if (nd != 1 || H5Sget_simple_extent_dims(s, dims, NULL) != 1) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %d dimensions, expected 1", path, name, nd);
    goto fail;
  }
  *n = (size_t)dims[0];
  H5Sclose(s);
  return LF_OK;
fail:
  if (s >= 0) H5Sclose(s);
  H5Dclose(*dset);
  *dset = -1;
  return rc;
}

lf_status lf_h5_dset_len(hid_t loc, const char *name, size_t *n, const char *path) {
  hid_t d = -1;
  lf_status rc = dset_open_1d(loc, name, &d, n, path);
  if (rc == LF_OK) H5Dclose(d);
  return rc;
}

lf_status lf_h5_dset_read_1d(hid_t loc, const char *name, hid_t mtype, size_t n, void *buf,
                             const char *path) {
  hid_t d = -1;
  size_t len = 0;
  lf_status rc = dset_open_1d(loc, name, &d, &len, path);
  if (rc != LF_OK) return rc;
  if (len != n)
    rc =
        LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %zu values, expected %zu", path, name, len, n);
  else if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT,
                    "'%s': cannot read dataset %s (%zu values; truncated or "
                    "corrupted?)",
                    path, name, n);
  H5Dclose(d);
  return rc;
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
    if (rfapl >= 0 && vfd_register() >= 0 && H5Pset_driver(rfapl, vfd_id, NULL) < 0) {
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

lf_status lf_h5_fapl_serial(hid_t *fapl) {
  *fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (*fapl < 0) return LF_H5_FAIL(LF_ERR_HDF5, "cannot create a file-access property list");
  if (vfd_register() < 0 || H5Pset_driver(*fapl, vfd_id, NULL) < 0 ||
      H5Pset_fclose_degree(*fapl, H5F_CLOSE_STRONG) < 0 || lf_h5_fapl_checksummed(*fapl) != LF_OK) {
    lf_status rc = LF_H5_FAIL(LF_ERR_HDF5, "cannot set the file close degree");
    H5Pclose(*fapl);
    *fapl = -1;
    return rc;
  }
  return LF_OK;
}

lf_status lf_io_check_not_symlink(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return LF_OK;
    return LF_FAIL(LF_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  }
  if (S_ISLNK(st.st_mode))
    return LF_FAIL(LF_ERR_IO,
                   "'%s' is a symbolic link; refusing to write through it (remove it or choose "
                   "another output)",
                   path);
  return LF_OK;
}

lf_status lf_io_remove_stale(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return LF_OK;
    return LF_FAIL(LF_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  }
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
  const hid_t fcpl = untimed_plist(H5P_FILE_CREATE);
  *file = fcpl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  if (*file >= 0) return LF_OK;
  walk_ctx c;
  walk_stack(&c);
  if (!c.write)
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

/* ---- string-array attributes ------------------------------------------------------------ */

lf_status lf_h5_attr_write_strv(hid_t obj, const char *name, const char *val, size_t stride,
                                size_t n, const char *path, const char *objname) {
  lf_status rc = LF_OK;
  hid_t t = -1, s = -1;
  char *buf = NULL;
  if (n == 0 || stride == 0)
    return LF_FAIL(LF_ERR_INVALID, "'%s': attribute %s of %s needs at least one string", path, name,
                   objname);
  size_t size = 1;
  for (size_t i = 0; i < n; i++) {
    const char *v = val + i * stride;
    const char *nul = memchr(v, '\0', stride);
    if (!nul)
      return LF_FAIL(LF_ERR_INVALID,
                     "'%s': attribute %s of %s: string %zu is not terminated "
                     "within %zu bytes",
                     path, name, objname, i, stride);
    if ((size_t)(nul - v) + 1 > size) size = (size_t)(nul - v) + 1;
  }
  /* packed copy: n strings of `size` bytes, NUL-padded */
  buf = calloc(n, size);
  if (!buf)
    return LF_FAIL(LF_ERR_NOMEM, "'%s': attribute %s of %s (%zu x %zu bytes)", path, name, objname,
                   n, size);
  for (size_t i = 0; i < n; i++) memcpy(buf + i * size, val + i * stride, strlen(val + i * stride));
  hsize_t dims[1] = {(hsize_t)n};
  t = H5Tcopy(H5T_C_S1);
  s = H5Screate_simple(1, dims, NULL);
  if (t < 0 || s < 0 || H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5,
                    "'%s': cannot make the type of string attribute %s (%zu x %zu "
                    "bytes)",
                    path, name, n, size);
    goto done;
  }
  rc = attr_write(obj, name, t, t, s, buf, path, objname);
done:
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  free(buf);
  return rc;
}

lf_status lf_h5_attr_read_strv(hid_t obj, const char *name, char *val, size_t stride, size_t nmax,
                               size_t *n, const char *path, const char *objname) {
  lf_status rc = LF_OK;
  hid_t a = -1, ft = -1, mt = -1, sp = -1;
  size_t np = 0;
  char *buf = NULL;
  char **vbuf = NULL;
  if (nmax == 0 || stride == 0)
    return LF_FAIL(LF_ERR_INVALID, "attribute %s: nmax and stride must be >= 1", name);
  if ((rc = attr_open(obj, name, H5T_STRING, H5T_STRING, nmax, &a, &np, path, objname)) != LF_OK)
    return rc;
  ft = H5Aget_type(a);
  mt = H5Tcopy(H5T_C_S1);
  sp = H5Aget_space(a);
  htri_t var = ft >= 0 ? H5Tis_variable_str(ft) : -1;
  H5T_cset_t cset = ft >= 0 ? H5Tget_cset(ft) : H5T_CSET_ERROR;
  if (ft < 0 || mt < 0 || sp < 0 || var < 0 || cset == H5T_CSET_ERROR) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the type of attribute %s of %s", path, name,
                    objname);
    goto done;
  }
  if (var) { /* variable-length strings, as written by h5py */
    vbuf = calloc(np, sizeof *vbuf);
    if (!vbuf) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': attribute %s of %s (%zu strings)", path, name, objname, np);
      goto done;
    }
    if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, cset) < 0 ||
        H5Aread(a, mt, vbuf) < 0) {
      rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read string attribute %s of %s", path, name,
                      objname);
      free(vbuf);
      vbuf = NULL;
      goto done;
    }
    for (size_t i = 0; i < np && rc == LF_OK; i++) {
      const size_t len = vbuf[i] ? strlen(vbuf[i]) : 0;
      if (len + 1 > stride)
        rc = LF_FAIL(LF_ERR_FORMAT,
                     "'%s': string %zu of attribute %s of %s has %zu bytes, at "
                     "most %zu allowed",
                     path, i, name, objname, len, stride - 1);
      else
        memcpy(val + i * stride, vbuf[i] ? vbuf[i] : "", len + 1);
    }
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mt, sp, H5P_DEFAULT, vbuf);
#else
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, vbuf);
#endif
  } else { /* fixed length: read into size + 1 bytes each, NUL-terminated whatever the padding */
    const size_t size = H5Tget_size(ft);
    if (size == 0) {
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the size of attribute %s", path, name);
      goto done;
    }
    buf = calloc(np, size + 1);
    if (!buf) {
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': attribute %s of %s (%zu x %zu bytes)", path, name, objname,
                   np, size + 1);
      goto done;
    }
    if (H5Tset_size(mt, size + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(mt, cset) < 0 || H5Aread(a, mt, buf) < 0) {
      rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot read string attribute %s of %s", path, name,
                      objname);
      goto done;
    }
    for (size_t i = 0; i < np && rc == LF_OK; i++) {
      const char *v = buf + i * (size + 1);
      const size_t len = strnlen(v, size);
      if (len + 1 > stride)
        rc = LF_FAIL(LF_ERR_FORMAT,
                     "'%s': string %zu of attribute %s of %s has %zu bytes, at "
                     "most %zu allowed",
                     path, i, name, objname, len, stride - 1);
      else {
        memcpy(val + i * stride, v, len);
        val[i * stride + len] = '\0';
      }
    }
  }
  if (rc == LF_OK) *n = np;
done:
  free(buf);
  free(vbuf);
  if (sp >= 0) H5Sclose(sp);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return rc;
}

/* ---- row tables ------------------------------------------------------------------------- */

lf_status lf_h5_link_exists(hid_t loc, const char *name, int *exists, const char *path) {
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted: cannot look up %s", path,
                      name);
  *exists = ex > 0;
  return LF_OK;
}

lf_status lf_h5_dset_create_rows(hid_t loc, const char *name, hid_t ftype, size_t width,
                                 size_t chunk_rows, hid_t *dset, const char *path) {
  lf_status rc = LF_OK;
  hid_t s = -1, dcpl = -1;
  const int nd = width ? 2 : 1;
  hsize_t dims[2] = {0, (hsize_t)width}, maxdims[2] = {H5S_UNLIMITED, (hsize_t)width},
          cdims[2] = {(hsize_t)chunk_rows, (hsize_t)width};
  *dset = -1;
  if (chunk_rows == 0)
    return LF_FAIL(LF_ERR_INVALID, "'%s': dataset %s: chunk_rows must be >= 1", path, name);
  s = H5Screate_simple(nd, dims, maxdims);
  dcpl = untimed_plist(H5P_DATASET_CREATE);
  /* no fill writes when chunks are allocated: every row is written after its extend, and
   * parallel HDF5's collective fill hangs the other ranks when one rank's write fails (a
   * full disk). Chunks allocated at the extend, as parallel HDF5 requires (it sets this
   * itself only for files it creates): a file written by one rank's serial writer can be
   * resumed by several, whose collective writes must not allocate chunks */
  if (s < 0 || dcpl < 0 || H5Pset_chunk(dcpl, nd, cdims) < 0 ||
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5,
                    "'%s': cannot set up extendible dataset %s (width %zu, chunk "
                    "%zu rows)",
                    path, name, width, chunk_rows);
    goto done;
  }
  *dset = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (*dset < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create dataset %s (width %zu, chunk %zu rows)", path,
                    name, width, chunk_rows);
done:
  if (dcpl >= 0) H5Pclose(dcpl);
  if (s >= 0) H5Sclose(s);
  return rc;
}

/* The dataspace of dset and its shape (1-D: width 1). */
static lf_status rows_space(hid_t dset, hid_t *space, int *nd, hsize_t dims[2], const char *path,
                            const char *name) {
  *space = H5Dget_space(dset);
  if (*space < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read the shape of dataset %s", path, name);
  *nd = H5Sget_simple_extent_ndims(*space);
  dims[0] = 0;
  dims[1] = 1;
  if (*nd < 1 || *nd > 2 || H5Sget_simple_extent_dims(*space, dims, NULL) != *nd) {
    lf_status rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %d dimensions, expected 1 or 2",
                           path, name, *nd);
    H5Sclose(*space);
    *space = -1;
    return rc;
  }
  return LF_OK;
}

lf_status lf_h5_dset_extend(hid_t dset, size_t rows, const char *path, const char *name) {
  hid_t s = -1;
  int nd = 0;
  hsize_t dims[2];
  lf_status rc = rows_space(dset, &s, &nd, dims, path, name);
  if (rc != LF_OK) return rc;
  H5Sclose(s);
  dims[0] = (hsize_t)rows;
  if (H5Dset_extent(dset, dims) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot extend dataset %s to %zu rows", path, name, rows);
  return LF_OK;
}

/* Selects rows [off, off + n) of the file space fs (shape dims, nd dimensions) and makes
 * the matching memory space. */
static lf_status rows_select(hid_t fs, int nd, const hsize_t dims[2], size_t off, size_t n,
                             hid_t *ms, const char *path, const char *name) {
  hsize_t start[2] = {(hsize_t)off, 0}, count[2] = {(hsize_t)n, dims[1]};
  *ms = H5Screate_simple(nd, count, NULL);
  if (*ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select rows [%zu, %zu) of dataset %s", path, off,
                      off + n, name);
  return LF_OK;
}

lf_status lf_h5_dset_write_rows(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                                hid_t dxpl, const char *path, const char *name) {
  hid_t fs = -1, ms = -1;
  int nd = 0;
  hsize_t dims[2];
  if (n == 0) return LF_OK;
  lf_status rc = rows_space(dset, &fs, &nd, dims, path, name);
  if (rc != LF_OK) return rc;
  if ((hsize_t)(off + n) > dims[0]) {
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': rows [%zu, %zu) of dataset %s: it has only %llu rows", path,
                 off, off + n, name, (unsigned long long)dims[0]);
    goto done;
  }
  if ((rc = rows_select(fs, nd, dims, off, n, &ms, path, name)) != LF_OK) goto done;
  if (H5Dwrite(dset, mtype, ms, fs, dxpl, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write rows [%zu, %zu) of dataset %s", path, off,
                    off + n, name);
done:
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

lf_status lf_h5_dset_open_rows(hid_t loc, const char *name, hid_t *dset, int *ndims, size_t dims[2],
                               const char *path) {
  hid_t s = -1;
  int nd = 0;
  hsize_t d[2];
  lf_status rc = link_check(loc, name, "dataset", path);
  *dset = -1;
  if (rc != LF_OK) return rc;
  *dset = H5Dopen2(loc, name, H5P_DEFAULT);
  if (*dset < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s': cannot open dataset %s (truncated or corrupted?)", path,
                      name);
  if ((rc = rows_space(*dset, &s, &nd, d, path, name)) != LF_OK) {
    H5Dclose(*dset);
    *dset = -1;
    return rc;
  }
  H5Sclose(s);
  dims[0] = (size_t)d[0];
  dims[1] = (size_t)d[1];
  if (ndims) *ndims = nd;
  return LF_OK;
}

lf_status lf_h5_dset_read_rows(hid_t dset, hid_t mtype, size_t off, size_t n, void *buf,
                               const char *path, const char *name) {
  hid_t fs = -1, ms = -1;
  int nd = 0;
  hsize_t dims[2];
  if (n == 0) return LF_OK;
  lf_status rc = rows_space(dset, &fs, &nd, dims, path, name);
  if (rc != LF_OK) return rc;
  if (off > (size_t)dims[0] || n > (size_t)dims[0] - off) {
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': rows [%zu, %zu) of dataset %s: it has %llu rows", path, off,
                 off + n, name, (unsigned long long)dims[0]);
    goto done;
  }
  if ((rc = rows_select(fs, nd, dims, off, n, &ms, path, name)) != LF_OK) goto done;
  if (H5Dread(dset, mtype, ms, fs, H5P_DEFAULT, buf) < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT,
                    "'%s': cannot read rows [%zu, %zu) of dataset %s (truncated "
                    "or corrupted?)",
                    path, off, off + n, name);
done:
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
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
