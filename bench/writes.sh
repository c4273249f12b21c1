#!/usr/bin/env bash
# The write benchmark (issue 10, "Speed"): `bash bench/writes.sh` from anywhere. Not run in CI.
#
# Builds the release binary and examples/replica_bench.rs, then measures with PostgreSQL on the
# same machine:
#   - admin writes per second, SQLite and PostgreSQL side by side: one server on a fresh
#     database, each worker switching its own flag on and off through the admin API
#     (`POST .../environments/development/on|off`, each answered once the feed serves it), one
#     request after the other, for DURATION seconds at each CONCURRENCY;
#   - change-to-stream latency across replicas: three servers on one fresh PostgreSQL database,
#     an SDK stream (`/api/client/streaming`) on B and one on C, ROUNDS switches through A; for
#     each, the time from sending the switch until B's and C's streams carry it (p50, p99).
# Prints Markdown tables and writes them between the `writes` markers of bench/results.md, with
# the date, commit and load average. Servers and load share the machine's cores: a load average
# near the core count before the run means others competed for them.
#
# Environment: PG_URL (postgres://root@127.0.0.1/, a server where databases may be created),
# DURATION (10 s per cell), CONCURRENCY ("1 8"), ROUNDS (100), PORT (18280; the replicas take
# the next three), BENCH_OUT (bench/results.md), BENCH_SKIP_BUILD=1 (use target/release as it is),
# SWITCHYARD_BIN and REPLICA_BENCH_BIN (other binaries, e.g. debug builds to check the script).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
PG_URL=${PG_URL:-postgres://root@127.0.0.1/}
case "$PG_URL" in */) ;; *) PG_URL="$PG_URL/" ;; esac
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-1 8}
ROUNDS=${ROUNDS:-100}
PORT=${PORT:-18280}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
HOST=127.0.0.1

command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }
psql "${PG_URL}postgres" -qtAc 'select 1' >/dev/null || { echo "no PostgreSQL at $PG_URL (set PG_URL)" >&2; exit 1; }
if [ -z "${BENCH_SKIP_BUILD:-}" ] && [ -z "${SWITCHYARD_BIN:-}" ]; then
  say "building (release)"
  # Two invocations: the server exactly as `cargo build --release` builds it, without the
  # dev-dependency features the example switches on.
  cargo build --release --quiet --bin switchyard
  cargo build --release --quiet --example replica_bench
fi
SY=${SWITCHYARD_BIN:-$ROOT/target/release/switchyard}
BENCH=${REPLICA_BENCH_BIN:-$ROOT/target/release/examples/replica_bench}
BUILD="release build"
[ -n "${SWITCHYARD_BIN:-}" ] && BUILD="binary $SWITCHYARD_BIN (not a measurement)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-writes.XXXXXX")
DATABASES=()
drop_databases() {
  for d in "${DATABASES[@]}"; do
    psql "${PG_URL}postgres" -qc "drop database if exists $d with (force)" >/dev/null 2>&1 || true
  done
}
trap 'cleanup; drop_databases' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# fresh_pg NAME: creates a PostgreSQL database, dropped at the end; its URL in URL. Not in
# $(...): DATABASES must grow in this shell, or the database is never dropped.
fresh_pg() {
  local name=sy_bench_$1_$$
  psql "${PG_URL}postgres" -qc "create database $name" >/dev/null
  DATABASES+=("$name")
  URL="${PG_URL}${name}"
}

# serve URL PORT LOG: starts a server on PORT, waits for /readyz; its pid in STARTED_PID.
serve() {
  start_process "http://$HOST:$2/readyz" "$3" \
    env SWITCHYARD_LOG=warn "$SY" --database-url "$1" serve --bind "$HOST:$2"
}

# setup URL: a project `bench`, an admin and an instance-wide admin token (printed).
setup() {
  "$SY" --database-url "$1" project create --key bench --name Bench >/dev/null
  printf 'bench-%s-%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" |
    "$SY" --database-url "$1" user create --email bench@example.com --admin --password-stdin >/dev/null
  "$SY" --database-url "$1" token create --type admin --user bench@example.com --name bench-admin
}

new_flag() { # BASE ADMIN PROJECT KEY
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $2" -H "Content-Type: application/json" \
    -d "{\"key\":\"$4\"}" "$1/api/admin/projects/$3/flags"
}

ROWS=$WORK/rows.txt
: >"$ROWS"
MAX_C=$(printf '%s\n' $CONCURRENCY | sort -n | tail -n1)
FLAGS=$(seq -s, -f 'w%g' 1 "$MAX_C")

for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then URL="sqlite://$WORK/writes.db"; else fresh_pg writes; fi
  say "$backend: writes"
  ADMIN=$(setup "$URL")
  serve "$URL" "$PORT" "$WORK/serve-$backend.log"
  BASE=http://$HOST:$PORT
  for f in ${FLAGS//,/ }; do new_flag "$BASE" "$ADMIN" bench "$f"; done
  for c in $CONCURRENCY; do
    say "$backend, c=$c, ${DURATION}s"
    "$BENCH" writes --base "$BASE" --admin-token "$ADMIN" --project bench --environment development \
      --flags "$FLAGS" --concurrency "$c" --seconds "$DURATION" >"$WORK/cell.json"
    echo "writes $backend $(cat "$WORK/cell.json")" | tee -a "$ROWS" >&2
  done
  stop_process "$STARTED_PID"
done

say "three replicas on PostgreSQL: change through A, streams on B and C"
fresh_pg replicas
ADMIN=$(setup "$URL")
"$SY" --database-url "$URL" project create --key latency --name Latency >/dev/null
CLIENT=$("$SY" --database-url "$URL" token create --type client --project latency \
  --environment development --name bench-client)
BASES=()
for i in 1 2 3; do
  serve "$URL" "$((PORT + i))" "$WORK/replica-$i.log"
  BASES+=("http://$HOST:$((PORT + i))")
done
new_flag "${BASES[0]}" "$ADMIN" latency checkout
"$BENCH" latency --writer "${BASES[0]}" --readers "${BASES[1]},${BASES[2]}" --client-token "$CLIENT" \
  --admin-token "$ADMIN" --project latency --environment development --flag checkout \
  --rounds "$ROUNDS" >"$WORK/latency.json"
echo "latency $(cat "$WORK/latency.json")" | tee -a "$ROWS" >&2
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git rev-parse --short HEAD)
[ -n "$(git status --porcelain)" ] && commit="$commit + uncommitted changes"
PG_VERSION=$(psql "${PG_URL}postgres" -qtAc 'show server_version' | cut -d' ' -f1)
TABLE=$(python3 - "$ROWS" "$LOAD_BEFORE" "$LOAD_AFTER" "$commit" "$(nproc)" "$DURATION" "$PG_VERSION" \
  "${BASES[1]}" "${BASES[2]}" "$BUILD" <<'EOF'
import datetime, json, sys
rows_path, load_before, load_after, commit, cores, duration, pg, b, c, build = sys.argv[1:]
writes, latency = [], None
for line in open(rows_path):
    kind, rest = line.split(maxsplit=1)
    if kind == "writes":
        backend, data = rest.split(maxsplit=1)
        writes.append((backend, json.loads(data)))
    elif kind == "latency":
        latency = json.loads(rest)

ms = lambda v: "–" if v is None else f"{v:.1f}"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
    "## Admin writes and change-to-stream latency across replicas (`bench/writes.sh`)",
    "",
    f"Measured {now} on {cores} cores, commit `{commit}`, {build}, PostgreSQL {pg} on the same"
    f" machine. Load average before: {load_before}; after: {load_after}.",
    f"Writes: one server on a fresh database, each worker switching its own flag on and off through"
    f" the admin API, one request after the other, {duration} s per cell; a switch is answered once"
    f" the server's feed serves it.",
    "",
    "| database | workers | writes/s | p50 ms | p99 ms | errors |",
    "|---|---:|---:|---:|---:|---:|",
]
for backend, d in writes:
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend]
    lat = d["latency_ms"]
    lines.append(f"| {name} | {d['concurrency']} | {d['per_second']:,.0f} | {ms(lat['p50'])} | {ms(lat['p99'])} | {d['errors']} |")
if latency:
    per = latency["per_reader_ms"]
    lines += [
        "",
        f"Three replicas on one PostgreSQL database: an SDK stream on B and on C, {latency['rounds']} switches"
        f" of one flag through A's admin API (50 ms apart); from sending each switch until the"
        f" stream carries it. Missed (not within 5 s): {latency['missed']}.",
        "",
        "| | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|",
        f"| A answers the switch | {ms(latency['admin_request_ms']['p50'])} | {ms(latency['admin_request_ms']['p99'])} | {ms(latency['admin_request_ms']['max'])} |",
        f"| B's stream has it | {ms(per[b]['p50'])} | {ms(per[b]['p99'])} | {ms(per[b]['max'])} |",
        f"| C's stream has it | {ms(per[c]['p50'])} | {ms(per[c]['p99'])} | {ms(per[c]['max'])} |",
        f"| both have it | {ms(latency['every_reader_ms']['p50'])} | {ms(latency['every_reader_ms']['p99'])} | {ms(latency['every_reader_ms']['max'])} |",
    ]
print("\n".join(lines))
EOF
)
echo "$TABLE"
write_section "$OUT" writes "$TABLE"
say "written to ${OUT#"$ROOT"/}"
