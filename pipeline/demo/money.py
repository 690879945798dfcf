"""Money as integer cents, written the way each source writes it.

Every amount in the generator is an `int` of cents, so sums are exact; text is produced only at
the edge: decimal major units for the CSVs and truth.json, cents strings for webhook bodies.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4096)
def major(cents: int) -> str:
    """`-1234` -> `"-12.34"`: the CSV and truth.json notation.

    Cached: prices, taxes and their sums repeat on nearly every row of the exports."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def percent_of(cents: int, rate_percent: int) -> int:
    """`rate_percent` % of `cents`, rounded half up, as PHP's round() does for tax."""
    return (cents * rate_percent + 50) // 100
