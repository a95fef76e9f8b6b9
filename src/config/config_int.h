/* src/config/config_int.h: declarations shared by the files of the config module (not
 * installed; include/latflow/config.h is the public contract).
 *
 * One table (lf_cfg_keys, config_keys.c) drives everything: the parser (config_parse.c)
 * looks keys up in it, the validator (config_rules.c) walks it, the writer (config_emit.c)
 * emits it in its order and lf_config_diff compares along it. A key is a dotted path, a
 * kind (how its YAML value is read and where it is stored, by offsetof) and a range rule.
 * Sections are keys of kind K_SECTION; their children follow them. Unknown keys get their
 * suggestion from config_suggest.c; numbers and durations are read by config_number.c.
 * Every function here is local and never fails except by the lf_status it returns. */
#ifndef LATFLOW_CONFIG_INT_H
#define LATFLOW_CONFIG_INT_H

#include "latflow/config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- the key table (config_keys.c) -------------------------------------------------------- */

typedef enum kind {
  K_SECTION, /* a mapping of further keys                                   */
  K_INT,     /* int                                                          */
  K_LONG,    /* long                                                         */
  K_U64,     /* uint64_t, >= 0                                               */
  K_DOUBLE,  /* finite double                                                */
  K_ENUM,    /* an enum stored as int; value is one of names[]               */
  K_NAME,    /* char[] holding one of names[] (theory.fermion_bc)            */
  K_STR,     /* char[]; null allowed only with R_NONE (means "")             */
  K_SHAPE,   /* theory.shape: int[2]                                         */
  K_HIDDEN,  /* model.hidden: int[LF_MAX_HIDDEN] + nhidden                   */
  K_OBS,     /* observables: char[LF_MAX_OBS][LF_NAME_MAX] + nobs            */
  K_DURATION /* double seconds; a number or "1h30m"                          */
} kind;

typedef enum rule {
  R_NONE,
  R_GT0, /* > 0      */
  R_GE0, /* >= 0     */
  R_GE1, /* >= 1     */
  R_UNIT_OPEN /* [0, 1)   */,
  R_OPEN01,   /* (0, 1)   */
  R_UNIT,     /* [0, 1]   */
  R_ODD,      /* odd, >= 1 */
  R_BINS,     /* [1, 64]   */
  R_NONEMPTY, /* strings  */
  R_DIR       /* a directory: non-empty, no line break */
} rule;

typedef struct keydef {
  const char *path;
  kind kind;
  rule rule;
  size_t off, size;         /* offsetof / sizeof in lf_config (size: strings)       */
  const char *const *names; /* K_ENUM, K_NAME: NULL-terminated                      */
  unsigned given;           /* LF_CONFIG_GIVEN_* bit set when the key is given      */
} keydef;

/* NKEYS: the number of entries of lf_cfg_keys (config_keys.c checks it against the table). */
enum { NKEYS = 77, PATH_BUF = 160, MSG_BUF = 1024 };

extern const keydef lf_cfg_keys[]; /* NKEYS entries, in the order of the card */

/* Name lists (NULL-terminated) that other files name directly: model.base, model.coupling. */
extern const char *const lf_cfg_base_names[];
extern const char *const lf_cfg_coupling_names[];

/* The index of the key with dotted path `path`, or -1. */
int lf_cfg_key_index(const char *path);

/* Typed views of a field (enums are int-sized, checked in config_keys.c). */
static inline void *field(lf_config *c, int id) {
  return (char *)c + lf_cfg_keys[id].off;
}
static inline const void *cfield(const lf_config *c, int id) {
  return (const char *)c + lf_cfg_keys[id].off;
}
static inline int get_int(const lf_config *c, int id) {
  int v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}
static inline void set_int(lf_config *c, int id, int v) {
  memcpy(field(c, id), &v, sizeof v);
}
static inline long get_long(const lf_config *c, int id) {
  long v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}
static inline double get_double(const lf_config *c, int id) {
  double v;
  memcpy(&v, cfield(c, id), sizeof v);
  return v;
}

/* Name lists: their length; the index of s (or -1); "a, b, c" into buf (cut to n bytes). */
int lf_cfg_name_count(const char *const *names);
int lf_cfg_name_find(const char *const *names, const char *s);
void lf_cfg_name_list(char *buf, size_t n, const char *const *names);

/* The observables valid for theory k (NULL-terminated; the theory's own list,
 * lf_theory_obs_names, or an empty one outside the enum). */
const char *const *lf_cfg_obs_valid(lf_theory_kind k);

/* Shortest "%.Ng" (N = 15..17) that reads back to the same double: exact and readable. */
void lf_cfg_fmt_double(char *buf, size_t n, double v);

/* Fills the defaults that depend on other keys (lr, eps, base, coupling, observables),
 * unless given explicitly (cfg->given). */
void lf_cfg_dependent_defaults(lf_config *c);

/* ---- messages and rules (config_rules.c) -------------------------------------------------- */

/* Where a message points: a source name and a 1-based line (0 = no line). */
typedef struct loc {
  const char *src;
  int line;
} loc;

/* Records "<src>[:<line>]: [<key>: ]<what>" as the last error and returns s. */
lf_status lf_cfg_fail_at(lf_status s, loc at, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* 'text' for messages, into buf (n bytes): long values are cut, control characters shown
 * as '?'. Returns buf. */
const char *lf_cfg_quoted(char *buf, size_t n, const char *text);

/* Checks one key's value alone; on a violation writes "what" (no location) and returns 1. */
int lf_cfg_check_key(const lf_config *c, int id, char *what, size_t n);

/* Every key's rule, then the cross-key rules. lines[NKEYS] (the line of each key the text
 * being parsed gave, -1 = not given) and src (its name) may be NULL. */
lf_status lf_cfg_validate(const lf_config *c, const char *src, const int *lines);

/* ---- unknown keys (config_suggest.c) ------------------------------------------------------ */

/* LF_ERR_CONFIG with the message for an unknown dotted key at `at`: a suggestion when one
 * is close, else the valid keys of the section. */
lf_status lf_cfg_unknown_key(loc at, const char *path);

/* The entry of the NULL-terminated list names closest to name by the rule of the
 * suggestions above (distance <= 3 and less than the name's length, or a prefix), or -1.
 * For the keys of a study card's `study:` section (config_study.c). */
int lf_cfg_closest_name(const char *name, const char *const *names);

/* ---- numbers (config_number.c) ------------------------------------------------------------ */

/* NUM_FRACTION: an integer key given a number that is not a whole one (1.5, 1e-3) */
typedef enum numrc { NUM_OK, NUM_SYNTAX, NUM_RANGE, NUM_NEGATIVE, NUM_FRACTION } numrc;

/* An integer in [lo, hi]: digits with an optional sign, or a whole number in decimal or
 * exponent form (1e5, 100000.0, -2.5e3). */
numrc lf_cfg_parse_ll(const char *s, long long lo, long long hi, long long *out);
/* An integer in [0, UINT64_MAX] written as lf_cfg_parse_ll accepts it (NUM_NEGATIVE for a
 * well-formed negative one). */
numrc lf_cfg_parse_u64(const char *s, uint64_t *out);
/* A number as strtod reads it, the whole text, with at least one digit. */
numrc lf_cfg_parse_double(const char *s, double *out);
/* Seconds: a number, or parts <number><unit> with units d, h, m, s in that order
 * ("90s", "30m", "2h", "1h30m", "1d 12h", "1.5h"). */
numrc lf_cfg_parse_duration(const char *s, double *out);

#endif
