/* latflow info: what a latflow file holds, read with the io readers (contract:
 * latflow/info.h). One JSON object is built for every kind; the text form is printed from
 * that object, so the two never disagree. */
#include "latflow/info.h"

#include "driver_impl.h"

#include "latflow/ckpt.h"
#include "latflow/ensemble.h"
#include "latflow/io.h"
#include "latflow/model.h"
#include "latflow/study.h"
#include "latflow/theory.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number, or null when it is not finite (JSON has no NaN). */
static void add_num(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

/* FNV-1a 64 of a text (the stored card's fingerprint). */
static uint64_t fnv1a_text(const char *s) {
  uint64_t h = 14695981039346656037ULL;
  for (; *s; s++) {
    h ^= (uint64_t)(unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

/* Adds key = v as 16 hex digits (model hashes, the card's fingerprint). */
static void add_hex(cJSON *o, const char *key, uint64_t v) {
  char hex[24];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)v);
  cJSON_AddStringToObject(o, key, hex);
}

/* "theory": name, shape and the couplings the action reads (under their names without
 * "theory."). */
static void add_theory(cJSON *json, const lf_config *cfg) {
  cJSON *th = cJSON_AddObjectToObject(json, "theory");
  cJSON_AddStringToObject(th, "name", lf_theory_name(cfg->theory.name));
  cJSON *shape = cJSON_AddArrayToObject(th, "shape");
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(cfg->theory.shape[0]));
  cJSON_AddItemToArray(shape, cJSON_CreateNumber(cfg->theory.shape[1]));
  cJSON *cp = cJSON_AddObjectToObject(th, "couplings");
  const char *key, *text;
  double v;
  for (int i = 0; lf_theory_cfg_coupling(&cfg->theory, i, &key, &v, &text); i++) {
    const char *name = strchr(key, '.') ? strchr(key, '.') + 1 : key;
    if (text)
      cJSON_AddStringToObject(cp, name, text);
    else
      cJSON_AddNumberToObject(cp, name, v);
  }
}

/* "model": the architecture fields of the model file's /model attributes (the table of
 * latflow/model.h, so a new field shows up here too), spline_bins for spline couplings. */
static cJSON *add_arch(cJSON *json, const lf_model *m) {
  cJSON *jm = cJSON_AddObjectToObject(json, "model");
  size_t n = 0;
  const lf_model_arch_field *f = lf_model_arch_fields(&n);
  for (size_t i = 0; i < n; i++, f++) {
    const int spline = !strcmp(f->name, "spline_bins") && m->cfg.coupling == LF_COUPLING_SPLINE;
    if (!(f->uses & LF_ARCH_ATTR) && !spline) continue;
    const char *p = (const char *)m + f->offset;
    if (f->type == LF_ARCH_ENUM) {
      cJSON_AddStringToObject(jm, f->name, lf_model_arch_value_name(f, lf_model_arch_value(m, f)));
    } else if (f->type == LF_ARCH_REAL) {
      double d;
      memcpy(&d, p, sizeof d);
      add_num(jm, f->name, d);
    } else if (f->type == LF_ARCH_INTS) {
      cJSON *a = cJSON_AddArrayToObject(jm, f->name);
      const int *h = (const int *)(const void *)p;
      for (int k = 0; k < m->cfg.nhidden && k < LF_MAX_HIDDEN; k++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(h[k]));
    } else {
      cJSON_AddNumberToObject(jm, f->name, (double)lf_model_arch_value(m, f));
    }
  }
  return jm;
}

/* "model" of the architecture cfg describes on cfg's lattice (the parameter count needs
 * the model built once, batch 1). */
static lf_status add_arch_of_cfg(cJSON *json, const lf_config *cfg, cJSON **jm) {
  lf_model m;
  memset(&m, 0, sizeof m);
  const lf_status rc = lf_model_init(&m, &cfg->model, lf_theory_cfg_comps(&cfg->theory),
                                     cfg->theory.shape[0], cfg->theory.shape[1], 1);
  if (rc != LF_OK) return rc;
  *jm = add_arch(json, &m);
  lf_model_free(&m);
  return LF_OK;
}

/* "training" from the columns of a metrics file: steps, final loss, seconds and the last
 * evaluation on fresh samples (null when there is none). */
static void add_training(cJSON *json, const lf_train_series *s, const char *source) {
  cJSON *t = cJSON_AddObjectToObject(json, "training");
  if (source) cJSON_AddStringToObject(t, "source", source);
  cJSON_AddNumberToObject(t, "records", (double)s->n);
  size_t skipped = 0;
  for (size_t i = 0; i < s->n; i++) skipped += s->skipped[i] != 0;
  if (s->n > 0) {
    cJSON_AddNumberToObject(t, "steps", (double)(s->step[s->n - 1] + 1));
    add_num(t, "final_loss", s->loss[s->n - 1]);
    add_num(t, "final_ess_batch", s->ess_smoothed[s->n - 1]);
    add_num(t, "train_seconds", s->seconds[s->n - 1]);
  } else {
    cJSON_AddNumberToObject(t, "steps", 0);
  }
  cJSON_AddNumberToObject(t, "skipped", (double)skipped);
  cJSON_AddNumberToObject(t, "evaluations", (double)s->neval);
  if (s->neval == 0) {
    cJSON_AddNullToObject(t, "last_eval");
    return;
  }
  const lf_train_eval_record *e = &s->evals[s->neval - 1];
  cJSON *le = cJSON_AddObjectToObject(t, "last_eval");
  cJSON_AddNumberToObject(le, "step", (double)e->step);
  cJSON_AddNumberToObject(le, "samples", (double)e->samples);
  add_num(le, "ess", e->ess);
  add_num(le, "acceptance", e->acceptance);
  add_num(le, "loss", e->loss);
  cJSON_AddNumberToObject(le, "n_train", (double)e->n_train);
}

/* "chains" from totals; acceptance is null without steps. */
static cJSON *add_chains(cJSON *json, int chains, int64_t rows, int64_t steps, int64_t accepted) {
  cJSON *c = cJSON_AddObjectToObject(json, "chains");
  cJSON_AddNumberToObject(c, "chains", chains);
  cJSON_AddNumberToObject(c, "rows", (double)rows);
  cJSON_AddNumberToObject(c, "steps", (double)steps);
  cJSON_AddNumberToObject(c, "accepted", (double)accepted);
  add_num(c, "acceptance", steps > 0 ? (double)accepted / (double)steps : NAN);
  return c;
}

/* "provenance" from the common header. */
static void add_provenance(cJSON *json, const lf_io_header *h) {
  cJSON *p = cJSON_AddObjectToObject(json, "provenance");
  cJSON_AddStringToObject(p, "latflow_version", h->latflow_version);
  cJSON_AddStringToObject(p, "git_rev", h->git_rev);
  if (h->git_dirty >= 0)
    cJSON_AddBoolToObject(p, "git_dirty", h->git_dirty);
  else
    cJSON_AddNullToObject(p, "git_dirty");
  cJSON_AddStringToObject(p, "compiler", h->compiler);
  cJSON_AddStringToObject(p, "build_type", h->build_type);
  cJSON_AddStringToObject(p, "created_utc", h->created_utc);
  if (h->has_seed)
    cJSON_AddNumberToObject(p, "seed", (double)h->seed);
  else
    cJSON_AddNullToObject(p, "seed");
  if (h->ranks >= 0)
    cJSON_AddNumberToObject(p, "ranks", h->ranks);
  else
    cJSON_AddNullToObject(p, "ranks");
  if (!h->config_yaml) {
    cJSON_AddNullToObject(p, "config_fnv1a64");
    cJSON_AddNullToObject(p, "config_yaml");
    return;
  }
  add_hex(p, "config_fnv1a64", fnv1a_text(h->config_yaml));
  cJSON_AddStringToObject(p, "config_yaml", h->config_yaml);
}

/* The train.h5 of the same run beside a model file (same seed and theory), or NULL. */
static int sibling_train(const char *model_path, const lf_config *mcfg, lf_train_series *s,
                         char *out, size_t n) {
  const char *slash = strrchr(model_path, '/');
  const int dlen = slash ? (int)(slash - model_path) : 1;
  snprintf(out, n, "%.*s/train.h5", dlen, slash ? model_path : ".");
  if (!lf_io_exists(out)) return 0;
  lf_config tcfg;
  if (lf_io_metrics_read(out, s, &tcfg) != LF_OK) return 0; /* a damaged sibling: no summary */
  if (tcfg.seed == mcfg->seed && tcfg.theory.name == mcfg->theory.name &&
      tcfg.theory.shape[0] == mcfg->theory.shape[0] &&
      tcfg.theory.shape[1] == mcfg->theory.shape[1])
    return 1;
  lf_io_series_free(s);
  return 0;
}

/* model.h5: theory, architecture (loaded and hash-checked), training. */
static lf_status info_model(const char *path, cJSON *json) {
  lf_config cfg;
  lf_model m;
  lf_status rc = lf_io_model_load(path, &cfg, &m, 1);
  if (rc != LF_OK) return rc;
  add_theory(json, &cfg);
  cJSON *jm = add_arch(json, &m);
  add_hex(jm, "hash", lf_model_hash(&m));
  cJSON_AddNumberToObject(jm, "optimizer_step", (double)m.step);
  add_num(jm, "train_seconds", m.train_seconds);
  /* the training cost: this model's own run and its transfer chain (train.init_from) */
  lf_driver_model_cost(&cfg, &m);
  cJSON *jc = cJSON_AddObjectToObject(json, "cost");
  cJSON_AddNumberToObject(jc, "steps", (double)m.train_steps);
  cJSON_AddNumberToObject(jc, "n_train", (double)m.n_train);
  add_num(jc, "seconds", m.train_seconds);
  cJSON *jch = cJSON_AddObjectToObject(json, "chain");
  cJSON_AddNumberToObject(jch, "steps", (double)m.chain_steps);
  cJSON_AddNumberToObject(jch, "n_train", (double)m.chain_n_train);
  add_num(jch, "seconds", m.chain_seconds);
  lf_train_series s;
  char tpath[LF_PATH_MAX + 16];
  memset(&s, 0, sizeof s);
  if (sibling_train(path, &cfg, &s, tpath, sizeof tpath)) {
    add_training(json, &s, tpath);
    lf_io_series_free(&s);
  } else {
    cJSON *t = cJSON_AddObjectToObject(json, "training");
    cJSON_AddNumberToObject(t, "steps", (double)m.step);
    add_num(t, "train_seconds", m.train_seconds);
  }
  lf_model_free(&m);
  return LF_OK;
}

/* train.h5: theory, architecture of the card, the training summary. */
static lf_status info_train(const char *path, cJSON *json) {
  lf_config cfg;
  lf_train_series s;
  lf_status rc = lf_io_metrics_read(path, &s, &cfg);
  if (rc != LF_OK) return rc;
  add_theory(json, &cfg);
  cJSON *jm = NULL;
  rc = add_arch_of_cfg(json, &cfg, &jm);
  if (rc == LF_OK) add_training(json, &s, NULL);
  lf_io_series_free(&s);
  return rc;
}

/* ensemble.h5 / hmc.h5 / a merged file: kind, theory, the flow's model, chain counts. */
static lf_status info_ensemble(const char *path, const lf_io_header *h, cJSON *json) {
  lf_ensemble e;
  lf_status rc = lf_ens_read(path, &e);
  if (rc != LF_OK) return rc;
  cJSON_AddStringToObject(json, "ensemble_kind",
                          e.info.kind == LF_ENS_HMC        ? "hmc"
                          : e.info.kind == LF_ENS_REWEIGHT ? "reweight"
                                                           : "imh");
  add_theory(json, &e.cfg);
  if (e.info.kind != LF_ENS_HMC) {
    cJSON *jm = NULL;
    rc = add_arch_of_cfg(json, &e.cfg, &jm);
    if (rc != LF_OK) goto done;
    cJSON_AddStringToObject(jm, "hash", e.info.model_hash);
    cJSON_AddStringToObject(jm, "path", e.info.model_path);
    add_num(jm, "train_seconds", e.info.train_seconds);
    if (e.info.model_L0 > 0) { /* volume transfer: the lattice the model was trained on */
      cJSON *ms = cJSON_AddArrayToObject(jm, "model_shape");
      cJSON_AddItemToArray(ms, cJSON_CreateNumber(e.info.model_L0));
      cJSON_AddItemToArray(ms, cJSON_CreateNumber(e.info.model_L1));
    }
  }
  int64_t rows = 0, steps = 0, acc = 0;
  cJSON *per = cJSON_CreateArray();
  for (int r = 0; r < e.R; r++) {
    int64_t a = 0;
    for (size_t i = 0; i < e.steps[r]; i++) a += e.chain[r][i].accepted != 0;
    rows += (int64_t)e.rows[r];
    steps += (int64_t)e.steps[r];
    acc += a;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "rows", (double)e.rows[r]);
    cJSON_AddNumberToObject(c, "steps", (double)e.steps[r]);
    cJSON_AddNumberToObject(c, "accepted", (double)a);
    if (r < h->nsources && h->sources[r].path[0]) {
      cJSON_AddStringToObject(c, "source_path", h->sources[r].path);
      cJSON_AddNumberToObject(c, "source_chain", h->sources[r].chain);
    }
    cJSON_AddItemToArray(per, c);
  }
  cJSON *c = add_chains(json, e.R, rows, steps, acc);
  cJSON_AddBoolToObject(c, "merged", h->nsources > 0);
  cJSON_AddBoolToObject(c, "save_configs", e.info.save_configs);
  cJSON *names = cJSON_AddArrayToObject(c, "observables");
  for (int k = 0; k < e.info.nobs; k++)
    cJSON_AddItemToArray(names, cJSON_CreateString(e.info.obs_names[k]));
  cJSON_AddNumberToObject(c, "ncorr", e.info.ncorr);
  add_num(c, "gen_seconds", e.info.gen_seconds);
  cJSON_AddItemToObject(c, "per_chain", per);
done:
  lf_ens_free(&e);
  return rc;
}

/* "model" of a checkpoint: the architecture of its config and the hash it stores (the
 * bits of the u64 in an i64 attribute). */
static lf_status add_ckpt_model(cJSON *json, const lf_config *cfg, int64_t hash) {
  cJSON *jm = NULL;
  const lf_status rc = add_arch_of_cfg(json, cfg, &jm);
  if (rc == LF_OK) add_hex(jm, "hash", (uint64_t)hash);
  return rc;
}

/* A train checkpoint: the model it holds and how far training got. */
static lf_status ckpt_train(lf_ckpt *c, const lf_config *cfg, cJSON *json) {
  int64_t next = 0, hash = 0, records = 0, evals = 0;
  double seconds = NAN;
  lf_status rc = lf_ckpt_get_i64(c, "next_step", &next);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "model_hash", &hash);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "records", &records);
  if (rc == LF_OK) rc = lf_ckpt_get_f64(c, "train_seconds", &seconds);
  if (rc == LF_OK && lf_ckpt_get_i64(c, "evals", &evals) != LF_OK) evals = 0; /* version <= 2 */
  if (rc == LF_OK) rc = add_ckpt_model(json, cfg, hash);
  if (rc != LF_OK) return rc;
  cJSON *t = cJSON_AddObjectToObject(json, "training");
  cJSON_AddNumberToObject(t, "steps", (double)next);
  cJSON_AddNumberToObject(t, "records", (double)records);
  cJSON_AddNumberToObject(t, "evaluations", (double)evals);
  add_num(t, "train_seconds", seconds);
  return LF_OK;
}

/* A sample checkpoint: the chain so far. */
static lf_status ckpt_sample(lf_ckpt *c, const lf_config *cfg, cJSON *json) {
  int64_t rows = 0, steps = 0, acc = 0, next = 0, hash = 0;
  double seconds = NAN;
  lf_status rc = lf_ckpt_get_i64(c, "rows", &rows);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "steps", &steps);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "imh_accepted", &acc);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "next_block", &next);
  if (rc == LF_OK) rc = lf_ckpt_get_i64(c, "model_hash", &hash);
  if (rc == LF_OK) rc = lf_ckpt_get_f64(c, "gen_seconds", &seconds);
  if (rc == LF_OK) rc = add_ckpt_model(json, cfg, hash);
  if (rc != LF_OK) return rc;
  if (cfg->sample.mode == LF_SAMPLE_REWEIGHT) acc = steps; /* every proposal is kept */
  cJSON_AddStringToObject(json, "sample_mode",
                          cfg->sample.mode == LF_SAMPLE_REWEIGHT ? "reweight" : "imh");
  cJSON *ch = add_chains(json, 1, rows, steps, acc);
  cJSON_AddNumberToObject(ch, "proposals", (double)next * (double)cfg->sample.block);
  add_num(ch, "gen_seconds", seconds);
  return LF_OK;
}

/* An hmc checkpoint: the P chains so far (production trajectories). */
static lf_status ckpt_hmc(lf_ckpt *c, cJSON *json) {
  int64_t P = 0;
  lf_status rc = lf_ckpt_get_i64(c, "chains", &P);
  if (rc != LF_OK) return rc;
  if (P < 1 || P > 1000000)
    return LF_FAIL(LF_ERR_FORMAT, "'%s': attribute chains = %lld is not in [1, 1000000]",
                   lf_ckpt_path(c), (long long)P);
  int64_t *col = malloc(3 * (size_t)P * sizeof *col);
  double *sec = malloc((size_t)P * sizeof *sec);
  if (!col || !sec) {
    free(col);
    free(sec);
    return LF_FAIL(LF_ERR_NOMEM, "hmc checkpoint columns of %lld chains", (long long)P);
  }
  rc = lf_ckpt_get(c, "ens_rows", LF_H5_I64, (size_t)P, col);
  if (rc == LF_OK) rc = lf_ckpt_get(c, "ens_steps", LF_H5_I64, (size_t)P, col + P);
  if (rc == LF_OK) rc = lf_ckpt_get(c, "accepted", LF_H5_I64, (size_t)P, col + 2 * P);
  if (rc == LF_OK) rc = lf_ckpt_get(c, "gen_seconds", LF_H5_F64, (size_t)P, sec);
  if (rc == LF_OK) {
    int64_t rows = 0, steps = 0, acc = 0;
    double seconds = 0.0;
    for (int64_t r = 0; r < P; r++) {
      rows += col[r];
      steps += col[P + r];
      acc += col[2 * P + r];
      seconds += sec[r];
    }
    cJSON *ch = add_chains(json, (int)P, rows, steps, acc);
    add_num(ch, "gen_seconds", seconds);
  }
  free(col);
  free(sec);
  return rc;
}

/* A checkpoint of train, sample or hmc (the `what` of its header). */
static lf_status info_ckpt(const char *path, const lf_io_header *h, cJSON *json) {
  lf_ckpt *c = NULL;
  lf_config cfg;
  cJSON_AddStringToObject(json, "checkpoint_of", h->what);
  lf_status rc = lf_ckpt_open(&c, path, h->what, &cfg);
  if (rc != LF_OK) return rc;
  if (strcmp(lf_ckpt_path(c), path) != 0) cJSON_AddStringToObject(json, "read", lf_ckpt_path(c));
  add_theory(json, &cfg);
  if (!strcmp(h->what, "train"))
    rc = ckpt_train(c, &cfg, json);
  else if (!strcmp(h->what, "sample"))
    rc = ckpt_sample(c, &cfg, json);
  else
    rc = ckpt_hmc(c, json);
  lf_ckpt_close(c);
  return rc;
}

/* A study file: the base card's theory and the study's shape (points done of all). */
static lf_status info_study(const char *path, cJSON *json) {
  static const char *const protocols[] = {"scratch", "root", "sequential"};
  lf_study st;
  lf_status rc = lf_io_study_read(path, &st);
  if (rc != LF_OK) return rc;
  add_theory(json, &st.base);
  const lf_study_spec *sp = st.spec;
  cJSON *o = cJSON_AddObjectToObject(json, "study");
  cJSON_AddStringToObject(o, "name", sp->name);
  cJSON_AddStringToObject(o, "protocol", protocols[sp->protocol]);
  int done = 0;
  for (int k = 0; k < st.npoints; k++) done += st.results[k].done != 0;
  cJSON_AddNumberToObject(o, "points", st.npoints);
  cJSON_AddNumberToObject(o, "done", done);
  cJSON *keys = cJSON_AddArrayToObject(o, "grid");
  for (int k = 0; k < sp->nkeys; k++) cJSON_AddItemToArray(keys, cJSON_CreateString(sp->keys[k]));
  cJSON_AddNumberToObject(o, "cases", sp->ncases);
  cJSON_AddStringToObject(o, "x", sp->x[0] ? sp->x : sp->nkeys ? sp->keys[0] : "");
  cJSON_AddItemToObject(o, "targets", cJSON_CreateDoubleArray(sp->targets, sp->ntargets));
  cJSON_AddNumberToObject(o, "volumes", sp->nvolumes);
  cJSON_AddBoolToObject(o, "root", st.has_root);
  cJSON_AddStringToObject(o, "output", st.output);
  lf_study_free(&st);
  return LF_OK;
}

lf_status lf_info_read(const char *path, cJSON *json) {
  lf_status rc = lf_io_input_check(path, "info");
  if (rc != LF_OK) return rc;
  lf_io_header h;
  rc = lf_io_header_read(path, &h);
  if (rc != LF_OK) {
    if (!h.foreign) return rc;
    /* the reader's sentence names the file and what it is not: a bad input (exit 2) */
    char msg[1400];
    snprintf(msg, sizeof msg, "%s", lf_last_error());
    return lf_fail_msg(LF_ERR_USAGE,
                       "%s; latflow info reads the files latflow writes (model.h5, "
                       "train.h5, ensemble.h5, hmc.h5, merged ensembles, checkpoints; a run "
                       "card is checked with `latflow check CARD`)",
                       msg);
  }
  cJSON_AddStringToObject(json, "file", path);
  cJSON_AddStringToObject(json, "kind", h.kind);
  cJSON_AddNumberToObject(json, "format_version", h.format_version);
  if (!strcmp(h.kind, "model"))
    rc = info_model(path, json);
  else if (!strcmp(h.kind, "train"))
    rc = info_train(path, json);
  else if (!strcmp(h.kind, "ensemble"))
    rc = info_ensemble(path, &h, json);
  else if (!strcmp(h.kind, "checkpoint"))
    rc = info_ckpt(path, &h, json);
  else if (!strcmp(h.kind, "study"))
    rc = info_study(path, json);
  else
    rc = LF_FAIL(LF_ERR_FORMAT,
                 "'%s' is a latflow file of kind '%s', which this latflow %s does not know "
                 "(written by a newer latflow?)",
                 path, h.kind, h.latflow_version);
  if (rc == LF_OK) add_provenance(json, &h);
  lf_io_header_free(&h);
  return rc;
}

/* ---- the text form ------------------------------------------------------------------- */

/* The number under key in o; NaN when absent or null. */
static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The string under key in o; "" when absent. */
static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* "phi4 on 8x8, m2 = -4, lambda = 8" */
static void print_theory(FILE *f, const cJSON *th) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(th, "shape");
  fprintf(f, "  %-11s %s on %gx%g", "theory", str(th, "name"),
          cJSON_GetArrayItem(shape, 0) ? cJSON_GetArrayItem(shape, 0)->valuedouble : NAN,
          cJSON_GetArrayItem(shape, 1) ? cJSON_GetArrayItem(shape, 1)->valuedouble : NAN);
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(th, "couplings")) {
    if (cJSON_IsNumber(c))
      fprintf(f, ", %s = %.17g", c->string, c->valuedouble);
    else if (cJSON_IsString(c))
      fprintf(f, ", %s = %s", c->string, c->valuestring);
  }
  fputc('\n', f);
}

/* "affine, 16 layers, hidden [8, 8], kernel 3, leaky_relu, normal base, single, 5072
 * parameters" and the hash, path and steps where known. */
static void print_model(FILE *f, const cJSON *m) {
  fprintf(f, "  %-11s %s", "model", str(m, "coupling"));
  if (isfinite(num(m, "spline_bins"))) fprintf(f, " (%g bins)", num(m, "spline_bins"));
  fprintf(f, ", %g layers, hidden [", num(m, "layers"));
  const cJSON *h;
  int first = 1;
  cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(m, "hidden")) {
    fprintf(f, "%s%g", first ? "" : ", ", h->valuedouble);
    first = 0;
  }
  fprintf(f, "], kernel %g, %s, %s base", num(m, "kernel"), str(m, "activation"), str(m, "base"));
  if (!strcmp(str(m, "base"), "plaquette") && isfinite(num(m, "base_beta")))
    fprintf(f, " (started at base_beta %g)", num(m, "base_beta"));
  fprintf(f, ", %s precision, %.0f parameters\n", str(m, "precision"), num(m, "nparams"));
  if (*str(m, "hash") || *str(m, "path"))
    fprintf(f, "  %-11s hash %s%s%s\n", "", *str(m, "hash") ? str(m, "hash") : "-",
            *str(m, "path") ? ", file " : "", str(m, "path"));
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(m, "model_shape");
  if (cJSON_GetArraySize(ms) == 2)
    fprintf(f, "  %-11s trained on %gx%g (volume transfer)\n", "",
            cJSON_GetArrayItem(ms, 0)->valuedouble, cJSON_GetArrayItem(ms, 1)->valuedouble);
  if (isfinite(num(m, "optimizer_step")))
    fprintf(f, "  %-11s %.0f optimizer steps, %.1f s of training\n", "", num(m, "optimizer_step"),
            num(m, "train_seconds"));
}

/* "200 steps, final loss ..., 12.3 s" and the last evaluation on fresh samples. */
static void print_training(FILE *f, const cJSON *t) {
  fprintf(f, "  %-11s %.0f steps", "training", num(t, "steps"));
  if (isfinite(num(t, "final_loss"))) fprintf(f, ", final loss %.6g", num(t, "final_loss"));
  if (isfinite(num(t, "train_seconds"))) fprintf(f, ", %.1f s", num(t, "train_seconds"));
  if (isfinite(num(t, "skipped")) && num(t, "skipped") > 0)
    fprintf(f, ", %.0f steps skipped", num(t, "skipped"));
  if (*str(t, "source")) fprintf(f, " (%s)", str(t, "source"));
  fputc('\n', f);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(t, "last_eval");
  if (cJSON_IsObject(e))
    fprintf(f,
            "  %-11s last evaluation at step %.0f on %.0f fresh samples: ESS %.4g, "
            "acceptance %.4g\n",
            "", num(e, "step"), num(e, "samples"), num(e, "ess"), num(e, "acceptance"));
  else if (cJSON_IsNull(e))
    fprintf(f, "  %-11s no evaluation on fresh samples (train.eval_samples: 0)\n", "");
}

/* The counts, the observables and, for a merged file, where each chain came from. */
static void print_chains(FILE *f, const cJSON *c) {
  fprintf(f, "  %-11s %.0f chain(s)%s, %.0f steps, %.0f stored states, %.0f accepted", "chains",
          num(c, "chains"),
          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "merged")) ? " (merged)" : "",
          num(c, "steps"), num(c, "rows"), num(c, "accepted"));
  if (isfinite(num(c, "acceptance"))) fprintf(f, " (acceptance %.4f)", num(c, "acceptance"));
  if (isfinite(num(c, "gen_seconds"))) fprintf(f, ", generation %.1f s", num(c, "gen_seconds"));
  fputc('\n', f);
  const cJSON *obs = cJSON_GetObjectItemCaseSensitive(c, "observables");
  if (cJSON_IsArray(obs)) {
    fprintf(f, "  %-11s", "observables");
    const cJSON *o;
    cJSON_ArrayForEach(o, obs) fprintf(f, " %s", o->valuestring);
    fprintf(f, "; configurations %s\n",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "save_configs")) ? "saved"
                                                                              : "not saved");
  }
  const cJSON *ch;
  int r = 0;
  cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(c, "per_chain")) {
    if (*str(ch, "source_path"))
      fprintf(f, "  %-11s chain %d: %.0f steps, from chain %.0f of %s\n", "", r, num(ch, "steps"),
              num(ch, "source_chain"), str(ch, "source_path"));
    r++;
  }
}

/* "fig3, protocol root, 6 points (5 done), grid theory.lambda, ..." */
static void print_study(FILE *f, const cJSON *o) {
  fprintf(f, "  %-11s %s, protocol %s, %.0f points (%.0f done)", "study", str(o, "name"),
          str(o, "protocol"), num(o, "points"), num(o, "done"));
  const cJSON *v;
  int first = 1;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "grid")) {
    fprintf(f, "%s%s", first ? ", grid " : " x ", v->valuestring);
    first = 0;
  }
  if (num(o, "cases") > 0) fprintf(f, ", %.0f cases", num(o, "cases"));
  first = 1;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "targets")) {
    fprintf(f, "%s%g", first ? ", targets " : " ", v->valuedouble);
    first = 0;
  }
  if (num(o, "volumes") > 0) fprintf(f, ", %.0f volumes", num(o, "volumes"));
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "root"))) fputs(", a root model", f);
  fputc('\n', f);
}

void lf_info_print(FILE *f, const cJSON *json) {
  const char *kind = str(json, "kind");
  fprintf(f, "%s: latflow %s file, format version %.0f", str(json, "file"), kind,
          num(json, "format_version"));
  if (*str(json, "ensemble_kind")) fprintf(f, ", %s ensemble", str(json, "ensemble_kind"));
  if (*str(json, "checkpoint_of")) fprintf(f, " of `latflow %s`", str(json, "checkpoint_of"));
  if (*str(json, "sample_mode")) fprintf(f, " (%s)", str(json, "sample_mode"));
  if (*str(json, "read")) fprintf(f, " (read from %s)", str(json, "read"));
  fputc('\n', f);
  const cJSON *o;
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "theory"))) print_theory(f, o);
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "model"))) print_model(f, o);
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "training"))) print_training(f, o);
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "chains"))) print_chains(f, o);
  const cJSON *own = cJSON_GetObjectItemCaseSensitive(json, "cost");
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "chain")) && own)
    fprintf(f,
            "  %-11s own %.0f steps, %.0f samples flowed, %.1f s; chain (with its "
            "train.init_from ancestors) %.0f steps, %.0f samples, %.1f s\n",
            "cost", num(own, "steps"), num(own, "n_train"), num(own, "seconds"), num(o, "steps"),
            num(o, "n_train"), num(o, "seconds"));
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "study"))) print_study(f, o);
  if ((o = cJSON_GetObjectItemCaseSensitive(json, "provenance"))) {
    const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(o, "git_dirty");
    fprintf(f, "  %-11s latflow %s (git %s%s), %s %s, created %s, seed %.0f, %.0f rank(s)\n",
            "written by", str(o, "latflow_version"), str(o, "git_rev"),
            cJSON_IsTrue(dirty) ? ", dirty" : "", str(o, "compiler"), str(o, "build_type"),
            str(o, "created_utc"), num(o, "seed"), num(o, "ranks"));
    if (*str(o, "config_fnv1a64")) {
      int lines = 0;
      for (const char *s = str(o, "config_yaml"); *s; s++) lines += *s == '\n';
      fprintf(f,
              "  %-11s %d lines of YAML, FNV-1a 64 %s (the text: latflow info --json, or "
              "h5dump -a /meta/config_yaml FILE)\n",
              "card", lines, str(o, "config_fnv1a64"));
    }
  }
}
