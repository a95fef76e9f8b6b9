/* YAML run cards -> lf_config (see latflow/config.h, docs/CONFIG.md): the parser.
 *
 * Parsing uses libyaml's document API (yaml_parser_load): the whole card is small, and a
 * node tree gives every key and value its line for the messages. The walk looks each key
 * up in the key table (config_keys.c), stores its value by the key's kind and checks the
 * key's range rule at once (config_rules.c). Text is parsed into a copy of the config, so
 * a failed parse or override leaves the caller's config unchanged. */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- reading values ----------------------------------------------------------------------- */

typedef struct pctx {
  const char *src; /* name in messages                                         */
  int is_set;      /* an override: no line numbers                             */
  yaml_document_t *doc;
  lf_config *cfg;   /* the copy being filled                                */
  int lines[NKEYS]; /* line of each key this text gave (0 = no line), -1 = not */
  unsigned given;   /* LF_CONFIG_GIVEN_* bits this text set                  */
} pctx;

static int node_line(const pctx *c, const yaml_node_t *n) {
  return c->is_set ? 0 : (int)n->start_mark.line + 1;
}
static loc at_node(const pctx *c, const yaml_node_t *n) {
  return (loc){c->src, node_line(c, n)};
}

static const char *scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = scalar(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}
/* "a mapping", "a list", "'text'", "nothing" for messages. */
static const char *describe(char *buf, size_t n, const yaml_node_t *v) {
  if (v->type == YAML_MAPPING_NODE) return "a mapping";
  if (v->type == YAML_SEQUENCE_NODE) return "a list";
  if (is_null(v)) return "nothing";
  return lf_cfg_quoted(buf, n, scalar(v));
}

/* Reads one integer-like scalar for key id (entry > 0 names a list entry in messages):
 * digits, or a whole number in decimal or exponent form (1e5, 100000.0). */
static lf_status read_ll(pctx *c, int id, const yaml_node_t *v, int entry, long long lo,
                         long long hi, long long *out) {
  char q[96], key[PATH_BUF + 16];
  if (entry)
    snprintf(key, sizeof key, "%s: entry %d", lf_cfg_keys[id].path, entry);
  else
    snprintf(key, sizeof key, "%s", lf_cfg_keys[id].path);
  if (v->type != YAML_SCALAR_NODE || is_null(v))
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), key, "%s (expected an integer, got %s)",
                          is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
  switch (lf_cfg_parse_ll(scalar(v), lo, hi, out)) {
  case NUM_OK:
    return LF_OK;
  case NUM_RANGE:
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), key,
                          "integer out of range [%lld, %lld], got %s", lo, hi,
                          lf_cfg_quoted(q, sizeof q, scalar(v)));
  case NUM_FRACTION:
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), key,
                          "expected an integer, got %s, which is not a whole number",
                          lf_cfg_quoted(q, sizeof q, scalar(v)));
  default:
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), key, "expected an integer, got %s",
                          lf_cfg_quoted(q, sizeof q, scalar(v)));
  }
}

static lf_status read_string(pctx *c, int id, const yaml_node_t *v, char *dst, size_t size,
                             int null_ok) {
  char q[96];
  if (v->type != YAML_SCALAR_NODE || (is_null(v) && !null_ok))
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), lf_cfg_keys[id].path,
                          "%s (expected a string, got %s)",
                          is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
  const char *s = is_null(v) ? "" : scalar(v);
  const size_t len = strlen(s);
  if (!is_null(v) && len != v->data.scalar.length)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), lf_cfg_keys[id].path,
                          "contains a NUL character");
  if (len >= size)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), lf_cfg_keys[id].path,
                          "too long (%zu bytes, at most %zu)", len, size - 1);
  memcpy(dst, s, len + 1);
  return LF_OK;
}

/* The entries of list node v of key k (*it, *n); LF_ERR_CONFIG "expected <what>, got ..."
 * when v is not a list. */
static lf_status list_items(const pctx *c, const keydef *k, const yaml_node_t *v, const char *what,
                            const yaml_node_item_t **it, long *n) {
  char q[96];
  if (v->type != YAML_SEQUENCE_NODE)
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected %s, got %s", what,
                          describe(q, sizeof q, v));
  *it = v->data.sequence.items.start;
  *n = (long)(v->data.sequence.items.top - *it);
  return LF_OK;
}

/* Stores the value node v of leaf key id into c->cfg. */
static lf_status set_leaf(pctx *c, int id, const yaml_node_t *v) {
  const keydef *k = &lf_cfg_keys[id];
  lf_config *cfg = c->cfg;
  char q[96], l[160];
  lf_status rc = LF_OK;
  switch (k->kind) {
  case K_SECTION:
    return LF_FAIL(LF_ERR_INVALID, "set_leaf on section %s", k->path);
  case K_INT: {
    long long x;
    if ((rc = read_ll(c, id, v, 0, INT_MIN, INT_MAX, &x))) return rc;
    set_int(cfg, id, (int)x);
    break;
  }
  case K_LONG: {
    long long x;
    if ((rc = read_ll(c, id, v, 0, LONG_MIN, LONG_MAX, &x))) return rc;
    const long y = (long)x;
    memcpy(field(cfg, id), &y, sizeof y);
    break;
  }
  case K_U64: {
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "%s (expected an integer, got %s)",
                            is_null(v) ? "missing value" : "wrong type", describe(q, sizeof q, v));
    uint64_t x = 0;
    switch (lf_cfg_parse_u64(scalar(v), &x)) {
    case NUM_OK:
      break;
    case NUM_NEGATIVE:
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "must be >= 0, got %s",
                            scalar(v));
    case NUM_RANGE:
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "integer out of range [0, %llu], got %s",
                            (unsigned long long)UINT64_MAX, lf_cfg_quoted(q, sizeof q, scalar(v)));
    case NUM_FRACTION:
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "expected an integer, got %s, which is not a whole number",
                            lf_cfg_quoted(q, sizeof q, scalar(v)));
    default:
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected an integer, got %s",
                            lf_cfg_quoted(q, sizeof q, scalar(v)));
    }
    memcpy(field(cfg, id), &x, sizeof x);
    break;
  }
  case K_DOUBLE:
  case K_DURATION: {
    const int dur = k->kind == K_DURATION;
    const char *expect = dur ? "seconds or a duration like 90s, 30m, 2h, 1h30m, 1d" : "a number";
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "%s (expected %s, got %s)",
                            is_null(v) ? "missing value" : "wrong type", expect,
                            describe(q, sizeof q, v));
    double x = 0.0;
    if ((dur ? lf_cfg_parse_duration(scalar(v), &x) : lf_cfg_parse_double(scalar(v), &x)) != NUM_OK)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected %s, got %s", expect,
                            lf_cfg_quoted(q, sizeof q, scalar(v)));
    if (!isfinite(x))
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "must be a finite number, got %s",
                            lf_cfg_quoted(q, sizeof q, scalar(v)));
    memcpy(field(cfg, id), &x, sizeof x);
    break;
  }
  case K_ENUM:
  case K_NAME: {
    lf_cfg_name_list(l, sizeof l, k->names);
    if (v->type != YAML_SCALAR_NODE || is_null(v))
      return lf_cfg_fail_at(
          LF_ERR_CONFIG, at_node(c, v), k->path, "%s (expected one of %s, got %s)",
          is_null(v) ? "missing value" : "wrong type", l, describe(q, sizeof q, v));
    const int i = lf_cfg_name_find(k->names, scalar(v));
    if (i < 0)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "expected one of %s, got %s", l,
                            lf_cfg_quoted(q, sizeof q, scalar(v)));
    if (k->kind == K_ENUM)
      set_int(cfg, id, i);
    else
      snprintf((char *)field(cfg, id), k->size, "%s", k->names[i]);
    break;
  }
  case K_STR:
    if ((rc = read_string(c, id, v, (char *)field(cfg, id), k->size, k->rule == R_NONE))) return rc;
    break;
  case K_SHAPE: {
    const yaml_node_item_t *it = NULL;
    long n = 0;
    if ((rc = list_items(c, k, v, "a list of 2 integers [L0, L1]", &it, &n))) return rc;
    if (n != 2)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "expected a list of 2 integers [L0, L1], got %ld entries", n);
    for (int i = 0; i < 2; i++) {
      long long x;
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if ((rc = read_ll(c, id, e, i + 1, INT_MIN, INT_MAX, &x))) return rc;
      cfg->theory.shape[i] = (int)x;
    }
    break;
  }
  case K_HIDDEN: {
    const yaml_node_item_t *it = NULL;
    long n = 0;
    if ((rc = list_items(c, k, v, "a list of integers (channels per conv layer)", &it, &n)))
      return rc;
    if (n < 1 || n > LF_MAX_HIDDEN)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path,
                            "must have 1 to %d entries, got %ld", LF_MAX_HIDDEN, n);
    int h[LF_MAX_HIDDEN] = {0};
    for (long i = 0; i < n; i++) {
      long long x;
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if ((rc = read_ll(c, id, e, (int)i + 1, INT_MIN, INT_MAX, &x))) return rc;
      if (x < 1)
        return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, e), k->path,
                              "entry %ld must be >= 1, got %lld", i + 1, x);
      h[i] = (int)x;
    }
    memcpy(cfg->model.hidden, h, sizeof h);
    cfg->model.nhidden = (int)n;
    break;
  }
  case K_OBS: {
    const yaml_node_item_t *it = NULL;
    long n = 0;
    if ((rc = list_items(c, k, v, "a list of observable names", &it, &n))) return rc;
    if (n > LF_MAX_OBS)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), k->path, "at most %d entries, got %ld",
                            LF_MAX_OBS, n);
    memset(cfg->observables, 0, sizeof cfg->observables);
    cfg->nobs = 0;
    for (long i = 0; i < n; i++) {
      const yaml_node_t *e = yaml_document_get_node(c->doc, it[i]);
      if (e->type != YAML_SCALAR_NODE || is_null(e))
        return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, e), k->path,
                              "entry %ld: expected an observable name, got %s", i + 1,
                              describe(q, sizeof q, e));
      if (strlen(scalar(e)) >= LF_NAME_MAX)
        return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, e), k->path, "unknown observable %s",
                              lf_cfg_quoted(q, sizeof q, scalar(e)));
      snprintf(cfg->observables[i], LF_NAME_MAX, "%s", scalar(e));
      cfg->nobs = (int)i + 1;
      char what[MSG_BUF];
      if (lf_cfg_check_key(cfg, id, what, sizeof what)) /* per entry, to point at its line */
        return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, e), k->path, "%s", what);
    }
    break;
  }
  }
  c->given |= k->given;
  char what[MSG_BUF];
  if (lf_cfg_check_key(cfg, id, what, sizeof what))
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){c->src, c->lines[id]}, k->path, "%s", what);
  return LF_OK;
}

static lf_status walk_map(pctx *c, const yaml_node_t *map, const char *prefix);

/* Applies value node v to key id (a section or a leaf). */
static lf_status apply(pctx *c, int id, const yaml_node_t *v) {
  if (lf_cfg_keys[id].kind != K_SECTION) return set_leaf(c, id, v);
  if (is_null(v)) return LF_OK; /* "train:" with nothing under it */
  if (v->type != YAML_MAPPING_NODE) {
    char q[96];
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, v), lf_cfg_keys[id].path,
                          "expected a mapping, got %s", describe(q, sizeof q, v));
  }
  return walk_map(c, v, lf_cfg_keys[id].path);
}

static lf_status walk_map(pctx *c, const yaml_node_t *map, const char *prefix) {
  for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
       pr++) {
    const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
    const yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
    char q[96], path[PATH_BUF];
    if (kn->type != YAML_SCALAR_NODE)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, kn), prefix[0] ? prefix : NULL,
                            "keys must be names, got %s", describe(q, sizeof q, kn));
    const char *name = scalar(kn);
    /* a study card's `study:` section (latflow/study.h) is read by lf_config_load_study;
     * a run card's commands (train, config, check ...) ignore it */
    if (!prefix[0] && !strcmp(name, "study")) continue;
    snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name);
    if (strlen(name) + strlen(prefix) + 2 > sizeof path || strchr(name, '.') || !name[0])
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, kn), NULL, "unknown key %s",
                            lf_cfg_quoted(q, sizeof q, path));
    const int id = lf_cfg_key_index(path);
    if (id < 0) return lf_cfg_unknown_key(at_node(c, kn), path);
    if (c->lines[id] >= 0) {
      if (c->lines[id] > 0)
        return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, kn), path,
                              "duplicate key (first given at line %d)", c->lines[id]);
      return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, kn), path, "duplicate key");
    }
    c->lines[id] = node_line(c, kn);
    lf_status rc = apply(c, id, vn);
    if (rc != LF_OK) return rc;
  }
  return LF_OK;
}

/* ---- libyaml front end -------------------------------------------------------------------- */

/* 1-based line of byte offset off in text. */
static int line_of_offset(const char *text, size_t len, size_t off) {
  int line = 1;
  for (size_t i = 0; i < off && i < len; i++) line += text[i] == '\n';
  return line;
}

/* Message for a libyaml failure; prefix_key names the --set key (or NULL). */
static lf_status yaml_error(const pctx *c, const yaml_parser_t *p, const char *text, size_t len,
                            const char *prefix_key) {
  if (p->error == YAML_MEMORY_ERROR)
    return lf_fail_msg(LF_ERR_NOMEM, "%s: out of memory while parsing YAML", c->src);
  const char *problem = p->problem ? p->problem : "unknown problem";
  int line, col;
  if (p->error == YAML_READER_ERROR) { /* encoding problems: libyaml gives a byte offset */
    line = line_of_offset(text, len, p->problem_offset);
    col = 0;
  } else {
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
  }
  char where[LF_PATH_MAX + 64];
  if (c->is_set)
    snprintf(where, sizeof where, "%s: %s: YAML syntax error in the value", c->src,
             prefix_key ? prefix_key : "?");
  else if (col > 0)
    snprintf(where, sizeof where, "%s:%d:%d: YAML syntax error", c->src, line, col);
  else
    snprintf(where, sizeof where, "%s:%d: YAML syntax error", c->src, line);
  if (p->context && c->is_set) /* a one-line value: its line numbers say nothing */
    return lf_fail_msg(LF_ERR_CONFIG, "%s: %s (%s)", where, problem, p->context);
  if (p->context)
    return lf_fail_msg(LF_ERR_CONFIG, "%s: %s (%s at line %d)", where, problem, p->context,
                       (int)p->context_mark.line + 1);
  return lf_fail_msg(LF_ERR_CONFIG, "%s: %s", where, problem);
}

/* Loads the single document of text into doc (the caller deletes it when LF_OK is
 * returned). *empty = 1 when the text holds no document (only comments, or nothing). */
/* Refuses nesting deeper than LF_CONFIG_MAX_DEPTH before the document is built: libyaml's
 * scanner checks every open flow level on each token, so the time of a deep card grows with
 * the square of its depth (a 400 KB card of '[' did not finish in minutes), and the walk
 * below recurses once per level. The event scan stops at the first level too many; a
 * syntax error is left to the loader, which reports it with its position. */
static lf_status check_depth(const pctx *c, const char *text, size_t len, const char *set_key) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return lf_fail_msg(LF_ERR_NOMEM, "%s: cannot initialize the YAML parser", c->src);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  lf_status rc = LF_OK;
  int depth = 0, done = 0;
  while (!done && rc == LF_OK) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) break;
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > LF_CONFIG_MAX_DEPTH)
        rc = lf_cfg_fail_at(LF_ERR_CONFIG,
                            (loc){c->src, c->is_set ? 0 : (int)ev.start_mark.line + 1}, set_key,
                            "nested deeper than %d levels (column %d); not a run card",
                            LF_CONFIG_MAX_DEPTH, (int)ev.start_mark.column + 1);
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    } else if (ev.type == YAML_STREAM_END_EVENT) {
      done = 1;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return rc;
}

/* Refuses explicit tags other than a node's own default (!!str on a scalar, !!seq, !!map):
 * the walk reads every scalar by its text, so `!!binary aGk=`, `!!float 3` or `!custom x`
 * would silently mean the plain text, not what the tag says. */
static lf_status check_tags(const pctx *c, const yaml_document_t *doc, const char *set_key) {
  static const char core[] = "tag:yaml.org,2002:";
  for (const yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++) {
    const char *tag = (const char *)n->tag;
    const char *want = n->type == YAML_SCALAR_NODE     ? YAML_DEFAULT_SCALAR_TAG
                       : n->type == YAML_SEQUENCE_NODE ? YAML_DEFAULT_SEQUENCE_TAG
                                                       : YAML_DEFAULT_MAPPING_TAG;
    if (!tag || !strcmp(tag, want)) continue;
    const int is_core = !strncmp(tag, core, sizeof core - 1);
    return lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, n), set_key,
                          "YAML tag '%s%.60s%s' is not supported in a run card (values are read as "
                          "plain text); remove it",
                          is_core ? "!!" : "", is_core ? tag + sizeof core - 1 : tag,
                          strlen(is_core ? tag + sizeof core - 1 : tag) > 60 ? "..." : "");
  }
  return LF_OK;
}

static lf_status load_doc(pctx *c, yaml_document_t *doc, const char *text, const char *set_key,
                          int *empty) {
  yaml_parser_t parser;
  const size_t len = strlen(text);
  if (len > LF_CONFIG_MAX_BYTES)
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){c->src, 0}, set_key,
                          "%zu bytes, larger than the %d bytes (1 MiB) a run card may have", len,
                          LF_CONFIG_MAX_BYTES);
  lf_status rc = check_depth(c, text, len, set_key);
  if (rc != LF_OK) return rc;
  if (!yaml_parser_initialize(&parser))
    return lf_fail_msg(LF_ERR_NOMEM, "%s: cannot initialize the YAML parser", c->src);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, doc)) {
    rc = yaml_error(c, &parser, text, len, set_key);
    yaml_parser_delete(&parser);
    return rc;
  }
  *empty = yaml_document_get_root_node(doc) == NULL;
  if (!*empty && (rc = check_tags(c, doc, set_key)) != LF_OK) {
    yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return rc;
  }
  if (!*empty) { /* a second document is an error; so is garbage after the first */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
      rc = yaml_error(c, &parser, text, len, set_key);
    } else {
      const yaml_node_t *r = yaml_document_get_root_node(&extra);
      if (r)
        rc = lf_cfg_fail_at(LF_ERR_CONFIG,
                            (loc){c->src, c->is_set ? 0 : (int)r->start_mark.line + 1}, set_key,
                            "only one YAML document is allowed, found a second one");
      yaml_document_delete(&extra);
    }
    if (rc != LF_OK) yaml_document_delete(doc);
  }
  yaml_parser_delete(&parser);
  return rc;
}

static void pctx_init(pctx *c, lf_config *work, const char *src, int is_set) {
  memset(c, 0, sizeof *c);
  c->src = src;
  c->is_set = is_set;
  c->cfg = work;
  for (int i = 0; i < NKEYS; i++) c->lines[i] = -1;
}

/* Shared tail of parse and set: dependent defaults, validation, commit. */
static lf_status finish(pctx *c, lf_config *cfg, lf_config *work) {
  work->given |= c->given;
  lf_cfg_dependent_defaults(work);
  lf_status rc = lf_cfg_validate(work, c->src, c->lines);
  if (rc == LF_OK) *cfg = *work;
  return rc;
}

lf_status lf_config_parse_string(lf_config *cfg, const char *text, const char *source) {
  if (!cfg || !text) return LF_FAIL(LF_ERR_INVALID, "lf_config_parse_string: NULL argument");
  const char *src = source && source[0] ? source : "<string>";
  if (strlen(src) >= LF_PATH_MAX)
    return LF_FAIL(LF_ERR_INVALID, "config source name longer than %d bytes", LF_PATH_MAX - 1);
  lf_config *work = malloc(sizeof *work); /* ~4 KB; kept off the stack with pctx */
  pctx *c = malloc(sizeof *c);
  if (!work || !c) {
    free(work);
    free(c);
    return LF_FAIL(LF_ERR_NOMEM, "config parse of %s", src);
  }
  *work = *cfg;
  pctx_init(c, work, src, 0);
  yaml_document_t doc;
  int empty = 0;
  lf_status rc = load_doc(c, &doc, text, NULL, &empty);
  if (rc == LF_OK) {
    c->doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    char q[96];
    if (empty || is_null(root))
      rc = LF_OK;
    else if (root->type != YAML_MAPPING_NODE)
      rc = lf_cfg_fail_at(LF_ERR_CONFIG, at_node(c, root), NULL,
                          "expected a mapping of keys at the top level, got %s",
                          describe(q, sizeof q, root));
    else
      rc = walk_map(c, root, "");
    yaml_document_delete(&doc);
  }
  if (rc == LF_OK) {
    snprintf(work->source, sizeof work->source, "%s", src);
    rc = finish(c, cfg, work);
  }
  free(work);
  free(c);
  return rc;
}

lf_status lf_config_load(lf_config *cfg, const char *path) {
  if (!cfg || !path) return LF_FAIL(LF_ERR_INVALID, "lf_config_load: NULL argument");
  lf_config_defaults(cfg); /* defined on every return */
  FILE *f = fopen(path, "rb");
  if (!f) return lf_fail_msg(LF_ERR_IO, "%s: cannot open config: %s", path, strerror(errno));
  enum { MAX_BYTES = LF_CONFIG_MAX_BYTES };
  char *text = malloc(MAX_BYTES + 1);
  if (!text) {
    fclose(f);
    return LF_FAIL(LF_ERR_NOMEM, "reading %s", path);
  }
  const size_t n = fread(text, 1, MAX_BYTES + 1, f);
  const int err = ferror(f) ? errno : 0;
  fclose(f);
  lf_status rc = LF_OK;
  if (err)
    rc = lf_fail_msg(LF_ERR_IO, "%s: cannot read config: %s", path, strerror(err));
  else if (n >= 8 && !memcmp(text, "\x89HDF\r\n\x1a\n", 8)) /* HDF5's signature */
    rc = lf_fail_msg(LF_ERR_CONFIG,
                     "%s is an HDF5 file, not a run card; use latflow info %s to see what it "
                     "holds",
                     path, path);
  else if (n > MAX_BYTES)
    rc = lf_fail_msg(LF_ERR_CONFIG, "%s: larger than the %d bytes (1 MiB) a run card may have",
                     path, MAX_BYTES);
  else {
    text[n] = '\0';
    if (strlen(text) != n)
      rc = lf_fail_msg(LF_ERR_CONFIG, "%s:%d: contains a NUL byte (not a text file?)", path,
                       line_of_offset(text, n, strlen(text)));
  }
  if (rc == LF_OK) rc = lf_config_parse_string(cfg, text, path);
  free(text);
  return rc;
}

/* Applies one "key=value" to work (no cross-key rules); c is a fresh context for it, whose
 * lines[] and given then say which keys it set. */
static lf_status set_one(pctx *c, lf_config *work, const char *assignment) {
  static const char *const SRC = "--set";
  if (!assignment) return LF_FAIL(LF_ERR_INVALID, "lf_config_set: NULL assignment");
  pctx_init(c, work, SRC, 1);
  char q[96];
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){SRC, 0}, NULL, "expected key=value, got %s",
                          lf_cfg_quoted(q, sizeof q, assignment));
  /* the key, trimmed */
  const char *a = assignment, *b = eq;
  while (a < b && isspace((unsigned char)*a)) a++;
  while (b > a && isspace((unsigned char)b[-1])) b--;
  char key[PATH_BUF];
  if (b == a || (size_t)(b - a) >= sizeof key)
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){SRC, 0}, NULL, "expected key=value, got %s",
                          lf_cfg_quoted(q, sizeof q, assignment));
  snprintf(key, sizeof key, "%.*s", (int)(b - a), a);
  const int id = lf_cfg_key_index(key);
  if (id < 0) return lf_cfg_unknown_key((loc){SRC, 0}, key);

  yaml_document_t doc;
  int empty = 0;
  lf_status rc = load_doc(c, &doc, eq + 1, key, &empty);
  if (rc == LF_OK && empty) { /* "key=": a null value (a leaf then says "missing value") */
    yaml_document_delete(&doc);
    rc = load_doc(c, &doc, "~", key, &empty);
  }
  if (rc == LF_OK) {
    c->lines[id] = 0;
    c->doc = &doc;
    rc = apply(c, id, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
  }
  return rc;
}

lf_status lf_config_set(lf_config *cfg, const char *assignment) {
  if (!assignment) return LF_FAIL(LF_ERR_INVALID, "lf_config_set: NULL argument");
  return lf_config_set_list(cfg, 1, &assignment);
}

lf_status lf_config_set_list(lf_config *cfg, int n, const char *const *assignments) {
  if (!cfg || (n > 0 && !assignments))
    return LF_FAIL(LF_ERR_INVALID, "lf_config_set_list: NULL argument");
  if (n <= 0) return LF_OK;
  lf_config *work = malloc(sizeof *work);
  pctx *c = malloc(sizeof *c), *all = malloc(sizeof *all);
  if (!work || !c || !all) {
    free(work);
    free(c);
    free(all);
    return LF_FAIL(LF_ERR_NOMEM, "--set");
  }
  *work = *cfg;
  pctx_init(all, work, "--set", 1);
  lf_status rc = LF_OK;
  /* each override is read alone (a key twice in one value is a duplicate; in two overrides
   * the later wins), and the keys any of them gave are what the cross-key rules blame */
  for (int i = 0; i < n && rc == LF_OK; i++) {
    rc = set_one(c, work, assignments[i]);
    for (int k = 0; k < NKEYS; k++)
      if (c->lines[k] >= 0) all->lines[k] = 0;
    all->given |= c->given;
  }
  if (rc == LF_OK) rc = finish(all, cfg, work);
  free(work);
  free(c);
  free(all);
  return rc;
}
