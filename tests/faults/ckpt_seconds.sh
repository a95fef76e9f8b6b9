#!/usr/bin/env bash
# Wall-clock checkpoints (train/sample/hmc.checkpoint_seconds): with checkpoint_seconds:
# 0.1 and checkpoint_every far beyond the run's length, a run of about half a second (on an
# idle machine; longer under load) writes a checkpoint anyway; the fault hook (LATFLOW_FAULT=after_checkpoint) kills it right after
# the first one, so the checkpoint on disk is the clock's. --resume (with the clock's
# checkpoints still on, or at another spacing) must then end bitwise equal to a run with
# no checkpoints at all: checkpoints never change the chain, whatever their spacing.
# Commands: train; sample on 1 and 2 ranks; hmc on 1 and 2 ranks.
# usage: ckpt_seconds.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): *\([0-9-]*\).*/\1/p' | head -1; }

# runs of 0.5 to 0.7 s each on an idle machine (longer under load), so the first clock
# checkpoint lies well inside; checkpoint_every beyond every run's length, the clock off
# in the references
cat > c.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [8]}
train: {batch: 32, stop: {steps: 4000}, checkpoint_every: 1000000, checkpoint_seconds: 0,
        eval_samples: 0, log_every: 50}
sample: {proposals: 199680, block: 64, epoch: 4, checkpoint_every: 100000000,
         checkpoint_seconds: 0, save: none}
hmc: {trajectories: 40000, therm: 40, steps: 10, checkpoint_every: 10000000,
      checkpoint_seconds: 0, compare: false}
YAML
H=(--set "theory.shape=[16, 16]")
CLOCK=0.1

# case DESC CKPT ATTR TOTAL RUN...: RUN with the clock at CLOCK s is killed after its first
# checkpoint, which must lie strictly inside the run
case_kill() {
  local desc=$1 ck=$2 at=$3 total=$4; shift 4
  LATFLOW_FAULT=after_checkpoint "$@" > "k.$RANDOM.log" 2>&1; local rc=$?
  [ $rc = 137 ] && ok "$desc: killed after its first checkpoint" ||
    bad "$desc: exit $rc (no checkpoint before the end: no clock checkpoint?)"
  local v; v=$(attr "$ck" "$at")
  if [ -n "$v" ] && [ "$v" -gt 0 ] && [ "$v" -lt "$total" ]; then
    ok "$desc: a clock checkpoint at $at = $v of $total (checkpoint_every not reached)"
  else bad "$desc: checkpoint $ck: $at = '$v'"; fi
}
same_as_ref() { # REF FILE CHAINS DESC
  local diff="" c d
  [ -f "$2" ] || { bad "$4: no $2"; return; }
  for c in $(seq 0 $(($3 - 1))); do
    for d in obs row id logw dH accepted; do
      h5same "$1" "$2" /chain_$c/$d || diff="$diff chain_$c/$d"
    done
  done
  [ -z "$diff" ] && ok "$4: bitwise equal to the run without checkpoints" || bad "$4: differs in$diff"
  ls "$(dirname "$2")"/*.ckpt.h5* >/dev/null 2>&1 && bad "$4: checkpoint left" || ok "$4: checkpoints removed"
}
resume() { local desc=$1; shift; "$@" > r.log 2>&1 && ok "$desc: --resume exit 0" || { bad "$desc: --resume failed"; tail -3 r.log; }; }

# ---- train ----
"$lf" train c.yaml --output ref_t > ref_t.log 2>&1 && ok "train reference (no checkpoints)" || { bad "train reference"; tail -3 ref_t.log; }
case_kill "train" t/train.ckpt.h5 next_step 4000 "$lf" train c.yaml --output t --set train.checkpoint_seconds=$CLOCK
resume "train" "$lf" train c.yaml --output t --resume --set train.checkpoint_seconds=$CLOCK
diff=""
for c in step loss ess lr batch; do h5same ref_t/train.h5 t/train.h5 "/$c" || diff="$diff $c"; done
h5same ref_t/model.h5 t/model.h5 /model/params || diff="$diff params"
[ -z "$diff" ] && ok "train: model and metrics bitwise equal to the run without checkpoints" || bad "train: differs in$diff"

# ---- sample: np 1 and 2 (the file does not depend on the ranks: one reference) ----
S=(sample c.yaml --model ref_t/model.h5)
"$lf" "${S[@]}" --output ref_s > ref_s.log 2>&1 && ok "sample reference" || bad "sample reference"
case_kill "sample np 1" s1/sample.ckpt.h5 next_block 3120 "$lf" "${S[@]}" --output s1 --set sample.checkpoint_seconds=$CLOCK
resume "sample np 1" "$lf" "${S[@]}" --output s1 --resume --set sample.checkpoint_seconds=$CLOCK
same_as_ref ref_s/ensemble.h5 s1/ensemble.h5 1 "sample np 1"
case_kill "sample np 2" s2/sample.ckpt.h5 next_block 3120 mpi 2 "$lf" "${S[@]}" --output s2 --set sample.checkpoint_seconds=$CLOCK
# a resume may change the spacing (a bookkeeping key)
resume "sample np 2, clock 0.3 s on resume" mpi 2 "$lf" "${S[@]}" --output s2 --resume --set sample.checkpoint_seconds=0.3
same_as_ref ref_s/ensemble.h5 s2/ensemble.h5 1 "sample np 2"

# ---- hmc: np 1 and 2 ----
"$lf" hmc c.yaml "${H[@]}" --output ref_h > ref_h.log 2>&1 && ok "hmc reference" || bad "hmc reference"
mpi 2 "$lf" hmc c.yaml "${H[@]}" --output ref_h2 > ref_h2.log 2>&1 && ok "hmc reference, 2 ranks" || bad "hmc reference, 2 ranks"
case_kill "hmc np 1" h1/hmc.ckpt.h5 trajectory 40040 "$lf" hmc c.yaml "${H[@]}" --output h1 --set hmc.checkpoint_seconds=$CLOCK
resume "hmc np 1" "$lf" hmc c.yaml "${H[@]}" --output h1 --resume --set hmc.checkpoint_seconds=$CLOCK
same_as_ref ref_h/hmc.h5 h1/hmc.h5 1 "hmc np 1"
case_kill "hmc np 2" h2/hmc.ckpt.h5 trajectory 40040 mpi 2 "$lf" hmc c.yaml "${H[@]}" --output h2 --set hmc.checkpoint_seconds=$CLOCK
resume "hmc np 2" mpi 2 "$lf" hmc c.yaml "${H[@]}" --output h2 --resume --set hmc.checkpoint_seconds=$CLOCK
same_as_ref ref_h2/hmc.h5 h2/hmc.h5 2 "hmc np 2"

# a negative interval is refused (exit 2), a duration string accepted
"$lf" config c.yaml --set hmc.checkpoint_seconds=-1 > neg.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "checkpoint_seconds" neg.log && ok "negative checkpoint_seconds refused (exit 2)" || { bad "negative: exit $rc"; tail -2 neg.log; }
"$lf" config c.yaml --set 'train.checkpoint_seconds=30m' > dur.log 2>&1; rc=$?
[ $rc = 0 ] && grep -q "checkpoint_seconds: 1800" dur.log && ok "checkpoint_seconds: 30m is 1800 s" || { bad "duration: exit $rc"; tail -2 dur.log; }

finish ckpt_seconds
