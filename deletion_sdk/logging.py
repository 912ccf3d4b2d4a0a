"""Logging: the library logs through the standard :mod:`logging` module and never writes to stdout.

Every logger from :func:`get_logger` is a structlog ``BoundLogger`` wrapped around a standard
:class:`logging.Logger` (structlog's stdlib integration) with its own processor chain, so neither an
application's ``structlog.configure`` nor its :mod:`logging` set-up can bypass two guarantees:

* **Nothing on stdout by default.** A library logger has no handler of its own. Until the application
  configures logging, Python's last-resort handler prints warnings and errors on stderr; INFO and DEBUG go
  nowhere. An application routes the records like any others (``logging.basicConfig``, ``dictConfig``, a
  structlog ``ProcessorFormatter``); :func:`configure_logging` is the CLI's and scripts' one-call set-up
  (JSON lines or a console format, on stderr).
* **No raw identifier in a record.** :func:`drop_raw_identifiers` removes any key named like a raw personal
  identifier (``subject``, ``subject_id``, ``email``, ``identifier``, ``phone``, ``name`` …) before a
  record is created, so a careless ``log.info("x", subject=raw)`` cannot leak; subject references
  (``subject_ref``) are pseudonyms and pass through. A :class:`RedactRawIdentifiers` filter installed on
  every library logger also drops such keys from records logged there through the plain :mod:`logging`
  API (``extra={"email": …}``), whatever handlers the application attaches.

A record's message is the event followed by its ``key=value`` pairs (readable by any handler); the
structured event itself travels on the record as ``record.structlog_event`` (a dict).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

__all__ = [
    "EVENT_ATTRIBUTE",
    "LIBRARY_LOGGER",
    "RedactRawIdentifiers",
    "configure_logging",
    "drop_raw_identifiers",
    "get_logger",
]

LIBRARY_LOGGER = "deletion_sdk"
EVENT_ATTRIBUTE = "structlog_event"

_RAW_KEY = re.compile(
    r"^(raw_)?(subject|subject_id|subjects|subject_ids|identifier|identifiers|email|e_mail|mail|"
    r"phone|name|full_name|first_name|last_name|user|user_id|username|person|person_id|ssn)$",
    re.IGNORECASE,
)
# Attributes every LogRecord has (``name`` is the logger's name, not a person's).
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_deletion_sdk_handler"


def drop_raw_identifiers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: remove keys named like raw identifiers, noting that it did."""
    dropped = [key for key in event_dict if key != "event" and _RAW_KEY.match(str(key))]
    for key in dropped:
        del event_dict[key]
    if dropped:
        event_dict["pii_keys_dropped"] = sorted(dropped)
    return event_dict


class RedactRawIdentifiers(logging.Filter):
    """A :class:`logging.Filter` that removes raw-identifier keys from a record; it never drops the record.

    Removed: keys of the structured event (``record.structlog_event``), ``extra`` attributes and keys of
    a mapping passed as the message arguments, when named like a raw identifier.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, EVENT_ATTRIBUTE, None)
        if isinstance(event, dict):
            drop_raw_identifiers(None, "", event)
        for key in [k for k in vars(record) if k not in _RECORD_ATTRIBUTES and _RAW_KEY.match(k)]:
            delattr(record, key)
        if isinstance(record.args, dict):
            record.args = {k: ("[dropped]" if _RAW_KEY.match(str(k)) else v) for k, v in record.args.items()}
        return True


_REDACT = RedactRawIdentifiers()


def _install_filter(logger: logging.Logger) -> logging.Logger:
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)
    return logger


_install_filter(logging.getLogger(LIBRARY_LOGGER))


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text) if (not text or any(c.isspace() for c in text)) else text


def _message(event: MutableMapping[str, Any]) -> str:
    pairs = " ".join(f"{k}={_value_text(v)}" for k, v in event.items() if k != "event")
    head = str(event.get("event", ""))
    return f"{head} {pairs}" if pairs else head


def _to_stdlib(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[str], dict[str, Any]]:
    """Last processor: hand the event to :mod:`logging` as a readable message plus the structured dict."""
    event = dict(event_dict)
    kwargs: dict[str, Any] = {}
    for key in ("exc_info", "stack_info"):
        if key in event:
            kwargs[key] = event.pop(key)
    kwargs["extra"] = {EVENT_ATTRIBUTE: event}
    return (_message(event),), kwargs


_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,  # first: a disabled level costs one isEnabledFor()
    structlog.contextvars.merge_contextvars,
    drop_raw_identifiers,
    _to_stdlib,
]


def get_logger(name: str | None = None) -> Any:
    """A structlog logger over the standard logger ``name`` (default ``deletion_sdk``).

    Its processors are bound here, not taken from structlog's global configuration, so an application's
    ``structlog.configure`` cannot remove the raw-identifier redaction or send the library's logs to stdout.
    """
    stdlib = _install_filter(logging.getLogger(name or LIBRARY_LOGGER))
    return structlog.wrap_logger(stdlib, processors=_PROCESSORS, wrapper_class=structlog.stdlib.BoundLogger)


class _Formatter(logging.Formatter):
    """Renders a record as one JSON object or one console line, with its structured event when it has one."""

    def __init__(self, *, json: bool) -> None:
        super().__init__()
        self._renderer: Any = (
            structlog.processors.JSONRenderer(sort_keys=False)
            if json
            else structlog.dev.ConsoleRenderer(colors=False)
        )

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, EVENT_ATTRIBUTE, None)
        data: dict[str, Any] = dict(event) if isinstance(event, dict) else {"event": record.getMessage()}
        data = {
            "event": data.pop("event", record.getMessage()),
            "level": record.levelname.lower(),
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
            **data,
        }
        drop_raw_identifiers(None, "", data)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return str(self._renderer(None, record.levelname.lower(), data))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each record (as logging's last-resort handler does), so a
    later redirection of stderr (a test's capture, a daemon's log file) is followed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(*, level: str = "INFO", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Route the process's log records to one stream handler (for the CLI and scripts; libraries need not).

    Replaces the handler an earlier call installed, keeps any other handler, and sets the root level.

    Args:
        level: minimum level name.
        json: force JSON lines (True) or console lines (False); None picks JSON when stderr is not a TTY.
        stream: where to write; defaults to stderr so that ``--json`` output on stdout stays one document.
    """
    out = stream if stream is not None else sys.stderr
    use_json = (not out.isatty()) if json is None else json
    handler = logging.StreamHandler(out) if stream is not None else _StderrHandler()
    handler.setFormatter(_Formatter(json=use_json))
    handler.addFilter(_REDACT)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.getLevelName(level.upper()))
