"""The MLflow model registry as deployment target, against a real local MLflow store (SQLite).

The deployment is the SDK's own tiny_cnn trained on an imported UTKFace folder. The job's first attempt is a
no-op the policy cannot accept (rejected), its second exact retraining (certified): both become MLflow
versions with their decisions, and the serving alias moves only to the certified one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deletion_sdk.ledger import registry, retirement
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from deletion_sdk.redteam import NoopCheat, registered
from deletion_sdk.sdk import DeletionSDK
from deletion_sdk.settings import Settings
from deletion_sdk.training import TrainConfig

from .conftest import UTKFolder, write_utkface

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow

ESCALATE = (
    "methods: [noop_cheat, retrain]",  # a no-op, never qualified: its decision fails; then retrain
    "max_attack_auc: 0.62\n    min_qualification_score_ratio: 0.5",
)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[DeletionSDK, UTKFolder]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    base = (BUILTIN_POLICY_DIR / "gdpr-art17.yaml").read_text()
    (policies / "house.yaml").write_text(base.replace("id: gdpr-art17", "id: house"))
    escalate = base.replace("id: gdpr-art17", "id: escalate")
    methods = "methods: [margin_shift_distill, neggrad_plus, bad_teacher, retrain]"
    escalate = escalate.replace(methods, ESCALATE[0])
    escalate = escalate.replace("max_attack_auc: 0.62", ESCALATE[1], 1)
    (policies / "escalate.yaml").write_text(escalate)
    utk = write_utkface(tmp_path / "utkface", n_subjects=12, per_subject=3)
    settings = Settings(home=tmp_path / "home", policy_dir=policies, device="cpu", registry="mlflow")
    with DeletionSDK.open(settings=settings) as sdk:
        sdk.generate_keys()
        sdk.import_utkface(name="faces", directory=utk.root, subjects=utk.subjects_csv)
        sdk.train_model(
            dataset="faces", name="age", config=TrainConfig(image_size=16, epochs=2, batch_size=8)
        )
        yield sdk, utk


def _request(sdk: DeletionSDK, utk: UTKFolder, index: int, policy: str) -> None:
    train_people = sorted({utk.owner[f] for f in utk.files if utk.split[f] == "train"})
    sdk.submit_request(subject=train_people[index], policy=policy, verified=True)


def test_alias_moves_only_when_the_decision_passes(deployment: tuple[DeletionSDK, UTKFolder]) -> None:
    from deletion_sdk.external.mlflow_registry import publish_deployed, publish_job

    sdk, utk = deployment
    first = publish_deployed(sdk.ledger, sdk.layout, model="age")
    client = mlflow.tracking.MlflowClient(first.tracking_uri, registry_uri=first.tracking_uri)
    assert str(client.get_model_version_by_alias("age", "production").version) == first.original_version

    with registered(NoopCheat):  # the red team's no-op stands for a method that fails its decision
        _request(sdk, utk, 0, "escalate")
        done = sdk.run_batch(model="age")
    assert (
        done.status == "completed"
        and done.certificate_path
        and [a.method for a in done.attempts]
        == [
            "noop_cheat",
            "retrain",
        ]
    )
    # run_batch published it already (registry: mlflow); publishing again is idempotent
    pub = publish_job(sdk.ledger, sdk.layout, job_id=done.job_id or "")
    listed = [
        client.get_model_version("age", mv.version) for mv in client.search_model_versions("name='age'")
    ]
    by_ledger = {int(mv.tags["deletion_sdk.model_version_id"]): mv for mv in listed}
    original, noop, retrained = sdk.list_models(name="age")  # ledger v1, v2 (rejected no-op), v3
    certified = by_ledger[retrained.model_version_id]
    assert pub.alias_moved and pub.alias_version == str(certified.version) == pub.candidate_version
    assert (
        certified.tags["deletion_sdk.decision"] == "passed" and certified.tags["deletion_sdk.attempt"] == "2"
    )
    assert certified.tags["deletion_sdk.job_id"] == done.job_id and certified.aliases == ["production"]
    assert certified.tags["deletion_sdk.weights_sha256"] == sdk.deployed_model(name="age").weights_digest
    # the original and the no-op still hold the forgotten people's data: retired in the ledger, so in MLflow
    # (deleted there once the ledger has deleted their weights)
    with sdk.ledger.session(write=False) as session:
        for record in (original, noop):
            ret = retirement.retirement(session, record.model_version_id)
            assert ret is not None
            if ret.weights_erased_at is not None:
                assert record.model_version_id not in by_ledger
            else:
                kept = by_ledger[record.model_version_id]
                assert (
                    kept.tags["deletion_sdk.status"]
                    == registry.get_model_version(session, record.model_version_id).status
                )
                assert "deletion_sdk.retired_at" in kept.tags and not kept.aliases
                assert "deletion_sdk.certificate_payload_sha256" not in kept.tags
    assert len(pub.retired_versions) == 2 and set(pub.deleted_versions) <= set(pub.retired_versions)
    name = Path(done.certificate_path).name
    deployed = sdk.layout.artifact(sdk.deployed_model(name="age").path or "")
    assert {a.path for a in client.list_artifacts(certified.run_id, "model")} == {f"model/{deployed.name}"}
    assert {a.path for a in client.list_artifacts(certified.run_id, "evidence_certificate")} == {
        f"evidence_certificate/{name}"
    }
    local = client.download_artifacts(certified.run_id, f"evidence_certificate/{name}")
    assert Path(local).read_bytes() == Path(done.certificate_path).read_bytes()
    sdk.verify_certificate(path=local)  # the attached certificate is the signed one
    decision = json.loads(
        Path(client.download_artifacts(certified.run_id, "evidence_decision/decision.json")).read_text()
    )
    assert decision["passed"] is True
    # publishing again adds nothing
    assert (
        publish_job(sdk.ledger, sdk.layout, job_id=done.job_id or "").candidate_version
        == pub.candidate_version
    )
    assert len(client.search_model_versions("name='age'")) == 3 - len(pub.deleted_versions)
