#!/usr/bin/env bash
# Two or more builds of the server side by side on the feed's SDK polls, in turns:
# `bash bench/feed_ab.sh LABEL=BINARY LABEL=BINARY ...`. Not run in CI.
#
# On a shared machine the feed benchmark's cells move by 15 points between runs, more than a
# change to the server usually does. Here every binary (and the bare hyper ceiling,
# examples/bare_hyper.rs) is measured once per round, round after round, so what the machine's
# other work does over the run falls on all of them alike; the table gives each one's median
# over the rounds and its share of the ceiling's median.
#
# Cells: `/api/client/features` as an SDK whose copy is current (304) and as a first fetch
# (200), wrk -t2 -c32 for DURATION each, 1,000 flags (BENCH_DIR). Server and wrk share the cores.
#
# Environment: BENCH_DIR, ROUNDS (5), DURATION (10s), PORT (18200), BENCH_SKIP_BUILD=1 (use
# target/release/examples/bare_hyper as it is), BENCH_OUT (bench/results.md; the table goes
# between its `feed_ab` markers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
PORT=${PORT:-18200}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
HOST=127.0.0.1
BASE=http://$HOST:$PORT

[ $# -ge 1 ] || { echo "usage: bash bench/feed_ab.sh LABEL=BINARY [LABEL=BINARY ...]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  say "building the bare hyper example (release)"
  cargo build --release --quiet --example bare_hyper
fi
BARE=$ROOT/target/release/examples/bare_hyper

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-feed-ab.XXXXXX")
trap cleanup EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=$WORK/rows.txt
: >"$ROWS"

# Each binary loads the state into its own database once; every round starts it afresh on it.
LABELS=()
declare -A BIN CLIENT
for target in "$@"; do
  label=${target%%=*}
  LABELS+=("$label")
  BIN[$label]=${target#*=}
  say "$label: loading features-1000.json"
  SWITCHYARD_DATABASE_URL="sqlite://$WORK/$label.db" load_project "${BIN[$label]}"
  CLIENT[$label]=$(SWITCHYARD_DATABASE_URL="sqlite://$WORK/$label.db" "${BIN[$label]}" token create \
    --type client --project bench --environment development --name bench-client)
done

# cells LABEL AUTHORIZATION ETAG: the 304 and 200 cells against whatever serves BASE.
cells() {
  local label=$1 auth=$2 etag=$3 mode
  for mode in 304 200; do
    local extra=()
    [ "$mode" = 304 ] && extra=(-H "If-None-Match: $etag")
    wrk -t2 -c32 -d"$DURATION" --timeout 10s -H "Authorization: $auth" \
      -H "Unleash-Client-Spec: 5.2.0" "${extra[@]}" "$BASE/api/client/features" >"$WORK/wrk.txt"
    local rate
    rate=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.txt")
    say "round $round, $label, $mode: $rate req/s"
    echo "$label $mode $round $rate" >>"$ROWS"
  done
}

ETAG=
for round in $(seq 1 "$ROUNDS"); do
  for label in "${LABELS[@]}"; do
    start_server "$WORK/$label.log" env SWITCHYARD_DATABASE_URL="sqlite://$WORK/$label.db" \
      SWITCHYARD_LOG=warn "${BIN[$label]}" serve --bind "$HOST:$PORT"
    curl -fsS -D "$WORK/h" -o "$WORK/features.json" -H "Authorization: ${CLIENT[$label]}" \
      -H "Unleash-Client-Spec: 5.2.0" "$BASE/api/client/features"
    ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$WORK/h")
    cells "$label" "${CLIENT[$label]}" "$ETAG"
    stop_process "$SERVER_PID"
  done
  start_process "$BASE/" "$WORK/bare.log" "$BARE" --bind "$HOST:$PORT" --file "$WORK/features.json" --etag "$ETAG"
  cells "bare hyper" "-" "$ETAG"
  stop_process "$STARTED_PID"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

TABLE=$(python3 - "$ROWS" "$ROUNDS" "$DURATION" "$LOAD_BEFORE" "$LOAD_AFTER" "$(nproc)" <<'EOF'
import collections, datetime, statistics, sys
rows_path, rounds, duration, load_before, load_after, cores = sys.argv[1:]
rates = collections.OrderedDict()
for line in open(rows_path):
    *label, mode, _round, rate = line.split()
    rates.setdefault(" ".join(label), {}).setdefault(mode, []).append(float(rate))
bare = rates.get("bare hyper", {})
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
print("## Builds side by side on the SDK polls (`bench/feed_ab.sh`)")
print()
print(f"Measured {now} on {cores} cores, release builds, wrk -t2 -c32, {duration} a cell, {rounds} rounds "
      f"(each build and the bare ceiling once per round). Load average before: {load_before}; after: {load_after}.")
print()
print("| server | 304 req/s, median (range) | of bare | 200 req/s, median (range) | of bare |")
print("|---|---:|---:|---:|---:|")
for label, modes in rates.items():
    cells = []
    for mode in ("304", "200"):
        xs = modes.get(mode, [])
        med = statistics.median(xs) if xs else float("nan")
        share = med / statistics.median(bare[mode]) if bare.get(mode) else float("nan")
        cells += [f"{med:,.0f} ({min(xs):,.0f}–{max(xs):,.0f})", f"{100 * share:.0f} %"]
    print(f"| {label} | " + " | ".join(cells) + " |")
EOF
)
echo "$TABLE"
write_section "$OUT" feed_ab "$TABLE"
