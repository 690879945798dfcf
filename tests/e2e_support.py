"""Helpers of the end-to-end and browser tests (no tests here): the real stack on free ports.

`running_stack()` starts what `ltv up` starts (the webhook sidecar, `dagster-daemon` and
`dagster-webserver`), each as a separate process group with its own log file, against a
temporary landing folder, warehouse, snapshot and DAGSTER_HOME (with our dagster.yaml). It
always stops them again, children included (Dagster's run and code-server subprocesses, dbt),
even when the test fails. Polling helpers wait with a deadline and stop by themselves.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import httpx

from pipeline.instance import prepare_dagster_home
from pipeline.settings import PROJECT_ROOT, Settings, load_settings
from pipeline.up import create_instance_storage

BIN = Path(sys.executable).parent
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
SECRET = "e2e-secret"
# Every variable load_settings() reads: a developer's .env or shell must not leak into a test.
SETTINGS_VARIABLES = (
    "LTV_LANDING_DIR",
    "LTV_WAREHOUSE",
    "LTV_MARTS_SNAPSHOT",
    "DAGSTER_HOME",
    "THRIVECART_SECRET",
    "LTV_TIMEZONE",
    "LTV_CSV_TIMEZONE",
    "LTV_MATCH_TOLERANCE_MINUTES",
    "LTV_DAY_N",
    "LTV_ARCHIVE_DIR",
    "LTV_ACCOUNTS",
    "LTV_CSV_DATE_ORDER",
    "LTV_MEMORY_LIMIT",
)
STOP_GRACE_SECONDS = 10.0
# The webserver loads the code location in ~20 s on a quiet 2-core machine, ~100 s on a loaded one.
STARTUP_TIMEOUT_SECONDS = 180.0

T = TypeVar("T")


class Timeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_environment(root: Path, **overrides: str) -> dict[str, str]:
    """The process environment for a pipeline living entirely under `root`.

    Explicit values for every setting (blank ones fall back to the defaults), so neither the
    project's `.env` nor the caller's shell decides where the test writes.
    """
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(
        {
            "LTV_LANDING_DIR": str(root / "landing"),
            "LTV_WAREHOUSE": str(root / "warehouse" / "ltv.duckdb"),
            "LTV_MARTS_SNAPSHOT": str(root / "warehouse" / "marts.duckdb"),
            "DAGSTER_HOME": str(root / "dagster_home"),
            "THRIVECART_SECRET": SECRET,
            "LTV_TIMEZONE": "UTC",
            "LTV_CSV_TIMEZONE": "UTC",
            "LTV_MATCH_TOLERANCE_MINUTES": "",
            "LTV_DAY_N": "",
            "LTV_ARCHIVE_DIR": "",
            "LTV_ACCOUNTS": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def settings_of(env: Mapping[str, str]) -> Settings:
    """The settings the stack's processes see with environment `env`."""
    return load_settings(dict(env))


def install_dagster_home(settings: Settings) -> None:
    """Install our dagster.yaml and create the instance's databases, as `ltv up` does, keeping
    this process's DAGSTER_HOME.

    `prepare_dagster_home` also points this process at the new home; the test process (a
    pytest-xdist worker) runs other tests afterwards, so the old value is put back.
    """
    previous = os.environ.get("DAGSTER_HOME")
    try:
        prepare_dagster_home(settings)
        create_instance_storage(settings)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


@dataclass
class Process:
    """A started process, leader of its own process group, logging into `log`."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        """The end of its log, for failure messages."""
        if not self.log.exists():
            return "(no log)"
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_process(name: str, argv: list[str], env: Mapping[str, str], logs: Path) -> Process:
    """Start `argv` in a new session (so its whole tree can be signalled), output to a file."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process(process: Process, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after `grace` seconds, reap it.

    The group holds every descendant: Dagster starts run workers, code servers and dbt as
    plain subprocesses, which stay in their parent's group.
    """
    pgid = process.popen.pid  # leader of a new session: its pid is the group id
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        if process.popen.poll() is None:
            with suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=0.2)
        else:
            time.sleep(0.2)  # the leader is gone; orphans in the group may still be exiting
    _signal_group(pgid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):  # SIGKILLed; a process stuck in D state stays
        process.popen.wait(timeout=grace)


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 1.0,
    describe: Callable[[], str] = lambda: "",
) -> T:
    """Call `probe` until it returns something other than None, for at most `timeout` seconds.

    On timeout raise `Timeout` naming `what` and adding `describe()` (the state last seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise Timeout(f"gave up after {timeout:.0f} s waiting for {what}\n{describe()}")
        time.sleep(interval)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5.0).is_success
    except httpx.HTTPError:
        return False


@dataclass
class Stack:
    """The running sidecar, daemon and webserver, and where they read and write."""

    root: Path
    env: dict[str, str]
    settings: Settings
    webhook_url: str
    ui_url: str
    processes: list[Process] = field(default_factory=list)

    def logs(self, lines: int = 40) -> str:
        """The tail of every process's log, for failure messages."""
        return "\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.processes)

    def check_alive(self) -> None:
        """Fail at once, with the logs, when a process died (instead of timing out later)."""
        dead = [p for p in self.processes if p.popen.poll() is not None]
        if dead:
            names = ", ".join(f"{p.name} (exit {p.popen.returncode})" for p in dead)
            raise AssertionError(f"{names} stopped\n{self.logs()}")

    def diagnostics(self, since: float = 0.0) -> str:
        """Runs and log tails: enough to tell which link of the chain did not fire."""
        return f"{describe_runs(self.settings.dagster_home, since)}\n{self.logs()}"


ALL_SERVICES = ("sidecar", "dagster-daemon", "dagster-webserver")


@contextmanager
def running_stack(
    root: Path, services: Collection[str] = ALL_SERVICES, **env_overrides: str
) -> Iterator[Stack]:
    """Start `services` (default: sidecar, daemon and webserver, as `ltv up` does) for a
    pipeline under `root`; stop them on exit, whatever happened.

    Waits until the sidecar answers /healthz and the webserver has loaded the code location.
    """
    env = stack_environment(root, **env_overrides)
    settings = settings_of(env)
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    install_dagster_home(settings)
    hook_port, ui_port = free_port(), free_port()
    stack = Stack(
        root=root,
        env=env,
        settings=settings,
        webhook_url=f"http://127.0.0.1:{hook_port}/webhooks/thrivecart",
        ui_url=f"http://127.0.0.1:{ui_port}",
    )
    logs = root / "logs"
    commands = {
        "sidecar": [str(BIN / "ltv"), "webhooks", "serve", "--port", str(hook_port)],
        "dagster-daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        "dagster-webserver": [
            str(BIN / "dagster-webserver"),
            *("-h", "127.0.0.1", "-p", str(ui_port), "-w", str(WORKSPACE)),
        ],
    }
    with ExitStack() as cleanup:
        for name in services:
            process = start_process(name, commands[name], env, logs)
            cleanup.callback(stop_process, process)
            stack.processes.append(process)
        if "sidecar" in services:
            health = f"http://127.0.0.1:{hook_port}/healthz"
            wait_for(
                "the sidecar's /healthz",
                lambda: True if _answers(health) else stack.check_alive(),
                STARTUP_TIMEOUT_SECONDS,
                interval=0.5,
                describe=stack.logs,
            )
        if "dagster-webserver" in services:
            wait_for(
                "the Dagster webserver to load the code location",
                lambda: True if code_location_loaded(stack.ui_url) else stack.check_alive(),
                STARTUP_TIMEOUT_SECONDS,
                interval=2.0,
                describe=stack.logs,
            )
        yield stack


LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def graphql(ui_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a query to the webserver's GraphQL endpoint; return `data` (raise on errors)."""
    response = httpx.post(
        f"{ui_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30.0
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def code_location_loaded(ui_url: str) -> bool:
    """True once the webserver answers and its code location loaded without an error."""
    try:
        data = graphql(ui_url, LOCATION_QUERY)
    except (httpx.HTTPError, ValueError):
        return False
    entries = data["workspaceOrError"].get("locationEntries") or []
    for entry in entries:
        location = entry.get("locationOrLoadError") or {}
        if location.get("__typename") == "PythonError":
            raise AssertionError(f"code location {entry['name']} failed: {location['message']}")
    return bool(entries) and all(
        e["loadStatus"] == "LOADED" and e.get("locationOrLoadError") for e in entries
    )


# --- reading the published snapshot ---------------------------------------------------------


def query_snapshot(snapshot: Path, sql: str) -> list[tuple[Any, ...]] | None:
    """Rows of `sql` on the published snapshot (read-only), or None while there is none yet.

    A read-only connection never blocks the pipeline: publishing renames a new file over the
    snapshot, and this connection keeps the file it opened.
    """
    if not snapshot.exists():
        return None
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            return con.execute(sql).fetchall()
    except duckdb.CatalogException:
        return None  # published before this table existed: wait for the next publish


def net_by_currency(snapshot: Path) -> dict[str, Decimal] | None:
    """Customer net revenue summed per currency, from `dim_customers` of the snapshot."""
    rows = query_snapshot(
        snapshot, "select currency, sum(net_revenue) from dim_customers group by currency"
    )
    return None if rows is None else {currency: Decimal(net) for currency, net in rows}


def truth_net_by_currency(truth: Mapping[str, Any]) -> dict[str, Decimal]:
    """The generator's truth: customer net revenue summed per currency."""
    totals: dict[str, Decimal] = {}
    for customer in truth["customers"]:
        currency = customer["currency"]
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(customer["net"])
    return totals


def truth_customer_net(truth: Mapping[str, Any]) -> dict[tuple[str, str], Decimal]:
    """The generator's truth: (email, currency) -> net revenue."""
    return {(c["email"], c["currency"]): Decimal(c["net"]) for c in truth["customers"]}


def snapshot_customer_net(snapshot: Path) -> dict[tuple[str, str], Decimal] | None:
    """The snapshot's dim_customers: (email, currency) -> net revenue."""
    rows = query_snapshot(snapshot, "select email, currency, net_revenue from dim_customers")
    return None if rows is None else {(e, c): Decimal(n) for e, c, n in rows}


def webhook_log_records(webhooks_dir: Path) -> list[dict[str, Any]]:
    """Every record the sidecar wrote, one per distinct delivery id (retries count once)."""
    seen: dict[str, dict[str, Any]] = {}
    for segment in sorted(webhooks_dir.glob("thrivecart-*.jsonl")):
        for line in segment.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            seen.setdefault(record["delivery_id"], record)
    return list(seen.values())


# --- what the Dagster instance did --------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """One run of the instance, as far as the tests care."""

    job: str
    status: str
    assets: str
    failure: str


def _failure_text(instance: Any, run_id: str) -> str:
    """The step failure messages of a run, dbt's own error lines first when there are some."""
    messages = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is not None and event.is_step_failure:
            message = event.step_failure_data.error.message
            parsed = message.find("Errors parsed from dbt logs")
            messages.append(message[parsed:] if parsed >= 0 else message)
    return "\n".join(m.strip()[:1500] for m in messages)


def runs_since(dagster_home: Path, since: float) -> list[RunState]:
    """Every run created after the epoch time `since`, oldest first, read from the instance."""
    from datetime import UTC, datetime

    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    created_after = datetime.fromtimestamp(since, UTC)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(RunsFilter(created_after=created_after))
        states = []
        for record in reversed(records):
            run = record.dagster_run
            keys = sorted(k.to_user_string() for k in run.asset_selection or [])
            assets = ", ".join(keys[:3]) + (f" (+{len(keys) - 3})" if len(keys) > 3 else "")
            failed = run.status == DagsterRunStatus.FAILURE
            failure = _failure_text(instance, run.run_id) if failed else ""
            states.append(RunState(run.job_name, run.status.value, assets, failure))
    return states


def describe_runs(dagster_home: Path, since: float = 0.0) -> str:
    """Runs since `since`, one a line, with the failure of each failed one."""
    try:
        runs = runs_since(dagster_home, since)
    except Exception as exc:  # diagnostics only: never hide the failure being reported
        return f"(cannot read the Dagster instance: {exc!r})"
    lines = [f"runs since the phase began ({len(runs)}, oldest first):"]
    for run in runs:
        lines.append(f"  {run.status:<9} {run.job} [{run.assets}]")
        lines += [f"      {line}" for line in run.failure.splitlines()[:25]]
    return "\n".join(lines)


FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class Stalled(AssertionError):
    """The pipeline stopped with a failed run and started nothing new for a while."""


@dataclass
class StallWatch:
    """Tells a pipeline that will not get there from one that is merely slow.

    Stalled: every run since `since` has finished, one failed, and no new run came for `grace`
    seconds (several sensor and automation ticks). Without it a broken chain costs the whole
    deadline; with it the test fails in about a minute and says which run failed and why.
    Progress: the last time a run since `since` finished, so a loaded machine that keeps
    finishing runs is given time while one where nothing moves is not.
    """

    dagster_home: Path
    since: float
    grace: float = 60.0
    _quiet_since: float | None = None
    _runs_seen: int = 0
    _finished_seen: int = 0
    _progress_at: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        """Raise Stalled when the pipeline has been stopped on a failure for `grace` seconds."""
        runs = runs_since(self.dagster_home, self.since)
        finished = sum(r.status in FINISHED for r in runs)
        if finished != self._finished_seen:
            self._finished_seen, self._progress_at = finished, time.monotonic()
        stopped_on_failure = (
            bool(runs) and finished == len(runs) and any(r.status == "FAILURE" for r in runs)
        )
        if not stopped_on_failure:
            self._quiet_since = None
        elif self._quiet_since is None or len(runs) != self._runs_seen:
            self._quiet_since = time.monotonic()  # the quiet period starts (again) now
        self._runs_seen = len(runs)
        if self._quiet_since is not None and time.monotonic() - self._quiet_since >= self.grace:
            raise Stalled(
                f"the pipeline stopped on a failed run and requested nothing for "
                f"{self.grace:.0f} s\n{describe_runs(self.dagster_home, self.since)}"
            )

    def seconds_without_progress(self) -> float:
        """Seconds since a run finished (or since watching began, before any has)."""
        return time.monotonic() - self._progress_at


# A phase that keeps finishing runs may take this many times its idle timeout in all.
PROGRESS_ALLOWANCE = 3.0


def wait_for_snapshot(
    stack: Stack,
    what: str,
    probe: Callable[[], T | None],
    idle_timeout: float,
    *,
    since: float,
    last_seen: Callable[[], object] = lambda: None,
) -> T:
    """Poll `probe` until it returns a value; fail early if the pipeline stalls on a failure.

    `since` (epoch seconds) is when this phase's input arrived: runs before it are history.
    The wait fails when no run has finished for `idle_timeout` seconds, or after
    `PROGRESS_ALLOWANCE` times that in all: on a loaded machine each run takes longer, and a
    fixed deadline would fail a pipeline that is working.
    """
    watch = StallWatch(stack.settings.dagster_home, since)

    def describe() -> str:
        return f"last seen: {last_seen()}\n{stack.diagnostics(since)}"

    def check() -> T | None:
        stack.check_alive()
        value = probe()
        if value is None:
            watch.check()
            if (idle := watch.seconds_without_progress()) >= idle_timeout:
                raise Timeout(f"no run finished for {idle:.0f} s waiting for {what}\n{describe()}")
        return value

    return wait_for(what, check, idle_timeout * PROGRESS_ALLOWANCE, interval=3.0, describe=describe)


# --- inputs -----------------------------------------------------------------------------------


def drop_file(source: Path, target: Path) -> None:
    """Put a copy of `source` at `target` the way a download does: written as `.part`, then
    renamed, so the landing scan never sees half a file. The modification time is kept."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copy2(source, partial)
    partial.rename(target)


def settle(folder: Path, seconds_ago: int = 60) -> None:
    """Date every file under `folder` back, so the landing scan sees them as finished."""
    past = time.time_ns() - seconds_ago * 10**9
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(past, past))


@dataclass(frozen=True)
class CommandResult:
    """A finished command: exit code and its combined output."""

    returncode: int
    output: str


def run_command(
    argv: list[str], env: Mapping[str, str], timeout: float, log: Path
) -> CommandResult:
    """Run `argv` to completion in its own process group, killing the group on timeout."""
    process = start_process(log.stem, argv, env, log.parent)
    try:
        process.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        command = " ".join(argv)
        raise Timeout(f"{command} ran longer than {timeout:.0f} s\n{process.tail()}") from exc
    finally:
        stop_process(process)  # on timeout the command; otherwise any stray children it left
    return CommandResult(process.popen.returncode, process.log.read_text(errors="replace"))


# --- expectations -----------------------------------------------------------------------------

PaymentTotals = dict[tuple[str, str], tuple[int, Decimal]]  # (currency, type) -> (count, sum)


def _cents(value: Mapping[str, Any]) -> Decimal:
    """A webhook amount in major units: `amount_gross`, else `amount` (integer cents)."""
    return Decimal(int(value.get("amount_gross") or value["amount"])) / 100


def webhook_payment_totals(records: list[dict[str, Any]]) -> PaymentTotals:
    """What fct_payments must hold when the webhooks are the only source, computed from the
    sidecar's log by the payment rules of docs/interfaces.md ("Semantics"): live deliveries
    only; a charge per item of `order.success`, a rebill per `order.subscription_payment`, a
    refund (negative) per `order.refund`; tax included."""
    totals: PaymentTotals = {}

    def add(currency: str, kind: str, amount: Decimal) -> None:
        count, total = totals.get((currency, kind), (0, Decimal(0)))
        totals[(currency, kind)] = (count + 1, total + amount)

    for record in records:
        if record["mode"] != "live":
            continue
        payload = record["payload"]
        currency = payload["currency"]
        if record["event"] == "order.success":
            for charge in payload["order"]["charges"]:
                add(currency, "charge", _cents(charge))
        elif record["event"] == "order.subscription_payment":
            add(currency, "rebill", _cents(payload["subscription"]))
        elif record["event"] == "order.refund":
            add(currency, "refund", -_cents(payload["refund"]))
    return totals


def snapshot_payment_totals(snapshot: Path) -> PaymentTotals | None:
    """fct_payments of the snapshot as (currency, payment_type) -> (count, sum of amount)."""
    rows = query_snapshot(
        snapshot,
        "select currency, payment_type, count(*), sum(amount) from fct_payments group by all",
    )
    if rows is None:
        return None
    return {(currency, kind): (count, Decimal(total)) for currency, kind, count, total in rows}
