#!/usr/bin/env bash
# slurm-up.sh PREFIX — bring up a single-node SLURM cluster for latflow's job tests.
#
# Interface (shared with tests/slurm/slurm-down.sh, lib.sh, run.sh and the test_*.sh scripts):
#   bash tests/slurm/slurm-up.sh PREFIX     idempotent; exit 0 = node idle and accepting jobs
#   source PREFIX/env.sh                    exports SLURM_CONF (+ LATFLOW_SLURM_PREFIX,
#                                           LATFLOW_SLURM_NODE) for sbatch/srun/squeue/scontrol
#   bash tests/slurm/slurm-down.sh PREFIX [--purge]
# Must run as root (SlurmUser=root, no init system: munged, slurmctld and slurmd are started
# by hand). Nothing is written outside PREFIX except by apt-get:
#   PREFIX/etc/slurm.conf     node line from `slurmd -C`; MpiDefault=pmix; JobRequeue=1;
#                             cred_expire and the scheduler intervals short, so a requeued job
#                             restarts 10-15 s later; kill_invalid_depend NOT set (jobs use
#                             --kill-on-invalid-dep=yes); no accounting (use scontrol show job,
#                             kept for MinJobAge=300 s); no cgroups (proctrack/linuxproc)
#   PREFIX/munge-etc/ (0700)  key, seed          PREFIX/munge-run/ (0755) socket, pid, log
#   PREFIX/pid/ PREFIX/log/ PREFIX/spool/ PREFIX/tmp/ (TmpFS: pmix's per-step directories)
# Daemons that already run for this PREFIX (pid file -> live process whose exe is X or X-wlm
# and whose command line names PREFIX) are left alone; when slurm.conf changes they are
# restarted. On failure: exit 1 with the daemon's log tail.
#
# Environment knobs (optional):
#   SLURM_LOCAL_CTLD_PORT, SLURM_LOCAL_SLURMD_PORT  ports (default: those of an existing
#                            PREFIX/etc/slurm.conf, else 16817 and 16818)
#   SLURM_LOCAL_CRED_EXPIRE  credential lifetime = delay before a requeued job may run (10)
#   SLURM_LOCAL_SCHED_PARAMS SchedulerParameters (bf_interval=5,sched_interval=5)
#   SLURM_LOCAL_NO_INSTALL=1 never call apt-get (fail if the packages are missing)
#   SLURM_LOCAL_FRESH=1      start slurmctld with -c (drop saved job and node state)
set -uo pipefail

T0=$(date +%s%N)
say() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[slurm-up %3d.%03d s] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }
die() { echo "slurm-up: ERROR: $*" >&2; exit 1; }
# fail LOGFILE... MESSAGE: print the message and the tail of each log, exit 1
fail() {
  local msg=${*: -1} f
  echo "slurm-up: ERROR: $msg" >&2
  echo "slurm-up: what did start is stopped by: bash $(dirname "$0")/slurm-down.sh $PREFIX" >&2
  for f in "${@:1:$#-1}"; do
    [ -s "$f" ] || continue
    echo "----- tail of $f" >&2; tail -n 25 "$f" >&2
  done
  exit 1
}

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: slurm-up.sh PREFIX"
[ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root: SlurmUser=root)"
mkdir -p "$1" || die "cannot create $1"
PREFIX=$(cd "$1" && pwd -P) || die "cannot enter $1"
case "$PREFIX" in *[[:space:]]*) die "PREFIX must not contain white space: '$PREFIX'" ;; esac
# ------------------------------------------------------------------ paths and their limits
CONF=$PREFIX/etc/slurm.conf
MUNGE_SOCK=$PREFIX/munge-run/munge.socket.2
NODE=$(hostname -s 2>/dev/null || hostname)
[ -n "$NODE" ] || die "no host name"
# Unix socket paths must be shorter than 108 bytes (sun_path). The longest ones we create:
# munged's socket, slurmd's spool sockets "<node>_<job>.<step>" and pmix's
# "stepd.slurm.pmix.<job>.<step>" (job and step ids up to 10 digits), pmix's app dir in TmpFS.
for s in "$MUNGE_SOCK" "$PREFIX/spool/d/${NODE}_4294967295.4294967295" \
         "$PREFIX/spool/d/stepd.slurm.pmix.4294967295.4294967295" \
         "$PREFIX/tmp/spmix_appdir_0_4294967295.4294967295/pmix-1234567"; do
  [ ${#s} -lt 108 ] || die "PREFIX '$PREFIX' is too long (${#PREFIX} bytes): the socket path
  $s
would have ${#s} bytes, Unix sockets allow 107. Use a short prefix, e.g. \$(mktemp -d /tmp/lfslurm.XXXX)."
done

# munged requires every directory above its socket to be searchable by all (mktemp -d makes 0700)
chmod 755 "$PREFIX" || die "cannot chmod 755 $PREFIX"
d=$PREFIX
while [ "$d" != / ]; do
  d=$(dirname "$d")
  [ "$(( 0$(stat -c %a "$d") & 1 ))" = 1 ] || die "munged needs o+x on every parent of PREFIX; $d is $(stat -c %a "$d")"
done
touch "$PREFIX/.latflow-slurm"   # slurm-down.sh --purge deletes only directories with this mark

# ------------------------------------------------------------------ packages
missing=0
for b in munged mungekey munge unmunge slurmctld slurmd sbatch srun scontrol sinfo squeue scancel; do
  command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 || missing=1
done
export PATH=$PATH:/usr/sbin:/sbin
if [ "$missing" = 1 ]; then
  [ "${SLURM_LOCAL_NO_INSTALL:-0}" = 1 ] && die "SLURM/munge not installed and SLURM_LOCAL_NO_INSTALL=1 (apt-get install slurmctld slurmd slurm-client munge)"
  say "installing slurmctld slurmd slurm-client munge (apt-get)"
  # no init system: the packages' maintainer scripts must not try to start the services
  # (Debian's policy-rc.d convention: exit 101 = "action forbidden")
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the cached lists"
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  rc=$?
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install slurmctld slurmd slurm-client munge failed (exit $rc)"
  # the maintainer scripts enable the units: this cluster starts its own daemons, so leave
  # none enabled (as tools/setup.sh does), unless the machine is a configured SLURM node
  [ -e /etc/slurm/slurm.conf ] || systemctl disable --quiet munge slurmd slurmctld 2>/dev/null || true
  say "installed"
fi

# ------------------------------------------------------------------ helpers
# pid_of PIDFILE EXE: print the pid when PIDFILE names a live process running EXE (or EXE-wlm,
# Debian's alternatives target) whose command line names PREFIX; guards against stale pid files
# and against touching another cluster's daemons
pid_of() {
  local f=$1 exe=$2 pid actual
  [ -s "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  actual=$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")
  case "$actual" in "$exe" | "$exe-wlm") ;; *) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PREFIX/" || return 1
  echo "$pid"
}
# port_busy PORT: some socket listens on TCP PORT (IPv4 or IPv6); /proc, no ss/netstat needed
port_busy() {
  local hex; hex=$(printf ':%04X' "$1")
  awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# wait_for SECONDS CMD...: retry CMD every 0.1 s
wait_for() {
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
stop_pid() {  # stop_pid PID: TERM, KILL after 10 s
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 100); do [ -d "/proc/$p" ] || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  sleep 0.2
}
node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }
node_ready() { node_state | grep -Eq '^(idle|mixed|allocated|completing)$'; }

# ------------------------------------------------------------------ layout
mkdir -p "$PREFIX"/{etc,munge-etc,munge-run,spool/ctld,spool/d,log,pid,tmp} || die "mkdir under $PREFIX failed"
chmod 700 "$PREFIX/munge-etc"   # munged refuses a key directory others can read
chmod 755 "$PREFIX/munge-run"   # ...and a socket directory others cannot enter
chmod 1777 "$PREFIX/tmp"

if [ ! -s "$PREFIX/munge-etc/munge.key" ]; then
  mungekey --create --keyfile="$PREFIX/munge-etc/munge.key" 2>"$PREFIX/log/mungekey.err" \
    || dd if=/dev/urandom of="$PREFIX/munge-etc/munge.key" bs=1024 count=1 status=none \
    || die "cannot create the munge key"
  chmod 600 "$PREFIX/munge-etc/munge.key"
  say "created munge key"
fi

# ------------------------------------------------------------------ slurm.conf
conf_get() { sed -n "s/^$1=//p" "$CONF" 2>/dev/null | head -1; }
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-$(conf_get SlurmctldPort)}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-$(conf_get SlurmdPort)}
CTLD_PORT=${CTLD_PORT:-16817}
SLURMD_PORT=${SLURMD_PORT:-16818}
CRED_EXPIRE=${SLURM_LOCAL_CRED_EXPIRE:-10}
SCHED_PARAMS=${SLURM_LOCAL_SCHED_PARAMS:-bf_interval=5,sched_interval=5}
# "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
NODELINE=$(slurmd -C 2>"$PREFIX/log/slurmd-C.err" | head -1)
[[ $NODELINE == NodeName=* ]] || fail "$PREFIX/log/slurmd-C.err" "slurmd -C gave no node line"
NODELINE=$(sed -E "s/^NodeName=[^ ]+/NodeName=$NODE/" <<<"$NODELINE")
tmpconf=$(mktemp "$PREFIX/etc/slurm.conf.XXXXXX")
cat >"$tmpconf" <<EOF
# generated by tests/slurm/slurm-up.sh: single-node cluster, no cgroups, no accounting
ClusterName=lflocal
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK,cred_expire=$CRED_EXPIRE
StateSaveLocation=$PREFIX/spool/ctld
SlurmdSpoolDir=$PREFIX/spool/d
TmpFS=$PREFIX/tmp
SlurmctldPidFile=$PREFIX/pid/slurmctld.pid
SlurmdPidFile=$PREFIX/pid/slurmd.pid
SlurmctldLogFile=$PREFIX/log/slurmctld.log
SlurmdLogFile=$PREFIX/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=$SCHED_PARAMS
MpiDefault=pmix
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
MailProg=/bin/true
KillWait=10
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
$NODELINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
conf_changed=0
if cmp -s "$tmpconf" "$CONF"; then
  rm -f "$tmpconf"
else
  mv "$tmpconf" "$CONF" && chmod 644 "$CONF" || die "cannot write $CONF"
  conf_changed=1
  say "wrote $CONF (ports $CTLD_PORT/$SLURMD_PORT)"
fi
cat >"$PREFIX/env.sh" <<EOF
# source me (written by tests/slurm/slurm-up.sh): SLURM clients find the local cluster
export SLURM_CONF=$CONF
export LATFLOW_SLURM_PREFIX=$PREFIX
export LATFLOW_SLURM_NODE=$NODE
EOF
export SLURM_CONF=$CONF

# ------------------------------------------------------------------ munged
MLOG=$PREFIX/munge-run/munged.log
if pid=$(pid_of "$PREFIX/munge-run/munged.pid" munged); then
  say "munged already running (pid $pid)"
else
  munged --socket="$MUNGE_SOCK" --key-file="$PREFIX/munge-etc/munge.key" \
         --pid-file="$PREFIX/munge-run/munged.pid" --log-file="$MLOG" \
         --seed-file="$PREFIX/munge-etc/munged.seed" </dev/null >"$PREFIX/log/munged.out" 2>&1 \
    || fail "$PREFIX/log/munged.out" "$MLOG" "munged failed to start"
  wait_for 10 sh -c "munge -n -S '$MUNGE_SOCK' | unmunge -S '$MUNGE_SOCK'" \
    || fail "$PREFIX/log/munged.out" "$MLOG" "munged does not answer on $MUNGE_SOCK"
  say "munged up (pid $(cat "$PREFIX/munge-run/munged.pid"))"
fi

# ------------------------------------------------------------------ slurmctld, slurmd
ctld_pid=$(pid_of "$PREFIX/pid/slurmctld.pid" slurmctld)
slurmd_pid=$(pid_of "$PREFIX/pid/slurmd.pid" slurmd)
if [ "$conf_changed" = 1 ] && [ -n "$ctld_pid$slurmd_pid" ]; then
  say "slurm.conf changed: restarting slurmd and slurmctld"
  for p in $slurmd_pid $ctld_pid; do stop_pid "$p"; done
  ctld_pid=; slurmd_pid=
fi

CLOG=$PREFIX/log/slurmctld.log
if [ -n "$ctld_pid" ]; then
  say "slurmctld already running (pid $ctld_pid)"
else
  port_busy "$CTLD_PORT" && die "TCP port $CTLD_PORT is in use by another program (set SLURM_LOCAL_CTLD_PORT)"
  args=(-f "$CONF")
  [ "${SLURM_LOCAL_FRESH:-0}" = 1 ] && args+=(-c)
  (cd "$PREFIX/log" && slurmctld "${args[@]}" </dev/null >"$PREFIX/log/slurmctld.out" 2>&1) \
    || fail "$PREFIX/log/slurmctld.out" "$CLOG" "slurmctld failed to start"
  wait_for 30 sh -c "scontrol ping | grep -q 'is UP'" \
    || fail "$PREFIX/log/slurmctld.out" "$CLOG" "slurmctld does not answer scontrol ping (port $CTLD_PORT)"
  say "slurmctld up (pid $(cat "$PREFIX/pid/slurmctld.pid" 2>/dev/null), port $CTLD_PORT)"
fi

DLOG=$PREFIX/log/slurmd.log
if [ -n "$slurmd_pid" ]; then
  say "slurmd already running (pid $slurmd_pid)"
else
  port_busy "$SLURMD_PORT" && die "TCP port $SLURMD_PORT is in use by another program (set SLURM_LOCAL_SLURMD_PORT)"
  (cd "$PREFIX/log" && slurmd -f "$CONF" </dev/null >"$PREFIX/log/slurmd.out" 2>&1) \
    || fail "$PREFIX/log/slurmd.out" "$DLOG" "slurmd failed to start"
  wait_for 10 pid_of "$PREFIX/pid/slurmd.pid" slurmd \
    || fail "$PREFIX/log/slurmd.out" "$DLOG" "slurmd did not stay up"
  say "slurmd up (pid $(cat "$PREFIX/pid/slurmd.pid"), port $SLURMD_PORT)"
fi

# ------------------------------------------------------------------ node ready
if ! wait_for 30 node_ready; then
  say "node $NODE is '$(node_state)': resuming it"
  scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1
  wait_for 30 node_ready \
    || fail "$DLOG" "$CLOG" "node $NODE did not become idle (state '$(node_state)')"
fi
say "cluster up: node $NODE $(node_state); source $PREFIX/env.sh"
