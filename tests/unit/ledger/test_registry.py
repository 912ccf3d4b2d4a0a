from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from deletion_sdk.errors import ConflictError, InputError, NotFoundError
from deletion_sdk.ledger import lineage, registry
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_versions_deploy_and_supersede(ledger: Ledger) -> None:
    dataset = lineage.register_examples(
        ledger, name="d", records=[ExampleInput("e1", "a" * 64, _digest("e1"), 30.0)]
    )
    v1 = registry.register_model_version(
        ledger,
        name="age",
        weights_digest=_digest("w1"),
        architecture="tiny_cnn",
        dataset_id=dataset.dataset_id,
        training_root=dataset.examples_root,
        metrics={"holdout_mae": 7.5},
    )
    v2 = registry.register_model_version(
        ledger,
        name="age",
        weights_digest=_digest("w2"),
        architecture="tiny_cnn",
        parent_id=v1.model_version_id,
    )
    other = registry.register_model_version(
        ledger, name="other", weights_digest=_digest("w3"), architecture="x"
    )
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (v1.status, v1.metrics, v2.parent_id) == ("candidate", {"holdout_mae": 7.5}, v1.model_version_id)
    with ledger.session() as session:
        registry.mark_deployed(session, v1.model_version_id)
        registry.mark_deployed(session, other.model_version_id)
    with ledger.session() as session:
        deployed = registry.mark_deployed(session, v2.model_version_id)
    with ledger.session(write=False) as session:
        assert deployed.status == "deployed"
        assert registry.deployed(session, "age") == deployed
        assert registry.get_model_version(session, v1.model_version_id).status == "superseded"
        assert registry.deployed(session, "other").model_version_id == other.model_version_id
        assert [v.version for v in registry.list_model_versions(session, name="age")] == [1, 2]
        assert len(registry.list_model_versions(session)) == 3


def test_database_enforces_one_deployed_version_per_name(ledger: Ledger) -> None:
    a = registry.register_model_version(ledger, name="m", weights_digest=_digest("a"), architecture="x")
    b = registry.register_model_version(ledger, name="m", weights_digest=_digest("b"), architecture="x")
    with ledger.session() as session:
        registry.mark_deployed(session, a.model_version_id)
    with pytest.raises(sa.exc.IntegrityError), ledger.session() as session:
        session.execute(
            sa.text("UPDATE model_versions SET status = 'deployed' WHERE id = :id"),
            {"id": b.model_version_id},
        )


def test_status_rules_and_validation(sqlite_url: str) -> None:
    ledger = Ledger.open(sqlite_url, create=True)
    try:
        v = registry.register_model_version(ledger, name="m", weights_digest=_digest("a"), architecture="x")
        with ledger.session() as session:
            assert registry.set_status(session, v.model_version_id, "rejected").status == "rejected"
            with pytest.raises(ConflictError, match="rejected"):
                registry.mark_deployed(session, v.model_version_id)
            with pytest.raises(InputError, match="mark_deployed"):
                registry.set_status(session, v.model_version_id, "deployed")
            with pytest.raises(NotFoundError):
                registry.get_model_version(session, 999)
            with pytest.raises(NotFoundError):
                registry.deployed(session, "m")
        with pytest.raises(InputError, match="weights_digest"):
            registry.register_model_version(ledger, name="m", weights_digest="abc", architecture="x")
        with pytest.raises(NotFoundError, match="dataset"):
            registry.register_model_version(
                ledger, name="m", weights_digest=_digest("z"), architecture="x", dataset_id=42
            )
        with pytest.raises(InputError, match="candidate or rejected"):
            registry.register_model_version(
                ledger, name="m", weights_digest=_digest("z"), architecture="x", status="deployed"
            )
    finally:
        ledger.dispose()
