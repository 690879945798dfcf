"""Repeat orders: a BG/NBD purchase model and a Gamma-Gamma spend model.

BG/NBD (Fader, Hardie & Lee 2005): while alive a customer orders at a Poisson rate λ (Gamma
distributed across customers); after each order they drop out for good with probability p (Beta
distributed). Gamma-Gamma: a customer's order values scatter around their own mean, which varies
across customers as a Gamma, independently of how often they order. Every acquired customer is
in the BG/NBD fit (a first order only is frequency 0); Gamma-Gamma fits on those with a repeat
order of positive mean value and predicts everyone's mean spend. With too few repeat buyers, or
a fit without a finite mean spend (q ≤ 1: values more dispersed than a Gamma mix allows), every
customer's next order is worth the mean repeat order instead.

Both are fitted per currency by maximum likelihood (pipeline/forecast/likelihood.py): fast, and
on thousands of customers as good as a posterior mean for a point forecast. The predictions are
the papers' closed forms, as pymc-marketing computes them (tests/test_forecast_models.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, hyp2f1

from pipeline.forecast.likelihood import (
    bg_nbd_log_likelihood,
    gamma_gamma_log_likelihood,
    maximize,
)

DAYS_PER_WEEK = 7.0
# Gamma-Gamma needs a few repeat buyers; with fewer, the mean repeat order is the better guess.
MIN_REPEAT_BUYERS = 10


def rfm_summary(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer (and currency): repeat orders, recency and age in weeks, mean repeat value.

    `frequency` counts orders after the first, `recency` is the first to the last order and `T`
    the first order to the cutoff, in weeks; `monetary_value` is the mean value of the repeat
    orders (0 without one), as Gamma-Gamma expects.
    """
    ordered = orders.sort_values("bought_at")
    grouped = ordered.groupby(["customer_id", "currency"], sort=False)
    first = grouped["bought_at"].transform("min")
    repeat_value = ordered["value"].where(ordered["bought_at"] > first)
    summary = grouped.agg(first=("bought_at", "min"), last=("bought_at", "max"))
    summary["frequency"] = grouped.size() - 1
    summary["monetary_value"] = repeat_value.groupby(
        [ordered["customer_id"], ordered["currency"]], sort=False
    ).mean()
    weeks = pd.Timedelta(days=DAYS_PER_WEEK)
    summary["recency"] = (summary["last"] - summary["first"]) / weeks
    summary["T"] = (cutoff - summary["first"]) / weeks
    return summary.drop(columns=["first", "last"]).fillna({"monetary_value": 0.0}).reset_index()


@dataclass
class PurchaseForecast:
    """A fitted BG/NBD and Gamma-Gamma pair for one currency's customers (`rfm` rows)."""

    rfm: pd.DataFrame
    purchases: dict[str, float]  # r, alpha, a, b
    spend: dict[str, float] | None  # p, q, v

    def parameters(self) -> dict[str, float]:
        """The fitted BG/NBD parameters r, alpha, a, b (and Gamma-Gamma's p, q, v)."""
        return {**self.purchases, **(self.spend or {})}

    def probability_alive(self) -> np.ndarray:
        """P(still buying) at the cutoff, per customer (Fader, Hardie & Lee 2008)."""
        r, alpha, a, b = (self.purchases[k] for k in ("r", "alpha", "a", "b"))
        x, t_x, big_t = self._history()
        log_odds = (r + x) * np.log((alpha + big_t) / (alpha + t_x)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.where(x == 0, 1.0, expit(-log_odds))

    def expected_purchases(self, days: np.ndarray) -> np.ndarray:
        """Expected orders within `days` after the cutoff (one horizon per customer; eq. 10)."""
        r, alpha, a, b = (self.purchases[k] for k in ("r", "alpha", "a", "b"))
        x, _, big_t = self._history()
        t = np.asarray(days, dtype=float) / DAYS_PER_WEEK
        numerator = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, t / (alpha + big_t + t)
        )
        numerator *= (a + b + x - 1) / (a - 1)
        # eq. 10's denominator is 1 / P(alive)
        return numerator * self.probability_alive()

    def expected_order_value(self) -> np.ndarray:
        """Each customer's expected value of a future order: Gamma-Gamma's weighted mean of
        the population's and their own repeat orders."""
        if self.spend is None:
            return _mean_repeat_value(self.rfm)
        p, q, v = (self.spend[k] for k in ("p", "q", "v"))
        x = self.rfm["frequency"].to_numpy(dtype=float)
        mean = self.rfm["monetary_value"].clip(lower=0).to_numpy(dtype=float)
        own_weight = p * x / (p * x + q - 1)
        return (1 - own_weight) * (v * p / (q - 1)) + own_weight * mean

    def _history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.rfm[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T"))


def fit_purchases(rfm: pd.DataFrame) -> PurchaseForecast:
    """Fit BG/NBD on every customer of `rfm` and Gamma-Gamma on its repeat buyers."""
    rfm = rfm.reset_index(drop=True)
    x, t_x, big_t = (rfm[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T"))
    purchases = maximize("BG/NBD", bg_nbd_log_likelihood(x, t_x, big_t), ("r", "alpha", "a", "b"))
    repeaters = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    spend = None
    if len(repeaters) >= MIN_REPEAT_BUYERS:
        spend = maximize(
            "Gamma-Gamma",
            gamma_gamma_log_likelihood(
                repeaters["frequency"].to_numpy(dtype=float),
                repeaters["monetary_value"].to_numpy(dtype=float),
            ),
            ("p", "q", "v"),
        )
        if spend["q"] <= 1:
            spend = None  # no finite mean spend: the values are too dispersed for the model
    return PurchaseForecast(rfm, purchases, spend)


def _mean_repeat_value(rfm: pd.DataFrame) -> np.ndarray:
    """Without a spend model, every customer's next order is worth the mean repeat order."""
    orders = rfm["frequency"].sum()
    mean = (rfm["monetary_value"] * rfm["frequency"]).sum() / orders if orders else 0.0
    return np.full(len(rfm), max(float(mean), 0.0))
