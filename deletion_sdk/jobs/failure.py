"""What a batch job does when a step raises: it never stays stuck.

Any exception inside a step (corrupt or missing weights, a moved HOME, a plugin that crashes, a full disk)
ends in a state the next ``batch run`` for the model picks up, with the reason recorded and an audit event:

* before the candidate is promoted (``resolve``, ``unlearn``, ``verify``, ``decide``): the job is marked
  ``failed`` with the reason; each of its open requests is recorded as ``failed`` with the reason and then
  released back to ``verified``, so the next run claims it again in a new job;
* once the candidate is promoted (``promote``, ``certify``, ``complete``): the unlearned model is already
  deployed and only the paperwork is missing, so the job stays ``running`` with its lease given up and the
  error recorded: the next run resumes it at the step that failed (redoing nothing already finished).

The audit event (``job.failed``, or ``job.step_failed`` when the job will be resumed) names the step, the
error type, the reason, that the job is retryable, and what the next run does (``released_request_ids`` or
``resumes_at``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from deletion_sdk.ledger import jobs as jobq
from deletion_sdk.ledger import requests as reqs
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.events import emit
from deletion_sdk.ledger.job_state import Step
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.logging import get_logger

__all__ = ["MAX_REASON_CHARS", "RESUMABLE_STEPS", "describe_error", "stop_job_on_error"]

MAX_REASON_CHARS = 500
# From promotion on, the unlearned model is (or may be) deployed: the job is resumed there, never redone.
RESUMABLE_STEPS = frozenset(s for s in Step if list(Step).index(s) >= list(Step).index(Step.PROMOTE))
_OPEN = (RequestStatus.SCHEDULED, RequestStatus.UNLEARNING, RequestStatus.VERIFYING)


def describe_error(error: BaseException, step: Step | str) -> str:
    """``"<ErrorType> at <step>: <first line of the message>"``, at most MAX_REASON_CHARS characters."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__} at {Step(step).value}: {lines[0] if lines else 'no message'}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def stop_job_on_error(
    ledger: Ledger,
    job: jobq.JobRecord,
    error: BaseException,
    *,
    step: Step,
    worker: str,
    progress: Callable[[str], None],
    seal: Callable[[Session], object] | None = None,
) -> jobq.JobRecord:
    """Record ``error`` raised at ``step`` and leave the job where the next run picks it up.

    Args:
        ledger: the ledger.
        job: the job as last persisted.
        error: what the step raised.
        step: the step that raised.
        worker: this worker (it must still hold the job).
        progress: the runner's progress callback.
        seal: signs a checkpoint over the log in the same transaction (a stopped job leaves nothing
            unsigned); None for none.

    Returns:
        The job as now recorded (``failed``, or ``running`` with its lease given up).
    """
    reason = describe_error(error, step)
    actor = f"job:{job.job_id}"
    resumable = Step(step) in RESUMABLE_STEPS
    get_logger(__name__).error(
        "job_step_error", job_id=job.job_id, step=Step(step).value, reason=reason, resumable=resumable
    )
    with ledger.session() as session:
        data: dict[str, object] = {
            "job_id": job.job_id,
            "step": Step(step).value,
            "error_type": type(error).__name__,
            "reason": reason,
            "retryable": True,
        }
        if resumable:
            data["resumes_at"] = Step(step).value
            emit(session, "job.step_failed", data, actor=actor)  # not terminal: the job is resumed
            progress(f"job error (the next run resumes at {Step(step).value}): {reason}")
            held = jobq.update_job(session, job.job_id, worker=worker, error=reason, lease_s=0.0)
            if seal is not None:
                seal(session)
            return held
        released = []
        for rid in jobq.job_request_ids(session, job.job_id):
            if reqs.get(session, rid).status in {s.value for s in _OPEN}:
                reqs.transition(session, request_id=rid, to=RequestStatus.FAILED, actor=actor, reason=reason)
                reqs.transition(
                    session,
                    request_id=rid,
                    to=RequestStatus.VERIFIED,
                    actor=actor,
                    reason=f"released for retry after job {job.job_id} failed",
                )
                released.append(rid)
        data["released_request_ids"] = released
        emit(session, "job.failed", data, actor=actor)
        progress(f"job failed (its {len(released)} request(s) are due again): {reason}")
        done = jobq.update_job(
            session, job.job_id, worker=worker, step=Step.DONE, status="failed", error=reason
        )
        if seal is not None:
            seal(session)
        return done
