#!/usr/bin/env bash
# test_smoke.sh BINDIR WORKDIR SRCDIR — the local cluster does what the job scripts rely on:
# its settings (MpiDefault=pmix, JobRequeue=1, no kill_invalid_depend), sbatch --wrap,
# srun -n 2, latflow's MPI ranks forming one communicator under srun --mpi=pmix, plain srun
# and mpirun inside an allocation, scancel --signal=USR1 --batch reaching the batch shell's trap,
# afterok on success, and afterok + --kill-on-invalid-dep=yes cancelling the dependent of a
# failed job. Run by tests/slurm/run.sh (PREFIX/env.sh sourced); about 20 s.
set -u
BIN=$1; wd=$2
. "$(dirname "$0")/lib.sh"
mkdir -p "$wd"; cd "$wd" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[ -n "${SLURM_CONF:-}" ] || { echo "FAIL SLURM_CONF not set (run me through tests/slurm/run.sh)"; exit 1; }

# ---- 0. the cluster's settings
cfg=$(scontrol show config 2>&1)
grep -Eq '^MpiDefault +=.*pmix' <<<"$cfg" && ok "MpiDefault = pmix" || bad "MpiDefault: $(grep '^MpiDefault' <<<"$cfg")"
grep -Eq '^JobRequeue += 1' <<<"$cfg" && ok "JobRequeue = 1" || bad "JobRequeue: $(grep '^JobRequeue' <<<"$cfg")"
grep -q kill_invalid_depend <<<"$cfg" && bad "kill_invalid_depend is set (jobs must ask with --kill-on-invalid-dep)" \
  || ok "kill_invalid_depend not set"
st=$(sinfo -h -o %T | head -1)
[ "$st" = idle ] && ok "node idle" || bad "node state '$st'"

# ---- 1. sbatch --wrap hostname
t=$(slurm_now)
j=$(sbatch --parsable -o wrap.out --wrap hostname)
s=$(slurm_wait_job "$j" 60)
if [ "$s" = COMPLETED ] && [ "$(cat wrap.out 2>/dev/null)" = "$(hostname)" ] \
   && [ "$(slurm_job_field "$j" ExitCode)" = 0:0 ] && [ "$(slurm_job_field "$j" Restarts)" = 0 ]; then
  ok "sbatch --wrap hostname: COMPLETED, ExitCode 0:0, Restarts 0 ($(slurm_since "$t") s)"
else
  bad "sbatch --wrap hostname: $s"; slurm_job_dump "$j"
fi

# ---- 2. srun -n 2 hostname
t=$(slurm_now)
out=$(srun -n 2 hostname 2>&1)
[ "$(grep -cx "$(hostname)" <<<"$out")" = 2 ] && ok "srun -n 2 hostname ($(slurm_since "$t") s)" \
  || bad "srun -n 2 hostname: $out"

# ---- 3. latflow under MPI in a batch job: srun --mpi=pmix, plain srun, mpirun
cat >tiny.yaml <<'YAML'
seed: 5
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
hmc: {trajectories: 50, therm: 10, tau: 1.0, steps: 8}
YAML
cat >mpi.sbatch <<EOF
#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --time=5
#SBATCH --output=mpi.out
set -e
srun --mpi=pmix -n 2 "$BIN/latflow" hmc tiny.yaml --output pmix --json >pmix.json
srun -n 2 "$BIN/latflow" hmc tiny.yaml --output plain --json >plain.json
mpirun "$BIN/latflow" hmc tiny.yaml --output mpirun --json >mpirun.json
echo "mpi job done"
EOF
t=$(slurm_now)
j=$(sbatch --parsable mpi.sbatch)
s=$(slurm_wait_job "$j" 120)
if [ "$s" = COMPLETED ]; then
  ok "MPI batch job COMPLETED ($(slurm_since "$t") s)"
else
  bad "MPI batch job: $s"; slurm_job_dump "$j"
fi
for k in pmix plain mpirun; do
  # 2 chains = the 2 ranks formed one MPI_COMM_WORLD (two singletons would each write 1 chain)
  grep -Eq '"chains":[[:space:]]*2' $k.json 2>/dev/null && [ -f $k/hmc.h5 ] \
    && ok "latflow hmc in the allocation ($k): 2 ranks, one communicator" \
    || { bad "latflow hmc ($k): $(tr -d '\n\t' <$k.json 2>/dev/null)"; }
done

# ---- 4. scancel --signal=USR1 --batch reaches the batch shell's trap
cat >sig.sbatch <<'EOF'
#!/bin/bash
#SBATCH --time=5
#SBATCH --output=sig.out
trap 'echo "trap USR1"; kill $w; exit 0' USR1
sleep 120 & w=$!
echo started
wait $w
echo "no signal"; exit 1
EOF
j=$(sbatch --parsable sig.sbatch)
if slurm_wait_file sig.out '^started' 60; then
  t=$(slurm_now)
  scancel --signal=USR1 --batch "$j"
  s=$(slurm_wait_job "$j" 30)
  grep -q '^trap USR1' sig.out && [ "$s" = COMPLETED ] \
    && ok "scancel --signal=USR1 --batch reaches the trap; job COMPLETED ($(slurm_since "$t") s)" \
    || { bad "scancel --signal=USR1 --batch: $s"; slurm_job_dump "$j"; }
else
  bad "signal job never started: $(slurm_job_state "$j")"; slurm_job_dump "$j"; scancel "$j"
fi

# ---- 5. dependencies: afterok on success runs; afterok on failure + --kill-on-invalid-dep=yes cancels
t=$(slurm_now)
a=$(sbatch --parsable -o dep_a.out --wrap 'sleep 1; echo A')
b=$(sbatch --parsable -o dep_b.out --dependency=afterok:"$a" --kill-on-invalid-dep=yes --wrap 'echo B')
c=$(sbatch --parsable -o dep_c.out --wrap 'exit 3')
d=$(sbatch --parsable -o dep_d.out --dependency=afterok:"$c" --kill-on-invalid-dep=yes --wrap 'echo D')
sb=$(slurm_wait_job "$b" 60); sc=$(slurm_wait_job "$c" 60); sd=$(slurm_wait_job "$d" 60)
[ "$sb" = COMPLETED ] && [ "$(cat dep_b.out 2>/dev/null)" = B ] \
  && ok "afterok on success: dependent COMPLETED" || { bad "afterok on success: $sb"; slurm_job_dump "$b"; }
[ "$sc" = FAILED ] && [ "$(slurm_job_field "$c" ExitCode)" = 3:0 ] \
  && ok "failing job: FAILED, ExitCode 3:0" || { bad "failing job: $sc $(slurm_job_field "$c" ExitCode)"; }
[ "$sd" = CANCELLED ] && [ ! -e dep_d.out ] \
  && ok "afterok on failure + --kill-on-invalid-dep=yes: dependent CANCELLED, never ran ($(slurm_since "$t") s)" \
  || { bad "afterok on failure: dependent $sd"; slurm_job_dump "$d"; scancel "$d" 2>/dev/null; }

slurm_summary
