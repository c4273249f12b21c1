#!/usr/bin/env python3
"""Turns the load generators' output into rows, and rows into the Markdown in bench/results.md.

  summarize.py cell oha|wrk NAME CONCURRENCY RAW_OUTPUT >> rows.jsonl
  summarize.py table rows.jsonl extra.json > results.md
"""
import json
import sys

# Reference figures and targets from issue 3 ("Performance").
EDGE_FRONTEND = 1000  # Unleash Edge's frontend API: 660-1,000 req/s; twice the upper end is the target
CEILING_SHARE = 0.80


def cell(tool, name, c, path):
    text = open(path).read()
    if tool == "oha":
        d = json.loads(text)
        s = d["summary"]
        lat = d.get("latencyPercentiles") or {}
        codes = d.get("statusCodeDistribution") or {}
        # Requests still in flight when the time is up are not failures.
        errors = sum(v for k, v in (d.get("errorDistribution") or {}).items()
                     if k != "aborted due to deadline")
        total = sum(codes.values())
        row = {
            "rps": s["requestsPerSec"],
            "p50_ms": (lat.get("p50") or 0) * 1e3,
            "p99_ms": (lat.get("p99") or 0) * 1e3,
            "statuses": codes,
            "errors": errors,
            "bytes_per_request": s.get("sizePerRequest"),
            "requests": total,
        }
    else:
        line = next(l for l in text.splitlines() if l.startswith("WRK_JSON "))
        d = json.loads(line[len("WRK_JSON "):])
        secs = d["duration_us"] / 1e6
        e = d["errors"]
        row = {
            "rps": d["requests"] / secs if secs else 0,
            "p50_ms": d["p50_us"] / 1e3,
            "p99_ms": d["p99_us"] / 1e3,
            "statuses": {"non-2xx/3xx": e["status"]} if e["status"] else {},
            "errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
            "bytes_per_request": d["bytes"] / d["requests"] if d["requests"] else None,
            "requests": d["requests"],
        }
    row.update({"name": name, "c": int(c), "tool": tool})
    print(json.dumps(row))


def fmt_rate(x):
    return f"{x:,.0f}"


def fmt_ms(x):
    return f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def table(rows_path, extra_path):
    rows = [json.loads(l) for l in open(rows_path) if l.strip()]
    extra = json.load(open(extra_path))
    by = {(r["name"], r["c"]): r for r in rows}
    out = []
    w = out.append
    w(f"# Feed benchmark results\n")
    w(f"Measured {extra['date']} on {extra['machine']} (commit `{extra['commit']}`).")
    w(f"Load average before the run: {extra['load_before']}; after: {extra['load_after']}.")
    w("Server and load generator share the same cores, so compare rows measured in the same run; "
      "a load average near or above the core count before the run means other work competed "
      "for them, and absolute numbers are then a lower bound.\n")
    w(f"{extra['duration']} per cell, keep-alive connections on 127.0.0.1; "
      f"`oha` {extra['oha']} for fixed requests, `wrk` {extra['wrk']} with `bench/varied.lua` for "
      "varied contexts (a different line of the JSONL file per request).\n")
    w("| Endpoint | c | req/s | p50 ms | p99 ms | bytes/resp | statuses / errors | vs ceiling or target |")
    w("|---|---:|---:|---:|---:|---:|---|---|")
    order = [r["name"] for r in rows]
    seen = []
    for n in order:
        if n not in seen:
            seen.append(n)
    for n in seen:
        for c in sorted({r["c"] for r in rows if r["name"] == n}):
            r = by[(n, c)]
            note = ""
            base = {"client features 200": "bare hyper 200", "client features 304": "bare hyper 304"}.get(n)
            if base and (base, c) in by and by[(base, c)]["rps"]:
                share = r["rps"] / by[(base, c)]["rps"]
                note = f"{share:.0%} of bare ({'meets' if share >= CEILING_SHARE else 'misses'} ≥80 %)"
            elif n in ("OFREP bulk", "frontend POST"):
                target = 2 * EDGE_FRONTEND
                note = f"{r['rps'] / target:.1f}× target {target:,}/s ({'meets' if r['rps'] >= target else 'misses'})"
            statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["statuses"].items()))
            if r["errors"]:
                statuses += f"; errors: {r['errors']:,}"
            bpr = r.get("bytes_per_request")
            bpr = f"{bpr:,.0f}" if bpr else ""
            w(f"| {n} | {c} | {fmt_rate(r['rps'])} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r['p99_ms'])} | "
              f"{bpr} | {statuses} | {note} |")
    w("")
    w("| Other figures | value | target |")
    w("|---|---|---|")
    for label, value, target in extra["other"]:
        w(f"| {label} | {value} | {target} |")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "cell":
        cell(*sys.argv[2:6])
    elif sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
