"""The result store: finished tasks on disk, content-addressed by task key, never redone.

Layout under the store's root, for a task with key ``K`` (hex SHA-256 of its spec)::

    K[:2]/K.safetensors   the weights (a checkpoint, see deletion_sdk.training.checkpoints)
    K[:2]/K.json          its checkpoint metadata (with the weights' SHA-256)
    K[:2]/K.task.json     the TaskResult: key, spec, weights digest, timings, who ran it

The task record is written last (atomically), so a task is finished exactly when its record exists;
a run killed at any moment leaves finished tasks and, at worst, orphaned weights that the next run
overwrites. Weights are loaded only through :func:`~deletion_sdk.training.load_checkpoint` with the
recorded digest, so a modified file raises :class:`~deletion_sdk.errors.IntegrityError`.
"""

from __future__ import annotations

import hashlib
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from deletion_sdk._fs import atomic_write
from deletion_sdk.errors import IntegrityError
from deletion_sdk.executor.tasks import Task, TaskOutput, model_from_weights
from deletion_sdk.training.checkpoints import (
    CheckpointMetadata,
    load_checkpoint,
    save_checkpoint,
    training_root,
)

__all__ = ["KILL_ENV", "ResultStore", "TaskResult"]

KILL_ENV = "DELETION_SDK_TEST_KILL_AFTER_TASKS"


class TaskResult(BaseModel):
    """A finished task.

    Attributes:
        key: the task key.
        kind: ``train`` or ``unlearn``.
        label: the label it was first run under (``original-003``).
        digest: SHA-256 of its safetensors weights.
        seconds: the method's own time (training loop, or unlearning wall time).
        wall_s: the whole task in its worker.
        steps: optimiser steps of an unlearning run.
        executor: name of the executor that ran it; worker: ``host:pid``; device: where it ran.
        run_id: the driver run that stored it (``host:pid:start``).
        finished_at: UTC time it was stored.
        spec: the task's spec (what the key is the digest of).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    kind: Literal["train", "unlearn"]
    label: str
    digest: str
    seconds: float
    wall_s: float
    steps: int | None = None
    executor: str
    worker: str
    device: str
    run_id: str
    finished_at: str
    spec: dict[str, Any]


class ResultStore:
    """Finished tasks under ``root`` (see the module docstring for the layout).

    Args:
        root: the directory; created on the first write.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._stored_by_this_process = 0

    def _stem(self, key: str) -> Path:
        return self.root / key[:2] / key

    def weights_path(self, key: str) -> Path:
        """Where the weights of task ``key`` are (or will be) stored."""
        return self._stem(key).with_suffix(".safetensors")

    def get(self, key: str) -> TaskResult | None:
        """The finished task ``key``, or None when it has not finished.

        Raises:
            IntegrityError: its record is malformed, names another key, or its weights file is missing.
        """
        record = self._stem(key).with_suffix(".task.json")
        if not record.is_file():
            return None
        try:
            result = TaskResult.model_validate_json(record.read_bytes())
        except ValidationError as e:
            raise IntegrityError(f"Task record {str(record)!r} is malformed: {e}") from e
        if result.key != key:
            raise IntegrityError(
                f"Task record {str(record)!r} is for task {result.key[:16]}, not {key[:16]}."
            )
        if not self.weights_path(key).is_file():
            raise IntegrityError(f"Task {key[:16]} is recorded as finished but its weights file is missing.")
        return result

    def put(self, task: Task, output: TaskOutput, *, executor: str, run_id: str) -> TaskResult:
        """Store a finished task's weights, then its record (that order: the record means finished).

        The weights are rebuilt into ``task.spec.config.arch`` and written with
        :func:`~deletion_sdk.training.save_checkpoint`, so the digest is that of the SDK's own
        checkpoint bytes whichever process produced them.
        """
        spec = task.spec
        config = spec.config
        model = model_from_weights(output.weights, config, "cpu")
        data = task.inputs["train"] if spec.kind == "train" else task.inputs["retain"]
        saved = save_checkpoint(
            model,
            self.weights_path(task.key),
            metadata=CheckpointMetadata(
                architecture=config.arch,
                num_classes=config.num_classes,
                image_size=config.image_size,
                train_config=config,
                training_root=training_root(data.example_ids) if spec.kind == "train" else None,
                n_training_examples=len(data) if spec.kind == "train" else None,
                parent_digest=getattr(spec, "source_digest", None),
                extra={"task_key": task.key, "label": task.label},
            ),
        )
        result = TaskResult(
            key=task.key,
            kind=spec.kind,
            label=task.label,
            digest=saved.digest,
            seconds=output.seconds,
            wall_s=output.wall_s,
            steps=output.steps,
            executor=executor,
            worker=output.worker,
            device=output.device,
            run_id=run_id,
            finished_at=datetime.now(UTC).isoformat(),
            spec=spec.model_dump(mode="json"),
        )
        atomic_write(self._stem(task.key).with_suffix(".task.json"), result.model_dump_json(indent=2))
        self._stored_by_this_process += 1
        _kill_point(self._stored_by_this_process)
        return result

    def weights(self, result: TaskResult) -> bytes:
        """The stored weights of ``result``, checked against its digest.

        Raises:
            IntegrityError: the file's SHA-256 differs from the recorded digest.
        """
        path = self.weights_path(result.key)
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != result.digest:
            raise IntegrityError(
                f"Weights {str(path)!r} have SHA-256 {actual}, not the recorded {result.digest}."
            )
        return data

    def load_model(self, result: TaskResult, *, device: str | torch.device = "cpu") -> nn.Module:
        """The model of ``result`` (eval mode, digest-checked)."""
        return load_checkpoint(
            self.weights_path(result.key), expected_digest=result.digest, device=device
        ).model

    def discard(self, key: str) -> None:
        """Forget task ``key``: its record first (so it no longer counts as finished), then its files."""
        for suffix in (".task.json", ".safetensors", ".json"):
            self._stem(key).with_suffix(suffix).unlink(missing_ok=True)

    def remove_if_empty(self) -> None:
        """Remove the store's directories when no file is left in them."""
        if not self.root.is_dir():
            return
        for sub in self.root.iterdir():
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()
        if not any(self.root.iterdir()):
            self.root.rmdir()

    def records(self) -> list[TaskResult]:
        """Every finished task in the store (any order)."""
        out = []
        for path in sorted(self.root.glob("*/*.task.json")):
            result = self.get(path.name.removesuffix(".task.json"))
            if result is not None:
                out.append(result)
        return out


def _kill_point(stored: int) -> None:
    """Test hook: ``DELETION_SDK_TEST_KILL_AFTER_TASKS=<k>`` SIGKILLs this process once it has stored k tasks.

    The resume tests use it to kill a qualification half-way, deterministically, in a subprocess.
    """
    if os.environ.get(KILL_ENV) == str(stored):
        os.kill(os.getpid(), signal.SIGKILL)
