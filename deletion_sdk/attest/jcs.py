"""RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form that is hashed and signed.

Thin wrapper over the ``rfc8785`` package: pydantic models are dumped in JSON mode first, and the
library's errors (NaN, infinities, integers beyond I-JSON's 2**53, non-string keys) become
:class:`~deletion_sdk.errors.InputError` naming the problem.

:func:`canonical_string_array` is the same encoder for the one shape hashed by the ten thousand (Merkle
leaves of dataset examples): it copies strings that have nothing to escape and hands everything else to
:func:`canonical_json`, so every escape is still written by ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import rfc8785
from pydantic import BaseModel

from deletion_sdk.errors import InputError

__all__ = ["canonical_digest", "canonical_json", "canonical_string_array"]

# The characters RFC 8785 section 3.2.2.2 escapes inside a string; every other code point is copied.
_ESCAPED = re.compile(r'[\x00-\x1f"\\]')


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON-compatible value or a pydantic model.

    Args:
        value: ``None``, ``bool``, ``int`` (|x| < 2**53), finite ``float``, ``str``, lists/tuples and
            dicts with string keys of these, or a pydantic model (dumped with ``mode="json"``).

    Returns:
        The canonical serialisation: keys sorted by UTF-16 code units, no insignificant whitespace,
        ECMAScript number formatting, minimal string escaping.

    Raises:
        InputError: the value cannot be represented in I-JSON.
    """
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise InputError(f"The value cannot be canonicalised as RFC 8785 JSON: {e}") from e
    except (TypeError, ValueError) as e:
        raise InputError(f"The value is not JSON-compatible: {e}") from e


def canonical_string_array(*items: str) -> bytes:
    """RFC 8785 canonical bytes of the JSON array ``[items…]``: exactly ``canonical_json(list(items))``.

    About four times faster than :func:`canonical_json` on short strings, for Merkle leaves hashed by the
    ten thousand: when every item is a plain ``str`` without a quote, backslash or control character
    (U+0000-U+001F), RFC 8785 (section 3.2.2.2) writes each item as itself, so the array is joined
    directly; any other input goes to :func:`canonical_json`, which writes every escape. The property test
    in ``tests/unit/attest/test_jcs_string_array.py`` checks the result against ``rfc8785`` on arbitrary
    text.

    Args:
        items: the array's elements.

    Returns:
        The canonical UTF-8 bytes, e.g. ``b'["ex-1","9f86d0..."]'``.

    Raises:
        InputError: an item is not a string, or holds a lone surrogate (which has no UTF-8 form).
    """
    for item in items:
        # isprintable() is one C pass, True for most text; the regex runs only when it is False.
        if (
            type(item) is not str
            or '"' in item
            or "\\" in item
            or not (item.isprintable() or _ESCAPED.search(item) is None)
        ):
            break
    else:
        if items:
            try:
                return ('["' + '","'.join(items) + '"]').encode("utf-8")
            except UnicodeEncodeError:
                pass  # a lone surrogate: canonical_json raises the InputError every other caller gets
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"Item {position} of a canonical string array must be a str. "
                f"Got {type(item).__name__} instead."
            )
    return canonical_json(list(items))


def canonical_digest(value: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
