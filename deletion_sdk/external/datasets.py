"""Registering imported data in the ledger with a manifest's guarantees.

Every example gets the SHA-256 of its file, a subject reference (HMAC of the raw id under the deployment's
key; the raw id is dropped here), an age and a split, and goes through
:func:`~deletion_sdk.ledger.lineage.register_examples`: one transaction, the dataset's Merkle root, and
refusal of erased subjects (nothing is registered when one is found). Splits not given by a mapping are
assigned per subject from the subject reference, so they are subject-disjoint and reproducible.
Plugin sources' bytes are written to files first (``<out>/<sha256(example id)>.<ext>``), so the batch job
re-hashes them like any other file, and erasure can delete them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from deletion_sdk._fs import atomic_write
from deletion_sdk.data.importers import DatasetSource, FoundExample, ScanResult, SourceExample
from deletion_sdk.errors import InputError, ManifestError
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import SPLITS, ExampleInput, register_examples
from deletion_sdk.ledger.records import DatasetRecord
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref

__all__ = ["ImportResult", "assign_split", "import_scan", "import_source"]

_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"BM", ".bmp"), (b"RIFF", ".webp"))


class ImportResult(BaseModel):
    """A registered import: the dataset, and the files skipped on the way (relative path, reason)."""

    model_config = ConfigDict(frozen=True)

    dataset: DatasetRecord
    skipped: tuple[tuple[str, str], ...] = ()


def _fractions(holdout: float, test: float) -> tuple[float, float]:
    for name, v in (("holdout", holdout), ("test", test)):
        if not isinstance(v, int | float) or not 0.0 <= v < 1.0:
            raise InputError(f"The '{name}' fraction must be a number in [0, 1). Got {v!r} instead.")
    if holdout + test >= 1.0:
        raise InputError(f"The holdout and test fractions must leave a train split. Got {holdout} + {test}.")
    return float(holdout), float(test)


def assign_split(ref: str, *, holdout: float, test: float) -> str:
    """``train``, ``holdout`` or ``test`` for a subject reference: a hash of it against the fractions."""
    u = int(hashlib.sha256(f"split:{ref}".encode()).hexdigest()[:13], 16) / float(1 << 52)
    if u < holdout:
        return "holdout"
    if u < holdout + test:
        return "test"
    return "train"


def _records(
    found: Iterable[FoundExample], root: Path, key: SubjectKey, holdout: float, test: float
) -> list[ExampleInput]:
    out: list[ExampleInput] = []
    for e in found:
        ref = subject_ref(e.subject_id, key)
        split = e.split or assign_split(ref, holdout=holdout, test=test)
        if split not in SPLITS:
            raise ManifestError(f"{e.path}: split must be one of {', '.join(SPLITS)}; got {split!r}")
        digest = hashlib.sha256((root / e.path).read_bytes()).hexdigest()
        out.append(ExampleInput(e.example_id, ref, digest, e.age, split, e.path))
    return out


def import_scan(
    ledger: Ledger,
    *,
    key: SubjectKey,
    name: str,
    scan: ScanResult,
    root: str | os.PathLike[str],
    holdout: float = 0.0,
    test: float = 0.0,
) -> ImportResult:
    """Register the examples a scan found under ``root`` as dataset ``name``.

    Raises:
        ConflictError: the name is taken.
        SuppressedSubjectError: some examples belong to erased subjects (nothing is registered).
        InputError: bad fractions.
    """
    h, t = _fractions(holdout, test)
    base = Path(root).resolve()
    rows = _records(scan.examples, base, key, h, t)
    record = register_examples(ledger, name=name, records=rows, root_dir=base)
    return ImportResult(dataset=record, skipped=scan.skipped)


def _suffix(data: bytes) -> str:
    for magic, suffix in _SIGNATURES:
        if data.startswith(magic):
            return suffix
    return ".bin"


def import_source(
    ledger: Ledger,
    *,
    key: SubjectKey,
    name: str,
    source: DatasetSource,
    out: str | os.PathLike[str],
    holdout: float = 0.0,
    test: float = 0.0,
) -> ImportResult:
    """Write a plugin source's examples under ``out`` and register them as dataset ``name``.

    Raises:
        ManifestError: a row that is not a :class:`SourceExample` with an id, owner, age and image bytes,
            or an example id given twice (names the row).
        ConflictError / SuppressedSubjectError: as :func:`import_scan`.
    """
    h, t = _fractions(holdout, test)
    base = Path(out).resolve()
    base.mkdir(parents=True, exist_ok=True)
    found: list[FoundExample] = []
    seen: set[str] = set()
    for i, row in enumerate(source.examples()):
        where = f"dataset source {getattr(source, 'name', '?')!r} row {i}"
        if not isinstance(row, SourceExample) or not row.example_id or not row.subject_id:
            raise ManifestError(f"{where}: must be a SourceExample with an example_id and a subject_id")
        if not isinstance(row.data, bytes) or not row.data:
            raise ManifestError(f"{where}: 'data' must be the encoded image bytes")
        if row.example_id in seen:
            raise ManifestError(f"{where}: example_id {row.example_id!r} given twice")
        seen.add(row.example_id)
        try:
            age = float(row.age)
        except (TypeError, ValueError):
            age = float("nan")
        if not 0.0 <= age <= 150.0:
            raise ManifestError(f"{where}: age must be a number of years in [0, 150]; got {row.age!r}")
        rel = hashlib.sha256(row.example_id.encode("utf-8")).hexdigest()[:32] + _suffix(row.data)
        atomic_write(base / rel, row.data)
        found.append(FoundExample(row.example_id, row.subject_id, rel, age, row.split))
    if not found:
        raise ManifestError(f"dataset source {getattr(source, 'name', '?')!r} yielded no examples")
    return import_scan(
        ledger, key=key, name=name, scan=ScanResult(tuple(found), ()), root=base, holdout=h, test=t
    )
