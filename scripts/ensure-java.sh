#!/bin/sh
# Install Debian's Java runtime when `java` is missing, so the Spark tests
# (tests/test_dbt_spark.py) run on a fresh machine as they do here: dbt-spark's session mode
# starts Spark (pyspark, from PyPI) in dbt's own process, and Spark runs on the JVM. `make
# test` calls this. When Java cannot be installed (no apt-get, not root and no sudo, no package
# mirror) it says why and exits 0: the Spark tests then skip with that reason, and the rest of
# the suite still runs.
set -u

command -v java >/dev/null 2>&1 && exit 0

. "$(dirname "$0")/apt-install.sh"
apt_install ensure-java "the Spark tests" openjdk-17-jre-headless
command -v java >/dev/null 2>&1 || apt_give_up "openjdk-17-jre-headless is installed but java is not on the PATH"
