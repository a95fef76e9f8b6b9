#!/usr/bin/env bash
# The config's `observables` decides the ensemble's obs columns: with
# `observables: [chi2, phi2]` sample (serial and on 3 ranks, the distributed sampler) and
# hmc (serial and on 2 ranks) write exactly those two columns in that order (obs_names
# [chi2, phi2]), bitwise equal to columns 3 and 0 of a default run with the same seed,
# whose correlator and chain tables they share; analyze, plot and run's flow-vs-HMC table
# show only those observables; `observables: []` is refused.
# usage: cli_observables.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
py=/usr/bin/python3
$py -c 'import h5py' 2>/dev/null || skip "no python3 h5py"
cat > tiny.yaml <<'YAML'
seed: 7
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 200, log_every: 20}
sample: {proposals: 1500, block: 128, save: all}
hmc: {trajectories: 300, therm: 10, tau: 1.0, steps: 8}
YAML
sel="--set observables=[chi2,phi2]"
expect_code 0 "train" -- "$lf" train tiny.yaml --output m
expect_code 0 "sample, default observables" -- "$lf" sample tiny.yaml --model m/model.h5 --output d
expect_code 0 "sample, [chi2, phi2]" -- "$lf" sample tiny.yaml --model m/model.h5 --output s $sel
expect_code 0 "mpiexec -n 3 sample, [chi2, phi2]" -- mpi 3 "$lf" sample tiny.yaml --model m/model.h5 --output s3 $sel
expect_code 0 "hmc, default observables" -- "$lf" hmc tiny.yaml --output d
expect_code 0 "hmc, [chi2, phi2]" -- "$lf" hmc tiny.yaml --output s $sel
expect_code 0 "mpiexec -n 2 hmc, default observables" -- mpi 2 "$lf" hmc tiny.yaml --output d2
expect_code 0 "mpiexec -n 2 hmc, [chi2, phi2]" -- mpi 2 "$lf" hmc tiny.yaml --output s2 $sel

# compare SEL with REF: obs_names, obs == REF's columns [3, 0], corr and chains bitwise
cmp_sel() { # cmp_sel REF SEL DESC
  if $py - "$1" "$2" > cmp.txt 2>&1 <<'PY'
import sys, h5py, numpy as np
ref, sel = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = [n.decode() if isinstance(n, bytes) else str(n) for n in sel.attrs["obs_names"]]
rnames = [n.decode() if isinstance(n, bytes) else str(n) for n in ref.attrs["obs_names"]]
assert rnames == ["phi2", "mag", "abs_mag", "chi2", "energy"], rnames
assert names == ["chi2", "phi2"], names
assert int(sel.attrs["nobs"]) == 2, sel.attrs["nobs"]
R = int(ref.attrs["nchains"])
assert int(sel.attrs["nchains"]) == R
for r in range(R):
    a, b = ref[f"chain_{r}"], sel[f"chain_{r}"]
    o, p = a["obs"][...], b["obs"][...]
    assert p.shape == (o.shape[0], 2), (p.shape, o.shape)
    assert o.shape[0] > 10
    assert np.array_equal(p.view(np.uint64), o[:, [3, 0]].view(np.uint64)), "obs values"
    for d in ("corr", "row", "id", "dH", "logw", "accepted", "configs"):
        if d in a:
            assert np.array_equal(a[d][...].view(np.uint8), b[d][...].view(np.uint8)), d
    print(f"chain {r}: {o.shape[0]} rows, obs == reference[:, [3, 0]] bitwise")
PY
  then ok "$3: $(tr '\n' ' ' < cmp.txt)"; else bad "$3"; cat cmp.txt; fi
}
cmp_sel d/ensemble.h5 s/ensemble.h5 "sample [chi2, phi2] vs default"
cmp_sel d/ensemble.h5 s3/ensemble.h5 "sample on 3 ranks [chi2, phi2] vs serial default"
cmp_sel d/hmc.h5 s/hmc.h5 "hmc [chi2, phi2] vs default"
cmp_sel d2/hmc.h5 s2/hmc.h5 "hmc on 2 ranks [chi2, phi2] vs default on 2 ranks"

expect_code 0 "analyze the selection" -- "$lf" analyze s/ensemble.h5 --json
if $py -c 'import json,sys; o=json.load(open("out.txt"))["observables"]; assert list(o) == ["chi2", "phi2"], list(o)' 2>cmp.txt
then ok "analyze: observables chi2, phi2"; else bad "analyze observables"; cat cmp.txt; fi
expect_code 0 "plot the selection" -- "$lf" plot s/hmc.h5 --out plots
head -1 plots/history.dat 2>/dev/null | grep -q " chi2 phi2 logw" && ok "plot history columns chi2 phi2" \
  || { bad "plot history header: $(head -1 plots/history.dat 2>/dev/null)"; }

expect_code 0 "run, [chi2, phi2]" -- "$lf" run tiny.yaml --output r $sel --set hmc.compare=true
if grep -qE '^[ !] chi2 ' err.txt out.txt && grep -qE '^[ !] phi2 ' err.txt out.txt && ! grep -qE '^[ !] (energy|mag|abs_mag) ' err.txt out.txt
then ok "run's table lists chi2 and phi2 only"; else bad "run's table"; cat out.txt err.txt | tail -30; fi
n=$($py -c 'import h5py; print(h5py.File("r/ensemble.h5")["chain_0/obs"].shape[1], h5py.File("r/hmc.h5")["chain_0/obs"].shape[1])')
[ "$n" = "2 2" ] && ok "run's ensemble.h5 and hmc.h5 have 2 obs columns" || bad "run's files have '$n' columns"

"$lf" hmc tiny.yaml --output e --set 'observables=[]' > out.txt 2> err.txt; c=$?
[ "$c" = 2 ] && grep -q "observables: must have 1 to 16 entries" err.txt && ok "observables [] refused (exit 2)" \
  || { bad "observables []: exit $c"; cat err.txt; }
finish
