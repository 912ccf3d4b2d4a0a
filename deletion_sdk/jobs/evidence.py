"""Per-example evidence and qualification lookups for the batch job.

Per-example tier: offline LiRA of the forget examples against the model version's shadow bank (K models
trained on random halves of its training pool, built once per version under ``HOME/shadow/`` and reused).
The batch job has no model retrained without the forget set, so the calibrator is taken from the bank
itself: for every forget example one OUT member (a model that never saw it) plays "the retrained model"
and is left out of that example's reference distribution. The policy's LiRA check then compares the
unlearned model's flagged fraction with that calibrator's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from deletion_sdk.context import Context
from deletion_sdk.data import FaceTensors
from deletion_sdk.errors import ConfigurationError
from deletion_sdk.executor import executor_from_settings
from deletion_sdk.training import TrainConfig, predict_logits
from deletion_sdk.verification import VerificationReport, logit_scaled_confidence, per_example_lira
from deletion_sdk.verification.qualification import QualificationReport
from deletion_sdk.verification.shadow import ShadowBank

__all__ = ["MIN_SHADOW_MODELS", "find_qualification", "loo_calibrator", "per_example_evidence"]

MIN_SHADOW_MODELS = 6


def loo_calibrator(out_confs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split OUT confidences ``[K, n]`` (NaN = IN) into a calibrator ``[n]`` and the rest ``[K, n]``.

    For each example the first OUT member becomes the calibrator and is masked (NaN) in the reference.
    """
    rest = np.array(out_confs, dtype=np.float64, copy=True)
    available = ~np.isnan(rest)
    first = np.argmax(available, axis=0)
    columns = np.arange(rest.shape[1])
    calibrator = np.where(available.any(axis=0), rest[first, columns], np.nan)
    rest[first, columns] = np.nan
    return calibrator, rest


def per_example_evidence(
    report: VerificationReport,
    *,
    unlearned: nn.Module,
    original: nn.Module,
    forget: FaceTensors,
    pool: FaceTensors,
    original_digest: str,
    config: TrainConfig,
    context: Context,
    progress: bool = False,
) -> VerificationReport:
    """``report`` with LiRA evidence from the shadow bank of the original model (built if missing).

    Raises:
        ConfigurationError: fewer than 6 shadow models (each example needs two OUT references besides
            the one that serves as its calibrator).
    """
    settings = context.settings
    if settings.shadow_models is not None and settings.shadow_models < MIN_SHADOW_MODELS:
        raise ConfigurationError(
            f"The 'shadow_models' setting must be at least {MIN_SHADOW_MODELS} for the per-example tier "
            f"(K // 2 OUT models per example, one the calibrator). Got {settings.shadow_models} instead."
        )
    with executor_from_settings(settings) as runner:  # DELETION_SDK_EXECUTOR: local or ray
        bank = ShadowBank(
            pool=pool,
            model_digest=original_digest,
            config=config,
            k=settings.shadow_models,
            directory=context.layout.shadow_bank(original_digest),
            device=settings.device,
            executor=runner,
        )
        bank.build(progress=progress)
    _in, out = bank.confidences(forget).split()
    calibrator, reference = loo_calibrator(out)

    def conf(model: nn.Module) -> np.ndarray:
        return logit_scaled_confidence(predict_logits(model, forget), forget.labels)

    lira = per_example_lira(
        unlearned_confs=conf(unlearned),
        out_confs=reference,
        original_confs=conf(original),
        retrained_confs=calibrator,
        two_sided=True,  # over-forgetting singles people out as surely as remembering them
    )
    return report.with_lira(lira)


def find_qualification(
    method: str,
    *,
    directory: Path,
    arch: str | None = None,
    code_sha256: str | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[str, float] | None:
    """(digest, final score / oracle F) of the newest qualification of ``method`` stored in ``directory``.

    With ``code_sha256`` and ``params`` (as a batch job passes them), only a report of that same code
    with those same parameters counts: a qualification of other code proves nothing about this run.
    """
    best: tuple[str, str, float] | None = None
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data: dict[str, Any] = json.loads(path.read_bytes())
            report = QualificationReport.model_validate(data)
        except ValueError:
            continue
        if report.unlearner != method or (arch is not None and report.train_config.arch != arch):
            continue
        if code_sha256 is not None and report.code_sha256 != code_sha256:
            continue
        if params is not None and report.params != params:
            continue
        oracle = report.oracle.score
        ratio = report.final_score / oracle if oracle > 0 else 0.0
        if best is None or report.created_at > best[1]:
            best = (path.stem, report.created_at, ratio)
    return None if best is None else (best[0], best[2])
