#!/usr/bin/env bash
# The ingest benchmark (issue 13, "Speed"): `bash bench/ingest.sh` from anywhere. Not run in CI.
#
# Does ingesting SDK impact metrics slow what matters? Builds the release binary, loads the
# 1,000-flag state (BENCH_DIR, default ../shared/bench) into a temporary database, starts a
# release plan on PLANS of its flags in development (each with two guards reading the metrics the
# SDKs send: an error ratio and a request rate), then measures, first without and then with SDK
# metric posts (`POST /api/client/metrics`, a report of 50 impact metrics each) at about RATE
# requests/s:
#   - the feed's poll rate: `/api/client/features` flat out with wrk, as an SDK whose copy is
#     current polls (If-None-Match, 304) and as a first fetch (200, the whole body);
#   - the guard job's pass time: the server logs each pass (`guard pass plans=N micros=T`,
#     SWITCHYARD_LOG=...rollout::watch=debug); the passes that ran during each phase are
#     summarised (median, p95, max).
# Prints a Markdown table with the load average before and after, and writes it between the
# `ingest` markers of bench/results.md. Server, wrk and the posts share the machine's cores: a
# load average near the core count before the run means others competed for them.
#
# Environment: BENCH_DIR, PLANS (1000), RATE (2000), DURATION (15s per cell), PORT (18180),
# BENCH_OUT (bench/results.md), BENCH_SKIP_BUILD=1 (use target/release/switchyard as it is),
# SWITCHYARD_BIN (another binary, e.g. a debug build for a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
PLANS=${PLANS:-1000}
RATE=${RATE:-2000}
DURATION=${DURATION:-15s}
PORT=${PORT:-18180}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
HOST=127.0.0.1
BASE=http://$HOST:$PORT
# Posting connections, each waiting INTERVAL ms between its posts: RATE per second at most.
# Enough connections that the time a post takes under load (a few ms) barely lowers the rate.
POSTERS=${POSTERS:-50}
INTERVAL=$((POSTERS * 1000 / RATE))

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
[ -r "$BENCH_DIR/features-1000.json" ] || { echo "missing $BENCH_DIR/features-1000.json (set BENCH_DIR)" >&2; exit 1; }
build_release
SY=${SWITCHYARD_BIN:-$ROOT/target/release/switchyard}
BUILD="release build"
[ -n "${SWITCHYARD_BIN:-}" ] && BUILD="binary $SWITCHYARD_BIN (not a measurement)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-ingest.XXXXXX")
trap cleanup EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "loading features-1000.json"
export SWITCHYARD_DATABASE_URL="sqlite://$WORK/bench.db"
load_project "$SY"
CLIENT=$("$SY" token create --type client --project bench --environment development --name bench-client)
ADMIN=$("$SY" token create --type admin --project bench --user bench@example.com --name bench-admin)

# Posts at RATE per second from one token: far past the default allowance per token.
start_server "$WORK/serve.log" env SWITCHYARD_LOG="warn,switchyard::rollout::watch=debug" \
  SWITCHYARD_METRICS_POSTS_PER_MINUTE=100000000 "$SY" serve --bind "$HOST:$PORT"

python3 - "$BENCH_DIR/features-1000.json" "$WORK" <<'EOF'
import datetime, json, sys
features, work = sys.argv[1], sys.argv[2]
# The server takes buckets from the last two days only: this minute's.
now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
start, stop = now.strftime("%Y-%m-%dT%H:%M:%SZ"), (now + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
keys = [f["name"] for f in json.load(open(features))["features"]]
open(f"{work}/keys.txt", "w").write("\n".join(keys) + "\n")
# One SDK report: a minute's evaluations of a few flags and 50 impact metrics (the requests and
# errors the guards read, and 48 others: counters, gauges, histograms, with labels).
metrics = [
    {"name": "http_requests", "help": "requests", "type": "counter",
     "samples": [{"labels": {"route": "/checkout"}, "value": 1000}]},
    {"name": "http_errors", "help": "errors", "type": "counter",
     "samples": [{"labels": {"route": "/checkout"}, "value": 3}]},
]
for i in range(48):
    kind = ("counter", "gauge", "histogram")[i % 3]
    labels = {"region": ("eu", "us")[i % 2], "pod": f"web-{i % 4}"}
    if kind == "histogram":
        sample = {"labels": labels, "count": 100, "sum": 25.5, "buckets": [
            {"le": 0.1, "count": 50}, {"le": 0.5, "count": 85}, {"le": 1.0, "count": 95},
            {"le": "+Inf", "count": 100}]}
    else:
        sample = {"labels": labels, "value": 7 + i}
    metrics.append({"name": f"shop_metric_{i}", "help": "filler", "type": kind, "samples": [sample]})
report = {
    "appName": "shop", "instanceId": "bench-1", "environment": "development",
    "bucket": {"start": start, "stop": stop,
               "toggles": {k: {"yes": 40, "no": 2, "variants": {}} for k in keys[:5]}},
    "impactMetrics": metrics,
}
open(f"{work}/report.json", "w").write(json.dumps(report))
EOF

say "starting $PLANS release plans in development (two guards each)"
GUARDS='[{"metric":"http_errors","aggregation":"ratio","denominator":"http_requests","threshold":1.5,"relativeToBaseline":true,"windowSeconds":300,"sustainSeconds":120},{"metric":"http_requests","aggregation":"rate","threshold":1000000,"windowSeconds":600,"sustainSeconds":60}]'
head -n "$PLANS" "$WORK/keys.txt" | python3 -c '
import sys, urllib.parse
for k in sys.stdin.read().split():
    print(urllib.parse.quote(k, safe=""))' |
  xargs -P 4 -I{} curl -fsS -o /dev/null -X POST -H "Authorization: $ADMIN" -H "Content-Type: application/json" \
    -d "{\"template\":\"gradual\",\"autoAdvance\":false,\"guards\":$GUARDS}" \
    "$BASE/api/admin/projects/bench/flags/{}/environments/development/release-plan"
sleep 3
RUNNING=$(grep 'guard pass' "$WORK/serve.log" | grep -o 'plans=[0-9]*' | tail -n1 | cut -d= -f2)
say "the guard job watches $RUNNING plans"

# The ETag of what the polls ask for: the body depends on the client spec the SDK announces.
curl -fsS -D "$WORK/h" -o /dev/null -H "Authorization: $CLIENT" -H "Unleash-Client-Spec: 5.2.0" "$BASE/api/client/features"
ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$WORK/h")

ROWS=$WORK/rows.txt
: >"$ROWS"
lines() { wc -l <"$WORK/serve.log"; }
wrk_json() { grep '^WRK_JSON ' "$1" | sed 's/^WRK_JSON //'; }

# phase NAME: both poll cells, the guard passes logged meanwhile.
phase() {
  local name=$1 from
  from=$(lines)
  for mode in 304 200; do
    local etag=""
    [ "$mode" = 304 ] && etag=$ETAG
    say "$name: polls ($mode), $DURATION"
    wrk -t2 -c32 -d"$DURATION" -s bench/ingest_poll.lua "$BASE/api/client/features" -- "$CLIENT" "$etag" \
      >"$WORK/poll-$name-$mode.txt"
    echo "poll $name $mode $(wrk_json "$WORK/poll-$name-$mode.txt")" >>"$ROWS"
  done
  echo "passes $name $(tail -n +"$((from + 1))" "$WORK/serve.log" | grep 'guard pass' |
    grep -o 'micros=[0-9]*' | cut -d= -f2 | tr '\n' ' ')" >>"$ROWS"
}

phase "without"

say "posting metrics at about $RATE/s ($POSTERS connections, one post each per $INTERVAL ms)"
SECONDS_TOTAL=$(( ${DURATION%s} * 2 + 10 ))
wrk -t2 -c"$POSTERS" -d"${SECONDS_TOTAL}s" -s bench/ingest_post.lua "$BASE/api/client/metrics" -- \
  "$WORK/report.json" "$CLIENT" "$INTERVAL" >"$WORK/posts.txt" &
POSTS_PID=$!
sleep 5
phase "with"
wait "$POSTS_PID"
echo "posts $(wrk_json "$WORK/posts.txt")" >>"$ROWS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
POINTS=$(sqlite3 "$WORK/bench.db" 'select coalesce(sum(count), 0) from signal_points' 2>/dev/null || echo "?")

TABLE=$(python3 - "$ROWS" "$LOAD_BEFORE" "$LOAD_AFTER" "$PLANS" "$RUNNING" "$RATE" "$DURATION" "$(git rev-parse --short HEAD)" "$(nproc)" "$BUILD" <<'EOF'
import json, statistics, sys, datetime
rows_path, load_before, load_after, plans, running, rate, duration, commit, cores, build = sys.argv[1:]
polls, passes, posts = {}, {}, None
for line in open(rows_path):
    parts = line.split(maxsplit=3)
    if parts[0] == "poll":
        polls[(parts[1], parts[2])] = json.loads(parts[3])
    elif parts[0] == "passes":
        passes[parts[1]] = [int(x) / 1000 for x in line.split()[2:]]
    elif parts[0] == "posts":
        posts = json.loads(line.split(maxsplit=1)[1])

def rate_of(c):
    return c["requests"] / c["seconds"] if c["seconds"] else 0

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "## Metrics ingest against the feed and the guard job (`bench/ingest.sh`)",
    "",
    f"Measured {now} on {cores} cores, commit `{commit}`, {build}. Load average before: {load_before}; after: {load_after}.",
    f"{running} release plans running in development (of {plans} started), two guards each reading the posted metrics.",
    f"Posts: `POST /api/client/metrics`, one report of 50 impact metrics each, paced at about {rate}/s by `bench/ingest_post.lua`"
    + (f": {rate_of(posts):,.0f}/s measured, {posts['non2xx']} refused, p99 {posts['p99_ms']:.1f} ms." if posts else "."),
    f"Polls: `/api/client/features` flat out with wrk (-c32, {duration} per cell), 1,000 flags.",
    "",
    "| | without ingest | with ingest | change |",
    "|---|---:|---:|---:|",
]
for mode, label in (("304", "polls/s, current copy (304)"), ("200", "polls/s, whole body (200)")):
    a, b = polls.get(("without", mode)), polls.get(("with", mode))
    if a and b:
        ra, rb = rate_of(a), rate_of(b)
        lines.append(f"| {label} | {ra:,.0f} | {rb:,.0f} | {100 * (rb - ra) / ra:+.1f} % |")
        lines.append(f"| poll p99 ms ({mode}) | {a['p99_ms']:.2f} | {b['p99_ms']:.2f} | |")
for stat, f in (("median", lambda x: statistics.median(x) if x else float("nan")),
                ("p95", lambda x: pct(x, 95)), ("max", lambda x: max(x) if x else float("nan"))):
    a, b = passes.get("without", []), passes.get("with", [])
    lines.append(f"| guard pass ms, {stat} | {f(a):.1f} | {f(b):.1f} | |")
lines.append(f"| guard passes measured | {len(passes.get('without', []))} | {len(passes.get('with', []))} | |")
print("\n".join(lines))
EOF
)
echo "$TABLE"
write_section "$OUT" ingest "$TABLE"
echo "signal points stored (sum of counts): $POINTS" >&2
