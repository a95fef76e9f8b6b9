#!/usr/bin/env bash
# Out of memory is named up front (issue 13, defect 14): a card that needs TiBs is refused
# by train, sample, run and bench with exit 2, the number and the biggest part, and nothing
# is created in its output folder; LATFLOW_MEM_LIMIT moves the line (an hmc card with the
# Schwinger model's dense Dirac matrices (theory.logdet: dense) is refused under its estimate and accepted over it); LATFLOW_MEM_CHECK=0 bypasses
# the check; a bad LATFLOW_MEM_LIMIT is exit 2; under mpiexec -n 2 the node's memory is
# divided between the ranks and a refusal stops both; and the estimate in the start-up log is
# within a factor 2 of the measured peak RSS of real runs (train phi4 and u1, sample, hmc
# Schwinger with its dense Dirac matrices).
# usage: memory.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
unset LATFLOW_MEM_LIMIT LATFLOW_MEM_CHECK
# the estimate of the last run's "memory: about X UNIT" log line, in bytes
estimate() {
  grep -o 'memory: about [0-9.]* [KMGTP]\?i\?B' err.txt | head -1 |
    awk '{v=$3; u=$4; m=1; if(u=="KiB")m=2^10; if(u=="MiB")m=2^20; if(u=="GiB")m=2^30;
          if(u=="TiB")m=2^40; if(u=="PiB")m=2^50; printf "%.0f\n", v*m}'
}
# peak RSS in bytes of a command (its children included), its output in out.txt/err.txt
peak_rss() {
  /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys
with open("out.txt", "w") as o, open("err.txt", "w") as e:
    rc = subprocess.call(sys.argv[1:], stdout=o, stderr=e)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
PY
}

cat > small.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 16, stop: {steps: 2}, eval_samples: 0, checkpoint_every: 0}
sample: {proposals: 256, block: 64, save: none}
hmc: {trajectories: 10, therm: 2, compare: false}
YAML
expect_code 0 "a small model to sample from" -- "$lf" train small.yaml --output m

# --- a card needing TiBs: refused by every command that builds a flow, nothing created -----
# (hmc needs at most a few GiB: the Schwinger model's Dirac matrices, tested further down)
huge=(--set 'theory.shape=[512,512]' --set 'model={layers: 16, hidden: [8, 8]}'
      --set train.batch=4096 --set sample.block=4096)
for cmd in train sample run bench; do
  args=("${huge[@]}")
  [ "$cmd" = sample ] && args+=(--model m/model.h5)
  expect_code 2 "$cmd of a TiB card is refused" -- "$lf" $cmd small.yaml "${args[@]}" --output "huge_$cmd"
  expect_err_re "this card needs about [0-9.]+ (TiB|GiB) per rank" "$cmd names the number"
  expect_err_re "available \(MemAvailable|available \(cgroup|available \(RLIMIT" "$cmd names what is available"
  # (sample --model takes the model's architecture: 2 layers, so GiBs of fields lead there)
  expect_err_re "\((flow workspaces|flow fields) [0-9.]+ [GT]iB: .*(train.batch|sample.block) 4096" \
    "$cmd names the biggest part"
  expect_err_re "lower (train.batch|sample.block)|LATFLOW_MEM_CHECK=0 skips" "$cmd says what to do"
  [ -e "huge_$cmd" ] && bad "$cmd created huge_$cmd" || ok "$cmd created nothing"
done

# --- LATFLOW_MEM_LIMIT: refused under the estimate, accepted over it ------------------------
expect_code 0 "hmc schwinger 32x32 (exact)" -- "$lf" hmc "$src/configs/schwinger-L8-b2.yaml" \
  --set 'theory.shape=[32,32]' --set theory.logdet=dense --set hmc.fermion=exact --set hmc.trajectories=1 \
  --set hmc.therm=0 --set hmc.steps=1 --output probe
e=$(estimate); echo "     schwinger 32x32 hmc estimate: $e bytes"
[ -n "$e" ] && [ "$e" -gt 134217728 ] && ok "estimate includes the 2 Dirac matrices (> 128 MiB)" \
  || bad "schwinger estimate '$e'"
sch=("$src/configs/schwinger-L8-b2.yaml" --set 'theory.shape=[32,32]' --set theory.logdet=dense
     --set hmc.fermion=exact
     --set hmc.trajectories=1 --set hmc.therm=0 --set hmc.steps=1)
LATFLOW_MEM_LIMIT=$((e * 8 / 10)) expect_code 2 "LATFLOW_MEM_LIMIT = 0.8 x estimate refuses" -- \
  "$lf" hmc "${sch[@]}" --output lim_lo
expect_err_re "needs about .* per rank for hmc \(Dirac matrices 1[0-9][0-9].[0-9] MiB" "names the Dirac matrices"
expect_err_re "available \(LATFLOW_MEM_LIMIT=" "names LATFLOW_MEM_LIMIT"
expect_err_re "theory.shape" "says to lower theory.shape"
[ -e lim_lo ] && bad "refused hmc created lim_lo" || ok "refused hmc created nothing"
LATFLOW_MEM_LIMIT=$((e * 12 / 10)) expect_code 0 "LATFLOW_MEM_LIMIT = 1.2 x estimate runs" -- \
  "$lf" hmc "${sch[@]}" --output lim_hi
LATFLOW_MEM_LIMIT=1M LATFLOW_MEM_CHECK=0 expect_code 0 "LATFLOW_MEM_CHECK=0 bypasses the check" -- \
  "$lf" train small.yaml --output bypass
expect_err_re "LATFLOW_MEM_CHECK=0: not checked" "the bypass is logged"
LATFLOW_MEM_LIMIT=1M expect_code 2 "a train card over LATFLOW_MEM_LIMIT=1M" -- "$lf" train small.yaml --output lim_tr
[ -e lim_tr ] && bad "refused train created lim_tr" || ok "refused train created nothing"
LATFLOW_MEM_LIMIT=2X expect_code 2 "LATFLOW_MEM_LIMIT=2X is bad usage" -- "$lf" train small.yaml --output lim_bad
expect_err_re "LATFLOW_MEM_LIMIT: .*unknown unit" "the bad limit is named"
expect_code 0 "config ignores the memory" -- "$lf" config small.yaml "${huge[@]}"

# --- rlimits: ulimit -v (RLIMIT_AS) and ulimit -d (RLIMIT_DATA) bound a process ----------
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null)
if [ -n "$avail_kb" ] && [ "$avail_kb" -gt 8000000 ]; then
  rl=(train small.yaml --set 'theory.shape=[64,64]' --set 'model={layers: 16, hidden: [8, 8]}'
      --set train.batch=512 --output rl)
  ( ulimit -v 3000000; "$lf" "${rl[@]}" > out.txt 2> err.txt; echo $? > rc.txt )
  [ "$(cat rc.txt)" = 2 ] && ok "a 2.8 GiB card under ulimit -v 3000000 is refused (exit 2)" \
    || { bad "ulimit -v: exit $(cat rc.txt), want 2"; tail -2 err.txt; }
  expect_err_re "available \(RLIMIT_AS \(ulimit -v\) headroom" "ulimit -v is named"
  ( ulimit -d 1000000; "$lf" "${rl[@]}" > out.txt 2> err.txt; echo $? > rc.txt )
  [ "$(cat rc.txt)" = 2 ] && ok "the card under ulimit -d 1000000 is refused (exit 2)" \
    || { bad "ulimit -d: exit $(cat rc.txt), want 2"; tail -2 err.txt; }
  expect_err_re "available \(RLIMIT_DATA \(ulimit -d\) headroom" "ulimit -d is named"
  [ -e rl ] && bad "a refused card created rl" || ok "the refused cards created nothing"
else
  echo "skip the rlimit cases: MemAvailable ${avail_kb:-?} kB < 8 GB would refuse first"
fi

# --- several ranks: the node's memory is shared among them, a refusal stops every rank ------
if command -v mpiexec > /dev/null; then
  expect_code 0 "mpiexec -n 2 hmc" -- mpi 2 "$lf" hmc small.yaml --output mpi_ok
  expect_err_re "available [0-9.]+ [KMGT]iB \((MemAvailable|cgroup).* / 2 ranks on this node\)" \
    "the available memory is divided among the 2 ranks of the node"
  LATFLOW_MEM_LIMIT=1M expect_code 2 "mpiexec -n 2 hmc over LATFLOW_MEM_LIMIT=1M" -- \
    mpi 2 -x LATFLOW_MEM_LIMIT "$lf" hmc small.yaml --output mpi_lo
  expect_err_re "needs about [0-9.]+ MiB per rank for hmc" "a rank names the number"
  [ -e mpi_lo ] && bad "refused mpiexec hmc created mpi_lo" || ok "refused mpiexec hmc created nothing"
fi

# --- the estimate against the measured peak RSS --------------------------------------------
check_rss() { # check_rss DESC -- cmd...
  local desc=$1; shift 2
  read -r rc rss < <(peak_rss "$@")
  local e; e=$(estimate)
  if [ "$rc" != 0 ] || [ -z "$e" ]; then bad "$desc: exit $rc, estimate '$e'"; tail -3 err.txt; return; fi
  local r; r=$(awk -v a="$rss" -v b="$e" 'BEGIN{printf "%.2f", a/b}')
  if awk -v r="$r" 'BEGIN{exit !(r > 0.5 && r < 2.0)}'; then
    ok "$desc: peak RSS $((rss / 1048576)) MiB / estimate $((e / 1048576)) MiB = $r, in (0.5, 2)"
  else
    bad "$desc: peak RSS $((rss / 1048576)) MiB / estimate $((e / 1048576)) MiB = $r, not in (0.5, 2)"
  fi
}
check_rss "train phi4 32x32 batch 256" -- "$lf" train small.yaml --set 'theory.shape=[32,32]' \
  --set 'model={layers: 8, hidden: [16, 16]}' --set train.batch=256 --output rss_train
check_rss "sample phi4 32x32 block 512" -- "$lf" sample small.yaml --set 'theory.shape=[32,32]' \
  --set 'model={layers: 8, hidden: [16, 16]}' --set sample.block=512 --set sample.proposals=2048 \
  --set sample.save=all --model rss_train/model.h5 --output rss_sample
check_rss "train u1 16x16 batch 128 (gauge flow)" -- "$lf" train "$src/configs/u1-L8-b2.yaml" \
  --set 'theory.shape=[16,16]' --set train.batch=128 --set train.stop.steps=1 \
  --set train.eval_samples=0 --output rss_u1
check_rss "hmc schwinger 32x32" -- "$lf" hmc "${sch[@]}" --output rss_hmc
check_rss "train phi4 8x8 (runtime only)" -- "$lf" train small.yaml --output rss_tiny

finish memory.sh
