#!/usr/bin/env bash
# The gauge theories through every command with no change to them (issue 6, scope 5):
# u1 and schwinger (4x4, the gauge-equivariant flow) are trained with rt and re, sampled
# on 1 and 3 ranks (bitwise the same datasets), interrupted and resumed (bitwise), run
# through HMC on 2 ranks, analysed (the theory's observables, the pion correlator's pole
# mass), plotted and merged; a u1 model seeds schwinger training (parameter transfer
# between theories on the same fields); bad combinations are refused naming the key.
# usage: cli_gauge.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
# same A B WHAT: every chain dataset of A (u1 has no correlator) bitwise equal in B
same() {
  local d n=0 k=0
  for d in $(h5ls "$1/chain_0" 2>/dev/null | awk '{print $1}'); do
    k=$((k+1))
    h5diff -q "$1" "$2" /chain_0/$d /chain_0/$d > /dev/null 2>&1 || n=$((n+1))
  done
  [ $k -ge 7 ] && [ $n = 0 ] && ok "$3: all $k datasets bitwise equal" \
    || bad "$3: $n of $k datasets differ"
}

cat > u1.yaml <<'YAML'
seed: 5
output: u1
observables: [plaq, topo, chi_t]
theory: {name: u1, shape: [4, 4], beta: 1.0}
model: {base: haar, coupling: spline, spline_bins: 6, layers: 8, hidden: [4], kernel: 3}
train: {estimator: rt, batch: 32, stop: {steps: 80}, eval_samples: 500, log_every: 40}
sample: {proposals: 6000, block: 64, epoch: 2, checkpoint_every: 1024, save: all}
hmc: {trajectories: 400, therm: 20, tau: 1.0, steps: 8}
YAML
sed -e 's/name: u1, shape: \[4, 4\], beta: 1.0/name: schwinger, shape: [4, 4], beta: 2.0, kappa: 0.2/' \
    -e 's/^output: u1/output: schw/' -e 's/chi_t\]/chi_t, condensate]/' \
    -e 's/steps: 80/steps: 30/' -e 's/proposals: 6000/proposals: 3000/' \
    -e 's/trajectories: 400/trajectories: 100/' u1.yaml > schw.yaml

# --- u1: train rt and re, the log names the theory ------------------------------------
expect_code 0 "u1 train rt" -- "$lf" train u1.yaml
expect_err "train: u1 4x4, beta = 1 | 8 layers" "u1 train log line"
expect_err "base haar" "u1 train log names the haar base"
[ -f u1/model.h5 ] && ok "u1 model written" || bad "no u1/model.h5"
expect_code 0 "u1 train re" -- "$lf" train u1.yaml --output u1re --set train.estimator=re
expect_err "estimator re" "u1 re training"
h5diff -q u1/model.h5 u1re/model.h5 /model/params /model/params > /dev/null 2>&1 \
  && bad "rt and re trained to bitwise the same parameters" || ok "rt and re give different models"

expect_code 0 "u1 train re data-parallel on 2 ranks" -- mpi 2 "$lf" train u1.yaml --output u1dp \
  --set train.estimator=re --set train.stop.steps=20
expect_err "batch 32 over 2 ranks" "u1 data-parallel training log line"

# --- u1: sample on 1 and 3 ranks, interrupt + resume ------------------------------------
expect_code 0 "u1 sample np1" -- "$lf" sample u1.yaml --model u1/model.h5 --output s1
expect_err "sample: u1 4x4, beta = 1 | model" "u1 sample log line"
expect_code 0 "u1 sample np3" -- mpi 3 "$lf" sample u1.yaml --model u1/model.h5 --output s3
same s1/ensemble.h5 s3/ensemble.h5 "u1 sample np1 vs np3"
LATFLOW_TEST_INTERRUPT=sample:24:TERM "$lf" sample u1.yaml --model u1/model.h5 --output si \
  > si1.log 2>&1; rc=$?
[ $rc = 3 ] && ok "u1 sample stopped by TERM (exit 3)" || { bad "u1 sample TERM: exit $rc"; tail -5 si1.log; }
expect_code 0 "u1 sample --resume on 2 ranks" -- mpi 2 "$lf" sample u1.yaml --model u1/model.h5 --output si --resume
same s1/ensemble.h5 si/ensemble.h5 "u1 sample interrupted + resumed"

# --- u1: analyze, HMC on 2 ranks, plot, merge --------------------------------------------
expect_code 0 "u1 analyze --json" -- "$lf" analyze s1/ensemble.h5 --json
for o in plaq topo chi_t; do
  grep -q "\"$o\"" out.txt && ok "u1 analysis has $o" || bad "u1 analysis lacks $o"
done
p=$(grep -A3 '"plaq"' out.txt | grep -m1 '"mean"' | sed 's/.*://; s/[[:space:],]//g')
awk -v p="$p" 'BEGIN { exit !(p > 0.2 && p < 0.7) }' && ok "u1 flow <plaq> = $p is a plaquette at beta 1 (exact 0.45)" \
  || bad "u1 flow <plaq> = '$p'"
expect_code 0 "u1 hmc np2" -- mpi 2 "$lf" hmc u1.yaml --output h
expect_err "hmc: u1 4x4, beta = 1 |" "u1 hmc log line"
expect_code 0 "u1 analyze hmc --json" -- "$lf" analyze h/hmc.h5 --json
[ "$(json_num chains)" = 2 ] && ok "u1 hmc: 2 chains" || bad "u1 hmc chains '$(json_num chains)'"
expect_code 0 "u1 plot" -- "$lf" plot s1/ensemble.h5 --out plots
n=$(ls plots/*.png 2>/dev/null | wc -l)
[ "$n" -ge 4 ] && ok "u1 plot: $n PNG files" || bad "u1 plot: $n PNG files"
expect_code 0 "u1 sample seed 6" -- "$lf" sample u1.yaml --model u1/model.h5 --output s6 --set seed=6
expect_code 0 "merge two u1 ensembles" -- "$merge" merged.h5 s1/ensemble.h5 s6/ensemble.h5
expect_code 0 "analyze merged --json" -- "$lf" analyze merged.h5 --json
[ "$(json_num chains)" = 2 ] && ok "merged u1: 2 chains" || bad "merged u1 chains '$(json_num chains)'"
expect_code 1 "merge a flow ensemble with an HMC one refused" -- "$merge" bad.h5 s1/ensemble.h5 h/hmc.h5
[ -e bad.h5 ] && bad "refused merge left bad.h5" || ok "refused merge wrote nothing"

# --- schwinger: re and rt, transfer from u1, sample, hmc, analyze --------------------------
expect_code 0 "schwinger train re" -- "$lf" train schw.yaml --set train.estimator=re
expect_err "train: schwinger 4x4, beta = 2, kappa = 0.2, antiperiodic, logdet dense |" "schwinger train log line"
expect_code 0 "schwinger train rt from the u1 model" -- "$lf" train schw.yaml --output schwrt \
  --set train.init_from=u1/model.h5
expect_err "parameter transfer from u1/model.h5 (u1 4x4, beta = 1)" "transfer u1 -> schwinger"
expect_code 0 "schwinger sample np1" -- "$lf" sample schw.yaml --model schw/model.h5 --output t1
expect_code 0 "schwinger sample np3" -- mpi 3 "$lf" sample schw.yaml --model schw/model.h5 --output t3
same t1/ensemble.h5 t3/ensemble.h5 "schwinger sample np1 vs np3"
# theory.logdet sparse (CHOLMOD): the same physics, so its ensemble merges with the dense one
expect_code 0 "schwinger sample, theory.logdet sparse" -- "$lf" sample schw.yaml --model schw/model.h5 \
  --output tsp --set seed=8 --set theory.logdet=sparse
expect_err "schwinger 4x4, beta = 2, kappa = 0.2, antiperiodic, logdet sparse" "sparse sample log line"
expect_code 0 "merge dense and sparse schwinger ensembles" -- "$merge" mds.h5 t1/ensemble.h5 tsp/ensemble.h5
expect_code 0 "schwinger analyze --json" -- "$lf" analyze t1/ensemble.h5 --json
for o in plaq chi_t condensate pole_mass; do
  grep -q "\"$o\"" out.txt && ok "schwinger analysis has $o" || bad "schwinger analysis lacks $o"
done
expect_code 0 "schwinger hmc np2" -- mpi 2 "$lf" hmc schw.yaml --output sh
expect_code 0 "schwinger plot hmc" -- "$lf" plot sh/hmc.h5 --out plots-sh
ls plots-sh/*.png > /dev/null 2>&1 && ok "schwinger hmc plots" || bad "no schwinger hmc plots"

# --- refusals --------------------------------------------------------------------------
expect_code 2 "u1 with the affine flow" -- "$lf" train u1.yaml --output x --set model.coupling=affine
expect_err "haar" "affine + haar refused"
expect_code 2 "u1 with a phi4 observable" -- "$lf" train u1.yaml --output x --set 'observables=[phi2]'
expect_err "observables" "phi2 on u1 refused naming the key"
expect_code 2 "spline bins out of range" -- "$lf" train u1.yaml --output x --set model.spline_bins=0
expect_err "model.spline_bins: must be in [1, 64], got 0" "spline_bins refused"
expect_code 2 "gauge flow on 6x6" -- "$lf" train u1.yaml --output x --set 'theory.shape=[6, 6]'
expect_err "multiple" "6x6 refused (sides must be multiples of 4)"
sed -e 's/name: u1,/name: phi4,/' -e 's/plaq, topo, chi_t/phi2/' u1.yaml > phi4g.yaml
expect_code 2 "phi4 with the gauge flow" -- "$lf" train phi4g.yaml --output x
expect_err "theory.name must be u1 or schwinger" "phi4 + spline refused"
# a u1 flow is a valid (exact under IMH) proposal for schwinger on the same fields
expect_code 0 "u1 model as the schwinger proposal" -- "$lf" sample schw.yaml --model u1/model.h5 --output x

# --- every card shipped in configs/ is valid ----------------------------------------------
if [ -n "$src" ] && [ -d "$src/configs" ]; then
  for card in "$src"/configs/*.yaml "$src"/configs/bench/*.yaml; do
    [ -e "$card" ] || continue
    expect_code 0 "card ${card#"$src"/} is valid" -- "$lf" config "$card"
  done
else bad "no source dir given (argument 3)"; fi

finish cli_gauge
