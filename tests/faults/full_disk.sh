#!/usr/bin/env bash
# A full disk (issue 13, defect 3). train, hmc (1 and 2 ranks), sample (1 and 2 ranks),
# latflow-merge and plot write into a 3 MiB tmpfs whose free space a ballast file sets, so
# that the disk fills at the first file's creation, in mid-run data writes or at a
# checkpoint. Each must exit 1 (no signal, no hang, no MPI_Abort), say "No space left on
# device" naming the file, leave no temporary it cannot resume from, keep its last
# checkpoint (and .prev) usable and, once the ballast is removed, resume with --resume to
# the bitwise result of an uninterrupted run (on 2 ranks for sample). plot must not leave
# an empty or truncated PNG behind an exit 0 (gnuplot itself exits 0 then).
# Root only (mount); otherwise, or if the mount fails, skipped (exit 77).
# usage: full_disk.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
# a tmpfs left mounted by a killed earlier run would stop lf_setup's rm -rf
if mountpoint -q "$2/mnt" 2>/dev/null; then umount "$2/mnt" 2>/dev/null; fi
lf_setup "$@"
mkdir mnt
mount -t tmpfs -o size=3m tmpfs mnt 2>mount.err || skip "cannot mount a tmpfs: $(cat mount.err)"
trap 'umount "$wd/mnt" 2>/dev/null' EXIT
cat > c.yaml <<'YAML'
seed: 11
theory: {name: phi4, shape: [8, 8], m2: -4.0, lambda: 8.0}
model: {layers: 4, hidden: [8]}
train: {batch: 64, stop: {steps: 200}, eval_samples: 0, checkpoint_every: 20, log_every: 50}
sample: {proposals: 3072, block: 64, epoch: 4, checkpoint_every: 512, save: all}
hmc: {trajectories: 1000, therm: 50, tau: 1.0, steps: 10, checkpoint_every: 200}
YAML
"$lf" train c.yaml --output m > m.log 2>&1 || { bad "reference training"; tail -3 m.log; }
"$lf" hmc c.yaml --output h > h.log 2>&1 || { bad "reference hmc"; tail -3 h.log; }
mpi 2 "$lf" sample c.yaml --model m/model.h5 --output s2 > s2.log 2>&1 || { bad "reference sample -n 2"; tail -3 s2.log; }
for s in 1 2; do
  "$lf" sample c.yaml --model m/model.h5 --output e$s --set seed=$s --set sample.save=accepted > e$s.log 2>&1 \
    || { bad "input ensemble $s"; tail -3 e$s.log; }
done
# mpiexec for full's timeout (which runs no shell function such as lib.sh's mpi)
M2=(mpiexec -n 2 --oversubscribe)
# fill FREE_KB: empty the tmpfs but for a ballast that leaves FREE_KB free
fill() { rm -rf mnt/* mnt/.[!.]* 2>/dev/null; fallocate -l $((3072 - $1))k mnt/ballast; }
# full DESC FILE -- cmd...: exit 1 within 120 s, not a signal; the message names FILE and
# the errno text; no crash and no MPI_Abort banner
full() {
  local desc=$1 file=$2; shift 3
  timeout 120 "$@" > out.txt 2> err.txt; local rc=$?
  if [ $rc = 1 ]; then ok "$desc: exit 1"
  elif [ $rc -gt 128 ] || [ $rc = 124 ]; then bad "$desc: exit $rc (a signal or a hang)"
  else bad "$desc: exit $rc, want 1"; fi
  if grep -i "no space left on device" err.txt | grep -qF "$file"; then ok "$desc: names $file and 'No space left on device'"
  else bad "$desc: no message naming $file with 'No space left on device'"; grep -v '^\[r' err.txt | head -5; fi
  if grep -qE "Segmentation|Process received signal|MPI_ABORT|core dumped" err.txt; then
    bad "$desc: crash or MPI_Abort output"; grep -E "Segmentation|signal|MPI_ABORT" err.txt | head -3
  else ok "$desc: no crash, no MPI_Abort"; fi
}
# no_tmp DESC DIR: no temporary left in DIR
no_tmp() {
  if ls "$2"/*.tmp >/dev/null 2>&1; then bad "$1: temporaries left: $(cd "$2" && ls ./*.tmp)"; else ok "$1: no temporary left"; fi
}
# same_as REF OUT DESC DATASET...: each dataset bitwise equal (h5same)
same_as() {
  local ref=$1 out=$2 desc=$3 d diff=""; shift 3
  for d in "$@"; do h5same "$ref" "$out" "$d" || diff="$diff $d"; done
  [ -z "$diff" ] && ok "$desc: bitwise equal to the uninterrupted run" || bad "$desc: differs in$diff"
}

# 1. train: the disk is full at the first file's creation
fill 4
full "train, full at the start" "mnt/o/train.h5.tmp" -- "$lf" train c.yaml --output mnt/o
no_tmp "train, full at the start" mnt/o

# 2. train: full at a later checkpoint; the previous checkpoints are kept and resume
fill 150
full "train, full at a checkpoint" "mnt/o/train.ckpt.h5.tmp" -- "$lf" train c.yaml --output mnt/o
[ -s mnt/o/train.ckpt.h5 ] && [ -s mnt/o/train.ckpt.h5.prev ] && ok "train: checkpoint and .prev kept" \
  || bad "train: checkpoint or .prev missing: $(ls mnt/o)"
[ -e mnt/o/model.failed.h5 ] && bad "train: a full disk marked the run failed (model.failed.h5)" || ok "train: not marked failed"
rm -f mnt/ballast
resume_ok "train after making room" r.log "$lf" train c.yaml --output mnt/o --resume
same_as m/model.h5 mnt/o/model.h5 "train, model" /model/params
same_as m/train.h5 mnt/o/train.h5 "train, metrics" /loss /grad_norm /ess /step

# 3. hmc: full in mid-run before any checkpoint
fill 60
full "hmc, full mid-run" "mnt/o/hmc.h5.tmp" -- "$lf" hmc c.yaml --output mnt/o

# 4. hmc: full after a checkpoint; resume
fill 500
full "hmc, full after a checkpoint" "mnt/o/hmc.h5.tmp" -- "$lf" hmc c.yaml --output mnt/o
[ -s mnt/o/hmc.ckpt.h5 ] && ok "hmc: checkpoint kept" || bad "hmc: no checkpoint: $(ls mnt/o)"
rm -f mnt/ballast
resume_ok "hmc after making room" r.log "$lf" hmc c.yaml --output mnt/o --resume
same_as h/hmc.h5 mnt/o/hmc.h5 "hmc" /chain_0/obs /chain_0/row /chain_0/dH /chain_0/accepted

# 5. hmc on 2 ranks (a part file per rank)
fill 60
full "hmc -n 2, full mid-run" "hmc.part" -- "${M2[@]}" "$lf" hmc c.yaml --output mnt/o

# 6. sample on 1 rank, full in mid-run
fill 60
full "sample, full mid-run" "mnt/o/ensemble.h5.tmp" -- "$lf" sample c.yaml --model m/model.h5 --output mnt/o

# 7. sample on 2 ranks (collective MPI-IO writes): full at the creation of the file
for k in 4 8; do
  fill $k
  full "sample -n 2, full at the start ($k KiB free)" "mnt/o/ensemble.h5.tmp" -- "${M2[@]}" "$lf" sample c.yaml --model m/model.h5 --output mnt/o
  no_tmp "sample -n 2, full at the start ($k KiB free)" mnt/o
done

# 8. sample on 2 ranks, full in mid-run before and after checkpoints; resume on 2 ranks
for k in 60 900 1200; do
  fill $k
  full "sample -n 2, full mid-run ($k KiB free)" "mnt/o/ensemble.h5.tmp" -- "${M2[@]}" "$lf" sample c.yaml --model m/model.h5 --output mnt/o
  rm -f mnt/ballast
  resume_ok "sample -n 2 ($k KiB free) after making room" r.log mpi 2 "$lf" sample c.yaml --model m/model.h5 --output mnt/o --resume
  same_ens s2/ensemble.h5 mnt/o/ensemble.h5 1 "sample -n 2 ($k KiB free), resumed"
done
grep -q "resuming after 1536 proposals" r.log && ok "sample -n 2: the resume started from the last checkpoint (1536)" \
  || { bad "sample -n 2: resume point"; grep -E "resuming|starting over" r.log; }

# 9. latflow-merge: full while copying; the inputs stay intact, no temporary is left
fill 60
sums=$(md5sum e1/ensemble.h5 e2/ensemble.h5)
full "merge, full" "mnt/merged.h5.tmp" -- "$merge" mnt/merged.h5 e1/ensemble.h5 e2/ensemble.h5
[ "$sums" = "$(md5sum e1/ensemble.h5 e2/ensemble.h5)" ] && ok "merge: inputs unchanged" || bad "merge: inputs changed"
ls mnt/merged.h5* >/dev/null 2>&1 && bad "merge: left $(ls mnt/merged.h5*)" || ok "merge: no output or temporary left"

# 10. plot: full while writing the data, and while gnuplot writes the PNGs (it exits 0
# then): exit 1, and no empty or truncated PNG is left
if command -v gnuplot >/dev/null 2>&1; then
  for k in 40 700; do
    fill $k
    full "plot, full ($k KiB free)" "mnt/p/" -- "$lf" plot s2/ensemble.h5 --out mnt/p
    n=0
    for p in mnt/p/*.png; do
      [ -e "$p" ] || continue
      tail -c 8 "$p" | od -An -tx1 | grep -q "49 45 4e 44 ae 42 60 82" || n=$((n + 1))
    done
    [ $n = 0 ] && ok "plot, full ($k KiB free): every PNG left is whole" || bad "plot, full ($k KiB free): $n broken PNGs left"
  done
else
  echo "note: gnuplot not installed, plot cases not run"
fi

finish full_disk
