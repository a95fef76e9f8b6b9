#!/usr/bin/env bash
# latflow study, protocol scratch (issue 16): a study card is a run card (`latflow config`
# and `latflow train` read it and ignore `study:`); --dry-run lists the points (table and
# --json; cases times the grid, case-major) and creates nothing; a 2-point grid's points
# are bitwise (model.h5 /model/params, train.h5 /eval/ess) the runs of `latflow train CARD
# --set key=value`; --json and study.json hold every point with its measurements; a second
# run is refused (exit 1, naming --resume and --force), --resume keeps the finished
# points, --force reruns them; a bad study key or value is refused with exit 2 naming the
# card's line and the key. On 2 ranks the points are the 2-rank train runs.
# usage: study_grid.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }

cat > grid.yaml <<'YAML'
seed: 7
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 30, ess_window: 10}
  eval_samples: 256
  eval_every: 10
  log_every: 10
study:
  name: g
  grid:
    theory.lambda: [8, 6]
    train.batch: [16]
  targets: [0.001, 0.99]
YAML

# ---- a study card is a run card -------------------------------------------------------------
expect_code 0 "latflow config reads a study card" -- "$lf" config grid.yaml
grep -q "lambda: 8" out.txt && ! grep -q "study" out.txt && ok "config: the card's keys, no study section" ||
  bad "config output: $(head -5 out.txt)"

# ---- --dry-run -----------------------------------------------------------------------------
expect_code 0 "--dry-run" -- "$lf" study grid.yaml --dry-run
grep -q "^  1 .*theory.lambda=6, train.batch=16 .*runs/g/points/p001" out.txt &&
  ok "--dry-run: point 1's label, overrides and folder" || bad "--dry-run table: $(cat out.txt)"
[ ! -e runs ] && ok "--dry-run creates nothing" || bad "--dry-run created runs/"
expect_code 0 "--dry-run --json" -- "$lf" study grid.yaml --dry-run --json --output s
grep -q '"theory.lambda":	6' out.txt && grep -q '"dir":	"s/points/p001"' out.txt &&
  ! grep -q '"ess_eval"' out.txt && ok "--dry-run --json: points with set and dir, no measurements" ||
  bad "--dry-run --json: $(cat out.txt)"

sed '/^study:/,$d' grid.yaml > cases.yaml
cat >> cases.yaml <<'YAML'
study:
  cases:
    - {label: a, set: {train.batch: 32}}
    - {label: b, set: {train.optimizer: {name: sgd}}}
  grid: {theory.lambda: [8, 6], seed: [1, 2]}
YAML
expect_code 0 "--dry-run of cases x grid" -- "$lf" study cases.yaml --dry-run
[ "$(grep -c '^  [0-9]' out.txt)" = 8 ] &&
  grep -q "^  5 .*b, theory.lambda=8, seed=2 .*train.optimizer={name: sgd} theory.lambda=8 seed=2 " out.txt &&
  ok "8 points, case-major, first grid key slowest; a case's set then the grid's" || bad "cases: $(cat out.txt)"

# ---- the points are the single runs ------------------------------------------------------------
expect_code 0 "study of 2 points" -- "$lf" study grid.yaml --output s --json
grep -q '"table":	"s/study.csv"' out.txt && grep -q '"file":	"s/study.h5"' out.txt && [ -s s/study.json ] &&
  [ -s s/study.h5 ] && [ -s s/curves.csv ] && [ "$(wc -l < s/study.csv)" = 3 ] &&
  ok "--json names the table s/study.csv and s/study.h5; study.json, curves.csv written" ||
  bad "outputs: $(head -8 out.txt; ls s)"
[ "$(grep -c '"done":	true' out.txt)" = 2 ] && [ "$(grep -c '"n_train":	480' out.txt)" -ge 2 ] &&
  [ "$(grep -c '"ess_eval":	0\.' out.txt)" = 2 ] && ok "--json: 2 finished points, N_train 480 (30 steps x 16)" ||
  bad "--json points: $(cat out.txt)"
grep -q '"target":	0.001,\s*$' out.txt; grep -A1 '"target":	0.001' out.txt | grep -q '"steps":	10' &&
  ok "target ESS 0.001 reached at the first evaluation (step 10)" || bad "targets: $(grep -A3 target out.txt | head)"
grep -A1 '"target":	0.99' out.txt | grep -q '"steps":	null' && ok "target ESS 0.99 not reached (null)" ||
  bad "target 0.99: $(grep -A3 '0.99' out.txt | head)"
expect_err "study: point 2/2 [theory.lambda=6, train.batch=16]" "one log line per point"
expect_code 0 "latflow info of the study file" -- "$lf" info s/study.h5 --json
grep -q '"done":	2' out.txt && ok "info: 2 points done" || bad "info: $(head -30 out.txt)"
for v in 8 6; do
  k=$([ $v = 8 ] && echo 0 || echo 1)
  expect_code 0 "train --set theory.lambda=$v" -- "$lf" train grid.yaml --set theory.lambda=$v --set train.batch=16 --output t$v
  h5same t$v/model.h5 s/points/p00$k/model.h5 /model/params && h5same t$v/train.h5 s/points/p00$k/train.h5 /eval/ess &&
    ok "point $k: parameters and ESS curve bitwise those of latflow train" || bad "point $k differs from latflow train"
done
h5same t8/model.h5 t6/model.h5 /model/params && bad "lambda 8 and 6 give equal parameters (the comparison cannot fail)" ||
  ok "the two points differ (the comparison can fail)"

# ---- on 2 ranks (data-parallel training): the points are the 2-rank train runs ------------------
expect_code 0 "study on 2 ranks" -- mpi 2 "$lf" study grid.yaml --output m2 --json
grep -q '"cpu_seconds"' out.txt && ok "2 ranks: --json printed once" || bad "2 ranks: $(head -5 out.txt)"
expect_code 0 "train on 2 ranks" -- mpi 2 "$lf" train grid.yaml --set theory.lambda=6 --set train.batch=16 --output m2t
h5same m2t/model.h5 m2/points/p001/model.h5 /model/params && ok "2 ranks: point 1 bitwise latflow train on 2 ranks" ||
  bad "2 ranks: point 1 differs from latflow train"

# ---- refusal, --resume, --force ------------------------------------------------------------
expect_code 1 "a second run into the same output" -- "$lf" study grid.yaml --output s
expect_err "already holds runs of a study" "refusal"
expect_err "--resume" "refusal names --resume"
cp s/points/p000/model.h5 before.h5
expect_code 0 "--resume of a finished study" -- "$lf" study grid.yaml --output s --resume
expect_err "point 1/2 [theory.lambda=8, train.batch=16]: finished earlier" "finished points are kept"
cmp -s before.h5 s/points/p000/model.h5 && ok "--resume: the model file is untouched" || bad "--resume rewrote the model"
expect_code 0 "--force reruns" -- "$lf" study grid.yaml --output s --force
expect_err "point 1/2 [theory.lambda=8, train.batch=16]: training from scratch" "--force trains again"
h5same before.h5 s/points/p000/model.h5 /model/params && ok "--force: the same parameters again" || bad "--force differs"

# ---- bad cards -----------------------------------------------------------------------------
sed 's/^  grid:/  gird:/' grid.yaml > bad1.yaml
expect_code 2 "unknown study key" -- "$lf" study bad1.yaml --dry-run
expect_err "bad1.yaml:12: unknown key 'study.gird' (did you mean 'study.grid'?)" "message"
sed 's/theory.lambda: \[8, 6\]/theory.lambda: [8, x]/' grid.yaml > bad2.yaml
expect_code 2 "a grid value the card refuses" -- "$lf" study bad2.yaml --dry-run
expect_err "bad2.yaml:13: study.grid.theory.lambda: entry 2: theory.lambda: expected a number, got 'x'" "message"
sed '/^study:/,$d' grid.yaml > run.yaml
expect_code 2 "a run card without study: is refused" -- "$lf" study run.yaml --dry-run
expect_err "run.yaml: not a study card" "message"
expect_code 2 "--point with --assemble" -- "$lf" study grid.yaml --point 0 --assemble
finish study_grid
