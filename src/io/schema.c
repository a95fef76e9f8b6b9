/* Record schemas: a table of fields (name, type, offset) marshalled into HDF5 by one set of
 * routines: record tables (a column per field) and attribute records (contract:
 * src/io/schema.h). */
#include "io/schema.h"

#include <stdio.h>
#include <string.h>

void lf_h5_field_gather(const lf_h5_field *f, const void *recs, size_t stride, size_t n,
                        void *col) {
  const size_t size = lf_h5_type_size(f->type);
  for (size_t i = 0; i < n; i++)
    memcpy((char *)col + i * size, (const char *)recs + i * stride + f->offset, size);
}

void lf_h5_field_scatter(const lf_h5_field *f, void *recs, size_t stride, size_t n,
                         const void *col) {
  const size_t size = lf_h5_type_size(f->type);
  for (size_t i = 0; i < n; i++)
    memcpy((char *)recs + i * stride + f->offset, (const char *)col + i * size, size);
}

/* ---- record tables ------------------------------------------------------------------------ */

/* "<prefix><name>" of column c, for messages. */
static const char *col_name(const lf_h5_table *t, size_t c, char *buf, size_t n) {
  snprintf(buf, n, "%s%s", t->prefix, t->field[c].name);
  return buf;
}

void lf_h5_table_init(lf_h5_table *t) {
  for (size_t c = 0; c < t->nfield; c++) t->dset[c] = -1;
}

lf_status lf_h5_table_create(lf_h5_table *t, lf_h5_layout layout, size_t chunk) {
  lf_status rc = LF_OK;
  char nm[96];
  for (size_t c = 0; c < t->nfield && rc == LF_OK; c++) {
    const lf_h5_field *f = &t->field[c];
    rc = lf_h5_dset_create(t->loc, f->name, lf_h5_type_file(f->type), layout, chunk, 0, &t->dset[c],
                           t->path);
    if (rc == LF_OK && f->desc)
      rc = lf_h5_attr_write_str(t->dset[c], "description", f->desc, t->path,
                                col_name(t, c, nm, sizeof nm));
  }
  return rc;
}

lf_status lf_h5_table_len(const lf_h5_table *t, size_t *n) {
  char nm[96];
  *n = 0;
  for (size_t c = 0; c < t->nfield; c++) {
    size_t len = 0;
    lf_status rc = lf_h5_dset_len(t->loc, t->field[c].name, &len, t->path);
    if (rc != LF_OK) return rc;
    if (c == 0)
      *n = len;
    else if (len != *n)
      return LF_FAIL(LF_ERR_FORMAT, "'%s': column %s has %zu %s but %s%s has %zu (corrupted file?)",
                     t->path, col_name(t, c, nm, sizeof nm), len, t->unit, t->prefix,
                     t->field[0].name, *n);
  }
  return LF_OK;
}

lf_status lf_h5_table_cut(lf_h5_table *t, size_t rows) {
  char nm[96];
  for (size_t c = 0; c < t->nfield; c++) {
    size_t len = 0;
    lf_status rc = lf_h5_dset_len(t->loc, t->field[c].name, &len, t->path);
    if (rc != LF_OK) return rc;
    col_name(t, c, nm, sizeof nm);
    if (len < rows)
      return LF_FAIL(LF_ERR_FORMAT,
                     "'%s': column %s has %zu %s, the checkpoint needs %zu (the file does not "
                     "belong to this checkpoint)",
                     t->path, nm, len, t->unit, rows);
    t->dset[c] = H5Dopen2(t->loc, t->field[c].name, H5P_DEFAULT);
    const hsize_t size[1] = {(hsize_t)rows};
    if (t->dset[c] < 0 || H5Dset_extent(t->dset[c], size) < 0)
      return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot cut dataset %s back to %zu %s", t->path, nm,
                        rows, t->unit);
  }
  return LF_OK;
}

lf_status lf_h5_table_append(const lf_h5_table *t, size_t off, size_t n, const void *recs,
                             void *scratch, hid_t dxpl) {
  char nm[96];
  for (size_t c = 0; c < t->nfield && n > 0; c++) {
    const lf_h5_field *f = &t->field[c];
    lf_h5_field_gather(f, recs, t->stride, n, scratch);
    lf_status rc = lf_h5_dset_append(t->dset[c], lf_h5_type_mem(f->type), off, n, scratch, dxpl,
                                     t->path, col_name(t, c, nm, sizeof nm));
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}

lf_status lf_h5_table_read(const lf_h5_table *t, size_t n, void *recs, void *scratch) {
  for (size_t c = 0; c < t->nfield; c++) {
    const lf_h5_field *f = &t->field[c];
    lf_status rc =
        lf_h5_dset_read_1d(t->loc, f->name, lf_h5_type_mem(f->type), n, scratch, t->path);
    if (rc != LF_OK) return rc;
    lf_h5_field_scatter(f, recs, t->stride, n, scratch);
  }
  return LF_OK;
}

lf_status lf_h5_table_close(lf_h5_table *t, lf_status rc) {
  char nm[96];
  for (size_t c = 0; c < t->nfield; c++) {
    if (t->dset[c] >= 0 && H5Dclose(t->dset[c]) < 0 && rc == LF_OK)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close dataset %s", t->path,
                      col_name(t, c, nm, sizeof nm));
    t->dset[c] = -1;
  }
  return rc;
}

/* ---- attribute records -------------------------------------------------------------------- */

lf_status lf_h5_attrs_write(hid_t obj, const lf_h5_field *f, size_t n, const void *rec,
                            const char *path, const char *objname) {
  for (size_t i = 0; i < n; i++) {
    lf_status rc = lf_h5_attr_write_num(obj, f[i].name, f[i].type, (const char *)rec + f[i].offset,
                                        path, objname);
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}

lf_status lf_h5_attrs_read(hid_t obj, const lf_h5_field *f, size_t n, void *rec, const char *path,
                           const char *objname) {
  for (size_t i = 0; i < n; i++) {
    lf_status rc =
        lf_h5_attr_read_num(obj, f[i].name, f[i].type, (char *)rec + f[i].offset, path, objname);
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}
