/* The rules of the run card: each key's range rule (lf_cfg_check_key, used while parsing
 * and by lf_config_validate), the cross-key rules (lf_cfg_validate), the flow's rules on
 * the model and theory sections (lf_config_validate_flow), --output, and the one format
 * of every config message (lf_cfg_fail_at: "<source>:<line>: <key>: <what>"). */
#include "config_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- messages ----------------------------------------------------------------------------- */

/* Records "<src>[:<line>]: [<key>: ]<what>" as the last error and returns s. */
lf_status lf_cfg_fail_at(lf_status s, loc at, const char *key, const char *fmt, ...) {
  char what[MSG_BUF];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  char where[LF_PATH_MAX + 32];
  if (at.line > 0)
    snprintf(where, sizeof where, "%s:%d", at.src, at.line);
  else
    snprintf(where, sizeof where, "%s", at.src);
  if (key) return lf_fail_msg(s, "%s: %s: %s", where, key, what);
  return lf_fail_msg(s, "%s: %s", where, what);
}

/* 'text' for messages: long values are cut, control characters shown as '?'. */
const char *lf_cfg_quoted(char *buf, size_t n, const char *text) {
  size_t len = strlen(text), keep = len > 60 ? 57 : len;
  size_t j = 0;
  buf[j++] = '\'';
  for (size_t i = 0; i < keep && j + 5 < n; i++)
    buf[j++] = iscntrl((unsigned char)text[i]) ? '?' : text[i];
  if (keep < len && j + 5 < n) buf[j++] = '.', buf[j++] = '.', buf[j++] = '.';
  buf[j++] = '\'';
  buf[j] = '\0';
  return buf;
}

/* ---- range rules (used while parsing and by lf_config_validate) -------------------------- */

/* Checks one key's value alone; on a violation writes "what" (no location) and returns 1. */
int lf_cfg_check_key(const lf_config *c, int id, char *what, size_t n) {
  const keydef *k = &lf_cfg_keys[id];
  char a[64], b[64];
  switch (k->kind) {
  case K_SECTION:
  case K_U64:
    return 0;
  case K_INT:
  case K_LONG: {
    const long v = k->kind == K_INT ? (long)get_int(c, id) : get_long(c, id);
    const char *need = NULL;
    if (k->rule == R_GT0 && v <= 0) need = "must be > 0";
    if (k->rule == R_GE0 && v < 0) need = "must be >= 0";
    if (k->rule == R_GE1 && v < 1) need = "must be >= 1";
    if (k->rule == R_ODD && (v < 1 || v % 2 == 0)) need = "must be odd and >= 1";
    if (k->rule == R_BINS && (v < 1 || v > 64)) need = "must be in [1, 64]";
    if (!need) return 0;
    snprintf(what, n, "%s, got %ld", need, v);
    return 1;
  }
  case K_DOUBLE:
  case K_DURATION: {
    const double v = get_double(c, id);
    lf_cfg_fmt_double(a, sizeof a, v);
    if (!isfinite(v)) return snprintf(what, n, "must be a finite number, got %s", a), 1;
    const char *need = NULL;
    if (k->rule == R_GT0 && !(v > 0)) need = "must be > 0";
    if (k->rule == R_GE0 && !(v >= 0)) need = "must be >= 0";
    if (k->rule == R_UNIT_OPEN && !(v >= 0 && v < 1)) need = "must be in [0, 1)";
    if (k->rule == R_OPEN01 && !(v > 0 && v < 1)) need = "must be in (0, 1)";
    if (k->rule == R_UNIT && !(v >= 0 && v <= 1)) need = "must be in [0, 1]";
    if (!need) return 0;
    snprintf(what, n, "%s, got %s", need, a);
    return 1;
  }
  case K_ENUM: {
    const int v = get_int(c, id);
    if (v >= 0 && v < lf_cfg_name_count(k->names)) return 0;
    lf_cfg_name_list(a, sizeof a, k->names);
    snprintf(what, n, "expected one of %s, got the value %d", a, v);
    return 1;
  }
  case K_NAME: {
    const char *s = (const char *)cfield(c, id);
    if (lf_cfg_name_find(k->names, s) >= 0) return 0;
    lf_cfg_name_list(a, sizeof a, k->names);
    snprintf(what, n, "expected one of %s, got %s", a, lf_cfg_quoted(b, sizeof b, s));
    return 1;
  }
  case K_STR: {
    const char *s = (const char *)cfield(c, id);
    if (strnlen(s, k->size) >= k->size) return snprintf(what, n, "not terminated"), 1;
    if ((k->rule == R_NONEMPTY || k->rule == R_DIR) && !s[0])
      return snprintf(what, n, "must not be empty"), 1;
    /* POSIX allows a line break in a directory name, but every log line and message that
     * names the folder would be split, and line-oriented job scripts would misread it */
    if (k->rule == R_DIR && strpbrk(s, "\n\r"))
      return snprintf(what, n,
                      "must not contain a line break (legal in a POSIX name, but it would split "
                      "the log lines and messages that name the folder), got %s",
                      lf_cfg_quoted(b, sizeof b, s)),
             1;
    if (k->rule == R_DIR) {
      /* Every file a run writes is <output>/<name> with a name of at most LF_OUTPUT_NAME_MAX
       * bytes (e.g. plots-hmc/history_condensate.png, hmc.part1023.h5.tmp): refuse here an
       * output that would fail only at its first checkpoint, hours into the run. */
      const size_t len = strlen(s), room = (size_t)LF_PATH_MAX - 2 - LF_OUTPUT_NAME_MAX;
      if (len > room)
        return snprintf(what, n,
                        "too long: %zu bytes, at most %zu (the run writes files of names up to "
                        "%d bytes inside it, in paths of at most %d bytes)",
                        len, room, LF_OUTPUT_NAME_MAX, LF_PATH_MAX - 1),
               1;
      /* and no component may exceed NAME_MAX (255 on Linux): mkdir would refuse it later */
      for (const char *p = s; *p;) {
        const size_t clen = strcspn(p, "/");
        if (clen > 255)
          return snprintf(what, n,
                          "a folder name of %zu bytes (at most 255, the file system's limit)",
                          clen),
                 1;
        p += clen;
        while (*p == '/') p++;
      }
    }
    return 0;
  }
  case K_SHAPE: {
    const int *L = c->theory.shape;
    if (L[0] < 2 || L[1] < 2)
      return snprintf(what, n, "sizes must be >= 2, got [%d, %d]", L[0], L[1]), 1;
    if (L[0] % 2 || L[1] % 2)
      return snprintf(what, n,
                      "sizes must be even (the checkerboard coupling needs even L), got [%d, %d]",
                      L[0], L[1]),
             1;
    if ((long long)L[0] * L[1] > (1LL << 24))
      return snprintf(what, n, "volume %lld is too large (max %lld sites)", (long long)L[0] * L[1],
                      1LL << 24),
             1;
    return 0;
  }
  case K_HIDDEN: {
    const lf_model_cfg *m = &c->model;
    if (m->nhidden < 1 || m->nhidden > LF_MAX_HIDDEN)
      return snprintf(what, n, "must have 1 to %d entries, got %d", LF_MAX_HIDDEN, m->nhidden), 1;
    for (int i = 0; i < m->nhidden; i++)
      if (m->hidden[i] < 1)
        return snprintf(what, n, "entry %d must be >= 1, got %d", i + 1, m->hidden[i]), 1;
    return 0;
  }
  case K_OBS: {
    if (c->nobs < 1 || c->nobs > LF_MAX_OBS) /* an ensemble stores at least one per state */
      return snprintf(what, n, "must have 1 to %d entries, got %d", LF_MAX_OBS, c->nobs), 1;
    for (int i = 0; i < c->nobs; i++) {
      const char *s = c->observables[i];
      if (strnlen(s, LF_NAME_MAX) >= LF_NAME_MAX) return snprintf(what, n, "not terminated"), 1;
      /* an observable of no theory (u1's are the first three of schwinger's) */
      const char *const *phi4 = lf_cfg_obs_valid(LF_THEORY_PHI4);
      const char *const *schwinger = lf_cfg_obs_valid(LF_THEORY_SCHWINGER);
      if (lf_cfg_name_find(phi4, s) < 0 && lf_cfg_name_find(schwinger, s) < 0) {
        char l1[96], l2[96];
        lf_cfg_name_list(l1, sizeof l1, phi4);
        lf_cfg_name_list(l2, sizeof l2, schwinger);
        snprintf(what, n, "unknown observable %s (phi4: %s; u1/schwinger: %s)",
                 lf_cfg_quoted(b, sizeof b, s), l1, l2);
        return 1;
      }
      for (int j = 0; j < i; j++)
        if (strcmp(c->observables[j], s) == 0)
          return snprintf(what, n, "%s is listed twice", lf_cfg_quoted(b, sizeof b, s)), 1;
    }
    return 0;
  }
  }
  return 0;
}

/* The location of a key: in the text being parsed if it gave the key (lines[] >= 0),
 * else the source the config came from, without a line. */
static loc key_loc(const lf_config *c, const char *src, const int *lines, int id) {
  if (lines && src && lines[id] >= 0) return (loc){src, lines[id]};
  return (loc){c->source[0] ? c->source : "config", 0};
}

/* Every key's rule, then the cross-key rules. lines/src may be NULL. */
lf_status lf_cfg_validate(const lf_config *c, const char *src, const int *lines) {
  char what[MSG_BUF];
  for (int id = 0; id < NKEYS; id++)
    if (lf_cfg_check_key(c, id, what, sizeof what))
      return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), lf_cfg_keys[id].path, "%s",
                            what);

  /* observables must belong to the theory; blame the key this text gave, if any */
  const char *const *valid = lf_cfg_obs_valid(c->theory.name);
  for (int i = 0; i < c->nobs; i++) {
    if (lf_cfg_name_find(valid, c->observables[i]) >= 0) continue;
    int id = lf_cfg_key_index("observables");
    if (!(lines && lines[id] >= 0) && lines && lines[lf_cfg_key_index("theory.name")] >= 0)
      id = lf_cfg_key_index("theory.name");
    char l[96], q[64];
    lf_cfg_name_list(l, sizeof l, lf_cfg_obs_valid(c->theory.name));
    return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), "observables",
                          "%s is not an observable of theory %s (valid: %s)",
                          lf_cfg_quoted(q, sizeof q, c->observables[i]),
                          lf_theory_name(c->theory.name), l);
  }

  /* phi4 with lambda = 0 is Gaussian: S = phi (-Laplacian + m2) phi, whose lowest mode (the
   * constant field, eigenvalue m2) makes exp(-S) non-normalizable unless m2 > 0; a flow would
   * train towards a divergent loss and HMC would drift without bound */
  if (c->theory.name == LF_THEORY_PHI4 && c->theory.lambda == 0 && c->theory.m2 <= 0) {
    int id = lf_cfg_key_index("theory.lambda");
    if (!(lines && lines[id] >= 0) && lines && lines[lf_cfg_key_index("theory.m2")] >= 0)
      id = lf_cfg_key_index("theory.m2");
    char m2[64];
    lf_cfg_fmt_double(m2, sizeof m2, c->theory.m2);
    return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), lf_cfg_keys[id].path,
                          "phi4 with theory.lambda = 0 and theory.m2 = %s <= 0 has no normalizable "
                          "distribution (the constant mode's action is m2 phi^2 per site): use "
                          "lambda > 0 or m2 > 0",
                          m2);
  }

  /* stopping on the ESS needs the fresh-sample evaluations it reads */
  if (c->train.target_ess > 0 && (c->train.eval_every == 0 || c->train.eval_samples == 0)) {
    const char *bad = c->train.eval_every == 0 ? "train.eval_every" : "train.eval_samples";
    int id = lf_cfg_key_index(bad);
    if (!(lines && lines[id] >= 0) && lines &&
        lines[lf_cfg_key_index("train.stop.target_ess")] >= 0)
      id = lf_cfg_key_index("train.stop.target_ess");
    return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), lf_cfg_keys[id].path,
                          "train.stop.target_ess = %g stops on the fresh-sample ESS, which needs "
                          "train.eval_every > 0 and train.eval_samples > 0 (got %ld and %ld)",
                          c->train.target_ess, c->train.eval_every, c->train.eval_samples);
  }

  /* batch doubling needs room to double into */
  const lf_train_cfg *t = &c->train;
  if (t->batch_double_every > 0 && t->batch_max != 0 && t->batch_max < t->batch) {
    int id = lf_cfg_key_index("train.schedule.batch_max");
    if (!(lines && lines[id] >= 0) && lines && lines[lf_cfg_key_index("train.batch")] >= 0)
      id = lf_cfg_key_index("train.batch");
    return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, src, lines, id), "train.schedule.batch_max",
                          "must be >= train.batch (%d) when batch doubling is on, got %d", t->batch,
                          t->batch_max);
  }
  return LF_OK;
}

lf_status lf_config_validate(const lf_config *cfg) {
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_config_validate: cfg is NULL");
  return lf_cfg_validate(cfg, NULL, NULL);
}

/* The flow's rules on the model and theory sections (only commands that build a flow call
 * them, so an HMC-only card is not refused for a flow it never builds). The config is
 * complete here, so a message names its source, not a line. */
static lf_status flow_rules(const lf_config *c) {
  /* the gauge flow: link angles need the Haar base and circular splines, and the splines
   * need a gauge theory on sides that are multiples of 4 (stripe masks of period 4) */
  const lf_model_cfg *m = &c->model;
  const int gauge_theory = c->theory.name == LF_THEORY_U1 || c->theory.name == LF_THEORY_SCHWINGER;
  const int spline = m->coupling == LF_COUPLING_SPLINE;
  const int haar = m->base == LF_BASE_HAAR || m->base == LF_BASE_PLAQUETTE;
  const char *gmsg = NULL, *gkey = NULL;
  if (gauge_theory && !(spline && haar)) {
    gmsg = "link angles need the gauge-equivariant flow (model.base haar or plaquette, "
           "model.coupling spline)";
    gkey = spline ? "model.base" : "model.coupling";
  } else if (!gauge_theory && (spline || haar)) {
    gmsg = "model.base haar or plaquette and model.coupling spline are the U(1) gauge flow: "
           "theory.name must be u1 or schwinger";
    gkey = spline ? "model.coupling" : "model.base";
  } else if (spline && (c->theory.shape[0] % 4 || c->theory.shape[1] % 4)) {
    gmsg = "the gauge flow's stripe masks need both sides to be multiples of 4";
    gkey = "theory.shape";
  }
  if (gmsg) {
    const int id = lf_cfg_key_index(gkey);
    return lf_cfg_fail_at(LF_ERR_CONFIG, key_loc(c, NULL, NULL, id), lf_cfg_keys[id].path,
                          "%s (theory %s %dx%d, base %s, coupling %s)", gmsg,
                          lf_theory_name(c->theory.name), c->theory.shape[0], c->theory.shape[1],
                          lf_cfg_base_names[m->base], lf_cfg_coupling_names[m->coupling]);
  }
  return LF_OK;
}

lf_status lf_config_validate_flow(const lf_config *cfg) {
  if (!cfg) return LF_FAIL(LF_ERR_INVALID, "lf_config_validate_flow: cfg is NULL");
  lf_status rc = lf_cfg_validate(cfg, NULL, NULL);
  return rc != LF_OK ? rc : flow_rules(cfg);
}

lf_status lf_config_set_output(lf_config *cfg, const char *dir) {
  if (!cfg || !dir) return LF_FAIL(LF_ERR_INVALID, "lf_config_set_output: NULL argument");
  const int id = lf_cfg_key_index("output");
  if (strlen(dir) >= sizeof cfg->output)
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){"--output", 0}, NULL,
                          "too long (%zu bytes, at most %zu)", strlen(dir), sizeof cfg->output - 1);
  lf_config work = *cfg;
  memcpy(work.output, dir, strlen(dir) + 1);
  char what[MSG_BUF];
  if (lf_cfg_check_key(&work, id, what, sizeof what))
    return lf_cfg_fail_at(LF_ERR_CONFIG, (loc){"--output", 0}, NULL, "%s", what);
  *cfg = work;
  return LF_OK;
}
