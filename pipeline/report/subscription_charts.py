"""The subscription sections' plotly figures, built from the rows of `subscriptions`, one
account of one currency at a time (MRR of different accounts is never stacked in one bar)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import plotly.graph_objects as go

from pipeline.report.charts import LAYOUT
from pipeline.report.formatting import count, money, percent
from pipeline.report.queries import Row

# The movements between the opening and the closing bar, in the order a waterfall reads them.
MRR_MOVEMENTS = (
    ("new_mrr", "New"),
    ("expansion_mrr", "Expansion"),
    ("reactivation_mrr", "Reactivation"),
    ("contraction_mrr", "Contraction"),
    ("churned_mrr_voluntary", "Churned (voluntary)"),
    ("churned_mrr_delinquent", "Churned (delinquent)"),
)
# Up to this many failed rebills in a month the count axis ticks at every whole number.
COUNT_TICKS = 10
RECOVERY = (
    ("recovered", "Recovered", "#2a9d8f"),
    ("not_recovered", "Not recovered", "#e76f51"),
    ("pending", "Pending", "#e9c46a"),
)


def mrr_steps(months: list[Row]) -> list[tuple[str, Decimal, str]]:
    """The waterfall's bars: the opening MRR of the first month, each movement summed over the
    months, the closing MRR of the last; (label, amount, plotly measure)."""
    first, last = months[0], months[-1]
    closing = f"Closing {last['month']:%Y-%m}" + ("" if last["is_month_complete"] else " (to date)")
    return [
        (f"Opening {first['month']:%Y-%m}", first["opening_mrr"], "absolute"),
        *((label, sum(m[column] for m in months), "relative") for column, label in MRR_MOVEMENTS),
        (closing, last["closing_mrr"], "total"),
    ]


def mrr_waterfall(months: list[Row], currency: str) -> go.Figure:
    """From the MRR at the start of the window to the MRR now, movement by movement."""
    steps = mrr_steps(months)
    fig = go.Figure(
        go.Waterfall(
            x=[label for label, _, _ in steps],
            y=[amount for _, amount, _ in steps],
            measure=[measure for _, _, measure in steps],
            text=[money(amount) for _, amount, _ in steps],
            textposition="outside",
            increasing={"marker": {"color": "#2a9d8f"}},
            decreasing={"marker": {"color": "#e76f51"}},
            totals={"marker": {"color": "#264653"}},
            hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, showlegend=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text=f"MRR ({currency})")
    return fig


def retention_heatmap(cells: list[Row]) -> go.Figure:
    """Start months (rows, oldest on top) by months since start, coloured by logo retention."""
    starts = sorted({c["start_month"] for c in cells})
    months = list(range(max(c["months_since_start"] for c in cells) + 1))
    z: list[list[float | None]] = [[None] * len(months) for _ in starts]
    hover = [[""] * len(months) for _ in starts]
    for c in cells:
        i, j = starts.index(c["start_month"]), c["months_since_start"]
        z[i][j] = float(c["logo_retention"])
        running = "" if c["is_month_complete"] else " (month still running)"
        hover[i][j] = (
            f"{count(c['retained_subscribers'])} of {count(c['subscribers'])} subscribers, "
            f"net MRR retention {percent(c['net_mrr_retention'])}{running}"
        )
    fig = go.Figure(
        go.Heatmap(
            x=months,
            y=[f"{s:%Y-%m}" for s in starts],
            z=z,
            zmin=0,
            zmax=1,
            customdata=hover,
            colorscale="Greens",
            colorbar={"title": {"text": "Logo retention"}, "tickformat": ".0%"},
            texttemplate="%{z:.0%}",
            hovertemplate="Started %{y}, month %{x}: %{z:.1%} retained<br>%{customdata}"
            "<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(title_text="Months since start", dtick=1)
    fig.update_yaxes(title_text="Start month", autorange="reversed", type="category")
    return fig


def recovery_bars(failed: list[Row]) -> go.Figure:
    """Failed rebills per month of the first failure, stacked by outcome (all kinds of plan)."""
    months = sorted({r["failure_month"] for r in failed})
    fig = go.Figure()
    for column, name, colour in RECOVERY:
        fig.add_trace(
            go.Bar(
                x=[f"{m:%Y-%m}" for m in months],
                y=_per_month(failed, months, column),
                name=name,
                marker_color=colour,
            )
        )
    fig.update_layout(**LAYOUT, barmode="stack", hovermode="x unified")
    fig.update_xaxes(title_text="Month of the first failure", type="category")
    tallest = max(_per_month(failed, months, "failed_rebills"))
    # Counts: a one-step axis while plotly's own ticks would fall between whole rebills.
    fig.update_yaxes(title_text="Failed rebills", dtick=1 if tallest <= COUNT_TICKS else None)
    return fig


def _per_month(failed: list[Row], months: list[date], column: str) -> list[int]:
    """`column` summed over the kinds of plan, per month of the first failure."""
    return [sum(r[column] for r in failed if r["failure_month"] == m) for m in months]
