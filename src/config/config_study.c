/* Study cards (latflow/study.h, docs/CONFIG.md "study"): the `study:` section of a run card
 * -> lf_study_spec. The run card itself is read by lf_config_load (which skips `study:`);
 * this file loads the same text with libyaml's document API and walks the section. Every
 * message names the card, the line and the dotted key ("fig3.yaml:12: study.grid.theory.
 * lambda: entry 2: ..."), unknown keys get a suggestion. Grid, case and root values are
 * kept as YAML flow text (what --set takes: scalars as written, [16, 16], {name: sgd}) and
 * each is checked by applying it to a copy of the card with lf_config_set_list. */
#include "config_int.h"

#include "latflow/study.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The walk's state: the card's name for messages, its document, the card's config (the
 * values are checked against it) and the spec being filled. */
typedef struct sctx {
  const char *src;
  yaml_document_t *doc;
  const lf_config *card;
  lf_study_spec *spec;
} sctx;

static const char *const study_keys[] = {"name",
                                         "protocol",
                                         "grid",
                                         "cases",
                                         "root",
                                         "targets",
                                         "x",
                                         "sample",
                                         "volumes",
                                         "volume_samples",
                                         "volume_proposals",
                                         NULL};
static const char *const protocol_names[] = {"scratch", "root", "sequential", NULL};

static loc at(const sctx *c, const yaml_node_t *n) {
  return (loc){c->src, (int)n->start_mark.line + 1};
}
static const char *text(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = text(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}
static const yaml_node_t *node(const sctx *c, int id) {
  return yaml_document_get_node(c->doc, id);
}
/* "a mapping", "a list", "'text'", "nothing" for messages. */
static const char *describe(char *buf, size_t n, const yaml_node_t *v) {
  if (v->type == YAML_MAPPING_NODE) return "a mapping";
  if (v->type == YAML_SEQUENCE_NODE) return "a list";
  if (is_null(v)) return "nothing";
  return lf_cfg_quoted(buf, n, text(v));
}
static lf_status expect(const sctx *c, const yaml_node_t *v, yaml_node_type_t type, const char *key,
                        const char *what) {
  char q[96];
  if (v->type == type && !is_null(v)) return LF_OK;
  return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), key, "expected %s, got %s", what,
                        describe(q, sizeof q, v));
}

/* ---- values as YAML flow text ----------------------------------------------------------- */

/* Appends s to buf (size n, *used bytes used); 0 when it does not fit. */
static int put(char *buf, size_t n, size_t *used, const char *s) {
  const size_t len = strlen(s);
  if (*used + len + 1 > n) return 0;
  memcpy(buf + *used, s, len + 1);
  *used += len;
  return 1;
}

/* Writes node v as flow text: plain scalars as written, other scalars double-quoted (\" \\
 * \n escaped), lists as [a, b], mappings as {k: v}. 0 when it does not fit n bytes. */
static int render(const sctx *c, const yaml_node_t *v, char *buf, size_t n, size_t *used) {
  if (v->type == YAML_SCALAR_NODE) {
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return put(buf, n, used, text(v));
    if (!put(buf, n, used, "\"")) return 0;
    for (const char *s = text(v); *s; s++) {
      const char e[3] = {'\\', *s == '\n' ? 'n' : *s, '\0'}, one[2] = {*s, '\0'};
      if (!put(buf, n, used, (*s == '"' || *s == '\\' || *s == '\n') ? e : one)) return 0;
    }
    return put(buf, n, used, "\"");
  }
  if (v->type == YAML_SEQUENCE_NODE) {
    if (!put(buf, n, used, "[")) return 0;
    for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++)
      if ((it > v->data.sequence.items.start && !put(buf, n, used, ", ")) ||
          !render(c, node(c, *it), buf, n, used))
        return 0;
    return put(buf, n, used, "]");
  }
  if (!put(buf, n, used, "{")) return 0;
  for (const yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++)
    if ((p > v->data.mapping.pairs.start && !put(buf, n, used, ", ")) ||
        !render(c, node(c, p->key), buf, n, used) || !put(buf, n, used, ": ") ||
        !render(c, node(c, p->value), buf, n, used))
      return 0;
  return put(buf, n, used, "}");
}

/* Checks that config key `key` (named `name` in messages) may be overridden by a study and
 * that value v is accepted by lf_config_set on the card; stores it in *set. */
static lf_status read_set(const sctx *c, const yaml_node_t *kn, const yaml_node_t *v,
                          const char *name, lf_study_set *set) {
  char q[96];
  if (kn->type != YAML_SCALAR_NODE || is_null(kn))
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), name, "keys must be config keys, got %s",
                          describe(q, sizeof q, kn));
  const char *key = text(kn);
  if (lf_cfg_key_index(key) < 0) return lf_cfg_unknown_key(at(c, kn), key);
  if (!strcmp(key, "output"))
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), name,
                          "'output' cannot be varied: every point runs in <study output>/points/"
                          "pNNN (set the study's folder with --output)");
  if (!strcmp(key, "train.init_from") && c->spec->protocol != LF_STUDY_SCRATCH)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), name,
                          "'train.init_from' is set by the protocol (%s); use protocol scratch to "
                          "set it",
                          protocol_names[c->spec->protocol]);
  if (strlen(key) >= LF_STUDY_KEY_MAX)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), name, "key too long");
  snprintf(set->key, sizeof set->key, "%s", key);
  size_t used = 0;
  set->value[0] = '\0';
  if (!render(c, v, set->value, sizeof set->value, &used))
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), name, "%s: value longer than %d bytes", key,
                          LF_STUDY_VALUE_MAX - 1);
  char assign[LF_STUDY_KEY_MAX + LF_STUDY_VALUE_MAX + 2];
  snprintf(assign, sizeof assign, "%s=%s", set->key, set->value);
  lf_config work = *c->card;
  const char *a = assign;
  if (lf_config_set_list(&work, 1, &a) != LF_OK) {
    char msg[MSG_BUF];
    const char *e = lf_last_error();
    snprintf(msg, sizeof msg, "%s", strncmp(e, "--set: ", 7) ? e : e + 7);
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), name, "%s", msg);
  }
  return LF_OK;
}

/* A mapping of config key -> value (a case's `set`, `root`) into sets[*n]. */
static lf_status read_set_map(const sctx *c, const yaml_node_t *v, const char *name,
                              lf_study_set *sets, int *n) {
  lf_status rc = LF_OK;
  *n = 0;
  if (v->type == YAML_SCALAR_NODE && is_null(v)) return LF_OK;
  if ((rc = expect(c, v, YAML_MAPPING_NODE, name, "a mapping of config keys to values"))) return rc;
  for (const yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
       p++) {
    if (*n == LF_STUDY_MAX_SETS)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, node(c, p->key)), name, "more than %d keys",
                            LF_STUDY_MAX_SETS);
    if ((rc = read_set(c, node(c, p->key), node(c, p->value), name, &sets[*n]))) return rc;
    for (int j = 0; j < *n; j++)
      if (!strcmp(sets[j].key, sets[*n].key))
        return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, node(c, p->key)), name, "duplicate key '%s'",
                              sets[j].key);
    (*n)++;
  }
  return LF_OK;
}

/* ---- the keys of `study:` ------------------------------------------------------------- */

static lf_status read_grid(const sctx *c, const yaml_node_t *v) {
  lf_study_spec *sp = c->spec;
  lf_status rc = expect(c, v, YAML_MAPPING_NODE, "study.grid", "a mapping of config keys to lists");
  if (rc) return rc;
  for (const yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *kn = node(c, p->key), *ln = node(c, p->value);
    char name[LF_STUDY_KEY_MAX + 16];
    snprintf(name, sizeof name, "study.grid.%s", kn->type == YAML_SCALAR_NODE ? text(kn) : "?");
    if (sp->nkeys == LF_STUDY_MAX_KEYS)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), "study.grid", "more than %d keys",
                            LF_STUDY_MAX_KEYS);
    if ((rc = expect(c, ln, YAML_SEQUENCE_NODE, name, "a list of values"))) return rc;
    const long nv = (long)(ln->data.sequence.items.top - ln->data.sequence.items.start);
    if (nv < 1 || nv > LF_STUDY_MAX_VALUES)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, ln), name, "must have 1 to %d values, got %ld",
                            LF_STUDY_MAX_VALUES, nv);
    const int k = sp->nkeys;
    for (long i = 0; i < nv; i++) {
      lf_study_set s;
      char ename[sizeof name + 24];
      snprintf(ename, sizeof ename, "%s: entry %ld", name, i + 1);
      const yaml_node_t *e = node(c, ln->data.sequence.items.start[i]);
      if ((rc = read_set(c, kn, e, ename, &s))) return rc;
      snprintf(sp->values[k][i], LF_STUDY_VALUE_MAX, "%s", s.value);
      if (i == 0) snprintf(sp->keys[k], LF_STUDY_KEY_MAX, "%s", s.key);
    }
    for (int j = 0; j < k; j++)
      if (!strcmp(sp->keys[j], sp->keys[k]))
        return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), "study.grid", "duplicate key '%s'",
                              sp->keys[k]);
    sp->nvalues[k] = (int)nv;
    sp->nkeys++;
  }
  return LF_OK;
}

static lf_status read_cases(const sctx *c, const yaml_node_t *v) {
  lf_study_spec *sp = c->spec;
  lf_status rc =
      expect(c, v, YAML_SEQUENCE_NODE, "study.cases", "a list of {label: ..., set: {key: value}}");
  if (rc) return rc;
  for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++) {
    const yaml_node_t *e = node(c, *it);
    char name[48];
    snprintf(name, sizeof name, "study.cases: entry %d", sp->ncases + 1);
    if (sp->ncases == LF_STUDY_MAX_CASES)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), "study.cases", "more than %d cases",
                            LF_STUDY_MAX_CASES);
    if ((rc = expect(c, e, YAML_MAPPING_NODE, name, "a mapping {label: ..., set: {...}}")))
      return rc;
    lf_study_case *cs = &sp->cases[sp->ncases];
    for (const yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top;
         p++) {
      const yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
      char q[96];
      const char *k = kn->type == YAML_SCALAR_NODE ? text(kn) : "";
      if (!strcmp(k, "label")) {
        if ((rc = expect(c, vn, YAML_SCALAR_NODE, name, "a label"))) return rc;
        if (strlen(text(vn)) >= LF_STUDY_LABEL_MAX / 2)
          return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, vn), name, "label too long");
        snprintf(cs->label, sizeof cs->label, "%s", text(vn));
      } else if (!strcmp(k, "set")) {
        if ((rc = read_set_map(c, vn, name, cs->set, &cs->nset))) return rc;
      } else {
        return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), name,
                              "unknown key %s (a case has label and set)",
                              describe(q, sizeof q, kn));
      }
    }
    if (!cs->label[0]) return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), name, "needs a label");
    for (int j = 0; j < sp->ncases; j++)
      if (!strcmp(sp->cases[j].label, cs->label))
        return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), name, "duplicate label '%s'", cs->label);
    sp->ncases++;
  }
  return LF_OK;
}

/* An integer scalar in [lo, hi] for key `name`. */
static lf_status read_long(const sctx *c, const yaml_node_t *v, const char *name, long lo, long hi,
                           long *out) {
  char q[96];
  long long x;
  lf_status rc = expect(c, v, YAML_SCALAR_NODE, name, "an integer");
  if (rc) return rc;
  if (lf_cfg_parse_ll(text(v), lo, hi, &x) != NUM_OK)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), name,
                          "expected an integer in [%ld, %ld], got %s", lo, hi,
                          lf_cfg_quoted(q, sizeof q, text(v)));
  *out = (long)x;
  return LF_OK;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static lf_status read_targets(const sctx *c, const yaml_node_t *v) {
  lf_study_spec *sp = c->spec;
  lf_status rc = expect(c, v, YAML_SEQUENCE_NODE, "study.targets", "a list of ESS fractions");
  if (rc) return rc;
  for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++) {
    const yaml_node_t *e = node(c, *it);
    char q[96];
    double x;
    if (sp->ntargets == LF_STUDY_MAX_TARGETS)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), "study.targets", "more than %d targets",
                            LF_STUDY_MAX_TARGETS);
    if ((rc = expect(c, e, YAML_SCALAR_NODE, "study.targets", "a number"))) return rc;
    if (lf_cfg_parse_double(text(e), &x) != NUM_OK || !(x > 0.0 && x <= 1.0))
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), "study.targets",
                            "expected an ESS fraction in (0, 1], got %s",
                            lf_cfg_quoted(q, sizeof q, text(e)));
    sp->targets[sp->ntargets++] = x;
  }
  qsort(sp->targets, (size_t)sp->ntargets, sizeof sp->targets[0], cmp_double);
  return LF_OK;
}

/* volumes: [8, 12, [16, 8]]: L (an LxL lattice) or [L0, L1], each a valid theory.shape of
 * the card for a flow. */
static lf_status read_volumes(const sctx *c, const yaml_node_t *v) {
  lf_study_spec *sp = c->spec;
  lf_status rc = expect(c, v, YAML_SEQUENCE_NODE, "study.volumes", "a list of L or [L0, L1]");
  if (rc) return rc;
  for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++) {
    const yaml_node_t *e = node(c, *it);
    if (sp->nvolumes == LF_STUDY_MAX_VOLUMES)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), "study.volumes", "more than %d volumes",
                            LF_STUDY_MAX_VOLUMES);
    long L[2];
    if (e->type == YAML_SEQUENCE_NODE &&
        e->data.sequence.items.top - e->data.sequence.items.start == 2) {
      for (int d = 0; d < 2; d++)
        if ((rc = read_long(c, node(c, e->data.sequence.items.start[d]), "study.volumes", 1,
                            1 << 16, &L[d])))
          return rc;
    } else {
      if ((rc = read_long(c, e, "study.volumes", 1, 1 << 16, &L[0]))) return rc;
      L[1] = L[0];
    }
    char assign[64];
    snprintf(assign, sizeof assign, "theory.shape=[%ld, %ld]", L[0], L[1]);
    lf_config work = *c->card;
    const char *a = assign;
    if (lf_config_set_list(&work, 1, &a) != LF_OK || lf_config_validate_flow(&work) != LF_OK) {
      char msg[MSG_BUF];
      const char *err = lf_last_error();
      snprintf(msg, sizeof msg, "%s", strncmp(err, "--set: ", 7) ? err : err + 7);
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, e), "study.volumes", "%ldx%ld: %s", L[0], L[1],
                            msg);
    }
    sp->volumes[sp->nvolumes][0] = (int)L[0];
    sp->volumes[sp->nvolumes][1] = (int)L[1];
    sp->nvolumes++;
  }
  return LF_OK;
}

/* One key of `study:` (kn: its name node, v: its value). */
static lf_status read_key(const sctx *c, const yaml_node_t *kn, const yaml_node_t *v) {
  lf_study_spec *sp = c->spec;
  const char *k = text(kn);
  char q[96];
  lf_status rc = LF_OK;
  if (!strcmp(k, "name")) {
    if ((rc = expect(c, v, YAML_SCALAR_NODE, "study.name", "a name"))) return rc;
    if (strchr(text(v), '/') || strlen(text(v)) >= LF_NAME_MAX)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), "study.name",
                            "expected a name without '/' of at most %d bytes, got %s",
                            LF_NAME_MAX - 1, lf_cfg_quoted(q, sizeof q, text(v)));
    snprintf(sp->name, sizeof sp->name, "%s", text(v));
  } else if (!strcmp(k, "protocol")) {
    int i = -1;
    if ((rc = expect(c, v, YAML_SCALAR_NODE, "study.protocol", "scratch, root or sequential")))
      return rc;
    if ((i = lf_cfg_name_find(protocol_names, text(v))) < 0)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), "study.protocol",
                            "expected one of scratch, root, sequential, got %s",
                            lf_cfg_quoted(q, sizeof q, text(v)));
    sp->protocol = (lf_study_protocol)i;
  } else if (!strcmp(k, "grid")) {
    return read_grid(c, v);
  } else if (!strcmp(k, "cases")) {
    return read_cases(c, v);
  } else if (!strcmp(k, "root")) {
    sp->has_root = 1;
    return read_set_map(c, v, "study.root", sp->root, &sp->nroot);
  } else if (!strcmp(k, "targets")) {
    return read_targets(c, v);
  } else if (!strcmp(k, "x")) {
    if ((rc = expect(c, v, YAML_SCALAR_NODE, "study.x", "a config key"))) return rc;
    if (lf_cfg_key_index(text(v)) < 0) return lf_cfg_unknown_key(at(c, v), text(v));
    snprintf(sp->x, sizeof sp->x, "%s", text(v));
  } else if (!strcmp(k, "sample")) {
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    if ((rc = expect(c, v, YAML_SCALAR_NODE, "study.sample", "true or false"))) return rc;
    if (lf_cfg_name_find(yes, text(v)) >= 0)
      sp->sample = 1;
    else if (lf_cfg_name_find(no, text(v)) >= 0)
      sp->sample = 0;
    else
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, v), "study.sample",
                            "expected true or false, got %s", lf_cfg_quoted(q, sizeof q, text(v)));
  } else if (!strcmp(k, "volumes")) {
    return read_volumes(c, v);
  } else if (!strcmp(k, "volume_samples")) {
    return read_long(c, v, "study.volume_samples", 1, LONG_MAX, &sp->volume_samples);
  } else if (!strcmp(k, "volume_proposals")) {
    return read_long(c, v, "study.volume_proposals", 0, LONG_MAX, &sp->volume_proposals);
  }
  return rc;
}

/* The value node of the top-level `study` key of doc, or NULL. */
static const yaml_node_t *find_study(const sctx *c, const yaml_node_t **key) {
  const yaml_node_t *root = yaml_document_get_root_node(c->doc);
  if (!root || root->type != YAML_MAPPING_NODE) return NULL;
  for (const yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *kn = node(c, p->key);
    if (kn->type == YAML_SCALAR_NODE && !strcmp(text(kn), "study")) {
      *key = kn;
      return node(c, p->value);
    }
  }
  return NULL;
}

/* Walks the `study:` mapping v (its keys in any order; `protocol` first, since the other
 * keys' checks depend on it). */
static lf_status walk_study(const sctx *c, const yaml_node_t *kn, const yaml_node_t *v) {
  char q[96];
  if (v->type != YAML_MAPPING_NODE)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), "study", "expected a mapping, got %s",
                          describe(q, sizeof q, v));
  int line_of[sizeof study_keys / sizeof study_keys[0]] = {0};
  const yaml_node_pair_t *first = v->data.mapping.pairs.start, *top = v->data.mapping.pairs.top;
  for (const yaml_node_pair_t *p = first; p < top; p++) { /* names, duplicates */
    const yaml_node_t *k = node(c, p->key);
    if (k->type != YAML_SCALAR_NODE)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, k), "study", "keys must be names, got %s",
                            describe(q, sizeof q, k));
    const int i = lf_cfg_name_find(study_keys, text(k));
    if (i < 0) {
      const int s = lf_cfg_closest_name(text(k), study_keys);
      if (s >= 0)
        return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, k), NULL,
                              "unknown key 'study.%s' (did you mean 'study.%s'?)", text(k),
                              study_keys[s]);
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, k), NULL,
                            "unknown key 'study.%s' (valid keys of 'study': name, protocol, "
                            "grid, cases, root, targets, x, sample, volumes, volume_samples, "
                            "volume_proposals)",
                            text(k));
    }
    if (line_of[i])
      return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, k), "study",
                            "duplicate key '%s' (first given at line %d)", text(k), line_of[i]);
    line_of[i] = at(c, k).line;
  }
  lf_status rc = LF_OK;
  for (int pass = 0; pass < 2; pass++) /* protocol, then the rest */
    for (const yaml_node_pair_t *p = first; p < top && rc == LF_OK; p++) {
      const int is_protocol = !strcmp(text(node(c, p->key)), "protocol");
      if (is_protocol == (pass == 0)) rc = read_key(c, node(c, p->key), node(c, p->value));
    }
  if (rc) return rc;
  const lf_study_spec *sp = c->spec;
  if (sp->x[0]) { /* the plots' parameter: a key the study varies */
    int found = 0;
    for (int k = 0; k < sp->nkeys; k++) found |= !strcmp(sp->keys[k], sp->x);
    for (int i = 0; i < sp->ncases; i++)
      for (int j = 0; j < sp->cases[i].nset; j++) found |= !strcmp(sp->cases[i].set[j].key, sp->x);
    if (!found)
      return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){c->src, line_of[6]}, "study.x",
                            "'%s' is not a key the study varies (grid or cases)", sp->x);
  }
  if (sp->protocol == LF_STUDY_ROOT && !sp->has_root)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at(c, kn), "study.root",
                          "protocol root needs `root:` (the root model's overrides, {} for the "
                          "card as it is)");
  return LF_OK;
}

/* The defaults of a spec: name = the stem of path. */
static void spec_defaults(lf_study_spec *sp, const char *path) {
  memset(sp, 0, sizeof *sp);
  snprintf(sp->source, sizeof sp->source, "%s", path);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(sp->name, sizeof sp->name, "%s", base);
  char *dot = strrchr(sp->name, '.');
  if (dot && dot != sp->name) *dot = '\0';
  sp->protocol = LF_STUDY_SCRATCH;
  sp->volume_samples = 10000;
}

lf_status lf_config_load_study(const char *path, lf_config *cfg, lf_study_spec *spec) {
  if (!path || !cfg || !spec) return LF_FAIL(LF_ERR_INVALID, "lf_config_load_study: NULL argument");
  if (strlen(path) >= LF_PATH_MAX) return LF_FAIL(LF_ERR_INVALID, "card path too long");
  spec_defaults(spec, path);
  lf_status rc = lf_config_load(cfg, path); /* the run card; its checks; `study:` skipped */
  if (rc != LF_OK) return rc;
  FILE *f = fopen(path, "rb");
  if (!f) return lf_fail_msg(LF_ERR_IO, "%s: cannot open config: %s", path, strerror(errno));
  char *buf = malloc(LF_CONFIG_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return LF_FAIL(LF_ERR_NOMEM, "reading %s", path);
  }
  const size_t n = fread(buf, 1, LF_CONFIG_MAX_BYTES, f);
  fclose(f);
  buf[n] = '\0';
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    free(buf);
    return LF_FAIL(LF_ERR_NOMEM, "cannot initialize the YAML parser");
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, n);
  if (!yaml_parser_load(&parser, &doc)) { /* lf_config_load read it: only if it changed */
    yaml_parser_delete(&parser);
    free(buf);
    return lf_fail_msg(LF_ERR_CONFIG, "%s: YAML syntax error (the card changed while read?)", path);
  }
  sctx c = {.src = path, .doc = &doc, .card = cfg, .spec = spec};
  const yaml_node_t *key = NULL, *v = find_study(&c, &key);
  if (!v)
    rc = lf_fail_msg(LF_ERR_CONFIG,
                     "%s: not a study card: it has no `study:` section (a study card is a run "
                     "card with a study: section; docs/CONFIG.md, \"study\")",
                     path);
  else
    rc = walk_study(&c, key, v);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  free(buf);
  return rc;
}
