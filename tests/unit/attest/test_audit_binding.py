"""The audit binding: a certificate's audit event must name the digest of this certificate's predicate."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import JsonValue

import deletion_sdk.jobs.certify as jobs_certify
from deletion_sdk.attest import (
    AuditRecord,
    CertificatePredicate,
    DecisionRecord,
    ForgetSetRef,
    ModelRef,
    PolicyRef,
    RequestRecord,
    UnlearnerRecord,
    VerificationSummary,
    canonical_digest,
)
from deletion_sdk.attest.verify import CERTIFICATE_EVENT, check_audit_binding, predicate_digest
from deletion_sdk.errors import AuditLogError

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def _sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _audit(event: dict[str, JsonValue] | None, *, entry_index: int = 3) -> AuditRecord:
    return AuditRecord(
        tree_size=8,
        root_hash=_sha("root"),
        entry_index=entry_index,
        leaf_hash=_sha("leaf"),
        checkpoint="a signed note",
        event=event,
    )


def _predicate(audit: AuditRecord, **changes: Any) -> CertificatePredicate:
    fields: dict[str, Any] = {
        "job_id": "job-7",
        "requests": (
            RequestRecord(
                request_id="req-1", subject_ref="d" * 64, received_at=T0, due_at=T0, policy_id="gdpr-art17"
            ),
        ),
        "policy": PolicyRef(id="gdpr-art17", digest=_sha("policy")),
        "forget_set": ForgetSetRef(size=4, merkle_root=_sha("forget")),
        "original_model": ModelRef(digest=_sha("m1"), version="age/1"),
        "unlearned_model": ModelRef(digest=_sha("m2"), version="age/2"),
        "unlearner": UnlearnerRecord(name="finetune", version="1", wall_time_s=2.0, device="cpu"),
        "verification": VerificationSummary(tier="population", figures={"mia_auc": 0.5}),
        "decision": DecisionRecord(passed=True),
        "audit": audit,
        "issued_at": T0,
        "sdk_version": "0.1.0",
        "signer_key_id": _sha("signer key"),
    }
    fields.update(changes)
    return CertificatePredicate(**fields)


def _event(data: JsonValue, *, event_type: str = CERTIFICATE_EVENT) -> dict[str, JsonValue]:
    return {"seq": 3, "type": event_type, "actor": "job:job-7", "data": data}


def _bound(**changes: Any) -> CertificatePredicate:
    digest = predicate_digest(_predicate(_audit(None), **changes))
    return _predicate(_audit(_event({"job_id": "job-7", "predicate_sha256": digest})), **changes)


def test_predicate_digest_covers_everything_but_the_audit_section() -> None:
    unbound = _predicate(_audit(None))
    digest = predicate_digest(unbound)
    dumped = unbound.model_dump(mode="json")
    del dumped["audit"]
    assert digest == canonical_digest(dumped)
    assert predicate_digest(unbound.model_dump(mode="json")) == digest  # a dict gives the same digest
    assert predicate_digest(_predicate(_audit(_event({}), entry_index=5))) == digest
    assert predicate_digest(_predicate(_audit(None), job_id="job-8")) != digest
    assert predicate_digest(_predicate(_audit(None), decision=DecisionRecord(passed=False))) != digest


def test_a_bound_certificate_returns_the_digest_its_audit_event_names() -> None:
    predicate = _bound()
    assert check_audit_binding(predicate) == predicate_digest(predicate)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "carries no event"),
        (_event({"predicate_sha256": "0" * 64}, event_type="job.finished"), "not 'certificate.issued'"),
        (_event({"job_id": "job-7"}), "carries no predicate digest"),
        (_event(["not", "a", "mapping"]), "carries no predicate digest"),
        (_event({"predicate_sha256": "0" * 64}), "names a different certificate"),
    ],
    ids=["no-event", "other-event-type", "no-digest", "data-not-a-mapping", "other-digest"],
)
def test_an_audit_event_that_does_not_name_this_certificate_raises(
    event: dict[str, JsonValue] | None, message: str
) -> None:
    with pytest.raises(AuditLogError, match=message):
        check_audit_binding(_predicate(_audit(event)))


def test_a_changed_predicate_no_longer_matches_its_audit_event() -> None:
    bound = _bound()
    for update in ({"job_id": "job-other"}, {"forget_set": ForgetSetRef(size=1, merkle_root=_sha("x"))}):
        with pytest.raises(AuditLogError, match="names a different certificate"):
            check_audit_binding(bound.model_copy(update=update))


def test_jobs_certify_re_exports_the_binding_check() -> None:
    assert jobs_certify.check_audit_binding is check_audit_binding
    assert jobs_certify.predicate_digest is predicate_digest
    assert jobs_certify.CERTIFICATE_EVENT == CERTIFICATE_EVENT
