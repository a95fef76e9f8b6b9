/* latflow's serial HDF5 file driver ("latflow_posix"): sec2's POSIX I/O, but a failed
 * write is recorded for latflow to report instead of being returned to HDF5 (contract:
 * src/io/h5util.h, "the serial file driver"). */
#include "io/h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Registers the driver once (again after an H5close). */
hid_t lf_h5_vfd_id(void) {
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

lf_status lf_h5_fapl_serial(hid_t *fapl) {
  *fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (*fapl < 0) return LF_H5_FAIL(LF_ERR_HDF5, "cannot create a file-access property list");
  if (lf_h5_vfd_id() < 0 || H5Pset_driver(*fapl, vfd_id, NULL) < 0 ||
      H5Pset_fclose_degree(*fapl, H5F_CLOSE_STRONG) < 0 || lf_h5_fapl_checksummed(*fapl) != LF_OK) {
    lf_status rc = LF_H5_FAIL(LF_ERR_HDF5, "cannot set the file close degree");
    H5Pclose(*fapl);
    *fapl = -1;
    return rc;
  }
  return LF_OK;
}

lf_status lf_h5_fsync(hid_t file, const char *path) {
  void *h = NULL;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &h) < 0 || !h)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot get the file handle to sync it", path);
  if (fsync(*(int *)h) != 0)
    return LF_FAIL(LF_ERR_IO, "cannot sync '%s': %s", path, strerror(errno));
  return LF_OK;
}
