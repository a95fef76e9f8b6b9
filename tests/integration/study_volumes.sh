#!/usr/bin/env bash
# latflow study with study.volumes (issue 16): each point's model is evaluated on every
# volume without retraining (lf_eval_model): point.json and --json list ESS, its error and
# the acceptance per volume; on the training lattice with train.eval_samples samples the
# ESS is the point's last training evaluation's, bitwise; with volume_proposals the model
# is also sampled on each lattice (<dir>/volumes/LxL/ensemble.h5, volume transferred);
# the law ESS(V) = ESS(V0)^(V/V0) is fitted per point and DIR/volumes.csv written;
# --resume keeps the volumes.
# usage: study_volumes.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

cat > v.yaml <<'YAML'
seed: 4
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 20}
  eval_samples: 256
  eval_every: 10
sample: {block: 256}
study:
  grid:
    theory.lambda: [7]
  volumes: [4, 8]
  volume_samples: 256
  volume_proposals: 512
YAML

expect_code 0 "study with volumes" -- "$lf" study v.yaml --output st --json
cp out.txt study.json.txt
pj=st/points/p000/point.json
[ -s "$pj" ] && [ "$(grep -c '"L0":' "$pj")" = 2 ] && grep -q '"volumes"' study.json.txt &&
  ok "point.json and --json list the 2 volumes" || bad "volumes: $(cat "$pj")"
ess_eval=$(grep -m1 '"ess_eval":' "$pj" | sed 's/.*://; s/[ ,\t]//g')
ess4=$(grep -A4 '"L0":	4,' "$pj" | grep -m1 '"ess":' | sed 's/.*://; s/[ ,\t]//g')
ess8=$(grep -A4 '"L0":	8,' "$pj" | grep -m1 '"ess":' | sed 's/.*://; s/[ ,\t]//g')
[ -n "$ess4" ] && [ "$ess4" = "$ess_eval" ] && ok "ESS at 4x4 = the last training evaluation's ($ess4)" ||
  bad "ESS at 4x4 '$ess4', ess_eval '$ess_eval'"
awk -v a="$ess8" 'BEGIN { exit !(a > 0 && a < 1) }' && ok "ESS at 8x8 measured ($ess8)" || bad "ESS at 8x8: '$ess8'"
grep -q '"law_ess_v0":	0\.' "$pj" && grep -q '"law_ess_anchor":	0\.' "$pj" &&
  ok "the volume law ESS(V) = ESS(V0)^(V/V0) fitted (ESS(V0) and the anchor of the largest V)" ||
  bad "law: $(grep law_ "$pj")"
[ -s st/volumes.csv ] && [ "$(wc -l < st/volumes.csv)" = 3 ] && ok "st/volumes.csv: 2 rows" ||
  bad "volumes.csv: $(cat st/volumes.csv 2>&1)"
[ -s st/points/p000/volumes/8x8/ensemble.h5 ] && [ -s st/points/p000/volumes/4x4/ensemble.h5 ] &&
  ok "the model sampled on each volume" || bad "volume ensembles: $(ls -R st/points/p000)"
expect_code 0 "--resume of the finished study" -- "$lf" study v.yaml --output st --resume --json
[ "$(grep -c '"L0":' out.txt)" = 2 ] && ok "--resume keeps the volumes" || bad "--resume: $(head -50 out.txt)"
finish study_volumes
