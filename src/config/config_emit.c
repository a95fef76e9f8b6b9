/* The effective config as YAML (lf_config_to_yaml, lf_config_write_yaml: every key of the
 * table in its order, values exact), the same as one JSON object (lf_config_to_json, with
 * cJSON) and the comparison of two configs key by key (lf_config_diff). */
#include "config_int.h"

#include <cjson/cJSON.h>

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

/* A YAML double-quoted string: escapes ", \ and control characters (\xXX); UTF-8
 * passes through. */
static void sb_quoted(sbuf *b, const char *s) {
  sb_put(b, "\"");
  for (; *s; s++) {
    const unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      sb_put(b, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      sb_put(b, "\\x%02x", ch);
    else
      sb_put(b, "%c", ch);
  }
  sb_put(b, "\"");
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

/* One value as a cJSON item (NULL when out of memory): numbers, strings for names, enums
 * and observables, arrays for the shape, the hidden widths and the observables, null for a
 * non-finite double. */
static cJSON *json_value(const lf_config *c, int id) {
  const keydef *k = &lf_cfg_keys[id];
  switch (k->kind) {
  case K_SECTION:
    return cJSON_CreateObject();
  case K_INT:
    return cJSON_CreateNumber(get_int(c, id));
  case K_LONG:
    return cJSON_CreateNumber((double)get_long(c, id));
  case K_U64: {
    uint64_t v;
    memcpy(&v, cfield(c, id), sizeof v);
    return cJSON_CreateNumber((double)v);
  }
  case K_DOUBLE:
  case K_DURATION: {
    const double v = get_double(c, id);
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
  }
  case K_ENUM: {
    const int v = get_int(c, id);
    return cJSON_CreateString(v >= 0 && v < lf_cfg_name_count(k->names) ? k->names[v] : "?");
  }
  case K_NAME:
  case K_STR:
    return cJSON_CreateString((const char *)cfield(c, id));
  case K_SHAPE:
    return cJSON_CreateIntArray(c->theory.shape, 2);
  case K_HIDDEN:
    return cJSON_CreateIntArray(c->model.hidden, c->model.nhidden < LF_MAX_HIDDEN ? c->model.nhidden
                                                                                  : LF_MAX_HIDDEN);
  case K_OBS: {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < c->nobs && i < LF_MAX_OBS; i++)
      if (!cJSON_AddItemToArray(a, cJSON_CreateString(c->observables[i]))) {
        cJSON_Delete(a);
        return NULL;
      }
    return a;
  }
  }
  return NULL;
}

/* The deepest key path has two dots (train.optimizer.lr); room to spare. */
#define JSON_MAX_DEPTH 6

/* The key table is in document order, a section before its keys: each key goes into the
 * object of the section at its depth (open[depth]). Built with cJSON, which escapes the
 * strings and prints the numbers. */
char *lf_config_to_json(const lf_config *cfg) {
  if (!cfg) return NULL;
  cJSON *open[JSON_MAX_DEPTH + 1] = {cJSON_CreateObject()};
  int ok = open[0] != NULL;
  for (int id = 0; id < NKEYS && ok; id++) {
    const char *p = lf_cfg_keys[id].path, *leaf = strrchr(p, '.');
    int depth = 0;
    for (const char *s = p; *s; s++) depth += *s == '.';
    cJSON *v = depth < JSON_MAX_DEPTH ? json_value(cfg, id) : NULL;
    ok = v && cJSON_AddItemToObject(open[depth], leaf ? leaf + 1 : p, v);
    if (!ok) cJSON_Delete(v);
    if (ok && lf_cfg_keys[id].kind == K_SECTION) open[depth + 1] = v;
  }
  char *text = ok ? cJSON_Print(open[0]) : NULL;
  cJSON_Delete(open[0]);
  return text;
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
