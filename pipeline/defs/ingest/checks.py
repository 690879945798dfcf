"""Checks on the raw tables, shown on each raw asset in the Dagster UI.

The rules live in `pipeline.ingest.raw_checks`; these only run them against the warehouse.
"""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipeline import markdown
from pipeline.defs import WAREHOUSE_POOL
from pipeline.defs.ingest.assets import LANDING_ASSETS, raw_thrivecart_webhook_events
from pipeline.defs.resources import WarehouseResource
from pipeline.ingest import raw_checks
from pipeline.warehouse import ensure_raw_schema


def _raw_check(
    asset: dg.AssetsDefinition,
    name: str,
    description: str,
    severity: dg.AssetCheckSeverity,
    find_problems: Callable[[duckdb.DuckDBPyConnection], list[str]],
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description, pool=WAREHOUSE_POOL)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            problems = find_problems(con)
        return dg.AssetCheckResult(
            passed=not problems,
            severity=severity,
            metadata={
                "problems": len(problems),
                "details": dg.MetadataValue.md(markdown.bullets(problems)),
            },
        )

    return _check


_NO_DUPLICATES = (
    "Every file content is loaded once: its rows appear once and match its ledger entry."
)
_HEADER = "Every loaded file had the export's full header (and, for subscriptions, a known kind)."
RAW_CHECKS = [
    *(
        _raw_check(
            LANDING_ASSETS[export],
            "no_duplicate_file_loads",
            _NO_DUPLICATES,
            dg.AssetCheckSeverity.ERROR,
            lambda con, export=export: raw_checks.duplicate_file_loads(con, export),
        )
        for export in LANDING_ASSETS
    ),
    *(
        _raw_check(
            LANDING_ASSETS[export],
            "header_recognised",
            _HEADER,
            dg.AssetCheckSeverity.WARN,
            lambda con, export=export: raw_checks.header_mismatches(con, export),
        )
        for export in LANDING_ASSETS
    ),
    _raw_check(
        raw_thrivecart_webhook_events,
        "delivery_ids_unique",
        "Each webhook delivery is stored once.",
        dg.AssetCheckSeverity.ERROR,
        raw_checks.duplicate_delivery_ids,
    ),
]


def checks_for(asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
    """The raw checks of `asset`, to run beside it."""
    return [c for c in RAW_CHECKS if any(k.asset_key == asset.key for k in c.check_keys)]
