"""Repeat orders: a BG/NBD purchase model and a Gamma-Gamma spend model (pymc-marketing).

BG/NBD (Fader, Hardie & Lee 2005): while alive a customer orders at a Poisson rate λ (Gamma
distributed across customers); after each order they drop out for good with probability p (Beta
distributed). Gamma-Gamma: a customer's order values scatter around their own mean, which varies
across customers as a Gamma, independently of how often they order. Every acquired customer is
in the BG/NBD fit (a first order only is frequency 0); Gamma-Gamma fits on those with a repeat
order of positive mean value and predicts everyone's mean spend. With too few repeat buyers, or
a fit without a finite mean spend (q ≤ 1: values more dispersed than a Gamma mix allows), every
customer's next order is worth the mean repeat order instead.

Both are fitted per currency by MAP (flat priors, so the estimates are maximum likelihood): fast,
and on thousands of customers as good as the posterior mean for a point forecast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

DAYS_PER_WEEK = 7.0
# Gamma-Gamma needs a few repeat buyers; with fewer, the mean repeat order is the better guess.
MIN_REPEAT_BUYERS = 10
# MAP through scipy's L-BFGS-B, quietly: a pipeline step has no progress bar to show.
_MAP = {"method": "map", "progressbar": False}


def flat_priors(*names: str) -> dict[str, Prior]:
    """Flat priors on `names`: the MAP estimate is then the maximum-likelihood estimate."""
    return {name: Prior("HalfFlat") for name in names}


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
    purchases: BetaGeoModel
    spend: GammaGammaModel | None

    def parameters(self) -> dict[str, float]:
        """The fitted BG/NBD parameters r, alpha, a, b (and Gamma-Gamma's p, q, v)."""
        names = {"r", "alpha", "a", "b"} | ({"p", "q", "v"} if self.spend else set())
        fits = [self.purchases] + ([self.spend] if self.spend else [])
        return {
            name: float(fit.fit_result[name].values.squeeze())
            for fit in fits
            for name in names
            if name in fit.fit_result
        }

    def probability_alive(self) -> np.ndarray:
        """P(still buying) at the cutoff, per customer."""
        alive = self.purchases.expected_probability_alive(data=self._data())
        return alive.values.reshape(-1)

    def expected_purchases(self, days: np.ndarray) -> np.ndarray:
        """Expected orders within `days` after the cutoff (one horizon per customer)."""
        data = self._data().assign(future_t=np.asarray(days) / DAYS_PER_WEEK)
        return self.purchases.expected_purchases(data=data).values.reshape(-1)

    def expected_order_value(self) -> np.ndarray:
        """Each customer's expected value of a future order."""
        if self.spend is None:
            return _mean_repeat_value(self.rfm)
        data = self.rfm[["customer_id", "frequency", "monetary_value"]].assign(
            monetary_value=self.rfm["monetary_value"].clip(lower=0)
        )
        return self.spend.expected_customer_spend(data=data).values.reshape(-1)

    def _data(self) -> pd.DataFrame:
        return self.rfm[["customer_id", "frequency", "recency", "T"]]


def fit_purchases(rfm: pd.DataFrame) -> PurchaseForecast:
    """Fit BG/NBD on every customer of `rfm` and Gamma-Gamma on its repeat buyers (MAP)."""
    rfm = rfm.reset_index(drop=True)
    purchases = BetaGeoModel(model_config=flat_priors("r", "alpha", "a", "b"))
    purchases.fit(data=rfm[["customer_id", "frequency", "recency", "T"]], **_MAP)
    repeaters = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    spend = None
    if len(repeaters) >= MIN_REPEAT_BUYERS:
        spend = GammaGammaModel(model_config=flat_priors("p", "q", "v"))
        spend.fit(data=repeaters[["customer_id", "frequency", "monetary_value"]], **_MAP)
        if float(spend.fit_result["q"].values.squeeze()) <= 1:
            spend = None  # no finite mean spend: the values are too dispersed for the model
    return PurchaseForecast(rfm, purchases, spend)


def _mean_repeat_value(rfm: pd.DataFrame) -> np.ndarray:
    """Without a spend model, every customer's next order is worth the mean repeat order."""
    orders = rfm["frequency"].sum()
    mean = (rfm["monetary_value"] * rfm["frequency"]).sum() / orders if orders else 0.0
    return np.full(len(rfm), max(float(mean), 0.0))
