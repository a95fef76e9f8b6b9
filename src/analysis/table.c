/* src/analysis/table.c: the text tables of analyze and run, with column widths taken from
 * the content (contract: latflow/table.h). */
#include "latflow/table.h"

#include "latflow/timer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAB_ROWS (LF_MAX_OBS + 2) /* header, observables, pole mass */
#define TAB_COLS 8
#define TAB_CELL 64
#define TAB_NOTE 200
#define TAB_GAP 2

/* A table being filled: cells right-aligned except column 0, a mark and a note per row. */
typedef struct tab {
  int ncol, nrow;
  char mark[TAB_ROWS];
  char cell[TAB_ROWS][TAB_COLS][TAB_CELL];
  char note[TAB_ROWS][TAB_NOTE];
} tab;

/* Formats into cell (row r, column c). */
static void cellf(tab *t, int r, int c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->cell[r][c], TAB_CELL, fmt, ap);
  va_end(ap);
}

/* "fmt" of v, or "-" when v is not finite. */
static void numcell(tab *t, int r, int c, const char *fmt, double v) {
  if (isfinite(v))
    cellf(t, r, c, fmt, v);
  else
    cellf(t, r, c, "-");
}

/* "%.4g" of v into buf, or "-" when v is not finite; returns buf. */
static const char *fmtnum(char *buf, size_t n, double v) {
  if (isfinite(v))
    snprintf(buf, n, "%.4g", v);
  else
    snprintf(buf, n, "-");
  return buf;
}

/* "v +- e" (value with digits significant digits, error %.2g), "-" parts where not finite,
 * "-" alone when neither is. */
static void pmcell(tab *t, int r, int c, double v, double e, int digits) {
  char a[32], b[32];
  if (!isfinite(v) && !isfinite(e)) { /* nothing to show */
    cellf(t, r, c, "-");
    return;
  }
  if (isfinite(v))
    snprintf(a, sizeof a, "%.*g", digits, v);
  else
    snprintf(a, sizeof a, "-");
  if (isfinite(e))
    snprintf(b, sizeof b, "%.2g", e);
  else
    snprintf(b, sizeof b, "-");
  cellf(t, r, c, "%s +- %s", a, b);
}

/* tau_int: 3 significant digits below 100, an integer above (never an exponent). */
static void taucell(tab *t, int r, int c, double tau) {
  numcell(t, r, c, isfinite(tau) && tau >= 100.0 ? "%.0f" : "%.3g", tau);
}

/* Appends to the string s (capacity n, length *len) what fits. */
static void put(char *s, size_t n, size_t *len, const char *fmt, ...) {
  if (*len >= n) return;
  va_list ap;
  va_start(ap, fmt);
  const int k = vsnprintf(s + *len, n - *len, fmt, ap);
  va_end(ap);
  if (k > 0) *len = *len + (size_t)k < n ? *len + (size_t)k : n - 1;
}

/* Renders t (plus the lines in tail) into a new string: widths from the content. */
static char *render(const tab *t, const char *tail) {
  int w[TAB_COLS] = {0};
  for (int r = 0; r < t->nrow; r++)
    for (int c = 0; c < t->ncol; c++) {
      const int l = (int)strlen(t->cell[r][c]);
      if (l > w[c]) w[c] = l;
    }
  size_t n = strlen(tail) + 1;
  for (int r = 0; r < t->nrow; r++) n += 4 + strlen(t->note[r]) + (TAB_GAP + TAB_CELL) * TAB_COLS;
  char *s = lf_alloc(n);
  if (!s) return NULL;
  size_t len = 0;
  s[0] = '\0';
  for (int r = 0; r < t->nrow; r++) {
    put(s, n, &len, "%c %-*s", t->mark[r] ? t->mark[r] : ' ', w[0], t->cell[r][0]);
    for (int c = 1; c < t->ncol; c++) put(s, n, &len, "%*s%*s", TAB_GAP, "", w[c], t->cell[r][c]);
    if (t->note[r][0]) put(s, n, &len, "%*s%s", TAB_GAP, "", t->note[r]);
    while (len > 0 && s[len - 1] == ' ') s[--len] = '\0'; /* no trailing blanks */
    put(s, n, &len, "\n");
  }
  put(s, n, &len, "%s", tail);
  return s;
}

/* The note of the pole-mass row of a after prefix: "fit of G(t) over t = a..b, chi2/dof =
 * c" (brief: without "fit of G(t) over "), or that there is no fit. */
static void pole_note(const lf_analysis *a, char *buf, size_t n, const char *prefix, int brief) {
  const char *fit = brief ? "" : "fit of G(t) over ";
  if (a->pole_tmin > 0 && isfinite(a->pole_chi2_dof))
    snprintf(buf, n, "%s%st = %d..%d, chi2/dof = %.2g", prefix, fit, a->pole_tmin, a->pole_tmax,
             a->pole_chi2_dof);
  else if (a->pole_tmin > 0)
    snprintf(buf, n, "%s%st = %d..%d (2 points, no chi2)", prefix, fit, a->pole_tmin, a->pole_tmax);
  else
    snprintf(buf, n, "%sno fit: see the warnings", prefix);
}

char *lf_table_analysis(const lf_analysis *a) {
  static const char *const head[] = {"observable", "mean",      "error", "tau_int",
                                     "+-",         "eff.samp.", "eff/s"};
  tab *t = lf_alloc(sizeof *t);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  t->ncol = 7;
  for (int c = 0; c < t->ncol; c++) cellf(t, 0, c, "%s", head[c]);
  t->nrow = 1;
  for (int k = 0; k < a->nobs && t->nrow < TAB_ROWS - 1; k++) {
    const lf_obs_stats *s = &a->obs[k];
    const int r = t->nrow++;
    t->mark[r] = s->warn ? '!' : ' ';
    cellf(t, r, 0, "%s", s->name);
    numcell(t, r, 1, "%.6g", s->g.value);
    numcell(t, r, 2, "%.3g", s->g.error);
    taucell(t, r, 3, s->g.tau_int);
    numcell(t, r, 4, "%.2g", s->g.tau_int_error);
    numcell(t, r, 5, "%.4g", s->eff_samples);
    numcell(t, r, 6, "%.4g", s->eff_per_s);
    if (s->g.flags & LF_GAMMA_BINNED) snprintf(t->note[r], TAB_NOTE, "(binned)");
  }
  if (a->nmeff >= 1) {
    const int r = t->nrow++;
    char note[TAB_NOTE - 2];
    t->mark[r] = (a->warn & LF_WARN_POLE) ? '!' : ' ';
    cellf(t, r, 0, "pole_mass");
    numcell(t, r, 1, "%.5g", a->pole_mass);
    numcell(t, r, 2, "%.2g", a->pole_mass_err);
    pole_note(a, note, sizeof note, "", 0);
    snprintf(t->note[r], TAB_NOTE, "(%s)", note);
  }
  char *s = render(t, "");
  lf_free(t);
  return s;
}

int lf_table_eff_obs(const lf_analysis *fa, const char **why) {
  for (int k = 0; k < fa->nobs; k++)
    if (!strcmp(fa->obs[k].name, "chi2") || !strcmp(fa->obs[k].name, "chi_t")) {
      *why = "the susceptibility, the usual figure of merit; every observable's is in --json";
      return k;
    }
  int kmin = -1;
  for (int k = 0; k < fa->nobs; k++)
    if (isfinite(fa->obs[k].eff_per_s) &&
        (kmin < 0 || fa->obs[k].eff_per_s < fa->obs[kmin].eff_per_s))
      kmin = k;
  *why = "the slowest observable of the flow ensemble";
  if (kmin < 0 && fa->nobs > 0) kmin = 0;
  return kmin;
}

char *lf_table_compare(const lf_analysis *fa, const lf_analysis *ha, const char *flow_label) {
  tab *t = lf_alloc(sizeof *t);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  t->ncol = ha ? 6 : 3;
  cellf(t, 0, 0, "observable");
  cellf(t, 0, 1, "%s", flow_label);
  cellf(t, 0, 2, "tau_int");
  if (ha) {
    cellf(t, 0, 3, "HMC");
    cellf(t, 0, 4, "tau_int");
    cellf(t, 0, 5, "z");
  }
  t->nrow = 1;
  for (int k = 0; k < fa->nobs && t->nrow < TAB_ROWS - 1; k++) {
    const lf_obs_stats *s = &fa->obs[k];
    const lf_obs_stats *h = ha && k < ha->nobs ? &ha->obs[k] : NULL;
    const int r = t->nrow++;
    t->mark[r] = s->warn || (h && h->warn) ? '!' : ' ';
    cellf(t, r, 0, "%s", s->name);
    pmcell(t, r, 1, s->g.value, s->g.error, 6);
    taucell(t, r, 2, s->g.tau_int);
    if (h) {
      pmcell(t, r, 3, h->g.value, h->g.error, 6);
      taucell(t, r, 4, h->g.tau_int);
      numcell(t, r, 5, "%+.2f", (s->g.value - h->g.value) / hypot(s->g.error, h->g.error));
    }
  }
  if (fa->nmeff >= 1) {
    const int r = t->nrow++;
    char nf[TAB_NOTE / 2 - 4], nh[TAB_NOTE / 2 - 4] = "";
    t->mark[r] = (fa->warn & LF_WARN_POLE) || (ha && (ha->warn & LF_WARN_POLE)) ? '!' : ' ';
    cellf(t, r, 0, "pole_mass");
    pmcell(t, r, 1, fa->pole_mass, fa->pole_mass_err, 5);
    pole_note(fa, nf, sizeof nf, "", 0);
    if (ha && ha->nmeff >= 1) {
      pmcell(t, r, 3, ha->pole_mass, ha->pole_mass_err, 5);
      numcell(t, r, 5, "%+.2f",
              (fa->pole_mass - ha->pole_mass) / hypot(fa->pole_mass_err, ha->pole_mass_err));
      pole_note(ha, nh, sizeof nh, "; HMC: ", 1);
    }
    snprintf(t->note[r], TAB_NOTE, "(%s%s)", nf, nh);
  }
  /* the legend and the effective samples per second, below the table */
  char tail[1024];
  size_t len = 0;
  tail[0] = '\0';
  if (ha)
    put(tail, sizeof tail, &len,
        "  z = (flow - HMC) / sqrt(err_flow^2 + err_HMC^2); |z| < 2 is agreement within errors\n");
  put(tail, sizeof tail, &len, "  '!' marks a row with a warning (listed below)\n");
  const char *why = "";
  const int k = lf_table_eff_obs(fa, &why);
  if (k >= 0) {
    const lf_obs_stats *s = &fa->obs[k];
    char b1[32], b2[32], b3[32];
    put(tail, sizeof tail, &len,
        "\neffective samples per second of %s (%s): flow %s (%s with training)", s->name, why,
        fmtnum(b1, sizeof b1, s->eff_per_s), fmtnum(b2, sizeof b2, s->eff_per_s_total));
    if (ha && k < ha->nobs)
      put(tail, sizeof tail, &len, ", HMC %s", fmtnum(b3, sizeof b3, ha->obs[k].eff_per_s));
    put(tail, sizeof tail, &len, "\n");
  }
  char *s = render(t, tail);
  lf_free(t);
  return s;
}
