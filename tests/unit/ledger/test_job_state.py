"""The typed job state: v0.1 rows validate, attempts replace by index, the queue stores what it is given."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from deletion_sdk.errors import ConflictError
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.job_state import Attempt, AttemptOutcome, JobState, Step
from deletion_sdk.ledger.job_tables import JobRow
from deletion_sdk.ledger.requests import submit, transition
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.policy import Policy

# What v0.1 wrote into jobs.state (untyped dictionaries), as found in a deployment's ledger.
V01_STATE = {
    "unlearner_override": None,
    "original_version_id": 1,
    "request_ids": ["r1", "r2"],
    "active_request_ids": ["r1"],
    "no_data_request_ids": ["r2"],
    "forget_count": 7,
    "forget_merkle_root": "ab" * 32,
    "attempts": [
        {
            "index": 0,
            "method": "finetune",
            "retrain_estimate_s": 12.5,
            "outcome": "failed",
            "method_version": "1",
            "params": {"epochs": 2},
            "wall_time_s": 1.5,
            "budget_s": 12.5,
            "device": "cpu",
            "steps": 10,
            "candidate_version_id": 2,
            "decision": {
                "policy_id": "gdpr-art17",
                "policy_digest": "cd" * 32,
                "tier": "population",
                "method": "finetune",
                "basis": "checks",
                "passed": False,
                "checks": [
                    {
                        "name": "attack_auc",
                        "description": "d",
                        "value": 0.9,
                        "threshold": 0.6,
                        "comparison": "<=",
                        "passed": False,
                        "note": None,
                    }
                ],
            },
            "qualification_report_digest": None,
        },
        {"index": 1, "method": "retrain", "retrain_estimate_s": 12.5, "outcome": "pending"},
    ],
    "verification_sha256": "ef" * 32,
}


def test_a_v01_row_validates_without_a_pinned_policy() -> None:
    state = JobState.model_validate(V01_STATE)
    assert state.policy is None
    assert state.request_ids == ("r1", "r2")
    assert state.attempts[0].outcome is AttemptOutcome.FAILED
    assert state.attempts[0].decision is not None and not state.attempts[0].decision.passed
    assert state.current_attempt.method == "retrain"
    assert state.passed_attempt is None
    again = JobState.model_validate_json(state.model_dump_json())
    assert again == state


def test_malformed_state_is_refused() -> None:
    with pytest.raises(ValidationError):
        JobState.model_validate({**V01_STATE, "forget_count": "many"})
    with pytest.raises(ValidationError):
        JobState.model_validate({**V01_STATE, "unknown_field": 1})
    with pytest.raises(ValidationError):
        Attempt.model_validate({"index": -1, "method": "x"})
    with pytest.raises(ValidationError):
        Attempt.model_validate({"index": 0, "method": "x", "outcome": "maybe"})


def test_with_attempt_replaces_by_index_and_keeps_order() -> None:
    state = JobState()
    with pytest.raises(LookupError):
        _ = state.current_attempt
    state = state.with_attempt(Attempt(index=1, method="retrain"))
    state = state.with_attempt(Attempt(index=0, method="finetune", outcome=AttemptOutcome.FAILED))
    assert [a.index for a in state.attempts] == [0, 1]
    state = state.with_attempt(Attempt(index=1, method="retrain", outcome=AttemptOutcome.PASSED))
    assert len(state.attempts) == 2
    assert state.passed_attempt is not None and state.passed_attempt.method == "retrain"
    assert state.current_attempt.outcome is AttemptOutcome.PASSED


def test_reported_outcome_of_an_undecided_attempt_is_error() -> None:
    assert AttemptOutcome.PENDING.final == "error"
    assert {o.final for o in AttemptOutcome} == {
        "passed",
        "failed",
        "inconclusive",
        "budget_exceeded",
        "error",
    }


def test_steps_are_ordered() -> None:
    assert [s.value for s in Step] == [
        "resolve",
        "unlearn",
        "verify",
        "decide",
        "promote",
        "erase",
        "certify",
        "complete",
        "done",
    ]


def _claim(ledger: Ledger, gdpr: Policy) -> jobq.JobRecord:
    r = submit(ledger, subject_ref="aa" * 32, policy=gdpr, received_at=utcnow())
    with ledger.session() as session:
        transition(session, request_id=r.request.request_id, to=RequestStatus.VERIFIED, actor="t")
    with ledger.session() as session:
        jobq.lock_model(session, "m")
        job = jobq.claim_new_job(session, model_name="m", worker="w1")
    assert job is not None
    return job


def test_queue_stores_typed_state_and_fences_other_workers(ledger: Ledger, gdpr: Policy) -> None:
    job = _claim(ledger, gdpr)
    assert job.step is Step.RESOLVE and job.state == JobState()
    pinned = JobState(policy=gdpr, request_ids=("x",))
    with ledger.session() as session:
        updated = jobq.update_job(session, job.job_id, worker="w1", state=pinned, step=Step.UNLEARN)
    assert updated.state == pinned and updated.step is Step.UNLEARN
    assert updated.state.policy is not None and updated.state.policy.digest == gdpr.digest
    # the state is replaced, not merged: a field left at its default is gone
    with ledger.session() as session:
        replaced = jobq.update_job(session, job.job_id, worker="w1", state=JobState(policy=gdpr))
    assert replaced.state.request_ids == ()
    with ledger.session() as session, pytest.raises(ConflictError):
        jobq.update_job(session, job.job_id, worker="w2", step=Step.VERIFY)
    with ledger.session(write=False) as session:
        assert jobq.get_job(session, job.job_id).step is Step.UNLEARN


def test_a_v01_row_in_the_database_is_read_as_typed_state(ledger: Ledger, gdpr: Policy) -> None:
    job = _claim(ledger, gdpr)
    with ledger.session() as session:
        row = session.get(JobRow, job.job_id)
        assert row is not None
        row.state = V01_STATE
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    with ledger.session() as session:
        stale = jobq.claim_stale_job(session, model_name="m", worker="w2")
    assert stale is not None and stale.worker == "w2"
    assert stale.state.attempts[1].outcome is AttemptOutcome.PENDING
    assert stale.state.policy is None


def test_a_foreign_state_fails_loudly_on_read(ledger: Ledger, gdpr: Policy) -> None:
    job = _claim(ledger, gdpr)
    with ledger.session() as session:
        row = session.get(JobRow, job.job_id)
        assert row is not None
        row.state = {"attempts": [{"method": "x"}]}  # no index
        session.add(row)
    with ledger.session(write=False) as session, pytest.raises(ValidationError):
        jobq.get_job(session, job.job_id)
