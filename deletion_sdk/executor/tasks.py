"""Training tasks: what one independent training or unlearning run is, its key, and how a worker runs it.

A task is a :class:`TrainSpec` or :class:`UnlearnSpec` (everything that decides the resulting weights)
plus its inputs (the data, the unlearner instance, the weights it starts from). Its **key** is the SHA-256
of the RFC 8785 canonical JSON of the spec: the architecture and the whole training configuration (seed
included), digests of the data (Merkle root of the example ids and SHA-256 of the tensors), the method,
its parameters and the digest of its code, the device type, and the number of CPU threads (on the CPU,
torch's reductions depend on it: the same seed gives the same weights only at the same thread count).

:func:`execute_task` is the function a worker runs, in this process (``local``) or in a Ray worker. It is
pure: it returns the weights as safetensors bytes and the timings; the executor's driver stores them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import rfc8785
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError
from deletion_sdk.training.architectures import build_model
from deletion_sdk.training.checkpoints import training_root
from deletion_sdk.training.config import TrainConfig

if TYPE_CHECKING:
    from deletion_sdk.executor.store import TaskResult

__all__ = [
    "TASK_LOG_ENV",
    "DataRef",
    "Task",
    "TaskOutput",
    "TaskSpec",
    "TrainSpec",
    "UnlearnSpec",
    "data_ref",
    "execute_task",
    "train_task",
    "unlearn_task",
]

TASK_LOG_ENV = "DELETION_SDK_TEST_TASK_LOG"
# The SDK modules whose code decides trained weights besides the configuration (their digest is in the key).
_TRAINING_CODE = (
    "deletion_sdk.training.loop",
    "deletion_sdk.training.architectures",
    "deletion_sdk.data.tensors",
)
_UNLEARNING_CODE = (*_TRAINING_CODE, "deletion_sdk.unlearning.base", "deletion_sdk.unlearning._run")


def _code_digest(modules: tuple[str, ...]) -> str:
    import importlib

    h = hashlib.sha256()
    for name in modules:
        path = getattr(importlib.import_module(name), "__file__", None)
        h.update(name.encode("utf-8") + b"\0")
        if path is not None:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


class DataRef(BaseModel):
    """What identifies a data set in a task key.

    Attributes:
        n: rows.
        ids_root: hex Merkle root of the example ids (:func:`~deletion_sdk.training.training_root`).
        content_sha256: SHA-256 over the ids, labels, ages and images in row order (pins the bytes too).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    ids_root: str
    content_sha256: str


def data_ref(data: FaceTensors) -> DataRef:
    """The :class:`DataRef` of ``data`` (hashes its tensors: about 1 ms per MB)."""
    h = hashlib.sha256()
    h.update("\n".join(data.example_ids).encode("utf-8") + b"\0")
    for tensor in (data.labels, data.ages, data.images):
        t = tensor.detach().to("cpu").contiguous()
        h.update(str((t.dtype, tuple(t.shape))).encode("utf-8"))
        h.update(t.numpy().tobytes())
    return DataRef(n=len(data), ids_root=training_root(data.example_ids), content_sha256=h.hexdigest())


class TrainSpec(BaseModel):
    """A model trained from scratch on ``data`` with ``config`` (its seed included).

    ``threads`` is filled in by the executor (None on CUDA, where it does not change the result).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["train"] = "train"
    config: TrainConfig
    data: DataRef
    device: Literal["cpu", "cuda"]
    threads: int | None = None
    code_sha256: str


class UnlearnSpec(BaseModel):
    """An unlearning run of ``method`` on the model whose weights digest is ``source_digest``.

    Attributes:
        method, class_path, version, params, method_sha256: the unlearner (registry name, import path,
            declared version, parameters with defaults, SHA-256 of the file defining its class).
        source_digest: SHA-256 of the safetensors weights it starts from.
        forget, retain: the data.
        config: the original's training configuration (the context's ``train_config``).
        seed: the run's seed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["unlearn"] = "unlearn"
    method: str
    class_path: str
    version: str
    params: dict[str, Any]
    method_sha256: str | None
    source_digest: str
    forget: DataRef
    retain: DataRef
    config: TrainConfig
    seed: int
    device: Literal["cpu", "cuda"]
    threads: int | None = None
    code_sha256: str


TaskSpec = Annotated[TrainSpec | UnlearnSpec, Field(discriminator="kind")]


def spec_key(spec: TrainSpec | UnlearnSpec) -> str:
    """Hex SHA-256 of the spec's RFC 8785 canonical JSON: the task's key."""
    return hashlib.sha256(rfc8785.dumps(spec.model_dump(mode="json"))).hexdigest()


@dataclass(frozen=True, eq=False)
class Task:
    """One independent run: its spec (which decides the weights), its inputs and a label for people.

    Build tasks with :func:`train_task` and :func:`unlearn_task`. ``device`` is where a local executor
    runs it (``cuda:1``); the spec records only the device type. The model an unlearning task starts
    from is ``inputs["source"]`` (a stored :class:`TaskResult`); the executor reads its weights
    (digest-checked) when it submits the task.
    """

    spec: TrainSpec | UnlearnSpec
    label: str
    device: str
    inputs: dict[str, Any] = field(default_factory=dict)
    progress: bool = False

    @property
    def key(self) -> str:
        """The task key (see :func:`spec_key`)."""
        return spec_key(self.spec)

    @property
    def needs_gpu(self) -> bool:
        """Whether the task runs on CUDA (a Ray executor then asks for a GPU)."""
        return self.spec.device == "cuda"

    def with_threads(self, threads: int) -> Task:
        """This task with its CPU thread count set (unchanged on CUDA)."""
        if self.spec.device != "cpu":
            return self
        spec = self.spec.model_copy(update={"threads": threads})
        return dataclasses.replace(self, spec=spec)


def _device_type(device: str | torch.device) -> Literal["cpu", "cuda"]:
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise InputError(f"The 'device' parameter must be a CPU or CUDA device. Got {device!r} instead.")
    return "cpu" if kind == "cpu" else "cuda"


def train_task(
    data: FaceTensors,
    config: TrainConfig,
    *,
    device: str | torch.device,
    label: str,
    ref: DataRef | None = None,
    progress: bool = False,
) -> Task:
    """A task that trains ``config.arch`` from scratch on ``data`` (seed ``config.seed``).

    Args:
        data: the training rows.
        config: the full training configuration.
        device: a resolved device (``cpu``, ``cuda``, ``cuda:N``).
        label: a name for progress lines and the stored record (``original-003``); not part of the key.
        ref: ``data``'s :class:`DataRef` when already computed (many tasks share one data set).
        progress: show the training loop's progress bar (local executor only).
    """
    spec = TrainSpec(
        config=config,
        data=ref if ref is not None else data_ref(data),
        device=_device_type(device),
        code_sha256=_code_digest(_TRAINING_CODE),
    )
    return Task(spec=spec, label=label, device=str(device), inputs={"train": data}, progress=progress)


def unlearn_task(
    unlearner: Any,
    *,
    source: TaskResult,
    forget: FaceTensors,
    retain: FaceTensors,
    config: TrainConfig,
    seed: int,
    device: str | torch.device,
    label: str,
    refs: tuple[DataRef, DataRef] | None = None,
) -> Task:
    """A task that runs ``unlearner`` (an :class:`~deletion_sdk.unlearning.Unlearner`) on a stored model.

    Args:
        unlearner: the method instance (its parameters, class and code digest go into the key).
        source: the finished task whose stored model it starts from (usually a training task).
        forget, retain: the data.
        config: the original's training configuration.
        seed: the run's seed.
        device: a resolved device.
        label: a name for progress lines and the stored record.
        refs: (forget, retain) :class:`DataRef` when already computed.
    """
    from deletion_sdk.unlearning import Unlearner
    from deletion_sdk.unlearning.provenance import code_digest

    if not isinstance(unlearner, Unlearner):
        raise InputError(
            "The 'unlearner' parameter must be an Unlearner instance. "
            f"Got {type(unlearner).__name__} instead."
        )
    cls = type(unlearner)
    forget_ref, retain_ref = refs if refs is not None else (data_ref(forget), data_ref(retain))
    spec = UnlearnSpec(
        method=unlearner.name,
        class_path=f"{cls.__module__}.{cls.__qualname__}",
        version=str(getattr(cls, "version", "unknown")),
        params=unlearner.params.model_dump(mode="json"),
        method_sha256=code_digest(cls),
        source_digest=source.digest,
        forget=forget_ref,
        retain=retain_ref,
        config=config,
        seed=seed,
        device=_device_type(device),
        code_sha256=_code_digest(_UNLEARNING_CODE),
    )
    inputs = {"forget": forget, "retain": retain, "unlearner": unlearner, "source": source}
    return Task(spec=spec, label=label, device=str(device), inputs=inputs)


@dataclass(frozen=True)
class TaskOutput:
    """What a worker returns: the weights and how long the run took.

    Attributes:
        weights: safetensors bytes of the state dict.
        seconds: the method's own time (training-loop seconds, or the unlearning run's wall time).
        wall_s: the whole task in the worker (model building and serialisation included).
        worker: ``host:pid`` of the process that ran it.
        device: the device it ran on.
        steps: optimiser steps of an unlearning run (None for training).
    """

    weights: bytes
    seconds: float
    wall_s: float
    worker: str
    device: str
    steps: int | None = None


def _state_bytes(model: nn.Module) -> bytes:
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    return st_save(state)


def model_from_weights(weights: bytes, config: TrainConfig, device: str | torch.device) -> nn.Module:
    """``config.arch`` with the state dict in ``weights`` (safetensors bytes), in eval mode on ``device``."""
    model = build_model(config.arch, num_classes=config.num_classes, image_size=config.image_size)
    model.load_state_dict(st_load(weights), strict=True)
    dev = torch.device(device)
    layout = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    return model.to(dev).to(memory_format=layout).eval()


def _log_start(key: str) -> None:
    """Test hook: with ``DELETION_SDK_TEST_TASK_LOG=<file>`` every task run appends its key there."""
    path = os.environ.get(TASK_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{key} {os.getpid()}\n")


def execute_task(
    spec: TrainSpec | UnlearnSpec, inputs: dict[str, Any], *, device: str, progress: bool = False
) -> TaskOutput:
    """Run one task here and return its weights (the worker side of every executor).

    Args:
        spec: the task's spec; on the CPU, ``spec.threads`` torch threads are used (restored after).
        inputs: ``{"train": FaceTensors}`` for a training task; ``{"forget", "retain", "unlearner",
            "source_weights"}`` (safetensors bytes) for an unlearning task.
        device: where to run.
        progress: show the training loop's progress bar.
    """
    from deletion_sdk.training.loop import train_model
    from deletion_sdk.unlearning import UnlearningContext

    started = time.perf_counter()
    _log_start(spec_key(spec))
    threads_before = torch.get_num_threads()
    if spec.device == "cpu" and spec.threads is not None:
        torch.set_num_threads(spec.threads)
    try:
        steps: int | None = None
        if isinstance(spec, TrainSpec):
            result = train_model(inputs["train"], config=spec.config, device=device, progress=progress)
            model, seconds = result.model, result.metrics.train_time_s
        else:
            source = model_from_weights(inputs["source_weights"], spec.config, device)
            run = inputs["unlearner"].run(
                source,
                forget=inputs["forget"],
                retain=inputs["retain"],
                context=UnlearningContext(device=device, seed=spec.seed, train_config=spec.config),
            )
            model, seconds, steps = run.model, run.wall_time_s, run.steps
        weights = _state_bytes(model)
    finally:
        torch.set_num_threads(threads_before)
    return TaskOutput(
        weights=weights,
        seconds=float(seconds),
        wall_s=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        device=str(device),
        steps=steps,
    )
