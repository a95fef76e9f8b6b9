#!/usr/bin/env bash
# Drives sample, hmc, analyze, plot and run: a tiny trained model is sampled by IMH and by
# reweighting, HMC runs on the same theory, analyze --json has the fields of DESIGN.md
# section 3, plot writes PNG files, bad inputs are refused with clear messages, and the
# quickstart pipeline (`latflow run`, no config) ends with flow-IMH and HMC agreeing on
# chi2 within errors (|z| < 4).
# usage: cli_sample.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
has_keys() { # has_keys WHAT key...
  local what=$1; shift
  for key in "$@"; do
    grep -qF "\"$key\":" out.txt && ok "$what json has $key" || bad "$what json lacks $key"
  done
}
is_png() { [ "$(head -c 4 "$1" | tail -c 3)" = "PNG" ]; }

cat > tiny.yaml <<'YAML'
seed: 11
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 100}, eval_samples: 1000, log_every: 50}
sample: {proposals: 4000, block: 128, save: accepted}
hmc: {trajectories: 2000, therm: 50, tau: 1.0, steps: 8}
YAML
expect_code 0 "train tiny" -- "$lf" train tiny.yaml
expect_code 0 "sample --json" -- "$lf" sample tiny.yaml --json
has_keys sample proposals acceptance ess non_finite max_rejection_run gen_seconds model_hash ensemble
# 4000 proposals in blocks of 128: the run draws 32 whole blocks and says so
expect_err "sample.proposals = 4000 is not a multiple of sample.block = 128: drawing 32 whole blocks = 4096 proposals" "rounding to whole blocks is logged"
[ "$(json_num proposals)" = 4096 ] && ok "--json proposals: 4096" || bad "--json proposals: $(json_num proposals)"
[ -s out/tiny/ensemble.h5 ] && ok "ensemble.h5 written" || bad "ensemble.h5 missing"
ls out/tiny/*.tmp >/dev/null 2>&1 && bad "temporary files left" || ok "no temporary files left"
expect_code 1 "sample refuses to overwrite" -- "$lf" sample tiny.yaml
expect_err "refusing to overwrite" "overwrite refusal"
expect_code 0 "sample, reweighting, --model" -- "$lf" sample tiny.yaml --output out/rw --model out/tiny/model.h5 --set sample.mode=reweight --set sample.save=none
expect_code 0 "hmc --json" -- "$lf" hmc tiny.yaml --json --set hmc.integrator=omelyan
has_keys hmc trajectories acceptance gen_seconds ensemble
for f in out/tiny/ensemble.h5 out/rw/ensemble.h5 out/tiny/hmc.h5; do
  expect_code 0 "analyze --json $f" -- "$lf" analyze "$f" --json
  has_keys "analyze $f" file theory n chains acceptance ess observables mean error tau_int tau_int_error
done
grep -q '"exp_minus_dH":' out.txt && ok "hmc analysis has exp_minus_dH" || bad "hmc analysis lacks exp_minus_dH"
expect_code 0 "analyze (table)" -- "$lf" analyze out/tiny/ensemble.h5
grep -q "chi2" out.txt && grep -q "acceptance" out.txt && ok "table printed" || bad "no table"
expect_code 0 "plot ensemble" -- "$lf" plot out/tiny/ensemble.h5
n=0; for p in out/tiny/plots/ensemble/*.png; do is_png "$p" && n=$((n+1)); done
[ "$n" -ge 12 ] && ok "plot wrote $n PNG files (histories, autocorrelations, log w, training)" || bad "plot wrote $n PNG files"
for p in history_chi2 acf_chi2 tauint_chi2 correlator meff logw_hist train_loss train_ess train_vs_samples train_fresh_ess; do
  [ -s "out/tiny/plots/ensemble/$p.png" ] && ok "$p.png" || bad "$p.png missing"
done
expect_code 0 "plot hmc --out" -- "$lf" plot out/tiny/hmc.h5 --out hmcplots
[ -s hmcplots/dH_history.png ] && ok "hmc plots in --out" || bad "hmc plots missing"

# bad inputs
expect_code 1 "analyze a model file" -- "$lf" analyze out/tiny/model.h5
expect_err "model file, expected a" "wrong kind named"
head -c 3000 out/tiny/ensemble.h5 > trunc.h5
expect_code 1 "analyze a truncated file" -- "$lf" analyze trunc.h5
expect_err "trunc.h5" "truncated file named"
echo "not hdf5" > fake.h5
expect_code 1 "analyze a text file" -- "$lf" analyze fake.h5
expect_err "fake.h5" "text file named"
expect_code 2 "analyze without a file" -- "$lf" analyze
# a model of another lattice is volume transferred (issue 16; details: cli_transfer.sh)
expect_code 0 "sample a model on another lattice" -- "$lf" sample tiny.yaml --output out/l8 --model out/tiny/model.h5 --set 'theory.shape=[8,8]'
expect_err "volume transfer: model trained on 4x4 sampled on 8x8" "volume transfer explained"
expect_code 1 "sample without a model" -- "$lf" sample tiny.yaml --output out/none
expect_err "out/none/model.h5" "missing model named"

# the quickstart pipeline (README's main command runs exactly this)
expect_code 0 "run (built-in quickstart) --json" -- "$lf" run --output quick --json
has_keys run train sample hmc analysis analysis_hmc flow_vs_hmc_z
grep -q "== latflow run" err.txt && ok "summary printed" || bad "no summary"
z=$(awk '/"flow_vs_hmc_z"/{f=1} f && /"chi2":/{gsub(/[",]/,""); print $2; exit}' out.txt)
if [ -n "$z" ] && awk -v z="$z" 'BEGIN{exit !(z < 4 && z > -4)}'; then ok "quickstart: flow-IMH and HMC agree on chi2, z = $z"; else bad "quickstart chi2: flow vs HMC z = '$z'"; fi
[ -s quick/plots/ensemble/history_chi2.png ] && [ -s quick/plots/hmc/history_chi2.png ] && [ -s quick/plots/compare/compare_chi2.png ] && [ -s quick/plots/compare/compare_eff.png ] && [ -s quick/analysis.json ] && ok "run wrote plots (ensemble, hmc, compare) and analysis.json" || bad "run outputs missing"
grep -A12 "== latflow run" err.txt
finish
