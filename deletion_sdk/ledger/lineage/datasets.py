"""Datasets: register a snapshot and its examples once, then read them back (records, examples, roots).

A dataset is registered from a CSV manifest (:func:`~deletion_sdk.ledger.lineage.manifest.read_manifest`
then :func:`register_examples`) or from in-memory records (:func:`register_examples` alone, e.g. for
synthetic data). Its ``examples_root`` is the Merkle root over its examples' leaves
(:mod:`~deletion_sdk.ledger.lineage.leaves`), so a model version can cite exactly which data it was
trained on. Datasets are immutable: a name is registered once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from deletion_sdk.errors import (
    ConflictError,
    InputError,
    ManifestError,
    NotFoundError,
    SuppressedSubjectError,
)
from deletion_sdk.ledger._bulk import ensure_subjects
from deletion_sdk.ledger._types import table_of, utcnow
from deletion_sdk.ledger.core_tables import Dataset, Example
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.erasure_tables import Tombstone
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.lineage._sql import insert_examples
from deletion_sdk.ledger.lineage._validate import validate_records
from deletion_sdk.ledger.lineage.leaves import leaves_root
from deletion_sdk.ledger.lineage.manifest import ExampleInput
from deletion_sdk.ledger.lineage.suppression import suppressed_examples
from deletion_sdk.ledger.lineage.tombstones import TombstoneHits, tombstone_hits
from deletion_sdk.ledger.records import DatasetRecord
from deletion_sdk.logging import get_logger

__all__ = [
    "dataset_examples",
    "dataset_row",
    "examples_root",
    "get_dataset",
    "list_datasets",
    "register_examples",
]


def _log() -> Any:
    # Looked up per call: a logger bound at import time would ignore a later configure_logging().
    return get_logger(__name__)


def _refuse_suppressed(name: str, hits: list[ExampleInput]) -> SuppressedSubjectError:
    ids = sorted(r.example_id for r in hits)
    shown = ", ".join(ids[:20]) + (f", … and {len(ids) - 20} more" if len(ids) > 20 else "")
    return SuppressedSubjectError(
        f"refusing to register dataset {name!r}: {len(hits)} example(s) of "
        f"{len({r.subject_ref for r in hits})} erased subject(s) on the suppression list: {shown}"
    )


def _refuse_erased(name: str, hits: TombstoneHits) -> SuppressedSubjectError:
    parts = []
    if hits.by_id:
        ids = sorted(r.example_id for r in hits.by_id)
        parts.append(f"{len(ids)} example id(s) of erased examples: {', '.join(ids[:20])}")
    if hits.by_digest:
        ids = sorted(r.example_id for r in hits.by_digest)
        parts.append(
            f"{len(ids)} file(s) with the bytes of erased examples (whatever subject they name): "
            f"{', '.join(ids[:20])}"
        )
    more = " …" if max(len(hits.by_id), len(hits.by_digest)) > 20 else ""
    return SuppressedSubjectError(f"refusing to register dataset {name!r}: {'; '.join(parts)}{more}")


def register_examples(
    ledger: Ledger,
    *,
    name: str,
    records: Iterable[ExampleInput],
    root_dir: Path | str | None = None,
    manifest_digest: str | None = None,
    now: datetime | None = None,
    store: str = "local",
) -> DatasetRecord:
    """Register a dataset snapshot and its examples in one transaction.

    Args:
        ledger: the ledger.
        name: unique dataset name.
        records: the examples (already validated manifest rows, or in-memory records).
        root_dir: the directory example paths are relative to (None: in-memory data).
        manifest_digest: SHA-256 of the manifest file, when registered from one.
        now: registration time (tests pin it).
        store: the source store holding the files (see :mod:`deletion_sdk.erasure.store`).

    Returns:
        The dataset record (``examples_root`` is the Merkle root of its examples).

    Raises:
        InputError: bad name.
        ManifestError: a malformed or duplicate record.
        ConflictError: a dataset of that name exists.
        SuppressedSubjectError: some examples belong to erased subjects, reuse an erased example's id, or
            hold an erased example's bytes (nothing registered).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputError(
            "The 'name' parameter must be a non-empty dataset name of at most 200 characters. "
            f"Got {name!r} instead."
        )
    name = name.strip()
    rows = validate_records(records)
    if not rows:
        raise ManifestError(f"dataset {name!r} has no examples")
    stamp = now or utcnow()
    root = leaves_root(sorted((r.example_id, r.content_digest) for r in rows))
    with ledger.session() as session:
        if session.exec(select(Dataset.id).where(Dataset.name == name)).first() is not None:
            raise ConflictError(
                f"a dataset named {name!r} is already registered; datasets are immutable snapshots"
            )
        hits = suppressed_examples(session, rows)
        if hits:
            raise _refuse_suppressed(name, hits)
        erased = tombstone_hits(session, rows)
        if erased:
            raise _refuse_erased(name, erased)
        refs = sorted({r.subject_ref for r in rows})
        ensure_subjects(session, refs, now=stamp)
        dataset = Dataset(
            name=name,
            root_dir=None if root_dir is None else str(root_dir),
            manifest_digest=manifest_digest,
            examples_root=root,
            n_examples=len(rows),
            created_at=stamp,
            store=store,
        )
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
        if dataset_id is None:  # pragma: no cover - flushed rows have ids
            raise RuntimeError("dataset id not assigned")
        insert_examples(session, dataset_id, rows, sqlite=ledger.is_sqlite)
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
            store=store,
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


def dataset_row(session: Session, dataset: int | str) -> Dataset:
    """The stored dataset with this id or name (a name of digits falls back to the id).

    Raises:
        InputError: ``dataset`` is neither a name nor an id.
        NotFoundError: no such dataset.
    """
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
        store=row.store,
    )


def get_dataset(session: Session, dataset: int | str) -> DatasetRecord:
    """The dataset with this id or name.

    Raises:
        NotFoundError: no such dataset.
    """
    return _dataset_record(session, dataset_row(session, dataset))


def list_datasets(session: Session) -> tuple[DatasetRecord, ...]:
    """Every registered dataset, oldest first."""
    rows = session.exec(select(Dataset).order_by(col(Dataset.id))).all()
    return tuple(_dataset_record(session, r) for r in rows)


def dataset_examples(
    session: Session, *, dataset: int | str, split: str | None = None, include_erased: bool = False
) -> list[ExampleInput]:
    """The dataset's examples (optionally one split), sorted by example id.

    Examples whose source files were erased (tombstoned) are left out unless ``include_erased``.
    """
    row = dataset_row(session, dataset)
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
    if not include_erased:
        stones = table_of(Tombstone)
        query = query.where(
            ~sa.exists().where(
                stones.c.dataset_id == examples.c.dataset_id, stones.c.example_id == examples.c.example_id
            )
        )
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
    return leaves_root(
        sorted(
            (e.example_id, e.content_digest)
            for e in dataset_examples(session, dataset=dataset, split=split)
            if e.example_id not in skip
        )
    )
