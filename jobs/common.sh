# jobs/common.sh — shared by the latflow batch scripts in jobs/ (sourced, never run).
#
# What every job does with it:
#   lf_init KIND CARD RUNDIR   check the arguments, find the binaries, set the thread
#                              variables, print the start header (one per start: the log is
#                              opened in append mode, so a requeued job adds a new header)
#   lf_resume_flag DIR CKPT FINAL
#                              sets LF_RESUME to "--resume" when DIR holds a checkpoint (or a
#                              finished result, which latflow then reports as "nothing to
#                              resume"), else to "" (a fresh start)
#   lf_run ARGS...             runs `latflow ARGS...` under the MPI launcher in the background,
#                              forwards USR1/TERM/INT to it as USR1; LF_RC = its exit code
#   lf_finish RC               exit code 3 (checkpoint written after a stop) -> requeue the job;
#                              anything else -> exit with it
#
# Environment (all optional; jobs/submit.sh sets the first two):
#   LATFLOW_BIN     directory holding latflow and latflow-merge (default: ../build/bin next
#                   to jobs/)
#   LATFLOW_JOBS    the jobs/ directory (default: found through `scontrol show job`)
#   LATFLOW_LAUNCH  srun (default: `srun --mpi=pmix`) | mpirun | none (one process, no launcher)
#   LATFLOW_SRUN_ARGS, LATFLOW_MPIRUN_ARGS   extra launcher arguments (word-split)
#   LATFLOW_MAX_RESTARTS  stop requeueing after this many restarts (default 50): a job whose
#                   warning signal comes before it can make progress would loop for ever
# shellcheck shell=bash
# (LF_* variables are set here for the job scripts that source this file)
# shellcheck disable=SC2034

lf_log() { echo "[latflow-job $(date +%FT%T)] $*"; }

# The traps are set as soon as this file is sourced: a signal that comes before latflow
# runs is remembered (lf_run then does not start it) instead of killing the batch shell.
LF_GOT=""
LF_PID=""
trap 'lf_forward USR1' USR1
trap 'lf_forward TERM' TERM
trap 'lf_forward INT' INT
lf_die() { lf_log "ERROR: $*"; exit 1; }

# lf_init KIND CARD RUNDIR
lf_init() {
  LF_KIND=$1
  if [ -z "${2:-}" ] || [ -z "${3:-}" ]; then lf_die "usage: sbatch jobs/$LF_KIND.sbatch CARD RUNDIR"; fi
  LF_CARD=$2
  LF_RUNDIR=$3
  [ -r "$LF_CARD" ] || lf_die "cannot read the run card '$LF_CARD'"
  LATFLOW_BIN=${LATFLOW_BIN:-$LATFLOW_JOBS/../build/bin}
  [ -x "$LATFLOW_BIN/latflow" ] || lf_die "no latflow in LATFLOW_BIN=$LATFLOW_BIN"
  # Threads. latflow's parallelism is MPI ranks: one rank per core. OpenBLAS (and OpenMP)
  # would otherwise start one thread per core of the node in EVERY rank, so R ranks on a
  # node would run R x cores threads and fight for the cores. A job that asks for
  # --cpus-per-task=C gives each rank C cores, and then C threads are right.
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS
  # Since Slurm 22.05 srun no longer inherits --cpus-per-task from the batch allocation.
  [ -n "${SLURM_CPUS_PER_TASK:-}" ] && export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
  LF_RESTART=${SLURM_RESTART_COUNT:-0}
  local where="job ${SLURM_JOB_ID:-none}"
  [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && where="$where (array ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID})"
  echo "==== latflow $LF_KIND start $(date '+%F %T %Z') $where restart $LF_RESTART" \
       "host $(hostname -s) ranks ${SLURM_NTASKS:-1} threads/rank $OMP_NUM_THREADS ===="
  lf_log "card $LF_CARD, run dir $LF_RUNDIR, binaries $LATFLOW_BIN"
}

# lf_resume_flag OUTDIR CKPT FINAL
lf_resume_flag() {
  local dir=$1 ckpt=$2 final=$3
  LF_RESUME=""
  if [ -e "$dir/$ckpt" ] || [ -e "$dir/$ckpt.prev" ]; then
    LF_RESUME=--resume
    lf_log "checkpoint $dir/$ckpt found: resuming"
  elif [ -e "$dir/$final" ]; then
    LF_RESUME=--resume   # latflow: "holds a finished run: nothing to resume", exit 0
    lf_log "$dir/$final exists: the run finished before (latflow will do nothing)"
  elif [ "$LF_RESTART" -gt 0 ]; then
    lf_log "restart $LF_RESTART but no checkpoint in $dir yet: starting from the beginning"
  fi
}

# lf_forward SIG: the batch shell got SIG; the ranks get USR1 (latflow treats USR1 like TERM:
# stop at the next step boundary, write the checkpoint, exit 3). Never INT: a second SIGINT
# kills latflow. srun forwards USR1 to every task; mpirun relays it to every rank.
lf_forward() {
  LF_GOT=$1
  if [ -n "$LF_PID" ]; then
    lf_log "batch shell got SIG$1: forwarding SIGUSR1 to the ranks (launcher pid $LF_PID)"
    kill -USR1 "$LF_PID" 2>/dev/null
  else
    lf_log "batch shell got SIG$1"
  fi
  return 0
}

# lf_run ARGS...: sets LF_RC
lf_run() {
  local -a launch
  # (LATFLOW_*_ARGS are split into words on purpose)
  # shellcheck disable=SC2206
  case ${LATFLOW_LAUNCH:-srun} in
    # --mpi=pmix: Open MPI 4.x is started through PMIx; pmi2/none abort in MPI_Init.
    # The rank count comes from the allocation (--ntasks).
    srun) launch=(srun --mpi=pmix ${LATFLOW_SRUN_ARGS:-}) ;;
    # mpirun reads the allocation itself; with several threads per rank its default
    # binding (one core per rank) would squeeze the threads onto one core.
    mpirun) launch=(mpirun ${LATFLOW_MPIRUN_ARGS:-})
            [ "${OMP_NUM_THREADS:-1}" -gt 1 ] && launch+=(--bind-to none) ;;
    none) launch=() ;;
    *) lf_die "LATFLOW_LAUNCH must be srun, mpirun or none, not '$LATFLOW_LAUNCH'" ;;
  esac
  if [ -n "$LF_GOT" ]; then
    lf_log "SIG$LF_GOT came before latflow started: not starting it"
    LF_RC=3
    return
  fi
  # The warning signal (--signal=B:USR1@N) reaches only this shell (traps: see above). bash
  # runs a trap only between commands, so latflow runs in the background and the shell
  # waits for it.
  lf_log "running: ${launch[*]} $LATFLOW_BIN/latflow $*"
  "${launch[@]}" "$LATFLOW_BIN/latflow" "$@" &
  LF_PID=$!
  # `wait` returns 128+signal when a trap interrupts it: wait again until the launcher is
  # gone (a zombie still answers kill -0), then once more for its real exit status.
  while kill -0 "$LF_PID" 2>/dev/null; do
    wait "$LF_PID"
  done
  wait "$LF_PID"
  LF_RC=$?
  trap - USR1 TERM INT
  lf_log "latflow $1 exited with code $LF_RC"
}

# lf_finish RC
lf_finish() {
  local rc=$1 max=${LATFLOW_MAX_RESTARTS:-50}
  case $rc in
    0) lf_log "done"; exit 0 ;;
    3) ;;
    2) lf_log "bad config or usage (exit 2): fix the card; dependent jobs are cancelled"; exit 2 ;;
    *) lf_log "failed (exit $rc); a checkpoint, if any, stays valid: resubmit to continue"; exit "$rc" ;;
  esac
  # exit 3: stopped by a signal, checkpoint written
  if [ "$LF_GOT" = TERM ] || [ "$LF_GOT" = INT ]; then
    # SIGTERM comes from scancel or from the time limit itself: the job is ending and must
    # not come back by itself
    lf_log "stopped by SIG$LF_GOT (scancel or time limit): not requeued; resubmit to resume"
    exit 3
  fi
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    lf_log "stopped, checkpoint written (not under SLURM: rerun to resume)"; exit 3
  fi
  if [ "$LF_RESTART" -ge "$max" ]; then
    lf_log "already restarted $LF_RESTART times (LATFLOW_MAX_RESTARTS=$max): not requeued"
    exit 3
  fi
  lf_log "checkpoint written: requeueing job $SLURM_JOB_ID (restart $((LF_RESTART + 1)))"
  if scontrol requeue "$SLURM_JOB_ID"; then
    # slurmctld now ends this run (SIGTERM to this shell) and queues the job again; it
    # becomes eligible after the credential lifetime (cred_expire, 120 s by default)
    sleep 300 &
    wait $!
    exit 3
  fi
  lf_log "scontrol requeue failed: resubmit the same job; it resumes from the checkpoint"
  exit 3
}
