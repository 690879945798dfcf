"""The report's control bar: currency, account, day N of the segment tables and refund clock.

Plain `<select>`s and a few lines of inlined JavaScript, so the one offline file keeps working
without a network. The page renders every choice up front and the script only shows and hides:
- currency: the sections whose `data-currency` is the choice (all of them for `all`);
- account: rows and blocks whose `data-account` is the choice, and chart traces whose
  `meta.account` is; a section whose account blocks are all hidden shows its `.account-none`
  note instead;
- day N: the segment blocks whose `data-day-n` is the choice (`default`: each currency's own
  default day, marked `data-default-day`; every currency has a block for every day offered);
- refund clock: `data-clock` on `<body>`, which the stylesheet turns into showing `.clock-cash`
  or `.clock-charge` numbers, and chart traces whose `meta.clock` is the choice.
Without JavaScript the bar stays hidden and the page shows the default: everything, each
currency's default day N, the cash clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

CLOCK_OPTIONS = (
    ("cash", "Cash clock: refunds on the day they happened"),
    ("charge", "Charge clock: refunds on the date of the charge they refund"),
)
STYLE = """
#controls { position: sticky; top: 0; z-index: 10; background: #fff; padding: 0.5rem 0;
            border-bottom: 1px solid #dde3e6; display: flex; flex-wrap: wrap; gap: 1rem; }
#controls[hidden] { display: none; }
section.currency, h3 { scroll-margin-top: 3.5rem; }
.clock-charge { display: none; }
body[data-clock="charge"] .clock-charge { display: inline; }
body[data-clock="charge"] .clock-cash { display: none; }
"""
SCRIPT = """
(function () {
  var bar = document.getElementById("controls");
  bar.hidden = false;
  function chosen(name) { return document.getElementById("control-" + name).value; }
  function each(selector, show) {
    document.querySelectorAll(selector).forEach(function (el) { el.hidden = !show(el); });
  }
  function apply() {
    var currency = chosen("currency"), account = chosen("account");
    var day = chosen("day-n"), clock = chosen("clock");
    document.body.setAttribute("data-clock", clock);
    each("section.currency", function (el) {
      return currency === "all" || el.dataset.currency === currency;
    });
    each("[data-account]", function (el) {
      return account === "all" || el.dataset.account === account;
    });
    each(".account-none", function (note) {
      return !Array.prototype.some.call(note.parentNode.children, function (el) {
        return el.hasAttribute("data-account") && !el.hidden;
      });
    });
    each("[data-day-n]", function (el) {
      return day === "default" ? el.hasAttribute("data-default-day") : el.dataset.dayN === day;
    });
    document.querySelectorAll(".js-plotly-plot").forEach(function (plot) {
      var visible = plot.data.map(function (trace) {
        var meta = trace.meta || {};
        return (!meta.clock || meta.clock === clock) &&
          (!meta.account || account === "all" || meta.account === account);
      });
      Plotly.restyle(plot, {visible: visible});
      if (plot.offsetParent !== null) { Plotly.Plots.resize(plot); }
    });
  }
  bar.addEventListener("change", apply);
})();
"""


def control_bar(
    currencies: Sequence[str], accounts: Sequence[str], days: Sequence[int], default_day: str
) -> str:
    """The bar, hidden until its script runs; `default_day` is a day N or `default`."""
    day_options = [(str(d), f"Day {d}") for d in days]
    if default_day == "default":
        day_options.insert(0, ("default", "Each currency's default"))
    return (
        '<div id="controls" hidden>\n'
        + _select("currency", "Currency", [("all", "All"), *((c, c) for c in currencies)], "all")
        + _select("account", "Account", [("all", "All"), *((a, a) for a in accounts)], "all")
        + _select("day-n", "Segments at", day_options, default_day)
        + _select("clock", "Refunds", list(CLOCK_OPTIONS), "cash")
        + "</div>\n"
    )


def control_script() -> str:
    """The bar's script, for the end of the body (after every chart is drawn)."""
    return f"<script>{SCRIPT}</script>"


def _select(name: str, label: str, options: Sequence[tuple[str, str]], selected: str) -> str:
    items = "".join(
        f'<option value="{escape(value, quote=True)}"'
        f"{' selected' if value == selected else ''}>{escape(text)}</option>"
        for value, text in options
    )
    return (
        f'<label>{escape(label)} <select id="control-{name}" autocomplete="off">{items}'
        "</select></label>\n"
    )
