"""Found 3 and 6 of the input review: a job never sticks; a policy naming no real method claims nothing."""

from __future__ import annotations

import re

import pytest

from deletion_sdk.errors import PolicyError
from deletion_sdk.jobs.failure import describe_error
from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.job_state import Step
from deletion_sdk.sdk import DeletionSDK
from tests.unit.jobs.conftest import MODEL, due_request, runner


def test_an_error_inside_a_job_fails_it_and_releases_its_requests(sdk: DeletionSDK) -> None:
    """The deployed version has no weights and no dataset: the job errors inside its first step."""
    rid = due_request(sdk)
    result = runner(sdk).run(model=MODEL)
    assert result.status == "failed" and result.exit_code == 1
    with sdk.ledger.session(write=False) as session:
        (job,) = jobq.list_jobs(session)
        request = reqs.get(session, rid)
        history = [h.to_status for h in reqs.history(session, rid)]
        assert jobq.count_due(session) == 1
    assert job.status == "failed" and job.step is Step.DONE
    assert job.error and job.error.startswith(f"{job.error.split(' ')[0]} at resolve: ")
    assert result.message == job.error
    assert request.status == "verified"  # due again, not stuck in scheduled/unlearning
    assert history[-2:] == ["failed", "verified"]
    (event,) = [e.event for e in sdk.audit_log.entries() if e.event.type == "job.failed"]
    assert event.data["retryable"] is True and event.data["released_request_ids"] == [rid]
    assert event.data["step"] == "resolve" and event.data["reason"] == job.error

    again = runner(sdk).run(model=MODEL)  # the next run picks the request up in a new job
    assert again.job_id != job.job_id and again.status == "failed"
    with sdk.ledger.session(write=False) as session:
        assert rid in jobq.job_request_ids(session, str(again.job_id))


def test_an_error_after_promotion_is_resumed_not_redone(sdk: DeletionSDK) -> None:
    """From promotion on, the job keeps running with its lease given up; the next run resumes that step."""
    from deletion_sdk.jobs.failure import stop_job_on_error

    due_request(sdk)
    r = runner(sdk)
    job, _, _ = r._acquire(model=MODEL, policy_id=None, max_requests=None, unlearner=None)
    assert job is not None
    held = stop_job_on_error(
        sdk.ledger, job, OSError("disk full"), step=Step.CERTIFY, worker=r.worker, progress=lambda _m: None
    )
    assert held.status == "running" and held.error == "OSError at certify: disk full"
    (event,) = [e.event for e in sdk.audit_log.entries() if e.event.type == "job.step_failed"]
    assert event.data["resumes_at"] == "certify" and event.data["retryable"] is True
    resumed, was_resumed, _ = runner(sdk)._acquire(
        model=MODEL, policy_id=None, max_requests=None, unlearner=None
    )
    assert resumed is not None and was_resumed and resumed.job_id == job.job_id


def test_a_policy_naming_an_unknown_unlearner_claims_nothing(sdk: DeletionSDK) -> None:
    rid = due_request(sdk)
    policy_file = sdk.settings.policy_dir / "house.yaml"  # type: ignore[operator]
    text, n = re.subn(r"methods: \[[a-z_]+", "methods: [no_such_method", policy_file.read_text(), count=1)
    assert n == 1
    policy_file.write_text(text)  # edited after the request was recorded under it
    with DeletionSDK.open(settings=sdk.settings) as fresh:
        with pytest.raises(PolicyError, match="unknown unlearner 'no_such_method'"):
            runner(fresh).run(model=MODEL)
        with fresh.ledger.session(write=False) as session:
            assert jobq.list_jobs(session) == ()
            assert reqs.get(session, rid).status == "verified"


def test_reasons_are_one_bounded_line() -> None:
    reason = describe_error(ValueError("first line\nsecond " + "x" * 2000), Step.UNLEARN)
    assert (
        reason.startswith("ValueError at unlearn: first line") and "\n" not in reason and len(reason) <= 500
    )
