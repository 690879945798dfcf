"""The two real deliveries in tests/fixtures/webhooks flow to the marts beside a small generated
seller: the live rebill is counted once in every mart, the test-mode order never leaves
staging, and the seller's own numbers still match its truth.json.

Each sample is sent twice, as a form body and as JSON (the same payload, so one delivery).
A third delivery, made here, refunds an order whose charge never arrived (the feed lost it
after the last export): the customer has a negative net revenue and no cohort, and the
build's cross-mart checks still pass.
The same warehouse then runs the dbt unit tests the way CI does, on their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_dbt_support import (
    Seller,
    aggregate_mismatches,
    built_once,
    customer_mismatches,
    generate_and_replay,
    load_landing,
    run_dbt,
    settings_for,
)

from pipeline.demo import load_truth
from pipeline.settings import DBT_PROJECT_DIR
from pipeline.sidecar.replay import replay_to_log

SAMPLES = Path(__file__).parent / "fixtures" / "webhooks"
SAMPLE_SECRETS = {"magloft": "SAMPLESECRET1", "engagemorecrm": "SAMPLESECRET2"}
CONTENT_TYPES = {".form": "application/x-www-form-urlencoded", ".json": "application/json"}
# When each sample's event happened, plus a few seconds: ThriveCart sends right away.
SENT_AT = {
    "order.success": "2023-11-08T23:48:24.000001Z",
    "order.subscription_payment": "2020-07-24T05:17:37.000001Z",
}
UTM_FIELDS = ("acquisition_utm_source", "acquisition_utm_medium", "acquisition_utm_campaign")
LIVE_REBILL = {
    "email": "bo.sample@example.com",
    "currency": "USD",
    "gross": Decimal("69.00"),
    "refunds": Decimal("0.00"),
    "net": Decimal("69.00"),
    "first_paid_at": "2020-07-24T05:17:34Z",
    "cohort_month": "2020-07-01",
    "first_order_id": "3230022",
    "first_product_id": "17",
    "orders_count": 0,
    "rebills_count": 1,
    "thrivecart_customer_ids": ["16099259"],
    # Acquired by a rebill of an order whose order.success is not in the log.
    **dict.fromkeys(UTM_FIELDS, "(not tracked)"),
    # 2020: before every fee, cost and exchange rate of the generated seller
    "net_margin": Decimal("69.00"),
    "net_revenue_reporting": None,
    "net_margin_reporting": None,
}
LOST_CHARGE = {
    "email": "lou.lost@example.com",
    "currency": "USD",
    "gross": Decimal("0.00"),
    "refunds": Decimal("49.00"),
    "net": Decimal("-49.00"),
    "first_paid_at": None,
    "cohort_month": None,
    "first_order_id": None,
    "first_product_id": None,
    "orders_count": 0,
    "rebills_count": 0,
    "thrivecart_customer_ids": ["429583657700000001"],
    **dict.fromkeys(UTM_FIELDS, None),
    "net_margin": Decimal("-49.00"),
    "net_revenue_reporting": None,
    "net_margin_reporting": None,
}
UNIT_TEST_RESULTS = "unit_test_results.json"


# order.refund as ThriveCart sends it (fields as in docs/sources.md), for
# an order of 49.00 whose order.success never arrived.
LOST_CHARGE_REFUND = {
    "event": "order.refund",
    "mode": "live",
    "mode_int": "2",
    "thrivecart_account": "magloft",
    "thrivecart_secret": "SAMPLESECRET1",
    "base_product": "12",
    "base_product_name": "Mobile & Universal App Pro",
    "currency": "USD",
    "customer_id": "429583657700000001",
    "customer": {
        "id": "429583657700000001",
        "email": LOST_CHARGE["email"],
        "first_name": "Lou",
        "last_name": "Lost",
        "address": {"country": "US"},
    },
    "date": "2023-11-12 10:00:00",
    "date_iso8601": "2023-11-12T10:00:00+00:00",
    "date_unix": "1699783200",
    "order": {
        "id": "23370999",
        "invoice_id": "000001399",
        "processor": "stripe_v2",
        "total": "4900",
        "total_str": "49.00",
        "date": "2023-11-10 09:00:00",
        "date_iso8601": "2023-11-10T09:00:00+00:00",
        "date_unix": "1699606800",
    },
    "order_id": "23370999",
    "invoice_id": "000001399",
    "event_id": "7000000001",
    "refund": {
        "type": "product",
        "id": "12",
        "name": "Mobile & Universal App Pro",
        "processor": "stripe_v2",
        "currency": "USD",
        "amount": "4900",
        "amount_str": "49.00",
        "amount_gross": "4900",
        "tax_paid": "0",
    },
}


def _write_sample_deliveries(path: Path) -> None:
    lines = []
    for event, sent_at in SENT_AT.items():
        for suffix, content_type in CONTENT_TYPES.items():
            body = (SAMPLES / f"{event}{suffix}").read_text(encoding="utf-8").strip()
            delivery = {"sent_at": sent_at, "content_type": content_type, "body": body}
            lines.append(json.dumps(delivery))
    lost_charge = {
        "sent_at": "2023-11-12T10:00:03.000001Z",
        "content_type": CONTENT_TYPES[".json"],
        "body": json.dumps(LOST_CHARGE_REFUND),
    }
    lines.append(json.dumps(lost_charge))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# The folder the seller with the samples is built in once per session (built_once); the
# PostgreSQL tests build the same raw tables there.
SAMPLES_BUILD = "dbt-samples"


def build_seller_with_samples(root: Path) -> None:
    """A generated seller and the recorded deliveries of tests/fixtures/webhooks, loaded and
    built on DuckDB, the unit tests' outcome beside them."""
    settings = settings_for(root)
    generate_and_replay(settings, customers=60, seed=13)
    deliveries = root / "samples.jsonl"
    _write_sample_deliveries(deliveries)
    summary = replay_to_log(deliveries, settings.webhooks_dir, SAMPLE_SECRETS)
    assert summary.accepted == 5, summary.describe()
    load_landing(settings)
    run_dbt(settings, "build", "--exclude", "resource_type:unit_test")
    # CI's command, on a built warehouse (unit tests read their inputs' column types from it).
    results = run_dbt(settings, "test", "--select", "resource_type:unit_test")
    outcome = {
        r.node.unique_id: str(r.status) for r in results if r.node.resource_type == "unit_test"
    }
    (root / UNIT_TEST_RESULTS).write_text(json.dumps(outcome))


@pytest.fixture(scope="module")
def seller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seller]:
    with built_once(tmp_path_factory, SAMPLES_BUILD, build_seller_with_samples) as root:
        settings = settings_for(root)
        yield Seller(settings, load_truth(settings.landing_dir))


def _rows(seller: Seller, query: str) -> list[dict[str, Any]]:
    with seller.connect() as con:
        cursor = con.execute(query)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_unit_tests_run_on_their_own(seller: Seller) -> None:
    defined = {
        test["name"]
        for path in (DBT_PROJECT_DIR / "models").rglob("*.yml")
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }
    outcome = json.loads((seller.settings.warehouse.parent.parent / UNIT_TEST_RESULTS).read_text())
    ran = {unique_id.rsplit(".", 1)[1]: status for unique_id, status in outcome.items()}
    assert len(defined) >= 11
    assert ran == dict.fromkeys(defined, "pass")


def test_the_live_rebill_is_one_payment(seller: Seller) -> None:
    payments = _rows(
        seller,
        """select * exclude (payment_id, customer_id) from marts.fct_payments
           where email = 'bo.sample@example.com'""",
    )
    assert payments == [
        {
            "account": "engagemorecrm",
            "email": "bo.sample@example.com",
            "order_id": "3230022",
            "item_type": "product",
            "product_id": "17",
            "product_name": "$69/Month EngageMore Special Friend Price",
            "subscription_id": None,
            "payment_type": "rebill",
            "paid_at": datetime(2020, 7, 24, 5, 17, 34),
            "paid_date": date(2020, 7, 24),
            "charge_clock_date": date(2020, 7, 24),
            "amount": Decimal("69.00"),
            "tax_amount": Decimal("0.00"),
            "currency": "USD",
            "campaign_id": None,
            "affiliate_id": None,
            "source": "webhook",
            "matched_by": None,
            "is_dated_by_order": False,
            "processor_charge_id": None,
            "invoice_id": "000000141-6",
            "coupon": None,
            "processor": "stripe",
            "processor_fee": None,
            "product_cost": None,
            "margin": Decimal("69.00"),
            "amount_reporting": None,
            "margin_reporting": None,
            "fx_rate_date": None,
        }
    ]


def test_the_live_rebill_makes_a_cohort_of_its_own(seller: Seller) -> None:
    """July 2020, long before the generated history: 69.00 in month 0, then nothing up to
    as_of's month, which alone is incomplete."""
    cohort = _rows(
        seller,
        """select months_since_acquisition, cohort_customers, paying_customers, net_revenue,
                  cumulative_net_revenue, ltv_per_customer, is_complete
           from marts.ltv_cohorts_monthly
           where currency = 'USD' and cohort_month = '2020-07-01'
           order by months_since_acquisition""",
    )
    as_of = date.fromisoformat(seller.truth["as_of"][:10])
    months = (as_of.year - 2020) * 12 + as_of.month - 7
    assert len(cohort) == months + 1
    assert cohort[0] == {
        "months_since_acquisition": 0,
        "cohort_customers": 1,
        "paying_customers": 1,
        "net_revenue": Decimal("69.00"),
        "cumulative_net_revenue": Decimal("69.00"),
        "ltv_per_customer": Decimal("69.00"),
        "is_complete": True,
    }
    assert {row["cumulative_net_revenue"] for row in cohort} == {Decimal("69.00")}
    assert [row["is_complete"] for row in cohort[-2:]] == [True, False]


def test_the_live_rebill_day_and_its_source(seller: Seller) -> None:
    day = _rows(
        seller,
        """select gross_revenue, net_revenue, charges_count, rebills_count, new_customers
           from marts.revenue_daily where currency = 'USD' and date = '2020-07-24'""",
    )
    reconciliation = _rows(
        seller,
        """select payment_type, csv_only_count, webhook_only_count, webhook_only_amount,
                  matched_count
           from marts.source_reconciliation where currency = 'USD' and date = '2020-07-24'""",
    )
    assert day == [
        {
            "gross_revenue": Decimal("69.00"),
            "net_revenue": Decimal("69.00"),
            "charges_count": 0,
            "rebills_count": 1,
            "new_customers": 1,
        }
    ]
    assert reconciliation == [
        {
            "payment_type": "rebill",
            "csv_only_count": 0,
            "webhook_only_count": 1,
            "webhook_only_amount": Decimal("69.00"),
            "matched_count": 0,
        }
    ]


def test_the_test_mode_order_stays_in_staging(seller: Seller) -> None:
    staged = _rows(
        seller,
        """select events.is_test, items.item_name, items.amount, items.processor_charge_id,
                  items.subscription_id
           from staging.stg_thrivecart__webhook_events as events
           join staging.stg_thrivecart__webhook_order_items as items using (delivery_id)
           where events.order_id = '23370556'""",
    )
    leaked = _rows(
        seller,
        """select 'fct_payments' as mart from marts.fct_payments
           where email = 'ana.example@example.com' or order_id = '23370556'
           union all
           select 'dim_customers' from marts.dim_customers
           where email = 'ana.example@example.com'
           union all
           select 'dim_subscriptions' from marts.dim_subscriptions
           where subscription_id = '3498819' or email = 'ana.example@example.com'""",
    )
    assert staged == [
        {
            "is_test": True,
            "item_name": "Mobile & Universal App Pro",
            "amount": Decimal("4997.00"),
            "processor_charge_id": "ch_3OALTjD8ltzmnnom0bR4w3lq",
            "subscription_id": "3498819",
        }
    ]
    assert leaked == []


def test_the_generated_seller_still_matches_its_truth(seller: Seller) -> None:
    truth = seller.truth
    with_sample = {
        **truth,
        "customers": [*truth["customers"], LIVE_REBILL, LOST_CHARGE],
        # Both sample payments are from 2020, before the generated seller's first rate.
        "payments_not_converted": truth["payments_not_converted"] + 2,
        "totals": [
            {
                **row,
                "rebills": row["rebills"] + Decimal("69.00"),
                "refunds": row["refunds"] + Decimal("49.00"),
                "net": row["net"] + Decimal("69.00") - Decimal("49.00"),
                "payments": row["payments"] + 2,
            }
            if row["currency"] == "USD"
            else row
            for row in truth["totals"]
        ],
        "cohorts": [
            {
                "currency": "USD",
                "cohort_month": "2020-07-01",
                "customers": 1,
                "net": Decimal("69.00"),
                "margin": Decimal("69.00"),
                "net_reporting": Decimal("0.00"),
                "margin_reporting": Decimal("0.00"),
            },
            *truth["cohorts"],
        ],
        # Acquired in 2020: eligible at every day N, with 69.00 within each window, in the
        # segment of all customers and in the untracked one of every traffic segment.
        "day_n": [
            {
                **row,
                "customers": row["customers"] + 1,
                "eligible_customers": row["eligible_customers"] + 1,
                "net_revenue": row["net_revenue"] + Decimal("69.00"),
                "net_revenue_charge_clock": row["net_revenue_charge_clock"] + Decimal("69.00"),
                "net_margin": row["net_margin"] + Decimal("69.00"),
            }
            if row["currency"] == "USD" and row["segment_value"] in ("all", "(not tracked)")
            else row
            for row in truth["day_n"]
        ],
    }
    with seller.connect() as con:
        problems = customer_mismatches(con, with_sample) + aggregate_mismatches(con, with_sample)
    assert len(truth["customers"]) > 50
    assert not problems, "\n".join(problems[:20])


def test_a_refund_whose_charge_was_lost_counts_but_acquires_nobody(seller: Seller) -> None:
    customer = _rows(
        seller,
        f"""select net_revenue, refunded_amount, cohort_month, first_paid_at
            from marts.dim_customers where email = '{LOST_CHARGE["email"]}'""",
    )
    assert customer == [
        {
            "net_revenue": Decimal("-49.00"),
            "refunded_amount": Decimal("49.00"),
            "cohort_month": None,
            "first_paid_at": None,
        }
    ]
    refund_days = _rows(
        seller,
        """select refunds, net_revenue from marts.revenue_daily
           where currency = 'USD' and date = '2023-11-12'""",
    )
    assert refund_days == [{"refunds": Decimal("49.00"), "net_revenue": Decimal("-49.00")}]
    # In no cohort: the cohorts plus this customer make the payments' total, which the
    # build's check assert_revenue_totals_agree verified (the build fails otherwise).
    totals = _rows(
        seller,
        """select (select sum(amount) from marts.fct_payments where currency = 'USD')
                - (select sum(cumulative_net_revenue) from (
                       select cumulative_net_revenue from marts.ltv_cohorts_monthly
                       where currency = 'USD'
                       qualify row_number() over (partition by cohort_month
                                                  order by months_since_acquisition desc) = 1))
                  as outside_cohorts""",
    )
    assert totals == [{"outside_cohorts": Decimal("-49.00")}]


def test_the_live_rebill_is_a_first_order_and_the_lost_charge_none(seller: Seller) -> None:
    """The rebill acquired its customer, so its order is a purchase: in a 2020 cohort of its
    own, under its account, with no second order. The refund of a lost charge is no purchase
    (its customer was never acquired), so no mart counts it."""
    cohort = _rows(
        seller,
        """select * from marts.repeat_purchase_cohorts
           where currency = 'USD' and cohort_month = '2020-07-01'""",
    )
    paths = _rows(
        seller,
        """select account, first_product_id, first_product_name, next_product_id, customers,
                  first_product_buyers, share_of_first_product_buyers, median_days_between
           from marts.product_paths where account = 'engagemorecrm'""",
    )
    counts = _rows(
        seller,
        "select account, orders_count, customers from marts.customers_by_order_count "
        "where account in ('engagemorecrm', 'magloft')",
    )
    assert cohort == [
        {
            "account": "engagemorecrm",
            "currency": "USD",
            "cohort_month": date(2020, 7, 1),
            "customers": 1,
            "repeat_customers": 0,
            "repeat_rate": Decimal("0.0000"),
            "median_days_to_second_order": None,
            "orders": 1,
            "avg_orders_per_customer": Decimal("1.00"),
        }
    ]
    assert paths == [
        {
            "account": "engagemorecrm",
            "first_product_id": "17",
            "first_product_name": "$69/Month EngageMore Special Friend Price",
            "next_product_id": "(none)",
            "customers": 1,
            "first_product_buyers": 1,
            "share_of_first_product_buyers": Decimal("1.0000"),
            "median_days_between": None,
        }
    ]
    assert counts == [{"account": "engagemorecrm", "orders_count": 1, "customers": 1}]
