#!/usr/bin/env bash
# tools/coverage_imh.sh: are the IMH error bars of a weak flow honest?
#
# Trains one deliberately weak model at the quickstart point (phi^4 8x8, m2 = -4,
# lambda = 8; 8 coupling layers, 400 training steps: IMH acceptance of a few per cent and
# long rejection runs), draws NRUN independent IMH ensembles of PROPOSALS proposals with
# different seeds, analyses each with `latflow analyze --json`, and prints for phi2 and
# chi2 the chi^2 per degree of freedom of the run means about their pooled
# (inverse-variance weighted) mean, NRUN - 1 degrees of freedom, for
#   new : the reported error (max of the Gamma-method and the binned error)
#   old : the Gamma-method error alone (error_gamma; the estimator before issue 12)
# With honest errors chi^2/dof scatters about 1 (sd sqrt(2/15) = 0.37 for 16 runs).
#
# usage: tools/coverage_imh.sh [WORKDIR]    (default /tmp/coverage_imh)
# env:   LATFLOW (binary, default build/bin/latflow), NRUN (16), PROPOSALS (1000000),
#        FIRST_SEED (101), ANALYZE_OPTS (extra options for analyze, e.g. "--stau 3"),
#        LAYERS (8) and STEPS (400): the model (LAYERS=16 STEPS=3000 is the quickstart's).
# Stages that are done already (model.h5, run_S/ensemble.h5, run_S.json) are skipped, so
# an interrupted measurement continues where it stopped. Runtime on one core: training
# ~1 min, each run of 10^6 proposals a few minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lf=${LATFLOW:-$here/build/bin/latflow}
work=${1:-/tmp/coverage_imh}
nrun=${NRUN:-16}
props=${PROPOSALS:-1000000}
seed0=${FIRST_SEED:-101}
card=$here/configs/quickstart.yaml
layers=${LAYERS:-8}
steps=${STEPS:-400}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$work"
cd "$work"
if [ ! -f weak/model.h5 ]; then
  echo "training the weak model -> $work/weak"
  "$lf" train "$card" --set model.layers="$layers" --set train.stop.steps="$steps" \
    --set output="$work/weak" \
    --force > weak.train.log 2>&1
fi
for i in $(seq 0 $((nrun - 1))); do
  s=$((seed0 + i))
  if [ ! -f "run_$s/ensemble.h5" ]; then
    echo "sampling seed $s ($props proposals)"
    "$lf" sample "$card" --model "$work/weak/model.h5" --set model.layers="$layers" --set seed=$s \
      --set sample.proposals="$props" --set sample.save=none --set output="$work/run_$s" \
      --force > "run_$s.log" 2>&1
  fi
  # shellcheck disable=SC2086
  "$lf" analyze "run_$s/ensemble.h5" --json ${ANALYZE_OPTS:-} > "run_$s.json"
done
/usr/bin/python3 - "$nrun" "$seed0" <<'EOF'
import json, sys
nrun, seed0 = int(sys.argv[1]), int(sys.argv[2])
runs = [json.load(open(f"run_{seed0 + i}.json")) for i in range(nrun)]
acc = [r["acceptance"] for r in runs]
print(f"{nrun} IMH runs of {runs[0]['n']} proposals: acceptance {min(acc):.4f}..{max(acc):.4f}, "
      f"longest rejection run {max(r['max_rejection_run'] for r in runs)}")
ks = [r.get("pareto_k") for r in runs if r.get("pareto_k") is not None]
if ks:
    print(f"Pareto k of the weights {min(ks):.2f}..{max(ks):.2f}; runs with ensemble warnings: "
          f"{sum(1 for r in runs if r.get('warnings'))}/{nrun}")
for name in ("phi2", "chi2"):
    obs = [r["observables"][name] for r in runs]
    m = [o["mean"] for o in obs]
    for label, key in (("new", "error"), ("old", "error_gamma")):
        e = [o.get(key, o["error"]) for o in obs]
        w = [1 / x ** 2 for x in e]
        pooled = sum(wi * mi for wi, mi in zip(w, m)) / sum(w)
        z = [(mi - pooled) / ei for mi, ei in zip(m, e)]
        chi2 = sum(zi * zi for zi in z) / (nrun - 1)
        print(f"{name:5s} {label}: pooled {pooled:.6f}, chi2/dof = {chi2:.2f} ({nrun - 1} dof), "
              f"max |z| = {max(abs(zi) for zi in z):.2f}, errors {min(e):.2e}..{max(e):.2e}")
    used = sum(1 for o in obs if o.get("error_method") == "bins")
    tg = [o.get("tau_int_gamma", o["tau_int"]) for o in obs]
    tr = [o["tau_int"] for o in obs]
    print(f"{name:5s} binned error used in {used}/{nrun} runs; tau_int (Gamma) "
          f"{min(tg):.0f}..{max(tg):.0f}, reported {min(tr):.0f}..{max(tr):.0f}; runs with "
          f"warnings: {sum(1 for o in obs if o.get('warnings'))}")
EOF
