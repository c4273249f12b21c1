#!/usr/bin/env bash
# The feed benchmark (issue 3, "Performance"): `bash bench/run.sh` from anywhere.
#
# Builds the release binary and the example servers, loads the 1,000-flag state from BENCH_DIR
# (default ../shared/bench from the repository root) into a temporary database, serves it on
# 127.0.0.1, and measures requests/s and p50/p99 at concurrency 32 and 128 for the client API
# (200, 304, gzip), OFREP bulk and single and the frontend API with varied contexts, and a bare
# hyper server answering the same bytes from memory (the machine's ceiling). Then: resident memory
# with 1,000 and 10,000 flags, and the time from an admin change to its event on the stream.
# Prints a Markdown table and writes it to bench/results.md. Not run in CI.
#
# Environment: BENCH_DIR, DURATION (10s), CONCURRENCY ("32 128"), PORT (18080), BARE_PORT
# (18090), BENCH_TOOLS (where oha is installed when missing; target/bench-tools), BENCH_OUT,
# BENCH_SKIP_BUILD=1 (use the binaries already in target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32 128}
PORT=${PORT:-18080}
BARE_PORT=${BARE_PORT:-18090}
TOOLS=${BENCH_TOOLS:-$ROOT/target/bench-tools}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
HOST=127.0.0.1
BASE=http://$HOST:$PORT

# --- tools --------------------------------------------------------------------------------------
OHA=$(command -v oha || true)
if [ -z "$OHA" ]; then
  OHA=$TOOLS/bin/oha
  if [ ! -x "$OHA" ]; then
    say "installing oha into $TOOLS (once)"
    cargo install oha --locked --root "$TOOLS"
  fi
fi
export OHA_BIN=$OHA
if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk from Debian"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
for f in features-1000.json frontend-contexts.jsonl ofrep-contexts.jsonl gen_bootstrap.py; do
  [ -r "$BENCH_DIR/$f" ] || { echo "missing $BENCH_DIR/$f (set BENCH_DIR)" >&2; exit 1; }
done

if [ -n "${BENCH_SKIP_BUILD:-}" ]; then
  say "BENCH_SKIP_BUILD is set: using the binaries already in target/release"
else
  say "building (release)"
  # Two invocations: the server is built exactly as `cargo build --release` builds it, without the
  # dev-dependency features that the examples switch on.
  cargo build --release --quiet --bin switchyard
  cargo build --release --quiet --example bare_hyper --example stream_latency
fi
SY=$ROOT/target/release/switchyard
BARE=$ROOT/target/release/examples/bare_hyper
LATENCY=$ROOT/target/release/examples/stream_latency

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")
trap cleanup EXIT

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- a database with the state, and tokens ------------------------------------------------------
# setup DB_FILE STATE_FILE: prints "CLIENT FRONTEND ADMIN"
setup() {
  local db=$1 state=$2
  export SWITCHYARD_DATABASE_URL="sqlite://$db"
  "$SY" project create --key bench --name Bench >/dev/null
  "$SY" import --project bench --environment development --format unleash "$state" >&2
  printf 'bench-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" |
    "$SY" user create --email bench@example.com --admin --password-stdin >/dev/null
  local client frontend admin
  client=$("$SY" token create --type client --project bench --environment development --name bench-client)
  frontend=$("$SY" token create --type frontend --project bench --environment development --name bench-frontend)
  admin=$("$SY" token create --type admin --project bench --user bench@example.com --name bench-admin)
  echo "$client $frontend $admin"
}

# serve DB_FILE LOG: starts the server on BASE, waits for /readyz, sets SERVER_PID
serve() {
  start_server "$2" env SWITCHYARD_DATABASE_URL="sqlite://$1" SWITCHYARD_LOG=warn \
    "$SY" serve --bind "$HOST:$PORT"
}

rss_mib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

say "loading features-1000.json"
read -r CLIENT FRONTEND ADMIN < <(setup "$WORK/bench.db" "$BENCH_DIR/features-1000.json")
[ -n "${ADMIN:-}" ] || { echo "could not set up the database" >&2; exit 1; }
serve "$WORK/bench.db" "$WORK/serve.log"
SPEC="Unleash-Client-Spec: 5.2.0"

curl -fsS -D "$WORK/features.headers" -o "$WORK/features.json" \
  -H "Authorization: $CLIENT" -H "$SPEC" "$BASE/api/client/features"
ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$WORK/features.headers")
BODY_BYTES=$(stat -c %s "$WORK/features.json")
GZIP_BYTES=$(curl -fsS -H "Authorization: $CLIENT" -H "$SPEC" -H "Accept-Encoding: gzip" \
  "$BASE/api/client/features" | wc -c)
FLAGS=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["features"]))' "$WORK/features.json")
[ "$FLAGS" = 1000 ] || { echo "expected 1000 flags on the feed, got $FLAGS" >&2; exit 1; }
[ -n "$ETAG" ] || { echo "no ETag on /api/client/features" >&2; exit 1; }
python3 -c 'import json,sys; [print(f["name"]) for f in json.load(open(sys.argv[1]))["features"]]' \
  "$WORK/features.json" >"$WORK/keys.txt"
FIRST_FLAG=$(head -n1 "$WORK/keys.txt")

start_process "http://$HOST:$BARE_PORT/" "$WORK/bare.log" \
  "$BARE" --bind "$HOST:$BARE_PORT" --file "$WORK/features.json" --etag "$ETAG"
BARE_PID=$STARTED_PID

# --- load ---------------------------------------------------------------------------------------
ROWS=$WORK/rows.jsonl
: >"$ROWS"
n=0
oha_cell() { # NAME C URL [HEADER...]
  local name=$1 c=$2 url=$3
  shift 3
  local args=()
  for h in "$@"; do args+=(-H "$h"); done
  n=$((n + 1))
  say "$name, c=$c"
  "$OHA" -z "$DURATION" -c "$c" --no-tui --output-format json --disable-compression \
    "${args[@]}" "$url" >"$WORK/cell$n.json"
  python3 bench/summarize.py cell oha "$name" "$c" "$WORK/cell$n.json" | tee -a "$ROWS" >&2
}
wrk_cell() { # NAME C URL BODIES AUTHORIZATION [KEYS]
  local name=$1 c=$2 url=$3
  shift 3
  n=$((n + 1))
  say "$name, c=$c"
  wrk -t2 -c"$c" -d"$DURATION" --timeout 10s -s bench/varied.lua "$url" -- "$@" >"$WORK/cell$n.txt"
  python3 bench/summarize.py cell wrk "$name" "$c" "$WORK/cell$n.txt" | tee -a "$ROWS" >&2
}

# Each ceiling cell runs right after the feed cell it is compared with, so that both meet the
# machine in the same state.
for c in $CONCURRENCY; do
  oha_cell "client features 200" "$c" "$BASE/api/client/features" "Authorization: $CLIENT" "$SPEC"
  oha_cell "bare hyper 200" "$c" "http://$HOST:$BARE_PORT/api/client/features"
  oha_cell "client features 304" "$c" "$BASE/api/client/features" "Authorization: $CLIENT" "$SPEC" \
    "If-None-Match: $ETAG"
  oha_cell "bare hyper 304" "$c" "http://$HOST:$BARE_PORT/api/client/features" "If-None-Match: $ETAG"
  oha_cell "client features gzip" "$c" "$BASE/api/client/features" "Authorization: $CLIENT" "$SPEC" \
    "Accept-Encoding: gzip"
  wrk_cell "OFREP bulk" "$c" "$BASE/ofrep/v1/evaluate/flags" \
    "$BENCH_DIR/ofrep-contexts.jsonl" "Bearer $CLIENT"
  wrk_cell "OFREP single" "$c" "$BASE/ofrep/v1/evaluate/flags/" \
    "$BENCH_DIR/ofrep-contexts.jsonl" "Bearer $CLIENT" "$WORK/keys.txt"
  wrk_cell "frontend POST" "$c" "$BASE/api/frontend" "$BENCH_DIR/frontend-contexts.jsonl" "$FRONTEND"
done
stop_process "$BARE_PID"

RSS_1K=$(rss_mib "$SERVER_PID" VmRSS)
HWM_1K=$(rss_mib "$SERVER_PID" VmHWM)

say "change -> stream, 1,000 flags"
"$LATENCY" --base "$BASE" --client-token "$CLIENT" --admin-token "$ADMIN" --project bench \
  --environment development --flag "$FIRST_FLAG" --rounds 20 >"$WORK/latency-1k.json"
cat "$WORK/latency-1k.json" >&2
stop_process "$SERVER_PID"

say "10,000 flags"
python3 "$BENCH_DIR/gen_bootstrap.py" --count 10000 --out "$WORK/features-10000.json" >&2
T0=$(date +%s.%N)
read -r CLIENT10 _ ADMIN10 < <(setup "$WORK/bench10k.db" "$WORK/features-10000.json")
[ -n "${ADMIN10:-}" ] || { echo "could not set up the 10,000-flag database" >&2; exit 1; }
T1=$(date +%s.%N)
serve "$WORK/bench10k.db" "$WORK/serve10k.log"
T2=$(date +%s.%N)
curl -fsS -o "$WORK/features10k.json" -H "Authorization: $CLIENT10" -H "$SPEC" "$BASE/api/client/features"
BODY10K_BYTES=$(stat -c %s "$WORK/features10k.json")
FIRST_FLAG10=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["features"][0]["name"])' "$WORK/features10k.json")
sleep 2
RSS_10K=$(rss_mib "$SERVER_PID" VmRSS)
HWM_10K=$(rss_mib "$SERVER_PID" VmHWM)
say "change -> stream, 10,000 flags"
"$LATENCY" --base "$BASE" --client-token "$CLIENT10" --admin-token "$ADMIN10" --project bench \
  --environment development --flag "$FIRST_FLAG10" --rounds 5 >"$WORK/latency-10k.json" ||
  echo '{"failed": true}' >"$WORK/latency-10k.json"
cat "$WORK/latency-10k.json" >&2
RSS_10K_AFTER=$(rss_mib "$SERVER_PID" VmRSS)
HWM_10K_AFTER=$(rss_mib "$SERVER_PID" VmHWM)
stop_process "$SERVER_PID"

# --- report -------------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
export BODY_BYTES GZIP_BYTES RSS_1K HWM_1K RSS_10K HWM_10K RSS_10K_AFTER HWM_10K_AFTER BODY10K_BYTES \
  LOAD_BEFORE LOAD_AFTER DURATION T0 T1 T2 WORK
python3 - "$WORK/extra.json" <<'PY'
import json, os, platform, subprocess, sys
e = os.environ
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = run("git", "rev-parse", "--short", "HEAD") + (" + uncommitted changes" if run("git", "status", "--porcelain") else "")
def lat(path, label):
    d = json.load(open(path))
    if d.get("failed") or not d.get("visible_ms", {}).get("p50"):
        return "failed (no event within 5 s)"
    v = d["visible_ms"]
    return (f"p50 {v['p50']:.0f} ms, p90 {v['p90']:.0f} ms, max {v['max']:.0f} ms over {d['rounds']} changes"
            f" (admin request alone: p50 {d['admin_request_ms']['p50']:.0f} ms; missed {d['missed']})")
mib = lambda k: float(e[k])
other = [
    ("`/api/client/features` body, 1,000 flags", f"{int(e['BODY_BYTES']):,} bytes; gzip {int(e['GZIP_BYTES']):,} bytes", "gzip when asked, compressed once per change"),
    ("resident memory, 1,000 flags, after the load", f"{mib('RSS_1K'):.1f} MiB (peak {mib('HWM_1K'):.1f} MiB)", ""),
    ("resident memory, 10,000 flags, idle", f"{mib('RSS_10K'):.1f} MiB (peak {mib('HWM_10K'):.1f} MiB); body {int(e['BODY10K_BYTES']):,} bytes",
     "< 150 MiB: " + ("meets" if mib("RSS_10K") < 150 else "misses")),
    ("resident memory, 10,000 flags, after 5 changes", f"{mib('RSS_10K_AFTER'):.1f} MiB (peak {mib('HWM_10K_AFTER'):.1f} MiB)",
     "< 150 MiB: " + ("meets" if mib("HWM_10K_AFTER") < 150 else "misses (peak)")),
    ("import 10,000 flags (CLI) / start until ready", f"{float(e['T1']) - float(e['T0']):.1f} s / {float(e['T2']) - float(e['T1']):.1f} s", ""),
    ("change → event on `/api/client/streaming`, 1,000 flags", lat(e["WORK"] + "/latency-1k.json", "1k"), "< 100 ms"),
    ("change → event on `/api/client/streaming`, 10,000 flags", lat(e["WORK"] + "/latency-10k.json", "10k"), "< 100 ms"),
]
json.dump({
    "date": run("date", "-u", "+%Y-%m-%d %H:%M UTC"),
    "machine": f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
    "commit": commit,
    "load_before": e["LOAD_BEFORE"], "load_after": e["LOAD_AFTER"],
    "duration": e["DURATION"],
    "oha": run(os.environ.get("OHA_BIN", "oha"), "--version") or "?",
    "wrk": (run("sh", "-c", "wrk -v 2>&1 | head -n1").split(" [")[0]) or "?",
    "other": other,
}, open(sys.argv[1], "w"))
PY
# Earlier runs and the other benchmarks' sections stay: this run replaces the `feed` section only.
TABLE=$(python3 bench/summarize.py table "$ROWS" "$WORK/extra.json")
echo "$TABLE"
write_section "$OUT" feed "## Feed benchmark, latest run (\`bench/run.sh\`)

$(echo "$TABLE" | sed -n '/^Measured/,$p')"
say "written to ${OUT#"$ROOT"/}"
