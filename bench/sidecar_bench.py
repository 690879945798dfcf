"""Webhook sidecar benchmark: durable events per second and latency, against its own ceiling.

Runs the real sidecar app in a subprocess on loopback, under the same uvicorn settings as
`ltv webhooks serve`: with the log write switched off (the ceiling: parsing, auth, record
building, HTTP), and durable (group-committed append + fsync before every 2xx). A load
generator in this process keeps CLIENTS keep-alive connections busy, each POSTing unique
`order.success` form deliveries, and measures every request's latency. Speed is only ever
judged relative to the ceiling measured in the same run on the same machine.

Each round measures three things:
- ceiling and durable, saturated: every client posts back to back (closed loop), so the
  throughput is the server's most. Latency there is clients / throughput (Little's law): it
  says how deep the queue was, not how fast one delivery is stored.
- paced: the durable server offered RATE events/s (default 1,000, the goal's rate) on a fixed
  schedule (open loop). Latency counts from each request's due time, so time spent waiting
  behind a slow one is included. This is the latency the p99 goal is judged on.

    .venv/bin/python bench/sidecar_bench.py [--clients 32] [--seconds 8] [--warmup 2] [--rounds 3]
                                            [--rate 1000] [--json OUT]

Rounds alternate the servers so that noise from other work on the machine hits all of them;
the table reports each one's median round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import httpx
import uvloop

from pipeline.settings import PROJECT_ROOT
from pipeline.sidecar.app import WEBHOOK_PATH, create_app
from pipeline.sidecar.server import configure_logging, serve
from pipeline.webhook_log import GroupCommitLog, SegmentAppender, iter_complete_lines, list_segments

SAMPLE = PROJECT_ROOT / "tests" / "fixtures" / "webhooks" / "order.success.form"
SECRETS = {"magloft": "SAMPLESECRET1"}
OUT_DIR = PROJECT_ROOT / "bench" / "out"  # on the project's disk, like landing/ (not a tmpfs)
GOAL_EVENTS_PER_SECOND, GOAL_RATIO, GOAL_P99_MS = 1000, 0.5, 50.0
# What each measurement runs: the paced one loads the durable server at a fixed rate.
SERVERS = {"ceiling": "ceiling", "durable": "durable", "paced": "durable"}


class DiscardLog:
    """The ceiling: the same app with the write switched off. Never used to serve ThriveCart."""

    async def __aenter__(self) -> DiscardLog:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def append(self, day: date, line: bytes) -> None:
        return None

    async def check(self, day: date) -> None:
        return None

    def stats(self) -> dict[str, int]:
        return {}


def run_server(mode: str, port: int, log_dir: Path) -> None:
    """The subprocess side: serve the sidecar app in `mode` until SIGTERM."""
    configure_logging()
    if mode == "ceiling":
        serve(create_app(SECRETS, DiscardLog()), "127.0.0.1", port)
        return
    with SegmentAppender(log_dir) as appender:
        serve(create_app(SECRETS, GroupCommitLog(appender)), "127.0.0.1", port)


@dataclass
class Load:
    """What the clients saw: latencies (seconds) inside the measured window, and totals."""

    latencies: list[float] = field(default_factory=list)
    ok_total: int = 0
    errors: int = 0
    last_done: float = 0.0  # when the last measured request finished

    def rate(self, window: tuple[float, float]) -> float:
        """Measured requests per second: over the window, or until the last one finished if
        that was later (a paced server that falls behind finishes after the window)."""
        start, stop = window
        return len(self.latencies) / (max(stop, self.last_done) - start)


def _request(port: int, body: bytes) -> bytes:
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_status(reader: asyncio.StreamReader) -> int:
    """Read one response (status line, headers, Content-Length body); return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


@dataclass(frozen=True)
class Pace:
    """When a client sends: back to back (`interval` None), or request k of client n at
    origin + (k * clients + n) * interval, the clients interleaved into one steady stream."""

    origin: float
    interval: float | None = None
    clients: int = 1

    def due(self, n: int, k: int) -> float:
        if self.interval is None:
            return time.perf_counter()
        return self.origin + (k * self.clients + n) * self.interval


async def _client(n: int, port: int, window: tuple[float, float], pace: Pace, load: Load) -> None:
    """One keep-alive connection posting unique deliveries until the window ends; a request's
    latency runs from its due time (a paced one waits behind the previous response)."""
    before, after = SAMPLE.read_bytes().split(b"order_id=23370556", 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start, stop = window
    k = 0
    while (due := pace.due(n, k)) < stop:
        k += 1
        if (wait := due - time.perf_counter()) > 0:  # late requests go at once, without a yield
            await asyncio.sleep(wait)
        writer.write(_request(port, b"%sorder_id=%d-%d%s" % (before, n, k, after)))
        status = await _read_status(reader)
        done = time.perf_counter()
        if status != 200:
            load.errors += 1
            continue
        load.ok_total += 1
        # Saturated: only requests wholly inside the window. Paced: every request due inside
        # it, however late it finished, so that slow ones are not left out.
        if due >= start and (done <= stop or pace.interval is not None):
            load.latencies.append(done - due)
            load.last_done = max(load.last_done, done)
    writer.close()
    await writer.wait_closed()


async def _drive(
    port: int, clients: int, warmup: float, seconds: float, rate: float | None = None
) -> tuple[Load, float]:
    """Load the server; what the clients saw, and their measured rate."""
    load = Load()
    now = time.perf_counter()
    window = (now + warmup, now + warmup + seconds)
    pace = Pace(now, 1 / rate, clients) if rate else Pace(now)
    await asyncio.gather(*(_client(n, port, window, pace, load) for n in range(clients)))
    return load, load.rate(window)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("bench server did not become healthy")


@dataclass
class Result:
    mode: str
    events_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_event: float
    note: str


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): noise-proof cost per event."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, args: argparse.Namespace, work: Path) -> Result:
    """Start the server of `mode`, load it, stop it, and check the log against the 2xx count."""
    server = SERVERS[mode]
    port, log_dir = _free_port(), work / mode / "webhooks"
    log_dir.parent.mkdir(parents=True)
    command = [sys.executable, __file__, "serve", server, str(port), str(log_dir)]
    with (work / f"{mode}-server.log").open("wb") as server_log:
        process = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(port, process)
        cpu_before, client_before = _cpu_seconds(process.pid), time.process_time()
        rate = args.rate if mode == "paced" else None
        load, events_per_second = uvloop.run(
            _drive(port, args.clients, args.warmup, args.seconds, rate)
        )
        cpu = _cpu_seconds(process.pid) - cpu_before
        client_cpu = time.process_time() - client_before
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    note = ""
    if server == "durable":
        stored = sum(1 for s in list_segments(log_dir) for _ in iter_complete_lines(s))
        batches = _metric(metrics, "ltv_webhook_log_batches_total")
        note = f"({stored} lines on disk for {load.ok_total} 2xx, {stored / batches:.1f}/fsync)"
        if stored != load.ok_total:
            raise SystemExit(f"durability check failed: {note}")
    cut = statistics.quantiles(load.latencies, n=100)
    requests = load.ok_total + load.errors
    note += f" [client CPU {client_cpu / requests * 1e6:.0f} us/event]"
    cpu_us = cpu / requests * 1e6
    p50, p99 = cut[49] * 1000, cut[98] * 1000
    return Result(mode, events_per_second, p50, p99, load.errors, cpu_us, note)


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(name))


def _median(results: list[Result], mode: str) -> Result:
    """The round with the median throughput for `mode` (its latencies come with it); for paced
    rounds, whose throughput is the offered rate, the round with the median p99."""
    key = (lambda r: r.p99_ms) if mode == "paced" else (lambda r: r.events_per_second)
    rounds = sorted((r for r in results if r.mode == mode), key=key)
    return rounds[len(rounds) // 2]


def report(results: list[Result], args: argparse.Namespace) -> bool:
    """Print every round, the medians as a Markdown table, and the goals; True if all met."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.clients} clients, {args.rounds} rounds of {args.seconds:g} s per server")
    print(f"(after {args.warmup:g} s warm-up); {os.cpu_count()} CPUs, load average now {load}")
    for r in results:
        print(
            f"  {r.mode:8} {r.events_per_second:7,.0f}/s p50 {r.p50_ms:5.1f} ms "
            f"p99 {r.p99_ms:6.1f} ms, server CPU {r.cpu_us_per_event:4.0f} us/event {r.note}"
        )
    ceiling, durable = _median(results, "ceiling"), _median(results, "durable")
    paced = _median(results, "paced")
    print("\n| server (median round) | events/s | p50 ms | p99 ms | CPU us/event | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in (ceiling, durable, paced):
        row = f"{r.events_per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
        row += f"{r.cpu_us_per_event:.0f} | {r.errors}"
        print(f"| {r.mode} | {row} |")
    ratio = durable.events_per_second / ceiling.events_per_second
    print(f"\ndurable / ceiling = {ratio:.2f}")
    goals = {
        f"durable >= {GOAL_EVENTS_PER_SECOND} events/s": durable.events_per_second
        >= GOAL_EVENTS_PER_SECOND,
        f"durable >= {GOAL_RATIO:.0%} of ceiling": ratio >= GOAL_RATIO,
        f"durable p99 < {GOAL_P99_MS:g} ms at {args.rate:,.0f} events/s (paced)": paced.p99_ms
        < GOAL_P99_MS,
        "no errors": all(r.errors == 0 for r in results),
    }
    for goal, met in goals.items():
        print(f"- {goal}: {'met' if met else 'NOT MET'}")
    return all(goals.values())


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        mode, port, log_dir = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
        run_server(mode, port, log_dir)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating server runs")
    parser.add_argument(
        "--rate", type=float, default=GOAL_EVENTS_PER_SECOND, help="paced events/s offered"
    )
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(dir=OUT_DIR) as work:
        for n in range(args.rounds):
            for mode in SERVERS:
                results.append(measure(mode, args, Path(work) / f"round-{n}"))
    met = report(results, args)
    if args.json:
        settings = {k: getattr(args, k) for k in ("clients", "seconds", "warmup", "rounds", "rate")}
        figures = {
            "results": [asdict(r) for r in results],
            "medians": {mode: asdict(_median(results, mode)) for mode in SERVERS},
        }
        args.json.write_text(json.dumps({**settings, **figures}, indent=2) + "\n")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
