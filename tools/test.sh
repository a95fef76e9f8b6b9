#!/usr/bin/env bash
# Builds latflow twice and runs the test suite: a Release build with -Werror (all tests),
# then an ASan+UBSan build (unit tests). Installs the test-only packages first (tools/setup.sh
# --test: SLURM, munge, h5py, HDF5 tools; no service left enabled).
# Usage: bash tools/test.sh [ctest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/setup.sh" --test   # the main job's packages and the test-only ones
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DLATFLOW_WERROR=ON >/dev/null
cmake --build "$root/build" -j "$jobs"
(cd "$root/build" && ctest --output-on-failure -j "$jobs" "$@")

# Sanitizers: leak checking off for MPI/HDF5 internals; unit tests, then the fault corpora
# (corrupt files, hostile cards: label asan) through the sanitized binary.
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DLATFLOW_WERROR=ON \
      -DLATFLOW_SANITIZE=ON >/dev/null
cmake --build "$root/build-asan" -j "$jobs"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs" -L unit -LE slow "$@" &&
   ctest --output-on-failure -j "$jobs" -L asan "$@")
