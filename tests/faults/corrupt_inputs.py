#!/usr/bin/env python3
"""Writes the corrupt-file corpus of corrupt_inputs.sh (deterministic: random.Random(1234)).

usage: corrupt_inputs.py OUTDIR NAME=FILE:COUNT...

For each NAME (in the order given) COUNT damaged copies of FILE go to
OUTDIR/NAME_<k>.h5, and OUTDIR/cases.tsv gets one line per copy: name, path, damage.
Damage kinds, in turn: one random bit flipped; 16 random bits; 4 bits in the first 4 KiB
(superblock, root group, headers); 64 random bytes in the first 4 KiB; 512 zero bytes at a
random offset; truncation at a random length (also 0, 1 and 8 bytes); garbage appended."""
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)
rows = []
KINDS = ["flip1", "flip16", "flip_head", "bytes_head", "zero512", "truncate", "append"]
for spec in sys.argv[2:]:
    name, rest = spec.split("=", 1)
    path, count = rest.rsplit(":", 1)
    src = open(path, "rb").read()
    for k in range(int(count)):
        d = bytearray(src)
        kind = KINDS[k % len(KINDS)]
        head = min(len(d), 4096)
        if kind == "flip1":
            q = rng.randrange(len(d))
            d[q] ^= 1 << rng.randrange(8)
            what = "bit flipped at byte %d" % q
        elif kind == "flip16":
            for _ in range(16):
                d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
            what = "16 bits flipped"
        elif kind == "flip_head":
            qs = [rng.randrange(head) for _ in range(4)]
            for q in qs:
                d[q] ^= 1 << rng.randrange(8)
            what = "4 bits flipped at bytes %s" % qs
        elif kind == "bytes_head":
            q = rng.randrange(max(head - 64, 1))
            d[q:q + 64] = bytes(rng.randrange(256) for _ in range(64))
            what = "64 random bytes at %d" % q
        elif kind == "zero512":
            q = rng.randrange(len(d))
            d[q:q + 512] = bytes(len(d[q:q + 512]))
            what = "512 zero bytes at %d" % q
        elif kind == "truncate":
            n = [0, 1, 8][k // len(KINDS)] if k // len(KINDS) < 3 else rng.randrange(len(d))
            del d[n:]
            what = "truncated to %d of %d bytes" % (n, len(src))
        else:
            d += bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
            what = "garbage appended"
        p = os.path.join(out, "%s_%02d.h5" % (name, k))
        open(p, "wb").write(bytes(d))
        rows.append((name, p, what))
with open(os.path.join(out, "cases.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
print(len(rows))
