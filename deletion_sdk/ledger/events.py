"""Change events: the ledger announces every state change; the SDK appends each to the audit log.

Ledger functions call :func:`emit` inside their transaction. When the ledger has an event sink (the SDK
installs the audit log as one, see ``Ledger.event_sink``), the event is appended to the audit log in the
same transaction as the change itself, so a change and its audit entry commit or roll back together.
Without a sink (plain ledger use in tests or tools) :func:`emit` does nothing.

Event data holds ids, digests and subject references only, never raw identifiers or free text (a
free-text reason is recorded as its SHA-256 so the log stays free of personal data yet binds the text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlmodel import Session

__all__ = ["EventSink", "emit", "text_digest"]

EventSink = Callable[[Session, str, Mapping[str, Any], str], None]
SINK_KEY = "deletion_sdk.event_sink"


def emit(session: Session, event_type: str, data: Mapping[str, Any], *, actor: str) -> None:
    """Announce a state change inside ``session``'s transaction."""
    sink: EventSink | None = session.info.get(SINK_KEY)
    if sink is not None:
        sink(session, event_type, data, actor)


def text_digest(text: str | None) -> str | None:
    """SHA-256 hex of a free-text field (None stays None)."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
