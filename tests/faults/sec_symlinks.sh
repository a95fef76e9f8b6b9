#!/usr/bin/env bash
# Planted symbolic links (issue 13, defect 4): a link planted at each temporary name
# latflow writes (model.h5.tmp, train.h5.tmp, train.ckpt.h5.tmp, ensemble.h5.tmp,
# sample.ckpt.h5.tmp, hmc.h5.tmp, the merge tool's OUT.tmp, and the files of
# `plot --out`: plots.gp, *.dat, *.png, gnuplot.log) or at an output name (model.h5 and
# ensemble.h5 with --force, merge OUT) makes the run fail naming the link, and the file
# the link points to (the "victim") keeps its bytes. A stale regular .tmp is replaced.
# usage: sec_symlinks.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
run()  { "$@" >out.txt 2>err.txt; echo $?; }
victim() { printf 'precious data of the user\n' > victim.txt; }
# refused DESC LINK -- cmd...: the command exits non-zero, names LINK, victim unchanged
refused() {
  local desc=$1 link=$2; shift 3
  local got; got=$(run "$@")
  if [ "$got" != 0 ] && grep -qF -- "$link" err.txt; then ok "$desc: refused (exit $got)";
  else bad "$desc: exit $got, stderr:"; tail -5 err.txt; fi
  if [ "$(cat victim.txt)" = "precious data of the user" ]; then ok "$desc: victim unchanged";
  else bad "$desc: victim overwritten ($(wc -c < victim.txt) bytes)"; fi
  [ -L "$link" ] && [ "$(readlink "$link")" = "$wd/victim.txt" ] && ok "$desc: link left in place" || bad "$desc: link $link removed"
}
plant() { mkdir -p "$(dirname "$1")"; victim; ln -sfn "$wd/victim.txt" "$1"; }

cat > tiny.yaml <<'YAML'
seed: 11
output: out/base
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 32, stop: {steps: 40}, eval_samples: 200, log_every: 20, checkpoint_every: 10}
sample: {proposals: 1000, block: 128, save: accepted, checkpoint_every: 256}
hmc: {trajectories: 100, therm: 10, tau: 1.0, steps: 4}
YAML
[ "$(run "$lf" train tiny.yaml)" = 0 ] && ok "train a base model" || { bad "train"; cat err.txt; exit 1; }
M=out/base/model.h5

# training: metrics temporary, model temporary, checkpoint temporary, model output name
for t in train.h5.tmp model.h5.tmp train.ckpt.h5.tmp; do
  plant out/tr_$t/$t
  refused "train, link at $t" out/tr_$t/$t -- "$lf" train tiny.yaml --output out/tr_$t
done
plant out/trf/model.h5
refused "train --force, link at model.h5" out/trf/model.h5 -- "$lf" train tiny.yaml --output out/trf --force

# sampling: ensemble temporary, checkpoint temporary, ensemble output name
for t in ensemble.h5.tmp sample.ckpt.h5.tmp; do
  plant out/s_$t/$t
  refused "sample, link at $t" out/s_$t/$t -- "$lf" sample tiny.yaml --model $M --output out/s_$t
done
plant out/sf/ensemble.h5
refused "sample --force, link at ensemble.h5" out/sf/ensemble.h5 -- "$lf" sample tiny.yaml --model $M --output out/sf --force
plant out/h/hmc.h5.tmp
refused "hmc, link at hmc.h5.tmp" out/h/hmc.h5.tmp -- "$lf" hmc tiny.yaml --output out/h

# a stale regular temporary (a killed run's) is replaced
mkdir -p out/stale && echo junk > out/stale/ensemble.h5.tmp
got=$(run "$lf" sample tiny.yaml --model $M --output out/stale)
[ "$got" = 0 ] && [ -f out/stale/ensemble.h5 ] && [ ! -e out/stale/ensemble.h5.tmp ] \
  && ok "a stale regular ensemble.h5.tmp is replaced" || { bad "stale .tmp: exit $got"; tail -5 err.txt; }

# merge: its temporary OUT.tmp, the writer's OUT.tmp.tmp and the output name with --force
E=out/stale/ensemble.h5
[ "$(run "$lf" sample tiny.yaml --model $M --output out/s12 --set seed=12)" = 0 ] && ok "a second ensemble" || bad "sample seed 12"
E2=out/s12/ensemble.h5
for t in m1.h5.tmp m2.h5.tmp.tmp; do
  o=${t%%.tmp*}
  plant mg/$t
  refused "merge, link at $t" mg/$t -- "$merge" mg/$o $E $E2
done
plant mg/m3.h5
refused "merge --force, link at OUT" mg/m3.h5 -- "$merge" --force mg/m3.h5 $E $E2

# plot --out: every file it writes (data, script, log, PNGs)
for t in plots.gp history.dat acf.dat tauint.dat corr.dat gnuplot.log history_phi2.png tauint_phi2.png meff.png; do
  plant pl_$t/$t
  refused "plot, link at $t" pl_$t/$t -- "$lf" plot $E --out pl_$t
done
# plot A B --out: the data and PNGs of the comparison
for t in compare_obs.dat compare_eff.dat compare_phi2.png compare_eff.png; do
  plant plc_$t/$t
  refused "plot A B, link at $t" plc_$t/$t -- "$lf" plot $E $E2 --out plc_$t
done

finish
