#!/usr/bin/env bash
# Output streams and plot safety (issue 15, items 4 and 5). Every command's --json prints
# exactly one JSON object on stdout (python3's json parses the whole of stdout; logs stay on
# stderr); `config --json` is the validated config as JSON (YAML stays the default);
# `latflow run` prints its result table on stdout (`run > file` holds it) and, with --json,
# only the JSON object there. `latflow plot` refuses a model file without writing anything,
# plots each file into its own folder (plots/ensemble, plots/hmc: an HMC plot never
# overwrites the flow ensemble's), and keeps no temporary folder. The plots of issue 15
# (tau_int(W), G(t), m_eff(t) with the pole mass, fresh-sample ESS vs samples flowed, flow
# and HMC side by side) are whole PNGs over finite data of the expected length, and
# `plot A B` refuses two ensembles of other physics (exit 2) without writing anything.
# usage: cli_json.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 >/dev/null || skip "python3 not installed"
# one_json DESC KEY...: stdout (out.txt) is exactly one JSON object holding every KEY
one_json() {
  local desc=$1; shift
  python3 - "$@" <<'PY' && ok "$desc: stdout is one JSON object with $*" || { bad "$desc: stdout is not one JSON object with $*"; head -5 out.txt; }
import json, sys
d = json.loads(open("out.txt").read())  # the whole of stdout: one value, nothing else
assert isinstance(d, dict), type(d)
missing = [k for k in sys.argv[1:] if k not in d]
assert not missing, missing
PY
}

cat > tiny.yaml <<'YAML'
seed: 11
output: out/tiny
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 60}, eval_samples: 500, log_every: 30}
sample: {proposals: 2000, block: 128, save: accepted}
hmc: {trajectories: 500, therm: 20, tau: 1.0, steps: 8}
YAML

# ---- every command's --json -------------------------------------------------------------
expect_code 0 "config --json" -- "$lf" config tiny.yaml --json --set seed=12
one_json "config" command source config
python3 -c 'import json; c=json.load(open("out.txt"))["config"]; assert c["seed"] == 12 and c["theory"]["name"] == "phi4" and c["theory"]["shape"] == [4, 4] and c["model"]["hidden"] == [4], c' &&
  ok "config --json: the validated config (overrides applied, nested sections)" || bad "config --json values"
expect_code 0 "config --default --json" -- "$lf" config --default --json
one_json "config --default" command config
expect_code 0 "config (YAML stays the default)" -- "$lf" config tiny.yaml
grep -q "^theory:" out.txt && ! grep -q "^{" out.txt && ok "config prints YAML" || bad "config without --json is not YAML"
expect_code 0 "check --json" -- "$lf" check tiny.yaml --json
one_json "check" valid valid_for
expect_code 0 "train --json" -- "$lf" train tiny.yaml --json
one_json "train" command
expect_code 0 "sample --json" -- "$lf" sample tiny.yaml --json
one_json "sample" command ensemble
expect_code 0 "hmc --json" -- "$lf" hmc tiny.yaml --json
one_json "hmc" command ensemble
expect_code 0 "analyze --json" -- "$lf" analyze out/tiny/ensemble.h5 --json
one_json "analyze" observables
expect_code 0 "bench --json" -- "$lf" bench tiny.yaml --json --seconds 0.2 --train-only
one_json "bench" train_steps_per_s

# ---- plot: refusal writes nothing, one folder per file, --json ----------------------------
if command -v gnuplot >/dev/null 2>&1; then
  expect_code 0 "plot --json (flow ensemble)" -- "$lf" plot out/tiny/ensemble.h5 --json
  one_json "plot" command input outdir plots
  python3 -c 'import json,os; d=json.load(open("out.txt")); assert d["input"] == "out/tiny/ensemble.h5" and d["outdir"] == "out/tiny/plots/ensemble" and len(d["plots"]) >= 12 and all(os.path.getsize(p) > 0 and p.startswith("out/tiny/plots/ensemble/") for p in d["plots"]), d' &&
    ok "plot --json: the input, out/tiny/plots/ensemble and the PNGs written there" || bad "plot --json content"
  sums=$(cd out/tiny/plots/ensemble && md5sum -- *)
  expect_code 1 "plot refuses a model file" -- "$lf" plot out/tiny/model.h5
  expect_err "is a latflow model file" "refusal names the kind"
  [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] && [ ! -e out/tiny/plots/model ] &&
    ok "the refused plot wrote nothing (plots.gp and every plot unchanged, no plots/model)" || bad "the refused plot changed the output"
  expect_code 1 "plot refuses a model file with --out" -- "$lf" plot out/tiny/model.h5 --out out/tiny/plots/ensemble
  [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] && ok "--out: nothing written either" || bad "--out: the refused plot changed the output"
  expect_code 0 "plot hmc (default folder)" -- "$lf" plot out/tiny/hmc.h5
  [ -s out/tiny/plots/hmc/dH_history.png ] && [ -s out/tiny/plots/hmc/history_chi2.png ] &&
    [ "$sums" = "$(cd out/tiny/plots/ensemble && md5sum -- *)" ] &&
    ok "HMC plots in plots/hmc; the flow ensemble's plots unchanged" || bad "HMC plot overwrote the flow plots or is missing"
  ls -a out/tiny/plots/ensemble out/tiny/plots/hmc | grep -q '\.tmp' && bad "a temporary folder was left" || ok "no temporary folder left"
  # ---- plot: the plots people expect (issue 15): every PNG whole, the data they draw -----
  expect_code 0 "plot --json (flow ensemble, again)" -- "$lf" plot out/tiny/ensemble.h5 --json
  cp out.txt plot_ens.json
  expect_code 0 "analyze --json (windows of the plots)" -- "$lf" analyze out/tiny/ensemble.h5 --json
  cp out.txt ana_ens.json
  expect_code 0 "plot --json (hmc)" -- "$lf" plot out/tiny/hmc.h5 --json
  cp out.txt plot_hmc.json
  python3 - plot_ens.json ana_ens.json plot_hmc.json <<'PY' && ok "plots: every expected PNG whole (signature .. IEND); tauint, corr, meff, eval data finite with the expected rows" || bad "plots or their data"
import json, math, os, sys
def whole(p):  # a whole PNG: the signature first, the IEND chunk last
    b = open(p, "rb").read()
    return b[:8] == b"\x89PNG\r\n\x1a\n" and b[-12:] == b"\0\0\0\0IEND\xaeB`\x82"
def rows(p):  # the numbers of a .dat file, one list per data line
    return [[float(x) for x in l.split()] for l in open(p) if not l.startswith("#")]
def finite(r):
    return all(math.isfinite(x) for x in r)
ens, ana, hmc = (json.load(open(p)) for p in sys.argv[1:4])
obs = list(ana["observables"])
assert obs == ["phi2", "mag", "abs_mag", "chi2", "energy"], obs
for d, kind in ((ens, "ensemble"), (hmc, "hmc")):
    names = {os.path.basename(p) for p in d["plots"]}
    want = {f"{w}_{o}.png" for w in ("history", "acf", "tauint") for o in obs} | {"correlator.png", "meff.png"}
    want |= {"logw_hist.png", "train_loss.png", "train_ess.png", "train_vs_samples.png", "train_fresh_ess.png"} if kind == "ensemble" else {"dH_history.png"}
    assert want <= names, (kind, want - names)
    assert all(whole(p) for p in d["plots"]), kind
    assert len(names) == len(want), (kind, names - want)
D = "out/tiny/plots/ensemble/"
# tau_int(W): W = 0 .. max over observables of max(100, 2 W_chosen), below the chain length
t = rows(D + "tauint.dat")
wmax = min(max(max(100, 2 * ana["observables"][o]["window"]) for o in obs), ana["n"] - 1)
assert len(t) == wmax + 1 and [r[0] for r in t] == list(range(wmax + 1)), (len(t), wmax)
assert all(len(r) == 1 + 2 * len(obs) and finite(r) for r in t)
assert all(r[1 + 2 * k] == 0.5 for r in t[:1] for k in range(len(obs)))
for k, o in enumerate(obs):  # tau_int(W) at the chosen window is the Gamma method's
    W, tg = ana["observables"][o]["window"], ana["observables"][o]["tau_int_gamma"]
    assert abs(t[W][1 + 2 * k] - tg) <= 1e-6 * tg, (o, W, t[W][1 + 2 * k], tg)
c = rows(D + "corr.dat")  # G(t), t = 0 .. L-1 of the 4x4 lattice
assert len(c) == 4 and all(len(r) == 3 and finite(r) and r[1] > 0 for r in c), c
m = rows(D + "meff.dat")  # m_eff(t), t = 1 .. L/2 - 1
assert 1 <= len(m) <= 1 and all(len(r) == 3 and finite(r) for r in m), m
gp = open(D + "plots.gp").read()
assert "set object 1 rect" in gp and "pole mass +- error over the fit range" in gp
e = rows(D + "eval.dat")
assert len(e) >= 1 and all(len(r) == 5 and finite(r) for r in e)
assert "'eval.dat' u 2:3" in gp and "t 'IMH acceptance (fresh samples)'" in gp
PY
  # ---- plot A B: flow and HMC side by side ------------------------------------------------
  expect_code 0 "plot ENSEMBLE HMC --json (compare)" -- "$lf" plot out/tiny/ensemble.h5 out/tiny/hmc.h5 --json
  one_json "plot compare" command input compare kind outdir plots
  python3 - <<'PY' && ok "compare: plots/compare with one whole PNG per observable, pole_mass and compare_eff; finite data" || bad "compare plots or data"
import json, math, os
d = json.load(open("out.txt"))
assert d["kind"] == "compare" and d["input"] == "out/tiny/ensemble.h5" and d["compare"] == "out/tiny/hmc.h5", d
assert d["outdir"] == "out/tiny/plots/compare", d
obs = ["phi2", "mag", "abs_mag", "chi2", "energy"]
names = sorted(os.path.basename(p) for p in d["plots"])
assert names == sorted([f"compare_{o}.png" for o in obs + ["pole_mass"]] + ["compare_eff.png"]), names
for p in d["plots"]:
    b = open(p, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[-8:-4] == b"IEND", p
rows = lambda p: [l.split() for l in open("out/tiny/plots/compare/" + p) if not l.startswith("#")]
o = rows("compare_obs.dat")
assert [r[1] for r in o] == obs + ["pole_mass"], o
assert all(math.isfinite(float(x)) for r in o for x in r[2:6]), o
e = rows("compare_eff.dat")  # flow: per second, with training; HMC: per second, NaN
assert [r[1] for r in e] == obs and all(float(r[2]) > 0 and float(r[3]) > 0 and float(r[4]) > 0 and r[5] == "nan" for r in e), e
assert all(float(r[3]) < float(r[2]) for r in e), e  # training time lowers the rate
PY
  sums=$(cd out/tiny/plots && find . -type f | sort | xargs md5sum)
  cat > other.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [6, 6], m2: -1.0, lambda: 1.0}
hmc: {trajectories: 50, therm: 5, tau: 1.0, steps: 8}
YAML
  expect_code 0 "hmc on a 6x6 lattice" -- "$lf" hmc other.yaml --output out/l6
  expect_code 0 "hmc with another m2" -- "$lf" hmc other.yaml --output out/m2 --set 'theory.shape=[4, 4]' --set theory.m2=-0.5
  expect_code 0 "hmc of u1" -- "$lf" hmc other.yaml --output out/u1 --set 'theory.shape=[4, 4]' --set theory.name=u1
  expect_code 2 "compare refuses another lattice" -- "$lf" plot out/tiny/ensemble.h5 out/l6/hmc.h5
  expect_err "cannot compare 'out/tiny/ensemble.h5' and 'out/l6/hmc.h5': the lattice differs ('out/tiny/ensemble.h5' has 4x4" "another lattice named"
  expect_code 2 "compare refuses another coupling" -- "$lf" plot out/tiny/ensemble.h5 out/m2/hmc.h5 --json
  expect_err "theory.m2 differs ('out/tiny/ensemble.h5' has -1, 'out/m2/hmc.h5' has -0.5)" "another coupling named"
  [ ! -s out.txt ] && ok "refused compare --json: nothing on stdout" || bad "refused compare printed: $(head -3 out.txt)"
  expect_code 2 "compare refuses another theory" -- "$lf" plot out/u1/hmc.h5 out/tiny/hmc.h5 --out out/cmp-u1
  expect_err "the theory differs ('out/u1/hmc.h5' has u1, 'out/tiny/hmc.h5' has phi4)" "another theory named"
  expect_code 1 "compare refuses a train file" -- "$lf" plot out/tiny/ensemble.h5 out/tiny/train.h5
  expect_err "is a latflow train file; plot compares two ensembles" "a train file named"
  [ "$sums" = "$(cd out/tiny/plots && find . -type f | sort | xargs md5sum)" ] && [ ! -e out/l6/plots ] && [ ! -e out/m2/plots ] &&
    [ ! -e out/u1/plots ] && [ ! -e out/cmp-u1 ] && ok "refused comparisons wrote nothing" || bad "a refused comparison wrote files"
  expect_code 2 "plot with three files" -- "$lf" plot out/tiny/ensemble.h5 out/tiny/hmc.h5 out/l6/hmc.h5
  # ---- run: the table on stdout, only JSON with --json --------------------------------------
  expect_code 0 "run > file" -- "$lf" run tiny.yaml --output out/r1
  grep -q "== latflow run" out.txt && grep -q "observable" out.txt && ! grep -q "== latflow run" err.txt &&
    ok "run: the result table on stdout, not stderr" || bad "run: table not on stdout"
  grep -q "\[run\]\|run:" err.txt && ok "run: logs on stderr" || bad "run: no logs on stderr"
  [ -s out/r1/plots/ensemble/history_chi2.png ] && [ -s out/r1/plots/hmc/history_chi2.png ] &&
    ok "run: plots in plots/ensemble and plots/hmc" || bad "run: plots missing: $(ls -R out/r1/plots | head)"
  expect_code 0 "run --json" -- "$lf" run tiny.yaml --output out/r2 --json
  one_json "run" command analysis analysis_hmc plots plots_hmc plots_compare
  python3 -c 'import json; d=json.load(open("out.txt"))["plots_compare"]; assert d["outdir"] == "out/r2/plots/compare" and len(d["plots"]) == 7, d' &&
    ok "run with hmc.compare: plots/compare (6 observable PNGs and compare_eff)" || bad "run: plots_compare"
  grep -q "== latflow run" err.txt && ok "run --json: the table moves to stderr" || bad "run --json: no table on stderr"
else
  echo "note: gnuplot not installed, plot and run cases not run"
fi
finish
