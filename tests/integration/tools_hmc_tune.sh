#!/usr/bin/env bash
# tools/hmc_tune.sh (the HMC baseline tuner), a smoke test on a 4x4 U(1) card at beta 2
# with tiny grids (integrators x tau x eps: 2 x 1 x 2 and smaller) of 400 trajectories each
# (~1 s per run, 12 runs):
#  - it exits 0 and prints the Markdown table: the header and one row per grid point, with
#    steps = round(tau/eps) and finite tau_int, acceptance in (0, 1];
#  - OUT/best.json parses; its pick is the maximum of eff/s of OBS among the runs at least
#    MIN_NTAU tau_int(OBS) long (or among all, flagged unreliable, when none is), its "set"
#    list is the last line `best: --set ...`, and that line names a row of the table;
#  - OBS=chi_t (on a 1 x 2 x 1 grid) picks by chi_t; MIN_NTAU=1e9 (1 x 1 x 2) makes every run too
#    short: the pick is then the global maximum, flagged unreliable with a note;
#  - an unstable point (tau 20 in 1 step, acceptance 0) is a row without tau_int ("no
#    trajectory accepted"), not the pick, and best.json has null there (strict JSON);
#  - a failing `latflow hmc` (a wrapper binary that fails it) gives exit 1 and a message
#    naming the run and its log; OBS=bad and a missing card give exit 2.
# usage: tools_hmc_tune.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
py=/usr/bin/python3
tune=$src/tools/hmc_tune.sh
cat > c.yaml <<'YAML'
seed: 5
observables: [plaq, topo, chi_t]
theory: {name: u1, shape: [4, 4], beta: 2.0}
hmc: {trajectories: 400, therm: 50, tau: 1.0, steps: 10}
YAML
export LATFLOW_BIN=$lf TAUS="1" EPS="0.1 0.25" INTEGRATORS="leapfrog omelyan"

# check OUT OBS MIN_NTAU NROWS: the table in out.txt against OUT/best.json
check() {
  "$py" - "$1" "$2" "$3" "$4" out.txt <<'PY'
import json, math, re, sys
out, obs, min_ntau, nrows, txt = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), open(sys.argv[5]).read()
lines = txt.strip().splitlines()
rows = [l for l in lines if re.match(r"\| (leapfrog|omelyan) \|", l)]
hdr = [l for l in lines if l.startswith("| integrator | tau | steps | eps | acc | tau_int(Q) | tau_int(chi_t)")]
assert len(hdr) == 1, "table header missing"
assert len(rows) == nrows, f"{len(rows)} table rows, not {nrows}"
for r in rows:
    c = [x.strip() for x in r.strip("|").split("|")]
    assert len(c) == 12, f"row has {len(c)} columns: {r}"
    assert int(c[2]) == int(float(c[1]) / float(c[3]) + 0.5), f"steps != round(tau/eps): {r}"
    assert 0 < float(c[4]) <= 1, f"acceptance: {r}"
    assert float(c[5].split("±")[0]) > 0 and float(c[6].split("±")[0]) > 0, f"tau_int: {r}"
b = json.load(open(f"{out}/best.json"))
assert b["obs"] == obs and len(b["runs"]) == nrows
runs = b["runs"]
for r in runs:
    assert math.isfinite(r[obs]["eff_per_s"]) and r[obs]["eff_per_s"] > 0
    assert abs(r[obs]["eff_per_s"] - r["n"] / (2 * r[obs]["tau_int"]) / (r["n"] * r["sec_per_traj"])) < 1e-9 * r[obs]["eff_per_s"]
long_ = [r for r in runs if r["n"] / r[obs]["tau_int"] >= min_ntau]
assert b["reliable"] == bool(long_), "reliable flag"
want = max(long_ or runs, key=lambda r: r[obs]["eff_per_s"])
assert b["best"]["tag"] == want["tag"], f"best {b['best']['tag']}, the maximum is {want['tag']}"
if not long_:
    assert "note: no run is >=" in txt, "unreliable pick without its note"
sets = [f"hmc.integrator={want['integrator']}", f"hmc.tau={want['tau']:g}", f"hmc.steps={want['steps']}"]
assert b["set"] == sets, b["set"]
assert lines[-1] == "best: " + " ".join("--set " + s for s in sets), "last line: " + lines[-1]
assert any(re.match(rf"\| {want['integrator']} \| {want['tau']:g} \| {want['steps']} \| {want['eps']:g} \|", r) for r in rows)
print(b["best"]["tag"], "reliable" if b["reliable"] else "unreliable")
PY
}

OUT=$wd/t1 expect_code 0 "hmc_tune on a 4x4 card (OBS topo)" -- bash "$tune" c.yaml
r=$(check "$wd/t1" topo 100 4 2>&1) && ok "table and best.json well-formed, best by topo: $r" || bad "topo: $r"

OUT=$wd/t2 OBS=chi_t INTEGRATORS=omelyan TAUS="0.5 1" EPS=0.25 expect_code 0 "hmc_tune OBS=chi_t" -- bash "$tune" c.yaml --set theory.beta=2.5
r=$(check "$wd/t2" chi_t 100 2 2>&1) && ok "best by chi_t: $r" || bad "chi_t: $r"

OUT=$wd/t3 MIN_NTAU=1e9 INTEGRATORS=leapfrog TAUS=1 expect_code 0 "hmc_tune MIN_NTAU=1e9" -- bash "$tune" c.yaml
r=$(check "$wd/t3" topo 1e9 2 2>&1) && [ "${r##* }" = unreliable ] && ok "no run long enough: global best, flagged: $r" ||
  bad "MIN_NTAU=1e9: $r"
expect_err "raise TRAJ" "unreliable pick warns on stderr"

# an unstable point (tau 20 in one leapfrog step: nothing accepted) is a row without
# tau_int, never the pick, and best.json stays strict JSON (null, not NaN)
OUT=$wd/t6 INTEGRATORS=leapfrog TAUS=20 EPS="20 0.1" expect_code 0 "hmc_tune with an unstable point" -- bash "$tune" c.yaml
r=$("$py" - "$wd/t6/best.json" out.txt <<'PY' 2>&1
import json, sys
def nonum(x):
    raise ValueError("non-standard JSON number " + x)
b = json.load(open(sys.argv[1]), parse_constant=nonum)
txt = open(sys.argv[2]).read()
bad = [r for r in b["runs"] if r["steps"] == 1]
assert len(bad) == 1 and bad[0]["acceptance"] == 0 and bad[0]["topo"]["tau_int"] is None, bad
assert "| leapfrog | 20 | 1 | 20 | 0.000 | - ± - | - ± - | - |" in txt, "row of the unstable point"
assert "no trajectory accepted" in txt
assert b["best"]["steps"] == 200 and b["best"]["acceptance"] > 0, b["best"]["tag"]
print("unstable row", bad[0]["tag"], "best", b["best"]["tag"])
PY
) && ok "$r" || bad "unstable point: $r"

# a latflow whose hmc fails
cat > fake.sh <<EOF
#!/usr/bin/env bash
[ "\$1" = hmc ] && { echo "fake hmc failure" >&2; exit 1; }
exec "$lf" "\$@"
EOF
chmod +x fake.sh
OUT=$wd/t4 LATFLOW_BIN=$wd/fake.sh expect_code 1 "failing run exits 1" -- bash "$tune" c.yaml
expect_err_re "hmc_tune: run leapfrog-tau1-eps0.1 failed .*see $wd/t4/leapfrog-tau1-eps0.1.log" "failure names the run and its log"
grep -qF "fake hmc failure" "$wd/t4/leapfrog-tau1-eps0.1.log" && ok "the log holds latflow's message" || bad "log of the failed run"
OUT=$wd/t5 OBS=bad expect_code 2 "OBS=bad exits 2" -- bash "$tune" c.yaml
expect_err "OBS must be topo or chi_t" "OBS=bad names the variable"
expect_code 2 "missing card exits 2" -- bash "$tune" nope.yaml
expect_err "cannot read card 'nope.yaml'" "missing card named"
finish tools_hmc_tune
