"""`ltv demo-data`: write a synthetic ThriveCart seller into a landing-shaped folder."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from pipeline.demo.generate import DemoOutputError, generate_seller
from pipeline.demo.timeline import DEFAULT_END
from pipeline.settings import SettingsError, _check_timezone, load_settings


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return _check_timezone("--csv-timezone", value)
    except SettingsError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command("demo-data")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to fill, shaped like a landing folder. Default: the configured LTV_LANDING_DIR.",
)
@click.option("--customers", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same bytes.")
@click.option("--account", default="demo-seller", show_default=True, help="ThriveCart account.")
@click.option("--secret", default="demo-secret", show_default=True, help="Its secret word.")
@click.option(
    "--csv-timezone",
    default="UTC",
    show_default=True,
    callback=_timezone,
    help="Clock of the exports' dates; load them with the same LTV_CSV_TIMEZONE.",
)
@click.option(
    "--second-currency/--single-currency",
    default=True,
    show_default=True,
    help="Also sell a euro catalogue to part of the customers.",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]),
    default=DEFAULT_END.strftime("%Y-%m-%dT%H:%M:%S"),
    show_default=True,
    help="The simulated 'now' (UTC): history covers the ~18 months before it.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(os.cpu_count() or 1, 4),
    show_default="CPU count, at most 4",
    help="Processes; the output does not depend on it.",
)
def demo_data(
    out: Path | None,
    customers: int,
    seed: int,
    account: str,
    secret: str,
    csv_timezone: str,
    second_currency: bool,
    end: datetime,
    workers: int,
) -> None:
    """Write a synthetic ThriveCart seller: two overlapping Transactions exports, the
    Subscriptions exports, the webhook deliveries (_demo/deliveries.jsonl) and the expected
    results (_demo/truth.json).

    About 4 latest-export transaction rows and 1.5 webhook deliveries per customer.
    """
    target = out if out is not None else load_settings().landing_dir
    try:
        summary = generate_seller(
            target,
            customers,
            seed,
            account=account,
            secret=secret,
            csv_timezone=csv_timezone,
            second_currency=second_currency,
            end=end,
            workers=workers,
            progress=lambda line: click.echo(line, err=True),
        )
    except DemoOutputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.line())
