"""One set of rules for a deletion request's fields, whatever channel it arrives by.

CSV and JSONL import, ``requests submit`` (the facade's ``submit_request``) and the HTTP service all call
:func:`validate_request_input`, so the limits and bounds below are identical everywhere:

==========================  ===================================================================
text fields                 UTF-8 only (no lone surrogates: what invalid UTF-8 in argv or a
                            file decodes to), no control characters, at most
                            :data:`MAX_FIELD_CHARS` characters after stripping
``subject``                 required, non-empty
``policy``                  required, at most :data:`MAX_POLICY_CHARS` characters
``idempotency_key``         optional, at most :data:`MAX_IDEMPOTENCY_KEY_CHARS` characters
``received_at``             optional ISO 8601 date or date-time (UTC when no offset), not before
                            :data:`EARLIEST_RECEIVED_AT` (1970-01-01T00:00:00Z) and not more than
                            :data:`CLOCK_SKEW` (5 minutes) after now; parsing never overflows
one import row              at most :data:`MAX_ROW_BYTES` bytes; a UTF-8 byte-order mark is skipped
                            at the start of a file of either format
==========================  ===================================================================

Errors never repeat the subject identifier.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from deletion_sdk.errors import InputError

__all__ = [
    "CLOCK_SKEW",
    "EARLIEST_RECEIVED_AT",
    "MAX_FIELD_CHARS",
    "MAX_IDEMPOTENCY_KEY_CHARS",
    "MAX_POLICY_CHARS",
    "MAX_ROW_BYTES",
    "RequestInput",
    "check_text",
    "parse_received_at",
    "validate_request_input",
]

MAX_FIELD_CHARS = 1_024
MAX_POLICY_CHARS = 64
MAX_IDEMPOTENCY_KEY_CHARS = 200
MAX_ROW_BYTES = 8_192
EARLIEST_RECEIVED_AT = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)
_ECHO_CHARS = 40


@dataclass(frozen=True, slots=True)
class RequestInput:
    """A request's fields once validated.

    Attributes:
        subject: the identifier, stripped (hash it at once; never store or log it).
        policy: the policy id (not yet resolved: the caller looks it up).
        received_at: aware UTC instant; ``now`` when none was given.
        received_at_given: whether the caller gave ``received_at`` (import derives keys only then).
        idempotency_key: the caller's key, stripped, or None.
    """

    subject: str
    policy: str
    received_at: datetime
    received_at_given: bool
    idempotency_key: str | None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def check_text(
    value: object, parameter: str, *, required: bool, max_chars: int = MAX_FIELD_CHARS, echo: bool = False
) -> str | None:
    """``value`` stripped, or None when absent/blank and not ``required``.

    Args:
        value: what the caller gave.
        parameter: the field name used in error messages.
        required: a blank or missing value is an error.
        max_chars: the most characters allowed after stripping.
        echo: repeat (a prefix of) the value in errors; never for the subject.

    Raises:
        InputError: not a string, not valid UTF-8, a control character, too long, or required but blank.
    """
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InputError(f"The '{parameter}' parameter must be a string. Got {type(value).__name__} instead.")
    if _has_surrogate(text):
        raise InputError(
            f"The '{parameter}' parameter must be valid UTF-8 text. Got undecodable bytes or a lone "
            "surrogate instead."
        )
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InputError(f"The '{parameter}' parameter must not contain control characters.")
    if len(text) > max_chars:
        raise InputError(
            f"The '{parameter}' parameter must be at most {max_chars} characters. Got {len(text)} instead."
        )
    if not text:
        if required:
            shown = f" Got {value!r} instead." if echo or value is None else ""
            raise InputError(f"The '{parameter}' parameter must be a non-empty string.{shown}")
        return None
    return text


def _shown(text: str) -> str:
    return repr(text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "…")


def parse_received_at(value: str | datetime, *, now: datetime, parameter: str = "received_at") -> datetime:
    """An aware UTC instant within [1970-01-01T00:00Z, now + 5 min].

    A date alone means midnight UTC; a date-time without offset is UTC; a naive datetime is UTC.

    Raises:
        InputError: not an ISO 8601 date or date-time, out of the representable range, or out of bounds.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = check_text(value, parameter, required=True, max_chars=64, echo=True)
        try:
            moment = datetime.fromisoformat(str(text))
        except ValueError as e:
            raise InputError(
                f"The '{parameter}' parameter must be an ISO 8601 date or date-time such as 2024-01-31 or "
                f"2024-01-31T09:30:00Z. Got {_shown(str(text))} instead."
            ) from e
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError) as e:
        raise InputError(
            f"The '{parameter}' parameter must be between {EARLIEST_RECEIVED_AT.date()} and now. "
            f"Got {moment.isoformat()} (outside the representable range in UTC) instead."
        ) from e
    if moment < EARLIEST_RECEIVED_AT:
        raise InputError(
            f"The '{parameter}' parameter must not be before {EARLIEST_RECEIVED_AT.isoformat()}. "
            f"Got {moment.isoformat()} instead."
        )
    if moment > now + CLOCK_SKEW:
        raise InputError(
            f"The '{parameter}' parameter must not be in the future (more than "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes after now). Got {moment.isoformat()} instead "
            f"(now is {now.isoformat()})."
        )
    return moment


def validate_request_input(
    *,
    subject: object,
    policy: object,
    received_at: object = None,
    idempotency_key: object = None,
    now: datetime,
) -> RequestInput:
    """Check one request's fields against the shared limits and bounds (see the module docstring).

    Args:
        subject: the person's identifier (a string).
        policy: a policy id (a string; resolving it is the caller's job).
        received_at: ISO 8601 text, a datetime, or None for ``now``.
        idempotency_key: the caller's key, or None.
        now: the current instant (aware); bounds ``received_at`` and stands in when it is absent.

    Returns:
        The stripped, parsed fields.

    Raises:
        InputError: the first field that breaks a rule, named; the subject is never repeated.
    """
    subject_text = check_text(subject, "subject", required=True)
    policy_text = check_text(policy, "policy", required=True, max_chars=MAX_POLICY_CHARS, echo=True)
    if received_at is None or (isinstance(received_at, str) and not received_at.strip()):
        moment, given = now, False
    elif isinstance(received_at, str | datetime):
        moment, given = parse_received_at(received_at, now=now), True
    else:
        raise InputError(
            "The 'received_at' parameter must be an ISO 8601 string or a datetime. "
            f"Got {type(received_at).__name__} instead."
        )
    key = check_text(idempotency_key, "idempotency_key", required=False, max_chars=MAX_IDEMPOTENCY_KEY_CHARS)
    if idempotency_key is not None and key is None:
        raise InputError("The 'idempotency_key' parameter must be a non-empty key when given.")
    return RequestInput(
        subject=str(subject_text),
        policy=str(policy_text),
        received_at=moment,
        received_at_given=given,
        idempotency_key=key,
    )
