"""Load one export file into its raw table, with DuckDB's own parallel CSV reader.

One file is one unit of work: its old rows (if it was loaded before) are deleted and its rows
inserted in one transaction, with the ledger entry, so re-running a partition changes nothing
and a failure leaves nothing half-loaded. The header decides the SQL: every source column is
read as text under a positional name and mapped by name into the raw table, NUL bytes are
stripped in SQL, unknown columns are kept in `_extra`, and rows DuckDB cannot parse are kept
in `raw.rejected_rows` with their line and reason.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.ingest.csv_values import MONTH_FIRST, normalise_values
from pipeline.ingest.encoding import UTF8, WINDOWS_1252, classify_non_utf8, utf8_copy
from pipeline.ingest.headers import COLUMNS, SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import file_sha256, folder_kind
from pipeline.ingest.rejection import FileRejected
from pipeline.ingest.sniff import ExportHead, read_export_head
from pipeline.warehouse import (
    LANDING_FILES_TABLE,
    REJECTED_ROWS_TABLE,
    SUBSCRIPTIONS_TABLE,
    TRANSACTIONS_TABLE,
)

TABLES = {TRANSACTIONS: TRANSACTIONS_TABLE, SUBSCRIPTIONS: SUBSCRIPTIONS_TABLE}
# Shown in the Dagster UI; personal data (names, emails, addresses) stays out of it.
PREVIEW_COLUMNS = {
    TRANSACTIONS: ("order_id", "order_date", "event", "relevant_item_name", "total"),
    SUBSCRIPTIONS: ("subscription_id", "relevant_item_name", "frequency", "amount"),
}
PREVIEW_ROWS = 5
# DuckDB reads an empty field as NULL unless told another string means NULL: this byte never
# appears in an export, so empty fields stay '' and the raw layer stays untouched.
_NO_NULL_STRING = "\x01"
_REJECTS = "ltv_reject_errors"
_REJECT_SCANS = "ltv_reject_scans"
# One reason per rejected row, from DuckDB's rejects table (a row can break several rules, and
# DuckDB reports some once per column: each reason is stated once, in a fixed order, so a
# reload gives the same text).
_REASON = (
    "string_agg(DISTINCT error_type || ': ' || error_message, '; ' "
    "ORDER BY error_type || ': ' || error_message)"
)


class ContentChanged(RuntimeError):
    """The file no longer holds the content its partition (its SHA-256) names."""


class WrongExport(ValueError):
    """The file is the other export than the table it was asked to load into."""


@dataclass(frozen=True)
class ExportFile:
    """A landing file to load: where it is now, its path in the landing folder, its hash."""

    path: Path
    rel_path: str
    sha256: str


@dataclass(frozen=True)
class LoadedExport:
    """What one load did, for the ledger and the asset's metadata."""

    export: str
    kind: str | None
    rows: int
    rejected: int
    encoding: str
    delimiter: str
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    notes: tuple[str, ...]
    rejected_sample: list[tuple[int, str]]
    preview: list[dict[str, str | None]]


def subscription_kind(rel_path: str) -> str:
    """`recurring` or `limited` from the folder; `unknown` anywhere else."""
    kind = folder_kind(rel_path)
    return kind if kind in ("recurring", "limited") else "unknown"


def _folder_notes(export: str, rel_path: str) -> tuple[str, ...]:
    """Tell the user when the folder and the header disagree (the header wins)."""
    folder = folder_kind(rel_path)
    if export == SUBSCRIPTIONS and folder not in ("recurring", "limited"):
        return (
            f"{rel_path} is a Subscriptions export outside subscriptions/recurring/ and "
            "subscriptions/limited/, so it loaded as kind 'unknown'. Move it into the folder "
            "that matches the subscriptions it holds, then materialize this partition again.",
        )
    if export == TRANSACTIONS and folder in ("recurring", "limited"):
        return (f"{rel_path} is a Transactions export in a subscriptions folder; loaded anyway.",)
    return ()


def _strip_nul(column: str) -> str:
    """SQL that drops NUL bytes from a text column; rewriting only values that hold one is
    measurably cheaper than `replace` on every value of every column (bench/raw_load_bench)."""
    stripped = f"replace({column}, chr(0), '')"
    return f"CASE WHEN strpos({column}, chr(0)) > 0 THEN {stripped} ELSE {column} END"


def _insert_sql(head: ExportHead) -> str:
    """INSERT … SELECT over read_csv for this header's column mapping.

    Parameters, in order: the kind (Subscriptions only), SHA-256, path, loaded-at time, then
    the CSV file, its delimiter and the null string.
    """
    export = head.match.export
    source_of = {t: i for i, t in enumerate(head.match.targets) if t is not None}
    columns = COLUMNS[export]
    values = [_strip_nul(f"c{source_of[c]}") if c in source_of else "NULL" for c in columns]
    extra = [
        f"'{name}', {_strip_nul(f'c{i}')}"
        for i, (name, target) in enumerate(zip(head.match.names, head.match.targets, strict=True))
        if target is None
    ]
    kind = ["kind"] if export == SUBSCRIPTIONS else []
    names = [f'"{c}"' for c in columns] + kind
    names += ["_extra", "_file_sha256", "_file_path", "_row_number", "_loaded_at"]
    values += ["?"] * len(kind)
    values += [f"json_object({', '.join(extra)})" if extra else "NULL", "?", "?"]
    values += ["row_number() OVER ()", "?"]
    read_columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(head.match.names)))
    return (
        f"INSERT INTO {TABLES[export]} ({', '.join(names)}) SELECT {', '.join(values)} "
        f"FROM read_csv(?, columns = {{{read_columns}}}, header = true, auto_detect = false, "
        "delim = ?, quote = '\"', escape = '\"', nullstr = ?, allow_quoted_nulls = false, "
        f"encoding = 'utf-8', store_rejects = true, rejects_table = '{_REJECTS}', "
        f"rejects_scan = '{_REJECT_SCANS}')"
    )


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    head: ExportHead,
    csv_path: Path,
    file: ExportFile,
    loaded_at: datetime,
) -> int:
    """Insert the file's good rows; its bad ones are left in the temporary rejects table."""
    for table in (_REJECTS, _REJECT_SCANS):
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    kind = [subscription_kind(file.rel_path)] if head.match.export == SUBSCRIPTIONS else []
    params = [*kind, file.sha256, file.rel_path, loaded_at]
    params += [str(csv_path), head.delimiter, _NO_NULL_STRING]
    return con.execute(_insert_sql(head), params).fetchone()[0]


def _invalid_encoding_rows(con: duckdb.DuckDBPyConnection) -> int:
    sql = f"SELECT count(*) FROM temp.{_REJECTS} WHERE error_type = 'INVALID ENCODING'"
    return con.execute(sql).fetchone()[0]


def _record_rejects(
    con: duckdb.DuckDBPyConnection, table: str, file: ExportFile, loaded_at: datetime
) -> int:
    """Copy the rejected rows into raw.rejected_rows and renumber the good rows around them.

    DuckDB's `line` counts rows the way a spreadsheet does (header = 1), so a good row's data
    row number is its position among good rows plus the rejected rows before it.
    """
    con.execute(
        f"""INSERT INTO {REJECTED_ROWS_TABLE}
        SELECT ?, ?, line, {_REASON}, ltrim(any_value(csv_line), chr(13) || chr(10)), ?
        FROM temp.{_REJECTS} GROUP BY line ORDER BY line""",
        [file.rel_path, file.sha256, loaded_at],
    )
    rejected = con.execute(f"SELECT count(DISTINCT line) FROM temp.{_REJECTS}").fetchone()[0]
    if rejected:
        con.execute(
            f"""UPDATE {table} AS t SET _row_number = t._row_number + (
                SELECT count(*) FROM (
                    SELECT line - 1 - row_number() OVER (ORDER BY line) AS good_before
                    FROM (SELECT DISTINCT line FROM temp.{_REJECTS})
                ) AS r WHERE r.good_before < t._row_number)
            WHERE t._file_sha256 = ?""",
            [file.sha256],
        )
    return rejected


def delete_file(con: duckdb.DuckDBPyConnection, table: str, sha256: str) -> None:
    con.execute(f"DELETE FROM {table} WHERE _file_sha256 = ?", [sha256])
    con.execute(f"DELETE FROM {REJECTED_ROWS_TABLE} WHERE file_sha256 = ?", [sha256])
    con.execute(f"DELETE FROM {LANDING_FILES_TABLE} WHERE sha256 = ?", [sha256])


def _load_rows(
    con: duckdb.DuckDBPyConnection, head: ExportHead, file: ExportFile, loaded_at: datetime
) -> tuple[int, str]:
    """Insert the file's rows as UTF-8, or again from a UTF-8 copy if it is Windows-1252."""
    table = TABLES[head.match.export]
    rows = _insert_rows(con, head, file.path, file, loaded_at)
    if not _invalid_encoding_rows(con) or classify_non_utf8(file.path) == UTF8:
        return rows, UTF8
    con.execute(f"DELETE FROM {table} WHERE _file_sha256 = ?", [file.sha256])
    with utf8_copy(file.path) as copy:
        return _insert_rows(con, head, copy, file, loaded_at), WINDOWS_1252


def load_export(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    export: str,
    loaded_at: datetime,
    date_order: str = MONTH_FIRST,
) -> LoadedExport:
    """Replace the rows of `file` in the `export` raw table (one transaction), with its ledger
    entry. Dates, times and amounts are made canonical (`pipeline.ingest.csv_values`; an
    ambiguous file's dates are read in `date_order`), and rows that cannot be read go to
    `raw.rejected_rows`.

    Raises FileRejected when the file cannot be loaded at all (nothing is written),
    ContentChanged when its content no longer matches `file.sha256`, and WrongExport when its
    header says it belongs to the other table.
    """
    head = read_export_head(file.path)
    if head.match.export != export:
        raise WrongExport(
            f"{file.rel_path} is a {head.match.export.title()} export; load it into "
            f"{TABLES[head.match.export]}, not {TABLES[export]}."
        )
    table = TABLES[export]
    with ThreadPoolExecutor(1) as pool:  # hashing overlaps the load: hashlib frees the GIL
        digest = pool.submit(file_sha256, file.path)
        con.execute("BEGIN TRANSACTION")
        try:
            delete_file(con, table, file.sha256)
            rows, encoding = _load_rows(con, head, file, loaded_at)
            rejected = _record_rejects(con, table, file, loaded_at)
            values = normalise_values(
                con, table, export, (file.rel_path, file.sha256, loaded_at), date_order
            )
            rows -= values.rejected + values.skipped
            rejected += values.rejected
            if digest.result() != file.sha256:
                raise ContentChanged(
                    f"{file.rel_path} changed after it was detected (its SHA-256 is no longer "
                    f"{file.sha256}); its new content is picked up as a new file."
                )
            if rows == 0 and rejected:
                raise _unreadable(con, file.sha256)
            loaded = _summary(con, head, file, rows, rejected, encoding, values.notes)
            write_ledger(con, file, loaded, loaded_at)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return loaded


def _unreadable(con: duckdb.DuckDBPyConnection, sha256: str) -> FileRejected:
    line, reason = _rejected_sample(con, sha256, limit=1)[0]
    return FileRejected(
        f"none of its rows could be read (line {line}: {reason}).",
        "Export it from ThriveCart again, or re-save it from your spreadsheet as "
        "'CSV UTF-8 (Comma delimited)' without editing the rows' structure.",
    )


def _rejected_sample(
    con: duckdb.DuckDBPyConnection, sha256: str, limit: int
) -> list[tuple[int, str]]:
    """The first rejected lines of the file with their reasons (warnings left out)."""
    sql = (
        f"SELECT line, reason FROM {REJECTED_ROWS_TABLE} WHERE file_sha256 = ? "
        "AND NOT starts_with(reason, 'warning') ORDER BY line LIMIT ?"
    )
    return [
        (int(line), str(reason)) for line, reason in con.execute(sql, [sha256, limit]).fetchall()
    ]


def _summary(
    con: duckdb.DuckDBPyConnection,
    head: ExportHead,
    file: ExportFile,
    rows: int,
    rejected: int,
    encoding: str,
    value_notes: tuple[str, ...],
) -> LoadedExport:
    export = head.match.export
    columns = PREVIEW_COLUMNS[export]
    cursor = con.execute(
        f"SELECT {', '.join(columns)} FROM {TABLES[export]} WHERE _file_sha256 = ? "
        f"ORDER BY _row_number LIMIT {PREVIEW_ROWS}",
        [file.sha256],
    )
    preview = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return LoadedExport(
        export=export,
        kind=subscription_kind(file.rel_path) if export == SUBSCRIPTIONS else None,
        rows=rows,
        rejected=rejected,
        encoding=encoding,
        delimiter=head.delimiter,
        missing=head.match.missing,
        extra=head.match.extra,
        notes=_folder_notes(export, file.rel_path) + value_notes,
        rejected_sample=_rejected_sample(con, file.sha256, limit=5),
        preview=preview,
    )


def write_ledger(
    con: duckdb.DuckDBPyConnection, file: ExportFile, loaded: LoadedExport, loaded_at: datetime
) -> None:
    con.execute(
        f"""INSERT INTO {LANDING_FILES_TABLE} (sha256, path, export, kind, bytes, encoding,
            delimiter, rows, rejected, missing_columns, extra_columns, loaded_at, notes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            file.sha256,
            file.rel_path,
            loaded.export,
            loaded.kind,
            file.path.stat().st_size,
            loaded.encoding,
            loaded.delimiter,
            loaded.rows,
            loaded.rejected,
            list(loaded.missing),
            list(loaded.extra),
            loaded_at,
            list(loaded.notes),
        ],
    )


def archive(file: ExportFile, archive_dir: Path, con: duckdb.DuckDBPyConnection) -> Path:
    """Move a loaded file to `archive_dir` (same relative path) and note it in the ledger."""
    target = archive_dir / file.rel_path
    if target.exists():
        target = target.with_name(f"{target.stem}.{file.sha256[:12]}{target.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(file.path, target)
    con.execute(
        f"UPDATE {LANDING_FILES_TABLE} SET archived_to = ? WHERE sha256 = ?",
        [str(target), file.sha256],
    )
    return target


def loaded_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """SHA-256 of every landing file in the ledger (loaded, possibly since archived)."""
    return {sha for (sha,) in con.execute(f"SELECT sha256 FROM {LANDING_FILES_TABLE}").fetchall()}


def ledger_entry(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple[str, str | None] | None:
    """(path in the landing folder, archived path) of a loaded content, or None."""
    row = con.execute(
        f"SELECT path, archived_to FROM {LANDING_FILES_TABLE} WHERE sha256 = ?", [sha256]
    ).fetchone()
    return (row[0], row[1]) if row else None
