"""Small pieces of the generator whose rules are easy to get subtly wrong."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pipeline.demo.catalog import build_catalog
from pipeline.demo.csv_export import php_csv_field, php_csv_line
from pipeline.demo.money import major, percent_of
from pipeline.demo.simulate import simulate_customer
from pipeline.demo.timeline import CsvClock, add_months
from pipeline.demo.webhook_bodies import FORM, JSON, WebhookBodies
from pipeline.demo.world import SellerPlan, world_for
from pipeline.phpform import decode_php_form, encode_php_form


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_fields_are_quoted_only_for_space_comma_quote_tab_cr_lf() -> None:
    assert php_csv_field("Ana") == "Ana"
    assert php_csv_field("10115\0") == "10115\0"
    assert php_csv_field("Ana ") == '"Ana "'
    assert php_csv_field("a,b") == '"a,b"'
    assert php_csv_field('say "hi"') == '"say ""hi"""'
    assert php_csv_field("a\tb") == '"a\tb"'
    assert php_csv_field("a\nb") == '"a\nb"'
    assert php_csv_field("a\rb") == '"a\rb"'
    assert php_csv_line(["x", "", "&amp;"]) == "x,-,&amp;\n"


@given(st.lists(st.text(st.characters(exclude_characters="\\", codec="utf-8"), min_size=1)))
def test_any_row_reads_back_with_a_standard_csv_reader(values: list[str]) -> None:
    """Whatever a buyer types, the row splits back into the same fields."""
    line = php_csv_line(values)
    assert list(csv.reader(io.StringIO(line, newline=""))) == ([values] if values else [[]])


def test_money_is_written_from_integer_cents() -> None:
    assert [major(c) for c in (0, 5, -5, 123456, -3900)] == [
        "0.00",
        "0.05",
        "-0.05",
        "1234.56",
        "-39.00",
    ]
    assert percent_of(3900, 19) == 741
    assert percent_of(250, 20) == 50
    assert percent_of(25, 10) == 3  # 2.5 cents rounds half up


def test_monthly_billing_keeps_the_calendar_day_and_clamps_at_month_end() -> None:
    assert add_months(_ts("2026-01-31 10:00:00"), 1) == _ts("2026-02-28 10:00:00")
    assert add_months(_ts("2026-01-31 10:00:00"), 2) == _ts("2026-03-31 10:00:00")
    assert add_months(_ts("2025-11-15 23:59:59"), 14) == _ts("2027-01-15 23:59:59")


def test_csv_times_are_local_and_never_in_a_repeated_dst_hour() -> None:
    clock = CsvClock("Europe/Berlin")
    assert clock.date_time(_ts("2026-07-01 22:30:00")) == ("2026-07-02", "00:30:00")
    in_repeated_hour = _ts("2026-10-25 00:30:00")  # 02:30 CEST; 02:30 CET comes an hour later
    settled = clock.settle(in_repeated_hour)
    assert in_repeated_hour < settled <= in_repeated_hour + 2 * 3600
    day, time = clock.date_time(settled)
    back = datetime.fromisoformat(f"{day} {time}").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    assert int(back.timestamp()) == settled == int(back.replace(fold=1).timestamp())
    ordinary = _ts("2026-10-26 00:30:00")
    assert clock.settle(ordinary) == ordinary
    assert CsvClock("UTC").settle(in_repeated_hour) == in_repeated_hour
    assert clock.file_stamp(_ts("2026-01-02 03:04:05")) == "2026-01-02 04_04_05"


def test_the_membership_is_renamed_and_names_are_escaped_for_exports() -> None:
    catalog = build_catalog(rename_at=1000, second_currency=True)
    assert catalog.currencies == ("USD", "EUR")
    membership = next(f.front for f in catalog.funnels["USD"] if f.front.item_id == 105)
    assert membership.name_at(999) == "Inner Circle"
    assert membership.name_at(1000) == "Inner Circle Membership & Community"
    assert membership.escaped_name_at(1000) == "Inner Circle Membership &amp; Community"
    assert membership.key == "product-105" and membership.identifier == "product_105"
    assert build_catalog(0, second_currency=False).currencies == ("USD",)


def test_both_encodings_of_a_webhook_carry_the_same_payload() -> None:
    """Bodies are assembled from parts whose encodings are cached or written out by hand: the
    form and the JSON body of every event must still decode to one and the same payload, in
    the same key order, and the form must be exactly what the encoder makes of it."""
    world = world_for(SellerPlan(customers=300, seed=5))
    bodies = WebhookBodies(world)
    events: Counter[str] = Counter()
    for index in range(300):
        bodies.start_customer()
        for event in simulate_customer(world, index).events:
            form_type, form = bodies.body(event, as_json=False)
            json_type, as_json = bodies.body(event, as_json=True)
            assert (form_type, json_type) == (FORM, JSON)
            payload = json.loads(as_json)
            assert json.dumps(decode_php_form(form)) == json.dumps(payload)
            assert encode_php_form(payload) == form
            events[payload["event"]] += 1
    assert len(events) == 5, events
