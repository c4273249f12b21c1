#!/usr/bin/env bash
# Three `switchyard serve` replicas on one PostgreSQL database, nginx in front of them (the
# config beside this file), all in the foreground; Ctrl-C stops everything.
#
#   DATABASE_URL=postgres://user@host/switchyard bash examples/replicas/run.sh
#
# Then open http://127.0.0.1:8080 (sign in as SWITCHYARD_ADMIN_EMAIL, made at the first start
# when there are no users yet) and point SDKs at it. The database must exist; the first replica
# makes the schema before the other two start.
#
# Environment: DATABASE_URL (required), LISTEN (nginx, 127.0.0.1:8080), PORTS (the replicas',
# "8081 8082 8083"), SWITCHYARD_BIN (default: target/release/switchyard, else `switchyard` on
# PATH), NGINX (nginx). Any other SWITCHYARD_* variable reaches the replicas as usual.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${DATABASE_URL:?set DATABASE_URL=postgres://user@host/db (several replicas need PostgreSQL)}"
LISTEN=${LISTEN:-127.0.0.1:8080}
read -r -a PORTS <<<"${PORTS:-8081 8082 8083}"
[ "${#PORTS[@]}" = 3 ] || { echo "PORTS must name three ports" >&2; exit 2; }
SY=${SWITCHYARD_BIN:-$HERE/../../target/release/switchyard}
[ -x "$SY" ] || SY=$(command -v switchyard) || { echo "no switchyard binary (cargo build --release)" >&2; exit 2; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx is needed (apt-get install nginx)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-replicas.XXXXXX")
# nginx started as root runs its workers as nobody, who must reach the temp folders in here.
chmod 755 "$WORK"
PIDS=()
stop() {
  # SIGTERM: each replica ends its event streams and finishes what is in flight.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 130' INT TERM

for i in 0 1 2; do
  # --trusted-proxy: nginx connects from loopback here; name its address when it runs elsewhere.
  # Its connections (every SDK stream comes through it) then count against --max-connections
  # only, not the per-address cap.
  "$SY" --database-url "$DATABASE_URL" serve --bind "127.0.0.1:${PORTS[$i]}" \
    --trusted-proxy 127.0.0.1 &
  PIDS+=($!)
  # The first one alone: it creates the schema and the first admin before the others start.
  if [ "$i" = 0 ]; then
    for _ in $(seq 1 300); do
      curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[0]}/readyz" 2>/dev/null && break
      kill -0 "${PIDS[0]}" 2>/dev/null || { echo "the first replica stopped" >&2; exit 1; }
      sleep 0.1
    done
  fi
done

sed -e "s/@LISTEN@/$LISTEN/" \
  -e "s/@REPLICA_A@/127.0.0.1:${PORTS[0]}/" \
  -e "s/@REPLICA_B@/127.0.0.1:${PORTS[1]}/" \
  -e "s/@REPLICA_C@/127.0.0.1:${PORTS[2]}/" \
  "$HERE/nginx.conf" >"$WORK/nginx.conf"
"$NGINX" -e stderr -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
echo "nginx on http://$LISTEN in front of replicas on ports ${PORTS[*]}" >&2
wait -n || true
echo "a process stopped; stopping the others" >&2
