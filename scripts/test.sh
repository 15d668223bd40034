#!/usr/bin/env bash
# The test suite: lint, every test on SQLite, then the database tests on a real PostgreSQL server
# that this script starts (Debian's postgresql) and removes again. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check engine tests cli.py bench
echo "== pytest (SQLite)"
pytest -q -rs -p no:cacheprovider "$@"

echo "== pytest (PostgreSQL)"
. scripts/postgres.sh
pg_start "${HOTLINE_PG_PORT:-54329}"
pytest -q -rs -p no:cacheprovider -m db "$@"
