#!/usr/bin/env bash
# Installs (from Debian packages) and starts a local PostgreSQL for tests,
# then prints the URL of a fresh database. Fails loudly when it cannot.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$ver main .* online"; then
  # Tests open many connections (several dispatchers, subscribers).
  pg_conftool "$ver" main set max_connections 300 >&2 || true
  pg_ctlcluster "$ver" main start >&2
fi

for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "pg_isready" >&2

su postgres -c "psql -q -v ON_ERROR_STOP=1" >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gantry') THEN
    CREATE ROLE gantry LOGIN SUPERUSER PASSWORD 'gantry';
  END IF;
END $$;
SQL
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname = 'gantry_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O gantry gantry_test" >&2
echo "postgres://gantry:gantry@127.0.0.1:5432/gantry_test?sslmode=disable"
