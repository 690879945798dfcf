#!/bin/sh
# Install Debian's chromium and chromium-driver when either is missing, so the browser tests
# (tests/test_browser_*.py) run on a fresh machine as they do here. `make test` calls this.
#
# Does nothing when both are present. When they cannot be installed (no apt-get, not root and
# no sudo, no package mirror) it says why and exits 0: the browser tests then skip with that
# reason, and the rest of the suite still runs.
set -u

DRIVER=/usr/bin/chromedriver
BROWSER=/usr/bin/chromium

if [ -x "$DRIVER" ] && [ -x "$BROWSER" ]; then
    exit 0
fi

. "$(dirname "$0")/apt-install.sh"
apt_install ensure-chromium "the browser tests" chromium chromium-driver
"$DRIVER" --version >&2
