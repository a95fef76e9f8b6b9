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

#include "io/schema.h"

#include <mpi.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STEP_BUF 4096   /* chain records per write                    */
#define STEP_CHUNK 4096 /* values per chunk of the 1-D chain datasets */

/* The datasets of a chain other than its chain columns: the row tables (obs, corr,
 * configs) and D_MULT, per row, written when the chain is complete (lf_ens_chain_finish). */
enum { D_OBS, D_CORR, D_CONF, D_MULT, ND };

static const char *const dname[ND] = {"obs", "corr", "configs", "multiplicity"};

/* ---- the chain columns: a schema of lf_ens_step (io/schema.h) --------------------------
 * One 1-D dataset per field of lf_ens_step, in the order of lf_ens_chain_cols. The first
 * ones are in every file; a producer declares extra columns by setting the int flag of
 * lf_ens_info at `flag` (info.cg: the CG columns of pseudofermion HMC). A new column is a
 * field of lf_ens_step, a row of lf_ens_chain_cols and, if optional, a flag of lf_ens_info
 * (a root attribute). */
#define LF_ENS_EVERY ((size_t)-1) /* flag of a column that every file has */
typedef struct lf_ens_col {
  lf_h5_field f;       /* name, type, offset in lf_ens_step (f.desc unused)          */
  size_t flag;         /* offsetof(lf_ens_info, flag) declaring the column, or EVERY */
  const char *desc[3]; /* its `description` attribute per lf_ens_kind                */
} lf_ens_col;
#define LF_ENS_NCOL 7 /* rows of lf_ens_chain_cols */
#define LF_ENS_ROW 0  /* the row column (first in every file)  */
extern const lf_ens_col lf_ens_chain_cols[LF_ENS_NCOL];

/* The chain columns of a file with info in: their fields (with the description for the kind
 * of in) into f[LF_ENS_NCOL], in order; returns how many. */
size_t lf_ens_chain_schema(const lf_ens_info *in, lf_h5_field f[LF_ENS_NCOL]);

/* Root attribute kind: the names of lf_ens_kind (ens_reader.c). */
extern const char *const lf_ens_kind_name[3];

struct lf_ens_writer {
  char path[LF_PATH_MAX + 8]; /* final name         */
  char tmp[LF_PATH_MAX + 8];  /* name while writing */
  lf_ens_info info;
  size_t nphi; /* C*V: values per configuration */
  hid_t fapl, file, group;
  hid_t dset[ND]; /* row datasets of the current chain (-1: absent) */
  /* the chain columns (lf_ens_chain_schema of info) and their datasets (-1: closed) */
  lf_h5_field col[LF_ENS_NCOL];
  size_t ncol;
  hid_t cdset[LF_ENS_NCOL];
  int chain; /* current chain r; the file holds chains 0..r */
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
  /* chain steps: the records, and one column of them packed */
  size_t steps_written, nstep_buf;
  lf_ens_step step_buf[STEP_BUF];
  unsigned char col_buf[STEP_BUF * LF_H5_MAX_SIZE];
};

/* The chain columns of w's current chain as a record table (messages: "/chain_<r>/<name>";
 * prefix holds that prefix and must outlive the table). */
static inline lf_h5_table chain_table(lf_ens_writer *w, char prefix[32]) {
  snprintf(prefix, 32, "/chain_%d/", w->chain);
  return (lf_h5_table){w->col, w->ncol, sizeof(lf_ens_step), w->group, prefix, "steps",
                       w->tmp, w->cdset};
}

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
