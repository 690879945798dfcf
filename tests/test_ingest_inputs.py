"""The cost, ad spend and exchange-rate files (docs/costs.md): each format loads with its exact
typed values, bad rows go to raw.rejected_rows with their line while the rest loads, a file
that fits no format is rejected with what the folder takes, and the ledger treats them as it
treats exports (routing, one load per content, forgetting)."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest.csv_load import ExportFile
from pipeline.ingest.forget import forget
from pipeline.ingest.input_load import load_landing_file
from pipeline.ingest.landing import file_sha256, pending_files
from pipeline.ingest.rejection import FileRejected
from pipeline.warehouse import ensure_raw_schema

LOADED_AT = datetime(2025, 6, 1, 12, 0, 0)
META = """Reporting starts,Reporting ends,Campaign name,Day,Amount spent (EUR),Impressions
2025-03-01,2025-03-01,spring,2025-03-01,10.50,100
2025-03-01,2025-03-01,retarget,2025-03-01,3.00,100
2025-03-02,2025-03-02,spring,2025-03-02,"1,200.00",100
2025-03-02,2025-03-02,retarget,2025-03-02,4.25,100
2025-03-03,2025-03-03,spring,2025-03-03,0.99,100
2025-03-03,2025-03-03,retarget,2025-03-03,0,100
"""
GOOGLE = """Campaign report
"March 1, 2025 - March 2, 2025"
Day,Campaign,Currency code,Cost,Impr.,Clicks
2025-03-01,brand,USD,"1,234.56",10,1
2025-03-02,course-search,USD,7.00,10,1
Total: Account,--,USD,"1,241.56",20,2
"""
ECB = """Date,USD,JPY,CYP,GBP,
2025-03-04,1.0465,157.21,N/A,0.8290,
2025-03-03,1.0420,N/A,N/A,0.8263,
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_raw_schema(connection)
    return connection


def load(con: duckdb.DuckDBPyConnection, root: Path, rel_path: str, data: bytes) -> str:
    """Drop `data` at `rel_path` and load it the way a run does; returns its export."""
    path = root / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    (pending,) = pending_files(root, set(), time.time_ns() + 10**11)
    file = ExportFile(path, rel_path, pending.sha256)
    load_landing_file(con, file, pending.export, LOADED_AT)
    return pending.export


def test_a_meta_export_names_its_currency_in_the_spend_column(con, tmp_path) -> None:
    assert load(con, tmp_path, "ad_spend/meta.csv", META.encode()) == "ad_spend"
    rows = con.execute(
        "select spend_date, channel, campaign, currency, spend, format, _row_number "
        "from raw.ad_spend order by _row_number"
    ).fetchall()
    assert len(rows) == 6
    assert rows[2] == (date(2025, 3, 2), "facebook", "spring", "EUR", Decimal("1200.00"), "meta", 3)
    assert [r[4] for r in rows] == [
        Decimal(v) for v in ("10.50", "3.00", "1200.00", "4.25", "0.99", "0")
    ]


@pytest.mark.parametrize(
    "encoded",
    [GOOGLE.encode(), GOOGLE.replace(",", "\t").replace('"1\t2', '"1,2').encode("utf-16")],
    ids=["csv", "excel-utf16-tabs"],
)
def test_a_google_ads_report_skips_its_title_and_total(con, tmp_path, encoded: bytes) -> None:
    load(con, tmp_path, "ad_spend/google.csv", encoded)
    assert con.execute(
        "select spend_date, channel, campaign, currency, spend from raw.ad_spend order by 1"
    ).fetchall() == [
        (date(2025, 3, 1), "google", "brand", "USD", Decimal("1234.56")),
        (date(2025, 3, 2), "google", "course-search", "USD", Decimal("7.00")),
    ]
    notes = con.execute("select notes from raw.landing_files").fetchone()[0]
    assert notes == ["skipped 1 total row(s)"]


def test_the_ecb_file_loads_each_rate_and_skips_na(con, tmp_path) -> None:
    load(con, tmp_path, "fx_rates/eurofxref-hist.csv", ECB.encode())
    rows = con.execute("select rate_date, base, currency, rate from raw.fx_rates order by all")
    assert rows.fetchall() == [
        (date(2025, 3, 3), "EUR", "GBP", Decimal("0.8263")),
        (date(2025, 3, 3), "EUR", "USD", Decimal("1.0420")),
        (date(2025, 3, 4), "EUR", "GBP", Decimal("0.8290")),
        (date(2025, 3, 4), "EUR", "JPY", Decimal("157.21")),
        (date(2025, 3, 4), "EUR", "USD", Decimal("1.0465")),
    ]


def test_a_plain_rate_file_with_and_without_base(con, tmp_path) -> None:
    text = "date,currency,rate,base\n2025-03-01,usd,1.05,\n2025-03-01,EUR,0.92,USD\n"
    load(con, tmp_path, "fx_rates/mine.csv", text.encode())
    assert con.execute(
        "select base, currency, rate, format from raw.fx_rates order by 1"
    ).fetchall() == [
        ("EUR", "USD", Decimal("1.05"), "plain"),
        ("USD", "EUR", Decimal("0.92"), "plain"),
    ]


def test_bad_rows_are_rejected_with_their_line_and_the_rest_loads(con, tmp_path) -> None:
    text = (
        "processor,fee_percent,fee_fixed,currency,valid_from,account\n"
        "stripe,2.9,0.30,USD,2024-01-01,\n"
        "paypal,3.49,0.49,XYZ,2024-01-01,\n"
        "stripe,-1,0.30,EUR,2024-01-01,\n"
        ",2.0,0.10,USD,2024-01-01,\n"
        "thrivepay,2.0,0.20,USD,2024-02-30,Shop\n"
        "*,3.0,,GBP,2024-01-01,Shop\n"
    )
    load(con, tmp_path, "costs/fees.csv", text.encode())
    assert con.execute(
        "select account, processor, currency, fee_percent, fee_fixed from raw.processor_fees"
        " order by processor"
    ).fetchall() == [
        ("shop", "*", "GBP", Decimal("3.0000"), Decimal("0.00")),
        ("*", "stripe", "USD", Decimal("2.9000"), Decimal("0.30")),
    ]
    rejected = con.execute("select line, reason from raw.rejected_rows order by line").fetchall()
    assert rejected == [
        (3, "currency 'XYZ' is not an ISO 4217 code (USD, EUR, …)"),
        (4, "fee_percent '-1' is negative"),
        (5, "processor is empty"),
        (6, "date '2024-02-30' is not YYYY-MM-DD"),
    ]


def test_a_spreadsheet_resave_loads_the_same_values(con, tmp_path) -> None:
    text = (
        "product_id;cost_per_sale;currency;valid_from;item_type\r\n"
        "101;1.234,50 €;usd;23/04/2024;Bump\r\n"
        "102;19,70;USD;01/05/2024;\r\n"
    )
    load(con, tmp_path, "Costs/products.csv", b"\xef\xbb\xbf" + text.encode())
    assert con.execute(
        "select item_type, product_id, currency, cost_per_sale, valid_from"
        " from raw.product_costs order by product_id"
    ).fetchall() == [
        ("bump", "101", "USD", Decimal("1234.50"), date(2024, 4, 23)),
        ("product", "102", "USD", Decimal("19.70"), date(2024, 5, 1)),
    ]


def test_a_file_no_format_fits_is_rejected_with_what_the_folder_takes(con, tmp_path) -> None:
    export = "order_id,order_date,event,total\n1,2024-01-01,charge,10.00\n"
    with pytest.raises(FileRejected) as caught:
        load(con, tmp_path, "costs/orders.csv", export.encode())
    message = str(caught.value)
    assert "processor fees (plain): currency, fee_percent, processor, valid_from" in message
    assert "product costs (plain)" in message and "docs/costs.md" in caught.value.fix
    assert con.execute("select count(*) from raw.landing_files").fetchone() == (0,)


def test_a_file_that_is_no_text_is_routed_and_rejected_not_a_crash(con, tmp_path) -> None:
    # 0x81 is undefined in Windows-1252 and not UTF-8: neither decoding reads it.
    binary = b"date,currency,rate\n2024-01-02,USD,1.1\x81\n"
    with pytest.raises(FileRejected) as caught:
        load(con, tmp_path, "fx_rates/rates.csv", binary)
    assert "neither UTF-8 nor Windows-1252" in str(caught.value)
    assert "CSV UTF-8" in caught.value.fix
    assert con.execute("select count(*) from raw.landing_files").fetchone() == (0,)


def test_the_same_content_loads_once_and_forgetting_removes_it(con, tmp_path) -> None:
    load(con, tmp_path, "fx_rates/a.csv", ECB.encode())
    (tmp_path / "fx_rates" / "copy.csv").write_bytes(ECB.encode())
    known = {sha for (sha,) in con.execute("select sha256 from raw.landing_files").fetchall()}
    assert pending_files(tmp_path, known, time.time_ns() + 10**11) == []
    assert forget(con, file_sha256(tmp_path / "fx_rates" / "a.csv")) == 5
    assert con.execute("select count(*) from raw.fx_rates").fetchone() == (0,)
