"""The truth's subscription rules on a few hand-made subscriptions, whose rows are worked out
by hand from docs/marts.md ("Subscription economics"): the end-to-end tests compare the dbt
marts with these rules on generated sellers, so the rules themselves are pinned here."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.demo.subscription_marts import sections
from pipeline.demo.subscription_truth import (
    SeenSubscription,
    read_subscriptions_line,
    subscriptions_line,
)


def at(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=UTC).timestamp())


def monthly(email: str, *payments: tuple[str, int], **fields: object) -> SeenSubscription:
    seen = SeenSubscription(email, "USD", "1", "Club", kind="recurring", frequency="month")
    seen.payments = [
        (at(day), "charge" if n == 0 else "rebill", c) for n, (day, c) in enumerate(payments)
    ]
    for name, value in fields.items():
        setattr(seen, name, value)
    return seen


AS_OF = at("2024-04-20")
SUBSCRIPTIONS = [
    # ca: 24.00 at a discount, then 30.00 (expansion in February), a second subscription in
    # March (expansion), then the first fails on March 25 and is not collected: delinquent
    # 14 days later, in April (contraction).
    monthly(
        "ca",
        ("2024-01-10", 2400),
        ("2024-02-10", 3000),
        ("2024-03-10", 3000),
        failures={3: at("2024-04-10")},
    ),
    monthly("ca", ("2024-03-15", 1000), ("2024-04-15", 1000)),
    # cb: cancels in February, subscribes again in April (reactivation).
    monthly("cb", ("2024-01-20", 5000), cancelled_at=at("2024-02-05")),
    monthly("cb", ("2024-04-01", 5000)),
    # cd: fails on February 5 and is never collected: delinquent churn on February 19.
    monthly("cd", ("2024-01-05", 5000), failures={1: at("2024-02-05")}),
    # cc: a yearly plan, a twelfth of 120.00; its failure was collected within 14 days.
    monthly("cc", ("2024-02-01", 12000), frequency="year", failures={1: at("2024-03-01")}),
]
SUBSCRIPTIONS[5].payments.append((at("2024-03-04"), "rebill", 12000))


def test_movements_follow_each_subscriber_between_month_ends() -> None:
    rows = sections([SUBSCRIPTIONS], AS_OF, "acme", ["USD"])["mrr_monthly"]
    got = [
        (
            r["month"],
            r["opening_mrr"],
            r["new_mrr"],
            r["expansion_mrr"],
            r["reactivation_mrr"],
            r["contraction_mrr"],
            r["churned_mrr"],
            r["closing_mrr"],
            r["closing_subscribers"],
        )
        for r in rows
    ]
    assert got == [
        ("2024-01-01", "0.00", "124.00", "0.00", "0.00", "0.00", "0.00", "124.00", 3),
        ("2024-02-01", "124.00", "10.00", "6.00", "0.00", "0.00", "-100.00", "40.00", 2),
        ("2024-03-01", "40.00", "0.00", "10.00", "0.00", "0.00", "0.00", "50.00", 2),
        ("2024-04-01", "50.00", "0.00", "0.00", "50.00", "0.00", "0.00", "100.00", 3),
    ]
    february = rows[1]
    assert (february["churned_mrr_voluntary"], february["churned_mrr_delinquent"]) == (
        "-50.00",
        "-50.00",
    )
    assert (
        february["churned_subscribers_voluntary"],
        february["churned_subscribers_delinquent"],
    ) == (1, 1)
    assert rows[-1]["is_month_complete"] is False


def test_a_failure_not_collected_in_time_ends_the_subscription_delinquent() -> None:
    later = at("2024-05-10")  # 30 days after ca's failure on April 10: it ended April 24
    rows = sections([SUBSCRIPTIONS], later, "acme", ["USD"])
    april = rows["mrr_monthly"][3]
    assert (april["month"], april["contraction_mrr"], april["closing_mrr"]) == (
        "2024-04-01",
        "-30.00",
        "70.00",
    )
    failures = {r["failure_month"]: r for r in rows["failed_payment_recovery"]}
    assert (failures["2024-03-01"]["recovered"], failures["2024-03-01"]["recovered_amount"]) == (
        1,
        "120.00",
    )
    assert failures["2024-04-01"]["not_recovered"] == 1
    assert (
        sections([SUBSCRIPTIONS], AS_OF, "acme", ["USD"])["failed_payment_recovery"][-1]["pending"]
        == 1
    )


def test_retention_follows_the_subscribers_of_each_start_month() -> None:
    rows = sections([SUBSCRIPTIONS], AS_OF, "acme", ["USD"])["subscription_retention_cohorts"]
    january = [
        (r["retained_subscribers"], r["retained_mrr"], r["net_mrr_retention"])
        for r in rows
        if r["start_month"] == "2024-01-01"
    ]
    # ca, cb and cd started with 24.00 + 50.00 + 50.00; cb left in February and came back in
    # April, cd never did; ca grew.
    assert january == [
        (3, "124.00", "1.0000"),
        (1, "30.00", "0.2419"),
        (1, "40.00", "0.3226"),
        (2, "90.00", "0.7258"),
    ]


def test_a_customers_subscriptions_survive_the_work_file() -> None:
    """truth.json reads every subscription back from a JSON line: the failures' invoice
    numbers stay numbers."""
    line = subscriptions_line(SUBSCRIPTIONS)
    assert line.endswith("\n") and "\n" not in line[:-1]
    assert read_subscriptions_line(line) == SUBSCRIPTIONS
