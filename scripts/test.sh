#!/usr/bin/env bash
# make test: real PostgreSQL and Redis on loopback, started here and stopped on exit.
#   scripts/test.sh            lint, migrations check, the whole pytest suite
#   scripts/test.sh --bench    the benchmarks under bench/ against the same servers
#   scripts/test.sh -- ARGS    pytest ARGS instead of the whole suite
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
export PATH="$ROOT/$VENV/bin:$PATH"

mode=test
pytest_args=()
while (($#)); do
  case "$1" in
    --bench) mode=bench ;;
    --) shift; pytest_args=("$@"); break ;;
    *) pytest_args+=("$1") ;;
  esac
  shift
done

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
need=()
[ -x "$PG_BIN/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
# Only the compose file's syntax check needs it (no engine runs here).
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || need+=(docker-compose)
# The benchmarks drive the web views with wrk, a C load generator: a Python one would take a good
# part of the same two CPUs from the server it measures.
[ "$mode" = bench ] && ! command -v wrk >/dev/null && need+=(wrk)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}; run as root: apt-get install postgresql redis-server chromium chromium-driver" >&2
    exit 1
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RUN_DIR=$(mktemp -d /tmp/agency-test.XXXXXX)
chmod 755 "$RUN_DIR"
PG_PORT=${PG_PORT:-$(free_port)}
REDIS_PORT=${REDIS_PORT:-$(free_port)}
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$RUN_DIR"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  set +e
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1
  [ -f "$RUN_DIR/redis.pid" ] && kill "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

echo "== PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
"${as_pg[@]}" "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U postgres -A trust -E UTF8 --no-locale >/dev/null
pg_ctl=("${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg.log")
"${pg_ctl[@]}" -w -o \
  "-p $PG_PORT -k $RUN_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
   -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" start >/dev/null
redis_server=(redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no
  --daemonize yes --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log" --dir "$RUN_DIR")
"${redis_server[@]}"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/agency"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/1"
export AGENCY_TEST_PG_BIN="$PG_BIN" AGENCY_TEST_RUN_DIR="$RUN_DIR"
# The fault drills (tests/drills) restart both servers mid-test: `pg_ctl restart` reuses the
# options above, and Redis comes back with the same command line (shell-quoted words).
AGENCY_TEST_PG_CTL=$(printf '%q ' "${pg_ctl[@]}")
AGENCY_TEST_REDIS_SERVER=$(printf '%q ' "${redis_server[@]}")
export AGENCY_TEST_PG_CTL AGENCY_TEST_REDIS_SERVER
"${as_pg[@]}" "$PG_BIN/../bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres agency 2>/dev/null \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE agency' >/dev/null

if [ "$mode" = bench ]; then
  export DJANGO_SETTINGS_MODULE=tests.settings
  python bench/all.py "${pytest_args[@]}"
  exit 0
fi

if [ "${SKIP_LINT:-0}" != 1 ]; then  # SKIP_LINT=1 for a focused run while others edit; CI never sets it
  echo "== ruff check"
  ruff check .
  echo "== ruff format --check"
  ruff format --check .
  echo "== makemigrations --check"
  DJANGO_SETTINGS_MODULE=tests.settings python manage.py makemigrations --check --dry-run
  echo "== pip-audit of the pinned requirements (constraints.txt)"
  # Fails on a known vulnerability; warns (does not fail) when the service cannot be asked.
  python scripts/audit_deps.py
fi
echo "== pytest on PostgreSQL and Redis"
if ((${#pytest_args[@]})); then
  python -m pytest "${pytest_args[@]}"
else
  python -m pytest
fi
