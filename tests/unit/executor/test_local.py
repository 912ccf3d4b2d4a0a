"""The local executor and the result store: keys, reuse, bit-identical weights, tampering, the registry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch

from deletion_sdk.errors import ConfigurationError, InputError, IntegrityError, RegistryError
from deletion_sdk.executor import (
    Executor,
    LocalExecutor,
    ResultStore,
    Task,
    TaskOutput,
    TaskResult,
    create_executor,
    execute_task,
    get_executor,
    list_executors,
    register_executor,
    train_task,
    unlearn_task,
)
from deletion_sdk.executor.registry import _unregister
from deletion_sdk.executor.tasks import TASK_LOG_ENV
from deletion_sdk.training import CheckpointMetadata, save_checkpoint, train_model
from deletion_sdk.unlearning import create_unlearner
from deletion_sdk.verification.qualification import qualify
from tests.executor_support import CONFIG, Split, faces


def _tasks(split: Split) -> list[Task]:
    return [
        train_task(split.train, CONFIG.model_copy(update={"seed": s}), device="cpu", label=f"t{s}")
        for s in range(2)
    ]


def test_the_key_covers_everything_that_changes_the_weights_and_nothing_else(split: Split) -> None:
    base = train_task(split.train, CONFIG, device="cpu", label="a").with_threads(1)
    same = train_task(split.train, CONFIG, device="cpu", label="another label").with_threads(1)
    assert base.key == same.key
    pixel = split.train.images.clone()
    pixel[3, 0, 0, 0] ^= 1
    changed_data = type(split.train)(
        images=pixel, labels=split.train.labels, ages=split.train.ages, example_ids=split.train.example_ids
    )
    others = [
        train_task(split.train, CONFIG.model_copy(update={"seed": 1}), device="cpu", label="a").with_threads(
            1
        ),
        train_task(split.train, CONFIG.model_copy(update={"lr": 0.01}), device="cpu", label="a").with_threads(
            1
        ),
        train_task(changed_data, CONFIG, device="cpu", label="a").with_threads(1),
        train_task(split.retain, CONFIG, device="cpu", label="a").with_threads(1),
        base.with_threads(2),  # CPU reductions depend on the thread count
    ]
    assert len({base.key, *(t.key for t in others)}) == 1 + len(others)
    source = TaskResult(
        key="0" * 64, kind="train", label="s", digest="ab" * 32, seconds=1.0, wall_s=1.0, executor="local",
        worker="w", device="cpu", run_id="r", finished_at="now", spec={},
    )  # fmt: skip

    def unlearn(method: str, seed: int = 0, digest: str = "ab" * 32, **params: object) -> str:
        src = source.model_copy(update={"digest": digest})
        task = unlearn_task(
            create_unlearner(method, **params), source=src, forget=split.forget, retain=split.retain,
            config=CONFIG, seed=seed, device="cpu", label="u",
        )  # fmt: skip
        return task.with_threads(1).key

    keys = [unlearn("finetune"), unlearn("finetune", seed=1), unlearn("finetune", digest="cd" * 32)]
    keys += [unlearn("finetune", epochs=3), unlearn("neggrad_plus")]
    assert len(set(keys)) == 5 and unlearn("finetune") == keys[0]


def test_stored_weights_are_those_of_the_plain_training_loop(split: Split, tmp_path: Path) -> None:
    """Bit-identical to what the SDK did before executors: train_model + save_checkpoint, same threads."""
    [result] = LocalExecutor().run(_tasks(split)[:1], store=ResultStore(tmp_path / "store"))
    model = train_model(split.train, config=CONFIG.model_copy(update={"seed": 0}), device="cpu").model
    saved = save_checkpoint(
        model,
        tmp_path / "direct.safetensors",
        metadata=CheckpointMetadata(architecture="tiny_cnn", num_classes=4, image_size=8),
    )
    assert result.digest == saved.digest
    stored = ResultStore(tmp_path / "store").weights_path(result.key).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == result.digest


def test_finished_tasks_are_never_run_again(
    split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "runs.log"
    monkeypatch.setenv(TASK_LOG_ENV, str(log))
    store = ResultStore(tmp_path / "store")
    seen: list[tuple[str, bool]] = []
    first = LocalExecutor(threads=1).run(
        _tasks(split), store=store, progress=lambda r, reused: seen.append((r.label, reused))
    )
    unlearn = unlearn_task(
        create_unlearner("finetune", epochs=1), source=first[0], forget=split.forget, retain=split.retain,
        config=CONFIG, seed=0, device="cpu", label="u0",
    )  # fmt: skip
    unlearned, twin = LocalExecutor(threads=1).run([unlearn, unlearn], store=store)  # equal keys run once
    assert twin == unlearned
    assert unlearned.kind == "unlearn" and unlearned.digest not in {r.digest for r in first}
    assert len(log.read_text().splitlines()) == 3
    again = LocalExecutor(threads=1).run(
        [*_tasks(split), unlearn], store=store, progress=lambda r, reused: seen.append((r.label, reused))
    )
    assert len(log.read_text().splitlines()) == 3  # nothing ran again
    assert again == [*first, unlearned]
    assert seen == [("t0", False), ("t1", False), ("t0", True), ("t1", True), ("u0", True)]
    assert {r.key for r in store.records()} == {r.key for r in again}


def test_a_tampered_stored_model_is_refused_not_trusted(split: Split, tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    [original] = LocalExecutor(threads=1).run(_tasks(split)[:1], store=store)
    path = store.weights_path(original.key)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        store.load_model(original)
    unlearn = unlearn_task(
        create_unlearner("finetune", epochs=1), source=original, forget=split.forget, retain=split.retain,
        config=CONFIG, seed=0, device="cpu", label="u0",
    )  # fmt: skip
    with pytest.raises(IntegrityError):  # the unlearning run refuses to start from modified weights
        LocalExecutor(threads=1).run([unlearn], store=store)
    record = path.with_name(f"{original.key}.task.json")
    record.write_text(record.read_text().replace(original.key, "f" * 64))
    with pytest.raises(IntegrityError, match="is for task"):
        store.get(original.key)


def test_thread_count_is_restored_after_a_task(split: Split) -> None:
    before = torch.get_num_threads()
    task = _tasks(split)[0].with_threads(1)
    output = execute_task(task.spec, task.inputs, device="cpu")
    assert torch.get_num_threads() == before and output.steps is None and output.seconds > 0


class _Reversed(Executor):
    """A plugin executor: runs the tasks last-first (results must not depend on the order)."""

    name = "test_reversed"
    description = "local, in reverse order"

    @property
    def cpu_threads(self) -> int:
        return 1

    def _execute(self, tasks: Sequence[Task], store: ResultStore) -> Iterator[tuple[Task, TaskOutput]]:
        for task in reversed(tasks):
            yield task, execute_task(task.spec, self.worker_inputs(task, store), device="cpu")


@pytest.fixture
def reversed_executor() -> Iterator[str]:
    register_executor(_Reversed)
    yield _Reversed.name
    _unregister(_Reversed.name)


@pytest.mark.slow
def test_a_registered_executor_gives_the_same_qualification(
    split: Split, tmp_path: Path, reversed_executor: str
) -> None:
    kwargs = dict(train=split.train, test=split.test, forget=split.forget, device="cpu", params={"epochs": 1})
    plain = qualify(
        "finetune", CONFIG, 6, executor=LocalExecutor(threads=1), directory=tmp_path / "a", **kwargs
    )  # type: ignore[arg-type]
    other = qualify("finetune", CONFIG, 6, executor=reversed_executor, directory=tmp_path / "b", **kwargs)  # type: ignore[arg-type]
    skip = {"created_at", "unlearning_time_s", "retrain_time_s", "time_fraction"}
    assert other.model_dump(exclude=skip) == plain.model_dump(exclude=skip)
    digests = {r.digest for r in ResultStore(tmp_path / "a" / "models").records()}
    assert digests == {r.digest for r in ResultStore(tmp_path / "b" / "models").records()}
    assert len(digests) == 18


def test_registry() -> None:
    assert {"local", "ray"} <= set(list_executors())
    assert get_executor("local") is LocalExecutor
    with pytest.raises(RegistryError, match=r"registered executor \(.*local.*ray.*\)\. Got 'nope'"):
        create_executor("nope")
    with pytest.raises(RegistryError, match="already registered"):
        register_executor(type("Other", (LocalExecutor,), {"name": "local"}))
    with pytest.raises(RegistryError, match="Executor subclass"):
        register_executor(int)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'workers' parameter of the local executor must be 1"):
        create_executor("local", workers=2)
    with pytest.raises(InputError, match="'threads'"):
        LocalExecutor(threads=0)
    with pytest.raises(InputError, match="'device'"):
        train_task(faces(4, seed=0), CONFIG, device="meta", label="x")


def test_ray_without_the_extra_is_a_configuration_error_naming_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'deletion-sdk\[ray\]'"):
        create_executor("ray", workers=2)
