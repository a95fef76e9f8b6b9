/* schema: records described by a field table (src/io/schema.h) round trip through HDF5.
 * A record with every lf_h5_type is gathered and scattered field by field; a record table
 * is created (each column with its stored type and description), appended in two calls,
 * read back exactly, its lengths checked, cut back and refused when shorter than asked;
 * unequal columns are LF_ERR_FORMAT naming both; attribute records round trip and a
 * missing attribute is refused; the one dataset API writes a FIXED 1-D dataset
 * (contiguous, as lf_h5_dset_write_1d) and reads it by rows; the ensemble's chain schema
 * has the five columns of every file plus the two that info.cg declares, each with its
 * kind's description. Files go to the current
 * directory, named by pid. */
#include "io/ens_private.h"
#include "io/schema.h"
#include "lftest.h"

#include <hdf5.h>
#include <stdint.h>
#include <string.h>

typedef struct rec {
  int8_t a;
  uint8_t b;
  int32_t c;
  int64_t d;
  uint64_t e;
  double f;
} rec;

#define F(m, t)                                                                                    \
  { #m, t, offsetof(rec, m), "field " #m }
static const lf_h5_field fields[] = {F(a, LF_H5_I8),  F(b, LF_H5_U8),  F(c, LF_H5_I32),
                                     F(d, LF_H5_I64), F(e, LF_H5_U64), F(f, LF_H5_F64)};
#undef F
#define NF (sizeof fields / sizeof fields[0])

/* Record i, every field distinct. */
static rec make(size_t i) {
  rec r;
  memset(&r, 0, sizeof r);
  r.a = (int8_t)(-(int)i);
  r.b = (uint8_t)(200 + i);
  r.c = -70000 * (int32_t)i;
  r.d = (int64_t)i << 40;
  r.e = UINT64_MAX - i;
  r.f = 0.1 * (double)i - 3.0;
  return r;
}

/* The n records x and y are equal field by field (padding is not compared). */
static int same(const rec *x, const rec *y, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (x[i].a != y[i].a || x[i].b != y[i].b || x[i].c != y[i].c || x[i].d != y[i].d ||
        x[i].e != y[i].e || memcmp(&x[i].f, &y[i].f, sizeof x[i].f) != 0)
      return 0;
  return 1;
}

/* The stored type of every column is its field's little-endian type. */
static void check_types(hid_t f) {
  for (size_t c = 0; c < NF; c++) {
    hid_t d = H5Dopen2(f, fields[c].name, H5P_DEFAULT), t = H5Dget_type(d);
    CHECK(H5Tequal(t, lf_h5_type_file(fields[c].type)) > 0 &&
              H5Tget_size(t) == lf_h5_type_size(fields[c].type),
          "column %s stored as its field type (%zu bytes)", fields[c].name,
          lf_h5_type_size(fields[c].type));
    H5Tclose(t);
    H5Dclose(d);
  }
}

static void test_gather_scatter(void) {
  rec in[3], out[3];
  unsigned char col[3 * LF_H5_MAX_SIZE];
  memset(out, 0, sizeof out);
  for (size_t i = 0; i < 3; i++) in[i] = make(i + 1);
  for (size_t c = 0; c < NF; c++) {
    lf_h5_field_gather(&fields[c], in, sizeof(rec), 3, col);
    lf_h5_field_scatter(&fields[c], out, sizeof(rec), 3, col);
  }
  CHECK(same(in, out, 3), "gather then scatter of every field restores 3 records");
  lf_h5_field_gather(&fields[3], in, sizeof(rec), 3, col);
  int64_t d1;
  memcpy(&d1, col + 8, 8);
  CHECK(d1 == in[1].d, "gathered column d is packed (value 1 = %lld)", (long long)d1);
}

static void test_table(const char *path) {
  lf_h5_quiet();
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t dset[NF];
  lf_h5_table t = {fields, NF, sizeof(rec), f, "/", "records", path, dset};
  lf_h5_table_init(&t);
  rec in[10], out[10];
  unsigned char scratch[10 * LF_H5_MAX_SIZE];
  for (size_t i = 0; i < 10; i++) in[i] = make(i);
  lf_status rc = lf_h5_table_create(&t, LF_H5_ROWS_LAZY, 4);
  CHECK(rc == LF_OK, "table created: %s", lf_status_str(rc));
  rc = lf_h5_table_append(&t, 0, 7, in, scratch, H5P_DEFAULT);
  if (rc == LF_OK) rc = lf_h5_table_append(&t, 7, 3, in + 7, scratch, H5P_DEFAULT);
  CHECK(rc == LF_OK, "10 records appended in two calls: %s", lf_status_str(rc));
  rc = lf_h5_table_close(&t, LF_OK);
  CHECK(rc == LF_OK && dset[0] == -1, "columns closed");
  check_types(f);
  char *desc = NULL;
  hid_t d = H5Dopen2(f, "e", H5P_DEFAULT);
  rc = lf_h5_attr_read_str(d, "description", &desc, path, "e");
  CHECK(rc == LF_OK && desc && strcmp(desc, "field e") == 0, "column e has its description");
  free(desc);
  H5Dclose(d);

  size_t n = 0;
  rc = lf_h5_table_len(&t, &n);
  CHECK(rc == LF_OK && n == 10, "table length %zu (10)", n);
  memset(out, 0, sizeof out);
  rc = lf_h5_table_read(&t, n, out, scratch);
  CHECK(rc == LF_OK && same(in, out, 10), "10 records read back exactly");

  rc = lf_h5_table_cut(&t, 12);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "has 10 records"),
        "cut to more rows than stored refused: %s", lf_last_error());
  lf_h5_table_close(&t, LF_OK);
  rc = lf_h5_table_cut(&t, 6);
  rc = lf_h5_table_close(&t, rc);
  if (rc == LF_OK) rc = lf_h5_table_len(&t, &n);
  CHECK(rc == LF_OK && n == 6, "cut back to 6 rows: %zu", n);

  /* one column longer than the others */
  d = H5Dopen2(f, "c", H5P_DEFAULT);
  rc = lf_h5_dset_append(d, H5T_NATIVE_INT32, 6, 1, &in[6].c, H5P_DEFAULT, path, "/c");
  H5Dclose(d);
  if (rc == LF_OK) rc = lf_h5_table_len(&t, &n);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "column /c has 7 records but /a has 6"),
        "unequal columns refused: %s", lf_last_error());
  H5Fclose(f);
}

static void test_attrs_and_fixed(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const rec in = make(5);
  rec out;
  memset(&out, 0, sizeof out);
  lf_status rc = lf_h5_attrs_write(f, fields, NF, &in, path, "/");
  if (rc == LF_OK) rc = lf_h5_attrs_read(f, fields, NF, &out, path, "/");
  CHECK(rc == LF_OK && same(&in, &out, 1), "attribute record round trip: %s", lf_status_str(rc));
  const lf_h5_field missing = {"nope", LF_H5_I64, 0, NULL};
  rc = lf_h5_attrs_read(f, &missing, 1, &out, path, "/");
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "nope"), "missing attribute refused: %s",
        lf_last_error());

  const double v[5] = {1, -2, 3.5, 1e300, -0.0};
  double back[5] = {0};
  rc = lf_h5_dset_write_1d(f, "fixed", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 5, v, path);
  hid_t d = H5Dopen2(f, "fixed", H5P_DEFAULT), dcpl = H5Dget_create_plist(d);
  CHECK(rc == LF_OK && H5Pget_layout(dcpl) == H5D_CONTIGUOUS, "whole 1-D dataset is contiguous");
  H5Pclose(dcpl);
  rc = lf_h5_dset_read_rows(d, H5T_NATIVE_DOUBLE, 1, 4, back, path, "fixed");
  CHECK(rc == LF_OK && memcmp(back, v + 1, 4 * sizeof *v) == 0, "rows [1, 5) read by rows");
  H5Dclose(d);
  rc = lf_h5_dset_read_1d(f, "fixed", H5T_NATIVE_DOUBLE, 4, back, path);
  CHECK(rc == LF_ERR_FORMAT && strstr(lf_last_error(), "has 5 values, expected 4"),
        "a whole read of the wrong length refused: %s", lf_last_error());
  H5Fclose(f);
}

static void test_chain_schema(void) {
  lf_ens_info in;
  lf_h5_field f[LF_ENS_NCOL];
  memset(&in, 0, sizeof in);
  in.kind = LF_ENS_HMC;
  size_t n = lf_ens_chain_schema(&in, f);
  CHECK(n == 5 && strcmp(f[LF_ENS_ROW].name, "row") == 0 && strcmp(f[4].name, "accepted") == 0,
        "chain columns without cg: %zu (row .. accepted)", n);
  CHECK(strcmp(f[1].desc, "per step: trajectory number") == 0, "hmc: id is the trajectory number");
  in.cg = 1;
  in.kind = LF_ENS_IMH;
  n = lf_ens_chain_schema(&in, f);
  CHECK(n == 7 && strcmp(f[5].name, "cg_iters") == 0 && strcmp(f[6].name, "cg_max") == 0 &&
            f[6].type == LF_H5_I64 && f[6].offset == offsetof(lf_ens_step, cg_max),
        "info.cg declares cg_iters and cg_max: %zu columns", n);
  CHECK(strcmp(f[1].desc, "per step: proposal id") == 0, "imh: id is the proposal id");
}

int main(void) {
  test_chain_schema();
  test_gather_scatter();
  test_table(lf_test_tname("test_schema", "table.h5"));
  test_attrs_and_fixed(lf_test_tname("test_schema", "attrs.h5"));
  lf_test_cleanup();
  return lf_test_result();
}
