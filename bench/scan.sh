#!/usr/bin/env bash
# The code-scan benchmark (issue 12, item 3): `bash bench/scan.sh` from anywhere. Not run in CI.
#
# Builds the release binary, loads the 1,000 flags of BENCH_DIR/features-1000.json into a
# temporary database, generates a tree of FILES (100,000) source files (bench/gen_scan_tree.py),
# and times, on the same tree and keys with a warm page cache, the median of RUNS (5) runs of
#   - ripgrep:  rg -w -F -f keys --no-require-git -n TREE   (output to a file)
#   - switchyard scan --project bench TREE                   (recording in the database)
#   - switchyard scan --url ... --token ... TREE             (uploading to a local serve)
# Both tools honour the tree's .gitignore (rg needs --no-require-git outside a git checkout, as
# switchyard scan does by default). Prints a Markdown table and puts it in bench/results.md
# (the "Code scan" section).
#
# Environment: BENCH_DIR, FILES, RUNS, PORT (18181), SCAN_TREE (reuse a generated tree),
# BENCH_SKIP_BUILD=1 (use target/release/switchyard as it is).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh
BENCH_DIR=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
FILES=${FILES:-100000}
RUNS=${RUNS:-5}
PORT=${PORT:-18181}
BASE=http://127.0.0.1:$PORT
OUT=$ROOT/bench/results.md
WORK=$(mktemp -d)
# Outside any checkout, so that nothing of this repository (its .gitignore, its HEAD) applies.
TREE=${SCAN_TREE:-${TMPDIR:-/tmp}/switchyard-bench-scan/tree-$FILES}
SY=$ROOT/target/release/switchyard
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
trap cleanup EXIT

command -v rg >/dev/null 2>&1 || { say "installing ripgrep from Debian"; apt-get install -y -qq ripgrep >/dev/null; }
build_release

python3 - "$BENCH_DIR/features-1000.json" > "$WORK/keys" <<'EOF'
import json, sys
for f in json.load(open(sys.argv[1]))["features"]:
    print(f["name"])
EOF
if [ ! -f "$TREE/.done" ]; then
  say "generating $FILES files in $TREE"
  rm -rf "$TREE"
  python3 "$ROOT/bench/gen_scan_tree.py" "$WORK/keys" "$TREE" "$FILES"
  touch "$TREE/.done"
fi

DB="sqlite://$WORK/bench.db"
export SWITCHYARD_LOG=warn
load_project "$SY" --database-url "$DB"
TOKEN=$("$SY" --database-url "$DB" token create --type admin --project bench \
  --user bench@example.com --name bench)

rg_run() { rg -w -F -f "$WORK/keys" --no-require-git -n "$TREE" >"$WORK/rg.out" || [ $? -eq 1 ]; }
scan_db() { "$SY" --database-url "$DB" scan --project bench --repository bench "$TREE" >"$WORK/said"; }
scan_url() { "$SY" scan --project bench --repository bench --url "$BASE" --token "$TOKEN" "$TREE" >/dev/null; }

# Wall time of one command in seconds.
timed() {
  local s e
  s=$(date +%s.%N)
  "$@" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }

start_server "$WORK/serve.log" "$SY" --database-url "$DB" serve --bind "127.0.0.1:$PORT"

# One warm-up of each, then RUNS rounds, the three commands in turn in each round, so that other
# work on the machine weighs on all three alike.
say "warm-up"
rg_run; scan_db; scan_url
: >"$WORK/t-rg"; : >"$WORK/t-db"; : >"$WORK/t-url"
for i in $(seq "$RUNS"); do
  timed rg_run >>"$WORK/t-rg"
  timed scan_db >>"$WORK/t-db"
  timed scan_url >>"$WORK/t-url"
  say "round $i: rg $(tail -1 "$WORK/t-rg") s, scan $(tail -1 "$WORK/t-db") s, upload $(tail -1 "$WORK/t-url") s"
done
RG=$(median <"$WORK/t-rg")
DBT=$(median <"$WORK/t-db")
URLT=$(median <"$WORK/t-url")
RG_LINES=$(wc -l <"$WORK/rg.out")
SAID=$(cat "$WORK/said")

ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
TABLE=$(cat <<EOF
## Code scan

Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $(nproc) cores ($CPU), commit \`$COMMIT\`, release build, warm page cache,
median of $RUNS rounds after a warm-up, the three commands in turn in each round (\`bash bench/scan.sh\`). Tree: $FILES generated source files
(\`bench/gen_scan_tree.py\`, $(du -sh --exclude=dist "$TREE" | cut -f1) on disk) plus an ignored \`dist/\`; keys: the 1,000 flags of
\`features-1000.json\`. Load average before: $LOAD_BEFORE.

| command | median s | vs ripgrep |
|---|---:|---:|
| \`rg -w -F -f keys --no-require-git -n TREE\` (ripgrep $(rg --version | sed -n "1s/^ripgrep \([^ ]*\).*/\1/p"); $RG_LINES matching lines) | $RG | 1.00× |
| \`switchyard scan --project bench TREE\` (recorded in the database) | $DBT | $(ratio "$DBT" "$RG")× |
| \`switchyard scan --url … --token … TREE\` (uploaded to a local serve) | $URLT | $(ratio "$URLT" "$RG")× |

switchyard said: $SAID
EOF
)
echo "$TABLE"
write_section "$OUT" scan "$TABLE"
