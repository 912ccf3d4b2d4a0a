#!/usr/bin/env bash
# Test set-up: run a command with DELETION_SDK_TEST_POSTGRES_URL pointing at a PostgreSQL server.
#
#   scripts/ensure-postgres.sh [--require] COMMAND [ARGS...]
#
# When the URL is already set it is used as given. Otherwise the local server on 127.0.0.1:5432 is found
# (pg_isready), or started when this is root and Debian's pg_ctlcluster is there, and used as
#   postgresql+psycopg://postgres@127.0.0.1:5432/test   (the `test` database is created when missing).
# When no server can be had, COMMAND still runs without the URL, with the reason in
# DELETION_SDK_TEST_POSTGRES_SKIP_REASON: the test run then ends with a warning that counts the skipped
# PostgreSQL tests (tests/conftest.py). With --require (CI) it fails instead.
set -euo pipefail

require=0
if [ "${1:-}" = "--require" ]; then
  require=1
  shift
fi
if [ "$#" -eq 0 ]; then
  echo "usage: $0 [--require] COMMAND [ARGS...]" >&2
  exit 2
fi

HOST=127.0.0.1
PORT=5432
LOCAL_URL="postgresql+psycopg://postgres@$HOST:$PORT/test"

# Prints why no server can be used; prints nothing when the local one is up and usable.
find_or_start() {
  if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    echo "the PostgreSQL client tools (pg_isready, psql) are not installed"
    return
  fi
  if ! pg_isready -h "$HOST" -p "$PORT" -q 2>/dev/null; then
    if [ "$(id -u)" != "0" ] || ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
      echo "no server answers on $HOST:$PORT and this user cannot start one (needs root and pg_ctlcluster)"
      return
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    echo "starting the local PostgreSQL $version cluster..." >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    # Waits for the server to come up; a hang guard on start-up, not part of any test.
    for _ in $(seq 1 30); do
      pg_isready -h "$HOST" -p "$PORT" -q 2>/dev/null && break
      sleep 1
    done
    if ! pg_isready -h "$HOST" -p "$PORT" -q 2>/dev/null; then
      echo "the local cluster $version did not start on $HOST:$PORT"
      return
    fi
  fi
  local psql=(psql -w -X -q -h "$HOST" -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
  if "${psql[@]}" -d test -Atc "SELECT 1" >/dev/null 2>&1; then
    return
  fi
  if "${psql[@]}" -d postgres -c "CREATE DATABASE test" >/dev/null 2>&1 \
    && "${psql[@]}" -d test -Atc "SELECT 1" >/dev/null 2>&1; then
    return
  fi
  echo "the server on $HOST:$PORT does not let user postgres into database test without a password"
}

if [ -n "${DELETION_SDK_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"  # set by the caller: the tests fail (never skip) when that server is unreachable
fi

reason="$(find_or_start)"
if [ -z "$reason" ]; then
  export DELETION_SDK_TEST_POSTGRES_URL="$LOCAL_URL"
  unset DELETION_SDK_TEST_POSTGRES_SKIP_REASON
  echo "PostgreSQL tests use $LOCAL_URL" >&2
  exec "$@"
fi
if [ "$require" = "1" ]; then
  echo "error: PostgreSQL is required and not available: $reason" >&2
  exit 1
fi
echo "WARNING: PostgreSQL tests will be SKIPPED: $reason" >&2
export DELETION_SDK_TEST_POSTGRES_SKIP_REASON="$reason"
exec "$@"
