#!/bin/sh
# Install Debian's postgresql when its server programs are missing, so the PostgreSQL tests
# (tests/test_dbt_postgres.py) run on a fresh machine as they do here. `make test` calls this.
#
# Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off the PATH; the tests
# look there too, so finding them there is enough. When they cannot be installed (no apt-get,
# not root and no sudo, no package mirror) it says why and exits 0: the PostgreSQL tests then
# skip with that reason, and the rest of the suite still runs.
set -u

has_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    for candidate in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$candidate" ] && return 0
    done
    return 1
}

if has_initdb; then
    exit 0
fi

warn() {
    echo "ensure-postgres: $*; the PostgreSQL tests will be skipped." >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || warn "no apt-get here, install PostgreSQL yourself"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || warn "not root and no sudo, cannot install postgresql"
    SUDO="sudo"
fi

echo "ensure-postgres: installing postgresql (Debian package)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || warn "apt-get update failed"
# The package's own cluster is not needed (the tests start throwaway ones), but Debian creates
# and starts it; that is harmless and left alone.
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || warn "apt-get install postgresql failed"
has_initdb || warn "postgresql is installed but initdb is not where it should be"
