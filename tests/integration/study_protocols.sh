#!/usr/bin/env bash
# latflow study transfer protocols and cluster arrays (issue 16). Protocol root: the root
# model (the card with study.root) is trained once in DIR/root, bitwise the run of
# `latflow train --set <root overrides>`, and every point is retrained from it, bitwise the
# run of `latflow train --set train.init_from=DIR/root/model.h5 --set <point>`. Protocol
# sequential: point 0 from scratch, point k from point k-1's model: bitwise a manual chain
# of `latflow train --set train.init_from=...`, the stored config names the predecessor and
# the chain's N_train and seconds add the predecessors' (as model.h5 records them).
# Arrays: --point K before the root exists is refused naming --root-only; --root-only,
# then --point 1, --point 0 in any order, then --assemble give the points of the whole
# study (bitwise); --assemble with a point missing lists it; a sequential study refuses
# --point (exit 2).
# usage: study_protocols.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }

card() { # PROTOCOL ROOT-LINE
  cat <<YAML
seed: 11
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 20, ess_window: 10}
  eval_samples: 256
  eval_every: 10
  log_every: 10
study:
  protocol: $1
  $2
  grid:
    theory.lambda: [6, 5]
YAML
}
card root "root: {theory.lambda: 7}" > root.yaml
card sequential "" > seq.yaml
same() { # A B DESC
  h5same "$1" "$2" /model/params && ok "$3" || bad "$3: /model/params differ"
}

# ---- protocol root ---------------------------------------------------------------------------
expect_code 0 "--dry-run: root and points" -- "$lf" study root.yaml --dry-run --output r
grep -q "^  root .*theory.lambda=7" out.txt && grep -q "^  1 .* root .*r/points/p001" out.txt &&
  ok "the table lists the root and the points' parent" || bad "table: $(cat out.txt)"
expect_code 0 "protocol root" -- "$lf" study root.yaml --output r --json
cp out.txt root.json.txt
expect_err "root: training from scratch into r/root" "the root is trained first"
expect_err "point 2/2 [theory.lambda=5]: training from the root model" "points start from the root"
grep -q '"parent":	"root"' out.txt && ok "--json: parent root" || bad "--json parent: $(grep parent out.txt)"
expect_code 0 "the root by hand" -- "$lf" train root.yaml --set theory.lambda=7 --output m/root
same m/root/model.h5 r/root/model.h5 "root: bitwise latflow train --set theory.lambda=7"
expect_code 0 "point 1 by hand" -- "$lf" train root.yaml --set train.init_from=r/root/model.h5 --set theory.lambda=5 --output m/p1
same m/p1/model.h5 r/points/p001/model.h5 "point 1: bitwise latflow train from the root's model"
expect_code 0 "point 1 from scratch" -- "$lf" train root.yaml --set theory.lambda=5 --output m/p1s
h5same m/p1s/model.h5 r/points/p001/model.h5 /model/params && bad "the transfer changed nothing (the test cannot fail)" ||
  ok "a point from scratch differs from the retrained one"
nroot=$(grep -A30 '"root":' root.json.txt | grep -m1 '"n_train":' | sed 's/.*://; s/[ ,\t]//g')
nchain=$(grep -m1 '"n_train_chain":	' <(sed -n '/"points"/,$p' root.json.txt) | sed 's/.*://; s/[ ,\t]//g')
[ "$nroot" = 320 ] && [ "$nchain" = 640 ] && ok "chain N_train = root's 320 + the point's 320" ||
  bad "chain costs: root $nroot, chain $nchain"

# ---- arrays (protocol root) -----------------------------------------------------------------
expect_code 1 "--point before the root" -- "$lf" study root.yaml --output a --point 1
expect_err "train it first with --root-only" "names --root-only"
expect_code 0 "--root-only" -- "$lf" study root.yaml --output a --root-only
expect_code 0 "--point 1" -- "$lf" study root.yaml --output a --point 1
expect_code 1 "--assemble with point 0 missing" -- "$lf" study root.yaml --output a --assemble
expect_err "1 of 3 runs have no results yet (0)" "lists the missing point"
expect_code 0 "--point 0" -- "$lf" study root.yaml --output a --point 0
expect_code 0 "--assemble" -- "$lf" study root.yaml --output a --assemble --json
[ "$(grep -c '"done":	true' out.txt)" = 3 ] && [ -s a/study.json ] && [ -s a/study.h5 ] && [ -s a/study.csv ] &&
  ok "--assemble: root and 2 points, a/study.h5, a/study.csv" ||
  bad "--assemble: $(cat out.txt)"
for k in 0 1; do same r/points/p00$k/model.h5 a/points/p00$k/model.h5 "array point $k: bitwise the whole study's"; done

# ---- protocol sequential ----------------------------------------------------------------------
expect_code 2 "--point of a sequential study" -- "$lf" study seq.yaml --output s --point 1
expect_err "a sequential study is one chain" "message"
expect_code 0 "protocol sequential" -- "$lf" study seq.yaml --output s --json
cp out.txt seq.json.txt
expect_err "point 2/2 [theory.lambda=5]: training from point 1's model" "point 1 starts from point 0"
h5dump -a /meta/config_yaml s/points/p001/model.h5 | grep -q 'init_from: "s/points/p000/model.h5"' &&
  ok "point 1's stored config: init_from the predecessor's model" || bad "init_from not stored"
expect_code 0 "chain by hand: point 0" -- "$lf" train seq.yaml --set theory.lambda=6 --output c/p0
expect_code 0 "chain by hand: point 1" -- "$lf" train seq.yaml --set theory.lambda=5 --set train.init_from=c/p0/model.h5 --output c/p1
same c/p0/model.h5 s/points/p000/model.h5 "sequential point 0: bitwise a scratch run"
same c/p1/model.h5 s/points/p001/model.h5 "sequential point 1: bitwise the manual chain"
grep -q '"n_train_chain":	640' seq.json.txt && ok "sequential: point 1's chain N_train 640" ||
  bad "chain: $(grep chain seq.json.txt)"
expect_code 0 "latflow info of point 1's model" -- "$lf" info s/points/p001/model.h5 --json
ichain=$(grep -A4 '"chain":' out.txt | grep -E '"(n_train|seconds)"' | sed 's/.*://; s/[ ,\t]//g' | tr '\n' ' ')
pchain=$(grep -E '"(n_train_chain|seconds_chain)"' s/points/p001/point.json | sed 's/.*://; s/[ ,\t]//g' | tr '\n' ' ')
[ -n "$ichain" ] && [ "$ichain" = "$pchain" ] && ok "point.json's chain cost is the model file's ($pchain)" ||
  bad "chain cost: model '$ichain', point.json '$pchain'"
finish study_protocols
