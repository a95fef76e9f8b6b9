#!/usr/bin/env bash
# Installs latflow's build and run dependencies from Debian's packages (bookworm).
# Idempotent; needs root or sudo. Set LATFLOW_SKIP_APT=1 to skip (deps already present).
set -euo pipefail
[ "${LATFLOW_SKIP_APT:-0}" = 1 ] && exit 0
pkgs=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
      hdf5-tools libopenblas-dev liblapacke-dev libyaml-dev libfftw3-dev librandom123-dev
      libcjson-dev libgsl-dev gnuplot-nox
      python3-h5py python3-numpy           # docs/FORMAT.md's examples (format_examples.sh)
      slurmctld slurmd slurm-client munge)   # last line: the SLURM job tests (tests/slurm/)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
