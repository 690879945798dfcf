"""How raw data is partitioned: one partition per landing file content.

- `raw/thrivecart_transactions`, `raw/thrivecart_subscriptions`: one dynamic partition per
  landing file content (its SHA-256), so the same export under two names loads once.
- `raw/processor_fees`, `raw/product_costs`, `raw/ad_spend`, `raw/fx_rates`: the same, for
  the files of docs/costs.md.

The webhook log is not partitioned: a run loads the days it is given (or every segment that
grew) and records one materialization naming them, however many days a replay spans.
"""

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
# Which landing file a run should read; without it the asset looks the content up.
LANDING_PATH_TAG = "ltv/landing_path"
