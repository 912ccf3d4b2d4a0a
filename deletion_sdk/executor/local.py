"""The ``local`` executor: tasks one after another in this process (the default, as before executors)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from deletion_sdk.errors import InputError
from deletion_sdk.executor.base import Executor
from deletion_sdk.executor.store import ResultStore
from deletion_sdk.executor.tasks import Task, TaskOutput, execute_task

__all__ = ["LocalExecutor"]


class LocalExecutor(Executor):
    """Runs each task in this process, in order, on the task's own device.

    Args:
        threads: torch threads for CPU tasks; None keeps this process's setting
            (``torch.get_num_threads()``, all cores by default), which is what runs did before executors.
        workers: tasks at once; only 1 (accepted so that one setting can name any executor).
    """

    name = "local"
    description = "in this process, one task after another (the default)"

    def __init__(self, *, threads: int | None = None, workers: int = 1) -> None:
        if workers != 1:
            raise InputError(
                f"The 'workers' parameter of the local executor must be 1 (it runs one task at a time; "
                f"use the 'ray' executor for more). Got {workers!r} instead."
            )
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InputError(f"The 'threads' parameter must be an int >= 1 or None. Got {threads!r} instead.")
        self.threads = threads

    @property
    def cpu_threads(self) -> int:
        return self.threads if self.threads is not None else torch.get_num_threads()

    def _execute(self, tasks: Sequence[Task], store: ResultStore) -> Iterator[tuple[Task, TaskOutput]]:
        for task in tasks:
            inputs = self.worker_inputs(task, store)
            yield task, execute_task(task.spec, inputs, device=task.device, progress=task.progress)
