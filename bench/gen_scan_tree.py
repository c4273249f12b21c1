#!/usr/bin/env python3
"""Writes the source tree the scan benchmark searches (bench/scan.sh).

    gen_scan_tree.py KEYS_FILE OUT_DIR [FILES]

FILES (default 100,000) source-like files in 1,000 directories three levels deep, about 2 KiB
each, in five languages. About one file in ten references a flag key (`isEnabled("key")`), and as
many hold near misses that whole-token matching must reject (`key_total`, `old-key`,
`keyX`); one file in 100 is binary (a NUL byte early). A `.gitignore` excludes `dist/`, which
holds 1,000 more files full of keys that both tools must skip. Deterministic (seeded).
"""

import os
import random
import sys

WORDS = (
    "value result request response user account order cart item price total count index "
    "buffer config options handler client server session token cache store event payload "
    "render update create delete fetch parse format validate compute apply merge"
).split()

EXTS = [".ts", ".py", ".go", ".rs", ".java"]


def line(rng, keys):
    r = rng.random()
    if r < 0.004:
        return f'    if (flags.isEnabled("{rng.choice(keys)}")) {{ enableFeature(); }}'
    if r < 0.008:
        k = rng.choice(keys)
        miss = rng.choice([f"{k.replace('-', '_')}_total", f"old-{k}", f"{k}X", f"{k}-legacy"])
        return f"    const {rng.choice(WORDS)} = lookup('{miss}');"
    n = rng.randint(3, 9)
    words = " ".join(rng.choice(WORDS) for _ in range(n))
    return f"    {rng.choice(WORDS)}_{rng.choice(WORDS)}({words.replace(' ', ', ')}); // {words}"


def main():
    keys_file, out = sys.argv[1], sys.argv[2]
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    keys = [k for k in open(keys_file).read().split("\n") if k]
    rng = random.Random(12)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".gitignore"), "w") as f:
        f.write("dist/\n")
    per_dir = max(1, files // 1000)
    written = 0
    d = 0
    while written < files:
        path = os.path.join(out, "src", f"m{d // 100:02d}", f"p{(d // 10) % 10}", f"d{d % 10}")
        os.makedirs(path, exist_ok=True)
        for i in range(min(per_dir, files - written)):
            ext = EXTS[(d + i) % len(EXTS)]
            name = os.path.join(path, f"file{i:03d}{ext}")
            if rng.random() < 0.01:
                with open(name, "wb") as f:
                    f.write(b"\x7fBIN\0\0" + os.urandom(2000))
            else:
                lines = [line(rng, keys) for _ in range(rng.randint(15, 40))]
                with open(name, "w") as f:
                    f.write("\n".join(lines) + "\n")
            written += 1
        d += 1
    dist = os.path.join(out, "dist")
    os.makedirs(dist, exist_ok=True)
    for i in range(1000):
        with open(os.path.join(dist, f"bundle{i:04d}.js"), "w") as f:
            f.write("".join(f'isEnabled("{k}");\n' for k in rng.sample(keys, 20)))
    print(f"{written} files in {d} directories under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
