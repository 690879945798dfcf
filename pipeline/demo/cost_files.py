"""The demo seller's cost and ad spend files, in the formats docs/costs.md accepts.

Fees and product costs go to `costs/` in the plain format; spend goes to `ad_spend/` as a Meta
Ads Manager export (facebook), a Google Ads campaign report (google, with its title and
date-range lines, thousands separators and total row) and a plain file (the rest), so every
format is exercised end to end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from pipeline.demo.cost_inputs import ECB_CURRENCIES, CostInputs, FxRate, SpendDay
from pipeline.demo.money import major

META_NAME = "Meta-Ads-Campaigns-by-day.csv"
GOOGLE_NAME = "Google Ads Campaign report.csv"


def _csv_text(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write(path: Path, text: str) -> Path:
    """Written under a partial name and renamed, like every demo output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8", newline="")
    partial.replace(path)
    return path


def _meta(days: list[SpendDay]) -> str:
    currency = days[0].currency
    header = ("Reporting starts", "Reporting ends", "Campaign name", "Day",
              f"Amount spent ({currency})", "Impressions")  # fmt: skip
    rows = [(d.day, d.day, d.campaign, d.day, major(d.cents), d.cents * 7) for d in days]
    return _csv_text([header, *rows])


def _long_date(day: str) -> str:
    moment = date.fromisoformat(day)
    return f"{moment:%B} {moment.day}, {moment.year}"


def _google(days: list[SpendDay]) -> str:
    def cost(cents: int) -> str:
        return f"{cents // 100:,}.{cents % 100:02d}"

    first, last = min(d.day for d in days), max(d.day for d in days)
    rows: list[Sequence[object]] = [
        ("Campaign report",),
        (f"{_long_date(first)} - {_long_date(last)}",),
        ("Day", "Campaign", "Currency code", "Cost", "Impr.", "Clicks"),
    ]
    rows += [
        (d.day, d.campaign, d.currency, cost(d.cents), d.cents * 5, d.cents // 90) for d in days
    ]
    rows.append(
        ("Total: Account", "--", days[0].currency, cost(sum(d.cents for d in days)), "", "")
    )
    return _csv_text(rows)


def _plain_spend(days: list[SpendDay]) -> str:
    header = ("date", "channel", "campaign", "spend", "currency", "account")
    rows = [(d.day, d.channel, d.campaign, major(d.cents), d.currency, "") for d in days]
    return _csv_text([header, *rows])


def _ecb(rates: list[FxRate]) -> str:
    """As the ECB publishes eurofxref-hist.csv: newest day first, a column per currency,
    N/A where a currency has no rate, and a trailing comma on every line."""
    by_day: dict[str, dict[str, str]] = {}
    for rate in rates:
        by_day.setdefault(rate.day, {})[rate.currency] = str(rate.rate)
    lines = ["Date," + ",".join(ECB_CURRENCIES) + ","]
    for day in sorted(by_day, reverse=True):
        values = [by_day[day].get(currency, "N/A") for currency in ECB_CURRENCIES]
        lines.append(f"{day},{','.join(values)},")
    return "\n".join(lines) + "\n"


def _plain_rates(rates: list[FxRate]) -> str:
    header = ("date", "currency", "rate", "base")
    return _csv_text([header, *((r.day, r.currency, r.rate, r.base) for r in rates)])


def write_cost_files(inputs: CostInputs, out: Path) -> dict[str, Path]:
    """Write the files into the landing-shaped folder `out`; returns them by name."""
    fees = [("processor", "fee_percent", "fee_fixed", "currency", "valid_from", "account")]
    fees += [
        (r.processor, r.percent, major(r.fixed), r.currency, r.valid_from,
         "" if r.account == "*" else r.account)
        for r in inputs.fees
    ]  # fmt: skip
    costs = [("product_id", "cost_per_sale", "currency", "valid_from", "item_type")]
    costs += [
        (r.product_id, major(r.cost), r.currency, r.valid_from, r.item_type) for r in inputs.costs
    ]
    by_format: dict[str, list[SpendDay]] = {}
    for day in inputs.spend:
        by_format.setdefault(day.file_format, []).append(day)
    ecb = [rate for rate in inputs.rates if rate.file_format == "ecb"]
    plain_rates = [rate for rate in inputs.rates if rate.file_format == "plain"]
    return {
        "fees": _write(out / "costs" / "processor-fees.csv", _csv_text(fees)),
        "product_costs": _write(out / "costs" / "product-costs.csv", _csv_text(costs)),
        "meta": _write(out / "ad_spend" / META_NAME, _meta(by_format["meta"])),
        "google": _write(out / "ad_spend" / GOOGLE_NAME, _google(by_format["google"])),
        "plain_spend": _write(
            out / "ad_spend" / "other-spend.csv", _plain_spend(by_format["plain"])
        ),
        "ecb": _write(out / "fx_rates" / "eurofxref-hist.csv", _ecb(ecb)),
        "plain_rates": _write(out / "fx_rates" / "usd-rates.csv", _plain_rates(plain_rates)),
    }
