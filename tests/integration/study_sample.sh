#!/usr/bin/env bash
# latflow study with study.sample (issue 16): each point runs the stages of `latflow run`
# (train, sample, HMC) in its folder: its ensemble.h5 and hmc.h5 are bitwise (the chain's
# logw, obs and accepted) those of `latflow run CARD --set key=value`, and its point.json
# holds the IMH acceptance, the pole mass and the effective samples per second of flow
# (with and without training) and HMC; --resume of the finished study keeps everything.
# usage: study_sample.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }

cat > s.yaml <<'YAML'
seed: 3
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 20}
  eval_samples: 256
  eval_every: 10
sample: {proposals: 2048, block: 256}
hmc: {trajectories: 200, therm: 20}
study:
  grid:
    theory.lambda: [7, 6]
  sample: true
YAML

expect_code 0 "study with sample: true" -- "$lf" study s.yaml --output st --json
cp out.txt study.json.txt
[ "$(grep -c '"imh_acceptance":	0\.' study.json.txt)" = 2 ] && [ "$(grep -c '"eff_s_hmc":	[0-9]' study.json.txt)" = 2 ] &&
  [ "$(grep -c '"eff_s_flow_with_train":	[0-9]' study.json.txt)" = 2 ] &&
  ok "--json: IMH acceptance and effective samples per second of flow and HMC per point" ||
  bad "--json: $(grep -E 'imh|eff_s|mass' study.json.txt)"
grep -q '"mass":' study.json.txt && ok "--json: the pole mass per point" || bad "no mass"
expect_code 0 "latflow run of point 1" -- "$lf" run s.yaml --set theory.lambda=6 --output r1
diff=""
for f in ensemble hmc; do
  for d in logw obs accepted; do
    [ $f = hmc ] && [ $d = logw ] && continue
    h5same r1/$f.h5 st/points/p001/$f.h5 /chain_0/$d || diff="$diff $f/$d"
  done
done
[ -z "$diff" ] && ok "point 1's ensembles: bitwise those of latflow run" || bad "point 1 differs in:$diff"
expect_code 0 "--resume of the finished study" -- "$lf" study s.yaml --output st --resume --json
grep -q '"imh_acceptance":	0\.' out.txt && ok "--resume keeps the measurements" || bad "--resume: $(head -40 out.txt)"
finish study_sample
