"""Incremental builds give what a full build gives, whatever order the data arrives in.

Each seed's generated seller reaches a pipeline piece by piece, in a random order and random
batch sizes: the exports and the webhook days interleaved, some days first as their early
lines and later whole (a day still being written when a build ran), some files loaded twice.
A build follows every batch. The marts must then equal, row for row, a `--full-refresh` build
of the same raw tables, and both the generator's truth.json to the cent; and the snapshot,
published after most builds (patched when the previous build was published), must equal the
marts. Forgetting a file and changing a setting (which rebuild everything through the
incremental path) must keep that.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from test_dbt_support import (
    MARTS,
    aggregate_mismatches,
    customer_mismatches,
    generate_and_replay,
    load_landing,
    marts_differences,
    run_dbt,
    settings_for,
)

from pipeline.ingest.csv_load import ExportFile
from pipeline.ingest.forget import forget
from pipeline.ingest.input_formats import input_folder
from pipeline.ingest.input_load import load_landing_file
from pipeline.ingest.landing import pending_files
from pipeline.publish import publish_snapshot
from pipeline.settings import Settings
from pipeline.warehouse import connect

SEEDS = (31, 32, 33)
CUSTOMERS = 60
BUILD = ("build", "--exclude", "resource_type:unit_test")


@dataclass(frozen=True)
class Arrival:
    """One piece of the seller reaching the landing folder: a file, or a day's first lines."""

    source: Path
    target: Path
    first_lines: int | None = None

    def land(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        if self.first_lines is None:
            shutil.copyfile(self.source, self.target)
        else:
            lines = self.source.read_bytes().splitlines(keepends=True)
            self.target.write_bytes(b"".join(lines[: self.first_lines]))


def _arrival(path: Path, generated: Settings, landing: Settings) -> Arrival:
    return Arrival(path, landing.landing_dir / path.relative_to(generated.landing_dir))


def _is_rules(path: Path, generated: Settings) -> bool:
    """A cost or rate file: new, it rebuilds everything (docs/incremental.md)."""
    return input_folder(path.relative_to(generated.landing_dir).as_posix()) in ("costs", "fx_rates")


def arrivals(
    generated: Settings, landing: Settings, rng: random.Random
) -> tuple[list[Arrival], list[Arrival]]:
    """The cost and rate files, which a seller sets up first, and every export, ad spend file
    and webhook day in a random order; about a third of the days arrive in two parts,
    their first lines somewhere before the whole day."""
    files = sorted(generated.landing_dir.rglob("*.csv"))
    rules = [_arrival(path, generated, landing) for path in files if _is_rules(path, generated)]
    pieces = [
        _arrival(path, generated, landing) for path in files if not _is_rules(path, generated)
    ]
    pieces += [
        Arrival(path, landing.webhooks_dir / path.name)
        for path in sorted(generated.webhooks_dir.glob("*.jsonl"))
    ]
    rng.shuffle(pieces)
    ordered: list[Arrival] = []
    for piece in pieces:
        lines = len(piece.source.read_bytes().splitlines())
        if piece.source.suffix == ".jsonl" and lines > 1 and rng.random() < 0.35:
            early = Arrival(piece.source, piece.target, first_lines=rng.randrange(1, lines))
            ordered.insert(rng.randrange(len(ordered) + 1), early)
        ordered.append(piece)
    return rules, ordered


def batches(pieces: list[Arrival], rng: random.Random, count: int = 6) -> list[list[Arrival]]:
    """The pieces in `count` consecutive batches of random sizes."""
    cuts = sorted(rng.sample(range(1, len(pieces)), count - 1))
    return [pieces[a:b] for a, b in zip([0, *cuts], [*cuts, len(pieces)], strict=True)]


def reload_one_file(settings: Settings, rng: random.Random) -> None:
    """Load one already loaded export again, as a re-materialized partition does."""
    files = [
        pending
        for pending in pending_files(settings.landing_dir, set(), 10**18 * 9)
        if input_folder(pending.file.rel_path) is None
    ]
    if not files:
        return
    pending = rng.choice(files)
    con = connect(settings.warehouse)
    try:
        file = ExportFile(pending.file.path, pending.file.rel_path, pending.sha256)
        load_landing_file(con, file, pending.export, datetime.now(UTC).replace(tzinfo=None))
    finally:
        con.close()


def rebuilt_everything(settings: Settings) -> bool:
    """Whether the last build recomputed everything rather than the changed orders."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute("select rebuild_all from intermediate.int_build_scope").fetchone()[0]


def snapshot_differences(settings: Settings) -> dict[str, tuple[int, int]]:
    """Per mart, rows only in the warehouse and rows only in the published snapshot."""
    differences = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
        con.execute(f"attach '{settings.marts_snapshot}' as snap (read_only)")
        for mart in MARTS:
            one, other = f"wh.marts.{mart}", f"snap.main.{mart}"
            counts = tuple(
                con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
                for a, b in (
                    (f"select * from {one}", f"select * from {other}"),
                    (f"select * from {other}", f"select * from {one}"),
                )
            )
            if any(counts):
                differences[mart] = counts
    return differences


def full_refresh_differences(settings: Settings, root: Path, **env: str) -> dict:
    """The marts of `settings`' warehouse against a --full-refresh build of a copy of it."""
    full = settings_for(root, LTV_WAREHOUSE=str(root / "full" / "ltv.duckdb"), **env)
    full.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.warehouse, full.warehouse)
    run_dbt(full, *BUILD, "--full-refresh")
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.warehouse}' as incremental (read_only)")
        con.execute(f"attach '{full.warehouse}' as full_build (read_only)")
        return marts_differences(con, "incremental", "full_build")


@pytest.mark.parametrize("seed", SEEDS)
def test_incremental_builds_equal_a_full_build_and_the_truth(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    generated = settings_for(tmp_path / "generated")
    truth = generate_and_replay(generated, customers=CUSTOMERS, seed=seed)
    settings = settings_for(tmp_path / "pipeline")

    incremental_builds, patches, published_last = 0, 0, False
    rules, ordered = arrivals(generated, settings, rng)
    pieces = batches(ordered, rng)
    pieces[0] = rules + pieces[0]
    unpublished = rng.randrange(1, len(pieces) - 1)  # the next publish must copy everything
    for number, batch in enumerate(pieces):
        for piece in batch:
            piece.land()
        load_landing(settings)
        if rng.random() < 0.2:
            reload_one_file(settings, rng)
        run_dbt(settings, *BUILD)
        incremental = not rebuilt_everything(settings)
        incremental_builds += incremental
        publish = number != unpublished
        if publish:
            patched = publish_snapshot(settings).patched
            assert patched == (published_last and incremental)
            patches += patched
            assert snapshot_differences(settings) == {}
        published_last = publish
    assert incremental_builds >= 4, "the arrivals should take several incremental builds"
    assert patches >= 1, "some publishes should patch the previous snapshot"

    assert full_refresh_differences(settings, tmp_path / "check") == {}
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert customer_mismatches(con, truth) == []
        assert aggregate_mismatches(con, truth) == []


def test_forgetting_a_file_and_new_settings_rebuild_everything(tmp_path: Path) -> None:
    generated = settings_for(tmp_path / "generated")
    generate_and_replay(generated, customers=CUSTOMERS, seed=SEEDS[0])
    settings = settings_for(tmp_path / "pipeline")
    shutil.copytree(generated.landing_dir, settings.landing_dir)
    load_landing(settings)
    run_dbt(settings, *BUILD)

    con = connect(settings.warehouse)
    try:
        older = con.execute(
            "select sha256 from raw.landing_files where export = 'transactions' "
            "order by path limit 1"
        ).fetchone()[0]
        assert forget(con, older) > 0
    finally:
        con.close()
    run_dbt(settings, *BUILD)
    assert full_refresh_differences(settings, tmp_path / "after-forget") == {}

    berlin = settings_for(tmp_path / "pipeline", LTV_TIMEZONE="Europe/Berlin")
    run_dbt(berlin, *BUILD)
    differences = full_refresh_differences(
        berlin, tmp_path / "after-timezone", LTV_TIMEZONE="Europe/Berlin"
    )
    assert differences == {}
