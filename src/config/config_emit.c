/* The effective config as YAML (lf_config_to_yaml, lf_config_write_yaml: every key of the
 * table in its order, values exact), the same as one JSON object (lf_config_to_json) and the
 * comparison of two configs key by key (lf_config_diff). */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_put(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    const int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (w < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && (size_t)w < b->cap - b->n) {
      b->n += (size_t)w;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + (size_t)w + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

/* A YAML (json 0) or JSON (json 1) double-quoted string: escapes ", \ and control
 * characters (\xXX in YAML, \u00XX in JSON); UTF-8 passes through. */
static void sb_quoted_as(sbuf *b, const char *s, int json) {
  sb_put(b, "\"");
  for (; *s; s++) {
    const unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      sb_put(b, "\\%c", ch);
    else if ((ch < 0x20 || ch == 0x7f) && json)
      sb_put(b, "\\u%04x", ch);
    else if (ch < 0x20 || ch == 0x7f)
      sb_put(b, "\\x%02x", ch);
    else
      sb_put(b, "%c", ch);
  }
  sb_put(b, "\"");
}

/* The YAML and the JSON form of sb_quoted_as. */
static void sb_quoted(sbuf *b, const char *s) {
  sb_quoted_as(b, s, 0);
}
static void sb_json_str(sbuf *b, const char *s) {
  sb_quoted_as(b, s, 1);
}

static void sb_value(sbuf *b, const lf_config *c, int id) {
  const keydef *k = &lf_cfg_keys[id];
  char d[64];
  switch (k->kind) {
  case K_SECTION:
    break;
  case K_INT:
    sb_put(b, "%d", get_int(c, id));
    break;
  case K_LONG:
    sb_put(b, "%ld", get_long(c, id));
    break;
  case K_U64: {
    uint64_t v;
    memcpy(&v, cfield(c, id), sizeof v);
    sb_put(b, "%llu", (unsigned long long)v);
    break;
  }
  case K_DOUBLE:
  case K_DURATION:
    lf_cfg_fmt_double(d, sizeof d, get_double(c, id));
    sb_put(b, "%s", d);
    break;
  case K_ENUM: {
    const int v = get_int(c, id);
    sb_put(b, "%s", v >= 0 && v < lf_cfg_name_count(k->names) ? k->names[v] : "?");
    break;
  }
  case K_NAME:
  case K_STR:
    sb_quoted(b, (const char *)cfield(c, id));
    break;
  case K_SHAPE:
    sb_put(b, "[%d, %d]", c->theory.shape[0], c->theory.shape[1]);
    break;
  case K_HIDDEN:
    sb_put(b, "[");
    for (int i = 0; i < c->model.nhidden && i < LF_MAX_HIDDEN; i++)
      sb_put(b, "%s%d", i ? ", " : "", c->model.hidden[i]);
    sb_put(b, "]");
    break;
  case K_OBS:
    sb_put(b, "[");
    for (int i = 0; i < c->nobs && i < LF_MAX_OBS; i++)
      sb_put(b, "%s%s", i ? ", " : "", c->observables[i]);
    sb_put(b, "]");
    break;
  }
}

char *lf_config_to_yaml(const lf_config *cfg) {
  if (!cfg) return NULL;
  sbuf b = {0};
  sb_put(&b, "# latflow effective config: every key (docs/CONFIG.md); source: ");
  for (const char *s = cfg->source; *s; s++)
    sb_put(&b, "%c", iscntrl((unsigned char)*s) ? '?' : *s);
  sb_put(&b, "\n");
  for (int id = 0; id < NKEYS; id++) {
    const char *p = lf_cfg_keys[id].path, *leaf = strrchr(p, '.');
    int depth = 0;
    for (const char *s = p; *s; s++) depth += *s == '.';
    sb_put(&b, "%*s%s:", 2 * depth, "", leaf ? leaf + 1 : p);
    if (lf_cfg_keys[id].kind != K_SECTION) {
      sb_put(&b, " ");
      sb_value(&b, cfg, id);
    }
    sb_put(&b, "\n");
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* One value as JSON: the YAML form where it is valid JSON (numbers, integer lists), JSON
 * strings for names, enums and observables, null for a non-finite double. */
static void sb_json_value(sbuf *b, const lf_config *c, int id) {
  const keydef *k = &lf_cfg_keys[id];
  switch (k->kind) {
  case K_DOUBLE:
  case K_DURATION:
    if (!isfinite(get_double(c, id))) {
      sb_put(b, "null");
      return;
    }
    break;
  case K_ENUM: {
    const int v = get_int(c, id);
    sb_json_str(b, v >= 0 && v < lf_cfg_name_count(k->names) ? k->names[v] : "?");
    return;
  }
  case K_NAME:
  case K_STR:
    sb_json_str(b, (const char *)cfield(c, id));
    return;
  case K_OBS:
    sb_put(b, "[");
    for (int i = 0; i < c->nobs && i < LF_MAX_OBS; i++) {
      sb_put(b, "%s", i ? ", " : "");
      sb_json_str(b, c->observables[i]);
    }
    sb_put(b, "]");
    return;
  default:
    break;
  }
  sb_value(b, c, id);
}

char *lf_config_to_json(const lf_config *cfg) {
  if (!cfg) return NULL;
  sbuf b = {0};
  int open = 0, comma = 0; /* sections open below the top object; a member came before */
  sb_put(&b, "{");
  for (int id = 0; id < NKEYS; id++) {
    const char *p = lf_cfg_keys[id].path, *leaf = strrchr(p, '.');
    int depth = 0;
    for (const char *s = p; *s; s++) depth += *s == '.';
    for (; open > depth; open--) sb_put(&b, "}");
    sb_put(&b, "%s\n%*s", comma ? "," : "", 2 * depth + 2, "");
    sb_json_str(&b, leaf ? leaf + 1 : p);
    sb_put(&b, ": ");
    comma = lf_cfg_keys[id].kind != K_SECTION;
    if (comma)
      sb_json_value(&b, cfg, id);
    else {
      sb_put(&b, "{");
      open++;
    }
  }
  for (; open > 0; open--) sb_put(&b, "}");
  sb_put(&b, "\n}\n");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

lf_status lf_config_write_yaml(const lf_config *cfg, FILE *out) {
  if (!cfg || !out) return LF_FAIL(LF_ERR_INVALID, "lf_config_write_yaml: NULL argument");
  char *s = lf_config_to_yaml(cfg);
  if (!s) return LF_FAIL(LF_ERR_NOMEM, "formatting the config as YAML");
  errno = 0;
  const int bad = fputs(s, out) == EOF || fflush(out) != 0;
  const int err = errno;
  free(s);
  if (bad) return LF_FAIL(LF_ERR_IO, "writing the config: %s", strerror(err ? err : EIO));
  return LF_OK;
}

/* ---- comparison --------------------------------------------------------------------------- */

int lf_config_diff(const lf_config *a, const lf_config *b, char *key, size_t n) {
  for (int id = 0; id < NKEYS; id++) {
    const keydef *k = &lf_cfg_keys[id];
    int differ = 0;
    switch (k->kind) {
    case K_SECTION:
      break;
    case K_INT:
    case K_ENUM:
      differ = get_int(a, id) != get_int(b, id);
      break;
    case K_LONG:
      differ = get_long(a, id) != get_long(b, id);
      break;
    case K_U64:
      differ = a->seed != b->seed;
      break;
    case K_DOUBLE:
    case K_DURATION:
      differ = get_double(a, id) != get_double(b, id);
      break;
    case K_NAME:
    case K_STR:
      differ = strncmp((const char *)cfield(a, id), (const char *)cfield(b, id), k->size);
      break;
    case K_SHAPE:
      differ = a->theory.shape[0] != b->theory.shape[0] || a->theory.shape[1] != b->theory.shape[1];
      break;
    case K_HIDDEN:
      differ = a->model.nhidden != b->model.nhidden;
      for (int i = 0; !differ && i < a->model.nhidden && i < LF_MAX_HIDDEN; i++)
        differ = a->model.hidden[i] != b->model.hidden[i];
      break;
    case K_OBS:
      differ = a->nobs != b->nobs;
      for (int i = 0; !differ && i < a->nobs && i < LF_MAX_OBS; i++)
        differ = strncmp(a->observables[i], b->observables[i], LF_NAME_MAX) != 0;
      break;
    }
    if (differ) {
      if (key && n) snprintf(key, n, "%s", k->path);
      return 1;
    }
  }
  if (key && n) key[0] = '\0';
  return 0;
}
