/* Numbers in run-card scalars: decimal integers (signed, in a range, or uint64), doubles as
 * strtod reads them (the whole text), and durations ("90s", "1h30m", "1d 12h"). Each returns
 * a numrc (config_int.h); the caller words the message. */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A decimal integer (optional sign, digits only) in [lo, hi]. */
numrc lf_cfg_parse_ll(const char *s, long long lo, long long hi, long long *out) {
  const char *p = s + (*s == '+' || *s == '-');
  if (!*p) return NUM_SYNTAX;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return NUM_SYNTAX;
  errno = 0;
  const long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE || v < lo || v > hi) return NUM_RANGE;
  *out = v;
  return NUM_OK;
}
/* A decimal integer in [0, UINT64_MAX]; NUM_NEGATIVE for a well-formed negative one. */
numrc lf_cfg_parse_u64(const char *s, uint64_t *out) {
  if (*s == '-') {
    long long dummy;
    return lf_cfg_parse_ll(s, LLONG_MIN, LLONG_MAX, &dummy) == NUM_SYNTAX ? NUM_SYNTAX
                                                                          : NUM_NEGATIVE;
  }
  const char *p = s + (*s == '+');
  if (!*p) return NUM_SYNTAX;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return NUM_SYNTAX;
  errno = 0;
  const unsigned long long v = strtoull(p, NULL, 10);
  if (errno == ERANGE) return NUM_RANGE;
  *out = (uint64_t)v;
  return NUM_OK;
}
/* A number as strtod reads it, the whole text, with at least one digit. */
numrc lf_cfg_parse_double(const char *s, double *out) {
  if (!*s || isspace((unsigned char)*s)) return NUM_SYNTAX;
  char *end;
  errno = 0;
  const double v = strtod(s, &end);
  if (end == s || *end) return NUM_SYNTAX;
  *out = v;
  return NUM_OK;
}
/* Seconds: a number, or parts <number><unit> with units d, h, m, s in that order
 * ("90s", "30m", "2h", "1h30m", "1d 12h", "1.5h"). */
numrc lf_cfg_parse_duration(const char *s, double *out) {
  if (lf_cfg_parse_double(s, out) == NUM_OK) return NUM_OK;
  static const char units[] = "dhms";
  static const double secs[] = {86400.0, 3600.0, 60.0, 1.0};
  double total = 0.0;
  int next = 0, parts = 0;
  const char *p = s;
  while (*p) {
    if (*p == ' ') {
      p++;
      continue;
    }
    if (!isdigit((unsigned char)*p) && *p != '.') return NUM_SYNTAX;
    char *end;
    const double v = strtod(p, &end);
    if (end == p) return NUM_SYNTAX;
    const char *u = *end ? strchr(units, *end) : NULL;
    if (!u || (int)(u - units) < next) return NUM_SYNTAX;
    next = (int)(u - units) + 1;
    total += v * secs[u - units];
    parts++;
    p = end + 1;
  }
  if (!parts) return NUM_SYNTAX;
  *out = total;
  return NUM_OK;
}
