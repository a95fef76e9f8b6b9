#!/usr/bin/env bash
# The main job on a fresh machine: install its dependencies (no test-only package, no
# service enabled: tools/setup.sh), build latflow, and run the
# pipeline on the built-in quickstart config (or on the config and options given).
# Usage: bash tools/run.sh [CONFIG] [latflow run options...]
# Output goes to runs/quickstart-<date>-<time>/ unless --output is given.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
args=("$@")
case " $* " in
  *" --output "*|*" -o "*) ;;
  *) args+=(--output "$root/runs/quickstart-$(date +%Y%m%d-%H%M%S)") ;;
esac
exec "$root/build/bin/latflow" run "${args[@]}"
