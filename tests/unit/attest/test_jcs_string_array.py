"""``canonical_string_array`` (the Merkle-leaf fast path) is byte-identical to ``rfc8785`` on any text."""

from __future__ import annotations

import enum

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from deletion_sdk.attest.jcs import canonical_json, canonical_string_array
from deletion_sdk.errors import InputError

# Everything RFC 8785 escapes, and look-alikes it must copy unchanged (DEL, C1 controls, line and
# paragraph separators, non-characters, a BOM), next to multi-byte text and emoji.
_AWKWARD = (
    '"\\/\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1f'
    "\x7f\x80\x9f\xa0\u2028\u2029\ufeff\uffff\u00e9\u20ac\U0001f600\U0010ffff"
)
_TEXT = st.text(st.characters(exclude_categories=("Cs",)) | st.sampled_from(_AWKWARD), max_size=40)
# Short strings over the awkward characters alone, so that each one is often the only escape in an array.
_SHORT = st.text(st.sampled_from(_AWKWARD + "a1-"), max_size=3)
# Lone surrogates have no UTF-8 form: both encoders must refuse them.
_WITH_SURROGATES = st.text(st.characters() | st.characters(categories=("Cs",)), max_size=20)


def _expected(items: list[str]) -> bytes | None:
    """``rfc8785``'s bytes, or None when it refuses the input."""
    try:
        return rfc8785.dumps(items)
    except rfc8785.CanonicalizationError:
        return None


@given(st.lists(_TEXT, max_size=5) | st.lists(_SHORT, max_size=3))
@example([])
@example([""])
@example(["", ""])
@example(['a"b'])
@example(["c\\d"])
@example(["tab\there", "ok"])
@example(['a"b', "c\\d"])
@example(["\x00", "\x1f", "\x7f"])
@example(["ex-000017", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
def test_string_arrays_match_rfc8785(items: list[str]) -> None:
    expected = _expected(items)
    assert expected is not None
    assert canonical_string_array(*items) == expected == canonical_json(items)


@given(st.lists(_WITH_SURROGATES, min_size=1, max_size=3))
@example(["\ud800"])
@example(["ok", "\udfff"])
@example(['"', "\ud83d"])  # escaped and unencodable at once
def test_lone_surrogates_are_refused_like_rfc8785(items: list[str]) -> None:
    expected = _expected(items)
    if expected is None:
        with pytest.raises(InputError, match="RFC 8785"):
            canonical_string_array(*items)
    else:
        assert canonical_string_array(*items) == expected


class _Colour(enum.StrEnum):
    RED = "r\u00e9d"


class _Loud(str):
    def __str__(self) -> str:
        return "LOUD"

    def __format__(self, spec: str) -> str:
        return "LOUD"


@pytest.mark.parametrize("item", [_Colour.RED, _Loud("quiet"), _Loud('qu"iet')])
def test_str_subclasses_are_serialised_by_value(item: str) -> None:
    assert canonical_string_array(item, "x") == rfc8785.dumps([item, "x"])
    assert b"LOUD" not in canonical_string_array(item)


@pytest.mark.parametrize("item", [1, 1.5, None, True, b"bytes", ["nested"]])
def test_non_strings_are_refused(item: object) -> None:
    with pytest.raises(InputError, match=r"Item 1 of a canonical string array must be a str"):
        canonical_string_array("ok", item)  # type: ignore[arg-type]
