"""Maximum-likelihood fits of the forecast's models, in NumPy and SciPy.

The likelihoods are the closed forms of the papers (and of pymc-marketing's distributions, which
tests/test_forecast_models.py checks them against), with their exact partial derivatives, and
they are maximised by L-BFGS-B over the logarithms of the parameters, which are all positive.
A PyMC model compiled its graph in every build's process (~4 s, plus ~2 s importing PyMC)
before the optimisation proper; these evaluate in NumPy from the first call.

Exact gradients matter beyond speed: on a seller whose customers all drop out at about the same
rate, BG/NBD's a and b grow together without bound along a ridge where the likelihood barely
changes, and an optimiser with finite-difference gradients stops early on that ridge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln

# A model's log-likelihood at its parameters: the value of every term and, one row per
# parameter, the partial derivatives of every term.
LogLikelihood = Callable[..., tuple[np.ndarray, np.ndarray]]

# Start every parameter at 1 (log 0), as the PyMC models did.
_START = 0.0
_OPTIONS = {"ftol": 1e-15, "gtol": 1e-9, "maxiter": 10_000}


class FitFailed(RuntimeError):
    """The optimiser found no finite likelihood; the message names the model."""


def maximize(
    model: str,
    log_likelihood: LogLikelihood,
    names: Sequence[str],
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """The parameters (all positive) maximising the sum of the terms of `log_likelihood`, each
    term counted `weights` times (once without)."""

    def negative(log_parameters: np.ndarray) -> tuple[float, np.ndarray]:
        parameters = np.exp(log_parameters)
        terms, partials = log_likelihood(*parameters)
        if weights is not None:
            terms, partials = weights * terms, weights * partials
        total, gradient = float(np.sum(terms)), partials.sum(axis=1) * parameters
        if not (np.isfinite(total) and np.isfinite(gradient).all()):
            return np.inf, np.zeros_like(log_parameters)
        return -total, -gradient

    # A step far out (a parameter overflowing, a term dividing by 0) is only a bad step.
    with np.errstate(all="ignore"):
        start = np.full(len(names), _START)
        result = minimize(negative, start, jac=True, method="L-BFGS-B", options=_OPTIONS)
    if not np.isfinite(result.fun):
        raise FitFailed(f"{model}: no finite likelihood found ({result.message})")
    return dict(zip(names, np.exp(result.x).tolist(), strict=True))


def bg_nbd_log_likelihood(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> LogLikelihood:
    """BG/NBD (Fader, Hardie & Lee 2005, eq. 6) per customer, at (r, α, a, b): `x` repeat
    purchases, the last at `t_x`, observed for `big_t`."""
    repeat = x > 0
    # The terms of x alone are computed once per distinct x (a few dozen of 256k customers).
    counts, each = np.unique(x, return_inverse=True)

    def log_likelihood(r: float, alpha: float, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        shared = (
            gammaln(r + counts)
            - gammaln(r)
            + gammaln(a + b)
            + gammaln(b + counts)
            - gammaln(b)
            - gammaln(a + b + counts)
        )[each]
        log_last, log_end = np.log(alpha + t_x), np.log(alpha + big_t)
        c3 = np.exp((r + x) * (log_last - log_end))
        dropout = np.where(repeat, 1 / (b + np.maximum(x, 1) - 1), 0.0)
        c4 = a * dropout
        s = c3 + c4
        values = shared + r * np.log(alpha) - (r + x) * log_last + np.log(s)
        d_r = (digamma(r + counts) - digamma(r))[each] + np.log(alpha) - log_last
        d_r += c3 * (log_last - log_end) / s
        d_alpha = r / alpha - (r + x) / (alpha + t_x)
        d_alpha += c3 * (r + x) * (1 / (alpha + t_x) - 1 / (alpha + big_t)) / s
        d_a = (digamma(a + b) - digamma(a + b + counts))[each] + dropout / s
        d_b = (digamma(a + b) + digamma(b + counts) - digamma(b) - digamma(a + b + counts))[each]
        d_b -= a * dropout**2 / s
        return values, np.array([d_r, d_alpha, d_a, d_b])

    return log_likelihood


def gamma_gamma_log_likelihood(x: np.ndarray, mean: np.ndarray) -> LogLikelihood:
    """Gamma-Gamma spend (Fader, Hardie & Lee 2005b) per repeat buyer, at (p, q, v): `x`
    repeat orders of mean value `mean`."""
    log_x, log_mean, total = np.log(x), np.log(mean), x * mean

    def log_likelihood(p: float, q: float, v: float) -> tuple[np.ndarray, np.ndarray]:
        px = p * x
        log_total = np.log(total + v)
        values = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * log_mean
            + px * log_x
            - (px + q) * log_total
        )
        d_p = x * (digamma(px + q) - digamma(px) + log_mean + log_x - log_total)
        d_q = digamma(px + q) - digamma(q) + np.log(v) - log_total
        d_v = q / v - (px + q) / (total + v)
        return values, np.array([d_p, d_q, d_v])

    return log_likelihood


def sbg_log_likelihood(paid: np.ndarray, ended: np.ndarray) -> LogLikelihood:
    """Shifted-beta-geometric (Fader & Hardie 2007) per subscription, at (α, β): one that ended
    made exactly `paid` payments (eq. 5), one still running at least `paid` (its survival to
    `paid` − 1 periods, eq. 6)."""
    shift = np.where(ended, 1, 0)

    def log_likelihood(alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
        # ended: B(α + 1, β + n − 1) / B(α, β); running: B(α, β + n − 1) / B(α, β)
        first, second = alpha + shift, beta + paid - 1
        values = betaln(first, second) - betaln(alpha, beta)
        both, base = digamma(first + second), digamma(alpha + beta)
        d_alpha = digamma(first) - both - digamma(alpha) + base
        d_beta = digamma(second) - both - digamma(beta) + base
        return values, np.array([d_alpha, d_beta])

    return log_likelihood
