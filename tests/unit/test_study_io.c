/* Study files (src/io/study_io.c): a synthetic study written, read back and written again
 * gives the same bytes; the reader restores every field; lf_io_file_kind names the kind;
 * other files and damaged study files are refused with LF_ERR_FORMAT naming the piece; the
 * CSV files parse back (python3's csv module) with every number bitwise. */
#include "latflow/io.h"
#include "latflow/status.h"
#include "latflow/study.h"
#include "lftest.h"
#include "study_test.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 if the two files have the same bytes. */
static int same_bytes(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  unsigned char *x = lf_test_slurp(a, &na), *y = lf_test_slurp(b, &nb);
  const int same = x && y && na == nb && !memcmp(x, y, na);
  free(x);
  free(y);
  return same;
}

/* 1 if two doubles are the same bits, NaN equal to NaN. */
static int same_f64(double a, double b) {
  return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a);
}

/* Compares what the reader restored with the original, field by field. */
static void check_equal(const lf_study *a, const lf_study *b) {
  int bad = 0;
  bad += strcmp(a->spec->name, b->spec->name) != 0;
  bad += strcmp(a->spec->source, b->spec->source) != 0;
  bad += a->spec->protocol != b->spec->protocol;
  bad += a->spec->nkeys != b->spec->nkeys || strcmp(a->spec->keys[0], b->spec->keys[0]);
  bad += a->spec->nvalues[0] != b->spec->nvalues[0] ||
         strcmp(a->spec->values[0][2], b->spec->values[0][2]);
  bad += a->spec->ncases != b->spec->ncases ||
         strcmp(a->spec->cases[0].label, b->spec->cases[0].label) ||
         a->spec->cases[0].nset != b->spec->cases[0].nset ||
         strcmp(a->spec->cases[0].set[1].value, b->spec->cases[0].set[1].value);
  bad += a->spec->nroot != b->spec->nroot || a->spec->has_root != b->spec->has_root ||
         strcmp(a->spec->root[0].key, b->spec->root[0].key);
  bad += a->spec->ntargets != b->spec->ntargets || a->spec->targets[1] != b->spec->targets[1];
  bad += a->spec->nvolumes != b->spec->nvolumes || a->spec->volumes[2][1] != b->spec->volumes[2][1];
  bad += a->spec->volume_samples != b->spec->volume_samples ||
         a->spec->volume_proposals != b->spec->volume_proposals ||
         a->spec->sample != b->spec->sample;
  bad += strcmp(a->output, b->output) != 0 || a->train_ranks != b->train_ranks;
  bad += a->npoints != b->npoints || a->has_root != b->has_root;
  bad += !a->card_text || !b->card_text || strcmp(a->card_text, b->card_text);
  CHECK(bad == 0, "spec, output, counts and card text restored (%d differences)", bad);
  int pbad = 0, rbad = 0;
  for (int k = 0; k < a->npoints && k < b->npoints; k++) {
    const lf_study_point *p = &a->points[k], *q = &b->points[k];
    pbad += p->index != q->index || p->parent != q->parent || strcmp(p->label, q->label) ||
            strcmp(p->dir, q->dir) || p->nset != q->nset;
    for (int s = 0; s < p->nset && s < q->nset; s++)
      pbad += strcmp(p->set[s].key, q->set[s].key) || strcmp(p->set[s].value, q->set[s].value);
  }
  for (int k = 0; k <= a->npoints && k <= b->npoints; k++) {
    const lf_study_result *r = k < a->npoints ? &a->results[k] : &a->root;
    const lf_study_result *s = k < b->npoints ? &b->results[k] : &b->root;
    rbad += r->done != s->done || r->steps != s->steps || r->n_train != s->n_train ||
            r->n_train_chain != s->n_train_chain || r->eval_samples != s->eval_samples ||
            strcmp(r->stop_reason, s->stop_reason);
    rbad += !same_f64(r->ess_eval, s->ess_eval) + !same_f64(r->train_seconds, s->train_seconds) +
            !same_f64(r->law_ess_v0, s->law_ess_v0) + !same_f64(r->mass_err, s->mass_err) +
            !same_f64(r->eff_s_flow_with_train, s->eff_s_flow_with_train);
    for (int j = 0; j < a->spec->ntargets; j++)
      rbad += r->target_steps[j] != s->target_steps[j] ||
              r->target_n_train_chain[j] != s->target_n_train_chain[j] ||
              !same_f64(r->target_seconds_chain[j], s->target_seconds_chain[j]);
    rbad += r->ncurve != s->ncurve ||
            (r->ncurve && memcmp(r->curve, s->curve, r->ncurve * sizeof *r->curve));
    for (int v = 0; v < a->spec->nvolumes; v++)
      rbad += r->volumes[v].L0 != s->volumes[v].L0 ||
              r->volumes[v].samples != s->volumes[v].samples ||
              !same_f64(r->volumes[v].ess, s->volumes[v].ess) ||
              !same_f64(r->volumes[v].mass_err, s->volumes[v].mass_err);
  }
  CHECK(pbad == 0, "points restored (%d differences)", pbad);
  CHECK(rbad == 0, "results, curves, targets and volumes restored, root included (%d differences)",
        rbad);
}

/* Copies a study file and applies one damage with HDF5 (what: an object to delete, or the
 * attribute npoints set to an impossible count); returns 1 if done. */
static int damage(const char *from, const char *to, const char *del) {
  if (!lf_test_copy_file(from, to)) return 0;
  hid_t f = H5Fopen(to, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return 0;
  herr_t e;
  if (del) {
    e = H5Ldelete(f, del, H5P_DEFAULT);
  } else {
    const int32_t bad = 100000;
    hid_t a = H5Aopen(f, "npoints", H5P_DEFAULT);
    e = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT32, &bad) : -1;
    if (a >= 0) H5Aclose(a);
  }
  H5Fclose(f);
  return e >= 0;
}

/* The refusals: other kinds of files and damaged study files. */
static void check_refusals(const char *good) {
  lf_study st;
  const char *junk = lf_test_tname("study", "junk.h5");
  lf_test_spew(junk, "not hdf5 at all\n", 16);
  lf_status rc = lf_io_study_read(junk, &st);
  CHECK(rc == LF_ERR_FORMAT && st.spec == NULL, "a non-HDF5 file is refused: %s", lf_last_error());

  const char *train = lf_test_tname("study", "train.h5");
  lf_config cfg;
  lf_config_defaults(&cfg);
  lf_io_metrics *w = NULL;
  rc = lf_io_metrics_open(&w, train, &cfg, 1);
  if (rc == LF_OK) rc = lf_io_metrics_close(w);
  rc = rc == LF_OK ? lf_io_study_read(train, &st) : rc;
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "train"),
        "a train file is refused naming its kind: %s", lf_last_error());

  static const struct {
    const char *del, *named;
  } cases[] = {{"points/label", "label"},
               {"points/curves/2", "curves/2"},
               {"spec/targets", "targets"},
               {"points/target_n_train", "target_n_train"},
               {"root", "root"},
               {"points/volumes", "volumes"},
               {NULL, "npoints"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char tag[16]; /* a neutral name: the message must name the piece, not the file */
    snprintf(tag, sizeof tag, "bad%zu.h5", i);
    const char *bad = lf_test_tname("study", tag);
    if (!damage(good, bad, cases[i].del)) {
      CHECK(0, "damaging a copy (%s)", cases[i].named);
      continue;
    }
    rc = lf_io_study_read(bad, &st);
    CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), cases[i].named) && st.spec == NULL,
          "damaged study file (%s %s) refused: %s", cases[i].del ? "no" : "bad", cases[i].named,
          lf_last_error());
  }
}

/* The CSV files parsed back by python3's csv module against the study (skipped without
 * python3): row and column counts, quoting, NaN as empty cells, doubles bitwise. */
static void check_csv(const lf_study *st) {
  char dir[64], cmd[2048];
  snprintf(dir, sizeof dir, "study_csv_%ld", (long)getpid());
  mkdir(dir, 0755);
  lf_status rc = lf_io_study_write_csv(dir, st);
  CHECK(rc == LF_OK, "lf_io_study_write_csv: %s", rc ? lf_last_error() : "ok");
  if (system("python3 -c 'import csv' > /dev/null 2>&1") != 0) {
    fprintf(stderr, "skip: no python3 for the CSV checks\n");
    return;
  }
  const lf_study_result *r = &st->results[1];
  snprintf(cmd, sizeof cmd,
           "python3 - '%s' <<'EOF'\n"
           "import csv, sys, os\n"
           "d = sys.argv[1]\n"
           "t = list(csv.DictReader(open(os.path.join(d, 'study.csv'))))\n"
           "assert len(t) == 7, len(t)\n"
           "assert t[0]['label'] == 'lr, \"halving\", theory.lambda=4', t[0]['label']\n"
           "assert t[1]['theory.lambda'] == '2' and t[3]['train.batch'] == '64'\n"
           "assert t[3]['train.schedule.lr_halve_every'] == ''\n"
           "assert float(t[1]['ess_eval']).hex() == '%a', t[1]['ess_eval']\n"
           "assert float(t[1]['train_seconds']).hex() == '%a'\n"
           "assert t[1]['target_n_train_0.5'] == '%lld'\n"
           "assert 'target_n_train_0.2' in t[1], sorted(k for k in t[1] if 'target' in k)\n"
           "assert t[5]['done'] == '0' and t[5]['ess_eval'] == '' and t[5]['steps'] == '-1'\n"
           "assert t[6]['index'] == '-2' and t[6]['label'] == 'root'\n"
           "c = list(csv.DictReader(open(os.path.join(d, 'curves.csv'))))\n"
           "assert len(c) == %d, len(c)\n"
           "p1 = [x for x in c if x['point'] == '1']\n"
           "assert float(p1[-1]['ess']).hex() == '%a'\n"
           "assert int(p1[-1]['n_train_chain']) - int(p1[-1]['n_train']) == %lld\n"
           "v = list(csv.DictReader(open(os.path.join(d, 'volumes.csv'))))\n"
           "assert len(v) == 21 and v[1]['mass_err'] == '' and v[2]['V'] == '256', v[2]\n"
           "assert float(v[4]['ess']).hex() == '%a'\n"
           "EOF",
           dir, r->ess_eval, r->train_seconds, (long long)r->target_n_train[1],
           3 + 4 + 5 + 6 + 7 + 4, r->curve[r->ncurve - 1].ess,
           (long long)(r->n_train_chain - r->n_train), r->volumes[1].ess);
  CHECK(system(cmd) == 0, "study.csv, curves.csv and volumes.csv parse back (python3 csv)");
  char p[128];
  const char *names[] = {"study.csv", "curves.csv", "volumes.csv"};
  int tmps = 0;
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s.tmp", dir, names[i]);
    tmps += lf_test_exists(p);
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  CHECK(tmps == 0, "no .tmp left by the CSV writer");
  rmdir(dir);
}

int main(void) {
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1); /* created_utc fixed: comparable bytes */
  lf_study st, back;
  study_test_make(&st, "runs/synthetic");
  const char *a = lf_test_tname("study", "a.h5"), *b = lf_test_tname("study", "b.h5");
  lf_status rc = lf_io_study_write(a, &st);
  CHECK(rc == LF_OK, "lf_io_study_write: %s", rc ? lf_last_error() : "ok");
  char kind[32] = "";
  rc = lf_io_file_kind(a, kind, sizeof kind);
  CHECK(rc == LF_OK && !strcmp(kind, "study"), "lf_io_file_kind says '%s'", kind);
  rc = lf_io_study_read(a, &back);
  CHECK(rc == LF_OK, "lf_io_study_read: %s", rc ? lf_last_error() : "ok");
  if (rc == LF_OK) {
    check_equal(&st, &back);
    rc = lf_io_study_write(b, &back);
    CHECK(rc == LF_OK && same_bytes(a, b), "write(read(write(st))) has the same bytes");
    rc = lf_io_study_write(b, &back); /* replaces its earlier file */
    CHECK(rc == LF_OK && same_bytes(a, b), "a study file is replaced by the next write");
  }
  lf_study_free(&back);
  CHECK(back.spec == NULL && back.points == NULL && back.npoints == 0, "lf_study_free zeroes");
  lf_study_free(&back); /* idempotent */

  /* an empty study (no points, no root, no targets, no volumes) round-trips too */
  lf_study empty;
  memset(&empty, 0, sizeof empty);
  empty.spec = calloc(1, sizeof *empty.spec);
  lf_config_defaults(&empty.base);
  const char *c = lf_test_tname("study", "c.h5"), *d = lf_test_tname("study", "d.h5");
  rc = lf_io_study_write(c, &empty);
  if (rc == LF_OK) rc = lf_io_study_read(c, &back);
  if (rc == LF_OK) rc = lf_io_study_write(d, &back);
  CHECK(rc == LF_OK && same_bytes(c, d) && back.npoints == 0 && !back.card_text,
        "an empty study round-trips: %s", rc ? lf_last_error() : "ok");
  lf_study_free(&back);
  lf_study_free(&empty);

  check_refusals(a);
  check_csv(&st);
  lf_study_free(&st);
  lf_test_cleanup();
  return lf_test_result();
}
