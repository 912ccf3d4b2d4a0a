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
from deletion_sdk.ledger.lineage.example_files import ExampleFileError, read_example_image, read_regular_file
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref

__all__ = ["MANIFEST_COLUMNS", "MAX_AGE", "SPLITS", "ExampleInput", "ParsedManifest", "read_manifest"]

MANIFEST_COLUMNS = ("example_id", "subject_id", "path", "age", "split")
_REQUIRED_COLUMNS = ("example_id", "subject_id", "path", "age")
SPLITS = ("train", "holdout", "test")
MAX_AGE = 150.0
MAX_MANIFEST_BYTES = 256 * 1024 * 1024


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


def _parse_age(text: str) -> float:
    try:
        age = float(text)
    except ValueError:
        age = math.nan
    if not math.isfinite(age) or not 0.0 <= age <= MAX_AGE:
        raise ValueError(f"age must be a number of years in [0, {MAX_AGE:g}]; got {text!r}")
    return age


class _LineError(ValueError):
    """What is wrong with one manifest line (the caller adds the file and line number)."""


def _example(
    record: list[str],
    header: list[str],
    position: dict[str, int],
    first_line: dict[str, int],
    line: int,
    root_dir: Path,
    subject_key: SubjectKey,
) -> ExampleInput:
    if len(record) != len(header):
        raise _LineError(f"expected {len(header)} fields, got {len(record)}")
    fields = {name: record[i].strip() for name, i in position.items()}
    for name in _REQUIRED_COLUMNS:
        if not fields[name]:
            raise _LineError(f"empty {name}")
    example_id = fields["example_id"]
    if example_id in first_line:
        raise _LineError(f"duplicate example_id {example_id!r} (first on line {first_line[example_id]})")
    first_line[example_id] = line
    try:
        age = _parse_age(fields["age"])
    except ValueError as e:
        raise _LineError(str(e)) from None
    split = fields.get("split") or "train"
    if split not in SPLITS:
        raise _LineError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    try:
        data = read_example_image(root_dir, fields["path"])
    except ExampleFileError as e:
        raise _LineError(str(e)) from None
    try:
        ref = subject_ref(fields["subject_id"], subject_key)
    except InputError:
        raise _LineError("empty subject_id") from None
    except UnicodeError:
        raise _LineError("subject_id is not valid UTF-8") from None
    return ExampleInput(example_id, ref, hashlib.sha256(data).hexdigest(), age, split, fields["path"])


def read_manifest(path: Path, *, subject_key: SubjectKey) -> ParsedManifest:
    """Parse and validate a CSV manifest ``example_id,subject_id,path,age[,split]``, hashing every file.

    Paths are relative to the manifest's directory, the dataset root, and must stay inside it; each file
    must be a regular file of bounded size that decodes as an image
    (:mod:`~deletion_sdk.ledger.lineage.example_files`). Subject ids are turned into subject references
    here and never kept.

    Raises:
        ManifestError: unreadable file, missing column, duplicate example id, empty field, bad age or split,
            or a listed file that is missing, outside the root, not a regular file, too large or not an
            image. The message names the first bad line and counts the others. Nothing is registered.
    """
    path = Path(path)
    try:
        raw = read_regular_file(path, str(path), max_bytes=MAX_MANIFEST_BYTES)
    except ExampleFileError as e:
        raise ManifestError(f"cannot read manifest {path}: {e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: manifest is not UTF-8 text") from e
    root_dir = path.resolve().parent
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as e:
        raise ManifestError(f"{path}:1: the header is not valid CSV ({e})") from e
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
    bad: list[tuple[int, str]] = []
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            bad.append((reader.line_num, f"not valid CSV ({e})"))
            continue
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        try:
            examples.append(_example(record, header, position, first_line, line, root_dir, subject_key))
        except _LineError as e:
            bad.append((line, str(e)))
    if bad:
        (first, reason), more = bad[0], bad[1:]
        extra = ""
        if more:
            lines = ", ".join(str(n) for n, _ in more[:10]) + (", …" if len(more) > 10 else "")
            extra = f" (and {len(more)} more bad line(s): {lines})"
        raise ManifestError(f"{path}:{first}: {reason}{extra}")
    if not examples:
        raise ManifestError(f"{path}: the manifest lists no examples")
    return ParsedManifest(examples, hashlib.sha256(raw).hexdigest(), root_dir)
