/* Studies as JSON (latflow/study_run.h): a point's object (its overrides and measurements),
 * the point.json files that hold a finished point's lf_study_result with its evaluation
 * curve (written atomically, read back by --resume and --assemble), and the --json object
 * of the whole study. Local; rank 0 calls these. */
#include "study_impl.h"

#include "driver_impl.h"

#include "latflow/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A value's YAML text as JSON: a number when the whole text is one, else the string. */
static cJSON *value_json(const char *text) {
  char *end = NULL;
  const double x = strtod(text, &end);
  if (end != text && !*end && isfinite(x)) return cJSON_CreateNumber(x);
  return cJSON_CreateString(text);
}

/* -1 (not measured) as null. */
static void add_count(cJSON *o, const char *key, double v) {
  if (v < 0)
    cJSON_AddNullToObject(o, key);
  else
    cJSON_AddNumberToObject(o, key, v);
}

/* The measurements of r into o (without the curve); targets from spec. */
static void result_fields(const lf_study_spec *sp, const lf_study_result *r, cJSON *o) {
  cJSON_AddNumberToObject(o, "ess_eval", r->ess_eval);
  cJSON_AddNumberToObject(o, "ess_err", r->ess_err);
  cJSON_AddNumberToObject(o, "acceptance", r->acceptance);
  add_count(o, "eval_samples", (double)r->eval_samples);
  add_count(o, "steps", (double)r->steps);
  add_count(o, "n_train", (double)r->n_train);
  cJSON_AddNumberToObject(o, "train_seconds", r->train_seconds);
  cJSON_AddNumberToObject(o, "cpu_seconds", r->cpu_seconds);
  add_count(o, "steps_chain", (double)r->steps_chain);
  add_count(o, "n_train_chain", (double)r->n_train_chain);
  cJSON_AddNumberToObject(o, "seconds_chain", r->seconds_chain);
  cJSON_AddNumberToObject(o, "eff_per_second", r->eff_per_second);
  cJSON_AddStringToObject(o, "stop_reason", r->stop_reason);
  if (sp->sample) {
    cJSON_AddNumberToObject(o, "imh_acceptance", r->imh_acceptance);
    cJSON_AddNumberToObject(o, "mass", r->mass);
    cJSON_AddNumberToObject(o, "mass_err", r->mass_err);
    cJSON_AddNumberToObject(o, "eff_s_flow", r->eff_s_flow);
    cJSON_AddNumberToObject(o, "eff_s_flow_with_train", r->eff_s_flow_with_train);
    cJSON_AddNumberToObject(o, "eff_s_hmc", r->eff_s_hmc);
  }
  if (sp->nvolumes > 0) {
    cJSON *vs = cJSON_AddArrayToObject(o, "volumes");
    for (int i = 0; i < sp->nvolumes; i++) {
      const lf_study_volume *v = &r->volumes[i];
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "L0", v->L0);
      cJSON_AddNumberToObject(e, "L1", v->L1);
      cJSON_AddNumberToObject(e, "samples", (double)v->samples);
      cJSON_AddNumberToObject(e, "ess", v->ess);
      cJSON_AddNumberToObject(e, "ess_err", v->ess_err);
      cJSON_AddNumberToObject(e, "acceptance", v->acceptance);
      cJSON_AddNumberToObject(e, "eval_seconds", v->eval_seconds);
      cJSON_AddNumberToObject(e, "mass", v->mass);
      cJSON_AddNumberToObject(e, "mass_err", v->mass_err);
      cJSON_AddItemToArray(vs, e);
    }
    cJSON_AddNumberToObject(o, "law_ess_v0", r->law_ess_v0);
    cJSON_AddNumberToObject(o, "law_ess_v0_err", r->law_ess_v0_err);
    cJSON_AddNumberToObject(o, "law_chi2_dof", r->law_chi2_dof);
    cJSON_AddNumberToObject(o, "law_ess_anchor", r->law_ess_anchor);
  }
  cJSON *t = cJSON_AddArrayToObject(o, "targets");
  for (int j = 0; j < sp->ntargets; j++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "target", sp->targets[j]);
    add_count(e, "steps", (double)r->target_steps[j]);
    add_count(e, "n_train", (double)r->target_n_train[j]);
    cJSON_AddNumberToObject(e, "seconds", r->target_seconds[j]);
    add_count(e, "n_train_chain", (double)r->target_n_train_chain[j]);
    cJSON_AddNumberToObject(e, "seconds_chain", r->target_seconds_chain[j]);
    cJSON_AddItemToArray(t, e);
  }
}

cJSON *lf_study_point_json(const lf_study *st, int k, int with_curve) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  const lf_study_result *r = k < 0 ? &st->root : &st->results[k];
  if (k >= 0) {
    const lf_study_point *pt = &st->points[k];
    cJSON_AddNumberToObject(o, "index", k);
    cJSON_AddStringToObject(o, "label", pt->label);
    cJSON *set = cJSON_AddObjectToObject(o, "set");
    for (int j = 0; j < pt->nset; j++)
      cJSON_AddItemToObject(set, pt->set[j].key, value_json(pt->set[j].value));
    if (pt->parent == LF_STUDY_PARENT_ROOT)
      cJSON_AddStringToObject(o, "parent", "root");
    else if (pt->parent == LF_STUDY_PARENT_NONE)
      cJSON_AddNullToObject(o, "parent");
    else
      cJSON_AddNumberToObject(o, "parent", pt->parent);
    cJSON_AddStringToObject(o, "dir", pt->dir);
  } else {
    cJSON_AddStringToObject(o, "label", "root");
    cJSON *set = cJSON_AddObjectToObject(o, "set");
    for (int j = 0; j < st->spec->nroot; j++)
      cJSON_AddItemToObject(set, st->spec->root[j].key, value_json(st->spec->root[j].value));
    char dir[LF_PATH_MAX];
    if (lf_io_path_join(dir, sizeof dir, st->output, "root") == LF_OK)
      cJSON_AddStringToObject(o, "dir", dir);
  }
  cJSON_AddBoolToObject(o, "done", r->done);
  if (r->done) result_fields(st->spec, r, o);
  if (r->done && with_curve) {
    cJSON *c = cJSON_AddArrayToObject(o, "curve");
    for (size_t i = 0; i < r->ncurve; i++)
      cJSON_AddItemToArray(c, lf_driver_eval_json(&r->curve[i]));
  }
  return o;
}

lf_status lf_study_write_json_file(const char *path, const cJSON *json) {
  char tmp[LF_PATH_MAX + 8];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return LF_FAIL(LF_ERR_INVALID, "path too long: %s", path);
  char *text = cJSON_Print(json);
  if (!text) return LF_FAIL(LF_ERR_NOMEM, "JSON of %s", path);
  FILE *f = fopen(tmp, "w");
  lf_status rc = LF_OK;
  if (!f) {
    rc = LF_FAIL(LF_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  } else {
    const int bad =
        fputs(text, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0 || bad)
      rc = LF_FAIL(LF_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  }
  if (rc == LF_OK && rename(tmp, path) != 0)
    rc = LF_FAIL(LF_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  if (rc != LF_OK) remove(tmp);
  cJSON_free(text);
  return rc;
}

/* o[key] as a number; NaN for null or a missing key. */
static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
/* o[key] as a count; -1 for null or a missing key. */
static int64_t count(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

lf_status lf_study_read_point_json(const char *path, const lf_study_spec *sp, lf_study_result *r) {
  FILE *f = fopen(path, "rb");
  if (!f) return LF_FAIL(LF_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  enum { MAX = 64 << 20 };
  char *text = malloc(MAX + 1);
  size_t n = text ? fread(text, 1, MAX, f) : 0;
  fclose(f);
  if (!text) return LF_FAIL(LF_ERR_NOMEM, "reading %s", path);
  text[n] = '\0';
  cJSON *o = cJSON_Parse(text);
  free(text);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return LF_FAIL(LF_ERR_FORMAT, "'%s' is not a point's JSON object", path);
  }
  free(r->curve);
  r->curve = NULL;
  r->ncurve = 0;
  r->done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "done"));
  r->ess_eval = num(o, "ess_eval");
  r->ess_err = num(o, "ess_err");
  r->acceptance = num(o, "acceptance");
  r->eval_samples = (long)count(o, "eval_samples");
  r->steps = (long)count(o, "steps");
  r->n_train = count(o, "n_train");
  r->train_seconds = num(o, "train_seconds");
  r->cpu_seconds = num(o, "cpu_seconds");
  r->steps_chain = (long)count(o, "steps_chain");
  r->n_train_chain = count(o, "n_train_chain");
  r->seconds_chain = num(o, "seconds_chain");
  r->eff_per_second = num(o, "eff_per_second");
  r->imh_acceptance = num(o, "imh_acceptance");
  r->mass = num(o, "mass");
  r->mass_err = num(o, "mass_err");
  r->eff_s_flow = num(o, "eff_s_flow");
  r->eff_s_flow_with_train = num(o, "eff_s_flow_with_train");
  r->eff_s_hmc = num(o, "eff_s_hmc");
  r->law_ess_anchor = num(o, "law_ess_anchor");
  r->law_ess_v0 = num(o, "law_ess_v0");
  r->law_ess_v0_err = num(o, "law_ess_v0_err");
  r->law_chi2_dof = num(o, "law_chi2_dof");
  const cJSON *vs = cJSON_GetObjectItemCaseSensitive(o, "volumes"), *v;
  int nv = 0;
  cJSON_ArrayForEach(v, vs) {
    if (nv >= sp->nvolumes) break;
    lf_study_volume *x = &r->volumes[nv++];
    x->L0 = (int)count(v, "L0");
    x->L1 = (int)count(v, "L1");
    x->samples = (long)count(v, "samples");
    x->ess = num(v, "ess");
    x->ess_err = num(v, "ess_err");
    x->acceptance = num(v, "acceptance");
    x->eval_seconds = num(v, "eval_seconds");
    x->mass = num(v, "mass");
    x->mass_err = num(v, "mass_err");
  }
  const cJSON *sr = cJSON_GetObjectItemCaseSensitive(o, "stop_reason");
  snprintf(r->stop_reason, sizeof r->stop_reason, "%s", cJSON_IsString(sr) ? sr->valuestring : "");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "targets"), *e;
  int j = 0;
  cJSON_ArrayForEach(e, t) {
    if (j >= sp->ntargets) break;
    r->target_steps[j] = (long)count(e, "steps");
    r->target_n_train[j] = count(e, "n_train");
    r->target_seconds[j] = num(e, "seconds");
    r->target_n_train_chain[j] = count(e, "n_train_chain");
    r->target_seconds_chain[j] = num(e, "seconds_chain");
    j++;
  }
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "curve");
  const int nc = cJSON_GetArraySize(c);
  lf_status rc = LF_OK;
  if (nc > 0 && !(r->curve = calloc((size_t)nc, sizeof *r->curve)))
    rc = LF_FAIL(LF_ERR_NOMEM, "curve of %s", path);
  cJSON_ArrayForEach(e, c) {
    if (rc != LF_OK) break;
    lf_train_eval_record *x = &r->curve[r->ncurve++];
    x->step = count(e, "step");
    x->samples = count(e, "samples");
    x->ess = num(e, "ess");
    x->acceptance = num(e, "acceptance");
    x->loss = num(e, "loss");
    x->log_mean_weight = num(e, "log_mean_weight");
    x->n_train = count(e, "n_train");
    x->seconds = num(e, "seconds");
    x->eval_seconds = num(e, "eval_seconds");
  }
  cJSON_Delete(o);
  if (rc == LF_OK && !r->done) rc = LF_FAIL(LF_ERR_FORMAT, "'%s' is not a finished point", path);
  return rc;
}

void lf_study_to_json(const lf_study *st, const char *table, cJSON *json) {
  cJSON_AddStringToObject(json, "command", "study");
  cJSON_AddStringToObject(json, "name", st->spec->name);
  cJSON_AddStringToObject(json, "output", st->output);
  if (table) cJSON_AddStringToObject(json, "table", table);
  static const char *const proto[] = {"scratch", "root", "sequential"};
  cJSON_AddStringToObject(json, "protocol", proto[st->spec->protocol]);
  cJSON *tg = cJSON_AddArrayToObject(json, "targets");
  for (int j = 0; j < st->spec->ntargets; j++)
    cJSON_AddItemToArray(tg, cJSON_CreateNumber(st->spec->targets[j]));
  if (st->has_root) cJSON_AddItemToObject(json, "root", lf_study_point_json(st, -1, 0));
  cJSON *pts = cJSON_AddArrayToObject(json, "points");
  for (int k = 0; k < st->npoints; k++) cJSON_AddItemToArray(pts, lf_study_point_json(st, k, 0));
}
