/* The overlay plots of a study file (latflow/plot.h, lf_plot_study; shared pieces in
 * plot_impl.h): every point's fresh-sample ESS and acceptance against the samples flowed
 * through training, the final ESS and the training cost to each target against the
 * study's x parameter, and with volume transfer the ESS against V with the law
 * ESS(V) = ESS(V0)^(V/V0) (fitted, and anchored at the largest V) and the mass against L.
 * Each plot's data go to one .dat file, one block per line (gnuplot's `index`); only
 * finite values are written, and a plot with nothing to draw says so. */
#include "plot_impl.h"

#include "latflow/study.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The x value of every point: its set value for the x key, or the point index when a
 * point lacks a numeric value (then *numeric = 0 and the x tics are the labels). */
typedef struct study_x {
  const char *key; /* spec.x, or the first grid key ("" if none) */
  int numeric;
  double *x;   /* (npoints) */
  int *series; /* (npoints): the line of the point in the plots against x */
  int nseries;
  char (*label)[LF_STUDY_LABEL_MAX]; /* (npoints): the label of each series */
} study_x;

/* A gnuplot single-quoted string of s ('' for a quote). */
static void gp_str(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputc('\'', f);
    fputc(*s, f);
  }
  fputc('\'', f);
}

/* Log-scale tics at 1, 2 and 5 times every power of ten from 10^lo to 10^hi on axis
 * ("x", "y"): gnuplot's own tics are the powers of ten alone, none within a decade. */
static void log_tics(FILE *gp, const char *axis, int lo, int hi) {
  fprintf(gp, "set logscale %s\nset format %s '%%g'\nset %stics (", axis, axis, axis);
  for (int e = lo; e <= hi; e++) fprintf(gp, "%s1e%d, 2e%d, 5e%d", e > lo ? ", " : "", e, e, e);
  fputs(")\n", gp);
}

/* The key: inside at corner when there are few lines, else outside on the right. */
static void key_place(FILE *gp, int lines, const char *corner) {
  fprintf(gp, "set key %s\n", lines <= 8 ? corner : "outside right top");
}

/* 1 when the protocol chains costs (root or sequential): the curves use chain N_train. */
static int chained(const lf_study *st) {
  return st->spec->protocol != LF_STUDY_SCRATCH;
}

/* The series (lines) of the plots against x: points with the same case and the same grid
 * values in every key but x lie on one line, labelled with the case and those values. A
 * point's overrides are its case's, then one per grid key in key order. */
static lf_status study_series(const lf_study *st, study_x *sx) {
  const lf_study_spec *sp = st->spec;
  const int n = st->npoints ? st->npoints : 1;
  sx->series = calloc((size_t)n, sizeof *sx->series);
  sx->label = calloc((size_t)n, sizeof *sx->label);
  if (!sx->series || !sx->label) return LF_FAIL(LF_ERR_NOMEM, "series of %d points", n);
  int ngrid = 1;
  for (int i = 0; i < sp->nkeys; i++) ngrid *= sp->nvalues[i] > 0 ? sp->nvalues[i] : 1;
  sx->nseries = 0;
  for (int k = 0; k < st->npoints; k++) {
    const lf_study_point *p = &st->points[k];
    char lab[LF_STUDY_LABEL_MAX] = "";
    size_t used = 0;
    const int c = sp->ncases > 0 ? p->index / ngrid : -1;
    if (c >= 0 && c < sp->ncases)
      used += (size_t)snprintf(lab, sizeof lab, "%s", sp->cases[c].label);
    for (int i = 0, g = p->nset - sp->nkeys; i < sp->nkeys && g + i >= 0; i++) {
      const lf_study_set *e = &p->set[g + i];
      if (!strcmp(e->key, sx->key) || used >= sizeof lab) continue;
      used += (size_t)snprintf(lab + used, sizeof lab - used, "%s%s=%s", used ? ", " : "", e->key,
                               e->value);
    }
    int j = 0;
    while (j < sx->nseries && strcmp(sx->label[j], lab) != 0) j++;
    if (j == sx->nseries) snprintf(sx->label[sx->nseries++], LF_STUDY_LABEL_MAX, "%s", lab);
    sx->series[k] = j;
  }
  return LF_OK;
}

/* Fills sx (sx->x allocated) from the points' overrides. */
static lf_status study_x_values(const lf_study *st, study_x *sx) {
  sx->key = st->spec->x[0] ? st->spec->x : (st->spec->nkeys > 0 ? st->spec->keys[0] : "");
  sx->numeric = sx->key[0] != '\0';
  sx->x = calloc((size_t)(st->npoints ? st->npoints : 1), sizeof *sx->x);
  if (!sx->x) return LF_FAIL(LF_ERR_NOMEM, "x values of %d points", st->npoints);
  for (int k = 0; k < st->npoints; k++) {
    const lf_study_point *p = &st->points[k];
    const char *v = NULL;
    for (int s = 0; s < p->nset; s++)
      if (!strcmp(p->set[s].key, sx->key)) v = p->set[s].value;
    char *end = NULL;
    sx->x[k] = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !isfinite(sx->x[k])) sx->numeric = 0;
  }
  if (!sx->numeric)
    for (int k = 0; k < st->npoints; k++) sx->x[k] = st->points[k].index;
  return study_series(st, sx);
}

/* With a non-numeric x: the points' labels as x tics. */
static void label_tics(FILE *gp, const lf_study *st, const study_x *sx) {
  if (sx->numeric) return;
  fputs("set xtics rotate by -30 (", gp);
  for (int k = 0; k < st->npoints; k++) {
    if (k) fputs(", ", gp);
    gp_str(gp, st->points[k].label);
    fprintf(gp, " %d", st->points[k].index);
  }
  fputs(")\nset autoscale xfixmin\nset offsets 0.5, 0.5, 0, 0\n", gp);
}

/* study_curves.dat (a block per point with a curve: N_train, chain N_train, ESS,
 * acceptance, step) and the plots of ESS and acceptance against N_train. */
static lf_status curves_plots(FILE *gp, const char *dir, const lf_study *st) {
  FILE *f = NULL;
  lf_status rc = lf_plot_open_out(&f, dir, "study_curves.dat");
  if (rc != LF_OK) return rc;
  const int chain = chained(st);
  int *block = calloc((size_t)(st->npoints ? st->npoints : 1), sizeof *block), nb = 0;
  if (!block) {
    fclose(f);
    return LF_FAIL(LF_ERR_NOMEM, "curves of %d points", st->npoints);
  }
  fputs("# n_train n_train_chain ess acceptance step; one block per point (gnuplot index)\n", f);
  for (int k = 0; k < st->npoints; k++) {
    const lf_study_result *r = &st->results[k];
    const int64_t off =
        r->n_train >= 0 && r->n_train_chain >= 0 ? r->n_train_chain - r->n_train : 0;
    int rows = 0;
    for (size_t e = 0; e < r->ncurve; e++) {
      const lf_train_eval_record *c = &r->curve[e];
      if (c->n_train + (chain ? off : 0) <= 0 || !isfinite(c->ess)) continue;
      if (!rows++) fprintf(f, "%s# point %d\n", nb ? "\n\n" : "", st->points[k].index);
      fprintf(f, "%lld %lld %.10g %.10g %lld\n", (long long)c->n_train,
              (long long)(c->n_train + off), c->ess, c->acceptance, (long long)c->step);
    }
    block[k] = rows ? nb++ : -1;
  }
  rc = lf_plot_close_out(f, dir, "study_curves.dat");
  const char *xl = chain ? "samples flowed through training, ancestors included (N_train, chain)"
                         : "samples flowed through training (N_train)";
  for (int which = 0; which < 2 && rc == LF_OK; which++) {
    rc = lf_plot_png(gp, dir, which ? "study_acceptance_vs_ntrain" : "study_ess_vs_ntrain",
                     which ? "IMH acceptance on fresh samples during training, every point"
                           : "fresh-sample ESS during training, every point",
                     xl, which ? "IMH acceptance" : "ESS fraction");
    if (rc != LF_OK) break;
    if (!nb) {
      lf_plot_placeholder(gp, "no point has a finite evaluation yet");
      continue;
    }
    log_tics(gp, "x", 0, 15);
    key_place(gp, nb + (which ? 0 : st->spec->ntargets), "top left");
    fputs("set yrange [0:*]\nplot", gp);
    int first = 1;
    for (int k = 0; k < st->npoints; k++) {
      if (block[k] < 0) continue;
      fprintf(gp, "%s 'study_curves.dat' index %d u %d:%d w lp pt 7 ps 0.8 lw 2 t ",
              first ? "" : ",", block[k], chain ? 2 : 1, which ? 4 : 3);
      gp_str(gp, st->points[k].label);
      first = 0;
    }
    for (int j = 0; j < st->spec->ntargets && !which; j++)
      fprintf(gp, ", %.10g w l dt 2 lw 1.5 lc rgb '#808080' t 'target ESS %g'",
              st->spec->targets[j], st->spec->targets[j]);
    fputs("\n", gp);
  }
  free(block);
  return rc;
}

/* study_x.dat (a block per series: x, final ESS, its error, index, effective samples per
 * second of flow sampling) and study_cost.dat
 * (a block per series and target: x, N_train to the target), and their plots. */
static lf_status x_plots(FILE *gp, const char *dir, const lf_study *st, const study_x *sx) {
  const int nc = sx->nseries, nt = st->spec->ntargets;
  /* the cost to a target: a point's own retraining for protocol root (the root's cost is
   * the same for every point and would only shift the curves), the whole chain for a
   * sequential study (each point's cost includes its predecessors') */
  const int chain = st->spec->protocol == LF_STUDY_SEQUENTIAL;
  int nx = 0, ncost = 0;
  int *xblock = calloc((size_t)(nc ? nc : 1), sizeof *xblock);
  int *cblock = calloc((size_t)(nc ? nc : 1) * LF_STUDY_MAX_TARGETS, sizeof *cblock);
  FILE *f = NULL;
  lf_status rc = xblock && cblock ? lf_plot_open_out(&f, dir, "study_x.dat")
                                  : LF_FAIL(LF_ERR_NOMEM, "plot blocks of %d series", nc);
  if (rc != LF_OK) goto done;
  fprintf(f, "# %s, ess_eval, ess_err, index; one block per series\n",
          sx->numeric ? sx->key : "point index");
  for (int c = 0; c < nc; c++) {
    int rows = 0;
    for (int k = 0; k < st->npoints; k++) {
      const lf_study_result *r = &st->results[k];
      if (sx->series[k] != c || !isfinite(r->ess_eval)) continue;
      if (!rows++) fprintf(f, "%s# %s\n", nx ? "\n\n" : "", sx->label[c]);
      fprintf(f, "%.17g %.10g %.10g %d %.10g\n", sx->x[k], r->ess_eval,
              isfinite(r->ess_err) ? r->ess_err : 0.0, st->points[k].index,
              isfinite(r->eff_per_second) && r->eff_per_second > 0 ? r->eff_per_second : NAN);
    }
    xblock[c] = rows ? nx++ : -1;
  }
  rc = lf_plot_close_out(f, dir, "study_x.dat");
  if (rc == LF_OK && nt > 0) rc = lf_plot_open_out(&f, dir, "study_cost.dat");
  if (rc == LF_OK && nt > 0) {
    fprintf(f, "# %s, N_train to the target%s; one block per series and target\n",
            sx->numeric ? sx->key : "point index", chain ? " (chain: ancestors included)" : "");
    for (int c = 0; c < nc; c++)
      for (int j = 0; j < nt; j++) {
        int rows = 0;
        for (int k = 0; k < st->npoints; k++) {
          const lf_study_result *r = &st->results[k];
          const int64_t n = chain ? r->target_n_train_chain[j] : r->target_n_train[j];
          if (sx->series[k] != c || n <= 0) continue;
          if (!rows++)
            fprintf(f, "%s# %s target %g\n", ncost ? "\n\n" : "", sx->label[c],
                    st->spec->targets[j]);
          fprintf(f, "%.17g %lld\n", sx->x[k], (long long)n);
        }
        cblock[c * LF_STUDY_MAX_TARGETS + j] = rows ? ncost++ : -1;
      }
    rc = lf_plot_close_out(f, dir, "study_cost.dat");
  }
  const char *xl = sx->numeric ? sx->key : "point";
  if (rc == LF_OK)
    rc = lf_plot_png(gp, dir, "study_ess_vs_x",
                     "final fresh-sample ESS against the study parameter", xl, "ESS fraction");
  if (rc != LF_OK) goto done;
  label_tics(gp, st, sx);
  if (!nx) {
    lf_plot_placeholder(gp, "no point has a finite final ESS");
  } else {
    key_place(gp, nx, "top right");
    fputs("set yrange [0:*]\nset offsets graph 0.03, graph 0.03, 0, 0\nplot", gp);
    for (int c = 0, first = 1; c < nc; c++) {
      if (xblock[c] < 0) continue;
      fprintf(gp, "%s 'study_x.dat' index %d u 1:2:3 w yerrorlines pt 7 lw 2 t ", first ? "" : ",",
              xblock[c]);
      gp_str(gp, sx->label[c][0] ? sx->label[c] : "final ESS");
      first = 0;
    }
    fputs("\n", gp);
  }
  /* the sampling performance: ESS x the flow's samples per second (the paper's Fig. 6) */
  rc = lf_plot_png(gp, dir, "study_eff_vs_x",
                   "effective samples per second of flow sampling (ESS x samples/s)", xl,
                   "effective samples / s");
  if (rc != LF_OK) goto done;
  label_tics(gp, st, sx);
  if (!nx) {
    lf_plot_placeholder(gp, "no point has a finite final ESS");
  } else {
    log_tics(gp, "y", -3, 9);
    key_place(gp, nx, "top right");
    fputs("set offsets graph 0.03, graph 0.03, 0, 0\nplot", gp);
    for (int c = 0, first = 1; c < nc; c++) {
      if (xblock[c] < 0) continue;
      fprintf(gp, "%s 'study_x.dat' index %d u 1:5 w lp pt 7 lw 2 t ", first ? "" : ",", xblock[c]);
      gp_str(gp, sx->label[c][0] ? sx->label[c] : "flow sampling");
      first = 0;
    }
    fputs("\n", gp);
  }
  if (nt == 0) goto done;
  rc = lf_plot_png(gp, dir, "study_cost_vs_x",
                   chain ? "training cost to each target ESS (predecessors included)"
                   : st->spec->protocol == LF_STUDY_ROOT
                       ? "retraining cost from the root model to each target ESS"
                       : "training cost to each target ESS",
                   xl, "N_train to reach the target");
  if (rc != LF_OK) goto done;
  label_tics(gp, st, sx);
  if (!ncost) {
    lf_plot_placeholder(gp, "no point reached a target ESS");
    goto done;
  }
  log_tics(gp, "y", 0, 15);
  key_place(gp, ncost, "top right");
  fputs("set offsets graph 0.03, graph 0.03, 0, 0\nplot", gp);
  for (int c = 0, first = 1; c < nc; c++)
    for (int j = 0; j < nt; j++) {
      char t[LF_STUDY_LABEL_MAX + 32];
      const int blk = cblock[c * LF_STUDY_MAX_TARGETS + j];
      if (blk < 0) continue;
      snprintf(t, sizeof t, "%.*s%sESS %g", LF_STUDY_LABEL_MAX - 1, sx->label[c],
               sx->label[c][0] ? ", " : "", st->spec->targets[j]);
      fprintf(gp, "%s 'study_cost.dat' index %d u 1:2 w lp pt 7 lw 2 t ", first ? "" : ",", blk);
      gp_str(gp, t);
      first = 0;
    }
  fputs("\n", gp);
done:
  free(xblock);
  free(cblock);
  return rc;
}

/* study_volumes.dat (a block per done point: L0, L1, V, ESS, error, mass, mass error) and
 * the plots of ESS against V with both laws and of the mass against L. */
static lf_status volume_plots(FILE *gp, const char *dir, const lf_study *st) {
  const int nv = st->spec->nvolumes;
  const double V0 = (double)st->base.theory.shape[0] * st->base.theory.shape[1];
  int nb = 0, masses = 0, *block = calloc((size_t)(st->npoints ? st->npoints : 1), sizeof *block);
  FILE *f = NULL;
  if (!block) return LF_FAIL(LF_ERR_NOMEM, "volumes of %d points", st->npoints);
  lf_status rc = lf_plot_open_out(&f, dir, "study_volumes.dat");
  if (rc != LF_OK) {
    free(block);
    return rc;
  }
  fprintf(f, "# L0 L1 V ess ess_err mass mass_err (training volume V0 = %g); one block per point\n",
          V0);
  for (int k = 0; k < st->npoints; k++) {
    int rows = 0;
    for (int v = 0; v < nv; v++) {
      const lf_study_volume *x = &st->results[k].volumes[v];
      if (x->samples <= 0 || !(isfinite(x->ess) && x->ess > 0)) continue;
      if (!rows++) fprintf(f, "%s# point %d\n", nb ? "\n\n" : "", st->points[k].index);
      masses += isfinite(x->mass);
      fprintf(f, "%d %d %d %.10g %.10g %.10g %.10g\n", x->L0, x->L1, x->L0 * x->L1, x->ess,
              isfinite(x->ess_err) ? x->ess_err : 0.0, x->mass,
              isfinite(x->mass_err) ? x->mass_err : 0.0);
    }
    block[k] = rows ? nb++ : -1;
  }
  rc = lf_plot_close_out(f, dir, "study_volumes.dat");
  if (rc == LF_OK)
    rc = lf_plot_png(gp, dir, "study_ess_vs_volume",
                     "fresh-sample ESS against the volume, without retraining", "V = L0 L1",
                     "fresh-sample ESS fraction");
  if (rc == LF_OK && !nb) lf_plot_placeholder(gp, "no volume evaluation has a positive ESS");
  if (rc == LF_OK && nb) {
    log_tics(gp, "y", -12, 0);
    key_place(gp, nb + 2, "bottom left");
    /* two key entries (NaN: nothing drawn) say which line is which law */
    fprintf(gp,
            "set offsets graph 0.03, graph 0.03, 0, 0\nV0 = %.17g\n"
            "plot NaN w l lw 2 lc rgb '#404040' t 'fit ESS(V0)^(V/V0)', NaN w l dt 3 lw 2 "
            "lc rgb '#404040' t 'anchored at the largest V'",
            V0);
    int lt = 0; /* the point's line type: its data and its two laws share a colour */
    for (int k = 0; k < st->npoints; k++) {
      const lf_study_result *r = &st->results[k];
      if (block[k] < 0) continue;
      lt++;
      fprintf(gp, ", 'study_volumes.dat' index %d u 3:4:5 w yerrorbars pt 7 lt %d t ", block[k],
              lt);
      gp_str(gp, st->points[k].label);
      if (isfinite(r->law_ess_v0) && r->law_ess_v0 > 0)
        fprintf(gp, ", %.17g**(x/V0) w l lw 2 lt %d notitle", r->law_ess_v0, lt);
      if (isfinite(r->law_ess_anchor) && r->law_ess_anchor > 0)
        fprintf(gp, ", %.17g**(x/V0) w l dt 3 lw 2 lt %d notitle", r->law_ess_anchor, lt);
    }
    fputs("\n", gp);
  }
  if (rc == LF_OK && masses) {
    rc = lf_plot_png(gp, dir, "study_mass_vs_L",
                     "pole mass of the IMH ensemble against L (Schwinger: the pion)", "L0", "mass");
    if (rc == LF_OK) {
      key_place(gp, nb, "top right");
      fputs("set offsets graph 0.05, graph 0.05, 0, 0\nplot", gp);
      for (int k = 0, first = 1; k < st->npoints; k++) {
        if (block[k] < 0) continue;
        fprintf(gp, "%s 'study_volumes.dat' index %d u 1:6:7 w yerrorlines pt 7 lw 2 t ",
                first ? "" : ",", block[k]);
        gp_str(gp, st->points[k].label);
        first = 0;
      }
      fputs("\n", gp);
    }
  }
  free(block);
  return rc;
}

/* The plots of the study st into the staging folder dir (plot_impl.h). */
lf_status lf_plot_study_write(FILE *gp, const char *dir, const lf_study *st) {
  study_x sx = {0};
  lf_status rc = study_x_values(st, &sx);
  if (rc == LF_OK) rc = curves_plots(gp, dir, st);
  if (rc == LF_OK) rc = x_plots(gp, dir, st, &sx);
  if (rc == LF_OK && st->spec->nvolumes > 0) rc = volume_plots(gp, dir, st);
  free(sx.x);
  free(sx.series);
  free(sx.label);
  return rc;
}
