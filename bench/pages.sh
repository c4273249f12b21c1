#!/usr/bin/env bash
# Web pages and memory at 10,000 flags (issue 11, item 17): `bash bench/pages.sh` from anywhere.
#
# Loads `gen_bootstrap.py --count 10000` into one project (as bench/run.sh does), opens a change
# request in production, serves it with the release build, signs in as an admin and times the
# pages people open: sequentially (ROUNDS requests each, median and max from `curl -w`) and at
# concurrency 10 for 10 s (`wrk`, p50/p99). Then drives the feed (`/api/client/features` 200 and
# gzip, `/api/frontend`, OFREP bulk) for FEED_DURATION each with `wrk` at c=32, reading each
# phase's peak (VmHWM, reset before it) and VmRSS after it from /proc, and measures the 304 and 200
# throughput (c=32, 10 s). Not run in CI.
#
# Environment: BENCH_DIR (../shared/bench), PORT (18180), ROUNDS (20), PAGE_DURATION (10s),
# FEED_DURATION (30s), PAGES_WORK (a folder kept between runs: the database is built once),
# BENCH_SKIP_BUILD=1, ONLY=pages|memory, SWITCHYARD_BIN (another binary, e.g. a debug build for a
# quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
PORT=${PORT:-18180}
ROUNDS=${ROUNDS:-20}
PAGE_DURATION=${PAGE_DURATION:-10s}
FEED_DURATION=${FEED_DURATION:-30s}
ONLY=${ONLY:-}
HOST=127.0.0.1
BASE=http://$HOST:$PORT
SPEC="Unleash-Client-Spec: 5.2.0"
EMAIL=bench@example.com
PASSWORD="bench-pages-$(date +%s)-walrus-teapot"

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }

build_release
SY=${SWITCHYARD_BIN:-$ROOT/target/release/switchyard}

WORK=${PAGES_WORK:-}
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-pages.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
DB=$WORK/pages10k.db
export SWITCHYARD_DATABASE_URL="sqlite://$DB"

if [ ! -s "$WORK/tokens" ]; then
  say "loading 10,000 flags"
  rm -f "$DB"*
  python3 "$BENCH_DIR/gen_bootstrap.py" --count 10000 --out "$WORK/features-10000.json" >&2
  "$SY" project create --key bench --name Bench >/dev/null
  "$SY" import --project bench --environment development --format unleash "$WORK/features-10000.json" >&2
  printf '%s\n' "$PASSWORD" | "$SY" user create --email "$EMAIL" --admin --password-stdin >/dev/null
  client=$("$SY" token create --type client --project bench --environment development --name c)
  frontend=$("$SY" token create --type frontend --project bench --environment development --name f)
  admin=$("$SY" token create --type admin --project bench --user "$EMAIL" --name a)
  echo "$client $frontend $admin $PASSWORD" >"$WORK/tokens"
fi
read -r CLIENT FRONTEND ADMIN PASSWORD <"$WORK/tokens"

# The server runs 60 days ahead of the import (its test clock), so the flags are past their
# grace period and most are stale: the catalog's stale filters, the lifecycle pages and the
# cleanup report then have real work to do.
date -u -d '+60 days' +%Y-%m-%dT%H:%M:%SZ >"$WORK/now"
export SWITCHYARD_TEST_CLOCK_FILE=$WORK/now

trap 'stop_all; [ -z "${PAGES_WORK:-}" ] && rm -rf "$WORK"' EXIT
start_server "$WORK/serve.log" env SWITCHYARD_LOG="${SWITCHYARD_LOG:-warn}" \
  SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS=3600 "$SY" serve --bind "$HOST:$PORT" --report-schedule off
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
# Writing 5 to clear_refs resets VmHWM to the current VmRSS (Linux >= 4.0), so each phase's
# peak is its own: signing in (argon2 takes 19 MiB for a moment) does not count as feed load.
reset_peak() { echo 5 >"/proc/$SERVER_PID/clear_refs"; }
sleep 3
say "idle, 3 s after ready: VmRSS $(rss VmRSS) MiB, VmHWM $(rss VmHWM) MiB"

FLAGS=$(curl -fsS -H "Authorization: $CLIENT" -H "$SPEC" "$BASE/api/client/features" |
  python3 -c 'import json,sys; f=json.load(sys.stdin)["features"]; print(len(f), f[len(f)//2]["name"], f[-1]["name"])')
read -r COUNT FLAG CR_FLAG <<<"$FLAGS"
[ "$COUNT" = 10000 ] || { echo "expected 10000 flags, got $COUNT" >&2; exit 1; }

# Wait for the lifecycle job's first assessment (at start; then hourly here, so it does not
# weigh on the timings: the default is every 5 minutes) to find the stale flags.
for _ in $(seq 1 120); do
  STALE=$(curl -fsS -H "Authorization: $ADMIN" "$BASE/api/admin/projects/bench/flags?stale=true&limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("total", 0))' 2>/dev/null || echo 0)
  [ "${STALE:-0}" -gt 0 ] && break
  sleep 1
done
say "stale flags: ${STALE:-0}"

# A change request to look at: the last flag switched on in production (protected).
if [ ! -s "$WORK/cr" ]; then
  curl -fsS -X POST -H "Authorization: $ADMIN" \
    "$BASE/api/admin/projects/bench/flags/$CR_FLAG/environments/production/on" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["changeRequest"]["id"])' >"$WORK/cr"
fi
CR=$(cat "$WORK/cr")

# Sign in: the login page's CSRF token and cookie, then the form.
JAR=$WORK/cookies
rm -f "$JAR"
TOKEN=$(curl -fsS -c "$JAR" "$BASE/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p')
curl -fsS -o /dev/null -b "$JAR" -c "$JAR" -H "Origin: $BASE" \
  --data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" \
  --data-urlencode "csrf_token=$TOKEN" "$BASE/login"
COOKIE=$(awk '$6 == "switchyard" { print $6 "=" $7 }' "$JAR")
[ -n "$COOKIE" ] || { echo "could not sign in" >&2; exit 1; }

ROWS=$WORK/pages.tsv
: >"$ROWS"
page() { # NAME PATH
  local name=$1 path=$2 code
  reset_peak
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$BASE$path")
  [ "$code" = 200 ] || { echo "$name ($path) answered $code" >&2; exit 1; }
  local times
  times=$(for _ in $(seq 1 "$ROUNDS"); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Cookie: $COOKIE" "$BASE$path"
  done | sort -n)
  local median max
  median=$(sed -n "$(((ROUNDS + 1) / 2))p" <<<"$times")
  max=$(tail -n1 <<<"$times")
  wrk -t2 -c10 -d"$PAGE_DURATION" --timeout 20s --latency -H "Cookie: $COOKIE" "$BASE$path" >"$WORK/wrk.txt"
  local p50 p99 rps non2xx
  p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")
  rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$WORK/wrk.txt")
  non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.txt")
  printf '%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\n' "$name" "$path" "$(echo "$median * 1000" | bc -l)" \
    "$(echo "$max * 1000" | bc -l)" "$p50" "$p99" "$rps" "${non2xx:-0}" "$(rss VmHWM)" | tee -a "$ROWS" >&2
  PAGES_PEAK=$(python3 -c "print(max(${PAGES_PEAK:-0}, $(rss VmHWM)))")
}

if [ "$ONLY" != memory ]; then
  say "pages, $ROUNDS sequential requests each, then c=10 for $PAGE_DURATION"
  PAGES_PEAK=0
  page "targeting page" "/projects/bench/flags/$FLAG/targeting?env=development"
  page "flag page" "/projects/bench/flags/$FLAG"
  page "flag history tab" "/projects/bench/flags/$FLAG?tab=history"
  page "flag usage tab" "/projects/bench/flags/$FLAG?tab=usage"
  page "segments list" "/projects/bench/segments"
  page "catalog" "/projects/bench/flags"
  page "catalog, stale only" "/projects/bench/flags?stale=true"
  page "catalog, one stale reason" "/projects/bench/flags?reason=past-expected-lifetime"
  page "flag lifecycle tab" "/projects/bench/flags/$FLAG?tab=lifecycle"
  page "project lifecycle page" "/projects/bench/lifecycle"
  page "project overview" "/projects/bench"
  page "change request" "/change-requests/$CR"
  page "audit" "/audit"
  page "home" "/"
  say "after the pages: VmRSS $(rss VmRSS) MiB, peak during them $PAGES_PEAK MiB"
fi

MEM=$WORK/memory.tsv
: >"$MEM"
drive() { # NAME WRK-ARGS...
  local name=$1
  shift
  reset_peak
  wrk -t2 -c32 -d"$FEED_DURATION" --timeout 20s "$@" >"$WORK/wrk-feed.txt" &
  local w=$!
  wait "$w"
  local rps peak
  rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$WORK/wrk-feed.txt")
  peak=$(rss VmHWM)
  sleep 1
  printf '%s\t%s\t%s\t%s\n' "$name" "$rps" "$peak" "$(rss VmRSS)" | tee -a "$MEM" >&2
}

if [ "$ONLY" != pages ]; then
  say "feed load, c=32 for $FEED_DURATION each: req/s, peak (VmHWM) during, VmRSS after"
  drive "client features 200" -H "Authorization: $CLIENT" -H "$SPEC" "$BASE/api/client/features"
  drive "client features gzip" -H "Authorization: $CLIENT" -H "$SPEC" -H "Accept-Encoding: gzip" \
    "$BASE/api/client/features"
  drive "frontend POST" -s bench/varied.lua "$BASE/api/frontend" -- \
    "$BENCH_DIR/frontend-contexts.jsonl" "$FRONTEND"
  drive "OFREP bulk" -s bench/varied.lua "$BASE/ofrep/v1/evaluate/flags" -- \
    "$BENCH_DIR/ofrep-contexts.jsonl" "Bearer $CLIENT"
  ETAG=$(curl -fsS -D - -o /dev/null -H "Authorization: $CLIENT" -H "$SPEC" "$BASE/api/client/features" |
    awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }')
  FEED_DURATION=10s drive "client features 304 (10 s)" -H "Authorization: $CLIENT" -H "$SPEC" \
    -H "If-None-Match: $ETAG" "$BASE/api/client/features"
  FEED_DURATION=10s drive "client features 200 (10 s)" -H "Authorization: $CLIENT" -H "$SPEC" \
    "$BASE/api/client/features"
fi

say "results ($WORK)"
echo "page	path	seq median ms	seq max ms	c=10 p50	c=10 p99	c=10 req/s	non-2xx	peak MiB"
cat "$ROWS"
echo
echo "feed load	req/s	peak (VmHWM) MiB	VmRSS 1 s after"
cat "$MEM"
