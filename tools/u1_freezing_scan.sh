#!/usr/bin/env bash
# U(1) topological freezing, flow against tuned HMC (docs/STUDIES.md, "U(1) topological
# freezing: flow against tuned HMC"). For every beta in BETAS, on the card
# configs/u1-freezing.yaml (16x16, plaquette base + 2 spline coupling layers, RT) with
# --set theory.beta=$beta (the base starts at base_beta = theory.beta by itself):
#  (a) `latflow train` (1 rank); T_train = its wall_seconds (training, its 4 evaluations
#      and the set-up: the whole cost of having the model);
#  (b) `latflow sample --model` with NPROP proposals (IMH), analysed: acceptance, ESS,
#      tau_int of Q and chi_t (in proposals), chi_t +- error, eff/s of chi_t (sampling only);
#  (c) tools/hmc_tune.sh over HMC_INTEGRATORS x HMC_TAUS x HMC_EPS, HMC_TRAJ trajectories per
#      point (HMC_TRAJ_FROZEN from beta FROZEN_BETA on, where tau_int(Q) reaches the
#      hundreds to thousands), best by eff/s of HMC_OBS (chi_t by default: the quantity
#      compared below) among the runs >= 100 tau_int long; then the pick once more with
#      HMC_RETIME trajectories right after the flow's sampling, whose seconds per trajectory
#      (not the tuning's, which may have run under another load) enter the costs below;
#  (d) the exact finite-volume <cos theta_P> and chi_t = <Q^2>/V of the character expansion
#      (docs/PHYSICS.md section 8.6, as tests/unit/u1_exact.h: Z(theta) = sum_n f(n +
#      theta/2pi)^V, f(nu) = int dphi e^{beta cos phi + i nu phi}, <Q^2> = -Z''(0)/Z(0); f and
#      its nu-derivatives by Simpson quadrature, <cos theta_P> checked against the Bessel
#      functions of scipy when present, and against the "exact" of `latflow analyze --json`
#      where it gives one), and the z-scores of flow and HMC;
#  (e) the cost model, c = seconds per proposal (flow) or per trajectory (HMC; thermalization
#      not counted) and tau = tau_int(chi_t): flow eff/s with training at NPROD proposals,
#      eff(NPROD) / (T_train + NPROD c_flow) with eff(NPROD) = NPROD / (2 tau_flow); and the
#      break-even number of effective chi_t samples n* with
#      T_train + n* 2 tau_flow c_flow = n* 2 tau_hmc c_hmc (n* = inf: HMC is always cheaper),
#      and T* = n* 2 tau_hmc c_hmc, the wall time at which both cost the same.
#  (f) OUT/scan.tsv (one row per beta, every number), a Markdown table on stdout, and the
#      gnuplot PNGs u1-freezing-tauQ.png (tau_int(Q) vs beta, log y, tuned HMC and flow, with
#      error bars) and u1-freezing-eff.png (eff/s of chi_t vs beta, log y: tuned HMC, flow
#      sampling only, flow with training at NPROD) in PLOT_DIR (default OUT).
# Runs are single-rank and sequential; on 2 shared vCPUs the default scan takes ~30 min.
# tau_int near freezing is noisy and biased low when the chain is shorter than ~100 tau_int:
# the table gives N/tau_int(Q) of the HMC pick and the analysis warnings land in OUT.
# usage: bash tools/u1_freezing_scan.sh
#   LATFLOW_BIN=path/to/latflow, OUT=dir (default mktemp -d), BETAS="2 3 4 5 6 7",
#   NPROP=20000, NPROD=1e5, HMC_TAUS="1 2 4", HMC_EPS="0.1",
#   HMC_INTEGRATORS="leapfrog omelyan", HMC_TRAJ=50000, HMC_TRAJ_FROZEN=200000, HMC_RETIME=20000,
#   FROZEN_BETA=6, HMC_OBS=chi_t|topo, PLOT_DIR=dir (e.g. docs/studies), EXTRA="--set k=v"
#   (more options for every command, e.g. a short training for a try-out),
#   TABLE_ONLY=1 OUT=dir (table and plots from the runs already in OUT),
#   FLOW_ONLY=1 OUT=dir (train, sample and time the HMC pick again; keep the HMC tuning in OUT).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lf=${LATFLOW_BIN:-$root/build/bin/latflow}
py=/usr/bin/python3
card=$root/configs/u1-freezing.yaml
betas=${BETAS:-"2 3 4 5 6 7"}; nprop=${NPROP:-20000}; nprod=${NPROD:-1e5}
htaus=${HMC_TAUS:-"1 2 4"}; heps=${HMC_EPS:-"0.1"}; hints=${HMC_INTEGRATORS:-"leapfrog omelyan"}
htraj=${HMC_TRAJ:-50000}; htraj_frozen=${HMC_TRAJ_FROZEN:-200000}; frozen=${FROZEN_BETA:-6}
hobs=${HMC_OBS:-chi_t}; retime=${HMC_RETIME:-20000}
case "$hobs" in topo|chi_t) ;; *) echo "u1_freezing_scan: HMC_OBS must be topo or chi_t" >&2; exit 2;; esac
out=${OUT:-$(mktemp -d)}; plot_dir=${PLOT_DIR:-$out}
mkdir -p "$out" "$plot_dir"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LATFLOW_BIN=$lf
if [ -z "${TABLE_ONLY:-}" ]; then
  for b in $betas; do
    d=$out/beta$b; mkdir -p "$d"
    # shellcheck disable=SC2206
    set_b=(--set theory.beta="$b" ${EXTRA:-})
    echo "u1_freezing_scan: beta $b: train" >&2
    "$lf" train "$card" "${set_b[@]}" -q --json --force --output "$d/flow" >"$d/train.json" 2>"$d/train.log" ||
      { echo "u1_freezing_scan: train at beta $b failed (see $d/train.log)" >&2; exit 1; }
    echo "u1_freezing_scan: beta $b: sample ($nprop proposals)" >&2
    "$lf" sample "$card" "${set_b[@]}" -q --json --force --model "$d/flow/model.h5" --output "$d/flow" \
      --set sample.proposals="$nprop" --set sample.save=none >"$d/sample.json" 2>"$d/sample.log" ||
      { echo "u1_freezing_scan: sample at beta $b failed (see $d/sample.log)" >&2; exit 1; }
    "$lf" analyze "$d/flow/ensemble.h5" --json >"$d/flow.analyze.json" 2>>"$d/sample.log" ||
      { echo "u1_freezing_scan: analyze of the flow at beta $b failed" >&2; exit 1; }
    if [ -z "${FLOW_ONLY:-}" ]; then
      t=$htraj; if awk -v b="$b" -v f="$frozen" 'BEGIN { exit !(b >= f) }'; then t=$htraj_frozen; fi
      echo "u1_freezing_scan: beta $b: HMC tuning ($t trajectories per point)" >&2
      OUT=$d/hmc TAUS=$htaus EPS=$heps INTEGRATORS=$hints TRAJ=$t OBS=$hobs \
        bash "$root/tools/hmc_tune.sh" "$card" "${set_b[@]}" >"$d/hmc_tune.md" 2>"$d/hmc_tune.log" ||
        { echo "u1_freezing_scan: HMC tuning at beta $b failed (see $d/hmc_tune.log)" >&2; exit 1; }
    fi
    # the pick once more, right after the flow's sampling, for its seconds per trajectory
    mapfile -t pick < <($py -c "import json,sys; print(*json.load(open(sys.argv[1]))['set'], sep='\n')" "$d/hmc/best.json")
    echo "u1_freezing_scan: beta $b: HMC timing (${pick[*]}, $retime trajectories)" >&2
    "$lf" hmc "$card" "${set_b[@]}" -q --json --force --output "$d/hmc_retime" \
      --set "${pick[0]}" --set "${pick[1]}" --set "${pick[2]}" --set hmc.trajectories="$retime" \
      --set sample.save=none --set hmc.checkpoint_every=0 --set hmc.checkpoint_seconds=0 \
      >"$d/hmc_retime.json" 2>"$d/hmc_retime.log" ||
      { echo "u1_freezing_scan: HMC timing at beta $b failed (see $d/hmc_retime.log)" >&2; exit 1; }
  done
fi
$py - "$out" "$betas" "$nprod" "$hobs" "$plot_dir" <<'PY'
import json, math, os, subprocess, sys
import numpy as np
out, betas, nprod, hobs, plot_dir = sys.argv[1], sys.argv[2].split(), float(sys.argv[3]), sys.argv[4], sys.argv[5]

def u1_exact(beta, V, nq=20000):
    """<cos theta_P>, chi_t = <Q^2>/V on a periodic torus of V plaquettes (u1_exact.h)."""
    p = np.linspace(0.0, np.pi, nq + 1); h = np.pi / nq
    w = np.ones(nq + 1); w[1:-1:2] = 4.0; w[2:-1:2] = 2.0
    e = 2.0 * w * np.exp(beta * (np.cos(p) - 1.0)) * h / 3.0   # even integrand: 2 x [0, pi]
    nmax = 40 + int(4 * beta)
    n = np.arange(nmax + 2)[:, None]
    f = (e * np.cos(n * p)).sum(1)              # f(n) e^-beta = 2 pi I_n(beta) e^-beta
    f1 = -(e * p * np.sin(n * p)).sum(1)        # f'(n) = -int phi sin(n phi) e^{beta cos phi}
    f2 = -(e * p * p * np.cos(n * p)).sum(1)    # f''(n) = -int phi^2 cos(n phi) e^{...}
    Z = P = Z2 = 0.0
    for k in range(-nmax, nmax + 1):
        a = abs(k); r = f[a] / f[0]
        d1 = (-f1[a] if k < 0 else f1[a]) / f[0]; d2 = f2[a] / f[0]
        Z += r ** V
        P += r ** (V - 1) * 0.5 * (f[abs(k - 1)] + f[abs(k + 1)]) / f[0]
        Z2 += V * (V - 1) * r ** (V - 2) * d1 * d1 + V * r ** (V - 1) * d2
    plaq, chi = P / Z, -Z2 / Z / (4.0 * np.pi ** 2) / V
    try:  # cross-check <cos theta_P> = sum I_n^{V-1} (I_{n-1} + I_{n+1})/2 / sum I_n^V
        from scipy.special import ive
        ks = np.arange(-nmax, nmax + 1); I = ive(ks, beta) / ive(0, beta)
        Im, Ip = ive(ks - 1, beta) / ive(0, beta), ive(ks + 1, beta) / ive(0, beta)
        pb = (I ** (V - 1) * 0.5 * (Im + Ip)).sum() / (I ** V).sum()
        assert abs(pb - plaq) < 1e-9, f"quadrature {plaq} != Bessel {pb} at beta {beta}"
    except ImportError:
        pass
    return plaq, chi

# the issue's reference value: chi_t = 0.0046668 at beta 6 on 16x16
assert abs(u1_exact(6.0, 256)[1] - 0.0046668) < 5e-7, u1_exact(6.0, 256)

def z(m, e, x):
    return (m - x) / e if e > 0 else float("nan")

rows = []
for b in betas:
    d = f"{out}/beta{b}"
    tr = json.load(open(f"{d}/train.json"))
    fa = json.load(open(f"{d}/flow.analyze.json"))
    hb = json.load(open(f"{d}/hmc/best.json"))
    hm = hb["best"]
    shape = fa["theory"]["shape"]; V = shape[0] * shape[1]
    plaq_x, chi_x = u1_exact(float(b), V)
    for o, x in (("plaq", plaq_x), ("chi_t", chi_x)):  # latflow analyze's own (lf_u1_exact_eval)
        if fa["observables"][o].get("exact") is not None:
            assert abs(fa["observables"][o]["exact"] - x) < 1e-8 * x, (b, o, fa["observables"][o]["exact"], x)
    fo = fa["observables"]; N = fa["n"]
    T = tr["wall_seconds"]; c_f = fa["gen_seconds"] / N
    tf = fo["chi_t"]["tau_int"]; th = hm["chi_t"]["tau_int"]; c_tune = hm["sec_per_traj"]
    ht = json.load(open(f"{d}/hmc_retime.json"))
    c_h = ht["gen_seconds"] / (ht["trajectories"] + ht["therm"])
    eff_prod = nprod / (2 * tf) / (T + nprod * c_f)
    den = 2 * th * c_h - 2 * tf * c_f
    nstar = T / den if den > 0 else float("inf")
    r = dict(beta=float(b), V=V, exact_chi_t=chi_x, exact_plaq=plaq_x,
             train_s=T, train_steps_s=tr["train_seconds"], train_ess=tr["ess_smoothed"],
             flow_n=N, flow_acc=fa["acceptance"], flow_ess=fa["ess"], flow_c=c_f,
             flow_tauQ=fo["topo"]["tau_int"], flow_tauQ_err=fo["topo"]["tau_int_error"],
             flow_tauchi=tf, flow_tauchi_err=fo["chi_t"]["tau_int_error"],
             flow_chi=fo["chi_t"]["mean"], flow_chi_err=fo["chi_t"]["error"],
             flow_plaq=fo["plaq"]["mean"], flow_plaq_err=fo["plaq"]["error"],
             flow_effs=fo["chi_t"]["eff_samples"] / fa["gen_seconds"], flow_effs_prod=eff_prod,
             hmc_integrator=hm["integrator"], hmc_tau=hm["tau"], hmc_steps=hm["steps"],
             hmc_n=hm["n"], hmc_acc=hm["acceptance"], hmc_c=c_h, hmc_c_tune=c_tune,
             hmc_reliable=hb["reliable"],
             hmc_tauQ=hm["topo"]["tau_int"], hmc_tauQ_err=hm["topo"]["tau_int_error"],
             hmc_tauchi=th, hmc_tauchi_err=hm["chi_t"]["tau_int_error"],
             hmc_chi=hm["chi_t"]["mean"], hmc_chi_err=hm["chi_t"]["error"],
             hmc_plaq=hm["plaq"]["mean"], hmc_plaq_err=hm["plaq"]["error"],
             hmc_effs=1.0 / (2 * th * c_h), nstar=nstar,
             tstar=nstar * 2 * th * c_h if math.isfinite(nstar) else float("inf"),
             warnings=len(fa["warnings"]) + sum(len(o.get("warnings", [])) for o in fo.values())
                      + len(hm["warnings"]))
    r["z_flow_chi"] = z(r["flow_chi"], r["flow_chi_err"], chi_x)
    r["z_hmc_chi"] = z(r["hmc_chi"], r["hmc_chi_err"], chi_x)
    r["z_flow_plaq"] = z(r["flow_plaq"], r["flow_plaq_err"], plaq_x)
    r["z_hmc_plaq"] = z(r["hmc_plaq"], r["hmc_plaq_err"], plaq_x)
    r["hmc_ntauQ"] = r["hmc_n"] / r["hmc_tauQ"]
    rows.append(r)

keys = [k for k in rows[0] if k != "warnings"] + ["warnings"]
with open(f"{out}/scan.tsv", "w") as fh:
    fh.write("\t".join(keys) + "\n")
    for r in rows:
        fh.write("\t".join(("%.10g" % r[k]) if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")

def g(x, d=3):
    return "%.*g" % (d, x) if math.isfinite(x) else "inf"
cpu = subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2", shell=True,
                     capture_output=True, text=True).stdout.strip()
flags = subprocess.run("grep -m1 '^flags' /proc/cpuinfo", shell=True, capture_output=True,
                       text=True).stdout.split()
isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
print(f"machine: {cpu} ({isa}, {os.cpu_count()} CPUs); 16x16 U(1); flow {rows[0]['flow_n']} proposals; HMC best by eff/s of {hobs}; "
      f"tau_int in proposals / trajectories; eff/s of chi_t; with training at {nprod:g} proposals\n")
print("| beta | exact chi_t | flow chi_t (z) | HMC chi_t (z) | z plaq flow / HMC | train s | flow acc / ESS "
      "| flow tau_int Q / chi_t | HMC pick (int, tau, steps, acc) | HMC tau_int Q / chi_t | HMC N/tau_int(Q) "
      "| eff/s HMC | eff/s flow sampling | eff/s flow + training | n* | T* s |")
print("|" + "---|" * 16)
for r in rows:
    print(f"| {r['beta']:g} | {r['exact_chi_t']:.6f} "
          f"| {r['flow_chi']:.5f}({1e5 * r['flow_chi_err']:.0f}) ({r['z_flow_chi']:+.1f}) "
          f"| {r['hmc_chi']:.5f}({1e5 * r['hmc_chi_err']:.0f}) ({r['z_hmc_chi']:+.1f}) "
          f"| {r['z_flow_plaq']:+.1f} / {r['z_hmc_plaq']:+.1f} | {r['train_s']:.0f} "
          f"| {r['flow_acc']:.2f} / {r['flow_ess']:.2f} "
          f"| {g(r['flow_tauQ'])} / {g(r['flow_tauchi'])} "
          f"| {r['hmc_integrator']}, {r['hmc_tau']:g}, {r['hmc_steps']}, {r['hmc_acc']:.2f} "
          f"| {g(r['hmc_tauQ'])}±{g(r['hmc_tauQ_err'], 2)} / {g(r['hmc_tauchi'])}±{g(r['hmc_tauchi_err'], 2)} "
          f"| {g(r['hmc_ntauQ'])}{'' if r['hmc_reliable'] else ' (short)'} "
          f"| {g(r['hmc_effs'])} | {g(r['flow_effs'])} | {g(r['flow_effs_prod'])} "
          f"| {g(r['nstar'])} | {g(r['tstar'])} |")
print("\nchi_t values as mean(error in units of 1e-5); z = (value - exact) / error; "
      "n* = effective chi_t samples at break-even, T* its wall time (inf: HMC always cheaper)")

# plots
dat = f"{out}/scan.dat"
with open(dat, "w") as fh:
    fh.write("# beta hmc_tauQ err flow_tauQ err hmc_effs flow_effs flow_effs_prod\n")
    for r in rows:
        fh.write(" ".join("%.8g" % r[k] for k in ("beta", "hmc_tauQ", "hmc_tauQ_err", "flow_tauQ",
                 "flow_tauQ_err", "hmc_effs", "flow_effs", "flow_effs_prod")) + "\n")
gp = f"""reset
set terminal pngcairo noenhanced size 900,560 font ',11'
set logscale y
set grid
set key top left
set xlabel 'beta'
set xrange [{float(betas[0]) - 0.3}:{float(betas[-1]) + 0.3}]
set output '{plot_dir}/u1-freezing-tauQ.png'
set title 'U(1) 16x16: tau_int(Q) (trajectories / proposals), HMC tuned by eff/s of {hobs}'
set ylabel 'tau_int(Q)'
plot '{dat}' u 1:2:3 w yerrorlines pt 7 lw 2 t 'HMC, tuned', \\
     '{dat}' u 1:4:5 w yerrorlines pt 5 lw 2 t 'flow (IMH)'
set output '{plot_dir}/u1-freezing-eff.png'
set key bottom left
set title 'U(1) 16x16: effective samples of chi_t per second (1 rank)'
set ylabel 'eff. samples / s'
plot '{dat}' u 1:6 w lp pt 7 lw 2 t 'HMC, tuned', \\
     '{dat}' u 1:7 w lp pt 5 lw 2 t 'flow, sampling only', \\
     '{dat}' u 1:8 w lp pt 9 lw 2 t 'flow, training included ({nprod:g} proposals)'
"""
open(f"{out}/scan.gp", "w").write(gp)
subprocess.run(["gnuplot", f"{out}/scan.gp"], check=True)
print(f"\nfiles: {out}/scan.tsv, {plot_dir}/u1-freezing-tauQ.png, {plot_dir}/u1-freezing-eff.png", file=sys.stderr)
PY
