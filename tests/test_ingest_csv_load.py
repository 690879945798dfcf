"""Loading export files into DuckDB raw tables (plain logic, no Dagster)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from test_ingest_headers import TRANSACTIONS_HEADER

from pipeline.demo import generate_seller
from pipeline.ingest.csv_load import (
    ContentChanged,
    ExportFile,
    LoadedExport,
    WrongExport,
    load_export,
)
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.landing import file_sha256
from pipeline.ingest.rejection import FileRejected
from pipeline.ingest.sniff import read_export_head
from pipeline.warehouse import connect, ensure_raw_schema

LOADED_AT = datetime(2026, 11, 28, 12, 0, 0)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "warehouse" / "ltv.duckdb")
    ensure_raw_schema(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def seller(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small realistic seller: its export files by role (latest, older, recurring, limited)."""
    root = tmp_path_factory.mktemp("seller")
    return generate_seller(root, customers=40, seed=7).files


def load(
    con: duckdb.DuckDBPyConnection, root: Path, rel_path: str, export: str | None = None
) -> LoadedExport:
    path = root / rel_path
    file = ExportFile(path, rel_path, file_sha256(path))
    return load_export(con, file, export or read_export_head(path).match.export, LOADED_AT)


def csv_rows(path: Path, encoding: str = "utf-8-sig") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as f:
        return list(csv.reader(f))


def table_rows(con: duckdb.DuckDBPyConnection, columns: str, table: str) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM raw.{table} ORDER BY _row_number").fetchall()


def test_demo_exports_load_every_row_with_lineage(
    con: duckdb.DuckDBPyConnection, seller: dict[str, Path]
) -> None:
    root = seller["latest"].parent.parent
    rel = seller["latest"].relative_to(root).as_posix()
    loaded = load(con, root, rel)
    source = csv_rows(seller["latest"])
    header, data = source[0], source[1:]
    assert (loaded.export, loaded.rows, loaded.rejected) == (TRANSACTIONS, len(data), 0)
    assert b"\0" in seller["latest"].read_bytes()
    stored = table_rows(
        con,
        "_row_number, order_id, address_zip, _file_path, _file_sha256",
        "thrivecart_transactions",
    )
    zip_at, order_at = header.index("address_zip"), header.index("order_id")
    expected = [
        (i, row[order_at], row[zip_at].replace("\0", ""), rel, file_sha256(seller["latest"]))
        for i, row in enumerate(data, start=1)
    ]
    assert stored == expected
    ledger = con.execute("SELECT path, export, rows, rejected FROM raw.landing_files").fetchall()
    assert ledger == [(rel, TRANSACTIONS, len(data), 0)]
    assert set(loaded.preview[0]) >= {"order_id", "total"}
    assert "email" not in loaded.preview[0]


def test_subscription_kinds_come_from_the_folder(
    con: duckdb.DuckDBPyConnection, seller: dict[str, Path], tmp_path: Path
) -> None:
    root = seller["recurring"].parents[2]
    for role in ("recurring", "limited"):
        loaded = load(con, root, seller[role].relative_to(root).as_posix())
        assert (loaded.export, loaded.kind, loaded.notes) == (SUBSCRIPTIONS, role, ())
    elsewhere = tmp_path / "Subscriptions.csv"
    elsewhere.write_bytes(seller["limited"].read_bytes() + b"\n")  # other content, same rows
    loaded = load(con, tmp_path, "Subscriptions.csv")
    assert loaded.kind == "unknown"
    assert "kind 'unknown'" in loaded.notes[0]
    kinds = con.execute(
        "SELECT kind, count(*) FROM raw.thrivecart_subscriptions GROUP BY 1 ORDER BY 1"
    ).fetchall()
    limited = len(csv_rows(seller["limited"])) - 1
    recurring = len(csv_rows(seller["recurring"])) - 1
    assert kinds == [("limited", limited), ("recurring", recurring), ("unknown", limited)]
    both_ids = con.execute(
        "SELECT count(*) FROM raw.thrivecart_subscriptions "
        "WHERE subscription_id <> subscription_id_2 AND subscription_id NOT LIKE 'sub_%'"
    ).fetchone()[0]
    assert both_ids > 0


def _spreadsheet_copy(source: Path, target: Path, encoding: str, newline: str, bom: bool) -> None:
    """`source` as a spreadsheet re-saves it (text limited to what Windows-1252 can hold)."""
    rows = [[c.encode("cp1252", "replace").decode("cp1252") for c in r] for r in csv_rows(source)]
    rows[1][1] = "Zoë ’Quotes’ – €5"  # first_name of the first data row
    text = io.StringIO()
    csv.writer(text, lineterminator=newline).writerows(rows)
    target.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode(encoding))


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [("utf-8", "\r\n", True), ("cp1252", "\r\n", False), ("cp1252", "\n", False)],
)
def test_spreadsheet_encodings_and_line_endings_load_the_same_text(
    con: duckdb.DuckDBPyConnection,
    seller: dict[str, Path],
    tmp_path: Path,
    encoding: str,
    newline: str,
    bom: bool,
) -> None:
    original = tmp_path / "original.csv"
    _spreadsheet_copy(seller["older"], original, "utf-8", "\n", False)
    _spreadsheet_copy(seller["older"], tmp_path / "resaved.csv", encoding, newline, bom)
    load(con, tmp_path, "original.csv")
    loaded = load(con, tmp_path, "resaved.csv")
    assert loaded.encoding == ("windows-1252" if encoding == "cp1252" else "utf-8")
    assert loaded.rejected == 0
    columns = ", ".join(f'"{c}"' for c in TRANSACTIONS_HEADER)
    by_file = [
        con.execute(
            f"SELECT {columns} FROM raw.thrivecart_transactions WHERE _file_path = ? "
            "ORDER BY _row_number",
            [name],
        ).fetchall()
        for name in ("original.csv", "resaved.csv")
    ]
    assert by_file[0] == by_file[1]
    assert by_file[1][0][1] == "Zoë ’Quotes’ – €5"


def test_reordered_missing_and_extra_columns_map_by_name(
    con: duckdb.DuckDBPyConnection, seller: dict[str, Path], tmp_path: Path
) -> None:
    rows = csv_rows(seller["older"])
    order = list(reversed(range(len(rows[0]))))
    order.remove(rows[0].index("business_info"))
    reordered = [[row[i] for i in order] + ["note " + row[0]] for row in rows]
    reordered[0] = [name.replace("_", " ").title() for name in reordered[0][:-1]] + ["Notes"]
    reordered[0][reordered[0].index("Email")] = "Email Address"
    with (tmp_path / "edited.csv").open("w", newline="") as f:
        csv.writer(f).writerows(reordered)
    loaded = load(con, tmp_path, "edited.csv")
    assert (loaded.missing, loaded.extra) == (("business_info",), ("notes",))
    stored = table_rows(con, "email, order_id, business_info, _extra", "thrivecart_transactions")
    header = rows[0]
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in stored] == [
        (
            row[header.index("email")],
            row[header.index("order_id")],
            None,
            {"notes": f"note {row[0]}"},
        )
        for row in rows[1:]
    ]


def test_bad_rows_are_kept_with_line_and_reason_and_good_rows_keep_their_number(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    width = len(TRANSACTIONS_HEADER)

    def row(order_id: str, extra: int = 0, company: str = "-") -> str:
        cells = [company] + ["-"] * (width + extra - 1)
        cells[TRANSACTIONS_HEADER.index("order_id")] = order_id
        return ",".join(cells)

    lines = [
        ",".join(TRANSACTIONS_HEADER),
        row("1"),
        row("2", extra=-1),  # a column short
        row("3", company='"multi\nline"'),  # one quoted cell spanning two lines
        row("4", extra=2),  # two columns too many
        row("5"),
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    loaded = load(con, tmp_path, "rows.csv")
    assert (loaded.rows, loaded.rejected) == (3, 2)
    stored = table_rows(con, "_row_number, order_id", "thrivecart_transactions")
    assert stored == [(1, "1"), (3, "3"), (5, "5")]
    rejected = con.execute(
        "SELECT source, line, reason, raw_line FROM raw.rejected_rows ORDER BY line"
    ).fetchall()
    assert [(r[0], r[1]) for r in rejected] == [("rows.csv", 3), ("rows.csv", 5)]
    assert "MISSING COLUMNS" in rejected[0][2] and "TOO MANY COLUMNS" in rejected[1][2]
    assert rejected[1][3].startswith("-,")
    assert loaded.rejected_sample[0][0] == 3


def test_rows_of_a_file_read_in_parallel_keep_their_file_order(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """DuckDB splits a large file among its threads; row numbers still follow the file (a
    file of several row groups of 122,880 rows, with a rejected row late in it)."""
    rows = 300_000
    blank = ["-"] * len(TRANSACTIONS_HEADER)
    at = TRANSACTIONS_HEADER.index("order_id")
    with (tmp_path / "big.csv").open("w") as f:
        f.write(",".join(TRANSACTIONS_HEADER) + "\n")
        for n in range(1, rows + 1):
            cells = blank[:-1] if n == 250_000 else blank  # a column short: rejected
            f.write(",".join([*cells[:at], str(n), *cells[at + 1 :]]) + "\n")
    con.execute("SET threads = 2")
    loaded = load(con, tmp_path, "big.csv")
    assert (loaded.rows, loaded.rejected) == (rows - 1, 1)
    misplaced = con.execute(
        "SELECT count(*) FROM raw.thrivecart_transactions WHERE _row_number <> order_id::BIGINT"
    ).fetchone()[0]
    assert misplaced == 0


def test_reloading_a_file_changes_nothing(
    con: duckdb.DuckDBPyConnection, seller: dict[str, Path], tmp_path: Path
) -> None:
    data = seller["older"].read_bytes()
    (tmp_path / "x.csv").write_bytes(data + b"1,2\n")  # one bad row
    snapshot = "SELECT * EXCLUDE (_loaded_at) FROM raw.{} ORDER BY ALL"
    load(con, tmp_path, "x.csv")
    first = [
        con.execute(snapshot.format(t)).fetchall()
        for t in ("thrivecart_transactions", "rejected_rows")
    ]
    load(con, tmp_path, "x.csv")
    second = [
        con.execute(snapshot.format(t)).fetchall()
        for t in ("thrivecart_transactions", "rejected_rows")
    ]
    assert first == second
    assert len(first[1]) == 1
    assert con.execute("SELECT count(*) FROM raw.landing_files").fetchone()[0] == 1


def test_damaged_utf8_rows_are_rejected_not_the_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    header = ",".join(TRANSACTIONS_HEADER).encode()
    width = len(TRANSACTIONS_HEADER)
    typed = ("order_date", "order_time", "product_price", "sales_tax", "total")
    good = ",".join("-" if c in typed else "Zoë" for c in TRANSACTIONS_HEADER).encode()
    bad = ",".join(["x\xff"] * width).encode("latin-1")
    (tmp_path / "damaged.csv").write_bytes(b"\n".join([header, good, bad, good]) + b"\n")
    loaded = load(con, tmp_path, "damaged.csv")
    assert (loaded.encoding, loaded.rows, loaded.rejected) == ("utf-8", 2, 1)
    assert loaded.rejected_sample[0][0] == 3
    assert table_rows(con, "_row_number, company", "thrivecart_transactions") == [
        (1, "Zoë"),
        (3, "Zoë"),
    ]


def _assert_nothing_written(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("thrivecart_transactions", "rejected_rows", "landing_files"):
        assert con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0] == 0


def test_a_file_that_cannot_be_decoded_is_rejected_whole(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    header = ",".join(TRANSACTIONS_HEADER).encode()
    row = ",".join(["\x81\x8d"] * len(TRANSACTIONS_HEADER)).encode("latin-1")
    (tmp_path / "garbled.csv").write_bytes(header + b"\n" + row + b"\n")
    with pytest.raises(FileRejected, match="cannot be decoded"):
        load(con, tmp_path, "garbled.csv")
    _assert_nothing_written(con)


def test_a_file_with_no_readable_row_is_rejected_whole(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "short.csv").write_text(",".join(TRANSACTIONS_HEADER) + "\n1,2\n3,4\n")
    with pytest.raises(FileRejected, match=r"none of its rows could be read \(line 2: MISSING"):
        load(con, tmp_path, "short.csv")
    _assert_nothing_written(con)


def test_a_header_only_export_loads_no_rows(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text(",".join(TRANSACTIONS_HEADER) + "\r\n")
    loaded = load(con, tmp_path, "empty.csv")
    assert (loaded.rows, loaded.rejected) == (0, 0)
    assert con.execute("SELECT rows FROM raw.landing_files").fetchall() == [(0,)]


def test_changed_content_and_the_wrong_table_load_nothing(
    con: duckdb.DuckDBPyConnection, seller: dict[str, Path]
) -> None:
    path = seller["older"]
    with pytest.raises(ContentChanged, match="changed after it was detected"):
        load_export(con, ExportFile(path, "x.csv", "0" * 64), TRANSACTIONS, LOADED_AT)
    with pytest.raises(WrongExport, match=r"raw\.thrivecart_transactions, not"):
        load_export(con, ExportFile(path, "x.csv", file_sha256(path)), SUBSCRIPTIONS, LOADED_AT)
    _assert_nothing_written(con)
