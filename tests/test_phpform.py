"""The PHP bracket form codec: real samples, PHP's own semantics, and property-based checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import phpform
from pipeline.phpform import (
    MAX_DEPTH,
    FormDecodeError,
    SharedGroup,
    decode_php_form,
    encode_php_form,
)

SAMPLES = Path(__file__).parent / "fixtures" / "webhooks"
SAMPLE_NAMES = ["order.success", "order.subscription_payment"]
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_samples_decode_to_their_json_and_encode_back_byte_for_byte(name: str) -> None:
    form = (SAMPLES / f"{name}.form").read_text()
    as_json = json.loads((SAMPLES / f"{name}.json").read_text())
    assert decode_php_form(form) == as_json
    assert decode_php_form(form.encode("ascii")) == as_json
    assert encode_php_form(as_json) == form


def test_nesting_lists_plus_and_percent_escapes() -> None:
    body = "customer%5Bname%5D=Ana+Example&order[charges][0][amount]=1499&t[product-12]=a%26b"
    assert decode_php_form(body) == {
        "customer": {"name": "Ana Example"},
        "order": {"charges": [{"amount": "1499"}]},
        "t": {"product-12": "a&b"},
    }


def test_a_shared_group_encodes_like_a_plain_one_under_every_name() -> None:
    line = {"name": "Café & Co", "amount": "1499", "tags": ["a b", "c"]}
    shared = SharedGroup(line)
    payload = {"order": {"charges": [shared, shared]}, "again": shared, "none": SharedGroup({})}
    plain = {"order": {"charges": [line, line]}, "again": line}
    assert encode_php_form(payload) == encode_php_form(plain)
    assert encode_php_form(payload) == encode_php_form(plain)  # now from its cached encodings
    assert json.dumps(payload) == json.dumps(plain | {"none": {}})


def test_complete_indexes_in_any_order_become_a_list_in_index_order() -> None:
    assert decode_php_form("a[1]=second&a[0]=first") == {"a": ["first", "second"]}


def test_sparse_indexes_stay_an_object_so_no_index_is_renumbered() -> None:
    assert decode_php_form("a[0]=x&a[2]=y") == {"a": {"0": "x", "2": "y"}}
    assert decode_php_form("a[00]=x") == {"a": {"00": "x"}}


def test_empty_brackets_append_after_the_largest_index_like_php() -> None:
    assert decode_php_form("a[]=x&a[]=y") == {"a": ["x", "y"]}
    assert decode_php_form("a[5]=x&a[]=y") == {"a": {"5": "x", "6": "y"}}
    assert decode_php_form("a[k]=x&a[]=y") == {"a": {"k": "x", "0": "y"}}


def test_appends_after_explicit_and_nested_indexes() -> None:
    assert decode_php_form("a[3][x]=1&a[]=2") == {"a": {"3": {"x": "1"}, "4": "2"}}
    assert decode_php_form("a[]=1&a[7]=2&a[]=3&a[2]=4&a[]=5") == {
        "a": {"0": "1", "7": "2", "8": "3", "2": "4", "9": "5"}
    }


class _CountingPattern:
    """Stands in for the decoder's index pattern and counts how often it is asked."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.calls = pattern, 0

    def match(self, text: str) -> re.Match[str] | None:
        self.calls += 1
        return self.pattern.match(text)


def test_appending_is_linear_in_the_number_of_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 `a[]` fields (the most a body may have): each append looks at no other key.

    Scanning a group's keys per append made 9,000 fields take 10 s before a body was refused.
    """
    counting = _CountingPattern(phpform._INDEX)
    monkeypatch.setattr(phpform, "_INDEX", counting)
    fields = 100_000

    decoded = decode_php_form("&".join(["a[]=1"] * fields))

    assert decoded["a"] == ["1"] * fields
    assert counting.calls <= 2 * fields  # once per key when the group becomes a list


def test_fields_of_a_group_may_come_apart_and_appends_make_new_groups() -> None:
    body = "a[b]=1&c=2&a[d][e]=3&a[f]=4&l[][x]=5&l[][x]=6&a[d][g]=7"
    assert decode_php_form(body) == {
        "a": {"b": "1", "d": {"e": "3", "g": "7"}, "f": "4"},
        "c": "2",
        "l": [{"x": "5"}, {"x": "6"}],
    }


def test_the_payload_itself_stays_an_object_whatever_its_keys() -> None:
    assert decode_php_form("0=x&1=y") == {"0": "x", "1": "y"}
    assert decode_php_form("") == {}


def test_blank_values_are_kept_as_empty_strings() -> None:
    assert decode_php_form("a=&b[c]=") == {"a": "", "b": {"c": ""}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a[b=1", "malformed field name"),
        ("a]=1", "malformed field name"),
        ("[a]=1", "malformed field name"),
        ("a=1&a[b]=2", "which holds a value"),
        ("a[b]=2&a=1", "nested group exists"),
        ("a=%ff", "cannot be decoded"),
    ],
)
def test_malformed_bodies_name_the_problem(body: str, message: str) -> None:
    with pytest.raises(FormDecodeError, match=re.escape(message)):
        decode_php_form(body)


def test_raw_non_ascii_bytes_are_refused() -> None:
    with pytest.raises(FormDecodeError, match="non-ASCII byte at 2"):
        decode_php_form("a=é".encode())


def test_nesting_is_capped_at_phps_default_depth() -> None:
    allowed = "a" + "[b]" * (MAX_DEPTH - 1) + "=1"
    assert decode_php_form(allowed)
    with pytest.raises(FormDecodeError, match="deeper than"):
        decode_php_form("a" + "[b]" * MAX_DEPTH + "=1")


# Characters: all of Latin-1 and a little beyond (separators, `%`, `+`, NUL, newlines) plus
# multi-byte UTF-8; a bounded range keeps Hypothesis from building its whole Unicode table.
_MULTIBYTE = "€—\u2028😀"
_chars = st.characters(max_codepoint=0x2FF) | st.sampled_from(_MULTIBYTE)
# Keys: no brackets, and never a list index (an object keyed 0..n-1 is a list by definition).
# Groups are never empty: PHP sends no field at all for an empty array.
_key_chars = st.characters(max_codepoint=0x2FF, exclude_characters="[]") | st.sampled_from(
    _MULTIBYTE
)
_keys = st.text(alphabet=_key_chars, min_size=1, max_size=8).filter(
    lambda key: not _INDEX.match(key)
)
_trees = st.recursive(
    st.text(alphabet=_chars, max_size=12),
    lambda children: (
        st.lists(children, min_size=1, max_size=4)
        | st.dictionaries(_keys, children, min_size=1, max_size=4)
    ),
    max_leaves=12,
)
_payloads = st.dictionaries(_keys, _trees, max_size=6)


@given(_payloads)
def test_decoding_inverts_encoding(payload: dict[str, object]) -> None:
    body = encode_php_form(payload)
    assert body.isascii()
    assert decode_php_form(body) == payload


_escape = st.integers(0, 255).flatmap(lambda b: st.sampled_from([f"%{b:02X}", f"%{b:02x}"]))


@given(st.lists(_escape | st.sampled_from("aZ09.-_~+%"), max_size=20).map("".join))
def test_values_unquote_as_urllib_does(value: str) -> None:
    try:
        expected = unquote(value.replace("+", " "), errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(FormDecodeError, match="cannot be decoded"):
            decode_php_form("v=" + value)
        return
    assert decode_php_form("v=" + value) == {"v": expected}


@given(st.text(alphabet=_chars | st.sampled_from("[]=&"), max_size=60) | st.binary(max_size=60))
def test_any_input_decodes_or_raises_form_decode_error(body: str | bytes) -> None:
    try:
        result = decode_php_form(body)
    except FormDecodeError:
        return
    assert isinstance(result, dict)
