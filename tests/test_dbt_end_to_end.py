"""Generated sellers through the pipeline's own parts into the marts, checked against the
generator's truth.json to the cent: every customer, every cohort, day N, the totals, as_of.

The small seller's exports are on a New York clock (LTV_CSV_TIMEZONE), so every CSV-only
payment's date depends on the conversion. It is built twice: once as the files come, once with
the exports and log days loaded in reverse and then all loaded a second time; the marts must be
identical. The large seller has ~100k rows in its latest export.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_dbt_support import (
    Seller,
    aggregate_mismatches,
    built_once,
    customer_mismatches,
    generate_and_replay,
    load_landing,
    marts_differences,
    mismatch_report,
    reload_everything,
    run_dbt,
    settings_for,
    truth_mismatches,
    truth_section_mismatches,
)

from pipeline.demo import load_truth
from pipeline.settings import Settings

SMALL_CLOCK = {"LTV_CSV_TIMEZONE": "America/New_York"}


def _small_settings(root: Path) -> Settings:
    return settings_for(root, **SMALL_CLOCK)


def _reordered_settings(small_root: Path) -> Settings:
    """The small seller's landing folder, loaded into a warehouse of its own."""
    warehouse = small_root / "reordered" / "ltv.duckdb"
    return settings_for(small_root, LTV_WAREHOUSE=str(warehouse), **SMALL_CLOCK)


def _build_small(root: Path) -> None:
    settings = _small_settings(root)
    generate_and_replay(settings, customers=400, seed=11)
    load_landing(settings)
    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")

    reordered = _reordered_settings(root)
    load_landing(
        reordered,
        order=lambda files: files[::-1],
        webhook_days=lambda days: [[day] for day in reversed(days)],
    )
    reload_everything(reordered)
    run_dbt(reordered, "build", "--exclude", "resource_type:unit_test")


def _build_large(root: Path) -> None:
    settings = settings_for(root)
    generate_and_replay(settings, customers=25_000, seed=12)
    load_landing(settings)
    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with built_once(tmp_path_factory, "dbt-seller-11", _build_small) as root:
        yield root


@pytest.fixture(scope="module")
def small_seller(small_root: Path) -> Seller:
    settings = _small_settings(small_root)
    return Seller(settings, load_truth(settings.landing_dir))


@pytest.fixture(scope="module")
def large_seller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seller]:
    with built_once(tmp_path_factory, "dbt-seller-12", _build_large) as root:
        settings = settings_for(root)
        yield Seller(settings, load_truth(settings.landing_dir))


def test_every_customer_matches_truth(small_seller: Seller) -> None:
    assert len(small_seller.truth["customers"]) > 350
    with small_seller.connect() as con:
        problems = customer_mismatches(con, small_seller.truth)
    assert not problems, mismatch_report(problems)


def test_totals_cohorts_day_n_and_as_of_match_truth(small_seller: Seller) -> None:
    with small_seller.connect() as con:
        problems = aggregate_mismatches(con, small_seller.truth)
    assert not problems, mismatch_report(problems)


def test_repeat_purchase_and_subscription_marts_match_truth(small_seller: Seller) -> None:
    truth = small_seller.truth
    assert sum(row["repeat_customers"] for row in truth["repeat_purchase_cohorts"]) > 50
    assert len(truth["product_paths"]) > 20
    # The seller exercises every subscription rule the marts are compared on.
    mrr = truth["mrr_monthly"]
    for column in ("expanded", "contracted", "reactivated", "churned_subscribers_delinquent"):
        name = column if column.startswith("churned") else f"{column}_subscribers"
        assert sum(row[name] for row in mrr) > 0, name
    failures = truth["failed_payment_recovery"]
    assert all(sum(row[k] for row in failures) > 0 for k in ("recovered", "not_recovered"))
    plans = truth["split_pay_plans"]
    assert all(sum(row[k] for row in plans) > 0 for k in ("completed", "cancelled", "active"))
    with small_seller.connect() as con:
        problems = truth_section_mismatches(con, truth)
    assert not problems, mismatch_report(problems)


def test_the_seller_exercises_the_repeat_purchase_rules(small_seller: Seller) -> None:
    """Guards the comparison with truth against a seller too simple to test the order rules:
    free orders that are no purchase, refunded orders that are, orders bought through a rebill
    after a 100% coupon, and a product renamed between purchases."""
    with small_seller.connect() as con:
        orders = con.execute(
            """select
                   count(*) filter (where not charged),
                   count(*) filter (where refunded),
                   count(distinct product_name) filter (where product_id = '105')
               from intermediate.int_customer_orders_ranked
               left join (
                   select customer_id, currency, order_id,
                          bool_or(payment_type = 'charge' and amount > 0) as charged,
                          bool_or(payment_type = 'refund') as refunded
                   from marts.fct_payments group by all
               ) using (customer_id, currency, order_id)"""
        ).fetchone()
        free_orders = con.execute(
            """select count(*) from (
                   select order_id from marts.fct_payments group by order_id
                   having max(amount) = 0 and bool_or(payment_type = 'charge'))"""
        ).fetchone()[0]
    bought_by_rebill, refunded, membership_names = orders
    assert bought_by_rebill > 0
    assert refunded > 20
    assert membership_names == 2
    assert free_orders > 5


def test_the_seller_exercises_every_source_overlap(small_seller: Seller) -> None:
    """Guards the truth comparison against a seller too simple to test the dedupe rules."""
    with small_seller.connect() as con:
        seen = dict(
            con.execute(
                """select coalesce(matched_by, source), count(*) from marts.fct_payments
                   group by all"""
            ).fetchall()
        )
        dated_by_order = con.execute(
            "select count(*) from marts.fct_payments where is_dated_by_order"
        ).fetchone()[0]
        in_both_exports = con.execute(
            "select count(*) from intermediate.int_csv_payments_deduplicated where copies_seen > 1"
        ).fetchone()[0]
    assert {"csv", "webhook", "natural_key", "transaction_id"} <= seen.keys(), seen
    assert dated_by_order > 0
    assert in_both_exports > 0


def test_test_mode_orders_stay_in_staging(small_seller: Seller) -> None:
    """The generator's seller places test orders (owner+test…@): flagged, never counted."""
    with small_seller.connect() as con:
        flagged = con.execute(
            """select count(*) from staging.stg_thrivecart__webhook_events
               where is_test and email like 'owner+test%'"""
        ).fetchone()[0]
        leaked = con.execute(
            """select count(*) from (
                   select email from marts.fct_payments union all
                   select email from marts.dim_customers union all
                   select email from marts.dim_subscriptions)
               where email like 'owner+test%'"""
        ).fetchone()[0]
    assert flagged > 0
    assert leaked == 0


def _exported_subscriptions(landing: Path) -> dict[str, dict[str, Any]]:
    """The Subscriptions exports read independently of the pipeline: subscription id ->
    the folder's kind and the columns dim_subscriptions takes from the export."""
    exported = {}
    for kind in ("recurring", "limited"):
        for path in (landing / "subscriptions" / kind).glob("*.csv"):
            with path.open(newline="", encoding="utf-8") as export:
                reader = csv.reader(export)
                header = next(reader)
                ours, processors = (i for i, name in enumerate(header) if name == "subscription_id")
                column = {name: i for i, name in enumerate(header) if name != "subscription_id"}
                for row in reader:
                    exported[row[ours]] = {
                        "kind": kind,
                        "product_id": row[column["relevant_item_id"]],
                        "frequency": row[column["frequency"]],
                        "amount": Decimal(row[column["amount"]]),
                        "currency": row[column["order_currency"]],
                        "processor_subscription_id": None
                        if row[processors] == "-"
                        else row[processors],
                        "status": row[column["subscription_status"]],
                    }
    return exported


def test_subscriptions_keep_what_the_exports_say(small_seller: Seller) -> None:
    exported = _exported_subscriptions(small_seller.settings.landing_dir)
    with small_seller.connect() as con:
        cursor = con.execute(
            """select subscription_id, kind, product_id, frequency, amount, currency,
                      processor_subscription_id, status, cancelled_at
               from marts.dim_subscriptions"""
        )
        names = [column[0] for column in cursor.description]
        built = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        # Rule 4's outcome: a subscription's first payment is its order's charge, once.
        first_payments = con.execute(
            """select count(*) filter (where payment_type = 'charge'), count(distinct
                      subscription_id) filter (where payment_type = 'charge')
               from marts.fct_payments where subscription_id is not null"""
        ).fetchone()
    assert len(exported) > 100
    assert {"recurring", "limited"} <= {row["kind"] for row in exported.values()}
    wrong = []
    for subscription_id, export in exported.items():
        row = built.get(subscription_id)
        kept = row and all(row[name] == value for name, value in export.items() if name != "status")
        # A later cancellation webhook overrides an export's "active", never the reverse.
        status_ok = row and (
            row["status"] == export["status"]
            or (export["status"] == "active" and row["status"] == "cancelled")
        )
        cancelled_ok = row and (row["status"] != "cancelled") == (row["cancelled_at"] is None)
        if not (kept and status_ok and cancelled_ok):
            wrong.append(f"{subscription_id}: export {export}, built {row}")
    assert not wrong, mismatch_report(wrong)
    assert first_payments[0] == first_payments[1] >= len(exported)


def test_marts_do_not_depend_on_load_order_or_reloads(small_root: Path) -> None:
    first = _small_settings(small_root).warehouse
    second = _reordered_settings(small_root).warehouse
    with duckdb.connect() as con:
        con.execute(f"attach '{first}' as first_load (read_only)")
        con.execute(f"attach '{second}' as reordered (read_only)")
        assert marts_differences(con, "first_load", "reordered") == {}
        rows = con.execute("select count(*) from reordered.marts.fct_payments").fetchone()[0]
    assert rows > 1000


@pytest.mark.slow
def test_a_100k_row_seller_matches_truth(large_seller: Seller) -> None:
    with large_seller.connect() as con:
        export_rows = con.execute(
            """select count(*) from raw.thrivecart_transactions
               where _file_path = (select max(_file_path) from raw.thrivecart_transactions)"""
        ).fetchone()[0]
        problems = truth_mismatches(con, large_seller.truth)
    assert export_rows > 90_000
    assert not problems, mismatch_report(problems)


def test_empty_raw_tables_build_empty_marts_and_one_metadata_row(tmp_path: Path) -> None:
    """The first build can come before any data (a fresh `make run`): nothing is no error."""
    settings = settings_for(tmp_path)
    load_landing(settings)  # creates the raw tables; the landing folder is empty

    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone() == (0,)
        metadata = con.execute("select as_of, payments from marts.mart_metadata").fetchall()
    assert metadata == [(None, 0)]
