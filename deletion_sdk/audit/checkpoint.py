"""Transparency-log checkpoints (https://c2sp.org/tlog-checkpoint): a tree head as a signed note.

Note text::

    <origin>
    <tree size, decimal>
    <base64 of the 32-byte RFC 9162 root hash>

signed by the log key under the key name ``origin`` (see :mod:`deletion_sdk.audit.note` for the key hash).
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, field_validator

from deletion_sdk.attest.keys import Signer, Verifier
from deletion_sdk.audit.note import parse_note, sign_note, verify_note
from deletion_sdk.errors import InputError, SignatureError

__all__ = ["DEFAULT_ORIGIN", "Checkpoint", "open_checkpoint", "parse_checkpoint", "sign_checkpoint"]

DEFAULT_ORIGIN = "deletion-sdk.local/audit-log"
_SIZE = re.compile(r"^(0|[1-9][0-9]*)$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Checkpoint(BaseModel):
    """A tree head: which log, how many entries, which root."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origin: str = Field(min_length=1)
    tree_size: int = Field(ge=0)
    root_hash: str  # lowercase hex, 64 digits

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if any(c.isspace() or c == "+" for c in value):
            raise ValueError("must contain neither spaces nor '+'")
        return value

    @field_validator("root_hash")
    @classmethod
    def _root(cls, value: str) -> str:
        if not _HEX64.match(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    def body(self) -> str:
        """The note text of this checkpoint."""
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root).decode('ascii')}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """A :class:`Checkpoint` from note text (or a whole signed note, whose signatures are ignored).

    Raises:
        SignatureError: the text is not a checkpoint body.
    """
    if "\n\n" in text:
        text, _ = parse_note(text)
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise SignatureError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not _SIZE.match(size):
        raise SignatureError("the checkpoint tree size must be a decimal number without leading zeros")
    try:
        raw = base64.b64decode(root, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SignatureError("the checkpoint root hash is not base64") from e
    if len(raw) != 32:
        raise SignatureError("the checkpoint root hash must be 32 bytes")
    try:
        return Checkpoint(origin=origin, tree_size=int(size), root_hash=raw.hex())
    except ValueError as e:
        raise SignatureError(f"malformed checkpoint: {e}") from e


def sign_checkpoint(checkpoint: Checkpoint, *, signer: Signer) -> str:
    """The signed note of ``checkpoint``, signed under the key name ``checkpoint.origin``."""
    if not isinstance(checkpoint, Checkpoint):
        raise InputError(
            f"The 'checkpoint' parameter must be a Checkpoint. Got {type(checkpoint).__name__} instead."
        )
    return sign_note(checkpoint.body(), name=checkpoint.origin, signer=signer)


def open_checkpoint(
    note: str, *, verifier: Verifier | Ed25519PublicKey, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and return the tree head it states.

    Args:
        note: the signed note.
        verifier: the log's public key.
        origin: the expected origin; by default the note's own first line (its key name must match it).

    Raises:
        SignatureError: malformed, signed by another key, or a different origin than expected.
    """
    claimed = parse_checkpoint(note)
    if origin is not None and claimed.origin != origin:
        raise SignatureError(f"checkpoint is for log {claimed.origin!r}; expected {origin!r}")
    text = verify_note(note, name=claimed.origin, verifier=verifier)
    return parse_checkpoint(text)
