#!/usr/bin/env bash
# latflow study interrupted and resumed (issue 16): a SIGTERM inside point 0's training (the
# test hook LATFLOW_TEST_INTERRUPT=train:20:TERM) ends the study with exit 3 and the command
# that continues it; --resume continues point 0 from its checkpoint and runs point 1; a
# SIGTERM between the points (LATFLOW_TEST_INTERRUPT=study:1:TERM) stops before point 1 with
# point 0 finished, and --resume keeps point 0 and runs point 1. Both end with model.h5
# parameters and /eval/ess bitwise those of an uninterrupted study, no checkpoint left.
# usage: study_resume.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }

cat > seq.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 30, ess_window: 10}
  checkpoint_every: 10
  eval_samples: 256
  eval_every: 10
  log_every: 10
study:
  protocol: sequential
  grid:
    theory.lambda: [7, 6]
YAML
same_study() { # DIR DESC
  local diff="" k
  for k in 0 1; do
    h5same ref/points/p00$k/model.h5 "$1/points/p00$k/model.h5" /model/params || diff="$diff p$k/params"
    h5same ref/points/p00$k/train.h5 "$1/points/p00$k/train.h5" /eval/ess || diff="$diff p$k/eval"
  done
  [ -z "$diff" ] && ok "$2: bitwise the uninterrupted study" || bad "$2: differs in$diff"
  leftovers "$1/points/p000" "$2 (point 0)"
  leftovers "$1/points/p001" "$2 (point 1)"
}

expect_code 0 "uninterrupted study" -- "$lf" study seq.yaml --output ref

LATFLOW_TEST_INTERRUPT=train:20:TERM expect_code 3 "SIGTERM in point 0 at step 20" -- "$lf" study seq.yaml --output t
expect_err "continue with: " "the command that continues it"
expect_err "study seq.yaml --output t --resume" "... is the study with --resume"
[ -s t/points/p000/train.ckpt.h5 ] && [ ! -e t/points/p000/point.json ] && [ ! -e t/points/p001 ] &&
  ok "point 0 checkpointed, not finished; point 1 not started" || bad "files: $(ls -R t)"
expect_code 0 "--resume" -- "$lf" study seq.yaml --output t --resume
expect_err "resuming at step 20" "point 0 continues from its checkpoint"
same_study t "resumed inside a point"

LATFLOW_TEST_INTERRUPT=study:1:TERM expect_code 3 "SIGTERM between the points" -- "$lf" study seq.yaml --output b
expect_err "interrupted by SIGTERM before point 2/2" "stop message"
[ -s b/points/p000/point.json ] && [ ! -e b/points/p001/model.h5 ] && ok "point 0 finished, point 1 not run" ||
  bad "files: $(ls -R b)"
expect_code 0 "--resume" -- "$lf" study seq.yaml --output b --resume
expect_err "point 1/2 [theory.lambda=7]: finished earlier" "point 0 kept"
same_study b "resumed between points"
finish study_resume
