#!/usr/bin/env bash
# Benchmarks latflow against the PyTorch reference (../shared/bench/torch_phi4.py) in one
# run on one machine: the two alternate, REPS times per card, 1 thread each, and the
# medians and their ratios are printed as a Markdown table (docs/PERFORMANCE.md).
# Not part of CI. Needs: apt-get install python3-torch (run with /usr/bin/python3).
# usage: bash tools/bench.sh [REPS] [SECONDS]      (defaults 5 and 3)
#        LATFLOW_BIN=path/to/latflow bash tools/bench.sh ...   (default: build/bin/latflow)
#        ISA=avx2 bash tools/bench.sh ...   both sides at one SIMD level: latflow --isa avx2
#          (kernels and FMA probe), PyTorch with ATEN_CPU_CAPABILITY=avx2 and
#          ONEDNN_MAX_CPU_ISA=AVX2; ISA=avx512 likewise; default: each its best
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}; secs=${2:-3}
ref=${LATFLOW_TORCH_REF:-$root/../shared/bench/torch_phi4.py}
lf=${LATFLOW_BIN:-$root/build/bin/latflow}   # LATFLOW_BIN: another build's binary
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000   # the reference's best settings
isa=${ISA:-}
lfisa=(); ptenv=()
case "$isa" in
  "") ;;
  avx2) lfisa=(--isa avx2); ptenv=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
  avx512) lfisa=(--isa avx512); ptenv=(ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE) ;;
  *) echo "bench.sh: ISA must be avx2 or avx512, got '$isa'" >&2; exit 2 ;;
esac
out=$(mktemp -d)
cards=("phi4-L8-b64.yaml:8:64" "phi4-L16-b1024.yaml:16:1024")
for r in $(seq 1 "$reps"); do
  for c in "${cards[@]}"; do
    IFS=: read -r card L B <<<"$c"
    "$lf" bench "$root/configs/bench/$card" --json --seconds "$secs" "${lfisa[@]}" 2>/dev/null \
      >"$out/lf-$L-$r.json"
    env "${ptenv[@]}" /usr/bin/python3 "$ref" --L "$L" --batch "$B" --threads 1 --seconds "$secs" >"$out/pt-$L-$r.json"
    echo "rep $r L=$L done" >&2
  done
done
[ -n "$isa" ] && env "${ptenv[@]}" /usr/bin/python3 -c \
  'import torch; print("PyTorch:", [l.strip() for l in torch.__config__.show().splitlines() if "capability" in l])' >&2
/usr/bin/python3 - "$out" "$reps" <<'PY'
import json, statistics as st, sys, platform, subprocess
d, reps = sys.argv[1], int(sys.argv[2])
def load(kind, L): return [json.load(open(f"{d}/{kind}-{L}-{r}.json")) for r in range(1, reps + 1)]
cpu = subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2", shell=True,
                     capture_output=True, text=True).stdout.strip()
print(f"machine: {cpu}, {platform.node()}; {reps} alternating repetitions; medians; "
      f"latflow isa {json.load(open(f'{d}/lf-8-1.json')).get('isa', '?')}\n")
print("| L | batch | quantity | latflow | PyTorch | ratio |")
print("|---|---|---|---|---|---|")
for L in (8, 16):
    lf, pt = load("lf", L), load("pt", L)
    for key in ("train_steps_per_s", "proposals_per_s", "peak_rss_mb"):
        a = st.median(x[key] for x in lf); b = st.median(x[key] for x in pt)
        print(f"| {L} | {lf[0]['batch']} | {key} | {a:.4g} | {b:.4g} | {a / b:.2f} |")
    eff = st.median(x["flop_efficiency"] for x in lf)
    gf = st.median(x["forward_gflops"] for x in lf)
    pk = st.median(x["fma_peak_gflops"] for x in lf)
    e2 = st.median(x["flop_efficiency_avx2"] for x in lf)
    bw = st.median(x["train"][0].get("backward_gflops", 0) for x in lf)
    print(f"| {L} | {lf[0]['batch']} | training backward GFLOP/s | {bw:.1f} = {100 * bw / pk:.1f}% "
          f"of peak | | |")
    print(f"| {L} | {lf[0]['block']} | forward GFLOP/s (FMA peak {pk:.0f}, {lf[0]['fma_isa']}) "
          f"| {gf:.1f} = {100 * eff:.1f}% of peak ({100 * e2:.1f}% of AVX2 peak) | | |")
PY
rm -rf "$out"
