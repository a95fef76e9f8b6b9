#!/usr/bin/env bash
# One output folder, one run (issue 13, defect 1): while `latflow hmc` runs into out/a, a
# second hmc, a second hmc with --force, a sample, a train and a 2-rank hmc into out/a
# are refused (exit 1, "is in use by another latflow run (pid ... on host ...)") and the
# first run finishes with exit 0 and the same ensemble as an undisturbed run of the same
# card (analyze: same n and same <phi2>, every digit). A run killed with SIGKILL leaves no
# stuck lock: the next run into its folder starts and finishes.
# usage: sec_lock.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
cat > long.yaml <<'YAML'
seed: 7
output: out/a
theory: {name: phi4, shape: [32, 32], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 16, stop: {steps: 10}, eval_samples: 100}
sample: {proposals: 500, block: 64}
hmc: {trajectories: 50000, therm: 10, tau: 2.0, steps: 20, checkpoint_every: 500}
YAML
# wait_locked DIR: until a run has written its name into DIR/.latflow.lock (at most 60 s)
wait_locked() {
  for _ in $(seq 600); do grep -q '^pid' "$1/.latflow.lock" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
# refused DESC -- cmd...: exit 1 and the message of a folder in use
refused() {
  local desc=$1; shift 2
  "$@" >o2.txt 2>e2.txt; local got=$?
  if [ "$got" = 1 ] && grep -q "'out/a' is in use by another latflow run (pid $pid on host" e2.txt; then
    ok "$desc: refused (exit 1)"
  else bad "$desc: exit $got"; tail -5 e2.txt; fi
}
mean_phi2() { # "n acceptance <phi2>" of an ensemble, every digit
  "$lf" analyze "$1" --json 2>/dev/null | /usr/bin/python3 -c \
    'import json,sys; j=json.load(sys.stdin); print(j["n"], repr(j["acceptance"]), repr(j["observables"]["phi2"]["mean"]))'
}

"$lf" hmc long.yaml >o1.txt 2>e1.txt & pid=$!
if wait_locked out/a; then ok "first run holds the lock: $(cat out/a/.latflow.lock)"; else bad "no lock file"; fi
# hold the first run (SIGSTOP keeps its lock) so the refusals below do not race its end
# on a loaded machine; it continues with SIGCONT and must still finish correctly
kill -STOP $pid
refused "second hmc" -- "$lf" hmc long.yaml
refused "second hmc --force" -- "$lf" hmc long.yaml --force
refused "sample --force" -- "$lf" sample long.yaml --force
refused "train --force" -- "$lf" train long.yaml --force
refused "run --force" -- "$lf" run long.yaml --force
if command -v mpiexec >/dev/null; then
  refused "2-rank hmc --force" -- mpi 2 "$lf" hmc long.yaml --force
fi
kill -0 $pid 2>/dev/null && ok "first run still running after the refusals" || bad "first run ended early"
kill -CONT $pid
wait $pid; got=$?
[ "$got" = 0 ] && ok "first run finished (exit 0)" || { bad "first run: exit $got"; tail -5 e1.txt; }
"$lf" hmc long.yaml --output out/ref >/dev/null 2>&1 || bad "reference run"
a=$(mean_phi2 out/a/hmc.h5); r=$(mean_phi2 out/ref/hmc.h5)
[ -n "$a" ] && [ "$a" = "$r" ] && ok "first run's ensemble equals an undisturbed run's" \
  || bad "ensembles differ: '$a' vs '$r'"
"$lf" hmc long.yaml --force --set hmc.trajectories=200 >/dev/null 2>&1 && ok "after the first run ends, the folder is free" \
  || bad "folder still locked after the run ended"

# SIGKILL: no stuck lock
"$lf" hmc long.yaml --output out/k >/dev/null 2>&1 & pid=$!
wait_locked out/k && sleep 0.5
kill -KILL $pid; wait $pid 2>/dev/null
[ -e out/k/.latflow.lock ] && ok "killed run left its lock file" || bad "no lock file in out/k"
"$lf" hmc long.yaml --output out/k --set hmc.trajectories=200 --force >o3.txt 2>e3.txt \
  && ok "a run into the killed run's folder starts and finishes" || { bad "after SIGKILL: refused"; tail -3 e3.txt; }
finish
