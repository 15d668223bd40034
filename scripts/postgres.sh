# Sourced by the test scripts: start a throwaway PostgreSQL server (Debian's postgresql) on port $1,
# export HOTLINE_TEST_DATABASE_URL for it, and remove it again when the calling script exits.
pg_start() {
  local port=$1
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PGDIR=$(mktemp -d /tmp/hotline-pg.XXXXXX)
  as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [[ $(id -u) -eq 0 ]] && chown postgres "$PGDIR"
  trap pg_stop EXIT
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-p $port -k $PGDIR -c listen_addresses=''" -w -l "$PGDIR/log" start >/dev/null
  as_pg "$PGBIN/createdb" -h "$PGDIR" -p "$port" -U postgres hotline
  export HOTLINE_TEST_DATABASE_URL="postgresql+psycopg2://postgres@/hotline?host=$PGDIR&port=$port"
}

pg_stop() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
