"""SIGKILL under load: every acknowledged delivery is on disk and the log still reads cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipeline.phpform import encode_php_form
from pipeline.webhook_log import (
    SegmentAppender,
    iter_complete_lines,
    list_segments,
    segment_day,
)

SAMPLE = Path(__file__).parent / "fixtures" / "webhooks" / "order.success.json"
FORM = {"content-type": "application/x-www-form-urlencoded"}
CLIENTS = 16
KILL_AFTER_ACKS = 150


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sidecar(landing: Path, port: int, log_file: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LTV_LANDING_DIR": str(landing), "THRIVECART_SECRET": "SAMPLESECRET1"}
    command = [sys.executable, "-m", "pipeline.cli", "webhooks", "serve", "--port", str(port)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, log_file.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"sidecar did not become healthy:\n{log_file.read_text()}")


async def load_then_kill(url: str, process: subprocess.Popen[bytes]) -> set[str]:
    """CLIENTS clients post unique deliveries; SIGKILL once enough were acknowledged."""
    base = json.loads(SAMPLE.read_text())
    acked: set[str] = set()

    async def client(worker: int) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            for i in range(5000):  # bounded; the kill ends it much sooner
                body = encode_php_form({**base, "order_id": f"{worker}-{i}"})
                try:
                    answer = await http.post(url, content=body, headers=FORM)
                except httpx.TransportError:
                    return
                assert answer.status_code == 200, answer.text
                acked.add(answer.json()["delivery_id"])

    async def killer() -> None:
        deadline = time.monotonic() + 30
        while len(acked) < KILL_AFTER_ACKS:
            assert time.monotonic() < deadline, "load never reached the kill point"
            await asyncio.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)

    await asyncio.gather(killer(), *(client(w) for w in range(CLIENTS)))
    return acked


def test_sigkill_under_load_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    port = free_port()
    process = start_sidecar(tmp_path, port, tmp_path / "sidecar.log")
    try:
        acked = asyncio.run(load_then_kill(f"http://127.0.0.1:{port}/webhooks/thrivecart", process))
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    log_dir = tmp_path / "webhooks"
    records = [
        json.loads(line) for s in list_segments(log_dir) for _, line in iter_complete_lines(s)
    ]
    assert all(r["schema_version"] == 1 and len(r["delivery_id"]) == 64 for r in records)
    stored_ids = {r["delivery_id"] for r in records}
    assert len(acked) >= KILL_AFTER_ACKS
    assert acked <= stored_ids
    assert len(stored_ids) == len(records)  # no line was written twice

    # A restarted writer gets the lock the dead process held and starts on a clean line.
    segment = list_segments(log_dir)[-1]
    with SegmentAppender(log_dir) as appender:
        appender.append_batch([(segment_day(segment), b'{"after": "restart"}')])
    lines = [line for _, line in iter_complete_lines(segment)]
    assert lines[-1] == b'{"after": "restart"}'
    assert segment.read_bytes().endswith(b'{"after": "restart"}\n')
