# What the benchmark scripts share: sourced by them (`. bench/lib.sh` from the repository
# root), not run. Each script sets BENCH_DIR, WORK, SY (the switchyard binary) and BASE (the
# server's http://host:port) before it calls these.

# say MESSAGE: a step of the run, on standard error.
say() { printf '\n== %s\n' "$*" >&2; }

# build_release: builds the release server, unless BENCH_SKIP_BUILD is set.
build_release() {
  if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    say "building (release)"
    cargo build --release --quiet --bin switchyard
  fi
}

# The processes start_process started; cleanup stops them and removes WORK. Scripts set
# `trap cleanup EXIT` once WORK exists.
PIDS=()
SERVER_PID=
STARTED_PID=

# stop_process PID: stops one of them and waits for it to exit.
stop_process() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# stop_all: stops every process start_process started.
stop_all() {
  local p
  for p in "${PIDS[@]}"; do stop_process "$p"; done
}

cleanup() {
  stop_all
  rm -rf "$WORK"
}

# load_project SWITCHYARD...: with that command (the binary and its database option, if any),
# creates project `bench` with the 1,000 flags of BENCH_DIR/features-1000.json in its
# development environment, and an admin bench@example.com (a random password: the benchmarks
# use tokens).
load_project() {
  "$@" project create --key bench --name Bench >/dev/null
  "$@" import --project bench --environment development --format unleash \
    "$BENCH_DIR/features-1000.json" >&2
  printf 'bench-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" |
    "$@" user create --email bench@example.com --admin --password-stdin >/dev/null
}

# start_process READY_URL LOG COMMAND...: runs COMMAND (`env VAR=value ...` to give it
# settings) in the background with its output in LOG, puts its pid in STARTED_PID and PIDS, and
# waits until READY_URL answers. A process that stops, or does not answer within 30 s, ends the
# run with its log.
start_process() {
  local ready=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$ready" 2>/dev/null && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; echo "the process stopped before $ready answered" >&2; exit 1; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "$ready did not answer within 30 s" >&2
  exit 1
}

# start_server LOG COMMAND...: start_process for a `switchyard serve` on BASE, ready when
# BASE/readyz answers; its pid in SERVER_PID.
start_server() {
  start_process "$BASE/readyz" "$@"
  SERVER_PID=$STARTED_PID
}

# write_section FILE NAME TEXT: puts TEXT between the `<!-- NAME:start -->` and
# `<!-- NAME:end -->` markers of FILE (bench/results.md), in place of what stood there, or at
# the end when the markers are not there yet.
write_section() {
  python3 - "$@" <<'EOF'
import re, sys
path, name, text = sys.argv[1:]
try:
    old = open(path).read()
except FileNotFoundError:
    old = ""
start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
block = f"{start}\n{text}\n{end}\n"
if start in old and end in old:
    new = re.sub(re.escape(start) + ".*?" + re.escape(end) + "\n?", lambda _: block, old, flags=re.S)
else:
    new = old.rstrip("\n") + "\n\n" + block
open(path, "w").write(new)
EOF
}
