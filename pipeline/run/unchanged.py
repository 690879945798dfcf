"""Whether `ltv run` has anything to build: a run with nothing new publishes nothing new.

The marts are a function of the raw tables, the settings and the code: their clock (`as_of`)
is the latest event in the data, never the wall clock. So when the load ledger, the settings
and the code are those of the last `ltv run` that built and published, and that run's build is
still the one in the warehouse and in the snapshot, a build would write the same rows again
(~30 s of dbt, forecast and publishing even for a small seller). A build by the Dagster daemon
in between has another build id, so its marts are never taken for this run's.

Every doubt rebuilds: a missing or unreadable record, snapshot or report, a ledger row loaded
again, a setting or a source file changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import duckdb

import pipeline
from pipeline.dbt_state import project_fingerprint
from pipeline.files import write_atomically
from pipeline.report.build import default_report_path
from pipeline.settings import Settings
from pipeline.snapshot_patch import snapshot_build
from pipeline.warehouse import LANDING_FILES_TABLE, WEBHOOK_SEGMENTS_TABLE

# The packages whose upgrade can change a mart's rows without a change in this repository.
_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "scipy")
# The load ledger: which files and webhook log bytes raw holds, and when each was loaded.
_LEDGER_QUERIES = tuple(
    f"select * from {table} order by all" for table in (LANDING_FILES_TABLE, WEBHOOK_SEGMENTS_TABLE)
)


@dataclass(frozen=True)
class BuiltFrom:
    """What the last complete `ltv run` build was made from, and the build it made."""

    inputs: str
    build_id: str


def record_path(settings: Settings) -> Path:
    """Beside the warehouse: a new or replaced warehouse file has no matching build id."""
    return settings.warehouse.with_name(settings.warehouse.name + ".last-run.json")


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """SHA-256 of the load ledger, the settings, the dbt project, the pipeline's source and
    the versions of the packages that compute the marts."""
    digest = hashlib.sha256()
    for query in _LEDGER_QUERIES:
        for row in con.execute(query).fetchall():
            digest.update(repr(row).encode() + b"\n")
    digest.update(json.dumps(asdict(settings), default=str, sort_keys=True).encode())
    digest.update(project_fingerprint().encode())
    for name in _PACKAGES:
        digest.update(f"{name}=={version(name)}".encode())
    source = Path(pipeline.__file__).parent
    for path in sorted(source.rglob("*.py")):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def built_build_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The build id of the marts in the warehouse (None before the first build)."""
    try:
        row = con.execute("select build_id from marts.mart_metadata").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def published_build_id(snapshot: Path) -> str | None:
    """The build id of the published snapshot (None when it is missing or unreadable)."""
    if not snapshot.is_file():
        return None
    with duckdb.connect() as con:
        return snapshot_build(con, snapshot)[0]


def read_record(settings: Settings) -> BuiltFrom | None:
    try:
        return BuiltFrom(**json.loads(record_path(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def record_build(settings: Settings, inputs: str) -> None:
    """After a complete build and publish: the published build was made from `inputs`.

    The snapshot's build id is read back, so a daemon build published in between is recorded
    with inputs it may not have had: the ledger then differs, and the next run builds.
    """
    build_id = published_build_id(settings.marts_snapshot)
    if build_id is not None:
        record = json.dumps(asdict(BuiltFrom(inputs, build_id)))
        write_atomically(record_path(settings), record.encode())


def forget_record(settings: Settings) -> None:
    """Before a build: if it fails halfway, the next run must not trust the old record."""
    record_path(settings).unlink(missing_ok=True)


def unchanged_build(con: duckdb.DuckDBPyConnection, settings: Settings, inputs: str) -> str | None:
    """The build id of the published marts when they were built from `inputs` by the last
    `ltv run` and nothing has been built or published since; else None (build)."""
    record = read_record(settings)
    if record is None or record.inputs != inputs or built_build_id(con) != record.build_id:
        return None
    if published_build_id(settings.marts_snapshot) != record.build_id:
        return None
    return record.build_id if default_report_path(settings).is_file() else None
