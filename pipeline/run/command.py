"""The `ltv run` command: progress on stderr, the summary on stdout, exit codes for scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import click

from pipeline.ingest.landing import WRITE_WAIT_SECONDS, outside_accounts
from pipeline.run.lock import RunLocked, lock_path, run_lock
from pipeline.run.summary import RunSummary
from pipeline.settings import Settings, SettingsError, account_pipeline, load_settings
from pipeline.warehouse import WarehouseBusy

if TYPE_CHECKING:
    import dagster as dg

# Exit codes: 0 all loaded and published, 1 something failed or was not loaded (the marts are
# still built from what did load), 2 nothing was done (another run holds the warehouse).
EXIT_FAILED, EXIT_REFUSED = 1, 2


def _progress(line: str) -> None:
    click.echo(f"ltv run: {line}", err=True)


@click.command()
@click.option(
    "--wait-for-writes",
    "write_wait",
    type=click.FloatRange(min=0),
    default=WRITE_WAIT_SECONDS,
    show_default=True,
    help="Seconds to wait for files still being written before leaving them for the next run.",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild every model from the raw tables instead of only what the new data changed "
    "(done by itself after the dbt project changed; the marts come out the same).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="With LTV_ACCOUNTS: run only this account's pipeline (repeat for several). Default: "
    "every account, one after the other.",
)
def run(write_wait: float, full_refresh: bool, accounts: tuple[str, ...]) -> None:
    """Load everything pending, build the models, publish the marts and the report.

    Files still being written are waited for (see --wait-for-writes), then loaded. The build
    recomputes only the orders and customers the newly loaded data touches, unless
    --full-refresh says otherwise. Exits 1
    when anything failed or was left unloaded (a rejected file, a failed dbt test); the marts
    are still built and published from everything that did load. Exits 2 at once when another
    `ltv run` is running on the same warehouse. With LTV_ACCOUNTS every account's pipeline runs
    in turn, each on its own folder and warehouse: one account's failure never stops the next,
    and the exit code is the worst of theirs.
    """
    try:
        settings = load_settings()
        pipelines = _pipelines(settings, accounts)
    except SettingsError as exc:
        click.echo(f"ltv run: {exc}", err=True)
        raise SystemExit(EXIT_REFUSED) from None
    open_instance = _instance_opener(settings)
    codes = [_misplaced_files(settings)]
    codes += [_run_locked(p, open_instance, write_wait, full_refresh) for p in pipelines]
    raise SystemExit(max(codes))


def _instance_opener(settings: Settings) -> Callable[[], dg.DagsterInstance]:
    """Opens the Dagster instance every account shares, at its first use and only once (a run
    refused at once never imports Dagster)."""

    @cache
    def open_instance() -> dg.DagsterInstance:
        from pipeline.instance import dagster_instance

        return dagster_instance(settings)

    return open_instance


def _pipelines(settings: Settings, accounts: tuple[str, ...]) -> list[Settings]:
    """The pipelines to run: every one, or those of the accounts asked for."""
    return [account_pipeline(settings, a) for a in accounts] or settings.pipelines()


def _misplaced_files(settings: Settings) -> int:
    """With LTV_ACCOUNTS, files outside every account's folder load nowhere: say so, and
    fail the run (exit 1) until they are moved."""
    if not settings.accounts:
        return 0
    misplaced = outside_accounts(settings.landing_dir, settings.accounts)
    for path in misplaced:
        click.echo(
            f"not loaded: {path} is in no account's folder; move it into "
            f"{settings.landing_dir}/<account>/ (LTV_ACCOUNTS: {', '.join(settings.accounts)})"
        )
    return EXIT_FAILED if misplaced else 0


def _run_locked(
    settings: Settings,
    open_instance: Callable[[], dg.DagsterInstance],
    write_wait: float,
    full_refresh: bool,
) -> int:
    """One pipeline's run under its warehouse's lock; its exit code."""
    if settings.account:
        _progress(f"account {settings.account}")
        click.echo(f"account {settings.account}:")
    try:
        with run_lock(lock_path(settings.warehouse)):
            summary = _run(settings, open_instance, write_wait, full_refresh)
    except RunLocked as exc:
        click.echo(f"ltv run: {exc}", err=True)
        return EXIT_REFUSED
    return EXIT_FAILED if summary.failed else 0


def _run(
    settings: Settings,
    open_instance: Callable[[], dg.DagsterInstance],
    write_wait: float,
    full_refresh: bool,
) -> RunSummary:
    """Load, build and publish under the run lock; Dagster is imported only now (slow)."""
    from pipeline.run.driver import build_and_publish, built_inputs, ingest, read_totals
    from pipeline.run.unchanged import forget_record, record_build

    started = time.monotonic()
    summary = RunSummary()
    try:
        instance = open_instance()
        _progress("[1/2] loading landing files and the webhook log ...")
        ingest(instance, settings, summary, echo=_progress, write_wait=write_wait)
        inputs, unchanged = built_inputs(settings, on_wait=_progress)
        if unchanged and not full_refresh:
            _progress(f"[2/2] nothing new since build {unchanged}: its marts stay published")
            read_totals(settings, summary)
            click.echo(f"marts unchanged in {settings.marts_snapshot}")
        else:
            _progress("[2/2] building the marts (dbt), forecasting and publishing them ...")
            forget_record(settings)
            if build_and_publish(instance, settings, summary, full_refresh):
                read_totals(settings, summary)
                record_build(settings, inputs)
                click.echo(f"marts published to {settings.marts_snapshot}")
    except WarehouseBusy as exc:
        summary.failures.append(str(exc))
    for line in summary.lines(time.monotonic() - started):
        click.echo(line)
    return summary
