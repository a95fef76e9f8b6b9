/* latflow/ensemble.h: ensemble files (<out>/ensemble.h5), written by `latflow sample`
 * and `latflow hmc`, read by `analyze`, `plot` and the merge tool (docs/FORMAT.md).
 *
 * One file holds R >= 1 chains (a fresh file 1; a merged file several, boundaries kept).
 * Per chain there are two tables:
 *   rows  : one row per stored state (unique configuration): its observables (nobs,
 *           names in the file), its correlator (ncorr values, e.g. the zero-momentum
 *           correlator G(t) of phi^4), and, when configurations are saved, the field
 *           (C*V doubles). Observables and correlators are always stored, so a run with
 *           sample.save = none can still be analysed.
 *   chain : one record per Markov step (IMH proposal, or HMC trajectory, or, in
 *           reweighting mode, one per proposal): the row of the state after the step,
 *           the proposal id (HMC: trajectory number), log w (flow; HMC: NaN), dH (HMC;
 *           flow: NaN) and the accept flag; pseudofermion HMC (info.cg = 1) adds the CG
 *           iterations of the trajectory, in all and of its longest solve.
 * The Monte Carlo time series of observable k is obs[row[i]][k], i = 0..steps-1.
 * At close (and lf_ens_add_chain) the writer adds per chain the dataset multiplicity
 * (i64 [rows]): how many chain steps have row == r, computed from the row column that is
 * on disk, so it is the same for any number of writing ranks and after a resume. Every
 * writer stores rows in chain order (the row of step i never decreases), so the series is
 * also np.repeat(obs, multiplicity, axis=0). It also writes a `description` string
 * attribute on every per-chain dataset, `columns` (= obs_names) on obs, and the root
 * attribute `how_to_read` (format_version 3, docs/FORMAT.md section 8).
 * The file carries the common root attributes of latflow/io.h with latflow_format =
 * "ensemble", /meta (config YAML, ...), and the run attributes in lf_ens_info.
 * Datasets are chunked and extendible; appends are buffered in memory and written by
 * _flush/_close. The file is "<path>.tmp" while being written and renamed on close;
 * an existing <path> is refused unless overwrite != 0 (LF_ERR_IO).
 * Readers refuse as in latflow/io.h (not HDF5, truncated, not latflow, wrong kind,
 * newer format_version), and check that all per-chain datasets have consistent lengths
 * and that every chain row index is < rows (LF_ERR_FORMAT naming the dataset).
 * They read format versions 1..3; a file without multiplicity (versions 1 and 2, or the
 * .tmp of a run) gets it computed from row.
 * The functions above lf_ens_create_par are local (serial HDF5). The collective writer
 * (lf_ens_create_par, lf_ens_reopen with a communicator) opens the file with the MPI-IO
 * driver on every rank of comm; then lf_ens_write_epoch, lf_ens_set_gen_seconds (same
 * value everywhere), lf_ens_close and lf_ens_abort are collective and the buffered
 * appends must not be used. Rank 0 renames the file on close. */
#ifndef LATFLOW_ENSEMBLE_H
#define LATFLOW_ENSEMBLE_H

#include "latflow/config.h"
#include "latflow/ensemble_data.h"
#include "latflow/status.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define LF_IO_ENSEMBLE_FORMAT_VERSION 3

typedef struct lf_ens_writer lf_ens_writer; /* opaque */

/* Creates "<path>.tmp" with one chain (chain 0) and writes the header, /meta (cfg) and
 * info. info must have kind in {IMH, REWEIGHT, HMC}, a theory name, C, L0, L1 >= 1,
 * nobs in [1, LF_MAX_OBS] with non-empty names, ncorr in [0, LF_ENS_MAX_CORR],
 * save_configs and cg 0 or 1. On failure *w is NULL and nothing is left on disk.
 * Errors: LF_ERR_INVALID (bad info), LF_ERR_IO, LF_ERR_HDF5, LF_ERR_NOMEM. */
lf_status lf_ens_create(lf_ens_writer **w, const char *path, const lf_config *cfg,
                        const lf_ens_info *info, int overwrite);
/* Appends one stored state: obs (nobs), corr (ncorr; may be NULL if ncorr = 0), phi
 * (C*V; ignored unless save_configs). *row (may be NULL) gets its row index. Non-finite
 * observables are LF_ERR_NUMERIC (a caller must never store a NaN state). */
lf_status lf_ens_append_row(lf_ens_writer *w, const double *obs, const double *corr,
                            const double *phi, int64_t *row);
/* Appends n chain steps (row < rows appended so far, else LF_ERR_INVALID). All or
 * nothing: a refused call appends no step. */
lf_status lf_ens_append_steps(lf_ens_writer *w, size_t n, const lf_ens_step *steps);
/* Rows and steps appended so far to the current chain (written or buffered). */
int64_t lf_ens_rows(const lf_ens_writer *w);
int64_t lf_ens_steps(const lf_ens_writer *w);
/* Sets info.gen_seconds (written at close). */
void lf_ens_set_gen_seconds(lf_ens_writer *w, double seconds);
/* Writes buffers to the .tmp file and flushes it. */
lf_status lf_ens_flush(lf_ens_writer *w);
/* lf_ens_flush, then makes the data durable (fsync; a collective writer's flush already
 * is an MPI_File_sync, so it is collective then). Call before recording the lengths in a
 * checkpoint. */
lf_status lf_ens_sync(lf_ens_writer *w);
/* Flushes, writes the current chain's multiplicity (from its row column; a chain row
 * outside [0, rows) is LF_ERR_INVALID) and the description attributes, closes, fsyncs,
 * renames to path and frees w (also on failure; w may be NULL). */
lf_status lf_ens_close(lf_ens_writer *w);
/* Flushes and closes the .tmp file, keeping it for lf_ens_reopen (an interrupted run);
 * frees w (also on failure). */
lf_status lf_ens_suspend(lf_ens_writer *w);
/* Closes and deletes the .tmp file without renaming (a failed run); frees w. */
void lf_ens_abort(lf_ens_writer *w);
/* Flushes chain r, writes its multiplicity and descriptions (as lf_ens_close) and starts
 * chain r+1 (group /chain_<r+1>, attribute nchains = r+2) in the same file: later
 * append_row/append_steps go to the new chain, whose rows and steps start at 0
 * (lf_ens_rows/lf_ens_steps count the current chain). For the merge tool.
 * Errors: LF_ERR_HDF5 (the writer then refuses further writes). */
lf_status lf_ens_add_chain(lf_ens_writer *w);

/* Collective over comm (MPI_COMM_NULL or a comm of one rank: exactly lf_ens_create, whose
 * serial driver survives a full disk): every rank passes the same arguments; rank 0 creates
 * the file with the serial driver and closes it, then every rank opens it with the MPI-IO
 * driver (lf_ens_reopen with 0 rows); /meta/ranks = size of comm, created_utc is rank 0's.
 * A failure removes the new file. Agreed status on every rank, also after each collective
 * step of lf_ens_write_epoch. */
lf_status lf_ens_create_par(lf_ens_writer **w, const char *path, const lf_config *cfg,
                            const lf_ens_info *info, int overwrite, MPI_Comm comm);
/* Resumes writing the ensemble of an interrupted run: opens "<path>.tmp" for writing
 * (collective over comm; MPI_COMM_NULL or one rank: serial), checks that it holds one chain of the
 * same kind, theory, lattice, observables, save_configs and model_hash as info (LF_ERR_FORMAT
 * naming what differs; also cg), that every dataset has at least rows (obs, corr, configs) or steps
 * (chain columns) entries (LF_ERR_FORMAT: the file is older than the checkpoint), and cuts them
 * back to exactly rows / steps (a run killed after its last checkpoint wrote more). A missing tmp
 * file is LF_ERR_IO, an unreadable one LF_ERR_FORMAT; the file is never deleted by a failed reopen.
 * Appends (serial) or epochs (collective) continue from there. /meta/ranks becomes the current size
 * of comm. */
lf_status lf_ens_reopen(lf_ens_writer **w, const char *path, const lf_ens_info *info, int64_t rows,
                        int64_t steps, MPI_Comm comm);
/* One storage epoch (collective for a collective writer; works on a serial one too).
 * Every rank passes the same rows_end and steps_end: the totals after the epoch. This
 * rank's stored states are nruns runs of consecutive rows [first[k], first[k] + count[k])
 * (inside [rows written, rows_end)) packed in run order: obs (sum count, nobs), corr (sum
 * count, ncorr; ignored if ncorr = 0), phi (sum count, C*V; ignored unless save_configs).
 * The chain records [steps_end - nsteps, steps_end) come from the one rank that passes
 * nsteps > 0 (the others pass 0; steps may then be NULL). Every row in
 * [rows written, rows_end) must be written by exactly one rank (the caller's contract).
 * Does not flush (with MPI-IO a flush is an fsync): call lf_ens_flush (collective)
 * before recording the lengths in a checkpoint. Errors are agreed; a failed epoch makes
 * the writer refuse more. */
lf_status lf_ens_write_epoch(lf_ens_writer *w, int64_t rows_end, int64_t steps_end, size_t nruns,
                             const int64_t *first, const int64_t *count, const double *obs,
                             const double *corr, const double *phi, size_t nsteps,
                             const lf_ens_step *steps);

/* Reads the file at path (kind "ensemble"; any number of chains) into e (zeroed first;
 * on failure e is left zeroed). Refusals as above, plus LF_ERR_FORMAT naming the file and
 * the attribute or dataset for: nchains < 1, obs_names count != nobs, obs width != nobs,
 * corr width != ncorr, configs width != C*L0*L1, obs/corr/configs or the five chain
 * columns (seven with cg) of unequal length, a chain row index outside [0, rows), a
 * multiplicity dataset that is not 1-D [rows] or differs from the counts of row. */
lf_status lf_ens_read(const char *path, lf_ensemble *e);
/* Reads n stored configurations of chain r starting at row0 into phi (n, C*V).
 * LF_ERR_INVALID if the file has no configurations or the range is out of bounds. */
lf_status lf_ens_read_configs(const char *path, int r, int64_t row0, size_t n, double *phi);
void lf_ens_free(lf_ensemble *e);

#endif
