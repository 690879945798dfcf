"""How raw data is partitioned: one partition per landing file content, one per webhook day.

- `raw/thrivecart_transactions`, `raw/thrivecart_subscriptions`: one dynamic partition per
  landing file content (its SHA-256), so the same export under two names loads once.
- `raw/processor_fees`, `raw/product_costs`, `raw/ad_spend`, `raw/fx_rates`: the same, for
  the files of docs/costs.md.
- `raw/thrivecart_webhook_events`: one daily partition per log segment (UTC day).
"""

from collections.abc import Callable, Sequence
from datetime import date

import dagster as dg

from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.input_formats import INPUT_TABLES

TRANSACTIONS_FILES = dg.DynamicPartitionsDefinition(name="transactions_files")
SUBSCRIPTIONS_FILES = dg.DynamicPartitionsDefinition(name="subscriptions_files")
# The cost, ad spend and exchange-rate files (docs/costs.md), one partition per content too.
INPUT_FILES = {
    export: dg.DynamicPartitionsDefinition(name=f"{export}_files") for export in INPUT_TABLES
}
LANDING_PARTITIONS = {
    TRANSACTIONS: TRANSACTIONS_FILES,
    SUBSCRIPTIONS: SUBSCRIPTIONS_FILES,
    **INPUT_FILES,
}
# ThriveCart launched in 2016: no webhook can be older. The last partition is today (UTC).
WEBHOOK_HISTORY_START = date(2016, 1, 1)
WEBHOOK_DAYS = dg.DailyPartitionsDefinition(
    start_date=WEBHOOK_HISTORY_START.isoformat(), end_offset=1
)
# Which landing file a run should read; without it the asset looks the content up.
LANDING_PATH_TAG = "ltv/landing_path"
# Dagster's tags for one run over a partition range (what a single-run backfill sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def loadable_days(days: Sequence[date], log: Callable[[str], None]) -> list[date]:
    """`days` that have a partition; the others are reported through `log`."""
    too_old = [d for d in days if d < WEBHOOK_HISTORY_START]
    if too_old:
        log(f"webhook log segments dated before {WEBHOOK_HISTORY_START} are not loaded: {too_old}")
    return [d for d in days if d >= WEBHOOK_HISTORY_START]
