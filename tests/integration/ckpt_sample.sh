#!/usr/bin/env bash
# latflow sample: checkpoints, interruption and exact resume, on 1 to 3 ranks.
# One tiny model; a reference run; then runs interrupted at exact points through the real
# signal handler (LATFLOW_TEST_INTERRUPT: sample:<block at an epoch end>:<signal>[:<rank>])
# or by SIGKILL between checkpoints (the ensemble then holds more than the checkpoint and
# is cut back), resumed (also on another number of ranks), must give datasets bitwise
# equal to the reference. A worker that dies fails the job and leaves a valid checkpoint.
# A real SIGTERM from outside, and SIGUSR1 sent to mpiexec, stop a run the same way.
# Refusals: changed theory, block size or model; a fresh run over a checkpoint. --resume
# without a checkpoint starts over.
# usage: ckpt_sample.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
# 40000 proposals = 625 blocks of 64; epochs of 4 blocks; a checkpoint every 32 blocks
cat > tiny.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [8]}
train: {batch: 64, stop: {steps: 100}, eval_samples: 0}
sample: {proposals: 40000, block: 64, epoch: 4, checkpoint_every: 2048, save: all}
YAML
S=(sample tiny.yaml --model m/model.h5)

# same(DIR, what): every dataset of chain 0 bitwise equal to the reference
same() {
  local d n=0
  [ -f "$1/ensemble.h5" ] || { bad "$2: no $1/ensemble.h5"; return; }
  for d in obs corr configs row id logw dH accepted; do
    h5diff -q ref/ensemble.h5 "$1/ensemble.h5" /chain_0/$d /chain_0/$d > /dev/null 2>&1 || n=$((n+1))
  done
  [ $n = 0 ] && ok "$2: all 8 datasets bitwise equal to the uninterrupted run" \
             || bad "$2: $n datasets differ from the uninterrupted run"
  [ -e "$1/sample.ckpt.h5" ] || [ -e "$1/sample.ckpt.h5.prev" ] \
    && bad "$2: checkpoint left after a completed run" || ok "$2: checkpoints removed at the end"
}
# stopped(RC, DIR, what): exit code 3, checkpoint and the partial ensemble on disk
stopped() {
  [ "$1" = 3 ] && ok "$3: exit code 3" || bad "$3: exit code $1, expected 3"
  [ -f "$2/sample.ckpt.h5" ] && [ -f "$2/ensemble.h5.tmp" ] && [ ! -e "$2/ensemble.h5" ] \
    && ok "$3: checkpoint and ensemble.h5.tmp kept, no ensemble.h5" \
    || bad "$3: files after the stop: $(ls "$2" | tr '\n' ' ')"
}

"$lf" train tiny.yaml --output m > train.log 2>&1 && ok "train the tiny model" || { bad "train"; cat train.log; }
"$lf" "${S[@]}" --output ref > ref.log 2>&1 && ok "reference run" || { bad "reference run"; cat ref.log; }

# 1. SIGTERM on one rank at an epoch that is also a checkpoint, then resume
LATFLOW_TEST_INTERRUPT=sample:64:TERM "$lf" "${S[@]}" --output a > a1.log 2>&1; stopped $? a "TERM at block 64 (np 1)"
grep -q "interrupted by SIGTERM after 4096 proposals" a1.log && ok "the stop is reported with the proposal count" || { bad "stop message"; tail -3 a1.log; }
"$lf" "${S[@]}" --output a --resume > a2.log 2>&1 && ok "resume (np 1)" || { bad "resume"; tail -3 a2.log; }
same a "TERM at 64, resumed"

# 1b. the card's model section differs from the model file's architecture (--model M with
# 2 layers, the card says 4): a fresh run takes M's architecture, so its resume must too
sed 's/layers: 4, hidden: \[8\]/layers: 2, hidden: [4]/' tiny.yaml > tiny2.yaml
"$lf" train tiny2.yaml --output m2 > train2.log 2>&1 && ok "train a 2-layer model" || { bad "train 2-layer"; tail -3 train2.log; }
LATFLOW_TEST_INTERRUPT=sample:64:TERM "$lf" sample tiny.yaml --model m2/model.h5 --output a16 > a16.log 2>&1; stopped $? a16 "--model of another architecture than the card's: TERM at block 64"
"$lf" sample tiny.yaml --model m/model.h5 --output a16 --resume > a16x.log 2>&1 && bad "resume with another model accepted" \
  || { grep -q "is not the model the interrupted run sampled" a16x.log && ok "resume with another model refused by its hash" || { bad "other model: wrong message"; tail -3 a16x.log; }; }
"$lf" sample tiny.yaml --model m2/model.h5 --output a16 --resume > a16r.log 2>&1 \
  && ok "--model of another architecture than the card's: the same command resumes" \
  || { bad "--model of another architecture: resume refused"; tail -3 a16r.log; }

# 2. SIGUSR1 on worker rank 1 only, between checkpoints, with 2 ranks; resume on 3 ranks
LATFLOW_TEST_INTERRUPT=sample:100:USR1:1 mpi 2 "$lf" "${S[@]}" --output b > b1.log 2>&1; stopped $? b "USR1 on rank 1 at block 100 (np 2)"
mpi 3 "$lf" "${S[@]}" --output b --resume > b2.log 2>&1 && ok "resume on 3 ranks" || { bad "resume np 3"; tail -5 b2.log; }
same b "USR1 on rank 1 of 2, resumed on 3 ranks"

# 3. SIGKILL between checkpoints (block 60: the file holds epochs past the checkpoint at 32)
LATFLOW_TEST_INTERRUPT=sample:60:KILL "$lf" "${S[@]}" --output c > c1.log 2>&1; rc=$?
[ $rc != 0 ] && [ $rc != 3 ] && ok "SIGKILL: exit code $rc" || bad "SIGKILL: exit code $rc"
h5dump -H -d /chain_0/row c/ensemble.h5.tmp 2>/dev/null | grep -q "DATASPACE" && ok "the killed run's ensemble.h5.tmp is readable" || bad "killed run's file unreadable"
"$lf" "${S[@]}" --output c --resume > c2.log 2>&1 && ok "resume after SIGKILL" || { bad "resume after SIGKILL"; tail -3 c2.log; }
grep -q "resuming after 2048 proposals" c2.log && ok "resumed from the last checkpoint (2048 proposals)" || { bad "resume point"; grep resuming c2.log; }
same c "SIGKILL at 60, resumed"

# 4. a worker dies (SIGKILL on rank 2 of 3): the job fails, the checkpoint stays valid
LATFLOW_TEST_INTERRUPT=sample:200:KILL:2 mpi 3 "$lf" "${S[@]}" --output d > d1.log 2>&1; rc=$?
[ $rc != 0 ] && ok "a dying worker fails the job (exit $rc)" || bad "dying worker: exit 0"
grep -qiE "rank 2|signal 9|killed" d1.log && ok "the MPI runtime names the dead rank: $(grep -iE 'rank 2|signal 9' d1.log | head -1 | cut -c1-100)" || { bad "no message about the dead rank"; tail -5 d1.log; }
mpi 2 "$lf" "${S[@]}" --output d --resume > d2.log 2>&1 && ok "resume after the worker died (np 2)" || { bad "resume after worker death"; tail -3 d2.log; }
same d "worker killed, resumed"

# 5. interrupted twice (TERM, then INT), resumed twice
LATFLOW_TEST_INTERRUPT=sample:16:TERM "$lf" "${S[@]}" --output e > e1.log 2>&1; stopped $? e "first stop"
LATFLOW_TEST_INTERRUPT=sample:300:INT mpi 2 "$lf" "${S[@]}" --output e --resume > e2.log 2>&1; stopped $? e "second stop (SIGINT, np 2)"
"$lf" "${S[@]}" --output e --resume > e3.log 2>&1 && ok "second resume" || { bad "second resume"; tail -3 e3.log; }
same e "stopped twice"

# 6. a real SIGTERM from outside (the process), and SIGUSR1 to mpiexec (forwarded)
"$lf" "${S[@]}" --output f --set sample.proposals=4000000 > f1.log 2>&1 & pid=$!
sleep 2; kill -TERM $pid; wait $pid; rc=$?
stopped $rc f "external SIGTERM"
mpiexec -n 2 --oversubscribe "$lf" "${S[@]}" --output g --set sample.proposals=4000000 > g1.log 2>&1 & pid=$!
sleep 3; kill -USR1 $pid; wait $pid; rc=$?
[ $rc = 3 ] && ok "SIGUSR1 to mpiexec: exit code 3" || { bad "SIGUSR1 to mpiexec: exit code $rc"; tail -3 g1.log; }
grep -q "interrupted by SIGUSR1" g1.log && ok "SIGUSR1 reported" || bad "SIGUSR1 not reported"
# the externally stopped run continues with the reference length (run lengths may change
# on resume): equal to the reference if it stopped before 40000 proposals, else refused
x=$(sed -n 's/.*interrupted by SIGTERM after \([0-9]*\) proposals.*/\1/p' f1.log | head -1)
"$lf" "${S[@]}" --output f --resume > f2.log 2>&1; rc=$?
if [ -n "$x" ] && [ "$x" -lt 40000 ]; then
  [ $rc = 0 ] && ok "external stop after $x proposals resumed to 40000" || { bad "resume f: exit $rc"; tail -2 f2.log; }
  same f "external SIGTERM after $x proposals, resumed"
else
  [ $rc != 0 ] && grep -q "less than the" f2.log && ok "external stop after $x proposals: a shorter resume is refused" || { bad "resume f ($x): exit $rc"; tail -2 f2.log; }
fi

# 7. refusals
LATFLOW_TEST_INTERRUPT=sample:40:TERM "$lf" "${S[@]}" --output h > h1.log 2>&1; stopped $? h "stop for the refusals"
"$lf" "${S[@]}" --output h --resume --set theory.lambda=7 > h2.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "theory.lambda" h2.log && ok "changed theory.lambda refused (exit 2)" || { bad "lambda: exit $rc"; tail -2 h2.log; }
"$lf" "${S[@]}" --output h --resume --set sample.block=32 > h3.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "sample.block" h3.log && ok "changed sample.block refused (exit 2)" || { bad "block: exit $rc"; tail -2 h3.log; }
"$lf" train tiny.yaml --output m2 --set seed=12 > /dev/null 2>&1
"$lf" sample tiny.yaml --model m2/model.h5 --output h --resume > h4.log 2>&1; rc=$?
[ $rc != 0 ] && grep -q "is not the model" h4.log && ok "another model refused" || { bad "model: exit $rc"; tail -2 h4.log; }
"$lf" "${S[@]}" --output h > h5.log 2>&1; rc=$?
[ $rc != 0 ] && grep -qE "continue with: .*--output h --resume; or start again" h5.log && ok "fresh run over a checkpoint refused with the exact resume command" || { bad "fresh over checkpoint: exit $rc"; tail -2 h5.log; }
"$lf" "${S[@]}" --output h --resume --set sample.proposals=1000 > h9.log 2>&1; rc=$?
[ $rc = 2 ] && grep -q "less than the 2560 proposals" h9.log && ok "resume shorter than the checkpoint refused (exit 2)" || { bad "shorter: exit $rc"; tail -2 h9.log; }
"$lf" "${S[@]}" --output nothing --resume > h6.log 2>&1; rc=$?
[ $rc = 0 ] && grep -q "starting from the beginning" h6.log && ok "--resume without a checkpoint starts over (a requeued job killed before its first checkpoint)" || { bad "no checkpoint: exit $rc"; tail -2 h6.log; }
same nothing "--resume without a checkpoint"
"$lf" "${S[@]}" --output a --resume > h7.log 2>&1; rc=$?
[ $rc = 0 ] && grep -q "nothing to resume" h7.log && ok "--resume of a completed run: exit 0, nothing to do (idempotent for requeued jobs)" || { bad "completed: exit $rc"; tail -2 h7.log; }
"$lf" "${S[@]}" --output h --resume > h8.log 2>&1 && ok "the refused resumes left the run resumable" || bad "resume after refusals"
same h "after refusals"

# 8. latflow run --resume: skips the completed training, resumes sampling, runs the rest
R=(run tiny.yaml --set hmc.trajectories=2000 --set sample.proposals=20000)
"$lf" "${R[@]}" --output rref > r0.log 2>&1 && ok "run (uninterrupted)" || { bad "run"; tail -3 r0.log; }
LATFLOW_TEST_INTERRUPT=sample:96:TERM "$lf" "${R[@]}" --output r > r1.log 2>&1; rc=$?
[ $rc = 3 ] && grep -qxF "latflow: continue with: $lf ${R[*]} --output r --resume" r1.log && ok "run stopped in sampling: exit 3, prints the whole command with --resume" || { bad "run stop: exit $rc"; tail -3 r1.log; }
"$lf" "${R[@]}" --output r --resume > r2.log 2>&1 && ok "run --resume completes" || { bad "run --resume"; tail -3 r2.log; }
grep -q "1/4 training: already complete, skipped" r2.log && grep -q "2/4 sampling (resumed" r2.log \
  && ok "run --resume skipped training and resumed sampling" || bad "run --resume stages: $(grep 'run: [0-9]' r2.log | tr '\n' ' ')"
n=0
for d in obs configs row id logw accepted; do
  h5diff -q rref/ensemble.h5 r/ensemble.h5 /chain_0/$d /chain_0/$d > /dev/null 2>&1 || n=$((n+1))
done
h5diff -q rref/model.h5 r/model.h5 /model/params /model/params > /dev/null 2>&1 || n=$((n+1))
[ $n = 0 ] && ok "run --resume: model and ensemble bitwise equal to the uninterrupted run" || bad "run --resume: $n datasets differ"
[ -f r/analysis.json ] && [ -f r/hmc.h5 ] && ok "run --resume: HMC, analysis and plots done" || bad "run --resume: missing outputs"

finish
