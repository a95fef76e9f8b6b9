#!/usr/bin/env bash
# Hostile and malformed run cards (issue 13, fault suite): a fixed corpus (fuzz_cards.py,
# random.Random(1234)) of byte flips, deletions, duplications, insertions, truncations and
# line swaps of every card in configs/ and tests/data/config, plus hand-written hostile
# YAML (billion laughs, tags, merge keys, numbers out of range, 1e400, NaN, long strings and
# keys, NUL and invalid UTF-8, duplicate keys, deep nesting, several documents), special
# paths (a directory, /dev/zero, /dev/null, a missing file) and hostile --set values, each
# through `latflow check` (it parses and validates the whole card for every command).
# Pass, for every case: exit 0 or 2 (never a signal, never a hang: each case has 20 s),
# no sanitizer report on stderr, and a refusal names the card ("latflow: <card>...") or,
# for --set, the option; a YAML syntax error also names the line ("<card>:<line>:").
# Runs under the ASan build too (label asan; tools/test.sh).
# usage: fuzz_cards.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
py=$(command -v python3 || true)
[ -n "$py" ] || skip "no python3 for the corpus generator"
lf_setup "$@"
n0=0; n2=0; nline=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
t0=$(date +%s)
total=$("$py" "$src/tests/faults/fuzz_cards.py" "$src" cards 120) || { bad "corpus generator"; exit 1; }
SAN='AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|runtime error:|SUMMARY: .*Sanitizer'

# judge NAME DESC SHOWN -- cmd...: runs cmd (20 s at most) and applies the pass rule;
# SHOWN is what the refusal must name (the card's path, or --set)
judge() {
  local name=$1 desc=$2 shown=$3; shift 4
  timeout -s KILL 20 "$@" >out.txt 2>err.txt; local rc=$?
  local why=""
  if [ $rc -ge 124 ]; then why="exit $rc (signal or timeout)"
  elif [ $rc != 0 ] && [ $rc != 2 ]; then why="exit $rc (expected 0 or 2)"
  elif grep -Eq "$SAN" err.txt; then why="sanitizer report"
  elif [ $rc = 2 ] && ! grep -qF -- "latflow: $shown" err.txt; then why="the message does not name '$shown'"
  elif [ $rc = 2 ] && grep -q "YAML syntax error" err.txt && ! grep -qF -- "latflow: $shown:" err.txt; then
    why="a syntax error without a line"
  fi
  if [ -n "$why" ]; then
    bad "$name ($desc): $why"; head -c 600 err.txt; echo
    return
  fi
  passes=$((passes+1))
  if [ $rc = 0 ]; then n0=$((n0+1)); else n2=$((n2+1)); fi
  grep -q "^latflow: .*:[0-9][0-9]*:" err.txt && nline=$((nline+1))
}

while IFS=$'\t' read -r name path desc; do
  judge "$name" "$desc" "$path" -- "$lf" check "$path"
done < cards/cases.tsv

# the check command itself: valid, hmc-only, --json
"$lf" check "$src/configs/quickstart.yaml" >out.txt 2>err.txt; rc=$?
[ $rc = 0 ] && grep -q "quickstart.yaml: valid for train, sample, hmc, run, bench" out.txt \
  && ok "check: a valid card (exit 0, valid for every command)" || bad "check valid card: exit $rc"
"$lf" check "$src/configs/u1-L8-b2.yaml" --set 'theory.shape=[6,6]' >out.txt 2>err.txt; rc=$?
[ $rc = 2 ] && grep -q "u1-L8-b2.yaml: valid for hmc$" out.txt && grep -q "stripe masks" err.txt \
  && ok "check: a card only HMC can run (exit 2, valid for hmc, the flow's error)" || bad "check hmc-only: exit $rc"
"$lf" check "$src/tests/data/config/bad_tag.yaml" --json >out.txt 2>err.txt; rc=$?
[ $rc = 2 ] && grep -q '"valid":false' out.txt && grep -q "bad_tag.yaml:2: YAML tag" out.txt \
  && ok "check --json: the error in the summary (exit 2)" || bad "check --json: exit $rc: $(cat out.txt)"

# special paths
mkdir -p adir
judge dir "a directory" adir -- "$lf" check adir
judge devzero "/dev/zero" /dev/zero -- "$lf" check /dev/zero
judge devnull "/dev/null (an empty card: valid)" /dev/null -- "$lf" check /dev/null
judge missing "a missing file" nothere.yaml -- "$lf" check nothere.yaml
ln -s loop1 loop2; ln -s loop2 loop1
judge symloop "a symbolic link loop" loop1 -- "$lf" check loop1

# hostile --set values on a valid card
q=$src/configs/quickstart.yaml
i=0
for s in 'seed=1e400' 'seed=-1' 'theory.m2=.nan' 'theory.lambda=1e400' 'theory.shape=[1e400,4]' \
         'model.hidden=*a' 'model.hidden=&a [4]' 'model.hidden=!!python/object:os.system x' \
         'model.hidden=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[4]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' \
         'theory={name: phi4}' 'theory.name=' '=3' 'seed' 'a.b.c.d.e.f=1' 'seed=3
x: 1' "output=$(printf 'x%.0s' $(seq 5000))" 'train.stop={steps: 1, <<: {x: 1}}' \
         'seed=0x10' 'hmc.steps=4294967297' 'sample.proposals=9223372036854775808'; do
  i=$((i+1))
  judge "set_$i" "--set '${s:0:60}'" "--set" -- "$lf" check "$q" --set "$s"
done

echo "$((passes)) cases passed ($n0 valid, $n2 refused with exit 2, $nline of them naming a line), $fails failed; corpus $total cards; $(( $(date +%s) - t0 )) s"
[ -e PWNED ] && bad "a tag ran a command (PWNED exists)"
finish
