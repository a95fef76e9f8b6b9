#!/usr/bin/env bash
# The plaquette base of 2D U(1) (model.base: plaquette, model.base_beta; issue 18) through
# the CLI: a u1 card on 8x8 at beta 3 (2 layers, hidden [4]) trains, samples on 1 and 2
# ranks (bitwise the same datasets) and analyses (<plaq> against the exact I1/I0(3), z <
# 5); the train log names the base; model.h5 holds /model attributes base "plaquette" and
# base_beta (theory.beta by default, the --set value otherwise) and /meta/config_yaml the
# resolved base_beta; base_beta 0 (the identity spline, the haar base in law) starts far
# worse than base_beta = beta (fresh-sample ESS); an interrupted training resumes to
# bitwise the same parameters; train.init_from moves a plaquette model into a plaquette
# model (another base_beta too) but a haar model into a plaquette one, and back, is
# refused (exit 2, train.init_from, another architecture); python/latflow_h5.py names the
# base's parameters base.spline and reads base_beta (when /usr/bin/python3 has h5py);
# plaquette with phi4, with the affine coupling and base_beta < 0 are refused naming the key.
# usage: cli_plaquette.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

# attr FILE NAME: the value of the scalar attribute /model/NAME
attr() { h5dump -a "/model/$2" "$1" 2>/dev/null | sed -n 's/.*(0): *//p' | tr -d '"'; }
# awk_ok EXPR VAR=VALUE...: exit status of the awk condition
awk_ok() { local e=$1; shift; awk "$@" "BEGIN { exit !($e) }"; }

cat > pq.yaml <<'YAML'
seed: 5
output: pq
observables: [plaq, topo, chi_t]
theory: {name: u1, shape: [8, 8], beta: 3.0}
model: {base: plaquette, coupling: spline, layers: 2, hidden: [4], kernel: 3, precision: double}
train: {estimator: rt, batch: 32, stop: {steps: 40}, checkpoint_every: 20, eval_samples: 500, log_every: 20}
sample: {proposals: 4000, block: 64, save: none}
YAML

# --- train: log, attributes, stored config ------------------------------------------------
expect_code 0 "plaquette train" -- "$lf" train pq.yaml --json
ess3=$(json_num ess_eval)
expect_err "train: u1 8x8, beta = 3 | 2 layers" "train log line"
expect_err "base plaquette" "train log names the plaquette base"
[ -f pq/model.h5 ] && ok "model written" || bad "no pq/model.h5"
[ "$(attr pq/model.h5 base)" = plaquette ] && ok "/model base = plaquette" \
  || bad "/model base '$(attr pq/model.h5 base)'"
[ "$(attr pq/model.h5 base_beta)" = 3 ] && ok "/model base_beta = 3 (theory.beta by default)" \
  || bad "/model base_beta '$(attr pq/model.h5 base_beta)', want 3"
h5dump -a /meta/config_yaml pq/model.h5 2>/dev/null | grep -q 'base_beta: 3$' \
  && ok "/meta/config_yaml holds the resolved base_beta: 3" || bad "/meta/config_yaml lacks base_beta: 3"
awk_ok 'e > 0.3 && e <= 1' -v e="$ess3" && ok "base_beta = beta: fresh-sample ESS $ess3 > 0.3" \
  || bad "base_beta = beta: ESS '$ess3'"

expect_code 0 "plaquette train, base_beta 1.5" -- "$lf" train pq.yaml --output pq15 \
  --set model.base_beta=1.5 --set train.stop.steps=20
[ "$(attr pq15/model.h5 base_beta)" = 1.5 ] && ok "/model base_beta = 1.5 (--set)" \
  || bad "/model base_beta '$(attr pq15/model.h5 base_beta)', want 1.5"
h5dump -a /meta/config_yaml pq15/model.h5 2>/dev/null | grep -q 'base_beta: 1.5$' \
  && ok "/meta/config_yaml holds base_beta: 1.5" || bad "/meta/config_yaml lacks base_beta: 1.5"
expect_code 0 "plaquette train, base_beta 0 (identity spline)" -- "$lf" train pq.yaml --output pq0 \
  --set model.base_beta=0 --json
ess0=$(json_num ess_eval)
awk_ok 'z < 0.1 && z < b / 3' -v z="$ess0" -v b="$ess3" \
  && ok "base_beta 0 (haar in law) starts worse: ESS $ess0 vs $ess3 at base_beta = beta" \
  || bad "base_beta 0: ESS '$ess0' vs '$ess3'"

# --- resume: interrupted at the checkpoint of step 20, bitwise the uninterrupted run ------
LATFLOW_TEST_INTERRUPT=train:20:TERM expect_code 3 "plaquette train stopped by TERM at step 20" -- \
  "$lf" train pq.yaml --output pqi
expect_code 0 "plaquette train --resume" -- "$lf" train pq.yaml --output pqi --resume
expect_err "resuming at step 20" "resume logged"
h5same pq/model.h5 pqi/model.h5 /model/params && ok "resumed: parameters bitwise the uninterrupted run's" \
  || bad "resumed parameters differ"
h5same pq/model.h5 pq15/model.h5 /model/params && bad "base_beta 1.5 and 3 give the same parameters" \
  || ok "base_beta 1.5 and 3 give different parameters (the comparison can fail)"

# --- transfer: plaquette -> plaquette; haar <-> plaquette refused -------------------------
expect_code 0 "init_from a plaquette model (base_beta 1.5) into a plaquette model" -- \
  "$lf" train pq.yaml --output pqt --set train.init_from=pq15/model.h5 --set train.stop.steps=10
expect_err "parameter transfer from pq15/model.h5 (u1 8x8, beta = 3)" "plaquette -> plaquette transfer"
expect_code 0 "haar model" -- "$lf" train pq.yaml --output hr --set model.base=haar \
  --set train.stop.steps=10
expect_err "base haar" "haar train log names the haar base"
expect_code 2 "init_from a haar model into a plaquette model" -- \
  "$lf" train pq.yaml --output x --set train.init_from=hr/model.h5
expect_err "train.init_from: 'hr/model.h5' has another architecture" "haar -> plaquette refused"
expect_err_re "base [0-9a-z_]+, [0-9]+ parameters\\) than this config \\(.*base [0-9a-z_]+," \
  "haar -> plaquette: the message gives the model's and the config's base"
expect_code 2 "init_from a plaquette model into a haar model" -- \
  "$lf" train pq.yaml --output x --set model.base=haar --set train.init_from=pq/model.h5
expect_err "train.init_from: 'pq/model.h5' has another architecture" "plaquette -> haar refused"
[ -e x/model.h5 ] && bad "a refused transfer wrote x/model.h5" || ok "refused transfers wrote no model"

# --- sample on 1 and 2 ranks, analyze -------------------------------------------------------
expect_code 0 "plaquette sample np1" -- "$lf" sample pq.yaml --model pq/model.h5 --output s1
expect_err "sample: u1 8x8, beta = 3 | model" "sample log line"
expect_code 0 "plaquette sample np2" -- mpi 2 "$lf" sample pq.yaml --model pq/model.h5 --output s2
for d in obs logw accepted; do
  h5same s1/ensemble.h5 s2/ensemble.h5 /chain_0/$d && ok "np1 vs np2: /chain_0/$d bitwise equal" \
    || bad "np1 vs np2: /chain_0/$d differs"
done
expect_code 0 "plaquette analyze --json" -- "$lf" analyze s1/ensemble.h5 --json
for o in plaq topo chi_t; do
  grep -q "\"$o\"" out.txt && ok "analysis has $o" || bad "analysis lacks $o"
done
p=$(grep -A3 '"plaq"' out.txt | grep -m1 '"mean"' | sed 's/.*://; s/[[:space:],]//g')
pe=$(grep -A3 '"plaq"' out.txt | grep -m1 '"error"' | sed 's/.*://; s/[[:space:],]//g')
# exact <cos theta_P> on 8x8 at beta 3: I1(3)/I0(3) up to (I1/I0)^63 ~ 2e-6 (the torus term)
ex=$(awk 'BEGIN { x = 1.5; t0 = 1; t1 = x; s0 = 1; s1 = x
                   for (k = 1; k < 40; k++) { t0 *= x * x / (k * k); t1 *= x * x / (k * (k + 1)); s0 += t0; s1 += t1 }
                   printf "%.6f", s1 / s0 }')
awk_ok 'e > 0 && (p - x) / e < 5 && (x - p) / e < 5' -v p="$p" -v e="$pe" -v x="$ex" \
  && ok "<plaq> = $p +- $pe vs exact $ex (|z| < 5)" || bad "<plaq> = '$p' +- '$pe' vs exact $ex"

# --- the python reader: base.spline and base_beta (skipped without h5py and numpy) ---------
py=${LATFLOW_TEST_PYTHON:-/usr/bin/python3}
if "$py" -c "import h5py, numpy" 2>/dev/null && [ -n "$src" ]; then
  expect_code 0 "python reader export-npz" -- "$py" "$src/python/latflow_h5.py" export-npz pq/model.h5 pq.npz
  "$py" - pq.npz <<'PY' && ok "npz: base.spline [3K] = params[:3K], arch.base plaquette, arch.base_beta 3"     || bad "npz: base.spline or arch.base_beta wrong"
import sys
import numpy as np
t = np.load(sys.argv[1])
K = int(t["arch.spline_bins"])
assert str(t["arch.base"]) == "plaquette" and float(t["arch.base_beta"]) == 3.0
assert int(t["arch.nbase"]) == 3 * K and t["base.spline"].shape == (3 * K,)
assert np.array_equal(t["base.spline"], t["params"][:3 * K])
PY
else echo "skip: $py cannot import h5py and numpy: python reader not checked"; fi

# --- refusals ---------------------------------------------------------------------------
expect_code 2 "base_beta -1 (--set)" -- "$lf" train pq.yaml --output x --set model.base_beta=-1
expect_err "model.base_beta: must be >= 0, got -1" "base_beta < 0 refused naming the key"
sed 's/base: plaquette,/base: plaquette, base_beta: -1,/' pq.yaml > neg.yaml
expect_code 2 "base_beta -1 (card)" -- "$lf" check neg.yaml
expect_err "neg.yaml:5: model.base_beta: must be >= 0, got -1" "base_beta < 0 refused naming the line"
expect_code 2 "plaquette with the affine coupling" -- "$lf" train pq.yaml --output x \
  --set model.coupling=affine
expect_err "model.coupling: link angles need the gauge-equivariant flow (model.base haar or plaquette" \
  "plaquette + affine refused"
sed -e 's/name: u1, shape: \[8, 8\], beta: 3.0/name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0/' \
    -e 's/plaq, topo, chi_t/phi2/' -e 's/coupling: spline/coupling: affine/' pq.yaml > phi4.yaml
expect_code 2 "plaquette base with phi4" -- "$lf" train phi4.yaml --output x
expect_err "model.base: model.base haar or plaquette and model.coupling spline are the U(1) gauge flow" \
  "phi4 + plaquette refused naming model.base"
expect_err "base plaquette" "phi4 refusal names the plaquette base"
n=$(find x -name '*.h5*' 2>/dev/null | wc -l)
[ "$n" = 0 ] && ok "refused runs wrote no HDF5 file" || bad "refused runs left $n HDF5 files in x/"

finish cli_plaquette
