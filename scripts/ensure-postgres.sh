#!/bin/sh
# Install Debian's postgresql when its server programs are missing, so the PostgreSQL tests
# (tests/test_dbt_postgres.py, tests/test_postgres_raw.py) run on a fresh machine as they do
# here. `make test` calls this, and so do those tests when initdb is missing.
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

. "$(dirname "$0")/apt-install.sh"
# The package creates and starts a cluster of its own; the tests start throwaway ones and
# leave it alone.
apt_install ensure-postgres "the PostgreSQL tests" postgresql
has_initdb || apt_give_up "postgresql is installed but initdb is not where it should be"
