#!/usr/bin/env bash
# Checkpoint and exact resume of `latflow train` (issue 4): runs interrupted by a signal
# (LATFLOW_TEST_INTERRUPT at a checkpoint step and between two), by SIGKILL between
# checkpoints, with the checkpoint lost so that .prev is used (the metrics file then holds
# more records than the checkpoint and is cut back), twice in a row, under mpiexec -n 2 with the signal on rank 1 only, and by a real `kill -TERM`; each
# is resumed with --resume and must end with model.h5 parameters and every train.h5
# column but `seconds` bitwise equal (h5diff) to an uninterrupted run, with exit code 3
# for the signal stops and no checkpoint left at the end. Also: a run-length change on
# resume (more steps) equals the longer uninterrupted run; refusals of a changed
# theory.lambda and model.layers (exit 2, key named), another number of training ranks
# (exit 2), a fresh run over a checkpoint; --resume without a checkpoint starts over; --resume of a
# finished run says it is complete. The runs evaluate on fresh samples every 15 steps
# (issue 12): the /eval columns but the timing ones must be bitwise those of the
# uninterrupted run too (no evaluation lost or repeated at the checkpoint step), and after
# a SIGKILL the .tmp holds the checkpoint's evaluations.
# usage: ckpt_train.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v h5diff >/dev/null || { echo "FAIL h5diff not found in PATH"; exit 1; }
mpi2() { mpi 2 -x LATFLOW_TEST_INTERRUPT "$@"; }

cols="step loss ess ess_smoothed lr batch grad_norm skipped" # all but the wall clock
cols="$cols eval/step eval/samples eval/ess eval/acceptance eval/loss eval/log_mean_weight eval/n_train"
# same_run REF DIR DESC: parameters and metrics columns bitwise equal, nothing left over
same_run() {
  local ref=$1 dir=$2 desc=$3 diff=""
  for c in $cols; do h5same "$ref/train.h5" "$dir/train.h5" "/$c" || diff="$diff $c"; done
  h5same "$ref/model.h5" "$dir/model.h5" /model/params || diff="$diff params"
  if [ -z "$diff" ]; then ok "$desc: params and metrics equal to the uninterrupted run"
  else bad "$desc: differs from the uninterrupted run in:$diff"; fi
  if ls "$dir"/train.ckpt.h5* "$dir"/*.tmp >/dev/null 2>&1; then
    bad "$desc: checkpoint or tmp files left: $(ls "$dir")"
  else ok "$desc: checkpoint files removed at the end"; fi
}
# interrupted DIR STEP DESC: exit 3 left a checkpoint at STEP and the metrics tmp
interrupted() {
  local dir=$1 step=$2 desc=$3
  if [ -s "$dir/train.ckpt.h5" ] && [ -s "$dir/train.h5.tmp" ] && [ ! -e "$dir/model.h5" ] &&
     [ ! -e "$dir/train.h5" ]; then ok "$desc: checkpoint and train.h5.tmp kept, no final files"
  else bad "$desc: files after the stop: $(ls "$dir" 2>&1)"; fi
  local got
  got=$(h5dump -a /next_step "$dir/train.ckpt.h5" 2>/dev/null | sed -n 's/.*(0): *\([0-9-]*\).*/\1/p')
  [ "$got" = "$step" ] && ok "$desc: checkpoint at step $step" ||
    bad "$desc: checkpoint at step '$got', want $step"
}

cat > tiny.yaml <<'YAML'
seed: 7
output: out/ref
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3, precision: double}
train:
  batch: 16
  stop: {steps: 60, ess_window: 10}
  checkpoint_every: 20
  eval_samples: 64
  eval_every: 15
  log_every: 20
YAML

# ---- references --------------------------------------------------------------------------
expect_code 0 "reference: 60 steps uninterrupted" -- "$lf" train tiny.yaml
expect_code 0 "reference: 80 steps uninterrupted" -- "$lf" train tiny.yaml --output out/ref80 --set train.stop.steps=80
same_run out/ref out/ref "reference against itself" # the comparison runs
[ "$(h5dump -d /eval/step -y -w 0 out/ref/train.h5 2>/dev/null | grep -E '^ *[0-9]' | tr -d ' \n')" = "15,30,45,60" ] &&
  ok "reference: evaluations after steps 15, 30, 45, 60" || bad "reference /eval/step: $(h5dump -d /eval/step out/ref/train.h5 2>&1 | tail -4)"
h5same out/ref/model.h5 out/ref80/model.h5 /model/params ||
  h5same out/ref/train.h5 out/ref80/train.h5 /loss &&
  bad "60 and 80 steps compare equal (the comparison cannot fail)" ||
  ok "60 and 80 steps differ in parameters and metrics length (the comparison can fail)"

# ---- a signal on a checkpoint step and between two ----------------------------------------
for s in 40 30; do
  LATFLOW_TEST_INTERRUPT=train:$s:TERM expect_code 3 "SIGTERM at step $s" -- "$lf" train tiny.yaml --output out/t$s
  expect_err "interrupted by SIGTERM at step $s; checkpoint out/t$s/train.ckpt.h5; continue with --resume" "stop message"
  interrupted out/t$s $s "SIGTERM at $s"
  expect_code 0 "resume after SIGTERM at $s" -- "$lf" train tiny.yaml --output out/t$s --resume
  expect_err "resuming at step $s" "resume logged"
  same_run out/ref out/t$s "SIGTERM at $s + resume"
done

# ---- SIGKILL between checkpoints --------------------------------------------------------
# checkpoint_every 300 > the 256-record buffer, so records 300..555 are written to the
# file before the kill at 580; its metadata is that of the flush before the checkpoint
k="--set train.stop.steps=600 --set train.checkpoint_every=300"
expect_code 0 "reference: 600 steps" -- "$lf" train tiny.yaml --output out/ref600 $k
LATFLOW_TEST_INTERRUPT=train:580:KILL expect_code nz "SIGKILL at step 580" -- "$lf" train tiny.yaml --output out/kill $k
interrupted out/kill 300 "SIGKILL at 580"
h5ls out/kill/train.h5.tmp 2>/dev/null | grep -q '^loss .*{300/Inf}' &&
  ok "after the kill train.h5.tmp is readable with the checkpoint's 300 records" ||
  bad "train.h5.tmp after the kill: $(h5ls out/kill/train.h5.tmp 2>&1 | head -2)"
h5ls out/kill/train.h5.tmp/eval 2>/dev/null | grep -q '^step .*{20/Inf}' &&
  ok "... and the checkpoint's 20 evaluations (15 .. 300)" ||
  bad "train.h5.tmp /eval after the kill: $(h5ls out/kill/train.h5.tmp/eval 2>&1 | head -3)"
expect_code 0 "resume after SIGKILL" -- "$lf" train tiny.yaml --output out/kill $k --resume
same_run out/ref600 out/kill "SIGKILL at 580 + resume"

# ---- the checkpoint lost between the two renames: resume from .prev ----------------------
# the metrics file then holds 40 records, the checkpoint 20: the resume cuts it back
LATFLOW_TEST_INTERRUPT=train:40:TERM expect_code 3 "SIGTERM at 40 (for .prev)" -- "$lf" train tiny.yaml --output out/prev
rm -f out/prev/train.ckpt.h5
h5ls out/prev/train.h5.tmp 2>/dev/null | grep -q '^loss .*{40/Inf}' &&
  ok "train.h5.tmp holds 40 records, train.ckpt.h5.prev is at step 20" ||
  bad "train.h5.tmp: $(h5ls out/prev/train.h5.tmp 2>&1 | head -2)"
expect_code 0 "resume from .prev" -- "$lf" train tiny.yaml --output out/prev --resume
expect_err "resuming at step 20 from out/prev/train.ckpt.h5.prev" "resumed from .prev"
same_run out/ref out/prev "checkpoint lost, .prev at 20 + resume"

# ---- interrupted twice, then a run-length change ----------------------------------------
LATFLOW_TEST_INTERRUPT=train:10:INT expect_code 3 "SIGINT at step 10" -- "$lf" train tiny.yaml --output out/twice
LATFLOW_TEST_INTERRUPT=train:45:USR1 expect_code 3 "resume, then SIGUSR1 at step 45" -- "$lf" train tiny.yaml --output out/twice --resume
interrupted out/twice 45 "second stop"
expect_code 0 "second resume" -- "$lf" train tiny.yaml --output out/twice --resume
same_run out/ref out/twice "stopped twice + resumed twice"
LATFLOW_TEST_INTERRUPT=train:30:TERM expect_code 3 "SIGTERM at 30 of 60 steps" -- "$lf" train tiny.yaml --output out/longer
expect_code 0 "resume with train.stop.steps=80" -- "$lf" train tiny.yaml --output out/longer --resume --set train.stop.steps=80
same_run out/ref80 out/longer "60-step run stopped at 30, resumed to 80"

# ---- refusals ----------------------------------------------------------------------------
LATFLOW_TEST_INTERRUPT=train:30:TERM expect_code 3 "SIGTERM at 30 (for the refusals)" -- "$lf" train tiny.yaml --output out/chg
expect_code 2 "resume with another theory.lambda" -- "$lf" train tiny.yaml --output out/chg --resume --set theory.lambda=7.5
expect_err "'theory.lambda' differs" "lambda change named"
expect_code 2 "resume with another model.layers" -- "$lf" train tiny.yaml --output out/chg --resume --set model.layers=3
expect_err "'model.layers' differs" "layers change named"
expect_code 1 "fresh run over an interrupted one" -- "$lf" train tiny.yaml --output out/chg
expect_err "continue with: $lf train tiny.yaml --output out/chg --resume; or start over" "fresh run refused with the exact resume command"
interrupted out/chg 30 "checkpoint intact after the refusals"
expect_code 0 "resume after the refusals" -- "$lf" train tiny.yaml --output out/chg --resume
same_run out/ref out/chg "refused, then resumed"
expect_code 0 "--resume without a checkpoint starts over" -- "$lf" train tiny.yaml --output out/none --resume
expect_err "starting from the beginning" "the restart is logged"
same_run out/ref out/none "--resume without a checkpoint"
expect_code 0 "--resume of a finished run" -- "$lf" train tiny.yaml --resume
expect_err "training is complete, nothing to resume" "complete run reported"

# ---- data parallel: mpiexec -n 2, the signal on rank 1 only -------------------------------
expect_code 0 "reference: 60 steps on 2 ranks" -- mpi2 "$lf" train tiny.yaml --output out/ref2
LATFLOW_TEST_INTERRUPT=train:30:USR1:1 expect_code 3 "SIGUSR1 on rank 1 at step 30, 2 ranks" -- mpi2 "$lf" train tiny.yaml --output out/mpi
interrupted out/mpi 30 "2 ranks, SIGUSR1 on rank 1"
expect_code 2 "resume on 1 rank of a 2-rank checkpoint" -- "$lf" train tiny.yaml --output out/mpi --resume
expect_err "written by a run with 2 training ranks, this run has 1" "rank count refused"
expect_code 0 "resume on 2 ranks" -- mpi2 "$lf" train tiny.yaml --output out/mpi --resume
same_run out/ref2 out/mpi "2 ranks, SIGUSR1 on rank 1 + resume"

# one training rank of two (train.ranks=1): rank 1 only takes part in the agreements; the
# checkpoint is a one-rank one, so a serial resume (train.ranks 0 = all = 1) continues it
LATFLOW_TEST_INTERRUPT=train:30:TERM:0 expect_code 3 "SIGTERM on rank 0, 2 ranks, train.ranks=1" -- mpi2 "$lf" train tiny.yaml --output out/r1 --set train.ranks=1
expect_err "the training ranks stopped on a signal after writing out/r1/train.ckpt.h5" "the idle rank's message"
interrupted out/r1 30 "train.ranks=1 of 2"
expect_code 0 "serial resume of the train.ranks=1 checkpoint" -- "$lf" train tiny.yaml --output out/r1 --resume
same_run out/ref out/r1 "train.ranks=1 of 2 + serial resume"

# ---- a real external SIGTERM to a running process ----------------------------------------
long="--set train.stop.steps=15000 --set theory.shape=[8,8] --set train.batch=32 --set train.checkpoint_every=2000 --set train.log_every=100 --set train.eval_every=1000"
expect_code 0 "reference: 15000 steps on 8x8" -- "$lf" train tiny.yaml --output out/reflong $long
"$lf" train tiny.yaml --output out/ext $long >ext.out 2>ext.err &
pid=$!
for _ in $(seq 1 200); do grep -q 'step=' ext.err 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -TERM "$pid"
wait "$pid"; code=$?
[ "$code" = 3 ] && ok "kill -TERM of the running process: exit 3" || { bad "kill -TERM: exit $code, want 3"; cat ext.err; }
grep -q 'interrupted by SIGTERM at step' ext.err && ok "external stop message" || bad "no stop message"
expect_code 0 "resume after kill -TERM" -- "$lf" train tiny.yaml --output out/ext $long --resume
same_run out/reflong out/ext "kill -TERM + resume"
# the wall clock accumulates over the two runs: the seconds column never goes back
h5dump -d /seconds -y -w 1 out/ext/train.h5 2>/dev/null | grep -E '^ *[0-9.e+-]+,?$' | tr -d ' ,' |
  awk 'NR > 1 && $1 < p { back = 1 } { p = $1 } END { exit !(NR == 15000 && !back) }' &&
  ok "seconds column nondecreasing across the resume (training time accumulates)" ||
  bad "seconds column goes back at the resume or has the wrong length"

finish
