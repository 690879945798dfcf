"""process_delivery, the pure heart of the sidecar: what each delivery becomes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline.phpform import encode_php_form
from pipeline.sidecar.records import (
    FORM_TYPE,
    Accepted,
    Outcome,
    Ping,
    Refused,
    delivery_id,
    process_delivery,
)

SAMPLES = Path(__file__).parent / "fixtures" / "webhooks"
SECRETS = {"magloft": "SAMPLESECRET1", "engagemorecrm": "SAMPLESECRET2"}
FORM_CREDENTIALS = "thrivecart_account=magloft&thrivecart_secret=SAMPLESECRET1"
AT = datetime(2026, 11, 28, 2, 42, 11, 123456, tzinfo=UTC)
SAMPLE_CASES = [
    ("order.success", "magloft", "test"),
    ("order.subscription_payment", "engagemorecrm", "live"),
]


def deliver(
    body: bytes | str,
    content_type: str | None = "application/json",
    secrets: dict[str, str] = SECRETS,
    **kwargs: Any,
) -> Outcome:
    raw = body.encode() if isinstance(body, str) else body
    options = {"received_at": AT, "remote_addr": "127.0.0.1", **kwargs}
    return process_delivery(raw, content_type, secrets, **options)


def accepted(outcome: Outcome) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


def refused(outcome: Outcome, status: int, reason: str) -> Refused:
    assert isinstance(outcome, Refused), outcome
    assert (outcome.status, outcome.reason) == (status, reason), outcome
    return outcome


def as_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload)


def signed(**fields: Any) -> str:
    """A JSON body from account magloft with its right secret word."""
    return as_json(
        {"thrivecart_account": "magloft", "thrivecart_secret": "SAMPLESECRET1", **fields}
    )


@pytest.mark.parametrize(("name", "account", "mode"), SAMPLE_CASES)
def test_both_samples_as_form_and_json_give_the_same_record_without_the_secret(
    name: str, account: str, mode: str
) -> None:
    form = accepted(deliver((SAMPLES / f"{name}.form").read_bytes(), FORM_TYPE))
    jsn = accepted(deliver((SAMPLES / f"{name}.json").read_bytes(), "application/json"))
    expected = json.loads((SAMPLES / f"{name}.json").read_text())
    del expected["thrivecart_secret"]
    for outcome, fmt in ((form, "form"), (jsn, "json")):
        assert b"SAMPLESECRET" not in outcome.line
        stored = json.loads(outcome.line)
        assert stored == outcome.record
        assert stored["payload"] == expected
        assert stored["delivery_id"] == delivery_id(expected)
        assert stored["format"] == fmt
        assert (stored["account"], stored["event"], stored["mode"]) == (account, name, mode)
        assert stored["known_event"] is True
        assert stored["schema_version"] == 1
        assert stored["received_at"] == "2026-11-28T02:42:11.123456Z"
        assert stored["remote_addr"] == "127.0.0.1"
        assert outcome.day == date(2026, 11, 28)
    assert form.record["delivery_id"] == jsn.record["delivery_id"]
    assert list(form.record) == [
        "schema_version",
        "delivery_id",
        "received_at",
        "account",
        "event",
        "mode",
        "content_type",
        "format",
        "remote_addr",
        "known_event",
        "payload",
    ]


def test_content_type_is_stored_without_parameters() -> None:
    outcome = accepted(deliver(signed(event="order.refund"), "Application/JSON; charset=UTF-8"))
    assert outcome.record["content_type"] == "application/json"


def test_event_api_json_is_stringified_like_thrivecarts_own_json() -> None:
    body = (
        '{"event": "order_rebill", "webhook_id": "4f8e2c1a-0000-4000-8000-000000000001",'
        ' "mode_int": 2, "thrivecart_account": " EngageMoreCRM ",'
        ' "thrivecart_secret": "SAMPLESECRET2", "amount": 6900, "rate": 1.50,'
        ' "big": 429583657727489355, "ok": true, "gone": null, "items": [1, false, {"n": 0}]}'
    )
    record = accepted(deliver(body)).record
    assert record["format"] == "event_api"
    assert (record["account"], record["mode"], record["known_event"]) == (
        "engagemorecrm",
        "live",
        True,
    )
    payload = record["payload"]
    assert "thrivecart_secret" not in payload
    assert (payload["amount"], payload["rate"], payload["big"]) == (
        "6900",
        "1.50",
        "429583657727489355",
    )
    assert (payload["ok"], payload["gone"]) == ("true", "null")
    assert payload["items"] == ["1", "false", {"n": "0"}]


def test_event_api_delivery_without_event_is_stored_not_taken_for_a_ping() -> None:
    record = accepted(deliver(signed(webhook_id="w-1"))).record
    assert (record["event"], record["known_event"], record["format"]) == (None, False, "event_api")


def test_unknown_events_are_stored_and_flagged() -> None:
    record = accepted(deliver(signed(event="order.teleported"))).record
    assert (record["event"], record["known_event"], record["mode"]) == (
        "order.teleported",
        False,
        None,
    )


def test_the_secret_is_removed_at_any_depth() -> None:
    order = {"thrivecart_secret": "SAMPLESECRET1", "charges": [{"thrivecart_secret": "x"}]}
    outcome = accepted(deliver(signed(event="order.success", order=order)))
    assert b"thrivecart_secret" not in outcome.line
    assert outcome.record["payload"] == {
        "thrivecart_account": "magloft",
        "event": "order.success",
        "order": {"charges": [{}]},
    }


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_the_secret_is_removed_in_every_casing(encoding: str) -> None:
    fields = {
        "event": "order.success",
        "thrivecart_account": "magloft",
        "thrivecart_secret": "SAMPLESECRET1",
        "THRIVECART_SECRET": "SAMPLESECRET1",
        "customer": {"ThriveCart_Secret": "SAMPLESECRET1", "email": "a@b.c"},
    }
    body = encode_php_form(fields) if encoding == "form" else as_json(fields)
    outcome = accepted(deliver(body, FORM_TYPE if encoding == "form" else "application/json"))
    assert b"secret" not in outcome.line.lower()
    assert b"SAMPLESECRET1" not in outcome.line
    assert outcome.record["payload"]["customer"] == {"email": "a@b.c"}


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_the_secret_word_never_reaches_the_line_under_any_name(encoding: str) -> None:
    """Other spellings of the field go (PHP itself reads `thrivecart.secret` and `thrivecart
    secret` as `thrivecart_secret`); the secret word anywhere else, in any casing, in a key, a
    value or a JSON text inside a value, is replaced, and the rest of the value is kept."""
    fields = {
        "event": "order.success",
        "thrivecart_account": "magloft",
        "thrivecart_secret": "SAMPLESECRET1",
        "thrivecart secret": "SAMPLESECRET1",
        "Thrivecart.Secret": "an-older-word",
        "customer": {
            "thrivecart_secret ": "SAMPLESECRET1",
            "note": "ref samplesecret1 end",
            "meta": '{"thrivecart_secret":"SAMPLESECRET1"}',
        },
        "SampleSecret1": "1",
    }
    body = encode_php_form(fields) if encoding == "form" else as_json(fields)
    outcome = accepted(deliver(body, FORM_TYPE if encoding == "form" else "application/json"))
    assert b"samplesecret1" not in outcome.line.lower()
    assert b"an-older-word" not in outcome.line
    assert json.loads(outcome.line)["payload"] == {
        "event": "order.success",
        "thrivecart_account": "magloft",
        "customer": {"note": "ref [redacted] end", "meta": '{"thrivecart_secret":"[redacted]"}'},
        "[redacted]": "1",
    }


def test_a_secret_word_that_json_escapes_is_found_and_replaced() -> None:
    word = 'Qu"o\\te-wörd'
    body = as_json({"event": "e", "thrivecart_secret": word, "note": f"a {word} b", "k": word})
    outcome = accepted(deliver(body, secrets={"*": word}))
    assert outcome.record["payload"] == {"event": "e", "note": "a [redacted] b", "k": "[redacted]"}
    assert "wörd".encode() not in outcome.line


def test_a_secret_word_sent_as_the_content_type_is_not_stored() -> None:
    outcome = accepted(deliver(signed(event="order.success"), "SampleSecret1"))
    assert b"samplesecret1" not in outcome.line.lower()
    assert outcome.record["content_type"] == "[redacted]"


def test_delivery_id_depends_on_the_payload_only() -> None:
    body = signed(event="order.refund", n="1")
    reordered = as_json(dict(reversed(json.loads(body).items())))
    later = accepted(deliver(body, received_at=AT + timedelta(hours=5), remote_addr="10.0.0.9"))
    first = accepted(deliver(body))
    assert first.record["delivery_id"] == later.record["delivery_id"]
    assert first.record["delivery_id"] == accepted(deliver(reordered)).record["delivery_id"]
    changed = signed(event="order.refund", n="2")
    assert accepted(deliver(changed)).record["delivery_id"] != first.record["delivery_id"]


def test_received_at_and_its_segment_day_are_utc() -> None:
    body = signed(event="order.refund")
    evening_in_new_york = datetime(2026, 11, 28, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    outcome = accepted(deliver(body, received_at=evening_in_new_york))
    assert outcome.record["received_at"] == "2026-11-29T04:30:00.000000Z"
    assert outcome.day == date(2026, 11, 29)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("", None), ("  \r\n", "text/plain"), ("", FORM_TYPE)],
)
def test_only_an_empty_post_is_a_ping(body: str, content_type: str | None) -> None:
    assert isinstance(deliver(body, content_type), Ping)


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("thrivecart_account=magloft", FORM_TYPE, "missing_secret"),
        ("a[]=1&" * 9000, FORM_TYPE, "missing_secret"),
        ('{"thrivecart_secret": "wrong"}', "application/json", "unauthorized"),
        ('{"event": ""}', "application/json", "missing_secret"),
        ('{"thrivecart_account": "magloft", "thrivecart_secret": "no"}', FORM_TYPE, "unauthorized"),
    ],
)
def test_a_post_without_an_event_or_secret_is_refused_not_dropped(
    body: str, content_type: str, reason: str
) -> None:
    refused(deliver(body, content_type), 401, reason)


def test_a_post_without_an_event_but_with_the_secret_is_stored() -> None:
    body = "thrivecart_account=magloft&thrivecart_secret=SAMPLESECRET1&note=hello"
    record = accepted(deliver(body, FORM_TYPE)).record
    assert (record["event"], record["known_event"]) == (None, False)
    assert record["payload"] == {"thrivecart_account": "magloft", "note": "hello"}


def test_a_json_body_labelled_as_a_form_is_decoded_as_json() -> None:
    body = signed(event="order.success", order_id="42")
    outcome = accepted(deliver(body, FORM_TYPE))
    assert outcome.record["payload"] == {
        "event": "order.success",
        "order_id": "42",
        "thrivecart_account": "magloft",
    }
    assert (outcome.record["format"], outcome.record["content_type"]) == ("json", FORM_TYPE)
    assert outcome.record["delivery_id"] == accepted(deliver(body)).record["delivery_id"]


def test_a_form_without_the_secret_is_refused_before_it_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(body: object) -> None:
        raise AssertionError("the form was decoded before it was authenticated")

    monkeypatch.setattr("pipeline.sidecar.records.decode_php_form", no_decoding)
    refused(deliver("event=order.success&" + "a[]=1&" * 9000, FORM_TYPE), 401, "missing_secret")
    wrong = "event=x&thrivecart_account=magloft&thrivecart_secret=guess"
    refused(deliver(wrong, FORM_TYPE), 401, "unauthorized")


def test_missing_secret() -> None:
    refused(deliver(as_json({"event": "order.success"})), 401, "missing_secret")
    body = as_json({"event": "order.success", "thrivecart_secret": ""})
    refused(deliver(body), 401, "missing_secret")


def test_wrong_secret_and_a_secret_from_another_account() -> None:
    wrong = {"event": "order.success", "thrivecart_account": "magloft", "thrivecart_secret": "no"}
    outcome = refused(deliver(as_json(wrong)), 401, "unauthorized")
    assert "no" not in outcome.message.split()
    other = {**wrong, "thrivecart_secret": "SAMPLESECRET2"}
    refused(deliver(as_json(other)), 401, "unauthorized")


def test_an_unknown_account_and_a_wrong_secret_get_the_same_answer() -> None:
    """Otherwise anyone could find out which accounts are configured; the log tells them apart."""
    wrong = {"event": "order.success", "thrivecart_account": "magloft", "thrivecart_secret": "no"}
    unknown = {**wrong, "thrivecart_account": "someone-else"}
    wrong_outcome = refused(deliver(as_json(wrong)), 401, "unauthorized")
    unknown_outcome = refused(deliver(as_json(unknown)), 401, "unauthorized")
    assert (wrong_outcome.status, wrong_outcome.reason, wrong_outcome.message) == (
        unknown_outcome.status,
        unknown_outcome.reason,
        unknown_outcome.message,
    )
    assert "wrong secret" in wrong_outcome.detail
    assert "no secret word is configured" in unknown_outcome.detail


def test_account_matching_and_the_any_account_secret() -> None:
    base = {"event": "order.success", "thrivecart_secret": "SAMPLESECRET1"}
    accepted(deliver(as_json({**base, "thrivecart_account": "MagLoft"})))
    refused(deliver(as_json({**base, "thrivecart_account": "other"})), 401, "unauthorized")
    refused(deliver(as_json(base)), 401, "unauthorized")
    anyone = {"*": "SAMPLESECRET1"}
    accepted(deliver(as_json({**base, "thrivecart_account": "other"}), secrets=anyone))
    accepted(deliver(as_json(base), secrets=anyone))
    specific_first = {"magloft": "OTHER", "*": "SAMPLESECRET1"}
    outcome = deliver(as_json({**base, "thrivecart_account": "magloft"}), secrets=specific_first)
    refused(outcome, 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('["event"]', "application/json", "must be an object"),
        ('{"event": NaN}', "application/json", "not valid JSON"),
        (b'{"event": "\xff"}', "application/json", "not valid JSON"),
        (signed(event="x")[:-1] + ', "s": "\\ud800"}', "application/json", "surrogate"),
        ('{"event": {"name": "x"}}', "application/json", "must be a string"),
        ('{"a":' * 70 + "1" + "}" * 70, "application/json", "deeper than"),
        (f"{FORM_CREDENTIALS}&event=x&a[b=1", FORM_TYPE, "malformed field name"),
        (f"{FORM_CREDENTIALS}&event=x&a=%ff", FORM_TYPE, "cannot be decoded"),
    ],
)
def test_malformed_bodies_get_400_with_a_message(
    body: str | bytes, content_type: str, message: str
) -> None:
    outcome = refused(deliver(body, content_type), 400, "malformed_body")
    assert message in outcome.message


@pytest.mark.parametrize("content_type", [None, "text/plain", "multipart/form-data; boundary=x"])
def test_unsupported_content_types_get_415(content_type: str | None) -> None:
    body = f"{FORM_CREDENTIALS}&event=order.success"
    outcome = refused(deliver(body, content_type), 415, "unsupported_media_type")
    assert "application/json" in outcome.message


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_a_json_object_is_decoded_whatever_the_content_type(content_type: str | None) -> None:
    record = accepted(deliver(signed(event="order.success"), content_type)).record
    assert (record["event"], record["format"]) == ("order.success", "json")


def test_bodies_over_the_cap_get_413() -> None:
    body = signed(event="order.success")
    refused(deliver(body, max_body_bytes=len(body) - 1), 413, "body_too_large")
    accepted(deliver(body, max_body_bytes=len(body)))
