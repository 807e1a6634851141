#!/usr/bin/env bash
# Start (or stop) a private PostgreSQL server for the test suite: its own data folder and port on localhost.
#   scripts/pg_test_server.sh start DIR PORT   -> prints the TEST_DATABASE_URL on stdout
#   scripts/pg_test_server.sh stop DIR
# Runs the server as the "postgres" user when started by root (PostgreSQL refuses to run as root).
set -euo pipefail
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?data folder}"); port=${3:-55432}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 2; }
as_owner() { if [ "$(id -u)" = "0" ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }  # from /: postgres may not enter the caller's folder
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = "0" ] && chown postgres: "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$dir" -U riskmgr --auth=trust -E UTF8 >/dev/null
    fi
    as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U riskmgr -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='riskmgr_test'" | grep -q 1 \
      || as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U riskmgr riskmgr_test
    echo "postgresql+psycopg://riskmgr@127.0.0.1:$port/riskmgr_test"
    ;;
  stop)
    [ -f "$dir/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
