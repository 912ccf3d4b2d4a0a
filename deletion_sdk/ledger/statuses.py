"""Status vocabularies of deletion requests and model versions (stored as text, checked by the database)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OPEN_REQUEST_SQL", "TERMINAL_STATUSES", "ModelStatus", "RequestStatus"]


class RequestStatus(StrEnum):
    """Where a deletion request is in its lifecycle (see :mod:`deletion_sdk.ledger.requests`)."""

    RECEIVED = "received"
    VERIFIED = "verified"
    SCHEDULED = "scheduled"
    UNLEARNING = "unlearning"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    FAILED = "failed"
    NO_DATA = "no_data"


# A request in one of these states is finished: it is answered and no longer counts as open.
# ``failed`` is NOT terminal: it can be retried and its statutory deadline still runs.
TERMINAL_STATUSES: frozenset[RequestStatus] = frozenset(
    {RequestStatus.COMPLETED, RequestStatus.DENIED, RequestStatus.CANCELLED, RequestStatus.NO_DATA}
)

# SQL predicate for "open" used by the partial unique index (one open request per subject and policy).
OPEN_REQUEST_SQL = "status NOT IN ('cancelled', 'completed', 'denied', 'no_data')"


class ModelStatus(StrEnum):
    """Lifecycle of a model version. At most one version per model name is ``deployed``.

    ``retired``: the version holds data of erased people; it can never be deployed again and its weights
    are deleted (at once, or when the policy's grace period ends).
    """

    DEPLOYED = "deployed"
    SUPERSEDED = "superseded"
    CANDIDATE = "candidate"
    REJECTED = "rejected"
    RETIRED = "retired"
