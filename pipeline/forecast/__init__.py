"""Predicted lifetime value: probabilistic models fitted on the marts, written back as marts.

Runs after the dbt build and before publishing (docs/forecast.md): `inputs` reads the marts as
they stood at a moment, `purchases` (BG/NBD, Gamma-Gamma), `retention` (sBG per plan) and
`split_pay` model each kind of future revenue (`likelihood` fits the first three), `value`
combines them per customer, `tables` builds and writes the marts below, `write` is the step a
build runs, and `backtest` scores the forecast against a naive rule on the history held out.

This module imports nothing heavy: Dagster's code location reads the names below without
loading SciPy and pandas.
"""

CUSTOMER_TABLE, COHORT_TABLE = "customer_ltv_forecast", "ltv_forecast_cohorts"
FORECAST_MARTS = (CUSTOMER_TABLE, COHORT_TABLE)
