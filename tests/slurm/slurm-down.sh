#!/usr/bin/env bash
# slurm-down.sh PREFIX [--purge] — stop the cluster that tests/slurm/slurm-up.sh PREFIX started.
#
#   bash tests/slurm/slurm-down.sh PREFIX          cancel every job, stop slurmd, slurmctld, munged
#   bash tests/slurm/slurm-down.sh PREFIX --purge  ... then delete PREFIX (only if slurm-up.sh made it)
# Idempotent: a cluster that is not running is not an error.
# Processes are found ONLY through the pid files under PREFIX (never by name): a pid counts
# when /proc/<pid>/exe is the expected binary or its Debian "-wlm" variant and its command line
# names PREFIX. Each gets TERM, then KILL after 10 s. Afterwards, strays of this cluster only
# are stopped the same way: slurmstepd, slurmscriptd and job processes (those with a
# SLURM_JOB_ID) whose environment holds SLURM_CONF=PREFIX/etc/slurm.conf. A daemon of PREFIX
# without a valid pid file is reported (exit 1), not killed. Exit 0: nothing of PREFIX runs.
set -uo pipefail

T0=$(date +%s%N)
say() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[slurm-down %3d.%03d s] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }
die() { echo "slurm-down: ERROR: $*" >&2; exit 1; }

PURGE=0
PREFIX=
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -*) die "usage: slurm-down.sh PREFIX [--purge]" ;;
    *) [ -z "$PREFIX" ] || die "usage: slurm-down.sh PREFIX [--purge]"; PREFIX=$a ;;
  esac
done
[ -n "$PREFIX" ] || die "usage: slurm-down.sh PREFIX [--purge]"
if [ ! -d "$PREFIX" ]; then say "$PREFIX does not exist: nothing to do"; exit 0; fi
PREFIX=$(cd "$PREFIX" && pwd -P) || die "cannot enter $PREFIX"
export PATH=$PATH:/usr/sbin:/sbin
CONF=$PREFIX/etc/slurm.conf

pid_of() {  # pid_of PIDFILE EXE (same check as slurm-up.sh)
  local f=$1 exe=$2 pid actual
  [ -s "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  actual=$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")
  case "$actual" in "$exe" | "$exe-wlm") ;; *) return 1 ;; esac
  grep -qzF -- "$PREFIX/" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}
stop_pids() {  # stop_pids WHAT PID...: TERM, wait up to 10 s, then KILL
  local what=$1; shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null
  local left
  for _ in $(seq 100); do
    left=""
    for p in "$@"; do [ -d "/proc/$p" ] && left="$left $p"; done
    [ -z "$left" ] && { say "stopped $what (pid $*)"; return 0; }
    sleep 0.1
  done
  say "$what (pid$left) ignored TERM for 10 s: KILL"
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null
  sleep 0.3
}
children_of() {  # children_of PID EXE: live children of PID running EXE or EXE-wlm
  local p s
  for s in $(grep -lx "PPid:[[:space:]]*$1" /proc/[0-9]*/status 2>/dev/null); do
    p=${s#/proc/}; p=${p%/status}
    case "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" in "$2" | "$2-wlm") echo "$p" ;; esac
  done
}
# environ_has PID STRING: the process's environment holds STRING as one whole entry
environ_has() { grep -qzxF -- "$2" "/proc/$1/environ" 2>/dev/null; }
sid_of() { local st; st=$(cat 2>/dev/null "/proc/$1/stat") || return 1; st=${st##*) }; set -- $st; echo "$4"; }
# strays: processes of this cluster that outlived the daemons; never ourselves, an ancestor or
# anything in our session (the harness's own pipelines and clients). slurmd and slurmctld give
# slurmstepd, slurmscriptd and the jobs SLURM_CONF=<our conf>; jobs run in their own sessions.
strays() {
  local d p exe anc=" $$ " q=$$ mysid
  mysid=$(sid_of $$)
  while [ "$q" -gt 1 ] 2>/dev/null; do
    q=$(awk '/^PPid:/{print $2}' "/proc/$q/status" 2>/dev/null); anc="$anc$q "
  done
  # one grep over every environment (candidates only; the scan must stay fast)
  for d in $(grep -lzxF -- "SLURM_CONF=$CONF" /proc/[0-9]*/environ 2>/dev/null); do
    d=${d%/environ}; p=${d#/proc/}
    case "$anc" in *" $p "*) continue ;; esac
    [ "$(sid_of "$p")" = "$mysid" ] && continue
    exe=$(basename "$(readlink "$d/exe" 2>/dev/null)")
    case "$exe" in
      slurmstepd | slurmstepd-wlm) echo "$p" ;;
      slurmctld | slurmctld-wlm) grep -qzF slurmscriptd "$d/cmdline" 2>/dev/null && echo "$p" ;;
      slurmd | slurmd-wlm | munged | "") ;;
      *) grep -qz '^SLURM_JOB_ID=' "$d/environ" 2>/dev/null && echo "$p" ;;
    esac
  done
}

# 1. cancel every job while the controller still runs
if [ -f "$CONF" ] && pid_of "$PREFIX/pid/slurmctld.pid" slurmctld >/dev/null; then
  export SLURM_CONF=$CONF
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// }" ]; then
    say "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 150); do
      [ -z "$(squeue -h -t PD,R,CG,S,CF,RQ,SO -o %A 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

# 2. the daemons, through their pid files: slurmd and slurmctld together (each takes ~2 s to
# exit), then munged, which they use until they are gone
dpids=""; what=""
if pid=$(pid_of "$PREFIX/pid/slurmd.pid" slurmd); then dpids=$pid; what=slurmd; else say "slurmd not running"; fi
kids=""
if pid=$(pid_of "$PREFIX/pid/slurmctld.pid" slurmctld); then
  kids=$(children_of "$pid" slurmctld | tr '\n' ' ')   # slurmscriptd
  dpids="$dpids $pid"; what="${what:+$what+}slurmctld"
else
  say "slurmctld not running"
fi
# shellcheck disable=SC2086
[ -n "$what" ] && stop_pids "$what" $dpids
live=""; for k in $kids; do [ -d "/proc/$k" ] && live="$live $k"; done
# shellcheck disable=SC2086
[ -n "$live" ] && stop_pids "slurmctld's slurmscriptd" $live
if pid=$(pid_of "$PREFIX/munge-run/munged.pid" munged); then stop_pids munged "$pid"; else say "munged not running"; fi
rm -f "$PREFIX/pid/slurmd.pid" "$PREFIX/pid/slurmctld.pid" "$PREFIX/munge-run/munged.pid"

# 3. strays of this cluster (a slurmstepd whose job did not end, a job's orphans)
s=$(strays | tr '\n' ' ')
if [ -n "${s// }" ]; then
  say "stopping leftovers of this cluster: $(for p in $s; do printf '%s(%s) ' "$p" "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-40)"; done)"
  # shellcheck disable=SC2086
  stop_pids leftovers $s
fi
s=$(strays | tr '\n' ' ')
[ -z "${s// }" ] || { echo "slurm-down: ERROR: still running: $s" >&2; exit 1; }
# a daemon of this cluster without a valid pid file is reported, never killed
d=""
for p in $(grep -lzF -- "$PREFIX/" /proc/[0-9]*/cmdline 2>/dev/null); do
  p=${p%/cmdline}
  case "$(readlink "$p/exe" 2>/dev/null)" in
    */slurmctld | */slurmctld-wlm | */slurmd | */slurmd-wlm | */munged) d="$d ${p#/proc/}" ;;
  esac
done
[ -z "$d" ] || { echo "slurm-down: ERROR: daemons of $PREFIX without a valid pid file still run (pid$d); stop them by hand" >&2; exit 1; }

# 4. --purge
if [ "$PURGE" = 1 ]; then
  [ -e "$PREFIX/.latflow-slurm" ] || die "refusing to purge $PREFIX: it has no .latflow-slurm mark (not made by slurm-up.sh)"
  rm -rf -- "$PREFIX" || die "cannot remove $PREFIX"
  say "purged $PREFIX"
fi
say "down"
