"""Shared by the bring-your-own tests: a UTKFace-named folder written on the spot, an SDK home."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings


@dataclass(frozen=True)
class UTKFolder:
    root: Path
    subjects_csv: Path
    files: tuple[str, ...]  # relative paths, sorted
    owner: dict[str, str]  # relative path -> raw subject id
    split: dict[str, str]  # relative path -> split


def write_utkface(
    root: Path, *, n_subjects: int = 8, per_subject: int = 3, size: int = 16, seed: int = 0
) -> UTKFolder:
    """``n_subjects * per_subject`` random JPEGs named ``{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg``,
    and subjects.csv ``path,subject_id,split`` (every fourth person held out)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    owner: dict[str, str] = {}
    split: dict[str, str] = {}
    for s in range(n_subjects):
        age = int(rng.integers(1, 90))
        for k in range(per_subject):
            name = f"{age}_{s % 2}_{s % 5}_2017{s:04d}{k:04d}.jpg.chip.jpg"
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name, format="JPEG", quality=95)
            owner[name] = f"person-{s}@example.com"
            split[name] = "holdout" if s % 4 == 3 else "train"
    subjects_csv = root.parent / f"{root.name}-subjects.csv"
    with open(subjects_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "subject_id", "split"])
        for name in sorted(owner):
            w.writerow([name, owner[name], split[name]])
    return UTKFolder(root, subjects_csv, tuple(sorted(owner)), owner, split)


@pytest.fixture
def utk(tmp_path: Path) -> UTKFolder:
    return write_utkface(tmp_path / "utkface")


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[DeletionSDK]:
    with DeletionSDK.open(settings=Settings(home=tmp_path / "home", device="cpu")) as opened:
        yield opened
