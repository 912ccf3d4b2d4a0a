"""Finding the examples of data in the shapes teams have: UTKFace folders, image folders, plugin sources.

These functions only read files and return what they found (raw subject ids included, in memory only);
:mod:`deletion_sdk.external.datasets` turns them into ledger records (digests, subject references, splits)
and registers them, with the same guarantees as a manifest.

* :func:`scan_utkface` — ``{age}_{gender}_{race}_{timestamp}.jpg[.chip.jpg]`` files anywhere under a
  folder; the age comes from the name. Each image is its own subject unless a subject-mapping CSV
  (``path,subject_id``) says whose it is.
* :func:`scan_image_folder` — any images under a folder, with a subject-mapping CSV
  ``path,subject_id[,age][,split]``; the age comes from the CSV or, ImageFolder-style, from the name of the
  image's parent folder (``DIR/34/img.png``). Every image must have an owner.
* :class:`DatasetSource` — a team's own source (rows of a feature store, an object store) as a plugin in
  the entry-point group ``deletion_sdk.datasets``: it yields :class:`SourceExample` rows with the image
  bytes, which are written to files so that they are hashed, Merkle-rooted, suppressed and erased like
  any other data.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

from PIL import Image, UnidentifiedImageError

from deletion_sdk.data.loaders import UTKFACE_PATTERN
from deletion_sdk.errors import ManifestError, NotFoundError, RegistryError

__all__ = [
    "DATASET_SOURCE_GROUP",
    "IMAGE_SUFFIXES",
    "DatasetSource",
    "FoundExample",
    "ScanResult",
    "SourceExample",
    "available_dataset_sources",
    "get_dataset_source",
    "read_subject_map",
    "scan_image_folder",
    "scan_utkface",
]

DATASET_SOURCE_GROUP = "deletion_sdk.datasets"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_MAX_AGE = 150.0


class FoundExample(NamedTuple):
    """One example found on disk. ``subject_id`` is the raw identifier: never store it."""

    example_id: str
    subject_id: str
    path: str  # relative to the scanned folder, '/'-separated
    age: float
    split: str | None = None


class ScanResult(NamedTuple):
    """What a scan found and what it skipped (``(relative path, reason)``)."""

    examples: tuple[FoundExample, ...]
    skipped: tuple[tuple[str, str], ...]


class SourceExample(NamedTuple):
    """One row of a plugin source: an encoded image (PNG, JPEG …) with its owner and age."""

    example_id: str
    subject_id: str
    age: float
    data: bytes
    split: str | None = None


@runtime_checkable
class DatasetSource(Protocol):
    """A team's own data source, registered in the entry-point group ``deletion_sdk.datasets``.

    The class has a ``name`` and a constructor taking string options (``--option key=value`` on the
    command line); :meth:`examples` yields every example once.
    """

    name: ClassVar[str]

    def examples(self) -> Iterable[SourceExample]:  # pragma: no cover - protocol
        """Every example of the source."""
        ...


class _MapRow(NamedTuple):
    subject_id: str
    age: float | None
    split: str | None
    line: int


def _age(text: str, where: str) -> float:
    try:
        age = float(text)
    except ValueError:
        age = float("nan")
    if not 0.0 <= age <= _MAX_AGE:
        raise ManifestError(f"{where}: age must be a number of years in [0, {_MAX_AGE:g}]; got {text!r}")
    return age


def read_subject_map(path: str | os.PathLike[str]) -> dict[str, _MapRow]:
    """A subject-mapping CSV ``path,subject_id[,age][,split]`` keyed by '/'-separated relative path.

    Raises:
        NotFoundError: no such file.
        ManifestError: missing columns, empty fields, a bad age or a path listed twice (names the line).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Subject-mapping CSV {str(p)!r} does not exist.")
    with open(p, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "path" not in header or "subject_id" not in header:
            raise ManifestError(
                f"{p}:1: a subject-mapping CSV needs the columns path,subject_id (optionally age, split); "
                f"got {','.join(header) or 'no header'}"
            )
        out: dict[str, _MapRow] = {}
        for row in reader:
            line = reader.line_num
            fields = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            rel, subject = fields.get("path", "").replace("\\", "/"), fields.get("subject_id", "")
            if not rel or not subject:
                raise ManifestError(f"{p}:{line}: path and subject_id must be non-empty")
            if rel in out:
                raise ManifestError(
                    f"{p}:{line}: path {rel!r} is listed twice (first on line {out[rel].line})"
                )
            age = _age(fields["age"], f"{p}:{line}") if fields.get("age") else None
            out[rel] = _MapRow(subject, age, fields.get("split") or None, line)
    if not out:
        raise ManifestError(f"{p}: the subject-mapping CSV lists no images")
    return out


def _images(root: Path) -> list[Path]:
    if not root.is_dir():
        raise NotFoundError(f"Folder {str(root)!r} does not exist.")
    return sorted(f for f in root.rglob("*") if f.is_file() and f.name.lower().endswith(IMAGE_SUFFIXES))


def _decodable(path: Path) -> str | None:
    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        return f"cannot be decoded ({type(e).__name__})"
    return None


def _check_map(mapping: Mapping[str, _MapRow], found: set[str], subjects_csv: str | os.PathLike[str]) -> None:
    absent = sorted(set(mapping) - found)
    if absent:
        line = mapping[absent[0]].line
        raise ManifestError(
            f"{subjects_csv}:{line}: {len(absent)} mapped path(s) are not images in the folder "
            f"(first: {absent[0]!r})"
        )


def scan_utkface(
    directory: str | os.PathLike[str], *, subjects_csv: str | os.PathLike[str] | None = None
) -> ScanResult:
    """The UTKFace-named images under ``directory`` (see the module docstring).

    Files whose names do not parse, or that cannot be decoded, are skipped and listed in ``skipped``.
    With a subject-mapping CSV, every parsed image must be mapped (an image without an owner would be a
    hole in the lineage) and the CSV's ages, when given, must agree with the names.

    Raises:
        NotFoundError: no such folder or CSV.
        ManifestError: a malformed mapping, an unmapped image, or no image at all.
    """
    root = Path(directory)
    mapping = read_subject_map(subjects_csv) if subjects_csv is not None else None
    found: list[FoundExample] = []
    skipped: list[tuple[str, str]] = []
    for f in _images(root):
        rel = f.relative_to(root).as_posix()
        m = UTKFACE_PATTERN.match(f.name)
        if m is None or float(m["age"]) > _MAX_AGE:
            skipped.append((rel, "name does not match {age}_{gender}_{race}_{timestamp}.jpg[.chip.jpg]"))
            continue
        problem = _decodable(f)
        if problem is not None:
            skipped.append((rel, problem))
            continue
        age = float(m["age"])
        subject, split = rel, None
        if mapping is not None:
            row = mapping.get(rel)
            if row is None:
                raise ManifestError(f"{subjects_csv}: image {rel!r} has no subject_id in the mapping")
            if row.age is not None and row.age != age:
                raise ManifestError(
                    f"{subjects_csv}:{row.line}: age {row.age:g} contradicts the file name's age {age:g}"
                )
            subject, split = row.subject_id, row.split
        found.append(FoundExample(rel, subject, rel, age, split))
    if mapping is not None:
        _check_map(mapping, {e.path for e in found} | {s for s, _ in skipped}, subjects_csv or "")
    if not found:
        raise ManifestError(f"{root}: no UTKFace-named image found ({len(skipped)} file(s) skipped)")
    return ScanResult(tuple(found), tuple(skipped))


def scan_image_folder(
    directory: str | os.PathLike[str], *, subjects_csv: str | os.PathLike[str]
) -> ScanResult:
    """Every image under ``directory``, owned and labelled through a subject-mapping CSV.

    The age is the CSV's ``age`` or, when that is empty, the parent folder's name (``DIR/34/x.png``).
    Images that cannot be decoded are skipped and listed.

    Raises:
        NotFoundError: no such folder or CSV.
        ManifestError: an image without an owner or an age, a mapped path that is not there, or no images.
    """
    root = Path(directory)
    mapping = read_subject_map(subjects_csv)
    found: list[FoundExample] = []
    skipped: list[tuple[str, str]] = []
    for f in _images(root):
        rel = f.relative_to(root).as_posix()
        row = mapping.get(rel)
        if row is None:
            raise ManifestError(
                f"{subjects_csv}: image {rel!r} has no subject_id; every image must have an owner"
            )
        problem = _decodable(f)
        if problem is not None:
            skipped.append((rel, problem))
            continue
        age = row.age
        if age is None:
            parent = f.parent.name
            if f.parent == root or not parent.replace(".", "", 1).isdigit():
                raise ManifestError(
                    f"{subjects_csv}:{row.line}: no age for {rel!r} (give an age column or put it in a "
                    "folder named by the age)"
                )
            age = _age(parent, f"{root / rel}")
        found.append(FoundExample(rel, row.subject_id, rel, age, row.split))
    _check_map(mapping, {e.path for e in found} | {s for s, _ in skipped}, subjects_csv)
    if not found:
        raise ManifestError(f"{root}: no decodable image found ({len(skipped)} file(s) skipped)")
    return ScanResult(tuple(found), tuple(skipped))


def available_dataset_sources() -> tuple[str, ...]:
    """Names of the dataset sources installed in the entry-point group ``deletion_sdk.datasets``."""
    return tuple(sorted({ep.name for ep in entry_points(group=DATASET_SOURCE_GROUP)}))


def get_dataset_source(name: str, **options: str) -> DatasetSource:
    """An instance of the installed dataset source ``name`` built with ``options``.

    Raises:
        RegistryError: no such source (lists the installed ones), it fails to load, or it is not a
            :class:`DatasetSource`.
    """
    matches = [ep for ep in entry_points(group=DATASET_SOURCE_GROUP) if ep.name == name]
    if not matches:
        installed = ", ".join(available_dataset_sources()) or "none"
        raise RegistryError(f"Unknown dataset source {name!r}. Installed: {installed}.")
    try:
        cls = matches[0].load()
    except Exception as e:
        raise RegistryError(f"Dataset source {name!r} failed to load: {type(e).__name__}: {e}") from e
    try:
        source = cls(**options)
    except TypeError as e:
        raise RegistryError(f"Dataset source {name!r} does not take these options: {e}") from None
    if not isinstance(source, DatasetSource):
        raise RegistryError(f"Dataset source {name!r} has no examples() method; it is not a DatasetSource.")
    return source
