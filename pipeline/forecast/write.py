"""The forecast step of a build: read the marts, fit the models, replace the forecast marts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.forecast.inputs import build_as_of, read_inputs
from pipeline.forecast.tables import cohort_table, customer_table, write_tables
from pipeline.forecast.value import fit_forecast
from pipeline.settings import Settings
from pipeline.warehouse import connect


@dataclass(frozen=True)
class ForecastResult:
    """What one forecast wrote: rows per table, the moment forecast from, the fitted models."""

    tables: dict[str, int]
    as_of: datetime | None
    parameters: dict[str, dict[str, float]]


def write_forecast(settings: Settings) -> ForecastResult:
    """Fit the models on the warehouse's marts and replace the two forecast marts.

    The warehouse is open only to read the inputs and to write the tables, not while the
    models fit, so a wait for it never includes the fitting.
    """
    con = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        as_of, delinquency_days = build_as_of(con)
        inputs = read_inputs(con, as_of, delinquency_days)
    finally:
        con.close()
    fitted = fit_forecast(inputs)
    customers = customer_table(fitted)
    cohorts = cohort_table(fitted, customers)
    con = connect(settings.warehouse, memory_limit=settings.memory_limit)
    try:
        tables = write_tables(con, customers, cohorts)
    finally:
        con.close()
    parameters = {currency: model.parameters() for currency, model in fitted.purchases.items()}
    return ForecastResult(tables, as_of, parameters)
