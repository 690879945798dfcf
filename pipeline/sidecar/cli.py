"""`ltv webhooks serve` and `ltv webhooks replay`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from pipeline.settings import Settings, SettingsError, load_settings, parse_secrets
from pipeline.sidecar.app import NO_SECRET_MESSAGE, WEBHOOK_PATH, create_app
from pipeline.sidecar.replay import (
    Progress,
    ReplayError,
    ReplaySummary,
    replay_to_log,
    replay_to_url,
)
from pipeline.sidecar.server import ServerStartError, configure_logging, serve
from pipeline.webhook_log import GroupCommitLog, LogLockedError, SegmentAppender


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def webhooks() -> None:
    """ThriveCart webhooks: run the receiver, or replay recorded deliveries."""


@webhooks.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; 0.0.0.0 for every interface.",
)
@click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535))
def serve_command(host: str, port: int) -> None:
    """Receive ThriveCart webhooks at http://HOST:PORT/webhooks/thrivecart.

    Every accepted delivery is fsync'd to LTV_LANDING_DIR/webhooks/ (with LTV_ACCOUNTS, to
    LTV_LANDING_DIR/<account>/webhooks/) before ThriveCart gets its 2xx. Also serves /healthz
    and /metrics (Prometheus).
    """
    settings = _settings()
    if not settings.secrets:
        raise click.ClickException(NO_SECRET_MESSAGE)
    pipelines = settings.pipelines()
    with contextlib.ExitStack() as stack:
        logs = {p.account: GroupCommitLog(_open_log(stack, p.webhooks_dir)) for p in pipelines}
        configure_logging()
        app = create_app(settings.secrets, logs)
        where = ", ".join(str(p.webhooks_dir) for p in pipelines)
        click.echo(f"Webhook URL: http://{host}:{port}{WEBHOOK_PATH}; log: {where}", err=True)
        try:
            serve(app, host, port)
        except ServerStartError as exc:
            raise click.ClickException(str(exc)) from exc


def _open_log(stack: contextlib.ExitStack, log_dir: Path) -> SegmentAppender:
    """The appender of one log folder, held open (and locked) until the server stops."""
    try:
        return stack.enter_context(SegmentAppender(log_dir))
    except LogLockedError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write the webhook log in {log_dir}: {exc}") from exc


def _progress_printer() -> Progress:
    """Print about ten progress lines per replay, to stderr."""

    def report(done: int, total: int) -> None:
        if done == total or done % max(total // 10, 1) == 0:
            click.echo(f"replayed {done}/{total}", err=True)

    return report


@webhooks.command("replay")
@click.argument("deliveries", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="POST each delivery to this running sidecar's webhook URL.")
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instead, write the records straight into this log dir, dated by each sent_at.",
)
@click.option(
    "--secret",
    help="With --log-dir: secret word(s) to accept, as in THRIVECART_SECRET (default: that).",
)
def replay_command(
    deliveries: Path, url: str | None, log_dir: Path | None, secret: str | None
) -> None:
    """Replay DELIVERIES (a deliveries.jsonl from `ltv demo-data`).

    Exits non-zero when any delivery was refused.
    """
    if (url is None) == (log_dir is None):
        raise click.UsageError("give exactly one of --url or --log-dir")
    try:
        summary = _replay(deliveries, url, log_dir, secret)
    except (ReplayError, LogLockedError, SettingsError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.describe())
    refused = sum(summary.refused.values())
    if refused:
        raise click.ClickException(f"{refused} of {summary.sent} deliveries were refused")


def _replay(
    deliveries: Path, url: str | None, log_dir: Path | None, secret: str | None
) -> ReplaySummary:
    if url is not None:
        return replay_to_url(deliveries, url, progress=_progress_printer())
    assert log_dir is not None
    secrets = parse_secrets(secret) if secret else _settings().secrets
    if not secrets:
        raise click.ClickException(NO_SECRET_MESSAGE)
    return replay_to_log(deliveries, log_dir, secrets, progress=_progress_printer())
