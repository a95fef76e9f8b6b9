/* latflow/ckpt.h: checkpoint files (DESIGN.md section 7; docs/FORMAT.md "Checkpoints").
 *
 * A checkpoint holds everything a command needs to continue exactly where it stopped:
 * named 1-D arrays (parameters, optimizer moments, chain states, ...) stored bitwise, and
 * named scalars (step, RNG counters, dataset lengths, ...) as root attributes. A state
 * struct is described once by a field table (lf_h5_field, latflow/record.h: name, type,
 * offset) and stored by lf_ckpt_put_attrs (its scalars) or lf_ckpt_put_table (an array of
 * records, e.g. one per chain: a dataset per field); the _get twins read it back. The file
 * carries the common header of latflow/io.h with latflow_format = "checkpoint", the
 * attribute `what` (train | sample | hmc) and /meta with the full config of the run.
 *
 * Writing is atomic and keeps the previous checkpoint: lf_ckpt_create makes
 * "<path>.tmp"; lf_ckpt_commit closes and fsyncs it, renames an existing <path> to
 * "<path>.prev" (lf_ckpt_prev_path), renames the tmp file to <path> and fsyncs the
 * directory. At every moment <path> or (between the two renames) <path>.prev is a
 * complete checkpoint; lf_ckpt_open falls back to .prev when <path> is missing.
 *
 * Integrity: lf_ckpt_commit writes, last, the root attribute `checksum` (u64): FNV-1a/64
 * over every attribute and dataset of the file (names, element sizes, counts and stored
 * bytes, in name order; docs/FORMAT.md). lf_ckpt_open recomputes it; on a mismatch (or a
 * format-4 file without it) it falls back to <path>.prev if that one is sound (with a
 * WARN naming both), else refuses with LF_ERR_FORMAT "'<path>': checksum mismatch:
 * corrupted (...)". Files of format 1 to 3 have no checksum and are read with a WARN.
 *
 * lf_ckpt_compat refuses to resume a run with a config that would change its result:
 * every key must equal the checkpoint's except the run-length and bookkeeping keys
 * (train.stop.*, train.checkpoint_every, train.checkpoint_seconds, train.log_every,
 * train.eval_samples, sample.proposals, sample.checkpoint_every, sample.checkpoint_seconds,
 * hmc.trajectories, hmc.checkpoint_every, hmc.checkpoint_seconds,
 * hmc.compare, output) and the sections the command does not use (train and hmc for
 * sample; train, model and sample except sample.save for hmc; sample and hmc for train;
 * for hmc also the keys lf_theory_hmc_unused names: hmc.fermion unless the theory has
 * fermions (schwinger), and hmc.cg_tol, hmc.cg_maxiter unless both configs use
 * pseudofermions). A difference in the physics (lf_theory_cfg_same_physics) is named first.
 *
 * All functions are local (serial HDF5; call them on one rank). */
#ifndef LATFLOW_CKPT_H
#define LATFLOW_CKPT_H

#include "latflow/config.h"
#include "latflow/record.h"
#include "latflow/status.h"

#include <stddef.h>
#include <stdint.h>

#define LF_IO_CKPT_FORMAT_VERSION 4 /* 4: root attribute checksum */

/* The element types of checkpoint datasets are lf_h5_type; these are its old names. */
typedef lf_h5_type lf_ckpt_type;
#define LF_CKPT_F64 LF_H5_F64 /* double                      */
#define LF_CKPT_I64 LF_H5_I64 /* int64_t                     */
#define LF_CKPT_U8 LF_H5_U8   /* bytes (any struct, bitwise) */

typedef struct lf_ckpt lf_ckpt; /* opaque */

/* "<path>.prev" into out[n] (LF_ERR_INVALID if too long). */
lf_status lf_ckpt_prev_path(char *out, size_t n, const char *path);

/* Creates "<path>.tmp" exclusively (a stale regular file is replaced, a link refused:
 * latflow/io.h) with the header, `what` and /meta(cfg,
 * ranks). Errors: LF_ERR_INVALID, LF_ERR_IO, LF_ERR_HDF5, LF_ERR_NOMEM. */
lf_status lf_ckpt_create(lf_ckpt **c, const char *path, const char *what, const lf_config *cfg,
                         int ranks);
/* Stores n values of type t under name (a new dataset; n = 0 allowed). */
lf_status lf_ckpt_put(lf_ckpt *c, const char *name, lf_h5_type t, size_t n, const void *data);
lf_status lf_ckpt_put_i64(lf_ckpt *c, const char *name, int64_t v);
lf_status lf_ckpt_put_f64(lf_ckpt *c, const char *name, double v);
/* Stores every field of the record at rec (nf fields f) as a scalar root attribute, in
 * table order (desc is not stored). */
lf_status lf_ckpt_put_attrs(lf_ckpt *c, const lf_h5_field *f, size_t nf, const void *rec);
/* Stores n records (recs, stride bytes apart) as nf datasets of n values each, one per
 * field in table order (lf_ckpt_put of the gathered field; desc is not stored).
 * LF_ERR_NOMEM for the column buffer. */
lf_status lf_ckpt_put_table(lf_ckpt *c, const lf_h5_field *f, size_t nf, size_t n, const void *recs,
                            size_t stride);
/* Closes, syncs and renames as described above; frees c (also on failure, which leaves
 * the previous checkpoint in place). */
lf_status lf_ckpt_commit(lf_ckpt *c);
/* Closes and deletes the tmp file; frees c (c may be NULL). */
void lf_ckpt_abort(lf_ckpt *c);

/* Opens <path> (or <path>.prev if <path> does not exist or is corrupted, see above)
 * read-only and verifies its checksum: kind "checkpoint",
 * `what` must equal what (LF_ERR_FORMAT "'x' is a sample checkpoint, expected a train
 * checkpoint"). cfg_out (may be NULL) gets lf_config_defaults + the stored YAML.
 * Missing files are LF_ERR_IO ("no checkpoint '<path>' to resume from"). */
lf_status lf_ckpt_open(lf_ckpt **c, const char *path, const char *what, lf_config *cfg_out);
/* The file actually opened (path or path.prev). */
const char *lf_ckpt_path(const lf_ckpt *c);
/* Reads exactly n values of dataset name (another length or type class is
 * LF_ERR_FORMAT naming the file and the dataset). */
lf_status lf_ckpt_get(lf_ckpt *c, const char *name, lf_h5_type t, size_t n, void *data);
/* Length of dataset name (LF_ERR_FORMAT if missing). */
lf_status lf_ckpt_len(lf_ckpt *c, const char *name, size_t *n);
lf_status lf_ckpt_get_i64(lf_ckpt *c, const char *name, int64_t *v);
lf_status lf_ckpt_get_f64(lf_ckpt *c, const char *name, double *v);
/* Reads the root attributes of the nf fields f into the record at rec (a missing one is
 * LF_ERR_FORMAT; integers convert from any stored integer type, range-checked). */
lf_status lf_ckpt_get_attrs(lf_ckpt *c, const lf_h5_field *f, size_t nf, void *rec);
/* Reads the nf datasets of fields f (n values each, as lf_ckpt_get) into n records (recs,
 * stride bytes apart). LF_ERR_NOMEM for the column buffer. */
lf_status lf_ckpt_get_table(lf_ckpt *c, const lf_h5_field *f, size_t nf, size_t n, void *recs,
                            size_t stride);
/* *exists = 1 if the checkpoint has the dataset name, else 0 (a table field added in a
 * later format is read only when present). LF_ERR_FORMAT if the lookup fails. */
lf_status lf_ckpt_has(lf_ckpt *c, const char *name, int *exists);
void lf_ckpt_close(lf_ckpt *c);

/* LF_ERR_CONFIG "<path>: cannot resume: '<key>' differs between the checkpoint and the
 * config ..." unless stored and now agree as described above; what is "train",
 * "sample" or "hmc". */
lf_status lf_ckpt_compat(const lf_config *stored, const lf_config *now, const char *what,
                         const char *path);

#endif
