/* Studies (latflow/study_run.h): the expansion of a study card into points, each point's
 * config, the --dry-run table. Local; no MPI, no files. */
#include "latflow/io.h"
#include "latflow/study_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A result with nothing measured: not done, -1 counts, NaN values. */
static void result_clear(lf_study_result *r) {
  memset(r, 0, sizeof *r);
  r->steps = r->steps_chain = -1;
  r->n_train = r->n_train_chain = -1;
  r->eval_samples = -1;
  r->train_seconds = r->cpu_seconds = r->seconds_chain = NAN;
  r->ess_eval = r->ess_err = r->acceptance = r->eff_per_second = NAN;
  for (int j = 0; j < LF_STUDY_MAX_TARGETS; j++) {
    r->target_steps[j] = -1;
    r->target_n_train[j] = r->target_n_train_chain[j] = -1;
    r->target_seconds[j] = r->target_seconds_chain[j] = NAN;
  }
  r->law_ess_anchor = r->law_ess_v0 = r->law_ess_v0_err = r->law_chi2_dof = NAN;
  r->imh_acceptance = r->mass = r->mass_err = NAN;
  r->eff_s_flow = r->eff_s_hmc = r->eff_s_flow_with_train = NAN;
}

/* Appends "key=value" to the point's label (", "-joined; cut when too long). */
static void label_add(char *label, const char *what) {
  size_t used = strlen(label);
  const char *sep = used ? ", " : "";
  for (const char *s = sep; *s && used + 1 < LF_STUDY_LABEL_MAX; s++) label[used++] = *s;
  for (const char *s = what; *s && used + 1 < LF_STUDY_LABEL_MAX; s++) label[used++] = *s;
  label[used] = '\0';
}

/* The points of the spec: cases times the grid's product, case-major, first key slowest. */
static lf_status expand(lf_study *st) {
  const lf_study_spec *sp = st->spec;
  int ngrid = 1;
  for (int k = 0; k < sp->nkeys; k++) ngrid *= sp->nvalues[k];
  const int ncases = sp->ncases > 0 ? sp->ncases : 1;
  if ((long)ngrid * ncases > LF_STUDY_MAX_POINTS)
    return lf_fail_msg(LF_ERR_CONFIG, "%s: study: %d points, at most %d", sp->source,
                       ngrid * ncases, LF_STUDY_MAX_POINTS);
  st->npoints = ngrid * ncases;
  st->points = calloc((size_t)st->npoints, sizeof *st->points);
  st->results = calloc((size_t)st->npoints, sizeof *st->results);
  if (!st->points || !st->results) return LF_FAIL(LF_ERR_NOMEM, "study points");
  for (int p = 0; p < st->npoints; p++) {
    lf_study_point *pt = &st->points[p];
    const int ci = p / ngrid;
    pt->index = p;
    if (sp->ncases > 0) {
      const lf_study_case *cs = &sp->cases[ci];
      label_add(pt->label, cs->label);
      for (int j = 0; j < cs->nset; j++) pt->set[pt->nset++] = cs->set[j];
    }
    int rest = p % ngrid, stride = ngrid;
    for (int k = 0; k < sp->nkeys; k++) {
      stride /= sp->nvalues[k];
      const int vi = rest / stride;
      rest %= stride;
      if (pt->nset == LF_STUDY_MAX_SETS)
        return lf_fail_msg(LF_ERR_CONFIG, "%s: study: point %d has more than %d overrides",
                           sp->source, p, LF_STUDY_MAX_SETS);
      lf_study_set *s = &pt->set[pt->nset++];
      snprintf(s->key, sizeof s->key, "%s", sp->keys[k]);
      snprintf(s->value, sizeof s->value, "%s", sp->values[k][vi]);
      char kv[LF_STUDY_KEY_MAX + LF_STUDY_VALUE_MAX + 2];
      snprintf(kv, sizeof kv, "%s=%s", s->key, s->value);
      label_add(pt->label, kv);
    }
    if (!pt->label[0]) snprintf(pt->label, sizeof pt->label, "%s", sp->name);
    if (sp->protocol == LF_STUDY_ROOT)
      pt->parent = LF_STUDY_PARENT_ROOT;
    else if (sp->protocol == LF_STUDY_SEQUENTIAL && p > 0)
      pt->parent = p - 1;
    else if (sp->protocol == LF_STUDY_SEQUENTIAL && sp->has_root)
      pt->parent = LF_STUDY_PARENT_ROOT;
    else
      pt->parent = LF_STUDY_PARENT_NONE;
    char name[32];
    snprintf(name, sizeof name, "points/p%03d", p);
    lf_status rc = lf_io_path_join(pt->dir, sizeof pt->dir, st->output, name);
    if (rc != LF_OK) return rc;
    result_clear(&st->results[p]);
  }
  result_clear(&st->root);
  return LF_OK;
}

/* Applies n overrides to cfg as one --set list; a refusal names what (a point or the root). */
static lf_status apply_sets(lf_config *cfg, int n, const lf_study_set *sets, const char *what) {
  char(*buf)[LF_STUDY_KEY_MAX + LF_STUDY_VALUE_MAX + 2] =
      malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
  const char **list = malloc((size_t)(n > 0 ? n : 1) * sizeof *list);
  lf_status rc = LF_OK;
  if (!buf || !list) rc = LF_FAIL(LF_ERR_NOMEM, "study overrides");
  for (int i = 0; rc == LF_OK && i < n; i++) {
    snprintf(buf[i], sizeof buf[i], "%s=%s", sets[i].key, sets[i].value);
    list[i] = buf[i];
  }
  if (rc == LF_OK && (rc = lf_config_set_list(cfg, n, list)) != LF_OK) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    rc = lf_fail_msg(rc, "study: %s: %s", what, msg);
  }
  free(buf);
  free(list);
  return rc;
}

lf_status lf_study_point_config(const lf_study *st, int k, lf_config *cfg) {
  if (!st || !cfg || k < -1 || k >= st->npoints)
    return LF_FAIL(LF_ERR_INVALID, "lf_study_point_config: bad arguments");
  *cfg = st->base;
  char what[LF_STUDY_LABEL_MAX + 32], dir[LF_PATH_MAX];
  lf_status rc;
  if (k < 0) {
    snprintf(what, sizeof what, "the root");
    rc = apply_sets(cfg, st->spec->nroot, st->spec->root, what);
    if (rc == LF_OK) rc = lf_io_path_join(dir, sizeof dir, st->output, "root");
  } else {
    const lf_study_point *pt = &st->points[k];
    snprintf(what, sizeof what, "point %d [%s]", k, pt->label);
    rc = apply_sets(cfg, pt->nset, pt->set, what);
    snprintf(dir, sizeof dir, "%s", pt->dir);
  }
  if (rc == LF_OK) rc = lf_config_set_output(cfg, dir);
  if (rc == LF_OK && k >= 0 && st->points[k].parent != LF_STUDY_PARENT_NONE) {
    const int par = st->points[k].parent;
    char from[LF_PATH_MAX];
    if (par == LF_STUDY_PARENT_ROOT)
      rc = lf_io_path_join(from, sizeof from, st->output, "root");
    else
      snprintf(from, sizeof from, "%s", st->points[par].dir);
    if (rc == LF_OK)
      rc = lf_io_path_join(cfg->train.init_from, sizeof cfg->train.init_from, from, "model.h5");
  }
  if (rc == LF_OK && (rc = lf_config_validate_flow(cfg)) != LF_OK) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    rc = lf_fail_msg(rc, "study: %s: %s", what, msg);
  }
  return rc;
}

lf_status lf_study_init(lf_study *st, lf_study_spec *spec, const lf_config *base,
                        const char *output) {
  memset(st, 0, sizeof *st);
  st->spec = spec;
  if (!spec || !base) return LF_FAIL(LF_ERR_INVALID, "lf_study_init: NULL argument");
  st->base = *base;
  lf_status rc = LF_OK;
  if (output && output[0])
    snprintf(st->output, sizeof st->output, "%s", output);
  else
    rc = lf_io_path_join(st->output, sizeof st->output, "runs", spec->name);
  if (rc == LF_OK && strlen(st->output) + 32 >= LF_PATH_MAX)
    rc = LF_FAIL(LF_ERR_CONFIG, "--output: '%s' is too long for a study's folders", st->output);
  if (rc == LF_OK) rc = expand(st);
  st->has_root =
      spec->protocol == LF_STUDY_ROOT || (spec->protocol == LF_STUDY_SEQUENTIAL && spec->has_root);
  lf_config cfg;
  if (rc == LF_OK && st->has_root) rc = lf_study_point_config(st, -1, &cfg);
  for (int k = 0; rc == LF_OK && k < st->npoints; k++) rc = lf_study_point_config(st, k, &cfg);
  return rc;
}

/* "root", "-" (scratch) or the parent's index, as text. */
static const char *parent_text(char *buf, size_t n, int parent) {
  if (parent == LF_STUDY_PARENT_ROOT) return "root";
  if (parent == LF_STUDY_PARENT_NONE) return "-";
  snprintf(buf, n, "%d", parent);
  return buf;
}

void lf_study_print_points(const lf_study *st, FILE *out) {
  static const char *const proto[] = {"scratch", "root", "sequential"};
  fprintf(out, "study %s (%s): %d point%s, protocol %s, output %s\n", st->spec->name,
          st->spec->source, st->npoints, st->npoints == 1 ? "" : "s", proto[st->spec->protocol],
          st->output);
  if (st->has_root) {
    char ov[1024] = "";
    for (int j = 0; j < st->spec->nroot; j++)
      snprintf(ov + strlen(ov), sizeof ov - strlen(ov), "%s%s=%s", j ? " " : "",
               st->spec->root[j].key, st->spec->root[j].value);
    fprintf(out, "  root   %-28s %-36s %-6s %s/root\n", "root", ov[0] ? ov : "(the card)", "-",
            st->output);
  }
  fprintf(out, "  %-6s %-28s %-36s %-6s %s\n", "index", "label", "overrides", "parent", "dir");
  for (int k = 0; k < st->npoints; k++) {
    const lf_study_point *pt = &st->points[k];
    char ov[2048] = "", pb[16];
    for (int j = 0; j < pt->nset; j++)
      snprintf(ov + strlen(ov), sizeof ov - strlen(ov), "%s%s=%s", j ? " " : "", pt->set[j].key,
               pt->set[j].value);
    fprintf(out, "  %-6d %-28s %-36s %-6s %s\n", k, pt->label, ov[0] ? ov : "-",
            parent_text(pb, sizeof pb, pt->parent), pt->dir);
  }
}
