#!/usr/bin/env bash
# tools/golden.sh: the bitwise guard of refactors ("behaviour unchanged").
#
#   tools/golden.sh record  DIR [LATFLOW]   run the fixed set of runs into DIR/ref
#   tools/golden.sh compare DIR [LATFLOW]   run them again into DIR/new and compare every
#                                           file with DIR/ref (tools/golden_compare.py)
#
# The set: phi4 trained with rt and re in single and double precision (rt also on 2
# ranks), u1 (rt), the
# Schwinger model with rt and re, flow sampling on 1 and 3 ranks, hmc on 1 and 2 ranks
# (phi4; the Schwinger model with pseudofermions on 1 rank), and a merge of two ensembles.
# Every run is small (about two minutes in all on two cores). The comparison demands every
# dataset and attribute bitwise equal, except the few that record wall time, the host, the
# build or absolute paths (listed in golden_compare.py), and reports each difference.
# Record with the build before a refactor, compare with the build after it.
# Exit: 0 equal, 1 a run failed or a file differs, 2 bad usage.
set -u
usage() { echo "usage: tools/golden.sh record|compare DIR [LATFLOW]" >&2; exit 2; }
[ $# -ge 2 ] || usage
mode=$1
case "$mode" in record | compare) ;; *) usage ;; esac
here=$(cd "$(dirname "$0")" && pwd)
lf=${3:-$here/../build/bin/latflow}
[ -x "$lf" ] || { echo "golden: no latflow at $lf (build first, or pass LATFLOW)" >&2; exit 2; }
lf=$(cd "$(dirname "$lf")" && pwd)/$(basename "$lf")
merge=$(dirname "$lf")/latflow-merge
mkdir -p "$2" || exit 2
top=$(cd "$2" && pwd)
out=$top/ref
[ "$mode" = compare ] && out=$top/new
[ "$mode" = compare ] && [ ! -d "$top/ref" ] && { echo "golden: no $top/ref: record first" >&2; exit 2; }
rm -rf "$out"; mkdir -p "$out" && cd "$out" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export SOURCE_DATE_EPOCH=1700000000 LATFLOW_MEM_CHECK=0
unset LATFLOW_TEST_INTERRUPT LATFLOW_FAULT
mpi() { local n=$1; shift; mpiexec -n "$n" --oversubscribe "$@"; }
failed=0
run() { # NAME CMD...: CMD's output to NAME.log
  local name=$1; shift
  if "$@" > "$name.log" 2>&1; then echo "ran  $name"
  else echo "FAIL $name (exit $?): $(tail -1 "$name.log")"; failed=1; fi
}

cat > phi4.yaml <<'YAML'
seed: 21
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [8], kernel: 3}
train: {batch: 64, stop: {steps: 60}, eval_samples: 256, eval_every: 30, checkpoint_every: 30}
sample: {proposals: 4096, block: 64, epoch: 2, checkpoint_every: 1024, save: all}
hmc: {trajectories: 300, therm: 20, tau: 1.0, steps: 8, checkpoint_every: 100}
YAML
cat > u1.yaml <<'YAML'
seed: 22
theory: {name: u1, shape: [4, 4], beta: 2.0}
model: {layers: 4, hidden: [8], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 128, eval_every: 20, checkpoint_every: 20}
sample: {proposals: 1024, block: 32, save: all, checkpoint_every: 512}
YAML
cat > schwinger.yaml <<'YAML'
seed: 23
theory: {name: schwinger, shape: [4, 4], beta: 2.0, kappa: 0.2}
model: {layers: 4, hidden: [8], kernel: 3}
train: {batch: 16, stop: {steps: 20}, eval_samples: 64, eval_every: 10, checkpoint_every: 10}
sample: {proposals: 512, block: 16, save: all, checkpoint_every: 256}
hmc: {trajectories: 60, therm: 5, tau: 1.0, steps: 8, checkpoint_every: 20, fermion: pseudofermion}
YAML

run phi4_rt_single "$lf" train phi4.yaml --output phi4_rt_single
run phi4_rt_double "$lf" train phi4.yaml --output phi4_rt_double --set model.precision=double
run phi4_re_single "$lf" train phi4.yaml --output phi4_re_single --set train.estimator=re
run phi4_re_double "$lf" train phi4.yaml --output phi4_re_double --set train.estimator=re --set model.precision=double
run phi4_rt_np2 mpi 2 "$lf" train phi4.yaml --output phi4_rt_np2 --set train.ranks=2
run u1_rt "$lf" train u1.yaml --output u1_rt
run schwinger_rt "$lf" train schwinger.yaml --output schwinger_rt
run schwinger_re "$lf" train schwinger.yaml --output schwinger_re --set train.estimator=re
run sample_np1 "$lf" sample phi4.yaml --model phi4_rt_single/model.h5 --output sample_np1
run sample_np3 mpi 3 "$lf" sample phi4.yaml --model phi4_rt_single/model.h5 --output sample_np3 --set seed=24
run sample_u1 "$lf" sample u1.yaml --model u1_rt/model.h5 --output sample_u1
run sample_schwinger "$lf" sample schwinger.yaml --model schwinger_rt/model.h5 --output sample_schwinger
run hmc_np1 "$lf" hmc phi4.yaml --output hmc_np1
run hmc_np2 mpi 2 "$lf" hmc phi4.yaml --output hmc_np2
run hmc_schwinger "$lf" hmc schwinger.yaml --output hmc_schwinger
run merge "$merge" merged.h5 sample_np1/ensemble.h5 sample_np3/ensemble.h5
run analyze "$lf" analyze --json sample_np1/ensemble.h5
[ -s analyze.log ] && grep -v '^\[r' analyze.log > analyze.json
rm -f analyze.log
[ $failed = 0 ] || { echo "golden: a run failed"; exit 1; }
if [ "$mode" = record ]; then echo "golden: recorded in $out"; exit 0; fi
# Debian's python3 has python3-h5py (tools/setup.sh --test); another python3 first on PATH may not
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" "$here/golden_compare.py" "$top/ref" "$out"
