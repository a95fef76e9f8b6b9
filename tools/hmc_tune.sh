#!/usr/bin/env bash
# The fair HMC baseline: scans the trajectory length hmc.tau, the step size eps (hmc.steps =
# round(tau/eps)) and hmc.integrator of `latflow hmc CARD`, one run of TRAJ trajectories per
# point (1 rank, its own output folder in OUT), analyses each (`latflow analyze --json`) and
# prints a Markdown table: integrator, tau, steps, eps, acceptance, tau_int of Q (topo) and of
# chi_t in trajectories (Gamma method, +- its error), N/tau_int(Q), ms per trajectory, effective
# samples per second of Q and of chi_t, and the analysis warnings. Then it picks the point with
# the most effective samples per second of OBS among the runs whose chain is at least MIN_NTAU
# tau_int(OBS) long (near freezing a shorter chain underestimates tau_int, so a short run would
# win by its bias; with none long enough it picks among all and says so), prints as the last
# line `best: --set hmc.integrator=.. --set hmc.tau=.. --set hmc.steps=..` and writes
# OUT/best.json. Not part of CI (tests/integration/tools_hmc_tune.sh is its smoke test).
#   Cost: seconds per trajectory = gen_seconds / (hmc.therm + TRAJ) of the run (generation
# counts thermalization too); eff/s = N / (2 tau_int) / (TRAJ x that), i.e. production
# trajectories only. The runs set sample.save=none and no periodic checkpoints
# (hmc.checkpoint_every=0, hmc.checkpoint_seconds=0), which changes no result bit.
# usage: bash tools/hmc_tune.sh CARD [--set key=value ...]     (the --set go to every run)
#   LATFLOW_BIN=path/to/latflow, OUT=dir (default mktemp -d), TAUS="0.5 1 2 4 8",
#   EPS="0.05 0.1 0.2", INTEGRATORS="leapfrog omelyan", TRAJ (default the card's
#   hmc.trajectories), OBS=topo|chi_t (default topo), MIN_NTAU=100,
#   TABLE_ONLY=1 OUT=dir (the table and the pick from the runs already in OUT).
# A run with no accepted trajectory (an unstable step size) is a row without tau_int
# ("no trajectory accepted"), never the pick.
# Exit 1 with a message naming the run and its log when a run or an analysis fails; 2 on
# bad usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lf=${LATFLOW_BIN:-$root/build/bin/latflow}
py=/usr/bin/python3
if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: bash tools/hmc_tune.sh CARD [--set key=value ...]" >&2; exit 2
fi
card=$1; shift
[ -r "$card" ] || { echo "hmc_tune: cannot read card '$card'" >&2; exit 2; }
taus=${TAUS:-"0.5 1 2 4 8"}; epss=${EPS:-"0.05 0.1 0.2"}
ints=${INTEGRATORS:-"leapfrog omelyan"}; obs=${OBS:-topo}; min_ntau=${MIN_NTAU:-100}
case "$obs" in topo|chi_t) ;; *) echo "hmc_tune: OBS must be topo or chi_t, not '$obs'" >&2; exit 2;; esac
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cfg=$("$lf" config "$card" "$@" --json) || { echo "hmc_tune: 'latflow config $card $*' failed" >&2; exit 2; }
read -r card_traj therm < <(echo "$cfg" | $py -c \
  "import json,sys; h=json.load(sys.stdin)['config']['hmc']; print(h['trajectories'], h['therm'])")
traj=${TRAJ:-$card_traj}
tags=()
[ -n "${TABLE_ONLY:-}" ] && ints=""   # the table from the runs already in OUT (OUT/runs.txt)
for integ in $ints; do
  for tau in $taus; do
    for eps in $epss; do
      steps=$(awk -v t="$tau" -v e="$eps" 'BEGIN { s = int(t / e + 0.5); if (s < 1) s = 1; print s }')
      tag=$integ-tau$tau-eps$eps
      tags+=("$tag|$integ|$tau|$steps|$eps")
      "$lf" hmc "$card" "$@" -q --force --json --output "$out/$tag" \
        --set hmc.integrator="$integ" --set hmc.tau="$tau" --set hmc.steps="$steps" \
        --set hmc.trajectories="$traj" --set sample.save=none \
        --set hmc.checkpoint_every=0 --set hmc.checkpoint_seconds=0 \
        >"$out/$tag.hmc.json" 2>"$out/$tag.log" ||
        { echo "hmc_tune: run $tag failed (latflow hmc exit $?; see $out/$tag.log)" >&2; exit 1; }
      "$lf" analyze "$out/$tag/hmc.h5" --json >"$out/$tag.analyze.json" 2>>"$out/$tag.log" ||
        { echo "hmc_tune: analyze of $tag failed (see $out/$tag.log)" >&2; exit 1; }
      echo "hmc_tune: $tag ($steps steps) done" >&2
    done
  done
done
[ -n "${TABLE_ONLY:-}" ] || printf '%s\n' "${tags[@]}" >"$out/runs.txt"
$py - "$out" "$obs" "$min_ntau" "$traj" "$therm" "$card" <<'PY'
import json, math, re, sys
out, obs, min_ntau, traj, therm, card = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = []
for line in open(f"{out}/runs.txt"):
    tag, integ, tau, steps, eps = line.strip().split("|")
    h = json.load(open(f"{out}/{tag}.hmc.json"))
    a = json.load(open(f"{out}/{tag}.analyze.json"))
    n = a["n"]
    c = h["gen_seconds"] / (h["trajectories"] + h["therm"])
    r = dict(tag=tag, integrator=integ, tau=float(tau), steps=int(steps), eps=float(eps),
             acceptance=a["acceptance"], n=n, sec_per_traj=c, warnings=list(a.get("warnings", [])))
    for o in ("topo", "chi_t"):
        ob = {k: (math.nan if v is None else v) for k, v in a["observables"][o].items()}
        # no accepted trajectory (an unstable step size): no tau_int, no effective samples
        eff = ob["eff_samples"] if math.isfinite(ob["eff_samples"]) else 0.0
        r[o] = dict(tau_int=ob["tau_int"], tau_int_error=ob["tau_int_error"],
                    eff=eff, eff_per_s=eff / (n * c), mean=ob["mean"], error=ob["error"])
        r["warnings"] += ob.get("warnings", [])
    if "plaq" in a["observables"]:
        ob = a["observables"]["plaq"]
        r["plaq"] = dict(mean=ob["mean"], error=ob["error"], tau_int=ob["tau_int"])
    r["ntau"] = n / r["topo"]["tau_int"] if r["topo"]["tau_int"] > 0 else math.nan
    r["ntau_obs"] = n / r[obs]["tau_int"] if r[obs]["tau_int"] > 0 else math.nan
    if r["acceptance"] == 0:
        r["warnings"].insert(0, "no trajectory accepted")
    rows.append(r)
def short(w):  # "topo: only 15 effective samples (< 50; ...)" -> "topo: 15 eff. samples"
    m = re.match(r"(\w+): only ([0-9]+) effective samples", w)
    return f"{m.group(1)}: {m.group(2)} eff. samples" if m else w
def f(x, d=3):
    return "%.*g" % (d, x) if x is not None and math.isfinite(x) else "-"
print(f"HMC tuning of {card}: {traj} trajectories per point after {therm} thermalization; "
      f"tau_int in trajectories; eff/s of production trajectories\n")
print("| integrator | tau | steps | eps | acc | tau_int(Q) | tau_int(chi_t) | N/tau_int(Q) | ms/traj | eff/s Q | eff/s chi_t | warnings |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    w = "; ".join(short(x) for x in r["warnings"]).replace("|", "/") or "-"
    print(f"| {r['integrator']} | {r['tau']:g} | {r['steps']} | {r['eps']:g} | {r['acceptance']:.3f} "
          f"| {f(r['topo']['tau_int'])} ± {f(r['topo']['tau_int_error'], 2)} "
          f"| {f(r['chi_t']['tau_int'])} ± {f(r['chi_t']['tau_int_error'], 2)} "
          f"| {f(r['ntau'])} | {f(1e3 * r['sec_per_traj'])} "
          f"| {f(r['topo']['eff_per_s'])} | {f(r['chi_t']['eff_per_s'])} | {w} |")
ok = [r for r in rows if r["acceptance"] > 0 and r[obs]["eff_per_s"] > 0]
if not ok:
    sys.exit("hmc_tune: no run gave a finite effective sample rate of " + obs)
long_ = [r for r in ok if r["ntau_obs"] >= min_ntau]
reliable = bool(long_)
best = max(long_ or ok, key=lambda r: r[obs]["eff_per_s"])
if not reliable:
    print(f"\nwarning: no run is >= {min_ntau:g} tau_int({obs}) long; the best below is picked "
          f"among biased (too short) tau_int estimates: raise TRAJ", file=sys.stderr)
    print(f"\nnote: no run is >= {min_ntau:g} tau_int({obs}) long: the pick is unreliable (raise TRAJ)")
sets = [f"hmc.integrator={best['integrator']}", f"hmc.tau={best['tau']:g}", f"hmc.steps={best['steps']}"]
def clean(x):  # strict JSON: a missing number (no accepted trajectory) is null, not NaN
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x
json.dump(clean(dict(card=card, obs=obs, trajectories=traj, therm=therm, min_ntau=min_ntau,
               reliable=reliable, set=sets, best=best, runs=rows)),
          open(f"{out}/best.json", "w"), indent=1, allow_nan=False)
print(f"\nbest by eff/s of {obs} ({f(best[obs]['eff_per_s'])}/s, tau_int {f(best[obs]['tau_int'])} "
      f"± {f(best[obs]['tau_int_error'], 2)}, N/tau_int {f(best['ntau_obs'])}"
      f"{'' if reliable else ', UNRELIABLE'}); details in {out}/best.json")
print("best: " + " ".join("--set " + s for s in sets))
PY
