"""`ltv report`: write the HTML LTV report of the published marts snapshot."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.report.build import write_report
from pipeline.report.formatting import when
from pipeline.report.marts import ReportError
from pipeline.settings import SettingsError, account_pipeline, load_settings


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="HTML file to write. [default: ltv_report.html beside LTV_MARTS_SNAPSHOT]",
)
@click.option("--account", help="With LTV_ACCOUNTS: the account whose report to write.")
def report(out: Path | None, account: str | None) -> None:
    """Write the LTV report: one HTML file that works offline.

    Built from the published marts snapshot (LTV_MARTS_SNAPSHOT), so it never waits for the
    pipeline; run `ltv run` first to build and publish the marts.
    """
    try:
        settings = account_pipeline(load_settings(), account)
        result = write_report(settings, out)
    except (ReportError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from exc
    currencies = ", ".join(result.currencies) or "no currencies yet"
    click.echo(f"Wrote {result.path} ({currencies}; data as of {when(result.as_of)}).")
