"""DSSE v1 (Dead Simple Signing Envelope): pre-authentication encoding, signing, verification.

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

LEN is the byte length as ASCII decimal without leading zeros; the signature covers PAE, never the
base64 text. Envelope JSON::

    {"payloadType": "...", "payload": "<base64>", "signatures": [{"keyid": "...", "sig": "<base64>"}]}

Verification accepts standard and URL-safe base64, with or without padding, checks the payload type,
requires at least one signature that verifies under the given key (``keyid`` is only a hint), and
returns only the verified payload bytes. Every failure is a :class:`~deletion_sdk.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deletion_sdk.attest.keys import Ed25519Verifier, Signer, Verifier
from deletion_sdk.errors import InputError, SignatureError

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "Envelope",
    "EnvelopeSignature",
    "b64decode_any",
    "pae",
    "parse_envelope",
    "sign_envelope",
    "verify_envelope",
]

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of ``payload_type`` (UTF-8) and ``payload``."""
    if not isinstance(payload_type, str):
        raise InputError(f"The 'payload_type' parameter must be a str. Got {type(payload_type).__name__}.")
    if not isinstance(payload, bytes | bytearray):
        raise InputError(f"The 'payload' parameter must be bytes. Got {type(payload).__name__}.")
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), bytes(payload))


def b64decode_any(text: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not; anything else raises ``binascii.Error``."""
    if not isinstance(text, str) or not text.isascii():
        raise binascii.Error("base64 text must be an ASCII string")
    if any(c in text for c in "-_"):
        if any(c in text for c in "+/"):
            raise binascii.Error("base64 text mixes the standard and URL-safe alphabets")
        text = text.translate(str.maketrans("-_", "+/"))
    stripped = text.rstrip("=")
    if len(text) - len(stripped) > 2 or len(stripped) % 4 == 1:
        raise binascii.Error("base64 text has an impossible length or padding")
    return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)


class EnvelopeSignature(BaseModel):
    """One signature of an envelope; ``keyid`` is an unauthenticated hint."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    keyid: str = ""
    sig: str


class Envelope(BaseModel):
    """A DSSE envelope as stored on disk (field names as the DSSE spec spells them)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    payload_type: str = Field(alias="payloadType")
    payload: str
    signatures: tuple[EnvelopeSignature, ...] = Field(min_length=1)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The envelope as JSON text with the spec's field names."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=indent, ensure_ascii=True)


def sign_envelope(payload: bytes, *, payload_type: str, signer: Signer) -> Envelope:
    """Sign ``payload`` as ``payload_type`` into a one-signature envelope (standard base64)."""
    signature = signer.sign(pae(payload_type, payload))
    return Envelope(
        payloadType=payload_type,
        payload=base64.b64encode(bytes(payload)).decode("ascii"),
        signatures=(EnvelopeSignature(keyid=signer.key_id, sig=base64.b64encode(signature).decode("ascii")),),
    )


def parse_envelope(data: Envelope | bytes | str | Mapping[str, Any]) -> Envelope:
    """An :class:`Envelope` from JSON text/bytes or a mapping.

    Raises:
        SignatureError: the data is not a DSSE envelope.
    """
    if isinstance(data, Envelope):
        return data
    try:
        obj = json.loads(data) if isinstance(data, bytes | bytearray | str) else data
        if not isinstance(obj, Mapping):
            raise SignatureError(f"a DSSE envelope must be a JSON object, not {type(obj).__name__}")
        return Envelope.model_validate(dict(obj))
    except (ValueError, TypeError) as e:  # json.JSONDecodeError, UnicodeDecodeError, ValidationError
        reason = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise SignatureError(f"not a DSSE envelope: {reason}") from e


def verify_envelope(
    envelope: Envelope | bytes | str | Mapping[str, Any],
    *,
    verifier: Verifier | Ed25519PublicKey,
    payload_type: str,
) -> bytes:
    """Verify ``envelope`` and return its payload bytes, only if a signature by the key verifies.

    Args:
        envelope: the envelope, as parsed model, JSON text/bytes or mapping.
        verifier: the trusted key (a :class:`Verifier` or an Ed25519 public key).
        payload_type: the payload type the caller expects; any other is rejected.

    Returns:
        The decoded payload, exactly the bytes that were signed.

    Raises:
        SignatureError: malformed envelope, unexpected payload type, bad base64, or no signature that
            verifies under the key.
    """
    env = parse_envelope(envelope)
    if not isinstance(verifier, Verifier):
        verifier = Ed25519Verifier(verifier)
    if env.payload_type != payload_type:
        raise SignatureError(f"payloadType is {env.payload_type!r}; expected {payload_type!r}")
    try:
        payload = b64decode_any(env.payload)
    except (binascii.Error, ValueError) as e:
        raise SignatureError(f"the envelope payload is not valid base64: {e}") from e
    message = pae(env.payload_type, payload)
    last: Exception | None = None
    for signature in env.signatures:
        try:
            verifier.verify(b64decode_any(signature.sig), message)
        except (binascii.Error, ValueError, SignatureError) as e:
            last = e
            continue
        return payload
    raise SignatureError(f"no signature in the envelope verifies under key {verifier.key_id[:16]}…") from last
