/* latflow/record.h: how a stored record is described (the types of the record schemas).
 *
 * A record that goes to a file (a metrics row, an ensemble chain step, a checkpoint's
 * counters, a chain's state) is described once by an array of lf_h5_field, in the spirit
 * of config's key table: the name of its dataset or attribute, its stored element type
 * and the offset of the field in the C struct, plus an optional description. The io
 * module marshals such tables (src/io/schema.h: record tables and attribute records;
 * latflow/ckpt.h: checkpoint tables and attributes), so no writer or reader switches on
 * a field. This header needs no HDF5: every area may describe its records. */
#ifndef LATFLOW_RECORD_H
#define LATFLOW_RECORD_H

#include <stddef.h>

/* The element types latflow stores, one enum for datasets, attributes and record schemas:
 * stored little-endian, read and written in the native type. Values are not stored in
 * files, but never renumbered. */
typedef enum lf_h5_type {
  LF_H5_I8 = 0,  /* int8_t   / H5T_STD_I8LE   */
  LF_H5_U8 = 1,  /* uint8_t  / H5T_STD_U8LE   */
  LF_H5_I32 = 2, /* int32_t  / H5T_STD_I32LE  */
  LF_H5_I64 = 3, /* int64_t  / H5T_STD_I64LE  */
  LF_H5_U64 = 4, /* uint64_t / H5T_STD_U64LE  */
  LF_H5_F64 = 5  /* double   / H5T_IEEE_F64LE */
} lf_h5_type;

/* One field of a record: the field at `offset` of the C struct (of type `type`) is the
 * dataset or attribute `name`; desc (NULL: none) is its `description` attribute. */
typedef struct lf_h5_field {
  const char *name;
  lf_h5_type type;
  size_t offset; /* offsetof(record, field) */
  const char *desc;
} lf_h5_field;

#endif
