#!/usr/bin/python3
"""Compares two trees of latflow runs made by tools/golden.sh: every file in REF must exist
in NEW; HDF5 files must hold the same objects, every dataset bitwise equal (same dtype,
shape and bytes) and every attribute equal, except those volatile() names: wall-clock times
and rates. JSON files are compared value by value with the same exception; other files
(logs aside) must be byte-equal.

usage: golden_compare.py REF NEW      exit 0 equal, 1 differences (each one printed)
"""
import json
import os
import sys

import h5py
import numpy as np

# Attributes, datasets and JSON keys whose values change between two runs of the same card
# and seed: wall-clock times ("seconds", "*_seconds") and the rates derived from them
# ("*_per_s*"), found by comparing two recordings of one build; and the provenance of the
# build (BUILD), which a refactor changes by design. Matched on the last name component.
BUILD = {"git_rev", "git_dirty", "latflow_version", "cflags", "build_type", "compiler",
         "hdf5_version", "mpi_version", "openblas_config"}


def volatile(name):
    k = name.rsplit("/", 1)[-1]
    return k == "seconds" or k.endswith("_seconds") or "_per_s" in k or k in BUILD


def compare_json(a, b, where, rel, diffs):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) ^ set(b)):
            diffs.append(f"{rel}: key {where}/{k} only in {'ref' if k in a else 'new'}")
        for k in sorted(set(a) & set(b)):
            if not volatile(k):
                compare_json(a[k], b[k], f"{where}/{k}", rel, diffs)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            compare_json(x, y, f"{where}[{i}]", rel, diffs)
    elif a != b and not (a != a and b != b):  # NaN equals NaN here
        diffs.append(f"{rel}: {where or '/'} differs: {a!r} vs {b!r}"[:400])


def same_value(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.tobytes() == b.tobytes()


def compare_h5(ref, new, rel, diffs):
    with h5py.File(ref, "r") as fr, h5py.File(new, "r") as fn:
        names_r, names_n = set(), set()
        fr.visit(names_r.add)
        fn.visit(names_n.add)
        names_r.add("")
        names_n.add("")
        for n in sorted(names_r ^ names_n):
            diffs.append(f"{rel}: object /{n} only in {'ref' if n in names_r else 'new'}")
        for n in sorted(names_r & names_n):
            orr = fr[n] if n else fr["/"]
            onn = fn[n] if n else fn["/"]
            if type(orr) is not type(onn):
                diffs.append(f"{rel}: /{n} is a {type(orr).__name__} in ref, {type(onn).__name__} in new")
                continue
            if isinstance(orr, h5py.Dataset) and not volatile(n):
                if not same_value(orr[()], onn[()]):
                    diffs.append(f"{rel}: dataset /{n} differs ({orr.dtype}{orr.shape} vs {onn.dtype}{onn.shape})")
            ar, an = set(orr.attrs.keys()), set(onn.attrs.keys())
            for k in sorted(ar ^ an):
                diffs.append(f"{rel}: attribute /{n}@{k} only in {'ref' if k in ar else 'new'}")
            for k in sorted(ar & an):
                if volatile(k):
                    continue
                if not same_value(orr.attrs[k], onn.attrs[k]):
                    diffs.append(f"{rel}: attribute /{n}@{k} differs: {orr.attrs[k]!r} vs {onn.attrs[k]!r}"[:400])


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ref, new = sys.argv[1], sys.argv[2]
    diffs, nfiles = [], 0
    for root, _, files in os.walk(ref):
        for f in sorted(files):
            if f.endswith(".log") or f == ".latflow.lock":
                continue
            rp = os.path.join(root, f)
            rel = os.path.relpath(rp, ref)
            np_ = os.path.join(new, rel)
            nfiles += 1
            if not os.path.exists(np_):
                diffs.append(f"{rel}: missing in new")
            elif h5py.is_hdf5(rp):
                compare_h5(rp, np_, rel, diffs)
            elif f.endswith(".json"):
                with open(rp) as fa, open(np_) as fb:
                    compare_json(json.load(fa), json.load(fb), "", rel, diffs)
            elif open(rp, "rb").read() != open(np_, "rb").read():
                diffs.append(f"{rel}: contents differ")
    for root, _, files in os.walk(new):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), new)
            if not f.endswith(".log") and f != ".latflow.lock" and not os.path.exists(os.path.join(ref, rel)):
                diffs.append(f"{rel}: only in new")
    for d in diffs:
        print("DIFF " + d)
    print(f"golden: {nfiles} files compared, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
