#!/usr/bin/env bash
# The user docs are self-contained (issue 15): README.md and docs/*.md name no file outside
# the repository (../shared, DESIGN.md, STYLE.md), every relative Markdown link
# [text](path) resolves to a file or folder of the repository, and every `mpiexec -n N` /
# `mpirun -n N` example with N > 2 is followed by a note on --oversubscribe in its file, and
# docs/ARCHITECTURE.md's module table names every library source file.
# usage: docs_links.sh LATFLOW WORKDIR SOURCEDIR
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh" || exit 1
lf_setup "$@"
docs=("$src/README.md" "$src"/docs/*.md)
if grep -nE '\.\./shared|DESIGN\.md|STYLE\.md' "${docs[@]}" > outside.txt; then
  bad "docs name files outside the repository:"; cat outside.txt
else ok "no ../shared, DESIGN.md or STYLE.md"; fi
n=0
for f in "${docs[@]}"; do
  dir=$(dirname "$f")
  while IFS= read -r link; do
    target=${link%%#*}
    case "$target" in ''|http://*|https://*|mailto:*) continue ;; esac
    n=$((n + 1))
    [ -e "$dir/$target" ] || bad "${f#"$src"/}: link ($link) does not resolve"
  done < <(grep -oE '\]\([^) ]+\)' "$f" | sed -E 's/^\]\((.*)\)$/\1/')
done
ok "$n relative links checked"
for f in "${docs[@]}"; do
  if grep -qE '(mpiexec|mpirun) (--[a-z-]+ )*-n ([3-9]|[1-9][0-9])' "$f" &&
     ! grep -q -- '--oversubscribe' "$f"; then
    bad "${f#"$src"/}: mpiexec/mpirun -n > 2 without a note on --oversubscribe"
  fi
done
ok "multi-rank examples come with --oversubscribe notes"
# docs/ARCHITECTURE.md's module table names every source file of every library area (a
# file's stem, with or without its _t suffix, in the row of its area)
arch="$src/docs/ARCHITECTURE.md"
nf=0
for d in "$src"/src/*/; do
  area=$(basename "$d")
  [ "$area" = cli ] && continue
  row=$(grep -m1 -E "^\| $area \|" "$arch" | cut -d'|' -f3)   # the modules column
  [ -n "$row" ] || { bad "ARCHITECTURE.md has no row for the area $area"; continue; }
  for c in "$d"*.c; do
    stem=$(basename "$c" .c); nf=$((nf + 1))
    grep -qwE -- "${stem}|${stem%_t}" <<<"$row" || bad "ARCHITECTURE.md: $area row does not name $stem"
  done
done
ok "$nf source files found in ARCHITECTURE.md's module table"
finish docs_links
