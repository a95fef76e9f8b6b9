/* latflow/table.h: the text tables of `latflow analyze` and of `latflow run`'s summary,
 * rendered from lf_analysis results into a string (docs/USER_GUIDE.md, "Reading the
 * table").
 *
 * Every column is as wide as its widest cell (header included) and columns are separated
 * by two spaces, so that no value runs into its neighbour whatever its length (tau_int of
 * 10^5, values like -1.23456e-05 +- 3.4e-07). Numbers that cannot be estimated print as
 * "-". The first character of a row is '!' when the row has a warning (listed below the
 * table by the caller), else a space. tau_int prints with 3 significant digits below 100
 * and as an integer above.
 *
 * lf_table_analysis: the table of one ensemble: observable, mean, error, tau_int, its
 * error, effective samples and per second, "(binned)" when the binned error is reported;
 * then the pole-mass row (value +- error and "(fit of G(t) over t = a..b, chi2/dof = c)",
 * or why there is none) when the ensemble has a correlator.
 *
 * lf_table_compare: `latflow run`'s table of the flow ensemble fa next to the HMC one ha
 * (NULL: flow only): observable, flow value +- error, tau_int, HMC value +- error, tau_int,
 * z = (flow - HMC) / sqrt(err_flow^2 + err_HMC^2); the pole-mass row; a legend line that
 * explains z; and the line of effective samples per second of one observable, chosen
 * by lf_table_eff_obs and named with the reason.
 *
 * lf_table_eff_obs: the observable whose effective samples per second compare the
 * samplers: the theory's susceptibility, chi2 (phi^4) or chi_t (u1, schwinger), because it
 * measures the slowest mode (critical slowing down, topology freezing) that flows are
 * meant to beat; when the card's observables omit it, the observable with the fewest
 * effective samples per second in fa (the bottleneck). Returns its index in fa (-1: no
 * observable) and the reason in *why (static text).
 *
 * Local; the strings are allocated (free with lf_free); NULL only when out of memory. */
#ifndef LATFLOW_TABLE_H
#define LATFLOW_TABLE_H

#include "latflow/analyze.h"

char *lf_table_analysis(const lf_analysis *a);
char *lf_table_compare(const lf_analysis *fa, const lf_analysis *ha, const char *flow_label);
int lf_table_eff_obs(const lf_analysis *fa, const char **why);

#endif
