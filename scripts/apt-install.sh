# Sourced by the ensure-*.sh scripts (not run by itself): install Debian packages that some
# tests need, or say why that is not possible and exit 0, so those tests skip with the reason
# and the rest of the suite still runs.
#
# apt_install WHO SKIPPED PACKAGE...: WHO names the caller in messages, SKIPPED the tests that
# go without the packages.
apt_install() {
    who=$1
    skipped=$2
    shift 2
    packages="$*"

    command -v apt-get >/dev/null 2>&1 \
        || apt_give_up "no apt-get here, install $packages yourself"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 \
            || apt_give_up "not root and no sudo, cannot install $packages"
        sudo="sudo"
    fi

    echo "$who: installing $packages (Debian packages)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || apt_give_up "apt-get update failed"
    # shellcheck disable=SC2086 # one word per package
    $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null \
        || apt_give_up "apt-get install $packages failed"
}

apt_give_up() {
    echo "$who: $*; $skipped will be skipped." >&2
    exit 0
}
