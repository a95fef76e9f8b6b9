#!/usr/bin/env bash
# jobs/submit.sh — submit a whole latflow production run to SLURM from one run card:
#
#   train ──afterok──> sampling array (N independent chains) ──afterok──> merge + analyze + plot
#   [hmc] ─────────────────────────────────────────────────────afterok──┘     (with --hmc)
#
# usage: jobs/submit.sh CARD [--tasks N] [--ranks R] [--threads C] [--time T] [--warn S]
#                            [--dir RUNDIR] [--model M] [--hmc] [--parallel K]
#                            [--sbatch "OPTIONS"] [--dry-run]
#   CARD          the run card (YAML); copied to RUNDIR/card.yaml, which every job reads
#   --tasks N     sampling chains = array tasks, seeds BASE+0 ... BASE+N-1 (BASE = the
#                 card's seed)                                              (default 4)
#   --ranks R     MPI ranks of the train job, of each sampling task and of the HMC job
#                                                                           (default 1)
#   --threads C   cores (= OpenBLAS threads) per rank: --cpus-per-task      (default 1)
#   --time T      time limit of each train/sample/hmc run, sbatch format (minutes,
#                 HH:MM:SS, D-HH:MM, ...); a requeued run gets it again (default 01:00:00)
#   --warn S      the warning signal comes S seconds before the limit, then the job
#                 checkpoints and requeues itself (default 300, at most a third of T)
#   --dir RUNDIR  run directory (default: the card's `output`)
#   --model M     sample this trained model: no training job
#   --hmc         also the HMC baseline (RUNDIR/hmc), analysed by the merge job
#   --parallel K  run at most K sampling tasks at a time (--array=...%K)
#   --sbatch "OPTIONS"  more sbatch options for every job, split at blanks, e.g.
#                 --sbatch "--ntasks-per-node=32 --mem-per-cpu=2G --constraint=skylake"
#   --dry-run     print the sbatch commands, submit nothing
# Account, partition, QOS ...: sbatch reads SBATCH_ACCOUNT, SBATCH_PARTITION, SBATCH_QOS
# from the environment. LATFLOW_BIN: directory of latflow (default ../build/bin next to this
# script); LATFLOW_LAUNCH=mpirun to start ranks with mpirun instead of srun --mpi=pmix.
# Prints one line per job, "<stage> <jobid>", also appended to RUNDIR/jobs.txt.
# Submitting again into the same RUNDIR with the same card continues the run: finished
# stages do nothing, interrupted ones resume from their checkpoints.
# docs/CLUSTER.md is the guide.
set -uo pipefail

JOBS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SUBMIT_PROG=submit
# shellcheck source-path=SCRIPTDIR source=submit-lib.sh
. "$JOBS/submit-lib.sh" || { echo "submit: no $JOBS/submit-lib.sh" >&2; exit 2; }
TASKS=4 RANKS=1 THREADS=1 TIME=01:00:00 WARN=300 DIR="" MODEL="" HMC=0 PARALLEL="" DRY=0 EXTRA=""
CARD=""
while [ $# -gt 0 ]; do
  common_opt "$@"
  if [ "$NSHIFT" -gt 0 ]; then shift "$NSHIFT"; continue; fi
  case $1 in
    --tasks) TASKS=${2:-}; [ $# -ge 2 ] || die "$1 needs a value"; shift 2 ;;
    --model) MODEL=${2:-}; [ $# -ge 2 ] || die "$1 needs a value"; shift 2 ;;
    --hmc) HMC=1; shift ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$CARD" ] || die "one run card only ('$CARD', '$1')"; CARD=$1; shift ;;
  esac
done
[ -n "$CARD" ] || usage 2
[ -r "$CARD" ] || die "cannot read the run card '$CARD'"
check_counts TASKS RANKS THREADS WARN

LATFLOW_BIN=${LATFLOW_BIN:-$JOBS/../build/bin}
LATFLOW_BIN=$(cd "$LATFLOW_BIN" 2>/dev/null && pwd -P) || die "no binary directory (LATFLOW_BIN)"
[ -x "$LATFLOW_BIN/latflow" ] || die "no latflow in $LATFLOW_BIN (build it, or set LATFLOW_BIN)"
[ "$DRY" = 1 ] || command -v sbatch >/dev/null || die "sbatch not found"

# The card is checked here, on the login node, so that a typo fails now and not after
# the job waited in the queue. `latflow config` prints the effective card.
eff=$("$LATFLOW_BIN/latflow" config "$CARD" 2>&1) || { echo "$eff" >&2; die "bad run card $CARD"; }
SEED=$(sed -n 's/^seed: *//p' <<<"$eff" | head -1)
[[ $SEED =~ ^[0-9]+$ ]] || die "cannot read the seed of $CARD"
if [ -z "$DIR" ]; then
  DIR=$(sed -n 's/^output: *//p' <<<"$eff" | head -1)
  DIR=${DIR#\"}; DIR=${DIR%\"}
  [ -n "$DIR" ] || die "no --dir and no output in the card"
fi

check_time

if [ "$DRY" = 1 ]; then
  RUNDIR=$(realpath -m "$DIR")
else
  mkdir -p "$DIR/logs" || die "cannot create $DIR/logs"
  RUNDIR=$(cd "$DIR" && pwd -P)
fi
if [ -n "$MODEL" ]; then
  [ -r "$MODEL" ] || die "cannot read the model $MODEL"
  MODEL=$(cd "$(dirname "$MODEL")" && pwd -P)/$(basename "$MODEL")
fi
if [ -e "$RUNDIR/card.yaml" ] && ! cmp -s "$CARD" "$RUNDIR/card.yaml"; then
  die "$RUNDIR holds another run card (card.yaml): choose another --dir"
fi
[ -e "$RUNDIR/card.yaml" ] && echo "submit: $RUNDIR exists with this card: finished stages do nothing, interrupted ones resume" >&2
[ "$DRY" = 1 ] || cp "$CARD" "$RUNDIR/card.yaml" || die "cannot copy the card"
CARDCOPY=$RUNDIR/card.yaml
NAME=$(basename "$RUNDIR")

# The jobs read these (sbatch passes the environment: --export=ALL)
export LATFLOW_BIN LATFLOW_JOBS=$JOBS LATFLOW_SEED=$SEED LATFLOW_TASKS=$TASKS
[ -n "$MODEL" ] && export LATFLOW_MODEL=$MODEL

common=(--export=ALL --kill-on-invalid-dep=yes)
# --sbatch: split at blanks on purpose; given last, so that it overrides the options above
# shellcheck disable=SC2206
extra=($EXTRA)
work=("${common[@]}" --ntasks="$RANKS" --cpus-per-task="$THREADS" --time="$TIME"
      --signal="B:USR1@$WARN")

dep=""
if [ -z "$MODEL" ]; then
  train=$(sub train "${work[@]}" --job-name="$NAME-train" --output="$RUNDIR/logs/train-%j.out" \
          "${extra[@]}" "$JOBS/train.sbatch" "$CARDCOPY" "$RUNDIR") || fail "sbatch of the training job failed"
  submitted+=("$train"); dep="--dependency=afterok:$train"
fi
array="0-$((TASKS - 1))${PARALLEL:+%$PARALLEL}"
sample=$(sub sample "${work[@]}" ${dep:+"$dep"} --array="$array" --job-name="$NAME-sample" \
         --output="$RUNDIR/logs/sample-%A_%a.out" \
         "${extra[@]}" "$JOBS/sample.sbatch" "$CARDCOPY" "$RUNDIR") || fail "sbatch of the sampling array failed"
submitted+=("$sample")
after="afterok:$sample"
if [ "$HMC" = 1 ]; then
  hmc=$(sub hmc "${work[@]}" --job-name="$NAME-hmc" --output="$RUNDIR/logs/hmc-%j.out" \
        "${extra[@]}" "$JOBS/hmc.sbatch" "$CARDCOPY" "$RUNDIR") || fail "sbatch of the HMC job failed"
  submitted+=("$hmc"); after="$after:$hmc"
fi
merge=$(sub merge "${common[@]}" --dependency="$after" --job-name="$NAME-merge" \
        --output="$RUNDIR/logs/merge-%j.out" \
        "${extra[@]}" "$JOBS/merge.sbatch" "$CARDCOPY" "$RUNDIR") || fail "sbatch of the merge job failed"

{
  echo "# $(date '+%F %T') jobs/submit.sh $CARD --tasks $TASKS --ranks $RANKS --threads $THREADS --time $TIME --warn $WARN${MODEL:+ --model $MODEL}$([ "$HMC" = 1 ] && echo ' --hmc')${EXTRA:+ --sbatch \"$EXTRA\"}"
  [ -n "${train:-}" ] && echo "train $train"
  echo "sample $sample"
  [ -n "${hmc:-}" ] && echo "hmc $hmc"
  echo "merge $merge"
} | tee -a "$([ "$DRY" = 1 ] && echo /dev/null || echo "$RUNDIR/jobs.txt")" | grep -v '^#'
echo "submit: run dir $RUNDIR (logs in $RUNDIR/logs; watch: squeue -u ${USER:-$(id -un)})" >&2
