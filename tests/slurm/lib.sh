# shellcheck shell=bash
# tests/slurm/lib.sh — helpers for the SLURM job tests (source it; it sets no shell options).
#
# A test tests/slurm/test_<x>.sh is run by tests/slurm/run.sh as
#   bash test_<x>.sh BINDIR WORKDIR SRCDIR
# with PREFIX/env.sh already sourced (SLURM_CONF, LATFLOW_SLURM_PREFIX, LATFLOW_SLURM_NODE),
# BINDIR holding latflow and latflow-merge, WORKDIR its own fresh directory (run.sh gives every
# test WORKDIR/<test name>), SRCDIR the source tree. Exit status = result. Typical shape:
#   . "$(dirname "$0")/lib.sh"
#   j=$(sbatch --parsable -o a.out --wrap hostname)
#   [ "$(slurm_wait_job "$j" 60)" = COMPLETED ] && ok "hostname job" || bad "hostname job"
#   slurm_summary            # prints "N passed, M failed"; returns 0 only when M = 0
#
# ok MSG / bad MSG           count and print "ok   MSG" / "FAIL MSG" (as tests/integration/*.sh)
# slurm_summary              print "N passed, M failed"; status 0 iff nothing failed
# slurm_job_state JOBID      JobState from scontrol (PENDING, RUNNING, COMPLETED, FAILED,
#                            CANCELLED, TIMEOUT, ...); UNKNOWN when slurmctld no longer knows the
#                            job (no accounting here: records are kept MinJobAge=300 s).
#                            For an array job, the state of its first record.
# slurm_job_field JOBID F    value of field F of `scontrol show job` (Restarts, ExitCode "0:0",
#                            Reason, EligibleTime, RunTime, BatchFlag, ...); empty if absent
# slurm_wait_job JOBID SECS  wait until the job leaves PENDING, RUNNING, REQUEUED, COMPLETING,
#                            CONFIGURING, SUSPENDED, ... (a held REQUEUE_HOLD/SPECIAL_EXIT counts as
#                            final); print that state. On timeout print the current state,
#                            status 1 (a dependent of a failed job without --kill-on-invalid-dep
#                            stays PENDING for ever)
# slurm_wait_state JOBID STATE SECS   wait until the job is in STATE (e.g. RUNNING); status 1
#                            on timeout
# slurm_wait_file FILE REGEX SECS   wait until FILE has a line matching REGEX (grep -E); status 1
#                            on timeout (e.g. wait for a job to reach its trap before signalling)
# slurm_now / slurm_since T  wall clock (s, with ns) / seconds since T, 2 decimals: for timings
# slurm_job_dump JOBID       scontrol show job + the tail of the job's StdOut, for FAIL messages

LF_SLURM_PASSES=${LF_SLURM_PASSES:-0}
LF_SLURM_FAILS=${LF_SLURM_FAILS:-0}
ok()  { LF_SLURM_PASSES=$((LF_SLURM_PASSES + 1)); echo "ok   $*"; }
bad() { LF_SLURM_FAILS=$((LF_SLURM_FAILS + 1)); echo "FAIL $*"; }
slurm_summary() {
  echo "$LF_SLURM_PASSES passed, $LF_SLURM_FAILS failed"
  [ "$LF_SLURM_FAILS" = 0 ]
}

slurm_now() { date +%s.%N; }
slurm_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# slurm_job_field JOBID FIELD
slurm_job_field() {
  scontrol -o show job "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
slurm_job_state() {
  local s
  s=$(slurm_job_field "$1" JobState)
  echo "${s:-UNKNOWN}"
}
# slurm_wait_job JOBID TIMEOUT_SECONDS
slurm_wait_job() {
  local end s
  end=$(( $(date +%s) + $2 ))
  while :; do
    s=$(slurm_job_state "$1")
    case "$s" in
      PENDING | RUNNING | REQUEUED | REQUEUE_HOLD | REQUEUE_FED | COMPLETING | CONFIGURING | \
      SUSPENDED | SIGNALING | STAGE_OUT | RESIZING) ;;
      *) echo "$s"; return 0 ;;
    esac
    if [ "$(date +%s)" -ge "$end" ]; then echo "$s"; return 1; fi
    sleep 0.25
  done
}
# slurm_wait_state JOBID STATE TIMEOUT_SECONDS
slurm_wait_state() {
  local end=$(( $(date +%s) + $3 ))
  until [ "$(slurm_job_state "$1")" = "$2" ]; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
# slurm_wait_file FILE REGEX TIMEOUT_SECONDS
slurm_wait_file() {
  local end=$(( $(date +%s) + $3 ))
  until grep -Eq -- "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
slurm_job_dump() {
  local out
  scontrol show job "$1" 2>&1 | sed 's/^/    /'
  out=$(slurm_job_field "$1" StdOut)
  [ -n "$out" ] && [ -f "$out" ] && { echo "    --- tail of $out"; tail -n 20 "$out" | sed 's/^/    /'; }
  return 0
}
