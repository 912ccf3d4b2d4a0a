"""The ``ray`` executor: tasks fanned out over a Ray cluster (a local one started on demand, or yours).

Where it connects, in this order: the ``address`` option; the ``RAY_ADDRESS`` environment variable
(``ray://host:10001`` for Ray Client, ``host:6379`` or ``auto`` for a node of the cluster); a Ray already
initialised in this process; else a local Ray is started with ``workers × cpus_per_task`` CPUs (default:
every core) and the visible GPUs, without a dashboard, and shut down by :meth:`RayExecutor.close`.

Each CPU task asks Ray for ``cpus_per_task`` CPUs and runs torch with as many threads; each CUDA task
asks for ``gpus_per_task`` GPUs (fractions pack several small models on one card). The data sets go into
Ray's object store once and are shared by every task that uses them. Workers return the weights; this
process stores them (so a remote cluster needs no shared file system) and kills, resumes and skips
exactly as the local executor does. The cluster's workers need deletion_sdk installed (same version).

Install with ``pip install 'deletion-sdk[ray]'``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from typing import Any

from deletion_sdk.errors import ConfigurationError, ExecutorError, InputError
from deletion_sdk.executor.base import Executor
from deletion_sdk.executor.store import ResultStore
from deletion_sdk.executor.tasks import Task, TaskOutput, execute_task

__all__ = ["RayExecutor"]


def _positive(name: str, value: float | None, *, integer: bool = True) -> None:
    kind = int if integer else (int, float)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        what = "an int >= 1" if integer else "a number > 0"
        raise InputError(f"The '{name}' parameter must be {what} or None. Got {value!r} instead.")


def _run_on_worker(spec: Any, device: str, rest: dict[str, Any], **data: Any) -> TaskOutput:
    """The Ray task: ``data`` are top-level arguments so that Ray resolves their object refs."""
    return execute_task(spec, {**rest, **data}, device=device)


class RayExecutor(Executor):
    """Runs tasks as Ray tasks, as many at once as the cluster (or ``workers``) allows.

    Args:
        address: a Ray address (``ray://host:10001``, ``host:6379``, ``auto``); None reads ``RAY_ADDRESS``,
            else starts a local Ray.
        workers: tasks in flight at once (and, for a local Ray, its CPUs = ``workers × cpus_per_task``);
            None: every core of a local Ray, or whatever a cluster schedules.
        cpus_per_task: CPUs (and torch threads) per CPU task.
        gpus_per_task: GPUs per CUDA task (0.25 packs four small models on one card).
        task_timeout_s: give up (cancelling what is in flight) when no task finishes for this long;
            None waits for ever. Finished tasks stay stored either way.
        max_retries: Ray's retries of a task whose worker died.

    Raises:
        ConfigurationError: ray is not installed.
        InputError: an option is invalid.
    """

    name = "ray"
    description = "Ray tasks: a local Ray started on demand, or a cluster via RAY_ADDRESS"

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_task: int = 1,
        gpus_per_task: float = 1.0,
        task_timeout_s: float | None = None,
        max_retries: int = 1,
    ) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ConfigurationError(
                "The 'ray' executor needs Ray, which is not installed: pip install 'deletion-sdk[ray]'."
            )
        _positive("workers", workers)
        _positive("cpus_per_task", cpus_per_task)
        _positive("gpus_per_task", gpus_per_task, integer=False)
        _positive("task_timeout_s", task_timeout_s, integer=False)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InputError(f"The 'max_retries' parameter must be an int >= 0. Got {max_retries!r} instead.")
        self.address = address if address is not None else (os.environ.get("RAY_ADDRESS") or None)
        self.workers = workers
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.task_timeout_s = task_timeout_s
        self.max_retries = max_retries
        self._started = False

    @property
    def cpu_threads(self) -> int:
        return self.cpus_per_task

    def _ray(self) -> Any:
        """The ``ray`` module, initialised (connected, or a local Ray started) on first use."""
        import ray

        if ray.is_initialized():
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if self.address is not None:
                ray.init(address=self.address, **common)
            else:
                import torch

                cpus = (self.workers or 0) * self.cpus_per_task or os.cpu_count() or 1
                ray.init(
                    address="local",
                    num_cpus=cpus,
                    num_gpus=torch.cuda.device_count(),
                    include_dashboard=False,
                    **common,
                )
        except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError ...
            where = self.address or "a local Ray"
            raise ExecutorError(f"Could not start or reach {where}: {e}") from e
        self._started = True
        return ray

    def _in_flight_limit(self, ray: Any) -> int:
        if self.workers is not None:
            return self.workers
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, 2 * (cpus // self.cpus_per_task))

    def _execute(self, tasks: Sequence[Task], store: ResultStore) -> Iterator[tuple[Task, TaskOutput]]:
        if not tasks:
            return
        ray = self._ray()
        remote = ray.remote(_run_on_worker)
        shared: dict[int, Any] = {}  # id(data set) -> ObjectRef: each data set goes to the store once

        def submit(task: Task) -> Any:
            data, rest = {}, {}
            for name, value in self.worker_inputs(task, store).items():
                if name in ("train", "forget", "retain"):
                    if id(value) not in shared:
                        shared[id(value)] = ray.put(value)
                    data[name] = shared[id(value)]
                else:
                    rest[name] = value
            gpu = task.needs_gpu
            options = {
                "num_cpus": self.cpus_per_task,
                "num_gpus": self.gpus_per_task if gpu else 0,
                "max_retries": self.max_retries,
            }
            return remote.options(**options).remote(task.spec, "cuda" if gpu else "cpu", rest, **data)

        queue = list(tasks)
        limit = self._in_flight_limit(ray)
        in_flight: dict[Any, Task] = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < limit:
                    task = queue.pop(0)
                    in_flight[submit(task)] = task
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.task_timeout_s)
                if not ready:
                    raise ExecutorError(
                        f"No Ray task finished within {self.task_timeout_s} s "
                        f"({len(in_flight)} in flight, {len(queue)} queued); finished tasks are stored."
                    )
                task = in_flight.pop(ready[0])
                try:
                    output = ray.get(ready[0])
                except Exception as e:  # RayTaskError wraps the worker's exception
                    raise ExecutorError(f"Task {task.label} ({task.key[:12]}) failed on Ray: {e}") from e
                yield task, output
        finally:
            for ref in in_flight:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        """Shut down the Ray this executor started or connected to (a Ray initialised by you is kept)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
