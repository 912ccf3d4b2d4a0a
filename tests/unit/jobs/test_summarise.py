"""summarise_job: a stored job as the BatchResult callers read, straight from its typed state."""

from __future__ import annotations

from deletion_sdk.jobs.summarise import summarise_job
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import registry
from deletion_sdk.ledger.job_state import Attempt, AttemptOutcome, JobState, Step
from deletion_sdk.sdk import DeletionSDK
from tests.unit.jobs.conftest import MODEL, due_request, runner


def test_a_failed_then_passed_job_is_summarised_from_its_state(sdk: DeletionSDK) -> None:
    rid = due_request(sdk)
    job, _, _ = runner(sdk)._acquire(model=MODEL, policy_id=None, max_requests=None, unlearner=None)
    assert job is not None
    with sdk.ledger.session() as session:
        original = registry.deployed(session, MODEL)
        candidate = registry.add_model_version(
            session, name=MODEL, weights_digest="cd" * 32, architecture="tiny_cnn", parent_id=1
        )
        state = JobState(
            policy=job.state.policy,
            original_version_id=original.model_version_id,
            request_ids=(rid,),
            active_request_ids=(rid,),
            forget_count=3,
            forget_merkle_root="ef" * 32,
            attempts=(
                Attempt(index=0, method="neggrad_plus", outcome=AttemptOutcome.INCONCLUSIVE, wall_time_s=1.0),
                Attempt(
                    index=1,
                    method="retrain",
                    outcome=AttemptOutcome.PASSED,
                    wall_time_s=9.0,
                    retrain_estimate_s=10.0,
                    candidate_version_id=candidate.model_version_id,
                ),
            ),
        )
        done = jobq.update_job(
            session, job.job_id, worker=runner(sdk).worker, state=state, step=Step.DONE, status="completed"
        )
    result = summarise_job(sdk.ledger, sdk.layout, done, resumed=False)
    assert result.status == "completed" and result.exit_code == 0
    assert [(a.method, a.outcome) for a in result.attempts] == [
        ("neggrad_plus", "inconclusive"),
        ("retrain", "passed"),
    ]
    assert (
        result.method == "retrain" and result.unlearning_time_s == 9.0 and result.retrain_estimate_s == 10.0
    )
    assert result.forget_examples == 3 and result.request_ids == (rid,)
    assert result.new_model is not None and result.new_model.digest == "cd" * 32
    assert result.new_model.attack_auc is None  # no verification report on disk: no figures, no crash
    assert result.decision_passed is True
