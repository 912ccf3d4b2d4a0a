"""The shadow bank: K reference models trained on random halves of a model version's training pool.

Built once per model version and reused by every deletion request's per-example test (LiRA / U-LiRA).
Each pool example is IN (trained on) for exactly ``K // 2`` of the K models, chosen at random per example
(seeded), so every example has ``K − K // 2`` OUT models whose confidences describe "a model that never saw
it" — the distribution the offline LiRA test compares the unlearned model with.

Storage, under ``HOME/shadow/<model digest>/``::

    index.json              format, model digest, Merkle root of the pool's example ids, the training
                            configuration, the IN masks [K, n] and, per finished member, its seed and
                            weights digest (rewritten atomically after each member, so a killed build
                            resumes where it stopped)
    member-000.safetensors  the members' weights (safetensors) with checkpoint metadata beside them
    member-000.json

Every member is loaded through :func:`~deletion_sdk.training.load_checkpoint` with the digest recorded in
the index, so a modified file raises :class:`~deletion_sdk.errors.IntegrityError`. Raw example ids are
stored only as they already appear in the training pool (they are pseudonymous data-set keys, never subject
identifiers).

Members are independent training tasks run by an executor (:mod:`deletion_sdk.executor`): ``"local"``
trains them one after another on ``device``, ``"ray"`` fans them out over a Ray cluster. A finished member
passes through the executor's result store under ``tasks/`` and is removed from it once the member file
and the index hold it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk._fs import atomic_write
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import ConflictError, InputError, IntegrityError
from deletion_sdk.executor import (
    Executor,
    ResultStore,
    TaskResult,
    get_executor,
    resolve_executor,
    train_task,
)
from deletion_sdk.logging import get_logger
from deletion_sdk.training.checkpoints import (
    CheckpointMetadata,
    load_checkpoint,
    save_checkpoint,
    training_root,
)
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.inference import predict_logits
from deletion_sdk.verification._arrays import BoolArray, FloatArray, FrozenModel
from deletion_sdk.verification.lira import LiraReport, per_example_lira, split_in_out
from deletion_sdk.verification.signals import logit_scaled_confidence

__all__ = [
    "SHADOW_FORMAT",
    "ReferenceConfidences",
    "ShadowBank",
    "ShadowBankIndex",
    "ShadowMember",
    "default_shadow_models",
]

SHADOW_FORMAT = "deletion-sdk-shadow-bank/v1"
_log = get_logger("deletion_sdk.verification.shadow")


def default_shadow_models(device: str | torch.device = "auto") -> int:
    """K when none is given: 16 on CUDA, 8 on CPU."""
    return 16 if resolve_device(device).type == "cuda" else 8


class ShadowMember(FrozenModel):
    """One finished reference model.

    Attributes:
        index: its row in the IN masks.
        seed: the training seed.
        digest: SHA-256 of its safetensors file.
        n_train: examples it trained on.
        train_time_s: seconds of its optimisation loop.
    """

    index: int
    seed: int
    digest: str
    n_train: int
    train_time_s: float


class ShadowBankIndex(FrozenModel):
    """The bank's ``index.json``.

    Attributes:
        format: :data:`SHADOW_FORMAT`.
        model_digest: weights digest of the model version the bank serves.
        pool_root: hex Merkle root of the pool's example ids.
        example_ids: the pool's example ids, in the column order of ``in_mask``.
        in_mask: ``[K, n]``; ``in_mask[k, i]`` is True when member ``k`` trained on example ``i``.
        train_config: how every member is trained (its seed is replaced per member).
        seed: seeds the IN masks and the members' seeds.
        members: the finished members (a partial list while building).
    """

    format: str = SHADOW_FORMAT
    model_digest: str
    pool_root: str
    example_ids: tuple[str, ...]
    in_mask: BoolArray
    train_config: TrainConfig
    seed: int
    members: tuple[ShadowMember, ...] = ()

    @property
    def k(self) -> int:
        """Number of members planned."""
        return int(self.in_mask.shape[0])

    @property
    def complete(self) -> bool:
        """Whether every member has been trained."""
        return len(self.members) == self.k


class ReferenceConfidences(FrozenModel):
    """Logit-scaled confidences of every member on some examples.

    Attributes:
        confidences: ``[K, n]``.
        in_mask: ``[K, n]`` whether member ``k`` trained on example ``i`` (False outside the pool).
        example_ids: the ``n`` example ids, in column order.
    """

    confidences: FloatArray
    in_mask: BoolArray
    example_ids: tuple[str, ...]

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """(IN ``[K, n]``, OUT ``[K, n]``) with NaN where the member is on the other side."""
        return split_in_out(self.confidences, self.in_mask)


def _in_masks(k: int, n: int, seed: int) -> np.ndarray:
    """``[k, n]`` bool with exactly ``k // 2`` True per column, at random (seeded)."""
    ranks = np.random.default_rng(seed).random((k, n)).argsort(axis=0).argsort(axis=0)
    return ranks < k // 2  # type: ignore[no-any-return]


class ShadowBank:
    """K reference models for one model version, trained on random halves of its training pool.

    Constructing a bank only stores its configuration; :meth:`build` trains whatever members are missing
    and :meth:`confidences` evaluates them.

    Args:
        pool: the model version's training examples.
        model_digest: weights digest of that model version (names the bank's directory).
        config: how the model version was trained; every member is trained the same way.
        k: number of members (>= 2); None picks :func:`default_shadow_models` for ``device``.
        directory: where the bank lives (a deployment uses ``HomeLayout.shadow_bank(model_digest)``,
            i.e. ``HOME/shadow/<model_digest>``).
        device: where members are trained and evaluated.
        executor: ``"local"`` (members trained one after another in this process), ``"ray"``, another
            registered executor name, or an :class:`~deletion_sdk.executor.Executor` (its owner closes it).
        seed: seeds the IN masks and the members.
    """

    def __init__(
        self,
        *,
        pool: FaceTensors,
        model_digest: str,
        config: TrainConfig,
        k: int | None = None,
        directory: str | os.PathLike[str],
        device: str | torch.device = "auto",
        executor: str | Executor = "local",
        seed: int = 0,
    ) -> None:
        if len(pool) < 2:
            raise InputError(f"The 'pool' parameter must hold at least 2 examples. Got {len(pool)}.")
        if not model_digest or any(c not in "0123456789abcdef" for c in model_digest.lower()):
            raise InputError(f"The 'model_digest' parameter must be a hex digest. Got {model_digest!r}.")
        if not isinstance(executor, Executor):
            get_executor(executor)  # an unknown name raises RegistryError, listing the registered ones
        self.k = default_shadow_models(device) if k is None else k
        if self.k < 2:
            raise InputError(f"The 'k' parameter must be an int >= 2. Got {k!r} instead.")
        self.pool = pool
        self.model_digest = model_digest.lower()
        self.config = config
        self.device = device
        self.executor = executor
        self.seed = seed
        self.directory = Path(directory)

    @property
    def index_path(self) -> Path:
        return self.directory / "index.json"

    def _fresh_index(self) -> ShadowBankIndex:
        return ShadowBankIndex(
            model_digest=self.model_digest,
            pool_root=training_root(self.pool.example_ids),
            example_ids=self.pool.example_ids,
            in_mask=_in_masks(self.k, len(self.pool), self.seed),
            train_config=self.config,
            seed=self.seed,
        )

    def load_index(self) -> ShadowBankIndex | None:
        """The stored index, checked against this bank's pool, configuration and K; None if absent.

        Raises:
            IntegrityError: the index file is malformed.
            ConflictError: it was built for another pool, configuration, K or seed.
        """
        if not self.index_path.is_file():
            return None
        try:
            index = ShadowBankIndex.model_validate_json(self.index_path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise IntegrityError(f"Shadow bank index {str(self.index_path)!r} is malformed: {e}") from e
        expected = {
            "pool_root": training_root(self.pool.example_ids),
            "train_config": self.config,
            "k": self.k,
            "seed": self.seed,
        }
        for field, want in expected.items():
            got = getattr(index, field)
            if got != want:
                raise ConflictError(
                    f"The shadow bank in {str(self.directory)!r} was built with a different {field} "
                    f"({got!r}, this bank asks for {want!r}); remove it or use the same settings."
                )
        if index.example_ids != self.pool.example_ids:
            raise ConflictError("The shadow bank's pool lists the same examples in a different order.")
        return index

    def build(self, *, progress: bool = False) -> ShadowBankIndex:
        """Train the members that are missing (all of them the first time) and return the index.

        Raises:
            ExecutorError: a member's training failed (members finished before it are kept).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        index = self.load_index() or self._fresh_index()
        if not self.index_path.is_file():
            atomic_write(self.index_path, index.model_dump_json())
        done = {m.index for m in index.members}
        missing = [k for k in range(index.k) if k not in done]
        if not missing:
            return index
        runner, owned = resolve_executor(self.executor)
        device = resolve_device(self.device)
        tasks, member_of = [], {}
        for k in missing:
            cfg = self.config.model_copy(update={"seed": self.seed * 1_000_003 + k})
            train = self.pool.take(np.flatnonzero(index.in_mask[k]).tolist())
            task = train_task(train, cfg, device=device, label=f"member-{k:03d}", progress=progress)
            tasks.append(task)
            member_of[task.with_threads(runner.cpu_threads).key] = (k, task)
        store = ResultStore(self.directory / "tasks")
        members = list(index.members)

        def keep(result: TaskResult, _reused: bool) -> None:
            nonlocal index
            k, task = member_of[result.key]
            self._write_member(k, task.inputs["train"], task.spec.config, store, result)
            members.append(
                ShadowMember(
                    index=k,
                    seed=task.spec.config.seed,
                    digest=result.digest,
                    n_train=len(task.inputs["train"]),
                    train_time_s=result.seconds,
                )
            )
            index = index.model_copy(update={"members": tuple(sorted(members, key=lambda m: m.index))})
            atomic_write(self.index_path, index.model_dump_json())
            store.discard(result.key)  # the member file and the index now hold it
            _log.info("shadow.member_trained", member=k, k=index.k, model_digest=self.model_digest[:16])

        try:
            runner.run(tasks, store=store, progress=keep)
        finally:
            if owned:
                runner.close()
        store.remove_if_empty()
        return index

    def _write_member(
        self, k: int, train: FaceTensors, cfg: TrainConfig, store: ResultStore, result: TaskResult
    ) -> None:
        """Write member ``k``'s checkpoint from the stored task result (same weights, same digest)."""
        saved = save_checkpoint(
            store.load_model(result),
            self.directory / f"member-{k:03d}.safetensors",
            metadata=CheckpointMetadata(
                architecture=cfg.arch,
                num_classes=cfg.num_classes,
                image_size=cfg.image_size,
                train_config=cfg,
                training_root=training_root(train.example_ids),
                n_training_examples=len(train),
                extra={"shadow_bank_of": self.model_digest, "member": str(k)},
            ),
        )
        if saved.digest != result.digest:
            raise IntegrityError(
                f"Shadow member {k} was written with digest {saved.digest}, not {result.digest}."
            )

    def members(self) -> Iterator[tuple[ShadowMember, nn.Module]]:
        """Each finished member with its model, loaded and digest-checked, in index order."""
        index = self.load_index()
        if index is None or not index.complete:
            raise ConflictError(
                f"The shadow bank in {str(self.directory)!r} is not built yet; call build() first."
            )
        for member in index.members:
            path = self.directory / f"member-{member.index:03d}.safetensors"
            loaded = load_checkpoint(path, expected_digest=member.digest, device=self.device)
            yield member, loaded.model

    def confidences(self, data: FaceTensors, *, batch_size: int = 512) -> ReferenceConfidences:
        """Confidences ``[K, n]`` of every member on ``data`` and which members trained on each row."""
        index = self.load_index()
        if index is None:
            raise ConflictError(f"The shadow bank in {str(self.directory)!r} is not built yet.")
        column = {eid: i for i, eid in enumerate(index.example_ids)}
        cols = [column.get(eid, -1) for eid in data.example_ids]
        in_pool = np.array([c >= 0 for c in cols], dtype=bool)
        in_mask = np.zeros((index.k, len(data)), dtype=bool)
        if in_pool.any():
            in_mask[:, in_pool] = index.in_mask[:, [c for c in cols if c >= 0]]
        confs = np.empty((index.k, len(data)))
        for member, model in self.members():
            logits = predict_logits(model, data, batch_size=batch_size)
            confs[member.index] = logit_scaled_confidence(logits, data.labels)
        return ReferenceConfidences(confidences=confs, in_mask=in_mask, example_ids=data.example_ids)

    def lira(
        self,
        *,
        forget: FaceTensors,
        unlearned: nn.Module,
        original: nn.Module | None = None,
        retrained: nn.Module | None = None,
        online: bool = False,
        fixed_variance: bool = False,
        batch_size: int = 512,
        **kwargs: Any,
    ) -> LiraReport:
        """Per-example LiRA of ``unlearned`` (and ``original``, ``retrained``) on ``forget`` vs this bank.

        Args:
            forget: the forget examples (normally all in the pool).
            unlearned: the model under test.
            original: optional model before unlearning (baseline).
            retrained: optional model retrained without ``forget`` (calibrator).
            online: also use the IN members (online LiRA).
            fixed_variance: pool σ over examples.
            batch_size: rows per forward pass.
            **kwargs: ``fprs`` and ``confidence_level`` of :func:`per_example_lira`.
        """
        refs = self.confidences(forget, batch_size=batch_size)
        in_confs, out_confs = refs.split()

        def conf(m: nn.Module | None) -> np.ndarray | None:
            if m is None:
                return None
            return logit_scaled_confidence(predict_logits(m, forget, batch_size=batch_size), forget.labels)

        return per_example_lira(
            unlearned_confs=conf(unlearned),
            out_confs=out_confs,
            in_confs=in_confs if online else None,
            original_confs=conf(original),
            retrained_confs=conf(retrained),
            fixed_variance=fixed_variance,
            **kwargs,
        )
