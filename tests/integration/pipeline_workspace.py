"""A tiny but real deployment for pipeline tests: synthetic faces on disk, a registered dataset, a trained
and deployed tiny_cnn, a signing key, and verified deletion requests.

Built once per test session into a template directory and copied per test (SQLite), or rebuilt against a
fresh PostgreSQL database.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split, write_faces
from deletion_sdk.ledger.core_tables import ModelVersion
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.training import TrainConfig

MODEL = "age"
FAST_POLICY = """\
id: fast-test
title: "Fast test policy"
jurisdiction: "Test"
legal_basis: "Test suite"
summary: "Pipeline tests: fine-tune first, then retrain, judged by gdpr-art17's thresholds."
deadline:
  response: {months: 1}
  extension: {months: 2}
  max_extensions: 1
unlearning:
  methods: [finetune, retrain]
  time_budget_fraction: 1.0
verification:
  tier: population
  thresholds:
    max_attack_auc: 0.62
    max_auc_gap_to_reference: 0.10
    max_forget_accuracy_gap: 0.15
    min_retain_accuracy_ratio: 0.75
    min_holdout_accuracy_ratio: 0.90
"""
# Every job escalates, deterministically: the first method is the red team's no-op (returns the model
# unchanged) and the policy asks approximate methods for a qualification report, which it never has (its
# decision fails whatever the data); retrain is exact and passes. Exercises decide -> unlearn.
ESCALATE_POLICY = (
    FAST_POLICY.replace("id: fast-test", "id: escalate-test")
    .replace("methods: [finetune, retrain]", "methods: [noop_cheat, retrain]")
    .replace("max_attack_auc: 0.62", "max_attack_auc: 0.62\n    min_qualification_score_ratio: 0.5")
)

# Per-example tier: LiRA against a shadow bank (K from DELETION_SDK_SHADOW_MODELS), strict's LiRA limit.
PER_EXAMPLE_POLICY = (
    FAST_POLICY.replace("id: fast-test", "id: per-example-test")
    .replace("tier: population", "tier: per_example")
    .replace("max_attack_auc: 0.62", "max_attack_auc: 0.62\n    max_lira_excess_flagged: 0.05")
)


@dataclass(frozen=True)
class Workspace:
    root: Path
    home: Path
    policy_dir: Path
    raw_subjects: tuple[str, ...]
    request_ids: tuple[str, ...]
    no_data_request_id: str


def write_policies(policy_dir: Path) -> None:
    policy_dir.mkdir(parents=True, exist_ok=True)
    (policy_dir / "fast-test.yaml").write_text(FAST_POLICY)
    (policy_dir / "escalate-test.yaml").write_text(ESCALATE_POLICY)
    (policy_dir / "per-example-test.yaml").write_text(PER_EXAMPLE_POLICY)


def build(
    root: Path,
    *,
    database_url: str | None = None,
    policy: str = "fast-test",
    n_requests: int = 4,
    epochs: int = 6,
) -> Workspace:
    """Generate data, train, deploy, record ``n_requests`` verified requests (+1 with no data).

    ``epochs`` sets the retraining estimate: with 6, a two-epoch fine-tune stays well inside a budget of
    one retraining even on a loaded machine, so budget overruns do not replace the failures under test.
    """
    faces = generate_faces(SynthFacesConfig(n_subjects=48, image_size=16, images_per_subject=(2, 5), seed=7))
    parts = subject_disjoint_split(faces.data, fractions={"train": 0.6, "holdout": 0.2, "test": 0.2}, seed=7)
    split = {eid: name for name, part in parts.items() for eid in part.example_ids}
    written = write_faces(faces, root / "faces", split=split)
    policy_dir = root / "policies"
    write_policies(policy_dir)
    from deletion_sdk.settings import Settings

    settings = Settings(home=root / "home", database_url=database_url, policy_dir=policy_dir)
    subjects = sorted(set(parts["train"].subject_ids or ()))[:n_requests]
    with DeletionSDK.open(settings=settings) as sdk:
        sdk.generate_keys()
        sdk.register_dataset(name="faces", manifest=written.manifest_path)
        trained = sdk.train_model(
            dataset="faces",
            name=MODEL,
            config=TrainConfig(image_size=16, epochs=epochs, batch_size=64, seed=1),
        )
        # A one-hour retraining estimate: on a loaded machine the time budget must never be what
        # decides a test's outcome (a method's checks are).
        with sdk.ledger.session() as session:
            row = session.get(ModelVersion, trained.model_version_id)
            assert row is not None
            row.metrics = {**row.metrics, "retrain_estimate_s": 3600.0}
            session.add(row)
        ids = []
        for subject in [*subjects, "outsider@example.org"]:
            r = sdk.submit_request(subject=subject, policy=policy, idempotency_key=f"k-{subject}")
            sdk.verify_request(request_id=r.request.request_id, reason="identity checked")
            ids.append(r.request.request_id)
    return Workspace(
        root=root,
        home=root / "home",
        policy_dir=policy_dir,
        raw_subjects=(*subjects, "outsider@example.org"),
        request_ids=tuple(ids[:-1]),
        no_data_request_id=ids[-1],
    )


def copy(template: Workspace, root: Path) -> Workspace:
    """A private copy of a SQLite workspace, faces included: a batch job erases the forgotten people's
    source files and retired weights, so every copy gets its own (the ledger's paths point at the copy)."""
    shutil.copytree(template.home, root / "home")
    shutil.copytree(template.policy_dir, root / "policies")
    shutil.copytree(template.root / "faces", root / "faces")
    with sqlite3.connect(root / "home" / "ledger.db") as conn:
        conn.execute(
            "UPDATE datasets SET root_dir = ? WHERE root_dir = ?",
            (str((root / "faces").resolve()), str((template.root / "faces").resolve())),
        )
        conn.execute(  # the copy's weights, not the template's: erasure deletes a retired version's file
            "UPDATE model_versions SET path = replace(path, ?, ?)",
            (str(template.home.resolve()), str((root / "home").resolve())),
        )
    return Workspace(
        root=root,
        home=root / "home",
        policy_dir=root / "policies",
        raw_subjects=template.raw_subjects,
        request_ids=template.request_ids,
        no_data_request_id=template.no_data_request_id,
    )
