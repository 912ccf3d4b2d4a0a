"""Derived artifacts under HOME that hold people's data: find them, and delete them.

Shadow banks (``shadow/<model digest>/``) hold models trained on a version's training data; tensor caches
(``cache/<root>-<size>.safetensors`` with a ``.sha256`` sidecar) hold decoded images, and their sidecar
lists the content digests of the images inside; cached qualification models (``qualification/models/``)
are trained on whatever data was qualified on. A cache that cannot be shown free of the erased examples
(no digest list: written by an older version) is deleted too: every one of them is rebuilt on demand.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from deletion_sdk.erasure.records import ArtifactKind
from deletion_sdk.errors import ErasureError
from deletion_sdk.layout import HomeLayout
from deletion_sdk.ledger.job_state import PlannedDeletion

__all__ = ["delete_planned", "plan_caches", "plan_qualification", "plan_shadow_banks"]


def _rel(layout: HomeLayout, path: Path) -> str:
    return path.relative_to(layout.home).as_posix()


def plan_shadow_banks(layout: HomeLayout, weights_digests: Iterable[str]) -> list[PlannedDeletion]:
    """The shadow banks of these model versions that exist on disk."""
    out = []
    for digest in sorted(set(weights_digests)):
        bank = layout.shadow_bank(digest)
        if bank.exists():
            out.append(
                PlannedDeletion(
                    kind=ArtifactKind.SHADOW_BANK.value,
                    digest=digest.lower(),
                    relpath=_rel(layout, bank),
                    detail="reference models of a retired model version",
                )
            )
    return out


def plan_caches(layout: HomeLayout, erased: set[str]) -> list[PlannedDeletion]:
    """Tensor caches holding an image with an ``erased`` content digest (or not shown free of them)."""
    out: list[PlannedDeletion] = []
    if not layout.cache.is_dir():
        return out
    for data in sorted(layout.cache.glob("*.safetensors")):
        sidecar = data.with_suffix(".sha256")
        try:
            meta = json.loads(sidecar.read_text())
            file_digest = str(meta["sha256"])
            members = meta.get("content_digests")
        except (OSError, ValueError, KeyError, TypeError):
            file_digest, members = _sha256(data), None
        if members is not None and not erased.intersection(members):
            continue
        out.append(
            PlannedDeletion(
                kind=ArtifactKind.TENSOR_CACHE.value,
                digest=file_digest,
                relpath=_rel(layout, data),
                detail="decoded images" if members is not None else "decoded images, contents unlisted",
            )
        )
    return out


def plan_qualification(layout: HomeLayout) -> list[PlannedDeletion]:
    """Cached qualification models: trained on unlisted examples, so never shown free of erased data."""
    root = layout.qualification / "models"
    out: list[PlannedDeletion] = []
    if not root.is_dir():
        return out
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        digest = hashlib.sha256()
        for f in sorted(directory.rglob("*")):
            if f.is_file():
                digest.update(f.relative_to(directory).as_posix().encode() + b"\0" + _sha256(f).encode())
        out.append(
            PlannedDeletion(
                kind=ArtifactKind.QUALIFICATION_CACHE.value,
                digest=digest.hexdigest(),
                relpath=_rel(layout, directory),
                detail="cached qualification models",
            )
        )
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def delete_planned(layout: HomeLayout, planned: PlannedDeletion) -> None:
    """Delete one planned artifact (and a cache's sidecar); already gone is fine.

    Raises:
        ErasureError: it exists and cannot be deleted, or lies outside HOME.
    """
    path = (layout.home / planned.relpath).resolve()
    home = layout.home.resolve()
    if home not in path.parents:
        raise ErasureError(f"refusing to delete {planned.kind} outside the SDK home")
    targets = [path]
    if planned.kind == ArtifactKind.TENSOR_CACHE.value:
        targets.append(path.with_suffix(".sha256"))
    for target in targets:
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        except OSError as e:
            raise ErasureError(
                f"cannot delete the {planned.kind} {planned.digest[:12]}: {e.strerror or e}"
            ) from e
        if target.exists():
            raise ErasureError(f"the {planned.kind} {planned.digest[:12]} is still on disk after deletion")
