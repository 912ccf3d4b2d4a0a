"""Safe checkpoints: safetensors weights, JSON metadata beside them, SHA-256 digests.

A checkpoint is two files::

    <stem>.safetensors   the state dict (safetensors: no code, nothing is ever unpickled)
    <stem>.json          {"format": ..., "weights_sha256": ..., "metadata": CheckpointMetadata}

A model version's digest is the SHA-256 of the ``.safetensors`` file. :func:`load_checkpoint` reads
the weights once, hashes exactly those bytes, compares them with the digest recorded in the JSON (and
with ``expected_digest`` when given), and only then deserialises them; any mismatch raises
:class:`~deletion_sdk.errors.IntegrityError`. Every file is written to a temporary name in the same
directory, flushed, fsync'ed and renamed over the target (``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk._fs import atomic_write
from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.errors import InputError, IntegrityError, NotFoundError
from deletion_sdk.merkle import merkle_root
from deletion_sdk.training.architectures import build_model
from deletion_sdk.training.config import TrainConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointMetadata",
    "LoadedCheckpoint",
    "SavedCheckpoint",
    "load_checkpoint",
    "save_checkpoint",
    "sha256_file",
    "training_root",
]

CHECKPOINT_FORMAT = "deletion-sdk-checkpoint/v1"
WEIGHTS_SUFFIX = ".safetensors"


def _sdk_version() -> str:
    import deletion_sdk  # late import: the package root imports this module

    return str(deletion_sdk.__version__)


def training_root(example_ids: Iterable[str]) -> str:
    """Hex RFC 9162 Merkle root of the training example ids (sorted, UTF-8 encoded, duplicates kept).

    For data known only in memory (qualification runs, shadow banks). Model versions registered through
    the SDK record the ledger's stronger root instead, over (example id, content digest) leaves
    (:func:`deletion_sdk.jobs.models.training_set_root`), so a checkpoint also pins the bytes it saw.
    """
    return merkle_root([eid.encode("utf-8") for eid in sorted(example_ids)]).hex()


class CheckpointMetadata(BaseModel):
    """What a checkpoint says about its model.

    Attributes:
        architecture: registered architecture name.
        num_classes: output classes.
        image_size: input side in pixels.
        train_config: the configuration it was trained with (None for imported weights).
        training_root: hex Merkle root of the training example ids (see :func:`training_root`).
        n_training_examples: number of training examples.
        age_bins: the age groups its classes stand for.
        parent_digest: weights digest of the model this one was derived from (unlearned versions).
        sdk_version: deletion_sdk version that wrote it (filled in automatically).
        created_at: UTC creation time (filled in automatically).
        extra: free-form string annotations (never personal data).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    architecture: str
    num_classes: int = Field(ge=2)
    image_size: int = Field(ge=8)
    train_config: TrainConfig | None = None
    training_root: str | None = None
    n_training_examples: int | None = Field(default=None, ge=0)
    age_bins: AgeBins | None = None
    parent_digest: str | None = None
    sdk_version: str = Field(default_factory=_sdk_version)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, str] = Field(default_factory=dict)


class SavedCheckpoint(BaseModel):
    """Where a checkpoint was written and its digest."""

    model_config = ConfigDict(frozen=True)

    weights_path: Path
    metadata_path: Path
    digest: str
    size_bytes: int


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A verified, loaded checkpoint: the model (eval mode), its metadata and its weights digest."""

    model: nn.Module
    metadata: CheckpointMetadata
    digest: str
    weights_path: Path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _state_bytes(model: nn.Module) -> bytes:
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    return st_save(state, metadata={"format": CHECKPOINT_FORMAT})


def save_checkpoint(
    model: nn.Module, directory_or_path: str | os.PathLike[str], *, metadata: CheckpointMetadata
) -> SavedCheckpoint:
    """Write ``model``'s weights and ``metadata`` atomically.

    Args:
        model: the model to save (any device; weights are copied to the CPU).
        directory_or_path: a ``*.safetensors`` file path, or a directory in which the file is named
            ``model-<first 16 hex digits of the digest>.safetensors``.
        metadata: what to record beside the weights.

    Returns:
        The written paths, the digest (SHA-256 of the weights file) and its size.
    """
    target = Path(directory_or_path)
    weights = _state_bytes(model)
    digest = hashlib.sha256(weights).hexdigest()
    if target.suffix == WEIGHTS_SUFFIX:
        weights_path = target
    else:
        weights_path = target / f"model-{digest[:16]}{WEIGHTS_SUFFIX}"
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    metadata_path = weights_path.with_suffix(".json")
    doc = {
        "format": CHECKPOINT_FORMAT,
        "weights_file": weights_path.name,
        "weights_sha256": digest,
        "metadata": json.loads(metadata.model_dump_json()),
    }
    atomic_write(weights_path, weights)
    atomic_write(metadata_path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return SavedCheckpoint(
        weights_path=weights_path, metadata_path=metadata_path, digest=digest, size_bytes=len(weights)
    )


def _paths(path: Path) -> tuple[Path, Path]:
    if path.suffix == ".json":
        return path.with_suffix(WEIGHTS_SUFFIX), path
    if path.suffix == WEIGHTS_SUFFIX:
        return path, path.with_suffix(".json")
    raise InputError(
        f"The 'path' parameter must name a '{WEIGHTS_SUFFIX}' or '.json' checkpoint file. "
        f"Got {str(path)!r} instead."
    )


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    expected_digest: str | None = None,
    device: str | torch.device = "cpu",
) -> LoadedCheckpoint:
    """Verify and load a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the ``.safetensors`` file or its ``.json`` metadata file.
        expected_digest: hex SHA-256 the weights must have (e.g. from the model registry).
        device: where to put the model.

    Returns:
        The model (eval mode), its metadata and the verified digest.

    Raises:
        NotFoundError: a file of the checkpoint is missing.
        IntegrityError: the weights' SHA-256 differs from the recorded or expected digest, or the
            files are not a valid checkpoint.
    """
    weights_path, metadata_path = _paths(Path(path))
    for p in (weights_path, metadata_path):
        if not p.is_file():
            raise NotFoundError(f"Checkpoint file {str(p)!r} does not exist.")
    try:
        doc = json.loads(metadata_path.read_text(encoding="utf-8"))
        if doc.get("format") != CHECKPOINT_FORMAT:
            raise IntegrityError(f"{str(metadata_path)!r} is not a {CHECKPOINT_FORMAT} metadata file.")
        recorded = str(doc["weights_sha256"])
        metadata = CheckpointMetadata.model_validate(doc["metadata"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValidationError) as e:
        raise IntegrityError(f"Checkpoint metadata {str(metadata_path)!r} is malformed: {e}") from e
    data = weights_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != recorded:
        raise IntegrityError(
            f"Weights {str(weights_path)!r} have SHA-256 {digest}, but the metadata records {recorded}."
        )
    if expected_digest is not None and digest != expected_digest.lower():
        raise IntegrityError(
            f"Weights {str(weights_path)!r} have SHA-256 {digest}, but {expected_digest} was expected."
        )
    try:
        state = st_load(data)
    except (SafetensorError, ValueError) as e:  # pragma: no cover - digest already matched
        raise IntegrityError(f"Weights {str(weights_path)!r} are not a valid safetensors file: {e}") from e
    model = build_model(
        metadata.architecture, num_classes=metadata.num_classes, image_size=metadata.image_size
    )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise IntegrityError(
            f"Weights {str(weights_path)!r} do not fit architecture {metadata.architecture!r}: {e}"
        ) from e
    dev = resolve_device(device)
    layout = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    model.to(dev).to(memory_format=layout).eval()
    return LoadedCheckpoint(model=model, metadata=metadata, digest=digest, weights_path=weights_path)
