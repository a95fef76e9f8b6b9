#!/usr/bin/env bash
# kill_points.sh for hmc: SIGKILL at every step of its on-disk protocol (docs/ARCHITECTURE.md
# "Crash recovery") on 1 and 2 ranks, including every step of the merge of the part files,
# then --resume: hmc.h5 must be bitwise the uninterrupted run's, with no checkpoint, part
# or temporary file left. Kills by the test-only fault hook (LATFLOW_FAULT=<point>[:<count>],
# src/core/fault.c) or, "before the first checkpoint", LATFLOW_TEST_INTERRUPT=hmc:<t>:KILL.
# usage: kill_hmc.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

cat > c.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 2, hidden: [8]}
train: {batch: 32, stop: {steps: 60}, checkpoint_every: 20, eval_samples: 0, log_every: 10}
sample: {proposals: 8192, block: 64, epoch: 4, checkpoint_every: 2048, save: all}
hmc: {trajectories: 600, therm: 40, steps: 5, checkpoint_every: 128, compare: false}
YAML

# ---- references ----
"$lf" hmc c.yaml --output ref_h > ref_h.log 2>&1 && ok "reference hmc" || bad "reference hmc"
mpi 2 "$lf" hmc c.yaml --output ref_h2 > ref_h2.log 2>&1 && ok "reference hmc, 2 ranks" || bad "reference hmc, 2 ranks"
# ---- hmc, 1 and 2 ranks ----
h_case() { # NAME NP DESC ENV...
  local d=$1 np=$2 desc="hmc np $2 $3" ref=ref_h; shift 3
  [ "$np" = 2 ] && ref=ref_h2
  env "$@" mpiexec -n "$np" --oversubscribe "$lf" hmc c.yaml --output "$d" > "$d.1.log" 2>&1
  killed "$desc" $?
  resume_ok "$desc" "$d.2.log" mpi "$np" "$lf" hmc c.yaml --output "$d" --resume
  same_ens $ref/hmc.h5 "$d/hmc.h5" "$np" "$desc"
}
h_case h1 1 "before the first checkpoint" LATFLOW_TEST_INTERRUPT=hmc:100:KILL
grep -q "starting from the beginning" h1.2.log && ok "hmc: the restart is logged" || bad "hmc: no restart line"
h_case h2 1 "after the first checkpoint's .tmp" LATFLOW_FAULT=after_checkpoint_tmp
h_case h3 1 "after the final rename" LATFLOW_FAULT=after_final_rename
h_case h4 2 "before the first checkpoint" LATFLOW_TEST_INTERRUPT=hmc:100:KILL:0
h_case h5 2 "after the parts, before the merge" LATFLOW_FAULT=after_parts
h_case h6 2 "before the merge's rename" LATFLOW_FAULT=merge_tmp
h_case h7 2 "after the merge, parts not removed" LATFLOW_FAULT=after_merge
h_case h8 2 "after removing part 0" LATFLOW_FAULT=after_part_removed:1
h_case h9 2 "after the merge, before the checkpoint removal" LATFLOW_FAULT=after_final_rename

# killed while the ranks renamed their parts: part 0 final, part 1 still .tmp (made from
# the state after_parts leaves, by renaming part 1 back)
LATFLOW_FAULT=after_parts mpi 2 "$lf" hmc c.yaml --output h10 > h10.1.log 2>&1; killed "hmc np 2 between the part renames" $?
mv h10/hmc.part1.h5 h10/hmc.part1.h5.tmp
resume_ok "hmc np 2 between the part renames" h10.2.log mpi 2 "$lf" hmc c.yaml --output h10 --resume
same_ens ref_h2/hmc.h5 h10/hmc.h5 2 "hmc np 2 between the part renames"

finish kill_hmc
