"""Images of a registered dataset as in-memory tensors, checked against the ledger's digests.

The ledger records each example's SHA-256; loading re-hashes every file and raises
:class:`IntegrityError` on a mismatch, so a model is never trained, unlearned or verified on bytes other
than those registered. Decoded images are cached under ``HOME/cache/`` keyed by the examples' Merkle root
(which covers ids and digests), so later jobs skip the decoding; the cache file's own digest is checked
on every load.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from deletion_sdk._fs import atomic_write
from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.errors import ConfigurationError, IntegrityError
from deletion_sdk.ledger.lineage import ExampleInput, leaves_root

__all__ = ["load_examples"]


def _decode(path: Path, digest: str, image_size: int | None) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigurationError(f"cannot read example image {path}: {e.strerror}") from e
    return _decode_bytes(raw, digest, image_size, where=f"example image {path}")


def _decode_bytes(raw: bytes, digest: str, image_size: int | None, *, where: str) -> np.ndarray:
    actual = hashlib.sha256(raw).hexdigest()
    if actual != digest:
        raise IntegrityError(
            f"{where} changed since registration: sha256 {actual[:16]}…, ledger {digest[:16]}…"
        )
    with Image.open(io.BytesIO(raw)) as img:
        rgb = img.convert("RGB")
        if image_size is not None and rgb.size != (image_size, image_size):
            rgb = rgb.resize((image_size, image_size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def _root(rows: Sequence[ExampleInput]) -> str:
    return leaves_root((r.example_id, r.content_digest) for r in rows)


def load_examples(
    rows: Sequence[ExampleInput],
    *,
    root_dir: Path | str | None,
    image_size: int | None = None,
    bins: AgeBins | None = None,
    cache_dir: Path | None = None,
    read: Callable[[ExampleInput], bytes] | None = None,
) -> FaceTensors:
    """Load ``rows`` (sorted by example id) into a :class:`FaceTensors`.

    Args:
        rows: the examples, as the ledger returns them.
        root_dir: the directory their paths are relative to (the manifest's directory).
        image_size: resize to this square size when the files differ (None keeps them).
        bins: the age groups that turn ages into labels.
        cache_dir: where decoded tensors are cached (None disables the cache).
        read: returns an example's bytes from its dataset's store (e.g. decrypted by the ``encrypted``
            store); None reads the files under ``root_dir``.

    Returns:
        Images, labels, ages and example ids; ``subject_ids`` holds the subject references.

    Raises:
        IntegrityError: a file's bytes, or the cache, differ from what was registered.
        ConfigurationError: a file is missing or the dataset has no files (registered in memory).
    """
    rows = sorted(rows, key=lambda r: r.example_id)
    bins = bins or AgeBins()
    ages = torch.tensor([r.age for r in rows], dtype=torch.float32)
    meta = {
        "example_ids": tuple(r.example_id for r in rows),
        "subject_ids": tuple(r.subject_ref for r in rows),
    }
    images = _cached(rows, cache_dir, image_size) if cache_dir is not None and rows else None
    if images is None:
        images = (
            _decode_all(rows, root_dir, image_size) if read is None else _read_all(rows, read, image_size)
        )
        if cache_dir is not None and rows:
            _store(rows, cache_dir, image_size, images)
    return FaceTensors(images=images, labels=bins.labels_for(ages), ages=ages, **meta)


def _decode_all(
    rows: Sequence[ExampleInput], root_dir: Path | str | None, image_size: int | None
) -> torch.Tensor:
    if not rows:
        side = image_size or 32
        return torch.zeros((0, 3, side, side), dtype=torch.uint8)
    if root_dir is None or any(r.path is None for r in rows):
        raise ConfigurationError(
            "this dataset was registered without image files (in memory); register it from a manifest "
            "to train or unlearn on it"
        )
    base = Path(root_dir)
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = list(pool.map(lambda r: _decode(base / str(r.path), r.content_digest, image_size), rows))
    return torch.from_numpy(np.stack(arrays))


def _read_all(
    rows: Sequence[ExampleInput], read: Callable[[ExampleInput], bytes], image_size: int | None
) -> torch.Tensor:
    if not rows:
        side = image_size or 32
        return torch.zeros((0, 3, side, side), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = list(
            pool.map(
                lambda r: _decode_bytes(
                    read(r), r.content_digest, image_size, where=f"example {r.example_id!r}"
                ),
                rows,
            )
        )
    return torch.from_numpy(np.stack(arrays))


def _cache_paths(rows: Sequence[ExampleInput], cache_dir: Path, image_size: int | None) -> tuple[Path, Path]:
    key = f"{_root(rows)}-{image_size or 'native'}"
    return cache_dir / f"{key}.safetensors", cache_dir / f"{key}.sha256"


def _cached(rows: Sequence[ExampleInput], cache_dir: Path, image_size: int | None) -> torch.Tensor | None:
    data_path, digest_path = _cache_paths(rows, cache_dir, image_size)
    if not (data_path.is_file() and digest_path.is_file()):
        return None
    raw = data_path.read_bytes()
    expected = json.loads(digest_path.read_text())["sha256"]
    if hashlib.sha256(raw).hexdigest() != expected:
        raise IntegrityError(
            f"image cache {data_path} does not match its recorded digest; delete it to rebuild"
        )
    return st_load(raw)["images"]


def _store(
    rows: Sequence[ExampleInput], cache_dir: Path, image_size: int | None, images: torch.Tensor
) -> None:
    data_path, digest_path = _cache_paths(rows, cache_dir, image_size)
    raw = st_save({"images": images.contiguous()})
    atomic_write(data_path, raw)
    # the images' content digests: erasure finds the caches holding an erased person's images by them
    members = sorted({r.content_digest for r in rows})
    atomic_write(
        digest_path, json.dumps({"sha256": hashlib.sha256(raw).hexdigest(), "content_digests": members})
    )
