#!/usr/bin/env bash
# Installs latflow's dependencies from Debian's packages (bookworm) and leaves no service
# enabled or running. Idempotent; needs root or sudo to install.
#
# Usage: bash tools/setup.sh [--test | --list [--test] | --check]
#   (none)   what the main job (tools/run.sh) needs: compilers, MPI, HDF5, BLAS, ... gnuplot
#   --test   also the test-only packages (tools/test.sh, .ci/run): HDF5 tools, h5py/numpy,
#            SLURM and munge for tests/slurm/ (which starts its own throw-away daemons)
#   --list   print the packages of the mode, one a line, and install nothing
#   --check  install nothing; exit 1 if a munge/slurmd/slurmctld unit is enabled or active
# Packages are installed with --no-install-recommends under a policy-rc.d that forbids
# starting services; afterwards the units of the test packages are disabled (and stopped)
# unless /etc/slurm/slurm.conf exists, i.e. unless the machine is a configured SLURM node.
# Set LATFLOW_SKIP_APT=1 to skip apt-get (deps already present); the services are still
# disabled.
set -euo pipefail

main_pkgs=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
           libopenblas-dev liblapacke-dev libyaml-dev libfftw3-dev librandom123-dev
           libcjson-dev libgsl-dev gnuplot-nox libsuitesparse-dev)
test_pkgs=(hdf5-tools                          # h5diff in tests/lib.sh
           python3-h5py python3-numpy          # docs/FORMAT.md's examples, file-editing tests
           slurmctld slurmd slurm-client munge)  # the SLURM job tests (tests/slurm/)
units=(munge.service slurmd.service slurmctld.service)   # the services test_pkgs bring

# units_state: print "UNIT STATE" for every unit in units that is enabled or active; exit
# status 0 iff none is
units_state() {
  local u bad=0 s d
  command -v systemctl >/dev/null 2>&1 || return 0
  for u in "${units[@]}"; do
    s=$(systemctl is-enabled "$u" 2>/dev/null || true)
    case "$s" in enabled|enabled-runtime|alias) echo "$u $s"; bad=1 ;; esac
    for d in /etc/systemd/system/*.wants; do
      [ -e "$d/$u" ] && [ "$s" != enabled ] && { echo "$u linked in $d"; bad=1; }
    done
    [ -d /run/systemd/system ] && systemctl is-active --quiet "$u" 2>/dev/null \
      && { echo "$u active"; bad=1; }
  done
  return "$bad"
}

mode=main list=0
for a in "$@"; do
  case "$a" in
    --test) mode="test" ;;
    --list) list=1 ;;
    --check) units_state && { echo "setup: no munge/slurm unit enabled or active"; exit 0; }
             echo "setup: the units above are enabled or active" >&2; exit 1 ;;
    *) echo "usage: bash tools/setup.sh [--test | --list [--test] | --check]" >&2; exit 2 ;;
  esac
done
pkgs=("${main_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
if [ "$list" = 1 ]; then printf '%s\n' "${pkgs[@]}"; exit 0; fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

missing=()
if [ "${LATFLOW_SKIP_APT:-0}" != 1 ]; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present ($mode)"
else
  echo "setup: installing ${missing[*]}"
  # Debian's policy-rc.d convention: exit 101 = "action forbidden" (no service starts)
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  rc=0
  { $SUDO apt-get update -q &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}"; } || rc=$?
  [ "$made_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { echo "setup: apt-get failed (exit $rc)" >&2; exit "$rc"; }
fi

# the packages' maintainer scripts enable their units: disable them (also those an earlier
# version of this script left enabled), except on a configured SLURM node
if [ ! -e /etc/slurm/slurm.conf ] && command -v systemctl >/dev/null 2>&1 &&
   ! units_state >/dev/null; then
  for u in "${units[@]}"; do
    if [ -d /run/systemd/system ]; then $SUDO systemctl stop "$u" 2>/dev/null || true; fi
    $SUDO systemctl disable --quiet "$u" 2>/dev/null || true
  done
  echo "setup: disabled $(printf '%s ' "${units[@]}")"
fi
units_state >&2 || { echo "setup: the units above are still enabled or active" >&2; exit 1; }
