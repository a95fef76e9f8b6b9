#!/usr/bin/env python3
"""Writes the hostile-card corpus of fuzz_cards.sh into DIR (deterministic: fixed seed).

usage: fuzz_cards.py SOURCEDIR DIR [N_MUTATIONS]

DIR/cases.tsv lists one case a line: name <TAB> path <TAB> description. Mutations are
byte flips, deletions, duplications, insertions and truncations of the cards in configs/
and tests/data/config (random.Random(1234)); the hand-written cases are hostile YAML
(aliases, tags, merge keys, numbers out of range, long strings, NUL and invalid UTF-8,
duplicate keys, deep nesting, several documents, special files)."""
import glob
import os
import random
import sys

src, out = sys.argv[1], sys.argv[2]
nmut = int(sys.argv[3]) if len(sys.argv) > 3 else 120
os.makedirs(out, exist_ok=True)
rows = []


def case(name, data, desc):
    path = os.path.join(out, name + ".yaml")
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    rows.append((name, path, desc))


bases = sorted(glob.glob(os.path.join(src, "configs", "*.yaml")) +
               glob.glob(os.path.join(src, "configs", "bench", "*.yaml")) +
               glob.glob(os.path.join(src, "tests", "data", "config", "*.yaml")))
rng = random.Random(1234)
for i in range(nmut):
    base = rng.choice(bases)
    d = bytearray(open(base, "rb").read())
    op = rng.choice(["flip", "flip", "delete", "dup", "insert", "truncate", "swapline"])
    p = rng.randrange(max(len(d), 1))
    if op == "flip":
        for _ in range(rng.randint(1, 4)):
            q = rng.randrange(len(d))
            d[q] ^= 1 << rng.randrange(8)
        what = "bit flips"
    elif op == "delete":
        n = rng.randint(1, 40)
        del d[p:p + n]
        what = "%d bytes deleted at %d" % (n, p)
    elif op == "dup":
        n = rng.randint(1, 200)
        q = rng.randrange(len(d) + 1)
        d[q:q] = d[p:p + n]
        what = "%d bytes at %d copied to %d" % (n, p, q)
    elif op == "insert":
        b = rng.choice([b"\x00", b"\xff", b"\t", b"\r", b"{", b"[", b"&a ", b"*a", b"!!", b":",
                        b"- ", b"'", b'"', b"#", b"\xc3", b"\xed\xa0\x80", b"9" * 30, b"\n  "])
        d[p:p] = b
        what = "inserted %r at %d" % (b, p)
    elif op == "truncate":
        del d[p:]
        what = "truncated to %d bytes" % p
    else:
        lines = d.split(b"\n")
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        d = bytearray(b"\n".join(lines))
        what = "lines %d and %d swapped" % (a + 1, b + 1)
    case("mut_%03d" % i, bytes(d), "%s: %s" % (os.path.relpath(base, src), what))

T = "theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0}\n"
# aliases: 'billion laughs' (9^9 references if expanded), under a known and an unknown key
laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
for k in range(1, 10):
    laughs += "a%d: &a%d [%s]\n" % (k, k, ", ".join(["*a%d" % (k - 1)] * 9))
case("laughs_top", laughs, "billion laughs at the top level")
case("laughs_key", T + "model:\n  hidden: &h [4, 4]\n  x: " + "[" + ", ".join(["*h"] * 9) + "]\n",
     "aliases inside model")
case("laughs_hidden", T + "x: &a [" + ",".join(["8"] * 64) + "]\nmodel: {hidden: *a}\n",
     "hidden given as an alias")
case("alias_undefined", T + "seed: *nothere\n", "undefined alias")
case("alias_recursive", T + "a: &a [*a]\n", "alias used inside its own anchor")
case("alias_key", T + "k: &k seed\n*k : 3\n", "alias as a key")
case("anchor_section", "t: &t {name: phi4, shape: [4, 4]}\ntheory: *t\n", "a section given as alias")
# tags
case("tag_float", T + "seed: !!float 3\n", "!!float tag on an integer key")
case("tag_custom", T + "seed: !custom 3\n", "unknown local tag")
case("tag_python", T + "seed: !!python/object/apply:os.system ['touch PWNED']\n",
     "python tag (must never run anything)")
case("tag_binary", T + "output: !!binary aGVsbG8=\n", "!!binary tag")
case("tag_map", "theory: !!map {name: phi4, shape: [4, 4]}\n", "explicit !!map")
case("tag_set", T + "model: !!set {? a, ? b}\n", "!!set")
case("tag_long", T + "seed: !" + "t" * 5000 + " 3\n", "5000-byte tag")
case("tag_directive", "%TAG ! tag:evil.com,2000:\n--- \n" + T, "%TAG directive")
case("yaml_directive", "%YAML 9.9\n---\n" + T, "%YAML 9.9 directive")
# merge keys
case("merge_key", "base: &b {name: phi4, shape: [4, 4]}\ntheory: {<<: *b, m2: -1.0}\n",
     "merge key << with an alias")
case("merge_list", T + "model: {<<: [{layers: 2}, {kernel: 3}]}\n", "merge key with a list")
case("merge_scalar", T + "model: {<<: 3}\n", "merge key with a scalar")
# numbers
for k, (key, val) in enumerate([
        ("seed", "1e400"), ("seed", "-1"), ("seed", "18446744073709551616"),
        ("seed", "99999999999999999999999999999999999999"), ("seed", "0x7fffffffffffffff"),
        ("seed", "0o777"), ("seed", "1_000"), ("seed", "+12"), ("seed", ".inf"), ("seed", "~"),
        ("theory.m2", ".nan"), ("theory.m2", ".inf"), ("theory.m2", "-.inf"), ("theory.m2", "1e400"),
        ("theory.m2", "-1e400"), ("theory.m2", "1e-400"), ("theory.lambda", "1e308"),
        ("theory.lambda", "0x10"), ("theory.lambda", "1,5"), ("theory.lambda", "NaN"),
        ("theory.shape", "[1000000000, 1000000000]"), ("theory.shape", "[2147483648, 4]"),
        ("theory.shape", "[-4, 4]"), ("theory.shape", "[4.5, 4]"), ("theory.shape", "[4, 4, 4]"),
        ("theory.shape", "[]"), ("theory.shape", "[1e400, 4]"),
        ("model.hidden", "[99999999999]"), ("model.hidden", "[2147483647, 2147483647]"),
        ("model.layers", "2147483648"), ("model.layers", "1e9"), ("model.kernel", "-2147483649"),
        ("train.batch", "9223372036854775808"), ("train.batch", "9223372036854775807"),
        ("train.lr", "1e-400"), ("train.lr", "-0.0"), ("train.stop.steps", "1e19"),
        ("sample.proposals", "9223372036854775807"), ("sample.proposals", "-9223372036854775809"),
        ("sample.block", "0"), ("hmc.tau", "1e308"), ("hmc.steps", "4294967297"),
        ("hmc.trajectories", "18446744073709551615"), ("hmc.cg_tol", "0"),
]):
    sect, _, leaf = key.rpartition(".")
    if sect == "":
        body = T + "%s: %s\n" % (leaf, val)
    elif sect == "theory":
        body = "theory: {name: phi4, shape: [4, 4], m2: -1.0, lambda: 1.0, %s: %s}\n" % (leaf, val)
        body = body.replace("shape: [4, 4], shape", "shape")
        if leaf == "shape":
            body = "theory: {name: phi4, m2: -1.0, lambda: 1.0, shape: %s}\n" % val
        elif leaf in ("m2", "lambda"):
            body = "theory: {name: phi4, shape: [4, 4], %s: %s}\n" % (leaf, val)
    elif "." in sect:
        s1, s2 = sect.split(".")
        body = T + "%s:\n  %s:\n    %s: %s\n" % (s1, s2, leaf, val)
    else:
        body = T + "%s:\n  %s: %s\n" % (sect, leaf, val)
    case("num_%02d" % k, body, "%s: %s" % (key, val))
# long strings and keys, many keys, big lists
case("long_value", T + "output: " + "a" * 200000 + "\n", "200 KB output value")
case("long_key", T + "k" * 100000 + ": 1\n", "100 KB key")
case("long_name", "theory: {name: " + "p" * 50000 + "}\n", "50 KB theory name")
case("long_quoted", T + 'output: "' + "\\u00e9" * 20000 + '"\n', "escapes in a quoted output")
case("many_keys", T + "".join("k%d: %d\n" % (i, i) for i in range(60000)), "60000 unknown keys")
case("many_obs", T + "observables: [" + ", ".join(["phi2"] * 20000) + "]\n", "20000 observables")
case("big_hidden", T + "model: {hidden: [" + ",".join(["4"] * 100000) + "]}\n", "100000 hidden entries")
case("just_over_1mib", T + "#" + "x" * (1 << 20) + "\n", "a card just over 1 MiB")
# bytes
case("nul_byte", T + "seed: 3\x00\nx: 1\n", "NUL byte")
case("nul_first", "\x00" + T, "NUL byte first")
case("invalid_utf8", (T + "output: caf\xe9\n").encode("latin-1"), "invalid UTF-8 (latin-1 e-acute)")
case("invalid_utf8_key", T.encode() + b"\xff\xfe: 1\n", "invalid UTF-8 in a key")
case("overlong_utf8", T.encode() + b"output: \xc0\xaf\n", "overlong UTF-8 sequence")
case("surrogate_utf8", T.encode() + b"output: \xed\xa0\x80\n", "UTF-8-encoded surrogate")
case("utf16_bom", "\ufeff".encode("utf-16-le") + T.encode("utf-16-le"), "UTF-16 LE card with BOM")
case("utf8_bom", b"\xef\xbb\xbf" + T.encode(), "UTF-8 BOM (valid)")
case("control_chars", T + "output: a\x01\x02\x1bb\n", "control characters in a value")
case("cr_only", T.replace("\n", "\r") + "seed: 3\r", "CR line ends")
case("tabs", T + "model:\n\tlayers: 2\n", "tab indentation")
case("esc_nul", T + 'output: "a\\0b"\n', "escaped NUL in a quoted string")
case("esc_bad", T + 'output: "\\xZZ\\uD800"\n', "bad escapes")
# structure
case("dup_key", T + "seed: 1\nseed: 2\n", "duplicate key")
case("dup_section", T + T, "duplicate section")
case("deep_flow", "[" * 100000, "100000 open brackets")
case("deep_flow_closed", "x: " + "[" * 40 + "]" * 40 + "\n", "40 nested lists")
case("deep_block", "".join("  " * i + "k%d:\n" % i for i in range(200)) + "  " * 200 + "v\n",
     "200 nested block mappings")
case("deep_map_flow", "x: " + "{a: " * 33 + "1" + "}" * 33 + "\n", "33 nested flow maps")
case("empty", "", "empty file")
case("comments_only", "# nothing\n# here\n", "only comments")
case("null_doc", "~\n", "a null document")
case("top_list", "- a\n- b\n", "a list at the top level")
case("top_scalar", "hello\n", "a scalar at the top level")
case("two_docs", T + "---\n" + T, "two documents")
case("doc_end_garbage", T + "...\ngarbage: [\n", "garbage after the end of the document")
case("complex_key", T + "? [a, b]\n: 1\n", "a list as a key")
case("complex_key_map", T + "? {a: 1}\n: 2\n", "a mapping as a key")
case("null_key", T + "~: 1\n", "a null key")
case("empty_key", T + '"": 1\n', "an empty key")
case("section_list", "theory: [phi4, 4]\n", "a list for a section")
case("section_null", "theory:\nmodel:\n", "empty sections")
case("value_map", T + "seed: {a: 1}\n", "a mapping for a scalar")
case("value_seq", T + "seed: [1, 2]\n", "a list for a scalar")
case("block_literal", T + "output: |\n  a\n  b\n", "a literal block scalar (line break)")
case("folded_huge", T + "output: >\n" + "  word\n" * 50000, "a huge folded scalar")
case("unterminated_quote", T + 'output: "abc\n', "unterminated quote")
case("unterminated_flow", "theory: {name: phi4, shape: [4, 4]\n", "unterminated flow mapping")
case("only_colon", ":\n", "only a colon")
case("only_dash", "-\n", "only a dash")
case("only_question", "?\n", "only a question mark")
case("anchor_only", "&a\n", "only an anchor")
case("bad_indent_mix", "theory:\n  name: phi4\n   shape: [4, 4]\n", "inconsistent indentation")

with open(os.path.join(out, "cases.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
print(len(rows))
