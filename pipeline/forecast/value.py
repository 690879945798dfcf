"""Expected future value per customer: the three models fitted on one cutoff, combined.

A customer's future value is the sum of what applies to them: repeat orders (BG/NBD ×
Gamma-Gamma, every customer), the rebills of their running recurring subscriptions (sBG of the
plan) and the instalments still due on their active split-pay plans. The parts never count the
same money twice: an order's value is its checkout only, rebills and instalments are apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.forecast.inputs import ForecastInputs
from pipeline.forecast.purchases import PurchaseForecast, fit_purchases, rfm_summary
from pipeline.forecast.retention import expected_payments, plan_retention
from pipeline.forecast.split_pay import expected_instalments, plan_states

KEY = ["customer_id", "currency"]
# BG/NBD needs some customers, and some who ordered again, to tell anything.
MIN_CUSTOMERS, MIN_REPEAT_CUSTOMERS = 20, 5
PARTS = ("orders", "subscriptions", "split_pay")


@dataclass
class FittedForecast:
    """Models fitted at `inputs.cutoff`; rows of every frame align with `inputs.customers`."""

    inputs: ForecastInputs
    purchases: dict[str, PurchaseForecast]
    rows: dict[str, np.ndarray]  # per currency, the customers' positions its model covers
    running: pd.DataFrame  # recurring subscriptions still running, with their retention
    active_plans: pd.DataFrame  # split-pay plans still paying, with schedule and rate

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.inputs.cutoff)

    def future_value(self, days: np.ndarray) -> pd.DataFrame:
        """Per customer, expected purchases and value of each part within `days` after the
        cutoff (one horizon per customer)."""
        n = len(self.inputs.customers)
        days = np.broadcast_to(np.asarray(days, dtype=float), (n,))
        value = pd.DataFrame(0.0, index=range(n), columns=["purchases", *PARTS])
        for currency, model in self.purchases.items():
            rows = self.rows[currency]
            purchases = model.expected_purchases(days[rows])
            value.loc[rows, "purchases"] = purchases
            value.loc[rows, "orders"] = purchases * model.expected_order_value()
        for part, frame, expected in (
            ("subscriptions", self.running, expected_payments),
            ("split_pay", self.active_plans, expected_instalments),
        ):
            if not frame.empty:
                row = frame["row"].to_numpy()
                payments = expected(frame, self.cutoff, days[row])
                amounts = payments * frame["amount"].to_numpy()
                value[part] = np.bincount(row, weights=amounts, minlength=n)
        return value

    def probability_active(self) -> np.ndarray:
        """P(still a customer): 1 with a running subscription or plan, else BG/NBD's P(alive)
        (null where no purchase model was fitted)."""
        alive = np.full(len(self.inputs.customers), np.nan)
        for currency, model in self.purchases.items():
            alive[self.rows[currency]] = model.probability_alive()
        paying = np.zeros(len(alive), dtype=bool)
        for frame in (self.running, self.active_plans):
            paying[frame["row"].to_numpy()] = True
        return np.where(paying, 1.0, alive)

    def models(self) -> pd.Series:
        """Which models apply to each customer, e.g. `bg_nbd+gamma_gamma+sbg`."""
        n = len(self.inputs.customers)
        names = pd.Series("", index=range(n))
        for currency, model in self.purchases.items():
            spend = "gamma_gamma" if model.spend is not None else "mean_spend"
            names[self.rows[currency]] = f"bg_nbd+{spend}"
        for name, frame in (("sbg", self.running), ("split_pay", self.active_plans)):
            rows = np.unique(frame["row"].to_numpy())
            names[rows] = names[rows].where(names[rows] == "", names[rows] + "+") + name
        return names.replace("", "none")


def fit_forecast(inputs: ForecastInputs) -> FittedForecast:
    """Fit every model on the inputs (purchase models per currency, retention per plan)."""
    customers = inputs.customers[KEY].reset_index(drop=True)
    position = pd.Series(range(len(customers)), index=pd.MultiIndex.from_frame(customers))
    rfm = rfm_summary(inputs.orders, pd.Timestamp(inputs.cutoff))
    rfm["row"] = position.reindex(pd.MultiIndex.from_frame(rfm[KEY])).to_numpy()
    rfm = rfm.dropna(subset=["row"]).astype({"row": "int64"})
    purchases, rows = {}, {}
    for currency, group in rfm.groupby("currency", sort=True):
        if len(group) >= MIN_CUSTOMERS and (group["frequency"] > 0).sum() >= MIN_REPEAT_CUSTOMERS:
            purchases[currency] = fit_purchases(group)
            rows[currency] = group["row"].to_numpy()
    subscriptions = inputs.subscriptions.assign(
        row=position.reindex(pd.MultiIndex.from_frame(inputs.subscriptions[KEY])).to_numpy()
    ).dropna(subset=["row"])
    subscriptions = subscriptions.astype({"row": "int64"})
    return FittedForecast(
        inputs, purchases, rows, _running(subscriptions), _active_plans(subscriptions)
    )


def _running(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Recurring subscriptions not ended at the cutoff whose plan has a retention fit."""
    recurring = subscriptions[subscriptions["kind"] == "recurring"]
    if recurring.empty:
        return recurring.assign(retention=None)
    recurring = recurring.assign(retention=plan_retention(recurring))
    return recurring[~recurring["ended"] & recurring["retention"].notna()]


def _active_plans(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Split-pay plans still paying at the cutoff."""
    limited = subscriptions[subscriptions["kind"] == "limited"]
    if limited.empty:
        return limited
    plans = plan_states(limited)
    return plans[plans["state"] == "active"]
