"""The :class:`Executor` base: runs independent tasks, skipping those already in the result store.

An executor subclass implements one hook, :meth:`Executor._execute`, which runs the tasks it is given
(in any order, as many at once as it can) and yields each with its :class:`TaskOutput` as it finishes.
The base does the rest once for every executor: it looks each task up in the store first (a finished
task is never redone, so a killed run resumes), stores each output as it arrives (weights, then the
record), and reports progress.
"""

from __future__ import annotations

import abc
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, ClassVar

from deletion_sdk.executor.store import ResultStore, TaskResult
from deletion_sdk.executor.tasks import Task, TaskOutput
from deletion_sdk.logging import get_logger

__all__ = ["Executor", "ProgressCallback"]

ProgressCallback = Callable[[TaskResult, bool], None]
"""Called after each task with its result and whether it was reused from the store."""
_log = get_logger("deletion_sdk.executor")


class Executor(abc.ABC):
    """Runs independent training and unlearning tasks.

    Class attributes:
        name: the registry name (``local``, ``ray``).
        description: one line for ``deletion-sdk`` listings.

    An executor is a context manager: leaving the block releases what it started (a local Ray).
    """

    name: ClassVar[str]
    description: ClassVar[str]

    @property
    @abc.abstractmethod
    def cpu_threads(self) -> int:
        """Torch threads each CPU task uses (part of a CPU task's key: it changes the bits)."""

    @abc.abstractmethod
    def _execute(self, tasks: Sequence[Task], store: ResultStore) -> Iterator[tuple[Task, TaskOutput]]:
        """Run ``tasks`` (none of them finished) and yield each with its output as it finishes.

        Raises:
            ExecutorError: a task failed, or none finished within the executor's timeout.
        """

    def run(
        self,
        tasks: Sequence[Task],
        *,
        store: ResultStore,
        progress: ProgressCallback | None = None,
    ) -> list[TaskResult]:
        """Run the tasks that ``store`` does not hold yet; return every task's result, in ``tasks`` order.

        Args:
            tasks: independent tasks (tasks with equal keys run once).
            store: where finished tasks are looked up and stored.
            progress: called after each task (reused ones first).

        Raises:
            ExecutorError: a task failed on a remote worker, or none finished within the executor's
                timeout (tasks stored before stay stored). The ``local`` executor lets a task's own
                error through (an ``InputError`` from the training loop, say).
            IntegrityError: a stored record or model is malformed or was modified.
        """
        bound = [t.with_threads(self.cpu_threads) for t in tasks]
        results: dict[str, TaskResult] = {}
        pending: dict[str, Task] = {}
        for task in bound:
            key = task.key
            if key in results or key in pending:
                continue
            found = store.get(key)
            if found is None:
                pending[key] = task
                continue
            results[key] = found
            if progress is not None:
                progress(found, True)
        run_id = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        if pending:
            _log.info("executor.run", executor=self.name, tasks=len(bound), pending=len(pending))
        for task, output in self._execute(list(pending.values()), store):
            result = store.put(task, output, executor=self.name, run_id=run_id)
            results[task.key] = result
            if progress is not None:
                progress(result, False)
        return [results[t.key] for t in bound]

    @staticmethod
    def worker_inputs(task: Task, store: ResultStore) -> dict[str, Any]:
        """The inputs a worker gets: an unlearning task's source model is read here (digest-checked)."""
        inputs = {k: v for k, v in task.inputs.items() if k != "source"}
        source = task.inputs.get("source")
        if source is not None:
            inputs["source_weights"] = store.weights(source)
        return inputs

    def close(self) -> None:  # noqa: B027 - optional hook: executors that start nothing need no cleanup
        """Release what this executor started (nothing for ``local``)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
