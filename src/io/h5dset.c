/* HDF5 scalar types, groups and datasets of the io module: one dataset API in which every
 * dataset is a table of rows, fixed or extendible; the whole 1-D dataset helpers are made
 * of its calls (contract: src/io/h5util.h, "scalar types", "groups", "datasets"). */
#include "io/h5util.h"

/* ---- scalar types ----------------------------------------------------------------------- */

/* Bytes of each lf_h5_type, in enum order. */
static const size_t type_size[] = {sizeof(int8_t),  sizeof(uint8_t),  sizeof(int32_t),
                                   sizeof(int64_t), sizeof(uint64_t), sizeof(double)};

/* The stored (mem = 0) or the memory (mem = 1) HDF5 type of t. The ids are not compile-time
 * constants (HDF5 makes them at H5open), hence a switch rather than a table. */
static hid_t h5_type(lf_h5_type t, int mem) {
  switch (t) {
  case LF_H5_I8:
    return mem ? H5T_NATIVE_INT8 : H5T_STD_I8LE;
  case LF_H5_U8:
    return mem ? H5T_NATIVE_UINT8 : H5T_STD_U8LE;
  case LF_H5_I32:
    return mem ? H5T_NATIVE_INT32 : H5T_STD_I32LE;
  case LF_H5_I64:
    return mem ? H5T_NATIVE_INT64 : H5T_STD_I64LE;
  case LF_H5_U64:
    return mem ? H5T_NATIVE_UINT64 : H5T_STD_U64LE;
  default:
    return mem ? H5T_NATIVE_DOUBLE : H5T_IEEE_F64LE;
  }
}

hid_t lf_h5_type_file(lf_h5_type t) {
  return h5_type(t, 0);
}

hid_t lf_h5_type_mem(lf_h5_type t) {
  return h5_type(t, 1);
}

size_t lf_h5_type_size(lf_h5_type t) {
  return (unsigned)t < sizeof type_size / sizeof type_size[0] ? type_size[t] : sizeof(double);
}

/* ---- groups ----------------------------------------------------------------------------- */

/* Object modification times would make two otherwise identical files differ. */
hid_t lf_h5_untimed_plist(hid_t cls) {
  hid_t p = H5Pcreate(cls);
  if (p < 0) return -1;
  if (H5Pset_obj_track_times(p, 0) < 0) {
    H5Pclose(p);
    return -1;
  }
  return p;
}

lf_status lf_h5_group_create(hid_t loc, const char *name, hid_t *group, const char *path) {
  hid_t gcpl = lf_h5_untimed_plist(H5P_GROUP_CREATE);
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

lf_status lf_h5_link_exists(hid_t loc, const char *name, int *exists, const char *path) {
  htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
  if (ex < 0)
    return LF_H5_FAIL(LF_ERR_FORMAT, "'%s' is truncated or corrupted: cannot look up %s", path,
                      name);
  *exists = ex > 0;
  return LF_OK;
}

/* ---- datasets ----------------------------------------------------------------------------- */

lf_status lf_h5_dset_create(hid_t loc, const char *name, hid_t ftype, lf_h5_layout layout,
                            size_t rows, size_t width, hid_t *dset, const char *path) {
  lf_status rc = LF_OK;
  hid_t s = -1, dcpl = -1;
  const int nd = width ? 2 : 1, fixed = layout == LF_H5_FIXED;
  hsize_t dims[2] = {fixed ? (hsize_t)rows : 0, (hsize_t)width},
          maxdims[2] = {fixed ? (hsize_t)rows : H5S_UNLIMITED, (hsize_t)width},
          cdims[2] = {(hsize_t)rows, (hsize_t)width};
  *dset = -1;
  if (!fixed && rows == 0)
    return LF_FAIL(LF_ERR_INVALID, "'%s': dataset %s: chunk_rows must be >= 1", path, name);
  s = H5Screate_simple(nd, dims, maxdims);
  dcpl = lf_h5_untimed_plist(H5P_DATASET_CREATE);
  if (s < 0 || dcpl < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot make the dataspace of %s (%zu rows, width %zu)",
                    path, name, rows, width);
    goto done;
  }
  /* ROWS: no fill writes when chunks are allocated: every row is written after its extend,
   * and parallel HDF5's collective fill hangs the other ranks when one rank's write fails
   * (a full disk). Chunks allocated at the extend, as parallel HDF5 requires (it sets this
   * itself only for files it creates): a file written by one rank's serial writer can be
   * resumed by several, whose collective writes must not allocate chunks */
  if (!fixed && (H5Pset_chunk(dcpl, nd, cdims) < 0 ||
                 (layout == LF_H5_ROWS && (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
                                           H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)))) {
    rc = LF_H5_FAIL(LF_ERR_HDF5,
                    "'%s': cannot set up extendible dataset %s (width %zu, chunk "
                    "%zu rows)",
                    path, name, width, rows);
    goto done;
  }
  *dset = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (*dset < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot create dataset %s (%s %zu rows, width %zu)", path,
                    name, fixed ? "" : "chunks of", rows, width);
done:
  if (dcpl >= 0) H5Pclose(dcpl);
  if (s >= 0) H5Sclose(s);
  return rc;
}

lf_status lf_h5_dset_create_rows(hid_t loc, const char *name, hid_t ftype, size_t width,
                                 size_t chunk_rows, hid_t *dset, const char *path) {
  return lf_h5_dset_create(loc, name, ftype, LF_H5_ROWS, chunk_rows, width, dset, path);
}

lf_status lf_h5_dset_create_ext(hid_t loc, const char *name, hid_t ftype, size_t chunk, hid_t *dset,
                                const char *path) {
  return lf_h5_dset_create(loc, name, ftype, LF_H5_ROWS_LAZY, chunk, 0, dset, path);
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

/* Writes (write = 1: from wbuf, transfer list dxpl) or reads (into rbuf) rows
 * [off, off + n) of dset, n >= 1. */
static lf_status rows_io(hid_t dset, hid_t mtype, size_t off, size_t n, int write, const void *wbuf,
                         void *rbuf, hid_t dxpl, const char *path, const char *name) {
  hid_t fs = -1, ms = -1;
  int nd = 0;
  hsize_t dims[2];
  lf_status rc = rows_space(dset, &fs, &nd, dims, path, name);
  if (rc != LF_OK) return rc;
  if (off > (size_t)dims[0] || n > (size_t)dims[0] - off) {
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': rows [%zu, %zu) of dataset %s: it has %s%llu rows", path,
                 off, off + n, name, write ? "only " : "", (unsigned long long)dims[0]);
    goto done;
  }
  if ((rc = rows_select(fs, nd, dims, off, n, &ms, path, name)) != LF_OK) goto done;
  if (write && H5Dwrite(dset, mtype, ms, fs, dxpl, wbuf) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write rows [%zu, %zu) of dataset %s", path, off,
                    off + n, name);
  else if (!write && H5Dread(dset, mtype, ms, fs, H5P_DEFAULT, rbuf) < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT,
                    "'%s': cannot read rows [%zu, %zu) of dataset %s (truncated "
                    "or corrupted?)",
                    path, off, off + n, name);
done:
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

lf_status lf_h5_dset_write_rows(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                                hid_t dxpl, const char *path, const char *name) {
  return n == 0 ? LF_OK : rows_io(dset, mtype, off, n, 1, buf, NULL, dxpl, path, name);
}

lf_status lf_h5_dset_append(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                            hid_t dxpl, const char *path, const char *name) {
  if (n == 0) return LF_OK;
  lf_status rc = lf_h5_dset_extend(dset, off + n, path, name);
  return rc == LF_OK ? lf_h5_dset_write_rows(dset, mtype, off, n, buf, dxpl, path, name) : rc;
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
  return n == 0 ? LF_OK : rows_io(dset, mtype, off, n, 0, NULL, buf, H5P_DEFAULT, path, name);
}

/* ---- whole 1-D datasets ------------------------------------------------------------------ */

lf_status lf_h5_dset_write_1d(hid_t loc, const char *name, hid_t mtype, hid_t ftype, size_t n,
                              const void *buf, const char *path) {
  hid_t d = -1;
  lf_status rc = lf_h5_dset_create(loc, name, ftype, LF_H5_FIXED, n, 0, &d, path);
  if (rc == LF_OK) rc = lf_h5_dset_write_rows(d, mtype, 0, n, buf, H5P_DEFAULT, path, name);
  if (d >= 0 && H5Dclose(d) < 0 && rc == LF_OK)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", path, name);
  return rc;
}

/* Opens dataset name of loc and returns its length; it must be 1-D. */
static lf_status dset_open_1d(hid_t loc, const char *name, hid_t *dset, size_t *n,
                              const char *path) {
  size_t dims[2];
  int nd = 0;
  lf_status rc = lf_h5_dset_open_rows(loc, name, dset, &nd, dims, path);
  if (rc != LF_OK) return rc;
  if (nd != 1) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': dataset %s has %d dimensions, expected 1", path, name, nd);
    H5Dclose(*dset);
    *dset = -1;
    return rc;
  }
  *n = dims[0];
  return LF_OK;
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
  else
    rc = lf_h5_dset_read_rows(d, mtype, 0, n, buf, path, name);
  H5Dclose(d);
  return rc;
}
