"""Tombstones, retirement and erased-artifact evidence in the ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from deletion_sdk.erasure.evidence import erased_artifacts, record_erased
from deletion_sdk.erasure.records import ArtifactKind, ErasedArtifact
from deletion_sdk.errors import ConflictError, ContainsErasedDataError, SuppressedSubjectError
from deletion_sdk.ledger import lineage, registry, retirement
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.lineage.tombstones import tombstone_examples

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALICE, BOB = "a" * 64, "b" * 64


def _d(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _setup(ledger: Ledger) -> tuple[int, int, int]:
    """A dataset with Alice and Bob, v1 trained on both (deployed), Alice suppressed, v2 unlearned after."""
    ds = lineage.register_examples(
        ledger,
        name="d",
        records=[
            ExampleInput("a1", ALICE, _d("a1"), 30.0, "train", "a1.jpg"),
            ExampleInput("b1", BOB, _d("b1"), 40.0, "train", "b1.jpg"),
        ],
        now=T0,
    )
    with ledger.session() as s:
        v1 = registry.add_model_version(
            s, name="age", weights_digest=_d("w1"), architecture="x", dataset_id=ds.dataset_id, now=T0
        )
        registry.mark_deployed(s, v1.model_version_id)
        lineage.suppress(s, subject_ref=ALICE, reason="erasure requested", now=T0 + timedelta(hours=1))
        v2 = registry.add_model_version(
            s,
            name="age",
            weights_digest=_d("w2"),
            architecture="x",
            dataset_id=ds.dataset_id,
            parent_id=v1.model_version_id,
            now=T0 + timedelta(hours=2),
        )
        cheat = registry.add_model_version(
            s,
            name="age",
            weights_digest=_d("w1"),  # a no-op "unlearner": the parent's weights, rejected
            architecture="x",
            dataset_id=ds.dataset_id,
            parent_id=v1.model_version_id,
            now=T0 + timedelta(hours=2),
        )
        registry.set_status(s, cheat.model_version_id, "rejected")
    return v1.model_version_id, v2.model_version_id, cheat.model_version_id


def test_versions_holding_and_deploy_refusal(ledger: Ledger) -> None:
    v1, v2, cheat = _setup(ledger)
    with ledger.session() as s:
        assert retirement.versions_holding(s, [ALICE]) == {v1: {ALICE}, cheat: {ALICE}}
        assert retirement.versions_holding(s, [BOB]).keys() == {v1, v2, cheat}  # Bob asked nothing
        registry.mark_deployed(s, v2)  # made after the suppression: clean
    with ledger.session() as s, pytest.raises(ContainsErasedDataError, match="v1 holds data of 1 person"):
        registry.mark_deployed(s, v1)  # rollback to the version that learned from Alice
    with ledger.session() as s:
        retirement.retire(s, v1, job_id="j", erase_weights_at=T0 + timedelta(days=30), now=T0)
        again = retirement.retire(s, v1, job_id="j2", erase_weights_at=T0, now=T0)  # idempotent
        assert again.job_id == "j" and again.erase_weights_at == T0 + timedelta(days=30)
    with ledger.session() as s, pytest.raises(ContainsErasedDataError, match="retired"):
        registry.mark_deployed(s, v1)
    with ledger.session() as s, pytest.raises(ConflictError, match="retired"):
        registry.set_status(s, v1, "superseded")  # no laundering a retired version back
    with ledger.session() as s, pytest.raises(ContainsErasedDataError, match="deployed"):
        retirement.retire(s, v2, job_id="j", erase_weights_at=T0)
    with ledger.session() as s:
        assert [r.model_version_id for r in retirement.retirements_due(s, now=T0 + timedelta(days=29))] == []
        due = retirement.retirements_due(s, now=T0 + timedelta(days=31))
        assert [r.model_version_id for r in due] == [v1]
        retirement.mark_weights_erased(s, v1, now=T0 + timedelta(days=31))
        assert retirement.retirements_due(s, now=T0 + timedelta(days=31)) == []


def test_tombstoned_examples_are_hidden_and_refused_again(ledger: Ledger) -> None:
    _setup(ledger)
    with ledger.session() as s:
        ds = lineage.get_dataset(s, "d").dataset_id
        assert tombstone_examples(s, [(ds, "a1", _d("a1"))], job_id="j", now=T0) == 1
        assert tombstone_examples(s, [(ds, "a1", _d("a1"))], job_id="j", now=T0) == 0  # once
    with ledger.session(write=False) as s:
        assert [e.example_id for e in lineage.dataset_examples(s, dataset="d")] == ["b1"]
        assert len(lineage.dataset_examples(s, dataset="d", include_erased=True)) == 2
        assert lineage.resolve_forget_set(s, subject_refs=[ALICE], dataset="d").count == 0
    # Alice's bytes under a fresh subject reference: refused by content, whatever subject it claims
    with pytest.raises(SuppressedSubjectError, match="bytes of erased examples"):
        lineage.register_examples(
            ledger, name="again", records=[ExampleInput("new", "c" * 64, _d("a1"), 30.0, "train", "x.jpg")]
        )
    with pytest.raises(SuppressedSubjectError, match="example id"):
        lineage.register_examples(
            ledger, name="again2", records=[ExampleInput("a1", "c" * 64, _d("other"), 30.0, "train", "y.jpg")]
        )
    with ledger.session(write=False) as s:
        assert [d.name for d in lineage.list_datasets(s)] == ["d"]  # nothing registered


def test_erased_artifacts_are_recorded_once(ledger: Ledger) -> None:
    a = ErasedArtifact(kind=ArtifactKind.SOURCE_FILE, digest=_d("a1"), erased_at=T0)
    b = ErasedArtifact(kind=ArtifactKind.MODEL_WEIGHTS, digest=_d("w1"), erased_at=T0, detail="model age v1")
    with ledger.session() as s:
        assert record_erased(s, [a, a, b], job_id="j") == [a, b]
        assert record_erased(s, [a, b], job_id="j") == []
    with ledger.session(write=False) as s:
        assert erased_artifacts(s, job_id="j") == (b, a) or set(erased_artifacts(s, job_id="j")) == {a, b}
        assert erased_artifacts(s, job_id="other") == ()
