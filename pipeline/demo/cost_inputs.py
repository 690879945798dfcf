"""The demo seller's costs and ad spend: fee rules, product costs and daily spend per campaign.

They are derived from the plan alone (its seed, calendar and catalogue), never from the
simulated customers, so the file writer and truth.json each derive the same rules on their
own, in any worker. The rules exercise what docs/costs.md promises: a fee change in the middle
of the history, a rule for every processor ('*'), product costs for
some items (a bump among them) with a price change, and spend in two currencies, on days before
tracking began, on campaigns no customer came from and on a channel as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from random import Random

from pipeline.demo.catalog import Offer
from pipeline.demo.timeline import add_months, utc_date, utc_day
from pipeline.demo.world import SellerPlan, World, world_for

EVERY = "*"
# (channel, file format, campaigns) of the demo's paid traffic; '' is spend on the channel as
# a whole. Campaign names follow pipeline.demo.traffic's utm_campaign values; "lookalike"
# never brought a customer.
SPEND_CHANNELS = (
    ("facebook", "meta", ("spring launch", "retargeting", "lookalike")),
    ("google", "google", ("brand", "course-search")),
    ("youtube", "plain", ("tutorial-series",)),
    ("newsletter", "plain", ("",)),
)
# Spend runs on about this share of days, per campaign.
ACTIVE_DAY_SHARE = 0.8
# The demo's exchange rates: the ECB's file (rates per euro on working days) starts this long
# after the history, a plain file covers USD on every day of the two weeks before it, and the
# first days have no rate at all. Set LTV_REPORTING_CURRENCY to this to see every rule at work.
DEMO_REPORTING_CURRENCY = "GBP"
ECB_START_AFTER = 30  # days
PLAIN_RATE_DAYS = 14
# currency -> (first rate, decimals) of the ECB file's columns; CYP has no rates (N/A)
ECB_CURRENCIES = {"USD": ("1.0800", 4), "JPY": ("160.00", 2), "CYP": ("", 4), "GBP": ("0.8500", 4)}


@dataclass(frozen=True)
class FeeRule:
    account: str  # EVERY or the account
    processor: str  # EVERY or a processor
    currency: str
    percent: Decimal
    fixed: int  # cents
    valid_from: str  # YYYY-MM-DD


@dataclass(frozen=True)
class CostRule:
    item_type: str
    product_id: str
    currency: str
    cost: int  # cents per paid charge or rebill
    valid_from: str


@dataclass(frozen=True)
class SpendDay:
    day: str  # YYYY-MM-DD
    channel: str
    campaign: str
    currency: str
    cents: int
    file_format: str  # meta | google | plain


@dataclass(frozen=True)
class FxRate:
    day: str
    base: str
    currency: str
    rate: Decimal  # units of `currency` per one `base`
    file_format: str  # ecb | plain


@dataclass(frozen=True)
class CostInputs:
    fees: tuple[FeeRule, ...]
    costs: tuple[CostRule, ...]
    spend: tuple[SpendDay, ...]
    rates: tuple[FxRate, ...]


def _month_start(t: int) -> str:
    return utc_date(t)[:8] + "01"


def _fee_rules(world: World) -> tuple[FeeRule, ...]:
    start = utc_date(world.timeline.start)
    change = _month_start(add_months(world.timeline.start, 9))
    rules = []
    for currency in world.catalog.currencies:
        usd = currency == "USD"
        stripe = ("2.9", 30) if usd else ("1.5", 25)
        rules += [
            FeeRule(EVERY, "stripe", currency, Decimal(stripe[0]), stripe[1], start),
            FeeRule(EVERY, "stripe", currency, Decimal("2.5") if usd else Decimal("1.4"), 25,
                    change),
            FeeRule(EVERY, "paypal", currency, Decimal("3.49"), 49, start),
            FeeRule(EVERY, "paypal_v2", currency, Decimal("3.49"), 49, start),
            FeeRule(EVERY, EVERY, currency, Decimal("3.0"), 0, start),
        ]  # fmt: skip
    return tuple(rules)


def offers(world: World) -> list[Offer]:
    """Every item on sale, front-end products first, in catalogue order."""
    found: list[Offer] = []
    for funnels in world.catalog.funnels.values():
        for funnel in funnels:
            for offer in (funnel.front, funnel.bump, funnel.upsell, funnel.downsell):
                if offer is not None and offer not in found:
                    found.append(offer)
    return found


def _cost_rules(world: World) -> tuple[CostRule, ...]:
    """Every other item costs a tenth of its first plan's price; the first one's cost rises
    a quarter of the way through the history."""
    start = utc_date(world.timeline.start)
    rules = []
    for number, offer in enumerate(offers(world)):
        if number % 2:
            continue
        cost = offer.plans[0].price // 10
        rule = CostRule(offer.item_type, str(offer.item_id), offer.currency, cost, start)
        rules.append(rule)
        if number == 0:
            later = _month_start(add_months(world.timeline.start, 4))
            rules.append(CostRule(rule.item_type, rule.product_id, rule.currency, cost * 2, later))
    return tuple(rules)


def _spend(world: World) -> tuple[SpendDay, ...]:
    rng = Random(f"ad-spend-{world.plan.seed}")
    currencies = world.catalog.currencies
    scale = max(world.plan.customers, 50)
    first, last = utc_day(world.timeline.start), utc_day(world.timeline.end)
    days = []
    for channel, file_format, campaigns in SPEND_CHANNELS:
        # Newsletter sponsorships are bought in the second currency when there is one.
        currency = currencies[-1] if channel == "newsletter" else currencies[0]
        for campaign in campaigns:
            for day in range(first, last):
                if rng.random() < ACTIVE_DAY_SHARE:
                    cents = rng.randint(40, 160) * scale // 20
                    text = utc_date(day * 86_400)
                    days.append(SpendDay(text, channel, campaign, currency, cents, file_format))
    return tuple(days)


def _walk(rng: Random, first: str, decimals: int, days: list[int]) -> list[Decimal]:
    """A rate drifting by up to 0.3% a day."""
    unit, rate, rates = Decimal(1).scaleb(-decimals), Decimal(first), []
    for _ in days:
        rate = (rate * (1 + Decimal(rng.randint(-30, 30)) / 10_000)).quantize(unit)
        rates.append(rate)
    return rates


def _rates(world: World) -> tuple[FxRate, ...]:
    rng = Random(f"fx-rates-{world.plan.seed}")
    ecb_first = utc_day(world.timeline.start) + ECB_START_AFTER
    working = [d for d in range(ecb_first, utc_day(world.timeline.end)) if (d + 3) % 7 < 5]
    rates = []
    for currency, (first, decimals) in ECB_CURRENCIES.items():
        if first:
            walk = _walk(rng, first, decimals, working)
            rates += [
                FxRate(utc_date(day * 86_400), "EUR", currency, rate, "ecb")
                for day, rate in zip(working, walk, strict=True)
            ]
    plain_days = list(range(ecb_first - PLAIN_RATE_DAYS, ecb_first))
    walk = _walk(rng, ECB_CURRENCIES["USD"][0], 4, plain_days)
    rates += [
        FxRate(utc_date(day * 86_400), "EUR", "USD", rate, "plain")
        for day, rate in zip(plain_days, walk, strict=True)
    ]
    return tuple(rates)


def cost_inputs(world: World) -> CostInputs:
    """The demo seller's cost rules and ad spend."""
    return _inputs_for(world.plan)


@cache
def _inputs_for(plan: SellerPlan) -> CostInputs:
    """Built once per plan and process: every chunk asks again."""
    world = world_for(plan)
    return CostInputs(_fee_rules(world), _cost_rules(world), _spend(world), _rates(world))
