"""Wrapped data keys, their destruction, sealed examples, ingested datasets: crypto-shredding in SQL.

The cryptography itself lives in :mod:`deletion_sdk.erasure.crypto_keys`; this module only stores and
deletes rows of :mod:`deletion_sdk.ledger.crypto_tables`. Destroying a key deletes its row and writes a
tombstone and a ``crypto.key_destroyed`` audit event in the same transaction; on SQLite the deletion runs
with ``PRAGMA secure_delete`` so the wrapped bytes are overwritten in the database file, not left in a free
page (:func:`scrub_sqlite` then truncates the write-ahead log that still holds the old page).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from deletion_sdk.ledger._bulk import ensure_subjects
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.crypto_tables import (
    IngestedDatasetRow,
    SealedExampleRow,
    ShreddedKeyRow,
    SubjectDataKeyRow,
)
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit

__all__ = [
    "DestroyedKey",
    "SealedExample",
    "WrappedKey",
    "add_data_keys",
    "data_keys",
    "delete_sealed",
    "destroy_data_keys",
    "ingested_dataset",
    "master_key_ids",
    "record_ingest",
    "rewrap_data_keys",
    "scrub_sqlite",
    "sealed_examples",
    "shredded_keys",
]

_CHUNK = 500


class WrappedKey(NamedTuple):
    """A person's data key as stored: wrapped under the master key with this fingerprint."""

    subject_ref: str
    wrapped: bytes
    key_digest: str
    master_key_id: str


class DestroyedKey(NamedTuple):
    """The tombstone of a destroyed key (``already`` when an earlier call destroyed it)."""

    subject_ref: str
    key_digest: str
    destroyed_at: datetime
    already: bool


class SealedExample(NamedTuple):
    """One sealed copy under ``HOME/vault``."""

    file_name: str
    subject_ref: str
    example_id: str
    content_digest: str
    key_digest: str
    sealed_sha256: str
    size: int


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def master_key_ids(session: Session) -> dict[str, int]:
    """How many wrapped keys each master-key fingerprint wraps."""
    rows = session.execute(
        sa.select(col(SubjectDataKeyRow.master_key_id), sa.func.count()).group_by(
            col(SubjectDataKeyRow.master_key_id)
        )
    ).all()
    return {str(k): int(n) for k, n in rows}


def data_keys(session: Session, subject_refs: Iterable[str]) -> dict[str, WrappedKey]:
    """The stored wrapped keys of these subjects (absent ones are simply missing from the result)."""
    refs = sorted(set(subject_refs))
    out: dict[str, WrappedKey] = {}
    for part in _chunks(refs):
        for row in session.exec(
            select(SubjectDataKeyRow).where(col(SubjectDataKeyRow.subject_ref).in_(part))
        ).all():
            out[row.subject_ref] = WrappedKey(
                row.subject_ref, bytes(row.wrapped_key), row.key_digest, row.master_key_id
            )
    return out


def shredded_keys(session: Session, subject_refs: Iterable[str] | None = None) -> dict[str, DestroyedKey]:
    """Tombstones of destroyed keys (of these subjects, or all)."""
    query = select(ShreddedKeyRow)
    rows: list[ShreddedKeyRow] = []
    if subject_refs is None:
        rows = list(session.exec(query).all())
    else:
        for part in _chunks(sorted(set(subject_refs))):
            rows.extend(session.exec(query.where(col(ShreddedKeyRow.subject_ref).in_(part))).all())
    return {r.subject_ref: DestroyedKey(r.subject_ref, r.key_digest, r.destroyed_at, True) for r in rows}


def add_data_keys(session: Session, keys: Sequence[WrappedKey], *, now: datetime | None = None) -> None:
    """Store new wrapped keys (one per subject; the subjects are created when missing)."""
    if not keys:
        return
    stamp = now or utcnow()
    ensure_subjects(session, sorted({k.subject_ref for k in keys}), now=stamp)
    session.add_all(
        SubjectDataKeyRow(
            subject_ref=k.subject_ref,
            wrapped_key=k.wrapped,
            key_digest=k.key_digest,
            master_key_id=k.master_key_id,
            created_at=stamp,
        )
        for k in keys
    )
    session.flush()


def destroy_data_keys(
    session: Session, subject_refs: Iterable[str], *, actor: str, now: datetime | None = None
) -> list[DestroyedKey]:
    """Delete these subjects' wrapped keys, with a tombstone and an audit event each, in ``session``.

    Idempotent: a subject whose key is already destroyed gets its earlier tombstone (``already=True``); a
    subject that never had a key gets nothing.
    """
    stamp = now or utcnow()
    refs = sorted(set(subject_refs))
    earlier = shredded_keys(session, refs)
    live = data_keys(session, refs)
    if live and session.get_bind().dialect.name == "sqlite":
        # Overwrite deleted rows in place instead of leaving the wrapped key in a free page.
        session.execute(sa.text("PRAGMA secure_delete = ON"))
    out: list[DestroyedKey] = []
    for ref in refs:
        key = live.get(ref)
        if key is None:
            if ref in earlier:
                out.append(earlier[ref])
            continue
        session.execute(sa.delete(SubjectDataKeyRow).where(col(SubjectDataKeyRow.subject_ref) == ref))
        tomb = session.get(ShreddedKeyRow, ref)
        if tomb is None:
            session.add(ShreddedKeyRow(subject_ref=ref, key_digest=key.key_digest, destroyed_at=stamp))
        else:  # a second key, created after an earlier destruction, is destroyed too
            tomb.key_digest, tomb.destroyed_at = key.key_digest, stamp
        emit(
            session,
            "crypto.key_destroyed",
            {
                "subject_ref": ref,
                "key_digest": key.key_digest,
                "master_key_id": key.master_key_id,
                "destroyed_at": stamp.isoformat(),
            },
            actor=actor,
        )
        out.append(DestroyedKey(ref, key.key_digest, stamp, False))
    session.flush()
    return out


def rewrap_data_keys(
    session: Session,
    rewrap: Callable[[WrappedKey], bytes],
    *,
    from_master_id: str,
    to_master_id: str,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Replace every stored wrapped key by ``rewrap(key)``, wrapped under master key ``to_master_id``.

    A key keeps its ``key_digest`` (the name it got when it was created), so audit events and sealed copies
    still name it. Returns how many keys were rewrapped.
    """
    rows = session.exec(select(SubjectDataKeyRow)).all()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA secure_delete = ON"))  # the old wrappings are overwritten, not freed
    for row in rows:
        key = WrappedKey(row.subject_ref, bytes(row.wrapped_key), row.key_digest, row.master_key_id)
        row.wrapped_key, row.master_key_id = rewrap(key), to_master_id
    emit(
        session,
        "crypto.master_key_rotated",
        {
            "from_master_key_id": from_master_id,
            "to_master_key_id": to_master_id,
            "n_keys": len(rows),
            "rotated_at": (now or utcnow()).isoformat(),
        },
        actor=actor,
    )
    session.flush()
    return len(rows)


def scrub_sqlite(ledger: Ledger) -> None:
    """On SQLite, checkpoint and truncate the write-ahead log, which still holds pages with deleted keys."""
    if not ledger.is_sqlite:
        return
    with ledger.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _sealed(row: SealedExampleRow) -> SealedExample:
    return SealedExample(
        row.file_name,
        row.subject_ref,
        row.example_id,
        row.content_digest,
        row.key_digest,
        row.sealed_sha256,
        int(row.size),
    )


def sealed_examples(
    session: Session,
    *,
    file_names: Iterable[str] = (),
    subject_refs: Iterable[str] = (),
    content_digests: Iterable[str] = (),
) -> list[SealedExample]:
    """Sealed copies with any of these file names, owners or content digests (sorted by file name)."""
    found: dict[str, SealedExample] = {}
    for column, values in (
        (SealedExampleRow.file_name, file_names),
        (SealedExampleRow.subject_ref, subject_refs),
        (SealedExampleRow.content_digest, content_digests),
    ):
        for part in _chunks(sorted(set(values))):
            for row in session.exec(select(SealedExampleRow).where(col(column).in_(part))).all():
                found[row.file_name] = _sealed(row)
    return [found[k] for k in sorted(found)]


def delete_sealed(session: Session, file_names: Iterable[str]) -> None:
    """Forget these sealed copies (their files are deleted by the store)."""
    for part in _chunks(sorted(set(file_names))):
        session.execute(sa.delete(SealedExampleRow).where(col(SealedExampleRow.file_name).in_(part)))


def ingested_dataset(session: Session, dataset_id: int) -> IngestedDatasetRow | None:
    """The ingest record of a dataset, or None when it was never ingested."""
    return session.get(IngestedDatasetRow, dataset_id)


def record_ingest(
    session: Session,
    *,
    dataset_id: int,
    sealed: Sequence[SealedExample],
    n_skipped: int,
    n_keys_created: int,
    master_key_id: str,
    actor: str,
    now: datetime | None = None,
) -> None:
    """Record a dataset's sealed copies (replacing older rows of the same files) and the ingest itself."""
    stamp = now or utcnow()
    delete_sealed(session, [s.file_name for s in sealed])
    session.add_all(
        SealedExampleRow(
            file_name=s.file_name,
            subject_ref=s.subject_ref,
            example_id=s.example_id,
            content_digest=s.content_digest,
            key_digest=s.key_digest,
            sealed_sha256=s.sealed_sha256,
            size=s.size,
            created_at=stamp,
        )
        for s in sealed
    )
    session.add(
        IngestedDatasetRow(
            dataset_id=dataset_id,
            n_sealed=len(sealed),
            n_skipped=n_skipped,
            master_key_id=master_key_id,
            ingested_at=stamp,
        )
    )
    emit(
        session,
        "dataset.ingested",
        {
            "dataset_id": dataset_id,
            "n_sealed": len(sealed),
            "n_skipped": n_skipped,
            "n_keys_created": n_keys_created,
            "master_key_id": master_key_id,
        },
        actor=actor,
    )
    session.flush()
