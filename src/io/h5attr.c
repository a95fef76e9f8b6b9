/* HDF5 attributes of the io module: scalar, integer-vector and string-array attributes,
 * written (replacing) and read with shape and class checks (contract: src/io/h5util.h,
 * "attributes"). */
#include "io/h5util.h"

#include <stdlib.h>
#include <string.h>

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

lf_status lf_h5_attr_write_num(hid_t obj, const char *name, lf_h5_type t, const void *val,
                               const char *path, const char *objname) {
  return attr_write_scalar(obj, name, lf_h5_type_file(t), lf_h5_type_mem(t), val, path, objname);
}

/* The typed writers: lf_h5_attr_write_num of one type each. */
lf_status lf_h5_attr_write_i32(hid_t obj, const char *name, int val, const char *path,
                               const char *objname) {
  const int32_t v = val;
  return lf_h5_attr_write_num(obj, name, LF_H5_I32, &v, path, objname);
}
lf_status lf_h5_attr_write_i64(hid_t obj, const char *name, int64_t val, const char *path,
                               const char *objname) {
  return lf_h5_attr_write_num(obj, name, LF_H5_I64, &val, path, objname);
}
lf_status lf_h5_attr_write_u64(hid_t obj, const char *name, uint64_t val, const char *path,
                               const char *objname) {
  return lf_h5_attr_write_num(obj, name, LF_H5_U64, &val, path, objname);
}
lf_status lf_h5_attr_write_f64(hid_t obj, const char *name, double val, const char *path,
                               const char *objname) {
  return lf_h5_attr_write_num(obj, name, LF_H5_F64, &val, path, objname);
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

lf_status lf_h5_attr_read_strn(hid_t obj, const char *name, char *buf, size_t n, const char *path,
                               const char *objname) {
  char *s = NULL;
  lf_status rc = lf_h5_attr_read_str(obj, name, &s, path, objname);
  if (rc != LF_OK) return rc;
  if (strlen(s) >= n)
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': attribute %s of %s has %zu bytes, at most %zu allowed", path,
                 name, objname, strlen(s), n - 1);
  else
    memcpy(buf, s, strlen(s) + 1);
  free(s);
  return rc;
}

lf_status lf_h5_attr_read_num(hid_t obj, const char *name, lf_h5_type t, void *out,
                              const char *path, const char *objname) {
  const H5T_class_t cls = t == LF_H5_F64 ? H5T_FLOAT : H5T_INTEGER;
  return attr_read_num(obj, name, cls, H5T_INTEGER, lf_h5_type_mem(t), out, path, objname);
}

/* The typed readers: lf_h5_attr_read_num of one type each. */
lf_status lf_h5_attr_read_i64(hid_t obj, const char *name, int64_t *out, const char *path,
                              const char *objname) {
  return lf_h5_attr_read_num(obj, name, LF_H5_I64, out, path, objname);
}
lf_status lf_h5_attr_read_u64(hid_t obj, const char *name, uint64_t *out, const char *path,
                              const char *objname) {
  return lf_h5_attr_read_num(obj, name, LF_H5_U64, out, path, objname);
}
lf_status lf_h5_attr_read_f64(hid_t obj, const char *name, double *out, const char *path,
                              const char *objname) {
  return lf_h5_attr_read_num(obj, name, LF_H5_F64, out, path, objname);
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
