/* The collective ensemble writer (contract: latflow/ensemble.h): create on several ranks,
 * reopen after an interruption (cutting the datasets back to the checkpoint), epochs
 * written by every rank with collective transfers, and the end of every chain
 * (multiplicity and descriptions; serial writers too). Every collective step agrees the
 * status of all ranks (lf_ens_agree) before the next, so a rank whose write failed (a full
 * disk) never leaves the others waiting in a collective call. */
#include "io/ens_private.h"

#include "latflow/comm.h"
#include "latflow/io.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The `description` attribute of row dataset d in an ensemble of kind k (the chain
 * columns carry theirs in lf_ens_chain_cols). */
static const char *describe(int d, lf_ens_kind k) {
  switch (d) {
  case D_OBS:
    return "observables of each stored (unique) state, columns = obs_names; NOT a Monte Carlo "
           "series: index by row (obs[row]) or weight rows by multiplicity";
  case D_CORR:
    return "correlator of each stored state (phi4: zero-momentum G(t), t = 0 .. ncorr-1); rows "
           "as obs: index by row or weight by multiplicity";
  case D_CONF:
    return "field of each stored state, C*V values per row (component-major, site v = x0*L1 + "
           "x1); rows as obs: index by row or weight by multiplicity";
  default:
    return k == LF_ENS_REWEIGHT
               ? "per row: the number of steps whose row is this one (reweighting: 1)"
               : "per row: the number of Monte Carlo steps spent on this state (entries of row "
                 "equal to its index; 0 for a stored rejected proposal); rows are in chain "
                 "order, so np.repeat(obs, multiplicity, axis=0) is the series";
  }
}

/* File access and transfer properties: MPI-IO with collective transfers, or serial. */
static lf_status open_props(lf_ens_writer *w) {
  if (w->comm == MPI_COMM_NULL) {
    lf_status rc = lf_h5_fapl_serial(&w->fapl);
    return rc == LF_OK ? lf_h5_fapl_no_evictions(w->fapl, w->path) : rc;
  }
  w->fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (w->fapl < 0 || H5Pset_fapl_mpio(w->fapl, w->comm, MPI_INFO_NULL) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set up the MPI-IO file driver", w->path);
  lf_status rc = lf_h5_fapl_checksummed(w->fapl);
  if (rc == LF_OK) rc = lf_h5_fapl_no_evictions(w->fapl, w->path);
  if (rc != LF_OK) return rc;
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (w->dxpl < 0 || H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    return LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot set up collective transfers", w->path);
  return LF_OK;
}

/* lf_comm_agree over comm, whose message names no file: a rank that was fine says which
 * writer failed elsewhere. (A failure of the reduction itself, fatal under MPI's default
 * error handler, reads the same.) */
static lf_status agreed(MPI_Comm comm, lf_status rc, const char *path) {
  const lf_status all = lf_comm_agree(comm, rc);
  if (rc == LF_OK && all != LF_OK)
    return LF_FAIL(all, "'%s': the ensemble writer failed on another rank (%s)", path,
                   lf_status_str(all));
  return all;
}

lf_status lf_ens_agree(const lf_ens_writer *w, lf_status rc) {
  return w->comm == MPI_COMM_NULL ? rc : agreed(w->comm, rc, w->path);
}

/* Closes handles; rank 0 deletes the tmp file if del (collective writers: every rank). */
static void discard(lf_ens_writer *w, int del) {
  lf_ens_release(w, 1);
  if (del && w->rank == 0) unlink(w->tmp);
  lf_ens_writer_free(w);
}

lf_status lf_ens_create_par(lf_ens_writer **out, const char *path, const lf_config *cfg,
                            const lf_ens_info *info, int overwrite, MPI_Comm comm) {
  lf_status rc = LF_OK;
  int P = 1, rank = 0;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create_par: no writer pointer");
  *out = NULL;
  if (comm == MPI_COMM_NULL) return lf_ens_create(out, path, cfg, info, overwrite);
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_ens_create_par: no config");
  if (MPI_Comm_size(comm, &P) != MPI_SUCCESS || MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_ens_create_par: cannot query the communicator");
  /* one rank: the serial driver, which survives a full disk (lf_h5_write_error); the file
   * is the same HDF5 file either way */
  if (P == 1) return lf_ens_create(out, path, cfg, info, overwrite);
  /* Several ranks: rank 0 creates the file with the serial driver and closes it, then every
   * rank opens it as an interrupted run with nothing written yet. Parallel HDF5 1.10 hangs
   * or crashes when a write fails inside a collective create (a full disk); the serial
   * create reports it, and the chunks it allocates at each extend (H5D_ALLOC_TIME_EARLY)
   * are what the collective writes need. */
  char tmp[LF_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int made = 0;
  if (rank == 0) {
    lf_ens_writer *w0 = NULL;
    rc = lf_ens_create(&w0, path, cfg, info, overwrite);
    if (rc == LF_OK) {
      made = 1;
      rc = lf_ens_suspend(w0); /* flushes and closes, keeps the .tmp */
    }
  }
  rc = agreed(comm, rc, path);
  if (rc == LF_OK) rc = lf_ens_reopen(out, path, info, 0, 0, comm); /* agreed on every rank */
  if (rc != LF_OK && made) unlink(tmp); /* a new, empty file: nothing to keep */
  return rc;
}

/* Opens dataset name of the current chain into *ds and cuts it back to rows after checking
 * it has at least that many. */
static lf_status cut_back(lf_ens_writer *w, const char *name, hid_t *ds, size_t width,
                          size_t rows) {
  char nm[64];
  size_t have = 0;
  lf_status rc = lf_ens_open_table(w->group, w->chain, name, width, ds, &have, w->tmp);
  if (rc != LF_OK) return rc;
  if (have < rows)
    return LF_FAIL(LF_ERR_FORMAT,
                   "'%s': dataset %s has %zu rows but the checkpoint says %zu were written "
                   "(the file is older than the checkpoint: was it replaced?)",
                   w->tmp, full_name(nm, sizeof nm, w->chain, name), have, rows);
  if (have > rows)
    return lf_h5_dset_extend(*ds, rows, w->tmp, full_name(nm, sizeof nm, w->chain, name));
  return LF_OK;
}

lf_status lf_ens_reopen(lf_ens_writer **out, const char *path, const lf_ens_info *info,
                        int64_t rows, int64_t steps, MPI_Comm comm) {
  lf_status rc = LF_OK;
  lf_ens_writer *w = NULL;
  lf_ens_info got;
  int R = 0, P = 1;
  if (!out) return LF_FAIL(LF_ERR_INVALID, "lf_ens_reopen: no writer pointer");
  *out = NULL;
  if (rows < 0 || steps < 0)
    return LF_FAIL(LF_ERR_INVALID, "lf_ens_reopen: negative rows %lld or steps %lld",
                   (long long)rows, (long long)steps);
  if (comm != MPI_COMM_NULL && MPI_Comm_size(comm, &P) != MPI_SUCCESS)
    return LF_FAIL(LF_ERR_MPI, "lf_ens_reopen: cannot query the communicator");
  if (P == 1) comm = MPI_COMM_NULL; /* as lf_ens_create_par: the serial driver */
  rc = lf_ens_writer_new(&w, path, info, comm);
  if (comm != MPI_COMM_NULL) {
    const lf_status all = lf_comm_agree(comm, rc);
    if (all != LF_OK) {
      if (w) lf_ens_writer_free(w);
      return rc != LF_OK ? rc : LF_FAIL(all, "'%s': another rank failed to reopen", path);
    }
  } else if (rc != LF_OK) {
    return rc;
  }
  rc = open_props(w);
  /* the interrupted run's own .tmp is a regular file; a link is not ours to write */
  if (rc == LF_OK) rc = lf_io_check_not_symlink(w->tmp);
  if (rc == LF_OK && access(w->tmp, F_OK) != 0)
    rc = LF_FAIL(LF_ERR_IO,
                 "cannot resume: the ensemble of the interrupted run '%s' is missing (was it "
                 "moved or deleted?)",
                 w->tmp);
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto fail;
  lf_h5_quiet();
  w->file = H5Fopen(w->tmp, H5F_ACC_RDWR, w->fapl);
  if (w->file < 0)
    rc = LF_H5_FAIL(LF_ERR_FORMAT,
                    "cannot resume: '%s' cannot be opened (damaged by the interruption?)", w->tmp);
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto fail;
  rc = lf_ens_read_info(w->file, w->tmp, &got, &R);
  if (rc == LF_OK && R != 1)
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s' holds %d chains; an interrupted run writes one", w->tmp, R);
  if (rc == LF_OK) {
    const char *what = NULL;
    if (got.kind != info->kind)
      what = "kind";
    else if (strcmp(got.theory, info->theory) != 0)
      what = "theory";
    else if (got.C != info->C || got.L0 != info->L0 || got.L1 != info->L1)
      what = "lattice";
    else if (got.nobs != info->nobs || got.ncorr != info->ncorr)
      what = "observables";
    else if (got.save_configs != info->save_configs)
      what = "save_configs";
    else if (got.cg != info->cg)
      what = "cg (hmc.fermion)";
    else if (strcmp(got.model_hash, info->model_hash) != 0)
      what = "model_hash";
    for (int k = 0; !what && k < info->nobs; k++)
      if (strcmp(got.obs_names[k], info->obs_names[k]) != 0) what = "obs_names";
    if (what)
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "cannot resume: '%s' does not belong to this run (%s differs from the "
                   "checkpoint's)",
                   w->tmp, what);
  }
  if (rc == LF_OK) rc = lf_h5_group_open(w->file, "chain_0", &w->group, w->tmp);
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto fail;
  /* every rank cuts back collectively (identical arguments) */
  const size_t width[3] = {(size_t)info->nobs, (size_t)info->ncorr,
                           info->save_configs ? w->nphi : 0};
  for (int d = D_OBS; rc == LF_OK && d <= D_CONF; d++)
    if (width[d] > 0) rc = cut_back(w, dname[d], &w->dset[d], width[d], (size_t)rows);
  for (size_t c = 0; rc == LF_OK && c < w->ncol; c++)
    rc = cut_back(w, w->col[c].name, &w->cdset[c], 0, (size_t)steps);
  if (rc == LF_OK && P > 1) {
    hid_t g = H5Gopen2(w->file, "meta", H5P_DEFAULT);
    if (g < 0) rc = LF_H5_FAIL(LF_ERR_FORMAT, "'%s': no group /meta", w->tmp);
    if (rc == LF_OK) rc = lf_h5_attr_write_i32(g, "ranks", P, w->tmp, "/meta");
    if (g >= 0) H5Gclose(g);
  }
  if (rc == LF_OK)
    rc = lf_h5_flush(w->file, w->comm != MPI_COMM_NULL, w->tmp, "after cutting it back");
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto fail;
  w->rows_written = w->conf_written = (size_t)rows;
  w->steps_written = (size_t)steps;
  *out = w;
  return LF_OK;
fail:
  discard(w, 0); /* never delete the data of an interrupted run */
  return rc;
}

/* Writes this rank's runs of rows into dataset ds (named name; width values per row, 0 for
 * a 1-D dataset; memory type mtype, packed in buf): a union of hyperslabs in the file, one
 * contiguous block in memory; a rank without rows selects none (the write is
 * collective). */
static lf_status write_runs(lf_ens_writer *w, hid_t ds, const char *name, hid_t mtype, size_t width,
                            size_t nruns, const int64_t *first, const int64_t *count,
                            const void *buf) {
  char nm[64];
  lf_status rc = LF_OK;
  hid_t fs = H5Dget_space(ds), ms = -1;
  hsize_t total = 0;
  full_name(nm, sizeof nm, w->chain, name);
  if (fs < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': dataspace of %s", w->tmp, nm);
  const int nd = width > 0 ? 2 : 1;
  int selected = 0;
  for (size_t k = 0; k < nruns; k++) {
    if (count[k] <= 0) continue;
    hsize_t start[2] = {(hsize_t)first[k], 0}, cnt[2] = {(hsize_t)count[k], (hsize_t)width};
    if (H5Sselect_hyperslab(fs, selected ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, cnt, NULL) <
        0) {
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select rows of %s", w->tmp, nm);
      goto done;
    }
    selected = 1;
    total += (hsize_t)count[k];
  }
  hsize_t mdims[2] = {total ? total : 1, width ? (hsize_t)width : 1};
  ms = H5Screate_simple(nd, mdims, NULL);
  if (ms < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': memory space for %s", w->tmp, nm);
    goto done;
  }
  if (!selected && (H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0)) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': empty selection of %s", w->tmp, nm);
    goto done;
  }
  static const double none = 0.0; /* H5Dwrite wants a buffer even for no elements */
  if (H5Dwrite(ds, mtype, ms, fs, w->dxpl, selected ? buf : (const void *)&none) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot write the epoch's rows of %s", w->tmp, nm);
done:
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

/* Writes one 1-D column: n values from offset off (n = 0: an empty selection). */
static lf_status write_col(lf_ens_writer *w, hid_t ds, const char *name, hid_t mtype, size_t off,
                           size_t n, const void *buf) {
  const int64_t first = (int64_t)off, count = (int64_t)n;
  return write_runs(w, ds, name, mtype, 0, n ? 1 : 0, &first, &count, buf);
}

lf_status lf_ens_write_epoch(lf_ens_writer *w, int64_t rows_end, int64_t steps_end, size_t nruns,
                             const int64_t *first, const int64_t *count, const double *obs,
                             const double *corr, const double *phi, size_t nsteps,
                             const lf_ens_step *steps) {
  lf_status rc = lf_ens_check_usable(w, "lf_ens_write_epoch");
  char nm[64];
  void *col = NULL; /* one chain column: nsteps values of at most 8 bytes */
  if (rc == LF_OK && (w->nrow_buf || w->nconf_buf || w->nstep_buf))
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': epochs and buffered appends cannot be mixed", w->tmp);
  if (rc == LF_OK &&
      (rows_end < (int64_t)w->rows_written || steps_end < (int64_t)w->steps_written ||
       (int64_t)nsteps > steps_end - (int64_t)w->steps_written))
    rc = LF_FAIL(LF_ERR_INVALID,
                 "'%s': epoch ends at %lld rows, %lld steps (%zu given) but %zu rows, %zu steps "
                 "are written",
                 w->tmp, (long long)rows_end, (long long)steps_end, nsteps, w->rows_written,
                 w->steps_written);
  for (size_t k = 0; rc == LF_OK && k < nruns; k++)
    if (first[k] < (int64_t)w->rows_written || count[k] < 0 || first[k] + count[k] > rows_end)
      rc = LF_FAIL(LF_ERR_INVALID, "'%s': epoch run %zu = rows [%lld, %lld) outside [%zu, %lld)",
                   w->tmp, k, (long long)first[k], (long long)(first[k] + count[k]),
                   w->rows_written, (long long)rows_end);
  if (rc == LF_OK && nsteps && !(col = malloc(nsteps * LF_H5_MAX_SIZE)))
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': %zu chain records", w->tmp, nsteps);
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto fail;
  /* extend every dataset (collective, identical sizes) */
  /* every collective step is agreed before the next: a rank whose write failed (a full
   * disk) must not leave the others waiting in the next collective call */
  for (int d = D_OBS; rc == LF_OK && d <= D_CONF; d++)
    if (w->dset[d] >= 0)
      rc = lf_ens_agree(w, lf_h5_dset_extend(w->dset[d], (size_t)rows_end, w->tmp,
                                             full_name(nm, sizeof nm, w->chain, dname[d])));
  for (size_t c = 0; rc == LF_OK && c < w->ncol; c++)
    rc = lf_ens_agree(w, lf_h5_dset_extend(w->cdset[c], (size_t)steps_end, w->tmp,
                                           full_name(nm, sizeof nm, w->chain, w->col[c].name)));
  /* rows: each rank its runs */
  const size_t width[3] = {(size_t)w->info.nobs, (size_t)w->info.ncorr, w->nphi};
  const double *data[3] = {obs, corr, phi};
  for (int d = D_OBS; rc == LF_OK && d <= D_CONF; d++)
    if (w->dset[d] >= 0)
      rc = lf_ens_agree(w, write_runs(w, w->dset[d], dname[d], H5T_NATIVE_DOUBLE, width[d], nruns,
                                      first, count, data[d]));
  /* chain records: one rank, column after column of the schema */
  const size_t off = (size_t)steps_end - nsteps;
  for (size_t c = 0; rc == LF_OK && c < w->ncol; c++) {
    if (nsteps) lf_h5_field_gather(&w->col[c], steps, sizeof *steps, nsteps, col);
    rc = lf_ens_agree(w, write_col(w, w->cdset[c], w->col[c].name, lf_h5_type_mem(w->col[c].type),
                                   off, nsteps, col));
  }
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) {
    w->failed = rc;
    goto fail;
  }
  w->rows_written = w->conf_written = (size_t)rows_end;
  w->steps_written = (size_t)steps_end;
fail:
  free(col);
  return rc;
}

/* ---- the end of a chain: multiplicity and descriptions ---------------------------------- */

#define MULT_READ 1048576 /* row indices read per collective read (8 MiB) */

/* Reads n values of the row column from offset off into buf (int64). Collective for a
 * collective writer: the other ranks pass n = 0 and select none. */
static lf_status read_rows_col(lf_ens_writer *w, size_t off, size_t n, int64_t *buf) {
  char nm[64];
  lf_status rc = LF_OK;
  const hid_t ds = w->cdset[LF_ENS_ROW];
  hid_t fs = H5Dget_space(ds), ms = -1;
  full_name(nm, sizeof nm, w->chain, w->col[LF_ENS_ROW].name);
  if (fs < 0) return LF_H5_FAIL(LF_ERR_HDF5, "'%s': dataspace of %s", w->tmp, nm);
  hsize_t start = (hsize_t)off, cnt = (hsize_t)(n ? n : 1);
  ms = H5Screate_simple(1, &cnt, NULL);
  if (ms < 0 || (n ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL)
                   : (H5Sselect_none(fs) < 0 ? -1 : H5Sselect_none(ms))) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot select [%zu, %zu) of %s", w->tmp, off, off + n, nm);
  } else {
    int64_t none = 0;
    if (H5Dread(ds, H5T_NATIVE_INT64, ms, fs, w->dxpl, n ? buf : &none) < 0)
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot read [%zu, %zu) of %s", w->tmp, off, off + n, nm);
  }
  if (ms >= 0) H5Sclose(ms);
  H5Sclose(fs);
  return rc;
}

/* The `description` attribute desc of dataset ds (name) of the current chain. */
static lf_status describe_dset(lf_ens_writer *w, hid_t ds, const char *name, const char *desc) {
  char nm[64];
  return lf_h5_attr_write_str(ds, "description", desc, w->tmp,
                              full_name(nm, sizeof nm, w->chain, name));
}

/* The current chain is complete (flushed): writes /chain_r/multiplicity, counted from the
 * row column on disk (so it is the same whatever wrote the rows: any number of ranks, a
 * resumed run, a merge), and the description attributes. Rank 0 reads and writes, the
 * other ranks of a collective writer take part with empty selections; every rank creates
 * the dataset and the attributes with identical arguments. Errors are agreed. */
lf_status lf_ens_chain_finish(lf_ens_writer *w) {
  char nm[64];
  lf_status rc = LF_OK;
  const size_t rows = w->rows_written, steps = w->steps_written;
  const int root = w->rank == 0;
  int64_t *mult = NULL, *buf = NULL;
  size_t bad = 0;
  int64_t bad_row = 0;
  if (root) {
    mult = calloc(rows ? rows : 1, sizeof *mult);
    buf = malloc(MULT_READ * sizeof *buf);
    if (!mult || !buf)
      rc = LF_FAIL(LF_ERR_NOMEM, "'%s': multiplicity of chain %d (%zu rows)", w->tmp, w->chain,
                   rows);
  }
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto done;
  for (size_t off = 0; off < steps && rc == LF_OK; off += MULT_READ) {
    const size_t n = steps - off < MULT_READ ? steps - off : MULT_READ;
    rc = read_rows_col(w, off, root ? n : 0, buf);
    for (size_t i = 0; root && rc == LF_OK && i < n; i++) {
      const int64_t r = buf[i];
      if (r < 0 || (uint64_t)r >= (uint64_t)rows) {
        if (!bad++) bad_row = r;
      } else {
        mult[r]++;
      }
    }
    rc = lf_ens_agree(w, rc);
  }
  if (rc == LF_OK && bad)
    rc = LF_FAIL(LF_ERR_INVALID, "'%s': chain %d: %zu steps have a row outside [0, %zu), e.g. %lld",
                 w->tmp, w->chain, bad, rows, (long long)bad_row);
  if ((rc = lf_ens_agree(w, rc)) != LF_OK) goto done;
  /* a .tmp left by a failed close may have one already: replace it */
  int have = 0;
  rc = lf_h5_link_exists(w->group, dname[D_MULT], &have, w->tmp);
  if (rc == LF_OK && have && H5Ldelete(w->group, dname[D_MULT], H5P_DEFAULT) < 0)
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot replace %s", w->tmp,
                    full_name(nm, sizeof nm, w->chain, dname[D_MULT]));
  if (rc == LF_OK)
    rc = lf_h5_dset_create_rows(w->group, dname[D_MULT], H5T_STD_I64LE, 0, STEP_CHUNK,
                                &w->dset[D_MULT], w->tmp);
  if (rc == LF_OK)
    rc = lf_h5_dset_extend(w->dset[D_MULT], rows, w->tmp,
                           full_name(nm, sizeof nm, w->chain, dname[D_MULT]));
  if (rc == LF_OK)
    rc = write_col(w, w->dset[D_MULT], dname[D_MULT], H5T_NATIVE_INT64, 0, root ? rows : 0, mult);
  /* descriptions in file order: the row tables, the chain columns, multiplicity */
  for (int d = D_OBS; rc == LF_OK && d <= D_CONF; d++)
    if (w->dset[d] >= 0) rc = describe_dset(w, w->dset[d], dname[d], describe(d, w->info.kind));
  for (size_t c = 0; rc == LF_OK && c < w->ncol; c++)
    rc = describe_dset(w, w->cdset[c], w->col[c].name, w->col[c].desc);
  if (rc == LF_OK)
    rc = describe_dset(w, w->dset[D_MULT], dname[D_MULT], describe(D_MULT, w->info.kind));
  if (rc == LF_OK)
    rc = lf_h5_attr_write_strv(w->dset[D_OBS], "columns", w->info.obs_names[0], LF_NAME_MAX,
                               (size_t)w->info.nobs, w->tmp,
                               full_name(nm, sizeof nm, w->chain, dname[D_OBS]));
  rc = lf_ens_agree(w, rc);
done:
  if (rc != LF_OK) w->failed = rc;
  free(mult);
  free(buf);
  return rc;
}
