#!/usr/bin/env bash
# The test suite: lint, every test on SQLite, then the database tests on a real PostgreSQL server
# that this script starts (Debian's postgresql) and removes again. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --postgres
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check engine tests cli.py bench
echo "== pytest (SQLite)"
pytest -q -rs -p no:cacheprovider "$@"

echo "== pytest (PostgreSQL)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDIR=$(mktemp -d /tmp/hotline-pg.XXXXXX)
PGPORT=${HOTLINE_PG_PORT:-54329}
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) -eq 0 ]] && chown postgres "$PGDIR"
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-p $PGPORT -k $PGDIR -c listen_addresses=''" -w -l "$PGDIR/log" start >/dev/null
as_pg "$PGBIN/createdb" -h "$PGDIR" -p "$PGPORT" -U postgres hotline
export HOTLINE_TEST_DATABASE_URL="postgresql+psycopg2://postgres@/hotline?host=$PGDIR&port=$PGPORT"
pytest -q -rs -p no:cacheprovider -m db "$@"
