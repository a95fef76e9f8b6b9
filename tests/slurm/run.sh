#!/usr/bin/env bash
# run.sh — latflow's SLURM job tests on a throw-away single-node cluster. The one command:
#
#   sudo bash tests/slurm/run.sh BINDIR WORKDIR SRCDIR [NAME...]
#   e.g. bash tests/slurm/run.sh build/bin /tmp/lfslurm-work .      (CTest: ctest -L slurm)
#
# BINDIR holds latflow (and latflow-merge); WORKDIR receives one directory per test (kept, for
# reading the job logs); SRCDIR is the source tree. NAME... runs only tests/slurm/test_NAME.sh.
# Steps: installs SLURM and munge if missing (tests/slurm/slurm-up.sh), brings a cluster up
# under a fresh short prefix (mktemp -d /tmp/lfslurm.XXXX), runs every tests/slurm/test_*.sh as
#   bash test_x.sh BINDIR WORKDIR/test_x SRCDIR
# with PREFIX/env.sh sourced, then always (trap EXIT, also on INT/TERM/HUP) stops the cluster
# and deletes the prefix with tests/slurm/slurm-down.sh PREFIX --purge.
# Exit status: 0 only when the cluster came up, every test passed and the teardown left nothing;
# 77 (skipped) when not run as root; 2 for a usage error.
# Environment:
#   LATFLOW_SLURM_KEEP=1      leave the cluster running (prints how to use and stop it)
#   LATFLOW_SLURM_TIMEOUT     budget in seconds for the whole run (default 540, below CTest's
#                             600): a test still running when it is spent is killed, so the
#                             teardown always happens
#   SLURM_LOCAL_CTLD_PORT, SLURM_LOCAL_SLURMD_PORT   ports (default: the first free pair of
#                             16817/16818, 16819/16820, ...); other SLURM_LOCAL_* knobs: slurm-up.sh
set -uo pipefail

T0=$(date +%s%N)
say() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[slurm-run %3d.%03d s] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }
die() { echo "slurm-run: ERROR: $*" >&2; exit 2; }

[ $# -ge 3 ] || die "usage: run.sh BINDIR WORKDIR SRCDIR [NAME...]"
# 77 = skipped (CTest SKIP_RETURN_CODE): the local cluster runs its daemons as root
[ "$(id -u)" = 0 ] || { echo "slurm-run: skipped: must run as root"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd -P)
BIN=$(cd "$1" 2>/dev/null && pwd -P) || die "no bin directory $1"
[ -x "$BIN/latflow" ] || die "$BIN/latflow not found (build first)"
mkdir -p "$2" || die "cannot create $2"
WORK=$(cd "$2" && pwd -P)
SRC=$(cd "$3" 2>/dev/null && pwd -P) || die "no source directory $3"
shift 3
BUDGET=${LATFLOW_SLURM_TIMEOUT:-540}

tests=()
if [ $# -gt 0 ]; then
  for n in "$@"; do
    [ -f "$here/test_$n.sh" ] || die "no test $here/test_$n.sh"
    tests+=("$here/test_$n.sh")
  done
else
  for t in "$here"/test_*.sh; do [ -f "$t" ] && tests+=("$t"); done
fi
[ ${#tests[@]} -gt 0 ] || die "no tests in $here"

# ports: the first free pair unless given (so a run never collides with another cluster)
port_busy() {
  local hex; hex=$(printf ':%04X' "$1")
  awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
if [ -z "${SLURM_LOCAL_CTLD_PORT:-}" ] && [ -z "${SLURM_LOCAL_SLURMD_PORT:-}" ]; then
  p=16817
  while port_busy "$p" || port_busy $((p + 1)); do
    p=$((p + 2)); [ "$p" -lt 16917 ] || die "no free port pair in 16817-16916"
  done
  export SLURM_LOCAL_CTLD_PORT=$p SLURM_LOCAL_SLURMD_PORT=$((p + 1))
fi

# a cluster of an earlier run that was killed (e.g. by SIGKILL) is reported, not touched
for d in /tmp/lfslurm.*; do
  [ -f "$d/.latflow-slurm" ] || continue
  for f in "$d/pid/slurmctld.pid" "$d/pid/slurmd.pid" "$d/munge-run/munged.pid"; do
    [ -s "$f" ] && [ -d "/proc/$(tr -dc 0-9 <"$f")" ] \
      && { say "note: $d still runs daemons (stop: bash $here/slurm-down.sh $d --purge)"; break; }
  done
done

PREFIX=$(mktemp -d /tmp/lfslurm.XXXX) || die "mktemp failed"
status=1
teardown() {
  local rc=$? down=0
  trap - EXIT INT TERM HUP
  [ "$status" = 0 ] && [ "$rc" != 0 ] && status=$rc
  if [ "$status" != 0 ] && [ -d "$PREFIX/log" ]; then
    for f in "$PREFIX/log/slurmctld.log" "$PREFIX/log/slurmd.log"; do
      [ -s "$f" ] && { echo "----- tail of $f"; tail -n 15 "$f"; }
    done
  fi
  if [ "${LATFLOW_SLURM_KEEP:-0}" = 1 ]; then
    say "LATFLOW_SLURM_KEEP=1: cluster left running. Use: source $PREFIX/env.sh"
    say "stop it with: bash $here/slurm-down.sh $PREFIX --purge"
  else
    local t; t=$(date +%s%N)
    bash "$here/slurm-down.sh" "$PREFIX" --purge || down=1
    say "teardown $(( ($(date +%s%N) - t) / 1000000 )) ms"
    [ "$down" = 0 ] || { echo "slurm-run: ERROR: teardown failed" >&2; status=1; }
  fi
  say "total $(( ($(date +%s%N) - T0) / 1000000 )) ms; exit $status"
  exit "$status"
}
trap teardown EXIT
tpid=""
stop_test() {  # the running test (its timeout process forwards the signal to the test's group)
  [ -n "$tpid" ] && kill -TERM "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
  tpid=""
}
trap 'echo "slurm-run: interrupted" >&2; stop_test; status=130; exit 130' INT
trap 'echo "slurm-run: terminated" >&2; stop_test; status=143; exit 143' TERM HUP

say "prefix $PREFIX, ports $SLURM_LOCAL_CTLD_PORT/$SLURM_LOCAL_SLURMD_PORT, workdir $WORK"
bash "$here/slurm-up.sh" "$PREFIX" || { echo "slurm-run: ERROR: the cluster did not come up" >&2; exit 1; }
# shellcheck disable=SC1091
. "$PREFIX/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

passed=0; failed=0; report=""
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  left=$(( BUDGET - ($(date +%s%N) - T0) / 1000000000 - 30 ))   # 30 s kept for the teardown
  if [ "$left" -le 5 ]; then
    failed=$((failed + 1)); report="$report\n  FAIL $name (not run: budget of $BUDGET s spent)"
    continue
  fi
  wd=$WORK/$name
  rm -rf "$wd"; mkdir -p "$wd"
  say "=== $name (limit $left s)"
  ts=$(date +%s%N)
  # timeout runs the test in its own process group and kills all of it when time runs out;
  # in the background, so that a signal to this script is handled at once (bash runs traps
  # only between foreground commands)
  (cd "$wd" && exec timeout -k 10 "$left" bash "$t" "$BIN" "$wd" "$SRC") &
  tpid=$!
  wait "$tpid"; rc=$?
  tpid=""
  dt=$(( ($(date +%s%N) - ts) / 1000000 ))
  dts=$(printf '%d.%03d s' $((dt / 1000)) $((dt % 1000)))
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1)); report="$report\n  ok   $name ($dts)"
  else
    [ "$rc" = 124 ] && rc="$rc, timed out after $left s"
    failed=$((failed + 1)); report="$report\n  FAIL $name (exit $rc, $dts)"
  fi
  say "=== $name: exit $rc ($dts)"
done
printf 'slurm tests:%b\n' "$report"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && status=0
exit "$status"
