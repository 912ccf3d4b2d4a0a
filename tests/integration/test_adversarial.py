"""No shipped policy certifies a cheat: every red-team unlearner, judged as the batch job judges.

The deployment is the one the threat model was found on: the default ``tiny_cnn`` age predictor on 400
synthetic people at 16 px, and a forget set of 12 people. Each cheat of :mod:`deletion_sdk.redteam` runs
on the original model; its candidate is verified against the original (population tier, as
``gdpr-art17`` and ``ccpa`` demand) and judged by every shipped policy. None may be certified — whether
it fails a check or is found inconclusive. Exact retraining, proven, must still be certified, so the
checks are not simply impossible to pass. (``strict`` demands per-example evidence: on population
evidence it certifies nothing, fail-closed; its LiRA path is tested in ``test_pipeline_e2e.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.policy import Decision, ExactRetraining, evaluate, load_policy
from deletion_sdk.redteam import CHEATS, registered
from deletion_sdk.training import TrainConfig, train_model
from deletion_sdk.unlearning import UnlearningContext, run_unlearner, unlearner_provenance
from deletion_sdk.verification import VerificationReport, verify_population

pytestmark = pytest.mark.slow

POLICIES = ("gdpr-art17", "ccpa", "strict")
SEED = 0


@dataclass(frozen=True)
class Deployment:
    original: torch.nn.Module
    forget: FaceTensors
    retain: FaceTensors
    holdout: FaceTensors
    config: TrainConfig


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    torch.set_num_threads(1)
    data = default_age_predictor_data(SEED, image_size=16, n_subjects=400)
    config = TrainConfig(image_size=16, seed=SEED)
    original = train_model(data.train, config=config, device="cpu").model
    assert data.train.subject_ids is not None
    people = sorted(set(data.train.subject_ids))
    order = torch.randperm(len(people), generator=torch.Generator().manual_seed(SEED + 2)).tolist()
    chosen = {people[i] for i in order[:12]}
    ids = {e for e, s in zip(data.train.example_ids, data.train.subject_ids, strict=True) if s in chosen}
    return Deployment(original, data.train.restrict(ids), data.train.exclude(ids), data.holdout, config)


def _judge(d: Deployment, method: str) -> tuple[VerificationReport, dict[str, Decision]]:
    result = run_unlearner(
        method,
        d.original,
        forget=d.forget,
        retain=d.retain,
        context=UnlearningContext(device="cpu", seed=SEED, train_config=d.config),
    )
    probes = tuple(sorted({n for p in POLICIES for n in load_policy(p).verification.thresholds.uses_probes}))
    report = verify_population(
        result.model,
        forget=d.forget,
        holdout=d.holdout,
        retain=d.retain,
        original=d.original,
        seed=SEED,
        probes=probes,
    )
    exact = None
    if method == "retrain":
        exact = ExactRetraining(
            unlearner_class=unlearner_provenance(method).class_path,
            retrained_training_root="0" * 64,
            forget_merkle_root="0" * 64,
            overlap=len(set(d.forget.example_ids) & set(d.retain.example_ids)),
        )
    decisions = {p: evaluate(load_policy(p), report, method=method, exact=exact) for p in POLICIES}
    return report, decisions


@pytest.mark.parametrize("cheat", [c.name for c in CHEATS])
def test_no_shipped_policy_certifies_a_cheat(deployment: Deployment, cheat: str) -> None:
    with registered(*CHEATS):
        report, decisions = _judge(deployment, cheat)
    certified = {p: d.summary() for p, d in decisions.items() if d.passed}
    assert certified == {}, (cheat, certified)
    # and not merely for lack of power: the original's forgetting checks fail on this deployment
    assert report.original_figures is not None
    assert report.original_figures.forget_holdout_auc > 0.62


def test_exact_retraining_is_still_certified(deployment: Deployment) -> None:
    _, decisions = _judge(deployment, "retrain")
    assert decisions["gdpr-art17"].passed and decisions["gdpr-art17"].basis == "exact"
    assert decisions["ccpa"].passed
    assert not decisions["strict"].passed  # population evidence where strict demands per-example
