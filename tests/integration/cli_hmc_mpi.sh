#!/usr/bin/env bash
# latflow hmc under mpiexec: one independent chain per rank in one multi-chain file.
# Chain 0 (rank 0) is bitwise the serial run's chain; chain 1 differs (its own stream);
# analyze treats the chains as replicas. --json prints one document (rank 0's) whose
# acceptance is over all chains, with acceptance_per_chain listing each chain's.
# usage: cli_hmc_mpi.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
cat > tiny.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
hmc: {trajectories: 3000, therm: 50, tau: 1.0, steps: 8}
YAML
"$lf" hmc tiny.yaml --output s > s.out 2> s.err && ok "serial hmc" || { bad "serial hmc"; cat s.err; }
mpi 2 "$lf" hmc tiny.yaml --output p --json > p.out 2> p.err && ok "mpiexec -n 2 hmc" || { bad "mpiexec -n 2 hmc"; cat p.err; }
grep -q '"chains":[[:space:]]*2' p.out && ok "json says 2 chains" || bad "json lacks chains: 2"
if /usr/bin/python3 - p.out p/hmc.h5 > acc.txt 2>&1 <<'PY'
import json, sys, h5py
j = json.load(open(sys.argv[1]))  # one document: a second {} would not parse
h = h5py.File(sys.argv[2], "r")
acc = [h[f"chain_{r}/accepted"][...] for r in range(2)]
per = [float(a.mean()) for a in acc]
tot = float(sum(a.sum() for a in acc)) / sum(len(a) for a in acc)
assert len(acc[0]) == len(acc[1]) == 3000
assert per[0] != per[1], per  # else the test could not tell chain 0 from all chains
assert abs(j["acceptance"] - tot) < 1e-12, (j["acceptance"], tot, per)
assert len(j["acceptance_per_chain"]) == 2
assert all(abs(x - y) < 1e-12 for x, y in zip(j["acceptance_per_chain"], per)), (j["acceptance_per_chain"], per)
print(f"acceptance {j['acceptance']} = all chains {tot}, per chain {per}")
PY
then ok "json: one document, $(cat acc.txt)"; else bad "json acceptance"; cat acc.txt; fi
ls p/hmc.part*.h5 >/dev/null 2>&1 && bad "part files left" || ok "part files removed"
"$lf" analyze p/hmc.h5 --json > a.out 2> a.err && ok "analyze merged" || { bad "analyze merged"; cat a.err; }
grep -q '"chains":[[:space:]]*2' a.out && ok "analyze: 2 chains" || bad "analyze: not 2 chains"
grep -q '"n":[[:space:]]*6000' a.out && ok "analyze: n = 6000" || bad "analyze: n != 6000"
for d in obs row dH accepted; do
  h5diff -q s/hmc.h5 p/hmc.h5 /chain_0/$d /chain_0/$d && ok "chain 0 $d bitwise equal to the serial run" || bad "chain 0 $d differs from the serial run"
done
h5diff -q p/hmc.h5 p/hmc.h5 /chain_0/dH /chain_1/dH >/dev/null 2>&1 && bad "chain 1 repeats chain 0" || ok "chain 1 is an independent chain"
mpi 2 "$lf" hmc tiny.yaml --output p > /dev/null 2> p2.err && bad "second run overwrote" || ok "existing hmc.h5 refused on all ranks"
grep -q "refusing to overwrite" p2.err && ok "refusal explained" || bad "refusal not explained"
finish
