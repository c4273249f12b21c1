#!/usr/bin/env bash
# The ingest benchmark (issue 13, "Speed"): `bash bench/ingest.sh` from anywhere. Not run in CI.
#
# Does ingesting SDK impact metrics slow what matters? Builds the release binary, loads the
# 1,000-flag state (BENCH_DIR, default ../shared/bench) into a temporary database, starts a
# release plan on PLANS of its flags in development (each with two guards reading the metrics the
# SDKs send: an error ratio and a request rate), then measures, in ROUNDS rounds, each cell
# without and with SDK metric posts back to back (`POST /api/client/metrics`, a report of 50
# impact metrics each, at about RATE requests/s), the order turned round every other round:
#   - the feed's poll rate: `/api/client/features` flat out with wrk, as an SDK whose copy is
#     current polls (If-None-Match, 304) and as a first fetch (200, the whole body);
#   - the guard job's pass time: the server logs each pass (`guard pass plans=N micros=T`,
#     SWITCHYARD_LOG=...rollout::watch=debug); the passes that ran during each phase are
#     summarised (median, p95, max);
#   - the server's CPU time (user and system, /proc) per post, with the posts alone first, and
#     per poll; and its share of the machine while polled. Server and wrk share the cores, so the
#     server gets about half of them, and the posts' CPU comes out of that half: the poll rate
#     drops by about the posts' CPU over the server's share, twice what the same posts would
#     take of a server with the machine to itself (the last two rows).
# Prints a Markdown table with the load average before and after, and writes it between the
# `ingest` markers of bench/results.md. Server, wrk and the posts share the machine's cores: a
# load average near the core count before the run means others competed for them.
#
# Environment: BENCH_DIR, PLANS (1000), RATE (2000), DURATION (15s per cell), ROUNDS (3), PORT (18180),
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
ROUNDS=${ROUNDS:-3}
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

python3 -c 'import json, sys; print("\n".join(f["name"] for f in json.load(open(sys.argv[1]))["features"]))' \
  "$BENCH_DIR/features-1000.json" >"$WORK/keys.txt"
python3 bench/gen_report.py "$BENCH_DIR/features-1000.json" "$WORK/report.json"

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
# The server's CPU time so far (user and system), in clock ticks.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
wrk_json() { grep '^WRK_JSON ' "$1" | sed 's/^WRK_JSON //'; }

# cell NAME MODE ROUND: polls of MODE (304 or 200) for DURATION, with the server's CPU time and
# the guard passes logged meanwhile.
cell() {
  local name=$1 mode=$2 round=$3 etag="" from t0 t1
  [ "$mode" = 304 ] && etag=$ETAG
  from=$(lines)
  say "round $round, $name ingest: polls ($mode), $DURATION"
  t0=$(server_ticks)
  wrk -t2 -c32 -d"$DURATION" -s bench/ingest_poll.lua "$BASE/api/client/features" -- "$CLIENT" "$etag" \
    >"$WORK/poll-$name-$mode-$round.txt"
  t1=$(server_ticks)
  echo "poll $name $mode $round $(wrk_json "$WORK/poll-$name-$mode-$round.txt")" >>"$ROWS"
  echo "cpu $name $mode $round $((t1 - t0))" >>"$ROWS"
  echo "passes $name $round $(tail -n +"$((from + 1))" "$WORK/serve.log" | grep 'guard pass' |
    grep -o 'micros=[0-9]*' | cut -d= -f2 | tr '\n' ' ')" >>"$ROWS"
}

# posting_cell MODE ROUND: the same cell while posts arrive at about RATE per second.
posting_cell() {
  local mode=$1 round=$2 posts
  say "round $round: posting metrics at about $RATE/s ($POSTERS connections, one post each per $INTERVAL ms)"
  wrk -t2 -c"$POSTERS" -d"${SECONDS_POSTING}s" -s bench/ingest_post.lua "$BASE/api/client/metrics" -- \
    "$WORK/report.json" "$CLIENT" "$INTERVAL" >"$WORK/posts-$mode-$round.txt" &
  posts=$!
  sleep 3
  cell "with" "$mode" "$round"
  wait "$posts"
  echo "posts $round $(wrk_json "$WORK/posts-$mode-$round.txt")" >>"$ROWS"
}

# What one post costs the server: the posts alone for a while, its CPU time over their count.
say "posts alone at about $RATE/s, $DURATION: the server's CPU per post"
T0=$(server_ticks)
wrk -t2 -c"$POSTERS" -d"$DURATION" -s bench/ingest_post.lua "$BASE/api/client/metrics" -- \
  "$WORK/report.json" "$CLIENT" "$INTERVAL" >"$WORK/posts-alone.txt"
echo "alone $(($(server_ticks) - T0)) $(wrk_json "$WORK/posts-alone.txt")" >>"$ROWS"

# Each kind of poll is measured without and with the posts back to back, the order turned
# round every other round, so that the machine's drift over a run (its speed wanders by a fifth
# from minute to minute) falls on both sides alike; the table gives each round and the median.
SECONDS_POSTING=$(( ${DURATION%s} + 5 ))
for round in $(seq 1 "$ROUNDS"); do
  for mode in 304 200; do
    if [ $((round % 2)) = 1 ]; then
      cell "without" "$mode" "$round"
      posting_cell "$mode" "$round"
    else
      posting_cell "$mode" "$round"
      cell "without" "$mode" "$round"
    fi
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
POINTS=$(sqlite3 "$WORK/bench.db" 'select coalesce(sum(count), 0) from signal_points' 2>/dev/null || echo "?")

TABLE=$(python3 - "$ROWS" "$LOAD_BEFORE" "$LOAD_AFTER" "$PLANS" "$RUNNING" "$RATE" "$DURATION" "$(git rev-parse --short HEAD)" "$(nproc)" "$BUILD" "$ROUNDS" "$(getconf CLK_TCK)" <<'EOF'
import json, statistics, sys, datetime
rows_path, load_before, load_after, plans, running, rate, duration, commit, cores, build, rounds, tick = sys.argv[1:]
polls, passes, posts, cpu, alone = {}, {"without": [], "with": []}, [], {}, None
for line in open(rows_path):
    parts = line.split(maxsplit=4)
    if parts[0] == "poll":
        polls[(parts[1], parts[2], parts[3])] = json.loads(parts[4])
    elif parts[0] == "cpu":
        cpu[(parts[1], parts[2], parts[3])] = int(parts[4]) / int(tick)
    elif parts[0] == "alone":
        seconds, stats = int(parts[1]) / int(tick), json.loads(line.split(maxsplit=2)[2])
        alone = (seconds, stats)
    elif parts[0] == "passes":
        passes[parts[1]] += [int(x) / 1000 for x in line.split()[3:]]
    elif parts[0] == "posts":
        posts.append(json.loads(line.split(maxsplit=2)[2]))

def rate_of(c):
    return c["requests"] / c["seconds"] if c["seconds"] else 0

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")

post_rates = [rate_of(p) for p in posts]
refused = sum(p["non2xx"] for p in posts)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "## Metrics ingest against the feed and the guard job (`bench/ingest.sh`)",
    "",
    f"Measured {now} on {cores} cores, commit `{commit}`, {build}. Load average before: {load_before}; after: {load_after}.",
    f"{running} release plans running in development (of {plans} started), two guards each reading the posted metrics.",
    f"Posts: `POST /api/client/metrics`, one report of 50 impact metrics each, paced at about {rate}/s by `bench/ingest_post.lua`"
    + (f": {min(post_rates):,.0f}–{max(post_rates):,.0f}/s measured, {refused} refused, p99 {max(p['p99_ms'] for p in posts):.1f} ms." if posts else "."),
    f"Polls: `/api/client/features` flat out with wrk (-c32, {duration} per cell), 1,000 flags; {rounds} rounds, each cell without and with the posts back to back (with first in even rounds).",
    "",
    "| round | polls/s 304 without | with | change | polls/s 200 without | with | change |",
    "|---|---:|---:|---:|---:|---:|---:|",
]
changes = {"304": [], "200": []}
for r in range(1, int(rounds) + 1):
    cells = []
    for mode in ("304", "200"):
        a, b = polls.get(("without", mode, str(r))), polls.get(("with", mode, str(r)))
        if a and b:
            ra, rb = rate_of(a), rate_of(b)
            change = 100 * (rb - ra) / ra
            changes[mode].append(change)
            cells += [f"{ra:,.0f}", f"{rb:,.0f}", f"{change:+.1f} %"]
        else:
            cells += ["?", "?", "?"]
    lines.append(f"| {r} | " + " | ".join(cells) + " |")
med = {m: (f"{statistics.median(c):+.1f} %" if c else "?") for m, c in changes.items()}
lines.append(f"| median change | | | {med['304']} | | | {med['200']} |")
lines += ["", "| guard pass ms | without ingest | with ingest |", "|---|---:|---:|"]
for stat, f in (("median", lambda x: statistics.median(x) if x else float("nan")),
                ("p95", lambda x: pct(x, 95)), ("max", lambda x: max(x) if x else float("nan"))):
    lines.append(f"| {stat} | {f(passes['without']):.1f} | {f(passes['with']):.1f} |")
lines.append(f"| passes measured | {len(passes['without'])} | {len(passes['with'])} |")

# Where the polls' capacity goes: the server's CPU per request, and its share of the machine.
def per_request(name, mode):
    pairs = [(cpu[k], polls[k]) for k in cpu if k[0] == name and k[1] == mode and k in polls]
    return statistics.median(c / p["requests"] for c, p in pairs) * 1e6 if pairs else float("nan")

def share(name):
    pairs = [(cpu[k], polls[k]) for k in cpu if k[0] == name and k in polls]
    return statistics.median(c / p["seconds"] for c, p in pairs) if pairs else float("nan")

if alone and alone[1]["requests"]:
    per_post = alone[0] / alone[1]["requests"] * 1e6
    lines += [
        "",
        "| server CPU (user + system, /proc) | |",
        "|---|---:|",
        f"| per metrics post, posts alone ({alone[1]['requests'] / alone[1]['seconds']:,.0f}/s) | {per_post:.0f} µs |",
        f"| per 304 poll, without ingest | {per_request('without', '304'):.1f} µs |",
        f"| per 200 poll, without ingest | {per_request('without', '200'):.1f} µs |",
        f"| the server's share of the machine while polled, without / with ingest | {share('without'):.2f} / {share('with'):.2f} cores |",
        f"| ingest at {int(rate):,}/s, of that share | {int(rate) * per_post / 1e6 / share('with') * 100:.0f} % |",
        f"| ingest at {int(rate):,}/s, of a server with its own {cores} cores | {int(rate) * per_post / 1e6 / int(cores) * 100:.0f} % |",
    ]
print("\n".join(lines))
EOF
)
echo "$TABLE"
write_section "$OUT" ingest "$TABLE"
echo "signal points stored (sum of counts): $POINTS" >&2
