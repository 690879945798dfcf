"""PHP-style bracket form bodies, as ThriveCart posts them by default.

`customer[email]=a%40b.c&order[charges][0][amount]=1499` decodes to
`{"customer": {"email": "a@b.c"}, "order": {"charges": [{"amount": "1499"}]}}`.
Numeric bracket keys become lists in index order; every value stays a string, exactly as
ThriveCart's JSON option sends it, so both encodings give the same stored payload.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote_plus

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormDecodeError(ValueError):
    """The body is not a valid bracket-nested form; the message names the offending key."""


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        raise FormDecodeError(f"malformed field name {key!r}: unbalanced or misplaced brackets")
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _insert(root: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node = root
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        if segment == "":  # `a[]=x`: PHP appends at the next free index
            segment = str(len(node))
        if last:
            if isinstance(node.get(segment), dict):
                raise FormDecodeError(f"field {key!r} sets a value where a nested group exists")
            node[segment] = value
            return
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise FormDecodeError(f"field {key!r} nests under {segment!r}, which holds a value")
        node = child


def _listify(node: Any) -> Any:
    """Turn dicts whose keys are all non-negative integers into lists ordered by index."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() and (k == "0" or not k.startswith("0")) for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode_php_form(body: str | bytes) -> dict[str, Any]:
    """Decode an `application/x-www-form-urlencoded` body with PHP bracket nesting."""
    if isinstance(body, bytes):
        try:
            body = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FormDecodeError(f"form body has a raw non-ASCII byte at {exc.start}") from exc
    root: dict[str, Any] = {}
    try:
        pairs = parse_qsl(body, keep_blank_values=True, errors="strict", max_num_fields=100_000)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormDecodeError(f"form body cannot be decoded: {exc}") from exc
    for key, value in pairs:
        _insert(root, _split_key(key), value, key)
    result = _listify(root)
    assert isinstance(result, dict)  # the root has named keys only
    return result


def _flatten(prefix: str, node: Any) -> list[tuple[str, str]]:
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return [(prefix, str(node))]
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        pairs.extend(_flatten(f"{prefix}[{key}]" if prefix else str(key), value))
    return pairs


def encode_php_form(payload: dict[str, Any]) -> str:
    """Encode a nested payload the way ThriveCart (PHP `http_build_query`) does."""
    return "&".join(
        f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in _flatten("", payload)
    )
