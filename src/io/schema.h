/* src/io/schema.h: records described by a table, marshalled by one set of routines (internal
 * to the io module, not installed; implemented in schema.c).
 *
 * In the spirit of config's key table (src/config/config_keys.c: name, type, offset), a
 * record type that goes to HDF5 is described once by an array of lf_h5_field: the name of
 * its dataset (or attribute), its stored type and the offset of the field in the C struct,
 * plus the `description` attribute it carries. The routines below then do what each writer
 * used to write by hand (a switch per column, a pack and an unpack loop per field):
 *   - record tables (lf_h5_table): one 1-D extendible dataset per field, n records
 *     appended as n rows of every column (gather a column from the records, append it),
 *     read back into an array of records (read a column, scatter it), cut back on resume,
 *     checked for equal lengths. The metrics columns (/step ... /skipped, /eval/...) and
 *     the ensemble's chain columns are such tables.
 *   - attribute records (lf_h5_attrs_write/_read): every field a scalar attribute of one
 *     object, for small state records (a checkpoint's counters, a model's architecture).
 * Fields (lf_h5_field) and their types (lf_h5_type) are declared in latflow/record.h, so
 * areas without HDF5 describe their records too. Values are stored little-endian, native in
 * memory: the bytes a table writes are those the hand-written code wrote, in the same order
 * of HDF5 calls (create a column, then its description; append column after column).
 *
 * Every routine is local to its process unless its transfer list (dxpl) is collective; on
 * an MPI-IO file the creates, extends and attribute writes are collective (identical
 * arguments on every rank), as in h5util.h. Errors: LF_ERR_HDF5 (a failing HDF5 call),
 * LF_ERR_FORMAT (a missing or short column, unequal lengths, a wrong shape), LF_ERR_INVALID
 * (a caller bug), each naming the file, the column (prefix + name) and the counts. */
#ifndef LATFLOW_IO_SCHEMA_H
#define LATFLOW_IO_SCHEMA_H

#include "io/h5util.h"

#include <stddef.h>

/* The largest lf_h5_type_size: a column scratch of n records needs n * LF_H5_MAX_SIZE bytes. */
#define LF_H5_MAX_SIZE 8

/* Copies field f of the n records at recs (stride bytes apart) into col (n packed values). */
void lf_h5_field_gather(const lf_h5_field *f, const void *recs, size_t stride, size_t n, void *col);
/* Copies n packed values of field f from col into the n records at recs (stride bytes apart). */
void lf_h5_field_scatter(const lf_h5_field *f, void *recs, size_t stride, size_t n,
                         const void *col);

/* ---- record tables ---------------------------------------------------------------------
 * A table instance: which columns (the schema), where they are (loc), how messages name
 * them, and their open datasets. The caller fills it (all borrowed) and keeps dset
 * (nfield ids, -1 when closed) as long as the table is used. */
typedef struct lf_h5_table {
  const lf_h5_field *field; /* (nfield) the columns, in the order of creation            */
  size_t nfield;
  size_t stride;      /* sizeof the record                                               */
  hid_t loc;          /* the file or group holding the columns                           */
  const char *prefix; /* prepended to a column's name in messages ("", "/eval/")         */
  const char *unit;   /* a row in messages ("records", "evaluations")                    */
  const char *path;   /* the file, in messages                                           */
  hid_t *dset;        /* (nfield) open columns, -1 when closed                            */
} lf_h5_table;

/* Marks every column closed (dset[i] = -1). */
void lf_h5_table_init(lf_h5_table *t);
/* Creates every column empty (lf_h5_dset_create, layout `layout`, chunks of chunk rows)
 * and, where the field has one, its `description` attribute, column after column. */
lf_status lf_h5_table_create(lf_h5_table *t, lf_h5_layout layout, size_t chunk);
/* The common length *n of the columns (1-D each); columns of unequal length are
 * LF_ERR_FORMAT "column <b> has <len> <unit> but <a> has <n> (corrupted file?)". */
lf_status lf_h5_table_len(const lf_h5_table *t, size_t *n);
/* Opens every column for writing and sets its length to rows (a resume: a run killed after
 * its checkpoint may have written more); a column shorter than rows is LF_ERR_FORMAT
 * "column <c> has <len> <unit>, the checkpoint needs <rows> (...)". */
lf_status lf_h5_table_cut(lf_h5_table *t, size_t rows);
/* Appends the n records at recs as rows [off, off + n) of every column (lf_h5_dset_append,
 * transfer list dxpl), one column after the other; scratch holds n * LF_H5_MAX_SIZE bytes.
 * n == 0 writes nothing. A failure may leave the columns of unequal length. */
lf_status lf_h5_table_append(const lf_h5_table *t, size_t off, size_t n, const void *recs,
                             void *scratch, hid_t dxpl);
/* Reads rows [0, n) of every column (exactly n rows each) into the n records at recs;
 * scratch holds n * LF_H5_MAX_SIZE bytes. */
lf_status lf_h5_table_read(const lf_h5_table *t, size_t n, void *recs, void *scratch);
/* Closes the open columns; returns rc, or the first failure if rc is LF_OK. */
lf_status lf_h5_table_close(lf_h5_table *t, lf_status rc);

/* ---- attribute records -------------------------------------------------------------------
 * Every field of the record at rec as a scalar attribute of obj (objname names obj in
 * messages); writers replace existing attributes, readers refuse a missing one
 * (LF_ERR_FORMAT) and convert any stored integer type (range-checked by HDF5). */
lf_status lf_h5_attrs_write(hid_t obj, const lf_h5_field *f, size_t n, const void *rec,
                            const char *path, const char *objname);
lf_status lf_h5_attrs_read(hid_t obj, const lf_h5_field *f, size_t n, void *rec, const char *path,
                           const char *objname);

/* The columns of lf_train_eval_record (train.h5 /eval, defined in metrics.c), shared by
 * the other tables of such records (a study file's curves); *n gets their number. */
const lf_h5_field *lf_io_eval_fields(size_t *n);

#endif
