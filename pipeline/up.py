"""`ltv up`: what `make run` starts. Sidecar, Dagster webserver and daemon, demo data.

Runs the three long-lived processes side by side, prints where to find everything, and stops
them all cleanly on Ctrl-C or as soon as one of them dies (a half-running pipeline would
acknowledge webhooks nobody loads, or load files nobody sees).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from pipeline.dbt_docs import default_docs_path
from pipeline.instance import prepare_dagster_home
from pipeline.report.build import default_report_path
from pipeline.settings import (
    PROJECT_ROOT,
    Settings,
    SettingsError,
    load_settings,
)

LANDING_KEEP = {"README.md", ".gitkeep"}
STOP_GRACE_SECONDS = 15


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None


def ensure_secret(env_file: Path = PROJECT_ROOT / ".env") -> str | None:
    """Create and keep a random secret word in `.env` when none is configured.

    Returns the new secret, or None when one was already set. The sidecar refuses to start
    without a secret; a first `make run` should still just work.
    """
    if load_settings().secrets:
        return None
    secret = secrets.token_urlsafe(18)
    existing = env_file.read_text() if env_file.exists() else ""
    lines = [line for line in existing.splitlines() if not line.startswith("THRIVECART_SECRET=")]
    lines.append(f"THRIVECART_SECRET={secret}")
    env_file.write_text("\n".join(lines) + "\n")
    return secret


def demo_account(settings: Settings) -> tuple[str, str]:
    """The (account, secret word) the demo seller's deliveries carry, so the sidecar takes them."""
    if "*" in settings.secrets:
        return "demo-seller", settings.secrets["*"]
    return next(iter(settings.secrets.items()))


def landing_is_empty(landing: Path) -> bool:
    """True when the landing folder holds nothing a user put there."""
    if not landing.exists():
        return True
    return all(p.name in LANDING_KEEP for p in landing.iterdir())


def wait_until_healthy(url: str, timeout: float = 60.0) -> None:
    """Poll the sidecar's /healthz until it answers, for at most `timeout` seconds."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2.0).is_success:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"the webhook sidecar did not answer at {url}")
        time.sleep(0.3)


def deliver_demo_webhooks(settings: Settings, base_url: str) -> None:
    """Send the demo seller's deliveries through the running sidecar, as ThriveCart would."""
    from pipeline.sidecar.replay import replay_to_url

    wait_until_healthy(f"{base_url}/healthz")
    deliveries = settings.landing_dir / "_demo" / "deliveries.jsonl"
    summary = replay_to_url(deliveries, f"{base_url}/webhooks/thrivecart")
    click.echo(f"ltv up: demo webhooks through the sidecar: {summary.describe()}")


def create_instance_storage(settings: Settings) -> None:
    """Create the instance's SQLite databases before the daemon and webserver start.

    On a fresh DAGSTER_HOME each of them (and each one's code server) would create and stamp
    the databases at the same moment, and one loses the race with "Version table
    'alembic_version' has more than one head present" (dagster #27390): the webserver then
    shows the code location as failed. Opening the instance once, first, creates them.
    """
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)):
        pass


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so `ltv up` stopped by a service manager or a
    `kill` stops its children as Ctrl-C does, instead of leaving them running orphaned."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def start(children: list[Child], env: dict[str, str]) -> None:
    """Start each child as the leader of its own process group.

    Ctrl-C then reaches `ltv up` alone, which stops the children itself: when the terminal
    signalled them too, a child that exited first was reported as having died, and `ltv up`
    ended with an error. The group also holds each child's own subprocesses (Dagster's run
    workers and code servers, dbt), so stopping a group leaves none of them behind.
    """
    for child in children:
        child.process = subprocess.Popen(child.argv, env=env, cwd=PROJECT_ROOT, process_group=0)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, sig)


def stop(children: list[Child]) -> None:
    """SIGTERM every child's process group, wait up to the grace period, then SIGKILL what is
    left of each group (a child that outlived it, or a run worker its parent left behind)."""
    started = [c for c in children if c.process]
    for child in started:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for child in started:
        _signal_group(child, signal.SIGKILL)
        child.process.wait()


def supervise(children: list[Child]) -> int:
    """Wait until a child exits (or Ctrl-C), then stop the rest; return the exit code."""
    try:
        while True:
            for child in children:
                code = child.process.poll() if child.process else None
                if code is not None:
                    click.echo(f"ltv up: {child.name} exited with code {code}; stopping.", err=True)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("\nltv up: stopping...", err=True)
        return 0
    finally:
        stop(children)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--ui-port", default=3000, show_default=True, help="Dagster UI port.")
@click.option("--webhook-port", default=8787, show_default=True, help="Webhook sidecar port.")
@click.option(
    "--demo-customers",
    default=400,
    show_default=True,
    help="Size of the demo seller written when the landing folder is empty.",
)
def up(host: str, ui_port: int, webhook_port: int, demo_customers: int) -> None:
    """Run everything: webhook sidecar, Dagster UI and daemon (what `make run` does).

    Seeds a demo seller when the landing folder is empty. Ctrl-C stops everything.
    """
    created = ensure_secret()
    if created:
        click.echo("ltv up: no THRIVECART_SECRET was set; created one and saved it in .env.")
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    prepare_dagster_home(settings)
    create_instance_storage(settings)
    for pipeline in settings.pipelines():
        pipeline.landing_dir.mkdir(parents=True, exist_ok=True)
    # A first look at the product; a seller with several accounts brings their own data.
    seeded = not settings.accounts and landing_is_empty(settings.landing_dir)
    if seeded:
        from pipeline.demo import generate_seller

        click.echo("ltv up: landing folder is empty; writing a demo seller into it.")
        account, secret = demo_account(settings)
        generate_seller(
            settings.landing_dir, demo_customers, seed=1, account=account, secret=secret
        )

    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)}
    bin_dir = Path(sys.executable).parent
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    children = [
        Child(
            "webhook sidecar",
            [
                str(bin_dir / "ltv"),
                "webhooks",
                "serve",
                "--host",
                host,
                "--port",
                str(webhook_port),
            ],
        ),
        Child("dagster daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", workspace]),
        Child(
            "dagster webserver",
            [str(bin_dir / "dagster-webserver"), "-h", host, "-p", str(ui_port), "-w", workspace],
        ),
    ]
    raise_on_sigterm()
    try:
        start(children, env)
    except BaseException:
        stop(children)
        raise
    click.echo(
        f"\n  Dagster UI:   http://{host}:{ui_port}\n"
        f"  Webhook URL:  http://{host}:{webhook_port}/webhooks/thrivecart"
        "  (ThriveCart > Settings > API & Webhooks)\n"
        f"  Landing:      {settings.landing_dir}\n"
        f"  Warehouse:    {settings.warehouse}\n"
        f"  Marts:        {settings.marts_snapshot}  (read-only DuckDB, republished per build)\n"
        f"  LTV report:   {default_report_path(settings)}\n"
        f"  dbt docs:     {default_docs_path(settings)}\n"
        "  Ctrl-C stops everything.\n"
    )
    if seeded:
        try:
            deliver_demo_webhooks(settings, f"http://{host}:{webhook_port}")
        except KeyboardInterrupt:
            stop(children)
            raise
        except Exception as exc:  # e.g. the sidecar died mid-way: stop everything, say why
            stop(children)
            raise click.ClickException(f"demo webhooks could not be delivered: {exc}") from exc
    sys.exit(supervise(children))
