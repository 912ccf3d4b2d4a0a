"""Lineage: datasets, their examples and owners, forget-set resolution, and the suppression list.

A dataset is registered once, from a CSV manifest (:func:`read_manifest` + :func:`register_examples`) or from
in-memory records (:func:`register_examples` alone, e.g. for synthetic data). Each example records its
``subject_ref`` (never the raw subject id), the SHA-256 of its bytes, its age label and split. The dataset's
``examples_root`` is the RFC 9162 Merkle root over its examples' leaves (encoding below), so a model version
can cite exactly which data it was trained on.

Leaf encoding (forget sets, dataset roots): the UTF-8 bytes of the RFC 8785 (JCS) canonical JSON array
``[example_id, content_digest]`` — e.g. ``["ex-000017","9f86d0…"]`` — with leaves sorted by ``example_id``
in code-point order; tree hashing is :mod:`deletion_sdk.merkle` (RFC 9162).

Subjects on the suppression list (already erased) are refused at registration with
:class:`SuppressedSubjectError`: nothing is ingested and the error lists counts and example ids.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from deletion_sdk.errors import (
    ConflictError,
    InputError,
    ManifestError,
    NotFoundError,
    SuppressedSubjectError,
)
from deletion_sdk.ledger._bulk import copy_errors_as_sqlalchemy, ensure_subjects
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import Dataset, DeletionRequest, Example, Suppression
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit, text_digest
from deletion_sdk.ledger.records import DatasetRecord, ForgetSetManifest, SuppressionRecord
from deletion_sdk.ledger.subjects import SUBJECT_REF_PATTERN, SubjectKey, subject_ref, validate_subject_ref
from deletion_sdk.logging import get_logger
from deletion_sdk.merkle import leaf_hash, root_from_leaf_hashes

__all__ = [
    "MANIFEST_COLUMNS",
    "SPLITS",
    "ExampleInput",
    "ParsedManifest",
    "dataset_examples",
    "examples_root",
    "get_dataset",
    "is_suppressed",
    "leaf_bytes",
    "list_datasets",
    "list_suppressions",
    "read_manifest",
    "register_examples",
    "resolve_forget_set",
    "suppress",
]

MANIFEST_COLUMNS = ("example_id", "subject_id", "path", "age", "split")
_REQUIRED_COLUMNS = ("example_id", "subject_id", "path", "age")
SPLITS = ("train", "holdout", "test")
MAX_AGE = 150.0
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_DIGESTS = re.compile(r"[0-9a-f]*")
_INSERT_CHUNK = 20_000
_RESOLVE_CHUNK = 5_000  # well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


class ExampleInput(NamedTuple):
    """One example to register (in-memory form; ``subject_ref`` is already a reference)."""

    example_id: str
    subject_ref: str
    content_digest: str
    age: float
    split: str = "train"
    path: str | None = None


class ParsedManifest(NamedTuple):
    """A validated manifest: examples, SHA-256 of the manifest bytes, directory the paths are relative to."""

    examples: list[ExampleInput]
    digest: str
    root_dir: Path


def _plain(text: str) -> bool:
    """True when JSON needs no escape in ``text`` (no quote, backslash or control character)."""
    return '"' not in text and "\\" not in text and (text.isprintable() or not _CONTROL.search(text))


_CONTROL = re.compile(r"[\x00-\x1f]")


def leaf_bytes(example_id: str, content_digest: str) -> bytes:
    """RFC 8785 canonical JSON of ``[example_id, content_digest]`` (for strings, JCS equals compact JSON)."""
    if not _plain(example_id) or not _plain(content_digest):
        text = json.dumps([example_id, content_digest], ensure_ascii=False, separators=(",", ":"))
    else:  # nothing to escape: the same bytes, without the encoder's overhead
        text = f'["{example_id}","{content_digest}"]'
    return text.encode("utf-8")


def _root(pairs: Iterable[tuple[str, str]]) -> str:
    """Merkle root over (example_id, digest) pairs, sorted by example id."""
    return root_from_leaf_hashes([leaf_hash(leaf_bytes(i, d)) for i, d in sorted(pairs)]).hex()


# -- manifests ----------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse_age(text: str) -> float:
    try:
        age = float(text)
    except ValueError:
        age = math.nan
    if not math.isfinite(age) or not 0.0 <= age <= MAX_AGE:
        raise ValueError(f"age must be a number of years in [0, {MAX_AGE:g}]; got {text!r}")
    return age


def read_manifest(path: Path, *, subject_key: SubjectKey) -> ParsedManifest:
    """Parse and validate a CSV manifest ``example_id,subject_id,path,age[,split]``, hashing every file.

    Paths are relative to the manifest's directory (absolute paths are used as given). Subject ids are
    turned into subject references here and never kept.

    Raises:
        ManifestError: unreadable file, missing column, duplicate example id, empty field, bad age or split,
            or a listed file that does not exist — the message names the line. Nothing is registered.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read manifest {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: manifest is not UTF-8 text") from e
    root_dir = path.resolve().parent
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ManifestError(
            f"{path}:1: empty manifest; expected header {','.join(MANIFEST_COLUMNS)}"
        ) from None
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ManifestError(
            f"{path}:1: missing column(s) {', '.join(missing)}; the header must be "
            f"example_id,subject_id,path,age[,split]"
        )
    unknown = [c for c in header if c not in MANIFEST_COLUMNS]
    if unknown:
        raise ManifestError(
            f"{path}:1: unknown column(s) {', '.join(unknown)}; known: {', '.join(MANIFEST_COLUMNS)}"
        )
    position = {name: header.index(name) for name in header}
    examples: list[ExampleInput] = []
    first_line: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(header):
            raise ManifestError(f"{path}:{line}: expected {len(header)} fields, got {len(record)}")
        fields = {name: record[i].strip() for name, i in position.items()}
        for name in _REQUIRED_COLUMNS:
            if not fields[name]:
                raise ManifestError(f"{path}:{line}: empty {name}")
        example_id = fields["example_id"]
        if example_id in first_line:
            raise ManifestError(
                f"{path}:{line}: duplicate example_id {example_id!r} (first on line {first_line[example_id]})"
            )
        first_line[example_id] = line
        try:
            age = _parse_age(fields["age"])
        except ValueError as e:
            raise ManifestError(f"{path}:{line}: {e}") from None
        split = fields.get("split") or "train"
        if split not in SPLITS:
            raise ManifestError(f"{path}:{line}: split must be one of {', '.join(SPLITS)}; got {split!r}")
        file_path = Path(fields["path"])
        resolved = file_path if file_path.is_absolute() else root_dir / file_path
        try:
            digest = _sha256_file(resolved)
        except FileNotFoundError:
            raise ManifestError(f"{path}:{line}: file not found: {fields['path']}") from None
        except OSError as e:
            raise ManifestError(f"{path}:{line}: cannot read {fields['path']}: {e.strerror or e}") from None
        try:
            ref = subject_ref(fields["subject_id"], subject_key)
        except InputError:
            raise ManifestError(f"{path}:{line}: empty subject_id") from None
        examples.append(ExampleInput(example_id, ref, digest, age, split, fields["path"]))
    if not examples:
        raise ManifestError(f"{path}: the manifest lists no examples")
    return ParsedManifest(examples, hashlib.sha256(raw).hexdigest(), root_dir)


# -- registration -------------------------------------------------------------------------------------


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


def _validate_records(records: Iterable[ExampleInput]) -> list[ExampleInput]:
    """Materialise and check in-memory records (positions in messages are 1-based).

    The common case is checked in bulk (one regex over all digests, one per distinct subject); only when
    that fails are records checked one by one to name the first bad one.
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


def _suppressed_hits(session: Session, rows: Sequence[ExampleInput]) -> list[ExampleInput]:
    suppressed = set(session.exec(select(Suppression.subject_ref)).all())
    if not suppressed:
        return []
    return [r for r in rows if r.subject_ref in suppressed]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _copy_examples(session: Session, dataset_id: int, rows: Sequence[ExampleInput]) -> None:
    """PostgreSQL fast path: COPY the examples in (psycopg 3)."""
    dbapi: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    copy_sql = (
        "COPY examples (dataset_id, example_id, subject_ref, content_digest, path, age, split) FROM STDIN"
    )
    with copy_errors_as_sqlalchemy(copy_sql), dbapi.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for r in rows:
            copy.write_row(
                (dataset_id, r.example_id, r.subject_ref, r.content_digest, r.path, float(r.age), r.split)
            )


def _insert_examples_sqlite(session: Session, dataset_id: int, rows: Sequence[ExampleInput]) -> None:
    """SQLite fast path: plain executemany through the driver (no per-row type processing is needed)."""
    connection = session.connection()
    sql = (
        "INSERT INTO examples (dataset_id, example_id, subject_ref, content_digest, path, age, split) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    for part in _chunks(rows, _INSERT_CHUNK):
        connection.exec_driver_sql(
            sql,
            [
                (dataset_id, r.example_id, r.subject_ref, r.content_digest, r.path, float(r.age), r.split)
                for r in part
            ],
        )


def register_examples(
    ledger: Ledger,
    *,
    name: str,
    records: Iterable[ExampleInput],
    root_dir: Path | str | None = None,
    manifest_digest: str | None = None,
    now: datetime | None = None,
) -> DatasetRecord:
    """Register a dataset snapshot and its examples in one transaction.

    Args:
        ledger: the ledger.
        name: unique dataset name.
        records: the examples (already validated manifest rows, or in-memory records).
        root_dir: the directory example paths are relative to (None: in-memory data).
        manifest_digest: SHA-256 of the manifest file, when registered from one.
        now: registration time (tests pin it).

    Returns:
        The dataset record (``examples_root`` is the Merkle root of its examples).

    Raises:
        InputError: bad name.
        ManifestError: a malformed or duplicate record.
        ConflictError: a dataset of that name exists.
        SuppressedSubjectError: some examples belong to erased subjects (nothing registered).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputError(
            "The 'name' parameter must be a non-empty dataset name of at most 200 characters. "
            f"Got {name!r} instead."
        )
    name = name.strip()
    rows = _validate_records(records)
    if not rows:
        raise ManifestError(f"dataset {name!r} has no examples")
    stamp = now or utcnow()
    root = _root((r.example_id, r.content_digest) for r in rows)
    with ledger.session() as session:
        if session.exec(select(Dataset.id).where(Dataset.name == name)).first() is not None:
            raise ConflictError(
                f"a dataset named {name!r} is already registered; datasets are immutable snapshots"
            )
        hits = _suppressed_hits(session, rows)
        if hits:
            ids = sorted(r.example_id for r in hits)
            shown = ", ".join(ids[:20]) + (f", … and {len(ids) - 20} more" if len(ids) > 20 else "")
            raise SuppressedSubjectError(
                f"refusing to register dataset {name!r}: {len(hits)} example(s) of "
                f"{len({r.subject_ref for r in hits})} erased subject(s) on the suppression list: {shown}"
            )
        refs = sorted({r.subject_ref for r in rows})
        ensure_subjects(session, refs, now=stamp)
        dataset = Dataset(
            name=name,
            root_dir=None if root_dir is None else str(root_dir),
            manifest_digest=manifest_digest,
            examples_root=root,
            n_examples=len(rows),
            created_at=stamp,
        )
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
        if dataset_id is None:  # pragma: no cover - flushed rows have ids
            raise RuntimeError("dataset id not assigned")
        if not ledger.is_sqlite:
            _copy_examples(session, dataset_id, rows)
            session.execute(sa.text("ANALYZE examples"))  # fresh statistics for the planner after a bulk load
        else:
            _insert_examples_sqlite(session, dataset_id, rows)
        record = DatasetRecord(
            dataset_id=dataset_id,
            name=name,
            root_dir=dataset.root_dir,
            manifest_digest=manifest_digest,
            examples_root=root,
            n_examples=len(rows),
            splits=dict(sorted(Counter(r.split for r in rows).items())),
            n_subjects=len(refs),
            created_at=stamp,
        )
        emit(
            session,
            "dataset.registered",
            {
                "dataset_id": dataset_id,
                "dataset_name": name,
                "examples_root": root,
                "n_examples": len(rows),
                "n_subjects": len(refs),
                "manifest_sha256": manifest_digest,
            },
            actor="ledger",
        )
    _log().info(
        "dataset.registered",
        dataset_id=record.dataset_id,
        dataset=name,
        n_examples=record.n_examples,
        examples_root=root,
    )
    return record


# -- queries ------------------------------------------------------------------------------------------


def _dataset_row(session: Session, dataset: int | str) -> Dataset:
    if isinstance(dataset, bool) or not isinstance(dataset, int | str):
        raise InputError(f"The 'dataset' parameter must be a dataset name or id. Got {dataset!r} instead.")
    if isinstance(dataset, int):
        row = session.get(Dataset, dataset)
    else:
        row = session.exec(select(Dataset).where(Dataset.name == dataset)).first()
        if row is None and dataset.isdigit():
            row = session.get(Dataset, int(dataset))
    if row is None:
        raise NotFoundError(f"no dataset {dataset!r}")
    return row


def _dataset_record(session: Session, row: Dataset) -> DatasetRecord:
    examples = table_of(Example)
    splits = dict(
        session.execute(
            sa.select(examples.c.split, func.count())
            .where(examples.c.dataset_id == row.id)
            .group_by(examples.c.split)
            .order_by(examples.c.split)
        ).all()
    )
    n_subjects = session.execute(
        sa.select(func.count(sa.distinct(examples.c.subject_ref))).where(examples.c.dataset_id == row.id)
    ).scalar_one()
    if row.id is None:  # pragma: no cover - stored rows have ids
        raise RuntimeError("dataset without id")
    return DatasetRecord(
        dataset_id=row.id,
        name=row.name,
        root_dir=row.root_dir,
        manifest_digest=row.manifest_digest,
        examples_root=row.examples_root,
        n_examples=row.n_examples,
        splits={str(k): int(v) for k, v in splits.items()},
        n_subjects=int(n_subjects),
        created_at=row.created_at,
    )


def get_dataset(session: Session, dataset: int | str) -> DatasetRecord:
    """The dataset with this id or name.

    Raises:
        NotFoundError: no such dataset.
    """
    return _dataset_record(session, _dataset_row(session, dataset))


def list_datasets(session: Session) -> tuple[DatasetRecord, ...]:
    """Every registered dataset, oldest first."""
    rows = session.exec(select(Dataset).order_by(col(Dataset.id))).all()
    return tuple(_dataset_record(session, r) for r in rows)


def dataset_examples(session: Session, *, dataset: int | str, split: str | None = None) -> list[ExampleInput]:
    """The dataset's examples (optionally one split), sorted by example id."""
    row = _dataset_row(session, dataset)
    examples = table_of(Example)
    query = sa.select(
        examples.c.example_id,
        examples.c.subject_ref,
        examples.c.content_digest,
        examples.c.age,
        examples.c.split,
        examples.c.path,
    ).where(examples.c.dataset_id == row.id)
    if split is not None:
        query = query.where(examples.c.split == split)
    out = [ExampleInput(*r) for r in session.execute(query).all()]
    out.sort(key=lambda e: e.example_id)
    return out


def examples_root(
    session: Session, *, dataset: int | str, split: str | None = None, exclude: Iterable[str] = ()
) -> str:
    """Merkle root (hex) over the dataset's examples, optionally one split and without ``exclude`` ids.

    With ``split="train"`` this is a model version's ``training_root``.
    """
    skip = set(exclude)
    return _root(
        (e.example_id, e.content_digest)
        for e in dataset_examples(session, dataset=dataset, split=split)
        if e.example_id not in skip
    )


# -- forget sets -------------------------------------------------------------------------------------


def resolve_forget_set(
    session: Session,
    *,
    request_ids: Sequence[str] | None = None,
    subject_refs: Sequence[str] | None = None,
    dataset: int | str | None = None,
    split: str | None = None,
) -> ForgetSetManifest:
    """The examples of some requests' (or subjects') owners, as a sorted manifest with a Merkle root.

    Args:
        session: an open session.
        request_ids: resolve these requests' subjects (exclusive with ``subject_refs``).
        subject_refs: resolve these subjects directly.
        dataset: restrict to one dataset (name or id). Without it, all datasets — an error if the matches
            span several, since example ids are only unique within a dataset.
        split: restrict to one split (e.g. ``train`` for a model's training data).

    Returns:
        The manifest; ``no_data_*`` lists what had no example in scope (such requests end as ``no_data``).

    Raises:
        InputError: both or neither of request_ids/subject_refs, a malformed subject ref, an unknown split,
            or unscoped matches spanning several datasets.
        NotFoundError: an unknown request id or dataset.
    """
    if (request_ids is None) == (subject_refs is None):
        raise InputError("resolve_forget_set needs exactly one of 'request_ids' or 'subject_refs'.")
    if split is not None and split not in SPLITS:
        raise InputError(
            f"The 'split' parameter must be one of {', '.join(SPLITS)} or None. Got {split!r} instead."
        )
    dataset_id = None if dataset is None else _dataset_row(session, dataset).id
    requests_by_ref: dict[str, list[str]] = {}
    if request_ids is not None:
        wanted = sorted(set(request_ids))
        table = table_of(DeletionRequest)
        by_id = sa.select(table.c.id, table.c.subject_ref).where(
            table.c.id.in_(sa.bindparam("ids", expanding=True))
        )
        for part in _chunks(wanted, _RESOLVE_CHUNK):
            for request_id, ref in session.execute(by_id, {"ids": list(part)}):
                requests_by_ref.setdefault(ref, []).append(request_id)
        found = {rid for ids in requests_by_ref.values() for rid in ids}
        missing = [rid for rid in wanted if rid not in found]
        if missing:
            raise NotFoundError(
                f"no deletion request with id(s) {', '.join(missing[:10])}"
                + (" …" if len(missing) > 10 else "")
            )
        refs = sorted(requests_by_ref)
    else:
        refs = sorted({validate_subject_ref(r, parameter="subject_refs") for r in subject_refs or ()})
    examples = table_of(Example)
    query = sa.select(
        examples.c.example_id, examples.c.content_digest, examples.c.dataset_id, examples.c.subject_ref
    ).where(examples.c.subject_ref.in_(sa.bindparam("refs", expanding=True)))
    if dataset_id is not None:
        query = query.where(examples.c.dataset_id == dataset_id)
    if split is not None:
        query = query.where(examples.c.split == split)
    matches: list[tuple[str, str, int, str]] = []
    for part in _chunks(refs, _RESOLVE_CHUNK):
        matches.extend(map(tuple, session.execute(query, {"refs": list(part)}).all()))  # type: ignore[arg-type]
    datasets = sorted({m[2] for m in matches})
    if dataset_id is None and len(datasets) > 1:
        raise InputError(
            f"the subjects' examples span datasets {datasets}; pass 'dataset' to choose the one to resolve in"
        )
    matches.sort()
    with_data = {m[3] for m in matches}
    per_ref = Counter(m[3] for m in matches)
    no_data_refs = tuple(r for r in refs if r not in with_data)
    examples_per_request = {rid: per_ref.get(ref, 0) for ref, ids in requests_by_ref.items() for rid in ids}
    return ForgetSetManifest(
        dataset_id=dataset_id if dataset_id is not None else (datasets[0] if datasets else None),
        split=split,
        request_ids=tuple(sorted(examples_per_request)),
        subject_refs=tuple(refs),
        example_ids=tuple(m[0] for m in matches),
        content_digests=tuple(m[1] for m in matches),
        count=len(matches),
        merkle_root=root_from_leaf_hashes([leaf_hash(leaf_bytes(m[0], m[1])) for m in matches]).hex(),
        examples_per_request=dict(sorted(examples_per_request.items())),
        no_data_request_ids=tuple(sorted(rid for rid, n in examples_per_request.items() if n == 0)),
        no_data_subject_refs=no_data_refs,
    )


# -- suppression list --------------------------------------------------------------------------------


def _suppression_record(row: Suppression) -> SuppressionRecord:
    return SuppressionRecord(
        subject_ref=row.subject_ref,
        request_id=row.request_id,
        suppressed_at=row.suppressed_at,
        reason=row.reason,
    )


def suppress(
    session: Session,
    *,
    subject_ref: str,
    reason: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> SuppressionRecord:
    """Put a subject on the suppression list (idempotent: an existing entry is returned unchanged).

    Raises:
        InputError: malformed subject ref or empty reason.
        NotFoundError: ``request_id`` names no request.
    """
    validate_subject_ref(subject_ref)
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(
            "The 'reason' parameter must be a non-empty explanation. Got an empty reason instead."
        )
    existing = session.get(Suppression, subject_ref)
    if existing is not None:
        return _suppression_record(existing)
    if request_id is not None and session.get(DeletionRequest, request_id) is None:
        raise NotFoundError(f"no deletion request with id {request_id!r}")
    stamp = now or utcnow()
    ensure_subjects(session, [subject_ref], now=stamp)
    row = Suppression(
        subject_ref=subject_ref, request_id=request_id, suppressed_at=stamp, reason=reason.strip()
    )
    session.add(row)
    session.flush()
    emit(
        session,
        "subject.suppressed",
        {"subject_ref": subject_ref, "request_id": request_id, "reason_sha256": text_digest(reason.strip())},
        actor="ledger",
    )
    _log().info("subject.suppressed", subject_ref=subject_ref, request_id=request_id)
    return _suppression_record(row)


def is_suppressed(session: Session, subject_ref: str) -> bool:
    """Whether the subject is on the suppression list."""
    return session.get(Suppression, validate_subject_ref(subject_ref)) is not None


def list_suppressions(session: Session) -> tuple[SuppressionRecord, ...]:
    """The whole suppression list, oldest first."""
    rows = session.exec(
        select(Suppression).order_by(col(Suppression.suppressed_at), col(Suppression.subject_ref))
    ).all()
    return tuple(_suppression_record(r) for r in rows)
