"""Executors for independent training tasks: the shadow bank's members, qualification's 3N runs.

A :class:`Task` trains or unlearns one model; an :class:`Executor` runs many of them and stores each
finished one in a :class:`ResultStore`, content-addressed by the task's key (the digest of its full
spec), so a finished task is never redone and a killed run resumes where it stopped.

==========  ====================================================================================
``local``   in this process, one task after another (the default)
``ray``     Ray tasks on a local Ray started on demand, or a cluster (``RAY_ADDRESS``); needs the
            ``ray`` extra: ``pip install 'deletion-sdk[ray]'``
==========  ====================================================================================

Choose one with ``DELETION_SDK_EXECUTOR`` (``deletion-sdk qualify --executor ray``). Third-party
executors register through the entry-point group ``deletion_sdk.executors``.
"""

from __future__ import annotations

from deletion_sdk.executor.base import Executor, ProgressCallback
from deletion_sdk.executor.local import LocalExecutor
from deletion_sdk.executor.ray_executor import RayExecutor
from deletion_sdk.executor.registry import (
    ENTRY_POINT_GROUP,
    create_executor,
    executor_from_settings,
    get_executor,
    list_executors,
    load_entry_points,
    register_executor,
    resolve_executor,
)
from deletion_sdk.executor.store import ResultStore, TaskResult
from deletion_sdk.executor.tasks import (
    DataRef,
    Task,
    TaskOutput,
    TrainSpec,
    UnlearnSpec,
    data_ref,
    execute_task,
    train_task,
    unlearn_task,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DataRef",
    "Executor",
    "LocalExecutor",
    "ProgressCallback",
    "RayExecutor",
    "ResultStore",
    "Task",
    "TaskOutput",
    "TaskResult",
    "TrainSpec",
    "UnlearnSpec",
    "create_executor",
    "data_ref",
    "execute_task",
    "executor_from_settings",
    "get_executor",
    "list_executors",
    "load_entry_points",
    "register_executor",
    "resolve_executor",
    "train_task",
    "unlearn_task",
]

register_executor(LocalExecutor)
register_executor(RayExecutor)
