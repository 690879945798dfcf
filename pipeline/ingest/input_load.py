"""Load a cost, ad spend or exchange-rate file into its raw table, the way exports load.

One file is one transaction: its old rows (when it was loaded before) are deleted, its good
rows inserted with their lineage, its bad rows written to `raw.rejected_rows` with line and
reason, and its ledger entry written, so forgetting, reloading and the incremental build treat
it like any export. `load_landing_file` picks the loader for any landing file.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from pipeline.ingest.csv_load import (
    ContentChanged,
    ExportFile,
    LoadedExport,
    WrongExport,
    delete_file,
    load_export,
    write_ledger,
)
from pipeline.ingest.csv_values import MONTH_FIRST
from pipeline.ingest.input_formats import INPUT_TABLES, Parsed, parse_input
from pipeline.ingest.landing import file_sha256
from pipeline.ingest.rejection import FileRejected
from pipeline.warehouse import REJECTED_ROWS_TABLE

# The typed columns of each table, in the order the parsers return them.
INPUT_COLUMNS = {
    "processor_fees": (
        "account", "processor", "currency", "fee_percent", "fee_fixed", "valid_from",
    ),
    "product_costs": (
        "account", "item_type", "product_id", "currency", "cost_per_sale", "valid_from",
    ),
    "ad_spend": ("account", "spend_date", "channel", "campaign", "currency", "spend", "format"),
    "fx_rates": ("rate_date", "base", "currency", "rate", "format"),
}  # fmt: skip
PREVIEW_ROWS = 5


def _insert(
    con: duckdb.DuckDBPyConnection, parsed: Parsed, file: ExportFile, loaded_at: datetime
) -> None:
    columns = INPUT_COLUMNS[parsed.export]
    frame = pd.DataFrame(parsed.rows, columns=list(columns), dtype=object)
    frame["_row_number"] = range(1, len(frame) + 1)
    con.register("ltv_input_rows", frame)
    try:
        con.execute(
            f"""INSERT INTO {INPUT_TABLES[parsed.export]}
                ({", ".join(columns)}, _file_sha256, _file_path, _row_number, _loaded_at)
            SELECT {", ".join(columns)}, ?, ?, _row_number, ? FROM ltv_input_rows""",
            [file.sha256, file.rel_path, loaded_at],
        )
    finally:
        con.unregister("ltv_input_rows")


def _record_rejects(
    con: duckdb.DuckDBPyConnection, parsed: Parsed, file: ExportFile, loaded_at: datetime
) -> None:
    if parsed.rejected:
        con.executemany(
            f"INSERT INTO {REJECTED_ROWS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [
                [file.rel_path, file.sha256, line, reason, raw, loaded_at]
                for line, reason, raw in parsed.rejected
            ],
        )


def _summary(parsed: Parsed) -> LoadedExport:
    columns = INPUT_COLUMNS[parsed.export]
    preview = [
        {
            name: None if value is None else str(value)
            for name, value in zip(columns, row, strict=True)
        }
        for row in parsed.rows[:PREVIEW_ROWS]
    ]
    return LoadedExport(
        export=parsed.export,
        kind=parsed.file_format,
        rows=len(parsed.rows),
        rejected=len(parsed.rejected),
        encoding="utf-8",
        delimiter=",",
        missing=(),
        extra=(),
        notes=tuple(parsed.notes),
        rejected_sample=[(line, reason) for line, reason, _ in parsed.rejected[:5]],
        preview=preview,
    )


def load_input(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    export: str,
    loaded_at: datetime,
    date_order: str = MONTH_FIRST,
) -> LoadedExport:
    """Replace the rows of `file` in the `export` input table; FileRejected when none of it can
    be read, WrongExport when its header is another input's."""
    parsed = parse_input(file.path, file.rel_path, date_order)
    if parsed.export != export:
        raise WrongExport(f"{file.rel_path} holds {parsed.export}, not {export}.")
    if not parsed.rows:
        first = (
            f" (line {parsed.rejected[0][0]}: {parsed.rejected[0][1]})" if parsed.rejected else ""
        )
        raise FileRejected(
            f"none of its rows could be read{first}.",
            "Fix the rows (docs/costs.md says what each column takes) and drop the file again.",
        )
    if file_sha256(file.path) != file.sha256:
        raise ContentChanged(f"{file.rel_path} changed after it was detected.")
    table = INPUT_TABLES[export]
    loaded = _summary(parsed)
    con.execute("BEGIN TRANSACTION")
    try:
        delete_file(con, table, file.sha256)
        _insert(con, parsed, file, loaded_at)
        _record_rejects(con, parsed, file, loaded_at)
        write_ledger(con, file, loaded, loaded_at)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loaded


def load_landing_file(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    export: str,
    loaded_at: datetime,
    date_order: str = MONTH_FIRST,
) -> LoadedExport:
    """Load any landing file into the raw table of `export`: an input file or an export."""
    loader = load_input if export in INPUT_TABLES else load_export
    return loader(con, file, export, loaded_at, date_order)
