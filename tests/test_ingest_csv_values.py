"""Exports re-saved by a spreadsheet load the same rows as the clean export; bad values are
rejected row by row with a plain reason (plain logic, no Dagster)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from spreadsheet import resave
from test_ltv_run_guards import HEADER

from pipeline.demo import generate_seller
from pipeline.ingest.csv_load import ExportFile, LoadedExport, load_export
from pipeline.ingest.csv_values import DAY_FIRST, MONTH_FIRST
from pipeline.ingest.landing import file_sha256
from pipeline.ingest.sniff import read_export_head
from pipeline.warehouse import connect, ensure_raw_schema

LOADED_AT = datetime(2026, 11, 28, 12, 0, 0)
VALUES = "order_id, order_date, order_time, product_price, sales_tax, total"


@pytest.fixture(scope="module")
def seller(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_seller(tmp_path_factory.mktemp("seller"), customers=40, seed=5).files


def load(con: duckdb.DuckDBPyConnection, path: Path, order: str = MONTH_FIRST) -> LoadedExport:
    file = ExportFile(path, path.name, file_sha256(path))
    return load_export(con, file, read_export_head(path).match.export, LOADED_AT, order)


def write(path: Path, rows: list[str], delimiter: str = ",") -> Path:
    """A Transactions export whose rows give order_id, date, time, price, tax, total."""
    lines = [HEADER.replace(",", delimiter)]
    for row in rows:
        order_id, date, time, price, tax, total = row.split("|")
        cells = ["-"] * len(HEADER.split(","))
        names = HEADER.split(",")
        values = {"order_id": order_id, "order_date": date, "order_time": time,
                  "product_price": price, "sales_tax": tax, "total": total,
                  "email": f"{order_id}@example.com", "event": "charge",
                  "order_currency": "EUR"}  # fmt: skip
        for name, value in values.items():
            cells[names.index(name)] = value
        lines.append(delimiter.join(f'"{c}"' if delimiter in c else c for c in cells))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def values(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        f"SELECT {VALUES} FROM raw.thrivecart_transactions ORDER BY _row_number"
    ).fetchall()


def rejected(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT line, reason FROM raw.rejected_rows ORDER BY line").fetchall()


def test_us_spreadsheet_values_become_canonical(con: duckdb.DuckDBPyConnection, tmp_path: Path):
    path = write(
        tmp_path / "us.csv",
        [
            "1|4/23/2024|2:05:00 PM|100|0|100",
            "2|12/1/24|12:00 AM|1,234.5|$12.35|1,246.85",
            "3|1/2/2024 14:05|9:07 am|(47.00)|0|-47",
        ],
    )
    loaded = load(con, path)
    assert values(con) == [
        ("1", "2024-04-23", "14:05:00", "100.00", "0.00", "100.00"),
        ("2", "2024-12-01", "00:00:00", "1234.50", "12.35", "1246.85"),
        ("3", "2024-01-02", "09:07:00", "-47.00", "0.00", "-47.00"),
    ]
    assert (loaded.rows, loaded.rejected) == (3, 0)
    assert "us.csv: dates read month-first (a second number above 12, e.g. line 2)" in " ".join(
        loaded.notes
    )


def test_european_spreadsheet_values_become_canonical(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "eu.csv",
        ["1|23.04.2024|14:05|1.234,50|234,50|1.469,00", "2|02.03.2024|9:07:30|47|0|47"],
        delimiter=";",
    )
    loaded = load(con, path)
    assert values(con) == [
        ("1", "2024-04-23", "14:05:00", "1234.50", "234.50", "1469.00"),
        ("2", "2024-03-02", "09:07:30", "47.00", "0.00", "47.00"),
    ]
    notes = " ".join(loaded.notes)
    assert "dates read day-first (a first number above 12, e.g. line 2)" in notes
    assert "amounts read with a decimal comma" in notes


@pytest.mark.parametrize(
    ("order", "expected"), [(MONTH_FIRST, "2024-04-03"), (DAY_FIRST, "2024-03-04")]
)
def test_an_ambiguous_file_follows_the_setting_and_says_so(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, order: str, expected: str
) -> None:
    loaded = load(con, write(tmp_path / "x.csv", ["1|4/3/2024|10:00:00|5|0|5"]), order)
    assert values(con)[0][1] == expected
    assert "the LTV_CSV_DATE_ORDER setting decides" in " ".join(loaded.notes)


def test_unreadable_values_reject_their_row_only_with_line_and_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bad.csv",
        [
            "1|23/04/2024|10:00:00|5|0|5",
            "2|31/31/2024|10:00:00|5|0|5",
            "3|24/04/2024|25:00:00|5|0|five",
            "4|25/04/2024|10:00:00|5|0|5",
        ],
    )
    loaded = load(con, path)
    assert [row[0] for row in values(con)] == ["1", "4"]
    assert rejected(con) == [
        (3, "order_date '31/31/2024' is not a date (day-first)"),
        (4, "order_time '25:00:00' is not a time of day; total 'five' is not an amount"),
    ]
    assert (loaded.rows, loaded.rejected) == (2, 2)
    assert loaded.rejected_sample[0] == (3, "order_date '31/31/2024' is not a date (day-first)")


def test_summary_and_blank_rows_are_skipped_with_a_note(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "t.csv", ["1|2024-04-23|10:00:00|5|0|5"])
    with path.open("a") as f:
        f.write("," * 40 + "\r\n" + "Total" + "," * 38 + "5,,\r\n")
    loaded = load(con, path)
    assert [row[0] for row in values(con)] == ["1"]
    assert rejected(con) == []
    assert loaded.rows == 1
    assert "t.csv: 2 summary or blank row(s) skipped (the first at line 3)" in loaded.notes[0]


def test_a_stray_quote_is_kept_with_a_warning(con: duckdb.DuckDBPyConnection, tmp_path: Path):
    path = write(tmp_path / "q.csv", ["1|2024-04-23|10:00:00|5|0|5"])
    text = path.read_text().replace("1@example.com", 'Bob "the builder"@example.com')
    path.write_text(text)
    loaded = load(con, path)
    assert loaded.rows == 1 and loaded.rejected == 0
    ((line, reason),) = rejected(con)
    assert line == 2 and reason.startswith("warning, row kept as read: a double quote inside email")
    assert "double quote inside a value" in " ".join(loaded.notes)


@pytest.mark.parametrize("style", ["us", "eu"])
@pytest.mark.parametrize("role", ["latest", "recurring", "limited"])
def test_a_resaved_generated_export_loads_the_same_rows_as_the_clean_one(
    seller: dict[str, Path], tmp_path: Path, style: str, role: str
) -> None:
    clean, resaved = seller[role], tmp_path / f"resaved-{style}.csv"
    resave(clean, resaved, style)  # type: ignore[arg-type]

    def raw_rows(path: Path) -> list[tuple]:
        with connect(tmp_path / f"{path.stem}.duckdb") as con:
            ensure_raw_schema(con)
            load(con, path)
            table = "thrivecart_transactions" if role == "latest" else "thrivecart_subscriptions"
            return con.execute(
                f"SELECT * EXCLUDE (_file_sha256, _file_path, _loaded_at, address_zip, "
                f"shipping_address_zip) FROM raw.{table} ORDER BY _row_number"
            ).fetchall()

    assert raw_rows(resaved) == raw_rows(clean)


def test_a_date_spelled_like_iso_but_impossible_is_rejected(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    loaded = load(
        con,
        write(tmp_path / "iso.csv", ["1|2024-02-29|10:00:00|5|0|5", "2|2023-02-29|10:00:00|5|0|5"]),
    )
    assert [row[:2] for row in values(con)] == [("1", "2024-02-29")]
    assert rejected(con) == [(3, "order_date '2023-02-29' is not a date (month-first)")]
    assert loaded.rejected == 1
