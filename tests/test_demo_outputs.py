"""The demo seller's files, checked against docs/sources.md and against each other.

Two sellers are generated once per module: the default (UTC exports, two currencies) and one
whose exports are on New York time with a single currency. The truth is cross-checked by an
independent recount from the files themselves, the way the pipeline will read them.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline.demo import generate_seller, load_truth
from pipeline.phpform import decode_php_form, encode_php_form
from pipeline.settings import DEFAULT_DAY_N

SPEC_TRANSACTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,order_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,event,transaction_id,"
    "subscription_id,product_price,sales_tax,sales_tax_rate,total,business_info,email_verify"
)
SPEC_SUBSCRIPTIONS_HEADER = (
    "company,first_name,last_name,full_name,address_line1,address_city,address_state,address_zip,"
    "address_country,shipping_full_name,shipping_address_line1,shipping_address_city,"
    "shipping_address_state,shipping_address_zip,shipping_address_country,telephone,email,"
    "checkbox_confirmation,company_vat_number,subscription_id,order_date,order_time,processor,"
    "order_currency,coupon,campaign_id,affiliate_id,affiliate_name,relevant_item_name,"
    "relevant_item,relevant_item_id,relevant_item_pricing_option,subscription_id,frequency,amount,"
    "subscription_status,business_info,email_verify"
)
SUBSCRIPTION_COLUMNS = SPEC_SUBSCRIPTIONS_HEADER.split(",")
REQUIRED = {
    "order.success": ("order_id", "invoice_id", "customer", "order", "transactions", "purchases"),
    "order.subscription_payment": ("order_id", "invoice_id", "subscription", "date_unix"),
    "order.rebill_failed": ("order_id", "invoice_id", "subscription", "date_unix"),
    "order.refund": ("order_id", "event_id", "refund", "date_unix"),
    "order.subscription_cancelled": ("order_id", "subscription_id", "subscription", "date_unix"),
}
COMMON = ("event", "mode", "mode_int", "thrivecart_account", "thrivecart_secret", "currency")
QUOTE_CHARS = set(' ,"\t\r\n')


@dataclass
class Export:
    path: Path
    exported_at: int  # from the file name, local -> UTC
    header: str
    rows: list[list[str]]
    lines: list[str]  # raw data lines, without the newline

    def records(self) -> list[dict[str, str]]:
        """Rows by column name; a duplicate name keeps its first column."""
        columns = self.header.split(",")
        names = list(dict.fromkeys(columns))
        first = [columns.index(n) for n in names]
        return [dict(zip(names, (row[i] for i in first), strict=True)) for row in self.rows]


@dataclass
class Seller:
    out: Path
    zone: ZoneInfo
    truth: dict[str, Any]
    latest: Export
    older: Export
    recurring: Export
    limited: Export
    deliveries: list[dict[str, str]]
    payloads: list[dict[str, Any]]  # decoded, in delivery order


def _read_export(path: Path, zone: ZoneInfo) -> Export:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw, f"{path}: BOM or CRLF"
    text = raw.decode("utf-8")
    header_line, _, body = text.partition("\n")
    stamp = path.stem.rsplit(" ", 2)
    local = datetime.strptime(f"{stamp[1]} {stamp[2]}", "%Y-%m-%d %H_%M_%S")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    return Export(
        path,
        int(local.replace(tzinfo=zone).timestamp()),
        header_line,
        rows,
        body.split("\n")[:-1],
    )


def _decode(delivery: dict[str, str]) -> dict[str, Any]:
    if delivery["content_type"] == "application/json":
        return json.loads(delivery["body"])
    assert delivery["content_type"] == "application/x-www-form-urlencoded"
    return decode_php_form(delivery["body"])


@pytest.fixture(
    scope="module",
    params=[("UTC", True), ("America/New_York", False)],
    ids=["utc-two-currencies", "new-york-one-currency"],
)
def seller(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seller:
    timezone, second_currency = request.param
    out = tmp_path_factory.mktemp("seller")
    generate_seller(out, 400, 11, csv_timezone=timezone, second_currency=second_currency)
    zone = ZoneInfo(timezone)
    orders = sorted((out / "orders").iterdir())
    assert len(orders) == 2
    (recurring,) = (out / "subscriptions" / "recurring").iterdir()
    (limited,) = (out / "subscriptions" / "limited").iterdir()
    lines = (out / "_demo" / "deliveries.jsonl").read_text(encoding="utf-8").splitlines()
    deliveries = [json.loads(line) for line in lines]
    return Seller(
        out=out,
        zone=zone,
        truth=load_truth(out),
        latest=_read_export(orders[1], zone),
        older=_read_export(orders[0], zone),
        recurring=_read_export(recurring, zone),
        limited=_read_export(limited, zone),
        deliveries=deliveries,
        payloads=[_decode(d) for d in deliveries],
    )


def _utc(export: Export, record: dict[str, str], zone: ZoneInfo) -> int:
    local = datetime.fromisoformat(f"{record['order_date']} {record['order_time']}")
    return int(local.replace(tzinfo=zone).timestamp())


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


# --- CSV exports -------------------------------------------------------------------------


def test_exports_have_the_spec_headers_and_file_names(seller: Seller) -> None:
    for export in (seller.latest, seller.older):
        assert export.header == SPEC_TRANSACTIONS_HEADER
        assert export.path.name.startswith("ThriveCart Customer Export ")
    for export in (seller.recurring, seller.limited):
        assert export.header == SPEC_SUBSCRIPTIONS_HEADER
        assert SUBSCRIPTION_COLUMNS.count("subscription_id") == 2
        assert export.path.name.startswith("ThriveCart Subscription Export ")
    assert seller.older.exported_at < seller.latest.exported_at
    for export in (seller.latest, seller.older, seller.recurring, seller.limited):
        width = export.header.count(",") + 1
        assert export.rows and all(len(row) == width for row in export.rows)


def test_values_follow_the_export_conventions(seller: Seller) -> None:
    records = seller.latest.records()
    for record in records:
        assert record["address_zip"].endswith("\0") and record["shipping_address_zip"].endswith(
            "\0"
        )
        assert "" not in record.values(), "a missing value is written as '-'"
        assert record["event"] in {"charge", "rebill", "refund", "cancel"}
    assert any(r["address_zip"] == "-\0" for r in records)
    assert any("&amp;" in r["relevant_item_name"] for r in records)
    assert not any("&" in r["relevant_item_name"].replace("&amp;", "") for r in records)
    assert any(r["first_name"].endswith(" ") or r["last_name"].endswith(" ") for r in records)
    assert any(r["campaign_id"] == "paid-meta" for r in records)
    assert any(r["affiliate_id"] != "-" for r in records)
    assert any(r["total"] == "0.00" and r["event"] == "charge" for r in records)
    names_of_105 = {r["relevant_item_name"] for r in records if r["relevant_item_id"] == "105"}
    assert names_of_105 == {"Inner Circle", "Inner Circle Membership &amp; Community"}


def test_fields_are_quoted_exactly_like_php_fputcsv(seller: Seller) -> None:
    for export in (seller.latest, seller.recurring):
        for line, row in zip(export.lines, export.rows, strict=True):
            expected = ",".join(
                '"' + v.replace('"', '""') + '"' if QUOTE_CHARS & set(v) else v for v in row
            )
            assert line == expected


def test_each_export_uses_one_refund_sign_and_the_two_differ(seller: Seller) -> None:
    signs = []
    for export in (seller.latest, seller.older):
        refunds = [r for r in export.records() if r["event"] == "refund"]
        assert refunds and all(r["product_price"] == "-" for r in refunds)
        signs.append({r["total"].startswith("-") for r in refunds})
    assert signs == [{True}, {False}]


def test_refund_rows_are_dated_by_the_original_order(seller: Seller) -> None:
    records = seller.latest.records()
    charged = {
        r["order_id"]: (r["order_date"], r["order_time"]) for r in records if r["event"] == "charge"
    }
    refunds = [r for r in records if r["event"] == "refund"]
    assert refunds
    for refund in refunds:
        assert (refund["order_date"], refund["order_time"]) == charged[refund["order_id"]]


def test_the_older_export_is_the_start_of_the_latest_one(seller: Seller) -> None:
    def normalised(export: Export) -> Counter[tuple[str, ...]]:
        rows = Counter()
        for record in export.records():
            if record["event"] == "refund":
                record["total"] = record["total"].lstrip("-")
                record["sales_tax"] = record["sales_tax"].lstrip("-")
            rows[tuple(record.values())] += 1
        return rows

    older, latest = normalised(seller.older), normalised(seller.latest)
    assert not older - latest
    assert sum(latest.values()) > sum(older.values())


def test_no_row_is_dated_after_its_export(seller: Seller) -> None:
    for export in (seller.latest, seller.older):
        for record in export.records():
            assert _utc(export, record, seller.zone) <= export.exported_at


def test_subscription_exports_split_recurring_from_limited(seller: Seller) -> None:
    recurring, limited = seller.recurring.rows, seller.limited.rows
    first, second = [i for i, n in enumerate(SUBSCRIPTION_COLUMNS) if n == "subscription_id"]
    for rows, frequencies in ((recurring, {"month", "year"}), (limited, {"month"})):
        assert {row[SUBSCRIPTION_COLUMNS.index("frequency")] for row in rows} <= frequencies
        assert all(row[first].isdigit() for row in rows)
    processor_ids = [row[second] for row in recurring + limited]
    assert any(p.startswith("sub_") for p in processor_ids)
    assert any(p.startswith("I-") for p in processor_ids)
    assert "-" in processor_ids
    status = SUBSCRIPTION_COLUMNS.index("subscription_status")
    assert {row[status] for row in recurring} == {"active", "cancelled"}
    assert "completed" in {row[status] for row in limited}
    limited_ids = {row[first] for row in limited}
    sub_rows = [r for r in seller.latest.records() if r["subscription_id"] != "-"]
    assert limited_ids <= {r["subscription_id"] for r in sub_rows}


# --- webhook deliveries -------------------------------------------------------------------


def _all_strings(node: Any) -> bool:
    if isinstance(node, dict):
        return bool(node) and all(_all_strings(v) for v in node.values())
    if isinstance(node, list):
        return bool(node) and all(_all_strings(v) for v in node)
    return isinstance(node, str)


def test_every_delivery_decodes_to_a_complete_payload(seller: Seller) -> None:
    setup = datetime.fromisoformat(seller.truth["webhook_setup_at"])
    for delivery, payload in zip(seller.deliveries, seller.payloads, strict=True):
        assert datetime.fromisoformat(delivery["sent_at"]) >= setup
        assert _all_strings(payload)
        for name in (*COMMON, *REQUIRED[payload["event"]]):
            assert name in payload, f"{payload['event']} lacks {name}"
        assert payload["thrivecart_account"] == "demo-seller"
        assert payload["thrivecart_secret"] == "demo-secret"
        if delivery["content_type"] == "application/x-www-form-urlencoded":
            assert encode_php_form(payload) == delivery["body"]
        else:
            assert "/" not in delivery["body"].replace("\\/", ""), "PHP json_encode escapes /"


def test_deliveries_are_in_send_order_with_json_duplicates_and_test_mode(seller: Seller) -> None:
    sent = [d["sent_at"] for d in seller.deliveries]
    assert sent == sorted(sent)
    json_share = sum(d["content_type"] == "application/json" for d in seller.deliveries)
    assert 0.1 < json_share / len(sent) < 0.3
    bodies = Counter(d["body"] for d in seller.deliveries)
    assert sum(n == 2 for n in bodies.values()) >= 1 and max(bodies.values()) == 2
    assert any(p["mode"] == "test" and p["mode_int"] == "1" for p in seller.payloads)
    events = Counter(p["event"] for p in seller.payloads)
    assert set(events) == set(REQUIRED)


def test_success_transaction_ids_equal_the_csv_transaction_ids(seller: Seller) -> None:
    csv_ids = {
        (r["order_id"], f"{r['relevant_item']}-{r['relevant_item_id']}"): r["transaction_id"]
        for r in seller.latest.records()
        if r["event"] == "charge"
    }
    matched = 0
    for payload in seller.payloads:
        if payload["event"] != "order.success" or payload["mode"] != "live":
            continue
        for key, charge_id in payload["transactions"].items():
            expected = csv_ids.get((payload["order_id"], key))
            if expected is not None:
                assert charge_id == (expected if expected != "-" else "false")
                matched += 1
    assert matched > 10


def test_rebill_invoices_and_failed_retries(seller: Seller) -> None:
    failed = Counter()
    for payload in seller.payloads:
        if payload["event"] in ("order.subscription_payment", "order.rebill_failed"):
            index = payload["recurring_payment_idx"]
            assert payload["invoice_id"] == f"{payload['order']['invoice_id']}-{index}"
            assert payload["subscription"]["invoice_str"] == payload["invoice_id"]
            assert payload["order"]["date_unix"] < payload["date_unix"] or index == "0"
        if payload["event"] == "order.rebill_failed":
            failed[payload["invoice_id"]] += 1
    assert failed and max(failed.values()) >= 2, "a failing rebill repeats with its invoice"


def test_a_feed_gap_leaves_payments_after_setup_in_the_csv_only(seller: Seller) -> None:
    setup = int(datetime.fromisoformat(seller.truth["webhook_setup_at"]).timestamp())
    delivered_orders = {p["order_id"] for p in seller.payloads if p["event"] == "order.success"}
    csv_only = [
        r
        for r in seller.latest.records()
        if r["event"] == "charge"
        and _utc(seller.latest, r, seller.zone) >= setup
        and r["order_id"] not in delivered_orders
    ]
    assert csv_only


# --- truth.json ---------------------------------------------------------------------------


def test_truth_is_internally_consistent(seller: Seller) -> None:
    truth = seller.truth
    by_currency: dict[str, Decimal] = defaultdict(Decimal)
    cohorts: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for customer in truth["customers"]:
        assert customer["gross"] - customer["refunds"] == customer["net"]
        assert customer["email"] == customer["email"].strip().lower()
        assert not customer["email"].startswith("owner+test")
        by_currency[customer["currency"]] += customer["net"]
        if customer["cohort_month"] is not None:
            assert customer["cohort_month"] == customer["first_paid_at"][:8] + "01"
            cohort = cohorts[(customer["currency"], customer["cohort_month"])]
            cohort[0] += 1
            cohort[1] += customer["net"]
    keys = [(c["email"], c["currency"]) for c in truth["customers"]]
    assert len(keys) == len(set(keys))
    for total in truth["totals"]:
        assert total["charges"] + total["rebills"] - total["refunds"] == total["net"]
        assert total["net"] == by_currency[total["currency"]]
    assert {
        (c["currency"], c["cohort_month"]): [c["customers"], c["net"]] for c in truth["cohorts"]
    } == {key: value for key, value in cohorts.items()}
    segments: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for row in truth["day_n"]:
        acquired = sum(c["customers"] for c in truth["cohorts"] if c["currency"] == row["currency"])
        assert acquired >= row["customers"] >= row["eligible_customers"]
        totals = segments[(row["currency"], row["segment_type"], row["day_n"])]
        totals[0] += row["customers"]
        totals[1] += row["eligible_customers"]
    # Every segment type splits the same customers: its values add up to segment `all`.
    for (currency, _, n), totals in segments.items():
        assert totals == segments[(currency, "all", n)]
    assert truth["currencies"] == [t["currency"] for t in truth["totals"]]


def test_subscription_sections_add_up(seller: Seller) -> None:
    """The movements lead from each month's opening to its closing, which the next month
    opens with; the statuses of failed rebills and split-pay plans add up to their counts."""
    truth = seller.truth
    previous: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for row in truth["mrr_monthly"]:
        key = (row["account"], row["currency"])
        assert (row["opening_mrr"], row["opening_subscribers"]) == previous.get(key, (0, 0))
        moved = sum(row[f"{m}_mrr"] for m in ("new", "expansion", "reactivation", "contraction"))
        assert row["opening_mrr"] + moved + row["churned_mrr"] == row["closing_mrr"]
        assert row["churned_mrr"] == row["churned_mrr_voluntary"] + row["churned_mrr_delinquent"]
        assert row["churned_subscribers"] == (
            row["churned_subscribers_voluntary"] + row["churned_subscribers_delinquent"]
        )
        assert row["closing_subscribers"] == (
            row["opening_subscribers"]
            + row["new_subscribers"]
            + row["reactivated_subscribers"]
            - row["churned_subscribers"]
        )
        previous[key] = (row["closing_mrr"], row["closing_subscribers"])
    for row in truth["subscription_retention_cohorts"]:
        assert row["subscribers"] >= row["retained_subscribers"]
    for row in truth["failed_payment_recovery"]:
        assert row["failed_rebills"] == row["recovered"] + row["not_recovered"] + row["pending"]
    for row in truth["split_pay_plans"]:
        assert row["plans"] == row["completed"] + row["cancelled"] + row["active"]


def _months_after(month: str, months: int) -> str:
    """The first day of the month `months` after `month` (`YYYY-MM-01`)."""
    start = date.fromisoformat(month)
    years, index = divmod(start.month - 1 + months, 12)
    return date(start.year + years, index + 1, 1).isoformat()


def test_retention_cohorts_add_up_to_each_months_closing_mrr(seller: Seller) -> None:
    """Every subscriber is in exactly one start month's cohort, so at each month end the
    cohorts' retained subscribers and MRR add up to mrr_monthly's closing ones: the two
    sections are tallied apart and must agree. Both run month by month, none skipped, to
    as_of's month, the only one not complete."""
    truth = seller.truth
    retained: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0])
    for row in truth["subscription_retention_cohorts"]:
        month = _months_after(row["start_month"], row["months_since_start"])
        cell = retained[(row["account"], row["currency"], month)]
        cell[0] += row["retained_mrr"]
        cell[1] += row["retained_subscribers"]
    closing = {
        (row["account"], row["currency"], row["month"]): [
            row["closing_mrr"],
            row["closing_subscribers"],
        ]
        for row in truth["mrr_monthly"]
    }
    assert closing and dict(retained) == closing
    months: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
    for row in truth["mrr_monthly"]:
        months[(row["account"], row["currency"])].append((row["month"], row["is_month_complete"]))
    as_of_month = truth["as_of"][:8] + "01"
    for rows in months.values():
        first = rows[0][0]
        assert rows[-1] == (as_of_month, False)
        assert rows == [(_months_after(first, k), k < len(rows) - 1) for k in range(len(rows))]


def test_repeat_purchase_sections_count_every_acquired_customer_once(seller: Seller) -> None:
    """The three repeat-purchase sections split the cohorts' customers and orders alike, and
    each first product's paths add up to its buyers."""
    truth = seller.truth
    acquired = Counter()
    for c in truth["cohorts"]:
        acquired[c["currency"]] += c["customers"]
    totals: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for row in truth["repeat_purchase_cohorts"]:
        assert row["account"] == truth["account"]
        for name in ("customers", "repeat_customers", "orders"):
            totals["cohorts"][name][row["currency"]] += row[name]
    for row in truth["customers_by_order_count"]:
        currency, n = row["currency"], row["orders_count"]
        totals["counts"]["customers"][currency] += row["customers"]
        totals["counts"]["orders"][currency] += n * row["customers"]
        totals["counts"]["repeat_customers"][currency] += row["customers"] if n >= 2 else 0
    paths: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in truth["product_paths"]:
        one_order = row["next_product_id"] == "(none)"
        assert (row["next_product_name"] is None) == one_order
        assert (row["median_days_between"] is None) == one_order
        totals["paths"]["customers"][row["currency"]] += row["customers"]
        totals["paths"]["repeat_customers"][row["currency"]] += 0 if one_order else row["customers"]
        paths[(row["currency"], row["first_product_id"])].append(row)
    assert totals["cohorts"]["customers"] == acquired
    assert totals["counts"] == {name: totals["cohorts"][name] for name in totals["counts"]}
    assert totals["paths"] == {name: totals["cohorts"][name] for name in totals["paths"]}
    for rows in paths.values():
        assert {r["first_product_buyers"] for r in rows} == {sum(r["customers"] for r in rows)}


def _customer_key(email: str, currency: str) -> tuple[str, str]:
    return email.strip().lower(), currency


@dataclass
class Recount:
    """Payments per customer, read back from the files the way the pipeline will."""

    payments: dict[tuple[str, str], list[tuple[str, int, int]]]  # (kind, cents, paid_at)
    order_ids: dict[tuple[str, str], set[str]]
    as_of: int


def _event_time(payload: dict[str, Any]) -> int:
    return int(payload.get("date_unix") or payload["order_timestamp"])


def _webhook_payments(payload: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(kind, signed cents, item key) of one decoded live payload."""
    event = payload["event"]
    if event == "order.success":
        return [
            ("charge", int(c["amount_gross"]), f"{c['item_type']}-{c['reference']}")
            for c in payload["order"]["charges"]
        ]
    if event == "order.subscription_payment":
        sub = payload["subscription"]
        return [("rebill", int(sub["amount_gross"]), f"{sub['type']}-{sub['id']}")]
    if event == "order.refund":
        refund = payload["refund"]
        return [("refund", -int(refund["amount_gross"]), f"{refund['type']}-{refund['id']}")]
    return []


def _recount(seller: Seller) -> Recount:
    export = seller.latest
    payments: dict[tuple[str, str], list[tuple[str, int, int]]] = defaultdict(list)
    order_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    refund_webhooks: dict[tuple[str, str], int] = {}
    as_of = 0
    unique = {json.dumps(p, sort_keys=True): p for p in seller.payloads if p["mode"] == "live"}
    for payload in unique.values():
        at = _event_time(payload)
        as_of = max(as_of, at)
        key = _customer_key(payload["customer"]["email"], payload["currency"])
        for kind, cents, item in _webhook_payments(payload):
            if kind == "refund":
                refund_webhooks[(payload["order_id"], item)] = at
            if at > export.exported_at:  # after the latest export: known from the webhook only
                payments[key].append((kind, cents, at))
                if kind == "charge":
                    order_ids[key].add(payload["order_id"])
    for record in export.records():
        at = _utc(export, record, seller.zone)
        as_of = max(as_of, at)
        if record["event"] == "cancel":
            continue
        key = _customer_key(record["email"], record["order_currency"])
        cents = _cents(record["total"])
        if record["event"] == "refund":
            item = f"{record['relevant_item']}-{record['relevant_item_id']}"
            at = refund_webhooks.get((record["order_id"], item), at)
            cents = -abs(cents)
        payments[key].append((record["event"], cents, at))
        if record["event"] == "charge":
            order_ids[key].add(record["order_id"])
    return Recount(dict(payments), dict(order_ids), as_of)


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_truth_matches_an_independent_recount_from_the_files(seller: Seller) -> None:
    recount = _recount(seller)
    truth = seller.truth
    assert truth["as_of"] == _iso(recount.as_of)
    customers = {(c["email"], c["currency"]): c for c in truth["customers"]}
    assert set(customers) == set(recount.payments)
    for key, payments in recount.payments.items():
        customer = customers[key]
        gross = sum(c for kind, c, _ in payments if kind != "refund")
        refunds = -sum(c for kind, c, _ in payments if kind == "refund")
        assert (customer["gross"], customer["refunds"]) == (
            Decimal(gross) / 100,
            Decimal(refunds) / 100,
        ), key
        paid = [at for kind, c, at in payments if kind != "refund" and c > 0]
        assert customer["first_paid_at"] == (_iso(min(paid)) if paid else None), key
        assert customer["orders_count"] == len(recount.order_ids[key])
        assert customer["rebills_count"] == sum(kind == "rebill" for kind, _, _ in payments)


def test_acquisition_traffic_matches_the_passthrough_in_the_log(seller: Seller) -> None:
    """A customer's utm_* are those of the live order.success of their first order, read
    from the decoded deliveries; no such delivery is "(not tracked)", a missing key "(none)"."""
    passthrough = {
        p["order_id"]: p.get("passthrough", {})
        for p in seller.payloads
        if p["mode"] == "live" and p["event"] == "order.success"
    }
    tracked = Counter()
    for customer in seller.truth["customers"]:
        order = customer["first_order_id"]
        for key in ("utm_source", "utm_medium", "utm_campaign"):
            if order is None:
                want = None
            elif order not in passthrough:
                want = "(not tracked)"
            else:
                want = passthrough[order].get(key, "(none)")
            assert customer[f"acquisition_{key}"] == want, (customer["email"], key)
        tracked[customer["acquisition_utm_source"]] += 1
    # The seller has customers of every kind: untracked history, tracked without UTMs, sources.
    assert tracked["(not tracked)"] and tracked["(none)"] and len(tracked) >= 5, tracked


def test_day_n_matches_an_independent_recount(seller: Seller) -> None:
    recount = _recount(seller)
    as_of_day = datetime.fromtimestamp(recount.as_of, UTC).date()
    expected: dict[tuple[str, int], list] = defaultdict(lambda: [0, 0, 0])
    for (_, currency), payments in recount.payments.items():
        paid = [at for kind, c, at in payments if kind != "refund" and c > 0]
        if not paid:
            continue
        first_day = datetime.fromtimestamp(min(paid), UTC).date()
        for n in DEFAULT_DAY_N:
            row = expected[(currency, n)]
            row[0] += 1
            last_day = first_day + timedelta(days=n)
            if last_day <= as_of_day:
                row[1] += 1
                row[2] += sum(
                    c for _, c, at in payments if datetime.fromtimestamp(at, UTC).date() <= last_day
                )
    actual = {
        (r["currency"], r["day_n"]): [
            r["customers"],
            r["eligible_customers"],
            int(r["net_revenue"] * 100),
        ]
        for r in seller.truth["day_n"]
        if r["segment_type"] == "all"
    }
    assert actual == {key: value for key, value in expected.items()}
    assert date.fromisoformat(seller.truth["as_of"][:10]) == as_of_day


def test_one_time_only_flags_customers_without_subscription_payments(seller: Seller) -> None:
    with_subscription = {
        _customer_key(r["email"], r["order_currency"])
        for r in seller.latest.records()
        if r["subscription_id"] != "-"
    }
    flags = {(c["email"], c["currency"]): c["one_time_only"] for c in seller.truth["customers"]}
    assert any(flags.values()) and not all(flags.values())
    for key in with_subscription:
        assert flags[key] is False


def test_the_same_person_appears_under_several_spellings_and_ids(seller: Seller) -> None:
    spellings = defaultdict(set)
    for record in seller.latest.records():
        spellings[_customer_key(record["email"], record["order_currency"])].add(record["email"])
    assert any(len(s) > 1 for s in spellings.values())
    assert any(" " in e for s in spellings.values() for e in s)
    ids = [len(c["thrivecart_customer_ids"]) for c in seller.truth["customers"]]
    assert max(ids) == 2 and all(
        len(i) > 15 for c in seller.truth["customers"] for i in c["thrivecart_customer_ids"]
    )
