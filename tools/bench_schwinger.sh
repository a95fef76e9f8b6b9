#!/usr/bin/env bash
# RT vs REINFORCE on the Schwinger model (beta 2, kappa 0.276; Bialas, Korcyl, Stebel,
# arXiv 2308.13294): for L = 8, 12, 16 (24, 32 on request), precision single and double,
# estimators rt and re, one process at a time, 1 thread:
#   1. latflow bench --train-only --estimator E: time per training step and its split
#      (forward / action / backward / other), CPU seconds per step, peak RSS of a process
#      that built and trained only that estimator at that precision;
#   2. latflow train with train.stop.steps = N = floor(BUDGET / CPU seconds per step of
#      step 1), i.e. a training budget in CPU seconds of the training process (robust to
#      other processes on the machine, unlike wall time), then the ESS and IMH
#      acceptance on EVAL fresh samples; wall and CPU (user + sys) time of the process
#      from /usr/bin/time.
# Prints a Markdown table (docs/PERFORMANCE.md, "Schwinger model: RT vs REINFORCE") and
# keeps every JSON and log in OUT. Not part of CI.
# usage: bash tools/bench_schwinger.sh [BUDGET_CPU_S] [BENCH_SECONDS] [EVAL]  (120 3 1024)
#   LATFLOW_BIN=path/to/latflow (default build/bin/latflow), OUT=dir (default mktemp -d),
#   LS="8 12 16", PRECS="single double", ESTS="rt re" to run a part of the table,
#   LOGDET=dense|sparse|auto: --set theory.logdet=LOGDET on every run (default: the card's,
#   auto); one method per OUT, so compare two runs with different OUT,
#   TABLE_ONLY=1 OUT=dir to print the table of an earlier run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
budget=${1:-120}; secs=${2:-3}; neval=${3:-1024}
lf=${LATFLOW_BIN:-$root/build/bin/latflow}
out=${OUT:-$(mktemp -d)}
Ls=${LS:-"8 12 16"}; precs=${PRECS:-"single double"}; ests=${ESTS:-"rt re"}
logdet=${LOGDET:-}
extra=()
[ -n "$logdet" ] && extra=(--set theory.logdet="$logdet")
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$out"
[ -n "${TABLE_ONLY:-}" ] && Ls_run="" || Ls_run=$Ls
jget() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
for L in $Ls_run; do
  card=$root/configs/bench/schwinger-L$L.yaml
  for prec in $precs; do
    for est in $ests; do
      tag=L$L-$prec-$est
      /usr/bin/time -f '%e %U %S %M' -o "$out/$tag.bench.time" \
        "$lf" bench "$card" --train-only --estimator "$est" --seconds "$secs" --json \
        --set model.precision="$prec" "${extra[@]}" >"$out/$tag.bench.json" 2>"$out/$tag.bench.log"
      cpu=$(jget "$out/$tag.bench.json" "d['train'][0]['cpu_step_s']")
      n=$(/usr/bin/python3 -c "import sys; print(max(1, int(float(sys.argv[1]) / float(sys.argv[2]))))" "$budget" "$cpu")
      echo "$tag: $cpu CPU s/step -> $n steps for $budget CPU s" >&2
      /usr/bin/time -f '%e %U %S %M' -o "$out/$tag.train.time" \
        "$lf" train "$card" --json --force --output "$out/$tag" \
        --set train.estimator="$est" --set model.precision="$prec" \
        --set train.stop.steps="$n" --set train.eval_samples="$neval" \
        --set train.checkpoint_every=0 "${extra[@]}" >"$out/$tag.train.json" 2>"$out/$tag.train.log"
    done
  done
done
/usr/bin/python3 - "$out" "$budget" "$neval" "$Ls" "$precs" "$ests" "${logdet:-auto}" <<'PY'
import json, os, sys, subprocess
out, budget, neval = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
Ls, precs, ests = sys.argv[4].split(), sys.argv[5].split(), sys.argv[6].split()
logdet = sys.argv[7]
def load(tag, kind):
    p = f"{out}/{tag}.{kind}.json"
    return json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else None
def tim(tag, kind):  # wall, user, sys, maxrss_kb
    w, u, s, m = open(f"{out}/{tag}.{kind}.time").read().split()[-4:]
    return float(w), float(u) + float(s), float(m)
cpu = subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2", shell=True,
                     capture_output=True, text=True).stdout.strip()
print(f"machine: {cpu}; theory.logdet {logdet}; budget {budget:g} CPU s of training per run; ESS and IMH "
      f"acceptance on {neval} fresh samples; times in ms per step (wall, bench)\n")
print("| L | prec | est | step ms | forward | action (S + dS) | backward | other | CPU ms/step "
      "| peak RSS MB | steps (skipped) | train wall s | train CPU s | ESS | IMH acc | <log q + S> |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
rows = {}
for L in Ls:
    for prec in precs:
        for est in ests:
            tag = f"L{L}-{prec}-{est}"
            b, t = load(tag, "bench"), load(tag, "train")
            if not b or not t:
                print(f"| {L} | {prec} | {est} | (failed: see {out}/{tag}.*.log) |")
                continue
            s = b["train"][0]
            tw, tc, _ = tim(tag, "train")
            ms = lambda x: f"{1e3 * x:.4g}"
            ess = t.get("ess_eval"); acc = t.get("acceptance")
            rows[(L, prec, est)] = (s, t, tc)
            print(f"| {L} | {prec} | {est} | {ms(s['step_s'])} | {ms(s['forward_s'])} "
                  f"| {ms(s['action_s'])} ({ms(s['action_eval_s'])} + {ms(s['action_grad_s'])}) "
                  f"| {ms(s['backward_s'])} | {ms(s['other_s'])} | {ms(s['cpu_step_s'])} "
                  f"| {s['peak_rss_mb']:.1f} | {t['steps']:.0f} ({t['skipped_steps']:.0f}) | {tw:.1f} | {tc:.1f} "
                  f"| {ess if ess is None else f'{ess:.4f}'} "
                  f"| {acc if acc is None else f'{acc:.3f}'} "
                  f"| {t.get('eval_loss', float('nan')):.2f} |")
if "rt" in ests and "re" in ests:
    print("\n| L | prec | RE/RT speed-up per step (wall) | per step (CPU) | steps RE/RT in the budget "
          "| ESS RE / RT | acceptance RE / RT | <log q + S> RE - RT | peak RSS RE/RT |")
    print("|---|---|---|---|---|---|---|---|---|")
    for L in Ls:
        for prec in precs:
            if (L, prec, "rt") not in rows or (L, prec, "re") not in rows: continue
            (a, ta, _), (e, te, _) = rows[(L, prec, "rt")], rows[(L, prec, "re")]
            print(f"| {L} | {prec} | {a['step_s'] / e['step_s']:.2f} "
                  f"| {a['cpu_step_s'] / e['cpu_step_s']:.2f} | {te['steps'] / ta['steps']:.2f} "
                  f"| {te.get('ess_eval') or 0:.4f} / {ta.get('ess_eval') or 0:.4f} "
                  f"| {te.get('acceptance') or 0:.3f} / {ta.get('acceptance') or 0:.3f} "
                  f"| {te.get('eval_loss', float('nan')) - ta.get('eval_loss', float('nan')):+.2f} "
                  f"| {e['peak_rss_mb'] / a['peak_rss_mb']:.3f} |")
print(f"\nraw JSON, logs and metrics: {out}", flush=True)
PY
