/* test_table: the tables of latflow/table.h never run columns together. Fake analyses with
 * tau_int of 1234.5 and 123456, long values and NaNs are rendered; every row must split at
 * runs of two or more blanks into exactly the expected cells (the cells themselves hold
 * single blanks only, e.g. "0.75 +- 0.01"), each cell must end in the same column as its
 * header (right-aligned), and the legend explains z. The eff/s observable is chi2 for
 * phi^4, chi_t for the gauge theories, and the slowest one when neither is there. */
#include "latflow/table.h"
#include "latflow/timer.h"

#include "lftest.h"

#include <string.h>

/* A fake analysis: observables names[0..n-1] with the given tau_int and values. */
static void fake(lf_analysis *a, int n, const char *const *names, const double *tau, double v) {
  memset(a, 0, sizeof *a);
  a->nobs = n;
  for (int k = 0; k < n; k++) {
    lf_obs_stats *s = &a->obs[k];
    snprintf(s->name, sizeof s->name, "%s", names[k]);
    s->g.value = v * (k + 1);
    s->g.error = 1.234567e-7 * (k + 1);
    s->g.tau_int = tau[k];
    s->g.tau_int_error = 0.1 * tau[k];
    s->eff_samples = 1e6 / (k + 1);
    s->eff_per_s = 123456.7 / (k + 1);
    s->eff_per_s_total = 1.0 / (k + 1);
  }
  a->ncorr = 16;
  a->nmeff = 7;
  a->pole_t = a->pole_tmin = 3;
  a->pole_tmax = 8;
  a->pole_mass = 0.41234;
  a->pole_mass_err = 0.0012;
  a->pole_chi2_dof = 0.87;
}

/* Splits line at runs of >= 2 blanks (after the 2-character mark) into cells: their count,
 * and in end[] the column after each cell's last character. */
static int split(const char *line, size_t len, int *end, int max) {
  int n = 0;
  size_t i = 2;
  while (i < len) {
    while (i < len && line[i] == ' ') i++;
    if (i >= len) break;
    while (i < len && !(line[i] == ' ' && (i + 1 >= len || line[i + 1] == ' '))) i++;
    if (n < max) end[n] = (int)i;
    n++;
  }
  return n;
}

/* Checks the first nrow lines of s: cols cells each (the last, the pole row: pole_cols with
 * its note; empty cells are blank), right edges of columns 1.. equal to the header's (of the
 * pole row: its value's). */
static void check_table(const char *what, const char *s, int nrow, int cols, int pole_cols) {
  int hend[16] = {0};
  const char *p = s;
  for (int r = 0; r < nrow; r++) {
    const char *nl = strchr(p, '\n');
    const size_t len = nl ? (size_t)(nl - p) : strlen(p);
    int end[16] = {0};
    const int n = split(p, len, end, 16);
    const int want = r == nrow - 1 ? pole_cols : cols;
    int aligned = 1;
    if (r == 0)
      memcpy(hend, end, sizeof hend);
    else
      for (int c = 1; c < (r == nrow - 1 ? 2 : cols) && c < n; c++) aligned &= end[c] == hend[c];
    CHECK(n == want && aligned, "%s row %d: %d cells (want %d), right edges aligned %d: %.*s", what,
          r, n, want, aligned, (int)len, p);
    if (!nl) break;
    p = nl + 1;
  }
}

int main(void) {
  static const char *const phi4[] = {"phi2", "mag", "abs_mag", "chi2", "energy"};
  const double tau[] = {1234.5, 123456.0, 0.5, 99.9, 1e7};
  lf_analysis fa, ha;
  fake(&fa, 5, phi4, tau, -1.23456789e-5);
  fake(&ha, 5, phi4, tau, -1.23456e-5);
  ha.obs[1].g.value = NAN; /* a NaN prints as "-" and still takes a cell */
  char *s = lf_table_compare(&fa, &ha, "flow (IMH)");
  CHECK(s != NULL, "compare table rendered");
  if (s) {
    fprintf(stderr, "%s", s);
    /* header + 5 observables + pole row: 6 columns; pole: value, HMC value, z, note */
    check_table("compare", s, 7, 6, 5);
    CHECK(strstr(s, " 123456 ") && strstr(s, " 1234 ") && strstr(s, " 10000000 ") &&
              !strstr(s, "1.23e+0") && !strstr(s, "1e+07"),
          "tau_int >= 100 printed as integers (no exponent)");
    CHECK(strstr(s, "z = (flow - HMC) / sqrt(err_flow^2 + err_HMC^2)") &&
              strstr(s, "|z| < 2 is agreement within errors"),
          "the legend explains z");
    CHECK(strstr(s, "(fit of G(t) over t = 3..8, chi2/dof = 0.87; HMC: t = 3..8, chi2/dof = 0.87)"),
          "the pole row names both fits");
    CHECK(strstr(s, "effective samples per second of chi2 (the susceptibility"),
          "eff/s names chi2 for phi^4 and says why");
    lf_free(s);
  }
  s = lf_table_analysis(&fa);
  CHECK(s != NULL, "analysis table rendered");
  if (s) {
    fprintf(stderr, "%s", s);
    /* header + 5 + pole row (name, mean, error, note) */
    check_table("analysis", s, 7, 7, 4);
    lf_free(s);
  }
  static const char *const u1[] = {"plaq", "topo", "chi_t"};
  lf_analysis ua;
  fake(&ua, 3, u1, tau, 0.5);
  const char *why = NULL;
  CHECK(lf_table_eff_obs(&ua, &why) == 2, "u1: eff/s of chi_t (%s)", why);
  static const char *const two[] = {"plaq", "topo"};
  fake(&ua, 2, two, tau, 0.5);
  CHECK(lf_table_eff_obs(&ua, &why) == 1, "u1 without chi_t: the slowest, topo (%s)", why);
  ua.nmeff = 0;
  s = lf_table_compare(&ua, NULL, "flow (IMH)");
  CHECK(s && !strstr(s, "z = ") && !strstr(s, "pole_mass") && strstr(s, "of topo"),
        "flow only, no correlator: no z legend, no pole row");
  if (s) fprintf(stderr, "%s", s);
  lf_free(s);
  return lf_test_result();
}
