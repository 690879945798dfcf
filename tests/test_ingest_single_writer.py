"""One writer at a time: the warehouse pool across processes, and the connect retry."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.scope import SINGLE, WAREHOUSE_POOL
from pipeline.demo import SellerSummary
from pipeline.settings import Settings
from pipeline.warehouse import WarehouseBusy, connect

# A run as the daemon launches it: its own process, on the DAGSTER_HOME instance and its pool.
RUN_IN_OWN_PROCESS = """
import sys
import dagster as dg
from pipeline.defs.ingest.partitions import LANDING_PATH_TAG
from pipeline.defs.pipeline_defs import pipeline_defs
from pipeline.defs.resources import pipeline_resources
from pipeline.defs.scope import SINGLE
from pipeline.ingest.headers import TRANSACTIONS
from pipeline.settings import load_settings

partition, path = sys.argv[1:3]
with dg.DagsterInstance.get() as instance:
    result = dg.materialize(
        [pipeline_defs(SINGLE).ingest.landing[TRANSACTIONS]],
        instance=instance,
        partition_key=partition,
        tags={LANDING_PATH_TAG: path},
        resources=pipeline_resources(load_settings()),
        raise_on_error=False,
    )
sys.exit(0 if result.success else 1)
"""


def test_two_loads_requested_at_once_both_succeed(
    dagster_instance: dg.DagsterInstance, demo_landing: SellerSummary, pipeline_settings: Settings
) -> None:
    context = dg.build_sensor_context(
        instance=dagster_instance, resources={"settings": pipeline_settings}
    )
    result = pipeline_defs(SINGLE).landing_files_sensor(context)
    for request in result.dynamic_partitions_requests:
        dagster_instance.add_dynamic_partitions(
            request.partitions_def_name, list(request.partition_keys)
        )
    requests = [r for r in result.run_requests if r.job_name == "load_transactions_file"]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_IN_OWN_PROCESS, r.partition_key, r.tags[LANDING_PATH_TAG]],
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in requests
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    with duckdb.connect(str(pipeline_settings.warehouse), read_only=True) as con:
        files = con.execute(
            "SELECT count(DISTINCT _file_sha256) FROM raw.thrivecart_transactions"
        ).fetchone()
    assert files == (2,)
    limits = {p.name: p.limit for p in dagster_instance.event_log_storage.get_pool_limits()}
    assert limits == {WAREHOUSE_POOL: 1}


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
print(time.time(), flush=True)
"""


def test_connect_waits_for_another_writer_then_gives_up_with_a_clear_error(
    tmp_path: Path,
) -> None:
    database = tmp_path / "ltv.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database), "1.5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    holder_name = f"{Path(sys.executable).resolve().name} (PID {holder.pid})"
    with pytest.raises(WarehouseBusy, match=re.escape(f"stayed open in {holder_name}")):
        connect(database, lock_timeout=0.2)
    told: list[str] = []
    con = connect(database, lock_timeout=60, on_wait=told.append)
    got_lock_at = time.time()
    con.close()
    released_at = float(holder.stdout.readline())
    assert released_at <= got_lock_at  # it got the lock only after the holder let go
    assert holder.wait(timeout=30) == 0
    (message,) = told  # said once, however long the wait
    assert f"{holder_name} has it open" in message
    assert "analysts read the snapshot" in message
