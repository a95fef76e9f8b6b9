/* The files of an HMC run on disk (src/sample/hmc_ckpt.h; the driver: latflow/hmc_run.h):
 * the checkpoint of P chains, one file written by rank 0 from the gathered chain states,
 * and the preflight of a run, which recognizes every state the on-disk order of a run
 * (docs/ARCHITECTURE.md "Crash recovery") can leave behind. */
#include "sample/hmc_ckpt.h"

#include "latflow/ckpt.h"
#include "latflow/comm.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-chain datasets of the checkpoint: one value per chain each, chain r at index r,
 * in the order they are written. Checkpoints of format version 1 lack the CG columns
 * (cg_iters, cg_solves: read as 0). */
#define COL(name, member, type)                                                                    \
  { name, type, offsetof(lf_hmc_chain_state, member), NULL }
static const lf_h5_field chain_col[] = {COL("t", t, LF_H5_I64),
                                        COL("row", row, LF_H5_I64),
                                        COL("accepted", acc, LF_H5_I64),
                                        COL("nonfinite", bad, LF_H5_I64),
                                        COL("ens_rows", rows, LF_H5_I64),
                                        COL("ens_steps", steps, LF_H5_I64),
                                        COL("cg_iters", cg_iters, LF_H5_I64),
                                        COL("cg_solves", cg_solves, LF_H5_I64),
                                        COL("sum_accepted", sum_acc, LF_H5_F64),
                                        COL("gen_seconds", seconds, LF_H5_F64)};
#undef COL
enum {
  NCOL = sizeof chain_col / sizeof chain_col[0],
  CG0 = 6, /* chain_col[CG0, CG0 + NCG): the CG columns, absent in version 1 */
  NCG = 2
};

/* The run's scalars: root attributes of the checkpoint. */
typedef struct run_head {
  int64_t chains;     /* P, one chain per rank          */
  int64_t field_size; /* n, values of a chain's field   */
  int64_t trajectory; /* t, the same for every chain    */
} run_head;
#define HEAD(m)                                                                                    \
  { #m, LF_H5_I64, offsetof(run_head, m), NULL }
static const lf_h5_field head_attr[] = {HEAD(chains), HEAD(field_size), HEAD(trajectory)};
#undef HEAD

/* Rank 0: the gathered states s (P chains) and fields phi (P, n) into the checkpoint at
 * path. */
static lf_status ckpt_store(const char *path, const lf_config *cfg, int P, size_t n,
                            const lf_hmc_chain_state *s, const double *phi) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  const run_head h = {P, (int64_t)n, s[0].t};
  LF_CHECK(lf_ckpt_create(&c, path, "hmc", cfg, P));
  LF_CHECK(lf_ckpt_put_attrs(c, head_attr, sizeof head_attr / sizeof head_attr[0], &h));
  LF_CHECK(lf_ckpt_put_table(c, chain_col, NCOL, (size_t)P, s, sizeof *s));
  LF_CHECK(lf_ckpt_put(c, "phi", LF_H5_F64, (size_t)P * n, phi));
  rc = lf_ckpt_commit(c);
  c = NULL;
fail:
  lf_ckpt_abort(c);
  return rc;
}

/* Rank 0: reads the checkpoint at path into s and phi (as in ckpt_store) after the checks
 * of a resume: the config (lf_ckpt_compat, sample.save), the number of chains (= ranks),
 * the field size, one common t that hmc.trajectories has not passed. */
static lf_status ckpt_load(const char *path, const lf_config *cfg, int P, size_t n,
                           lf_hmc_chain_state *s, double *phi) {
  lf_status rc = LF_OK;
  lf_ckpt *c = NULL;
  lf_config stored;
  run_head h;
  int has_cg = 0;
  LF_CHECK(lf_ckpt_open(&c, path, "hmc", &stored));
  const char *file = lf_ckpt_path(c);
  LF_CHECK(lf_ckpt_compat(&stored, cfg, "hmc", file));
  /* lf_ckpt_compat skips the sample section for hmc, but sample.save decides whether
   * configurations are stored */
  if (stored.sample.save != cfg->sample.save) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: 'sample.save' differs between the checkpoint and the "
                 "config (it decides which configurations hmc.h5 stores)",
                 file);
    goto fail;
  }
  LF_CHECK(lf_ckpt_get_attrs(c, head_attr, 2, &h)); /* chains, field_size */
  if (h.chains != P) {
    rc = LF_FAIL(LF_ERR_USAGE,
                 "'%s' holds %lld chains (one per rank); resume it with the same number of "
                 "ranks (mpiexec -n %lld), not %d",
                 file, (long long)h.chains, (long long)h.chains, P);
    goto fail;
  }
  if (h.field_size != (int64_t)n) {
    rc = LF_FAIL(LF_ERR_FORMAT, "'%s': fields of %lld values, this theory has %zu", file,
                 (long long)h.field_size, n);
    goto fail;
  }
  memset(s, 0, (size_t)P * sizeof *s); /* version 1: no CG columns */
  LF_CHECK(lf_ckpt_has(c, chain_col[CG0].name, &has_cg));
  LF_CHECK(lf_ckpt_get_table(c, chain_col, CG0, (size_t)P, s, sizeof *s));
  if (has_cg) LF_CHECK(lf_ckpt_get_table(c, chain_col + CG0, NCG, (size_t)P, s, sizeof *s));
  LF_CHECK(lf_ckpt_get_table(c, chain_col + CG0 + NCG, NCOL - CG0 - NCG, (size_t)P, s, sizeof *s));
  LF_CHECK(lf_ckpt_get(c, "phi", LF_H5_F64, (size_t)P * n, phi));
  const int64_t t = s[0].t;
  for (int r = 0; r < P; r++) {
    const lf_hmc_chain_state *q = &s[r];
    if (q->t != t || q->t < 0 || q->row < -1 || q->rows < 0 || q->steps < 0 || q->row >= q->rows) {
      rc = LF_FAIL(LF_ERR_FORMAT,
                   "'%s': chain %d: inconsistent state (t %lld, chain 0 at %lld; row %lld of %lld "
                   "rows, %lld steps)",
                   file, r, (long long)q->t, (long long)t, (long long)q->row, (long long)q->rows,
                   (long long)q->steps);
      goto fail;
    }
  }
  const long total = cfg->hmc.therm + cfg->hmc.trajectories;
  if (t > total) {
    rc = LF_FAIL(LF_ERR_CONFIG,
                 "'%s': cannot resume: the run is at trajectory %lld (%ld thermalization "
                 "included) but hmc.trajectories = %ld ends it at %ld; hmc.trajectories may "
                 "only grow on resume",
                 file, (long long)t, cfg->hmc.therm, cfg->hmc.trajectories, total);
    goto fail;
  }
fail:
  lf_ckpt_close(c);
  return rc;
}

/* Rank 0's copy of every chain's state: s (P), phi (P, n). */
typedef struct all_states {
  lf_hmc_chain_state *s;
  double *phi;
} all_states;

/* Allocates a's buffers on rank 0; the other ranks' stay NULL. LF_ERR_NOMEM. */
static lf_status all_alloc(all_states *a, int rank, int P, size_t n) {
  memset(a, 0, sizeof *a);
  if (rank != 0) return LF_OK;
  a->s = malloc((size_t)P * sizeof *a->s);
  a->phi = malloc((size_t)P * n * sizeof *a->phi);
  if (!a->s || !a->phi) return LF_FAIL(LF_ERR_NOMEM, "checkpoint of %d chains of %zu values", P, n);
  return LF_OK;
}

/* Frees what all_alloc allocated (also after its failure). */
static void all_free(all_states *a) {
  free(a->s);
  free(a->phi);
}

/* A chain's state travels as its bytes: every rank runs the same build. */
#define STATE_BYTES ((int)sizeof(lf_hmc_chain_state))

/* Rank 0 gathers the states and writes them with ckpt_store (contract: hmc_ckpt.h). */
lf_status lf_hmc_ckpt_write(const char *path, const lf_config *cfg, MPI_Comm comm,
                            const lf_hmc_chain_state *s, const double *phi, size_t n) {
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  all_states a;
  lf_status rc = all_alloc(&a, rank, P, n);
  if ((rc = lf_comm_agree(comm, rc)) == LF_OK) {
    if (MPI_Gather(s, STATE_BYTES, MPI_BYTE, a.s, STATE_BYTES, MPI_BYTE, 0, comm) != MPI_SUCCESS ||
        MPI_Gather(phi, (int)n, MPI_DOUBLE, a.phi, (int)n, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
      rc = LF_FAIL(LF_ERR_MPI, "gathering the chain states for the checkpoint '%s'", path);
    if (rc == LF_OK && rank == 0) rc = ckpt_store(path, cfg, P, n, a.s, a.phi);
    rc = lf_comm_agree(comm, rc);
  }
  all_free(&a);
  return rc;
}

/* Rank 0 loads and checks with ckpt_load and scatters the states (contract: hmc_ckpt.h). */
lf_status lf_hmc_ckpt_read(const char *path, const lf_config *cfg, MPI_Comm comm,
                           lf_hmc_chain_state *s, double *phi, size_t n) {
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  lf_hmc_chain_state mine;
  all_states a;
  lf_status rc = all_alloc(&a, rank, P, n);
  if (rc == LF_OK && rank == 0) rc = ckpt_load(path, cfg, P, n, a.s, a.phi);
  if ((rc = lf_comm_agree(comm, rc)) == LF_OK) {
    if (MPI_Scatter(a.s, STATE_BYTES, MPI_BYTE, &mine, STATE_BYTES, MPI_BYTE, 0, comm) !=
            MPI_SUCCESS ||
        MPI_Scatter(a.phi, (int)n, MPI_DOUBLE, phi, (int)n, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
      rc = LF_FAIL(LF_ERR_MPI, "scattering the chain states of the checkpoint '%s'", path);
    rc = lf_comm_agree(comm, rc);
    if (rc == LF_OK) *s = mine;
  }
  all_free(&a);
  return rc;
}

/* Rank 0: is the ensemble file at path the finished result of this run (P chains of
 * hmc.trajectories steps, a config lf_ckpt_compat accepts)? The run is a pure function of
 * its config, so such a file is the one the interrupted run wrote. LF_ERR_IO naming why
 * not. */
static lf_status check_finished(const lf_config *cfg, const char *path, int P, const char *why) {
  lf_ensemble e;
  lf_status rc = lf_ens_read(path, &e);
  if (rc != LF_OK) return rc;
  rc = lf_ckpt_compat(&e.cfg, cfg, "hmc", path);
  if (rc == LF_OK && e.cfg.sample.save != cfg->sample.save)
    rc = LF_FAIL(LF_ERR_CONFIG, "'%s': sample.save differs from the config", path);
  for (int r = 0; rc == LF_OK && r < e.R; r++)
    if ((long)e.steps[r] != cfg->hmc.trajectories)
      rc = LF_FAIL(LF_ERR_IO, "'%s': chain %d holds %zu trajectories, the config asks for %ld",
                   path, r, e.steps[r], cfg->hmc.trajectories);
  if (rc == LF_OK && e.R != P)
    rc = LF_FAIL(LF_ERR_IO, "'%s' holds %d chains, this run has %d (one per rank)", path, e.R, P);
  lf_ens_free(&e);
  if (rc != LF_OK)
    return lf_fail_msg(LF_ERR_IO,
                       "--resume: %s, but it is not this run's result: %s; move it "
                       "away or start over with --force",
                       why, lf_last_error());
  return LF_OK;
}

/* Rank 0: the names of the P part files and whether they are all final (no .tmp left). */
static int parts_final(char (*parts)[LF_PATH_MAX], int P, int *any_tmp) {
  int all = 1;
  *any_tmp = 0;
  for (int r = 0; r < P; r++) {
    char t[LF_PATH_MAX + 8];
    snprintf(t, sizeof t, "%s.tmp", parts[r]);
    if (lf_io_exists(t)) *any_tmp = 1;
    if (!lf_io_exists(parts[r])) all = 0;
  }
  return all && !*any_tmp;
}

/* Rank 0, before a run: the refusals that depend on what the output directory holds, and
 * what a --resume does (*mode; *restart when it starts over). The on-disk order of a run
 * (docs/ARCHITECTURE.md "Crash recovery") makes every state recognizable: part .tmp files
 * (P > 1) or hmc.h5.tmp while the chains run, checkpoints beside them; then final parts;
 * then hmc.h5 (the merge's rename); then the parts removed; then the checkpoints. */
lf_status lf_hmc_preflight(const lf_config *cfg, const char *path, const char *ckpt,
                           const char *prev, char (*parts)[LF_PATH_MAX], int P, int force,
                           int resume, int *mode, int *restart) {
  const int have_ckpt = lf_io_exists(ckpt) || lf_io_exists(prev);
  *mode = LF_HMC_RUN_CHAINS;
  *restart = 0;
  if (resume) {
    int any_tmp = 0;
    char t[LF_PATH_MAX + 8];
    snprintf(t, sizeof t, "%s.tmp", path);
    if (P > 1 && parts_final(parts, P, &any_tmp)) {
      /* every chain is finished: the merge (and what follows) was cut short; redo it */
      for (int r = 0; r < P; r++) {
        const lf_status rc =
            check_finished(cfg, parts[r], 1, "every part file of the chains is in place");
        if (rc != LF_OK) return rc;
      }
      *mode = LF_HMC_RUN_MERGE;
      return LF_OK;
    }
    if (lf_io_exists(path) && (P > 1 ? !any_tmp : !lf_io_exists(t))) {
      /* idempotent (a requeued job may ask again); with a checkpoint left the run was
       * killed after its final rename: the file must be this run's */
      if (have_ckpt) {
        const lf_status rc = check_finished(cfg, path, P, "hmc.h5 is in place");
        if (rc != LF_OK) return rc;
      }
      for (int r = 0; P > 1 && r < P; r++) {
        const lf_status rc = lf_io_remove_stale(parts[r]);
        if (rc != LF_OK) return rc;
      }
      if (have_ckpt) {
        const lf_status rc = lf_io_remove_checkpoints(ckpt);
        if (rc != LF_OK) return rc;
        lf_log_info("hmc",
                    "'%s' is complete (killed after its final rename): removed the stale "
                    "checkpoint %s",
                    path, ckpt);
      }
      *mode = LF_HMC_RUN_COMPLETE;
      return LF_OK;
    }
    if (!have_ckpt) {
      /* killed before its first checkpoint (a requeued job): start from the beginning;
       * the fresh run replaces the stale .tmp and part files (regular files only) */
      lf_log_info("hmc",
                  "--resume: no checkpoint and no hmc.h5 in '%s' (the run stopped before its "
                  "first checkpoint): starting from the beginning",
                  cfg->output);
      *restart = 1;
      resume = 0;
    } else {
      if (!force && lf_io_exists(path))
        return LF_FAIL(LF_ERR_IO,
                       "'%s' exists; refusing to overwrite (use --force or another output)", path);
      /* killed while the ranks renamed their parts (some final, some not): a final part
       * goes back to its .tmp name, and lf_ens_reopen cuts it back to the checkpoint */
      for (int r = 0; P > 1 && r < P; r++) {
        char pt[LF_PATH_MAX + 8];
        snprintf(pt, sizeof pt, "%s.tmp", parts[r]);
        if (lf_io_exists(parts[r]) && !lf_io_exists(pt)) {
          lf_status rc = lf_io_check_not_symlink(parts[r]);
          if (rc == LF_OK && rename(parts[r], pt) != 0)
            rc =
                LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", parts[r], pt, strerror(errno));
          if (rc != LF_OK) return rc;
        }
      }
      return LF_OK;
    }
  }
  if (!force && lf_io_exists(path))
    return LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                   path);
  if (have_ckpt) {
    if (!force)
      return LF_FAIL(LF_ERR_IO,
                     "'%s' exists: an interrupted run; continue it with --resume, or start over "
                     "with --force",
                     ckpt);
    remove(ckpt);
    remove(prev);
  }
  return lf_io_mkdirs(cfg->output);
}
