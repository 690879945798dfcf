"""`ltv run` never skips a file silently, never runs twice at once, and says what it waits for.

Each test drives the real command against a real landing folder and warehouse. Waits are
bounded and the helper processes stop by themselves.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.ingest.landing import wait_for_writes
from pipeline.run.lock import lock_path
from pipeline.settings import Settings

HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,"
    "address_zip,address_country,shipping_full_name,shipping_address_line1,"
    "shipping_address_city,shipping_address_state,shipping_address_zip,"
    "shipping_address_country,telephone,email,checkbox_confirmation,company_vat_number,"
    "order_id,order_date,order_time,processor,order_currency,coupon,campaign_id,affiliate_id,"
    "affiliate_name,relevant_item_name,relevant_item,relevant_item_id,"
    "relevant_item_pricing_option,event,transaction_id,subscription_id,product_price,"
    "sales_tax,sales_tax_rate,total,business_info,email_verify"
)
HOLD_RUN_LOCK = """
import sys, time
from pathlib import Path
from pipeline.run.lock import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""
HOLD_READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
time.sleep(float(sys.argv[2]))
"""


def write_transactions(path: Path, rows: int) -> None:
    """A Transactions export of `rows` one-off 49.00 USD charges, one customer each."""
    lines = [HEADER] + [
        f"-,Ann,Lee,Ann Lee,-,-,-,-,US,-,-,-,-,-,-,-,ann{n}@example.com,false,-,{700 + n},"
        f"2025-03-0{n + 1},10:00:00,stripe,USD,-,-,-,-,Course,product,1,One payment,charge,"
        f"ch_{n},-,49.00,0.00,0,49.00,-,-"
        for n in range(rows)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _hold(script: str, path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() in ("locked", "open")
    return holder


def test_a_second_run_is_refused_at_once_with_one_line(pipeline_settings: Settings) -> None:
    holder = _hold(HOLD_RUN_LOCK, lock_path(pipeline_settings.warehouse), 30)
    try:
        started = time.monotonic()
        second = subprocess.run(
            [str(Path(sys.executable).with_name("ltv")), "run"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip() == (
        f"ltv run: another ltv run (PID {holder.pid}) is running since "
        f"{lock_path(pipeline_settings.warehouse).read_text().split(' ', 1)[1].strip()} on this "
        "warehouse; wait for it to finish, or stop it, then run again."
    )
    assert "Traceback" not in second.stderr and second.stdout == ""
    assert took < 30  # refused, not queued behind the holder
    assert not pipeline_settings.dagster_home.exists()  # nothing was started


def test_a_run_says_who_holds_the_warehouse_then_goes_on(pipeline_settings: Settings) -> None:
    write_transactions(pipeline_settings.landing_dir / "orders" / "export.csv", rows=3)
    pipeline_settings.warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(pipeline_settings.warehouse)).close()
    holder = _hold(HOLD_READER, pipeline_settings.warehouse, 120)
    run = subprocess.Popen(
        [str(Path(sys.executable).with_name("ltv")), "run", "--wait-for-writes", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The reader lets go once the run has said it waits (or after 120 s, which fails below).
        said = _read_until(run, "has it open")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    output = said + run.communicate(timeout=600)[0]
    assert f"(PID {holder.pid}) has it open" in output, output
    assert "analysts read the snapshot" in output
    assert "files loaded: 1 (3 rows)" in output
    assert run.returncode == 0, output


def _read_until(process: subprocess.Popen[str], text: str) -> str:
    """The process's output up to and including the first line holding `text` (or to its end)."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def test_files_dropped_just_before_a_run_are_waited_for_and_loaded(
    pipeline_settings: Settings,
) -> None:
    write_transactions(pipeline_settings.landing_dir / "orders" / "just-dropped.csv", rows=2)

    result = CliRunner().invoke(main, ["run"])

    assert "waiting for 1 file(s) still being written: orders/just-dropped.csv" in result.output
    assert "files loaded: 1 (2 rows)" in result.output, result.output
    assert result.exit_code == 0, result.output


def test_a_file_still_growing_is_reported_as_not_loaded(pipeline_settings: Settings) -> None:
    growing = pipeline_settings.landing_dir / "orders" / "growing.csv"
    write_transactions(growing, rows=2)
    stop = threading.Event()

    def keep_writing() -> None:
        with growing.open("a") as f:
            while not stop.wait(0.2):
                f.write("\n")
                f.flush()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = CliRunner().invoke(main, ["run", "--wait-for-writes", "2"])
    finally:
        stop.set()
        writer.join(timeout=10)
    assert result.exit_code == 1, result.output
    assert "files loaded: 0" in result.output
    assert "orders/growing.csv: still being written after 2 s" in result.output


def test_the_wait_ends_when_sizes_and_times_stay_the_same(tmp_path: Path) -> None:
    (tmp_path / "done.csv").write_text("a\n")
    slept: list[float] = []
    told: list[list[str]] = []

    left = wait_for_writes(tmp_path, quiet_seconds=0.1, on_wait=told.append, sleep=slept.append)

    assert (left, told, slept) == ([], [["done.csv"]], [0.1])
