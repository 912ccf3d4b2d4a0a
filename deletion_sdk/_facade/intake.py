"""Facade operations on deletion requests: submit, import, review, extend, verify, deny, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from deletion_sdk._facade.base import FacadeBase, text_arg
from deletion_sdk.ledger import intake, requests
from deletion_sdk.ledger._types import parse_instant, utcnow
from deletion_sdk.ledger.records import HistoryEntry, ImportReport, RequestRecord, SubmitResult
from deletion_sdk.ledger.request_input import validate_request_input
from deletion_sdk.ledger.statuses import RequestStatus
from deletion_sdk.ledger.subjects import subject_ref

__all__ = ["IntakeOperations"]


class IntakeOperations(FacadeBase):
    """Recording and reviewing deletion requests."""

    def submit_request(
        self,
        *,
        subject: str,
        policy: str,
        received_at: datetime | str | None = None,
        idempotency_key: str | None = None,
        actor: str = "api",
        verified: bool = False,
    ) -> SubmitResult:
        """Record a deletion request (or return the one it duplicates).

        Args:
            subject: the person's identifier; only its keyed hash is stored.
            policy: policy id, e.g. ``gdpr-art17``.
            received_at: ISO 8601 text or datetime (naive means UTC); default now. Not in the future.
            idempotency_key: submitting the same key again returns the same request (``created=False``).
            actor: recorded in the history.
            verified: the intake channel already verified the requester's identity (e.g. a logged-in
                account deletion): a new request moves straight to ``verified``, recorded as such.

        Returns:
            The request; ``created`` is False for a repeat, and ``duplicate_of_open`` is True when the
            subject already had an open request under this policy (that request is returned).

        Raises:
            InputError: empty subject, unknown policy, malformed or future date, bad key.
            ConflictError: the idempotency key belongs to another subject's or policy's request.
        """
        # The same limits and date bounds as CSV/JSONL import and the HTTP service.
        fields = validate_request_input(
            subject=subject,
            policy=policy,
            received_at=received_at,
            idempotency_key=idempotency_key,
            now=utcnow(),
        )
        policy_obj = self.policy(fields.policy)
        ref = subject_ref(fields.subject, self.subject_key)
        received = fields.received_at
        key = (
            None
            if fields.idempotency_key is None
            else intake.keyed_idempotency_key(self.subject_key, fields.idempotency_key)
        )
        who = text_arg(actor, "actor", what="a non-empty actor name")
        result = requests.submit(
            self.ledger,
            subject_ref=ref,
            policy=policy_obj,
            received_at=received,
            idempotency_key=key,
            actor=who,
        )
        if verified and result.created:
            record = self._verify_received([result.request.request_id], actor=who)[0]
            result = result.model_copy(update={"request": record})
        return result

    def _verify_received(self, request_ids: Sequence[str], *, actor: str) -> list[RequestRecord]:
        """Move ``received`` requests to ``verified`` (identity checked at intake), in one transaction."""
        out = []
        with self.ledger.session() as session:
            for rid in request_ids:
                record = requests.get(session, rid)
                if record.status == RequestStatus.RECEIVED.value:
                    record = requests.transition(
                        session,
                        request_id=rid,
                        to=RequestStatus.VERIFIED,
                        actor=actor,
                        reason="identity verified by the intake channel",
                    )
                out.append(record)
        return out

    def import_requests(
        self, *, path: Path | str, actor: str = "import", verified: bool = False
    ) -> ImportReport:
        """Import requests from a CSV or JSONL file (see :mod:`deletion_sdk.ledger.intake`).

        With ``verified`` the file's requesters were identity-checked upstream: imported requests still
        ``received`` move to ``verified``.

        Raises:
            ManifestError: unreadable file or malformed header (nothing imported). Bad rows do not raise:
                they are listed in the report.
        """
        who = text_arg(actor, "actor", what="a non-empty actor name")
        report = intake.import_requests(
            self.ledger, path=Path(path), subject_key=self.subject_key, load_policy=self.policy, actor=who
        )
        if verified and report.request_ids:
            self._verify_received(sorted(set(report.request_ids)), actor=who)
        return report

    def get_request(self, *, request_id: str) -> RequestRecord:
        """The request with this id (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return requests.get(session, text_arg(request_id, "request_id", what="a request id"))

    def request_history(self, *, request_id: str) -> tuple[HistoryEntry, ...]:
        """The request's status changes and extensions, oldest first."""
        with self.ledger.session(write=False) as session:
            return requests.history(session, text_arg(request_id, "request_id", what="a request id"))

    def list_requests(
        self,
        *,
        status: RequestStatus | str | None = None,
        policy: str | None = None,
        due_before: datetime | str | None = None,
        limit: int | None = None,
    ) -> tuple[RequestRecord, ...]:
        """Requests matching every given filter, ordered by due date."""
        due = (
            None
            if due_before is None
            else parse_instant(due_before, parameter="due_before", allow_future=True)
        )
        with self.ledger.session(write=False) as session:
            return requests.list_requests(session, status=status, policy=policy, due_before=due, limit=limit)

    def overdue(self, *, now: datetime | str | None = None) -> tuple[RequestRecord, ...]:
        """Open requests past their due date, most overdue first."""
        at = None if now is None else parse_instant(now, parameter="now", allow_future=True)
        with self.ledger.session(write=False) as session:
            return requests.overdue(session, now=at)

    def extend_request(self, *, request_id: str, reason: str, actor: str = "api") -> RequestRecord:
        """Extend the deadline once, as the request's policy allows, with a recorded reason.

        Raises:
            ConflictError: final request, already extended, no extension in the policy, or deadline passed.
        """
        request_id = text_arg(request_id, "request_id", what="a request id")
        reason = text_arg(reason, "reason", what="a non-empty reason")
        with self.ledger.session() as session:
            current = requests.get(session, request_id)
            return requests.extend(
                session, request_id=request_id, reason=reason, policy=self.policy(current.policy), actor=actor
            )

    def _move_request(
        self, request_id: str, to: RequestStatus, *, actor: str, reason: str | None
    ) -> RequestRecord:
        request_id = text_arg(request_id, "request_id", what="a request id")
        with self.ledger.session() as session:
            return requests.transition(session, request_id=request_id, to=to, actor=actor, reason=reason)

    def verify_request(
        self, *, request_id: str, actor: str = "api", reason: str | None = None
    ) -> RequestRecord:
        """Mark the requester's identity as verified (received -> verified)."""
        return self._move_request(request_id, RequestStatus.VERIFIED, actor=actor, reason=reason)

    def deny_request(self, *, request_id: str, reason: str, actor: str = "api") -> RequestRecord:
        """Deny a request (a reason is required: it is what the person is told)."""
        reason = text_arg(reason, "reason", what="a non-empty reason")
        return self._move_request(request_id, RequestStatus.DENIED, actor=actor, reason=reason)

    def cancel_request(
        self, *, request_id: str, reason: str | None = None, actor: str = "api"
    ) -> RequestRecord:
        """Cancel a request (withdrawn by the person) before unlearning starts."""
        return self._move_request(request_id, RequestStatus.CANCELLED, actor=actor, reason=reason)
