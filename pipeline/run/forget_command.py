"""`ltv forget`: remove a loaded export's rows from the warehouse without touching SQL."""

from __future__ import annotations

import click

from pipeline.ingest.forget import NotLoaded, forget_files, loaded_files
from pipeline.run.lock import RunLocked, lock_path, run_lock
from pipeline.settings import Settings, SettingsError, account_pipeline, load_settings
from pipeline.warehouse import WarehouseBusy, connect, ensure_raw_schema

EXIT_REFUSED = 2


@click.command()
@click.argument("files", nargs=-1)
@click.option("--list", "show", is_flag=True, help="List the loaded files and stop.")
@click.option("--account", help="With LTV_ACCOUNTS: the account whose files these are.")
def forget(files: tuple[str, ...], show: bool, account: str | None) -> None:
    """Remove loaded FILES (paths in the landing folder, or SHA-256 prefixes) from raw.

    A named file still in the landing folder moves to landing/rejected/ with a note, so it is
    not loaded again; drop it in again to reload it. The marts leave it out from the next
    build. Deleting a file from the landing folder does the same at the next run.
    """
    if not show and not files:
        raise click.UsageError("name the files to forget, or use --list")
    try:
        settings = account_pipeline(load_settings(), account)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        with run_lock(lock_path(settings.warehouse)):
            if show:
                _list(settings)
            else:
                _forget(settings, list(files))
    except (RunLocked, WarehouseBusy, NotLoaded) as exc:
        click.echo(f"ltv forget: {exc}", err=True)
        raise SystemExit(EXIT_REFUSED) from None


def _list(settings: Settings) -> None:
    with connect(settings.warehouse, memory_limit=settings.memory_limit) as con:
        ensure_raw_schema(con)
        loaded = loaded_files(con)
    for file in loaded:
        click.echo(
            f"{file.sha256[:12]}  {file.loaded_at:%Y-%m-%d %H:%M}  {file.rows:>9,}  {file.path}"
        )
    click.echo(f"{len(loaded)} loaded file(s)")


def _forget(settings: Settings, targets: list[str]) -> None:
    from pipeline.defs.ingest.forget import record_forgotten
    from pipeline.instance import dagster_instance
    from pipeline.run.driver import defs_of

    with connect(settings.warehouse, memory_limit=settings.memory_limit) as con:
        ensure_raw_schema(con)
        forgotten = forget_files(con, settings.landing_dir, settings.rejected_dir, targets)
    record_forgotten(defs_of(settings).ingest, dagster_instance(settings), forgotten)
    for file in forgotten:
        click.echo(f"forgotten: {file.path} ({file.rows:,} rows removed from raw)")
    click.echo("the marts leave them out from the next build (ltv run, or automatically)")
