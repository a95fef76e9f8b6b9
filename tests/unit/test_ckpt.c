/* Checkpoint files (latflow/ckpt.h) and the signal flag (latflow/signal.h):
 * - arrays of the three types and scalars round-trip bitwise (incl. NaN payloads and an
 *   empty array); the config round-trips;
 * - a second commit keeps the first as "<path>.prev"; with <path> gone, open falls back to
 *   .prev; with neither, open names the path;
 * - a train checkpoint opened as a sample checkpoint, a wrong length, a wrong type, a
 *   missing dataset, a truncated file and an ensemble-less text file are refused;
 * - an aborted checkpoint leaves no tmp file and the old checkpoint intact;
 * - a state struct described by a field table round-trips through lf_ckpt_put_attrs and
 *   lf_ckpt_put_table: a dataset per field (as lf_ckpt_put would write it), read back by
 *   lf_ckpt_get_table; lf_ckpt_has tells a missing dataset; a short table is refused;
 * - one bit flipped in a dataset value or an attribute value (issue 13) is detected: open
 *   falls back to a sound .prev, else refuses "checksum mismatch: corrupted"; format 3
 *   (no checksum) is read, format 4 without one refused;
 * - lf_ckpt_compat accepts run-length changes and unused sections and refuses a changed
 *   theory, architecture, seed or block size, naming the key;
 * - the handler sets the flag for SIGTERM, SIGUSR1 and SIGINT (and the test hook raises
 *   at the right step only); lf_signal_agree on MPI_COMM_SELF returns the local flag.
 * Files go to the current directory, named by pid. */
#include "latflow/ckpt.h"
#include "latflow/config.h"
#include "latflow/signal.h"
#include "lftest.h"

#include <hdf5.h>

#include <math.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256], prev[300];

static lf_status write_ckpt(const lf_config *cfg, const char *what, double x0) {
  lf_ckpt *c = NULL;
  lf_status rc = lf_ckpt_create(&c, path, what, cfg, 3);
  if (rc != LF_OK) return rc;
  double d[5] = {x0, -0.0, 1e-310, INFINITY, NAN};
  int64_t i[3] = {INT64_MIN, -1, INT64_MAX};
  uint8_t u[4] = {0, 1, 254, 255};
  if ((rc = lf_ckpt_put(c, "d", LF_CKPT_F64, 5, d)) == LF_OK &&
      (rc = lf_ckpt_put(c, "i", LF_CKPT_I64, 3, i)) == LF_OK &&
      (rc = lf_ckpt_put(c, "u", LF_CKPT_U8, 4, u)) == LF_OK &&
      (rc = lf_ckpt_put(c, "empty", LF_CKPT_F64, 0, NULL)) == LF_OK &&
      (rc = lf_ckpt_put_i64(c, "step", 123456789012LL)) == LF_OK &&
      (rc = lf_ckpt_put_f64(c, "seconds", x0)) == LF_OK)
    return lf_ckpt_commit(c);
  lf_ckpt_abort(c);
  return rc;
}

static void test_round_trip(void) {
  lf_config cfg, back;
  lf_config_defaults(&cfg);
  cfg.seed = 99;
  cfg.theory.lambda = 7.25;
  CHECK(write_ckpt(&cfg, "train", 1.5) == LF_OK, "write a train checkpoint: '%s'", lf_last_error());
  CHECK(access(prev, F_OK) != 0, "first commit: no .prev yet");
  lf_ckpt *c = NULL;
  lf_status rc = lf_ckpt_open(&c, path, "train", &back);
  CHECK(rc == LF_OK, "open it: '%s'", lf_last_error());
  if (rc != LF_OK) return;
  char key[64];
  CHECK(lf_config_diff(&cfg, &back, key, sizeof key) == 0, "config round-trips");
  double d[5];
  int64_t i[3], step = 0;
  uint8_t u[4];
  double sec = 0;
  size_t n = 9;
  rc = lf_ckpt_get(c, "d", LF_CKPT_F64, 5, d);
  const double want[5] = {1.5, -0.0, 1e-310, INFINITY, NAN};
  CHECK(rc == LF_OK && memcmp(d, want, sizeof d) == 0, "doubles bitwise (-0, denormal, inf, nan)");
  rc = lf_ckpt_get(c, "i", LF_CKPT_I64, 3, i);
  CHECK(rc == LF_OK && i[0] == INT64_MIN && i[1] == -1 && i[2] == INT64_MAX, "int64 extremes");
  rc = lf_ckpt_get(c, "u", LF_CKPT_U8, 4, u);
  CHECK(rc == LF_OK && u[0] == 0 && u[2] == 254 && u[3] == 255, "bytes");
  CHECK(lf_ckpt_len(c, "empty", &n) == LF_OK && n == 0, "empty array has length 0");
  CHECK(lf_ckpt_get_i64(c, "step", &step) == LF_OK && step == 123456789012LL, "int64 scalar");
  CHECK(lf_ckpt_get_f64(c, "seconds", &sec) == LF_OK && sec == 1.5, "double scalar");
  rc = lf_ckpt_get(c, "d", LF_CKPT_F64, 4, d);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "'d' has 5 values"),
        "wrong length refused: '%s'", lf_last_error());
  rc = lf_ckpt_get(c, "i", LF_CKPT_F64, 3, d);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "another type"), "wrong type refused: '%s'",
        lf_last_error());
  rc = lf_ckpt_get(c, "u", LF_CKPT_I64, 4, i);
  CHECK(rc == LF_ERR_FORMAT, "bytes read as int64 refused: '%s'", lf_last_error());
  rc = lf_ckpt_get(c, "nope", LF_CKPT_F64, 1, d);
  CHECK(rc == LF_ERR_FORMAT, "missing dataset refused: '%s'", lf_last_error());
  lf_ckpt_close(c);

  rc = lf_ckpt_open(&c, path, "sample", NULL);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "is a train checkpoint, expected a sample"),
        "train checkpoint opened as sample refused: '%s'", lf_last_error());
}

/* A state record as the HMC checkpoint stores one per chain. */
typedef struct rec {
  int64_t t;
  double x;
  uint8_t flag;
} rec;
static const lf_h5_field rec_f[] = {{"t", LF_H5_I64, offsetof(rec, t), NULL},
                                    {"x", LF_H5_F64, offsetof(rec, x), NULL},
                                    {"flag", LF_H5_U8, offsetof(rec, flag), NULL}};

static void test_tables(void) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  char tp[300];
  snprintf(tp, sizeof tp, "%s.tab", path);
  const rec in[3] = {{INT64_MIN, -0.0, 255}, {7, NAN, 0}, {INT64_MAX, 1e-310, 1}};
  const rec head = {42, 2.5, 0};
  lf_ckpt *c = NULL;
  lf_status rc = lf_ckpt_create(&c, tp, "hmc", &cfg, 3);
  if (rc == LF_OK) rc = lf_ckpt_put_attrs(c, rec_f, 2, &head);
  if (rc == LF_OK) rc = lf_ckpt_put_table(c, rec_f, 3, 3, in, sizeof *in);
  CHECK(rc == LF_OK && lf_ckpt_commit(c) == LF_OK, "write a table checkpoint: '%s'",
        lf_last_error());
  if (rc != LF_OK) return;
  rc = lf_ckpt_open(&c, tp, "hmc", NULL);
  CHECK(rc == LF_OK, "open it: '%s'", lf_last_error());
  if (rc != LF_OK) return;
  rec out[3], h = {0, 0, 9};
  memset(out, 0, sizeof out);
  CHECK(lf_ckpt_get_attrs(c, rec_f, 2, &h) == LF_OK && h.t == 42 && h.x == 2.5 && h.flag == 9,
        "scalars round-trip as root attributes");
  int64_t t = 0;
  CHECK(lf_ckpt_get_i64(c, "t", &t) == LF_OK && t == 42, "an attribute per field");
  CHECK(lf_ckpt_get_table(c, rec_f, 3, 3, out, sizeof *out) == LF_OK, "read the table: '%s'",
        lf_last_error());
  int same = 1;
  for (int r = 0; r < 3; r++)
    same &= out[r].t == in[r].t && memcmp(&out[r].x, &in[r].x, sizeof in[r].x) == 0 &&
            out[r].flag == in[r].flag;
  CHECK(same, "records round-trip bitwise (int64 extremes, -0, NaN, denormal, bytes)");
  double x[3];
  CHECK(lf_ckpt_get(c, "x", LF_CKPT_F64, 3, x) == LF_OK && x[2] == 1e-310,
        "a dataset per field, as lf_ckpt_put writes it");
  int has = -1;
  CHECK(lf_ckpt_has(c, "flag", &has) == LF_OK && has == 1, "lf_ckpt_has finds a field");
  CHECK(lf_ckpt_has(c, "cg_iters", &has) == LF_OK && has == 0, "lf_ckpt_has: a missing one");
  rc = lf_ckpt_get_table(c, rec_f, 3, 4, out, sizeof *out);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "'t' has 3 values, expected 4"),
        "a table of another length refused: '%s'", lf_last_error());
  lf_ckpt_close(c);
  remove(tp);
}

static void test_prev(void) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  CHECK(write_ckpt(&cfg, "sample", 2.5) == LF_OK, "second commit");
  CHECK(access(prev, F_OK) == 0, "the first checkpoint is kept as .prev");
  lf_ckpt *c = NULL;
  double d[5];
  CHECK(lf_ckpt_open(&c, prev, "train", NULL) == LF_OK &&
            lf_ckpt_get(c, "d", LF_CKPT_F64, 5, d) == LF_OK && d[0] == 1.5,
        ".prev holds the first checkpoint");
  lf_ckpt_close(c);
  /* an aborted write leaves the current checkpoint and no tmp */
  lf_ckpt *w = NULL;
  lf_status rc = lf_ckpt_create(&w, path, "sample", &cfg, 1);
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  CHECK(rc == LF_OK && access(tmp, F_OK) == 0, "create makes the tmp file");
  lf_ckpt_abort(w);
  CHECK(access(tmp, F_OK) != 0, "abort removes the tmp file");
  /* a crash between the two renames: only .prev exists */
  remove(path);
  rc = lf_ckpt_open(&c, path, "train", NULL);
  CHECK(rc == LF_OK && strcmp(lf_ckpt_path(c), prev) == 0,
        "missing checkpoint falls back to .prev");
  lf_ckpt_close(c);
  remove(prev);
  rc = lf_ckpt_open(&c, path, "train", NULL);
  CHECK(rc == LF_ERR_IO && strstr(lf_last_error(), "no checkpoint"), "nothing to resume: '%s'",
        lf_last_error());
  /* truncated and text files */
  CHECK(write_ckpt(&cfg, "hmc", 3.0) == LF_OK, "third checkpoint");
  FILE *f = fopen(path, "r+b");
  if (f) {
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    CHECK(truncate(path, sz / 3) == 0, "truncate it to a third");
  }
  rc = lf_ckpt_open(&c, path, "hmc", NULL);
  CHECK(rc == LF_ERR_FORMAT, "truncated checkpoint refused: '%s'", lf_last_error());
  f = fopen(path, "w");
  if (f) {
    fputs("not hdf5\n", f);
    fclose(f);
  }
  rc = lf_ckpt_open(&c, path, "hmc", NULL);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "not an HDF5 file"), "text file refused");
  remove(path);
  remove(prev);
}

static void test_compat(void) {
  lf_config a, b;
  lf_config_defaults(&a);
  b = a;
  b.train.steps *= 2;
  b.sample.proposals *= 3;
  b.hmc.trajectories += 5;
  b.train.checkpoint_every = 1;
  snprintf(b.output, sizeof b.output, "elsewhere");
  CHECK(lf_ckpt_compat(&a, &b, "train", "ck") == LF_OK, "run lengths may change (train)");
  CHECK(lf_ckpt_compat(&a, &b, "sample", "ck") == LF_OK, "run lengths may change (sample)");
  /* the wall-clock checkpoint interval is bookkeeping: it never changes the result */
  b = a;
  b.train.checkpoint_seconds = 1.0;
  b.sample.checkpoint_seconds = 0.0;
  b.hmc.checkpoint_seconds = 60.0;
  CHECK(lf_ckpt_compat(&a, &b, "train", "ck") == LF_OK &&
            lf_ckpt_compat(&a, &b, "sample", "ck") == LF_OK &&
            lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_OK,
        "checkpoint_seconds may change on resume: '%s'", lf_last_error());
  b = a;
  b.train.batch = 128;
  b.hmc.tau = 0.5;
  CHECK(lf_ckpt_compat(&a, &b, "sample", "ck") == LF_OK, "sample ignores train and hmc keys");
  CHECK(lf_ckpt_compat(&a, &b, "train", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "'train.batch' differs"),
        "train refuses another batch: '%s'", lf_last_error());
  b = a;
  b.model.layers = 4;
  CHECK(lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_OK, "hmc ignores the model");
  CHECK(lf_ckpt_compat(&a, &b, "train", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "model.layers"),
        "train refuses another architecture: '%s'", lf_last_error());
  b = a;
  b.sample.save = LF_SAVE_NONE;
  CHECK(lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "sample.save"),
        "hmc refuses another sample.save (it decides the stored configurations): '%s'",
        lf_last_error());
  b = a;
  b.theory.lambda = 7.0;
  CHECK(lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "theory.lambda"),
        "another theory refused: '%s'", lf_last_error());
  b = a;
  b.seed = 5;
  CHECK(lf_ckpt_compat(&a, &b, "sample", "ck") == LF_ERR_CONFIG, "another seed refused");
  b = a;
  b.sample.block = 64;
  CHECK(lf_ckpt_compat(&a, &b, "sample", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "sample.block"),
        "another block size refused: '%s'", lf_last_error());
  /* hmc.fermion: ignored for phi4 (a is phi4), refused for schwinger; the CG keys only
   * matter when both runs use pseudofermions */
  b = a;
  b.hmc.fermion = LF_FERMION_EXACT;
  b.hmc.cg_tol = 1e-6;
  CHECK(lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_OK, "phi4 ignores hmc.fermion and hmc.cg_tol");
  lf_config sa = a, sb;
  sa.theory.name = LF_THEORY_SCHWINGER;
  sb = sa;
  sb.hmc.fermion = LF_FERMION_EXACT;
  CHECK(lf_ckpt_compat(&sa, &sb, "hmc", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "'hmc.fermion' differs"),
        "schwinger refuses another hmc.fermion: '%s'", lf_last_error());
  sb = sa;
  sb.hmc.cg_maxiter = 17;
  CHECK(lf_ckpt_compat(&sa, &sb, "hmc", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "'hmc.cg_maxiter' differs"),
        "schwinger with pseudofermions refuses another hmc.cg_maxiter: '%s'", lf_last_error());
  sa.hmc.fermion = sb.hmc.fermion = LF_FERMION_EXACT;
  CHECK(lf_ckpt_compat(&sa, &sb, "hmc", "ck") == LF_OK,
        "schwinger with the exact determinant ignores hmc.cg_maxiter");
  /* theory.logdet: the resolved method must agree (it changes bits, not physics); a stored
   * card without the key (given bit unset) predates it and was dense */
  lf_config la = a, lb;
  la.theory.name = LF_THEORY_SCHWINGER;
  la.given |= LF_CONFIG_GIVEN_LOGDET;
  lb = la;
  lb.theory.logdet = LF_LOGDET_DENSE; /* 8x8: auto is dense */
  const lf_status l1 = lf_ckpt_compat(&la, &lb, "train", "ck");
  la.theory.shape[0] = la.theory.shape[1] = lb.theory.shape[0] = lb.theory.shape[1] = 24;
  const lf_status l2 = lf_ckpt_compat(&la, &lb, "train", "ck"); /* auto is sparse at 24x24 */
  const int named = strstr(lf_last_error(), "'theory.logdet' differs") != NULL;
  lb.theory.logdet = LF_LOGDET_SPARSE;
  const lf_status l3 = lf_ckpt_compat(&la, &lb, "hmc", "ck");
  la.given &= ~LF_CONFIG_GIVEN_LOGDET; /* a checkpoint older than the key: dense */
  const lf_status l4 = lf_ckpt_compat(&la, &lb, "sample", "ck");
  lb.theory.logdet = LF_LOGDET_DENSE;
  const lf_status l5 = lf_ckpt_compat(&la, &lb, "sample", "ck");
  lb = a;
  lb.theory.logdet = LF_LOGDET_SPARSE;
  const lf_status l6 = lf_ckpt_compat(&a, &lb, "train", "ck"); /* phi4: no determinant */
  CHECK(l1 == LF_OK && l2 == LF_ERR_CONFIG && named && l3 == LF_OK && l4 == LF_ERR_CONFIG &&
            l5 == LF_OK && l6 == LF_OK,
        "theory.logdet on resume: auto = dense at 8x8 %d; auto (sparse) vs dense at 24x24 "
        "refused %d (named %d); auto vs sparse %d; pre-key checkpoint vs sparse refused %d, vs "
        "dense %d; phi4 ignores it %d",
        (int)l1, (int)l2, named, (int)l3, (int)l4, (int)l5, (int)l6);
  /* the theory's physics comes first: another theory is named as such */
  b = a;
  b.theory.name = LF_THEORY_U1;
  CHECK(lf_ckpt_compat(&a, &b, "sample", "ck") == LF_ERR_CONFIG &&
            strstr(lf_last_error(), "'theory.name' differs"),
        "another theory named: '%s'", lf_last_error());
  b = a;
  b.hmc.fermion = a.hmc.fermion = LF_FERMION_PSEUDO;
  b.hmc.cg_maxiter = 17;
  CHECK(lf_ckpt_compat(&a, &b, "hmc", "ck") == LF_OK,
        "phi4 has no pseudofermions: hmc.cg_maxiter ignored even with hmc.fermion "
        "pseudofermion: '%s'",
        lf_last_error());
}

static void test_signal(void) {
  CHECK(lf_signal_install() == LF_OK, "install handlers");
  const int sigs[3] = {SIGTERM, SIGUSR1, SIGINT};
  for (int k = 0; k < 3; k++) {
    lf_signal_clear();
    raise(sigs[k]);
    int s = -1;
    CHECK(lf_signal_pending() == sigs[k] && lf_signal_agree(MPI_COMM_SELF, &s) == LF_OK &&
              s == sigs[k],
          "%s sets the flag", lf_signal_name(sigs[k]));
  }
  lf_signal_clear();
  lf_signal_install();
  setenv("LATFLOW_TEST_INTERRUPT", "sample:7:USR1", 1);
  lf_signal_test_hook("sample", 6, 0);
  lf_signal_test_hook("train", 7, 0);
  CHECK(lf_signal_pending() == 0, "hook silent at another step or phase");
  lf_signal_test_hook("sample", 7, 2);
  CHECK(lf_signal_pending() == SIGUSR1, "hook raises SIGUSR1 at sample step 7");
  lf_signal_clear();
}

/* Flips bit `bit` of byte `byte` of dataset (attr == 0) or root attribute (attr == 1)
 * name of file f, in place, with plain HDF5 calls. 1 on success. */
static int flip_bit(const char *f, const char *name, int attr, size_t byte, int bit) {
  int ok = 0;
  hid_t file = H5Fopen(f, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return 0;
  hid_t o = attr ? H5Aopen(file, name, H5P_DEFAULT) : H5Dopen2(file, name, H5P_DEFAULT);
  hid_t t = o < 0 ? -1 : attr ? H5Aget_type(o) : H5Dget_type(o);
  hid_t sp = o < 0 ? -1 : attr ? H5Aget_space(o) : H5Dget_space(o);
  const size_t n =
      sp >= 0 && t >= 0 ? (size_t)H5Sget_simple_extent_npoints(sp) * H5Tget_size(t) : 0;
  unsigned char *buf = n > byte ? malloc(n) : NULL;
  if (buf && (attr ? H5Aread(o, t, buf) : H5Dread(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0) {
    buf[byte] ^= (unsigned char)(1u << bit);
    ok = (attr ? H5Awrite(o, t, buf) : H5Dwrite(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0;
  }
  free(buf);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (o >= 0) attr ? H5Aclose(o) : H5Oclose(o);
  return H5Fclose(file) >= 0 && ok;
}

/* Issue 13, defect 11: one flipped bit in a stored dataset value or an attribute value is
 * detected at open; the open falls back to a sound .prev, and without one refuses naming
 * the file. A checkpoint of format 3 (no checksum) opens; format 4 without one does not. */
static void test_integrity(void) {
  lf_config cfg;
  lf_config_defaults(&cfg);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  struct {
    const char *name;
    int attr;
    size_t byte;
    int bit;
  } flips[] = {{"d", 0, 0, 0},       /* the lowest mantissa bit of d[0] */
               {"i", 0, 17, 5},      /* inside i[2] */
               {"u", 0, 3, 7},       /* a byte array */
               {"step", 1, 2, 1},    /* a scalar attribute */
               {"seconds", 1, 7, 6}, /* the exponent of a double attribute */
               {"what", 1, 0, 0}};   /* a string attribute ("train" -> "srain") */
  for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
    remove(path);
    remove(prev);
    lf_ckpt *c = NULL;
    double d[5] = {0};
    CHECK(write_ckpt(&cfg, "train", 1.5) == LF_OK && write_ckpt(&cfg, "train", 2.5) == LF_OK,
          "two checkpoints: '%s'", lf_last_error());
    CHECK(flip_bit(path, flips[k].name, flips[k].attr, flips[k].byte, flips[k].bit),
          "flip a bit of %s", flips[k].name);
    lf_status rc = lf_ckpt_open(&c, path, "train", NULL);
    CHECK(rc == LF_OK && strcmp(lf_ckpt_path(c), prev) == 0 &&
              lf_ckpt_get(c, "d", LF_CKPT_F64, 5, d) == LF_OK && d[0] == 1.5,
          "bit flipped in %s: falls back to the sound .prev ('%s')", flips[k].name,
          rc == LF_OK ? lf_ckpt_path(c) : lf_last_error());
    lf_ckpt_close(c);
    c = NULL;
    remove(prev);
    rc = lf_ckpt_open(&c, path, "train", NULL);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "checksum mismatch: corrupted") &&
              strstr(lf_last_error(), path),
          "bit flipped in %s, no .prev: refused ('%s')", flips[k].name, lf_last_error());
    lf_ckpt_close(c);
  }
  /* both corrupted: refused, naming both */
  remove(path);
  remove(prev);
  lf_ckpt *c = NULL;
  CHECK(write_ckpt(&cfg, "train", 1.5) == LF_OK && write_ckpt(&cfg, "train", 2.5) == LF_OK &&
            flip_bit(path, "d", 0, 8, 3) && flip_bit(prev, "d", 0, 8, 3),
        "two corrupted checkpoints");
  lf_status rc = lf_ckpt_open(&c, path, "train", NULL);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "previous checkpoint is no better"),
        "both corrupted: refused ('%s')", lf_last_error());
  lf_ckpt_close(c);
  c = NULL;
  /* older formats: no checksum, read with a warning; format 4 without one is refused */
  remove(prev);
  CHECK(write_ckpt(&cfg, "train", 1.5) == LF_OK, "a fresh checkpoint");
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0 && H5Adelete(f, "checksum") >= 0, "delete its checksum");
  if (f >= 0) H5Fclose(f);
  rc = lf_ckpt_open(&c, path, "train", NULL);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "without its checksum"),
        "format 4 without a checksum refused ('%s')", lf_last_error());
  lf_ckpt_close(c);
  c = NULL;
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = f >= 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
  const int v3 = 3;
  CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &v3) >= 0, "set format_version 3");
  if (a >= 0) H5Aclose(a);
  if (f >= 0) H5Fclose(f);
  rc = lf_ckpt_open(&c, path, "train", NULL);
  CHECK(rc == LF_OK, "format 3 (no checksum) is still read ('%s')", lf_last_error());
  lf_ckpt_close(c);
  remove(path);
  remove(prev);
}

int main(void) {
  snprintf(path, sizeof path, "test_ckpt_%ld.h5", (long)getpid());
  snprintf(prev, sizeof prev, "%s.prev", path);
  test_round_trip();
  test_tables();
  test_prev();
  test_integrity();
  test_compat();
  test_signal();
  remove(path);
  remove(prev);
  return lf_test_result();
}
