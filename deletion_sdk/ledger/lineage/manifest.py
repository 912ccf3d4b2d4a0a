"""CSV manifests ``example_id,subject_id,path,age[,split]`` and the in-memory example form.

:func:`read_manifest` validates every line, hashes every listed file and turns subject ids into subject
references on the spot (the raw ids are never kept); :func:`register_examples` then stores the result.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import NamedTuple

from deletion_sdk.errors import InputError, ManifestError
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref

__all__ = ["MANIFEST_COLUMNS", "MAX_AGE", "SPLITS", "ExampleInput", "ParsedManifest", "read_manifest"]

MANIFEST_COLUMNS = ("example_id", "subject_id", "path", "age", "split")
_REQUIRED_COLUMNS = ("example_id", "subject_id", "path", "age")
SPLITS = ("train", "holdout", "test")
MAX_AGE = 150.0


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
