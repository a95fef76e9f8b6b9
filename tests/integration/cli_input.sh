#!/usr/bin/env bash
# What the command line and the card accept (issue 13): --output is a folder's name taken
# verbatim (defect 6); hmc runs gauge cards the flow cannot (2x2, 6x6) while train, sample,
# run and bench still refuse them (15); a non-normalizable phi4 card is refused (9);
# hostile cards (deep nesting, over 1 MiB) are refused within 5 s (12); a missing or
# unreadable input named on the command line exits 2 in every command (18).
# usage: cli_input.sh LATFLOW WORKDIR SOURCEDIR   (latflow-merge sits next to LATFLOW)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"

cat > phi.yaml <<'YAML'
seed: 3
theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}
model: {layers: 2, hidden: [4], kernel: 3}
train: {batch: 16, stop: {steps: 4}, eval_samples: 0, log_every: 2, checkpoint_every: 0}
sample: {proposals: 256, block: 64, save: none}
hmc: {trajectories: 20, therm: 2, compare: false}
YAML

# --- 6: --output verbatim ---------------------------------------------------------------
for d in 'runs/run #3' 'a: b' "q'uo\"te" 'sp ace/x #y: [z]'; do
  expect_code 0 "hmc --output '$d'" -- "$lf" hmc phi.yaml --output "$d"
  [ -f "$d/hmc.h5" ] && ok "hmc wrote '$d/hmc.h5'" || { bad "no '$d/hmc.h5'"; ls -R; }
  expect_code 0 "config --output '$d'" -- "$lf" config phi.yaml --output "$d"
  "$lf" config --set "output=\"$(printf '%s' "$d" | sed 's/\\/\\\\/g; s/"/\\"/g')\"" > want.txt 2>/dev/null
  grep '^output:' out.txt > got.txt
  grep '^output:' want.txt | cmp -s - got.txt && ok "config shows output '$d' as given" \
    || { bad "config output for '$d'"; cat got.txt want.txt; }
done
[ -e runs/run ] && bad "'runs/run #3' also wrote runs/run" || ok "no folder cut at '#'"
# plot writes into any folder name without a shell: quotes, '$(...)', ';' stay a path
pd="p'q \$(touch PWNED); x"
expect_code 0 "plot --out with a quote, \$(...) and ;" -- "$lf" plot "runs/run #3/hmc.h5" --out "$pd"
ls "$pd"/history_*.png > /dev/null 2>&1 && ok "plot wrote its PNGs into '$pd'" || bad "no PNGs in '$pd'"
[ -e PWNED ] && bad "a folder name was run as a shell command" || ok "the folder name was never run by a shell"
# defect 13: an output too long for the files a run writes in it is refused at the start
# (exit 2, nothing created), not at its first checkpoint
long=$(printf 'L/%.0s' $(seq 480))
expect_code 2 "sample --output of 960 bytes refused" -- "$lf" sample phi.yaml --output "$long"
expect_err "--output: too long: 960 bytes, at most 958" "long --output"
[ -e L ] && bad "a refused long --output created folders" || ok "the refused long --output created nothing"
expect_code 2 "a 300-byte folder name refused" -- "$lf" hmc phi.yaml --output "$(printf 'x%.0s' $(seq 300))"
expect_err "a folder name of 300 bytes (at most 255" "300-byte component"
ok958=$(printf 'k/%.0s' $(seq 479))
expect_code 0 "hmc into a 958-byte output runs" -- "$lf" hmc phi.yaml --output "$ok958"
[ -f "$ok958/hmc.h5" ] && ok "hmc wrote its file in the 958-byte output" || bad "no hmc.h5 in the 958-byte output"
expect_code 0 "train --output with '#'" -- "$lf" train phi.yaml --output 't #1'
[ -f 't #1/model.h5' ] && ok "train wrote 't #1/model.h5'" || bad "no 't #1/model.h5'"
expect_code 0 "sample --model with '#' and ': '" -- "$lf" sample phi.yaml --model 't #1/model.h5' --output 's: 1'
[ -f 's: 1/ensemble.h5' ] && ok "sample wrote 's: 1/ensemble.h5'" || bad "no 's: 1/ensemble.h5'"
expect_code 2 "empty --output refused" -- "$lf" hmc phi.yaml --output ''
expect_err "--output: must not be empty" "empty --output"
expect_code 2 "--output with a newline refused" -- "$lf" hmc phi.yaml --output "$(printf 'x\ny')"
expect_err "--output: must not contain a line break" "newline in --output"
[ -e x ] || [ -e 'x y' ] && bad "a folder was made for the refused name" || ok "nothing made for it"
expect_code 2 "--set output= after --output still applies" -- "$lf" hmc phi.yaml --output ok --set output=
expect_code 0 "--set output overrides --output" -- "$lf" config phi.yaml --output one --set output=two
grep -qx 'output: "two"' out.txt && ok "--set output wins" || { bad "--set output"; cat out.txt; }

# --- 15: hmc needs no flow ----------------------------------------------------------------
for card in "u1 [2, 2]" "schwinger [2, 2]" "u1 [6, 6]"; do
  set -- $card
  name=$1; shape="${card#* }"
  printf 'theory: {name: %s, shape: %s}\nhmc: {trajectories: 10, therm: 2, compare: false}\n' \
    "$name" "$shape" > g.yaml
  out="g-$name-$(echo "$shape" | tr -dc 0-9)"
  expect_code 0 "hmc on $name $shape" -- "$lf" hmc g.yaml --output "$out"
  expect_code 0 "analyze of its hmc.h5" -- "$lf" analyze "$out/hmc.h5"
  expect_code 0 "config of it" -- "$lf" config g.yaml
  for c in train sample run bench; do
    expect_code 2 "$c on $name $shape refused" -- "$lf" $c g.yaml --output "x-$c"
    expect_err "theory.shape: the gauge flow's stripe masks need both sides to be multiples of 4" "$c names the key"
  done
done

# --- 9: lambda = 0 with m2 <= 0 ------------------------------------------------------------
for c in hmc train config; do
  expect_code 2 "$c: phi4 lambda=0 m2=-1 refused" -- "$lf" $c phi.yaml --set 'theory={m2: -1, lambda: 0}' --output n
  expect_err "theory.lambda: phi4 with theory.lambda = 0 and theory.m2 = -1 <= 0 has no normalizable" "$c names the key"
done
printf 'theory:\n  name: phi4\n  m2: 0\n  lambda: 0\n' > free0.yaml
expect_code 2 "card with m2 = 0, lambda = 0" -- "$lf" hmc free0.yaml --output n
expect_err "free0.yaml:4: theory.lambda: phi4 with theory.lambda = 0" "file:line and key"
expect_code 0 "m2 > 0, lambda = 0 runs" -- "$lf" hmc phi.yaml --set 'theory={m2: 0.5, lambda: 0}' --output free

# --- 12: hostile cards, refused quickly ----------------------------------------------------
/usr/bin/python3 - <<'PY'
open("deep.yaml", "w").write("seed: 1\noutput: " + "[" * 200000 + "]" * 200000 + "\n")
open("deepblock.yaml", "w").write("".join(" " * i + "k%d:\n" % i for i in range(100)))
open("huge.yaml", "w").write("# " + "x" * (2 << 20) + "\n")
open("longseq.yaml", "w").write("model:\n  hidden: [" + ",".join(["1"] * 400000) + "]\n")
PY
hostile() { # hostile FILE TEXT
  local t0 t1
  t0=$(date +%s.%N)
  timeout 60 "$lf" config "$1" >out.txt 2>err.txt; local got=$?
  t1=$(date +%s.%N)
  [ $got = 2 ] && ok "$1 refused (exit 2)" || bad "$1: exit $got, want 2"
  expect_err "$2" "$1 message"
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' && ok "$1 refused in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s" \
    || bad "$1 took $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s"
}
hostile deep.yaml "deep.yaml:2: nested deeper than 32 levels"
hostile deepblock.yaml "deepblock.yaml:33: nested deeper than 32 levels"
hostile huge.yaml "huge.yaml: larger than the 1048576 bytes (1 MiB) a run card may have"
hostile longseq.yaml "longseq.yaml:2: model.hidden:"
expect_code 2 "a deep --set value refused" -- "$lf" config --set "output=$(printf '%*s' 40 '' | tr ' ' '[')"
expect_err "--set: output: nested deeper than 32 levels" "deep --set"

# --- 18: a missing or unreadable input is exit 2 everywhere --------------------------------
"$lf" hmc phi.yaml --output ens > /dev/null 2>&1 || bad "hmc for merge input"
mkdir -p adir
for c in train sample hmc run config bench; do
  expect_code 2 "$c with a missing CONFIG" -- "$lf" $c nope.yaml
  expect_err "nope.yaml: cannot open config" "$c names it"
  expect_code 2 "$c with a directory as CONFIG" -- "$lf" $c adir
done
for c in analyze plot; do
  expect_code 2 "$c with a missing file" -- "$lf" $c nope.h5
  expect_err "$c: input 'nope.h5': No such file or directory" "$c names it"
  expect_code 2 "$c with a directory" -- "$lf" $c adir
  expect_err "is a directory" "$c says directory"
done
expect_code 2 "sample with a missing --model" -- "$lf" sample phi.yaml --model nope.h5 --output sm
expect_err "sample: --model 'nope.h5': No such file or directory" "sample --model names it"
expect_code 2 "merge with a missing input" -- "$merge" m.h5 ens/hmc.h5 nope.h5
expect_err "merge input 'nope.h5': No such file or directory" "merge names it"
[ -e m.h5 ] && bad "merge wrote m.h5" || ok "merge wrote nothing"
if [ "$(id -u)" != 0 ]; then
  cp phi.yaml noread.yaml; chmod 000 noread.yaml
  expect_code 2 "unreadable CONFIG" -- "$lf" hmc noread.yaml
  cp ens/hmc.h5 noread.h5; chmod 000 noread.h5
  expect_code 2 "unreadable FILE.h5" -- "$lf" analyze noread.h5
fi
# a file that exists but is not a latflow file is a run failure (1), not usage
echo junk > junk.h5
expect_code 1 "analyze of a junk file" -- "$lf" analyze junk.h5

finish cli_input
