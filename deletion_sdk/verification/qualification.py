"""Qualification (tier ``qualification``): the NeurIPS 2023 challenge's evaluation of an unlearner.

For ``n_models`` seeds ``i``: train an original model on the training set, unlearn the forget set from it
with the method under test (seed ``i``), and retrain a model from scratch on the retain set. The logit-scaled
confidences of the forget examples under the N unlearned and N retrained models give the forgetting quality
F (:func:`~deletion_sdk.verification.forgetting_quality`); mean retain and test accuracies give the final
score ``F · (RA_U / RA_R) · (TA_U / TA_R)``. The oracle — the retrained models split half against half —
is the ceiling at ``N // 2`` models; the method is also scored at that size (its first ``N // 2`` unlearned
models against the first half of the retrained ones) for a like-for-like comparison, since F depends on N.

Every training and unlearning run is an independent task run by an executor (``local``: one after another
in this process; ``ray``: fanned out over a Ray cluster, see :mod:`deletion_sdk.executor`). Finished runs
are stored under ``HOME/qualification/models/``, content-addressed by the digest of their full spec (data,
configuration, seed, method, parameters, code), so a killed qualification resumes without redoing them, and
originals and retrained models are shared by every method qualified on the same setting.

The report is stored as RFC 8785 canonical JSON named by its SHA-256 under ``HOME/qualification/``; a
certificate cites that digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rfc8785
import torch
from torch import nn

from deletion_sdk._device import resolve_device
from deletion_sdk._fs import atomic_write
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError, IntegrityError, NotFoundError
from deletion_sdk.executor import (
    Executor,
    ResultStore,
    TaskResult,
    data_ref,
    resolve_executor,
    train_task,
    unlearn_task,
)
from deletion_sdk.logging import get_logger
from deletion_sdk.training.checkpoints import training_root
from deletion_sdk.training.config import TrainConfig
from deletion_sdk.training.inference import predict_logits
from deletion_sdk.verification._arrays import FrozenModel
from deletion_sdk.verification.estimates import Estimate, mean_estimate
from deletion_sdk.verification.forgetting_quality import ForgettingQuality, final_score, forgetting_quality
from deletion_sdk.verification.signals import logit_scaled_confidence

__all__ = [
    "QualificationReport",
    "StoredQualification",
    "load_qualification",
    "qualify",
    "select_forget_set",
    "store_qualification",
    "summarize",
]

SCHEMA_VERSION = 1
_log = get_logger("deletion_sdk.verification.qualification")


class QualificationReport(FrozenModel):
    """The competition-style evaluation of one unlearner on one model configuration.

    Attributes:
        schema_version: layout version.
        unlearner: registry name of the method; unlearner_version: its version; params: its parameters;
            code_sha256: SHA-256 of the file defining its class (a batch job cites a report only for the
            same code and parameters).
        train_config: the model configuration (seed of model ``i`` is ``train_config.seed + i``).
        n_models: N, models per side.
        seed: seeds the forget-set choice.
        device: where it ran.
        n_train, n_forget, n_retain, n_test: sizes of the sets.
        training_root, forget_root: hex Merkle roots of the training and forget example ids.
        forgetting: F of the N unlearned vs the N retrained models.
        forgetting_at_oracle_size: F of the first N // 2 unlearned vs the first N // 2 retrained models.
        oracle: F of the first vs the second half of the retrained models (the ceiling at N // 2).
        retain_accuracy_unlearned, retain_accuracy_retrained, test_accuracy_unlearned,
            test_accuracy_retrained: means over the N models (interval across models).
        final_score: ``F · (RA_U / RA_R) · (TA_U / TA_R)``.
        unlearning_time_s: seconds per unlearning run (mean over runs).
        retrain_time_s: seconds of one retraining's optimisation loop (mean over runs).
        time_fraction: ``unlearning_time_s / retrain_time_s`` (the challenge rejected methods above ~0.2).
        created_at: UTC time the report was made.
    """

    schema_version: int = SCHEMA_VERSION
    unlearner: str
    unlearner_version: str
    params: dict[str, Any]
    code_sha256: str | None = None
    train_config: TrainConfig
    n_models: int
    seed: int
    device: str
    n_train: int
    n_forget: int
    n_retain: int
    n_test: int
    training_root: str
    forget_root: str
    forgetting: ForgettingQuality
    forgetting_at_oracle_size: ForgettingQuality
    oracle: ForgettingQuality
    retain_accuracy_unlearned: Estimate
    retain_accuracy_retrained: Estimate
    test_accuracy_unlearned: Estimate
    test_accuracy_retrained: Estimate
    final_score: float
    unlearning_time_s: Estimate
    retrain_time_s: Estimate
    time_fraction: float
    created_at: str

    def canonical_json(self) -> bytes:
        """RFC 8785 canonical JSON of the report (what its digest is taken over)."""
        return rfc8785.dumps(self.model_dump(mode="json"))

    def digest(self) -> str:
        """Hex SHA-256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


class StoredQualification(FrozenModel):
    """Where a report was stored and its digest."""

    path: Path
    digest: str


def store_qualification(
    report: QualificationReport, *, directory: str | os.PathLike[str]
) -> StoredQualification:
    """Write ``report`` as canonical JSON to ``<directory>/<sha256>.json`` (atomically).

    A deployment's directory is ``HomeLayout.qualification`` (``HOME/qualification``), where the batch
    job looks reports up.
    """
    data = report.canonical_json()
    digest = hashlib.sha256(data).hexdigest()
    path = atomic_write(Path(directory) / f"{digest}.json", data)
    return StoredQualification(path=path, digest=digest)


def load_qualification(digest: str, *, directory: str | os.PathLike[str]) -> QualificationReport:
    """Load a stored report and check that its bytes still hash to ``digest``.

    Raises:
        NotFoundError: no report with that digest.
        IntegrityError: the file's SHA-256 differs from its name.
    """
    path = Path(directory) / f"{digest.lower()}.json"
    if not path.is_file():
        raise NotFoundError(f"No qualification report with digest {digest!r} under {str(path.parent)!r}.")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest.lower():
        raise IntegrityError(f"Qualification report {str(path)!r} has SHA-256 {actual}, not {digest}.")
    return QualificationReport.model_validate_json(data)


def select_forget_set(train: FaceTensors, *, fraction: float = 0.02, seed: int = 0) -> FaceTensors:
    """Whole subjects, chosen at random (seeded), until at least ``fraction`` of the rows are covered.

    As in the challenge, no subject is split between the forget and the retain set. Without subject ids,
    single rows are chosen instead.
    """
    if not 0 < fraction < 1:
        raise InputError(f"The 'fraction' parameter must be a float in (0, 1). Got {fraction!r} instead.")
    want = max(1, int(np.ceil(fraction * len(train))))
    rng = np.random.default_rng(seed)
    if train.subject_ids is None:
        return train.take(np.sort(rng.permutation(len(train))[:want]).tolist())
    rows_of: dict[str, list[int]] = {}
    for i, sid in enumerate(train.subject_ids):
        rows_of.setdefault(sid, []).append(i)
    subjects = sorted(rows_of)
    chosen: list[int] = []
    for j in rng.permutation(len(subjects)):
        if len(chosen) >= want:
            break
        chosen.extend(rows_of[subjects[j]])
    return train.take(sorted(chosen))


def _evaluate(model: nn.Module, sets: dict[str, FaceTensors]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data in sets.items():
        logits = predict_logits(model, data)
        if name == "forget":
            out[name] = logit_scaled_confidence(logits, data.labels)
        else:
            out[name] = float((logits.argmax(1) == data.labels).double().mean())
    return out


def _run_models(
    runner: Executor,
    store: ResultStore,
    method: Any,
    n_models: int,
    model_config: TrainConfig,
    sets: dict[str, FaceTensors],
    train: FaceTensors,
    device: torch.device,
    progress: Callable[[str], None] | None,
) -> tuple[list[TaskResult], list[TaskResult]]:
    """Train N originals and N retrains, then unlearn from each original: (unlearned, retrained) results.

    Model ``i`` uses seed ``model_config.seed + i``; unlearning run ``i`` uses seed ``i``. ``sets`` holds
    the ``forget`` and ``retain`` sets.
    """
    forget, retain = sets["forget"], sets["retain"]
    configs = [model_config.model_copy(update={"seed": model_config.seed + i}) for i in range(n_models)]
    train_ref, forget_ref, retain_ref = data_ref(train), data_ref(forget), data_ref(retain)
    total = 3 * n_models
    done = 0

    def report(result: TaskResult, reused: bool) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            how = "stored earlier" if reused else f"{result.seconds:.1f}s on {result.worker}"
            progress(f"run {done}/{total}: {result.label} ({how})")

    first = runner.run(
        [
            train_task(train, c, device=device, label=f"original-{i:03d}", ref=train_ref)
            for i, c in enumerate(configs)
        ]
        + [
            train_task(retain, c, device=device, label=f"retrain-{i:03d}", ref=retain_ref)
            for i, c in enumerate(configs)
        ],
        store=store,
        progress=report,
    )
    originals, retrained = first[:n_models], first[n_models:]
    unlearned = runner.run(
        [
            unlearn_task(
                method,
                source=originals[i],
                forget=forget,
                retain=retain,
                config=configs[i],
                seed=i,
                device=device,
                label=f"unlearned-{i:03d}",
                refs=(forget_ref, retain_ref),
            )
            for i in range(n_models)
        ],
        store=store,
        progress=report,
    )
    return unlearned, retrained


def qualify(
    unlearner: Any,
    model_config: TrainConfig,
    n_models: int,
    *,
    train: FaceTensors | None = None,
    test: FaceTensors | None = None,
    forget: FaceTensors | None = None,
    forget_fraction: float = 0.02,
    params: dict[str, Any] | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    directory: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    executor: str | Executor | None = None,
) -> QualificationReport:
    """Qualify an unlearner: F, final score and oracle over ``n_models`` originals, retrains and unlearnings.

    Args:
        unlearner: a registered unlearner name or an :class:`~deletion_sdk.unlearning.Unlearner` instance.
        model_config: how the original (and every retrained) model is trained; model ``i`` uses seed
            ``model_config.seed + i``.
        n_models: N >= 6 (the oracle splits the retrained models into two halves of at least 3).
        train: the training set of the originals; None generates the default synthetic age-predictor data
            (``deletion_sdk.data.defaults.default_age_predictor_data(seed)``) and uses its train split.
        test: a held-out test set (test accuracy TA); None uses that data's test split (``train`` and
            ``test`` must be given together or not at all).
        forget: the forget set (a subset of ``train``); None picks whole subjects with
            :func:`select_forget_set` (``forget_fraction``, ``seed``).
        forget_fraction: share of training rows to forget when ``forget`` is None.
        params: parameter overrides for the unlearner.
        device: where to train, unlearn and evaluate.
        seed: seeds the forget-set choice; unlearning run ``i`` uses seed ``i``.
        directory: the qualification directory (a deployment's ``HomeLayout.qualification``): finished
            runs are stored under ``models/`` there (a killed run resumes; originals and retrains are shared
            between methods) and the report is stored there (see :func:`store_qualification`). None: runs
            are kept in a temporary directory removed at the end, and the report is only returned.
        progress: called with a one-line message after each run.
        executor: ``"local"`` (None: one run after another in this process), ``"ray"``, another
            registered name, or an :class:`~deletion_sdk.executor.Executor` instance (which the caller
            closes). Results are bit-identical across executors at the same CPU thread count.

    Returns:
        The :class:`QualificationReport`.

    Raises:
        InputError: N < 6, a forget example missing from ``train``, or an unknown unlearner / parameter
            or executor.
        ExecutorError: a run failed (the runs finished before it stay stored).
    """
    from deletion_sdk.unlearning import create_unlearner
    from deletion_sdk.unlearning.provenance import code_digest

    if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 6:
        raise InputError(f"The 'n_models' parameter must be an int >= 6. Got {n_models!r} instead.")
    if (train is None) != (test is None):
        raise InputError("The 'train' and 'test' parameters must be given together or both left out.")
    if train is None or test is None:
        from deletion_sdk.data.defaults import default_age_predictor_data

        data = default_age_predictor_data(seed, image_size=model_config.image_size)
        train, test = data.train, data.test
    method = create_unlearner(unlearner, **(params or {})) if isinstance(unlearner, str) else unlearner
    dev = resolve_device(device)
    if forget is None:
        forget = select_forget_set(train, fraction=forget_fraction, seed=seed)
    forget_set = forget
    missing = set(forget_set.example_ids).difference(train.example_ids)
    if missing:
        raise InputError(
            f"The 'forget' parameter must be a subset of 'train'. Got {len(missing)} other rows."
        )
    retain = train.exclude(forget_set.example_ids)
    sets = {"forget": forget_set, "retain": retain, "test": test}
    runner, owned = resolve_executor(executor)
    try:
        with contextlib.ExitStack() as stack:
            if directory is None:
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qualification-")))
            else:
                root = Path(directory) / "models"
            store = ResultStore(root)
            unlearned, retrained = _run_models(
                runner, store, method, n_models, model_config, sets, train, dev, progress
            )
            unlearned_eval = [_evaluate(store.load_model(r, device=dev), sets) for r in unlearned]
            retrained_eval = [_evaluate(store.load_model(r, device=dev), sets) for r in retrained]
    finally:
        if owned:
            runner.close()
    unlearn_s = [r.seconds for r in unlearned]
    retrain_s = [r.seconds for r in retrained]

    u_conf = np.stack([e["forget"] for e in unlearned_eval])
    r_conf = np.stack([e["forget"] for e in retrained_eval])
    half = n_models // 2
    forgetting = forgetting_quality(u_conf, r_conf, device=dev)
    at_half = forgetting_quality(u_conf[:half], r_conf[:half], device=dev)
    oracle = forgetting_quality(r_conf[half : 2 * half], r_conf[:half], device=dev)

    def acc(evals: list[dict[str, Any]], key: str) -> Estimate:
        return mean_estimate(np.array([e[key] for e in evals]))

    ra_u, ra_r = acc(unlearned_eval, "retain"), acc(retrained_eval, "retain")
    ta_u, ta_r = acc(unlearned_eval, "test"), acc(retrained_eval, "test")
    u_time, r_time = mean_estimate(np.array(unlearn_s)), mean_estimate(np.array(retrain_s))
    report = QualificationReport(
        unlearner=method.name,
        unlearner_version=method.version,
        code_sha256=code_digest(type(method)),
        params=method.params.model_dump(mode="json"),
        train_config=model_config,
        n_models=n_models,
        seed=seed,
        device=str(dev),
        n_train=len(train),
        n_forget=len(forget_set),
        n_retain=len(retain),
        n_test=len(test),
        training_root=training_root(train.example_ids),
        forget_root=training_root(forget_set.example_ids),
        forgetting=forgetting,
        forgetting_at_oracle_size=at_half,
        oracle=oracle,
        retain_accuracy_unlearned=ra_u,
        retain_accuracy_retrained=ra_r,
        test_accuracy_unlearned=ta_u,
        test_accuracy_retrained=ta_r,
        final_score=final_score(forgetting, ra_u.value, ra_r.value, ta_u.value, ta_r.value),
        unlearning_time_s=u_time,
        retrain_time_s=r_time,
        time_fraction=u_time.value / r_time.value if r_time.value > 0 else float("inf"),
        created_at=datetime.now(UTC).isoformat(),
    )
    if directory is not None:
        stored = store_qualification(report, directory=directory)
        _log.info("qualification.stored", unlearner=method.name, digest=stored.digest, F=forgetting.score)
    return report


def summarize(report: QualificationReport) -> dict[str, Any]:
    """The headline figures of a report as a flat dict (F, final score, oracle, time fraction, digest)."""
    return {
        "unlearner": report.unlearner,
        "n_models": report.n_models,
        "forgetting_quality": report.forgetting.score,
        "final_score": report.final_score,
        "forgetting_quality_at_half": report.forgetting_at_oracle_size.score,
        "oracle_forgetting_quality": report.oracle.score,
        "time_fraction": report.time_fraction,
        "unlearning_time_s": report.unlearning_time_s.value,
        "retrain_time_s": report.retrain_time_s.value,
        "retain_accuracy_unlearned": report.retain_accuracy_unlearned.value,
        "retain_accuracy_retrained": report.retain_accuracy_retrained.value,
        "test_accuracy_unlearned": report.test_accuracy_unlearned.value,
        "test_accuracy_retrained": report.test_accuracy_retrained.value,
        "digest": report.digest(),
    }
