"""Reading a certificate file before anything trusts it: bounded, UTF-8, JSON, not nested too deeply.

A file that cannot be read or is not a JSON document at all is bad input (``CertificateFormatError``, an
``InputError``: the CLI exits 2), not a failed verification: nothing was presented that could be checked.
A JSON document that is not a valid or validly signed envelope is left to the verifier (``SignatureError``).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from deletion_sdk.errors import CertificateFormatError

__all__ = ["MAX_CERTIFICATE_BYTES", "MAX_JSON_DEPTH", "read_certificate_file"]

MAX_CERTIFICATE_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64  # a certificate needs about 8


def _depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, iteratively (a recursive walk could itself overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _json(text: str | bytes, source: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError as e:
        raise CertificateFormatError(f"{source}: {what} is nested too deeply") from e
    except UnicodeDecodeError as e:
        raise CertificateFormatError(f"{source}: {what} is not UTF-8 text") from e
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise CertificateFormatError(f"{source}: {what} is not JSON: {str(e).splitlines()[0]}") from e
    if _depth(value) > MAX_JSON_DEPTH:
        raise CertificateFormatError(f"{source}: {what} is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def read_certificate_file(path: Path | str) -> bytes:
    """The bytes of a certificate file, once they are known to be a JSON document of sane shape.

    The envelope must be a UTF-8 JSON object of at most MAX_CERTIFICATE_BYTES nested at most MAX_JSON_DEPTH
    levels; so must its payload when it decodes as base64 (its signature is checked later, by the caller).

    Raises:
        CertificateFormatError: the file is unreadable, too large, not UTF-8, not JSON, not an object, or
            nested too deeply.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_CERTIFICATE_BYTES + 1)
    except OSError as e:
        raise CertificateFormatError(f"cannot read the certificate {p}: {e.strerror or e}") from e
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateFormatError(f"{p}: a certificate must be at most {MAX_CERTIFICATE_BYTES} bytes")
    document = _json(data, str(p), "the certificate")
    if not isinstance(document, dict):
        raise CertificateFormatError(f"{p}: a certificate must be a JSON object (a DSSE envelope)")
    payload = document.get("payload")
    if isinstance(payload, str):
        try:
            decoded = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return data  # not base64: the verifier says so
        if decoded.lstrip()[:1] in (b"{", b"["):
            _json(decoded, str(p), "the certificate's payload")
    return data
