"""Checks on in-memory example records before they are registered (positions in messages are 1-based)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from deletion_sdk.errors import ManifestError
from deletion_sdk.ledger.lineage.manifest import MAX_AGE, SPLITS, ExampleInput
from deletion_sdk.ledger.subjects import SUBJECT_REF_PATTERN

__all__ = ["validate_records"]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_DIGESTS = re.compile(r"[0-9a-f]*")


def _record_problem(number: int, record: Any, seen: dict[str, int]) -> str | None:
    """Why record ``number`` is invalid (None when it is fine)."""
    try:
        example_id, ref, digest, age, split, _path = record
    except (TypeError, ValueError):
        return "must be an ExampleInput (6 fields)"
    if not isinstance(example_id, str) or not example_id:
        return "example_id must be a non-empty string"
    if example_id in seen and seen[example_id] != number:
        return f"duplicate example_id {example_id!r} (first at record {seen[example_id]})"
    if not isinstance(ref, str) or not SUBJECT_REF_PATTERN.match(ref):
        return "subject_ref must be 64 lowercase hex digits (a subject reference)"
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        return "content_digest must be 64 lowercase hex digits (SHA-256)"
    if (
        isinstance(age, bool)
        or not isinstance(age, int | float)
        or not math.isfinite(age)
        or not 0 <= age <= MAX_AGE
    ):
        return f"age must be a number of years in [0, {MAX_AGE:g}]; got {age!r}"
    if split not in SPLITS:
        return f"split must be one of {', '.join(SPLITS)}; got {split!r}"
    return None


def validate_records(records: Iterable[ExampleInput]) -> list[ExampleInput]:
    """Materialise and check in-memory records.

    The common case is checked in bulk (one regex over all digests, one per distinct subject); only when
    that fails are records checked one by one to name the first bad one.

    Raises:
        ManifestError: the first malformed or duplicate record, by position.
    """
    rows = list(records)
    seen: dict[str, int] = {}
    try:
        for number, (example_id, *_rest) in enumerate(rows, start=1):
            seen.setdefault(example_id, number)
        ok = (
            all(len(row) == 6 for row in rows)
            and len(seen) == len(rows)
            and all(isinstance(e, str) and e for e in seen)
            and all(isinstance(r, str) and SUBJECT_REF_PATTERN.match(r) for r in {row[1] for row in rows})
            and all(isinstance(row[2], str) for row in rows)
            and _DIGESTS.fullmatch("".join(row[2] for row in rows)) is not None
            and all(len(row[2]) == 64 for row in rows)
            and all(
                not isinstance(row[3], bool) and isinstance(row[3], int | float) and 0 <= row[3] <= MAX_AGE
                for row in rows
            )
            and all(row[4] in SPLITS for row in rows)
        )
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        seen = {}
        for number, record in enumerate(rows, start=1):
            problem = _record_problem(number, record, seen)
            if problem is not None:
                raise ManifestError(f"record {number}: {problem}")
            seen.setdefault(record[0], number)
    return rows
