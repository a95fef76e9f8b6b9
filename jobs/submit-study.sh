#!/usr/bin/env bash
# jobs/submit-study.sh — submit a whole study (latflow study CARD) to SLURM:
#
#   scratch:    array over the points (one point per task) ──afterok──> assemble
#   root:       root model ──afterok──> array over the points ──afterok──> assemble
#   sequential: one job that runs the chain point after point (and assembles)
#
# usage: jobs/submit-study.sh CARD [--ranks R] [--threads C] [--time T] [--warn S]
#                                  [--dir DIR] [--parallel K] [--sbatch "OPTIONS"] [--dry-run]
#   CARD          the study card; copied to DIR/card.yaml, which every job reads
#   --ranks R     MPI ranks (data-parallel training ranks) of every job          (default 1)
#   --threads C   cores (= OpenBLAS threads) per rank: --cpus-per-task          (default 1)
#   --time T      time limit of each job, sbatch format; a requeued job gets it again
#                                                                        (default 01:00:00)
#   --warn S      the warning signal comes S seconds before the limit, then the job
#                 checkpoints and requeues itself (default 300, at most a third of T)
#   --dir DIR     the study's output folder (default: what `latflow study CARD --dry-run`
#                 says, runs/<name>)
#   --parallel K  run at most K points at a time (--array=...%K)
#   --sbatch "OPTIONS"  more sbatch options for every job, split at blanks
#   --dry-run     print the sbatch commands, submit nothing
# Environment as jobs/submit.sh (LATFLOW_BIN, LATFLOW_LAUNCH, SBATCH_ACCOUNT ...).
# Prints one line per job, "<stage> <jobid>", also appended to DIR/jobs.txt. Submitting
# again into the same DIR with the same card continues the study: finished points do
# nothing, interrupted ones resume from their checkpoints.
# docs/CLUSTER.md is the guide.
set -uo pipefail

JOBS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SUBMIT_PROG=submit-study
# shellcheck source-path=SCRIPTDIR source=submit-lib.sh
. "$JOBS/submit-lib.sh" || { echo "submit-study: no $JOBS/submit-lib.sh" >&2; exit 2; }
RANKS=1 THREADS=1 TIME=01:00:00 WARN=300 DIR="" PARALLEL="" DRY=0 EXTRA="" CARD=""
while [ $# -gt 0 ]; do
  common_opt "$@"
  if [ "$NSHIFT" -gt 0 ]; then shift "$NSHIFT"; continue; fi
  case $1 in
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$CARD" ] || die "one study card only ('$CARD', '$1')"; CARD=$1; shift ;;
  esac
done
[ -n "$CARD" ] || usage 2
[ -r "$CARD" ] || die "cannot read the study card '$CARD'"
check_counts RANKS THREADS WARN
check_time

LATFLOW_BIN=${LATFLOW_BIN:-$JOBS/../build/bin}
LATFLOW_BIN=$(cd "$LATFLOW_BIN" 2>/dev/null && pwd -P) || die "no binary directory (LATFLOW_BIN)"
[ -x "$LATFLOW_BIN/latflow" ] || die "no latflow in $LATFLOW_BIN (build it, or set LATFLOW_BIN)"
[ "$DRY" = 1 ] || command -v sbatch >/dev/null || die "sbatch not found"

# The card is expanded here, on the login node: a typo fails now, not in the queue.
plan=$("$LATFLOW_BIN/latflow" study "$CARD" --dry-run --json ${DIR:+--output "$DIR"} 2>&1) \
  || { echo "$plan" >&2; die "bad study card $CARD"; }
read -r NPOINTS PROTOCOL OUT < <(python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
print(len(o["points"]), o.get("protocol", "scratch"), o["output"])' <<<"$plan") \
  || die "cannot read the plan of $CARD"
[ "$NPOINTS" -ge 1 ] || die "$CARD has no points"
DIR=${DIR:-$OUT}
if [ "$DRY" = 1 ]; then
  RUNDIR=$(realpath -m "$DIR")
else
  mkdir -p "$DIR/logs" || die "cannot create $DIR/logs"
  RUNDIR=$(cd "$DIR" && pwd -P)
fi
if [ -e "$RUNDIR/card.yaml" ] && ! cmp -s "$CARD" "$RUNDIR/card.yaml"; then
  die "$RUNDIR holds another study card (card.yaml): choose another --dir"
fi
[ "$DRY" = 1 ] || cp "$CARD" "$RUNDIR/card.yaml" || die "cannot copy the card"
CARDCOPY=$RUNDIR/card.yaml
NAME=$(basename "$RUNDIR")
export LATFLOW_BIN LATFLOW_JOBS=$JOBS

common=(--export=ALL --kill-on-invalid-dep=yes)
# shellcheck disable=SC2206
extra=($EXTRA)
work=("${common[@]}" --ntasks="$RANKS" --cpus-per-task="$THREADS" --time="$TIME"
      --signal="B:USR1@$WARN")
lines=()
if [ "$PROTOCOL" = sequential ]; then
  all=$(sub all "${work[@]}" --job-name="$NAME-study" --output="$RUNDIR/logs/all-%j.out" \
        "${extra[@]}" "$JOBS/study.sbatch" all "$CARDCOPY" "$RUNDIR") || fail "sbatch of the study job failed"
  submitted+=("$all"); lines+=("all $all")
  dep="afterok:$all"
else
  dep=""
  if [ "$PROTOCOL" = root ]; then
    root=$(sub root "${work[@]}" --job-name="$NAME-root" --output="$RUNDIR/logs/root-%j.out" \
           "${extra[@]}" "$JOBS/study.sbatch" root "$CARDCOPY" "$RUNDIR") || fail "sbatch of the root job failed"
    submitted+=("$root"); lines+=("root $root"); dep="--dependency=afterok:$root"
  fi
  array="0-$((NPOINTS - 1))${PARALLEL:+%$PARALLEL}"
  points=$(sub points "${work[@]}" ${dep:+"$dep"} --array="$array" --job-name="$NAME-point" \
           --output="$RUNDIR/logs/point-%A_%a.out" \
           "${extra[@]}" "$JOBS/study.sbatch" point "$CARDCOPY" "$RUNDIR") || fail "sbatch of the point array failed"
  submitted+=("$points"); lines+=("points $points")
  dep="afterok:$points"
fi
assemble=$(sub assemble "${common[@]}" --ntasks=1 --time=00:30:00 --dependency="$dep" \
           --job-name="$NAME-assemble" --output="$RUNDIR/logs/assemble-%j.out" \
           "${extra[@]}" "$JOBS/study.sbatch" assemble "$CARDCOPY" "$RUNDIR") || fail "sbatch of the assemble job failed"
lines+=("assemble $assemble")
{
  echo "# $(date '+%F %T') jobs/submit-study.sh $CARD --ranks $RANKS --threads $THREADS --time $TIME --warn $WARN ($NPOINTS points, protocol $PROTOCOL)"
  printf '%s\n' "${lines[@]}"
} | tee -a "$([ "$DRY" = 1 ] && echo /dev/null || echo "$RUNDIR/jobs.txt")" | grep -v '^#'
echo "submit-study: study dir $RUNDIR (logs in $RUNDIR/logs; watch: squeue -u ${USER:-$(id -un)})" >&2
