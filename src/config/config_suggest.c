/* Unknown keys of the run card: the message names the first part of the dotted key that is
 * not a key and suggests the closest key of its section (optimal string alignment distance),
 * or lists the section's keys ("unknown key 'train.bach' (did you mean 'train.batch'?)"). */
#include "config_int.h"

#include <stdio.h>
#include <string.h>

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions). */
static int osa_distance(const char *a, const char *b) {
  enum { M = 48 };
  const size_t la = strlen(a), lb = strlen(b);
  if (la >= M || lb >= M) return 99;
  int d[M][M];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      const int cost = a[i - 1] != b[j - 1];
      int v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

/* Is key k a direct child of section `parent` ("" = top level)? Sets *leaf to its name. */
static int child_of(int k, const char *parent, const char **leaf) {
  const char *p = lf_cfg_keys[k].path;
  const size_t n = strlen(parent);
  if (n) {
    if (strncmp(p, parent, n) != 0 || p[n] != '.') return 0;
    p += n + 1;
  }
  if (strchr(p, '.')) return 0;
  *leaf = p;
  return 1;
}

/* The closest child of `parent` to `name`: distance <= 3 (and less than the name's length)
 * or one is a prefix of the other; else a key anywhere whose last part is `name`. */
static int suggest(const char *parent, const char *name) {
  int best = -1, bestd = 99;
  const size_t ln = strlen(name);
  for (int k = 0; k < NKEYS; k++) {
    const char *leaf;
    if (!child_of(k, parent, &leaf)) continue;
    int d = osa_distance(name, leaf);
    const size_t ll = strlen(leaf);
    const int prefix = ln >= 2 && (strncmp(leaf, name, ln) == 0 || strncmp(name, leaf, ll) == 0);
    if (!((d <= 3 && (size_t)d < ln) || prefix)) continue;
    if (prefix && d > 3) d = 3;
    if (d < bestd) best = k, bestd = d;
  }
  if (best >= 0) return best;
  for (int k = 0; k < NKEYS; k++) {
    const char *dot = strrchr(lf_cfg_keys[k].path, '.');
    if (dot && strcmp(dot + 1, name) == 0) return k;
  }
  return -1;
}

int lf_cfg_closest_name(const char *name, const char *const *names) {
  int best = -1, bestd = 99;
  const size_t ln = strlen(name);
  for (int k = 0; names[k]; k++) {
    int d = osa_distance(name, names[k]);
    const size_t ll = strlen(names[k]);
    const int prefix =
        ln >= 2 && (strncmp(names[k], name, ln) == 0 || strncmp(name, names[k], ll) == 0);
    if (!((d <= 3 && (size_t)d < ln) || prefix)) continue;
    if (prefix && d > 3) d = 3;
    if (d < bestd) best = k, bestd = d;
  }
  return best;
}

/* Message for an unknown dotted key (config_int.h): find the first part that is not a key, suggest
 * a replacement for it, and keep the rest if the repaired path is a key. */
lf_status lf_cfg_unknown_key(loc at, const char *path) {
  char parent[PATH_BUF] = "", part[PATH_BUF], q[96];
  const char *p = path;
  for (;;) {
    const char *dot = strchr(p, '.');
    const size_t n = dot ? (size_t)(dot - p) : strlen(p);
    snprintf(part, sizeof part, "%.*s", (int)n, p);
    char probe[2 * PATH_BUF + 2];
    snprintf(probe, sizeof probe, "%s%s%s", parent, parent[0] ? "." : "", part);
    const int id = lf_cfg_key_index(probe);
    if (id < 0 || !dot) break;
    if (lf_cfg_keys[id].kind != K_SECTION)
      return lf_cfg_fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (%s takes a value, not keys)",
                            lf_cfg_quoted(q, sizeof q, path), lf_cfg_keys[id].path);
    snprintf(parent, sizeof parent, "%s", lf_cfg_keys[id].path);
    p = dot + 1;
  }
  const int s = suggest(parent, part);
  if (s >= 0) {
    char fixed[3 * PATH_BUF];
    const char *rest = p + strlen(part);
    snprintf(fixed, sizeof fixed, "%s%s", lf_cfg_keys[s].path, rest);
    const char *say = lf_cfg_key_index(fixed) >= 0 ? fixed : lf_cfg_keys[s].path;
    return lf_cfg_fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (did you mean '%s'?)",
                          lf_cfg_quoted(q, sizeof q, path), say);
  }
  char list[512] = "";
  size_t used = 0;
  for (int k = 0; k < NKEYS && used < sizeof list; k++) {
    const char *leaf;
    if (!child_of(k, parent, &leaf)) continue;
    const int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", leaf);
    if (w > 0) used += (size_t)w;
  }
  return lf_cfg_fail_at(LF_ERR_CONFIG, at, NULL, "unknown key %s (valid %s%s%s: %s)",
                        lf_cfg_quoted(q, sizeof q, path),
                        parent[0] ? "keys of '" : "top-level keys", parent[0] ? parent : "",
                        parent[0] ? "'" : "", list);
}
