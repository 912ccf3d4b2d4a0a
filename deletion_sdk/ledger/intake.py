"""Batch import of deletion requests from CSV or JSONL.

Columns (CSV header) or keys (one JSON object per line):

==================  ========  ==========================================================================
``subject``         required  the person's identifier (e-mail, customer number …); hashed on read
``policy``          required  a policy id, e.g. ``gdpr-art17`` or ``ccpa``
``received_at``     optional  ISO 8601 date or date-time (UTC when no offset); default: the import time
``idempotency_key`` optional  caller's key; default: derived from the row (below) when ``received_at`` is set
==================  ========  ==========================================================================

Both formats hold one request per line (a CSV field cannot span lines). Every row is checked on its own by
:func:`~deletion_sdk.ledger.request_input.validate_request_input` (the limits and date bounds that
``requests submit`` and the HTTP service apply too): good rows land; every bad row (invalid UTF-8, a line
over the size cap, bad JSON, a JSON object with a duplicate key, a field out of bounds) is reported with its
line number and reason (which never repeats the raw identifier) and nothing is recorded for it. An unreadable
file, or a header without ``subject`` and ``policy`` or with an unknown column, rejects the whole file.

Re-importing a file creates no duplicates. A row without an idempotency key but with ``received_at`` gets a
derived key ``row-`` + hex HMAC-SHA256 of ``subject_ref|policy|received_at`` under the subject key, so the
same row in any file is the same request. A row with neither is deduplicated by the one-open-request rule
(same subject and policy while the first request is still open).

Rows are written in bulk (a few thousand per transaction); if a concurrent writer collides with a chunk, that
chunk falls back to row-by-row :func:`~deletion_sdk.ledger.requests.submit`.
"""

from __future__ import annotations

import codecs
import csv
import hmac
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from deletion_sdk.errors import ConflictError, DeletionSDKError, InputError, ManifestError
from deletion_sdk.ledger._bulk import bulk_insert, ensure_subjects
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import DeletionRequest, RequestHistory
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import ChangeEvent, emit_many
from deletion_sdk.ledger.records import ImportReport, ImportRowError
from deletion_sdk.ledger.request_input import MAX_ROW_BYTES, validate_request_input
from deletion_sdk.ledger.requests import OPEN_STATUSES, new_request_values, received_event, submit
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.logging import get_logger
from deletion_sdk.policy import Policy

__all__ = [
    "IMPORT_COLUMNS",
    "derived_idempotency_key",
    "import_requests",
    "keyed_idempotency_key",
    "read_import_file",
]

IMPORT_COLUMNS = ("subject", "policy", "received_at", "idempotency_key")
_REQUIRED = ("subject", "policy")
CHUNK_ROWS = 5_000  # rows per transaction; also bounds the lookup queries (SQLite allows 32,766 parameters)


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    subject_ref: str
    policy: Policy
    received_at: datetime
    idempotency_key: str | None


def derived_idempotency_key(
    key: SubjectKey, *, subject_ref: str, policy_id: str, received_at: datetime
) -> str:
    """The idempotency key of an import row that has ``received_at`` but no key of its own."""
    message = f"deletion-sdk/import-row/v1|{subject_ref}|{policy_id}|{received_at.isoformat()}".encode()
    return "row-" + hmac.digest(key.secret, message, "sha256").hex()


def keyed_idempotency_key(key: SubjectKey, caller_key: str) -> str:
    """The stored form of a caller's idempotency key: an HMAC under the subject key.

    Callers sometimes build keys from personal data (an e-mail address, a ticket title); storing only the
    keyed hash keeps such data out of the database while the same key still finds the same request.
    """
    message = b"deletion-sdk/idempotency-key/v1|" + caller_key.encode("utf-8")
    return "idk-" + hmac.digest(key.secret, message, "sha256").hex()


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per non-blank physical line, each read with a cap of MAX_ROW_BYTES.

    Each line is decoded on its own, so invalid UTF-8 costs one row, never the file; a byte-order mark at the
    start of the file is skipped (CSV and JSONL alike).
    """
    with path.open("rb") as fh:
        number = 0
        while True:
            chunk = fh.readline(MAX_ROW_BYTES + 1)
            if not chunk:
                return
            number += 1
            if len(chunk) > MAX_ROW_BYTES and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):  # skip the rest of the over-long line
                    chunk = fh.readline(1 << 16)
                yield number, None, f"the row is longer than {MAX_ROW_BYTES} bytes"
                continue
            if number == 1 and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            try:
                text = chunk.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield number, None, "the row is not valid UTF-8"
                continue
            if text.strip():
                yield number, text, None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise _DuplicateKeyError(f"duplicate key(s) {', '.join(repr(k) for k in dupes)}")
    return dict(pairs)


class _DuplicateKeyError(ValueError):
    pass


def _jsonl_row(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text, object_pairs_hook=_reject_duplicates)
    except _DuplicateKeyError as e:
        return {"__error__": str(e)}
    except json.JSONDecodeError as e:
        return {"__error__": f"not valid JSON ({e.msg})"}
    except (ValueError, RecursionError):  # an integer too long to convert, nesting too deep
        return {"__error__": "not valid JSON (too deeply nested or a number too large)"}
    if not isinstance(obj, dict):
        return {"__error__": "each line must be a JSON object"}
    unknown = sorted(set(obj) - set(IMPORT_COLUMNS))
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        return {"__error__": f"unknown key(s) {shown}; known keys: {', '.join(IMPORT_COLUMNS)}"}
    return obj


def _raw_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw mapping) per data row; raises ManifestError for file-level problems.

    Both formats hold one request per line (a CSV field cannot span lines), so a bad line never hides the
    next one.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ManifestError(
            f"The 'path' parameter must name a .csv or .jsonl file. Got {path.name!r} instead."
        )
    try:
        lines = _lines(path)
        if suffix != ".csv":
            for number, text, error in lines:
                yield number, ({"__error__": error} if text is None else _jsonl_row(text))
            return
        header: list[str] | None = None
        for number, text, error in lines:
            fields: list[str] | None = None
            if text is not None:
                try:
                    fields = next(csv.reader([text], strict=True), [])
                except csv.Error as e:
                    error = f"not valid CSV ({e})"
            if header is None:
                if fields is None:
                    raise ManifestError(f"{path}:{number}: cannot read the header: {error}")
                header = [h.strip() for h in fields]
                _check_columns(path, header)
                continue
            if fields is None:
                yield number, {"__error__": error}
            elif len(fields) > len(header):
                yield number, {"__error__": "more fields than the header has columns"}
            elif all(not f.strip() for f in fields):
                continue
            else:
                yield number, dict(zip(header, fields, strict=False))
        if header is None:
            _check_columns(path, [])
    except FileNotFoundError as e:
        raise ManifestError(f"import file not found: {path}") from e
    except OSError as e:
        raise ManifestError(f"cannot read import file {path}: {e.strerror or e}") from e


def _check_columns(path: Path, header: Sequence[str]) -> None:
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ManifestError(
            f"{path}:1: missing column(s) {', '.join(missing)}; the header must contain "
            f"{', '.join(_REQUIRED)} (optional: received_at, idempotency_key)"
        )
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if unknown:
        raise ManifestError(
            f"{path}:1: unknown column(s) {', '.join(unknown)}; known columns: {', '.join(IMPORT_COLUMNS)}"
        )
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ManifestError(f"{path}:1: duplicate column(s) {', '.join(dupes)}")


def _optional(raw: dict[str, Any], name: str) -> object:
    """A field as given, with a blank string (an empty CSV cell) read as absent."""
    value = raw.get(name)
    return None if isinstance(value, str) and not value.strip() else value


def read_import_file(
    path: Path,
    *,
    subject_key: SubjectKey,
    load_policy: Callable[[str], Policy],
    now: datetime,
) -> tuple[list[_Row], list[ImportRowError], int]:
    """Parse and validate every row on its own. Returns (good rows, bad rows, number of data rows).

    Every field goes through :func:`~deletion_sdk.ledger.request_input.validate_request_input`, the rules
    ``requests submit`` and the HTTP service apply too.
    """
    good: list[_Row] = []
    bad: list[ImportRowError] = []
    policies: dict[str, Policy | DeletionSDKError] = {}
    count = 0
    for line, raw in _raw_rows(path):
        count += 1
        try:
            if "__error__" in raw:
                raise InputError(str(raw["__error__"]))
            fields = validate_request_input(
                subject=raw.get("subject"),
                policy=raw.get("policy"),
                received_at=_optional(raw, "received_at"),
                idempotency_key=_optional(raw, "idempotency_key"),
                now=now,
            )
            if fields.policy not in policies:
                try:
                    policies[fields.policy] = load_policy(fields.policy)
                except DeletionSDKError as e:
                    policies[fields.policy] = e
            policy = policies[fields.policy]
            if isinstance(policy, DeletionSDKError):
                raise policy
            ref = subject_ref(fields.subject, subject_key)
            key = fields.idempotency_key
            if key is not None:
                key = keyed_idempotency_key(subject_key, key)
            elif fields.received_at_given:
                key = derived_idempotency_key(
                    subject_key, subject_ref=ref, policy_id=policy.id, received_at=fields.received_at
                )
            good.append(_Row(line, ref, policy, fields.received_at, key))
        except DeletionSDKError as e:
            bad.append(ImportRowError(line=line, reason=one_line(e)))
    return good, bad, count


def one_line(error: BaseException) -> str:
    """The first line of an error's message, never empty."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(
    session: Session, rows: Sequence[_Row]
) -> tuple[dict[str, tuple[str, str, str]], dict[tuple[str, str], str]]:
    """Recorded requests: key -> (id, subject_ref, policy), and (subject_ref, policy) -> open request id.

    One query per lookup per chunk, each on a single indexed column (statuses are filtered here, not in SQL:
    a status predicate tempts PostgreSQL, before it has statistics, into scanning every open request).
    """
    table = table_of(DeletionRequest)
    keys = sorted({r.idempotency_key for r in rows if r.idempotency_key})
    by_key: dict[str, tuple[str, str, str]] = {}
    if keys:
        query = sa.select(table.c.idempotency_key, table.c.id, table.c.subject_ref, table.c.policy_id).where(
            table.c.idempotency_key.in_(sa.bindparam("keys", expanding=True))
        )
        for key, request_id, ref, policy_id in session.execute(query, {"keys": keys}):
            by_key[key] = (request_id, ref, policy_id)
    refs = sorted({r.subject_ref for r in rows})
    open_values = {s.value for s in OPEN_STATUSES}
    open_by_pair: dict[tuple[str, str], str] = {}
    query = sa.select(table.c.id, table.c.subject_ref, table.c.policy_id, table.c.status).where(
        table.c.subject_ref.in_(sa.bindparam("refs", expanding=True))
    )
    for request_id, ref, policy_id, status in session.execute(query, {"refs": refs}):
        if status in open_values:
            open_by_pair[(ref, policy_id)] = request_id
    return by_key, open_by_pair


@dataclass
class _Tally:
    created: int = 0
    existing: int = 0
    duplicate_of_open: int = 0


def _write_chunk(
    ledger: Ledger, rows: Sequence[_Row], *, actor: str, now: datetime, tally: _Tally
) -> tuple[dict[int, str], list[ImportRowError]]:
    """Bulk-write one chunk in one transaction. Returns (line -> request id, row errors)."""
    ids: dict[int, str] = {}
    errors: list[ImportRowError] = []
    local = _Tally()
    with ledger.session() as session:
        by_key, open_by_pair = _existing(session, rows)
        seen_keys: dict[str, tuple[str, str, str]] = {}  # key -> (request id, subject_ref, policy)
        new_requests: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for r in rows:
            pair = (r.subject_ref, r.policy.id)
            if r.idempotency_key is not None:
                hit = by_key.get(r.idempotency_key) or seen_keys.get(r.idempotency_key)
                if hit is not None:
                    hit_id, hit_ref, hit_policy = hit
                    if (hit_ref, hit_policy) != pair:
                        errors.append(
                            ImportRowError(
                                line=r.line,
                                reason=f"idempotency key already used for request {hit_id} of a different "
                                "subject or policy",
                            )
                        )
                        continue
                    ids[r.line] = hit_id
                    local.existing += 1
                    continue
            if pair in open_by_pair:
                ids[r.line] = open_by_pair[pair]
                local.duplicate_of_open += 1
                continue
            values = new_request_values(
                subject_ref=r.subject_ref,
                policy=r.policy,
                received_at=r.received_at,
                idempotency_key=r.idempotency_key,
                now=now,
            )
            new_id = values["id"]
            new_requests.append(values)
            history.append(
                {
                    "request_id": new_id,
                    "from_status": None,
                    "to_status": values["status"],
                    "at": now,
                    "actor": actor,
                    "reason": "batch import",
                }
            )
            open_by_pair[pair] = new_id
            if r.idempotency_key is not None:
                seen_keys[r.idempotency_key] = (new_id, r.subject_ref, r.policy.id)
            ids[r.line] = new_id
            local.created += 1
        ensure_subjects(session, (v["subject_ref"] for v in new_requests), now=now)
        bulk_insert(session, table_of(DeletionRequest), new_requests)
        bulk_insert(session, table_of(RequestHistory), history)
        emit_many(
            session,
            [ChangeEvent("request.received", received_event(v), actor) for v in new_requests],
        )
    tally.created += local.created
    tally.existing += local.existing
    tally.duplicate_of_open += local.duplicate_of_open
    return ids, errors


def _submit_one_by_one(
    ledger: Ledger, rows: Sequence[_Row], *, actor: str, now: datetime, tally: _Tally
) -> tuple[dict[int, str], list[ImportRowError]]:
    ids: dict[int, str] = {}
    errors: list[ImportRowError] = []
    for r in rows:
        try:
            result = submit(
                ledger,
                subject_ref=r.subject_ref,
                policy=r.policy,
                received_at=r.received_at,
                idempotency_key=r.idempotency_key,
                actor=actor,
                now=now,
            )
        except ConflictError as e:
            errors.append(ImportRowError(line=r.line, reason=str(e).splitlines()[0]))
            continue
        ids[r.line] = result.request.request_id
        if result.created:
            tally.created += 1
        elif result.duplicate_of_open:
            tally.duplicate_of_open += 1
        else:
            tally.existing += 1
    return ids, errors


def import_requests(
    ledger: Ledger,
    *,
    path: Path,
    subject_key: SubjectKey,
    load_policy: Callable[[str], Policy],
    actor: str = "import",
    now: datetime | None = None,
) -> ImportReport:
    """Import every good row of a CSV or JSONL file (see the module docstring).

    Args:
        ledger: the ledger.
        path: the ``.csv`` or ``.jsonl`` file.
        subject_key: turns identifiers into subject references (and derives row keys).
        load_policy: resolves a policy id (raising UnknownPolicyError for unknown ids).
        actor: recorded in each new request's history.
        now: the import time (tests pin it).

    Returns:
        Counts, the request id of each good row, and each bad row's line number and reason.

    Raises:
        ManifestError: the file is unreadable or its header is malformed (nothing imported).
    """
    stamp = now or utcnow()
    good, bad, count = read_import_file(
        Path(path), subject_key=subject_key, load_policy=load_policy, now=stamp
    )
    tally = _Tally()
    ids: dict[int, str] = {}
    errors = list(bad)
    for chunk in _chunks(good, CHUNK_ROWS):
        try:
            chunk_ids, chunk_errors = _write_chunk(ledger, chunk, actor=actor, now=stamp, tally=tally)
        except sa.exc.IntegrityError:
            _log().info("requests.import_chunk_race", rows=len(chunk))
            chunk_ids, chunk_errors = _submit_one_by_one(ledger, chunk, actor=actor, now=stamp, tally=tally)
        ids.update(chunk_ids)
        errors.extend(chunk_errors)
    errors.sort(key=lambda e: e.line)
    report = ImportReport(
        path=str(path),
        rows=count,
        created=tally.created,
        existing=tally.existing,
        duplicate_of_open=tally.duplicate_of_open,
        request_ids=tuple(ids[line] for line in sorted(ids)),
        errors=tuple(errors),
    )
    _log().info(
        "requests.imported",
        path=str(path),
        rows=count,
        created=report.created,
        existing=report.existing,
        duplicate_of_open=report.duplicate_of_open,
        bad_rows=len(errors),
    )
    return report
