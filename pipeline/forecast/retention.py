"""Recurring subscriptions: a shifted-beta-geometric (sBG) retention model per plan.

sBG (Fader & Hardie 2007): before each renewal a subscriber cancels with probability θ, fixed
for them and Beta(α, β) distributed across subscribers, so a plan's retention rises with
tenure as the likely cancellers leave. A subscription that has paid n periods and not ended
pays period n + k with probability S(n + k − 1) / S(n − 1), S(t) = B(α, β + t) / B(α, β).

A plan is a product at a billing frequency in one currency. One with too few subscriptions (or
too few that ended) to tell its own retention borrows the fit of its frequency across
products and currencies, and failing that of every subscription.

Why not pymc-marketing's model classes: `ShiftedBetaGeoModel` requires every customer of a
cohort to have been observed for the same number of periods, and a plan's subscribers started
at different times; `ShiftedBetaGeoModelIndividual` keeps a latent θ per subscriber, whose MAP
is the joint mode (each θ pushed to its boundary), not the plan's retention. So each plan's α
and β maximise the sBG likelihood, right-censored for the subscriptions still running
(pipeline/forecast/likelihood.py; equal to pymc-marketing's `ShiftedBetaGeometric` under
`pm.Censored`, which tests/test_forecast_models.py checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln

from pipeline.forecast.inputs import PERIOD_DAYS
from pipeline.forecast.likelihood import maximize, sbg_log_likelihood

# Fewer subscriptions, or fewer that ended, than this leave a plan's retention unknown.
MIN_SUBSCRIPTIONS = 30
MIN_ENDED = 5
# Plan, then frequency, then everything: the levels a plan's fit is taken from.
LEVELS: tuple[tuple[str, ...], ...] = (("currency", "product_id", "frequency"), ("frequency",), ())


@dataclass(frozen=True)
class Retention:
    """Fitted sBG parameters of one group of subscriptions."""

    alpha: float
    beta: float
    subscriptions: int


def fit_retention(paid: np.ndarray, ended: np.ndarray, groups: np.ndarray) -> list[Retention]:
    """Maximum-likelihood α and β per group, from payments per subscription and whether it
    ended; `groups` numbers each subscription's group 0, 1, ….

    An ended subscription cancelled after exactly `paid` payments; a running one will make at
    least `paid` (censored on the right). The groups' parameters do not interact, so each
    group is fitted on its own.
    """
    paid, groups = np.asarray(paid, dtype="int64"), np.asarray(groups, dtype="int64")
    ended = np.asarray(ended, dtype="int64")
    fits = []
    for group in range(int(groups.max()) + 1):
        mine = groups == group
        # A subscription's term depends only on (paid, ended): one term per distinct pair.
        pairs, times = np.unique(np.c_[paid[mine], ended[mine]], axis=0, return_counts=True)
        log_likelihood = sbg_log_likelihood(pairs[:, 0], pairs[:, 1].astype(bool))
        estimate = maximize(f"sBG of group {group}", log_likelihood, ("alpha", "beta"), times)
        fits.append(Retention(estimate["alpha"], estimate["beta"], int(mine.sum())))
    return fits


def plan_retention(recurring: pd.DataFrame) -> pd.Series:
    """Each subscription of `recurring`'s retention, fitted at the narrowest level of LEVELS
    where its group has enough data (None when no level has)."""
    fitted = pd.Series(None, index=recurring.index, dtype=object)
    for level in LEVELS:
        waiting = recurring[fitted.isna()]
        if waiting.empty:
            break
        labels = _labels(waiting, level)
        counts = waiting.groupby(labels)["ended"].agg(["size", "sum"])
        enough = counts[(counts["size"] >= MIN_SUBSCRIPTIONS) & (counts["sum"] >= MIN_ENDED)]
        if enough.empty:
            continue
        chosen = labels.isin(enough.index)
        codes = pd.Categorical(labels[chosen], categories=enough.index).codes
        rows = waiting[chosen]
        fits = fit_retention(rows["payments"].to_numpy(), rows["ended"].to_numpy(), codes)
        fitted[rows.index] = [fits[code] for code in codes]
    return fitted


def _labels(subscriptions: pd.DataFrame, level: Sequence[str]) -> pd.Series:
    """One text label per row naming its group at `level` ('' for everything); a missing
    value (a subscription whose frequency no source gave) is a group of its own."""
    if not level:
        return pd.Series("", index=subscriptions.index)
    columns = subscriptions[list(level)].astype(object).fillna("(unknown)").astype(str)
    # Column by column, not row by row: a row-wise join took 5.6 s of 156k subscriptions.
    labels = columns[level[0]]
    for name in level[1:]:
        labels = labels + "|" + columns[name]
    return labels


def expected_payments(running: pd.DataFrame, cutoff: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Expected payments of each running subscription within `days` after the cutoff.

    `running` has each subscription's fitted `retention`. Payment n + k falls due k periods
    after the latest one; each due within the horizon counts with its probability of being
    paid. A payment overdue at the cutoff (in retry) counts within any horizon but none: it is
    collected after the cutoff, if at all.
    """
    period = running["frequency"].map(PERIOD_DAYS).fillna(PERIOD_DAYS["month"]).to_numpy()
    since = ((cutoff - running["last_payment_at"]) / pd.Timedelta(days=1)).to_numpy()
    days = np.asarray(days, dtype=float)
    due = np.where(days > 0, np.floor((since + days) / period), 0).astype("int64")
    if len(due) == 0 or due.max() <= 0:
        return np.zeros(len(due))
    ahead = np.arange(1, due.max() + 1)[None, :]
    alpha = np.array([fit.alpha for fit in running["retention"]])[:, None]
    beta = np.array([fit.beta for fit in running["retention"]])[:, None]
    paid = running["payments"].to_numpy()[:, None]
    ratios = np.exp(betaln(alpha, beta + paid + ahead - 1) - betaln(alpha, beta + paid - 1))
    return np.where(ahead <= due[:, None], ratios, 0.0).sum(axis=1)
