/* src/flow/model_arch.c: the model architecture, described once (contract: latflow/model.h).
 *
 * One row per field that decides what a model's arenas mean, or that a model file
 * repeats for people and tools: its name, type and place in lf_model, the names of an
 * enum's values, and the uses it takes part in. The /model attributes of a model file
 * (src/io/model_io.c), the trainer checkpoint's architecture record (src/train), the
 * model hash and the compatibility check of a parameter transfer all read this table, so
 * a new field is one row. The positions in the hash and in the record are those the
 * files written so far have (changing them changes every hash and refuses every
 * checkpoint); spline_bins is in neither on its own: it sets nparams (3K net outputs per
 * layer), which is in both. */
#include "latflow/model.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(lf_base_kind) == sizeof(int), "enums are read as int");
_Static_assert(sizeof(lf_act_kind) == sizeof(int), "enums are read as int");
_Static_assert(sizeof(lf_coupling_kind) == sizeof(int), "enums are read as int");
_Static_assert(sizeof(lf_init_kind) == sizeof(int), "enums are read as int");
_Static_assert(sizeof(lf_precision) == sizeof(int), "enums are read as int");

static const char *const BASE_NAMES[] = {"normal", "free_field", "haar", "plaquette", NULL};
static const char *const ACT_NAMES[] = {"leaky_relu", "tanh", NULL};
static const char *const COUPLING_NAMES[] = {"affine", "spline", NULL};
static const char *const INIT_NAMES[] = {"kaiming", "xavier", NULL};
static const char *const PREC_NAMES[] = {"single", "double", NULL};

#define M(f) offsetof(lf_model, f)
#define A LF_ARCH_ATTR
#define S LF_ARCH_SAME
/* name, type, offset in lf_model, enum names, hash position, record position, uses */
static const lf_model_arch_field ARCH[] = {
    {"C", LF_ARCH_INT, M(C), NULL, 0, 0, A},
    {"L0", LF_ARCH_INT, M(L0), NULL, 1, 1, 0}, /* attribute "shape" with L1 */
    {"L1", LF_ARCH_INT, M(L1), NULL, 2, 2, 0},
    {"base", LF_ARCH_ENUM, M(cfg.base), BASE_NAMES, 3, 3, A | S},
    {"base_mass", LF_ARCH_REAL, M(cfg.base_mass), NULL, -1, -1, A},
    {"base_beta", LF_ARCH_REAL, M(cfg.base_beta), NULL, -1, -1, A},
    {"layers", LF_ARCH_INT, M(cfg.layers), NULL, 4, 4, A | S},
    {"nhidden", LF_ARCH_INT, M(cfg.nhidden), NULL, 5, 11, S},
    {"hidden", LF_ARCH_INTS, M(cfg.hidden), NULL, 11, 12, A | S}, /* nhidden entries */
    {"kernel", LF_ARCH_INT, M(cfg.kernel), NULL, 6, 5, A | S},
    {"activation", LF_ARCH_ENUM, M(cfg.activation), ACT_NAMES, 7, 6, A | S},
    {"coupling", LF_ARCH_ENUM, M(cfg.coupling), COUPLING_NAMES, 8, 7, A | S},
    {"spline_bins", LF_ARCH_INT, M(cfg.spline_bins), NULL, -1, -1, LF_ARCH_SAME_SPLINE},
    {"init", LF_ARCH_ENUM, M(cfg.init), INIT_NAMES, -1, -1, A},
    {"init_scale", LF_ARCH_REAL, M(cfg.init_scale), NULL, -1, -1, A},
    {"precision", LF_ARCH_ENUM, M(cfg.precision), PREC_NAMES, 9, 8, A},
    {"nparams", LF_ARCH_SIZE, M(nparams), NULL, 10, 9, A},
    {"real_size", LF_ARCH_SIZE, M(real_size), NULL, -1, 10, 0},
    {"nbase", LF_ARCH_SIZE, M(nbase), NULL, -1, -1, A},
};
#undef M
#undef A
#undef S

const lf_model_arch_field *lf_model_arch_fields(size_t *n) {
  *n = sizeof ARCH / sizeof ARCH[0];
  return ARCH;
}

const lf_model_arch_field *lf_model_arch_find(const char *name) {
  for (size_t i = 0; i < sizeof ARCH / sizeof ARCH[0]; i++)
    if (!strcmp(ARCH[i].name, name)) return &ARCH[i];
  return NULL;
}

const char *lf_model_arch_value_name(const lf_model_arch_field *f, int64_t v) {
  if (!f || !f->names || v < 0) return "unknown";
  for (int64_t k = 0; f->names[k]; k++)
    if (k == v) return f->names[k];
  return "unknown";
}

/* The value of a scalar field (INT, ENUM, SIZE) of the object at base (an lf_model, or an
 * lf_model_cfg with shift = offsetof(lf_model, cfg)). */
static int64_t value_at(const void *base, const lf_model_arch_field *f, size_t shift) {
  const char *p = (const char *)base + (f->offset - shift);
  if (f->type == LF_ARCH_SIZE) {
    size_t s;
    memcpy(&s, p, sizeof s);
    return (int64_t)s;
  }
  int x;
  memcpy(&x, p, sizeof x);
  return x;
}

int64_t lf_model_arch_value(const lf_model *m, const lf_model_arch_field *f) {
  return value_at(m, f, 0);
}

int lf_model_cfg_same_arch(const lf_model_cfg *a, const lf_model_cfg *b) {
  const size_t shift = offsetof(lf_model, cfg);
  for (size_t i = 0; i < sizeof ARCH / sizeof ARCH[0]; i++) {
    const lf_model_arch_field *f = &ARCH[i];
    if (!(f->uses & (LF_ARCH_SAME | LF_ARCH_SAME_SPLINE))) continue;
    if ((f->uses & LF_ARCH_SAME_SPLINE) && a->coupling != LF_COUPLING_SPLINE) continue;
    if (f->type != LF_ARCH_INTS) {
      if (value_at(a, f, shift) != value_at(b, f, shift)) return 0;
      continue;
    }
    const int *ha = (const int *)((const char *)a + (f->offset - shift));
    const int *hb = (const int *)((const char *)b + (f->offset - shift));
    for (int k = 0; k < a->nhidden && k < LF_MAX_HIDDEN; k++)
      if (ha[k] != hb[k]) return 0;
  }
  return 1;
}

/* Appends the values of the field at position pos (hash or record, by `record`) to out,
 * the hidden widths expanded; returns the count appended, or -1 when no field has pos. */
static int field_values(const lf_model *m, int pos, int record, int64_t *out) {
  for (size_t i = 0; i < sizeof ARCH / sizeof ARCH[0]; i++) {
    const lf_model_arch_field *f = &ARCH[i];
    if ((record ? f->record : f->hash) != pos) continue;
    if (f->type != LF_ARCH_INTS) {
      out[0] = lf_model_arch_value(m, f);
      return 1;
    }
    const int *h = (const int *)((const char *)m + f->offset);
    int n = 0;
    for (; n < m->cfg.nhidden && n < LF_MAX_HIDDEN; n++) out[n] = h[n];
    return n;
  }
  return -1;
}

/* The fields of the hash or of the record in position order. */
static size_t arch_values(const lf_model *m, int record, int64_t *out) {
  size_t n = 0;
  for (int pos = 0;; pos++) {
    const int k = field_values(m, pos, record, out + n);
    if (k < 0) return n;
    n += (size_t)k;
  }
}

size_t lf_model_arch_record(const lf_model *m, int64_t *rec) {
  return arch_values(m, 1, rec);
}

void lf_model_arch_text(const int64_t *rec, size_t n, char *buf, size_t bn) {
  const int hid = lf_model_arch_find("hidden")->record;
  if (n < (size_t)hid) {
    snprintf(buf, bn, "(unreadable architecture record)");
    return;
  }
#define R(name) ((long long)rec[lf_model_arch_find(name)->record])
  int w = snprintf(buf, bn, "%lldx%lld, %lld layers, kernel %lld, %s, %lld parameters, hidden [",
                   R("L0"), R("L1"), R("layers"), R("kernel"),
                   R("precision") == LF_PREC_F32 ? "single" : "double", R("nparams"));
#undef R
  for (size_t k = (size_t)hid; k < n && w > 0 && (size_t)w < bn; k++)
    w +=
        snprintf(buf + w, bn - (size_t)w, "%s%lld", k > (size_t)hid ? ", " : "", (long long)rec[k]);
  if (w > 0 && (size_t)w < bn) snprintf(buf + w, bn - (size_t)w, "]");
}

/* FNV-1a, 64 bit */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= (uint64_t)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* An int as 4 little-endian bytes, so the hash does not depend on the host's int. */
static uint64_t fnv1a_int(uint64_t h, int x) {
  const uint32_t u = (uint32_t)x;
  const unsigned char b[4] = {(unsigned char)(u & 0xffu), (unsigned char)((u >> 8) & 0xffu),
                              (unsigned char)((u >> 16) & 0xffu), (unsigned char)(u >> 24)};
  return fnv1a(h, b, 4);
}

uint64_t lf_model_hash(const lf_model *m) {
  uint64_t h = 14695981039346656037ULL;
  int64_t a[LF_MODEL_ARCH_MAX];
  const size_t n = arch_values(m, 0, a);
  for (size_t i = 0; i < n; i++) h = fnv1a_int(h, (int)a[i]);
  return fnv1a(h, m->params, m->nparams * m->real_size);
}
