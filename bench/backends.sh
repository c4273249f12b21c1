#!/usr/bin/env bash
# Feed reads on SQLite and on PostgreSQL (issue 10, "Speed"): `bash bench/backends.sh` from
# anywhere; not run in CI. The same release binary serves the 1,000-flag state from a SQLite file
# and then from a PostgreSQL database (PG_URL's server, default postgres://root@127.0.0.1/, a
# database made and dropped for the run), and wrk measures each feed cell for 10 s at c=32
# (req/s, p99). The read path never touches the database, so the two columns should agree
# within the machine's noise.
#
# Environment: BENCH_DIR, PG_URL, BENCH_SKIP_BUILD=1 (use target/release/switchyard as it is),
# SWITCHYARD_BIN (another binary, e.g. a debug build for a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
SY=${SWITCHYARD_BIN:-$ROOT/target/release/switchyard}
B=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
PG_URL=${PG_URL:-postgres://root@127.0.0.1/}
build_release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-backends.XXXXXX")
trap cleanup EXIT
PORT=18400
BASE=http://127.0.0.1:$PORT
run_one() { # LABEL URL
  local label=$1 url=$2
  export SWITCHYARD_DATABASE_URL=$url
  $SY project create --key bench --name Bench >/dev/null
  $SY import --project bench --environment development --format unleash $B/features-1000.json >/dev/null 2>&1
  local client frontend
  client=$($SY token create --type client --project bench --environment development --name c)
  frontend=$($SY token create --type frontend --project bench --environment development --name f)
  start_server "$WORK/serve-$label.log" env SWITCHYARD_LOG=warn "$SY" serve --bind "127.0.0.1:$PORT"
  local base=$BASE spec="Unleash-Client-Spec: 5.2.0"
  local etag
  etag=$(curl -fsS -D - -o /dev/null -H "Authorization: $client" -H "$spec" $base/api/client/features | awk 'tolower($1)=="etag:"{sub(/\r$/,"",$2);print $2}')
  cell() { local name=$1; shift; local r; r=$(wrk -t2 -c32 -d10s --latency "$@" | awk '$1=="Requests/sec:"{rps=$2} $1=="99%"{p99=$2} END{print rps, p99}'); echo "$label	$name	$r"; }
  cell "client 200" -H "Authorization: $client" -H "$spec" $base/api/client/features
  cell "client 304" -H "Authorization: $client" -H "$spec" -H "If-None-Match: $etag" $base/api/client/features
  cell "client gzip" -H "Authorization: $client" -H "$spec" -H "Accept-Encoding: gzip" $base/api/client/features
  cell "frontend POST" -s bench/varied.lua $base/api/frontend -- $B/frontend-contexts.jsonl "$frontend"
  cell "OFREP bulk" -s bench/varied.lua $base/ofrep/v1/evaluate/flags -- $B/ofrep-contexts.jsonl "Bearer $client"
  stop_process "$SERVER_PID"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run_one sqlite "sqlite://$WORK/feed.db"
psql "${PG_URL}postgres" -qc "drop database if exists sy_feedcheck" -qc "create database sy_feedcheck" 2>/dev/null
run_one postgres "${PG_URL}sy_feedcheck"
psql "${PG_URL}postgres" -qc "drop database if exists sy_feedcheck"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
