"""Readers for the data formats people already have.

* CSV manifests in the lineage format ``example_id,subject_id,path,age,split`` (``path`` relative to
  the manifest's directory, or absolute), as written by :func:`~deletion_sdk.data.synthfaces.write_faces`.
* UTKFace-style folders: ``{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg``; the age is parsed from
  the name. Files whose names do not parse, or that cannot be decoded, are counted and reported
  (count and first examples, in the result and in a warning log line), never fatal.

* Any store of example bytes (:func:`load_from_store`): the caller hands rows and a function that returns
  one example's bytes — e.g. an encrypted store that decrypts them — and images are decoded in memory,
  never written to disk in the clear. A read that fails (a destroyed key, a tampered file) raises the
  store's own error, which names the example.

All return :class:`~deletion_sdk.data.tensors.FaceTensors` (a torch ``Dataset`` yielding
``(image, label, index)``, restrictable to a set of example ids with ``restrict``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError, ManifestError, NotFoundError
from deletion_sdk.logging import get_logger

__all__ = [
    "REQUIRED_COLUMNS",
    "UTKFACE_PATTERN",
    "StoreRow",
    "UTKFaceFolder",
    "decode_image",
    "load_from_store",
    "load_image",
    "load_manifest",
    "load_manifest_splits",
    "load_utkface_folder",
    "parse_utkface_age",
]


REQUIRED_COLUMNS = ("example_id", "subject_id", "path", "age")
# age, then optional gender and race, then a timestamp; ".jpg.chip.jpg" (aligned crops) or ".jpg".
UTKFACE_PATTERN = re.compile(
    r"^(?P<age>\d{1,3})_(?:(?P<gender>[01])_)?(?:(?P<race>[0-4])_)?\d+\.jpg(?:\.chip\.jpg)?$"
)
_MAX_AGE = 120
_EXPECTED = "{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg"


def load_image(path: str | os.PathLike[str], *, image_size: int | None = None) -> np.ndarray:
    """One image as uint8 ``[H, W, 3]`` RGB, resized (bilinear, anti-aliased) to ``image_size`` if given.

    Raises:
        OSError / PIL.UnidentifiedImageError: the file cannot be read or decoded.
    """
    with Image.open(path) as im:
        return _rgb_array(im, image_size)


def _rgb_array(im: Image.Image, image_size: int | None) -> np.ndarray:
    rgb = im.convert("RGB")
    if image_size is not None and rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def decode_image(data: bytes, *, image_size: int | None = None) -> np.ndarray:
    """Like :func:`load_image`, from bytes in memory.

    Raises:
        OSError / PIL.UnidentifiedImageError: the bytes are not a decodable image.
    """
    with Image.open(io.BytesIO(data)) as im:
        return _rgb_array(im, image_size)


def _stack(arrays: Sequence[np.ndarray], image_size: int) -> torch.Tensor:
    if not arrays:
        return torch.empty(0, 3, image_size, image_size, dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _read_rows(csv_path: Path) -> list[dict[str, str]]:
    if not csv_path.is_file():
        raise NotFoundError(f"Manifest {str(csv_path)!r} does not exist.")
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ManifestError(
                f"Manifest {str(csv_path)!r} must have the columns {', '.join(REQUIRED_COLUMNS)} "
                f"(and optionally split). Got {', '.join(header) or 'no header'}; "
                f"missing {', '.join(missing)}."
            )
        return list(reader)


def _parse_age(raw: str, *, line: int, csv_path: Path) -> float:
    try:
        age = float(raw)
    except (TypeError, ValueError):
        age = float("nan")
    if not 0 <= age <= _MAX_AGE:
        raise ManifestError(
            f"Manifest {str(csv_path)!r} line {line}: 'age' must be a number in [0, {_MAX_AGE}]. "
            f"Got {raw!r} instead."
        )
    return age


def load_manifest(
    csv_path: str | os.PathLike[str],
    *,
    bins: AgeBins | None = None,
    image_size: int | None = None,
    split: str | None = None,
) -> FaceTensors:
    """Load the images a lineage-format manifest lists.

    Args:
        csv_path: the manifest (``example_id,subject_id,path,age[,split]``).
        bins: age groups for the labels (default :class:`AgeBins`).
        image_size: resize every image to this side; None keeps the first image's size (others
            are resized to it).
        split: load only rows whose ``split`` column equals this.

    Returns:
        The rows in manifest order, with ``subject_ids`` (raw identifiers, kept in memory only).

    Raises:
        NotFoundError: the manifest does not exist.
        ManifestError: missing columns, an invalid age, a duplicate example id, or an image that is
            missing or cannot be decoded (the message names the line).
    """
    path = Path(csv_path)
    age_bins = bins if bins is not None else AgeBins()
    rows = _read_rows(path)
    seen: set[str] = set()
    arrays: list[np.ndarray] = []
    ids: list[str] = []
    subjects: list[str] = []
    ages: list[float] = []
    size = image_size
    for line, row in enumerate(rows, start=2):
        if split is not None and row.get("split") != split:
            continue
        eid, sid, rel = ((row.get(c) or "").strip() for c in ("example_id", "subject_id", "path"))
        if not eid or not sid or not rel:
            raise ManifestError(
                f"Manifest {str(path)!r} line {line}: example_id, subject_id and path must be non-empty."
            )
        if eid in seen:
            raise ManifestError(f"Manifest {str(path)!r} line {line}: duplicate example_id {eid!r}.")
        seen.add(eid)
        age = _parse_age(row.get("age", ""), line=line, csv_path=path)
        image_path = Path(rel) if Path(rel).is_absolute() else path.parent / rel
        try:
            pixels = load_image(image_path, image_size=size)
        except (OSError, UnidentifiedImageError) as e:
            raise ManifestError(f"Manifest {str(path)!r} line {line}: cannot read image {rel!r}: {e}") from e
        if size is None:
            size = int(pixels.shape[0])
            if pixels.shape[0] != pixels.shape[1]:
                pixels = load_image(image_path, image_size=size)
        arrays.append(pixels)
        ids.append(eid)
        subjects.append(sid)
        ages.append(age)
    ages_t = torch.tensor(ages, dtype=torch.float32)
    return FaceTensors(
        images=_stack(arrays, size or 32),
        labels=age_bins.labels_for(ages_t),
        ages=ages_t,
        example_ids=tuple(ids),
        subject_ids=tuple(subjects),
    )


def load_manifest_splits(
    csv_path: str | os.PathLike[str], *, bins: AgeBins | None = None, image_size: int | None = None
) -> dict[str, FaceTensors]:
    """Load a manifest once and group its rows by the ``split`` column (rows without one: ``""``)."""
    data = load_manifest(csv_path, bins=bins, image_size=image_size)
    rows = _read_rows(Path(csv_path))
    split_of = {row["example_id"].strip(): (row.get("split") or "").strip() for row in rows}
    row_split = [split_of[eid] for eid in data.example_ids]
    return {
        name: data.take([i for i, s in enumerate(row_split) if s == name]) for name in sorted(set(row_split))
    }


def parse_utkface_age(name: str) -> int | None:
    """The age encoded in a UTKFace-style file name, or None when the name does not parse."""
    m = UTKFACE_PATTERN.match(name)
    if m is None:
        return None
    age = int(m.group("age"))
    return age if age <= _MAX_AGE else None


@dataclass(frozen=True, eq=False)
class UTKFaceFolder:
    """The result of :func:`load_utkface_folder`.

    Attributes:
        data: the readable, well-named images (example id = path relative to the folder; each image
            is its own subject, since UTKFace names carry no identity).
        n_files: files considered.
        malformed_count: files skipped because the name did not parse or the image did not decode.
        malformed_examples: the first few of those, relative paths with the reason.
    """

    data: FaceTensors
    n_files: int
    malformed_count: int
    malformed_examples: tuple[str, ...]


def load_utkface_folder(
    path: str | os.PathLike[str],
    *,
    bins: AgeBins | None = None,
    image_size: int = 32,
    recursive: bool = False,
    max_examples: int = 5,
) -> UTKFaceFolder:
    """Load a UTKFace-style folder, parsing ages from file names.

    Args:
        path: the folder.
        bins: age groups for the labels (default :class:`AgeBins`).
        image_size: every image is resized to ``image_size`` × ``image_size``.
        recursive: also descend into sub-folders.
        max_examples: how many malformed names to quote in the result.

    Returns:
        The loaded rows (sorted by relative path) and a report of malformed files.

    Raises:
        NotFoundError: ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFoundError(f"UTKFace folder {str(root)!r} does not exist or is not a directory.")
    if image_size < 8:
        raise InputError(f"The 'image_size' parameter must be an int >= 8. Got {image_size!r} instead.")
    age_bins = bins if bins is not None else AgeBins()
    files = sorted(p for p in (root.rglob("*") if recursive else root.iterdir()) if p.is_file())
    arrays: list[np.ndarray] = []
    ids: list[str] = []
    ages: list[float] = []
    malformed: list[str] = []
    for file in files:
        rel = file.relative_to(root).as_posix()
        age = parse_utkface_age(file.name)
        if age is None:
            matched = UTKFACE_PATTERN.match(file.name)
            why = "age out of range" if matched else f"name does not match {_EXPECTED}"
            malformed.append(f"{rel} ({why})")
            continue
        try:
            arrays.append(load_image(file, image_size=image_size))
        except (OSError, UnidentifiedImageError):
            malformed.append(f"{rel} (not a readable image)")
            continue
        ids.append(rel)
        ages.append(float(age))
    if malformed:
        get_logger("deletion_sdk.data").warning(
            "malformed files skipped",
            folder=str(root),
            count=len(malformed),
            examples=malformed[:max_examples],
        )
    ages_t = torch.tensor(ages, dtype=torch.float32)
    data = FaceTensors(
        images=_stack(arrays, image_size),
        labels=age_bins.labels_for(ages_t),
        ages=ages_t,
        example_ids=tuple(ids),
        subject_ids=tuple(ids),
    )
    return UTKFaceFolder(
        data=data,
        n_files=len(files),
        malformed_count=len(malformed),
        malformed_examples=tuple(malformed[:max_examples]),
    )


class StoreRow(Protocol):
    """What :func:`load_from_store` needs of a row: its example id, age, and owner (a subject reference)."""

    @property
    def example_id(self) -> str: ...
    @property
    def age(self) -> float: ...
    @property
    def subject_ref(self) -> str: ...


_Row = TypeVar("_Row", bound=StoreRow)


def load_from_store(
    rows: Sequence[_Row],
    read: Callable[[_Row], bytes],
    *,
    bins: AgeBins | None = None,
    image_size: int = 32,
    workers: int = 1,
) -> FaceTensors:
    """Decode the examples ``read`` returns for ``rows`` (in that order), entirely in memory.

    Args:
        rows: the examples to load (example id, age, subject reference).
        read: returns one example's bytes, e.g. decrypted by an encrypted store; its errors propagate.
        bins: age groups for the labels (default :class:`AgeBins`).
        image_size: every image is resized to ``image_size`` x ``image_size``.
        workers: threads reading and decoding (AES-GCM and PIL release the GIL).

    Returns:
        Images ``[n, 3, image_size, image_size]`` uint8, labels, ages, example ids; ``subject_ids`` holds
        the subject references.

    Raises:
        InputError: bad ``image_size`` or ``workers``.
        ManifestError: an example's bytes are not a decodable image (the message names it).
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise InputError(f"The 'image_size' parameter must be an int >= 8. Got {image_size!r} instead.")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"The 'workers' parameter must be an int >= 1. Got {workers!r} instead.")
    age_bins = bins if bins is not None else AgeBins()

    def one(row: _Row) -> np.ndarray:
        data = read(row)
        try:
            return decode_image(data, image_size=image_size)
        except (OSError, UnidentifiedImageError) as e:
            raise ManifestError(f"example {row.example_id!r}: not a readable image ({e})") from None

    if workers == 1 or len(rows) < 2:
        arrays = [one(r) for r in rows]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            arrays = list(pool.map(one, rows))
    ages_t = torch.tensor([float(r.age) for r in rows], dtype=torch.float32)
    return FaceTensors(
        images=_stack(arrays, image_size),
        labels=age_bins.labels_for(ages_t),
        ages=ages_t,
        example_ids=tuple(r.example_id for r in rows),
        subject_ids=tuple(r.subject_ref for r in rows),
    )
