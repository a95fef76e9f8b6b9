#!/usr/bin/env bash
# tests/slurm/test_jobs.sh — the batch scripts of jobs/ on a local SLURM cluster.
# usage: bash test_jobs.sh BINDIR WORKDIR SRCDIR   (run by tests/slurm/run.sh, SLURM_CONF set)
#
#  a. the whole pipeline through jobs/submit.sh (train -> array of 2 sampling tasks with
#     seeds BASE+0, BASE+1, + HMC -> merge + analyze + plot): every job COMPLETED, the
#     merged file holds 2 chains, analysis JSON and plots exist
#  b. a sampling task preempted twice (scancel --signal=USR1 --batch, as the warning signal
#     --signal=B:USR1@N would): it checkpoints, requeues itself, resumes; Restarts=2, three
#     start headers in one appended log, and the ensemble is bitwise the one of an
#     uninterrupted run
#  c. a training job that fails (unreadable train.init_from): the sampling array and the
#     merge end CANCELLED (--kill-on-invalid-dep=yes), not PENDING for ever; a card with a
#     bad key is refused by submit.sh before anything is submitted
#  d. the checks of (a) must catch a broken job script: a copy of jobs/ whose sample.sbatch
#     calls `latflow smaple` runs the same pipeline, and the checks of (a) must fail
#  e. LATFLOW_LAUNCH=mpirun: an HMC job preempted once (the batch shell forwards USR1 to
#     mpirun, which relays it) requeues and resumes; `scancel` (SIGTERM) then stops it
#     without a requeue; `latflow hmc --resume` by hand finishes the run
#
# Requeue delay: a requeued job may start only after cred_expire (10 s here) plus a
# scheduler pass. To keep the test short it is started at once with
# `scontrol update JobId=N StartTime=now`, 2 s after the requeue: an earlier start is
# refused by slurmd ("Job credential revoked": the credential of the killed run was
# revoked in the same second) and the job ends FAILED.
# `A && ok ... || bad ...` is used as if-then-else throughout: ok and bad always succeed
# shellcheck disable=SC2015
set -u
[ $# -ge 3 ] || { echo "usage: test_jobs.sh BINDIR WORKDIR SRCDIR" >&2; exit 2; }
BIN=$(cd "$1" && pwd -P) || exit 2
WD=$2
SRC=$(cd "$3" && pwd -P) || exit 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
mkdir -p "$WD" && cd "$WD" || exit 2
WD=$(pwd -P)

# ------------------------------------------------------------------ helpers
# tests/slurm/lib.sh when present; the fallbacks below have the same meaning
# shellcheck source-path=SCRIPTDIR source=lib.sh
[ -f "$here/lib.sh" ] && . "$here/lib.sh"
if ! declare -F ok >/dev/null; then
  LF_SLURM_PASSES=0 LF_SLURM_FAILS=0
  ok()  { LF_SLURM_PASSES=$((LF_SLURM_PASSES + 1)); echo "ok   $*"; }
  bad() { LF_SLURM_FAILS=$((LF_SLURM_FAILS + 1)); echo "FAIL $*"; }
  slurm_summary() { echo "$LF_SLURM_PASSES passed, $LF_SLURM_FAILS failed"; [ "$LF_SLURM_FAILS" = 0 ]; }
fi
declare -F slurm_job_field >/dev/null || slurm_job_field() {
  scontrol -o show job "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
declare -F slurm_job_state >/dev/null || slurm_job_state() {
  local s; s=$(slurm_job_field "$1" JobState); echo "${s:-UNKNOWN}"
}
declare -F slurm_wait_job >/dev/null || slurm_wait_job() {
  local end=$(( $(date +%s) + $2 )) s
  while :; do
    s=$(slurm_job_state "$1")
    case $s in
      PENDING | RUNNING | REQUEUED | COMPLETING | CONFIGURING | SUSPENDED | SIGNALING) ;;
      *) echo "$s"; return 0 ;;
    esac
    [ "$(date +%s)" -ge "$end" ] && { echo "$s"; return 1; }
    sleep 0.25
  done
}
declare -F slurm_wait_file >/dev/null || slurm_wait_file() {
  local end=$(( $(date +%s) + $3 ))
  until grep -Eq -- "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
declare -F slurm_now >/dev/null || slurm_now() { date +%s.%N; }
declare -F slurm_since >/dev/null || slurm_since() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}
declare -F slurm_job_dump >/dev/null || slurm_job_dump() {
  local out; scontrol show job "$1" 2>&1 | sed 's/^/    /'
  out=$(slurm_job_field "$1" StdOut)
  [ -n "$out" ] && [ -f "$out" ] && { echo "    --- tail of $out"; tail -n 20 "$out" | sed 's/^/    /'; }
  return 0
}

[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 LATFLOW_BIN=$BIN
unset LATFLOW_JOBS LATFLOW_LAUNCH LATFLOW_MODEL LATFLOW_SEED LATFLOW_TASKS
command -v sbatch >/dev/null && [ -n "${SLURM_CONF:-}" ] || { bad "no SLURM client or SLURM_CONF"; slurm_summary; exit 1; }
T_ALL=$(slurm_now)

jid() { awk -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }   # jid STAGE JOBSFILE
headers() { grep -c '^==== latflow .* start ' "$1" 2>/dev/null; }  # start headers in a log
# lines matching REGEX after the N-th start header of LOG
after_header() { awk -v n="$2" -v re="$3" '/^==== latflow .* start /{h++} h>=n && $0 ~ re {c++} END{print c+0}' "$1"; }
# wait_progress JOB LOG N REGEX SECS: until LOG has a line matching REGEX after its N-th
# start header; status 1 when the job ended (or the time ran out) before that
wait_progress() {
  local end=$(( $(date +%s) + $5 ))
  until [ "$(after_header "$2" "$3" "$4")" -ge 1 ]; do
    case $(slurm_job_state "$1") in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | UNKNOWN) return 1 ;;
    esac
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
# wait until job J has restarted R times and is pending again, then start it at once
restart_now() {
  local j=$1 r=$2 end=$(( $(date +%s) + 60 ))
  until [ "$(slurm_job_field "$j" Restarts)" = "$r" ] && [ "$(slurm_job_state "$j")" = PENDING ]; do
    case $(slurm_job_state "$j") in COMPLETED | FAILED | CANCELLED | TIMEOUT | UNKNOWN) return 1 ;; esac
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
  sleep 2   # see the header: a start in the second of the requeue is refused
  scontrol update JobId="$j" StartTime=now
}

# ------------------------------------------------------------------ run cards
# 8x8 phi^4, 2 affine layers with hidden [4], 100 training steps: seconds per job
cat >tiny.yaml <<'YAML'
seed: 100
output: runs/tiny
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4]}
train: {batch: 64, stop: {steps: 100}, eval_samples: 1000, checkpoint_every: 50}
sample: {proposals: 20000, block: 64, epoch: 4, checkpoint_every: 4096, save: accepted}
hmc: {trajectories: 200, therm: 20, checkpoint_every: 100}
YAML
# (b) a longer chain, so that it can be stopped twice: 1.2M proposals, about 4-10 s
sed -e 's/proposals: 20000/proposals: 1200000/' -e 's/checkpoint_every: 4096/checkpoint_every: 32768/' \
  tiny.yaml >long.yaml
# (c) fails at run time only (the card itself is valid)
sed 's|eval_samples: 1000|eval_samples: 1000, init_from: /nonexistent/model.h5|' tiny.yaml >fail.yaml
# (c) refused by submit.sh
sed 's/^model:/modle:/' tiny.yaml >badkey.yaml
# (e) HMC slow enough to be stopped twice: 10000 leapfrog steps per trajectory, about 6 s
sed 's/trajectories: 200, therm: 20, checkpoint_every: 100/trajectories: 6000, steps: 10000, therm: 20, checkpoint_every: 500/' \
  tiny.yaml >hmc.yaml

# ------------------------------------------------------------------ the pipeline checks
# check_pipeline RUNDIR TASKS: the checks of scenario (a). Each check is reported through
# c_ok/c_bad: real ok/bad in normal mode, counted into CHK_FAILS in probe mode (d).
CHK_MODE=real CHK_FAILS=0
c_ok()  { if [ "$CHK_MODE" = real ]; then ok "$@"; else echo "     probe ok:   $*"; fi; }
c_bad() {
  CHK_FAILS=$((CHK_FAILS + 1))
  if [ "$CHK_MODE" = real ]; then bad "$@"; else echo "     probe FAIL: $*"; fi
}
check_pipeline() {
  local d=$1 n=$2 f=$1/jobs.txt train sample hmc merge s i log seed base j
  train=$(jid train "$f"); sample=$(jid sample "$f"); hmc=$(jid hmc "$f"); merge=$(jid merge "$f")
  if [ -z "$sample" ] || [ -z "$merge" ]; then c_bad "$d: no job ids in $f"; return; fi
  s=$(slurm_wait_job "$merge" 150)
  if [ "$s" = COMPLETED ]; then c_ok "$d: merge job $merge COMPLETED"
  else c_bad "$d: merge job $merge ended $s"; [ "$CHK_MODE" = real ] && slurm_job_dump "$merge"; fi
  for j in $train $hmc; do
    s=$(slurm_wait_job "$j" 60)
    [ "$s" = COMPLETED ] && c_ok "$d: job $j ($(slurm_job_field "$j" JobName)) COMPLETED" \
      || { c_bad "$d: job $j ended $s"; [ "$CHK_MODE" = real ] && slurm_job_dump "$j"; }
  done
  base=$(sed -n 's/^seed: *//p' "$d/card.yaml")
  for ((i = 0; i < n; i++)); do
    s=$(slurm_wait_job "${sample}_$i" 60)
    log=$d/logs/sample-${sample}_$i.out
    seed=$((base + i))
    if [ "$s" = COMPLETED ] && [ "$(headers "$log")" = 1 ] && grep -q -- "--set seed=$seed" "$log"; then
      c_ok "$d: sampling task $i COMPLETED, one start header, seed $seed"
    else
      c_bad "$d: sampling task $i: state $s, $(headers "$log") headers, seed $seed in log: $(grep -c -- "--set seed=$seed" "$log" 2>/dev/null)"
      [ "$CHK_MODE" = real ] && slurm_job_dump "${sample}_$i"
    fi
  done
  s=$(h5ls "$d/merged/ensemble.h5" 2>/dev/null | grep -c '^chain_')
  [ "$s" = "$n" ] && c_ok "$d: merged/ensemble.h5 holds $n chains" || c_bad "$d: merged file holds '$s' chains, expected $n"
  if [ "$n" -ge 2 ]; then
    h5diff -q "$d/sample/task-000/ensemble.h5" "$d/sample/task-001/ensemble.h5" /chain_0/logw /chain_0/logw >/dev/null 2>&1
    [ $? = 1 ] && c_ok "$d: tasks 0 and 1 are different chains (distinct seeds)" || c_bad "$d: tasks 0 and 1 not distinct chains"
  fi
  if grep -Eq "\"chains\":[[:space:]]*${n}[,}[:space:]]" "$d/merged/analysis.json" 2>/dev/null \
     && grep -q '"phi2"' "$d/merged/analysis.json"; then
    c_ok "$d: merged/analysis.json: $n chains, observables"
  else c_bad "$d: merged/analysis.json missing or wrong"; fi
  ls "$d"/merged/plots/*.png >/dev/null 2>&1 && c_ok "$d: plots in merged/plots" || c_bad "$d: no plots"
  if [ -n "$hmc" ]; then
    grep -q '"phi2"' "$d/hmc/analysis.json" 2>/dev/null && c_ok "$d: hmc/analysis.json" || c_bad "$d: no hmc/analysis.json"
  fi
}

# ------------------------------------------------------------------ submit a, c, d together
submit() {  # submit OUT JOBSDIR ARGS... : jobs/submit.sh into OUT (its stdout), status
  local out=$1 jobs=$2; shift 2
  "$jobs/submit.sh" "$@" >"$out" 2>"$out.err"
}
T_A=$(slurm_now)
if submit a.ids "$SRC/jobs" tiny.yaml --tasks 2 --ranks 2 --time 10 --hmc --dir runs/a; then
  ok "a: submit.sh printed $(tr '\n' ' ' <a.ids)"
else
  bad "a: submit.sh failed: $(cat a.ids.err)"
fi

# c: a bad key is refused at submission (exit 2, no job, no run dir)
n0=$(squeue -h | wc -l)
submit c0.ids "$SRC/jobs" badkey.yaml --tasks 2 --dir runs/c0; rc=$?
if [ $rc = 2 ] && grep -q "unknown key 'modle'" c0.ids.err && [ ! -s c0.ids ] && [ "$(squeue -h | wc -l)" = "$n0" ]; then
  ok "c: a card with a bad key is refused by submit.sh (exit 2, nothing submitted)"
else
  bad "c: bad key: exit $rc, stdout '$(cat c0.ids)', stderr '$(head -c 300 c0.ids.err)'"
fi
T_C=$(slurm_now)
submit c.ids "$SRC/jobs" fail.yaml --tasks 2 --ranks 1 --time 10 --dir runs/c || bad "c: submit.sh failed: $(cat c.ids.err)"

# d: a broken copy of jobs/ (sample.sbatch runs `latflow smaple`)
rm -rf jobs-broken; cp -r "$SRC/jobs" jobs-broken
sed -i 's/^lf_run sample /lf_run smaple /' jobs-broken/sample.sbatch
if ! cmp -s "$SRC/jobs/sample.sbatch" jobs-broken/sample.sbatch && grep -q '^lf_run smaple ' jobs-broken/sample.sbatch; then
  ok "d: broken copy made (sample.sbatch: lf_run smaple ...)"
else
  bad "d: could not break the copy of sample.sbatch (its latflow call changed?)"
fi
T_D=$(slurm_now)
submit d.ids jobs-broken tiny.yaml --tasks 2 --ranks 1 --time 10 --dir runs/d || bad "d: submit.sh failed: $(cat d.ids.err)"

# ------------------------------------------------------------------ a: checks
echo "--- a: the pipeline"
CHK_MODE=real
check_pipeline "$WD/runs/a" 2
echo "time a: pipeline done $(slurm_since "$T_A") s after submission"

# ------------------------------------------------------------------ c: failing training
echo "--- c: a failing training job cancels its dependents"
train=$(jid train runs/c/jobs.txt); sample=$(jid sample runs/c/jobs.txt); merge=$(jid merge runs/c/jobs.txt)
s=$(slurm_wait_job "$train" 60)
[ "$s" = FAILED ] && grep -q "no such file" runs/c/logs/train-"$train".out \
  && ok "c: training job FAILED ($(slurm_job_field "$train" ExitCode), the model to start from is missing)" \
  || { bad "c: training job: $s"; slurm_job_dump "$train"; }
for j in "${sample}_0" "${sample}_1" "$merge"; do
  s=$(slurm_wait_job "$j" 60)
  [ "$s" = CANCELLED ] && ok "c: dependent job $j CANCELLED (reason $(slurm_job_field "$j" Reason))" \
    || { bad "c: dependent job $j: $s (expected CANCELLED)"; slurm_job_dump "$j"; }
done
ls runs/c/logs/sample-* >/dev/null 2>&1 && bad "c: a cancelled sampling task ran" || ok "c: no sampling task ran"
echo "time c: $(slurm_since "$T_C") s"

# ------------------------------------------------------------------ d: the checks catch a broken script
echo "--- d: the checks of (a) on the pipeline with the broken sample.sbatch (must fail)"
CHK_MODE=probe CHK_FAILS=0
check_pipeline "$WD/runs/d" 2
CHK_MODE=real
sample=$(jid sample runs/d/jobs.txt)
if [ "$CHK_FAILS" -ge 3 ] && grep -q "smaple" runs/d/logs/sample-"${sample}"_0.out 2>/dev/null; then
  ok "d: the pipeline checks report $CHK_FAILS failures for the broken script (it ran 'latflow smaple')"
else
  bad "d: the pipeline checks did not catch the broken script ($CHK_FAILS failures)"
fi
echo "time d: $(slurm_since "$T_D") s"

# ------------------------------------------------------------------ b: preempted twice
echo "--- b: a sampling task stopped twice by the warning signal, requeued, resumed"
T_B=$(slurm_now)
model=$WD/runs/a/train/model.h5
# the uninterrupted reference (rank count does not matter), meanwhile, outside SLURM
"$BIN/latflow" sample long.yaml --model "$model" --output ref --set seed=100 >ref.log 2>&1 &
refpid=$!
if submit b.ids "$SRC/jobs" long.yaml --model "$model" --tasks 1 --ranks 2 --time 10 --dir runs/b; then
  sample=$(jid sample runs/b/jobs.txt); task=${sample}_0; merge=$(jid merge runs/b/jobs.txt)
  log=runs/b/logs/sample-${sample}_0.out
  # 1st stop: as soon as the chain runs (its first progress line); 2nd stop: when the
  # resumed run has made progress
  if ! wait_progress "$task" "$log" 1 'sample: proposals=[0-9]+/[0-9]+' 90; then
    bad "b: the sampling task never ran"
  else
    scancel --signal=USR1 --batch "$task"
    if ! restart_now "$task" 1; then
      bad "b: not requeued after the first signal"
    elif ! wait_progress "$task" "$log" 2 'sample: proposals=[0-9]+/[0-9]+' 90; then
      bad "b: the requeued task did not resume"
    else
      scancel --signal=USR1 --batch "$task"
      restart_now "$task" 2 || bad "b: not requeued after the second signal"
      s=$(slurm_job_state "$merge")
      [ "$s" = PENDING ] && ok "b: the merge job is still PENDING ($(slurm_job_field "$merge" Reason)) while the task is requeued" \
        || bad "b: the merge job is $s while its dependency is requeued"
    fi
  fi
  s=$(slurm_wait_job "$task" 120)
  r=$(slurm_job_field "$task" Restarts)
  [ "$s" = COMPLETED ] && [ "$r" = 2 ] && ok "b: sampling task COMPLETED with Restarts=2" \
    || { bad "b: sampling task: $s, Restarts=$r"; slurm_job_dump "$task"; }
  h=$(headers "$log"); rq=$(grep -c 'checkpoint written: requeueing job' "$log")
  rs=$(grep -c 'sample: resuming after' "$log"); fw=$(grep -c 'batch shell got SIGUSR1: forwarding' "$log")
  [ "$h" = 3 ] && [ "$rq" = 2 ] && [ "$rs" = 2 ] && [ "$fw" = 2 ] \
    && ok "b: one appended log: 3 start headers, 2 forwarded signals, 2 requeues, 2 resumes ($(grep -o 'resuming after [0-9]* proposals' "$log" | tr '\n' ' '))" \
    || { bad "b: log: $h headers, $fw forwards, $rq requeues, $rs resumes"; tail -n 30 "$log"; }
  grep -q 'restart 2 ' "$log" && ok "b: the third start saw SLURM_RESTART_COUNT=2" || bad "b: no 'restart 2' header"
  wait "$refpid"; rc=$?
  [ $rc = 0 ] || { bad "b: reference run failed ($rc)"; tail -3 ref.log; }
  nd=0
  for ds in obs corr configs row id logw accepted dH; do
    h5diff -q ref/ensemble.h5 runs/b/sample/task-000/ensemble.h5 /chain_0/$ds /chain_0/$ds >/dev/null 2>&1 \
      || { nd=$((nd + 1)); echo "     differs: /chain_0/$ds"; }
  done
  [ "$nd" = 0 ] && ok "b: ensemble bitwise equal to the uninterrupted run (/chain_0/{obs,corr,configs,row,id,logw,accepted,dH})" \
    || bad "b: $nd datasets differ from the uninterrupted run"
  [ -e runs/b/sample/task-000/sample.ckpt.h5 ] && bad "b: checkpoint left behind" || ok "b: no checkpoint left after completion"
  # the merge job (afterok on the array) waited through both requeues and then started;
  # it is cancelled there: merging, analysing and plotting 1.2M steps takes 15 s, and (a)
  # tests the merge already
  end=$(( $(date +%s) + 60 ))
  while [ "$(slurm_job_state "$merge")" = PENDING ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
  s=$(slurm_job_state "$merge")
  case $s in
    RUNNING | COMPLETING | COMPLETED) ok "b: its merge job waited for the requeued task, then started ($s)" ;;
    *) bad "b: merge job $merge: $s"; slurm_job_dump "$merge" ;;
  esac
  scancel "$merge" 2>/dev/null
  slurm_wait_job "$merge" 30 >/dev/null
  [ "$nd" = 0 ] && rm -rf ref/ensemble.h5 runs/b/sample/task-000/ensemble.h5 runs/b/merged  # 40 MB each
else
  bad "b: submit.sh failed: $(cat b.ids.err)"
  wait "$refpid"
fi
echo "time b: $(slurm_since "$T_B") s"

# ------------------------------------------------------------------ e: mpirun, scancel, resume by hand
echo "--- e: LATFLOW_LAUNCH=mpirun: signal, requeue, resume; scancel stops without requeue"
T_E=$(slurm_now)
scenario_e() {
  local e log s r end
  mkdir -p runs/e/logs
  e=$(LATFLOW_LAUNCH=mpirun LATFLOW_JOBS=$SRC/jobs sbatch --parsable --ntasks=2 --time=10 \
        --output="$WD/runs/e/logs/hmc-%j.out" "$SRC/jobs/hmc.sbatch" "$WD/hmc.yaml" "$WD/runs/e")
  e=${e%%;*}
  [ -n "$e" ] || { bad "e: sbatch failed"; return; }
  log=runs/e/logs/hmc-$e.out
  wait_progress "$e" "$log" 1 'hmc: traj=[0-9]+/' 90 || { bad "e: the HMC job never ran"; slurm_job_dump "$e"; return; }
  scancel --signal=USR1 --batch "$e"
  restart_now "$e" 1 || { bad "e: not requeued after the signal"; slurm_job_dump "$e"; scancel "$e"; return; }
  wait_progress "$e" "$log" 2 'hmc: traj=[0-9]+/' 90 || { bad "e: the requeued job did not resume"; slurm_job_dump "$e"; scancel "$e"; return; }
  scancel "$e"
  s=$(slurm_wait_job "$e" 60)
  sleep 1
  r=$(slurm_job_field "$e" Restarts)
  [ "$s" = CANCELLED ] && [ "$r" = 1 ] && ok "e: scancel ends the job (CANCELLED, Restarts=1: no requeue)" \
    || { bad "e: after scancel: $s, Restarts=$r"; slurm_job_dump "$e"; }
  grep -q 'hmc: resuming' "$log" && grep -q 'mpirun: Forwarding signal 10' "$log" \
    && grep -q '^\[latflow-job .*running: mpirun ' "$log" \
    && ok "e: mpirun relayed the forwarded USR1; the requeued run resumed" || { bad "e: log"; tail -n 30 "$log"; }
  if [ -e runs/e/hmc/hmc.ckpt.h5 ] || [ -e runs/e/hmc/hmc.ckpt.h5.prev ]; then
    mpiexec -n 2 --oversubscribe "$BIN/latflow" hmc hmc.yaml --output runs/e/hmc --resume >e-resume.log 2>&1 \
      && [ "$(h5ls runs/e/hmc/hmc.h5 | grep -c '^chain_')" = 2 ] && grep -q 'hmc: resuming at trajectory' e-resume.log \
      && ok "e: resumed by hand (latflow hmc CARD --resume, $(grep -o 'resuming at trajectory [0-9]*' e-resume.log)): 2 chains" \
      || { bad "e: resume by hand"; tail -5 e-resume.log; }
  else
    bad "e: no checkpoint after scancel"
  fi
}
scenario_e
echo "time e: $(slurm_since "$T_E") s"

echo "total $(slurm_since "$T_ALL") s"
slurm_summary
