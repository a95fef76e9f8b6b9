/* Sizes as text and the memory this process may use (latflow/mem.h). The estimate of
 * what a card needs is src/driver/mem_estimate.c: it knows the modules above the core. */
#include "latflow/mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- sizes as text --------------------------------------------------------------------- */

const char *lf_mem_format(double bytes, char *buf, size_t n) {
  static const char *unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (!(bytes >= 1024.0)) {
    snprintf(buf, n, "%.0f B", bytes > 0 ? bytes : 0.0);
    return buf;
  }
  int u = -1;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    u++;
  }
  snprintf(buf, n, "%.1f %s", bytes, unit[u]);
  return buf;
}

lf_status lf_mem_parse_size(const char *s, double *bytes) {
  if (!s) return LF_FAIL(LF_ERR_INVALID, "size: no text");
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  if (!isdigit((unsigned char)*p) && *p != '.')
    return LF_FAIL(LF_ERR_INVALID, "size '%s': expected a number of bytes such as 4096, 512M, 2G",
                   s);
  errno = 0;
  char *end;
  const double v = strtod(p, &end);
  if (end == p || errno == ERANGE || !isfinite(v) || v < 0 ||
      strspn(p, "0123456789.eE+-") < (size_t)(end - p)) /* no hex, no "inf" */
    return LF_FAIL(LF_ERR_INVALID, "size '%s': not a number of bytes", s);
  double mul = 1.0;
  static const char units[] = "KMGTP";
  const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
  if (u && *end) {
    mul = ldexp(1.0, 10 * (int)(u - units + 1));
    end++;
    if (*end == 'i' || *end == 'I') {
      end++;
      if (*end != 'B' && *end != 'b')
        return LF_FAIL(LF_ERR_INVALID, "size '%s': unknown unit (use K, M, G, T or KiB ...)", s);
    }
    if (*end == 'B' || *end == 'b') end++;
  } else if (*end == 'B' || *end == 'b') {
    end++;
  }
  while (isspace((unsigned char)*end)) end++;
  if (*end)
    return LF_FAIL(LF_ERR_INVALID, "size '%s': unknown unit '%s' (use K, M, G, T: powers of 1024)",
                   s, end);
  if (v * mul > ldexp(1.0, 63)) return LF_FAIL(LF_ERR_INVALID, "size '%s': above 2^63 bytes", s);
  *bytes = floor(v * mul);
  return LF_OK;
}

/* ---- what this process may use --------------------------------------------------------- */

/* The first number in a file (a cgroup file: "max" is none). 1 on success. */
static int read_number(const char *path, double *v) {
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[128] = "";
  const int ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  if (!ok) return 0;
  char *end;
  errno = 0;
  const double x = strtod(line, &end);
  if (end == line || errno == ERANGE || !(x >= 0)) return 0;
  *v = x;
  return 1;
}

/* A "Key:   N kB" line of a /proc file, in bytes. 1 on success. */
static int read_kb(const char *path, const char *key, double *v) {
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  const size_t k = strlen(key);
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ':') {
      char *end;
      const double x = strtod(line + k + 1, &end);
      if (end != line + k + 1 && x >= 0) {
        *v = x * 1024.0;
        found = 1;
      }
    }
  fclose(f);
  return found;
}

void lf_mem_sources_default(lf_mem_sources *src, char *buf, size_t n) {
  memset(src, 0, sizeof *src);
  src->meminfo = "/proc/meminfo";
  src->use_rlimits = 1;
  /* our cgroup's folder: "0::/path" (v2) and "N:memory:/path" (v1) of /proc/self/cgroup */
  char v2[600] = "", v1[600] = "";
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (f) {
    char line[600];
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\n")] = '\0';
      if (!strncmp(line, "0::", 3)) memcpy(v2, line + 3, strlen(line + 3) + 1);
      const char *m = strstr(line, ":memory:");
      if (m) memcpy(v1, m + 8, strlen(m + 8) + 1);
    }
    fclose(f);
  }
  const size_t q = n / 4;
  if (q < 512) return;
  char *p[4] = {buf, buf + q, buf + 2 * q, buf + 3 * q};
  double x;
  /* the process's own cgroup, else the top of the (namespaced) hierarchy */
  char d2[700], d1[700];
  snprintf(d2, sizeof d2, "/sys/fs/cgroup%s", strcmp(v2, "/") ? v2 : "");
  snprintf(p[0], q, "%s/memory.max", d2);
  if (!read_number(p[0], &x)) snprintf(d2, sizeof d2, "/sys/fs/cgroup");
  snprintf(d1, sizeof d1, "/sys/fs/cgroup/memory%s", strcmp(v1, "/") ? v1 : "");
  snprintf(p[2], q, "%s/memory.limit_in_bytes", d1);
  if (!read_number(p[2], &x)) snprintf(d1, sizeof d1, "/sys/fs/cgroup/memory");
  snprintf(p[0], q, "%s/memory.max", d2);
  snprintf(p[1], q, "%s/memory.current", d2);
  snprintf(p[2], q, "%s/memory.limit_in_bytes", d1);
  snprintf(p[3], q, "%s/memory.usage_in_bytes", d1);
  src->cg2_max = p[0];
  src->cg2_current = p[1];
  src->cg1_limit = p[2];
  src->cg1_usage = p[3];
}

static void take(double *best, char *what, size_t n, double v, const char *fmt, double shown,
                 int ranks) {
  if (*best >= 0 && v >= *best) return;
  *best = v;
  char a[32];
  lf_mem_format(shown, a, sizeof a);
  snprintf(what, n, fmt, a);
  if (ranks > 1) {
    const size_t k = strlen(what);
    snprintf(what + k, n - k, " / %d ranks on this node", ranks);
  }
}

void lf_mem_available(const lf_mem_sources *src, int ranks_on_node, double *bytes, char *what,
                      size_t n) {
  const double r = ranks_on_node > 1 ? ranks_on_node : 1;
  const int nr = (int)r;
  double best = -1.0, v, use;
  if (n) what[0] = '\0';
  if (read_kb(src->meminfo, "MemAvailable", &v))
    take(&best, what, n, v / r, "MemAvailable %s", v, nr);
  /* cgroup limits: "max" (v2) does not parse; v1 says "none" with a huge number */
  if (read_number(src->cg2_max, &v) && v < ldexp(1.0, 60)) {
    if (!read_number(src->cg2_current, &use)) use = 0;
    const double left = v > use ? v - use : 0;
    take(&best, what, n, left / r, "cgroup memory.max less its usage: %s", left, nr);
  }
  if (read_number(src->cg1_limit, &v) && v < ldexp(1.0, 60)) {
    if (!read_number(src->cg1_usage, &use)) use = 0;
    const double left = v > use ? v - use : 0;
    take(&best, what, n, left / r, "cgroup memory.limit_in_bytes less its usage: %s", left, nr);
  }
  if (src->use_rlimits) {
    struct rlimit rl;
    double vm = 0.0;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      if (!read_kb("/proc/self/status", "VmSize", &vm)) vm = 0;
      const double left = (double)rl.rlim_cur > vm ? (double)rl.rlim_cur - vm : 0;
      take(&best, what, n, left, "RLIMIT_AS (ulimit -v) headroom %s", left, 1);
    }
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      if (!read_kb("/proc/self/status", "VmData", &vm)) vm = 0;
      const double left = (double)rl.rlim_cur > vm ? (double)rl.rlim_cur - vm : 0;
      take(&best, what, n, left, "RLIMIT_DATA (ulimit -d) headroom %s", left, 1);
    }
  }
  *bytes = best;
}
