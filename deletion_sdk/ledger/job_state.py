"""The typed state of a batch job: its step, its attempts and what each step recorded.

The state is stored as JSON in the ``jobs.state`` column and validated into :class:`JobState` whenever a
job is read, so a malformed or foreign row fails loudly at the ledger's edge instead of deep inside a
step. Field names are those of v0.1's untyped dictionaries: rows written by v0.1 validate unchanged
(their ``policy`` is None and is pinned when the job is next resumed).

Steps run in this order; ``decide`` may send the job back to ``unlearn`` for the next method::

    resolve -> unlearn -> verify -> decide -> promote -> erase -> certify -> complete -> done

``erase`` runs in phases (:class:`ErasurePhase`: sources, models, derived); each finished phase is recorded
in :attr:`JobState.erasure`, and the derived artifacts to delete are planned (and recorded) before the
first is deleted, so a job killed mid-erasure finishes it on resume and records every artifact once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deletion_sdk.policy import Decision, ExactRetraining, Policy

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "ErasurePhase",
    "ErasureProgress",
    "JobState",
    "PlannedDeletion",
    "Step",
]


class Step(StrEnum):
    """A batch job's steps, in order."""

    RESOLVE = "resolve"
    UNLEARN = "unlearn"
    VERIFY = "verify"
    DECIDE = "decide"
    PROMOTE = "promote"
    ERASE = "erase"
    CERTIFY = "certify"
    COMPLETE = "complete"
    DONE = "done"


class AttemptOutcome(StrEnum):
    """How one unlearning attempt ended."""

    PENDING = "pending"  # candidate saved, not yet decided
    PASSED = "passed"
    FAILED = "failed"  # the policy's checks failed
    INCONCLUSIVE = "inconclusive"  # the original model would pass the same checks: no evidence either way
    BUDGET_EXCEEDED = "budget_exceeded"
    ERROR = "error"

    @property
    def final(self) -> Literal["passed", "failed", "inconclusive", "budget_exceeded", "error"]:
        """The outcome as reported once the job has stopped (an undecided attempt never finished)."""
        if self is AttemptOutcome.PASSED:
            return "passed"
        if self is AttemptOutcome.FAILED:
            return "failed"
        if self is AttemptOutcome.INCONCLUSIVE:
            return "inconclusive"
        if self is AttemptOutcome.BUDGET_EXCEEDED:
            return "budget_exceeded"
        return "error"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attempt(_Frozen):
    """One method tried on the job's forget set."""

    index: int = Field(ge=0)
    method: str
    outcome: AttemptOutcome = AttemptOutcome.PENDING
    retrain_estimate_s: float | None = None
    method_version: str | None = None
    unlearner_class: str | None = Field(
        default=None, description="module.QualifiedName of the class that ran."
    )
    unlearner_source: str | None = Field(
        default=None, description="builtin, plugin:<dist>==<version> or module."
    )
    code_sha256: str | None = Field(default=None, description="SHA-256 of the file defining the class.")
    params: dict[str, Any] = Field(default_factory=dict)
    wall_time_s: float | None = None
    budget_s: float | None = None
    device: str | None = None
    steps: int | None = None
    candidate_version_id: int | None = None
    error: str | None = None
    exact: ExactRetraining | None = Field(
        default=None, description="Recorded when the method claims exact retraining: what ran, on what data."
    )
    decision: Decision | None = None
    qualification_report_digest: str | None = None


class ErasurePhase(StrEnum):
    """The phases of the ``erase`` step, in order."""

    SOURCES = "sources"  # the people's source files, through their datasets' stores; tombstones
    MODELS = "models"  # versions holding them retired; weights deleted (or scheduled after a grace period)
    DERIVED = "derived"  # shadow banks, tensor caches, qualification caches holding them


class PlannedDeletion(_Frozen):
    """A derived artifact to delete: recorded before deletion, so a resumed job still reports it."""

    kind: str
    digest: str = Field(min_length=64, max_length=64)
    relpath: str = Field(description="Path under HOME (digest-named; never holds an identifier).")
    detail: str | None = None


class ErasureProgress(_Frozen):
    """How far the ``erase`` step got."""

    done: tuple[ErasurePhase, ...] = ()
    planned: tuple[PlannedDeletion, ...] | None = None
    sources_deferred: str | None = Field(
        default=None, description="Why the source files were kept (another deployed model still needs them)."
    )


class JobState(_Frozen):
    """Everything a job's steps have recorded so far (empty when just claimed)."""

    policy: Policy | None = Field(
        default=None, description="The policy pinned when the job was claimed; every step uses it."
    )
    unlearner_override: str | None = None
    original_version_id: int | None = None
    request_ids: tuple[str, ...] = ()
    active_request_ids: tuple[str, ...] = ()
    no_data_request_ids: tuple[str, ...] = ()
    forget_count: int = 0
    forget_merkle_root: str | None = None
    forget_manifest_sha256: str | None = None
    attempts: tuple[Attempt, ...] = ()
    verification_sha256: str | None = None
    certificate_envelope: str | None = None
    certificate_path: str | None = None
    erasure: ErasureProgress = ErasureProgress()

    @property
    def current_attempt(self) -> Attempt:
        """The latest attempt.

        Raises:
            LookupError: no attempt has been made yet.
        """
        if not self.attempts:
            raise LookupError("the job has made no unlearning attempt yet")
        return self.attempts[-1]

    @property
    def passed_attempt(self) -> Attempt | None:
        """The attempt whose candidate passed the policy, if any."""
        return next((a for a in self.attempts if a.outcome is AttemptOutcome.PASSED), None)

    def with_attempt(self, attempt: Attempt) -> JobState:
        """This state with ``attempt`` recorded (replacing an attempt of the same index)."""
        kept = [a for a in self.attempts if a.index != attempt.index]
        ordered = tuple(sorted([*kept, attempt], key=lambda a: a.index))
        return self.model_copy(update={"attempts": ordered})
