#!/usr/bin/env bash
# What one request costs, in instructions: `bash bench/instructions.sh [LABEL=BINARY ...]`. Not run
# in CI.
#
# The feed benchmark's requests per second move by 15 points from run to run on a shared machine,
# more than the changes it should judge. Instructions do not: valgrind's callgrind counts the
# user-space instructions a server executes, and for the same binary and requests the count is
# the same whatever else the machine does. The kernel's share (TCP, epoll) is not counted; it is
# the same for every server here, as they make the same system calls per request.
#
# Each BINARY (default: target/release/switchyard, labelled `HEAD`) gets a database with the
# 1,000-flag state of BENCH_DIR; it is started under callgrind with counting off, and for each
# kind of request counting is switched on, wrk sends requests for SECONDS over one connection,
# and counting is switched off. The figure to compare is what ran inside hyper's connection task
# (reading, routing, the handler, writing: `Connection::poll`, or its dispatcher where the
# compiler inlined one into the other), so the server's background jobs, which run when their
# timers say, do not blur it; the whole process's count per request is given beside it. The bare
# hyper server (examples/bare_hyper.rs: the same bytes from memory, nothing else) is measured the
# same way.
#
# Cells: the client feed as an SDK whose copy is current (304), a first fetch (200), and an SDK
# metrics post of 50 impact metrics (the report bench/ingest.sh posts).
#
# Each cell's callgrind dump is kept in KEEP_DIR (target/instructions), to be read with
# `callgrind_annotate --inclusive=yes`.
#
# The table is printed and written between the `instructions` markers of BENCH_OUT
# (bench/results.md).
#
# Environment: BENCH_DIR, SECONDS_PER_CELL (20), PORT (18190), BENCH_SKIP_BUILD=1, KEEP_DIR,
# BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
SECS=${SECONDS_PER_CELL:-20}
PORT=${PORT:-18190}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
HOST=127.0.0.1
BASE=http://$HOST:$PORT

for tool in wrk valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install wrk valgrind)" >&2; exit 1; }
done
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  say "building (release)"
  cargo build --release --quiet --bin switchyard --example bare_hyper
fi
BARE=$ROOT/target/release/examples/bare_hyper
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("HEAD=$ROOT/target/release/switchyard")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-instructions.XXXXXX")
trap cleanup EXIT
ROWS=$WORK/rows.txt
# The dumps stay, for `callgrind_annotate --inclusive=yes FILE`.
KEEP=${KEEP_DIR:-$ROOT/target/instructions}
mkdir -p "$KEEP"
: >"$ROWS"

# The report bench/ingest.sh posts.
python3 bench/gen_report.py "$BENCH_DIR/features-1000.json" "$WORK/report.json"

# under_callgrind READY_URL LOG OUT COMMAND...: starts COMMAND under callgrind, counting off.
# Valgrind translates the program before it runs, so starting takes far longer than usual.
under_callgrind() {
  local ready=$1 log=$2 out=$3
  shift 3
  valgrind --tool=callgrind --trace-children=yes --instr-atstart=no --callgrind-out-file="$out.%p" "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 1800); do
    curl -fsS -o /dev/null --max-time 5 "$ready" 2>/dev/null && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  cat "$log" >&2
  echo "$ready did not answer under callgrind" >&2
  exit 1
}

# cell LABEL NAME PID OUT WRK_ARGS...: counts the instructions PID executes while wrk sends
# requests for SECS; appends "LABEL|NAME|REQUESTS|ALL|IN_CONNECTIONS".
cell() {
  local label=$1 name=$2 pid=$3 out=$4
  shift 4
  local requests
  callgrind_control -z "$pid" >/dev/null
  callgrind_control -i on "$pid" >/dev/null
  wrk -t1 -c1 -d"${SECS}s" --timeout 30s "$@" >"$WORK/wrk.txt"
  requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
  # wrk counts 304 as non-2xx; anything else refused makes the cell's figure meaningless.
  if grep -q 'Non-2xx' "$WORK/wrk.txt" && [ "$name" != "feed 304" ]; then
    echo "$label $name: some requests were refused:" >&2
    cat "$WORK/wrk.txt" >&2
  fi
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$name" "$pid" >/dev/null
  local dump ir
  dump=$(ls -t "$out".* | head -n1)
  ir=$(awk '/^totals:/ { print $2 }' "$dump")
  conn=$(callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null |
    awk '(/hyper::server::conn::http1::Connection<.*as core::future::future::Future>::poll/ ||
          /hyper::proto::h1::dispatch::Dispatcher<.*>::poll_catch/) && !found { gsub(",", "", $1); print $1; found = 1 }')
  cp "$dump" "$KEEP/$label-${name// /-}.callgrind"
  say "$label $name: $requests requests, $ir instructions, ${conn:-?} in connection tasks"
  echo "$label|$name|$requests|$ir|${conn:-0}" >>"$ROWS"
}

# What the 304 cells ask for: an SDK whose copy is current.
poll_lua() { # ETAG AUTHORIZATION
  cat >"$WORK/poll.lua" <<EOF
wrk.headers["Authorization"] = "$2"
wrk.headers["Unleash-Client-Spec"] = "5.2.0"
wrk.headers["If-None-Match"] = '$1'
EOF
  cat >"$WORK/fetch.lua" <<EOF
wrk.headers["Authorization"] = "$2"
wrk.headers["Unleash-Client-Spec"] = "5.2.0"
EOF
}

ETAG=
for target in "${TARGETS[@]}"; do
  label=${target%%=*}
  SY=${target#*=}
  db=$WORK/$label.db
  export SWITCHYARD_DATABASE_URL="sqlite://$db"
  say "$label: loading features-1000.json"
  load_project "$SY"
  CLIENT=$("$SY" token create --type client --project bench --environment development --name bench-client)
  say "$label: starting under callgrind"
  under_callgrind "$BASE/readyz" "$WORK/$label.log" "$WORK/$label.cg" \
    env SWITCHYARD_LOG=warn SWITCHYARD_METRICS_POSTS_PER_MINUTE=100000000 "$SY" serve --bind "$HOST:$PORT"
  pid=$STARTED_PID
  curl -fsS -D "$WORK/h" -o "$WORK/features.json" -H "Authorization: $CLIENT" -H "Unleash-Client-Spec: 5.2.0" \
    "$BASE/api/client/features"
  ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$WORK/h")
  poll_lua "$ETAG" "$CLIENT"
  cell "$label" "feed 304" "$pid" "$WORK/$label.cg" -s "$WORK/poll.lua" "$BASE/api/client/features"
  cell "$label" "feed 200" "$pid" "$WORK/$label.cg" -s "$WORK/fetch.lua" "$BASE/api/client/features"
  cell "$label" "metrics post" "$pid" "$WORK/$label.cg" -s bench/ingest_post.lua \
    "$BASE/api/client/metrics" -- "$WORK/report.json" "$CLIENT" 0
  stop_process "$pid"
  unset SWITCHYARD_DATABASE_URL
done

say "bare hyper: starting under callgrind"
under_callgrind "http://$HOST:$PORT/" "$WORK/bare.log" "$WORK/bare.cg" \
  "$BARE" --bind "$HOST:$PORT" --file "$WORK/features.json" --etag "$ETAG"
pid=$STARTED_PID
cat >"$WORK/bare304.lua" <<EOF
wrk.headers["If-None-Match"] = '$ETAG'
EOF
cell "bare hyper" "feed 304" "$pid" "$WORK/bare.cg" -s "$WORK/bare304.lua" "http://$HOST:$PORT/api/client/features"
cell "bare hyper" "feed 200" "$pid" "$WORK/bare.cg" "http://$HOST:$PORT/api/client/features"
stop_process "$pid"

TABLE=$(python3 - "$ROWS" "$SECS" "$(git rev-parse --short HEAD)" <<'EOF'
import sys
rows_path, secs, commit = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"## Instructions per request (`bench/instructions.sh`, callgrind, {secs} s a cell, one connection; script at `{commit}`)")
print()
print("| server | request | requests | in the connection task, per request | whole process, per request |")
print("|---|---|---:|---:|---:|")
for line in open(rows_path):
    label, name, requests, ir, conn = line.rstrip("\n").split("|")
    requests, ir, conn = int(requests), int(ir), int(conn)
    if requests:
        print(f"| {label} | {name} | {requests:,} | {conn / requests:,.0f} | {ir / requests:,.0f} |")
EOF
)
echo "$TABLE"
write_section "$OUT" instructions "$TABLE"
