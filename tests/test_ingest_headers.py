"""Header detection, the alias table, folder kinds and whole-file rejections (no DuckDB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest.headers import (
    SUBSCRIPTIONS,
    TRANSACTIONS,
    UnrecognisedHeader,
    disambiguate,
    match_header,
    normalise,
)
from pipeline.ingest.landing import folder_kind
from pipeline.ingest.rejection import FileRejected
from pipeline.ingest.sniff import read_export_head

# Copied from docs/interfaces.md and docs/sources.md, independently of the code's own constants.
_SPEC_TRANSACTIONS = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,order_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,event,transaction_id,"
    "subscription_id,product_price,sales_tax,sales_tax_rate,total,business_info,email_verify"
)
_SPEC_SUBSCRIPTIONS = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,subscription_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,subscription_id,frequency,"
    "amount,subscription_status,business_info,email_verify"
)
TRANSACTIONS_HEADER = _SPEC_TRANSACTIONS.split(",")
SUBSCRIPTIONS_HEADER = _SPEC_SUBSCRIPTIONS.split(",")


def test_the_spec_headers_are_recognised_completely() -> None:
    transactions = match_header(TRANSACTIONS_HEADER)
    subscriptions = match_header(SUBSCRIPTIONS_HEADER)
    assert transactions.export == TRANSACTIONS
    assert subscriptions.export == SUBSCRIPTIONS
    for match in (transactions, subscriptions):
        assert match.missing == ()
        assert match.extra == ()


def test_both_subscription_ids_are_kept_in_file_order() -> None:
    match = match_header(SUBSCRIPTIONS_HEADER)
    ids = [t for t in match.targets if t and t.startswith("subscription_id")]
    assert ids == ["subscription_id", "subscription_id_2"]
    assert match.targets.index("subscription_id") < match.targets.index("subscription_id_2")


@given(st.permutations(TRANSACTIONS_HEADER))
def test_reordered_columns_map_by_name(header: list[str]) -> None:
    match = match_header(header)
    assert list(match.targets) == header
    assert match.missing == ()


def test_spreadsheet_spellings_missing_and_extra_columns() -> None:
    header = [
        "Order ID",
        "Order Date",
        "Event",
        "Transaction ID",
        "Total",
        "Email Address",
        "Currency",
        "Notes",
        "",
    ]
    match = match_header(header)
    assert match.export == TRANSACTIONS
    assert match.targets[:7] == (
        "order_id",
        "order_date",
        "event",
        "transaction_id",
        "total",
        "email",
        "order_currency",
    )
    assert match.extra == ("notes", "column_9")
    assert "company" in match.missing and "email" not in match.missing


def test_an_alias_never_overrides_the_real_column() -> None:
    match = match_header([*TRANSACTIONS_HEADER, "email_address"])
    assert match.targets[TRANSACTIONS_HEADER.index("email")] == "email"
    assert match.extra == ("email_address",)


def test_normalise_and_disambiguate() -> None:
    assert normalise("\ufeff Order ID ", 1) == "order_id"
    assert normalise("Straße / Nr.", 2) == "strasse_nr"
    assert normalise("  ", 3) == "column_3"
    assert disambiguate(["id", "id", "id_2", "x"]) == ["id", "id_2", "id_2_2", "x"]


@given(st.lists(st.sampled_from(["a", "a_2", "b", "id", "id_2"]), max_size=12))
def test_disambiguated_names_are_unique_and_keep_the_first(names: list[str]) -> None:
    result = disambiguate(names)
    assert len(set(result)) == len(result) == len(names)
    for name, new in zip(names, result, strict=True):
        assert new == name or new.startswith(f"{name}_")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["name", "email", "amount"], "is not the header of a ThriveCart"),
        (["email", "event", "total", "transaction_id"], "no 'order_id' column"),
        (["order_id", "subscription_id", "event", "total", "amount", "frequency"], "is not the"),
    ],
)
def test_unrecognised_headers_say_what_was_expected(header: list[str], expected: str) -> None:
    with pytest.raises(UnrecognisedHeader) as err:
        match_header(header)
    assert expected in str(err.value)
    assert err.value.fix


def _write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_semicolon_and_tab_files_from_spreadsheets_are_recognised(tmp_path: Path) -> None:
    for delimiter in (";", "\t"):
        data = (delimiter.join(TRANSACTIONS_HEADER) + "\r\n").encode("cp1252")
        head = read_export_head(_write(tmp_path, data))
        assert (head.match.export, head.delimiter) == (TRANSACTIONS, delimiter)


def test_a_bom_and_crlf_do_not_disturb_the_header(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + ",".join(SUBSCRIPTIONS_HEADER).encode() + b"\r\n1,2\r\n"
    head = read_export_head(_write(tmp_path, data))
    assert head.match.export == SUBSCRIPTIONS
    assert head.match.targets[0] == "company"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "the file is empty"),
        (b"\n\r\n  \n", "only blank lines"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003"),
        ("company,order_id\n".encode("utf-16"), "UTF-16"),
        (b"\x00\x01\x02garbage\x03\n", "looks binary"),
        (b"x" * 70_000, "longer than 64 KiB"),
        (b"\x81\x8d\x8f,\x90\x9d\n", "cannot be decoded"),
        (b"just,some,columns\n1,2,3\n", "unrecognised header"),
    ],
)
def test_unusable_files_are_rejected_with_problem_and_fix(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    with pytest.raises(FileRejected) as err:
        read_export_head(_write(tmp_path, data))
    assert problem in err.value.problem
    assert err.value.fix


@pytest.mark.parametrize(
    ("rel_path", "kind"),
    [
        ("orders/ThriveCart Customer Export.csv", "orders"),
        ("Orders/2024/x.csv", "orders"),
        ("subscriptions/recurring/a.csv", "recurring"),
        ("subscriptions/limited/sub/a.csv", "limited"),
        ("subscriptions/a.csv", None),
        ("a.csv", None),
        ("other/orders/a.csv", None),
    ],
)
def test_folders_declare_kinds(rel_path: str, kind: str | None) -> None:
    assert folder_kind(rel_path) == kind
