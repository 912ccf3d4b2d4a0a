"""Structured logging: JSON lines when stdout is not a TTY, a readable console otherwise.

A processor removes any key that is named like a raw personal identifier
(``subject``, ``subject_id``, ``email``, ``identifier``, ``phone``, ``name`` …)
before anything is rendered, so a careless ``log.info("x", subject=raw)`` cannot leak.
Subject references (``subject_ref``) are pseudonyms and pass through.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "drop_raw_identifiers", "get_logger"]

_RAW_KEY = re.compile(
    r"^(raw_)?(subject|subject_id|subjects|subject_ids|identifier|identifiers|email|e_mail|mail|"
    r"phone|name|full_name|first_name|last_name|user|user_id|username|person|person_id|ssn)$",
    re.IGNORECASE,
)
_REDACTED = "[dropped: raw identifier]"


def drop_raw_identifiers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: remove keys named like raw identifiers, noting that it did."""
    dropped = [key for key in event_dict if key != "event" and _RAW_KEY.match(key)]
    for key in dropped:
        del event_dict[key]
    if dropped:
        event_dict["pii_keys_dropped"] = sorted(dropped)
    return event_dict


def configure_logging(*, level: str = "INFO", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Configure structlog for the process.

    Args:
        level: minimum level name.
        json: force JSON (True) or console (False) rendering; None picks JSON when stdout is not a TTY.
        stream: where to write; defaults to stderr so that ``--json`` output on stdout stays one document.
    """
    out = stream if stream is not None else sys.stderr
    use_json = (not sys.stdout.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_raw_identifiers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    """A lazy structlog logger carrying ``logger_name=name``.

    The proxy resolves the configuration at each use, so a module-level logger follows a later
    :func:`configure_logging` (binding eagerly would freeze the default, stdout-printing configuration).
    """
    return structlog.get_logger(logger_name=name) if name else structlog.get_logger()
