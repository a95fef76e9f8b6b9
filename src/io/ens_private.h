/* src/io/ens_private.h: what the three files of the ensemble module share (not installed;
 * contract of the module: latflow/ensemble.h, layout: docs/FORMAT.md, "Ensemble files").
 *
 * ens_writer.c   the one constructor of a writer, the serial create, buffered appends,
 *                flush, add_chain, close, suspend, abort
 * ens_collective.c  the collective writer: create on several ranks, reopen after an
 *                interruption (cut back), epochs, and the end of every chain (multiplicity
 *                and descriptions), with status agreement across the writer's ranks
 * ens_reader.c   lf_ens_read, lf_ens_read_configs and the checks of the file they share
 *                with reopen */
#ifndef LATFLOW_IO_ENS_PRIVATE_H
#define LATFLOW_IO_ENS_PRIVATE_H

#include "latflow/ensemble.h"

#include "io/h5util.h"

#include <mpi.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STEP_BUF 4096   /* chain records per write                    */
#define STEP_CHUNK 4096 /* values per chunk of the 1-D chain datasets */

/* D_ROW .. D_ACC: the chain columns of every file; D_CGI, D_CGM: only with info.cg;
 * D_MULT: per row, written when the chain is complete (lf_ens_chain_finish) */
enum { D_OBS, D_CORR, D_CONF, D_ROW, D_ID, D_LOGW, D_DH, D_ACC, D_CGI, D_CGM, D_MULT, ND };

static const char *const dname[ND] = {"obs",      "corr",   "configs",     "row",
                                      "id",       "logw",   "dH",          "accepted",
                                      "cg_iters", "cg_max", "multiplicity"};

/* The last chain column of a file with info cg. */
static inline int last_col(int cg) {
  return cg ? D_CGM : D_ACC;
}

/* Chain column d (D_ROW .. D_CGM) is field col_field(d) of lf_ens_step (its offset; *size
 * = the size of the field, the size of its memory type col_mtype(d)). */
static inline size_t col_field(int d, size_t *size) {
  *size = d == D_LOGW || d == D_DH ? sizeof(double) : d == D_ACC ? sizeof(int8_t) : sizeof(int64_t);
  switch (d) {
  case D_ROW:
    return offsetof(lf_ens_step, row);
  case D_ID:
    return offsetof(lf_ens_step, id);
  case D_LOGW:
    return offsetof(lf_ens_step, logw);
  case D_DH:
    return offsetof(lf_ens_step, dH);
  case D_CGI:
    return offsetof(lf_ens_step, cg_iters);
  case D_CGM:
    return offsetof(lf_ens_step, cg_max);
  default:
    return offsetof(lf_ens_step, accepted);
  }
}

static inline hid_t col_mtype(int d) {
  return d == D_LOGW || d == D_DH ? H5T_NATIVE_DOUBLE
         : d == D_ACC             ? H5T_NATIVE_INT8
                                  : H5T_NATIVE_INT64;
}

/* Packs column d of n records s into buf (n values of col_mtype(d)). */
static inline void col_pack(int d, const lf_ens_step *s, size_t n, void *buf) {
  size_t size = 0;
  const size_t off = col_field(d, &size);
  for (size_t i = 0; i < n; i++) memcpy((char *)buf + i * size, (const char *)(s + i) + off, size);
}

/* Unpacks n values of column d from buf into the records s. */
static inline void col_unpack(int d, lf_ens_step *s, size_t n, const void *buf) {
  size_t size = 0;
  const size_t off = col_field(d, &size);
  for (size_t i = 0; i < n; i++) memcpy((char *)(s + i) + off, (const char *)buf + i * size, size);
}

/* Root attribute kind: the names of lf_ens_kind (ens_reader.c). */
extern const char *const lf_ens_kind_name[3];

struct lf_ens_writer {
  char path[LF_PATH_MAX + 8]; /* final name         */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  lf_ens_info info;
  size_t nphi; /* C*V: values per configuration */
  hid_t fapl, file, group;
  hid_t dset[ND]; /* datasets of the current chain (-1: absent) */
  int chain;      /* current chain r; the file holds chains 0..r */
  lf_status failed;
  MPI_Comm comm; /* collective writer (lf_ens_create_par/lf_ens_reopen): dup; else NULL */
  int rank;      /* in comm (0 for a serial writer)                                */
  hid_t dxpl;    /* collective transfer (parallel) or H5P_DEFAULT                   */
  /* rows: obs (row_cap, nobs) and corr (row_cap, ncorr), owned */
  size_t rows_written, nrow_buf, row_cap;
  double *obs_buf, *corr_buf;
  /* configurations: (conf_cap, nphi), owned; NULL unless save_configs */
  size_t conf_written, nconf_buf, conf_cap;
  double *conf_buf;
  /* chain steps, column-wise */
  size_t steps_written, nstep_buf;
  int64_t s_row[STEP_BUF], s_id[STEP_BUF];
  double s_logw[STEP_BUF], s_dH[STEP_BUF];
  int8_t s_acc[STEP_BUF];
  int64_t s_cgi[STEP_BUF], s_cgm[STEP_BUF];
};

/* "/chain_<r>/<name>", for messages. */
static inline const char *full_name(char *buf, size_t n, int r, const char *name) {
  snprintf(buf, n, "/chain_%d/%s", r, name);
  return buf;
}

/* ---- ens_writer.c ---- */
/* The one constructor: a writer without a file, info checked, buffers allocated; with a
 * communicator (not MPI_COMM_NULL) a collective writer (comm duplicated, rank set). tmp is
 * "<path>.tmp". The caller creates or opens the file (lf_ens_create, lf_ens_reopen). */
lf_status lf_ens_writer_new(lf_ens_writer **out, const char *path, const lf_ens_info *info,
                            MPI_Comm comm);
/* Frees the buffers, the communicator and w (its handles must be released). */
void lf_ens_writer_free(lf_ens_writer *w);
/* Closes every handle (errors ignored). detach: the file failed (or may have): nothing
 * more reaches the disk, so no close can fail on a full disk (lf_h5_detach). */
void lf_ens_release(lf_ens_writer *w, int detach);
/* LF_ERR_INVALID without a writer; the earlier failure if the writer failed. fn names the
 * caller in the message. */
lf_status lf_ens_check_usable(const lf_ens_writer *w, const char *fn);

/* ---- ens_collective.c ---- */
/* The status of every rank of a collective writer agreed (lf_comm_agree); serial: rc. */
lf_status lf_ens_agree(const lf_ens_writer *w, lf_status rc);
/* The current chain is complete (flushed): writes its multiplicity and descriptions.
 * Collective for a collective writer; errors are agreed. */
lf_status lf_ens_chain_finish(lf_ens_writer *w);

/* ---- ens_reader.c ---- */
/* Reads and checks the root attributes into *in; *R = nchains. */
lf_status lf_ens_read_info(hid_t f, const char *path, lf_ens_info *in, int *R);
/* Opens /chain_r/name, checks it is 2-D of the given width (1-D if width == 0) and
 * returns its rows. */
lf_status lf_ens_open_table(hid_t g, int r, const char *name, size_t width, hid_t *d, size_t *rows,
                            const char *path);

#endif
