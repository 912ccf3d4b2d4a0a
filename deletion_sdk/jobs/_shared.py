"""What the batch job and the red-team check must compute identically: attempt seeds, the LiRA pool,
and the decision on a candidate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deletion_sdk.data import AgeBins, FaceTensors
from deletion_sdk.jobs.evidence import find_qualification
from deletion_sdk.jobs.models import JobSets
from deletion_sdk.policy import Decision, ExactRetraining, Policy, evaluate
from deletion_sdk.verification import VerificationReport, verify_population

__all__ = ["attempt_seed", "decide", "jsonable_params", "population_evidence", "shadow_pool"]


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    """An unlearner's parameters as they are recorded (and as qualification reports are matched by)."""
    loaded: dict[str, Any] = json.loads(json.dumps(params, default=str))
    return loaded


def population_evidence(
    candidate: nn.Module,
    *,
    original: nn.Module,
    sets: JobSets,
    policy: Policy,
    device: str,
    seed: int,
    bins: AgeBins,
) -> VerificationReport:
    """The population-tier report on a candidate against the original, with the probes ``policy`` uses."""
    return verify_population(
        candidate,
        forget=sets.forget,
        holdout=sets.splits.holdout,
        retain=sets.retain,
        test=sets.splits.test if len(sets.splits.test) else None,
        original=original,
        device=device,
        seed=seed,
        age_bins=bins,
        probes=policy.verification.thresholds.uses_probes,
    )


def decide(
    policy: Policy,
    report: VerificationReport,
    *,
    method: str,
    code_sha256: str | None,
    params: dict[str, Any],
    qualification_dir: Path,
    exact: ExactRetraining | None = None,
) -> tuple[Decision, str | None]:
    """(decision, digest of the qualification report it cited): the policy applied to a candidate.

    A qualification is cited only for the same code with the same parameters.
    """
    qualified = find_qualification(
        method, directory=qualification_dir, code_sha256=code_sha256, params=params
    )
    decision = evaluate(
        policy,
        report,
        method=method,
        qualification_score_ratio=None if qualified is None else qualified[1],
        exact=exact,
    )
    return decision, None if qualified is None else qualified[0]


def attempt_seed(settings_seed: int, forget_merkle_root: str | None, attempt: int) -> int:
    """The seed of an attempt: from the deployment's seed and the forget set, never from a job id.

    The same requests on the same data give the same unlearning and verification randomness, so an
    outcome can be reproduced; ``DELETION_SDK_SEED`` varies it.
    """
    material = f"{settings_seed}:{forget_merkle_root}"
    return int(hashlib.sha256(material.encode()).hexdigest()[:7], 16) + attempt


def shadow_pool(retain: FaceTensors, forget: FaceTensors) -> FaceTensors:
    """Rows of both, sorted by example id: the stable pool a model version's shadow bank is trained on."""
    ids = (*retain.example_ids, *forget.example_ids)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    both = FaceTensors(
        images=torch.cat([retain.images, forget.images]),
        labels=torch.cat([retain.labels, forget.labels]),
        ages=torch.cat([retain.ages, forget.ages]),
        example_ids=ids,
    )
    return both.take(order)
