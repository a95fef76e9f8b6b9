/* `latflow plot DIR/study.h5` (lf_plot_pipeline, what the plot command runs): a synthetic
 * study file gives every overlay plot of latflow/plot.h into DIR/plots, with the fitted and
 * the anchored volume laws in the script; a non-numeric x parameter is drawn against the
 * point index; a study with no finished point still gives its plots (placeholders).
 * The command `latflow plot study.h5 --json` (build/bin/latflow) does the same.
 * `latflow info study.h5` (lf_info_read) summarizes the study. Skipped without gnuplot. */
#include "latflow/info.h"
#include "latflow/io.h"
#include "latflow/plot.h"
#include "latflow/status.h"
#include "latflow/study.h"
#include "lftest.h"
#include "study_test.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const pngs[] = {
    "study_ess_vs_ntrain", "study_acceptance_vs_ntrain", "study_ess_vs_x", "study_eff_vs_x",
    "study_cost_vs_x",     "study_ess_vs_volume",        "study_mass_vs_L"};
#define NPNG (sizeof pngs / sizeof pngs[0])

/* How many of the expected PNGs exist in dir. */
static int count_pngs(const char *dir) {
  char p[512];
  int n = 0;
  for (size_t i = 0; i < NPNG; i++) {
    snprintf(p, sizeof p, "%s/%s.png", dir, pngs[i]);
    n += lf_test_exists(p);
  }
  return n;
}

/* 1 if the file holds the text s. */
static int file_has(const char *path, const char *s) {
  size_t n = 0;
  unsigned char *b = lf_test_slurp(path, &n);
  int has = 0;
  if (b) {
    char *t = realloc(b, n + 1);
    if (t) {
      t[n] = '\0';
      has = strstr(t, s) != NULL;
      b = (unsigned char *)t;
    }
  }
  free(b);
  return has;
}

int main(void) {
  if (system("gnuplot --version > /dev/null 2>&1") != 0) {
    fprintf(stderr, "skip: gnuplot is not installed\n");
    return 0;
  }
  char top[64], path[128], plots[128], gp[160];
  snprintf(top, sizeof top, "plotstudy_%ld", (long)getpid());
  snprintf(path, sizeof path, "%s/study.h5", top);
  snprintf(plots, sizeof plots, "%s/plots", top);
  snprintf(gp, sizeof gp, "%s/plots.gp", plots);
  mkdir(top, 0755);

  lf_study st;
  study_test_make(&st, top);
  lf_status rc = lf_io_study_write(path, &st);
  CHECK(rc == LF_OK, "synthetic study written: %s", rc ? lf_last_error() : "ok");
  cJSON *json = cJSON_CreateObject();
  rc = lf_plot_pipeline(path, NULL, json);
  CHECK(rc == LF_OK, "lf_plot_pipeline(study.h5): %s", rc ? lf_last_error() : "ok");
  const cJSON *kind = cJSON_GetObjectItem(json, "kind");
  const cJSON *list = cJSON_GetObjectItem(json, "plots");
  CHECK(cJSON_IsString(kind) && !strcmp(kind->valuestring, "study") &&
            cJSON_GetArraySize(list) == (int)NPNG,
        "--json: kind study, %d plots", cJSON_GetArraySize(list));
  cJSON_Delete(json);
  CHECK(count_pngs(plots) == (int)NPNG, "%d of %zu PNGs in %s", count_pngs(plots), NPNG, plots);
  CHECK(file_has(gp, "**(x/V0) w l lw 2") && file_has(gp, "**(x/V0) w l dt 3"),
        "the fitted and the anchored laws are drawn");
  CHECK(file_has(gp, "index 0 u 2:3") && file_has(gp, "target ESS 0.5"),
        "protocol root: the curves use the chain's N_train, the targets are drawn");
  CHECK(file_has(gp, "'lr, \"halving\", theory.lambda=4'"), "labels are gnuplot strings");

  /* the command itself (build/bin/latflow beside build/tests, the test's folder) */
  char cmd[512];
  if (lf_test_exists("../bin/latflow")) {
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && ../bin/latflow plot '%s' --json > '%s/plot.json' 2> '%s/plot.err'",
             plots, path, top, top);
    const int code = system(cmd);
    snprintf(cmd, sizeof cmd, "%s/plot.json", top);
    CHECK(code == 0 && count_pngs(plots) == (int)NPNG && file_has(cmd, "\"kind\":\t\"study\""),
          "latflow plot %s --json: exit %d, %d PNGs, kind study", path, code, count_pngs(plots));
  } else {
    fprintf(stderr, "skip: no ../bin/latflow for the command-line check\n");
  }

  /* latflow info: the study's shape */
  json = cJSON_CreateObject();
  rc = lf_info_read(path, json);
  const cJSON *so = cJSON_GetObjectItem(json, "study");
  CHECK(rc == LF_OK && cJSON_GetObjectItem(so, "points") &&
            cJSON_GetObjectItem(so, "points")->valuedouble == 6 &&
            cJSON_GetObjectItem(so, "done")->valuedouble == 5 &&
            !strcmp(cJSON_GetObjectItem(so, "protocol")->valuestring, "root") &&
            cJSON_GetArraySize(cJSON_GetObjectItem(so, "targets")) == 2,
        "latflow info: 6 points, 5 done, protocol root, 2 targets: %s",
        rc ? lf_last_error() : "ok");
  cJSON_Delete(json);

  /* a grid of two keys without cases (Fig. 8's shape, x the second key): one line per value
   * of the other key, labelled with it (not one line zigzagging through all points) */
  {
    static const char *const lam[] = {"4", "2"}, *const layers[] = {"2", "4", "8"};
    lf_study_spec *sp = st.spec;
    const int ncases = sp->ncases;
    sp->ncases = 0;
    sp->nkeys = 2;
    snprintf(sp->keys[1], sizeof sp->keys[1], "model.layers");
    sp->nvalues[0] = 2;
    sp->nvalues[1] = 3;
    for (int v = 0; v < 3; v++)
      snprintf(sp->values[1][v], sizeof sp->values[1][v], "%s", layers[v]);
    snprintf(sp->x, sizeof sp->x, "model.layers");
    for (int k = 0; k < st.npoints; k++) {
      lf_study_point *pt = &st.points[k];
      pt->nset = 2;
      snprintf(pt->set[0].key, LF_STUDY_KEY_MAX, "theory.lambda");
      snprintf(pt->set[0].value, LF_STUDY_VALUE_MAX, "%s", lam[k / 3]);
      snprintf(pt->set[1].key, LF_STUDY_KEY_MAX, "model.layers");
      snprintf(pt->set[1].value, LF_STUDY_VALUE_MAX, "%s", layers[k % 3]);
    }
    char dat[160];
    snprintf(dat, sizeof dat, "%s/study_x.dat", plots);
    rc = lf_io_study_write(path, &st);
    if (rc == LF_OK) rc = lf_plot_pipeline(path, NULL, NULL);
    CHECK(rc == LF_OK && file_has(dat, "# theory.lambda=4\n") &&
              file_has(dat, "# theory.lambda=2\n") && file_has(gp, "t 'theory.lambda=2'") &&
              !file_has(gp, "index 2 u 1:2:3"),
          "a two-key grid: one line per value of the key that is not x: %s",
          rc ? lf_last_error() : "ok");
    /* the test below expects the cases back (the points keep the grid's shape) */
    sp->ncases = ncases;
    sp->nkeys = 1;
  }

  /* x without a numeric value: the point index, labelled */
  snprintf(st.spec->x, sizeof st.spec->x, "no.such.key");
  for (int k = 0; k < st.npoints; k++) st.results[k].done = 0;
  rc = lf_io_study_write(path, &st);
  if (rc == LF_OK) rc = lf_plot_pipeline(path, NULL, NULL);
  CHECK(rc == LF_OK && file_has(gp, "set xtics rotate") && file_has(gp, "\"point\""),
        "a non-numeric x is drawn against the point index: %s", rc ? lf_last_error() : "ok");

  /* nothing measured yet: every plot a placeholder, still made */
  for (int k = 0; k < st.npoints; k++) {
    lf_study_result *r = &st.results[k];
    free(r->curve);
    study_test_result(r, st.spec, k, 0, 0);
  }
  rc = lf_io_study_write(path, &st);
  if (rc == LF_OK) rc = lf_plot_pipeline(path, NULL, NULL);
  CHECK(rc == LF_OK && file_has(gp, "no point has a finite evaluation yet"),
        "a study without results gives placeholders: %s", rc ? lf_last_error() : "ok");
  lf_study_free(&st);

  snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
  CHECK(system(cmd) == 0, "cleaned up %s", top);
  return lf_test_result();
}
