#!/usr/bin/env python3
"""Prepares every literal SQL statement of src/ on a PostgreSQL database with the baseline
schema, to find what PostgreSQL refuses (types, grouping, functions) without running the app."""
import os, re, subprocess, sys
ROOT = sys.argv[1]
DB = sys.argv[2]
sys.path.insert(0, os.path.dirname(__file__))

def numbered(sql):
    out, hi, i = [], 0, 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            j = sql.index(c, i + 1) if c in sql[i+1:] else len(sql) - 1
            out.append(sql[i:j+1]); i = j + 1; continue
        if c in "?$":
            j = i + 1
            while j < len(sql) and sql[j].isdigit(): j += 1
            if j > i + 1:
                n = int(sql[i+1:j]); hi = max(hi, n); out.append(f"${n}"); i = j; continue
            if c == "?":
                hi += 1; out.append(f"${hi}"); i += 1; continue
        out.append(c); i += 1
    return "".join(out)

def rust_string(s):
    s = re.sub(r"\\\n\s*", "", s)
    return s.replace('\\"', '"').replace("\\\\", "\\").replace("\\n", "\n")

consts = {}
found = []
for dp, _, fs in os.walk(os.path.join(ROOT, "src")):
    for f in fs:
        if not f.endswith(".rs"): continue
        p = os.path.join(dp, f)
        t = open(p).read()
        for m in re.finditer(r'const (\w+): &str =\s*"((?:[^"\\]|\\.)*)"', t, re.S):
            consts[m.group(1)] = rust_string(m.group(2))
        for m in re.finditer(r'(?:query|query_as|query_scalar)(?:::<[^>]*>+)?\(\s*(&format!\(\s*)?"((?:[^"\\]|\\.)*)"', t, re.S):
            line = t[:m.start()].count("\n") + 1
            found.append((f"{os.path.relpath(p, ROOT)}:{line}", rust_string(m.group(2)), bool(m.group(1))))
bad = 0
for where, sql, fmt in found:
    if fmt:
        def sub(m):
            return consts.get(m.group(1), m.group(0))
        sql = re.sub(r"\{(\w+)\}", sub, sql)
        if re.search(r"\{\w*\}", sql): continue
    s = numbered(sql)
    r = subprocess.run(["psql", "-X", "-q", "-d", DB, "-c", f"prepare p as {s}"], capture_output=True, text=True)
    if r.returncode != 0 or "ERROR" in r.stderr:
        err = r.stderr.strip().splitlines()[0] if r.stderr.strip() else "?"
        if "could not determine data type" in err: continue
        bad += 1
        print(f"{where}: {err}\n    {s[:300]}")
print(f"{len(found)} statements, {bad} refused", file=sys.stderr)
