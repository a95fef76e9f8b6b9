#!/usr/bin/env python3
"""tools/depgraph.py BUILD_DIR [--check DOC]: the real dependency graph of latflow's library.

Reads the object files of each area's object library (BUILD_DIR/CMakeFiles/lf_<area>[_single|
_double].dir) with nm: an area depends on another when it calls or reads a symbol the other
defines. Prints one line per area, "area -> dep dep ..." (areas in the order of CMakeLists.txt's
LF_AREAS, each line's dependencies in that order), and the cycles, if any.
With --check DOC: exits 1 unless DOC (docs/ARCHITECTURE.md) holds exactly these lines between
the markers "<!-- depgraph begin -->" and "<!-- depgraph end -->" (inside a fenced block), so
the written map cannot drift from the code."""
import os
import re
import subprocess
import sys


def areas_of(root):
    """The areas in the order LF_AREAS lists them."""
    text = open(os.path.join(root, "CMakeLists.txt")).read()
    m = re.search(r"set\(LF_AREAS ([^)]*)\)", text)
    return m.group(1).split()


def symbols(objs):
    """(defined, undefined) global symbol names of a list of object files."""
    out = subprocess.run(["nm", "-P"] + objs, check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or line.endswith(":"):
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCVW":
            defined.add(name)
    return defined, undefined


def graph(build, root):
    areas = areas_of(root)
    defs, uses = {}, {}
    for a in areas:
        objs = []
        for suffix in ("", "_single", "_double"):
            d = os.path.join(build, "CMakeFiles", "lf_%s%s.dir" % (a, suffix))
            for dirpath, _, files in os.walk(d):
                for f in files:
                    # only objects whose source still exists (a build folder keeps the
                    # objects of deleted files)
                    rel = os.path.relpath(os.path.join(dirpath, f[:-2]), d)
                    if f.endswith(".o") and os.path.exists(os.path.join(root, rel)):
                        objs.append(os.path.join(dirpath, f))
        defs[a], uses[a] = symbols(sorted(objs)) if objs else (set(), set())
    owner = {}
    for a in areas:
        for s in defs[a]:
            owner[s] = a
    deps = {a: [b for b in areas if b != a and any(owner.get(s) == b for s in uses[a])]
            for a in areas}
    return areas, deps


def lines(areas, deps):
    out = ["%s -> %s" % (a, " ".join(deps[a]) if deps[a] else "(nothing)") for a in areas]
    # cycles: a pair of areas that reach each other
    reach = {a: set(deps[a]) for a in areas}
    changed = True
    while changed:
        changed = False
        for a in areas:
            new = set(reach[a])
            for b in reach[a]:
                new |= reach[b]
            if new != reach[a]:
                reach[a], changed = new, True
    cyc = sorted({tuple(sorted((a, b))) for a in areas for b in reach[a] if a in reach[b] and a != b})
    out.append("cycles: " + (", ".join("%s <-> %s" % c for c in cyc) if cyc else "none"))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: tools/depgraph.py BUILD_DIR [--check DOC]")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    got = lines(*graph(sys.argv[1], root))
    if len(sys.argv) >= 4 and sys.argv[2] == "--check":
        doc = open(sys.argv[3]).read()
        m = re.search(r"<!-- depgraph begin -->\s*```[a-z]*\n(.*?)```\s*<!-- depgraph end -->", doc, re.S)
        if not m:
            sys.exit("depgraph: %s has no depgraph block" % sys.argv[3])
        want = m.group(1).strip().splitlines()
        if want != got:
            print("depgraph: %s is out of date; the build's graph is:" % sys.argv[3])
            print("\n".join(got))
            sys.exit(1)
        print("depgraph: %s matches the build (%d areas)" % (sys.argv[3], len(got) - 1))
        return
    print("\n".join(got))


if __name__ == "__main__":
    main()
