"""A generation run's fixed inputs (`SellerPlan`) and everything derived from them (`World`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from pipeline.demo.catalog import Catalog, build_catalog
from pipeline.demo.timeline import DEFAULT_END, CsvClock, Timeline


@dataclass(frozen=True)
class SellerPlan:
    """The options of one run. Equal plans give byte-identical output."""

    customers: int
    seed: int
    account: str = "demo-seller"
    secret: str = "demo-secret"
    csv_timezone: str = "UTC"
    second_currency: bool = True
    end: datetime = DEFAULT_END


@dataclass(frozen=True)
class World:
    """The calendar, catalogue and clocks shared by every simulated customer of a plan."""

    plan: SellerPlan
    timeline: Timeline
    catalog: Catalog
    clock: CsvClock
    owner_id: str  # `base_product_owner`: the seller's ThriveCart user id


@cache
def world_for(plan: SellerPlan) -> World:
    """Built once per process (worker processes rebuild it from the plan)."""
    timeline = Timeline.ending_at(plan.end)
    owner = int(hashlib.sha256(plan.account.encode()).hexdigest(), 16) % 900_000 + 100_000
    return World(
        plan=plan,
        timeline=timeline,
        catalog=build_catalog(timeline.rename_at, plan.second_currency),
        clock=CsvClock(plan.csv_timezone),
        owner_id=str(owner),
    )
