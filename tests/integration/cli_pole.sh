#!/usr/bin/env bash
# The pole mass and the result tables (issue 15):
#  - a 12x12 phi^4 HMC ensemble at the quickstart couplings (m2 = -4, lambda = 8), where
#    m_eff(t = L/4) alone used to be "nan +- nan", gets a finite pole mass with an error
#    from the fit: JSON pole_mass {value, error, tmin, tmax = 6, chi2_dof, method} plus the
#    old keys t and mean, and the table row names the fit range and chi2/dof;
#  - the free field (lambda = 0, m2 = 0.5, 16x8): the fitted mass agrees with the exact
#    m_pole = arccosh(1 + m2/2) within 4 errors (z printed);
#  - `latflow run` (the quickstart and u1, shortened): the table's columns stay apart (the header splits
#    into its 6 cells at runs of 2+ blanks), the legend explains z, the effective samples
#    per second name their observable (chi2 for phi^4, chi_t for u1) and say why, and the
#    pole-mass row shows value +- error and "(fit of G(t) over t = a..b, chi2/dof = c)".
# usage: cli_pole.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
# pole NAME CARD: HMC on CARD into NAME/, its analysis JSON's pole_mass object as Python
# literals in NAME.pole (empty on failure)
pole() {
  expect_code 0 "$1: hmc" -- "$lf" hmc "$2" --output "$1"
  expect_code 0 "$1: analyze --json" -- "$lf" analyze "$1/hmc.h5" --json
  /usr/bin/python3 -c "import json; print(json.load(open('out.txt'))['pole_mass'])" > "$1.pole" 2>/dev/null
  echo "$1: pole_mass $(cat "$1.pole")"
}
# is NAME EXPR: True iff the Python EXPR of p (the pole_mass of NAME) holds
is() { /usr/bin/python3 -c "import math; nan = float('nan'); p = eval(open('$1.pole').read().replace('None', 'nan')); print($2)" 2>/dev/null; }

# --- 12x12 phi^4 HMC --------------------------------------------------------------------
cat > p12.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [12, 12], m2: -4.0, lambda: 8.0}
sample: {save: none}
hmc: {trajectories: 3000, therm: 100}
YAML
pole h12 p12.yaml
[ "$(is h12 "math.isfinite(p['value']) and p['error'] > 0 and p['tmin'] >= 1 and p['tmax'] == 6 and math.isfinite(p['chi2_dof'])")" = True ] &&
  ok "12x12: finite pole mass with error, range tmin..6, chi2/dof" || bad "12x12 pole mass"
[ "$(is h12 "p['t'] == p['tmin'] and p['mean'] == p['value'] and 'cosh' in p['method']")" = True ] &&
  ok "old keys t and mean kept; method names the fit" || bad "pole_mass keys"
expect_code 0 "analyze table" -- "$lf" analyze h12/hmc.h5
grep -E '^. pole_mass +[0-9.]+ +[0-9.e-]+ .*\(fit of G\(t\) over t = [0-9]+\.\.6, chi2/dof = [0-9.e+-]+\)$' out.txt > /dev/null &&
  ok "table: pole_mass row with value, error and its fit" || bad "table pole row: $(grep pole_mass out.txt)"

# --- free field: exact pole mass -------------------------------------------------------
cat > free.yaml <<'YAML'
seed: 7
theory: {name: phi4, shape: [16, 8], m2: 0.5, lambda: 0.0}
sample: {save: none}
hmc: {trajectories: 4000, therm: 100}
YAML
pole hf free.yaml
z=$(is hf "(p['value'] - math.acosh(1.25)) / p['error']")
[ "$(is hf "abs((p['value'] - math.acosh(1.25)) / p['error']) < 4")" = True ] &&
  ok "free field: pole mass = exact arccosh(1.25) = 0.693147 within 4 errors (z = $z)" ||
  bad "free field: z = $z"

# --- the run summary: phi^4 and u1 ---------------------------------------------------------
# the quickstart card, shortened
expect_code 0 "phi4 run" -- "$lf" run --output rp --set train.stop.steps=60 \
  --set train.eval_every=30 --set train.eval_samples=256 --set sample.proposals=4096 \
  --set hmc.trajectories=2000
# the header splits into exactly its cells at runs of two or more blanks
cells=$(grep -E '^  observable' out.txt | sed -E 's/^  //; s/  +/\n/g' | grep -c .)
[ "$cells" = 6 ] && ok "run table header: 6 columns apart" || bad "run table header: $cells cells: $(grep observable out.txt)"
grep -qF 'z = (flow - HMC) / sqrt(err_flow^2 + err_HMC^2); |z| < 2 is agreement within errors' out.txt &&
  ok "legend explains z" || bad "no z legend"
grep -qF 'effective samples per second of chi2 (the susceptibility' out.txt &&
  ok "eff/s names chi2 and why" || bad "eff/s line: $(grep 'per second' out.txt)"
grep -E '^. pole_mass .*([0-9.]+ \+- [0-9.e-]+|-) .*\((fit of G\(t\) over t = [0-9]+\.\.4, chi2/dof = [0-9.e+-]+|no fit: see the warnings); HMC: t = [0-9]+\.\.4, chi2/dof = [0-9.e+-]+\)$' out.txt > /dev/null &&
  ok "run: pole_mass row with value +- error and the fit" || bad "run pole row: $(grep pole_mass out.txt)"
expect_code 0 "u1 run" -- "$lf" run "$src/configs/u1-L8-b2.yaml" --output ru --set theory.shape=[4,4] \
  --set train.stop.steps=20 --set train.eval_every=10 --set sample.proposals=1024 \
  --set hmc.trajectories=200
grep -qF 'effective samples per second of chi_t (the susceptibility' out.txt &&
  ok "u1: eff/s names chi_t" || bad "u1 eff/s line: $(grep 'per second' out.txt)"
! grep -q pole_mass out.txt && ok "u1: no pole-mass row (no correlator)" || bad "u1 has a pole row"
finish cli_pole
