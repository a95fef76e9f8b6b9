#!/usr/bin/env bash
# SIGKILL at every step of the on-disk protocol (docs/ARCHITECTURE.md "Crash recovery"),
# then --resume: the result must be bitwise the uninterrupted run's, with no checkpoint,
# part or temporary file left. The kills come from the test-only fault hook
# (LATFLOW_FAULT=<point>[:<count>], src/core/fault.c) or, "before the first checkpoint",
# from LATFLOW_TEST_INTERRUPT=<phase>:<step>:KILL. Commands: train; sample on 1 and 2
# ranks; run (hmc and the merge of its part files: kill_hmc.sh).
# usage: kill_points.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

cat > c.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [8]}
train: {batch: 32, stop: {steps: 60}, checkpoint_every: 20, eval_samples: 0, log_every: 10}
sample: {proposals: 8192, block: 64, epoch: 4, checkpoint_every: 2048, save: all}
hmc: {trajectories: 600, therm: 40, steps: 5, checkpoint_every: 128, compare: false}
YAML

same_train() {
  local diff=""
  for c in step loss ess lr batch; do h5same ref_t/train.h5 "$1/train.h5" "/$c" || diff="$diff $c"; done
  h5same ref_t/model.h5 "$1/model.h5" /model/params || diff="$diff params"
  [ -z "$diff" ] && ok "$2: model and metrics bitwise equal to the uninterrupted run" ||
    bad "$2: differs in$diff"
  leftovers "$1" "$2"
}

# ---- references ----
"$lf" train c.yaml --output ref_t > ref_t.log 2>&1 && ok "reference train" || { bad "reference train"; tail -3 ref_t.log; }
"$lf" sample c.yaml --model ref_t/model.h5 --output ref_s > ref_s.log 2>&1 && ok "reference sample" || bad "reference sample"
# ---- train ----
t_case() { # NAME DESC ENV...
  local d=$1 desc=$2; shift 2
  env "$@" "$lf" train c.yaml --output "$d" > "$d.1.log" 2>&1; killed "train $desc" $?
  resume_ok "train $desc" "$d.2.log" "$lf" train c.yaml --output "$d" --resume
  same_train "$d" "train $desc"
}
t_case t1 "before the first checkpoint" LATFLOW_TEST_INTERRUPT=train:10:KILL
grep -q "starting from the beginning" t1.2.log && ok "train: the restart is logged" || bad "train: no restart line"
t_case t2 "after the first checkpoint's .tmp" LATFLOW_FAULT=after_checkpoint_tmp
t_case t3 "between .prev and the rename" LATFLOW_FAULT=after_checkpoint_prev:2
t_case t4 "between train.h5 and model.h5" LATFLOW_FAULT=before_final_rename
t_case t5 "after model.h5, before the checkpoint removal" LATFLOW_FAULT=after_final_rename
grep -q "is complete" t5.2.log && ok "train: a complete run is recognized" || bad "train: complete run not recognized"
# a failed training stays refused by --resume
mkdir -p tf && cp ref_t/model.h5 tf/model.failed.h5
"$lf" train c.yaml --output tf --resume > tf.log 2>&1; rc=$?
[ $rc != 0 ] && grep -q "failed training run" tf.log && ok "train: a failed run is still refused" || bad "train failed: exit $rc"

# ---- sample, 1 and 2 ranks ----
s_case() { # NAME NP DESC ENV...
  local d=$1 np=$2 desc="sample np $2 $3"; shift 3
  env "$@" mpiexec -n "$np" --oversubscribe "$lf" sample c.yaml --model ref_t/model.h5 --output "$d" > "$d.1.log" 2>&1
  killed "$desc" $?
  resume_ok "$desc" "$d.2.log" mpi "$np" "$lf" sample c.yaml --model ref_t/model.h5 --output "$d" --resume
  same_ens ref_s/ensemble.h5 "$d/ensemble.h5" 1 "$desc"
}
s_case s1 1 "before the first checkpoint" LATFLOW_TEST_INTERRUPT=sample:8:KILL
grep -q "starting from the beginning" s1.2.log && ok "sample: the restart is logged" || bad "sample: no restart line"
s_case s2 1 "after the first checkpoint's .tmp" LATFLOW_FAULT=after_checkpoint_tmp
s_case s3 1 "between .prev and the rename" LATFLOW_FAULT=after_checkpoint_prev:2
s_case s4 1 "after the final rename" LATFLOW_FAULT=after_final_rename
grep -q "is complete" s4.2.log && ok "sample: a complete run is recognized" || bad "sample: complete run not recognized"
s_case s5 2 "before the first checkpoint" LATFLOW_TEST_INTERRUPT=sample:8:KILL:0
s_case s6 2 "after the final rename" LATFLOW_FAULT=after_final_rename
# an ensemble of another run beside a checkpoint is not taken for this run's result
mkdir -p s7 && cp ref_s/ensemble.h5 s7/ && LATFLOW_FAULT=after_checkpoint \
  "$lf" sample c.yaml --model ref_t/model.h5 --output s7x --set seed=6 > s7.1.log 2>&1
cp s7x/sample.ckpt.h5 s7/ 2>/dev/null
"$lf" sample c.yaml --model ref_t/model.h5 --output s7 --resume --set seed=6 > s7.2.log 2>&1; rc=$?
[ $rc != 0 ] && grep -q "not of the same run\|differs" s7.2.log && ok "sample: another run's ensemble beside a checkpoint refused" ||
  { bad "sample: foreign ensemble: exit $rc"; tail -2 s7.2.log; }

# ---- run: killed in its sample stage before the first checkpoint, then run --resume ----
LATFLOW_TEST_INTERRUPT=sample:8:KILL "$lf" run c.yaml --output r1 > r1.1.log 2>&1; killed "run, sample stage" $?
resume_ok "run, sample stage" r1.2.log "$lf" run c.yaml --output r1 --resume
same_ens ref_s/ensemble.h5 r1/ensemble.h5 1 "run --resume after a kill in sampling"

finish kill_points
