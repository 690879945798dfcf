"""Checks on the raw tables, shown on each raw asset in the Dagster UI.

The rules live in `pipeline.ingest.raw_checks`; these only run them against the warehouse.
"""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipeline import markdown
from pipeline.defs.ingest.assets import IngestAssets
from pipeline.defs.resources import WarehouseResource
from pipeline.ingest import raw_checks
from pipeline.settings import Settings
from pipeline.warehouse import ensure_raw_schema


def _raw_check(
    ingest: IngestAssets,
    asset: dg.AssetsDefinition,
    name: str,
    description: str,
    severity: dg.AssetCheckSeverity,
    find_problems: Callable[[duckdb.DuckDBPyConnection], list[str]],
) -> dg.AssetChecksDefinition:
    scope = ingest.scope

    @dg.asset_check(asset=asset, name=name, description=description, pool=scope.pool)
    def _check(
        warehouse: WarehouseResource, settings: dg.ResourceParam[Settings]
    ) -> dg.AssetCheckResult:
        with warehouse.for_settings(scope.settings(settings)).connect() as con:
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


def raw_asset_checks(ingest: IngestAssets) -> list[dg.AssetChecksDefinition]:
    """Every check on one pipeline's raw assets."""
    landing = ingest.landing
    return [
        *(
            _raw_check(
                ingest,
                landing[export],
                "no_duplicate_file_loads",
                _NO_DUPLICATES,
                dg.AssetCheckSeverity.ERROR,
                lambda con, export=export: raw_checks.duplicate_file_loads(con, export),
            )
            for export in landing
        ),
        *(
            _raw_check(
                ingest,
                landing[export],
                "header_recognised",
                _HEADER,
                dg.AssetCheckSeverity.WARN,
                lambda con, export=export: raw_checks.header_mismatches(con, export),
            )
            for export in landing
        ),
        _raw_check(
            ingest,
            ingest.webhook,
            "delivery_ids_unique",
            "Each webhook delivery is stored once.",
            dg.AssetCheckSeverity.ERROR,
            raw_checks.duplicate_delivery_ids,
        ),
    ]


def checks_for(
    checks: list[dg.AssetChecksDefinition], asset: dg.AssetsDefinition
) -> list[dg.AssetChecksDefinition]:
    """The checks among `checks` that are on `asset`, to run beside it."""
    return [c for c in checks if any(k.asset_key == asset.key for k in c.check_keys)]
