"""Change events: the ledger announces every state change; the SDK appends each to the audit log.

Ledger functions call :func:`emit` (or :func:`emit_many`) inside their transaction. When the ledger has an
event sink (``Ledger.event_sink``; the SDK installs the audit log as one), the events are appended to the
audit log in the same transaction as the change itself, so a change and its audit entry commit or roll
back together. Without a sink (plain ledger use in tests or tools) nothing is recorded.

Event data holds ids, digests and subject references only, never raw identifiers or free text (a
free-text reason is recorded as its SHA-256, so the log stays free of personal data yet binds the text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlmodel import Session

__all__ = ["SINK_KEY", "ChangeEvent", "EventSink", "emit", "emit_many", "text_digest"]

SINK_KEY = "deletion_sdk.event_sink"


class ChangeEvent(NamedTuple):
    """One state change: a dotted type, JSON-compatible data, and who caused it."""

    type: str
    data: Mapping[str, Any]
    actor: str


EventSink = Callable[[Session, Sequence[ChangeEvent]], None]


def emit_many(session: Session, events: Sequence[ChangeEvent]) -> None:
    """Announce several state changes inside ``session``'s transaction (one audit append)."""
    sink: EventSink | None = session.info.get(SINK_KEY)
    if sink is not None and events:
        sink(session, events)


def emit(session: Session, event_type: str, data: Mapping[str, Any], *, actor: str) -> None:
    """Announce one state change inside ``session``'s transaction."""
    emit_many(session, [ChangeEvent(event_type, data, actor)])


def text_digest(text: str | None) -> str | None:
    """SHA-256 hex of a free-text field (None stays None)."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
