"""How raw data is partitioned: one partition per landing file content.

- `raw/thrivecart_transactions`, `raw/thrivecart_subscriptions`: one dynamic partition per
  landing file content (its SHA-256), so the same export under two names loads once.
- `raw/processor_fees`, `raw/product_costs`, `raw/ad_spend`, `raw/fx_rates`: the same, for
  the files of docs/costs.md.

Dynamic partition sets are named instance-wide, so each pipeline has its own (`acme__
transactions_files`): one account forgetting a file never drops another account's partition.

The webhook log is not partitioned: a run loads the days it is given (or every segment that
grew) and records one materialization naming them, however many days a replay spans.
"""

import dagster as dg

from pipeline.defs.scope import Scope
from pipeline.ingest.headers import SUBSCRIPTIONS, TRANSACTIONS
from pipeline.ingest.input_formats import INPUT_TABLES

# Which landing file a run should read; without it the asset looks the content up.
LANDING_PATH_TAG = "ltv/landing_path"


def landing_partitions(scope: Scope) -> dict[str, dg.DynamicPartitionsDefinition]:
    """One dynamic partition set per kind of landing file, named for the pipeline."""
    exports = [TRANSACTIONS, SUBSCRIPTIONS, *INPUT_TABLES]
    return {e: dg.DynamicPartitionsDefinition(name=scope.name(f"{e}_files")) for e in exports}
