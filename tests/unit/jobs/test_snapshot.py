"""``jobs.snapshot.load_examples``: real PNG files, digests checked on every load, a digest-checked cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from deletion_sdk.data import AgeBins
from deletion_sdk.errors import ConfigurationError, IntegrityError
from deletion_sdk.jobs.snapshot import load_examples
from deletion_sdk.ledger.lineage import ExampleInput

SIDE = 12


def _images(n: int, side: int = SIDE) -> torch.Tensor:
    """``[n, 3, side, side]`` uint8 pixels, different per image."""
    g = torch.Generator().manual_seed(5)
    return torch.randint(0, 256, (n, 3, side, side), generator=g, dtype=torch.uint8)


def _write(root: Path, pixels: torch.Tensor, ages: list[float]) -> list[ExampleInput]:
    """One PNG per image under ``root/img``; the rows a manifest import would register (unsorted)."""
    (root / "img").mkdir(parents=True)
    rows = []
    for i, (image, age) in enumerate(zip(pixels, ages, strict=True)):
        path = root / "img" / f"{i}.png"
        Image.fromarray(image.permute(1, 2, 0).numpy(), mode="RGB").save(path)
        rows.append(
            ExampleInput(
                example_id=f"ex-{i:03d}",
                subject_ref=hashlib.sha256(f"subject {i // 2}".encode()).hexdigest(),
                content_digest=hashlib.sha256(path.read_bytes()).hexdigest(),
                age=age,
                path=f"img/{i}.png",
            )
        )
    return rows[::-1]  # the loader sorts by example id


AGES = [3.0, 17.0, 25.0, 41.0, 66.0, 90.0]


def test_load_decodes_the_images_in_example_id_order(tmp_path: Path) -> None:
    pixels = _images(len(AGES))
    rows = _write(tmp_path, pixels, AGES)
    faces = load_examples(rows, root_dir=tmp_path)
    assert faces.images.dtype == torch.uint8 and faces.images.shape == (6, 3, SIDE, SIDE)
    assert torch.equal(faces.images, pixels)  # PNG is lossless: exactly the registered pixels
    assert faces.example_ids == tuple(f"ex-{i:03d}" for i in range(6))
    assert faces.subject_ids == tuple(r.subject_ref for r in sorted(rows))
    assert torch.equal(faces.ages, torch.tensor(AGES))
    assert torch.equal(faces.labels, AgeBins().labels_for(torch.tensor(AGES)))
    bins = AgeBins(edges=(18.0, 65.0))
    assert faces.labels.dtype == torch.int64
    assert load_examples(rows, root_dir=str(tmp_path), bins=bins).labels.tolist() == [0, 0, 1, 1, 2, 2]

    resized = load_examples(rows, root_dir=tmp_path, image_size=8)
    assert resized.images.shape == (6, 3, 8, 8)


def test_a_file_changed_since_registration_raises_integrity_error(tmp_path: Path) -> None:
    rows = _write(tmp_path, _images(3), AGES[:3])
    target = tmp_path / "img" / "1.png"
    Image.fromarray(torch.zeros((SIDE, SIDE, 3), dtype=torch.uint8).numpy(), mode="RGB").save(target)
    with pytest.raises(IntegrityError, match=r"1\.png changed since registration"):
        load_examples(rows, root_dir=tmp_path)
    target.unlink()
    with pytest.raises(ConfigurationError, match="cannot read example image"):
        load_examples(rows, root_dir=tmp_path)


def test_rows_without_files_and_empty_rows(tmp_path: Path) -> None:
    rows = _write(tmp_path, _images(2), AGES[:2])
    with pytest.raises(ConfigurationError, match="without image files"):
        load_examples([r._replace(path=None) for r in rows], root_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="without image files"):
        load_examples(rows, root_dir=None)
    empty = load_examples([], root_dir=None, image_size=16, cache_dir=tmp_path / "cache")
    assert empty.images.shape == (0, 3, 16, 16) and len(empty) == 0
    assert not (tmp_path / "cache").exists()


def test_the_cache_is_reused_and_checked(tmp_path: Path) -> None:
    pixels = _images(len(AGES))
    rows = _write(tmp_path / "data", pixels, AGES)
    cache = tmp_path / "cache"
    first = load_examples(rows, root_dir=tmp_path / "data", cache_dir=cache)
    (data_file,) = cache.glob("*.safetensors")
    (digest_file,) = cache.glob("*.sha256")
    assert data_file.stem == digest_file.stem and data_file.stem.endswith("-native")

    for png in (tmp_path / "data" / "img").iterdir():  # without the files only the cache can answer
        png.unlink()
    again = load_examples(rows, root_dir=tmp_path / "data", cache_dir=cache)
    assert torch.equal(again.images, first.images) and torch.equal(again.images, pixels)
    assert again.example_ids == first.example_ids
    with pytest.raises(ConfigurationError):  # another size is another cache entry: decoding needs the files
        load_examples(rows, root_dir=tmp_path / "data", image_size=8, cache_dir=cache)

    raw = bytearray(data_file.read_bytes())
    raw[-1] ^= 0x01  # one pixel of the cached tensor
    data_file.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        load_examples(rows, root_dir=tmp_path / "data", cache_dir=cache)


def test_a_cache_entry_covers_exactly_these_examples(tmp_path: Path) -> None:
    rows = _write(tmp_path / "data", _images(4), AGES[:4])
    cache = tmp_path / "cache"
    load_examples(rows, root_dir=tmp_path / "data", cache_dir=cache)
    load_examples(rows[:3], root_dir=tmp_path / "data", cache_dir=cache)  # other ids: another entry
    relabelled = [r._replace(content_digest="0" * 64) if r.example_id == "ex-000" else r for r in rows]
    assert len(list(cache.glob("*.safetensors"))) == 2
    with pytest.raises(IntegrityError):  # another digest is another entry, so the file is checked again
        load_examples(relabelled, root_dir=tmp_path / "data", cache_dir=cache)
