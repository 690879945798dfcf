"""From one HTTP delivery to one webhook log record: decode, authenticate, strip, build.

Pure (no I/O, no clock): the server and the offline replay both call
:func:`process_delivery`, so a replayed history is byte-for-byte what the live sidecar would
have stored. The record schema is fixed in docs/interfaces.md ("Webhook log record").
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pipeline.phpform import MAX_DEPTH, FormDecodeError, decode_php_form, unquote_value

SCHEMA_VERSION = 1
MAX_BODY_BYTES = 1024 * 1024  # real deliveries are a few KB; this leaves room for big carts
FORM_TYPE = "application/x-www-form-urlencoded"
SECRET_FIELD = "thrivecart_secret"
# Every name the secret field goes by: any casing, the words joined by `_`, `.`, `-`, spaces or
# nothing (PHP itself reads a top-level `thrivecart.secret` or `thrivecart secret` as
# `thrivecart_secret`), surrounding spaces included.
_SECRET_NAME = re.compile(r"\s*thrivecart[\s._-]*secret\s*", re.IGNORECASE)
# What replaces the secret word wherever else a delivery carries it.
REDACTED = "[redacted]"
# The two top-level form fields authentication needs, as ThriveCart writes them (an escaped
# underscore is accepted too).
# No leading `(?:^|&)`: a literal start lets the regex engine skip ahead (3 µs instead of 41
# for a 4 KB body); whether the match starts a field is checked after.
_CREDENTIAL_FIELD = re.compile(rb"thrivecart(?:_|%5[Ff])(secret|account)=([^&]*)")

# The account webhook ("Settings > API & Webhooks"), docs/sources.md, "Events".
ACCOUNT_EVENTS = frozenset(
    {
        "order.success",
        "order.subscription_payment",
        "order.refund",
        "order.subscription_cancelled",
        "order.rebill_failed",
        "order.subscription_paused",
        "order.subscription_resumed",
        "cart.abandoned",
        "affiliate.commission_earned",
        "affiliate.commission_payout",
        "affiliate.commission_refund",
        "customer_updated",
    }
)
# The Event Subscription API's event keys (ThriveCart developer docs, event_subscription).
EVENT_API_EVENTS = frozenset(
    {
        "order_created",
        "order_payment_product",
        "order_payment_bump",
        "order_payment_upsell",
        "order_payment_downsell",
        "order_rebill",
        "order_rebill_failed",
        "order_rebill_completed",
        "order_rebill_cancelled",
        "order_refund_product",
        "order_refund_bump",
        "order_refund_upsell",
        "order_refund_downsell",
        "subscription_paused",
        "subscription_resumed",
        "cart_abandoned",
        "affiliate_approved",
        "affiliate_rejected",
        "affiliate_commission_earned",
        "affiliate_commission_payout",
        "affiliate_commission_refund",
    }
)
KNOWN_EVENTS = ACCOUNT_EVENTS | EVENT_API_EVENTS
_MODES = {"1": "test", "2": "live"}


@dataclass(frozen=True)
class Accepted:
    """A delivery to store: `line` (no newline) goes into the segment of UTC `day`."""

    record: dict[str, Any]
    line: bytes
    day: date


@dataclass(frozen=True)
class Ping:
    """ThriveCart checking the URL with an empty POST: answer 2xx; there is nothing to store."""


@dataclass(frozen=True)
class Refused:
    """A delivery not stored: HTTP `status`, a metrics `reason` and a message for the sender.

    `detail` is for the sidecar's own log only, never for the sender (e.g. which of account
    and secret word was wrong).
    """

    status: int
    reason: str
    message: str
    detail: str = ""


Outcome = Accepted | Ping | Refused


class BodyError(ValueError):
    """The body cannot be decoded; the message says why (safe to send back)."""


class UnsupportedMediaType(BodyError):
    """The content type is neither a form nor JSON."""


def process_delivery(
    body: bytes,
    content_type: str | None,
    secrets: Mapping[str, str],
    *,
    received_at: datetime,
    remote_addr: str | None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Outcome:
    """Decide what one POSTed delivery becomes, exactly as the sidecar answers it.

    Only an empty body is a ping. Anything else is stored or refused, never answered 2xx and
    dropped: a body without an event still has to carry the account's secret word, and is then
    stored like any delivery (flagged as an unknown event).
    """
    if len(body) > max_body_bytes:
        return Refused(413, "body_too_large", f"body is larger than {max_body_bytes} bytes")
    if not body.strip():
        return Ping()
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not looks_like_json(body) and media_type == FORM_TYPE:
        # Refuse a form without the account's secret word before decoding it at all.
        refusal = authenticate(form_credentials(body), secrets)
        if refusal is not None:
            return refusal
    try:
        payload, fmt = decode_body(body, media_type)
    except UnsupportedMediaType as exc:
        return Refused(415, "unsupported_media_type", str(exc))
    except BodyError as exc:
        return Refused(400, "malformed_body", str(exc))
    if not isinstance(payload.get("event", ""), str):
        return Refused(400, "malformed_body", "`event` must be a string")
    refusal = authenticate(payload, secrets)
    if refusal is not None:
        return refusal
    try:
        record, line = _record_without_secret(
            payload,
            fmt=fmt,
            content_type=media_type,
            received_at=received_at,
            remote_addr=remote_addr,
        )
    except UnicodeEncodeError:
        return Refused(400, "malformed_body", "body contains an unpaired UTF-16 surrogate")
    return Accepted(record=record, line=line, day=received_at.astimezone(UTC).date())


def _record_without_secret(
    payload: dict[str, Any],
    *,
    fmt: str,
    content_type: str,
    received_at: datetime,
    remote_addr: str | None,
) -> tuple[dict[str, Any], bytes]:
    """build_record, the secret word nowhere in the line, cheaply in the usual case.

    The top-level secret is popped in place (the payload was decoded for this call alone). A
    second secret field, or the secret word itself anywhere else (a key, a value, a JSON text
    inside a value, the content type), would show in the encoded line: only then pay for a
    full strip, then for replacing the word.
    """
    build = functools.partial(
        build_record,
        fmt=fmt,
        content_type=content_type,
        received_at=received_at,
        remote_addr=remote_addr,
    )
    given = payload.pop(SECRET_FIELD, None)
    record, line = build(payload)
    lowered = line.lower()
    if b"secret" in lowered:  # the field again, in any casing or spelling, at any depth
        payload = strip_secret(payload)
        record, line = build(payload)
        lowered = line.lower()
    if isinstance(given, str) and given and _as_line_text(given) in lowered:
        word = _secret_pattern(given)
        record, line = build(redact(payload, word), content_type=word.sub(REDACTED, content_type))
    return record, line


@functools.lru_cache(maxsize=64)
def _as_line_text(secret: str) -> bytes:
    """`secret` as a JSON string's inside in the line, ASCII lower-cased like `line.lower()`.
    Cached: only authenticated secret words get here, one per configured account."""
    return json.dumps(secret, ensure_ascii=False)[1:-1].encode("utf-8").lower()


@functools.lru_cache(maxsize=64)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    return re.compile(re.escape(secret), re.IGNORECASE)


def looks_like_json(body: bytes) -> bool:
    """A body that is a JSON object: no form field name starts with `{`."""
    return body.lstrip()[:1] == b"{"


def decode_body(body: bytes, media_type: str) -> tuple[dict[str, Any], str]:
    """Decode a form or JSON body into a payload whose every scalar is a string.

    The body decides, not the label: a JSON object is decoded as JSON whatever the content type
    says (a delivery labelled as a form but sent as JSON would otherwise decode to nothing).
    Returns `(payload, format)`, format being `form`, `json`, or `event_api` (JSON carrying
    a `webhook_id`, the Event Subscription API).
    """
    if looks_like_json(body) or media_type == "application/json" or media_type.endswith("+json"):
        payload = decode_json(body)
        return payload, "event_api" if "webhook_id" in payload else "json"
    if media_type == FORM_TYPE:
        try:
            return decode_php_form(body), "form"
        except FormDecodeError as exc:
            raise BodyError(str(exc)) from exc
    raise UnsupportedMediaType(
        f"unsupported content type {media_type or '(none)'!r}: send {FORM_TYPE} or application/json"
    )


def form_credentials(body: bytes) -> dict[str, str]:
    """`thrivecart_secret` and `thrivecart_account` of a form body, read without decoding it.

    A linear scan of the raw fields (the last of each wins, as in the full decode), so a body
    without the secret word costs next to nothing to refuse, however many fields it has.
    """
    found: dict[str, str] = {}
    for match in _CREDENTIAL_FIELD.finditer(body):
        if match.start() and body[match.start() - 1] != 0x26:  # not after `&`: inside a field
            continue
        try:
            found["thrivecart_" + match.group(1).decode()] = unquote_value(match.group(2))
        except (UnicodeDecodeError, FormDecodeError):
            continue
    return found


def decode_json(body: bytes) -> dict[str, Any]:
    """Parse a JSON object keeping numbers' exact text, and turn every scalar into a string.

    ThriveCart's own JSON sends strings; the Event Subscription API may send numbers, booleans
    and nulls, which become the same text ThriveCart would send ("2", "true", "null").
    """
    try:
        data = json.loads(body, parse_int=str, parse_float=str, parse_constant=_no_constant)
    except RecursionError:
        raise BodyError(f"JSON body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BodyError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError("JSON body must be an object")
    return _stringify(data, 1)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _stringify(node: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BodyError(f"JSON body nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        return {k: _stringify(v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify(v, depth + 1) for v in node]
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    return node  # str: parse_int/parse_float already kept numbers as their text


def account_of(payload: Mapping[str, Any]) -> str | None:
    """The ThriveCart account (subdomain), lower-cased as in the settings, or None."""
    account = payload.get("thrivecart_account")
    if not isinstance(account, str):
        return None
    return account.strip().lower() or None


def authenticate(payload: Mapping[str, Any], secrets: Mapping[str, str]) -> Refused | None:
    """Check `thrivecart_secret` against the account's secret word (or the `*` one).

    Constant-time comparison. An unknown account and a wrong secret word get the same answer,
    so nobody can find out which accounts are configured; the sidecar's log tells them apart.
    """
    given = payload.get(SECRET_FIELD)
    if not isinstance(given, str) or not given:
        return Refused(401, "missing_secret", f"{SECRET_FIELD} is missing")
    account = account_of(payload)
    expected = secrets.get(account) if account else None
    if expected is None:
        expected = secrets.get("*")
    if expected is None:
        return unauthorized(f"no secret word is configured for account {account!r}")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return unauthorized(f"wrong secret word for account {account!r}")
    return None


def unauthorized(detail: str) -> Refused:
    """The answer to a delivery of an account we do not take; `detail` is for the log only."""
    message = f"{SECRET_FIELD} does not match the secret word of this ThriveCart account"
    return Refused(401, "unauthorized", message, detail)


def strip_secret(node: Any) -> Any:
    """A copy of `node` without any secret field (`thrivecart_secret` in any casing or
    spelling, see `_SECRET_NAME`), at any depth."""
    nested = (dict, list)  # recursing only into groups keeps this cheap on big payloads
    if isinstance(node, dict):
        return {
            k: strip_secret(v) if isinstance(v, nested) else v
            for k, v in node.items()
            if _SECRET_NAME.fullmatch(k) is None
        }
    if isinstance(node, list):
        return [strip_secret(v) if isinstance(v, nested) else v for v in node]
    return node


def redact(node: Any, word: re.Pattern[str]) -> Any:
    """A copy of `node` with every match of `word` in its keys and strings replaced by
    `[redacted]`: the secret word is never stored, whatever field a sender put it in."""
    if isinstance(node, dict):
        return {word.sub(REDACTED, k): redact(v, word) for k, v in node.items()}
    if isinstance(node, list):
        return [redact(v, word) for v in node]
    return word.sub(REDACTED, node) if isinstance(node, str) else node


def canonical_json(payload: Any) -> bytes:
    """The bytes `delivery_id` hashes: keys sorted, no spaces, UTF-8."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def delivery_id(payload: Any) -> str:
    """sha256 of the canonical payload: identical deliveries (retries, form or JSON) share it."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def format_received_at(moment: datetime) -> str:
    """`2026-11-28T02:42:11.123456Z`: UTC, always with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_record(
    payload: dict[str, Any],
    *,
    fmt: str,
    content_type: str,
    received_at: datetime,
    remote_addr: str | None,
) -> tuple[dict[str, Any], bytes]:
    """The stored record for an authenticated payload (already without its secret), and its
    log line without the newline.

    The payload is JSON-encoded once, canonically: those bytes are both hashed into
    `delivery_id` and written as the line's `payload` (the biggest cost of a delivery after
    decoding it). json.dumps escapes every newline inside strings, so the line is one line.
    """
    payload_json = canonical_json(payload)
    event = payload.get("event") or None
    record = {
        "schema_version": SCHEMA_VERSION,
        "delivery_id": hashlib.sha256(payload_json).hexdigest(),
        "received_at": format_received_at(received_at),
        "account": account_of(payload),
        "event": event,
        "mode": _mode(payload),
        "content_type": content_type,
        "format": fmt,
        "remote_addr": remote_addr,
        "known_event": event in KNOWN_EVENTS,
    }
    head = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    record["payload"] = payload
    return record, head[:-1] + b',"payload":' + payload_json + b"}"


def _mode(payload: Mapping[str, Any]) -> str | None:
    mode = payload.get("mode")
    if isinstance(mode, str) and mode:
        return mode
    mode_int = payload.get("mode_int")
    return _MODES.get(mode_int) if isinstance(mode_int, str) else None
