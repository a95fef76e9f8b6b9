#!/usr/bin/env bash
# Drives the latflow binary: version, config printing and errors (exit code 2 with file,
# line and key), a short training run with --json and its files, refusal to overwrite,
# parameter and volume transfer, an architecture mismatch, and bench --json.
# usage: cli_train.sh LATFLOW WORKDIR SOURCEDIR
set -u
lf=$1; wd=$2; src=$3
rm -rf "$wd"; mkdir -p "$wd"; cd "$wd" || exit 1
fails=0; passes=0
ok()   { passes=$((passes+1)); echo "ok   $*"; }
bad()  { fails=$((fails+1)); echo "FAIL $*"; }
expect_code() { # expect_code CODE DESC -- cmd...
  local want=$1 desc=$2; shift 3
  "$@" >out.txt 2>err.txt; local got=$?
  if [ "$got" = "$want" ]; then ok "$desc (exit $got)"; else bad "$desc: exit $got, want $want"; cat err.txt; fi
}
expect_err() { # expect_err TEXT DESC
  if grep -qF -- "$1" err.txt; then ok "$2: '$1'"; else bad "$2: stderr lacks '$1'"; cat err.txt; fi
}

expect_code 0 "--version" -- "$lf" --version
grep -q '^latflow ' out.txt && ok "version printed" || bad "version not printed"
expect_code 2 "no command" -- "$lf"
expect_code 2 "unknown command" -- "$lf" frobnicate
expect_code 0 "config --default" -- "$lf" config --default
cp out.txt default.yaml
expect_code 0 "config of the default card" -- "$lf" config default.yaml
cp out.txt effective.yaml
expect_code 0 "effective config reads back" -- "$lf" config effective.yaml
cmp -s <(tail -n +2 out.txt) <(tail -n +2 effective.yaml) && ok "effective config round trip is a fixed point (below the source comment)" || bad "effective config round trip differs"
expect_code 2 "misspelt --set key" -- "$lf" config --set train.bach=3
expect_err "did you mean 'train.batch'" "suggestion"
printf 'theory:\n  name: phi4\n  shape: [8, 7]\n' > odd.yaml
expect_code 2 "odd lattice size" -- "$lf" train odd.yaml
expect_err "odd.yaml:3" "file and line named"
expect_code 2 "missing config file" -- "$lf" train nothere.yaml
expect_err "nothere.yaml" "missing file named"
expect_code 2 "unknown option" -- "$lf" train --frobnicate

cat > tiny.yaml <<'YAML'
seed: 7
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 60, ess_window: 10}
  eval_samples: 500
  log_every: 20
YAML
expect_code 0 "train tiny --json" -- "$lf" train tiny.yaml --json
for key in '"steps":' '"ess_eval":' '"acceptance":' '"ess_smoothed":' '"loss":' '"wall_seconds":' '"model":'; do
  grep -qF "$key" out.txt && ok "json has $key" || bad "json lacks $key"
done
grep -q 'step=20/60' err.txt && ok "progress line printed" || bad "no progress line"
[ -s out/tiny/model.h5 ] && [ -s out/tiny/train.h5 ] && ok "model.h5 and train.h5 written" || bad "outputs missing"
ls out/tiny/*.tmp >/dev/null 2>&1 && bad "temporary files left" || ok "no temporary files left"
expect_code 1 "second run refuses to overwrite" -- "$lf" train tiny.yaml
expect_err "refusing to overwrite" "overwrite refusal"
expect_code 0 "--force overwrites" -- "$lf" train tiny.yaml --force --set train.stop.steps=5
expect_code 0 "parameter transfer" -- "$lf" train tiny.yaml --output out/pt --set train.init_from=out/tiny/model.h5 --set theory.m2=-3.5 --set train.stop.steps=5
expect_err "parameter transfer" "parameter transfer logged"
expect_code 0 "volume transfer" -- "$lf" train tiny.yaml --output out/vt --set train.init_from=out/tiny/model.h5 --set 'theory.shape=[8,8]' --set train.stop.steps=5
expect_err "volume transfer" "volume transfer logged"
expect_code 2 "transfer between architectures" -- "$lf" train tiny.yaml --output out/bad --set train.init_from=out/tiny/model.h5 --set model.layers=4
expect_err "another architecture" "architecture mismatch explained"
echo "not hdf5" > fake.h5
expect_code 1 "init_from a text file" -- "$lf" train tiny.yaml --output out/fake --set train.init_from=fake.h5
expect_err "fake.h5" "bad model file named"
expect_code 0 "bench --json" -- "$lf" bench tiny.yaml --json --seconds 0.2
for key in '"train_steps_per_s":' '"proposals_per_s":' '"peak_rss_mb":' '"flop_efficiency":'; do
  grep -qF "$key" out.txt && ok "bench json has $key" || bad "bench json lacks $key"
done
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
