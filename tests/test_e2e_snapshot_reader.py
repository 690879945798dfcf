"""An analyst holding the published snapshot open never blocks the pipeline, and is not
disturbed by it: a real `ltv run` publishes a new snapshot while another process keeps a
read-only DuckDB connection on the old one, and both succeed.

`ltv run` runs twice as a user runs it (a subprocess with the settings in its environment):
first with the older Transactions export, then, while the reader holds the snapshot, with the
latest exports and the webhook log added. The reader reads the same numbers before and after
the publish (it keeps the file it opened); a new connection sees the new marts, which equal
the generator's truth.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from e2e_support import (
    BIN,
    SECRET,
    drop_file,
    net_by_currency,
    run_command,
    settings_of,
    settle,
    snapshot_customer_net,
    snapshot_payment_totals,
    stack_environment,
    start_process,
    stop_process,
    truth_customer_net,
    truth_net_by_currency,
    wait_for,
)

from pipeline.demo import generate_seller, load_truth
from pipeline.sidecar.replay import replay_to_log

CUSTOMERS = 20
SEED = 7
# A bound, not an expectation: `ltv run` on a tiny seller takes ~30 s on a quiet machine.
LTV_RUN_TIMEOUT_SECONDS = 300.0
READER_TIMEOUT_SECONDS = 60.0

# Opens the snapshot read-only, reads, waits for the `go` file (at most 10 minutes, so it
# always ends by itself), reads again on the same connection, and writes both readings.
READER = """
import json, sys, time
from pathlib import Path
import duckdb

snapshot, out, go = sys.argv[1:4]
SQL = "select count(*), cast(sum(amount) as varchar) from fct_payments"
con = duckdb.connect(snapshot, read_only=True)
before = con.execute(SQL).fetchone()
Path(out + ".tmp").write_text(json.dumps({"before": before}))
Path(out + ".tmp").rename(out + ".before")
deadline = time.monotonic() + 600
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.2)
after = con.execute(SQL).fetchone()
con.close()
Path(out + ".tmp").write_text(json.dumps({"after": after}))
Path(out + ".tmp").rename(out + ".after")
"""


def _reading(path: Path) -> list[object] | None:
    """The reader's reading in `path` (count, sum as text), or None until it is written."""
    if not path.exists():
        return None
    return next(iter(json.loads(path.read_text()).values()))


def test_a_publish_succeeds_while_a_reader_holds_the_snapshot(tmp_path: Path) -> None:
    seller = generate_seller(tmp_path / "seller", CUSTOMERS, seed=SEED, secret=SECRET)
    truth = load_truth(seller.out)
    env = stack_environment(tmp_path / "pipeline")
    settings = settings_of(env)
    landing, snapshot, logs = settings.landing_dir, settings.marts_snapshot, tmp_path / "logs"
    ltv_run = [str(BIN / "ltv"), "run"]

    def drop(*names: str) -> None:
        for name in names:
            export = seller.files[name]
            drop_file(export, landing / export.relative_to(seller.out))
        settle(landing)  # files a user moved in from their downloads: finished writing

    # First publish: the older Transactions export alone.
    drop("older")
    first = run_command(ltv_run, env, LTV_RUN_TIMEOUT_SECONDS, logs / "ltv-run-1.log")
    assert first.returncode == 0, first.output
    assert "files loaded: 1 " in first.output, first.output
    published_first = snapshot_payment_totals(snapshot)
    assert published_first, "the first `ltv run` published no payments"
    first_count = sum(count for count, _ in published_first.values())

    out, go = tmp_path / "reading", tmp_path / "go"
    reader = start_process(
        "reader", [sys.executable, "-c", READER, str(snapshot), str(out), str(go)], env, logs
    )
    try:
        before = wait_for(
            "the reader to open the snapshot",
            lambda: _reading(out.with_suffix(".before")),
            READER_TIMEOUT_SECONDS,
            interval=0.2,
            describe=reader.tail,
        )
        assert before[0] == first_count

        # Second publish while the reader holds the first snapshot open.
        drop("latest", "recurring", "limited")
        replay_to_log(seller.files["deliveries"], settings.webhooks_dir, {"*": SECRET})
        second = run_command(ltv_run, env, LTV_RUN_TIMEOUT_SECONDS, logs / "ltv-run-2.log")
        assert second.returncode == 0, second.output
        assert "files loaded: 3 " in second.output, second.output
        assert f"marts published to {snapshot}" in second.output, second.output

        go.touch()
        assert reader.popen.wait(timeout=READER_TIMEOUT_SECONDS) == 0, reader.tail()
        after = _reading(out.with_suffix(".after"))
    finally:
        stop_process(reader)

    # The reader kept its snapshot: same numbers on the same connection, no error.
    assert after == before
    # A new reader sees the new marts, and they are the truth.
    assert snapshot_payment_totals(snapshot) != published_first
    assert net_by_currency(snapshot) == truth_net_by_currency(truth)
    assert snapshot_customer_net(snapshot) == truth_customer_net(truth)
