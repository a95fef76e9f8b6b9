/* Numbers in run-card scalars: integers (signed, in a range, or uint64; written with digits
 * only, or in decimal or exponent form when the value is a whole number: 1e5, 100000.0),
 * doubles as strtod reads them (the whole text), and durations ("90s", "1h30m", "1d 12h").
 * Each returns a numrc (config_int.h); the caller words the message. */
#include "config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An integer written in decimal or exponent form ("1e5", "100000.0", "2.5e3"): only
 * digits, signs, '.', 'e' and 'E' (no hex, inf or nan), the whole text read by strtod.
 * NUM_FRACTION when the value is not a whole number, NUM_RANGE when it is not finite. */
static numrc whole_number(const char *s, double *out) {
  int digits = 0;
  for (const char *q = s; *q; q++) {
    if (isdigit((unsigned char)*q))
      digits = 1;
    else if (!strchr("+-.eE", *q))
      return NUM_SYNTAX;
  }
  double v;
  if (!digits || lf_cfg_parse_double(s, &v) != NUM_OK) return NUM_SYNTAX;
  if (!isfinite(v)) return NUM_RANGE;
  if (v != floor(v)) return NUM_FRACTION;
  *out = v;
  return NUM_OK;
}

/* Whether s is digits only after an optional sign (the plain integer form). */
static int plain_digits(const char *s) {
  const char *p = s + (*s == '+' || *s == '-');
  if (!*p) return 0;
  for (; *p; p++)
    if (!isdigit((unsigned char)*p)) return 0;
  return 1;
}

/* An integer in [lo, hi]: digits with an optional sign, or a whole number in decimal or
 * exponent form (whole_number). */
numrc lf_cfg_parse_ll(const char *s, long long lo, long long hi, long long *out) {
  if (!plain_digits(s)) {
    double v = 0.0;
    const numrc r = whole_number(s, &v);
    if (r != NUM_OK) return r;
    /* +-2^63 bound the doubles a long long holds; the cast is exact below it */
    if (v < -9223372036854775808.0 || v >= 9223372036854775808.0) return NUM_RANGE;
    const long long x = (long long)v;
    if (x < lo || x > hi) return NUM_RANGE;
    *out = x;
    return NUM_OK;
  }
  errno = 0;
  const long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE || v < lo || v > hi) return NUM_RANGE;
  *out = v;
  return NUM_OK;
}
/* An integer in [0, UINT64_MAX] (digits, or a whole number in decimal or exponent form);
 * NUM_NEGATIVE for a well-formed negative one. */
numrc lf_cfg_parse_u64(const char *s, uint64_t *out) {
  if (!plain_digits(s)) {
    double v = 0.0;
    const numrc r = whole_number(s, &v);
    if (r != NUM_OK) return r;
    if (v < 0) return NUM_NEGATIVE;
    if (v >= 18446744073709551616.0) return NUM_RANGE; /* 2^64 */
    *out = (uint64_t)v;
    return NUM_OK;
  }
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
