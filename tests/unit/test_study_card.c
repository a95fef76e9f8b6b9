/* test_study_card: study cards (lf_config_load_study, src/config/config_study.c).
 *
 * - a full card: the run card's keys are read as lf_config_load reads them (the `study:`
 *   section skipped, so lf_config_load accepts the card and gives the same config), every
 *   study key lands in the spec, grid values are kept as YAML flow text (scalars as
 *   written, [6, 6] for theory.shape, {name: sgd} for a section), targets are sorted;
 * - defaults: the name is the card's file stem, protocol scratch, volume_samples 10000;
 * - bad cards fail with LF_ERR_CONFIG and a message naming the file, the line and the key:
 *   unknown study keys (with a suggestion), unknown grid keys, values the run card refuses,
 *   a grid value that is not a list, output in the grid, init_from with protocol root,
 *   protocol root without root, bad targets, volumes and protocol names, and a card without
 *   `study:`. */
#include "latflow/config.h"
#include "latflow/study.h"
#include "lftest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *BASE = "seed: 3\n"
                          "theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}\n"
                          "model: {layers: 2, hidden: [4], kernel: 3}\n"
                          "train: {batch: 16, stop: {steps: 20}}\n";

/* Writes BASE then study (the text of the `study:` section) to path. */
static void write_card(const char *path, const char *study) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(BASE, f);
  fputs(study, f);
  fclose(f);
}

static lf_study_spec *g_spec;

/* Loads path; returns its status (message in lf_last_error()). */
static lf_status load(const char *path, lf_config *cfg) {
  return lf_config_load_study(path, cfg, g_spec);
}

static void test_good(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/fig3.yaml", dir);
  write_card(path, "study:\n"
                   "  protocol: root\n"
                   "  grid:\n"
                   "    theory.lambda: [4, 2, 1.5]\n"
                   "    theory.shape: [[6, 6], [4, 4]]\n"
                   "  cases:\n"
                   "    - {label: sgd, set: {train.optimizer: {name: sgd}, train.batch: 32}}\n"
                   "    - {label: adam, set: {train.optimizer.name: adam}}\n"
                   "  root: {theory.lambda: 4}\n"
                   "  targets: [0.6, 0.2]\n"
                   "  x: theory.lambda\n"
                   "  sample: true\n"
                   "  volumes: [8, [12, 8]]\n"
                   "  volume_samples: 500\n");
  lf_config cfg, plain;
  lf_status rc = load(path, &cfg);
  CHECK(rc == LF_OK, "full study card loads (rc=%d %s)", rc, rc ? lf_last_error() : "");
  const lf_study_spec *s = g_spec;
  CHECK(!strcmp(s->name, "fig3"), "name defaults to the file stem: '%s'", s->name);
  CHECK(s->protocol == LF_STUDY_ROOT, "protocol root");
  CHECK(s->nkeys == 2 && !strcmp(s->keys[0], "theory.lambda") && s->nvalues[0] == 3 &&
            !strcmp(s->values[0][2], "1.5") && !strcmp(s->keys[1], "theory.shape") &&
            s->nvalues[1] == 2 && !strcmp(s->values[1][0], "[6, 6]"),
        "grid: %d keys, '%s' '%s'", s->nkeys, s->values[0][2], s->values[1][0]);
  CHECK(s->ncases == 2 && !strcmp(s->cases[0].label, "sgd") && s->cases[0].nset == 2 &&
            !strcmp(s->cases[0].set[0].key, "train.optimizer") &&
            !strcmp(s->cases[0].set[0].value, "{name: sgd}") &&
            !strcmp(s->cases[0].set[1].value, "32") && s->cases[1].nset == 1,
        "cases: '%s' = '%s'", s->cases[0].set[0].key, s->cases[0].set[0].value);
  CHECK(s->has_root && s->nroot == 1 && !strcmp(s->root[0].value, "4"), "root {theory.lambda: 4}");
  CHECK(s->ntargets == 2 && s->targets[0] == 0.2 && s->targets[1] == 0.6, "targets sorted");
  CHECK(!strcmp(s->x, "theory.lambda") && s->sample == 1, "x and sample");
  CHECK(s->nvolumes == 2 && s->volumes[0][0] == 8 && s->volumes[0][1] == 8 &&
            s->volumes[1][0] == 12 && s->volumes[1][1] == 8 && s->volume_samples == 500 &&
            s->volume_proposals == 0,
        "volumes 8x8, 12x8, 500 samples");
  rc = lf_config_load(&plain, path);
  CHECK(rc == LF_OK, "lf_config_load accepts a study card (rc=%d %s)", rc,
        rc ? lf_last_error() : "");
  CHECK(lf_config_diff(&cfg, &plain, NULL, 0) == 0 && cfg.theory.shape[0] == 4 && cfg.seed == 3,
        "the study card's config is the run card's");

  snprintf(path, sizeof path, "%s/defaults.card.yaml", dir);
  write_card(path, "study:\n  grid: {seed: [1, 2]}\n");
  rc = load(path, &cfg);
  CHECK(rc == LF_OK && !strcmp(g_spec->name, "defaults.card") &&
            g_spec->protocol == LF_STUDY_SCRATCH && g_spec->volume_samples == 10000 &&
            !g_spec->has_root && g_spec->ncases == 0,
        "defaults: name '%s', scratch, 10000 volume samples", g_spec->name);
}

/* The card with the study section `study` must fail with a message containing `want`. */
static void bad(const char *dir, const char *study, const char *want) {
  char path[512];
  snprintf(path, sizeof path, "%s/bad.yaml", dir);
  write_card(path, study);
  lf_config cfg;
  const lf_status rc = load(path, &cfg);
  const char *msg = lf_last_error();
  CHECK(rc == LF_ERR_CONFIG && strstr(msg, want), "refused with '%s': got rc=%d '%s'", want, rc,
        msg);
}

static void test_bad(const char *dir) {
  bad(dir, "study:\n  gird: {seed: [1]}\n",
      "bad.yaml:6: unknown key 'study.gird' (did you mean 'study.grid'?)");
  bad(dir, "study:\n  grid:\n    theory.lamda: [1, 2]\n",
      "bad.yaml:7: unknown key 'theory.lamda' (did you mean 'theory.lambda'?)");
  bad(dir, "study:\n  grid:\n    train.batch: [16,\n      -3]\n",
      "bad.yaml:8: study.grid.train.batch: entry 2: train.batch: must be > 0, got -3");
  bad(dir, "study:\n  grid:\n    train.batch: 16\n",
      "bad.yaml:7: study.grid.train.batch: expected a list of values, got '16'");
  bad(dir, "study:\n  grid: {output: [a, b]}\n",
      "study.grid.output: entry 1: 'output' cannot be varied");
  bad(dir, "study:\n  protocol: root\n  root: {}\n  grid: {train.init_from: [a.h5]}\n",
      "'train.init_from' is set by the protocol (root)");
  bad(dir, "study:\n  protocol: root\n  grid: {seed: [1]}\n",
      "bad.yaml:5: study.root: protocol root needs `root:`");
  bad(dir, "study:\n  protocol: chain\n", "bad.yaml:6: study.protocol: expected one of scratch");
  bad(dir, "study:\n  targets: [0.5, 1.5]\n",
      "bad.yaml:6: study.targets: expected an ESS fraction in (0, 1], got '1.5'");
  bad(dir, "study:\n  volumes: [8, 7]\n", "bad.yaml:6: study.volumes: 7x7:");
  bad(dir, "study:\n  cases:\n    - {label: a, set: {theory.m2: x}}\n",
      "bad.yaml:7: study.cases: entry 1: theory.m2: expected a number, got 'x'");
  bad(dir, "study:\n  cases:\n    - {set: {seed: 1}}\n", "study.cases: entry 1: needs a label");
  bad(dir, "study:\n  grid: {seed: [1]}\n  x: theory.m2\n",
      "bad.yaml:7: study.x: 'theory.m2' is not a key the study varies");
  bad(dir, "study:\n  name: a\n  name: b\n", "bad.yaml:7: study: duplicate key 'name'");
  bad(dir, "", "not a study card: it has no `study:` section");
}

int main(void) {
  char dir[] = "/tmp/test_study_card.XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "temporary folder %s", dir);
  g_spec = malloc(sizeof *g_spec);
  CHECK(g_spec != NULL, "spec allocated");
  if (!g_spec) return lf_test_result();
  test_good(dir);
  test_bad(dir);
  free(g_spec);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0, "temporary folder removed");
  return lf_test_result();
}
