/* Two ensembles of the same physics side by side (latflow/plot.h; shared pieces in
 * plot_impl.h), usually a flow ensemble and HMC: for every observable both have (and the
 * pole mass when both have one), the two estimates with their errors and the z of their
 * difference, one PNG each; and the effective samples per second of every observable
 * (latflow/analyze.h: Var(O) / error^2 per second of generation), for a flow ensemble also
 * with its training time included, on a log scale. */
#include "plot_impl.h"

#include "latflow/theory.h"

#include <math.h>
#include <string.h>

/* The index of the observable called name in a, or -1. */
static int find_obs(const lf_analysis *a, const char *name) {
  for (int k = 0; k < a->nobs; k++)
    if (!strcmp(a->obs[k].name, name)) return k;
  return -1;
}

/* The first difference of theory, lattice, couplings (lf_theory_cfg_same_physics), or no
 * observable in common: LF_ERR_USAGE naming both files (plot_impl.h). */
lf_status lf_plot_compare_check(const lf_plot_side s[2]) {
  const lf_ens_info *x = &s[0].e->info, *y = &s[1].e->info;
  char what[64], va[64], vb[64];
  lf_theory_diff d;
  if (strcmp(x->theory, y->theory)) {
    snprintf(what, sizeof what, "the theory");
    snprintf(va, sizeof va, "%s", x->theory);
    snprintf(vb, sizeof vb, "%s", y->theory);
  } else if (x->C != y->C || x->L0 != y->L0 || x->L1 != y->L1) {
    snprintf(what, sizeof what, "the lattice");
    snprintf(va, sizeof va, "%dx%d (%d per site)", x->L0, x->L1, x->C);
    snprintf(vb, sizeof vb, "%dx%d (%d per site)", y->L0, y->L1, y->C);
  } else if (!lf_theory_cfg_same_physics(&s[0].e->cfg.theory, &s[1].e->cfg.theory, &d)) {
    snprintf(what, sizeof what, "%s", d.key);
    snprintf(va, sizeof va, "%s", d.a);
    snprintf(vb, sizeof vb, "%s", d.b);
  } else {
    for (int k = 0; k < s[0].a->nobs; k++)
      if (find_obs(s[1].a, s[0].a->obs[k].name) >= 0) return LF_OK;
    return LF_FAIL(LF_ERR_USAGE, "plot: cannot compare '%s' and '%s': no observable in common",
                   s[0].path, s[1].path);
  }
  return LF_FAIL(LF_ERR_USAGE,
                 "plot: cannot compare '%s' and '%s': %s differs ('%s' has %s, '%s' has %s); "
                 "compare two ensembles of the same theory, lattice and couplings",
                 s[0].path, s[1].path, what, s[0].path, va, s[1].path, vb);
}

/* The legend name of side i: its kind, and which file when both are of one kind. */
static void side_label(char *buf, size_t n, const lf_plot_side s[2], int i) {
  static const char *const kind[] = {"flow (IMH)", "flow (reweighting)", "HMC"};
  const lf_ens_kind k = s[i].e->info.kind;
  if (k == s[1 - i].e->info.kind)
    snprintf(buf, n, "%s, %s file", kind[k], i ? "2nd" : "1st");
  else
    snprintf(buf, n, "%s", kind[k]);
}

/* One row of compare_obs.dat: the estimates (value, error) of both sides and their z; 1
 * if at least one value is finite (something to plot). */
static int obs_row(FILE *f, int i, const char *name, double va, double ea, double vb, double eb) {
  fprintf(f, "%d %s %.10g %.4g %.10g %.4g %.4g\n", i, name, va, ea, vb, eb,
          (va - vb) / hypot(ea, eb));
  return isfinite(va) || isfinite(vb);
}

/* The PNG compare_<name>.png of row i of compare_obs.dat (plotted: something finite). */
static lf_status obs_png(FILE *gp, const char *dir, const char lab[2][64], int i, const char *name,
                         double z, int plotted) {
  char out[96], title[256];
  snprintf(out, sizeof out, "compare_%s", name);
  snprintf(title, sizeof title, "%s: %s vs %s, z = %+.2f (difference / combined error)", name,
           lab[0], lab[1], z);
  const lf_status rc = lf_plot_png(gp, dir, out, title, "", name);
  if (rc != LF_OK) return rc;
  if (!plotted) {
    lf_plot_placeholder(gp, "no finite estimate in either file");
    return LF_OK;
  }
  fprintf(gp,
          "set xrange [0.5:2.5]\nset xtics (\"%s\" 1, \"%s\" 2)\nset offsets 0, 0, graph 0.1, "
          "graph 0.1\nplot 'compare_obs.dat' every ::%d::%d u (1):3:4 w yerrorbars pt 7 ps 1.5 lw "
          "2 lc rgb '#000080' t \"%s\", '' every ::%d::%d u (2):5:6 w yerrorbars pt 5 ps 1.5 lw 2 "
          "lc rgb '#c00000' t \"%s\"\n",
          lab[0], lab[1], i, i, lab[0], i, i, lab[1]);
  return LF_OK;
}

/* compare_eff.dat and compare_eff.png: effective samples per second of the m observables
 * in common (ka, kb: their indexes on each side), log scale; with the training time as a
 * second point for a flow ensemble. */
static lf_status eff_png(FILE *gp, const char *dir, const lf_plot_side s[2], const char lab[2][64],
                         const int *ka, const int *kb, int m) {
  FILE *f = NULL;
  lf_status rc = lf_plot_open_out(&f, dir, "compare_eff.dat");
  if (rc != LF_OK) return rc;
  fprintf(f,
          "# i observable eff_per_s_1 eff_per_s_total_1 eff_per_s_2 eff_per_s_total_2  "
          "(1: %s, 2: %s)\n",
          s[0].path, s[1].path);
  int pos = 0, total[2] = {0, 0};
  for (int i = 0; i < m; i++) {
    const lf_obs_stats *x = &s[0].a->obs[ka[i]], *y = &s[1].a->obs[kb[i]];
    fprintf(f, "%d %s %.6g %.6g %.6g %.6g\n", i + 1, x->name, x->eff_per_s, x->eff_per_s_total,
            y->eff_per_s, y->eff_per_s_total);
    pos += (x->eff_per_s > 0 && isfinite(x->eff_per_s)) ||
           (y->eff_per_s > 0 && isfinite(y->eff_per_s));
    total[0] += x->eff_per_s_total > 0 && isfinite(x->eff_per_s_total);
    total[1] += y->eff_per_s_total > 0 && isfinite(y->eff_per_s_total);
  }
  if ((rc = lf_plot_close_out(f, dir, "compare_eff.dat")) != LF_OK) return rc;
  if ((rc = lf_plot_png(gp, dir, "compare_eff",
                        "effective samples per second: Var(O) / error^2 / generation seconds "
                        "(open: training time included)",
                        "observable", "effective samples per second")) != LF_OK)
    return rc;
  if (!pos) {
    lf_plot_placeholder(gp, "no positive effective samples per second");
    return LF_OK;
  }
  fprintf(gp,
          "set logscale y\nset xrange [0.5:%d.5]\nset offsets 0, 0, graph 0.1, graph 0.1\n"
          "plot 'compare_eff.dat' u 1:(1/0):xtic(2) notitle, '' u ($1-0.15):3 w p pt 7 ps "
          "1.6 lc rgb '#000080' t \"%s\"",
          m, lab[0]);
  if (total[0])
    fprintf(gp, ", '' u ($1-0.15):4 w p pt 6 ps 1.6 lw 2 lc rgb '#000080' t \"%s, with training\"",
            lab[0]);
  fprintf(gp, ", '' u ($1+0.15):5 w p pt 5 ps 1.6 lc rgb '#c00000' t \"%s\"", lab[1]);
  if (total[1])
    fprintf(gp, ", '' u ($1+0.15):6 w p pt 4 ps 1.6 lw 2 lc rgb '#c00000' t \"%s, with training\"",
            lab[1]);
  fputs("\n", gp);
  return LF_OK;
}

/* compare_obs.dat and one PNG per observable in common (and the pole mass), then
 * compare_eff (plot_impl.h). */
lf_status lf_plot_compare_write(FILE *gp, const char *dir, const lf_plot_side s[2]) {
  char lab[2][64];
  side_label(lab[0], sizeof lab[0], s, 0);
  side_label(lab[1], sizeof lab[1], s, 1);
  const lf_analysis *a = s[0].a, *b = s[1].a;
  int ka[LF_MAX_OBS], kb[LF_MAX_OBS], m = 0, plotted[LF_MAX_OBS + 1];
  double z[LF_MAX_OBS + 1];
  FILE *f = NULL;
  lf_status rc = lf_plot_open_out(&f, dir, "compare_obs.dat");
  if (rc != LF_OK) return rc;
  fprintf(f, "# i observable value_1 error_1 value_2 error_2 z  (1: %s, 2: %s)\n", s[0].path,
          s[1].path);
  /* the observables of the first file that the second has too, in the first's order */
  for (int k = 0; k < a->nobs; k++) {
    const int j = find_obs(b, a->obs[k].name);
    if (j < 0) continue;
    const lf_gamma_result *x = &a->obs[k].g, *y = &b->obs[j].g;
    plotted[m] = obs_row(f, m, a->obs[k].name, x->value, x->error, y->value, y->error);
    z[m] = (x->value - y->value) / hypot(x->error, y->error);
    ka[m] = k;
    kb[m++] = j;
  }
  const int pole = a->pole_t > 0 && b->pole_t > 0;
  if (pole) {
    plotted[m] =
        obs_row(f, m, "pole_mass", a->pole_mass, a->pole_mass_err, b->pole_mass, b->pole_mass_err);
    z[m] = (a->pole_mass - b->pole_mass) / hypot(a->pole_mass_err, b->pole_mass_err);
  }
  if ((rc = lf_plot_close_out(f, dir, "compare_obs.dat")) != LF_OK) return rc;
  for (int i = 0; i < m + pole && rc == LF_OK; i++)
    rc = obs_png(gp, dir, (const char(*)[64])lab, i, i < m ? a->obs[ka[i]].name : "pole_mass", z[i],
                 plotted[i]);
  if (rc == LF_OK) rc = eff_png(gp, dir, s, (const char(*)[64])lab, ka, kb, m);
  return rc;
}
