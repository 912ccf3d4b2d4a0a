"""RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form that is hashed and signed.

Thin wrapper over the ``rfc8785`` package: pydantic models are dumped in JSON mode first, and the
library's errors (NaN, infinities, integers beyond I-JSON's 2**53, non-string keys) become
:class:`~deletion_sdk.errors.InputError` naming the problem.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785
from pydantic import BaseModel

from deletion_sdk.errors import InputError

__all__ = ["canonical_digest", "canonical_json"]


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


def canonical_digest(value: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
