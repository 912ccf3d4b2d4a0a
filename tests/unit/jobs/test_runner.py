"""The batch runner's claim and resume, on a real ledger with no trained model: the state machine's edges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deletion_sdk.errors import UnknownPolicyError
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.ledger.job_state import Step
from deletion_sdk.ledger.job_tables import JobRow
from deletion_sdk.sdk import DeletionSDK
from tests.unit.jobs.conftest import MODEL, due_request, runner
from tests.unit.ledger.test_job_state import V01_STATE


def test_every_step_but_done_has_a_handler(sdk: DeletionSDK) -> None:
    assert set(runner(sdk)._steps) == set(Step) - {Step.DONE}


def test_a_claim_pins_the_policy_and_the_override_in_the_same_transaction(sdk: DeletionSDK) -> None:
    rid = due_request(sdk)
    job, resumed, busy = runner(sdk)._acquire(
        model=MODEL, policy_id=None, max_requests=None, unlearner="retrain"
    )
    assert job is not None and not resumed and busy is None
    assert job.step is Step.RESOLVE
    assert job.state.policy == sdk.policy("house")
    assert job.state.unlearner_override == "retrain"
    claimed = [e.event for e in sdk.audit_log.entries() if e.event.type == "job.claimed"]
    assert claimed[0].data["policy_digest"] == sdk.policy("house").digest
    assert claimed[0].data["request_ids"] == [rid]
    # a second worker finds the model busy while the first is alive
    other, _, busy = runner(sdk)._acquire(model=MODEL, policy_id=None, max_requests=None, unlearner=None)
    assert other is None and busy == job.job_id


def test_a_v01_job_is_pinned_when_it_is_resumed(sdk: DeletionSDK) -> None:
    due_request(sdk)
    job, _, _ = runner(sdk)._acquire(model=MODEL, policy_id=None, max_requests=None, unlearner=None)
    assert job is not None
    with sdk.ledger.session() as session:  # as v0.1 left it: untyped state, no policy, worker gone
        row = session.get(JobRow, job.job_id)
        assert row is not None
        row.state = {k: v for k, v in V01_STATE.items() if k != "attempts"}
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    resumed, was_resumed, _ = runner(sdk)._acquire(
        model=MODEL, policy_id=None, max_requests=None, unlearner=None
    )
    assert resumed is not None and was_resumed and resumed.job_id == job.job_id
    assert resumed.state.policy == sdk.policy("house")
    assert resumed.state.forget_count == V01_STATE["forget_count"]


def test_an_unknown_policy_claims_nothing(sdk: DeletionSDK) -> None:
    due_request(sdk)
    with pytest.raises(UnknownPolicyError):
        runner(sdk).run(model=MODEL, policy="no-such-policy")
    with sdk.ledger.session(write=False) as session:
        assert jobq.list_jobs(session) == ()
        assert jobq.count_due(session) == 1


def test_idle_when_nothing_is_due(sdk: DeletionSDK) -> None:
    result = runner(sdk).run(model=MODEL)
    assert result.status == "idle" and result.exit_code == 0


def test_an_unlearner_the_policy_does_not_list_claims_nothing(sdk: DeletionSDK) -> None:
    from deletion_sdk.errors import InputError

    due_request(sdk)
    for policy in (None, "house"):  # named, or found from the earliest-due request inside the claim
        with pytest.raises(InputError, match="policy house's methods"):
            runner(sdk).run(model=MODEL, policy=policy, unlearner="finetune")
    with sdk.ledger.session(write=False) as session:
        assert jobq.list_jobs(session) == ()
        assert jobq.count_due(session) == 1
