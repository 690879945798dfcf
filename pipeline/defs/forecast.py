"""The Dagster asset that forecasts lifetime value after the dbt marts (pipeline/forecast/).

One multi-asset writes both forecast marts, downstream of the marts it reads and of their
snapshot: `build_marts` runs it after the dbt models and their tests have been published, so a
new payment reaches analysts without waiting for the models to fit, and `publish/forecast` then
adds the two tables to that snapshot. The logic lives in
pipeline.forecast; its SciPy models are imported only when the asset runs, never when the code
location loads.

No `from __future__ import annotations` here: Dagster reads the resource annotations at
definition time.
"""

from collections.abc import Iterator

import dagster as dg

from pipeline.defs import SNAPSHOT_PATH
from pipeline.defs.scope import Scope
from pipeline.engines import postgres_marts, spark
from pipeline.forecast import FORECAST_MARTS
from pipeline.settings import Settings

# What the forecast reads (pipeline/forecast/inputs.py).
INPUT_MARTS = ("fct_payments", "dim_subscriptions", "mart_metadata")


def forecast_keys(scope: Scope) -> list[dg.AssetKey]:
    """The forecast marts of one pipeline."""
    return [scope.key("marts", name) for name in FORECAST_MARTS]


def ltv_forecast(scope: Scope) -> dg.AssetsDefinition:
    """One pipeline's forecast multi-asset."""
    inputs = [scope.key("marts", name) for name in INPUT_MARTS]
    keys = forecast_keys(scope)

    @dg.multi_asset(
        name=scope.name("ltv_forecast"),
        specs=[
            dg.AssetSpec(
                key,
                deps=[*inputs, scope.key(*SNAPSHOT_PATH)],
                group_name=scope.name("marts"),
                kinds={"python", "duckdb"},
            )
            for key in keys
        ],
        # Reads and writes the warehouse, which takes one writer at a time.
        pool=scope.pool,
        description="Predicted lifetime value per customer and per cohort (BG/NBD, "
        "Gamma-Gamma, sBG per plan, split-pay completion), written into schema marts, and on "
        "PostgreSQL into its published schema `ltv` too (docs/forecast.md).",
    )
    def _forecast(settings: dg.ResourceParam[Settings]) -> Iterator[dg.MaterializeResult]:
        """Fit the models on the freshly built marts and replace the forecast marts."""
        yield from _write_forecast(scope.settings(settings), keys)

    return _forecast


def _write_forecast(settings: Settings, keys: list[dg.AssetKey]) -> Iterator[dg.MaterializeResult]:
    from pipeline.forecast.write import write_forecast

    result = write_forecast(settings)
    if settings.postgres is not None:
        postgres_marts.push_forecast(settings, FORECAST_MARTS)
    if settings.spark is not None:
        spark.push_forecast(settings, FORECAST_MARTS)
    parameters = {
        f"{currency}/{name}": dg.MetadataValue.float(value)
        for currency, fitted in result.parameters.items()
        for name, value in sorted(fitted.items())
    }
    for key, table in zip(keys, FORECAST_MARTS, strict=True):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": dg.MetadataValue.int(result.tables[table]),
                "as_of": dg.MetadataValue.text(
                    result.as_of.isoformat() if result.as_of else "no data yet"
                ),
                **parameters,
            },
        )
