#!/usr/bin/env bash
# latflow hmc under mpiexec: one independent chain per rank in one multi-chain file.
# Chain 0 (rank 0) is bitwise the serial run's chain; chain 1 differs (its own stream);
# analyze treats the chains as replicas.
# usage: cli_hmc_mpi.sh LATFLOW WORKDIR SOURCEDIR
set -u
lf=$1; wd=$2; src=$3
rm -rf "$wd"; mkdir -p "$wd"; cd "$wd" || exit 1
fails=0; passes=0
ok()   { passes=$((passes+1)); echo "ok   $*"; }
bad()  { fails=$((fails+1)); echo "FAIL $*"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cat > tiny.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
hmc: {trajectories: 3000, therm: 50, tau: 1.0, steps: 8}
YAML
"$lf" hmc tiny.yaml --output s > s.out 2> s.err && ok "serial hmc" || { bad "serial hmc"; cat s.err; }
mpiexec -n 2 --oversubscribe "$lf" hmc tiny.yaml --output p --json > p.out 2> p.err && ok "mpiexec -n 2 hmc" || { bad "mpiexec -n 2 hmc"; cat p.err; }
grep -q '"chains":[[:space:]]*2' p.out && ok "json says 2 chains" || bad "json lacks chains: 2"
ls p/hmc.part*.h5 >/dev/null 2>&1 && bad "part files left" || ok "part files removed"
"$lf" analyze p/hmc.h5 --json > a.out 2> a.err && ok "analyze merged" || { bad "analyze merged"; cat a.err; }
grep -q '"chains":[[:space:]]*2' a.out && ok "analyze: 2 chains" || bad "analyze: not 2 chains"
grep -q '"n":[[:space:]]*6000' a.out && ok "analyze: n = 6000" || bad "analyze: n != 6000"
for d in obs row dH accepted; do
  h5diff -q s/hmc.h5 p/hmc.h5 /chain_0/$d /chain_0/$d && ok "chain 0 $d bitwise equal to the serial run" || bad "chain 0 $d differs from the serial run"
done
h5diff -q p/hmc.h5 p/hmc.h5 /chain_0/dH /chain_1/dH >/dev/null 2>&1 && bad "chain 1 repeats chain 0" || ok "chain 1 is an independent chain"
mpiexec -n 2 --oversubscribe "$lf" hmc tiny.yaml --output p > /dev/null 2> p2.err && bad "second run overwrote" || ok "existing hmc.h5 refused on all ranks"
grep -q "refusing to overwrite" p2.err && ok "refusal explained" || bad "refusal not explained"
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
