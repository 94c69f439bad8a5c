#!/usr/bin/env bash
# Starts a PostgreSQL server on loopback for the PostgreSQL variants of the tests and prints
# the URL they read from RESTAUTH_TEST_POSTGRES_URL (a role that may create databases: each
# test makes its own). Installs Debian's `postgresql` package when it is missing; uses the
# packaged cluster (15/main on this image) or creates one. Idempotent: a second run reuses
# the running server and the role.
#
#   export RESTAUTH_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
#
# Progress goes to stderr; only the URL goes to stdout.
set -euo pipefail

say() { echo "postgres: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    # Installing, starting a cluster and acting as its owner need root: leave the
    # variable empty, and the PostgreSQL variants of the tests say they were skipped.
    say "not root: not starting PostgreSQL (set RESTAUTH_TEST_POSTGRES_URL yourself)"
    exit 0
fi
as_postgres() { runuser -u postgres -- "$@"; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing Debian's postgresql package"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

cluster=$(pg_lsclusters --no-header | awk 'NR == 1 { print $1 " " $2 }')
if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    say "creating cluster $version/main"
    pg_createcluster "$version" main >&2
    cluster="$version main"
fi
read -r version name <<<"$cluster"
port=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $3 }')
status=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $4 }')
if [ "$status" != online ]; then
    say "starting cluster $version/$name on port $port"
    pg_ctlcluster "$version" "$name" start >&2
fi

# Poll until it accepts connections (no fixed sleep).
for _ in $(seq 1 100); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then
        break
    fi
    sleep 0.1
done
pg_isready -q -h 127.0.0.1 -p "$port" || { say "the server did not come up"; exit 1; }

# A throwaway password for a throwaway server that listens on loopback only.
password=restauth-ci
as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'restauth_test') THEN
        CREATE ROLE restauth_test;
    END IF;
END
\$\$;
ALTER ROLE restauth_test LOGIN CREATEDB PASSWORD '$password';
SQL
say "ready on 127.0.0.1:$port (role restauth_test may create databases)"
echo "postgres://restauth_test:$password@127.0.0.1:$port/postgres?sslmode=disable"
