#!/usr/bin/env bash
# tests/slurm/test_study.sh — a study (latflow study) as SLURM jobs through jobs/submit-study.sh.
# usage: bash test_study.sh BINDIR WORKDIR SRCDIR   (run by tests/slurm/run.sh, SLURM_CONF set)
#
#  a. protocol root, 3 points: a root job, an array of 3 point tasks (afterok on the root)
#     and an assemble job; every job COMPLETED, study.h5 and study.csv hold the 3 points,
#     and every point's model is bitwise the one `latflow study` makes on this machine
#     without SLURM (the model hashes agree)
#  b. protocol sequential: one job runs the chain (and assembles), then the assemble job;
#     the same bitwise check
#  c. a card with an unknown key is refused by submit-study.sh (exit 2, nothing submitted)
# shellcheck disable=SC2015
set -u
[ $# -ge 3 ] || { echo "usage: test_study.sh BINDIR WORKDIR SRCDIR" >&2; exit 2; }
BIN=$(cd "$1" && pwd -P) || exit 2
WD=$2
SRC=$(cd "$3" && pwd -P) || exit 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
mkdir -p "$WD" && cd "$WD" || exit 2
WD=$(pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 LATFLOW_BIN=$BIN
unset LATFLOW_JOBS LATFLOW_LAUNCH
command -v sbatch >/dev/null && [ -n "${SLURM_CONF:-}" ] || { bad "no SLURM client or SLURM_CONF"; slurm_summary; exit 1; }
T_ALL=$(slurm_now)
jid() { awk -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }   # jid STAGE JOBSFILE

# 4x4 phi^4, 2 affine layers, 30 steps per point: a second or two per job
cat >root.yaml <<'YAML'
seed: 7
output: runs/root-local
theory: {name: phi4, shape: [4, 4], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4]}
train: {batch: 32, stop: {steps: 30}, eval_samples: 256, eval_every: 10, checkpoint_every: 10}
study:
  name: slurm-root
  protocol: root
  root: {theory.lambda: 6.0}
  grid: {theory.lambda: [8.0, 7.0, 5.0]}
  targets: [0.05]
YAML
sed -e 's/protocol: root/protocol: sequential/' -e 's/name: slurm-root/name: slurm-seq/' \
    -e 's|runs/root-local|runs/seq-local|' -e '/root: {theory.lambda/d' root.yaml >seq.yaml
sed 's/^model:/modle:/' root.yaml >badkey.yaml

# the reference: the same studies without SLURM, on this machine
"$BIN/latflow" study root.yaml --output ref-root -q >ref-root.log 2>&1 \
  && "$BIN/latflow" study seq.yaml --output ref-seq -q >ref-seq.log 2>&1 \
  && ok "reference studies ran without SLURM" || { bad "reference studies failed"; tail -5 ref-*.log; }

hash_of() { "$BIN/latflow" info "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["hash"])' 2>/dev/null; }
# same_models A B N: the N point models of study folders A and B have the same hashes
same_models() {
  local a=$1 b=$2 n=$3 i ha hb diff=0 p
  for ((i = 0; i < n; i++)); do
    p=$(printf 'points/p%03d/model.h5' "$i")
    ha=$(hash_of "$a/$p"); hb=$(hash_of "$b/$p")
    { [ -n "$ha" ] && [ "$ha" = "$hb" ]; } || { diff=1; echo "     $p: '$ha' vs '$hb'"; }
  done
  return $diff
}
# check_study NAME DIR N STAGES...: every job of DIR/jobs.txt COMPLETED, the study files
check_study() {
  local name=$1 d=$2 n=$3 st j s rows i
  shift 3
  for st in "$@"; do
    j=$(jid "$st" "$d/jobs.txt")
    [ -n "$j" ] || { bad "$name: no $st job in $d/jobs.txt"; continue; }
    if [ "$st" = points ]; then
      for ((i = 0; i < n; i++)); do
        s=$(slurm_wait_job "${j}_$i" 120)
        [ "$s" = COMPLETED ] && ok "$name: point task $i COMPLETED" || { bad "$name: point task $i: $s"; slurm_job_dump "${j}_$i"; }
      done
    else
      s=$(slurm_wait_job "$j" 120)
      [ "$s" = COMPLETED ] && ok "$name: $st job $j COMPLETED" || { bad "$name: $st job $j: $s"; slurm_job_dump "$j"; }
    fi
  done
  [ -f "$d/study.h5" ] && ok "$name: study.h5 written" || bad "$name: no study.h5"
  # the points' rows (the root, when there is one, is the row with index -2)
  rows=$(grep -c '^[0-9][0-9]*,' "$d/study.csv" 2>/dev/null)
  [ "$rows" = "$n" ] && ok "$name: study.csv holds $n points" || bad "$name: study.csv holds $rows point rows, expected $n"
}

echo "--- a: protocol root as root job -> array of points -> assemble"
T_A=$(slurm_now)
if "$SRC/jobs/submit-study.sh" root.yaml --dir runs/a --time 10 >a.ids 2>a.err; then
  ok "a: submit-study.sh printed $(tr '\n' ' ' <a.ids)"
  grep -q '^root ' a.ids && grep -q '^points ' a.ids && grep -q '^assemble ' a.ids \
    && ok "a: root, points and assemble jobs" || bad "a: stages: $(cat a.ids)"
  check_study a runs/a 3 root points assemble
  [ "$(hash_of runs/a/root/model.h5)" = "$(hash_of ref-root/root/model.h5)" ] && ok "a: root model bitwise as without SLURM" \
    || bad "a: root model differs"
  same_models runs/a ref-root 3 && ok "a: the 3 point models are bitwise those of the local study" || bad "a: point models differ"
else
  bad "a: submit-study.sh failed: $(cat a.err)"
fi
echo "time a: $(slurm_since "$T_A") s"

echo "--- b: protocol sequential as one job -> assemble"
T_B=$(slurm_now)
if "$SRC/jobs/submit-study.sh" seq.yaml --dir runs/b --time 10 >b.ids 2>b.err; then
  grep -q '^all ' b.ids && ! grep -q '^points ' b.ids && ok "b: one chain job, no array" || bad "b: stages: $(cat b.ids)"
  check_study b runs/b 3 all assemble
  same_models runs/b ref-seq 3 && ok "b: the chain's models are bitwise those of the local study" || bad "b: chain models differ"
else
  bad "b: submit-study.sh failed: $(cat b.err)"
fi
echo "time b: $(slurm_since "$T_B") s"

echo "--- c: a bad card is refused before anything is submitted"
"$SRC/jobs/submit-study.sh" badkey.yaml --dir runs/c >c.ids 2>c.err
rc=$?
[ "$rc" = 2 ] && grep -q 'modle' c.err && [ ! -e runs/c ] && ok "c: refused (exit 2, names the key, no folder)" \
  || bad "c: exit $rc, $(head -3 c.err)"

echo "total $(slurm_since "$T_ALL") s"
slurm_summary
