#!/usr/bin/env bash
# Issue 13's stability check: N rounds, each running the whole suite on SQLite and the database tests on
# PostgreSQL at the same time (two suites loading the machine together). Stops at the first failing round.
# Usage: scripts/loaded-runs.sh [N=5]; logs in ${LOADED_RUNS_LOGS:-/tmp/hotline-loaded-runs}.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
scripts/setup.sh --test >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
. scripts/postgres.sh
pg_start "${HOTLINE_PG_PORT:-54328}"
logs=${LOADED_RUNS_LOGS:-/tmp/hotline-loaded-runs}
mkdir -p "$logs"
echo "loaded runs of $(git rev-parse --short HEAD) on $(nproc) cores; logs in $logs"
for round in $(seq 1 "$rounds"); do
  start=$(date +%s)
  HOTLINE_TEST_DATABASE_URL="" pytest -q -p no:cacheprovider >"$logs/sqlite-$round.log" 2>&1 & sqlite=$!
  pytest -q -p no:cacheprovider -m db >"$logs/pg-$round.log" 2>&1 & pg=$!
  ok=0
  wait $sqlite || ok=1
  wait $pg || ok=$((ok + 2))
  echo "round $round: $(($(date +%s) - start)) s, load $(cut -d' ' -f1 /proc/loadavg)" \
    "| SQLite: $(tail -n 1 "$logs/sqlite-$round.log")" \
    "| PostgreSQL: $(tail -n 1 "$logs/pg-$round.log")"
  if ((ok)); then echo "round $round failed: see $logs"; exit 1; fi
done
echo "all $rounds rounds green"
