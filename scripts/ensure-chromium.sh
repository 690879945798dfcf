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

warn() {
    echo "ensure-chromium: $*; the browser tests will be skipped." >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || warn "no apt-get here, install chromium and chromedriver yourself"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || warn "not root and no sudo, cannot install chromium-driver"
    SUDO="sudo"
fi

echo "ensure-chromium: installing chromium and chromium-driver (Debian packages)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || warn "apt-get update failed"
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
    || warn "apt-get install chromium chromium-driver failed"
"$DRIVER" --version >&2
