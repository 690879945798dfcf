"""PHP-style bracket form bodies, as ThriveCart posts them by default.

`customer[email]=a%40b.c&order[charges][0][amount]=1499` decodes to
`{"customer": {"email": "a@b.c"}, "order": {"charges": [{"amount": "1499"}]}}`.
Every value stays a string, exactly as ThriveCart's JSON option sends it, so both encodings give
the same stored payload. A group becomes a list when its keys are exactly the indexes 0..n-1
(in any order); any other group, sparse indexes included, stays an object keyed by strings,
which is what PHP's `json_encode` does with the same array, so no index is ever renumbered.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote_plus

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# PHP's own default (max_input_nesting_level); also keeps recursion far from Python's limit.
MAX_DEPTH = 64
MAX_FIELDS = 100_000


class FormDecodeError(ValueError):
    """The body is not a valid bracket-nested form; the message names the offending key."""


def _decode_escapes(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")


def _unquote(text: str) -> str:
    """`+` is a space, `%XX` a UTF-8 byte; the fast path skips text with neither.

    Equals `urllib.parse.unquote(text, errors="strict")` (a `%` without two hex digits stays
    as it is), but decodes each run of escapes at once: urllib's per-escape loop was a quarter
    of the sidecar's decoding time.
    """
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    try:
        return _ESCAPES.sub(_decode_escapes, text)
    except UnicodeDecodeError as exc:
        raise FormDecodeError(f"form body cannot be decoded: {exc}") from exc


def unquote_value(raw: bytes) -> str:
    """One raw (ASCII) form value as the decoder reads it."""
    return _unquote(raw.decode("ascii"))


@functools.lru_cache(maxsize=4096)
def _shared(parents: tuple[str, ...]) -> tuple[str, ...]:
    """The first tuple seen equal to `parents`: one object per parent group (bounded, so
    random field names cannot grow it; an evicted group only costs a walk down)."""
    return parents


@functools.lru_cache(maxsize=4096)
def _key_path(raw_key: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """`order%5Bcharges%5D%5B0%5D` -> (("order", "charges", "0"), ("order", "charges")).

    The second is the field's parent groups as one shared tuple per distinct parent, so that
    the next field of the same group (ThriveCart sends a group's fields together) finds it by
    identity instead of walking down again; None when an `[]` makes a new group every time.
    Cached: ThriveCart sends the same few hundred field names in every delivery.
    """
    key = _unquote(raw_key)
    match = _KEY.match(key)
    if match is None:
        raise FormDecodeError(f"malformed field name {key!r}: unbalanced or misplaced brackets")
    path = (match.group(1), *_SEGMENT.findall(match.group(2)))
    if len(path) > MAX_DEPTH:
        raise FormDecodeError(f"field {key[:80]!r}... nests deeper than {MAX_DEPTH} levels")
    if "" in path[:-1]:
        return path, None
    return path, _shared(path[:-1])


class _Appends:
    """The next `[]` index of the groups of one decode that have had an `[]` append.

    PHP appends one past the largest integer key so far. Finding that by scanning a group's
    keys on every `[]` made a body of n `a[]` fields cost n² (9,000 fields took 10 s). Here a
    group's keys are scanned once, at its first `[]`, and the index is kept from then on; an
    explicit integer key moves it only for groups that have one (`next` is empty for the usual
    body, which has no `[]`, so the check costs nothing there). Groups live as long as the
    decode, so their `id` is a stable key.
    """

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next: dict[int, int] = {}

    def take(self, node: dict[str, Any]) -> str:
        """The key `[]` gets in `node` (and it is taken)."""
        index = self.next.get(id(node))
        if index is None:
            index = max((int(k) + 1 for k in node if _INDEX.match(k)), default=0)
        self.next[id(node)] = index + 1
        return str(index)

    def note(self, node: dict[str, Any], key: str) -> None:
        """`key` was set in `node`: past an integer one, a group with appends appends after it."""
        index = self.next.get(id(node))
        if index is not None and _INDEX.match(key) and int(key) >= index:
            self.next[id(node)] = int(key) + 1


def _parent(root: dict[str, Any], path: tuple[str, ...], appends: _Appends) -> dict[str, Any]:
    """The group that holds the last segment of `path`, created as needed."""
    node = root
    for segment in path[:-1]:
        if not segment:
            segment = appends.take(node)
        elif appends.next and segment[0].isdigit():
            appends.note(node, segment)
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise FormDecodeError(
                f"field {_name(path)!r} nests under {segment!r}, which holds a value"
            )
        node = child
    return node


def _name(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{segment}]" for segment in path[1:])


def _listify(node: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """Turn groups keyed exactly by 0..n-1 into lists in index order, depth first."""
    _listify_children(node)
    if node and all(_INDEX.match(k) for k in node):
        indexes = sorted(int(k) for k in node)
        if indexes == list(range(len(indexes))):
            return [node[str(i)] for i in indexes]
    return node


def _listify_children(node: dict[str, Any]) -> None:
    """In place (the groups are this decode's own): rebuilding every dict cost more than the
    rest of the decode. Replacing values, never keys, is safe while iterating."""
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _listify(value)


def decode_php_form(body: str | bytes) -> dict[str, Any]:
    """Decode an `application/x-www-form-urlencoded` body with PHP bracket nesting.

    Fields are split on `&`, names from values on the first `=`; empty fields are skipped and
    a field without `=` has an empty value, as in PHP.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FormDecodeError(f"form body has a raw non-ASCII byte at {exc.start}") from exc
    fields = body.split("&")
    if len(fields) > MAX_FIELDS:
        raise FormDecodeError(f"form body has more than {MAX_FIELDS} fields")
    root: dict[str, Any] = {}
    node, group, appends = root, None, _Appends()
    appended = appends.next  # empty while the body has no `[]`: then no key needs noting
    for field in fields:
        if field:
            raw_key, _, value = field.partition("=")
            if "%" in value or "+" in value:  # most values are plain: skip the call
                value = _unquote(value)
            path, parents = _key_path(raw_key)
            if parents is None or parents is not group:
                node, group = _parent(root, path, appends), parents
            last = path[-1]
            if not last:
                last = appends.take(node)
            elif appended and last[0].isdigit():  # an index: a later `[]` appends after it
                appends.note(node, last)
            if type(node.get(last)) is dict:  # inline, and `type`: this runs for every field
                raise FormDecodeError(
                    f"field {_name(path)!r} sets a value where a nested group exists"
                )
            node[last] = value
    _listify_children(root)  # the payload itself stays an object, even keyed 0..n-1
    return root


# quote_plus(safe="") of each ASCII character it changes: space to `+`, the rest to `%XX`.
_ASCII_ESCAPES = {
    char: "+" if char == " " else f"%{ord(char):02X}"
    for char in map(chr, range(128))
    if not (char.isalnum() or char in "_.-~")
}
_ASCII_UNSAFE = re.compile(r"[^0-9A-Za-z_.~-]")
QUOTE_CACHE_SIZE = 65536  # distinct values kept quoted (~6 MB); then the cache starts over


def _quote(text: str) -> str:
    """`quote_plus(text, safe="")`. ASCII text replaces each distinct character that needs
    escaping with one `str.replace` (dates, URLs and emails hold two or three of them), which
    is faster than `str.translate` with a table of multi-character escapes."""
    if not text.isascii():
        return quote_plus(text, safe="")
    unsafe = set(_ASCII_UNSAFE.findall(text))
    if not unsafe:
        return text
    if "%" in unsafe:  # first, so that the escapes written below stay as they are
        text = text.replace("%", "%25")
    for char in unsafe.difference("% "):
        text = text.replace(char, _ASCII_ESCAPES[char])
    return text.replace(" ", "+") if " " in unsafe else text  # last: after `+` became `%2B`


class _QuoteCache(dict[str, str]):
    """Quoted values by value: webhook bodies repeat most of them ("null", names, amounts,
    plan ids). A dict subclass rather than `lru_cache`, because a hit then runs no Python
    code at all (`__missing__` only runs on a miss), several times cheaper per field."""

    def __missing__(self, text: str) -> str:
        quoted = _quote(text)
        self.remember(text, quoted)
        return quoted

    def remember(self, text: str, quoted: str) -> None:
        if len(self) >= QUOTE_CACHE_SIZE:
            self.clear()
        self[text] = quoted


_QUOTED = _QuoteCache()


def remember_quoted(text: str, quoted: str) -> None:
    """Tell the encoder that `text` quotes as `quoted` (which must equal
    `quote_plus(text, safe="")`). For a caller that makes many distinct values whose quoted
    form it builds more cheaply than the encoder's scan finds it: the demo generator's
    timestamps, assembled from a clock text quoted once."""
    _QUOTED.remember(text, quoted)


def _field_name(quoted_prefix: str, key: str) -> str:
    """The quoted name of `key` under an already quoted parent name, `a%5Bb%5D%5Bkey%5D`.

    Quoting works character by character, so quoting each segment once equals quoting the
    whole bracketed name. Not cached itself: `_group_names` caches whole groups of names.
    """
    quoted = _QUOTED[key]
    return f"{quoted_prefix}%5B{quoted}%5D" if quoted_prefix else quoted


@functools.lru_cache(maxsize=4096)
def _group_names(quoted_prefix: str, keys: tuple[Any, ...]) -> tuple[str, ...]:
    """`name=` of each field of one group: a payload shape has a few dozen groups, so each
    group costs one cache lookup instead of one per field."""
    return tuple(_field_name(quoted_prefix, str(key)) + "=" for key in keys)


@functools.lru_cache(maxsize=256)
def _indexes(length: int) -> tuple[int, ...]:
    """The keys of a list of `length` items, as a cacheable tuple."""
    return tuple(range(length))


class SharedGroup(dict[str, Any]):
    """A group that many payloads hold unchanged (in the demo generator, the line of one
    catalogue item in `order.charges[]`): encoded once per name it appears under, then reused.

    JSON encoders see a plain dict. It must not change once it has been encoded.
    """

    __slots__ = ("_encoded",)

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self._encoded: dict[str, str] = {}

    def encoded(self, quoted_name: str) -> str:
        """`name[key]=value&…` of its fields under the (quoted) group name `quoted_name`."""
        text = self._encoded.get(quoted_name)
        if text is None:
            fields: list[str] = []
            _encode_fields(quoted_name, self, fields)
            text = self._encoded[quoted_name] = "&".join(fields)
        return text


def _encode_fields(quoted_prefix: str, node: dict[str, Any] | list[Any], out: list[str]) -> None:
    """Append `name=value` for every scalar under `node`, depth first in insertion order."""
    if isinstance(node, dict):
        names, values = _group_names(quoted_prefix, tuple(node)), node.values()
    else:
        names, values = _group_names(quoted_prefix, _indexes(len(node))), node
    append, quoted = out.append, _QUOTED
    for name, value in zip(names, values, strict=True):
        if type(value) is str:  # nearly every value: tested first, as the cheapest check
            append(name + quoted[value])
        elif type(value) is SharedGroup:
            if value:  # like any group: an empty one produces no field
                append(value.encoded(name[:-1]))
        elif isinstance(value, dict | list):
            _encode_fields(name[:-1], value, out)  # the group's name, without its `=`
        else:
            append(name + quoted[str(value)])


def encode_php_form(payload: dict[str, Any]) -> str:
    """Encode a nested payload the way ThriveCart (PHP `http_build_query`) does.

    Like PHP, an empty list or object produces no field at all.
    """
    fields: list[str] = []
    _encode_fields("", payload, fields)
    return "&".join(fields)
