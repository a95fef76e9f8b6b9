/* Merging ensemble files (contract: latflow/merge.h; layout: docs/FORMAT.md section 8,
 * "Merged files").
 *
 * Two passes over the inputs. Pass 1 reads every input completely (lf_ens_read validates
 * the whole file, so a corrupt input is refused before anything is written) plus the
 * header attributes the reader does not return (format_version, latflow_version, the
 * provenance of already merged chains), checks that the physics agrees with input 0 and
 * keeps only the small per-chain provenance. Pass 2 reads each input again and copies it
 * through the ordinary ensemble writer (lf_ens_add_chain between chains), so the output
 * has exactly the layout `latflow sample` writes (the writer recomputes each chain's
 * multiplicity from its copied row column, so it equals the input's). The writer cannot put
 * attributes on its chain groups, so it writes "<out>.tmp" as its final name; we then reopen that
 * file, add the per-chain provenance and rename it to <out> (lf_io_commit_tmp): <out> appears only
 * complete, as for every other latflow file. */
#include "latflow/fault.h"
#include "latflow/merge.h"

#include "io/h5util.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/theory.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_BUF_VALUES (1 << 20) /* doubles of configurations per copy chunk (8 MiB) */
#define CONF_BUF_MAX 64           /* configurations per copy chunk at most          */

static const char *const kind_name[3] = {"imh", "reweight", "hmc"};

/* Provenance of one chain: the file it was generated in. */
typedef struct prov {
  char path[LF_PATH_MAX];
  int chain; /* chain index in that file */
  char model_hash[72];
  uint64_t seed;
  char version[64];
  double gen_seconds, train_seconds;
} prov;

/* Fingerprints of one chain's content (FNV-1a/64, see chain_print): full covers every
 * step (row, id, logw, dH, accepted) and every row (obs, corr); head covers the first
 * step and its row only. Two independent chains (other seed, model or couplings) never
 * agree bitwise even on their first step, while a copy, a rerun with the same seed or a
 * longer rerun of the same chain does: equal heads are the decisive test. */
typedef struct print {
  uint64_t full, head;
  int empty; /* no steps: nothing to count twice */
} print;

/* What pass 1 keeps of one input. */
typedef struct input {
  const char *path;
  lf_ens_info info;
  lf_theory_cfg theory; /* from the stored config */
  int format_version;
  int R;
  int64_t rows, steps; /* totals, to check pass 2 reads the same file */
  prov *prov;          /* (R) owned */
  print *print;        /* (R) owned */
} input;

/* ---- pass 1: headers and checks ---------------------------------------------------------- */

/* Provenance of chain r of an already merged file (its /chain_r attributes). */
static lf_status read_chain_prov(hid_t g, const char *path, const char *gname, prov *p) {
  lf_status rc = LF_OK;
  int64_t c = 0;
  LF_CHECK(lf_h5_attr_read_strn(g, "source_path", p->path, sizeof p->path, path, gname));
  LF_CHECK(lf_h5_attr_read_i64(g, "source_chain", &c, path, gname));
  p->chain = (int)c;
  LF_CHECK(lf_h5_attr_read_strn(g, "source_model_hash", p->model_hash, sizeof p->model_hash, path,
                                gname));
  LF_CHECK(lf_h5_attr_read_u64(g, "source_seed", &p->seed, path, gname));
  LF_CHECK(lf_h5_attr_read_strn(g, "source_latflow_version", p->version, sizeof p->version, path,
                                gname));
  LF_CHECK(lf_h5_attr_read_f64(g, "source_gen_seconds", &p->gen_seconds, path, gname));
  LF_CHECK(lf_h5_attr_read_f64(g, "source_train_seconds", &p->train_seconds, path, gname));
fail:
  return rc;
}

/* format_version, latflow_version and per-chain provenance of in (in->R, in->info set). */
static lf_status read_header(input *in, uint64_t seed) {
  lf_status rc = LF_OK;
  hid_t f = -1, g = -1;
  char version[64], gname[32];
  LF_CHECK(lf_h5_open_latflow(in->path, "ensemble", H5P_DEFAULT, &f, NULL, 0, &in->format_version));
  LF_CHECK(lf_h5_attr_read_strn(f, "latflow_version", version, sizeof version, in->path, "/"));
  in->prov = calloc((size_t)in->R, sizeof *in->prov);
  if (!in->prov) {
    rc = LF_FAIL(LF_ERR_NOMEM, "'%s': provenance of %d chains", in->path, in->R);
    goto fail;
  }
  for (int r = 0; r < in->R; r++) {
    prov *p = &in->prov[r];
    int merged = 0;
    snprintf(gname, sizeof gname, "chain_%d", r);
    LF_CHECK(lf_h5_group_open(f, gname, &g, in->path));
    LF_CHECK(lf_h5_attr_exists(g, "source_path", &merged, in->path, gname));
    if (merged) { /* a merged input: its chains keep their original provenance */
      LF_CHECK(read_chain_prov(g, in->path, gname, p));
    } else {
      snprintf(p->path, sizeof p->path, "%s", in->path);
      p->chain = r;
      memcpy(p->model_hash, in->info.model_hash, sizeof p->model_hash);
      p->seed = seed;
      memcpy(p->version, version, sizeof p->version);
      p->gen_seconds = in->info.gen_seconds;
      p->train_seconds = in->info.train_seconds;
    }
    if (H5Gclose(g) < 0) {
      g = -1;
      rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /%s", in->path, gname);
      goto fail;
    }
    g = -1;
  }
  if (H5Fclose(f) < 0) {
    f = -1;
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close the file", in->path);
    goto fail;
  }
  return LF_OK;
fail:
  if (g >= 0) H5Gclose(g);
  if (f >= 0) H5Fclose(f);
  return rc;
}

static lf_status differs_i(const char *key, const input *a, int va, const input *b, int vb) {
  return LF_FAIL(LF_ERR_FORMAT, "%s differs: %s has %d, %s has %d; cannot merge", key, a->path, va,
                 b->path, vb);
}

static lf_status differs_s(const char *key, const input *a, const char *va, const input *b,
                           const char *vb) {
  return LF_FAIL(LF_ERR_FORMAT, "%s differs: %s has '%s', %s has '%s'; cannot merge", key, a->path,
                 va, b->path, vb);
}

/* Input b may be merged with input a (the physics and the file layout agree). */
static lf_status check_same(const input *a, const input *b) {
  const lf_ens_info *x = &a->info, *y = &b->info;
  /* format versions may differ: every version is read into the same lf_ensemble and the
   * output is written in the current layout (multiplicity recomputed from row) */
  if (x->kind != y->kind) {
    const int flow_hmc = (x->kind == LF_ENS_HMC) != (y->kind == LF_ENS_HMC);
    return LF_FAIL(LF_ERR_FORMAT, "kind differs: %s has %s, %s has %s; cannot merge %s", a->path,
                   kind_name[x->kind], b->path, kind_name[y->kind],
                   flow_hmc ? "a flow ensemble with an HMC ensemble"
                            : "IMH chains with reweighting samples (different estimators)");
  }
  if (strcmp(x->theory, y->theory) != 0) return differs_s("theory", a, x->theory, b, y->theory);
  if (x->C != y->C) return differs_i("C (components per site)", a, x->C, b, y->C);
  if (x->L0 != y->L0 || x->L1 != y->L1)
    return LF_FAIL(LF_ERR_FORMAT,
                   "theory.shape differs: %s has [%d, %d], %s has [%d, %d]; cannot "
                   "merge",
                   a->path, x->L0, x->L1, b->path, y->L0, y->L1);
  /* the couplings the theory's action uses: the theory decides (latflow/theory.h) */
  lf_theory_diff d;
  if (!lf_theory_cfg_same_physics(&a->theory, &b->theory, &d))
    return LF_FAIL(LF_ERR_FORMAT, "%s differs: %s has %s, %s has %s; cannot merge", d.key, a->path,
                   d.a, b->path, d.b);
  if (x->nobs != y->nobs) return differs_i("nobs (observables per row)", a, x->nobs, b, y->nobs);
  for (int k = 0; k < x->nobs; k++)
    if (strcmp(x->obs_names[k], y->obs_names[k]) != 0) {
      char key[48];
      snprintf(key, sizeof key, "obs_names[%d]", k);
      return differs_s(key, a, x->obs_names[k], b, y->obs_names[k]);
    }
  if (x->ncorr != y->ncorr) return differs_i("ncorr (correlator length)", a, x->ncorr, b, y->ncorr);
  return LF_OK;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
  return h;
}

/* One step and (its row's) observables and correlator. Fields are hashed one by one so
 * that struct padding never enters; doubles by their bits (NaN logw of HMC included). */
static uint64_t fnv_step(uint64_t h, const lf_ens_step *s) {
  h = fnv(h, &s->row, sizeof s->row);
  h = fnv(h, &s->id, sizeof s->id);
  h = fnv(h, &s->logw, sizeof s->logw);
  h = fnv(h, &s->dH, sizeof s->dH);
  return fnv(h, &s->accepted, sizeof s->accepted);
}

static uint64_t fnv_row(uint64_t h, const lf_ensemble *e, int r, size_t i) {
  const size_t nobs = (size_t)e->info.nobs, ncorr = (size_t)e->info.ncorr;
  h = fnv(h, e->obs[r] + i * nobs, nobs * sizeof(double));
  if (ncorr) h = fnv(h, e->corr[r] + i * ncorr, ncorr * sizeof(double));
  return h;
}

/* Fingerprints of chain r of e (the reader checked every row index is in range). */
static print chain_print(const lf_ensemble *e, int r) {
  print p = {FNV_OFFSET, FNV_OFFSET, e->steps[r] == 0};
  const uint64_t rows = (uint64_t)e->rows[r], steps = (uint64_t)e->steps[r];
  p.full = fnv(p.full, &rows, sizeof rows);
  p.full = fnv(p.full, &steps, sizeof steps);
  for (size_t i = 0; i < e->steps[r]; i++) p.full = fnv_step(p.full, &e->chain[r][i]);
  for (size_t i = 0; i < e->rows[r]; i++) p.full = fnv_row(p.full, e, r, i);
  if (!p.empty) {
    p.head = fnv_step(p.head, &e->chain[r][0]);
    p.head = fnv_row(p.head, e, r, (size_t)e->chain[r][0].row);
  }
  return p;
}

/* Pass 1 for one input: read it whole (validation), then its header. */
static lf_status scan_input(input *in) {
  lf_ensemble e;
  lf_status rc = lf_ens_read(in->path, &e);
  if (rc == LF_OK) {
    in->info = e.info;
    in->theory = e.cfg.theory;
    in->R = e.R;
    in->print = calloc((size_t)e.R, sizeof *in->print);
    for (int r = 0; r < e.R && in->print; r++) {
      in->rows += (int64_t)e.rows[r];
      in->steps += (int64_t)e.steps[r];
      in->print[r] = chain_print(&e, r);
    }
    rc = in->print ? read_header(in, e.cfg.seed)
                   : LF_FAIL(LF_ERR_NOMEM, "fingerprints of %d chains", e.R);
    lf_ens_free(&e);
  }
  if (rc != LF_OK) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    return lf_fail_msg(rc, "merge input '%s': %s", in->path, msg);
  }
  return LF_OK;
}

/* " (from '<source_path>' chain <c>)" when chain r of in came from another file. */
static const char *from(char *buf, size_t n, const input *in, int r) {
  const prov *p = &in->prov[r];
  buf[0] = '\0';
  if (strcmp(p->path, in->path) != 0 || p->chain != r)
    snprintf(buf, n, " (from '%.900s' chain %d)", p->path, p->chain);
  return buf;
}

/* Refuses one chain present twice among the inputs (a copy of a file, two runs with one
 * seed, a merged file with one of its sources): its steps would be counted twice and the
 * error bars shrink for nothing. Inputs are compared by content, so a renamed copy or a
 * rerun is caught as well as a file given twice. */
static lf_status check_distinct(int n, const input *in) {
  char fa[960], fb[960];
  for (int i = 0; i < n; i++)
    for (int r = 0; r < in[i].R; r++) {
      const print *p = &in[i].print[r];
      if (p->empty) continue;
      for (int j = 0; j <= i; j++)
        for (int s = 0; s < (j < i ? in[j].R : r); s++) {
          const print *q = &in[j].print[s];
          if (q->empty || q->head != p->head) continue;
          const int same = q->full == p->full;
          return LF_FAIL(LF_ERR_FORMAT,
                         "chain %d of %s%s and chain %d of %s%s are %s (content fingerprint "
                         "%016" PRIx64 "%s%016" PRIx64 "): one chain would be counted twice; "
                         "cannot merge",
                         s, in[j].path, from(fa, sizeof fa, &in[j], s), r, in[i].path,
                         from(fb, sizeof fb, &in[i], r),
                         same ? "identical"
                              : "the same chain (their first steps are equal bitwise: a rerun "
                                "with the same seed, model and config?)",
                         q->full, same ? " = " : " vs ", p->full);
        }
    }
  return LF_OK;
}

/* Refuses out among the inputs and an input given twice (same device and inode). */
static lf_status check_files(const char *out, int n, const char *const *paths, int overwrite) {
  struct stat so, si, sj;
  const int have_out = stat(out, &so) == 0;
  if (have_out && S_ISDIR(so.st_mode)) return LF_FAIL(LF_ERR_IO, "output '%s' is a directory", out);
  if (have_out && !overwrite)
    return LF_FAIL(LF_ERR_IO, "'%s' exists; refusing to overwrite (use --force or another output)",
                   out);
  for (int i = 0; i < n; i++) {
    if (stat(paths[i], &si) != 0) continue; /* the reader reports a missing input */
    if (have_out && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      return LF_FAIL(LF_ERR_INVALID,
                     "output '%s' is input %d ('%s'); refusing to overwrite an input", out, i + 1,
                     paths[i]);
    for (int j = 0; j < i; j++)
      if (stat(paths[j], &sj) == 0 && si.st_dev == sj.st_dev && si.st_ino == sj.st_ino)
        return LF_FAIL(LF_ERR_INVALID,
                       "inputs %d ('%s') and %d ('%s') are the same file; its chains would be "
                       "counted twice",
                       j + 1, paths[j], i + 1, paths[i]);
  }
  return LF_OK;
}

/* ---- pass 2: copy ------------------------------------------------------------------------ */

/* Appends every chain of in to w (the first chain of the output is already open unless
 * *started). conf: buffer of conf_rows configurations, or NULL when none are copied. */
static lf_status copy_input(lf_ens_writer *w, const input *in, int *started, double *conf,
                            size_t conf_rows) {
  lf_status rc = LF_OK;
  lf_ensemble e;
  LF_CHECK(lf_ens_read(in->path, &e));
  int64_t rows = 0, steps = 0;
  for (int r = 0; r < e.R; r++) {
    rows += (int64_t)e.rows[r];
    steps += (int64_t)e.steps[r];
  }
  if (e.R != in->R || rows != in->rows || steps != in->steps) {
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "merge input '%s' changed while merging: %d chains, %" PRId64 " rows, %" PRId64
                 " steps, first read %d, %" PRId64 ", %" PRId64,
                 in->path, e.R, rows, steps, in->R, in->rows, in->steps);
    goto done;
  }
  const size_t nobs = (size_t)e.info.nobs, ncorr = (size_t)e.info.ncorr;
  const size_t nphi = (size_t)e.info.C * (size_t)e.info.L0 * (size_t)e.info.L1;
  for (int r = 0; r < e.R && rc == LF_OK; r++) {
    if (*started) rc = lf_ens_add_chain(w);
    *started = 1;
    /* rows in chunks: a chunk of configurations is read, then its rows appended */
    for (size_t row0 = 0; row0 < e.rows[r] && rc == LF_OK;) {
      const size_t k =
          conf ? (e.rows[r] - row0 < conf_rows ? e.rows[r] - row0 : conf_rows) : e.rows[r] - row0;
      if (conf) rc = lf_ens_read_configs(in->path, r, (int64_t)row0, k, conf);
      for (size_t j = 0; j < k && rc == LF_OK; j++) {
        const size_t i = row0 + j;
        rc = lf_ens_append_row(w, e.obs[r] + i * nobs, ncorr ? e.corr[r] + i * ncorr : NULL,
                               conf ? conf + j * nphi : NULL, NULL);
      }
      row0 += k;
    }
    if (rc == LF_OK) rc = lf_ens_append_steps(w, e.steps[r], e.chain[r]);
  }
done:
  lf_ens_free(&e);
fail:
  return rc;
}

static lf_status write_prov_attrs(hid_t g, const prov *p, const char *path, const char *gname) {
  lf_status rc = LF_OK;
  LF_CHECK(lf_h5_attr_write_str(g, "source_path", p->path, path, gname));
  LF_CHECK(lf_h5_attr_write_i32(g, "source_chain", p->chain, path, gname));
  LF_CHECK(lf_h5_attr_write_str(g, "source_model_hash", p->model_hash, path, gname));
  LF_CHECK(lf_h5_attr_write_u64(g, "source_seed", p->seed, path, gname));
  LF_CHECK(lf_h5_attr_write_str(g, "source_latflow_version", p->version, path, gname));
  LF_CHECK(lf_h5_attr_write_f64(g, "source_gen_seconds", p->gen_seconds, path, gname));
  LF_CHECK(lf_h5_attr_write_f64(g, "source_train_seconds", p->train_seconds, path, gname));
fail:
  return rc;
}

/* Writes the provenance of every chain into the closed ensemble at path. */
static lf_status write_provenance(const char *path, int n, const input *in) {
  lf_status rc = LF_OK;
  hid_t fapl = -1, f = -1, g = -1;
  char gname[32];
  int out_r = 0;
  LF_CHECK(lf_h5_fapl_serial(&fapl));
  if ((f = H5Fopen(path, H5F_ACC_RDWR, fapl)) < 0) {
    rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot reopen the merged file to record provenance", path);
    goto fail;
  }
  for (int i = 0; i < n; i++)
    for (int r = 0; r < in[i].R; r++, out_r++) {
      snprintf(gname, sizeof gname, "chain_%d", out_r);
      LF_CHECK(lf_h5_group_open(f, gname, &g, path));
      LF_CHECK(write_prov_attrs(g, &in[i].prov[r], path, gname));
      if (H5Gclose(g) < 0) {
        g = -1;
        rc = LF_H5_FAIL(LF_ERR_HDF5, "'%s': cannot close group /%s", path, gname);
        goto fail;
      }
      g = -1;
    }
  LF_CHECK(lf_h5_close(&f, path));
fail:
  if (f >= 0) lf_h5_detach(f); /* a failed write: no close below may write (full disk) */
  if (g >= 0) H5Gclose(g);
  if (f >= 0) H5Fclose(f);
  if (fapl >= 0) H5Pclose(fapl);
  return rc;
}

/* ---- the lock of one output --------------------------------------------------------------- */

/* Two merges into one <out> would share "<out>.tmp" and "<out>.tmp.tmp": each takes the
 * other's temporary for a stale one, removes it and renames the other's file, so both fail
 * or one publishes a mix. "<out>.lock", held with flock for the whole merge, makes the
 * second one stop at once. The lock file is removed while still locked, so a merge that
 * opened the old file and gets the lock after our unlink sees that the name no longer
 * leads to its file and starts over with a new one (two merges never hold two different
 * files of one name). A killed merge leaves an unlocked file that the next merge reuses. */
static lf_status lock_out(const char *out, char *lock, size_t lock_n, int *fd_out) {
  *fd_out = -1;
  snprintf(lock, lock_n, "%s.lock", out);
  char line[64];
  snprintf(line, sizeof line, "pid %ld\n", (long)getpid()); /* for the refusal's message */
  for (int tries = 0; tries < 16; tries++) {
    lf_io_flock lk;
    const lf_status rc = lf_io_flock_try(&lk, lock, line);
    if (rc != LF_OK) return rc;
    if (lk.busy)
      return LF_FAIL(LF_ERR_IO,
                     "'%s' is being written by another latflow-merge (%s); wait for it to end "
                     "or choose another output",
                     out, lk.holder[0] ? lk.holder : "it has not written its pid yet");
    /* no flock on this file system (some NFS/Lustre mounts): merge unguarded, as before */
    if (lk.unsupported) return LF_OK;
    struct stat a, b;
    if (fstat(lk.fd, &a) == 0 && lstat(lock, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
      *fd_out = lk.fd;
      return LF_OK;
    }
    close(lk.fd); /* removed by the holder before us (our pid went there unread): retry */
  }
  return LF_FAIL(LF_ERR_IO, "cannot lock '%s': it keeps being replaced", lock);
}

static void unlock_out(const char *lock, int fd) {
  if (fd < 0) return;
  unlink(lock); /* still locked: see lock_out */
  close(fd);
}

/* ---- the merge --------------------------------------------------------------------------- */

lf_status lf_ens_merge(const char *out_path, int n, const char *const *in_paths, int overwrite,
                       lf_merge_summary *sum) {
  lf_status rc = LF_OK;
  input *in = NULL;
  double *conf = NULL;
  lf_ens_writer *w = NULL;
  char tmp[LF_PATH_MAX + 8], lock[LF_PATH_MAX + 8];
  int tmp_made = 0, lock_fd = -1;
  lf_h5_quiet();
  if (sum) memset(sum, 0, sizeof *sum);
  if (!out_path || !in_paths || n < 1)
    return LF_FAIL(LF_ERR_INVALID, "lf_ens_merge: need an output and n >= 1 inputs (n = %d)", n);
  for (int i = 0; i < n; i++)
    if (!in_paths[i]) return LF_FAIL(LF_ERR_INVALID, "lf_ens_merge: input %d is NULL", i + 1);
  if (strlen(out_path) + 4 >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "output file name too long (%zu bytes, at most %d): '%s'",
                   strlen(out_path), LF_PATH_MAX - 5, out_path);
  if ((rc = lock_out(out_path, lock, sizeof lock, &lock_fd)) != LF_OK) return rc;
  /* checked under the lock: a merge that ended just before us has published its out */
  if ((rc = check_files(out_path, n, in_paths, overwrite)) != LF_OK) {
    unlock_out(lock, lock_fd);
    return rc;
  }
  if (!(in = calloc((size_t)n, sizeof *in))) {
    unlock_out(lock, lock_fd);
    return LF_FAIL(LF_ERR_NOMEM, "merge of %d inputs", n);
  }

  /* pass 1: read, validate and compare every input before writing anything */
  int save = 1, any_save = 0, R = 0, no_conf = -1, cg = 1;
  double gen = 0.0;
  for (int i = 0; i < n; i++) {
    in[i].path = in_paths[i];
    LF_CHECK(scan_input(&in[i]));
    if (i > 0) LF_CHECK(check_same(&in[0], &in[i]));
    if (!in[i].info.save_configs && no_conf < 0) no_conf = i;
    save &= in[i].info.save_configs;
    cg &= in[i].info.cg; /* CG columns only if every chain has them */
    any_save |= in[i].info.save_configs;
    R += in[i].R;
    gen += in[i].info.gen_seconds;
  }
  LF_CHECK(check_distinct(n, in));
  /* training time counts once per distinct model, however many chains it fed */
  double train = 0.0;
  int models = 0, one_model = 1;
  const prov *first = &in[0].prov[0];
  for (int i = 0; i < n; i++)
    for (int r = 0; r < in[i].R; r++) {
      const prov *p = &in[i].prov[r];
      int seen = 0;
      if (strcmp(p->model_hash, first->model_hash) != 0) one_model = 0;
      for (int j = 0; j <= i && !seen && p->model_hash[0]; j++)
        for (int s = 0; s < (j < i ? in[j].R : r) && !seen; s++)
          seen = strcmp(in[j].prov[s].model_hash, p->model_hash) == 0;
      if (p->model_hash[0] && !seen) {
        models++;
        train += p->train_seconds;
      }
    }

  lf_ens_info info = in[0].info;
  info.save_configs = save;
  info.cg = cg;
  info.train_seconds = train;
  info.gen_seconds = gen;
  if (!one_model) info.model_hash[0] = info.model_path[0] = '\0';
  size_t conf_rows = 0;
  if (save) {
    const size_t nphi = (size_t)info.C * (size_t)info.L0 * (size_t)info.L1;
    conf_rows = CONF_BUF_VALUES / nphi;
    if (conf_rows < 1) conf_rows = 1;
    if (conf_rows > CONF_BUF_MAX) conf_rows = CONF_BUF_MAX;
    if (!(conf = malloc(conf_rows * nphi * sizeof *conf))) {
      rc = LF_FAIL(LF_ERR_NOMEM, "configuration buffer of %zu x %zu values", conf_rows, nphi);
      goto fail;
    }
  }

  /* pass 2: copy through the writer into <out>.tmp (the writer's own "<out>.tmp.tmp" is
   * renamed to <out>.tmp on close), record provenance, rename to <out> */
  {
    lf_ensemble e0;
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    LF_CHECK(lf_ens_read(in[0].path, &e0)); /* its config goes to /meta */
    rc = lf_ens_create(&w, tmp, &e0.cfg, &info, 1);
    lf_ens_free(&e0);
    if (rc != LF_OK) goto fail;
  }
  int started = 0;
  for (int i = 0; i < n; i++) LF_CHECK(copy_input(w, &in[i], &started, conf, conf_rows));
  lf_ens_set_gen_seconds(w, gen);
  rc = lf_ens_close(w);
  w = NULL;
  tmp_made = 1;
  if (rc != LF_OK) goto fail;
  LF_CHECK(write_provenance(tmp, n, in));
  lf_fault_point("merge_tmp");
  LF_CHECK(lf_io_commit_tmp(tmp, out_path));
  tmp_made = 0;

  if (sum) {
    sum->inputs = n;
    sum->chains = R;
    for (int i = 0; i < n; i++) {
      sum->rows += in[i].rows;
      sum->steps += in[i].steps;
    }
    sum->save_configs = save;
    sum->configs_dropped = !save && any_save;
    if (no_conf >= 0)
      snprintf(sum->no_configs_path, sizeof sum->no_configs_path, "%s", in[no_conf].path);
    sum->models = models;
    sum->gen_seconds = gen;
    sum->train_seconds = train;
  }
fail:
  if (w) lf_ens_abort(w);
  if (tmp_made) {
    /* a failed close leaves the writer's own temporary: nothing resumes a merge */
    char tmp2[LF_PATH_MAX + 16];
    snprintf(tmp2, sizeof tmp2, "%s.tmp", tmp);
    unlink(tmp2);
    unlink(tmp);
  }
  free(conf);
  for (int i = 0; i < n && in; i++) {
    free(in[i].prov);
    free(in[i].print);
  }
  free(in);
  unlock_out(lock, lock_fd);
  return rc;
}
