"""Synthetic ThriveCart seller: the data behind every test, demo and benchmark.

`generate_seller(out, customers, seed)` writes what a real seller would have (two overlapping
"All time" Transactions exports, the Subscriptions export split into recurring and limited files,
the webhook deliveries sent after the webhook setup date) plus `_demo/truth.json`, the expected
results. See docs/interfaces.md for the layout and the truth's shape.

Volume, for sizing runs: about ROWS_PER_CUSTOMER (3.9) rows in the latest Transactions export,
2.7 in the older one and DELIVERIES_PER_CUSTOMER (1.5) webhook deliveries per customer, measured
over 20,000 customers; `customers_for_rows` turns a row target into a customer count.
"""

from pipeline.demo.generate import DemoOutputError, SellerSummary, generate_seller
from pipeline.demo.truth import TruthError, load_truth

ROWS_PER_CUSTOMER = 3.9
DELIVERIES_PER_CUSTOMER = 1.5


def customers_for_rows(rows: int) -> int:
    """How many customers to ask for to get about `rows` latest-export transaction rows."""
    return max(1, round(rows / ROWS_PER_CUSTOMER))


__all__ = [
    "DELIVERIES_PER_CUSTOMER",
    "ROWS_PER_CUSTOMER",
    "DemoOutputError",
    "SellerSummary",
    "TruthError",
    "customers_for_rows",
    "generate_seller",
    "load_truth",
]
