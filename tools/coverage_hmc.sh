#!/usr/bin/env bash
# tools/coverage_hmc.sh: are the HMC error bars at the free field honest?
#
# Runs NRUN independent HMC chains (seeds FIRST_SEED, FIRST_SEED + 1, ...) of phi^4 LxL at
# lambda = 0, m2 = M2 with the documented defaults (tau 1, 10 leapfrog steps), for every
# trajectory-length distribution in DISTS (hmc.tau_dist), analyses each with
# `latflow analyze --json` and prints, for phi2, chi2 and energy,
#   exact : chi^2/dof of z = (mean - exact) / error, NRUN dof, against the momentum sums
#           (latflow/exact.h; computed here in Python)
#   spread: chi^2/dof about the pooled (inverse-variance weighted) mean, NRUN - 1 dof, and
#           sd(means) / rms(error), the factor by which the errors are too small
# for the reported error and, when analyze reports it, for the Gamma-method error alone
# (error_gamma). With honest errors chi^2/dof scatters about 1 (sd sqrt(2/24) = 0.29 for
# 24 runs). With hmc.tau_dist fixed, tau 1 resonates with the free-field modes of
# omega tau ~ pi (docs/PHYSICS.md, HMC), and the Gamma-method errors of phi2 come out
# 2-2.6x too small (issue 12).
#
# usage: tools/coverage_hmc.sh [WORKDIR]    (default /tmp/coverage_hmc)
# env:   LATFLOW (binary, default build/bin/latflow), NRUN (24), TRAJ (200000 per chain),
#        FIRST_SEED (1), L (8), M2 (1.0), DISTS ("fixed uniform"), JOBS (chains run at
#        once, default 1), ANALYZE_OPTS (extra options for analyze).
# Chains already run (DIST/run_S/hmc.h5) are kept, so an interrupted measurement continues
# where it stopped; delete WORKDIR to start over (always after changing the binary's HMC).
# Runtime: 2x10^5 trajectories of 8x8 take about 4 s in Release, so 2 x 24 chains ~ 3 min
# on one core.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lf=${LATFLOW:-$here/build/bin/latflow}
work=${1:-/tmp/coverage_hmc}
nrun=${NRUN:-24}
traj=${TRAJ:-200000}
seed0=${FIRST_SEED:-1}
L=${L:-8}
m2=${M2:-1.0}
dists=${DISTS:-fixed uniform}
jobs=${JOBS:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$work"
cd "$work"
cat > free.yaml <<YAML
theory: {name: phi4, shape: [$L, $L], m2: $m2, lambda: 0.0}
sample: {save: none}
hmc: {tau: 1.0, steps: 10, integrator: leapfrog, therm: 200}
YAML
# chain DIST SEED: one chain and its analysis (skipped when done)
chain() {
  local d=$1 s=$2
  if [ ! -f "$d/run_$s/hmc.h5" ]; then
    "$lf" hmc free.yaml --set seed="$s" --set hmc.trajectories="$traj" --set hmc.tau_dist="$d" \
      --set output="$work/$d/run_$s" --force --json > "$d/run_$s.hmc.json" 2> "$d/run_$s.log"
  fi
  # shellcheck disable=SC2086
  "$lf" analyze "$d/run_$s/hmc.h5" --json ${ANALYZE_OPTS:-} > "$d/run_$s.json" 2>> "$d/run_$s.log"
}
for d in $dists; do
  mkdir -p "$d"
  echo "hmc.tau_dist $d: $nrun chains of $traj trajectories -> $work/$d"
  for i in $(seq 0 $((nrun - 1))); do
    chain "$d" $((seed0 + i)) &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  done
  wait
done
/usr/bin/python3 - "$nrun" "$seed0" "$L" "$m2" $dists <<'EOF'
import json, math, sys
nrun, seed0, L, m2 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
dists = sys.argv[5:]
# the free field (latflow/exact.h): S = phi^T (-Laplacian + m2) phi, covariance A^-1 / 2
phi2 = energy = 0.0
for n0 in range(L):
    for n1 in range(L):
        p0, p1 = 2 * math.pi * n0 / L, 2 * math.pi * n1 / L
        prop = 1 / (2 * (4 * math.sin(p0 / 2) ** 2 + 4 * math.sin(p1 / 2) ** 2 + m2))
        phi2 += prop
        energy += (math.cos(p0) + math.cos(p1)) * prop
V = L * L
exact = {"phi2": phi2 / V, "chi2": 1 / (2 * m2), "energy": energy / (2 * V)}
print(f"phi4 {L}x{L}, m2 = {m2}, lambda = 0, tau 1, 10 leapfrog steps; exact phi2 "
      f"{exact['phi2']:.6f}, chi2 {exact['chi2']:.6f}, energy {exact['energy']:.6f}")
for d in dists:
    runs = [json.load(open(f"{d}/run_{seed0 + i}.json")) for i in range(nrun)]
    hm = [json.load(open(f"{d}/run_{seed0 + i}.hmc.json")) for i in range(nrun)]
    acc = [r["acceptance"] for r in runs]
    steps = [h.get("mean_steps", float("nan")) for h in hm]
    print(f"\nhmc.tau_dist {d}: {nrun} chains of {runs[0]['n']} trajectories, acceptance "
          f"{min(acc):.4f}..{max(acc):.4f}, mean steps {min(steps):.3f}..{max(steps):.3f}, "
          f"chains with warnings: {sum(1 for h in hm if h.get('warnings'))}")
    for name in ("phi2", "chi2", "energy"):
        obs = [r["observables"][name] for r in runs]
        m = [o["mean"] for o in obs]
        keys = [("reported", "error")]
        if any("error_gamma" in o for o in obs):
            keys.append(("gamma", "error_gamma"))
        for label, key in keys:
            e = [o.get(key, o["error"]) for o in obs]
            if any(x is None or not x > 0 for x in e):
                print(f"  {name:6s} {label:8s}: some errors are null or 0; skipped")
                continue
            z = [(mi - exact[name]) / ei for mi, ei in zip(m, e)]
            cx = sum(zi * zi for zi in z) / nrun
            w = [1 / x ** 2 for x in e]
            pooled = sum(wi * mi for wi, mi in zip(w, m)) / sum(w)
            cs = sum(((mi - pooled) / ei) ** 2 for mi, ei in zip(m, e)) / (nrun - 1)
            mean = sum(m) / nrun
            sd = math.sqrt(sum((mi - mean) ** 2 for mi in m) / (nrun - 1))
            rms = math.sqrt(sum(x * x for x in e) / nrun)
            print(f"  {name:6s} {label:8s}: exact chi2/dof = {cx:5.2f} ({nrun} dof), max |z| = "
                  f"{max(abs(zi) for zi in z):4.1f}; spread chi2/dof = {cs:5.2f} ({nrun - 1} dof),"
                  f" sd(means)/rms(error) = {sd / rms:4.2f}")
        tau = [o["tau_int"] for o in obs]
        print(f"  {name:6s} tau_int {min(tau):.2f}..{max(tau):.2f}, error "
              f"{min(o['error'] for o in obs):.2e}..{max(o['error'] for o in obs):.2e}")
EOF
