"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines::

    — <key name> base64(key hash || signature)

The key hash is the C2SP recommendation for Ed25519 (signature type byte 0x01)::

    key hash = SHA-256(key name || 0x0A || 0x01 || 32-byte RFC 8032 public key)[:4]

and the signature is Ed25519 over the note text (including its final newline, excluding the blank line).
Verification ignores signatures by other keys (name or hash differ), rejects the note when a signature by
the trusted key fails, and requires at least one that verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from deletion_sdk.attest.keys import Ed25519Verifier, Signer, Verifier, raw_public_key
from deletion_sdk.errors import InputError, SignatureError

__all__ = ["NoteSignature", "note_key_hash", "parse_note", "sign_note", "verify_note"]

ED25519_TYPE = b"\x01"
MAX_SIGNATURES = 16
_SIG_PREFIX = "— "  # em dash U+2014, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteSignature(BaseModel):
    """One signature line of a note."""

    model_config = ConfigDict(frozen=True)

    name: str
    key_hash: bytes
    signature: bytes


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or any(c.isspace() or c == "+" for c in name):
        raise InputError(
            f"The key name must be a non-empty string without spaces or '+'. Got {name!r} instead."
        )


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash of an Ed25519 note key (see the module docstring)."""
    _check_name(name)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + raw_public_key(public_key)).digest()[
        :4
    ]


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.endswith("\n"):
        raise InputError("The note text must be a string ending in a newline.")
    if _CONTROL.search(text):
        raise InputError("The note text must not contain control characters other than newline.")


def sign_note(text: str, *, name: str, signer: Signer) -> str:
    """Sign ``text`` with ``signer`` under the key name ``name``; returns the whole signed note."""
    _check_text(text)
    key_hash = note_key_hash(name, signer.public_key)
    signature = signer.sign(text.encode("utf-8"))
    return f"{text}\n{_SIG_PREFIX}{name} {base64.b64encode(key_hash + signature).decode('ascii')}\n"


def parse_note(note: str) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a signed note into its text and signatures, without verifying anything.

    Raises:
        SignatureError: the note is not in signed-note form.
    """
    if not isinstance(note, str) or not note.endswith("\n"):
        raise SignatureError("a signed note must be text ending in a newline")
    if _CONTROL.search(note):
        raise SignatureError("a signed note must not contain control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise SignatureError("a signed note needs a blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise SignatureError("a signed note needs at least one signature line")
    if len(lines) > MAX_SIGNATURES:
        raise SignatureError(f"a signed note may carry at most {MAX_SIGNATURES} signatures here")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise SignatureError("a signature line must start with an em dash and a space")
        name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not name or " " in encoded:
            raise SignatureError("a signature line must be '— <key name> <base64>'")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as e:
            raise SignatureError(f"signature of key {name!r} is not valid base64") from e
        if len(raw) < 5:
            raise SignatureError(f"signature of key {name!r} is too short")
        signatures.append(NoteSignature(name=name, key_hash=raw[:4], signature=raw[4:]))
    return text, tuple(signatures)


def verify_note(note: str, *, name: str, verifier: Verifier | Ed25519PublicKey) -> str:
    """Verify ``note`` against the trusted key (``name``, ``verifier``) and return its text.

    Raises:
        SignatureError: malformed note, no signature by the key, or a signature by the key that fails.
    """
    if not isinstance(verifier, Verifier):
        verifier = Ed25519Verifier(verifier)
    text, signatures = parse_note(note)
    key_hash = note_key_hash(name, verifier.public_key)
    ours = [s for s in signatures if s.name == name and s.key_hash == key_hash]
    if not ours:
        raise SignatureError(f"the note carries no signature by key {name!r} ({key_hash.hex()})")
    message = text.encode("utf-8")
    for signature in ours:
        verifier.verify(signature.signature, message)  # raises SignatureError
    return text
