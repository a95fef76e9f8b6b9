/* src/io/h5util.h: internal HDF5 helpers of the io module (not installed).
 *
 * Every helper checks every HDF5 call and maps a failure to an lf_status with a message
 * that names the file (`path`, as shown to the user), the object and HDF5's innermost
 * error text (the automatic error printing is off: lf_h5_quiet). Strings are stored as
 * fixed-length, NUL-terminated ASCII; integers little-endian; doubles IEEE LE.
 *
 * The helpers take object ids and a fapl so that the parallel writers (ensembles,
 * checkpoints) reuse them with an MPI-IO fapl: attribute and dataset creation are then
 * collective and every rank must pass identical arguments (including created_utc, which
 * rank 0 makes and broadcasts). The atomic-write helpers (lf_h5_create_tmp,
 * lf_io_commit_tmp) do file-system work and run on one rank.
 *
 * Implemented in five files along the sections below: h5err.c (errors), h5vfd.c (the
 * serial file driver: failed writes, flush, lf_h5_fapl_serial), h5file.c (closing
 * written files, the latflow header, checked open, atomic writes, file-access lists),
 * h5attr.c (attributes, string arrays), h5dset.c (scalar types, groups, datasets). The
 * record schemas built on them (a table of fields marshalled by one routine) are in schema.h. */
#ifndef LATFLOW_IO_H5UTIL_H
#define LATFLOW_IO_H5UTIL_H

#include "latflow/config.h"
#include "latflow/record.h"
#include "latflow/status.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Switches off HDF5's automatic error-stack printing (idempotent, cheap). */
void lf_h5_quiet(void);

/* Records "<fmt...>: HDF5: <innermost error description>" as the last error and returns
 * s. Call it right after the failing HDF5 call (the next HDF5 call clears the stack). */
lf_status lf_h5_fail(lf_status s, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define LF_H5_FAIL(s, ...) lf_h5_fail((s), __FILE__, __LINE__, __VA_ARGS__)

/* The innermost description on HDF5's current error stack ("no details" if empty). */
void lf_h5_error_text(char *buf, size_t n);
/* 1 if an entry of HDF5's current error stack is a failed write (a full disk), else 0. */
int lf_h5_stack_has_write(void);

/* ---- closing written files ------------------------------------------------------------
 * HDF5 1.10 (before 1.10.10) frees a file's state when H5Fclose fails to flush it (a full
 * disk) but keeps its id; MPI_Finalize (H5close) then closes that id again and crashes.
 * So a written file is closed only when its close cannot fail on a write: after a
 * successful flush, or after lf_h5_detach. */
/* Points every descriptor this process holds on the file (any driver; Linux) at anonymous
 * memory: later writes, the close's flush included, succeed without reaching the disk,
 * whose copy stays as the last successful write left it. Read-only files: no effect. */
void lf_h5_detach(hid_t file);
/* The files of lf_h5_fapl_serial use latflow's POSIX driver, which never reports a failed
 * write to HDF5 (see h5vfd.c) but records its errno: these read it. Nothing more of a
 * file reaches the disk after its first failed write. */
/* LF_ERR_IO "'path': cannot write: <errno text>" if a write of file failed, else LF_OK
 * (also for files of other drivers). */
lf_status lf_h5_write_error(hid_t file, const char *path);
/* H5Fflush (global: H5F_SCOPE_GLOBAL) and lf_h5_write_error: the message names path and
 * says what was being flushed ("after 20 records"). */
lf_status lf_h5_flush(hid_t file, int global, const char *path, const char *what);
/* fsync of a serially opened file's descriptor (after a flush): what was flushed is on disk.
 * LF_ERR_HDF5 (no handle) or LF_ERR_IO (the errno text), naming path. */
lf_status lf_h5_fsync(hid_t file, const char *path);
/* Flushes a file opened for writing (H5F_SCOPE_LOCAL); if that fails, detaches it and
 * returns LF_ERR_HDF5 naming path. Afterwards neither the file's objects nor the file
 * fail to close on a write. Collective for an MPI-IO file. */
lf_status lf_h5_settle(hid_t file, const char *path);
/* lf_h5_settle, then closes the file (no other object of it may be open);
 * *file = -1. LF_ERR_HDF5 names path. Collective for an MPI-IO file. */
lf_status lf_h5_close(hid_t *file, const char *path);
/* Failure paths: detaches and closes, errors ignored (the recorded message stays). The
 * caller closes the file's other objects after this call (their flushes then cannot
 * fail either). */
void lf_h5_discard(hid_t *file);
/* ---- scalar types ----------------------------------------------------------------------
 * The element types latflow stores (lf_h5_type, latflow/record.h), one enum for datasets,
 * attributes and the record schemas of schema.h. */
/* The stored (little-endian) HDF5 type, the native memory type and the size in bytes of t. */
hid_t lf_h5_type_file(lf_h5_type t);
hid_t lf_h5_type_mem(lf_h5_type t);
size_t lf_h5_type_size(lf_h5_type t);

/* ---- attributes on obj (a file id means the root group); objname names obj ------------- */
/* A scalar attribute of type t; val points at one value of t's memory type. The typed
 * writers and readers below are this pair for one type each. */
lf_status lf_h5_attr_write_num(hid_t obj, const char *name, lf_h5_type t, const void *val,
                               const char *path, const char *objname);
/* Reads a scalar numeric attribute into *out (t's memory type): an integer t needs a stored
 * integer, LF_H5_F64 a stored float or integer (converted by HDF5, range-checked). */
lf_status lf_h5_attr_read_num(hid_t obj, const char *name, lf_h5_type t, void *out,
                              const char *path, const char *objname);
/* Writers replace an existing attribute of the same name. */
lf_status lf_h5_attr_write_str(hid_t obj, const char *name, const char *val, const char *path,
                               const char *objname);
lf_status lf_h5_attr_write_i32(hid_t obj, const char *name, int val, const char *path,
                               const char *objname);
lf_status lf_h5_attr_write_i64(hid_t obj, const char *name, int64_t val, const char *path,
                               const char *objname);
lf_status lf_h5_attr_write_u64(hid_t obj, const char *name, uint64_t val, const char *path,
                               const char *objname);
lf_status lf_h5_attr_write_f64(hid_t obj, const char *name, double val, const char *path,
                               const char *objname);
/* A 1-D int32 attribute of n >= 1 values. */
lf_status lf_h5_attr_write_i32v(hid_t obj, const char *name, const int *val, size_t n,
                                const char *path, const char *objname);

/* 1 if obj has the attribute, 0 if not; LF_ERR_HDF5 on failure. */
lf_status lf_h5_attr_exists(hid_t obj, const char *name, int *exists, const char *path,
                            const char *objname);
/* Readers: a missing attribute or a wrong shape/class is LF_ERR_FORMAT. Integer reads
 * convert any stored integer type (range-checked by HDF5). */
lf_status lf_h5_attr_read_str(hid_t obj, const char *name, char **out, const char *path,
                              const char *objname); /* *out: malloc'ed, caller frees */
/* A string attribute copied into buf[n]; one that does not fit is LF_ERR_FORMAT. */
lf_status lf_h5_attr_read_strn(hid_t obj, const char *name, char *buf, size_t n, const char *path,
                               const char *objname);
lf_status lf_h5_attr_read_i64(hid_t obj, const char *name, int64_t *out, const char *path,
                              const char *objname);
lf_status lf_h5_attr_read_u64(hid_t obj, const char *name, uint64_t *out, const char *path,
                              const char *objname);
lf_status lf_h5_attr_read_f64(hid_t obj, const char *name, double *out, const char *path,
                              const char *objname);
/* Reads a 1-D integer attribute of at most nmax values into val; *n = its length. */
lf_status lf_h5_attr_read_i32v(hid_t obj, const char *name, int *val, size_t nmax, size_t *n,
                               const char *path, const char *objname);

/* ---- groups ------------------------------------------------------------------------------ */
/* A new property list of class cls (group, dataset or file creation) that records no object
 * modification times (two otherwise identical files would differ); -1 on failure. */
hid_t lf_h5_untimed_plist(hid_t cls);
/* Creates a group (object modification times are not recorded: files stay deterministic). */
lf_status lf_h5_group_create(hid_t loc, const char *name, hid_t *group, const char *path);
/* Opens a group; a missing group is LF_ERR_FORMAT. */
lf_status lf_h5_group_open(hid_t loc, const char *name, hid_t *group, const char *path);
/* 1 if loc has a link name, 0 if not; LF_ERR_FORMAT if the lookup fails. */
lf_status lf_h5_link_exists(hid_t loc, const char *name, int *exists, const char *path);

/* ---- datasets: one API, every dataset a table of rows -------------------------------------
 * A dataset is 1-D [rows] (width 0) or 2-D [rows, width]. It is made by lf_h5_dset_create
 * in one of three layouts, opened by lf_h5_dset_open_rows, and its rows are written and
 * read by lf_h5_dset_write_rows / lf_h5_dset_read_rows (an extendible one grows with
 * lf_h5_dset_extend; lf_h5_dset_append is both). The whole-dataset helpers below
 * (lf_h5_dset_write_1d, lf_h5_dset_len, lf_h5_dset_read_1d) are these calls in sequence.
 * For the parallel writer every rank passes the same create and extend arguments
 * (collective) and its own rows (collective transfer: dxpl). `name` names the dataset in
 * messages (give the full path, e.g. "/chain_0/obs"); at creation it is the link name. */
typedef enum lf_h5_layout {
  LF_H5_FIXED = 0,    /* contiguous, rows fixed at creation                                  */
  LF_H5_ROWS = 1,     /* chunked, unlimited rows; chunks allocated at the extend and never
                         filled (parallel HDF5 needs it: the ensemble and checkpoint tables)  */
  LF_H5_ROWS_LAZY = 2 /* chunked, unlimited rows, HDF5's default fill and allocation times:
                         a serial writer that never resumes on several ranks (metrics)     */
} lf_h5_layout;
/* Creates dataset name of loc, file type ftype: FIXED, rows rows (unwritten until
 * lf_h5_dset_write_rows); ROWS and ROWS_LAZY, empty with chunks of rows rows (>= 1).
 * Object modification times are not recorded. */
lf_status lf_h5_dset_create(hid_t loc, const char *name, hid_t ftype, lf_h5_layout layout,
                            size_t rows, size_t width, hid_t *dset, const char *path);
/* lf_h5_dset_create(ROWS): the row tables of the ensemble writer. */
lf_status lf_h5_dset_create_rows(hid_t loc, const char *name, hid_t ftype, size_t width,
                                 size_t chunk_rows, hid_t *dset, const char *path);
/* lf_h5_dset_create(ROWS_LAZY, width 0): the metrics columns. */
lf_status lf_h5_dset_create_ext(hid_t loc, const char *name, hid_t ftype, size_t chunk, hid_t *dset,
                                const char *path);
/* Sets dimension 0 of an extendible dataset to rows (the width is kept). */
lf_status lf_h5_dset_extend(hid_t dset, size_t rows, const char *path, const char *name);
/* Writes rows [off, off + n) from buf (n x width values of memory type mtype, row-major);
 * the dataset must already have off + n rows. dxpl: a transfer property list (H5P_DEFAULT
 * for serial writes). n == 0 writes nothing. */
lf_status lf_h5_dset_write_rows(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                                hid_t dxpl, const char *path, const char *name);
/* lf_h5_dset_extend to off + n rows, then lf_h5_dset_write_rows (n == 0: nothing): the
 * append of the serial writers (metrics, the ensemble's buffered rows). */
lf_status lf_h5_dset_append(hid_t dset, hid_t mtype, size_t off, size_t n, const void *buf,
                            hid_t dxpl, const char *path, const char *name);
/* Opens dataset name of loc, which must be 1-D or 2-D: dims[0] = rows, dims[1] = width
 * (1 for 1-D), *ndims (may be NULL) = 1 or 2. A missing dataset or another rank is
 * LF_ERR_FORMAT. The caller closes *dset. */
lf_status lf_h5_dset_open_rows(hid_t loc, const char *name, hid_t *dset, int *ndims, size_t dims[2],
                               const char *path);
/* Reads rows [off, off + n) into buf (n x width values of memory type mtype). A range
 * outside the dataset is LF_ERR_INVALID; a failing read LF_ERR_FORMAT. */
lf_status lf_h5_dset_read_rows(hid_t dset, hid_t mtype, size_t off, size_t n, void *buf,
                               const char *path, const char *name);

/* Whole 1-D datasets. Writes a FIXED 1-D dataset of n values (memory type mtype, file type
 * ftype) and closes it. */
lf_status lf_h5_dset_write_1d(hid_t loc, const char *name, hid_t mtype, hid_t ftype, size_t n,
                              const void *buf, const char *path);
/* Length of a 1-D dataset (LF_ERR_FORMAT if missing or not 1-D). */
lf_status lf_h5_dset_len(hid_t loc, const char *name, size_t *n, const char *path);
/* Reads a whole 1-D dataset of exactly n values (LF_ERR_FORMAT on another length). */
lf_status lf_h5_dset_read_1d(hid_t loc, const char *name, hid_t mtype, size_t n, void *buf,
                             const char *path);

/* ---- string-array attributes ----------------------------------------------------------- */
/* A 1-D attribute of n >= 1 fixed-length strings (size = longest + 1, NUL-terminated,
 * UTF-8); string i is val + i*stride (NUL-terminated within stride bytes). */
lf_status lf_h5_attr_write_strv(hid_t obj, const char *name, const char *val, size_t stride,
                                size_t n, const char *path, const char *objname);
/* Reads a 1-D string attribute (fixed or variable length) of 1..nmax strings into
 * val + i*stride; *n = its length. A string that does not fit in stride bytes (with its
 * NUL) is LF_ERR_FORMAT. */
lf_status lf_h5_attr_read_strv(hid_t obj, const char *name, char *val, size_t stride, size_t nmax,
                               size_t *n, const char *path, const char *objname);

/* ---- latflow header --------------------------------------------------------------------- */
/* Current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (or SOURCE_DATE_EPOCH when set). */
void lf_io_utc_now(char buf[32]);

/* Root attributes latflow_format, format_version, latflow_version, git_rev, git_dirty,
 * compiler, cflags, created_utc (NULL: now). */
lf_status lf_h5_write_header(hid_t file, const char *kind, int version, const char *created_utc,
                             const char *path);
/* Group /meta: config_yaml (lf_config_to_yaml(cfg)), seed, ranks, hdf5_version,
 * mpi_version, openblas_config. */
lf_status lf_h5_write_meta(hid_t file, const lf_config *cfg, int ranks, const char *path);
/* Reads /meta/config_yaml into cfg (lf_config_defaults + lf_config_parse_string). A text
 * that does not parse is LF_ERR_FORMAT (a damaged file: exit 1), not LF_ERR_CONFIG. */
lf_status lf_h5_read_config(hid_t file, lf_config *cfg, const char *path);

/* The newest format_version this build reads for a kind, or 0 for a kind it does not
 * know. */
int lf_io_kind_version(const char *kind);

/* Opens an existing latflow file read-only, with every refusal of latflow/io.h. If
 * expect is not NULL the kind must equal it. kind_out (may be NULL, size kind_n) gets the
 * kind, version_out (may be NULL) the format_version. */
lf_status lf_h5_open_latflow(const char *path, const char *expect, hid_t fapl, hid_t *file,
                             char *kind_out, size_t kind_n, int *version_out);

/* ---- atomic writes ---------------------------------------------------------------------- */
/* lf_h5_prepare_tmp + lf_h5_create_excl: refuses an existing path unless overwrite
 * (LF_ERR_IO), a path that is a directory or a symbolic link (also with overwrite); sets
 * tmp = "<path>.tmp", removes a stale tmp if it is a regular file (refuses anything else)
 * and creates tmp exclusively with fapl (H5P_DEFAULT allowed). One process. */
lf_status lf_h5_create_tmp(const char *path, int overwrite, hid_t fapl, char *tmp, size_t tmp_n,
                           hid_t *file);
/* The file-system checks of lf_h5_create_tmp, for one rank of a collective create: sets
 * tmp and leaves its name free (or refuses). */
lf_status lf_h5_prepare_tmp(const char *path, int overwrite, char *tmp, size_t tmp_n);
/* H5Fcreate(tmp, H5F_ACC_EXCL, fapl): fails, naming tmp, if the name exists in any form
 * (a link planted after lf_h5_prepare_tmp included). Collective when fapl is MPI-IO. */
lf_status lf_h5_create_excl(const char *tmp, hid_t fapl, hid_t *file);
/* After the tmp file is closed: fsync it, refuse a symbolic link at path (LF_ERR_IO),
 * rename it to path and fsync the directory. */
lf_status lf_io_commit_tmp(const char *tmp, const char *path);
/* Writes one whole file at once (model and study files): lf_h5_create_tmp(path, overwrite)
 * with lf_h5_fapl_serial, the header of kind and version, body(file, tmp, ctx) for the
 * rest, then closes, syncs and renames it to path; on failure the .tmp is removed. */
typedef lf_status (*lf_h5_body_fn)(hid_t file, const char *tmp, const void *ctx);
lf_status lf_h5_write_whole(const char *path, int overwrite, const char *kind, int version,
                            lf_h5_body_fn body, const void *ctx);
/* Sets fapl's format bounds to the HDF5 1.8 format (low and high), whose metadata carries
 * checksums that HDF5 verifies before decoding; every file latflow creates uses it. */
lf_status lf_h5_fapl_checksummed(hid_t fapl);
/* A file-access property list for serial writes: latflow's POSIX driver (sec2's I/O; see
 * lf_h5_write_error), strong close degree (closing the file closes every object left open on
 * an error path), the 1.8 format (lf_h5_fapl_checksummed). */
lf_status lf_h5_fapl_serial(hid_t *fapl);
/* The id of latflow's serial driver (registered on first use, again after an H5close), or
 * a negative value if HDF5 refuses it. */
hid_t lf_h5_vfd_id(void);
/* Switches off evictions of HDF5's metadata cache on fapl: dirty metadata reaches the file
 * only at a flush or close. The ensemble and metrics writers flush before every
 * checkpoint, so a process killed between checkpoints leaves a file whose metadata is
 * that of the last flush (the raw data written after it lies in rows the resume cuts
 * away). The cache of these files (a few datasets) stays small. path names the file in
 * messages. */
lf_status lf_h5_fapl_no_evictions(hid_t fapl, const char *path);

#endif
