"""The truth's fee, cost, conversion and CAC rules on hand-made inputs, worked out by hand from
docs/costs.md and docs/marts.md ("Margin, CAC and currencies"). The end-to-end tests compare the
dbt marts with these rules on generated sellers, so the rules themselves are pinned here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pipeline.demo.cost_inputs import CostInputs, CostRule, FeeRule, FxRate, SpendDay
from pipeline.demo.margin_truth import CacTallies, CostRules, FxRates

FEES = (
    FeeRule("*", "stripe", "USD", Decimal("2.9"), 30, "2024-01-01"),
    FeeRule("*", "stripe", "USD", Decimal("2.5"), 25, "2024-03-01"),
    FeeRule("acme", "*", "USD", Decimal("1.0"), 10, "2024-01-01"),
    FeeRule("*", "*", "EUR", Decimal("1.4"), 25, "2024-01-01"),
)
COSTS = (CostRule("product", "7", "USD", 1000, "2024-01-01"),)
RATES = (
    FxRate("2024-01-05", "EUR", "USD", Decimal("1.10"), "ecb"),
    FxRate("2024-01-08", "EUR", "USD", Decimal("1.20"), "ecb"),
    FxRate("2024-01-05", "EUR", "GBP", Decimal("0.85"), "ecb"),
    FxRate("2024-01-08", "EUR", "GBP", Decimal("0.90"), "ecb"),
)


def at(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=UTC).timestamp())


def inputs(spend: tuple[SpendDay, ...] = ()) -> CostInputs:
    return CostInputs(FEES, COSTS, spend, RATES)


def test_the_fee_in_force_for_the_most_exact_rule() -> None:
    rules = CostRules.of(inputs())
    # 2.9% of 100.00 + 0.30, then 2.5% + 0.25 from March
    assert rules.fee("other", "stripe", "USD", 10_000, "2024-01-05") == 320
    assert rules.fee("other", "stripe", "USD", 10_000, "2024-03-05") == 275
    # the account's own rule beats the processor's rule for every account
    assert rules.fee("acme", "stripe", "USD", 5000, "2024-01-10") == 60
    # 2.9% of 15.00 is 0.435: half up to 0.44, + 0.30
    assert rules.fee("other", "stripe", "USD", 1500, "2024-01-07") == 74
    # a rule only for its currency, and none before its first day
    assert rules.fee("other", "paypal", "EUR", 2000, "2024-01-05") == 53
    assert rules.fee("other", "paypal", "USD", 10_000, "2024-01-05") == 0
    assert rules.fee("other", "stripe", "USD", 10_000, "2023-12-31") == 0


def test_a_product_cost_for_its_item_type_and_currency_only() -> None:
    rules = CostRules.of(inputs())
    assert rules.cost("acme", ("product", "7"), "USD", "2024-02-01") == 1000
    assert rules.cost("acme", ("bump", "7"), "USD", "2024-02-01") == 0
    assert rules.cost("acme", ("product", "7"), "EUR", "2024-02-01") == 0


def test_conversion_at_the_cross_rate_of_the_day_or_the_latest_earlier() -> None:
    rates = FxRates(inputs())
    # Saturday: Friday's rates, 100.00 USD × 0.85 / 1.10 = 77.2727…
    assert rates.convert(10_000, "USD", "GBP", "2024-01-06") == (7727, "2024-01-05")
    # the base itself quotes 1: 50.00 EUR × 0.90
    assert rates.convert(5000, "EUR", "GBP", "2024-01-09") == (4500, "2024-01-08")
    # 0.11 × 0.85 / 1.10 = 0.085: half away from zero, both signs
    assert rates.convert(11, "USD", "GBP", "2024-01-06") == (9, "2024-01-05")
    assert rates.convert(-11, "USD", "GBP", "2024-01-06") == (-9, "2024-01-05")
    assert rates.convert(10_000, "USD", "GBP", "2024-01-04") is None
    assert rates.convert(10_000, "JPY", "GBP", "2024-01-09") is None


def test_cac_payback_and_totals() -> None:
    spend = (
        SpendDay("2024-01-05", "facebook", "spring", "USD", 4500, "meta"),
        SpendDay("2024-01-06", "facebook", "Spring", "USD", 3000, "meta"),
        SpendDay("2024-01-10", "google", "", "USD", 50_000, "google"),
        SpendDay("2024-01-12", "tiktok", "x", "USD", 3000, "plain"),
    )
    tallies = CacTallies()
    month = "2024-01-01"
    tallies.add(
        ("USD", month, "facebook", "spring"),
        at("2024-01-10"),
        [(at("2024-01-10"), 4000, 3000), (at("2024-02-10"), 4000, 3000)],
    )
    tallies.add(
        ("USD", month, "facebook", "spring"), at("2024-01-20"), [(at("2024-01-20"), 2500, 2000)]
    )
    tallies.add(
        ("USD", month, "google", "(none)"), at("2024-01-15"), [(at("2024-01-15"), 1000, 1000)]
    )
    rows = {
        (r["channel"], r["campaign"]): r
        for r in tallies.rows("acme", inputs(spend), at("2024-03-01"))
    }
    facebook = rows[("facebook", "spring")]
    # 75.00 for 2 customers; margin 50.00 in January, 80.00 by February: paid back in month 1
    assert (facebook["spend"], facebook["new_customers"], facebook["cac"]) == ("75.00", 2, "37.50")
    assert (facebook["margin_ltv_to_cac"], facebook["payback_months"]) == ("1.07", 1)
    # day 30: 40.00 + 25.00 (the February rebill is day 31); day 90 waits for the 20th's
    assert (facebook["ltv_30"], facebook["margin_ltv_30"], facebook["ltv_90"]) == (
        "32.50",
        "25.00",
        None,
    )
    assert rows[("facebook", "*")] | {"campaign": "spring"} == facebook
    google = rows[("google", "(none)")]
    assert (google["cac"], google["payback_months"], google["margin_ltv_to_cac"]) == (
        "500.00",
        None,
        "0.02",
    )
    tiktok = rows[("tiktok", "x")]
    assert (tiktok["new_customers"], tiktok["cac"], tiktok["ltv_to_date"]) == (0, None, None)
    everyone = rows[("*", "*")]
    assert (everyone["spend"], everyone["new_customers"], everyone["cac"]) == (
        "605.00",
        3,
        "201.67",
    )
    assert everyone["payback_months"] is None
