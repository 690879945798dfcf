"""The report's plotly figures, one function per chart, built from the rows of `queries`.

Figures are embedded without plotly.js (`figure_html`); the page includes the library once
(`plotly_js`), so the file works offline and stays one copy of the library however many charts
it has.

Charts of cohort and day-N revenue draw each refund clock as its own traces, tagged with
`meta={"clock": ...}`, the charge clock's hidden: the page's clock control shows one clock's
traces (`controls`). Traces of one account are tagged `meta={"account": ...}` alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from pipeline.report.formatting import count, days, money, percent
from pipeline.report.queries import Row

LAYOUT = {
    "template": "plotly_white",
    "height": 420,
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}
# Matched, CSV-only, webhook-only: the reconciliation's sources, with their colours.
SOURCES = (
    ("matched", "In both", "#2a9d8f"),
    ("csv_only", "CSV export only", "#e9c46a"),
    ("webhook_only", "Webhook only", "#e76f51"),
)
# One colour per ThriveCart account in charts that split by account.
ACCOUNT_COLOURS = ("#2a9d8f", "#264653", "#e9c46a", "#e76f51", "#8ab17d")
# One colour per cohort line, shared by its forecast continuation (plotly's default colours).
COHORT_COLOURS = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)
# Where ltv_forecast_cohorts' predictions sit on a day-N axis: 12 and 24 months.
FORECAST_DAYS = ((365, "predicted_ltv_12m"), (730, "predicted_ltv_24m"))
# The refund clocks: the suffix of their columns in the marts and how a chart names them.
CLOCKS = (("cash", "", "cash clock"), ("charge", "_charge_clock", "charge clock"))


def plotly_js() -> str:
    """The plotly.js library as inline script tags, for the page head, once."""
    return (
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        f'<script charset="utf-8">{get_plotlyjs()}</script>'
    )


def figure_html(fig: go.Figure, div_id: str) -> str:
    """A figure as a `<div>` and its drawing script, relying on `plotly_js` in the page."""
    config = {"displaylogo": False, "responsive": True}
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=config)


def cohort_heatmap(cells: list[Row], currency: str) -> go.Figure:
    """Cohorts (rows, oldest on top) by months since acquisition, coloured by LTV: one heat
    map per refund clock, the cash clock's shown."""
    fig = go.Figure([_cohort_trace(cells, currency, clock, suffix) for clock, suffix, _ in CLOCKS])
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(title_text="Months since acquisition", dtick=1)
    fig.update_yaxes(
        title_text="Cohort (month of first payment)", autorange="reversed", type="category"
    )
    return fig


def _cohort_trace(cells: list[Row], currency: str, clock: str, suffix: str) -> go.Heatmap:
    cohorts = sorted({cell["cohort_month"] for cell in cells})
    months = list(range(max(cell["months_since_acquisition"] for cell in cells) + 1))
    z = [[None] * len(months) for _ in cohorts]
    hover = [[""] * len(months) for _ in cohorts]
    for cell in cells:
        i, j = cohorts.index(cell["cohort_month"]), cell["months_since_acquisition"]
        z[i][j] = cell[f"ltv_per_customer{suffix}"]
        running = "" if cell["is_complete"] else " (month still running)"
        hover[i][j] = (
            f"{count(cell['cohort_customers'])} customers, "
            f"{money(cell[f'cumulative_net_revenue{suffix}'])} {currency} so far{running}"
        )
    return go.Heatmap(
        x=months,
        y=[f"{month:%Y-%m}" for month in cohorts],
        z=z,
        customdata=hover,
        colorscale="Blues",
        colorbar={"title": {"text": f"LTV ({currency})"}},
        texttemplate="%{z:,.0f}",
        hovertemplate="Cohort %{y}, month %{x}: LTV %{z:,.2f}<br>%{customdata}<extra></extra>",
        meta={"clock": clock},
        visible=clock == "cash",
    )


def day_n_curves(
    overall: list[Row], cohorts: list[Row], currency: str, forecast: Sequence[Row] = ()
) -> go.Figure:
    """LTV by day N: one line for all customers, one thinner line per acquisition cohort,
    for each refund clock (the cash clock's shown). Where `forecast` (ltv_forecast_cohorts)
    has the cohort, a dashed line in the cohort's colour continues its cash-clock curve to the
    predicted LTV at 12 and 24 months (days 365 and 730)."""
    fig = go.Figure()
    predicted = {str(row["cohort_month"])[:7]: row for row in forecast}
    for clock, suffix, _ in CLOCKS:
        groups = groupby(cohorts, key=lambda row: row["segment_value"])
        for index, (cohort, points) in enumerate(groups):
            name, colour = f"Cohort {str(cohort)[:7]}", COHORT_COLOURS[index % len(COHORT_COLOURS)]
            line = _curve(list(points), name, clock, suffix, width=1, colour=colour, opacity=0.6)
            fig.add_trace(line)
            cohort_forecast = predicted.get(str(cohort)[:7]) if clock == "cash" else None
            continuation = (
                _forecast_curve(line, cohort_forecast, colour)
                if cohort_forecast and line.x
                else None
            )
            if continuation:
                fig.add_trace(continuation)
        fig.add_trace(_curve(overall, "All customers", clock, suffix, width=4, colour="#1d2d35"))
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(title_text="Days since first payment")
    fig.update_yaxes(title_text=f"LTV ({currency})")
    return fig


def margin_curves(overall: list[Row], currency: str) -> go.Figure:
    """LTV and margin LTV of all customers by day N: revenue on each refund clock (the cash
    clock's shown), margin on the cash clock only, so it stays drawn under either."""
    fig = go.Figure(
        [
            _curve(overall, "Net revenue", clock, suffix, width=3, colour="#264653")
            for clock, suffix, _ in CLOCKS
        ]
    )
    margin = "Margin (cash clock)"
    fig.add_trace(_curve(overall, margin, None, "", 3, "#2a9d8f", column="margin_ltv"))
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(title_text="Days since first payment")
    fig.update_yaxes(title_text=f"Per customer ({currency})")
    return fig


def _forecast_curve(actual: go.Scatter, predicted: Row, colour: str) -> go.Scatter | None:
    """From the cohort's last actual point to its predicted LTV at the forecast days beyond
    (None when the cohort is older than the last of them)."""
    last_day, last_ltv = actual.x[-1], actual.y[-1]
    ahead = [
        (day, predicted[column])
        for day, column in FORECAST_DAYS
        if day > last_day and predicted[column] is not None
    ]
    if not ahead:
        return None
    name = f"{actual.name} (forecast)"
    return go.Scatter(
        x=[last_day, *(day for day, _ in ahead)],
        y=[last_ltv, *(ltv for _, ltv in ahead)],
        name=name,
        mode="lines+markers",
        line={"width": 1, "color": colour, "dash": "dash"},
        opacity=0.6,
        showlegend=False,
        hovertemplate=f"{name}, day %{{x}}: LTV %{{y:,.2f}}<extra></extra>",
        meta={"clock": "cash"},
    )


def _curve(
    points: list[Row],
    name: str,
    clock: str | None,
    suffix: str,
    width: int,
    colour: str | None = None,
    opacity: float = 1.0,
    column: str = "ltv",
) -> go.Scatter:
    """One line of `column` by day N on `clock` (None: the same on both, always shown)."""
    eligible = [p for p in points if p[f"{column}{suffix}"] is not None]
    return go.Scatter(
        x=[p["day_n"] for p in eligible],
        y=[p[f"{column}{suffix}"] for p in eligible],
        customdata=[p["eligible_customers"] for p in eligible],
        name=name,
        mode="lines+markers",
        line={"width": width, "color": colour},
        opacity=opacity,
        hovertemplate=f"{name}, day %{{x}}: %{{y:,.2f}} (%{{customdata:,}} customers)"
        "<extra></extra>",
        meta={"clock": clock} if clock else None,
        visible=clock != "charge",
    )


def segment_bars(segments: list[Row], currency: str) -> go.Figure:
    """Horizontal bars of LTV per segment, highest (cash clock) on top, labelled with customers
    counted; one bar series per refund clock, the cash clock's shown."""
    fig = go.Figure(
        [
            go.Bar(
                x=[s[f"ltv{suffix}"] for s in segments],
                y=[s["label"] for s in segments],
                orientation="h",
                text=[
                    f"{money(s[f'ltv{suffix}'])} (n={count(s['eligible_customers'])})"
                    for s in segments
                ],
                textposition="auto",
                hovertemplate=f"%{{y}}: LTV %{{x:,.2f}} ({name})<extra></extra>",
                marker_color="#264653",
                meta={"clock": clock},
                visible=clock == "cash",
                showlegend=False,
            )
            for clock, suffix, name in CLOCKS
        ]
    )
    fig.update_layout(**{**LAYOUT, "height": max(240, 60 + 32 * len(segments))})
    fig.update_xaxes(title_text=f"LTV ({currency})")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def repeat_rate_bars(cohorts: list[Row]) -> go.Figure:
    """The share of each cohort that bought a second order, one bar series per account; the
    hover adds the cohort's size, the median days to the second order and orders per customer.
    """
    fig = go.Figure()
    for account, rows in groupby(cohorts, key=lambda row: row["account"]):
        cells = list(rows)
        fig.add_trace(
            go.Bar(
                x=[f"{c['cohort_month']:%Y-%m}" for c in cells],
                y=[c["repeat_rate"] for c in cells],
                name=account,
                text=[percent(c["repeat_rate"]) for c in cells],
                textposition="auto",
                customdata=[
                    f"{count(c['repeat_customers'])} of {count(c['customers'])} customers, "
                    f"median {days(c['median_days_to_second_order'])} days to the second order, "
                    f"{c['avg_orders_per_customer']} orders per customer"
                    for c in cells
                ],
                hovertemplate="Cohort %{x}: %{customdata}<extra>%{fullData.name}</extra>",
                marker_color=ACCOUNT_COLOURS[len(fig.data) % len(ACCOUNT_COLOURS)],
                meta={"account": account},
            )
        )
    fig.update_layout(**LAYOUT, barmode="group", showlegend=len(fig.data) > 1)
    fig.update_xaxes(title_text="Cohort (month of first payment)", type="category")
    fig.update_yaxes(title_text="Customers with a second order", tickformat=".0%")
    return fig


def revenue_chart(buckets: list[Row], grain: str, currency: str) -> go.Figure:
    """Gross revenue up, refunds down, net revenue as a line, per week or month."""
    x = bucket_labels(buckets, grain)
    fig = go.Figure(
        [
            go.Bar(
                x=x,
                y=[b["gross_revenue"] for b in buckets],
                name="Gross revenue",
                marker_color="#2a9d8f",
            ),
            go.Bar(x=x, y=[-b["refunds"] for b in buckets], name="Refunds", marker_color="#e76f51"),
            go.Scatter(
                x=x,
                y=[b["net_revenue"] for b in buckets],
                name="Net revenue",
                line={"color": "#1d2d35"},
            ),
        ]
    )
    fig.update_layout(**LAYOUT, barmode="relative", hovermode="x unified")
    fig.update_xaxes(title_text=_bucket_title(grain), type="category")
    fig.update_yaxes(title_text=currency)
    return fig


def reconciliation_chart(buckets: list[Row], grain: str, currency: str) -> go.Figure:
    """Payments per source, stacked: counts on top, amounts below, per week or month."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    x = bucket_labels(buckets, grain)
    for source, name, colour in SOURCES:
        for row, measure in ((1, "count"), (2, "amount")):
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=[b[f"{source}_{measure}"] for b in buckets],
                    name=name,
                    legendgroup=source,
                    showlegend=row == 1,
                    marker_color=colour,
                ),
                row=row,
                col=1,
            )
    fig.update_layout(**{**LAYOUT, "height": 520}, barmode="relative", hovermode="x unified")
    fig.update_xaxes(type="category")
    fig.update_xaxes(title_text=_bucket_title(grain), row=2, col=1)
    fig.update_yaxes(title_text="Payments", row=1, col=1)
    fig.update_yaxes(title_text=currency, row=2, col=1)
    return fig


def bucket_labels(buckets: list[Row], grain: str) -> list[str]:
    """Axis labels: `2025-01` for months, the Monday `2025-01-06` for weeks."""
    fmt = "%Y-%m" if grain == "month" else "%Y-%m-%d"
    return [f"{b['bucket']:{fmt}}" for b in buckets]


def _bucket_title(grain: str) -> str:
    return "Month" if grain == "month" else "Week starting (Monday)"
