"""Dates, times and amounts as spreadsheets write them, read per file and made canonical.

An export opened and saved again in a spreadsheet comes back with `4/23/2024` or `23.04.2024`
dates, `2:05:00 PM` times, `100` or `1.234,50` amounts and often a `Total` row at the bottom.
The staging models read one spelling (`2024-04-23`, `14:05:00`, `1234.50`), so after a file's
rows are inserted as text, this module, inside the same transaction:

1. skips summary rows (no key, a cell reading `Total`, `Summe`, ...) and blank rows, with a note;
2. decides per file how its dates and amounts are written, from its values: a first
   component above 12 makes dates day-first, a second above 12 month-first, and a file that
   never says uses the `LTV_CSV_DATE_ORDER` setting; a comma followed by one or two digits at
   the end makes amounts decimal-comma, a dot likewise decimal-point;
3. rewrites the values in the canonical spelling, and moves every row whose date, time or
   amount cannot be read that way to `raw.rejected_rows`, with its line and a plain reason.
   A bad row never reaches staging, so a build never fails because of input;
4. notes, without rejecting, rows with a double quote inside a value: ThriveCart escapes quotes
   in names (`&quot;`), so a literal one was typed into the file or is a stray quote that
   shifted fields.

A clean export costs one aggregate over its date, time and amount columns and nothing more.
Everything is SQL over the file's rows: millions of rows are rewritten in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipeline.ingest.headers import COLUMNS, SUBSCRIPTIONS, TRANSACTIONS
from pipeline.warehouse import REJECTED_ROWS_TABLE

MONTH_FIRST, DAY_FIRST = "MDY", "DMY"
DATE_ORDERS = (MONTH_FIRST, DAY_FIRST)
DATE_COLUMNS = {TRANSACTIONS: ("order_date",), SUBSCRIPTIONS: ("order_date",)}
TIME_COLUMNS = {TRANSACTIONS: ("order_time",), SUBSCRIPTIONS: ("order_time",)}
AMOUNT_COLUMNS = {
    TRANSACTIONS: ("product_price", "sales_tax", "total"),
    SUBSCRIPTIONS: ("amount",),
}
KEY_COLUMNS = {TRANSACTIONS: "order_id", SUBSCRIPTIONS: "subscription_id"}
# What spreadsheets write in the first cell of a summary row, lower case.
TOTAL_WORDS = ("total", "totals", "grand total", "sum", "summe", "gesamt", "total general")
_WORDS = {DAY_FIRST: "day-first", MONTH_FIRST: "month-first"}

# The canonical spellings: a value already in one of them is left alone.
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_CLOCK = r"^\d{2}:\d{2}:\d{2}$"
_PLAIN_AMOUNT = r"^-?\d+(\.\d+)?$"
_AMOUNT = "DECIMAL(18, 2)"
_COMMA_DECIMAL = r",\d{1,2}$"
_POINT_DECIMAL = r"\.\d{1,2}$"


def _missing(col: str) -> str:
    """ThriveCart's own blanks, which staging reads as NULL: left as they are."""
    return f"({col} IS NULL OR trim({col}) IN ('', '-', 'null'))"


# Temporary macros (inlined by DuckDB, so vectorised): each returns the canonical text of a
# value, or NULL when the value cannot be read so. Every cast is a TRY_CAST: DuckDB may
# evaluate both sides of an AND.
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO ltv_date_part(v) AS split_part(replace(trim(v), 'T', ' '), ' ', 1);
CREATE OR REPLACE TEMP MACRO ltv_ymd(p, i) AS
    regexp_extract(p, '^(\d{4})[./-](\d{1,2})[./-](\d{1,2})$', i);
CREATE OR REPLACE TEMP MACRO ltv_dmy(p, i) AS
    regexp_extract(p, '^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})$', i);
CREATE OR REPLACE TEMP MACRO ltv_year(y) AS
    CASE WHEN length(y) = 2 THEN 2000 + TRY_CAST(y AS INT) ELSE TRY_CAST(y AS INT) END;
CREATE OR REPLACE TEMP MACRO ltv_date(v, day_first) AS strftime(CASE
    WHEN ltv_ymd(ltv_date_part(v), 1) <> '' THEN TRY(make_date(
        TRY_CAST(ltv_ymd(ltv_date_part(v), 1) AS INT),
        TRY_CAST(ltv_ymd(ltv_date_part(v), 2) AS INT),
        TRY_CAST(ltv_ymd(ltv_date_part(v), 3) AS INT)))
    WHEN ltv_dmy(ltv_date_part(v), 3) <> '' THEN TRY(make_date(
        ltv_year(ltv_dmy(ltv_date_part(v), 3)),
        TRY_CAST(CASE WHEN day_first THEN ltv_dmy(ltv_date_part(v), 2)
            ELSE ltv_dmy(ltv_date_part(v), 1) END AS INT),
        TRY_CAST(CASE WHEN day_first THEN ltv_dmy(ltv_date_part(v), 1)
            ELSE ltv_dmy(ltv_date_part(v), 2) END AS INT)))
    END, '%Y-%m-%d');
CREATE OR REPLACE TEMP MACRO ltv_clock(v, i) AS
    regexp_extract(trim(v), '^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?$', i);
CREATE OR REPLACE TEMP MACRO ltv_hour(h, p) AS CASE
    WHEN p = '' AND h < 24 THEN h
    WHEN lower(p) = 'am' AND h BETWEEN 1 AND 12 THEN h % 12
    WHEN lower(p) = 'pm' AND h BETWEEN 1 AND 12 THEN h % 12 + 12 END;
CREATE OR REPLACE TEMP MACRO ltv_time(v) AS CASE
    WHEN ltv_clock(v, 1) <> '' AND TRY_CAST(ltv_clock(v, 2) AS INT) < 60
        AND coalesce(TRY_CAST(nullif(ltv_clock(v, 3), '') AS INT), 0) < 60
        AND ltv_hour(TRY_CAST(ltv_clock(v, 1) AS INT), ltv_clock(v, 4)) IS NOT NULL
    THEN printf('%02d:%02d:%02d', ltv_hour(TRY_CAST(ltv_clock(v, 1) AS INT), ltv_clock(v, 4)),
        TRY_CAST(ltv_clock(v, 2) AS INT), coalesce(TRY_CAST(nullif(ltv_clock(v, 3), '') AS INT), 0))
    END;
CREATE OR REPLACE TEMP MACRO ltv_bare_amount(v) AS regexp_replace(
    regexp_replace(trim(v), '\s|[$€£¥]|^[A-Z]{3}|[A-Z]{3}$', '', 'g'), '^\((.*)\)$', '-\1');
CREATE OR REPLACE TEMP MACRO ltv_amount(v, decimal_comma) AS CAST(TRY_CAST(CASE
    WHEN decimal_comma
        AND regexp_full_match(ltv_bare_amount(v), '-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?')
        THEN replace(replace(ltv_bare_amount(v), '.', ''), ',', '.')
    WHEN NOT decimal_comma
        AND regexp_full_match(ltv_bare_amount(v), '-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?')
        THEN replace(ltv_bare_amount(v), ',', '')
    END AS DECIMAL(18, 2)) AS VARCHAR);
"""


def _create_macros(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _MACROS.split(";"):
        if statement.strip():
            con.execute(statement)


@dataclass(frozen=True)
class ValuesReport:
    """What reading the values of one file did, for its notes and counts."""

    rejected: int = 0
    skipped: int = 0
    notes: tuple[str, ...] = ()


def normalise_values(
    con: duckdb.DuckDBPyConnection,
    table: str,
    export: str,
    file: tuple[str, str, datetime],
    default_order: str = MONTH_FIRST,
) -> ValuesReport:
    """Skip summary rows, make the file's dates, times and amounts canonical, and move the
    rows that cannot be read to `raw.rejected_rows` (see the module docstring).

    `file` is (path in the landing folder, SHA-256, loaded-at time) of the rows to work on.
    """
    rel_path, sha256, _ = file
    columns = COLUMNS[export]
    rows = f"FROM {table} WHERE _file_sha256 = '{sha256}'"  # a hex digest: safe to inline
    _create_macros(con)
    skipped, skip_note = _skip_summary_rows(con, export, rows, columns)
    notes = [f"{rel_path}: {skip_note}"] if skip_note else []
    kinds = (DATE_COLUMNS[export], TIME_COLUMNS[export], AMOUNT_COLUMNS[export])
    rejected = 0
    if not _all_canonical(con, rows, *kinds):
        order, why = _date_order(con, rows, kinds[0], default_order)
        decimal_comma, how = _decimal_comma(con, rows, kinds[2])
        notes.append(f"{rel_path}: dates read {_WORDS[order]} ({why}); amounts {how}.")
        rejected = _rewrite(con, table, rows, file, columns, kinds, order, decimal_comma)
    quoted = _note_quotes(con, rows, columns, file)
    if quoted:
        notes.append(
            f"{rel_path}: {quoted} row(s) have a double quote inside a value, kept as read; "
            "check that no stray quote shifted their fields (lines in raw.rejected_rows)."
        )
    return ValuesReport(rejected=rejected, skipped=skipped, notes=tuple(notes))


def _any(columns: tuple[str, ...], test: str) -> str:
    """SQL true when `test` (with `{c}` for the column) holds for any of `columns`."""
    return "(" + " OR ".join(test.format(c=f'"{c}"') for c in columns) + ")" if columns else "false"


def _skip_summary_rows(
    con: duckdb.DuckDBPyConnection, export: str, rows: str, columns: tuple[str, ...]
) -> tuple[int, str | None]:
    """Delete rows without a key that are blank or read `Total` (or the like) in a cell."""
    key = f'"{KEY_COLUMNS[export]}"'
    words = ", ".join(f"'{w}'" for w in TOTAL_WORDS)
    blank = " AND ".join(_missing(f'"{c}"') for c in columns)
    summary = _any(columns, f"lower(trim({{c}})) IN ({words})")
    where = f"{rows} AND {_missing(key)} AND ({summary} OR ({blank}))"
    found = con.execute(f"SELECT count(*), min(_row_number) + 1 {where}").fetchone()
    if not found[0]:
        return 0, None
    con.execute(f"DELETE {where}")
    return found[0], (
        f"{found[0]} summary or blank row(s) skipped (the first at line {found[1]}): a "
        "spreadsheet adds them; they are not sales."
    )


def _q(column: str) -> str:
    return f'"{column}"'


def _all_canonical(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    dates: tuple[str, ...],
    times: tuple[str, ...],
    amounts: tuple[str, ...],
) -> bool:
    """Whether every date, time and amount is already in the spelling staging reads (and
    is a real one: `2025-13-45` has the spelling of a date)."""
    spelled = [
        (dates, _ISO_DATE, "DATE"),
        (times, _CLOCK, "TIME"),
        (amounts, _PLAIN_AMOUNT, _AMOUNT),
    ]
    checks = [
        f"({_missing(_q(c))} OR regexp_full_match({_q(c)}, '{pattern}') "
        f"AND TRY_CAST({_q(c)} AS {type_}) IS NOT NULL)"
        for columns, pattern, type_ in spelled
        for c in columns
    ]
    result = con.execute(f"SELECT bool_and({' AND '.join(checks)}) {rows}").fetchone()[0]
    return result is None or bool(result)


def _date_order(
    con: duckdb.DuckDBPyConnection, rows: str, dates: tuple[str, ...], default_order: str
) -> tuple[str, str]:
    """The file's day/month order and why: its values decide, else `default_order`."""
    parts = " UNION ALL ".join(
        f"SELECT ltv_date_part({_q(c)}) AS p, _row_number {rows}" for c in dates
    )
    day, day_line, month, month_line = con.execute(
        f"""SELECT count(*) FILTER (TRY_CAST(ltv_dmy(p, 1) AS INT) > 12),
            min(_row_number) FILTER (TRY_CAST(ltv_dmy(p, 1) AS INT) > 12) + 1,
            count(*) FILTER (TRY_CAST(ltv_dmy(p, 2) AS INT) > 12),
            min(_row_number) FILTER (TRY_CAST(ltv_dmy(p, 2) AS INT) > 12) + 1
        FROM ({parts})"""
    ).fetchone()
    if day and month:
        order = DAY_FIRST if day >= month else MONTH_FIRST
        return order, (
            f"its dates disagree: {day} have a day above 12 first, {month} second; the "
            "majority decides and the other rows are rejected"
        )
    if day:
        return DAY_FIRST, f"a first number above 12, e.g. line {day_line}"
    if month:
        return MONTH_FIRST, f"a second number above 12, e.g. line {month_line}"
    return default_order, "no number above 12 tells, so the LTV_CSV_DATE_ORDER setting decides"


def _decimal_comma(
    con: duckdb.DuckDBPyConnection, rows: str, amounts: tuple[str, ...]
) -> tuple[bool, str]:
    """Whether the file's amounts use a decimal comma, and how they were read."""
    if not amounts:
        return False, "not present"
    bare = " UNION ALL ".join(f"SELECT ltv_bare_amount({_q(c)}) AS v {rows}" for c in amounts)
    comma, point = con.execute(
        f"""SELECT count(*) FILTER (regexp_matches(v, '{_COMMA_DECIMAL}')),
            count(*) FILTER (regexp_matches(v, '{_POINT_DECIMAL}')) FROM ({bare})"""
    ).fetchone()
    if comma > point:
        return True, "read with a decimal comma (1.234,50)"
    return False, "read with a decimal point (1,234.50)"


def _raw_line(columns: tuple[str, ...]) -> str:
    """The row as read, for rejected rows: its values in the raw table's column order."""
    return "array_to_string([" + ", ".join(f"coalesce({_q(c)}, '')" for c in columns) + "], ',')"


def _rewrite(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: str,
    file: tuple[str, str, datetime],
    columns: tuple[str, ...],
    kinds: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    order: str,
    decimal_comma: bool,
) -> int:
    """Move unreadable rows to rejected rows, then rewrite the rest canonically."""
    dates, times, amounts = kinds
    day_first = "true" if order == DAY_FIRST else "false"
    comma = "true" if decimal_comma else "false"
    readers = [
        *((c, f"ltv_date({_q(c)}, {day_first})", f"a date ({_WORDS[order]})") for c in dates),
        *((c, f"ltv_time({_q(c)})", "a time of day") for c in times),
        *((c, f"ltv_amount({_q(c)}, {comma})", "an amount") for c in amounts),
    ]
    unreadable = [
        (c, f"(NOT {_missing(_q(c))} AND {read} IS NULL)", what) for c, read, what in readers
    ]
    reasons = ", ".join(
        f"CASE WHEN {bad} THEN '{c} ''' || trim({_q(c)}) || ''' is not {what}' END"
        for c, bad, what in unreadable
    )
    any_bad = " OR ".join(bad for _, bad, _ in unreadable)
    rel_path, sha256, loaded_at = file
    rejected = con.execute(
        f"""INSERT INTO {REJECTED_ROWS_TABLE}
        SELECT ?, ?, _row_number + 1, concat_ws('; ', {reasons}), {_raw_line(columns)}, ?
        {rows} AND ({any_bad})""",
        [rel_path, sha256, loaded_at],
    ).fetchone()[0]
    if rejected:
        con.execute(f"DELETE {rows} AND ({any_bad})")
    sets = ", ".join(
        f"{_q(c)} = CASE WHEN {_missing(_q(c))} THEN {_q(c)} ELSE {read} END"
        for c, read, _ in readers
    )
    con.execute(f"UPDATE {table} SET {sets} WHERE _file_sha256 = '{sha256}'")
    return rejected


def _note_quotes(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    columns: tuple[str, ...],
    file: tuple[str, str, datetime],
) -> int:
    """Warn, in rejected rows (the row itself stays loaded), of double quotes inside values."""
    quote = "strpos({c}, '\"') > 0"
    names = ", ".join(f"CASE WHEN {quote.format(c=_q(c))} THEN '{c}' END" for c in columns)
    return con.execute(
        f"""INSERT INTO {REJECTED_ROWS_TABLE}
        SELECT ?, ?, _row_number + 1,
            'warning, row kept as read: a double quote inside ' || concat_ws(', ', {names})
            || '; check that a stray quote did not shift the fields',
            {_raw_line(columns)}, ?
        {rows} AND {_any(columns, quote)}""",
        list(file),
    ).fetchone()[0]
