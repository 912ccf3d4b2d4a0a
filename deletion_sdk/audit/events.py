"""Audit events: what each log entry says, and the exact bytes its leaf hash covers.

An event is a JSON object ``{"seq", "type", "at", "actor", "data"}``:

* ``seq`` - the entry's 0-based index in the log (so a row moved to another index no longer matches);
* ``type`` - dotted lower-case name such as ``request.received`` or ``certificate.issued``;
* ``at`` - ISO 8601 UTC with microseconds and ``Z``;
* ``actor`` - who caused it: a service account, job or role id (not a person's name);
* ``data`` - ids, digests, statuses and subject references only. Keys named like raw personal identifiers
  (``email``, ``name``, ``subject``, ``phone`` …) are refused, and any ``subject_ref`` must be a 64-digit hex
  pseudonym.

leaf hash = SHA-256(0x00 || RFC 8785 bytes of the event).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from deletion_sdk.attest.jcs import canonical_json
from deletion_sdk.errors import InputError
from deletion_sdk.merkle import leaf_hash

__all__ = ["AuditEvent", "NewEvent", "check_no_personal_data", "event_bytes", "event_seq", "format_instant"]

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SUBJECT_REF = re.compile(r"^[0-9a-f]{64}$")
_RAW_IDENTIFIER_KEY = re.compile(
    r"^(raw_)?(subject|subject_id|subjects|subject_ids|identifier|identifiers|email|e_mail|mail|"
    r"phone|name|full_name|first_name|last_name|user|user_id|username|person|person_id|ssn|"
    r"address|birth_date|date_of_birth|dob)$",
    re.IGNORECASE,
)


def format_instant(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` of an aware datetime.

    Raises:
        InputError: ``moment`` is naive.
    """
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"The 'at' parameter must be a timezone-aware datetime. Got {moment!r} instead.")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_no_personal_data(data: Any, *, path: str = "data") -> None:
    """Refuse keys named like raw identifiers and ``subject_ref`` values that are not pseudonyms.

    Raises:
        InputError: naming the offending key path (never the value).
    """
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str):
                raise InputError(f"The '{path}' keys must be strings. Got {type(key).__name__}.")
            where = f"{path}.{key}"
            if _RAW_IDENTIFIER_KEY.match(key):
                raise InputError(
                    f"The audit event field '{where}' is named like a raw personal identifier; audit events "
                    "hold only ids and subject references (subject_ref)."
                )
            if key in ("subject_ref", "subject_refs"):
                refs = value if isinstance(value, list | tuple) else [value]
                if not all(isinstance(r, str) and _SUBJECT_REF.match(r) for r in refs):
                    raise InputError(
                        f"The audit event field '{where}' must hold subject references (64 lowercase hex "
                        "digits). Got a value that is not one instead."
                    )
            check_no_personal_data(value, path=where)
    elif isinstance(data, list | tuple):
        for i, item in enumerate(data):
            check_no_personal_data(item, path=f"{path}[{i}]")


class NewEvent(BaseModel):
    """An event to append; the log assigns ``seq`` and (when missing) ``at``."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    type: str
    data: dict[str, JsonValue] = Field(default_factory=dict)
    actor: str = Field(min_length=1, max_length=200)
    at: datetime | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not EVENT_TYPE.match(value):
            raise ValueError("must be a dotted lower-case name such as 'request.received'")
        return value


class AuditEvent(BaseModel):
    """An event as stored in the log (exactly the object whose RFC 8785 bytes are hashed)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    seq: int = Field(ge=0)
    type: str
    at: str
    actor: str
    data: dict[str, JsonValue]

    def canonical(self) -> bytes:
        """RFC 8785 bytes of the event."""
        return event_bytes(self)

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || canonical bytes)."""
        return leaf_hash(self.canonical())


def event_bytes(event: AuditEvent) -> bytes:
    """RFC 8785 canonical bytes of ``event``."""
    return canonical_json(event.model_dump(mode="json"))


_SEQ_KEY = ',"seq":'


def event_seq(event: str) -> int | None:
    """The top-level ``seq`` of an event's canonical JSON text (None when it has none), fast.

    In RFC 8785 form the members are sorted (``actor``, ``at``, ``data``, ``seq``, ``type``), so the
    top-level ``seq`` is the last ``,"seq":`` in the text: a ``"`` inside a string value is always
    escaped, and only ``type`` follows it. Anything unexpected falls back to a full parse.
    """
    pos = event.rfind(_SEQ_KEY)
    if pos > 0:
        start = pos + len(_SEQ_KEY)
        end = event.find(",", start)
        digits = event[start:end]
        if end > start and digits.isascii() and digits.isdigit() and event.startswith(',"type":', end):
            return int(digits)
    try:
        value = json.loads(event)["seq"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
