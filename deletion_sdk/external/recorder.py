"""Lineage from a team's own training loop: which examples trained the model.

A plain PyTorch loop calls :meth:`LineageRecorder.record` with each batch's example ids::

    recorder = LineageRecorder(dataset="faces")
    for epoch in range(recipe.epochs):
        for images, labels, example_ids in loader:
            ...  # forward, backward, step
            recorder.record(example_ids)
        recorder.end_epoch()
    recorder.save("lineage.json")   # or pass recorder.lineage() to register_external_model

With Lightning, :meth:`LineageRecorder.lightning_callback` returns a ``lightning.pytorch.Callback`` that
does the same from ``on_train_batch_end`` (Lightning itself is not a dependency of the SDK: the callback
class is built only when it is asked for). Registering the model then checks the recorded ids against
the dataset in the ledger and records the ledger's training-set root, so forget sets resolve for it and
the batch job refuses to unlearn against different data.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from deletion_sdk._fs import atomic_write
from deletion_sdk.errors import ConfigurationError, InputError, ManifestError, NotFoundError
from deletion_sdk.training.checkpoints import training_root

__all__ = ["LINEAGE_FORMAT", "LineageRecorder", "TrainingLineage", "batch_example_ids", "load_lineage"]

LINEAGE_FORMAT = "deletion-sdk-training-lineage/v1"


class TrainingLineage(BaseModel):
    """What a training run saw. Frozen; written and read as JSON.

    Attributes:
        format: :data:`LINEAGE_FORMAT`.
        dataset: the registered dataset the ids belong to (None when not named).
        example_ids: every example id that went through an optimiser step, sorted, each once.
        ids_root: hex Merkle root of ``example_ids`` (:func:`deletion_sdk.training.training_root`).
        epochs: epochs ended with :meth:`LineageRecorder.end_epoch`.
        steps: batches recorded.
        exposures: example-batches recorded (an example seen in every one of 3 epochs counts 3).
        train_time_s: seconds from the first to the last recorded batch.
        started_at: UTC time of the first recorded batch.
        finished_at: UTC time of the last recorded batch.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = LINEAGE_FORMAT
    dataset: str | None = None
    example_ids: tuple[str, ...] = Field(min_length=1)
    ids_root: str
    epochs: int = Field(ge=0)
    steps: int = Field(ge=1)
    exposures: int = Field(ge=1)
    train_time_s: float = Field(ge=0)
    started_at: datetime
    finished_at: datetime

    @model_validator(mode="after")
    def _consistent(self) -> TrainingLineage:
        if self.format != LINEAGE_FORMAT:
            raise ValueError(f"format must be {LINEAGE_FORMAT!r}, got {self.format!r}")
        if list(self.example_ids) != sorted(set(self.example_ids)):
            raise ValueError("example_ids must be sorted and unique")
        if self.ids_root != training_root(self.example_ids):
            raise ValueError("ids_root is not the Merkle root of example_ids (the file was edited)")
        return self


def batch_example_ids(batch: Any) -> list[str]:
    """The example ids of a batch: ``batch["example_id"]`` of a mapping, else its last element.

    Raises:
        InputError: the ids are not strings (or tensors of ints, which are turned into strings).
    """
    ids: Any = batch["example_id"] if isinstance(batch, dict) else batch[-1]
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, str) or not isinstance(ids, Iterable):
        raise InputError(
            f"A batch's example ids must be a sequence of strings. Got {type(ids).__name__} instead."
        )
    out = [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in ids]
    if not all(isinstance(i, str) and i for i in out):
        raise InputError("A batch's example ids must be non-empty strings.")
    return out


class LineageRecorder:
    """Records the example ids of every training batch of a team's own loop.

    Args:
        dataset: the registered dataset the ids come from (checked again at registration).
        ids_of: how to take the ids out of a batch for :meth:`on_batch` and the Lightning callback
            (default :func:`batch_example_ids`).
    """

    def __init__(
        self, *, dataset: str | None = None, ids_of: Callable[[Any], Iterable[str]] | None = None
    ) -> None:
        if dataset is not None and (not isinstance(dataset, str) or not dataset.strip()):
            raise InputError(f"The 'dataset' parameter must be a dataset name or None. Got {dataset!r}.")
        self.dataset = dataset
        self._ids_of = ids_of or batch_example_ids
        self._seen: set[str] = set()
        self._steps = 0
        self._exposures = 0
        self._epochs = 0
        self._t0: float | None = None
        self._t1: float | None = None
        self._started: datetime | None = None
        self._finished: datetime | None = None

    def record(self, example_ids: Iterable[str]) -> None:
        """Record one optimiser step's batch.

        Raises:
            InputError: an id is not a non-empty string, or the batch is empty.
        """
        if isinstance(example_ids, str):
            raise InputError("The 'example_ids' parameter must be a sequence of ids, not one string.")
        ids = list(example_ids)
        if not ids or not all(isinstance(i, str) and i for i in ids):
            raise InputError(
                f"The 'example_ids' parameter must be a non-empty sequence of non-empty strings. Got {ids!r}."
            )
        now = time.perf_counter()
        if self._t0 is None:
            self._t0, self._started = now, datetime.now(UTC)
        self._t1, self._finished = now, datetime.now(UTC)
        self._seen.update(ids)
        self._steps += 1
        self._exposures += len(ids)

    def on_batch(self, batch: Any) -> None:
        """Record a batch as the data loader yields it (ids taken out with ``ids_of``)."""
        self.record(self._ids_of(batch))

    def end_epoch(self) -> None:
        """Mark the end of an epoch."""
        self._epochs += 1

    def lineage(self) -> TrainingLineage:
        """What was recorded so far.

        Raises:
            InputError: nothing was recorded.
        """
        if not self._seen or self._started is None or self._finished is None:
            raise InputError(
                "The LineageRecorder recorded no batch; call record() after every optimiser step."
            )
        ids = tuple(sorted(self._seen))
        return TrainingLineage(
            dataset=self.dataset,
            example_ids=ids,
            ids_root=training_root(ids),
            epochs=self._epochs,
            steps=self._steps,
            exposures=self._exposures,
            train_time_s=max(0.0, (self._t1 or 0.0) - (self._t0 or 0.0)),
            started_at=self._started,
            finished_at=self._finished,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`lineage` as JSON (atomically); returns the path."""
        target = Path(path)
        atomic_write(target, (self.lineage().model_dump_json(indent=2) + "\n").encode("utf-8"))
        return target

    def lightning_callback(self) -> Any:
        """A ``lightning.pytorch.Callback`` that records every training batch and epoch end.

        Raises:
            ConfigurationError: Lightning is not installed (``pip install lightning``).
        """
        try:
            from lightning.pytorch import Callback
        except ImportError:
            try:
                from pytorch_lightning import Callback
            except ImportError:
                raise ConfigurationError(
                    "lightning_callback() needs Lightning (pip install lightning); in a plain PyTorch "
                    "loop call record() after every optimiser step instead"
                ) from None
        recorder = self

        class _LineageCallback(Callback):  # type: ignore[misc]
            def on_train_batch_end(
                self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
            ) -> None:
                recorder.on_batch(batch)

            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                recorder.end_epoch()

        return _LineageCallback()


def load_lineage(path: str | os.PathLike[str]) -> TrainingLineage:
    """Read a lineage file written by :meth:`LineageRecorder.save`.

    Raises:
        NotFoundError: no such file.
        ManifestError: not a valid lineage file (the message says what is wrong).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"Lineage file {str(p)!r} does not exist.")
    try:
        return TrainingLineage.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"Lineage file {str(p)!r} is not JSON: {e}") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "file"
        raise ManifestError(f"Lineage file {str(p)!r}: {where}: {first.get('msg')}") from None
