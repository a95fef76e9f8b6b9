#!/usr/bin/env bash
# The study cards of the seed paper's figures and of the U(1) freezing scan
# (configs/studies/*.yaml, docs/STUDIES.md):
# 1. every card without its `study:` section is a valid run card (`latflow config`), and
#    every card's header states the paper's setting, the reduced setting, the cost and the
#    full-scale variant;
# 2. with `latflow study` (issue 16), `latflow study CARD --dry-run --json` expands every
#    card into the number of points docs/STUDIES.md promises, with its protocol;
# 3. docs/STUDIES.md has a section naming each card.
# Shown to fail: a card whose run card is broken (an unknown key) and a wrong point count.
# usage: study_cards.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
command -v python3 > /dev/null || skip "no python3"
dir="$src/configs/studies"

# card -> "points protocol" (points: the cases times the grid's product; the root of
# protocol root is not a point)
declare -A want=(
  [fig1-schedules]="2 scratch" [fig1-schedules-full]="2 scratch"
  [fig2-transfer-scratch]="3 scratch" [fig2-transfer-scratch-full]="3 scratch"
  [fig2-transfer-root]="2 root" [fig2-transfer-root-full]="2 root"
  [fig2-transfer-seq]="3 sequential" [fig2-transfer-seq-full]="3 sequential"
  [fig3-cost-vs-lambda]="7 root"
  [fig4-optimizers]="3 scratch" [fig4-inits]="6 scratch"
  [fig5-retrain-budget]="21 root" [fig5-retrain-budget-full]="21 root"
  [fig6-architectures]="12 scratch"
  [fig7-volume]="3 scratch" [fig7-volume-full]="3 scratch"
  [fig8-base-layers]="8 scratch" [fig8-base-layers-full]="16 scratch"
  [u1-freezing-scan]="6 scratch"
)

# strip CARD: the card without its top-level `study:` block (to stdout)
strip() {
  python3 - "$1" <<'PY'
import re, sys
out, skip = [], False
for line in open(sys.argv[1], encoding="utf-8"):
    if re.match(r"study\s*:", line):
        skip = True
        continue
    if skip and line.strip() and not line.startswith((" ", "\t", "#")):
        skip = False
    if not skip:
        out.append(line)
sys.stdout.write("".join(out))
PY
}

# 1. the run cards and the headers
n=0
for f in "$dir"/*.yaml; do
  name=$(basename "$f" .yaml)
  n=$((n + 1))
  [ -n "${want[$name]:-}" ] || bad "$name: a card this test does not know (add it to want)"
  strip "$f" > "run-$name.yaml"
  grep -q '^study:' "$f" || bad "$name: no study: section"
  if grep -q '^study:' "run-$name.yaml"; then bad "$name: the study section was not stripped"; fi
  expect_code 0 "$name: the run card passes latflow config" -- "$lf" config "run-$name.yaml"
  for k in '# Paper:' '# Cost' '# Run: latflow study configs/studies/'"$name"'.yaml'; do
    grep -qF -- "$k" "$f" || bad "$name: the header lacks '$k'"
  done
  case $name in
    *-full) grep -qF "configs/studies/${name%-full}.yaml" "$f" ||
              bad "$name: the header does not name its reduced card" ;;
    *) grep -qE '^# Reduced' "$f" || bad "$name: the header lacks '# Reduced'"
       grep -qE '^# Full scale' "$f" || bad "$name: the header lacks '# Full scale'" ;;
  esac
done
[ "$n" = "${#want[@]}" ] && ok "$n cards" || bad "$n cards in configs/studies, ${#want[@]} expected"
# the check can fail: an unknown key in a card's run part
{ strip "$dir/fig4-inits.yaml"; echo "train: {bach: 3}"; } > broken.yaml
expect_code 2 "a card with an unknown key is refused" -- "$lf" config broken.yaml

# 3. docs/STUDIES.md names every card
for f in "$dir"/*.yaml; do
  grep -qF "configs/studies/$(basename "$f")" "$src/docs/STUDIES.md" ||
    bad "docs/STUDIES.md does not name configs/studies/$(basename "$f")"
done
ok "docs/STUDIES.md names the cards"

# 2. --dry-run with the study command
"$lf" study --help > /dev/null 2>&1 || bad "latflow study --help failed"
count() { # JSON EXPECT-POINTS EXPECT-PROTOCOL: 0 when the dry-run object matches
  python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pts, proto = d.get("points", []), d.get("protocol", sys.argv[3])
ok = len(pts) == int(sys.argv[2]) and proto == sys.argv[3]
print(f"{len(pts)} points, protocol {proto}")
sys.exit(0 if ok else 1)
PY
}
for f in "$dir"/*.yaml; do
  name=$(basename "$f" .yaml)
  read -r np proto <<< "${want[$name]}"
  if "$lf" study "$f" --dry-run --json --output "$wd/out-$name" > "$name.json" 2> "$name.err"; then
    if res=$(count "$name.json" "$np" "$proto"); then ok "$name: $res"
    else bad "$name: $res, want $np points, protocol $proto"; fi
  else
    bad "$name: latflow study --dry-run failed"; tail -5 "$name.err"
  fi
  [ -e "$wd/out-$name" ] && bad "$name: --dry-run wrote $wd/out-$name"
done
# the check can fail: a wrong count is found
if count fig4-inits.json 5 scratch > /dev/null; then bad "a wrong point count was not found"
else ok "a wrong point count is found"; fi
finish study_cards
