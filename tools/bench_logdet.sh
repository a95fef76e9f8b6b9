#!/usr/bin/env bash
# Dense against sparse fermion determinant (theory.logdet) for RT and REINFORCE training
# steps on the Schwinger model cards configs/bench/schwinger-L$L.yaml (beta 2, kappa 0.276,
# 16 gauge-equivariant spline layers, batch 64, single-precision network): for every L,
# estimator and method one `latflow bench --train-only` process (1 thread), dense and
# sparse adjacent in time so that their ratio is measured under the same load. Prints a
# Markdown table (docs/PERFORMANCE.md, "The sparse determinant") and keeps every JSON in
# OUT. Not part of CI.
# usage: bash tools/bench_logdet.sh [BENCH_SECONDS]       (default 3)
#   LATFLOW_BIN=path/to/latflow, OUT=dir (default mktemp -d), LS="8 12 16 24 32",
#   ESTS="re rt", METHODS="dense sparse", REPS=1 (passes; the table shows the median),
#   EXTRA="--set model.layers=8" (more options for every bench), TABLE_ONLY=1 OUT=dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-3}
lf=${LATFLOW_BIN:-$root/build/bin/latflow}
out=${OUT:-$(mktemp -d)}
Ls=${LS:-"8 12 16 24 32"}; ests=${ESTS:-"re rt"}; methods=${METHODS:-"dense sparse"}
reps=${REPS:-1}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$out"
if [ -z "${TABLE_ONLY:-}" ]; then
  for r in $(seq 1 "$reps"); do
    for L in $Ls; do
      for est in $ests; do
        for m in $methods; do
          tag=L$L-$est-$m-r$r
          # shellcheck disable=SC2086
          "$lf" bench "$root/configs/bench/schwinger-L$L.yaml" --train-only --estimator "$est" \
            --seconds "$secs" --json --set theory.logdet="$m" ${EXTRA:-} \
            >"$out/$tag.json" 2>"$out/$tag.log" || { echo "bench_logdet: $tag failed (see $out/$tag.log)" >&2; exit 1; }
          echo "$tag: $(/usr/bin/python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['train'][0]; print('%.4g s/step' % t['step_s'])" "$out/$tag.json")" >&2
        done
      done
    done
  done
fi
/usr/bin/python3 - "$out" "$Ls" "$ests" "$methods" "$reps" <<'PY'
import json, os, statistics, subprocess, sys
out, Ls, ests, methods, reps = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5])
cpu = subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2", shell=True,
                     capture_output=True, text=True).stdout.strip()
def get(L, est, m):
    rows = []
    for r in range(1, reps + 1):
        p = f"{out}/L{L}-{est}-{m}-r{r}.json"
        if os.path.exists(p) and os.path.getsize(p):
            rows.append(json.load(open(p))["train"][0])
    if not rows:
        return None
    return {k: statistics.median(x[k] for x in rows) for k in rows[0] if isinstance(rows[0][k], (int, float))}
print(f"machine: {cpu}; ms per training step (batch 64), median of {reps} pass(es)\n")
print("| L | est | logdet | step ms | S ms | dS ms | flow ms (fwd + bwd) | CPU ms/step | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|")
for L in Ls:
    for est in ests:
        for m in methods:
            t = get(L, est, m)
            if not t:
                continue
            print(f"| {L} | {est} | {m} | {1e3*t['step_s']:.4g} | {1e3*t['action_eval_s']:.4g} | "
                  f"{1e3*t['action_grad_s']:.4g} | {1e3*(t['forward_s']+t['backward_s']):.4g} | "
                  f"{1e3*t['cpu_step_s']:.4g} | {t['peak_rss_mb']:.1f} |")
print("\n| L | speed-up of sparse, re | speed-up of sparse, rt | speed-up of re over rt, dense | speed-up of re over rt, sparse | peak RSS re/rt, dense | peak RSS re/rt, sparse |")
print("|---|---|---|---|---|---|---|")
def ratio(a, b, k="step_s"):
    return f"{a[k]/b[k]:.3g}" if a and b else "-"
for L in Ls:
    g = {(e, m): get(L, e, m) for e in ests for m in methods}
    print(f"| {L} | {ratio(g.get(('re','dense')), g.get(('re','sparse')))} | "
          f"{ratio(g.get(('rt','dense')), g.get(('rt','sparse')))} | "
          f"{ratio(g.get(('rt','dense')), g.get(('re','dense')))} | "
          f"{ratio(g.get(('rt','sparse')), g.get(('re','sparse')))} | "
          f"{ratio(g.get(('re','dense')), g.get(('rt','dense')), 'peak_rss_mb')} | "
          f"{ratio(g.get(('re','sparse')), g.get(('rt','sparse')), 'peak_rss_mb')} |")
PY
